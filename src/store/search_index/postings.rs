//! The postings blocks as written: a write transaction's new documents gathered
//! ([`Pending`]) and, just before it commits ([`flush`], called by the store's writer),
//! either queued as one row per document in the pending table or, once [`MERGE_DOCS`]
//! wait, merged with the queued ones into each term's blocks. Kept apart from the rest of
//! the index so the writer, which owns the pending postings, needs nothing that needs it.
//!
//! Why a queue: redb rewrites a whole B-tree page for any change in it, and a message's
//! ~200 distinct terms have their last blocks on ~200 different pages, so appending at
//! every commit wrote some 200 pages (800 KiB) per delivered message, and more as the
//! mailbox grew (a deeper tree). A queued document is one row appended at the end of the
//! table; a merge touches each term's last block once for hundreds of messages.

use redb::{ReadableTable, ReadableTableMetadata, WriteTransaction};

use super::super::StoreError;
use super::super::model::AccountId;
use super::super::tables::{DOCS, PENDING, RUNS};
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

/// Documents queued in the pending table before they are merged into the blocks: a merge
/// costs a block write per distinct term of the queued messages (a few thousand for
/// natural text, whatever their number), and a query reads every queued row (about a
/// kilobyte each); 512 keeps both small.
pub(crate) const MERGE_DOCS: u64 = 512;

/// Documents indexed in a write transaction, as (account, document, terms): queued or
/// merged once, before it commits ([`flush`]). The terms are kept as the queue's rows
/// hold them ([`codec::encode_terms`], a few bytes a word instead of a `String` each): a
/// group of hundreds of deliveries holds them all until its commit.
#[derive(Default)]
pub(crate) struct Pending(pub(super) Vec<(AccountId, u64, Vec<u8>)>);

/// Queues a transaction's new documents, or merges them with the queued ones into the
/// blocks when [`MERGE_DOCS`] would be waiting; called by the writer before the commit,
/// so documents and postings commit together (nothing acknowledged waits in memory).
pub(crate) fn flush(tx: &WriteTransaction, pending: &mut Pending) -> Result<(), StoreError> {
    if pending.0.is_empty() {
        return Ok(());
    }
    let mut new = std::mem::take(&mut pending.0);
    // Documents deleted in the transaction that added them are left out (one deleted
    // later leaves the queue then, or is counted against its run).
    {
        let docs = tx.open_table(DOCS)?;
        let mut live = Vec::with_capacity(new.len());
        for (account, doc, terms) in new {
            if docs.get((account, doc))?.is_some() {
                live.push((account, doc, terms));
            }
        }
        new = live;
    }
    let mut queued = tx.open_table(PENDING)?;
    if queued.len()? + (new.len() as u64) < MERGE_DOCS {
        for (account, doc, terms) in &new {
            queued.insert((*account, *doc), terms.as_slice())?;
        }
        return Ok(());
    }
    drop(queued);
    merge(tx, new)
}

/// Merges the queued documents and `new` ones into a new run per account (`runs`),
/// emptying the queue.
fn merge(tx: &WriteTransaction, new: Vec<(AccountId, u64, Vec<u8>)>) -> Result<(), StoreError> {
    let mut queued = tx.open_table(PENDING)?;
    let mut by_term: std::collections::BTreeMap<(AccountId, String), Vec<u64>> = Default::default();
    // Documents per account.
    let mut counts: std::collections::HashMap<AccountId, u64> = Default::default();
    for row in queued.iter()? {
        let (k, v) = row?;
        let (account, doc) = k.value();
        *counts.entry(account).or_default() += 1;
        codec::decode_terms(v.value(), |t| {
            by_term
                .entry((account, t.to_owned()))
                .or_default()
                .push(doc);
        })?;
    }
    queued.retain(|_, _| false)?;
    drop(queued);
    for (account, doc, terms) in new {
        *counts.entry(account).or_default() += 1;
        codec::decode_terms(&terms, |t| {
            by_term
                .entry((account, t.to_owned()))
                .or_default()
                .push(doc);
        })?;
    }
    // A run per account, then the account's levels merged where full (`runs`).
    let mut accounts: Vec<AccountId> = by_term.keys().map(|(a, _)| *a).collect();
    accounts.dedup();
    let mut terms = by_term.into_iter().peekable();
    for account in accounts {
        let mut mine = Vec::new();
        while let Some(((_, term), mut docs)) = terms.next_if(|((a, _), _)| *a == account) {
            // Queued in document order, mostly; a term repeated in a message is there twice.
            docs.sort_unstable();
            docs.dedup();
            mine.push((term, docs));
        }
        let n = counts.get(&account).copied().unwrap_or(0);
        super::runs::write(tx, account, 0, mine, n)?;
        super::runs::compact(tx, account)?;
    }
    Ok(())
}

/// Merges what is queued now (a test looking at the blocks, or making a store as schema 10
/// left it).
#[cfg(test)]
pub(crate) fn merge_queued(tx: &WriteTransaction) -> Result<(), StoreError> {
    merge(tx, Vec::new())
}
