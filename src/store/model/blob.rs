use sha2::{Digest, Sha256};

/// A stored blob's name: the SHA-256 of its content, as 64 lower-case hex digits (content
/// addressing: the same bytes are stored once).
///
/// In JSON records it is that string; in compact ones (`store::tables::Compact`, not
/// human-readable) the 32 bytes of the digest, or the text's bytes for an id that is not
/// a digest (rows written before ids were checked), which never has 32 of them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BlobId(String);

impl serde::Serialize for BlobId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            return s.serialize_str(&self.0);
        }
        match self.digest() {
            Some(d) => s.serialize_bytes(&d),
            None => s.serialize_bytes(self.0.as_bytes()),
        }
    }
}

impl<'de> serde::Deserialize<'de> for BlobId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            return String::deserialize(d).map(BlobId);
        }
        let bytes: Vec<u8> = serde_bytes_vec(d)?;
        if bytes.len() == 32 {
            return Ok(Self::of_digest(&bytes));
        }
        String::from_utf8(bytes)
            .map(BlobId)
            .map_err(serde::de::Error::custom)
    }
}

/// Reads a byte string (postcard's `serialize_bytes`).
fn serde_bytes_vec<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    struct Bytes;
    impl serde::de::Visitor<'_> for Bytes {
        type Value = Vec<u8>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a blob id's bytes")
        }
        fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
            Ok(v.to_vec())
        }
    }
    d.deserialize_bytes(Bytes)
}

/// The digest 64 lower-case hex digits (a blob id, a blob file's name) spell.
pub fn digest_of_hex(text: &str) -> Option<[u8; 32]> {
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let text = text.as_bytes();
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        *o = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}

impl BlobId {
    pub fn of(bytes: &[u8]) -> Self {
        Self::of_digest(&Sha256::digest(bytes))
    }

    /// The id of content whose SHA-256 was computed as it streamed by.
    pub fn of_digest(digest: &[u8]) -> Self {
        // Called for every item read (compact records keep the digest's bytes): one
        // allocation, not one per byte.
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut text = String::with_capacity(digest.len() * 2);
        for b in digest {
            text.push(char::from(HEX[usize::from(b >> 4)]));
            text.push(char::from(HEX[usize::from(b & 15)]));
        }
        BlobId(text)
    }

    /// Validates an id read back from a record before it becomes a path.
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
        .then(|| BlobId(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digest the id names, if it is one (64 lower-case hex digits).
    pub fn digest(&self) -> Option<[u8; 32]> {
        digest_of_hex(&self.0)
    }
}

/// Where a packed blob's record is (`store::blob::pack`): its segment, the record's
/// offset in it, the stored (maybe deflated) length, and whether it is deflated. Stored as
/// a native redb tuple (`PackedBody::to_row`), not JSON: there is one per small message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackedBody {
    pub segment: u32,
    pub offset: u64,
    pub stored_len: u32,
    pub deflated: bool,
}

impl PackedBody {
    pub fn to_row(self) -> (u32, u64, u32, u8) {
        (
            self.segment,
            self.offset,
            self.stored_len,
            u8::from(self.deflated),
        )
    }

    pub fn from_row((segment, offset, stored_len, flags): (u32, u64, u32, u8)) -> Self {
        Self {
            segment,
            offset,
            stored_len,
            deflated: flags & 1 != 0,
        }
    }
}
