//! The single writer: a thread that runs write jobs, grouping whatever is queued into one
//! transaction so that a burst of deliveries or client changes costs one fsync.

use std::any::Any;
use std::sync::Arc;
use std::sync::mpsc;

use redb::{Database, WriteTransaction};
use tokio::sync::{broadcast, oneshot};

use super::StoreError;
use super::model::{AccountId, FolderId};

/// Upper bound on jobs in one transaction, so one commit's latency stays bounded.
const MAX_GROUP: usize = 64;

/// Something changed, published after the commit that changed it is durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The folder list of an account changed.
    Hierarchy { account: AccountId },
    /// The contents of a folder changed.
    Folder {
        account: AccountId,
        folder: FolderId,
    },
}

/// What a job sees: the transaction, and a place to record events.
pub struct WriteCtx<'a> {
    pub tx: &'a WriteTransaction,
    events: Vec<Event>,
}

impl WriteCtx<'_> {
    pub fn publish(&mut self, event: Event) {
        if !self.events.contains(&event) {
            self.events.push(event);
        }
    }
}

type Output = Box<dyn Any + Send>;
type Job = Box<dyn FnMut(&mut WriteCtx) -> Result<Output, StoreError> + Send>;

struct Pending {
    job: Job,
    reply: oneshot::Sender<Result<Output, StoreError>>,
}

pub(super) struct Handle {
    tx: Option<mpsc::Sender<Pending>>,
    thread: Option<std::thread::JoinHandle<()>>,
    events: broadcast::Sender<Event>,
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
    pub(super) fn spawn(db: Arc<Database>) -> Result<Self, StoreError> {
        let (tx, rx) = mpsc::channel::<Pending>();
        let (events, _) = broadcast::channel(1024);
        let publisher = events.clone();
        let thread = std::thread::Builder::new()
            .name("easd-writer".into())
            .spawn(move || run(&db, &rx, &publisher))?;
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
            events,
        })
    }

    pub(super) fn submit<T, F>(&self, mut job: F) -> Result<Ticket<T>, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&mut WriteCtx) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let job: Job = Box::new(move |ctx| job(ctx).map(|v| Box::new(v) as Output));
        self.tx
            .as_ref()
            .ok_or(StoreError::WriterGone)?
            .send(Pending { job, reply })
            .map_err(|_| StoreError::WriterGone)?;
        Ok(Ticket {
            rx,
            _t: std::marker::PhantomData,
        })
    }

    pub(super) fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }
}

fn run(db: &Database, rx: &mpsc::Receiver<Pending>, events: &broadcast::Sender<Event>) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(p) => group.push(p),
                Err(_) => break,
            }
        }
        // If one job of a group fails (or the commit does), each is retried alone so that
        // one bad job cannot fail the others.
        if group.len() > 1
            && let Ok((outputs, evs)) = run_group(db, &mut group)
        {
            publish(events, evs);
            for (p, out) in group.into_iter().zip(outputs) {
                let _ = p.reply.send(Ok(out));
            }
            continue;
        }
        for mut p in group {
            let result = run_group(db, std::slice::from_mut(&mut p)).map(|(mut outs, evs)| {
                publish(events, evs);
                outs.pop().expect("one output per job")
            });
            let _ = p.reply.send(result);
        }
    }
}

fn run_group(
    db: &Database,
    group: &mut [Pending],
) -> Result<(Vec<Output>, Vec<Event>), StoreError> {
    let tx = db.begin_write()?;
    let mut ctx = WriteCtx {
        tx: &tx,
        events: Vec::new(),
    };
    let mut outputs = Vec::with_capacity(group.len());
    for p in group.iter_mut() {
        outputs.push((p.job)(&mut ctx)?);
    }
    let evs = std::mem::take(&mut ctx.events);
    tx.commit()?;
    Ok((outputs, evs))
}

fn publish(events: &broadcast::Sender<Event>, evs: Vec<Event>) {
    for e in evs {
        // No subscriber is fine: nothing is waiting for push.
        let _ = events.send(e);
    }
}
