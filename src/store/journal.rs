//! The delivery journal: a delivery is acknowledged (LMTP 250) once its body and a small
//! record of it are durable in the packed segments (`blob::pack`), before the database
//! has it; the writer applies journaled deliveries in batches of up to
//! [`writer::MAX_JOURNALED`] within [`writer::JOURNAL_WINDOW`], so a burst of mail costs one
//! commit per batch instead of one per message (a commit rewrites some thirty pages
//! whatever it holds: that, not the mail, was most of what the disk wrote).
//!
//! Nothing acknowledged is lost: after a crash the records past the segments' marks are
//! the deliveries whose commit was lost, and the layer that made them applies them again
//! before it accepts anything new ([`crate::store::Store::take_journal`]). Readers see a
//! journaled delivery as soon as its acknowledgement could have been seen:
//! [`crate::store::Store::view`] first waits until every delivery journaled before it is
//! applied ([`Progress`]), asking the writer not to wait for its batch to fill.
//!
//! [`writer::MAX_JOURNALED`]: super::writer::MAX_JOURNALED
//! [`writer::JOURNAL_WINDOW`]: super::writer::JOURNAL_WINDOW

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

use tokio::sync::Notify;

use super::blob::pack::JournalPos;
use super::model::JournaledDelivery;
use super::tables;

/// How many journaled deliveries were queued, and how many of them the writer has
/// answered (committed, or refused): a reader waits until the second reaches what the
/// first was when it started.
pub(super) struct Progress {
    queued: AtomicU64,
    answered: Mutex<u64>,
    /// Wakes the waiters on threads outside the runtime ([`Progress::reached_blocking`]).
    changed: Condvar,
    /// Wakes the waiting tasks ([`Progress::reached`]).
    notify: Notify,
}

impl Progress {
    pub(super) fn new() -> Self {
        Self {
            queued: AtomicU64::new(0),
            answered: Mutex::new(0),
            changed: Condvar::new(),
            notify: Notify::new(),
        }
    }

    fn answered_now(&self) -> MutexGuard<'_, u64> {
        self.answered.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Called as a journaled job is queued (before it is acknowledged).
    pub(super) fn queued(&self) {
        self.queued.fetch_add(1, Ordering::SeqCst);
    }

    /// Called by the writer once it answered `n` journaled jobs.
    pub(super) fn answered(&self, n: usize) {
        if n > 0 {
            *self.answered_now() += n as u64;
            self.changed.notify_all();
            self.notify.notify_waiters();
        }
    }

    /// The count a reader starting now must wait for, if the writer is behind it.
    pub(super) fn behind(&self) -> Option<u64> {
        let target = self.queued.load(Ordering::SeqCst);
        (*self.answered_now() < target).then_some(target)
    }

    /// Waits until the writer answered `target` journaled jobs.
    pub(super) async fn reached(&self, target: u64) {
        loop {
            // Registered before the count is read, so an answer in between still wakes it.
            let woken = self.notify.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if *self.answered_now() >= target {
                return;
            }
            woken.await;
        }
    }

    /// [`Progress::reached`] for a thread outside the runtime (a backup, a delivery
    /// waiting for room).
    pub(super) fn reached_blocking(&self, target: u64) {
        let mut answered = self.answered_now();
        while *answered < target {
            answered = self
                .changed
                .wait(answered)
                .unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Waits (on a blocking thread) until fewer than `limit` journaled deliveries wait for
    /// the writer: deliveries acknowledged faster than the writer applies them would
    /// otherwise pile up in memory (each holds its parsed headers and words).
    pub(super) fn below_blocking(&self, limit: u64) {
        let queued = self.queued.load(Ordering::SeqCst);
        if let Some(target) = queued.checked_sub(limit) {
            self.reached_blocking(target + 1);
        }
    }
}

/// A delivery found in the journal at open, to apply again
/// ([`crate::store::Store::apply_journaled`]), in the order given.
#[derive(Debug)]
pub struct Entry {
    /// `None` if its record does not decode (a bug or damage past its checksum): it is
    /// then applied as nothing, with an error logged, so the ones after it are not held.
    pub delivery: Option<JournaledDelivery>,
}

impl Entry {
    pub(super) fn decode(pos: JournalPos, payload: &[u8]) -> Self {
        let delivery = tables::decode::<JournaledDelivery>(payload)
            .inspect_err(|e| {
                tracing::error!(
                    segment = pos.segment,
                    offset = pos.offset,
                    "store: a delivery journal record does not decode; skipped: {e}"
                );
            })
            .ok();
        Self { delivery }
    }
}

/// The encoded record of a delivery.
pub(super) fn encode(delivery: &JournaledDelivery) -> Vec<u8> {
    tables::encode(delivery)
}

#[cfg(test)]
mod tests;
