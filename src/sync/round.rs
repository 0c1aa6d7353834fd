//! One Sync round of one collection ([MS-ASCMD] 2.2.1.21), as decisions over state: which
//! position the client's SyncKey is answered from, which server changes the device is sent
//! (a window of them at most), and the state the round leaves behind. No store, no network:
//! what the store holds comes in through [`Log`], so a round runs as well over an
//! in-memory log (the tests below) as over a transaction ([`super::stored::StoreLog`]).
//!
//! The Sync command reads the stored state, asks [`begin`] where to answer from, applies
//! the client's commands, asks [`serve`] what to send, and records what [`conclude`] says.

use std::collections::HashSet;

use crate::proto::filter::FilterType;
use crate::proto::ids::IssuedSyncKey;
use crate::proto::ids::ItemRef;
use crate::store::StoreError;
use crate::store::items::{LogEntry, LogKind};
use crate::store::model::FolderId;
use crate::store::model::{CollectionState, Held, Merge, Merged, Previous};
use crate::store::sync_state::Generation;
use crate::sync::collection::{
    KeyMatch, ServerChanges, SyncItem, change_filter, filter_cutoff, match_key, prune_own, rewind,
};

/// What a round reads of the store: folders' change logs and the items they name.
pub trait Log {
    /// Entries of `folder`'s change log after `after`, oldest first, at most `limit`.
    fn since(
        &self,
        folder: FolderId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<LogEntry>, StoreError>;

    /// Item `id` of `folder` as the collection carries it: converted when `merge` names the
    /// conversion of a source folder.
    fn item(
        &self,
        folder: FolderId,
        id: u64,
        merge: Option<Merge>,
    ) -> Result<Option<SyncItem>, StoreError>;
}

/// The item a client command names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// An item of the collection's own folder.
    Own(u64),
    /// An item of a folder merged into the collection: (folder, item, its conversion).
    Merged(FolderId, u64, Merge),
    /// Nothing the collection carries (Status 8).
    Unknown,
}

/// What ServerId `server_id` names in collection `collection`, which carries `merged`.
/// The collection's own items carried converted (notes as mail) are the read-only kind.
pub fn target(server_id: &str, collection: FolderId, merged: Option<&Merged>) -> Target {
    let Some(r) = ItemRef::parse(server_id) else {
        return Target::Unknown;
    };
    match Merged::conversion(merged, collection, r.folder) {
        Some(what) => Target::Merged(r.folder, r.item, what),
        None if r.folder == collection => Target::Own(r.item),
        None => Target::Unknown,
    }
}

/// Where a round starts.
#[derive(Debug, PartialEq)]
pub struct Start {
    /// The state the round works on: the stored one, or rewound to the previous one for a
    /// resent key; in the FilterType of the request; with nothing added in this round yet.
    pub state: CollectionState,
    /// The held set that goes with `state`.
    pub held: Generation,
    /// What becomes the previous state when the round moves the key on.
    pub previous: Option<Previous>,
    /// The client sent the previous key again: the answer to it was lost, and this round
    /// answers it again (the same items, the same Adds).
    pub resent: bool,
    /// The request changes the FilterType: the round moves the key on even if it sends
    /// nothing.
    pub filter_changed: bool,
}

/// Where a round for client key `key` starts from the `stored` state; `None` (Status 3, the
/// device starts again from key 0) when the key is neither the current nor the previous
/// one, or the state was made under other settings than `merged` (tasks as events turned
/// on or off, another calendar chosen): its held set and positions describe another
/// collection.
pub fn begin(
    stored: &CollectionState,
    key: IssuedSyncKey,
    merged: Option<&Merged>,
    filter: FilterType,
) -> Option<Start> {
    if !Merged::same(stored.merged.as_ref(), merged) {
        return None;
    }
    let (mut state, held, previous) = match match_key(Some(stored), key) {
        KeyMatch::Unknown => return None,
        KeyMatch::Current => {
            let previous = Previous {
                key: stored.key,
                modseq: stored.modseq,
                filter: stored.filter,
                rescan_until: stored.rescan_until,
                merged: stored.merged.clone(),
            };
            (stored.clone(), Generation::Current, Some(previous))
        }
        KeyMatch::Previous => (
            rewind(stored)?,
            Generation::Previous,
            stored.previous.clone(),
        ),
    };
    let filter_changed = state.filter != filter;
    change_filter(&mut state, filter);
    state.added.clear();
    state.attached.clear();
    state.refused.clear();
    Some(Start {
        state,
        held,
        previous,
        resent: held == Generation::Previous,
        filter_changed,
    })
}

/// The state a round leaves: `None` when it changed nothing (no client commands, nothing
/// sent, the same FilterType, not a resend), so the device keeps its key and nothing is
/// written; else `state` under the next key, with `previous` to answer a resend from.
/// `stored_key`: the stored state's key; `moved`: whether the round did any of the above.
pub fn conclude(
    stored_key: IssuedSyncKey,
    mut state: CollectionState,
    previous: Option<Previous>,
    moved: bool,
) -> Option<CollectionState> {
    if !moved {
        return None;
    }
    state.key = stored_key.next();
    state.previous = previous;
    prune_own(&mut state);
    Some(state)
}

/// The server changes the device is sent from `state`, at most `window` of them (with
/// MoreAvailable when more are due), advancing `state` and `held` past them: items aged out
/// of the FilterType window first (SoftDelete), then the collection's own log, then each
/// merged folder's. The device's own changes are passed over, not echoed. `log` is a read
/// transaction (to see whether anything is due) or the write transaction that then records
/// the new state.
pub fn serve(
    log: &impl Log,
    collection: FolderId,
    state: &mut CollectionState,
    held: &mut Held,
    window: usize,
    now: i64,
) -> Result<ServerChanges, StoreError> {
    let mut out = ServerChanges::default();
    let cutoff = filter_cutoff(state.filter, now);
    // Items that aged out of the window since the last sync leave as SoftDelete.
    if let Some(c) = cutoff {
        let aged: Vec<u64> = held
            .0
            .iter()
            .filter(|(_, r)| **r < c)
            .map(|(id, _)| *id)
            .collect();
        for id in aged {
            if out.len() >= window {
                out.more_available = true;
                return Ok(out);
            }
            held.0.remove(&id);
            out.soft_deletes.push(id);
        }
    }
    // The collection's own log (its items converted when it carries them so), then each
    // merged folder's, each from its position.
    let own_as = Merged::own_as(state.merged.as_ref());
    let sources: Vec<(FolderId, Option<Merge>)> = std::iter::once((collection, own_as))
        .chain(
            state
                .merged
                .iter()
                .flat_map(|m| m.sources.iter().map(|s| (s.folder, Some(s.what)))),
        )
        .collect();
    let withheld = Merged::withholds_own(state.merged.as_ref());
    // Looked up once per log entry: a set, so a long list of own changes (a round of many
    // client commands) does not make the scan quadratic.
    let own: HashSet<(u64, u64)> = state.own.iter().copied().collect();
    'scan: for (source, (folder, merge)) in sources.into_iter().enumerate() {
        loop {
            let entries = log.since(folder, position(state, source), 256)?;
            if entries.is_empty() {
                break;
            }
            for e in entries {
                if out.len() >= window {
                    out.more_available = true;
                    break 'scan;
                }
                set_position(state, source, e.modseq);
                // Source 0 is the collection's own folder, the one the device changes, that
                // a filter change rescans and whose items leave by SoftDelete.
                let own_folder = source == 0;
                if own_folder && own.contains(&(e.item, e.modseq)) {
                    continue;
                }
                match e.kind {
                    LogKind::Delete => {
                        if held.0.remove(&e.item).is_some() {
                            out.deletes.push((folder, e.item));
                        }
                    }
                    LogKind::Upsert => {
                        let item = log
                            .item(folder, e.item, merge)?
                            .filter(|i| !withheld || !matches!(i, SyncItem::Groupware(_)));
                        let Some(item) = item else {
                            continue;
                        };
                        let in_window = item.in_window(state.filter, cutoff);
                        let holds = held.0.contains_key(&e.item);
                        match (holds, in_window) {
                            (true, true) if own_folder && e.modseq <= state.rescan_until => {}
                            (true, true) => out.changes.push(item),
                            (false, true) => {
                                held.0.insert(e.item, item.window_date());
                                out.adds.push(item);
                            }
                            // A merged item its conversion no longer admits (a task now
                            // complete) is gone from the collection, not out of a window.
                            (true, false) if !own_folder => {
                                held.0.remove(&e.item);
                                out.deletes.push((folder, e.item));
                            }
                            (true, false) => {
                                held.0.remove(&e.item);
                                out.soft_deletes.push(e.item);
                            }
                            (false, false) => {}
                        }
                    }
                }
            }
        }
    }
    if state.modseq >= state.rescan_until {
        state.rescan_until = 0;
    }
    Ok(out)
}

/// How far into source `i`'s log the state is: 0 is the collection's own folder, 1.. the
/// merged folders in order.
fn position(state: &CollectionState, i: usize) -> u64 {
    match i.checked_sub(1) {
        None => state.modseq,
        Some(j) => state
            .merged
            .as_ref()
            .and_then(|m| m.sources.get(j))
            .map_or(u64::MAX, |s| s.at),
    }
}

fn set_position(state: &mut CollectionState, i: usize, modseq: u64) {
    match i.checked_sub(1) {
        None => state.modseq = modseq,
        Some(j) => {
            if let Some(s) = state.merged.as_mut().and_then(|m| m.sources.get_mut(j)) {
                s.at = modseq;
            }
        }
    }
}

/// Sends an item the device changed or deleted but may not back to it as the server has
/// it: an item of another folder merged into this collection (the event of a task), or an
/// item of a shared folder the reader has no right to change or delete. The device's copy
/// is put right (Add again after a Delete, Change after a Change; Delete when the item is
/// gone meanwhile).
pub fn resend_refused(
    log: &impl Log,
    collection: FolderId,
    state: &CollectionState,
    held: &mut Held,
    (folder, id): (FolderId, u64),
    deleted: bool,
    out: &mut ServerChanges,
) -> Result<(), StoreError> {
    let what = match Merged::conversion(state.merged.as_ref(), collection, folder) {
        Some(what) => Some(what),
        None if folder == collection => None,
        None => return Ok(()),
    };
    if deleted {
        held.0.remove(&id);
    }
    let item = log
        .item(folder, id, what)?
        .filter(|i| i.in_window(state.filter, None));
    match (item, held.0.contains_key(&id)) {
        (Some(i), true) => out.changes.push(i),
        (Some(i), false) => {
            held.0.insert(id, i.window_date());
            out.adds.push(i);
        }
        (None, true) => {
            held.0.remove(&id);
            out.deletes.push((folder, id));
        }
        (None, false) => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u64) -> IssuedSyncKey {
        IssuedSyncKey::new(n.try_into().unwrap())
    }
    use crate::store::model::{GroupwareItem, Summary};

    const FOLDER: FolderId = 4;

    /// A folder's change log in memory; an item exists while its last entry is an Upsert.
    #[derive(Default)]
    struct Memory(Vec<(FolderId, LogEntry)>);

    impl Memory {
        fn push(&mut self, item: u64, kind: LogKind) -> u64 {
            let modseq = self.0.len() as u64 + 1;
            self.0.push((FOLDER, LogEntry { modseq, item, kind }));
            modseq
        }

        fn upserts(n: u64) -> Self {
            let mut log = Memory::default();
            for item in 1..=n {
                log.push(item, LogKind::Upsert);
            }
            log
        }
    }

    impl Log for Memory {
        fn since(
            &self,
            folder: FolderId,
            after: u64,
            limit: usize,
        ) -> Result<Vec<LogEntry>, StoreError> {
            Ok((self.0.iter())
                .filter(|(f, e)| *f == folder && e.modseq > after)
                .map(|(_, e)| *e)
                .take(limit)
                .collect())
        }

        fn item(
            &self,
            folder: FolderId,
            id: u64,
            _: Option<Merge>,
        ) -> Result<Option<SyncItem>, StoreError> {
            let last = (self.0.iter()).rfind(|(f, e)| *f == folder && e.item == id);
            Ok(last
                .filter(|(_, e)| e.kind == LogKind::Upsert)
                .map(|(_, e)| {
                    SyncItem::Groupware(GroupwareItem {
                        id,
                        folder,
                        record: crate::store::model::pim::Record::Contact(Box::default()),
                        summary: Summary::Contact,
                        created: 0,
                        modified: None,
                        modseq: e.modseq,
                    })
                }))
        }
    }

    fn ids(items: &[SyncItem]) -> Vec<u64> {
        items.iter().map(SyncItem::id).collect()
    }

    fn served(
        log: &Memory,
        state: &mut CollectionState,
        held: &mut Held,
        window: usize,
    ) -> ServerChanges {
        serve(log, FOLDER, state, held, window, 0).expect("an in-memory log")
    }

    #[test]
    fn at_most_a_window_is_sent_and_more_is_announced() {
        let log = Memory::upserts(5);
        let (mut state, mut held) = (CollectionState::default(), Held::default());
        let first = served(&log, &mut state, &mut held, 2);
        assert_eq!((ids(&first.adds), first.more_available), (vec![1, 2], true));
        let second = served(&log, &mut state, &mut held, 2);
        assert_eq!(
            (ids(&second.adds), second.more_available),
            (vec![3, 4], true)
        );
        let last = served(&log, &mut state, &mut held, 2);
        assert_eq!((ids(&last.adds), last.more_available), (vec![5], false));
        assert!(served(&log, &mut state, &mut held, 2).is_empty());
        assert_eq!(held.0.keys().copied().collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
        assert_eq!(state.modseq, 5);
    }

    #[test]
    fn the_devices_own_changes_are_not_echoed() {
        let mut log = Memory::upserts(3);
        let mut state = CollectionState {
            own: vec![(2, 2)],
            ..CollectionState::default()
        };
        let mut held = Held::default();
        let out = served(&log, &mut state, &mut held, 10);
        assert_eq!(ids(&out.adds), [1, 3]);
        assert_eq!(
            state.modseq, 3,
            "the own change is passed over, not stopped at"
        );
        // Later: the server changes 1 and deletes 2, which the device does not hold.
        log.push(1, LogKind::Upsert);
        log.push(2, LogKind::Delete);
        let out = served(&log, &mut state, &mut held, 10);
        assert_eq!((ids(&out.changes), &out.deletes[..]), (vec![1], &[][..]));
        log.push(1, LogKind::Delete);
        let out = served(&log, &mut state, &mut held, 10);
        assert_eq!(out.deletes, [(FOLDER, 1)]);
        assert_eq!(held.0.keys().copied().collect::<Vec<_>>(), [3]);
    }

    #[test]
    fn a_resent_key_is_answered_again_from_the_previous_state() {
        let log = Memory::upserts(2);
        let stored = CollectionState {
            key: key(5),
            ..CollectionState::default()
        };
        // The round for key 5: everything is sent, the key moves on to 6.
        let start = begin(&stored, key(5), None, FilterType::All).expect("the current key");
        assert_eq!((start.held, start.resent), (Generation::Current, false));
        let (mut state, mut held) = (start.state, Held::default());
        let sent = served(&log, &mut state, &mut held, 10);
        assert_eq!(ids(&sent.adds), [1, 2]);
        let after = conclude(stored.key, state, start.previous, !sent.is_empty()).expect("moved");
        assert_eq!(after.key, key(6));
        // Its answer is lost: the device sends 5 again and gets the same items, and 6 again.
        let again = begin(&after, key(5), None, FilterType::All).expect("the previous key");
        assert_eq!((again.held, again.resent), (Generation::Previous, true));
        let (mut state, mut held) = (again.state, Held::default());
        let resent = served(&log, &mut state, &mut held, 10);
        assert_eq!(ids(&resent.adds), [1, 2]);
        let replayed = conclude(stored.key, state, again.previous, true).expect("moved");
        assert_eq!((replayed.key, replayed.modseq), (key(6), 2));
        assert_eq!(
            replayed.previous.map(|p| (p.key, p.modseq)),
            Some((key(5), 0))
        );
        // Older keys are unknown: the device starts again from 0.
        assert_eq!(begin(&after, key(4), None, FilterType::All), None);
    }

    #[test]
    fn a_round_that_changes_nothing_keeps_the_key() {
        let stored = CollectionState {
            key: key(9),
            modseq: 3,
            ..CollectionState::default()
        };
        let start = begin(&stored, key(9), None, FilterType::All).expect("the current key");
        assert!(!start.filter_changed);
        assert_eq!(
            conclude(stored.key, start.state, start.previous, false),
            None
        );
        // A new FilterType moves the key on and reads the log again from the start.
        let filtered = begin(&stored, key(9), None, FilterType::OneWeek).expect("the current key");
        assert!(filtered.filter_changed);
        assert_eq!((filtered.state.modseq, filtered.state.rescan_until), (0, 3));
    }

    #[test]
    fn a_state_made_under_other_merge_settings_is_not_continued() {
        let tasks = Merge::TasksAsEvents {
            not_completed: false,
        };
        let stored = CollectionState {
            key: key(2),
            merged: Merged::new([(7, tasks)]),
            ..CollectionState::default()
        };
        assert!(begin(&stored, key(2), stored.merged.as_ref(), FilterType::All).is_some());
        assert_eq!(begin(&stored, key(2), None, FilterType::All), None);
    }

    #[test]
    fn a_server_id_names_an_own_item_a_merged_one_or_nothing() {
        let notes = Merge::NotesAsTasks;
        let merged = Merged::new([(7, notes)]);
        let named = |sid| target(sid, FOLDER, merged.as_ref());
        assert_eq!(named("4:12"), Target::Own(12));
        assert_eq!(named("7:3"), Target::Merged(7, 3, notes));
        assert_eq!(
            named("8:3"),
            Target::Unknown,
            "a folder the collection does not carry"
        );
        assert_eq!(target("7:3", FOLDER, None), Target::Unknown);
        for garbage in ["", "4", "4:x", "4:12:1"] {
            assert_eq!(named(garbage), Target::Unknown, "{garbage}");
        }
        // A folder whose own items are carried as mail: they are read-only, as merged ones.
        let as_mail = Merged::as_mail();
        assert_eq!(
            target("4:12", FOLDER, Some(&as_mail)),
            Target::Merged(FOLDER, 12, Merge::AsMail)
        );
        assert_eq!(target("7:3", FOLDER, Some(&as_mail)), Target::Unknown);
    }
}
