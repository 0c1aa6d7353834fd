//! The audit log of admin actions: appended in order, the oldest dropped past [`KEEP`].

use std::sync::{Arc, Mutex, PoisonError};

use redb::ReadableTable;

use super::model::AuditEntry;
use super::tables::{AUDIT, Record};
use super::tx::Tx;
use super::{StoreError, WriteCtx};

/// Entries kept; the oldest go first. An admin's day is tens of actions, so this is
/// months of history in a few MiB at most.
pub const KEEP: u64 = 20_000;

/// Typed reads of the audit log, for any transaction.
pub trait AuditReads: Tx {
    /// The newest `limit` entries, newest first.
    fn audit_newest(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let table = self.table(AUDIT)?;
        let mut out = Vec::with_capacity(limit.min(1024));
        for row in table.iter()?.rev().take(limit) {
            out.push(row?.1.value().decode()?);
        }
        Ok(out)
    }
}

impl<T: Tx> AuditReads for T {}

/// Appends `entry`, dropping the oldest entries past [`KEEP`].
pub fn record(w: &WriteCtx, entry: &AuditEntry) -> Result<(), StoreError> {
    let mut table = w.tx.open_table(AUDIT)?;
    let next = match table.last()? {
        Some((k, _)) => k.value() + 1,
        None => 0,
    };
    table.insert(next, Record::of(entry))?;
    if next >= KEEP {
        // One entry in, one out: the log stays at KEEP entries.
        table.remove(next - KEEP)?;
    }
    Ok(())
}

/// The audit entry of an admin action in progress (see `Store::audited`): held until a
/// write of the action commits it, or taken back by the caller to record the outcome of
/// an action that wrote nothing.
#[derive(Debug)]
pub struct Pending(Mutex<Option<AuditEntry>>);

impl Pending {
    pub(super) fn new(entry: AuditEntry) -> Self {
        Self(Mutex::new(Some(entry)))
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<AuditEntry>> {
        // The slot holds plain data: a panic elsewhere cannot leave it half-changed.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The entry if no write committed it; `None` once one did.
    pub fn unwritten(&self) -> Option<AuditEntry> {
        self.slot().take()
    }
}

/// A write job's hold on the pending entry: the entry goes back to its [`Pending`] when
/// dropped, unless the job committed ([`Claim::written`]).
pub(super) struct Claim(Option<(Arc<Pending>, AuditEntry)>);

impl Claim {
    /// Takes the entry for one job, if there is one not yet written. Writes of one action
    /// run one after the other, so the first that commits carries it.
    pub(super) fn take(pending: Option<&Arc<Pending>>) -> Self {
        Self(pending.and_then(|p| p.slot().take().map(|e| (p.clone(), e))))
    }

    pub(super) fn entry(&self) -> Option<&AuditEntry> {
        self.0.as_ref().map(|(_, e)| e)
    }

    /// The job committed, and the entry with it.
    pub(super) fn written(mut self) {
        self.0 = None;
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if let Some((pending, entry)) = self.0.take() {
            *pending.slot() = Some(entry);
        }
    }
}
