//! The single writer: a thread that runs write jobs, grouping whatever is queued into one
//! transaction so that a burst of deliveries or client changes costs one fsync.

use std::any::Any;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use std::path::PathBuf;

use redb::{Database, WriteTransaction};
use tokio::sync::{broadcast, oneshot};

use super::blob::BlobStore;
use super::blob::pack::Packs;
use super::error::StoreError;
use super::journal::Progress;
use super::model::{AccountId, FolderId};
use super::space::{self, DbLock, SpaceOp};

/// Upper bound on jobs in one transaction, so one commit's latency stays bounded.
const MAX_GROUP: usize = 64;
/// Journaled deliveries (`store::journal`) are already durable and nobody waits for their
/// commit: while they keep coming (each within [`JOURNAL_GAP`] of the one before), the
/// writer gathers them for up to this long, so that a burst of mail costs one commit per
/// [`MAX_JOURNALED`] messages. Any other job, or a reader that wants them visible
/// ([`Handle::caught_up`]), ends the wait. A commit writes the pages of every table it
/// touches (tail leaves, their branches, redb's own tables) whatever the group's size: at
/// 50 ms and 256 the writer wrote ~1.9x the mail's bytes, at 100 ms and 512 ~0.9x (issue
/// 17's write amplification).
pub(super) const JOURNAL_WINDOW: Duration = Duration::from_millis(100);
/// A delivery alone (none follows within this long) is committed right away: its commit
/// is what wakes the devices waiting in Ping for it (push p99 < 20 ms, `benches/push.rs`),
/// which must not wait for a burst that is not coming.
pub(super) const JOURNAL_GAP: Duration = Duration::from_millis(5);
/// Upper bound on a group of journaled deliveries.
pub(super) const MAX_JOURNALED: usize = 512;
/// Journaled deliveries waiting for the writer past which a new one waits (before it is
/// journaled, so before its 250): the memory they hold stays bounded (a few MiB) when mail
/// comes in faster than the writer applies it.
pub(super) const MAX_BACKLOG: u64 = 1024;

/// After a relaxed commit (see [`Durability`]), the writer makes everything durable once it
/// has been idle this long, or after this many relaxed commits in a row, whichever is first:
/// a relaxed commit is never left unsynced for long, and redb (which frees pages only at
/// durable commits) cannot grow the file without bound.
const FLUSH_IDLE: std::time::Duration = std::time::Duration::from_millis(200);
/// Relaxed commits keep their pages in redb's memory until the durable one, so the count
/// also bounds that memory (16 rounds of an initial sync cost one fsync instead of 16).
const MAX_RELAXED: usize = 16;

/// How durable a job's commit must be before its answer is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsynced before the answer: anything acknowledged to a client (the default).
    Immediate,
    /// Committed and visible to readers, made durable by a later commit (at most
    /// [`FLUSH_IDLE`] later, or by the next immediate one). Only for changes whose loss in
    /// a power cut is harmless by construction: the caller must explain why.
    Relaxed,
}

/// Something changed, published after the commit that changed it (durable unless all of
/// its jobs were [`Durability::Relaxed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The folder list of an account changed.
    Hierarchy { account: AccountId },
    /// The contents of a folder changed.
    Folder {
        account: AccountId,
        folder: FolderId,
    },
    /// An admin changed one of the account's device rows (allowed it out of quarantine,
    /// changed its settings): its waiting requests look again under the new row.
    Device { account: AccountId },
}

/// What a job sees: the transaction, and a place to record events.
pub struct WriteCtx<'a> {
    pub(super) tx: &'a WriteTransaction,
    events: Vec<Event>,
    /// Search postings of this transaction, appended just before it commits.
    pub(super) index: super::search_index::postings::Pending,
}

impl WriteCtx<'_> {
    pub fn publish(&mut self, event: Event) {
        if !self.events.contains(&event) {
            self.events.push(event);
        }
    }
}

/// Where the writer's time went since the store was opened, summed over its commits: what
/// a delivery costs inside the store, by phase (the search bench prints it).
#[derive(Debug, Default, Clone, Copy)]
pub struct WriterStats {
    /// Write transactions of jobs committed (one per group).
    pub commits: u64,
    /// Jobs committed.
    pub jobs: u64,
    /// Running the jobs (item records, folder log, index locations…).
    pub jobs_time: Duration,
    /// Adding the transactions' postings to the search index before each commit.
    pub index_time: Duration,
    /// redb's commit, its fsync included.
    pub commit_time: Duration,
}

type Output = Box<dyn Any + Send>;
type Job = Box<dyn FnMut(&mut WriteCtx) -> Result<Output, StoreError> + Send>;

struct Pending {
    job: Job,
    durability: Durability,
    /// A journaled delivery's job (`store::journal`): applied in the order queued, and
    /// not at all once one of them failed.
    journaled: bool,
    reply: oneshot::Sender<Result<Output, StoreError>>,
}

/// What the writer's queue carries: jobs, work on the file's space (run between two
/// commits), and a reader's request to commit the journaled deliveries without waiting.
enum Msg {
    Job(Pending),
    Space(SpaceOp),
    Nudge,
}

pub(super) struct Handle {
    tx: Option<mpsc::Sender<Msg>>,
    thread: Option<std::thread::JoinHandle<()>>,
    events: broadcast::Sender<Event>,
    stats: Arc<Mutex<WriterStats>>,
    progress: Arc<Progress>,
}

impl Drop for Handle {
    /// Closing the queue lets the writer finish what is queued and release the database,
    /// so the store can be opened again (by a test, or a restart in-process) right away.
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A submitted job's answer, awaited or blocked on.
pub(super) struct Ticket<T> {
    rx: oneshot::Receiver<Result<Output, StoreError>>,
    _t: std::marker::PhantomData<fn() -> T>,
}

impl<T: 'static> Ticket<T> {
    fn unpack(
        r: Result<Result<Output, StoreError>, oneshot::error::RecvError>,
    ) -> Result<T, StoreError> {
        let out = r.map_err(|_| StoreError::WriterGone)??;
        // The job closure produced a T; anything else is a bug in `submit`.
        Ok(*out
            .downcast::<T>()
            .expect("job output has the submitted type"))
    }

    pub fn wait(self) -> Result<T, StoreError> {
        Self::unpack(self.rx.blocking_recv())
    }
}

impl<T: 'static> std::future::IntoFuture for Ticket<T> {
    type Output = Result<T, StoreError>;
    type IntoFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move { Self::unpack(self.rx.await) })
    }
}

/// A journaled delivery's job, answered once the writer applied it: what the job
/// returned, or why it could not be applied (it is then applied again at the next start).
pub struct Applied<T>(pub(super) Ticket<T>);

impl<T: 'static> std::future::IntoFuture for Applied<T> {
    type Output = Result<T, StoreError>;
    type IntoFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        self.0.into_future()
    }
}

impl Handle {
    /// Starts the writer on `db`, whose file is `path`; each commit also indexes the packed
    /// blobs made durable before it (`blob::pack`), so the commit that references a body
    /// carries its index entry.
    pub(super) fn spawn(db: DbLock, path: PathBuf, blobs: BlobStore) -> Result<Self, StoreError> {
        let packs = blobs.packs().expect("the store packs small blobs").clone();
        let (tx, rx) = mpsc::channel::<Msg>();
        let (events, _) = broadcast::channel(1024);
        let publisher = events.clone();
        let stats = Arc::new(Mutex::new(WriterStats::default()));
        let counted = stats.clone();
        let progress = Arc::new(Progress::new());
        let answered = progress.clone();
        let thread = std::thread::Builder::new()
            .name(THREAD_NAME.into())
            .spawn(move || {
                let w = Writer {
                    db: &db,
                    path: &path,
                    packs: &packs,
                    blobs: &blobs,
                    events: &publisher,
                    stats: &counted,
                    progress: &answered,
                };
                w.run(&rx);
            })?;
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
            events,
            stats,
            progress,
        })
    }

    pub(super) fn submit<T, F>(
        &self,
        durability: Durability,
        job: F,
    ) -> Result<Ticket<T>, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&mut WriteCtx) -> Result<T, StoreError> + Send + 'static,
    {
        self.queue(durability, false, job)
    }

    /// Queues a journaled delivery's job: called under the packs' lock, right after its
    /// record was appended ([`Packs::append_journal`]), so the jobs are in the records'
    /// order.
    pub(super) fn submit_journaled<T, F>(&self, job: F) -> Result<Ticket<T>, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&mut WriteCtx) -> Result<T, StoreError> + Send + 'static,
    {
        let ticket = self.queue(Durability::Immediate, true, job)?;
        self.progress.queued();
        Ok(ticket)
    }

    fn queue<T, F>(
        &self,
        durability: Durability,
        journaled: bool,
        mut job: F,
    ) -> Result<Ticket<T>, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&mut WriteCtx) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let job: Job = Box::new(move |ctx| job(ctx).map(|v| Box::new(v) as Output));
        self.send(Msg::Job(Pending {
            job,
            durability,
            journaled,
            reply,
        }))?;
        Ok(Ticket {
            rx,
            _t: std::marker::PhantomData,
        })
    }

    /// Queues work on the file's space; it runs after the jobs queued before it.
    pub(super) fn space(&self, op: SpaceOp) -> Result<(), StoreError> {
        self.send(Msg::Space(op))
    }

    fn send(&self, msg: Msg) -> Result<(), StoreError> {
        self.tx
            .as_ref()
            .ok_or(StoreError::WriterGone)?
            .send(msg)
            .map_err(|_| StoreError::WriterGone)
    }

    pub(super) fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    pub(super) fn stats(&self) -> WriterStats {
        *self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until every journaled delivery queued before this call is applied (or
    /// refused), asking the writer to commit them now: what a reader must see.
    pub(super) async fn caught_up(&self) {
        if let Some(target) = self.progress.behind() {
            let _ = self.send(Msg::Nudge);
            self.progress.reached(target).await;
        }
    }

    /// Waits until fewer than [`MAX_BACKLOG`] journaled deliveries wait to be applied.
    pub(super) fn room_for_journaled(&self) {
        self.progress.below_blocking(MAX_BACKLOG);
    }

    /// [`Handle::caught_up`] for a thread outside the runtime.
    pub(super) fn caught_up_blocking(&self) {
        if let Some(target) = self.progress.behind() {
            let _ = self.send(Msg::Nudge);
            self.progress.reached_blocking(target);
        }
    }
}

/// The writer thread's name: what it writes to disk is told apart from the blobs'
/// (`/proc/self/task/*/io`) by it.
pub const THREAD_NAME: &str = "easd-writer";

/// The writer thread's world.
struct Writer<'a> {
    db: &'a DbLock,
    path: &'a std::path::Path,
    packs: &'a Packs,
    /// The blob directory (collected when idle or for a compaction).
    blobs: &'a BlobStore,
    events: &'a broadcast::Sender<Event>,
    stats: &'a Mutex<WriterStats>,
    progress: &'a Progress,
}

impl Writer<'_> {
    fn run(&self, rx: &mpsc::Receiver<Msg>) {
        let db = self.db;
        // Relaxed commits since the last durable one.
        let mut relaxed = 0usize;
        let mut idle = space::Idle::new();
        // A message taken off the queue while grouping jobs, to run next.
        let mut held: Option<Msg> = None;
        // Set once a journaled delivery could not be applied: the ones after it are not
        // applied either (their records stay past the marks), so that the next start
        // applies them all again in order, and none twice.
        let mut stuck = false;
        loop {
            if relaxed >= MAX_RELAXED {
                flush(&db.blocking_read(), &mut relaxed);
                if relaxed > 0 {
                    // The flush failed: give the disk a moment rather than spin.
                    std::thread::sleep(FLUSH_IDLE);
                }
                continue;
            }
            let wait = if relaxed > 0 {
                Some(FLUSH_IDLE)
            } else {
                idle.wait()
            };
            let msg = match (held.take(), wait) {
                (Some(m), _) => m,
                (None, None) => match rx.recv() {
                    Ok(m) => m,
                    Err(_) => return,
                },
                (None, Some(wait)) => match rx.recv_timeout(wait) {
                    Ok(m) => m,
                    Err(mpsc::RecvTimeoutError::Timeout) if relaxed > 0 => {
                        flush(&db.blocking_read(), &mut relaxed);
                        continue;
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        idle.idle(db, self.path, self.blobs, stuck);
                        continue;
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => {
                        if relaxed > 0 {
                            flush(&db.blocking_read(), &mut relaxed);
                        }
                        return;
                    }
                },
            };
            let first = match msg {
                Msg::Job(p) => p,
                Msg::Space(op) => {
                    idle.run(op, db, self.path, self.blobs, stuck);
                    continue;
                }
                // Nothing journaled is waiting (it would be in a group).
                Msg::Nudge => continue,
            };
            let (mut group, next) = gather(first, rx);
            held = next;
            idle.wrote();
            if stuck {
                group = self.refuse_journaled(group);
                if group.is_empty() {
                    continue;
                }
            }
            let db = db.blocking_read();
            // If one job of a group fails (or the commit does), each is retried alone so
            // that one bad job cannot fail the others.
            let journaled = group.iter().filter(|p| p.journaled).count();
            if group.len() > 1
                && let Ok((outputs, evs)) = self.run_group(&db, &mut group, &mut relaxed)
            {
                publish(self.events, evs);
                for (p, out) in group.into_iter().zip(outputs) {
                    let _ = p.reply.send(Ok(out));
                }
                self.progress.answered(journaled);
                continue;
            }
            for mut p in group {
                if p.journaled && stuck {
                    self.refuse(p);
                    continue;
                }
                let result = self
                    .run_group(&db, std::slice::from_mut(&mut p), &mut relaxed)
                    .map(|(mut outs, evs)| {
                        publish(self.events, evs);
                        outs.pop().expect("one output per job")
                    });
                if p.journaled {
                    if let Err(e) = &result {
                        tracing::error!(
                            "store: an acknowledged delivery could not be applied ({e}); it \
                             and the deliveries after it stay in the journal and are applied \
                             when easd starts again"
                        );
                        stuck = true;
                    }
                    self.progress.answered(1);
                }
                let _ = p.reply.send(result);
            }
        }
    }

    /// Answers the journaled jobs of `group` unapplied; returns the others.
    fn refuse_journaled(&self, group: Vec<Pending>) -> Vec<Pending> {
        let (journaled, rest): (Vec<_>, Vec<_>) = group.into_iter().partition(|p| p.journaled);
        for p in journaled {
            self.refuse(p);
        }
        rest
    }

    fn refuse(&self, p: Pending) {
        let _ = p.reply.send(Err(StoreError::Conflict(
            "an earlier acknowledged delivery could not be applied; this one is applied \
             from the journal when easd starts again"
                .into(),
        )));
        self.progress.answered(1);
    }

    /// Runs a group of jobs in one transaction. The commit is immediate (fsynced) if any
    /// job asks for it, which also makes every earlier relaxed commit durable.
    fn run_group(
        &self,
        db: &Database,
        group: &mut [Pending],
        relaxed: &mut usize,
    ) -> Result<(Vec<Output>, Vec<Event>), StoreError> {
        let started = Instant::now();
        let mut tx = db.begin_write()?;
        let lax = group.iter().all(|p| p.durability == Durability::Relaxed);
        if lax {
            tx.set_durability(redb::Durability::None);
        }
        let mut ctx = WriteCtx {
            tx: &tx,
            events: Vec::new(),
            index: Default::default(),
        };
        let mut outputs = Vec::with_capacity(group.len());
        for p in group.iter_mut() {
            outputs.push((p.job)(&mut ctx)?);
        }
        let jobs_done = Instant::now();
        super::search_index::postings::flush(&tx, &mut ctx.index)?;
        let applied = group.iter().filter(|p| p.journaled).count();
        let staged = self.packs.stage(&tx, applied, false)?;
        let evs = std::mem::take(&mut ctx.events);
        let indexed = Instant::now();
        tx.commit()?;
        self.packs.committed(staged);
        *relaxed = if lax { *relaxed + 1 } else { 0 };
        let mut s = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        s.commits += 1;
        s.jobs += group.len() as u64;
        s.jobs_time += jobs_done - started;
        s.index_time += indexed - jobs_done;
        s.commit_time += indexed.elapsed();
        Ok((outputs, evs))
    }
}

/// The jobs queued behind `first`, for one transaction; and the message that ended the
/// group, if it is not a job. A group of journaled deliveries waits up to
/// [`JOURNAL_WINDOW`] for more while they keep coming ([`JOURNAL_GAP`]), unless a reader
/// nudges or another job comes.
fn gather(first: Pending, rx: &mpsc::Receiver<Msg>) -> (Vec<Pending>, Option<Msg>) {
    let window_ends = Instant::now() + JOURNAL_WINDOW;
    // When the last job came: a gap of `JOURNAL_GAP` after it ends the group.
    let mut last = Instant::now();
    let mut group = vec![first];
    let mut nudged = false;
    loop {
        let journaled = group.iter().all(|p| p.journaled);
        let cap = if journaled { MAX_JOURNALED } else { MAX_GROUP };
        if group.len() >= cap {
            return (group, None);
        }
        let next = match rx.try_recv() {
            Ok(m) => m,
            Err(mpsc::TryRecvError::Disconnected) => return (group, None),
            Err(mpsc::TryRecvError::Empty) => {
                let now = Instant::now();
                let until = window_ends.min(last + JOURNAL_GAP);
                if nudged || !journaled || now >= until {
                    return (group, None);
                }
                match rx.recv_timeout(until - now) {
                    Ok(m) => m,
                    Err(_) => return (group, None),
                }
            }
        };
        match next {
            Msg::Job(p) => {
                last = Instant::now();
                group.push(p);
            }
            Msg::Nudge => nudged = true,
            other => return (group, Some(other)),
        }
    }
}

/// Makes the relaxed commits durable with an empty immediate commit. On failure they stay
/// pending and the next commit (or flush) tries again.
fn flush(db: &Database, relaxed: &mut usize) {
    let done = db
        .begin_write()
        .map_err(StoreError::from)
        .and_then(|tx| Ok(tx.commit()?));
    match done {
        Ok(()) => *relaxed = 0,
        Err(e) => tracing::warn!("store: durable commit after relaxed ones failed: {e}"),
    }
}

fn publish(events: &broadcast::Sender<Event>, evs: Vec<Event>) {
    for e in evs {
        // No subscriber is fine: nothing is waiting for push.
        let _ = events.send(e);
    }
}
