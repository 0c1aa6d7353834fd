//! The single writer: a thread that runs write jobs, grouping whatever is queued into one
//! transaction so that a burst of deliveries or client changes costs one fsync.

use std::any::Any;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use std::path::PathBuf;

use redb::{Database, WriteTransaction};
use tokio::sync::{broadcast, oneshot};

use super::blob::pack::Packs;
use super::error::StoreError;
use super::model::{AccountId, FolderId};
use super::space::{self, DbLock, SpaceOp};

/// Upper bound on jobs in one transaction, so one commit's latency stays bounded.
const MAX_GROUP: usize = 64;

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
    reply: oneshot::Sender<Result<Output, StoreError>>,
}

/// What the writer's queue carries: jobs, and work on the file's space, run between
/// two commits.
enum Msg {
    Job(Pending),
    Space(SpaceOp),
}

pub(super) struct Handle {
    tx: Option<mpsc::Sender<Msg>>,
    thread: Option<std::thread::JoinHandle<()>>,
    events: broadcast::Sender<Event>,
    stats: Arc<Mutex<WriterStats>>,
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

impl Handle {
    /// Starts the writer on `db`, whose file is `path`; each commit also indexes the packed
    /// blobs made durable before it (`blob::pack`), so the commit that references a body
    /// carries its index entry.
    pub(super) fn spawn(db: DbLock, path: PathBuf, packs: Arc<Packs>) -> Result<Self, StoreError> {
        let (tx, rx) = mpsc::channel::<Msg>();
        let (events, _) = broadcast::channel(1024);
        let publisher = events.clone();
        let stats = Arc::new(Mutex::new(WriterStats::default()));
        let counted = stats.clone();
        let thread = std::thread::Builder::new()
            .name(THREAD_NAME.into())
            .spawn(move || run(&db, &path, &packs, &rx, &publisher, &counted))?;
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
            events,
            stats,
        })
    }

    pub(super) fn submit<T, F>(
        &self,
        durability: Durability,
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
}

/// The writer thread's name: what it writes to disk is told apart from the blobs'
/// (`/proc/self/task/*/io`) by it.
pub const THREAD_NAME: &str = "easd-writer";

fn run(
    db: &DbLock,
    path: &std::path::Path,
    packs: &Packs,
    rx: &mpsc::Receiver<Msg>,
    events: &broadcast::Sender<Event>,
    stats: &Mutex<WriterStats>,
) {
    // Relaxed commits since the last durable one.
    let mut relaxed = 0usize;
    let mut idle = space::Idle::new();
    // A message taken off the queue while grouping jobs, to run next.
    let mut held: Option<Msg> = None;
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
                    idle.idle(db, path);
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
                idle.run(op, db, path);
                continue;
            }
        };
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(Msg::Job(p)) => group.push(p),
                Ok(other) => {
                    held = Some(other);
                    break;
                }
                Err(_) => break,
            }
        }
        idle.wrote();
        let db = db.blocking_read();
        // If one job of a group fails (or the commit does), each is retried alone so that
        // one bad job cannot fail the others.
        if group.len() > 1
            && let Ok((outputs, evs)) = run_group(&db, packs, &mut group, &mut relaxed, stats)
        {
            publish(events, evs);
            for (p, out) in group.into_iter().zip(outputs) {
                let _ = p.reply.send(Ok(out));
            }
            continue;
        }
        for mut p in group {
            let result = run_group(
                &db,
                packs,
                std::slice::from_mut(&mut p),
                &mut relaxed,
                stats,
            )
            .map(|(mut outs, evs)| {
                publish(events, evs);
                outs.pop().expect("one output per job")
            });
            let _ = p.reply.send(result);
        }
    }
}

/// Runs a group of jobs in one transaction. The commit is immediate (fsynced) if any job
/// asks for it, which also makes every earlier relaxed commit durable.
fn run_group(
    db: &Database,
    packs: &Packs,
    group: &mut [Pending],
    relaxed: &mut usize,
    stats: &Mutex<WriterStats>,
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
    let staged = packs.stage(&tx)?;
    let evs = std::mem::take(&mut ctx.events);
    let indexed = Instant::now();
    tx.commit()?;
    packs.committed(staged);
    *relaxed = if lax { *relaxed + 1 } else { 0 };
    let mut s = stats.lock().unwrap_or_else(|e| e.into_inner());
    s.commits += 1;
    s.jobs += group.len() as u64;
    s.jobs_time += jobs_done - started;
    s.index_time += indexed - jobs_done;
    s.commit_time += indexed.elapsed();
    Ok((outputs, evs))
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
