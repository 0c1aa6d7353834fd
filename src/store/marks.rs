//! Small records of things done once, so that a repeat is recognised: messages a device
//! sent (by ClientId), messages imported or delivered into a folder, out-of-office replies
//! sent; and whether a domain is one of the server's own.

use redb::ReadableTable;

use super::model::{AccountId, FolderId};
use super::tables::{DOMAINS, IMPORTED, OOF_SENT, SENT_CLIENT_IDS};
use super::tx::Tx;
use super::{StoreError, WriteCtx};

/// Typed reads of the marks, for any transaction.
pub trait MarkReads: Tx {
    /// Whether the account already sent a message under this submission key (a device's
    /// ClientId, or a draft's key).
    fn was_submitted(&self, account: AccountId, key: &str) -> Result<bool, StoreError> {
        Ok(self.table(SENT_CLIENT_IDS)?.get((account, key))?.is_some())
    }

    /// Whether a message with this import key (Message-ID and content hash) is already in
    /// the folder.
    fn was_imported(
        &self,
        account: AccountId,
        folder: FolderId,
        key: &str,
    ) -> Result<bool, StoreError> {
        Ok(self.table(IMPORTED)?.get((account, folder, key))?.is_some())
    }

    /// Whether `domain` (lower-case) is one the server receives mail for.
    fn is_local_domain(&self, domain: &str) -> Result<bool, StoreError> {
        Ok(self.table(DOMAINS)?.get(domain)?.is_some())
    }
}

impl<T: Tx> MarkReads for T {}

/// Records that the account sent a message under `key`, at `when` (Unix seconds).
pub fn mark_submitted(
    w: &WriteCtx,
    account: AccountId,
    key: &str,
    when: i64,
) -> Result<(), StoreError> {
    w.tx.open_table(SENT_CLIENT_IDS)?
        .insert((account, key), when)?;
    Ok(())
}

/// Records that item `item` of the folder came in under import key `key`.
pub fn mark_imported(
    w: &WriteCtx,
    account: AccountId,
    folder: FolderId,
    key: &str,
    item: u64,
) -> Result<(), StoreError> {
    w.tx.open_table(IMPORTED)?
        .insert((account, folder, key), item)?;
    Ok(())
}

/// Records an out-of-office reply to `sender` at `now` unless one went to them less than
/// `period` seconds before; false = do not send. Check and record are one transaction, so
/// concurrent deliveries send one reply.
pub fn claim_oof_reply(
    w: &WriteCtx,
    account: AccountId,
    sender: &str,
    now: i64,
    period: i64,
) -> Result<bool, StoreError> {
    let mut table = w.tx.open_table(OOF_SENT)?;
    let last = table.get((account, sender))?.map(|v| v.value());
    if last.is_some_and(|t| now - t < period) {
        return Ok(false);
    }
    table.insert((account, sender), now)?;
    Ok(true)
}
