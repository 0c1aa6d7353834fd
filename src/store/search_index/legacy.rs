//! The index's layout of schemas 3 to 6, kept only to upgrade a store from it: postings
//! blocks carrying each item's folder and DateReceived ("search_blocks"), and the terms of
//! every item ("search_item_terms", which took more room than the postings themselves).
//! Schema 2's one key per posting is read once more for the 2 → 3 step.

use redb::{ReadableTable, TableDefinition, TableHandle, WriteTransaction};

use super::super::StoreError;
use super::super::model::{AccountId, FolderId, MailItem};
use super::super::tables::ITEMS;
use super::codec::{corrupt, get_varint, put_varint, unzigzag, zigzag};
use super::{Location, Posting};

/// Schema 2's postings, one key per (term, item).
const SCHEMA_2_POSTINGS: TableDefinition<(AccountId, &str, FolderId, u64), ()> =
    TableDefinition::new("search_postings");
/// Schemas 3–6: (account, term, first item of the block) → packed [`Posting`]s.
pub(super) const BLOCKS: TableDefinition<(AccountId, &str, u64), &[u8]> =
    TableDefinition::new("search_blocks");
/// Schemas 2–6: (account, folder, item) → the item's terms, `\n`-separated.
pub(super) const ITEM_TERMS: TableDefinition<(AccountId, FolderId, u64), &[u8]> =
    TableDefinition::new("search_item_terms");

/// A schema 3–6 block took postings until it held this many bytes.
const BLOCK_BYTES: usize = 512;

/// Old blocks converted per write transaction by [`convert_some`]: bounds the memory of
/// one transaction and the work a kill loses.
pub(in crate::store) const CONVERT_BATCH: usize = 4_000;

/// Per posting: the item's distance from the previous one (from `first` for the first),
/// the folder, and the DateReceived's difference from the previous one.
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
    let bad = || corrupt("search_blocks");
    let (mut item, mut received, mut at) = (first, 0i64, 0);
    while at < bytes.len() {
        item = item
            .checked_add(get_varint(bytes, &mut at).ok_or_else(bad)?)
            .ok_or_else(bad)?;
        let folder = get_varint(bytes, &mut at).ok_or_else(bad)?;
        received = received.wrapping_add(unzigzag(get_varint(bytes, &mut at).ok_or_else(bad)?));
        out.push(Posting {
            item,
            folder,
            received,
        });
    }
    Ok(())
}

/// Adds one item's postings the schema 3 way (the 2 → 3 step builds its blocks with it).
fn add_postings(
    tx: &WriteTransaction,
    account: AccountId,
    posting: Posting,
    terms: &[String],
) -> Result<(), StoreError> {
    let mut table = tx.open_table(BLOCKS)?;
    for term in terms {
        let term = term.as_str();
        let last = match table
            .range((account, term, 0)..=(account, term, posting.item))?
            .next_back()
        {
            Some(row) => {
                let (k, v) = row?;
                let mut postings = Vec::new();
                decode_block(k.value().2, v.value(), &mut postings)?;
                Some((k.value().2, postings, v.value().len()))
            }
            None => None,
        };
        let (first, postings) = match last {
            Some((first, mut postings, len)) if len < BLOCK_BYTES => {
                postings.retain(|p| p.item != posting.item);
                postings.push(posting);
                postings.sort_unstable_by_key(|p| p.item);
                (first, postings)
            }
            _ => (posting.item, vec![posting]),
        };
        table.insert(
            (account, term, first),
            encode_block(first, &postings).as_slice(),
        )?;
    }
    Ok(())
}

fn terms_of(raw: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(raw)
        .split('\n')
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Schema 2 → 3: builds the blocks from the kept terms of each item, in id order per
/// account as deliveries would have, then drops schema 2's postings.
pub(in crate::store) fn migrate_postings_to_blocks(
    tx: &WriteTransaction,
) -> Result<(), StoreError> {
    let mut indexed: Vec<(AccountId, u64, FolderId, Vec<String>)> = Vec::new();
    for row in tx.open_table(ITEM_TERMS)?.iter()? {
        let (k, v) = row?;
        let (account, folder, item) = k.value();
        indexed.push((account, item, folder, terms_of(v.value())));
    }
    indexed.sort_unstable_by_key(|(a, i, ..)| (*a, *i));
    let items = tx.open_table(ITEMS)?;
    for (account, item, folder, terms) in indexed {
        let Some(v) = items.get((account, folder, item))? else {
            continue;
        };
        let record: MailItem = v.value().decode()?;
        let received = record.meta.received;
        let posting = Posting {
            item,
            folder,
            received,
        };
        add_postings(tx, account, posting, &terms)?;
    }
    tx.delete_table(SCHEMA_2_POSTINGS)?;
    Ok(())
}

/// Schema 6 → 7, the part inside the upgrade's transaction: every message gets its
/// location (document number = its item id) and the per-item term lists go. The old
/// blocks stay, to be converted by [`convert_some`] in transactions of their own.
pub(in crate::store) fn start_conversion(tx: &WriteTransaction) -> Result<(), StoreError> {
    let mut docs = tx.open_table(super::DOCS)?;
    for row in tx.open_table(ITEMS)?.iter()? {
        let (k, v) = row?;
        let (account, folder, item) = k.value();
        let record: MailItem = v.value().decode()?;
        let received = record.meta.received;
        let l = Location {
            folder,
            item,
            received,
        };
        super::put_location(&mut docs, account, item, l)?;
    }
    tx.delete_table(ITEM_TERMS)?;
    Ok(())
}

/// Whether old blocks remain to convert.
pub(in crate::store) fn conversion_pending(tx: &WriteTransaction) -> Result<bool, StoreError> {
    Ok(tx.list_tables()?.any(|t| t.name() == BLOCKS.name()))
}

/// Converts up to `batch` old blocks, in key order, into the new postings and
/// removes them; drops the old table when it is empty. `true`: call again. A kill between two calls loses nothing: what a committed call
/// converted is gone from the old table, and a term's next old blocks hold higher items,
/// so they append after what is already converted.
pub(in crate::store) fn convert_some(
    tx: &WriteTransaction,
    batch: usize,
) -> Result<bool, StoreError> {
    let mut old = tx.open_table(BLOCKS)?;
    let mut taken: Vec<(AccountId, String, u64, Vec<Posting>)> = Vec::new();
    for row in old.iter()?.take(batch) {
        let (k, v) = row?;
        let (account, term, first) = k.value();
        let mut postings = Vec::new();
        decode_block(first, v.value(), &mut postings)?;
        taken.push((account, term.to_owned(), first, postings));
    }
    if taken.is_empty() {
        drop(old);
        tx.delete_table(BLOCKS)?;
        return Ok(false);
    }
    let mut w = super::Writer::open(tx)?;
    for (account, term, first, postings) in &taken {
        old.remove((*account, term.as_str(), *first))?;
        let docs: Vec<u64> = postings.iter().map(|p| p.item).collect();
        super::append(&mut w, *account, term, &docs)?;
    }
    Ok(true)
}

/// Writes an item's index entries the schema 6 way, for tests of the upgrade.
#[cfg(test)]
pub(in crate::store) fn write_schema_6_for_tests(
    tx: &WriteTransaction,
    account: AccountId,
    folder: FolderId,
    item: u64,
    received: i64,
    terms: &[String],
) -> Result<(), StoreError> {
    let posting = Posting {
        item,
        folder,
        received,
    };
    add_postings(tx, account, posting, terms)?;
    tx.open_table(ITEM_TERMS)?
        .insert((account, folder, item), terms.join("\n").as_bytes())?;
    Ok(())
}
