//! The store read as a round's [`Log`]: reading an item as the collection carries it, and
//! the questions Ping and GetItemEstimate ask of a stored state.

use crate::proto::filter::FilterType;
use crate::store::items::LogEntry;
use crate::store::model::{
    AccountId, CollectionState, FolderId, ForeignFolder, Held, Merge, Merged,
};
use crate::store::sync_state::{Generation, StateKey};
use crate::store::{Reader, StoreError};
use crate::sync::collection::{SyncItem, change_filter};
use crate::sync::round::{self, Log};

/// An account's folders' change logs and items, read in transaction `tx`.
pub struct StoreLog<'a, T> {
    tx: &'a T,
    account: AccountId,
    /// A collection that is a folder of another account: the reader's id for it and the
    /// owner's folder its log and items are read from.
    foreign: Option<(FolderId, ForeignFolder)>,
}

impl<'a, T: Reader> StoreLog<'a, T> {
    /// The log of a collection `collection` of the reader `account` that stands for the
    /// owner's folder `at` when set: its items are named by the reader's id, never the
    /// owner's (`store::share`: who reaches which folder).
    pub fn of(
        tx: &'a T,
        account: AccountId,
        collection: FolderId,
        at: Option<ForeignFolder>,
    ) -> Self {
        StoreLog {
            tx,
            account,
            foreign: at.map(|f| (collection, f)),
        }
    }

    /// Where the items of the reader's folder `folder` are stored.
    fn home(&self, folder: FolderId) -> (AccountId, FolderId) {
        match self.foreign {
            Some((id, at)) if id == folder => (at.owner, at.folder),
            _ => (self.account, folder),
        }
    }
}

impl<T: Reader> Log for StoreLog<'_, T> {
    fn since(
        &self,
        folder: FolderId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<LogEntry>, StoreError> {
        let (account, at) = self.home(folder);
        self.tx.log_since(account, at, after, limit)
    }

    fn item(
        &self,
        folder: FolderId,
        id: u64,
        merge: Option<Merge>,
    ) -> Result<Option<SyncItem>, StoreError> {
        let (account, at) = self.home(folder);
        let item = read_item(self.tx, account, at, id, merge)?;
        Ok(item.map(|i| i.named_in(folder)))
    }
}

/// The item `id` of `folder` as the collection carries it: converted when `merge` names
/// the conversion of a source folder.
pub fn read_item(
    tx: &impl Reader,
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
    tx: &impl Reader,
    k: StateKey,
    at: Option<ForeignFolder>,
    folder_modseq: u64,
    merged: Option<&Merged>,
    now: i64,
) -> Result<bool, StoreError> {
    let Some(mut state) = tx.sync_state(k)? else {
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
    let mut held = tx.held(k, Generation::Current)?;
    let log = StoreLog::of(tx, k.account, k.folder, at);
    Ok(!round::serve(&log, k.folder, &mut state, &mut held, 1, now)?.is_empty())
}

/// Whether no merged folder moved past the state's position in it.
fn merged_caught_up(
    tx: &impl Reader,
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
    tx: &impl Reader,
    k: StateKey,
    at: Option<ForeignFolder>,
    mut state: CollectionState,
    mut held: Held,
    filter: FilterType,
    now: i64,
) -> Result<usize, StoreError> {
    change_filter(&mut state, filter);
    let log = StoreLog::of(tx, k.account, k.folder, at);
    Ok(round::serve(&log, k.folder, &mut state, &mut held, usize::MAX, now)?.len())
}
