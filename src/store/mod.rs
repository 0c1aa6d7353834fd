//! The durable store: redb for metadata, a blob directory for large values, and one writer.
//!
//! Readers run a closure on a [`Snapshot`] through [`Store::view`] (a redb read
//! transaction: MVCC, it never waits for the writer). Every change goes through [`Store::write`], which hands a
//! job to the writer thread; the writer groups queued jobs into one transaction and one
//! fsync, and only then answers each job. A job's answer therefore means "durable".
//!
//! Nothing outside this module names redb, a table or a transaction: callers read through
//! the typed reads ([`ops::Reads`], [`items::ItemReads`], …) of a [`Snapshot`] or of a
//! job's [`WriteCtx`], and write through the typed writes that take a [`WriteCtx`].

pub mod archive;
pub mod audit;
pub mod backup;
pub mod blob;
mod collect;
pub mod conversations;
pub mod directory;
mod error;
pub mod folders;
pub mod governance;
pub mod items;
mod journal;
pub mod marks;
pub mod model;
pub mod ops;
pub mod search_index;
pub mod share;
pub mod space;
pub mod sync_state;
mod tables;
mod tx;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{Database, ReadTransaction, ReadableTable, WriteTransaction};

pub use blob::pack::Arriving;
pub use blob::{BlobId, BlobStore};
pub use error::StoreError;
pub use journal::Entry as JournalEntry;
pub use writer::{Applied, Durability, Event, THREAD_NAME as WRITER_THREAD, WriteCtx, WriterStats};

use model::AuditEntry;

/// Version of the schema this binary writes. Bump it with a migration in [`migrate`].
pub const SCHEMA_VERSION: u32 = 15;

/// Cloneable handle to the open store.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
    /// The audit entry of the admin action this handle runs, appended by its first
    /// committed write (see [`Store::audited`]); `None` on an ordinary handle.
    audit: Option<Arc<audit::Pending>>,
}

struct Inner {
    db: space::DbLock,
    blobs: BlobStore,
    writer: writer::Handle,
    data_dir: PathBuf,
    /// The last answer of [`Store::sizes`], and when it was measured.
    sizes: std::sync::Mutex<Option<(std::time::Instant, space::StoreSizes)>>,
    /// The delivery journal's records found at open, until [`Store::take_journal`].
    unapplied: std::sync::Mutex<Option<blob::pack::Unapplied>>,
}

/// redb's page cache when nothing else is configured. redb's own default (1 GiB) would
/// let a large mailbox fill the RAM of a small box; the OS page cache still holds the file.
pub const DEFAULT_CACHE_BYTES: usize = 8 * 1024 * 1024;
/// The database file in the data directory, and its name in a backup archive.
pub(super) const DATABASE_FILE: &str = "easd.redb";

impl Store {
    /// Opens (creating if needed) the store in `data_dir` with the default cache size.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        Self::open_with_cache(data_dir, DEFAULT_CACHE_BYTES)
    }

    /// Opens the store with a redb page cache of `cache_bytes`.
    pub fn open_with_cache(data_dir: &Path, cache_bytes: usize) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir)?;
        let path = data_dir.join(DATABASE_FILE);
        let db = redb::Builder::new()
            .set_cache_size(cache_bytes)
            .create(&path)
            .map_err(|e| match e {
                redb::DatabaseError::DatabaseAlreadyOpen => {
                    StoreError::Locked { path: path.clone() }
                }
                source => StoreError::Open {
                    path: path.clone(),
                    source,
                },
            })?;
        migrate(&db)?;
        finish_index_conversion(&db)?;
        let db = Arc::new(tokio::sync::RwLock::new(db));
        let (blobs, unapplied) = BlobStore::open_packed(&data_dir.join("blobs"), &db)?;
        let packs = blobs.packs().expect("the store packs small blobs");
        packs.pack_loose(&data_dir.join("blobs"), None)?;
        let writer = writer::Handle::spawn(db.clone(), path, blobs.clone())?;
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                blobs,
                writer,
                data_dir: data_dir.to_owned(),
                sizes: Default::default(),
                unapplied: std::sync::Mutex::new(Some(unapplied)),
            }),
            audit: None,
        })
    }

    /// A handle on the same store for running one admin action: its first write that
    /// commits also appends `entry` to the audit log, in the same transaction, so an
    /// action that is done is never missing from the log (a crash between two commits
    /// would lose the entry). The returned [`audit::Pending`] still holds the entry if no
    /// write committed (a refused action, or one that writes nothing): the caller records
    /// it then, with its outcome.
    pub fn audited(&self, entry: AuditEntry) -> (Store, Arc<audit::Pending>) {
        let pending = Arc::new(audit::Pending::new(entry));
        let store = Store {
            inner: self.inner.clone(),
            audit: Some(pending.clone()),
        };
        (store, pending)
    }

    /// Hands `job` to the writer; on an audited handle whose entry is not written yet,
    /// the job appends it after its own changes (a job that fails rolls it back with them).
    fn submit<T, F>(
        &self,
        durability: Durability,
        mut job: F,
    ) -> Result<(writer::Ticket<T>, audit::Claim), StoreError>
    where
        T: Send + 'static,
        F: FnMut(&mut WriteCtx) -> Result<T, StoreError> + Send + 'static,
    {
        let claim = audit::Claim::take(self.audit.as_ref());
        let entry = claim.entry().cloned();
        let ticket = self.inner.writer.submit(durability, move |ctx| {
            let out = job(ctx)?;
            if let Some(e) = &entry {
                audit::record(ctx, e)?;
            }
            Ok(out)
        })?;
        Ok((ticket, claim))
    }

    /// Waits for a submitted job; its audit entry counts as written only if it committed.
    async fn settle<T: 'static>(
        (ticket, claim): (writer::Ticket<T>, audit::Claim),
    ) -> Result<T, StoreError> {
        let out = ticket.await;
        if out.is_ok() {
            claim.written();
        }
        out
    }

    /// Runs `read` on a consistent view of the store as of the latest commit, and answers
    /// what it returns. Every read outside the store goes through here, so that the read
    /// phase of a handler is one closure that owns what it needs (`Send + 'static`): a
    /// backend on a networked engine runs it on a blocking pool in one REPEATABLE READ
    /// transaction instead of on the event loop. `E` is the caller's own error type (as
    /// for [`Store::write_or`]); opening the snapshot fails as `E::from(StoreError)`.
    ///
    /// redb runs it inline, on the caller's thread: a read transaction is an MVCC snapshot
    /// of the memory-mapped file, it never waits for the writer, and its reads are page
    /// walks of microseconds, so a hop to another thread would cost more than the read.
    pub async fn view<T, E, F>(&self, read: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&Snapshot) -> Result<T, E> + Send + 'static,
    {
        // Deliveries acknowledged before this read are in what it sees.
        self.inner.writer.caught_up().await;
        self.view_committed(read).await
    }

    /// [`Store::view`] without waiting for the deliveries acknowledged but not applied yet
    /// (at most [`writer::JOURNAL_WINDOW`] old): for reads on the delivery path itself
    /// that never look at mail (whom an address delivers to), where waiting would end
    /// every batch of deliveries at its first message.
    pub async fn view_committed<T, E, F>(&self, read: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&Snapshot) -> Result<T, E> + Send + 'static,
    {
        // Waits (without blocking the event loop) only while the writer compacts.
        let snapshot = self.inner.db.read().await.begin_read();
        read(&Snapshot(snapshot.map_err(StoreError::from)?))
    }

    /// A consistent view as of the latest commit, on the caller's thread: for the store's
    /// unit tests; everything else reads through [`Store::view`].
    #[cfg(test)]
    pub(in crate::store) fn sync_snapshot(&self) -> Result<Snapshot, StoreError> {
        Ok(Snapshot(self.begin_read()?))
    }

    /// A redb read transaction, for a caller outside the runtime (a backup, on a blocking
    /// thread) or a test: it blocks while the writer compacts.
    fn begin_read(&self) -> Result<ReadTransaction, StoreError> {
        self.inner.writer.caught_up_blocking();
        let snapshot = match self.inner.db.try_read() {
            Ok(db) => db.begin_read(),
            Err(_) => self.inner.db.blocking_read().begin_read(),
        };
        Ok(snapshot?)
    }

    pub fn blobs(&self) -> &BlobStore {
        &self.inner.blobs
    }

    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    /// The database file's size on disk (blobs not included), for metrics.
    pub fn database_bytes(&self) -> std::io::Result<u64> {
        Ok(std::fs::metadata(self.inner.data_dir.join(DATABASE_FILE))?.len())
    }

    /// What the store occupies (see [`space::StoreSizes`]): measured when asked, at most
    /// once per [`space::SIZES_MAX_AGE`] (the walk takes the writer thread meanwhile).
    pub async fn sizes(&self) -> Result<space::StoreSizes, StoreError> {
        let cached = *self.inner.sizes.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, sizes)) = cached
            && at.elapsed() < space::SIZES_MAX_AGE
        {
            return Ok(sizes);
        }
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.inner.writer.space(space::SpaceOp::Measure(reply))?;
        let root = self.inner.data_dir.join("blobs");
        let blobs = tokio::task::spawn_blocking(move || space::blob_usage(&root));
        let db = answer.await.map_err(|_| StoreError::WriterGone)??;
        let (blob_files, blob_bytes, blob_disk) = blobs
            .await
            .map_err(|e| StoreError::Io(std::io::Error::other(e)))??;
        let sizes = space::StoreSizes {
            database_file: db.file,
            database_disk: db.disk,
            database_live: db.live,
            database_metadata: db.metadata,
            database_free: db.free,
            search_index: db.search_index,
            blob_files,
            blob_bytes,
            blob_disk,
        };
        *self.inner.sizes.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((std::time::Instant::now(), sizes));
        Ok(sizes)
    }

    /// Compacts the database file on the writer thread, after the jobs queued before;
    /// refused ([`StoreError::Conflict`]) while a long read holds a snapshot.
    pub async fn compact(&self) -> Result<space::Compacted, StoreError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.inner.writer.space(space::SpaceOp::Compact(reply))?;
        let done = answer.await.map_err(|_| StoreError::WriterGone)?;
        // The sizes measured before are stale either way.
        self.inner
            .sizes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        done
    }

    /// Has the writer compact the file on its own when idle (`None`: never, the default).
    pub fn auto_compact(&self, policy: Option<space::AutoCompact>) -> Result<(), StoreError> {
        self.inner.writer.space(space::SpaceOp::Auto(policy))
    }

    /// Runs `job` in a write transaction on the writer thread and waits until it is durable.
    ///
    /// The job may run more than once (if another job grouped with it fails, the group is
    /// rolled back and each job is retried alone), so it must not have side effects outside
    /// the transaction.
    pub async fn write<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&mut WriteCtx) -> Result<T, StoreError> + Send + 'static,
    {
        Self::settle(self.submit(Durability::Immediate, job)?).await
    }

    /// [`Store::write`] with a chosen durability. [`Durability::Relaxed`] answers once the
    /// commit is visible, before it is fsynced; the caller must be sure that losing it in a
    /// power cut (with every commit after it up to the next durable one) is harmless.
    pub async fn write_with<T, F>(&self, durability: Durability, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&mut WriteCtx) -> Result<T, StoreError> + Send + 'static,
    {
        Self::settle(self.submit(durability, job)?).await
    }

    /// The same as [`Store::write`] for callers outside the async runtime (the CLI).
    pub fn write_blocking<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&mut WriteCtx) -> Result<T, StoreError> + Send + 'static,
    {
        let (ticket, claim) = self.submit(Durability::Immediate, job)?;
        let out = ticket.wait();
        if out.is_ok() {
            claim.written();
        }
        out
    }

    /// [`Store::write`] for a job that may refuse its change with an error of its own
    /// layer (`E`, a domain error such as "no such device"): the transaction is rolled
    /// back and the job's own error comes back as it was raised, not as a storage error.
    pub async fn write_or<T, E, F>(&self, mut job: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnMut(&mut WriteCtx) -> Result<T, E> + Send + 'static,
    {
        let submitted = self.submit(Durability::Immediate, move |ctx| {
            job(ctx).map_err(error::Refused::wrap)
        })?;
        Self::settle(submitted)
            .await
            .map_err(error::Refused::unwrap::<E>)
    }

    /// Journals a delivery and queues `job`, which applies it: once this returns Ok, the
    /// delivery is durable (its record, and the body put with [`BlobStore::put_deferred`]
    /// before it, are fdatasynced) and may be acknowledged; the writer commits it with the
    /// others of its batch (see `journal`), and the answer says what the job returned.
    /// Blocks on the disk: call it from a blocking thread. Refused until the deliveries
    /// journaled before the last stop were taken ([`Store::take_journal`]): they go first.
    ///
    /// The job must not fail on what it finds (an account deleted meanwhile is skipped,
    /// not an error): a failed job holds back every later delivery until a restart.
    ///
    /// `arriving` ([`Store::arriving`], taken when the delivery started) is let go once
    /// the record is appended, before the fdatasync.
    pub fn journal<T, F>(
        &self,
        delivery: &model::JournaledDelivery,
        job: F,
        arriving: Arriving,
    ) -> Result<Applied<T>, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&mut WriteCtx) -> Result<T, StoreError> + Send + 'static,
    {
        let pending = self
            .inner
            .unapplied
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_some_and(|u| !u.is_empty());
        if pending {
            return Err(StoreError::Conflict(
                "the deliveries journaled before the last stop are not applied yet".into(),
            ));
        }
        self.inner.writer.room_for_journaled();
        let packs = self.packs();
        let payload = journal::encode(delivery);
        let ticket = packs.append_journal(&payload, |_| self.inner.writer.submit_journaled(job));
        drop(arriving);
        let ticket = ticket?;
        // Should this fail, the job is queued all the same: the delivery may be applied
        // and still be refused to the MTA, which retries (a duplicate, never a loss).
        packs.sync()?;
        Ok(Applied(ticket))
    }

    /// Counts a delivery as on its way to [`Store::journal`]: an fdatasync of the packed
    /// segments waits (briefly) for it, so that concurrent deliveries share one.
    pub fn arriving(&self) -> Arriving {
        self.packs().arriving()
    }

    /// The deliveries journaled but not applied when the store last stopped (a crash), in
    /// order. Whoever opens the store to use it applies each with
    /// [`Store::apply_journaled`], in this order, before journaling anything new.
    pub fn take_journal(&self) -> Vec<JournalEntry> {
        self.inner
            .unapplied
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .unwrap_or_default()
            .into_iter()
            .map(|(pos, payload)| JournalEntry::decode(pos, &payload))
            .collect()
    }

    /// Queues the job that applies a delivery of [`Store::take_journal`]: the entry is
    /// taken so that only those are applied this way, and in the order queued, which is
    /// the order their records are marked applied in.
    pub fn apply_journaled<T, F>(
        &self,
        _entry: JournalEntry,
        job: F,
    ) -> Result<Applied<T>, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&mut WriteCtx) -> Result<T, StoreError> + Send + 'static,
    {
        Ok(Applied(self.inner.writer.submit_journaled(job)?))
    }

    /// Journals `delivery` without queueing its job: the state a crash between the 250
    /// and the commit leaves behind.
    #[cfg(test)]
    pub(crate) fn journal_without_applying(&self, delivery: &model::JournaledDelivery) {
        let packs = self.packs();
        packs
            .append_journal(&journal::encode(delivery), |_| Ok(()))
            .unwrap();
        packs.sync().unwrap();
    }

    fn packs(&self) -> &Arc<blob::pack::Packs> {
        self.inner
            .blobs
            .packs()
            .expect("the store packs small blobs")
    }

    /// Where the writer's time went since the store was opened.
    pub fn writer_stats(&self) -> WriterStats {
        self.inner.writer.stats()
    }

    /// Change events published after each durable commit.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Event> {
        self.inner.writer.subscribe()
    }
}

/// One migration step: rewrites the store from one schema version to the next, inside the
/// opening write transaction (so a failed upgrade leaves the store as it was).
type Step = fn(&WriteTransaction) -> Result<(), StoreError>;

/// `STEPS[i]` takes a store from schema `i + 1` to `i + 2`. The length is tied to
/// [`SCHEMA_VERSION`], so bumping the version without adding its step does not compile.
const STEPS: [Step; SCHEMA_VERSION as usize - 1] = [
    step_1_to_2,
    step_2_to_3,
    step_3_to_4,
    step_4_to_5,
    step_5_to_6,
    step_6_to_7,
    step_7_to_8,
    step_8_to_9,
    step_9_to_10,
    step_10_to_11,
    step_11_to_12,
    step_12_to_13,
    step_13_to_14,
    step_14_to_15,
];

/// Schema 2 changes no table; it starts recording when the store was last upgraded.
fn step_1_to_2(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(tables::META)?
        .insert("upgraded_at", now().to_le_bytes().as_slice())?;
    Ok(())
}

/// Schema 3 packs the search postings into blocks that also carry each item's folder and
/// DateReceived (a query no longer reads every matching item).
fn step_2_to_3(tx: &WriteTransaction) -> Result<(), StoreError> {
    search_index::migrate_postings_to_blocks(tx)
}

/// Schema 4 adds the table of groupware items (calendar, contacts, tasks, notes); older
/// stores hold none.
fn step_3_to_4(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(tables::GROUPWARE_ITEMS)?;
    Ok(())
}

/// Schema 5 adds the record of where moved items went (a resent MoveItems gets the same
/// answer; older stores hold none, so a move made before the upgrade is not replayed) and
/// the conversations moved with MoveAlways.
fn step_4_to_5(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(tables::MOVED)?;
    tx.open_table(tables::CONVERSATION_MOVES)?;
    Ok(())
}

/// Schema 6 keeps calendar, contact, task and note items as typed records
/// (`model::pim`) instead of the client's ApplicationData.
fn step_5_to_6(tx: &WriteTransaction) -> Result<(), StoreError> {
    items::migrate_groupware_to_records(tx)
}

/// Schema 7's search index keeps no word list per message and postings of bare document
/// numbers (see `search_index`): the locations are written here and the word lists
/// dropped; the old postings blocks are converted after this step, in transactions of
/// their own ([`finish_index_conversion`]).
fn step_6_to_7(tx: &WriteTransaction) -> Result<(), StoreError> {
    search_index::start_conversion(tx)
}

/// Converts what remains of a schema 6 index, a batch per durable transaction, so that a
/// large mailbox's upgrade neither holds it all in one transaction nor starts over after
/// a kill: each committed batch is gone from the old table, and the next open resumes.
fn finish_index_conversion(db: &Database) -> Result<(), StoreError> {
    let mut batches = 0u64;
    loop {
        let tx = db.begin_write()?;
        if !search_index::conversion_pending(&tx)? {
            break;
        }
        let more = search_index::convert_some(&tx, search_index::CONVERT_BATCH)?;
        tx.commit()?;
        batches += 1;
        if !more {
            tracing::info!(batches, "search index converted to schema 7");
            break;
        }
        if batches.is_multiple_of(25) {
            tracing::info!(batches, "converting the search index to schema 7");
        }
    }
    Ok(())
}

/// Schema 8 adds the company directory (an account's names, phones, photo and
/// certificates); older stores have no entries, and their accounts are in the directory
/// with their address and display name only.
fn step_7_to_8(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(tables::DIRECTORY)?;
    Ok(())
}

/// Schema 9 adds sharing: groups, shared and public folders, and the readers' ids for
/// other accounts' folders; older stores share nothing.
fn step_8_to_9(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(tables::GROUPS)?;
    tx.open_table(tables::SHARES)?;
    tx.open_table(tables::PUBLIC_FOLDERS)?;
    tx.open_table(tables::FOREIGN_FOLDERS)?;
    tx.open_table(tables::FOREIGN_IDS)?;
    Ok(())
}

/// Schema 10 packs small blobs into segment files (`blob::pack`) instead of a file each:
/// the index tables are created here, and the files are moved after this step, a batch
/// per durable transaction ([`blob::pack::Packs::pack_loose`]), resuming after a kill.
fn step_9_to_10(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(tables::PACKED)?;
    tx.open_table(tables::PACK_MARKS)?;
    blob::pack::mark_loose_pending(tx)
}

/// Schema 11 queues a delivery's search postings as one row per message (the pending
/// table) and merges them into the blocks in bulk (`search_index::postings`); an older
/// store has its postings all in the blocks and none queued.
fn step_10_to_11(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(tables::PENDING)?;
    Ok(())
}

/// Schema 12 adds the contacts folders flagged as GAL sources; older stores have none.
fn step_11_to_12(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(tables::GAL_SOURCES)?;
    Ok(())
}

/// Schema 13 journals deliveries in the packed segments (`journal`): records an older
/// binary would take for a torn tail and cut off, bodies with them. No table changes; an
/// older store's segments hold no journal records.
fn step_12_to_13(_: &WriteTransaction) -> Result<(), StoreError> {
    Ok(())
}

/// Schema 14 writes merged search postings as runs, a table each (`search_index::runs`),
/// listed in a new table; an older store's postings stay where they are and are read with
/// the runs (an older binary would not see the runs: it is refused by the version).
/// It also keeps how far each segment's journal records are applied apart from how far its
/// bodies are indexed (`journal_marks`; until then the one mark said both, which is where
/// the journal marks start), so that bodies are indexed in batches.
fn step_13_to_14(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(tables::SEARCH_RUN_LIST)?;
    tx.open_table(tables::JOURNAL_MARKS)?;
    Ok(())
}

/// Schema 15 stores message items as compact records instead of JSON (less than half
/// the size; `tables::Compact`).
fn step_14_to_15(tx: &WriteTransaction) -> Result<(), StoreError> {
    items::migrate_items_to_compact(tx)
}

fn migrate(db: &Database) -> Result<(), StoreError> {
    let tx = db.begin_write()?;
    match schema_version(&tx)? {
        Some(v) if v > SCHEMA_VERSION => {
            return Err(StoreError::NewerSchema {
                found: v,
                known: SCHEMA_VERSION,
            });
        }
        Some(0) => {
            return Err(StoreError::Corrupt {
                what: "meta",
                detail: "schema_version is 0".into(),
            });
        }
        Some(v) => {
            for step in &STEPS[v as usize - 1..] {
                step(&tx)?;
            }
        }
        // A new store: its tables are created in the current schema below.
        None => {}
    }
    tx.open_table(tables::META)?
        .insert("schema_version", SCHEMA_VERSION.to_le_bytes().as_slice())?;
    // Create every table so readers never see "table does not exist".
    tables::for_each(&mut CreateTables(&tx))?;
    tx.commit()?;
    Ok(())
}

/// The schema version recorded in META; `None` for a new store.
pub fn schema_version(tx: &impl tx::Tx) -> Result<Option<u32>, StoreError> {
    let meta = tx.table(tables::META)?;
    let Some(v) = meta.get("schema_version")? else {
        return Ok(None);
    };
    let bytes: [u8; 4] = v.value().try_into().map_err(|_| StoreError::Corrupt {
        what: "meta",
        detail: "schema_version is not 4 bytes".into(),
    })?;
    Ok(Some(u32::from_le_bytes(bytes)))
}

struct CreateTables<'a>(&'a WriteTransaction);

impl tables::TableVisitor for CreateTables<'_> {
    fn visit<K: redb::Key + 'static, V: redb::Value + 'static>(
        &mut self,
        table: redb::TableDefinition<'static, K, V>,
    ) -> Result<(), StoreError> {
        self.0.open_table(table)?;
        Ok(())
    }
}

/// A read-only view of the store as of one commit; later commits are not seen through it.
/// Read it with the typed reads ([`ops::Reads`], [`items::ItemReads`], …).
pub struct Snapshot(ReadTransaction);

/// Whatever reads can be asked of: a [`Snapshot`] or a write job's [`WriteCtx`] (which sees
/// its own transaction's changes).
pub trait Reader:
    ops::Reads
    + audit::AuditReads
    + directory::DirectoryReads
    + items::ItemReads
    + governance::GovernanceReads
    + marks::MarkReads
    + share::ShareReads
    + sync_state::SyncReads
{
}

impl<T: tx::Tx> Reader for T {}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests;
