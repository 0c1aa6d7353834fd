//! Where a device's sync state lives in the store, and the store read as a round's
//! [`Log`]: loading and saving a collection's state and held sets, reading an item as the
//! collection carries it, and the questions Ping and GetItemEstimate ask of a state.

use crate::proto::filter::FilterType;
use crate::store::items::{ItemReads, LogEntry};
use crate::store::model::{AccountId, FolderId};
use crate::store::ops::{Reads, Tx};
use crate::store::tables::{self, SYNC_HELD, SYNC_STATE};
use crate::store::{StoreError, WriteCtx};
use crate::sync::collection::{CollectionState, Held, Merge, Merged, SyncItem, change_filter};
use crate::sync::round::{self, Log};

/// An account's folders' change logs and items, read in transaction `tx`.
pub struct StoreLog<'a, T> {
    tx: &'a T,
    account: AccountId,
}

impl<'a, T: Tx> StoreLog<'a, T> {
    pub fn new(tx: &'a T, account: AccountId) -> Self {
        StoreLog { tx, account }
    }
}

impl<T: Tx> Log for StoreLog<'_, T> {
    fn since(
        &self,
        folder: FolderId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<LogEntry>, StoreError> {
        self.tx.log_since(self.account, folder, after, limit)
    }

    fn item(
        &self,
        folder: FolderId,
        id: u64,
        merge: Option<Merge>,
    ) -> Result<Option<SyncItem>, StoreError> {
        read_item(self.tx, self.account, folder, id, merge)
    }
}

/// Where a device's state for one collection lives.
#[derive(Debug, Clone, Copy)]
pub struct StateKey<'a> {
    pub account: AccountId,
    pub device: &'a str,
    pub folder: FolderId,
}

pub fn load_state(tx: &impl Tx, k: StateKey) -> Result<Option<CollectionState>, StoreError> {
    tables::get(
        &tx.table(SYNC_STATE)?,
        "sync_state",
        (k.account, k.device, k.folder),
    )
}

/// Generation 0: what the device holds now; 1: what it held in the previous state.
pub fn load_held(tx: &impl Tx, k: StateKey, generation: u8) -> Result<Held, StoreError> {
    use redb::ReadableTable;
    match tx
        .table(SYNC_HELD)?
        .get((k.account, k.device, k.folder, generation))?
    {
        Some(v) => Held::from_bytes(v.value()),
        None => Ok(Held::default()),
    }
}

pub fn save(
    ctx: &WriteCtx,
    k: StateKey,
    state: &CollectionState,
    held: &Held,
    previous: Option<&Held>,
) -> Result<(), StoreError> {
    ctx.tx.open_table(SYNC_STATE)?.insert(
        (k.account, k.device, k.folder),
        tables::encode(state).as_slice(),
    )?;
    let mut t = ctx.tx.open_table(SYNC_HELD)?;
    t.insert(
        (k.account, k.device, k.folder, 0),
        held.to_bytes().as_slice(),
    )?;
    match previous {
        Some(p) => {
            t.insert((k.account, k.device, k.folder, 1), p.to_bytes().as_slice())?;
        }
        None => {
            t.remove((k.account, k.device, k.folder, 1))?;
        }
    }
    Ok(())
}

/// The item `id` of `folder` as the collection carries it: converted when `merge` names
/// the conversion of a source folder.
pub fn read_item(
    tx: &impl Tx,
    account: AccountId,
    folder: FolderId,
    id: u64,
    merge: Option<Merge>,
) -> Result<Option<SyncItem>, StoreError> {
    if let Some(m) = merge {
        return Ok(tx
            .groupware_item(account, folder, id)?
            .map(|g| SyncItem::Merged(g, m)));
    }
    // A folder holds one kind of item: mail is looked up first, as most items are mail.
    if let Some(mail) = tx.item(account, folder, id)? {
        return Ok(Some(SyncItem::Mail(Box::new(mail))));
    }
    Ok(tx
        .groupware_item(account, folder, id)?
        .map(SyncItem::Groupware))
}

/// Whether a Sync of this collection would bring the device anything (Ping's question).
/// A folder the device never synced counts as changed ([MS-ASCMD] 2.2.1.13), and so does
/// a state that merges other folders than `merged` (what the device's settings now ask):
/// its next Sync tells it to start again.
pub fn pending(
    tx: &impl Tx,
    k: StateKey,
    folder_modseq: u64,
    merged: Option<&Merged>,
    now: i64,
) -> Result<bool, StoreError> {
    let Some(mut state) = load_state(tx, k)? else {
        return Ok(true);
    };
    if !Merged::same(state.merged.as_ref(), merged) {
        return Ok(true);
    }
    if folder_modseq <= state.modseq
        && state.filter == FilterType::All
        && merged_caught_up(tx, k, &state)?
    {
        return Ok(false);
    }
    let mut held = load_held(tx, k, 0)?;
    let log = StoreLog::new(tx, k.account);
    Ok(!round::serve(&log, k.folder, &mut state, &mut held, 1, now)?.is_empty())
}

/// Whether no merged folder moved past the state's position in it.
fn merged_caught_up(
    tx: &impl Tx,
    k: StateKey,
    state: &CollectionState,
) -> Result<bool, StoreError> {
    for s in state.merged.iter().flat_map(|m| m.sources.iter()) {
        if tx
            .folder(k.account, s.folder)?
            .is_some_and(|f| f.modseq > s.at)
        {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Counts what the following Syncs would deliver from `state` in FilterType `filter`
/// ([MS-ASCMD] 2.2.1.9 GetItemEstimate), without changing anything.
pub fn estimate(
    tx: &impl Tx,
    k: StateKey,
    mut state: CollectionState,
    mut held: Held,
    filter: FilterType,
    now: i64,
) -> Result<usize, StoreError> {
    change_filter(&mut state, filter);
    let log = StoreLog::new(tx, k.account);
    Ok(round::serve(&log, k.folder, &mut state, &mut held, usize::MAX, now)?.len())
}
