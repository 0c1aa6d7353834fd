//! The postings blocks as written: a write transaction's new postings gathered
//! ([`Pending`]) and appended to each term's blocks once, just before it commits
//! ([`flush`], called by the store's writer). Kept apart from the rest of the index so
//! the writer, which owns the pending postings, needs nothing that needs it.

use redb::{ReadableTable, WriteTransaction};

use super::super::StoreError;
use super::super::model::AccountId;
use super::super::tables::{DOCS, RUNS};
use super::codec;

pub(super) type Runs<'t> = redb::Table<'t, (AccountId, &'static str, u64), &'static [u8]>;
pub(super) type Docs<'t> = redb::Table<'t, (AccountId, u64), &'static [u8]>;

/// The index's tables, open for writing in one transaction.
pub(super) struct Writer<'t> {
    pub(super) runs: Runs<'t>,
    pub(super) docs: Docs<'t>,
}

impl<'t> Writer<'t> {
    pub(super) fn open(tx: &'t WriteTransaction) -> Result<Self, StoreError> {
        Ok(Self {
            runs: tx.open_table(RUNS)?,
            docs: tx.open_table(DOCS)?,
        })
    }
}

/// The block of `term` that holds (or would hold) `doc`: the last one starting at or
/// before it, as (first document, encoded documents).
pub(super) fn block_of(
    runs: &Runs<'_>,
    account: AccountId,
    term: &str,
    doc: u64,
) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
    let Some(row) = runs
        .range((account, term, 0)..=(account, term, doc))?
        .next_back()
    else {
        return Ok(None);
    };
    let (k, v) = row?;
    Ok(Some((k.value().2, v.value().to_vec())))
}

/// Adds ascending `new` documents to `term`'s postings, reading and writing each touched
/// block once. A number above the term's last goes at the end of its last block; a full
/// last block is first swept of dead documents, and a new block starts only if it is
/// still full. A lower number (not made by deliveries) goes into the block holding it.
pub(super) fn append(
    w: &mut Writer<'_>,
    account: AccountId,
    term: &str,
    new: &[u64],
) -> Result<(), StoreError> {
    let mut block: Option<(u64, Vec<u64>)> = match block_of(&w.runs, account, term, u64::MAX)? {
        Some((first, bytes)) => {
            let mut docs = Vec::with_capacity(codec::BLOCK_DOCS);
            codec::decode_docs(first, &bytes, &mut docs)?;
            Some((first, docs))
        }
        None => None,
    };
    let mut changed = false;
    for &doc in new {
        let Some((first, docs)) = &mut block else {
            block = Some((doc, vec![doc]));
            changed = true;
            continue;
        };
        let last = docs.last().copied().unwrap_or(*first);
        if doc <= last {
            if !docs.contains(&doc) {
                if changed {
                    put_block(w, account, term, *first, docs)?;
                }
                insert_lower(w, account, term, doc)?;
                // The last block may be the one that changed: read it again.
                return append(w, account, term, &new[new.partition_point(|d| *d <= doc)..]);
            }
            continue;
        }
        if docs.len() >= codec::BLOCK_DOCS {
            let mut live = Vec::with_capacity(docs.len() + 1);
            for &d in docs.iter() {
                if w.docs.get((account, d))?.is_some() {
                    live.push(d);
                }
            }
            if live.len() >= codec::BLOCK_DOCS {
                if changed {
                    put_block(w, account, term, *first, docs)?;
                }
                block = Some((doc, vec![doc]));
                changed = true;
                continue;
            }
            *docs = live;
        }
        docs.push(doc);
        changed = true;
    }
    if let (Some((first, docs)), true) = (&block, changed) {
        put_block(w, account, term, *first, docs)?;
    }
    Ok(())
}

pub(super) fn put_block(
    w: &mut Writer<'_>,
    account: AccountId,
    term: &str,
    first: u64,
    docs: &[u64],
) -> Result<(), StoreError> {
    let bytes = codec::encode_docs(first, docs);
    w.runs.insert((account, term, first), bytes.as_slice())?;
    Ok(())
}

/// Puts `doc`, lower than the term's last document, into the block that holds its range.
pub(super) fn insert_lower(
    w: &mut Writer<'_>,
    account: AccountId,
    term: &str,
    doc: u64,
) -> Result<(), StoreError> {
    let Some((first, bytes)) = block_of(&w.runs, account, term, doc)? else {
        return put_block(w, account, term, doc, &[doc]);
    };
    let mut docs = Vec::new();
    codec::decode_docs(first, &bytes, &mut docs)?;
    if let Err(i) = docs.binary_search(&doc) {
        docs.insert(i, doc);
        put_block(w, account, term, first, &docs)?;
    }
    Ok(())
}

/// Postings added in a write transaction, appended to the blocks once, before it commits
/// ([`flush`]): a term shared by the transaction's messages (a batch of deliveries, an
/// import) reads and writes its last block once, not once per message.
#[derive(Default)]
pub(crate) struct Pending(pub(super) std::collections::BTreeMap<(AccountId, String), Vec<u64>>);

/// Appends a transaction's pending postings; called by the writer before the commit.
pub(crate) fn flush(tx: &WriteTransaction, pending: &mut Pending) -> Result<(), StoreError> {
    if pending.0.is_empty() {
        return Ok(());
    }
    let mut w = Writer::open(tx)?;
    for ((account, term), mut docs) in std::mem::take(&mut pending.0) {
        // Documents are numbered as they are indexed, so this is mostly sorted already.
        docs.sort_unstable();
        docs.dedup();
        append(&mut w, account, &term, &docs)?;
    }
    Ok(())
}
