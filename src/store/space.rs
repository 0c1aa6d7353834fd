//! The store's room on disk: what the database file and the blob directory hold (live
//! data, metadata, free space), compacting the file, and compacting it on its own when
//! the store has been idle and enough of the file is free. Both begin by collecting the
//! blobs nothing references any more (`store::collect`).
//!
//! The database file's figures come from walking every page of its trees (redb's
//! `WriteTransaction::stats`), which takes the writer thread for as long as the walk
//! (proportional to the file: `cargo bench --bench compact` prints it), and the blobs'
//! from walking the blob
//! directory: [`super::Store::sizes`] computes both when asked and keeps the answer for
//! [`SIZES_MAX_AGE`], so a dashboard reloaded in a loop does not walk the store in a loop.
//!
//! Compaction needs the database to itself (redb's `Database::compact` takes `&mut`):
//! the writer thread runs it between two commits, holding the [`DbLock`] for writing,
//! so no snapshot begins meanwhile (readers wait for it in `Store::view`, without
//! blocking the event loop). A snapshot begun earlier and still held (a backup copying
//! the database) makes redb refuse; the writer gives such a read [`READ_WAIT`] to end,
//! then answers that compaction cannot run now rather than wait for it.
//!
//! A kill during compaction loses nothing: redb moves pages inside transactions committed
//! with two-phase commit, each one durable before the next begins, so the file is always
//! as one of those commits left it; the next open repairs the allocator state (as after
//! any crash) and every commit made before the compaction is there.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redb::{Database, ReadableTableMetadata, TableDefinition, TableHandle};
use serde::{Deserialize, Serialize};

use super::collect::{self, Collected};
use super::tables;
use super::{BlobStore, StoreError};

/// The database, shared by the writer thread and the readers: readers take it for reading
/// only while they begin a snapshot, the writer for writing only to compact.
pub(super) type DbLock = Arc<tokio::sync::RwLock<Database>>;

/// How long [`super::Store::sizes`] keeps an answer before walking the store again.
pub const SIZES_MAX_AGE: Duration = Duration::from_secs(60);

/// How long compaction waits for a snapshot begun before it to end.
const READ_WAIT: Duration = Duration::from_secs(1);

/// What the store occupies, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreSizes {
    /// The database file's length.
    pub database_file: u64,
    /// What it occupies on disk (whole blocks): less than its length, as redb extends the
    /// file ahead of use and the extension stays sparse until pages are written there.
    #[serde(default)]
    pub database_disk: u64,
    /// Keys and values stored in its tables (live data).
    pub database_live: u64,
    /// Branch pages, table roots and redb's own system tables.
    pub database_metadata: u64,
    /// Free pages and the unused part of used ones: what new writes reuse, and what
    /// compaction can give back (at most).
    pub database_free: u64,
    /// Part of `database_live` and `database_metadata`: the search index's tables.
    pub search_index: u64,
    /// Files in the blob directory: the packed segments holding small bodies
    /// (`blob::pack`, maybe deflated) and a file per large one (bodies, attachments,
    /// directory photos).
    pub blob_files: u64,
    /// Their content as stored (compressed where packing deflated it).
    pub blob_bytes: u64,
    /// What they occupy on disk (whole blocks).
    pub blob_disk: u64,
}

impl StoreSizes {
    /// What the store occupies on disk in all.
    pub fn total_disk(&self) -> u64 {
        self.database_disk + self.blob_disk
    }
}

/// The database file's part of [`StoreSizes`], measured on the writer thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DbSpace {
    pub file: u64,
    pub disk: u64,
    pub live: u64,
    pub metadata: u64,
    pub free: u64,
    pub search_index: u64,
}

/// A finished compaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compacted {
    /// The database file's size before and after.
    pub before: u64,
    pub after: u64,
    pub millis: u64,
    /// The blobs collected first.
    #[serde(default)]
    pub blobs: Collected,
}

impl std::fmt::Display for Compacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "store compacted: {} → {} in {:.1} s; {}",
            mib(self.before),
            mib(self.after),
            self.millis as f64 / 1000.0,
            self.blobs
        )
    }
}

impl std::fmt::Display for Collected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "blobs: {} freed ({} of {} closed segments rewritten, {} records copied; {} \
             files removed)",
            mib(self.bytes_freed),
            self.segments_removed,
            self.segments_seen,
            self.records_copied,
            self.files_removed
        )
    }
}

/// `bytes` as MiB with one decimal, for messages.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// When the writer compacts on its own: after `idle` without a write, if the file's free
/// space is at least `min_free` bytes and `min_free_percent` of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutoCompact {
    pub idle: Duration,
    pub min_free: u64,
    pub min_free_percent: u8,
}

impl AutoCompact {
    /// Whether a file measured as `space` is worth compacting.
    fn pays(&self, space: &DbSpace) -> bool {
        space.free >= self.min_free
            && space.free.saturating_mul(100)
                >= space.file.saturating_mul(u64::from(self.min_free_percent))
    }
}

/// What the writer thread does with the file's space, between commits.
pub(super) enum SpaceOp {
    Measure(tokio::sync::oneshot::Sender<Result<DbSpace, StoreError>>),
    Compact(tokio::sync::oneshot::Sender<Result<Compacted, StoreError>>),
    /// Sets (or with `None` stops) compaction when idle.
    Auto(Option<AutoCompact>),
}

/// The writer's state for compaction when idle.
pub(super) struct Idle {
    policy: Option<AutoCompact>,
    /// Written since the last look: only a store that changed can have grown free space.
    wrote: bool,
}

impl Idle {
    pub fn new() -> Self {
        Self {
            policy: None,
            wrote: false,
        }
    }

    /// How long the writer may wait for a job before it looks at the file.
    pub fn wait(&self) -> Option<Duration> {
        self.policy.filter(|_| self.wrote).map(|p| p.idle)
    }

    pub fn wrote(&mut self) {
        self.wrote = true;
    }

    /// The writer has been idle for [`Idle::wait`]: collects the blobs nothing references
    /// (unless `stuck`: see [`collect_blobs`]), then compacts the file if it pays.
    pub fn idle(&mut self, db: &DbLock, path: &Path, blobs: &BlobStore, stuck: bool) {
        let Some(policy) = self.policy else {
            return;
        };
        self.wrote = false;
        match collect_blobs(db, blobs, stuck) {
            Ok(c) if c.bytes_freed > 0 => tracing::info!(
                freed = c.bytes_freed,
                copied = c.bytes_copied,
                millis = c.millis,
                "store: {c} (idle)"
            ),
            Ok(c) => tracing::debug!(millis = c.millis, "store: {c} (idle)"),
            Err(e) => {
                self.wrote = true;
                tracing::warn!("store: collecting blobs when idle: {e}");
            }
        }
        let space = match measure(&db.blocking_read(), path) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("store: measuring the file for compaction: {e}");
                return;
            }
        };
        if !policy.pays(&space) {
            tracing::debug!(free = space.free, file = space.file, "store: no compaction");
            return;
        }
        tracing::info!(
            free = space.free,
            file = space.file,
            "store: idle with {} of {} free, compacting",
            mib(space.free),
            mib(space.file)
        );
        match compact(db, path) {
            Ok(c) => tracing::info!(
                before = c.before,
                after = c.after,
                millis = c.millis,
                "{c} (idle)"
            ),
            Err(e) => {
                // Look again after the next idle period.
                self.wrote = true;
                tracing::warn!("store: compaction when idle: {e}");
            }
        }
    }

    /// Runs `op` on the writer thread.
    pub fn run(&mut self, op: SpaceOp, db: &DbLock, path: &Path, blobs: &BlobStore, stuck: bool) {
        match op {
            SpaceOp::Measure(reply) => {
                let _ = reply.send(measure(&db.blocking_read(), path));
            }
            SpaceOp::Compact(reply) => {
                let out = collect_blobs(db, blobs, stuck)
                    .and_then(|blobs| compact(db, path).map(|c| Compacted { blobs, ..c }));
                match &out {
                    Ok(c) => {
                        tracing::info!(before = c.before, after = c.after, millis = c.millis, "{c}")
                    }
                    Err(e) => tracing::warn!("store: compaction: {e}"),
                }
                let _ = reply.send(out);
            }
            SpaceOp::Auto(policy) => self.policy = policy,
        }
    }
}

fn file_len(path: &Path) -> Result<u64, StoreError> {
    Ok(std::fs::metadata(path)?.len())
}

/// The database file's figures, from a write transaction that is rolled back.
fn measure(db: &Database, path: &Path) -> Result<DbSpace, StoreError> {
    let tx = db.begin_write()?;
    let stats = tx.stats()?;
    let mut index = IndexBytes { tx: &tx, bytes: 0 };
    tables::for_each(&mut index)?;
    // The index's runs are tables of their own, named as the list says.
    let mut search_index = index.bytes;
    let runs = tables::search_run_names(&tx.open_table(tables::SEARCH_RUN_LIST)?)?;
    for name in runs {
        let s = tx.open_table(tables::search_run(&name))?.stats()?;
        search_index += s.stored_bytes() + s.metadata_bytes();
    }
    tx.abort()?;
    Ok(DbSpace {
        file: file_len(path)?,
        disk: {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(path)?.blocks() * 512
        },
        live: stats.stored_bytes(),
        metadata: stats.metadata_bytes(),
        free: stats.fragmented_bytes(),
        search_index,
    })
}

/// Adds up the tables of the search index (those named `search_…`).
struct IndexBytes<'a> {
    tx: &'a redb::WriteTransaction,
    bytes: u64,
}

impl tables::TableVisitor for IndexBytes<'_> {
    fn visit<K: redb::Key + 'static, V: redb::Value + 'static>(
        &mut self,
        table: TableDefinition<'static, K, V>,
    ) -> Result<(), StoreError> {
        if table.name().starts_with("search_") {
            let s = self.tx.open_table(table)?.stats()?;
            self.bytes += s.stored_bytes() + s.metadata_bytes();
        }
        Ok(())
    }
}

/// Collects the blobs nothing references; refused while deliveries acknowledged to the
/// MTA wait in the journal for the next start (`stuck`): they name their bodies, and no
/// record does yet.
fn collect_blobs(db: &DbLock, blobs: &BlobStore, stuck: bool) -> Result<Collected, StoreError> {
    if stuck {
        return Err(StoreError::Conflict(
            "blobs are not collected while deliveries wait in the journal for easd to \
             start again"
                .into(),
        ));
    }
    collect::pass(&db.blocking_read(), blobs)
}

/// Compacts the database file; see the module's comment for when it refuses.
fn compact(db: &DbLock, path: &Path) -> Result<Compacted, StoreError> {
    let started = Instant::now();
    let before = file_len(path)?;
    tracing::info!(file = before, "store: compacting {}", mib(before));
    loop {
        let mut guard = db.blocking_write();
        match guard.compact() {
            Ok(_) => break,
            Err(redb::CompactionError::TransactionInProgress) if started.elapsed() < READ_WAIT => {
                // Let the snapshot's holder go on (and other readers in) while it ends.
                drop(guard);
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(redb::CompactionError::TransactionInProgress) => {
                return Err(StoreError::Conflict(
                    "cannot compact the store now: a long read (a backup?) holds a snapshot \
                     of it; try again once it is done"
                        .into(),
                ));
            }
            Err(e) => return Err(redb::Error::from(e).into()),
        }
    }
    Ok(Compacted {
        before,
        after: file_len(path)?,
        millis: started.elapsed().as_millis() as u64,
        blobs: Collected::default(),
    })
}

/// Files, content bytes and disk bytes of the blob directory (its `tmp` left out: files
/// being written, not stored).
pub(super) fn blob_usage(root: &Path) -> std::io::Result<(u64, u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let mut totals = (0, 0, 0);
    let mut dirs: Vec<PathBuf> = vec![root.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let meta = match entry.metadata() {
                Ok(m) => m,
                // Removed since the listing.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            if meta.is_dir() {
                if !(dir == root && entry.file_name() == "tmp") {
                    dirs.push(entry.path());
                }
            } else {
                totals.0 += 1;
                totals.1 += meta.len();
                totals.2 += meta.blocks() * 512;
            }
        }
    }
    Ok(totals)
}

#[cfg(test)]
pub(super) mod tests;
