//! Small blobs packed into append-only segment files (`blobs/packs/NNNNNNNN.pack`)
//! instead of one file each: a 2 KB message no longer costs a 4 KiB block and an inode.
//!
//! A segment is a sequence of self-describing records ([`MAGIC`], flags, stored length,
//! the SHA-256 of the original bytes, the stored bytes, deflated when that saves at least
//! a tenth). A record is fdatasynced before its id is handed out ([`Packs::put`]) or, for
//! a delivery's body, with the delivery's journal record after it ([`Packs::put_deferred`],
//! [`Packs::append_journal`]); the writer syncs what is still unsynced before any commit
//! ([`Packs::stage`]), so a body is durable before anything durable references it.
//! Appends share their fdatasync ([`Packs::sync`]: whoever syncs covers every record
//! appended before it), so concurrent deliveries cost one between them. A delivery on its
//! way ([`Packs::arriving`]: parsed and appended, not journaled yet) is waited for, at most
//! [`COMMIT_DELAY`], before an fdatasync starts, so that it shares it instead of needing
//! the next one: each fdatasync writes the segment's last, partly filled, page again,
//! which cost more than a compressed message itself when each had its own (issue 17).
//!
//! The segments also carry the delivery journal (`store::journal`): records of another
//! magic ([`JOURNAL_MAGIC`]) whose payload is a delivery acknowledged to the MTA before the
//! database has it. They are applied in the order appended, and a segment's mark never
//! passes a journal record whose delivery is not committed yet: at open, the journal
//! records past the marks are exactly the deliveries to apply again ([`Packs::open`]).
//!
//! The index (hash → segment, offset, length, flags) lives in the store (`PACKED`); the
//! writer adds the entries of records to one of its commits once [`INDEX_BATCH`] of them
//! wait ([`Packs::stage`]): keyed by hash, one entry per commit would cost a page per
//! message. Until then they are kept in memory, and found there. `PACK_MARKS` records, per
//! segment, how far its records are indexed, `JOURNAL_MARKS` how far its journal records
//! are applied: at open the records past the marks are read back, bodies indexed and
//! journal records returned to be applied ([`Packs::open`]), and a torn record (a crash
//! mid-append) ends the segment there: it is truncated, and it was never acknowledged.
//!
//! Records nothing references any more are collected (`store::collect`): a closed segment
//! mostly dead has its live records copied to the active one ([`Packs::copy`]) and is
//! removed. Only segments closed at least a grace period ago are collected, and a record
//! a new put may share without writing its own is one of the active segment
//! ([`Packs::reusable`]): the put that made or shared a record was then made while its
//! segment was active, so the commit that references it came long before the segment is
//! looked at (a put's job is queued at once, and the writer runs the collection between
//! its jobs). A segment's file modification time is the time it was closed.

use std::collections::{HashMap, VecDeque};
use std::fs::{self, File};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant, SystemTime};

use redb::{Database, ReadableTable, WriteTransaction};
use sha2::{Digest, Sha256};

use super::super::StoreError;
use super::super::model::PackedBody;
use super::super::tables::{JOURNAL_MARKS, META, PACK_MARKS, PACKED};

/// Bodies shorter than this are packed; longer ones (attachments) keep a file each, where
/// a block of slack is small next to the body and reading a range needs no decompression.
pub const PACK_UNDER: usize = 32 * 1024;
/// A segment is closed and the next one started past this size.
const SEGMENT_MAX: u64 = 64 * 1024 * 1024;
const MAGIC: [u8; 4] = *b"ebp1";
/// A delivery journal record: flags 0, its payload stored as it is, the hash its SHA-256.
const JOURNAL_MAGIC: [u8; 4] = *b"ebj1";
/// Magic, flags, stored length (u32 LE), SHA-256 of the original bytes.
const HEADER: usize = 4 + 1 + 4 + 32;
/// The stored bytes are raw deflate of the original.
pub const FLAG_DEFLATE: u8 = 1;
/// META key present while a store converted from schema 9 (or restored from a backup,
/// which holds blobs as files) may still hold small blobs as files: [`Packs::pack_loose`].
pub const LOOSE_PENDING: &str = "loose_blobs_pending";
/// Files moved into segments per durable commit while converting.
pub const PACK_BATCH: usize = 256;
/// Bodies whose index entries wait in memory before they go into [`PACKED`] together. The
/// index is keyed by hash, so each entry lands on a page of its own: written one commit at
/// a time they cost a page per message (as much as the message); 4,096 at once rewrite the
/// index once. Until then they are found in memory, and after a crash by the scan of the
/// segments past their mark. About 250 KiB of memory at most.
pub const INDEX_BATCH: usize = 4096;

pub type Hash = [u8; 32];

/// Where a journal record starts: its segment and offset (records are appended in this
/// order, so it also orders them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct JournalPos {
    pub segment: u32,
    pub offset: u64,
}

/// The packed segments of a data directory and the index entries not yet committed.
pub struct Packs {
    dir: PathBuf,
    /// Weak: a blob store handle kept after the store is dropped must not keep the
    /// database open (the store is reopened right after, by a restart in-process). Behind
    /// the store's lock, which a compaction (`store::space`) holds exclusively.
    db: Weak<tokio::sync::RwLock<Database>>,
    compress: AtomicBool,
    state: Mutex<State>,
    /// Held by the one fdatasync in progress: the others wait for it, then find their
    /// records synced by it (group commit).
    syncing: Mutex<()>,
    /// Deliveries on their way to a journal record ([`Packs::arriving`]), and the signal
    /// that one got there.
    arriving: Mutex<usize>,
    arrived: Condvar,
    /// [`COMMIT_DELAY`] in microseconds (a test lengthens it, to be sure of its order).
    commit_delay: AtomicU64,
    /// [`SEGMENT_MAX`] (a test shortens it, to close segments without filling 64 MiB).
    segment_max: AtomicU64,
}

/// The longest an fdatasync waits for the deliveries on their way to append first: well
/// under a disk's fdatasync, so a lone delivery (nothing on its way) never waits, and a
/// group waits less than its members would have for a sync of their own.
pub const COMMIT_DELAY: Duration = Duration::from_millis(2);

/// A delivery on its way to its journal record: while one is held, an fdatasync waits
/// (at most [`COMMIT_DELAY`]) for it to append. Dropped once the record is appended, or
/// when the delivery fails before.
pub struct Arriving(Arc<Packs>);

impl Drop for Arriving {
    fn drop(&mut self) {
        let mut n = self.0.arriving.lock().unwrap_or_else(|p| p.into_inner());
        *n = n.saturating_sub(1);
        self.0.arrived.notify_all();
    }
}

#[derive(Default)]
struct State {
    /// The segment appended to.
    active: Option<Active>,
    /// Records whose index entry is not committed yet (synced or not: see `Active`), at
    /// most about [`INDEX_BATCH`].
    unindexed: HashMap<Hash, PackedBody>,
    /// Segments appended to since their mark was last staged, with their length.
    ends: HashMap<u32, u64>,
    /// The same for the journal marks.
    journal_ends: HashMap<u32, u64>,
    /// Journal records whose delivery is not committed yet, in the order appended (which
    /// is the order their jobs were queued in).
    unapplied: VecDeque<JournalPos>,
    /// How many of them were found at open (the oldest): deliveries of a run before,
    /// whose bodies nothing else names until they are applied again.
    replaying: usize,
}

struct Active {
    n: u32,
    /// Shared with an fdatasync running outside the state's lock.
    file: Arc<File>,
    len: u64,
    /// How much of it is known durable.
    synced: u64,
}

/// What [`Packs::stage`] put into a transaction, removed from memory once it committed.
pub struct Staged {
    entries: Vec<(Hash, PackedBody)>,
    ends: Vec<(u32, u64)>,
    journal_ends: Vec<(u32, u64)>,
    /// Journal records whose deliveries this transaction applies (the oldest ones).
    applied: usize,
}

/// The journal records found past the marks at open, in order: deliveries acknowledged
/// whose commit was lost, to apply again.
pub type Unapplied = Vec<(JournalPos, Vec<u8>)>;

impl Packs {
    /// Opens the segments under `dir`, indexing the records past each segment's mark and
    /// truncating a torn tail. Runs before the writer starts.
    pub fn open(
        dir: &Path,
        lock: &Arc<tokio::sync::RwLock<Database>>,
    ) -> Result<(Self, Unapplied), StoreError> {
        let db = lock.try_read().map_err(|_| StoreError::WriterGone)?;
        if !dir.exists() {
            fs::create_dir_all(dir)?;
            // Its entry must survive a crash with the segments made in it.
            if let Some(parent) = dir.parent() {
                File::open(parent)?.sync_all()?;
            }
        }
        let segments = segment_numbers(dir)?;
        let tx = db.begin_write()?;
        let mut recovered = 0usize;
        let mut active = None;
        let mut journal: Unapplied = Vec::new();
        // Segments whose journal mark waits for their deliveries to be applied again.
        let mut held_ends = HashMap::new();
        {
            let mut marks = tx.open_table(PACK_MARKS)?;
            let mut journal_marks = tx.open_table(JOURNAL_MARKS)?;
            let mut index = tx.open_table(PACKED)?;
            for &n in &segments {
                let path = segment_path(dir, n);
                let file = File::options().read(true).write(true).open(&path)?;
                let bodies_from = marks.get(n)?.map_or(0, |m| m.value());
                // None before schema 14, when one mark said both (held at the first
                // unapplied journal record).
                let journal_from = journal_marks.get(n)?.map_or(bodies_from, |m| m.value());
                let (found, end) = scan(&file, n, bodies_from.min(journal_from))?;
                let len = file.metadata()?.len();
                if end < len {
                    tracing::warn!(
                        segment = %path.display(),
                        at = end,
                        dropped = len - end,
                        "store: torn record at the end of a packed segment (a crash while \
                         appending, never acknowledged); truncated"
                    );
                    file.set_len(end)?;
                }
                file.sync_data()?;
                // Held before the first journal record: its delivery is not committed.
                let held = journal.first().map(|(p, _)| *p);
                for record in found {
                    match record {
                        Found::Body(hash, body) if body.offset >= bodies_from => {
                            index.insert(hash.as_slice(), body.to_row())?;
                            recovered += 1;
                        }
                        Found::Journal(pos, payload) if pos.offset >= journal_from => {
                            journal.push((pos, payload));
                        }
                        _ => {}
                    }
                }
                marks.insert(n, end)?;
                let mark = match (held, journal.first()) {
                    (Some(_), _) => None,
                    (None, Some((p, _))) => Some(p.offset),
                    (None, None) => Some(end),
                };
                if let Some(mark) = mark {
                    journal_marks.insert(n, mark)?;
                }
                if mark != Some(end) {
                    held_ends.insert(n, end);
                }
                active = Some(Active {
                    n,
                    file: Arc::new(file),
                    len: end,
                    synced: end,
                });
            }
        }
        tx.commit()?;
        if recovered > 0 {
            tracing::info!(recovered, "store: packed bodies indexed from segment tails");
        }
        if !journal.is_empty() {
            tracing::warn!(
                deliveries = journal.len(),
                "store: deliveries acknowledged before a crash are applied again from the journal"
            );
        }
        let packs = Self {
            dir: dir.to_owned(),
            db: Arc::downgrade(lock),
            compress: AtomicBool::new(true),
            state: Mutex::new(State {
                active,
                unapplied: journal.iter().map(|(p, _)| *p).collect(),
                replaying: journal.len(),
                journal_ends: held_ends,
                ..State::default()
            }),
            syncing: Mutex::new(()),
            arriving: Mutex::new(0),
            arrived: Condvar::new(),
            commit_delay: AtomicU64::new(COMMIT_DELAY.as_micros() as u64),
            segment_max: AtomicU64::new(SEGMENT_MAX),
        };
        Ok((packs, journal))
    }

    /// Whether new bodies are deflated where that saves at least a tenth (the default).
    pub fn set_compression(&self, on: bool) {
        self.compress.store(on, Ordering::Relaxed);
    }

    /// Runs `f` on the database. A compaction holds it exclusively, on the writer thread
    /// (which never reads a blob meanwhile): a blob read waits for it to end. The wait
    /// polls rather than blocks on the lock, since a blob may be read on the event
    /// loop's thread, where tokio forbids a blocking lock.
    fn with_db<T>(
        &self,
        f: impl FnOnce(&Database) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let lock = self.db.upgrade().ok_or(StoreError::WriterGone)?;
        loop {
            if let Ok(db) = lock.try_read() {
                return f(&db);
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding it leaves at worst an unregistered record: garbage.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Where a packed body is, committed or not.
    pub fn find(&self, hash: &Hash) -> Result<Option<PackedBody>, StoreError> {
        if let Some(b) = self.lock().unindexed.get(hash) {
            return Ok(Some(*b));
        }
        self.indexed(hash)
    }

    fn indexed(&self, hash: &Hash) -> Result<Option<PackedBody>, StoreError> {
        let tx = self.with_db(|db| Ok(db.begin_read()?))?;
        let table = tx.open_table(PACKED)?;
        Ok(table
            .get(hash.as_slice())?
            .map(|v| PackedBody::from_row(v.value())))
    }

    /// Appends `bytes` durably unless already packed (its fdatasync shared with the
    /// appends made meanwhile).
    pub fn put(&self, hash: Hash, bytes: &[u8]) -> Result<(), StoreError> {
        self.put_deferred(hash, bytes)?;
        self.sync()
    }

    /// Appends `bytes` unless already packed, without waiting for the disk: durable with
    /// the next [`Packs::sync`] (a delivery's journal record) or, at the latest, before
    /// the writer's next commit ([`Packs::stage`]), so before anything durable refers to it.
    /// Registered at once: a read finds it in the page cache meanwhile.
    pub fn put_deferred(&self, hash: Hash, bytes: &[u8]) -> Result<(), StoreError> {
        let record = self.record(&hash, bytes);
        let mut state = self.lock();
        if self.reusable(&state, &hash)? {
            return Ok(());
        }
        let (segment, offset) = self.append(&mut state, &record)?;
        state
            .unindexed
            .insert(hash, located(segment, offset, &record));
        Ok(())
    }

    /// Whether a put of `hash` may share the record there is instead of appending its own:
    /// only if that record is in the active segment. One in a closed segment may be
    /// collected once the segment is old enough, before the put's job commits (see the
    /// module's comment); the put appends a fresh copy, which the index then names.
    fn reusable(&self, state: &State, hash: &Hash) -> Result<bool, StoreError> {
        let Some(active) = state.active.as_ref().map(|a| a.n) else {
            return Ok(false);
        };
        let at = match state.unindexed.get(hash) {
            Some(b) => Some(*b),
            None => self.indexed(hash)?,
        };
        Ok(at.is_some_and(|b| b.segment == active))
    }

    /// Appends a delivery's journal record (durable with the next [`Packs::sync`]) and,
    /// under the same lock, runs `queue` with its position: the record's job is queued in
    /// the order the records are, which is the order they are marked applied in.
    pub fn append_journal<T>(
        &self,
        payload: &[u8],
        queue: impl FnOnce(JournalPos) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut r = Vec::with_capacity(HEADER + payload.len());
        r.extend_from_slice(&JOURNAL_MAGIC);
        r.push(0);
        r.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        r.extend_from_slice(&Sha256::digest(payload));
        r.extend_from_slice(payload);
        let mut state = self.lock();
        let (segment, offset) = self.append(&mut state, &r)?;
        let pos = JournalPos { segment, offset };
        state.unapplied.push_back(pos);
        queue(pos)
    }

    #[cfg(test)]
    pub(crate) fn set_segment_max(&self, max: u64) {
        self.segment_max.store(max, Ordering::Relaxed);
    }

    #[cfg(test)]
    pub(crate) fn set_commit_delay(&self, delay: Duration) {
        self.commit_delay
            .store(delay.as_micros() as u64, Ordering::Relaxed);
    }

    /// Counts a delivery on its way to its journal record until the token is dropped.
    pub fn arriving(self: &Arc<Self>) -> Arriving {
        *self.arriving.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        Arriving(self.clone())
    }

    /// Waits until no delivery is on its way to its journal record, or [`COMMIT_DELAY`].
    fn wait_for_arrivals(&self) {
        let delay = Duration::from_micros(self.commit_delay.load(Ordering::Relaxed));
        let deadline = Instant::now() + delay;
        let mut n = self.arriving.lock().unwrap_or_else(|p| p.into_inner());
        while *n > 0 {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return;
            };
            n = self
                .arrived
                .wait_timeout(n, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Makes everything appended so far durable: one fdatasync, or none if another one
    /// that started after the last append is done or running (it is waited for).
    pub fn sync(&self) -> Result<(), StoreError> {
        let Some((n, file, target)) = self.unsynced() else {
            return Ok(());
        };
        let _one = self.syncing.lock().unwrap_or_else(|p| p.into_inner());
        // The deliveries on their way append first, and share this fdatasync.
        self.wait_for_arrivals();
        // Someone may have synced past `target` while this waited.
        let Some((m, _, now)) = self.unsynced() else {
            return Ok(());
        };
        if m != n {
            // The segment was closed, and closing syncs it (`append`).
            return Ok(());
        }
        file.sync_data()?;
        let mut state = self.lock();
        if let Some(a) = state.active.as_mut().filter(|a| a.n == n) {
            a.synced = a.synced.max(now.max(target));
        }
        Ok(())
    }

    /// The active segment, if some of it is not synced yet: its number, file and length.
    fn unsynced(&self) -> Option<(u32, Arc<File>, u64)> {
        let state = self.lock();
        let a = state.active.as_ref()?;
        (a.synced < a.len).then(|| (a.n, a.file.clone(), a.len))
    }

    /// Appends `bytes` without an fsync (a batch, made durable by [`Packs::register`]).
    pub fn append_unsynced(
        &self,
        hash: Hash,
        bytes: &[u8],
    ) -> Result<Option<(Hash, PackedBody)>, StoreError> {
        let record = self.record(&hash, bytes);
        let mut state = self.lock();
        if self.reusable(&state, &hash)? {
            return Ok(None);
        }
        let (segment, offset) = self.append(&mut state, &record)?;
        Ok(Some((hash, located(segment, offset, &record))))
    }

    /// Makes the records of a batch durable (every segment they are in) and registers them.
    pub fn register(&self, records: Vec<(Hash, PackedBody)>) -> Result<(), StoreError> {
        let mut segments: Vec<u32> = records.iter().map(|(_, b)| b.segment).collect();
        segments.sort_unstable();
        segments.dedup();
        for n in segments {
            File::open(segment_path(&self.dir, n))?.sync_data()?;
        }
        self.lock().unindexed.extend(records);
        Ok(())
    }

    /// The record of `bytes`: header and the stored (maybe deflated) bytes.
    fn record(&self, hash: &Hash, bytes: &[u8]) -> Vec<u8> {
        let deflated = self
            .compress
            .load(Ordering::Relaxed)
            .then(|| deflated(bytes))
            .flatten();
        let (flags, stored) = match &deflated {
            Some(d) => (FLAG_DEFLATE, d.as_slice()),
            None => (0, bytes),
        };
        let mut r = Vec::with_capacity(HEADER + stored.len());
        r.extend_from_slice(&MAGIC);
        r.push(flags);
        r.extend_from_slice(&(stored.len() as u32).to_le_bytes());
        r.extend_from_slice(hash);
        r.extend_from_slice(stored);
        r
    }

    /// Writes `record` at the end of the active segment (starting a new one when it is
    /// full); returns the segment and the record's offset.
    fn append(&self, state: &mut State, record: &[u8]) -> Result<(u32, u64), StoreError> {
        let max = self.segment_max.load(Ordering::Relaxed);
        let full = state
            .active
            .as_ref()
            .is_none_or(|a| a.len > 0 && a.len + record.len() as u64 > max);
        if full {
            if let Some(old) = &state.active {
                // Its modification time says when it was closed: it is collected no
                // sooner than a grace period after (see the module's comment).
                old.file.set_modified(SystemTime::now())?;
                if old.synced < old.len {
                    // Only the active segment can hold unsynced records (see `sync`).
                    old.file.sync_data()?;
                }
            }
            let next = state.active.as_ref().map_or(1, |a| a.n + 1);
            let file = File::options()
                .read(true)
                .write(true)
                .create_new(true)
                .open(segment_path(&self.dir, next))?;
            // The new file's directory entry must survive a crash with its records.
            File::open(&self.dir)?.sync_all()?;
            state.active = Some(Active {
                n: next,
                file: Arc::new(file),
                len: 0,
                synced: 0,
            });
        }
        let a = state.active.as_mut().expect("an active segment");
        let offset = a.len;
        if let Err(e) = a.file.write_all_at(record, offset) {
            // A partial record stays past the length: the next append overwrites it.
            return Err(e.into());
        }
        a.len += record.len() as u64;
        let (n, len) = (a.n, a.len);
        state.ends.insert(n, len);
        state.journal_ends.insert(n, len);
        Ok((n, offset))
    }

    /// Reads a packed body back (checked against its hash), if there is one. A segment
    /// removed by a collection between finding the record and opening its file had it
    /// copied first (and the index says where) before: it is looked up once more.
    pub fn read_current(&self, hash: &Hash) -> Result<Option<Vec<u8>>, StoreError> {
        for last in [false, true] {
            let Some(at) = self.find(hash)? else {
                return Ok(None);
            };
            match self.read(hash, at) {
                Err(StoreError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound && !last => {
                    continue;
                }
                read => return read.map(Some),
            }
        }
        unreachable!("the second look returns")
    }

    /// Reads a packed body back (checked against its hash).
    pub fn read(&self, hash: &Hash, at: PackedBody) -> Result<Vec<u8>, StoreError> {
        self.checked(hash, at).map(|(_, bytes)| bytes)
    }

    /// The whole record of `hash` at `at` and the original bytes it holds, checked: its
    /// header names it and its content matches its hash.
    fn checked(&self, hash: &Hash, at: PackedBody) -> Result<(Vec<u8>, Vec<u8>), StoreError> {
        let file = File::open(segment_path(&self.dir, at.segment))?;
        let mut record = vec![0; HEADER + at.stored_len as usize];
        file.read_exact_at(&mut record, at.offset)?;
        match parse(&record) {
            Some((Kind::Body, h, flags, stored))
                if h == *hash && stored.len() == record.len() - HEADER =>
            {
                let bytes = original(flags, stored).ok_or_else(|| corrupt(at, "bad deflate"))?;
                if Sha256::digest(&bytes).as_slice() != hash {
                    return Err(corrupt(at, "content does not match its hash"));
                }
                Ok((record, bytes))
            }
            _ => Err(corrupt(at, "no record of this blob")),
        }
    }

    /// Whether deliveries found in the journal at open are still to be applied: their
    /// bodies are named by nothing else meanwhile, and may be in old segments.
    pub fn replaying(&self) -> bool {
        self.lock().replaying > 0
    }

    /// The closed segments a collection may look at: closed at least `grace` ago (by
    /// their modification time), with every record indexed and every journal record
    /// applied, none of which waits in memory. In segment order, with their lengths.
    pub fn closed(&self, grace: Duration) -> Result<Vec<(u32, u64)>, StoreError> {
        let cutoff = SystemTime::now() - grace;
        let mut out = Vec::new();
        // Segments with records or marks that wait in memory.
        let (active, waiting) = {
            let state = self.lock();
            let Some(active) = state.active.as_ref().map(|a| a.n) else {
                return Ok(out);
            };
            let waiting: std::collections::HashSet<u32> = (state.unindexed.values())
                .map(|b| b.segment)
                .chain(state.ends.keys().copied())
                .chain(state.journal_ends.keys().copied())
                .collect();
            (active, waiting)
        };
        let tx = self.with_db(|db| Ok(db.begin_read()?))?;
        let (marks, journal_marks) = (tx.open_table(PACK_MARKS)?, tx.open_table(JOURNAL_MARKS)?);
        for n in segment_numbers(&self.dir)? {
            if n >= active || waiting.contains(&n) {
                continue;
            }
            let meta = match fs::metadata(segment_path(&self.dir, n)) {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e.into()),
            };
            let len = meta.len();
            let done = |m: Option<redb::AccessGuard<u64>>| m.is_some_and(|m| m.value() >= len);
            if meta.modified()? <= cutoff && done(marks.get(n)?) && done(journal_marks.get(n)?) {
                out.push((n, len));
            }
        }
        Ok(out)
    }

    /// Copies the records at `from` (each checked) to the end of the active segment,
    /// durably; answers where each copy is. A record whose hash a put has just appended
    /// again (the index entry waiting in memory names another record) needs no copy and
    /// is left out.
    pub fn copy(&self, from: &[(Hash, PackedBody)]) -> Result<Vec<(Hash, PackedBody)>, StoreError> {
        let mut copies = Vec::with_capacity(from.len());
        for (hash, at) in from {
            let (record, _) = self.checked(hash, *at)?;
            let mut state = self.lock();
            if state.unindexed.get(hash).is_some_and(|b| b != at) {
                continue;
            }
            let (segment, offset) = self.append(&mut state, &record)?;
            copies.push((*hash, located(segment, offset, &record)));
        }
        self.sync()?;
        Ok(copies)
    }

    /// Removes a segment nothing in the index names any more (durably: its directory is
    /// synced); answers its length. Its marks stay until the caller removes them after:
    /// without them the next open would read the segment's journal records as unapplied.
    pub fn remove(&self, n: u32) -> Result<u64, StoreError> {
        if self.lock().active.as_ref().is_some_and(|a| a.n <= n) {
            return Err(StoreError::Conflict(format!(
                "packed segment {n} is the active one"
            )));
        }
        let path = segment_path(&self.dir, n);
        let len = fs::metadata(&path)?.len();
        fs::remove_file(&path)?;
        File::open(&self.dir)?.sync_all()?;
        Ok(len)
    }

    /// The segments whose marks remain without their file (removed, then a crash before
    /// the marks were).
    pub fn marks_without_segment(&self, tx: &WriteTransaction) -> Result<Vec<u32>, StoreError> {
        let files: std::collections::HashSet<u32> =
            segment_numbers(&self.dir)?.into_iter().collect();
        let mut gone = Vec::new();
        for table in [tx.open_table(PACK_MARKS)?, tx.open_table(JOURNAL_MARKS)?] {
            for row in table.iter()? {
                let n = row?.0.value();
                if !files.contains(&n) {
                    gone.push(n);
                }
            }
        }
        gone.sort_unstable();
        gone.dedup();
        Ok(gone)
    }

    /// Makes what was appended durable, then puts into `tx` (the writer's next commit) the
    /// index entries registered so far, once [`INDEX_BATCH`] wait or if `index_all`, with
    /// the segments' marks; and the journal marks, the commit applying the `applied` oldest
    /// journal records' deliveries: a journal mark stops at the first journal record still
    /// unapplied after it, and the segments after that one keep theirs.
    /// [`Packs::committed`] drops from memory what was staged once it committed.
    pub fn stage(
        &self,
        tx: &WriteTransaction,
        applied: usize,
        index_all: bool,
    ) -> Result<Staged, StoreError> {
        self.sync()?;
        let state = self.lock();
        let mut staged = Staged {
            entries: Vec::new(),
            ends: Vec::new(),
            journal_ends: Vec::new(),
            applied,
        };
        let index_now = index_all || state.unindexed.len() >= INDEX_BATCH;
        if index_now && !(state.unindexed.is_empty() && state.ends.is_empty()) {
            let mut index = tx.open_table(PACKED)?;
            for (hash, body) in &state.unindexed {
                index.insert(hash.as_slice(), body.to_row())?;
            }
            let mut marks = tx.open_table(PACK_MARKS)?;
            for (&n, &end) in &state.ends {
                marks.insert(n, end)?;
            }
            staged.entries = state.unindexed.iter().map(|(h, b)| (*h, *b)).collect();
            staged.ends = state.ends.iter().map(|(n, e)| (*n, *e)).collect();
        }
        if !state.journal_ends.is_empty() {
            let held = state.unapplied.get(applied).copied();
            let mut marks = tx.open_table(JOURNAL_MARKS)?;
            for (&n, &end) in &state.journal_ends {
                let mark = match held {
                    Some(h) if n > h.segment => continue,
                    Some(h) if n == h.segment => end.min(h.offset),
                    _ => end,
                };
                marks.insert(n, mark)?;
                staged.journal_ends.push((n, mark));
            }
        }
        Ok(staged)
    }

    /// The staged entries are committed: readers find them in the table now.
    pub fn committed(&self, staged: Staged) {
        if staged.entries.is_empty()
            && staged.ends.is_empty()
            && staged.journal_ends.is_empty()
            && staged.applied == 0
        {
            return;
        }
        let mut state = self.lock();
        let applied = staged.applied.min(state.unapplied.len());
        state.unapplied.drain(..applied);
        state.replaying = state.replaying.saturating_sub(applied);
        for (hash, body) in staged.entries {
            if state.unindexed.get(&hash) == Some(&body) {
                state.unindexed.remove(&hash);
            }
        }
        for (n, end) in staged.ends {
            if state.ends.get(&n) == Some(&end) {
                state.ends.remove(&n);
            }
        }
        for (n, end) in staged.journal_ends {
            if state.journal_ends.get(&n) == Some(&end) {
                state.journal_ends.remove(&n);
            }
        }
    }

    /// Moves the small blob files under `loose_root` (`blobs/xx/yyyy…`) into segments,
    /// [`PACK_BATCH`] per durable commit, each batch's files removed only after its commit:
    /// a kill at any point loses nothing, and the next open resumes (a file already packed
    /// is just removed). Stops after `max_batches` batches if given (tests); returns
    /// whether it finished. Runs before the writer starts.
    pub fn pack_loose(
        &self,
        loose_root: &Path,
        max_batches: Option<usize>,
    ) -> Result<bool, StoreError> {
        if !self.with_db(loose_pending)? {
            return Ok(true);
        }
        let mut files = Vec::new();
        super::blob_files(loose_root, |hash, path, meta| {
            if meta.len() < PACK_UNDER as u64 {
                files.push((hash, path));
            }
        })?;
        let total = files.len();
        for (done, batch) in files.chunks(PACK_BATCH).enumerate() {
            if max_batches.is_some_and(|m| done >= m) {
                return Ok(false);
            }
            self.pack_batch(batch)?;
            if done % 40 == 39 {
                tracing::info!(
                    packed = (done + 1) * PACK_BATCH,
                    total,
                    "store: packing blob files"
                );
            }
        }
        let tx = self.with_db(|db| Ok(db.begin_write()?))?;
        tx.open_table(META)?.remove(LOOSE_PENDING)?;
        tx.commit()?;
        if total > 0 {
            tracing::info!(
                files = total,
                "store: small blob files packed into segments"
            );
        }
        Ok(true)
    }

    fn pack_batch(&self, batch: &[(Hash, PathBuf)]) -> Result<(), StoreError> {
        let mut records = Vec::with_capacity(batch.len());
        for (hash, path) in batch {
            let bytes = fs::read(path)?;
            if Sha256::digest(&bytes).as_slice() != hash {
                tracing::warn!(
                    file = %path.display(),
                    "store: blob file does not match its name; left as it is"
                );
                continue;
            }
            records.extend(self.append_unsynced(*hash, &bytes)?);
        }
        self.register(records)?;
        let tx = self.with_db(|db| Ok(db.begin_write()?))?;
        let staged = self.stage(&tx, 0, true)?;
        tx.commit()?;
        self.committed(staged);
        let mut dirs: Vec<&Path> = Vec::new();
        for (hash, path) in batch {
            // Packed now (this batch or before): the file is a second copy.
            if self.indexed(hash)?.is_some() {
                fs::remove_file(path)?;
                dirs.extend(path.parent());
            }
        }
        dirs.dedup();
        for d in dirs {
            File::open(d)?.sync_all()?;
        }
        Ok(())
    }
}

/// Whether a converted or restored store may still hold small blobs as files.
fn loose_pending(db: &Database) -> Result<bool, StoreError> {
    let tx = db.begin_read()?;
    Ok(tx.open_table(META)?.get(LOOSE_PENDING)?.is_some())
}

/// Marks a store as holding small blobs as files (the schema 10 conversion, a restore).
pub fn mark_loose_pending(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(META)?
        .insert(LOOSE_PENDING, [1u8].as_slice())?;
    Ok(())
}

/// The length of the record of `body` in its segment.
pub fn record_len(body: &PackedBody) -> u64 {
    (HEADER + body.stored_len as usize) as u64
}

fn corrupt(at: PackedBody, detail: &str) -> StoreError {
    StoreError::Corrupt {
        what: "packed blob",
        detail: format!("segment {} offset {}: {detail}", at.segment, at.offset),
    }
}

fn located(segment: u32, offset: u64, record: &[u8]) -> PackedBody {
    PackedBody {
        segment,
        offset,
        stored_len: (record.len() - HEADER) as u32,
        deflated: record[4] & FLAG_DEFLATE != 0,
    }
}

/// What a record holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Body,
    Journal,
}

fn kind_of(magic: &[u8]) -> Option<Kind> {
    match magic {
        m if m == MAGIC => Some(Kind::Body),
        m if m == JOURNAL_MAGIC => Some(Kind::Journal),
        _ => None,
    }
}

/// A record's kind, hash, flags and stored bytes; `None` if `bytes` does not start with a
/// whole record header.
fn parse(bytes: &[u8]) -> Option<(Kind, Hash, u8, &[u8])> {
    let header = bytes.get(..HEADER)?;
    let kind = kind_of(&header[..4])?;
    let len = u32::from_le_bytes(header[5..9].try_into().ok()?) as usize;
    let hash: Hash = header[9..HEADER].try_into().ok()?;
    let stored = bytes.get(HEADER..HEADER + len)?;
    Some((kind, hash, header[4], stored))
}

/// An intact record found by [`scan`].
enum Found {
    Body(Hash, PackedBody),
    Journal(JournalPos, Vec<u8>),
}

/// `bytes` deflated (raw deflate, the fastest level: on natural text it saves nearly as
/// much as the slower ones), if that saves at least a tenth.
pub fn deflated(bytes: &[u8]) -> Option<Vec<u8>> {
    Some(miniz_oxide::deflate::compress_to_vec(bytes, 1))
        .filter(|d| d.len() * 10 <= bytes.len() * 9)
}

/// The original bytes of a record's stored bytes.
pub fn original(flags: u8, stored: &[u8]) -> Option<Vec<u8>> {
    if flags & FLAG_DEFLATE == 0 {
        return Some(stored.to_vec());
    }
    miniz_oxide::inflate::decompress_to_vec_with_limit(stored, PACK_UNDER).ok()
}

/// The whole, intact records of `file` from `from` on, and where they end (the first torn
/// or garbled record, or the end of the file).
fn scan(file: &File, segment: u32, from: u64) -> Result<(Vec<Found>, u64), StoreError> {
    let len = file.metadata()?.len();
    let mut found = Vec::new();
    let mut at = from.min(len);
    let mut header = [0u8; HEADER];
    while at + HEADER as u64 <= len {
        file.read_exact_at(&mut header, at)?;
        let stored_len = u32::from_le_bytes(header[5..9].try_into().expect("4 bytes")) as u64;
        if kind_of(&header[..4]).is_none() || at + HEADER as u64 + stored_len > len {
            break;
        }
        let mut record = vec![0; HEADER + stored_len as usize];
        file.read_exact_at(&mut record, at)?;
        let Some((kind, hash, flags, stored)) = parse(&record) else {
            break;
        };
        match kind {
            Kind::Body => match original(flags, stored) {
                Some(bytes) if Sha256::digest(&bytes).as_slice() == hash => {
                    found.push(Found::Body(
                        hash,
                        PackedBody {
                            segment,
                            offset: at,
                            stored_len: stored_len as u32,
                            deflated: flags & FLAG_DEFLATE != 0,
                        },
                    ));
                }
                _ => break,
            },
            Kind::Journal if Sha256::digest(stored).as_slice() == hash => {
                let pos = JournalPos {
                    segment,
                    offset: at,
                };
                found.push(Found::Journal(pos, stored.to_vec()));
            }
            Kind::Journal => break,
        }
        at += record.len() as u64;
    }
    Ok((found, at))
}

fn segment_path(dir: &Path, n: u32) -> PathBuf {
    dir.join(format!("{n:08}.pack"))
}

/// The numbers of the segment files in `dir`, in order.
fn segment_numbers(dir: &Path) -> std::io::Result<Vec<u32>> {
    let mut segments = Vec::new();
    for e in fs::read_dir(dir)? {
        segments.extend(segment_number(&e?.file_name().to_string_lossy()));
    }
    segments.sort_unstable();
    Ok(segments)
}

fn segment_number(name: &str) -> Option<u32> {
    let n = name.strip_suffix(".pack")?;
    (n.len() == 8).then(|| n.parse().ok()).flatten()
}

#[cfg(test)]
mod tests;
