//! The company directory's records: each account's [`DirectoryEntry`], and a generation
//! number that changes with every change a directory reader can see (an entry, an
//! account's address, display name or enabled state, an account added or removed), so an
//! index built from the directory knows when it is stale without comparing it.

use redb::{ReadableTable, WriteTransaction};

use super::model::{Account, AccountId, DirectoryEntry};
use super::tables::{self, DIRECTORY, META};
use super::tx::Tx;
use super::{StoreError, WriteCtx};

const GENERATION: &str = "directory_generation";

/// Directory reads, for any transaction.
pub trait DirectoryReads: Tx {
    /// The account's entry; an account without one has the empty entry.
    fn directory_entry(&self, account: AccountId) -> Result<DirectoryEntry, StoreError> {
        Ok(tables::get(&self.table(DIRECTORY)?, account)?.unwrap_or_default())
    }

    /// Every stored entry, by account.
    fn directory_entries(&self) -> Result<Vec<(AccountId, DirectoryEntry)>, StoreError> {
        let table = self.table(DIRECTORY)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            let (k, v) = row?;
            out.push((k.value(), v.value().decode()?));
        }
        Ok(out)
    }

    /// Changes whenever what the directory shows changes (0 for a store that never had a
    /// change since schema 7).
    fn directory_generation(&self) -> Result<u64, StoreError> {
        let meta = self.table(META)?;
        let Some(v) = meta.get(GENERATION)? else {
            return Ok(0);
        };
        let bytes: [u8; 8] = v.value().try_into().map_err(|_| StoreError::Corrupt {
            what: "meta",
            detail: format!("{GENERATION} is not 8 bytes"),
        })?;
        Ok(u64::from_le_bytes(bytes))
    }
}

impl<T: Tx> DirectoryReads for T {}

/// Stores the account's entry (an empty one is removed) and moves the generation on.
pub fn put_entry(
    w: &WriteCtx,
    account: AccountId,
    entry: &DirectoryEntry,
) -> Result<(), StoreError> {
    let mut table = w.tx.open_table(DIRECTORY)?;
    if *entry == DirectoryEntry::default() {
        table.remove(account)?;
    } else {
        table.insert(account, tables::Record::of(entry))?;
    }
    drop(table);
    bump(w.tx)
}

/// Removes a deleted account's entry.
pub(super) fn delete_entry(tx: &WriteTransaction, account: AccountId) -> Result<(), StoreError> {
    tx.open_table(DIRECTORY)?.remove(account)?;
    bump(tx)
}

/// Called before `new` replaces `old` (`None`: a new account): moves the generation on
/// when the change shows in the directory. Most account writes (the item counter of every
/// delivery) do not.
pub(super) fn account_changing(
    tx: &WriteTransaction,
    old: Option<&Account>,
    new: &Account,
) -> Result<(), StoreError> {
    let shown = |a: &Account| (a.email.clone(), a.display_name.clone(), a.enabled);
    if old.map(shown) != Some(shown(new)) {
        bump(tx)?;
    }
    Ok(())
}

fn bump(tx: &WriteTransaction) -> Result<(), StoreError> {
    let next = tx.directory_generation()? + 1;
    tx.open_table(META)?
        .insert(GENERATION, next.to_le_bytes().as_slice())?;
    Ok(())
}
