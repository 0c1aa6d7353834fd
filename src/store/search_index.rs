//! The per-account word index behind Search: kept up to date as items come and go, so a
//! query reads postings instead of opening every blob.
//!
//! Postings live in blocks: (account, term, first item) → the postings of items from that
//! id up to the next block's, packed. Item ids only grow within an account (a moved item
//! gets a new one), so a delivery appends to each term's last block and starts a new block
//! when that one is full. Each posting carries the item's folder and DateReceived, so a
//! query filters by folder and date and sorts newest first without reading any item: only
//! the page it answers is loaded. A word prefix is a range scan over terms.
//!
//! The terms of each item are kept too, so removing an item removes exactly its postings.

use redb::{ReadableTable, ReadableTableMetadata, TableDefinition, WriteTransaction};

use super::model::{AccountId, FolderId};
use super::tables::{BLOCKS, ITEM_TERMS};
use super::tx::Tx;
use super::{StoreError, WriteCtx};

/// Schema 2's postings, one key per (term, item); replaced by [`BLOCKS`] in schema 3.
const OLD_POSTINGS: TableDefinition<(AccountId, &str, FolderId, u64), ()> =
    TableDefinition::new("search_postings");

/// A block takes new postings until it holds this many bytes (about 60 to 100 postings).
const BLOCK_BYTES: usize = 512;

/// Most postings one query term may read: bounds a query's time and memory.
pub const MAX_POSTINGS_PER_TERM: usize = 200_000;

/// One item in a term's postings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Posting {
    pub item: u64,
    pub folder: FolderId,
    /// DateReceived, Unix seconds.
    pub received: i64,
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*at)?;
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Packs postings (sorted by item, all at or above `first`): per posting the item's
/// distance from the previous one (from `first` for the first), the folder, and the
/// DateReceived's difference from the previous one.
fn encode_block(first: u64, postings: &[Posting]) -> Vec<u8> {
    let mut out = Vec::with_capacity(postings.len() * 6);
    let (mut item, mut received) = (first, 0i64);
    for p in postings {
        put_varint(&mut out, p.item - item);
        put_varint(&mut out, p.folder);
        put_varint(&mut out, zigzag(p.received.wrapping_sub(received)));
        (item, received) = (p.item, p.received);
    }
    out
}

fn decode_block(first: u64, bytes: &[u8], out: &mut Vec<Posting>) -> Result<(), StoreError> {
    let corrupt = || StoreError::Corrupt {
        what: "search_blocks",
        detail: "a postings block does not decode".into(),
    };
    let (mut item, mut received, mut at) = (first, 0i64, 0);
    while at < bytes.len() {
        item = item
            .checked_add(get_varint(bytes, &mut at).ok_or_else(corrupt)?)
            .ok_or_else(corrupt)?;
        let folder = get_varint(bytes, &mut at).ok_or_else(corrupt)?;
        received = received.wrapping_add(unzigzag(get_varint(bytes, &mut at).ok_or_else(corrupt)?));
        out.push(Posting {
            item,
            folder,
            received,
        });
    }
    Ok(())
}

/// The block of `term` that holds (or would hold) `item`: the last one starting at or
/// before it, as (first item, postings, encoded length).
fn block_of(
    table: &redb::Table<'_, (AccountId, &'static str, u64), &'static [u8]>,
    account: AccountId,
    term: &str,
    item: u64,
) -> Result<Option<(u64, Vec<Posting>, usize)>, StoreError> {
    let Some(row) = table
        .range((account, term, 0)..=(account, term, item))?
        .next_back()
    else {
        return Ok(None);
    };
    let (k, v) = row?;
    let first = k.value().2;
    let mut postings = Vec::new();
    decode_block(first, v.value(), &mut postings)?;
    Ok(Some((first, postings, v.value().len())))
}

/// Adds one item's postings for `terms`.
fn add_postings(
    tx: &WriteTransaction,
    account: AccountId,
    posting: Posting,
    terms: &[String],
) -> Result<(), StoreError> {
    let mut table = tx.open_table(BLOCKS)?;
    // In key order, so that consecutive updates tend to share the B-tree's pages.
    let mut sorted: Vec<&str> = terms.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    for term in sorted {
        let Some((first, mut postings, len)) = block_of(&table, account, term, posting.item)?
        else {
            table.insert(
                (account, term, posting.item),
                encode_block(posting.item, &[posting]).as_slice(),
            )?;
            continue;
        };
        match postings.binary_search_by_key(&posting.item, |p| p.item) {
            Ok(i) => postings[i] = posting,
            // Appending to a full block starts the next one.
            Err(i) if i == postings.len() && len >= BLOCK_BYTES => {
                table.insert(
                    (account, term, posting.item),
                    encode_block(posting.item, &[posting]).as_slice(),
                )?;
                continue;
            }
            Err(i) => postings.insert(i, posting),
        }
        table.insert(
            (account, term, first),
            encode_block(first, &postings).as_slice(),
        )?;
    }
    Ok(())
}

pub fn add(
    ctx: &WriteCtx,
    account: AccountId,
    folder: FolderId,
    item: u64,
    received: i64,
    terms: &[String],
) -> Result<(), StoreError> {
    if terms.is_empty() {
        return Ok(());
    }
    let posting = Posting {
        item,
        folder,
        received,
    };
    add_postings(ctx.tx, account, posting, terms)?;
    ctx.tx
        .open_table(ITEM_TERMS)?
        .insert((account, folder, item), terms.join("\n").as_bytes())?;
    Ok(())
}

/// Removes an item's postings; returns its terms (a move indexes them again).
pub fn remove(
    ctx: &WriteCtx,
    account: AccountId,
    folder: FolderId,
    item: u64,
) -> Result<Vec<String>, StoreError> {
    let mut table = ctx.tx.open_table(ITEM_TERMS)?;
    let terms: Vec<String> = match table.remove((account, folder, item))? {
        Some(raw) => String::from_utf8_lossy(raw.value())
            .split('\n')
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect(),
        None => return Ok(Vec::new()),
    };
    drop(table);
    let mut blocks = ctx.tx.open_table(BLOCKS)?;
    for t in &terms {
        let term = t.as_str();
        let Some((first, mut postings, _)) = block_of(&blocks, account, term, item)? else {
            continue;
        };
        let Ok(i) = postings.binary_search_by_key(&item, |p| p.item) else {
            continue;
        };
        postings.remove(i);
        // The key stays even when its first posting goes: it still starts the block's range.
        if postings.is_empty() {
            blocks.remove((account, term, first))?;
        } else {
            blocks.insert(
                (account, term, first),
                encode_block(first, &postings).as_slice(),
            )?;
        }
    }
    Ok(terms)
}

/// Removes every posting of a folder's items (the folder is being purged).
pub fn purge_folder(
    ctx: &WriteCtx,
    account: AccountId,
    folder: FolderId,
    items: &[u64],
) -> Result<(), StoreError> {
    for item in items {
        remove(ctx, account, folder, *item)?;
    }
    Ok(())
}

/// Removes every posting and term list of an account.
pub fn delete_account(tx: &WriteTransaction, account: AccountId) -> Result<(), StoreError> {
    tx.open_table(ITEM_TERMS)?
        .retain_in((account, 0, 0)..=(account, u64::MAX, u64::MAX), |_, _| {
            false
        })?;
    tx.open_table(BLOCKS)?.retain_in(
        (account, "", 0)..=(account, "\u{10FFFF}", u64::MAX),
        |_, _| false,
    )?;
    Ok(())
}

/// The index's words of `text`: runs of letters and digits, lower-cased, kept when they
/// have at least two characters once lower-cased. The one rule for what a message is
/// indexed under and what a query looks for.
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .filter(|w| w.chars().nth(1).is_some())
}

/// A query's distinct words, as the index holds them.
pub fn query_terms(text: &str) -> Vec<String> {
    let mut out: Vec<String> = words(text).collect();
    out.sort();
    out.dedup();
    out
}

/// Postings of every term starting with `prefix`, sorted by item, at most
/// [`MAX_POSTINGS_PER_TERM`]; with `within`, only items in it (sorted).
fn prefix_postings(
    table: &impl ReadableTable<(AccountId, &'static str, u64), &'static [u8]>,
    account: AccountId,
    prefix: &str,
    within: Option<&[Posting]>,
) -> Result<Vec<Posting>, StoreError> {
    let upper = format!("{prefix}\u{10FFFF}");
    let mut out = Vec::new();
    let mut block = Vec::new();
    // Terms come in order, each term's blocks in item order: when the prefix spans several
    // terms the runs are merged at the end.
    let mut runs = 0;
    let mut last_term = String::new();
    for row in table.range((account, prefix, 0)..=(account, upper.as_str(), u64::MAX))? {
        let (k, v) = row?;
        let (_, term, first) = k.value();
        if runs == 0 || term != last_term {
            runs += 1;
            term.clone_into(&mut last_term);
        }
        block.clear();
        decode_block(first, v.value(), &mut block)?;
        for p in &block {
            if within.is_none_or(|w| w.binary_search_by_key(&p.item, |x| x.item).is_ok()) {
                out.push(*p);
            }
        }
        if out.len() >= MAX_POSTINGS_PER_TERM {
            out.truncate(MAX_POSTINGS_PER_TERM);
            break;
        }
    }
    if runs > 1 {
        out.sort_unstable_by_key(|p| p.item);
        out.dedup_by_key(|p| p.item);
    }
    Ok(out)
}

/// How many blocks the terms starting with `prefix` have, counting up to `cap`: a cheap
/// measure of how many items a query word matches.
fn prefix_blocks(
    table: &impl ReadableTable<(AccountId, &'static str, u64), &'static [u8]>,
    account: AccountId,
    prefix: &str,
    cap: usize,
) -> Result<usize, StoreError> {
    let upper = format!("{prefix}\u{10FFFF}");
    let mut n = 0;
    for row in table.range((account, prefix, 0)..=(account, upper.as_str(), u64::MAX))? {
        row?;
        n += 1;
        if n >= cap {
            break;
        }
    }
    Ok(n)
}

/// Items of `account` having a word that starts with every one of `terms` (AND of prefix
/// matches) and passing `keep` (folder scope, date range), newest first.
pub fn search(
    tx: &impl Tx,
    account: AccountId,
    terms: &[String],
    keep: impl Fn(&Posting) -> bool,
) -> Result<Vec<Posting>, StoreError> {
    if terms.is_empty() {
        return Ok(Vec::new());
    }
    let table = tx.table(BLOCKS)?;
    // The rarest word first: the candidates only shrink from there.
    let mut order = Vec::with_capacity(terms.len());
    for t in terms {
        order.push((prefix_blocks(&table, account, t, 4096)?, t.as_str()));
    }
    order.sort_unstable();
    let mut hits: Option<Vec<Posting>> = None;
    for (_, term) in order {
        let mut found = prefix_postings(&table, account, term, hits.as_deref())?;
        if hits.is_none() {
            found.retain(&keep);
        }
        if found.is_empty() {
            return Ok(Vec::new());
        }
        hits = Some(found);
    }
    let mut hits = hits.unwrap_or_default();
    hits.sort_unstable_by(|a, b| b.received.cmp(&a.received).then(b.item.cmp(&a.item)));
    Ok(hits)
}

/// Schema 2 → 3: builds the blocks from schema 2's one-key-per-posting table, then drops
/// it. Items are indexed in id order per account, as deliveries would have.
pub(super) fn migrate_postings_to_blocks(tx: &WriteTransaction) -> Result<(), StoreError> {
    use super::tables::ITEMS;
    // (account, item, folder), in index order.
    let mut indexed: Vec<(AccountId, u64, FolderId)> = Vec::new();
    for row in tx.open_table(ITEM_TERMS)?.iter()? {
        let (k, _) = row?;
        let (account, folder, item) = k.value();
        indexed.push((account, item, folder));
    }
    indexed.sort_unstable();
    for (account, item, folder) in indexed {
        let received = match tx.open_table(ITEMS)?.get((account, folder, item))? {
            Some(v) => {
                let item: crate::store::model::MailItem = v.value().decode()?;
                item.meta.received
            }
            None => continue,
        };
        let terms: Vec<String> = match tx.open_table(ITEM_TERMS)?.get((account, folder, item))? {
            Some(raw) => String::from_utf8_lossy(raw.value())
                .split('\n')
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect(),
            None => continue,
        };
        let posting = Posting {
            item,
            folder,
            received,
        };
        add_postings(tx, account, posting, &terms)?;
    }
    tx.delete_table(OLD_POSTINGS)?;
    Ok(())
}

/// The bytes the index takes in the database file: (postings blocks, per-item term
/// lists), each counting stored, metadata and fragmented bytes.
pub fn size(snapshot: &super::Snapshot) -> Result<(u64, u64), StoreError> {
    let bytes = |s: redb::TableStats| s.stored_bytes() + s.metadata_bytes() + s.fragmented_bytes();
    let blocks = bytes(snapshot.0.open_table(BLOCKS)?.stats()?);
    let terms = bytes(snapshot.0.open_table(ITEM_TERMS)?.stats()?);
    Ok((blocks, terms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn query_terms_are_words_lowercased() {
        assert_eq!(
            query_terms("Budget, Q3-plan a Über"),
            ["budget", "plan", "q3", "über"]
        );
        assert!(query_terms("a . ,").is_empty());
    }

    #[test]
    fn blocks_round_trip() {
        let ps = [
            Posting {
                item: 7,
                folder: 1,
                received: 1_700_000_000,
            },
            Posting {
                item: 300,
                folder: 12,
                received: 1_600_000_000,
            },
            Posting {
                item: u64::MAX,
                folder: 0,
                received: -5,
            },
        ];
        let bytes = encode_block(5, &ps);
        let mut back = Vec::new();
        decode_block(5, &bytes, &mut back).unwrap();
        assert_eq!(back, ps);
        assert!(decode_block(5, &[0x80], &mut back).is_err());
    }

    fn terms(words: &str) -> Vec<String> {
        words.split(' ').map(str::to_owned).collect()
    }

    #[test]
    fn add_search_remove() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        // Enough items to fill several blocks of the common word.
        store
            .write_blocking(|w| {
                for item in 1..=500u64 {
                    let words = if item % 100 == 0 {
                        "common rare budget"
                    } else if item % 2 == 0 {
                        "common budgets"
                    } else {
                        "common other"
                    };
                    add(w, 1, 1 + item % 3, item, 1000 + item as i64, &terms(words))?;
                }
                // Another account's items never show.
                add(w, 2, 1, 1, 5, &terms("common rare"))?;
                Ok(())
            })
            .unwrap();
        let tx = store.sync_snapshot().unwrap();
        let ids = |words: &str, keep: &dyn Fn(&Posting) -> bool| -> Vec<u64> {
            search(&tx, 1, &query_terms(words), keep)
                .unwrap()
                .iter()
                .map(|p| p.item)
                .collect()
        };
        let all = |_: &Posting| true;
        assert_eq!(ids("common", &all).len(), 500);
        assert_eq!(ids("common", &all)[..2], [500, 499]);
        assert_eq!(ids("rare", &all), [500, 400, 300, 200, 100]);
        // A prefix spans words; every word must match.
        assert_eq!(ids("budg", &all).len(), 250);
        assert_eq!(ids("budget rare", &all), [500, 400, 300, 200, 100]);
        assert_eq!(ids("rare other", &all), Vec::<u64>::new());
        assert_eq!(ids("rare", &|p: &Posting| p.folder == 2), [400, 100]);
        assert_eq!(ids("rare", &|p: &Posting| p.received < 1300), [200, 100]);
        assert!(ids("nothing", &all).is_empty());
        drop(tx);

        store
            .write_blocking(|w| {
                assert_eq!(remove(w, 1, 2, 400)?, terms("common rare budget"));
                assert!(remove(w, 1, 2, 400)?.is_empty());
                for item in (1..=300).filter(|i| i % 100 != 0) {
                    remove(w, 1, 1 + item % 3, item)?;
                }
                Ok(())
            })
            .unwrap();
        let tx = store.sync_snapshot().unwrap();
        let found: Vec<u64> = search(&tx, 1, &query_terms("rare"), |_| true)
            .unwrap()
            .iter()
            .map(|p| p.item)
            .collect();
        assert_eq!(found, [500, 300, 200, 100]);
        assert_eq!(
            search(&tx, 1, &query_terms("common"), |_| true)
                .unwrap()
                .len(),
            500 - 1 - 297
        );
    }
}
