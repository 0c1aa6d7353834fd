//! The company directory's records: each account's [`DirectoryEntry`], and a generation
//! number that changes with every change a directory reader can see (an entry, an
//! account's address, display name or enabled state, an account added or removed), so an
//! index built from the directory knows when it is stale without comparing it. Also the
//! contacts folders flagged as GAL sources: a change of their contacts, of the groups or
//! of the shares (which decide who sees a source) moves the generation too; a change to
//! any other folder (every delivery) does not.

use redb::{ReadableTable, WriteTransaction};

use super::model::{Account, AccountId, DirectoryEntry, FolderId, GalSource};
use super::tables::{self, DIRECTORY, GAL_SOURCES, META};
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

    /// The contacts folders flagged as GAL sources, by owner and folder.
    fn gal_sources(&self) -> Result<Vec<GalSource>, StoreError> {
        let mut out = Vec::new();
        for row in self.table(GAL_SOURCES)?.iter()? {
            out.push(row?.1.value().decode()?);
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

/// Flags (`on`) or unflags `owner`'s `folder` as a GAL source; `false` when it already
/// was (or was not). The caller checks the folder holds contacts.
pub fn set_gal_source(
    w: &WriteCtx,
    owner: AccountId,
    folder: FolderId,
    on: bool,
) -> Result<bool, StoreError> {
    let tx = w.tx;
    let mut table = tx.open_table(GAL_SOURCES)?;
    let flagged = table.get((owner, folder))?.is_some();
    let changed = if on {
        let source = GalSource {
            owner,
            folder,
            created: super::now(),
        };
        if !flagged {
            table.insert((owner, folder), tables::Record::of(&source))?;
        }
        !flagged
    } else {
        table.remove((owner, folder))?.is_some()
    };
    drop(table);
    if changed {
        bump(tx)?;
    }
    Ok(changed)
}

/// Called by every write of a groupware item of `owner`'s `folder`: moves the generation
/// on when the folder is a GAL source. One key lookup; mail writes never call it.
pub(super) fn folder_contacts_changed(
    tx: &WriteTransaction,
    owner: AccountId,
    folder: FolderId,
) -> Result<(), StoreError> {
    if tx.open_table(GAL_SOURCES)?.get((owner, folder))?.is_some() {
        bump(tx)?;
    }
    Ok(())
}

/// Unflags deleted folders (all of `owner`'s when `folders` is `None`: the account is
/// deleted).
pub(super) fn forget_sources(
    tx: &WriteTransaction,
    owner: AccountId,
    folders: Option<&[FolderId]>,
) -> Result<(), StoreError> {
    let mut removed = false;
    tx.open_table(GAL_SOURCES)?
        .retain_in((owner, 0)..=(owner, u64::MAX), |k, _| {
            let doomed = folders.is_none_or(|f| f.contains(&k.1));
            removed |= doomed;
            !doomed
        })?;
    if removed {
        bump(tx)?;
    }
    Ok(())
}

/// Moves the generation on: also for changes of groups and shares, which decide who sees
/// which GAL entry (admin operations, rare: the list is rebuilt on the next search).
pub(super) fn bump(tx: &WriteTransaction) -> Result<(), StoreError> {
    let next = tx.directory_generation()? + 1;
    tx.open_table(META)?
        .insert(GENERATION, next.to_le_bytes().as_slice())?;
    Ok(())
}
