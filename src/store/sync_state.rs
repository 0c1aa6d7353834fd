//! Where a device's sync state lives: per collection its [`CollectionState`] and the items
//! it holds (current and previous generation), and per device the parameters its last
//! Sync and Ping asked for.

use redb::ReadableTable;

use super::model::{AccountId, CollectionState, FolderId, Held, PingParams, SyncCache};
use super::tables::{self, PING_PARAMS, SYNC_CACHE, SYNC_HELD, SYNC_STATE};
use super::tx::Tx;
use super::{StoreError, WriteCtx};

/// Where a device's state for one collection lives.
#[derive(Debug, Clone, Copy)]
pub struct StateKey<'a> {
    pub account: AccountId,
    pub device: &'a str,
    pub folder: FolderId,
}

/// Which of a collection's held sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generation {
    /// What the device holds after the last round.
    Current,
    /// What it held before it: answers a resent previous key (the last answer was lost).
    Previous,
}

impl Generation {
    /// How the held set is numbered in the store.
    fn number(self) -> u8 {
        match self {
            Generation::Current => 0,
            Generation::Previous => 1,
        }
    }
}

/// Typed reads of sync state, for any transaction.
pub trait SyncReads: Tx {
    fn sync_state(&self, k: StateKey) -> Result<Option<CollectionState>, StoreError> {
        tables::get(&self.table(SYNC_STATE)?, (k.account, k.device, k.folder))
    }

    fn held(&self, k: StateKey, generation: Generation) -> Result<Held, StoreError> {
        match self
            .table(SYNC_HELD)?
            .get((k.account, k.device, k.folder, generation.number()))?
        {
            Some(v) => Held::from_bytes(v.value()),
            None => Ok(Held::default()),
        }
    }

    /// The parameters of the device's last Sync.
    fn sync_cache(
        &self,
        account: AccountId,
        device: &str,
    ) -> Result<Option<SyncCache>, StoreError> {
        tables::get(&self.table(SYNC_CACHE)?, (account, device))
    }

    /// The parameters of the device's last Ping.
    fn ping_params(
        &self,
        account: AccountId,
        device: &str,
    ) -> Result<Option<PingParams>, StoreError> {
        tables::get(&self.table(PING_PARAMS)?, (account, device))
    }
}

impl<T: Tx> SyncReads for T {}

/// Stores a collection's state with what the device now holds, and what it held before
/// (`None`: nothing to keep, the previous key can no longer be answered).
pub fn put_sync_state(
    w: &WriteCtx,
    k: StateKey,
    state: &CollectionState,
    held: &Held,
    previous: Option<&Held>,
) -> Result<(), StoreError> {
    w.tx.open_table(SYNC_STATE)?
        .insert((k.account, k.device, k.folder), tables::Record::of(state))?;
    let mut t = w.tx.open_table(SYNC_HELD)?;
    t.insert(
        (k.account, k.device, k.folder, Generation::Current.number()),
        held.to_bytes().as_slice(),
    )?;
    let previous_key = (k.account, k.device, k.folder, Generation::Previous.number());
    match previous {
        Some(p) => {
            t.insert(previous_key, p.to_bytes().as_slice())?;
        }
        None => {
            t.remove(previous_key)?;
        }
    }
    Ok(())
}

pub fn put_sync_cache(
    w: &WriteCtx,
    account: AccountId,
    device: &str,
    cache: &SyncCache,
) -> Result<(), StoreError> {
    w.tx.open_table(SYNC_CACHE)?
        .insert((account, device), tables::Record::of(cache))?;
    Ok(())
}

pub fn put_ping_params(
    w: &WriteCtx,
    account: AccountId,
    device: &str,
    params: &PingParams,
) -> Result<(), StoreError> {
    w.tx.open_table(PING_PARAMS)?
        .insert((account, device), tables::Record::of(params))?;
    Ok(())
}
