//! Postings merged from the queue, as runs: each merge of the queued documents writes a
//! new table of its own (a run: its terms in order, in chunks of about
//! [`codec::CHUNK_BYTES`], each keyed by its first term; a term with its documents,
//! front-coded, see `codec::chunk_push`), so a
//! merge writes its postings once, at the end of the file, instead of rewriting each
//! term's last block among all the others (which, with the terms of 512 messages spread
//! over the whole vocabulary, rewrote nearly every page of the index at every merge: work
//! and disk writes that grew with the mailbox).
//!
//! Runs are levelled: a merge writes a level-0 run; once [`FANOUT`] runs of one level
//! exist they are merged into one run of the next level (a k-way merge by term, dropping
//! the postings of dead documents), so an account has at most `FANOUT - 1` runs per level
//! and a posting is rewritten about once per level (log₈ of the mailbox in 512s). A query
//! reads the term in every run (a key lookup each) besides the base table `search_runs`,
//! which holds what was indexed before runs (schema 13 and older) and the legacy
//! conversions.
//!
//! The list of an account's runs is `search_run_list`: (account, run) → (level, lowest and
//! highest document, documents, documents deleted since), so the level merge reads only
//! the locations of its documents' range, and a run half of whose documents were deleted
//! is rewritten without them ([`note_dead`]): deleted mail's postings do not stay until a
//! level merge that may never come.

use redb::{ReadableTable, WriteTransaction};

use super::super::StoreError;
use super::super::model::AccountId;
use super::super::tables::{
    DOCS, RunRow, SEARCH_RUN_LIST, search_run, search_run_name, search_run_names,
};
use super::codec;

/// Runs of one level merged into one of the next.
pub(super) const FANOUT: usize = 8;

/// A run in the list: its number, level and lowest and highest document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Run {
    pub n: u32,
    pub level: u8,
    pub lo: u64,
    pub hi: u64,
    /// Documents in it when written, and how many of them were deleted since.
    pub docs: u64,
    pub dead: u64,
}

impl Run {
    fn row(&self) -> RunRow {
        (self.level, self.lo, self.hi, self.docs, self.dead)
    }
}

/// The runs of `account` in `table` (the list), oldest first.
pub(super) fn list(
    table: &impl ReadableTable<(AccountId, u32), RunRow>,
    account: AccountId,
) -> Result<Vec<Run>, StoreError> {
    let mut out = Vec::new();
    for row in table.range((account, 0)..=(account, u32::MAX))? {
        let (k, v) = row?;
        let (level, lo, hi, docs, dead) = v.value();
        out.push(Run {
            n: k.value().1,
            level,
            lo,
            hi,
            docs,
            dead,
        });
    }
    Ok(out)
}

/// The runs of `account`, in a write transaction.
fn in_list(tx: &WriteTransaction, account: AccountId) -> Result<Vec<Run>, StoreError> {
    list(&tx.open_table(SEARCH_RUN_LIST)?, account)
}

/// Writes a new run of `account` at `level` from `terms`: term-sorted, each with its
/// documents ascending and distinct, `docs` documents in all.
pub(super) fn write(
    tx: &WriteTransaction,
    account: AccountId,
    level: u8,
    terms: impl IntoIterator<Item = (String, Vec<u64>)>,
    docs: u64,
) -> Result<(), StoreError> {
    let n = in_list(tx, account)?.last().map_or(1, |r| r.n + 1);
    let name = search_run_name(account, n);
    let (mut lo, mut hi) = (u64::MAX, 0);
    {
        let mut out = Chunks::new(tx.open_table(search_run(&name))?);
        for (term, docs) in terms {
            if let (Some(&a), Some(&b)) = (docs.first(), docs.last()) {
                (lo, hi) = (lo.min(a), hi.max(b));
                out.push(&term, &docs)?;
            }
        }
        out.finish()?;
    }
    if lo > hi {
        tx.delete_table(search_run(&name))?;
        return Ok(());
    }
    let run = Run {
        n,
        level,
        lo,
        hi,
        docs,
        dead: 0,
    };
    tx.open_table(SEARCH_RUN_LIST)?
        .insert((account, n), run.row())?;
    Ok(())
}

/// Document `doc` of `account`, merged into a run, was deleted: counted against its run,
/// which is rewritten without its dead documents once half of them are.
pub(super) fn note_dead(
    tx: &WriteTransaction,
    account: AccountId,
    doc: u64,
) -> Result<(), StoreError> {
    let Some(mut run) = in_list(tx, account)?
        .into_iter()
        .rfind(|r| r.lo <= doc && doc <= r.hi)
    else {
        // In the base table (indexed before runs): swept when its block is touched.
        return Ok(());
    };
    run.dead += 1;
    if run.dead * 2 >= run.docs {
        return merge(tx, account, &[run], run.level);
    }
    tx.open_table(SEARCH_RUN_LIST)?
        .insert((account, run.n), run.row())?;
    Ok(())
}

/// Merges the runs of any level that has [`FANOUT`] of them into one of the next level,
/// until no level has; called after a merge wrote a run.
pub(super) fn compact(tx: &WriteTransaction, account: AccountId) -> Result<(), StoreError> {
    loop {
        let runs = in_list(tx, account)?;
        let mut levels: std::collections::BTreeMap<u8, Vec<Run>> = Default::default();
        for r in runs {
            levels.entry(r.level).or_default().push(r);
        }
        let Some((level, chosen)) = levels.into_iter().find(|(_, rs)| rs.len() >= FANOUT) else {
            return Ok(());
        };
        merge(tx, account, &chosen, level.saturating_add(1))?;
    }
}

/// A run being written: terms in order, gathered into chunks.
struct Chunks<'t> {
    table: redb::Table<'t, (&'static str, u64), &'static [u8]>,
    chunk: Vec<u8>,
    first: String,
    prev: Vec<u8>,
}

impl<'t> Chunks<'t> {
    fn new(table: redb::Table<'t, (&'static str, u64), &'static [u8]>) -> Self {
        Self {
            table,
            chunk: Vec::with_capacity(codec::CHUNK_BYTES + 256),
            first: String::new(),
            prev: Vec::new(),
        }
    }

    /// Adds `term` (greater than the last one) with its documents (ascending, not empty).
    fn push(&mut self, term: &str, docs: &[u64]) -> Result<(), StoreError> {
        if self.chunk.is_empty() {
            term.clone_into(&mut self.first);
            self.prev.clear();
        }
        codec::chunk_push(&mut self.chunk, &mut self.prev, term, docs);
        if self.chunk.len() >= codec::CHUNK_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        if !self.chunk.is_empty() {
            self.table
                .insert((self.first.as_str(), 0), self.chunk.as_slice())?;
            self.chunk.clear();
        }
        Ok(())
    }

    fn finish(mut self) -> Result<(), StoreError> {
        self.flush()
    }
}

/// One run's entries, read in term order.
struct Source<'t> {
    rows: redb::Range<'t, (&'static str, u64), &'static [u8]>,
    /// The rest of the chunk being read: terms and their documents, encoded.
    pending: std::collections::VecDeque<(String, Vec<u8>)>,
    /// The next entry.
    head: Option<(String, Vec<u8>)>,
}

impl Source<'_> {
    fn advance(&mut self) -> Result<(), StoreError> {
        while self.pending.is_empty() {
            let Some(row) = self.rows.next() else {
                self.head = None;
                return Ok(());
            };
            let (_, chunk) = row?;
            let mut entries = codec::chunk_entries(chunk.value());
            while let Some(e) = entries.next_entry() {
                let (term, docs) = e?;
                let term = String::from_utf8(term.to_vec())
                    .map_err(|_| codec::corrupt("search run chunk"))?;
                self.pending.push_back((term, docs.to_vec()));
            }
        }
        self.head = self.pending.pop_front();
        Ok(())
    }
}

/// Merges `chosen` into one new run at `level`, without the documents that died since,
/// and drops them. Streams: one term's postings in memory at a time.
fn merge(
    tx: &WriteTransaction,
    account: AccountId,
    chosen: &[Run],
    level: u8,
) -> Result<(), StoreError> {
    let lo = chosen.iter().map(|r| r.lo).min().unwrap_or(0);
    let hi = chosen.iter().map(|r| r.hi).max().unwrap_or(0);
    let live: Vec<u64> = {
        let docs = tx.open_table(DOCS)?;
        let mut live = Vec::new();
        for row in docs.range((account, lo)..=(account, hi))? {
            live.push(row?.0.value().1);
        }
        live
    };
    let n = in_list(tx, account)?.last().map_or(1, |r| r.n + 1);
    let out_name = search_run_name(account, n);
    let names: Vec<String> = chosen
        .iter()
        .map(|r| search_run_name(account, r.n))
        .collect();
    let (mut new_lo, mut new_hi) = (u64::MAX, 0);
    {
        let mut out = Chunks::new(tx.open_table(search_run(&out_name))?);
        let tables = names
            .iter()
            .map(|n| tx.open_table(search_run(n)))
            .collect::<Result<Vec<_>, _>>()?;
        let mut sources = Vec::with_capacity(tables.len());
        for t in &tables {
            let mut s = Source {
                rows: t.range::<(&str, u64)>(..)?,
                pending: Default::default(),
                head: None,
            };
            s.advance()?;
            sources.push(s);
        }
        let mut docs = Vec::new();
        while let Some(term) = sources
            .iter()
            .filter_map(|s| s.head.as_ref().map(|h| h.0.clone()))
            .min()
        {
            docs.clear();
            for s in &mut sources {
                if let Some((t, bytes)) = &s.head
                    && *t == term
                {
                    codec::decode_docs(0, bytes, &mut docs)?;
                    s.advance()?;
                }
            }
            docs.sort_unstable();
            docs.dedup();
            docs.retain(|d| live.binary_search(d).is_ok());
            if let (Some(&a), Some(&b)) = (docs.first(), docs.last()) {
                (new_lo, new_hi) = (new_lo.min(a), new_hi.max(b));
                out.push(&term, &docs)?;
            }
        }
        out.finish()?;
    }
    let mut list_table = tx.open_table(SEARCH_RUN_LIST)?;
    for (r, name) in chosen.iter().zip(&names) {
        tx.delete_table(search_run(name))?;
        list_table.remove((account, r.n))?;
    }
    if new_lo > new_hi {
        // Every document of these runs is gone.
        drop(list_table);
        tx.delete_table(search_run(&out_name))?;
    } else {
        let run = Run {
            n,
            level,
            lo: new_lo,
            hi: new_hi,
            // The live documents of the range: those of these runs, nearly always (runs
            // cover the documents of consecutive merges).
            docs: live.len() as u64,
            dead: 0,
        };
        list_table.insert((account, n), run.row())?;
    }
    Ok(())
}

/// Drops every run of `account`.
pub(super) fn delete_account(tx: &WriteTransaction, account: AccountId) -> Result<(), StoreError> {
    for run in in_list(tx, account)? {
        tx.delete_table(search_run(&search_run_name(account, run.n)))?;
    }
    tx.open_table(SEARCH_RUN_LIST)?
        .retain_in((account, 0)..=(account, u32::MAX), |_, _| false)?;
    Ok(())
}

/// The bytes the runs take (stored, metadata and fragmented), for every account.
pub(super) fn size(tx: &redb::ReadTransaction) -> Result<u64, StoreError> {
    use redb::ReadableTableMetadata;
    let list = tx.open_table(SEARCH_RUN_LIST)?;
    let bytes = |s: redb::TableStats| s.stored_bytes() + s.metadata_bytes() + s.fragmented_bytes();
    let mut total = bytes(list.stats()?);
    for name in search_run_names(&list)? {
        total += bytes(tx.open_table(search_run(&name))?.stats()?);
    }
    Ok(total)
}
