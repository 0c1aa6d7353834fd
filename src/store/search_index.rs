//! The per-account word index behind Search: kept up to date as items come and go, so a
//! query reads postings instead of opening every blob.
//!
//! A message is indexed as a *document*, numbered with the item id it had when indexed
//! (item ids only grow, so a document number never names two messages). Three tables:
//! - runs: (account, term, first document of the block) → the block's ascending document
//!   numbers, delta- and varint-encoded, at most [`codec::BLOCK_DOCS`] (about 1.1 bytes a
//!   posting). A delivery appends to each of its terms' last block: the work of indexing a
//!   message is its distinct terms, whatever the mailbox's size.
//! - docs: (account, document) → where the message is now (folder, item id, DateReceived),
//!   7–8 bytes; a query filters by folder and date and sorts newest first from it, loading
//!   only the page it answers.
//! - item docs: (account, item) → document, only for an item whose document number differs
//!   from its id (a moved message, an edited draft).
//!
//! Removal is by document liveness, not by stored word lists: deleting a message removes
//! its location, so its postings no longer match (a query keeps only documents that have
//! one); a move rewrites the location only, the postings stay. Dead postings are dropped
//! when their block is next touched (a full last block is swept before a new one starts)
//! and with the account. Re-tokenizing the body on delete was not chosen: the store does
//! not parse MIME (that is `mail::mime`, above it), a move would have to re-tokenize too,
//! and a message whose blob is gone would keep its postings for ever.

use redb::{ReadableTable, ReadableTableMetadata, WriteTransaction};

use super::model::{AccountId, FolderId};
use super::tables::{DOCS, ITEM_DOCS, PENDING, RUNS, SEARCH_RUN_LIST, search_run, search_run_name};
use super::tx::Tx;
use super::{StoreError, WriteCtx};

mod codec;
mod legacy;
pub(super) mod postings;
mod runs;

use postings::{Docs, Writer, append};

pub(super) use codec::Location;
#[cfg(test)]
pub(super) use legacy::write_schema_6_for_tests;
pub(super) use legacy::{
    CONVERT_BATCH, conversion_pending, convert_some, migrate_postings_to_blocks, start_conversion,
};

/// Most postings one query term may read: bounds a query's time and memory.
pub const MAX_POSTINGS_PER_TERM: usize = 200_000;

/// A query with at most this many candidates looks each one's location up; more are
/// merged with a scan of the account's locations (a key lookup costs as much as scanning
/// a few dozen rows).
const LOOKUP_MAX: usize = 4_096;

/// One item found by a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Posting {
    pub item: u64,
    pub folder: FolderId,
    /// DateReceived, Unix seconds.
    pub received: i64,
}

fn put_location(
    docs: &mut Docs<'_>,
    account: AccountId,
    doc: u64,
    l: Location,
) -> Result<(), StoreError> {
    docs.insert((account, doc), codec::encode_location(doc, l).as_slice())?;
    Ok(())
}

/// The document of item `item`, if it is indexed.
fn doc_of(tx: &WriteTransaction, account: AccountId, item: u64) -> Result<u64, StoreError> {
    Ok(tx
        .open_table(ITEM_DOCS)?
        .get((account, item))?
        .map_or(item, |d| d.value()))
}

/// Indexes a new message as document `doc` under `terms` (a new item's own id; a fresh
/// number for an edited draft, whose old document is dead). The location is written now,
/// the postings when the transaction is about to commit.
/// A message's words for the index, encoded as the queue keeps them (sorted, distinct,
/// front-coded: [`codec::encode_terms`]), a few bytes a word instead of a `String` each: a
/// delivery acknowledged and waiting for the writer holds them until its commit, and up
/// to hundreds wait in a burst.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Terms(Vec<u8>);

impl Terms {
    pub fn of(words: &[String]) -> Self {
        Terms(codec::encode_terms(words.iter().map(String::as_str)))
    }
}

fn add_doc(
    ctx: &mut WriteCtx,
    account: AccountId,
    doc: u64,
    at: Location,
    terms: &Terms,
) -> Result<(), StoreError> {
    if doc != at.item {
        ctx.tx
            .open_table(ITEM_DOCS)?
            .insert((account, at.item), doc)?;
    }
    put_location(&mut ctx.tx.open_table(DOCS)?, account, doc, at)?;
    ctx.index.0.push((account, doc, terms.0.clone()));
    Ok(())
}

/// Indexes item `item`, new in `folder`, under `terms`.
pub fn add(
    ctx: &mut WriteCtx,
    account: AccountId,
    folder: FolderId,
    item: u64,
    received: i64,
    terms: &Terms,
) -> Result<(), StoreError> {
    let at = Location {
        folder,
        item,
        received,
    };
    add_doc(ctx, account, item, at, terms)
}

/// Indexes item `item` again (its message was replaced) as the new document `doc`, a
/// number never used in the account (the old document's postings are dead).
pub fn readd(
    ctx: &mut WriteCtx,
    account: AccountId,
    doc: u64,
    at: Location,
    terms: &Terms,
) -> Result<(), StoreError> {
    remove(ctx, account, at.folder, at.item)?;
    add_doc(ctx, account, doc, at, terms)
}

/// Removes an item from the index: its document loses its location, so its postings no
/// longer match (they are dropped when their block is next swept).
pub fn remove(
    ctx: &WriteCtx,
    account: AccountId,
    folder: FolderId,
    item: u64,
) -> Result<(), StoreError> {
    let doc = doc_of(ctx.tx, account, item)?;
    let mut docs = ctx.tx.open_table(DOCS)?;
    let here = match docs.get((account, doc))? {
        Some(v) => {
            let l = codec::decode_location(doc, v.value())?;
            l.folder == folder && l.item == item
        }
        None => false,
    };
    if here {
        docs.remove((account, doc))?;
        drop(docs);
        ctx.tx.open_table(ITEM_DOCS)?.remove((account, item))?;
        // Still queued: not merged at all. Merged: dead postings in its run, counted.
        let queued = ctx
            .tx
            .open_table(PENDING)?
            .remove((account, doc))?
            .is_some();
        if !queued {
            runs::note_dead(ctx.tx, account, doc)?;
        }
    }
    Ok(())
}

/// Item `from` moved to `to` (a new id in another folder): the same document, its
/// location rewritten; the postings do not change.
pub fn relocate(
    ctx: &WriteCtx,
    account: AccountId,
    from: (FolderId, u64),
    to: Location,
) -> Result<(), StoreError> {
    let doc = doc_of(ctx.tx, account, from.1)?;
    let mut docs = ctx.tx.open_table(DOCS)?;
    let indexed = match docs.get((account, doc))? {
        Some(v) => {
            let l = codec::decode_location(doc, v.value())?;
            (l.folder, l.item) == from
        }
        None => false,
    };
    if !indexed {
        return Ok(());
    }
    put_location(&mut docs, account, doc, to)?;
    let mut item_docs = ctx.tx.open_table(ITEM_DOCS)?;
    item_docs.remove((account, from.1))?;
    if doc != to.item {
        item_docs.insert((account, to.item), doc)?;
    }
    Ok(())
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

/// Removes the whole index of an account.
pub fn delete_account(tx: &WriteTransaction, account: AccountId) -> Result<(), StoreError> {
    tx.open_table(RUNS)?.retain_in(
        (account, "", 0)..=(account, "\u{10FFFF}", u64::MAX),
        |_, _| false,
    )?;
    tx.open_table(DOCS)?
        .retain_in((account, 0)..=(account, u64::MAX), |_, _| false)?;
    tx.open_table(ITEM_DOCS)?
        .retain_in((account, 0)..=(account, u64::MAX), |_, _| false)?;
    tx.open_table(PENDING)?
        .retain_in((account, 0)..=(account, u64::MAX), |_, _| false)?;
    runs::delete_account(tx, account)
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

/// Documents of every term starting with `prefix`, ascending, at most
/// [`MAX_POSTINGS_PER_TERM`]; with `within`, only those in it (sorted).
fn prefix_docs(
    tx: &impl Tx,
    runs: &impl ReadableTable<(AccountId, &'static str, u64), &'static [u8]>,
    account: AccountId,
    prefix: &str,
    within: Option<&[u64]>,
) -> Result<Vec<u64>, StoreError> {
    let upper = format!("{prefix}\u{10FFFF}");
    let mut out = Vec::new();
    let mut block = Vec::with_capacity(codec::BLOCK_DOCS);
    // Terms come in order, each term's blocks in document order: when the prefix spans
    // several terms the runs are merged at the end.
    let mut runs_seen = 0;
    let mut last_term = String::new();
    for row in runs.range((account, prefix, 0)..=(account, upper.as_str(), u64::MAX))? {
        let (k, v) = row?;
        let (_, term, first) = k.value();
        if runs_seen == 0 || term != last_term {
            runs_seen += 1;
            term.clone_into(&mut last_term);
        }
        take_block(first, v.value(), within, &mut block, &mut out)?;
        if out.len() >= MAX_POSTINGS_PER_TERM {
            out.truncate(MAX_POSTINGS_PER_TERM);
            return Ok(out);
        }
    }
    let before = out.len();
    for run in runs::list(&tx.table(SEARCH_RUN_LIST)?, account)? {
        let name = search_run_name(account, run.n);
        let table = tx.table(search_run(&name))?;
        run_terms(&table, prefix, |docs| {
            take_block(0, docs, within, &mut block, &mut out)?;
            Ok(out.len() < MAX_POSTINGS_PER_TERM)
        })?;
    }
    out.truncate(MAX_POSTINGS_PER_TERM);
    if runs_seen > 1 || out.len() > before {
        out.sort_unstable();
        out.dedup();
    }
    Ok(out)
}

/// Adds the documents of a block (those in `within`, if given) to `out`.
fn take_block(
    first: u64,
    bytes: &[u8],
    within: Option<&[u64]>,
    block: &mut Vec<u64>,
    out: &mut Vec<u64>,
) -> Result<(), StoreError> {
    block.clear();
    codec::decode_docs(first, bytes, block)?;
    match within {
        Some(w) => out.extend(block.iter().filter(|d| w.binary_search(d).is_ok())),
        None => out.extend_from_slice(block),
    }
    Ok(())
}

/// How many blocks the terms starting with `prefix` have, counting up to `cap`: a cheap
/// measure of how many items a query word matches.
fn prefix_blocks(
    tx: &impl Tx,
    runs: &impl ReadableTable<(AccountId, &'static str, u64), &'static [u8]>,
    account: AccountId,
    prefix: &str,
    cap: usize,
) -> Result<usize, StoreError> {
    let upper = format!("{prefix}\u{10FFFF}");
    let mut n = 0;
    for row in runs.range((account, prefix, 0)..=(account, upper.as_str(), u64::MAX))? {
        row?;
        n += 1;
        if n >= cap {
            return Ok(n);
        }
    }
    for run in runs::list(&tx.table(SEARCH_RUN_LIST)?, account)? {
        let name = search_run_name(account, run.n);
        let table = tx.table(search_run(&name))?;
        run_terms(&table, prefix, |docs| {
            // About a byte a document: as many blocks' worth as the base table would hold.
            n += docs.len().div_ceil(codec::BLOCK_DOCS);
            Ok(n < cap)
        })?;
        if n >= cap {
            return Ok(n);
        }
    }
    Ok(n)
}

/// Calls `f` with the encoded documents (delta from 0) of each term of a run starting with
/// `prefix`, in term order, until it answers false: from the chunk whose first term is the
/// last at or before `prefix` (it may hold the first such terms).
fn run_terms(
    table: &impl ReadableTable<(&'static str, u64), &'static [u8]>,
    prefix: &str,
    mut f: impl FnMut(&[u8]) -> Result<bool, StoreError>,
) -> Result<(), StoreError> {
    let start = match table.range(..=(prefix, u64::MAX))?.next_back() {
        Some(row) => Some(row?.0.value().0.to_owned()),
        None => None,
    };
    let rows = match &start {
        Some(s) => table.range((s.as_str(), 0)..)?,
        None => table.range::<(&str, u64)>(..)?,
    };
    let p = prefix.as_bytes();
    for row in rows {
        let (_, chunk) = row?;
        let mut entries = codec::chunk_entries(chunk.value());
        while let Some(e) = entries.next_entry() {
            let (term, docs) = e?;
            if term < p {
                continue;
            }
            if !term.starts_with(p) || !f(docs)? {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// The queued documents (not merged into the blocks yet) having a word that starts with
/// each of `terms`: one ascending list per term.
fn queued_docs(
    queued: &impl ReadableTable<(AccountId, u64), &'static [u8]>,
    account: AccountId,
    terms: &[String],
) -> Result<Vec<Vec<u64>>, StoreError> {
    let mut out = vec![Vec::new(); terms.len()];
    for row in queued.range((account, 0)..=(account, u64::MAX))? {
        let (k, v) = row?;
        let doc = k.value().1;
        codec::decode_terms(v.value(), |word| {
            for (i, t) in terms.iter().enumerate() {
                if word.starts_with(t.as_str()) && out[i].last() != Some(&doc) {
                    out[i].push(doc);
                }
            }
        })?;
    }
    Ok(out)
}

/// The union of two ascending lists, ascending and without repeats.
fn union(a: Vec<u64>, b: &[u64]) -> Vec<u64> {
    if b.is_empty() {
        return a;
    }
    let mut out = a;
    out.extend_from_slice(b);
    out.sort_unstable();
    out.dedup();
    out
}

/// Where the (sorted) documents are now, as postings; dead documents are left out.
fn locate(
    docs: &impl ReadableTable<(AccountId, u64), &'static [u8]>,
    account: AccountId,
    found: &[u64],
) -> Result<Vec<Posting>, StoreError> {
    let posting = |doc: u64, bytes: &[u8]| -> Result<Posting, StoreError> {
        let l = codec::decode_location(doc, bytes)?;
        Ok(Posting {
            item: l.item,
            folder: l.folder,
            received: l.received,
        })
    };
    let mut out = Vec::with_capacity(found.len());
    let (Some(&lo), Some(&hi)) = (found.first(), found.last()) else {
        return Ok(out);
    };
    if found.len() <= LOOKUP_MAX {
        for &doc in found {
            if let Some(v) = docs.get((account, doc))? {
                out.push(posting(doc, v.value())?);
            }
        }
        return Ok(out);
    }
    let mut wanted = found.iter().peekable();
    for row in docs.range((account, lo)..=(account, hi))? {
        let (k, v) = row?;
        let doc = k.value().1;
        while wanted.next_if(|d| **d < doc).is_some() {}
        if wanted.next_if_eq(&&doc).is_some() {
            out.push(posting(doc, v.value())?);
        }
    }
    Ok(out)
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
    let runs = tx.table(RUNS)?;
    // Postings still queued count as much as merged ones: a message is found as soon as
    // its delivery is acknowledged.
    let queued = queued_docs(&tx.table(PENDING)?, account, terms)?;
    // The rarest word first: the candidates only shrink from there.
    let mut order = Vec::with_capacity(terms.len());
    for (i, t) in terms.iter().enumerate() {
        order.push((prefix_blocks(tx, &runs, account, t, 4096)?, i));
    }
    order.sort_unstable();
    let mut found: Option<Vec<u64>> = None;
    for (_, i) in order {
        let within = found.as_deref();
        let more: Vec<u64> = queued[i]
            .iter()
            .copied()
            .filter(|d| within.is_none_or(|w| w.binary_search(d).is_ok()))
            .collect();
        let docs = union(prefix_docs(tx, &runs, account, &terms[i], within)?, &more);
        if docs.is_empty() {
            return Ok(Vec::new());
        }
        found = Some(docs);
    }
    let mut hits = locate(&tx.table(DOCS)?, account, &found.unwrap_or_default())?;
    hits.retain(&keep);
    hits.sort_unstable_by(|a, b| b.received.cmp(&a.received).then(b.item.cmp(&a.item)));
    Ok(hits)
}

/// The bytes the index takes in the database file: (postings, queued ones included;
/// locations), each counting
/// stored, metadata and fragmented bytes.
pub fn size(snapshot: &super::Snapshot) -> Result<(u64, u64), StoreError> {
    let bytes = |s: redb::TableStats| s.stored_bytes() + s.metadata_bytes() + s.fragmented_bytes();
    let runs = bytes(snapshot.0.open_table(RUNS)?.stats()?)
        + bytes(snapshot.0.open_table(PENDING)?.stats()?)
        + runs::size(&snapshot.0)?;
    let docs = bytes(snapshot.0.open_table(DOCS)?.stats()?)
        + bytes(snapshot.0.open_table(ITEM_DOCS)?.stats()?);
    Ok((runs, docs))
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

    fn terms(words: &str) -> Terms {
        Terms::of(&words.split(' ').map(str::to_owned).collect::<Vec<_>>())
    }

    fn found(store: &Store, account: AccountId, words: &str) -> Vec<(u64, FolderId)> {
        let tx = store.sync_snapshot().unwrap();
        search(&tx, account, &query_terms(words), |_| true)
            .unwrap()
            .iter()
            .map(|p| (p.item, p.folder))
            .collect()
    }

    /// Merges the queued postings into the blocks, as enough deliveries would.
    fn merge(store: &Store) {
        store
            .write_blocking(|w| postings::merge_queued(w.tx))
            .unwrap();
    }

    fn queued(store: &Store) -> u64 {
        let tx = store.sync_snapshot().unwrap();
        tx.table(PENDING).unwrap().len().unwrap()
    }

    fn blocks(store: &Store, account: AccountId, term: &str) -> usize {
        let tx = store.sync_snapshot().unwrap();
        prefix_blocks(&tx, &tx.table(RUNS).unwrap(), account, term, usize::MAX).unwrap()
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
        // Queued, not merged yet: found all the same.
        assert_eq!(queued(&store), 501);
        assert_eq!(blocks(&store, 1, ""), 0);
        assert_eq!(found(&store, 1, "common").len(), 500);
        assert_eq!(found(&store, 1, "budg rare").len(), 5);
        assert_eq!(found(&store, 2, "rare"), [(1, 1)]);
        merge(&store);
        assert_eq!(queued(&store), 0);
        assert_eq!(
            blocks(&store, 1, "common"),
            500usize.div_ceil(codec::BLOCK_DOCS)
        );
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
                remove(w, 1, 2, 400)?;
                // Twice, or in the wrong folder: nothing more happens.
                remove(w, 1, 2, 400)?;
                remove(w, 1, 1, 500)?;
                for item in (1..=300).filter(|i| i % 100 != 0) {
                    remove(w, 1, 1 + item % 3, item)?;
                }
                Ok(())
            })
            .unwrap();
        let rare: Vec<u64> = found(&store, 1, "rare").iter().map(|f| f.0).collect();
        assert_eq!(rare, [500, 300, 200, 100]);
        assert_eq!(found(&store, 1, "common").len(), 500 - 1 - 297);
        assert_eq!(found(&store, 2, "rare"), [(1, 1)]);

        store.write_blocking(|w| delete_account(w.tx, 1)).unwrap();
        assert!(found(&store, 1, "common").is_empty());
        assert_eq!(blocks(&store, 1, ""), 0);
        assert_eq!(found(&store, 2, "common"), [(1, 1)]);
    }

    #[test]
    fn a_moved_message_is_found_at_its_new_place_without_indexing_it_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .write_blocking(|w| {
                add(w, 1, 1, 10, 100, &terms("invoice march"))?;
                add(w, 1, 1, 11, 101, &terms("invoice april"))?;
                let to = |folder, item| Location {
                    folder,
                    item,
                    received: 100,
                };
                relocate(w, 1, (1, 10), to(5, 12))?;
                // Moved on again: the same document.
                relocate(w, 1, (5, 12), to(6, 13))?;
                // A stale source (already moved) changes nothing.
                relocate(w, 1, (1, 10), to(7, 14))?;
                Ok(())
            })
            .unwrap();
        assert_eq!(found(&store, 1, "march"), [(13, 6)]);
        assert_eq!(found(&store, 1, "invoice"), [(11, 1), (13, 6)]);
        store.write_blocking(|w| remove(w, 1, 6, 13)).unwrap();
        assert!(found(&store, 1, "march").is_empty());
        assert_eq!(found(&store, 1, "invoice"), [(11, 1)]);
        let tx = store.sync_snapshot().unwrap();
        assert_eq!(tx.table(ITEM_DOCS).unwrap().len().unwrap(), 0);
    }

    #[test]
    fn an_edited_message_loses_its_old_words() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .write_blocking(|w| {
                add(w, 1, 3, 20, 100, &terms("draft budget"))?;
                let at = Location {
                    folder: 3,
                    item: 20,
                    received: 200,
                };
                readd(w, 1, 21, at, &terms("draft agenda"))
            })
            .unwrap();
        assert!(found(&store, 1, "budget").is_empty());
        assert_eq!(found(&store, 1, "agenda"), [(20, 3)]);
        assert_eq!(found(&store, 1, "draft"), [(20, 3)]);
        store.write_blocking(|w| remove(w, 1, 3, 20)).unwrap();
        assert!(found(&store, 1, "draft").is_empty());
    }

    #[test]
    fn a_transactions_postings_are_appended_together_and_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let n = codec::BLOCK_DOCS as u64;
        store
            .write_blocking(|w| add(w, 1, 1, 100, 0, &terms("shared")))
            .unwrap();
        merge(&store);
        // One transaction: more than a block of one term, out of order, and a number
        // below the term's last (not made by deliveries, but kept).
        store
            .write_blocking(move |w| {
                for item in (101..=100 + 2 * n).rev() {
                    add(w, 1, 1, item, 0, &terms("shared"))?;
                }
                add(w, 1, 1, 50, 0, &terms("shared other"))
            })
            .unwrap();
        merge(&store);
        let all = found(&store, 1, "shared");
        assert_eq!(all.len(), 2 * n as usize + 2);
        assert_eq!((all[0].0, all[all.len() - 1].0), (100 + 2 * n, 50));
        // [50], [100..=227], [228..=355], [356].
        assert_eq!(blocks(&store, 1, "shared"), 4);
        assert_eq!(found(&store, 1, "other"), [(50, 1)]);
    }

    #[test]
    fn documents_deleted_before_their_postings_are_merged_leave_none() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let n = codec::BLOCK_DOCS as u64;
        store
            .write_blocking(move |w| {
                for item in 1..=n {
                    add(w, 1, 1, item, 0, &terms("word"))?;
                }
                for item in 1..n {
                    remove(w, 1, 1, item)?;
                }
                add(w, 1, 1, n + 1, 0, &terms("word"))
            })
            .unwrap();
        merge(&store);
        assert_eq!(found(&store, 1, "word"), [(n + 1, 1), (n, 1)]);
        store
            .write_blocking(move |w| {
                for item in n + 2..=2 * n + 1 {
                    add(w, 1, 1, item, 0, &terms("word"))?;
                }
                Ok(())
            })
            .unwrap();
        merge(&store);
        // A run per merge: [n, n + 1], then n more.
        let tx = store.sync_snapshot().unwrap();
        let runs = runs::list(&tx.table(SEARCH_RUN_LIST).unwrap(), 1).unwrap();
        assert_eq!(runs.iter().map(|r| r.docs).collect::<Vec<_>>(), [2, n]);
        assert_eq!(found(&store, 1, "word").len(), n as usize + 2);
    }

    #[test]
    fn runs_of_a_full_level_merge_into_one_and_deleted_documents_leave_their_runs() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let list = |store: &Store| {
            let tx = store.sync_snapshot().unwrap();
            runs::list(&tx.table(SEARCH_RUN_LIST).unwrap(), 1).unwrap()
        };
        let per = 10u64;
        for r in 0..runs::FANOUT as u64 {
            store
                .write_blocking(move |w| {
                    for item in r * per + 1..=(r + 1) * per {
                        add(w, 1, 1, item, 0, &terms(&format!("alpha w{item}")))?;
                    }
                    Ok(())
                })
                .unwrap();
            merge(&store);
            let runs = list(&store);
            if r + 1 < runs::FANOUT as u64 {
                assert_eq!(runs.len() as u64, r + 1, "a level-0 run per merge");
            }
        }
        // The eighth level-0 run made them one level-1 run, holding everything.
        let total = runs::FANOUT as u64 * per;
        let runs = list(&store);
        assert_eq!(runs.len(), 1);
        assert_eq!(
            (runs[0].level, runs[0].docs, runs[0].lo, runs[0].hi),
            (1, total, 1, total)
        );
        assert_eq!(found(&store, 1, "alpha").len(), total as usize);
        assert_eq!(found(&store, 1, "w17"), [(17, 1)]);
        // Half of its documents deleted: rewritten without them.
        store
            .write_blocking(move |w| {
                for item in 1..=total / 2 {
                    remove(w, 1, 1, item)?;
                }
                Ok(())
            })
            .unwrap();
        let runs = list(&store);
        assert_eq!(runs.len(), 1);
        assert_eq!(
            (runs[0].docs, runs[0].dead, runs[0].lo),
            (total / 2, 0, total / 2 + 1)
        );
        assert!(found(&store, 1, "w17").is_empty());
        assert_eq!(found(&store, 1, "alpha").len(), (total / 2) as usize);
        // All deleted: the run is gone, and its table with it.
        store
            .write_blocking(move |w| {
                for item in total / 2 + 1..=total {
                    remove(w, 1, 1, item)?;
                }
                Ok(())
            })
            .unwrap();
        assert!(list(&store).is_empty());
        assert_eq!(blocks(&store, 1, ""), 0);
        let tx = store.sync_snapshot().unwrap();
        use redb::TableHandle;
        let tables =
            tx.0.list_tables()
                .unwrap()
                .filter(|t| t.name().starts_with("search_run."))
                .count();
        assert_eq!(tables, 0);
    }

    #[test]
    fn deliveries_queue_their_postings_until_enough_wait_then_merge_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let below = postings::MERGE_DOCS - 1;
        // One transaction per delivery would be slow here: two big ones and single ones.
        store
            .write_blocking(move |w| {
                for item in 1..below - 1 {
                    add(w, 1, 1, item, 0, &terms("bulk"))?;
                }
                Ok(())
            })
            .unwrap();
        store
            .write_blocking(move |w| add(w, 1, 1, below - 1, 0, &terms("budget march")))
            .unwrap();
        store
            .write_blocking(move |w| add(w, 2, 1, below, 0, &terms("budget april")))
            .unwrap();
        assert_eq!(queued(&store), below);
        assert_eq!(blocks(&store, 1, ""), 0);
        assert_eq!(found(&store, 1, "budget"), [(below - 1, 1)]);
        assert_eq!(found(&store, 2, "bud apr"), [(below, 1)]);
        // A queued message deleted leaves the queue; its account's others stay.
        store
            .write_blocking(move |w| remove(w, 2, 1, below))
            .unwrap();
        assert!(found(&store, 2, "budget").is_empty());
        assert_eq!(queued(&store), below - 1);
        // The delivery that fills the queue merges it, its own postings with it.
        store
            .write_blocking(move |w| {
                add(w, 2, 1, below + 1, 0, &terms("budget may"))?;
                add(w, 1, 1, below + 2, 0, &terms("budget june"))
            })
            .unwrap();
        assert_eq!(queued(&store), 0);
        assert_eq!(blocks(&store, 1, "budget"), 1);
        assert_eq!(found(&store, 1, "budget"), [(below + 2, 1), (below - 1, 1)]);
        assert_eq!(found(&store, 2, "budget"), [(below + 1, 1)]);
        assert_eq!(found(&store, 1, "bulk").len(), below as usize - 2);
    }

    #[test]
    fn queued_postings_survive_a_restart_and_go_with_their_account() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .write_blocking(|w| {
                add(w, 1, 1, 7, 0, &terms("contract signed"))?;
                add(w, 2, 1, 7, 0, &terms("contract draft"))
            })
            .unwrap();
        // Closed without any merge: the queue is in the database, committed with them.
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(queued(&store), 2);
        assert_eq!(found(&store, 1, "contract sig"), [(7, 1)]);
        store.write_blocking(|w| delete_account(w.tx, 1)).unwrap();
        assert!(found(&store, 1, "contract").is_empty());
        assert_eq!(queued(&store), 1);
        assert_eq!(found(&store, 2, "contract"), [(7, 1)]);
    }
}
