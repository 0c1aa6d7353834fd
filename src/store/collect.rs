//! Collecting the blobs nothing references any more: the bodies of deleted messages,
//! replaced directory photos. Runs on the writer thread between two commits (so the
//! snapshot it marks from is the latest, and nothing commits meanwhile), when the store
//! has been idle (`space::Idle`) or for `easd store compact`.
//!
//! A pass marks every reference (message items, directory photos and certificates:
//! [`for_each_reference`], which backups use too), then
//! - a closed packed segment at most [`REWRITE_LIVE_PERCENT`] live has its live records
//!   copied to the active segment, their index entries re-pointed and the entries of its
//!   dead records removed in one commit, then its file removed (a reader that found the
//!   old place before that commit looks again: `Packs::read_current`);
//! - a blob file (a large body or attachment) no reference names is removed.
//!
//! What makes it safe against a put whose job has not committed yet (a body is written
//! before the commit that names it): only segments closed at least [`GRACE`] ago and
//! files neither written nor reused for [`GRACE`] are looked at, and a put reuses only a
//! record of the active segment (`Packs::reusable`), or a file it touches under the
//! lock the collection removes files under (`BlobStore::reuse_file`). A put's job is
//! queued as soon as its body is written; the grace is an hour. Deliveries acknowledged
//! but not applied — the writer stuck (`store::writer`), or found in the journal at open
//! and not applied again yet (`Packs::replaying`) — and backups in progress (their
//! snapshot may name what is no longer referenced: `BlobStore::hold`) stop the pass.
//!
//! A kill at any point loses nothing: copies are durable before the commit that names
//! them; a segment is removed only after it, its marks only after its file (without them
//! the next open would take its journal records for unapplied deliveries); a segment
//! whose records all went elsewhere is removed by the next pass.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime};

use redb::{ReadTransaction, ReadableTable};
use serde::{Deserialize, Serialize};

use super::blob::pack::{self, Hash};
use super::model::{BlobId, PackedBody};
use super::tables::{DIRECTORY, ITEMS, JOURNAL_MARKS, PACK_MARKS, PACKED};
use super::{BlobStore, StoreError};

/// How long a closed segment, or a blob file since it was last written or reused, is left
/// alone: far longer than a put waits for the commit naming what it wrote.
const GRACE: Duration = Duration::from_secs(3600);
/// Spools in the blob directory's `tmp` older than this were left by a crash.
const STALE_SPOOL: Duration = Duration::from_secs(24 * 3600);
/// A closed segment is rewritten when at most this share of it is live: copying the live
/// part then gives back at least as much as it writes.
const REWRITE_LIVE_PERCENT: u64 = 50;

/// What a pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collected {
    /// Closed segments looked at, and those removed.
    pub segments_seen: u64,
    pub segments_removed: u64,
    /// Live records copied out of the removed segments, and their bytes.
    pub records_copied: u64,
    pub bytes_copied: u64,
    /// Blob files (and crash-left spools) removed.
    pub files_removed: u64,
    /// What the removed segments and files held, less what was copied.
    pub bytes_freed: u64,
    pub millis: u64,
}

/// The leading fields of a `MailItem`, as far as its blob: the walk over every message
/// decodes no more (`decode_leading`).
#[derive(Deserialize)]
struct ItemBlob {
    #[serde(rename = "id")]
    _id: u64,
    #[serde(rename = "folder")]
    _folder: u64,
    blob: BlobId,
}

/// Calls `f` with every blob the records of `tx` name: message bodies, directory photos
/// and certificates.
pub(super) fn for_each_reference(
    tx: &ReadTransaction,
    mut f: impl FnMut(&BlobId),
) -> Result<(), StoreError> {
    for row in tx.open_table(ITEMS)?.iter()? {
        f(&row?.1.value().decode_leading::<ItemBlob>()?.blob);
    }
    for row in tx.open_table(DIRECTORY)?.iter()? {
        let entry = row?.1.value().decode()?;
        entry
            .photo
            .iter()
            .chain(&entry.certificates)
            .for_each(|b| f(&b.blob));
    }
    Ok(())
}

/// Collects what nothing references (see the module's comment). Refused while a backup
/// runs.
pub(super) fn pass(db: &redb::Database, blobs: &BlobStore) -> Result<Collected, StoreError> {
    let started = Instant::now();
    if blobs.held() {
        return Err(StoreError::Conflict(
            "blobs are not collected while a backup is running; try again once it is done".into(),
        ));
    }
    if blobs.packs().is_some_and(|p| p.replaying()) {
        return Err(StoreError::Conflict(
            "blobs are not collected until the deliveries found in the journal at start are \
             applied"
                .into(),
        ));
    }
    let cutoff = SystemTime::now() - GRACE;
    let mut done = Collected::default();
    let packs = blobs.packs();
    let mut closed = Vec::new();
    if let Some(packs) = packs {
        // Every record's index entry into the table, so that every closed segment's
        // records are there to mark.
        let tx = db.begin_write()?;
        let staged = packs.stage(&tx, 0, true)?;
        tx.commit()?;
        packs.committed(staged);
        closed = packs.closed(GRACE)?;
    }
    let mut files = blobs.files_before(cutoff)?;
    done.segments_seen = closed.len() as u64;

    if !closed.is_empty() || !files.is_empty() {
        let snapshot = db.begin_read()?;
        // The index entries into the closed segments, each dead until a reference to it
        // is found: a list sorted by hash (as the table is), not a map, for half the
        // memory (a 64 MiB segment holds some 35,000 records).
        let in_closed: HashSet<u32> = closed.iter().map(|(n, _)| *n).collect();
        let mut entries: Vec<Entry> = Vec::new();
        if !in_closed.is_empty() {
            for row in snapshot.open_table(PACKED)?.iter()? {
                let (k, v) = row?;
                let body = PackedBody::from_row(v.value());
                if in_closed.contains(&body.segment)
                    && let Ok(hash) = Hash::try_from(k.value())
                {
                    entries.push(Entry {
                        hash,
                        body,
                        live: false,
                    });
                }
            }
        }
        entries.sort_unstable_by_key(|e| e.hash);
        for_each_reference(&snapshot, |id| {
            let Some(hash) = id.digest() else {
                return;
            };
            if let Ok(i) = entries.binary_search_by(|e| e.hash.cmp(&hash)) {
                entries[i].live = true;
            }
            files.remove(&hash);
        })?;
        drop(snapshot);
        if let Some(packs) = packs {
            rewrite(db, packs, &closed, &entries, &mut done)?;
        }
        for hash in &files {
            if let Some(len) = blobs.remove_file_before(hash, cutoff)? {
                done.files_removed += 1;
                done.bytes_freed += len;
            }
        }
    }
    let (spools, bytes) = blobs.remove_tmp_before(SystemTime::now() - STALE_SPOOL)?;
    done.files_removed += spools;
    done.bytes_freed += bytes;
    done.millis = started.elapsed().as_millis() as u64;
    Ok(done)
}

/// An index entry into a closed segment, and whether a record names its blob.
struct Entry {
    hash: Hash,
    body: PackedBody,
    live: bool,
}

/// Rewrites the closed segments that are mostly dead: copies the live records of their
/// `entries`, then in one commit points the index at the copies and drops the dead
/// entries, then removes the files and, after them, their marks.
fn rewrite(
    db: &redb::Database,
    packs: &pack::Packs,
    closed: &[(u32, u64)],
    entries: &[Entry],
    done: &mut Collected,
) -> Result<(), StoreError> {
    let mut live_bytes: HashMap<u32, u64> = HashMap::new();
    for e in entries.iter().filter(|e| e.live) {
        *live_bytes.entry(e.body.segment).or_default() += pack::record_len(&e.body);
    }
    let doomed: HashSet<u32> = closed
        .iter()
        .filter(|(n, len)| {
            live_bytes.get(n).copied().unwrap_or(0) * 100 <= len * REWRITE_LIVE_PERCENT
        })
        .map(|(n, _)| *n)
        .collect();
    if doomed.is_empty() {
        return Ok(());
    }
    let to_copy: Vec<(Hash, PackedBody)> = entries
        .iter()
        .filter(|e| e.live && doomed.contains(&e.body.segment))
        .map(|e| (e.hash, e.body))
        .collect();
    let copies = packs.copy(&to_copy)?;
    let tx = db.begin_write()?;
    {
        let mut index = tx.open_table(PACKED)?;
        for (hash, body) in &copies {
            index.insert(hash.as_slice(), body.to_row())?;
            done.records_copied += 1;
            done.bytes_copied += pack::record_len(body);
        }
        for e in entries
            .iter()
            .filter(|e| !e.live && doomed.contains(&e.body.segment))
        {
            // Only if the entry is still that record (a put may have named a new copy).
            let at = e.hash.as_slice();
            let current = index.get(at)?.map(|v| PackedBody::from_row(v.value()));
            if current == Some(e.body) {
                index.remove(at)?;
            }
        }
    }
    tx.commit()?;
    let mut removed = Vec::new();
    for &(n, _) in closed.iter().filter(|(n, _)| doomed.contains(n)) {
        removed.push(n);
        let len = packs.remove(n)?;
        done.segments_removed += 1;
        done.bytes_freed += len;
    }
    done.bytes_freed = done.bytes_freed.saturating_sub(done.bytes_copied);
    // The marks of the segments removed now, and of any removed before a crash.
    let tx = db.begin_write()?;
    let gone = packs.marks_without_segment(&tx)?;
    {
        let (mut marks, mut journal_marks) =
            (tx.open_table(PACK_MARKS)?, tx.open_table(JOURNAL_MARKS)?);
        for &n in &gone {
            marks.remove(n)?;
            journal_marks.remove(n)?;
        }
    }
    tx.commit()?;
    tracing::info!(segments = ?removed, "store: packed segments rewritten and removed");
    Ok(())
}

#[cfg(test)]
mod tests;
