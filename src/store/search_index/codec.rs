//! The index's byte formats, pure: varints, a block of postings (ascending document
//! numbers, delta-encoded) and a document's location record.

use super::super::StoreError;
use super::super::model::FolderId;

/// Most document numbers one postings block holds: appending to a term rewrites at most
/// this many varints (a few hundred bytes), whatever the mailbox's size.
pub const BLOCK_DOCS: usize = 128;

pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub fn get_varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*at)?;
        *at += 1;
        // The tenth byte may carry only the top bit of a u64.
        if shift == 63 && b > 1 {
            return None;
        }
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

pub fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

pub fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

pub fn corrupt(what: &'static str) -> StoreError {
    StoreError::Corrupt {
        what,
        detail: "an index record does not decode".into(),
    }
}

/// A block of document numbers: strictly ascending, all at or above `first` (the block's
/// key), each stored as its distance from the previous one (the first from `first`).
pub fn encode_docs(first: u64, docs: &[u64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(docs.len() + 4);
    let mut prev = first;
    for &d in docs {
        put_varint(&mut out, d - prev);
        prev = d;
    }
    out
}

/// Appends the block's documents to `out`; an error when the bytes do not decode or the
/// numbers are not strictly ascending from `first`.
pub fn decode_docs(first: u64, bytes: &[u8], out: &mut Vec<u64>) -> Result<(), StoreError> {
    let (mut prev, mut at, start) = (first, 0, out.len());
    while at < bytes.len() {
        let delta = get_varint(bytes, &mut at).ok_or_else(|| corrupt("search_runs"))?;
        if delta == 0 && out.len() > start {
            return Err(corrupt("search_runs"));
        }
        prev = prev
            .checked_add(delta)
            .ok_or_else(|| corrupt("search_runs"))?;
        out.push(prev);
    }
    Ok(())
}

/// A document's distinct terms while its postings wait to be merged into the blocks:
/// sorted, each stored as the length it shares with the previous one, then the length and
/// bytes of the rest (front coding: about half a word's bytes in English text).
pub fn encode_terms<'a>(terms: impl IntoIterator<Item = &'a str>) -> Vec<u8> {
    let mut terms: Vec<&str> = terms.into_iter().collect();
    terms.sort_unstable();
    terms.dedup();
    let mut out = Vec::with_capacity(terms.len() * 5);
    let mut prev: &[u8] = &[];
    for t in terms {
        let t = t.as_bytes();
        let shared = prev.iter().zip(t).take_while(|(a, b)| a == b).count();
        put_varint(&mut out, shared as u64);
        put_varint(&mut out, (t.len() - shared) as u64);
        out.extend_from_slice(&t[shared..]);
        prev = t;
    }
    out
}

/// Calls `each` with every term of an [`encode_terms`] record, in order; an error when
/// the bytes do not decode.
pub fn decode_terms(bytes: &[u8], mut each: impl FnMut(&str)) -> Result<(), StoreError> {
    let bad = || corrupt("search_pending");
    let (mut term, mut at) = (Vec::<u8>::new(), 0);
    while at < bytes.len() {
        let shared = get_varint(bytes, &mut at).ok_or_else(bad)? as usize;
        let rest = get_varint(bytes, &mut at).ok_or_else(bad)? as usize;
        let end = at.checked_add(rest).filter(|e| *e <= bytes.len());
        let (Some(end), true) = (end, shared <= term.len()) else {
            return Err(bad());
        };
        term.truncate(shared);
        term.extend_from_slice(&bytes[at..end]);
        at = end;
        each(std::str::from_utf8(&term).map_err(|_| bad())?);
    }
    Ok(())
}

/// Where a document is now: the message's folder and id, and its DateReceived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub folder: FolderId,
    pub item: u64,
    /// DateReceived, Unix seconds.
    pub received: i64,
}

/// A location, `doc` being its key: the item id is stored as its distance from the
/// document number (0 until the message moves), so most records take 7 to 8 bytes.
pub fn encode_location(doc: u64, l: Location) -> Vec<u8> {
    let mut out = Vec::with_capacity(12);
    put_varint(&mut out, l.folder);
    put_varint(&mut out, zigzag(l.item.wrapping_sub(doc) as i64));
    put_varint(&mut out, zigzag(l.received));
    out
}

pub fn decode_location(doc: u64, bytes: &[u8]) -> Result<Location, StoreError> {
    let bad = || corrupt("search_docs");
    let mut at = 0;
    let folder = get_varint(bytes, &mut at).ok_or_else(bad)?;
    let item = doc.wrapping_add(unzigzag(get_varint(bytes, &mut at).ok_or_else(bad)?) as u64);
    let received = unzigzag(get_varint(bytes, &mut at).ok_or_else(bad)?);
    if at != bytes.len() {
        return Err(bad());
    }
    Ok(Location {
        folder,
        item,
        received,
    })
}

/// A run's chunks are filled up to about this many bytes: a chunk is one value, which redb
/// keeps on a page of its own, nearly full (small entries added in key order leave redb's
/// leaf pages half full, split in two at every overflow: what a run of one row per term
/// and block cost, twice its bytes).
pub const CHUNK_BYTES: usize = 3_600;

/// Appends `term` and its documents (ascending) to a run's chunk: the length the term
/// shares with the chunk's previous term (`prev`, updated), the length and bytes of the
/// rest, then the length and bytes of its documents delta-encoded from 0.
pub fn chunk_push(chunk: &mut Vec<u8>, prev: &mut Vec<u8>, term: &str, docs: &[u64]) {
    let t = term.as_bytes();
    let shared = prev.iter().zip(t).take_while(|(a, b)| a == b).count();
    put_varint(chunk, shared as u64);
    put_varint(chunk, (t.len() - shared) as u64);
    chunk.extend_from_slice(&t[shared..]);
    let encoded = encode_docs(0, docs);
    put_varint(chunk, encoded.len() as u64);
    chunk.extend_from_slice(&encoded);
    prev.clear();
    prev.extend_from_slice(t);
}

/// The entries of a run's chunk, in order: each term and its documents, still encoded
/// (decode them with [`decode_docs`] from 0).
pub struct ChunkEntries<'a> {
    bytes: &'a [u8],
    at: usize,
    term: Vec<u8>,
}

/// A chunk's entry: the term's bytes (borrowed from the reader) and its documents.
pub type ChunkEntry<'t, 'a> = (&'t [u8], &'a [u8]);

pub fn chunk_entries(bytes: &[u8]) -> ChunkEntries<'_> {
    ChunkEntries {
        bytes,
        at: 0,
        term: Vec::new(),
    }
}

impl<'a> ChunkEntries<'a> {
    /// The next term (as bytes, valid until the next call) and its encoded documents.
    pub fn next_entry(&mut self) -> Option<Result<ChunkEntry<'_, 'a>, StoreError>> {
        if self.at >= self.bytes.len() {
            return None;
        }
        Some(self.read())
    }

    fn read(&mut self) -> Result<ChunkEntry<'_, 'a>, StoreError> {
        let bad = || corrupt("search run chunk");
        let b = self.bytes;
        let shared = get_varint(b, &mut self.at).ok_or_else(bad)? as usize;
        let rest = get_varint(b, &mut self.at).ok_or_else(bad)? as usize;
        let suffix = b
            .get(self.at..self.at.checked_add(rest).ok_or_else(bad)?)
            .ok_or_else(bad)?;
        self.at += rest;
        if shared > self.term.len() {
            return Err(bad());
        }
        self.term.truncate(shared);
        self.term.extend_from_slice(suffix);
        let len = get_varint(b, &mut self.at).ok_or_else(bad)? as usize;
        let docs = b
            .get(self.at..self.at.checked_add(len).ok_or_else(bad)?)
            .ok_or_else(bad)?;
        self.at += len;
        Ok((&self.term, docs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_their_boundaries() {
        for v in [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX - 1,
            u64::MAX,
        ] {
            let mut bytes = Vec::new();
            put_varint(&mut bytes, v);
            let mut at = 0;
            assert_eq!(get_varint(&bytes, &mut at), Some(v));
            assert_eq!(at, bytes.len());
        }
        let one_byte = [127u64, 1];
        let two_bytes = [128u64, 16_383];
        for (values, len) in [(&one_byte[..], 1), (&two_bytes[..], 2)] {
            for v in values {
                let mut bytes = Vec::new();
                put_varint(&mut bytes, *v);
                assert_eq!(bytes.len(), len, "{v}");
            }
        }
        // Cut short, or longer than a u64.
        assert_eq!(get_varint(&[0x80], &mut 0), None);
        assert_eq!(get_varint(&[0xff; 10], &mut 0), None);
        assert_eq!(
            get_varint(
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],
                &mut 0
            ),
            None
        );
        for v in [0, -1, 1, i64::MIN, i64::MAX] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
    }

    #[test]
    fn a_block_round_trips_and_costs_a_byte_per_close_document() {
        let docs: Vec<u64> = (1000..1000 + BLOCK_DOCS as u64).collect();
        let bytes = encode_docs(1000, &docs);
        assert_eq!(bytes.len(), BLOCK_DOCS);
        let mut back = vec![7];
        decode_docs(1000, &bytes, &mut back).unwrap();
        assert_eq!(back[1..], docs[..]);
        // Far apart, at the ends of the range.
        let docs = [5, 6, 1 << 40, u64::MAX];
        let mut back = Vec::new();
        decode_docs(5, &encode_docs(5, &docs), &mut back).unwrap();
        assert_eq!(back, docs);
        assert!(encode_docs(5, &[]).is_empty());
    }

    #[test]
    fn a_bad_block_is_an_error() {
        let mut out = Vec::new();
        assert!(decode_docs(1, &[0x80], &mut out).is_err());
        // Not ascending: a repeated number.
        assert!(decode_docs(1, &[1, 0], &mut out).is_err());
        // Past u64::MAX.
        let mut bytes = Vec::new();
        put_varint(&mut bytes, u64::MAX);
        assert!(decode_docs(1, &bytes, &mut out).is_err());
    }

    #[test]
    fn a_documents_terms_round_trip_sorted_and_front_coded() {
        let terms = ["budget", "über", "budgets", "zz", "budget", "übel", "b1"];
        let bytes = encode_terms(terms);
        let mut back = Vec::new();
        decode_terms(&bytes, |t| back.push(t.to_owned())).unwrap();
        assert_eq!(back, ["b1", "budget", "budgets", "zz", "übel", "über"]);
        // "budgets" after "budget" costs its lengths and one byte.
        assert_eq!(bytes.len(), 4 + 7 + 3 + 4 + 7 + 3);
        assert!(encode_terms([]).is_empty());
        // Cut short, a shared length past the previous term, bytes that are not UTF-8.
        let mut none = |_: &str| {};
        assert!(decode_terms(&bytes[..bytes.len() - 1], &mut none).is_err());
        assert!(decode_terms(&[1, 1, b'a'], &mut none).is_err());
        assert!(decode_terms(&[0, 1, 0xff], &mut none).is_err());
    }

    #[test]
    fn locations_round_trip() {
        for (doc, l) in [
            (
                10,
                Location {
                    folder: 1,
                    item: 10,
                    received: 1_700_000_000,
                },
            ),
            (
                10,
                Location {
                    folder: 99,
                    item: 5_000_000,
                    received: -3,
                },
            ),
            (
                u64::MAX,
                Location {
                    folder: u64::MAX,
                    item: 0,
                    received: i64::MIN,
                },
            ),
        ] {
            assert_eq!(decode_location(doc, &encode_location(doc, l)).unwrap(), l);
        }
        let small = encode_location(
            10,
            Location {
                folder: 1,
                item: 10,
                received: 1_700_000_000,
            },
        );
        assert_eq!(small.len(), 7);
        assert!(decode_location(10, &[1, 0]).is_err());
        assert!(decode_location(10, &[1, 0, 0, 0]).is_err());
    }

    #[test]
    fn a_chunk_gives_back_its_terms_and_documents_and_refuses_garbage() {
        let mut chunk = Vec::new();
        let mut prev = Vec::new();
        let terms = [
            ("budget", vec![3u64, 9, 400]),
            ("budgets", vec![5]),
            ("plan", vec![1, 2]),
        ];
        for (t, d) in &terms {
            chunk_push(&mut chunk, &mut prev, t, d);
        }
        let mut entries = chunk_entries(&chunk);
        for (t, d) in &terms {
            let (term, docs) = entries.next_entry().unwrap().unwrap();
            assert_eq!(term, t.as_bytes());
            let mut out = Vec::new();
            decode_docs(0, docs, &mut out).unwrap();
            assert_eq!(&out, d);
        }
        assert!(entries.next_entry().is_none());
        // Cut anywhere: fewer entries or an error, never a wrong one. Claiming more shared
        // bytes than the previous term has: an error.
        for cut in 0..chunk.len() {
            let mut e = chunk_entries(&chunk[..cut]);
            let mut whole = 0;
            while let Some(Ok((term, _))) = e.next_entry() {
                assert_eq!(term, terms[whole].0.as_bytes());
                whole += 1;
            }
            assert!(whole < terms.len(), "cut at {cut}");
        }
        assert!(
            chunk_entries(&[5, 1, b'x', 0])
                .next_entry()
                .unwrap()
                .is_err()
        );
    }
}
