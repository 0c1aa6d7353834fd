//! The audit log of admin actions: appended in order, the oldest dropped past [`KEEP`].

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
