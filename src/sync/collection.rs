//! Content sync of one collection for one device ([MS-ASCMD] 2.2.1.21 Sync).
//!
//! The device's state is the key it holds, how far into the folder's change log it has been
//! served (`modseq`), the filter window in force, and the set of items it holds. Server
//! changes are found by scanning the log from `modseq`; the held set decides Add vs Change,
//! and which deletions concern the device at all. The previous state is kept too: a client
//! whose answer was lost sends the previous key again and is answered from it — the same
//! items again, its own changes not echoed, its Adds mapped to the same items, nothing
//! lost, nothing doubled.
//!
//! A collection may also carry the items of other folders, converted to its class (a
//! device's tasks as events in its calendar): the state then keeps a position in each of
//! those folders' logs too ([`Merged`]), and the same scan reads them after the
//! collection's own log.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::store::items::{ItemReads, LogKind};
use crate::store::model::MailItem;
use crate::store::model::{AccountId, FolderId};
use crate::store::model::{GroupwareItem, Summary};
use crate::store::ops::{Reads, Tx};
use crate::store::tables::{self, SYNC_HELD, SYNC_STATE};
use crate::store::{StoreError, WriteCtx};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CollectionState {
    pub key: u64,
    /// Every log entry up to here has been dealt with for this device.
    pub modseq: u64,
    /// FilterType in force (0 = everything).
    pub filter: u8,
    /// After a filter change the log is scanned again from 0; entries up to here were
    /// already served, so an item the device holds is not sent again as a Change.
    #[serde(default)]
    pub rescan_until: u64,
    /// (item, modseq) of changes this device made itself: not sent back to it.
    #[serde(default)]
    pub own: Vec<(u64, u64)>,
    pub previous: Option<Previous>,
    /// Other folders whose items this collection carries, and the positions in their logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged: Option<Merged>,
    /// (ClientId, item) of the items the device added in the round that made `key`: a
    /// resend of that round (the previous key) is answered with the same items.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub added: Vec<(String, u64)>,
    /// (position of the command in that round, ClientId, MIME part) of the attachments
    /// the device added to drafts: a resend gets the same FileReferences.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attached: Vec<(u32, String, u32)>,
    /// (position of the command, Status) of the draft Changes that round refused: a
    /// resend gets them again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<(u32, u8)>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Previous {
    pub key: u64,
    pub modseq: u64,
    pub filter: u8,
    #[serde(default)]
    pub rescan_until: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged: Option<Merged>,
}

/// What a collection carries other than its folder's own items: from other folders, each
/// source folder, its conversion, and how far into its log the device has been served; or
/// none of its own groupware items (a groupware folder shown as a mail folder, a notes
/// folder whose notes the device gets as events or tasks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Merged {
    pub sources: Vec<Source>,
    /// The folder's own calendar, contact, task or note items are not carried (nor can the
    /// device add any): it is shown as a mail folder (`groupware_folders=all-as-mail`, for
    /// clients that only do mail), or it is a notes folder whose notes the device gets
    /// elsewhere, as events or tasks (`notes_as=events|tasks`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub withholds_own: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub folder: FolderId,
    pub what: Merge,
    pub at: u64,
}

/// A conversion of other folders' items into a collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Merge {
    /// Tasks as all-day events in a calendar; with `not_completed`, only the open ones.
    TasksAsEvents { not_completed: bool },
    /// Notes as all-day events in a calendar.
    NotesAsEvents,
    /// Notes as tasks in a task folder.
    NotesAsTasks,
}

impl Merge {
    /// Whether an item of a source folder is carried: of the source's class, and, for
    /// tasks limited to the open ones, not complete.
    fn admits(self, summary: &Summary) -> bool {
        match (self, summary) {
            (Merge::TasksAsEvents { not_completed }, Summary::Task(t)) => {
                !(not_completed && t.complete)
            }
            (Merge::NotesAsEvents | Merge::NotesAsTasks, Summary::Note(_)) => true,
            _ => false,
        }
    }
}

impl Merged {
    /// Nothing served yet from these (folder, conversion) sources; `None` when there are
    /// none.
    pub fn new(sources: impl IntoIterator<Item = (FolderId, Merge)>) -> Option<Self> {
        let sources: Vec<Source> = sources
            .into_iter()
            .map(|(folder, what)| Source {
                folder,
                what,
                at: 0,
            })
            .collect();
        (!sources.is_empty()).then_some(Merged {
            sources,
            withholds_own: false,
        })
    }

    /// A folder that carries none of its own groupware items (see `withholds_own`).
    pub fn withholding_own() -> Self {
        Merged {
            sources: Vec::new(),
            withholds_own: true,
        }
    }

    /// Whether a state with this carries none of its folder's own groupware items.
    pub fn withholds_own(merged: Option<&Merged>) -> bool {
        merged.is_some_and(|m| m.withholds_own)
    }

    /// Whether two states merge the same items (the positions aside).
    pub fn same(a: Option<&Merged>, b: Option<&Merged>) -> bool {
        let kinds = |m: Option<&Merged>| -> Vec<(FolderId, Merge)> {
            m.iter()
                .flat_map(|m| m.sources.iter().map(|s| (s.folder, s.what)))
                .collect()
        };
        kinds(a) == kinds(b) && Merged::withholds_own(a) == Merged::withholds_own(b)
    }

    /// The conversion of source folder `folder`, when it is one.
    pub fn of(merged: Option<&Merged>, folder: FolderId) -> Option<Merge> {
        merged?
            .sources
            .iter()
            .find(|s| s.folder == folder)
            .map(|s| s.what)
    }

    /// The source folders.
    pub fn folders(&self) -> impl Iterator<Item = FolderId> + '_ {
        self.sources.iter().map(|s| s.folder)
    }
}

/// An item as a collection carries it.
#[derive(Debug, Clone)]
pub enum SyncItem {
    /// Boxed: a message's metadata is several times the size of the other variants.
    Mail(Box<MailItem>),
    /// A calendar, contact, task or note item of the collection's own folder.
    Groupware(GroupwareItem),
    /// An item of another folder, converted (a task as an event).
    Merged(GroupwareItem, Merge),
}

impl SyncItem {
    pub fn folder(&self) -> FolderId {
        match self {
            SyncItem::Mail(m) => m.folder,
            SyncItem::Groupware(g) | SyncItem::Merged(g, _) => g.folder,
        }
    }

    pub fn id(&self) -> u64 {
        match self {
            SyncItem::Mail(m) => m.id,
            SyncItem::Groupware(g) | SyncItem::Merged(g, _) => g.id,
        }
    }

    /// The date a FilterType window is measured against (what the held set records):
    /// DateReceived of mail, the end of an event; `i64::MAX` (never ages out) for the rest.
    pub fn window_date(&self) -> i64 {
        match self {
            SyncItem::Mail(m) => m.meta.received,
            SyncItem::Groupware(GroupwareItem {
                summary: Summary::Calendar(c),
                ..
            }) => c.until(),
            SyncItem::Groupware(_) | SyncItem::Merged(..) => i64::MAX,
        }
    }

    /// Whether the item is inside the collection's FilterType `filter` ([MS-ASCMD]
    /// 2.2.3.71.2): mail by DateReceived and events by their end within the date window
    /// (`cutoff`); 8 is incomplete tasks only; contacts and notes have no filter. A merged
    /// item is in when its conversion admits it.
    fn in_window(&self, filter: u8, cutoff: Option<i64>) -> bool {
        let dated = || cutoff.is_none_or(|c| self.window_date() >= c);
        match self {
            SyncItem::Mail(_) => dated(),
            SyncItem::Groupware(g) => match &g.summary {
                Summary::Calendar(_) => dated(),
                Summary::Task(t) => filter != 8 || !t.complete,
                Summary::Contact | Summary::Note(_) => true,
            },
            SyncItem::Merged(g, what) => what.admits(&g.summary),
        }
    }
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

/// Items the device holds: id → DateReceived (for the filter window's moving edge).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Held(pub BTreeMap<u64, i64>);

impl Held {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.0.len() * 16);
        for (id, received) in &self.0 {
            out.extend_from_slice(&id.to_le_bytes());
            out.extend_from_slice(&received.to_le_bytes());
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StoreError> {
        if !bytes.len().is_multiple_of(16) {
            return Err(StoreError::Corrupt {
                table: "sync_held",
                detail: format!("{} bytes is not a multiple of 16", bytes.len()),
            });
        }
        Ok(Held(
            bytes
                .chunks_exact(16)
                .map(|c| {
                    let (id, received) = c.split_at(8);
                    (
                        u64::from_le_bytes(id.try_into().expect("8 bytes")),
                        i64::from_le_bytes(received.try_into().expect("8 bytes")),
                    )
                })
                .collect(),
        ))
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

/// The oldest DateReceived inside FilterType `filter` at time `now` ([MS-ASCMD] 2.2.3.71.2).
pub fn filter_cutoff(filter: u8, now: i64) -> Option<i64> {
    const DAY: i64 = 86_400;
    let days = match filter {
        1 => 1,
        2 => 3,
        3 => 7,
        4 => 14,
        5 => 31,
        6 => 92,
        7 => 183,
        _ => return None,
    };
    Some(now - days * DAY)
}

/// Server changes for the device, in the order they are sent.
#[derive(Debug, Default)]
pub struct ServerChanges {
    pub adds: Vec<SyncItem>,
    pub changes: Vec<SyncItem>,
    /// (folder, item): a merged item's ServerId names its own folder.
    pub deletes: Vec<(FolderId, u64)>,
    /// Items of the collection's own folder that left the FilterType window.
    pub soft_deletes: Vec<u64>,
    pub more_available: bool,
}

impl ServerChanges {
    pub fn len(&self) -> usize {
        self.adds.len() + self.changes.len() + self.deletes.len() + self.soft_deletes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Advances `state` and `held` by up to `window` server changes. Works on a read
/// transaction (to see whether anything is due) and on the write transaction that then
/// records the new state.
pub fn collect_changes(
    tx: &impl Tx,
    k: StateKey,
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
    // The collection's own log, then each merged folder's, each from its position.
    let sources: Vec<(FolderId, Option<Merge>)> = std::iter::once((k.folder, None))
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
            let entries = tx.log_since(k.account, folder, position(state, source), 256)?;
            if entries.is_empty() {
                break;
            }
            for e in entries {
                if out.len() >= window {
                    out.more_available = true;
                    break 'scan;
                }
                set_position(state, source, e.modseq);
                if merge.is_none() && own.contains(&(e.item, e.modseq)) {
                    continue;
                }
                match e.kind {
                    LogKind::Delete => {
                        if held.0.remove(&e.item).is_some() {
                            out.deletes.push((folder, e.item));
                        }
                    }
                    LogKind::Upsert => {
                        let item = read_item(tx, k.account, folder, e.item, merge)?
                            .filter(|i| !withheld || matches!(i, SyncItem::Mail(_)));
                        let Some(item) = item else {
                            continue;
                        };
                        let in_window = item.in_window(state.filter, cutoff);
                        let holds = held.0.contains_key(&e.item);
                        match (holds, in_window) {
                            (true, true) if merge.is_none() && e.modseq <= state.rescan_until => {}
                            (true, true) => out.changes.push(item),
                            (false, true) => {
                                held.0.insert(e.item, item.window_date());
                                out.adds.push(item);
                            }
                            // A merged item its conversion no longer admits (a task now
                            // complete) is gone from the collection, not out of a window.
                            (true, false) if merge.is_some() => {
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

/// Switches the state to a new FilterType: the log is read again from the start, so items
/// entering the window are added and held items leaving it are soft-deleted.
pub fn change_filter(state: &mut CollectionState, filter: u8) {
    if state.filter != filter {
        state.filter = filter;
        state.rescan_until = state.rescan_until.max(state.modseq);
        state.modseq = 0;
    }
}

/// Whether item `id`, whose last change is at `modseq`, changed on the server after the
/// device was last served it: the change lies beyond every log entry this state has dealt
/// with (after a filter change, the entries up to `rescan_until` were served before) and
/// is not the device's own. A client Change of such an item is a conflict
/// ([MS-ASCMD] 2.2.3.34).
pub fn changed_since_served(state: &CollectionState, id: u64, modseq: u64) -> bool {
    modseq > state.modseq.max(state.rescan_until) && !state.own.contains(&(id, modseq))
}

/// How a client's SyncKey relates to the stored state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMatch {
    Current,
    /// The previous key: the answer to it was lost.
    Previous,
    Unknown,
}

pub fn match_key(state: Option<&CollectionState>, key: u64) -> KeyMatch {
    match state {
        Some(s) if s.key == key => KeyMatch::Current,
        Some(s) if s.previous.as_ref().is_some_and(|p| p.key == key) => KeyMatch::Previous,
        _ => KeyMatch::Unknown,
    }
}

/// The state a resent previous key is answered from: the previous position, the current
/// record of own changes (those of the lost round must still not be echoed).
pub fn rewind(state: &CollectionState) -> Option<CollectionState> {
    let p = state.previous.as_ref()?;
    Some(CollectionState {
        key: p.key,
        modseq: p.modseq,
        filter: p.filter,
        rescan_until: p.rescan_until,
        own: state.own.clone(),
        previous: state.previous.clone(),
        merged: p.merged.clone(),
        added: Vec::new(),
        attached: Vec::new(),
        refused: Vec::new(),
    })
}

/// Forgets own changes that no future scan can reach: those at or below both the current
/// and the previous position (the previous one may be rescanned after a lost answer).
pub fn prune_own(state: &mut CollectionState) {
    let floor = state
        .previous
        .as_ref()
        .map_or(state.modseq, |p| p.modseq.min(state.modseq));
    state.own.retain(|(_, m)| *m > floor);
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
    if folder_modseq <= state.modseq && state.filter == 0 && merged_caught_up(tx, k, &state)? {
        return Ok(false);
    }
    let mut held = load_held(tx, k, 0)?;
    Ok(!collect_changes(tx, k, &mut state, &mut held, 1, now)?.is_empty())
}

/// Sends a merged item the device changed or deleted back to it as the server has it: the
/// device cannot change an item of another folder through this collection (the event of
/// a task), so its copy is put right (Add again after a Delete, Change after a Change;
/// Delete when the item is gone meanwhile).
pub fn resend_merged(
    tx: &impl Tx,
    k: StateKey,
    state: &CollectionState,
    held: &mut Held,
    (folder, id): (FolderId, u64),
    deleted: bool,
    out: &mut ServerChanges,
) -> Result<(), StoreError> {
    let Some(what) = Merged::of(state.merged.as_ref(), folder) else {
        return Ok(());
    };
    if deleted {
        held.0.remove(&id);
    }
    let item = read_item(tx, k.account, folder, id, Some(what))?
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

/// The first key of a new state: random, so keys of a forgotten state cannot match.
pub fn fresh_key() -> u64 {
    u64::from(rand::random::<u32>()) + 1
}

/// Counts what the following Syncs would deliver from `state` in FilterType `filter`
/// ([MS-ASCMD] 2.2.1.9 GetItemEstimate), without changing anything.
pub fn estimate(
    tx: &impl Tx,
    k: StateKey,
    mut state: CollectionState,
    mut held: Held,
    filter: u8,
    now: i64,
) -> Result<usize, StoreError> {
    change_filter(&mut state, filter);
    Ok(collect_changes(tx, k, &mut state, &mut held, usize::MAX, now)?.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_round_trips_and_rejects_garbage() {
        let h = Held([(1, 100), (u64::MAX, -5)].into_iter().collect());
        assert_eq!(Held::from_bytes(&h.to_bytes()).unwrap(), h);
        assert!(Held::from_bytes(&[0; 15]).is_err());
    }

    #[test]
    fn filter_cutoffs() {
        assert_eq!(filter_cutoff(0, 1_000_000), None);
        assert_eq!(filter_cutoff(1, 1_000_000), Some(1_000_000 - 86_400));
        assert_eq!(
            filter_cutoff(7, 100_000_000),
            Some(100_000_000 - 183 * 86_400)
        );
        assert_eq!(filter_cutoff(8, 1), None);
    }

    #[test]
    fn changed_since_served_is_beyond_the_position_and_not_own() {
        let mut s = CollectionState {
            modseq: 10,
            own: vec![(7, 12)],
            ..CollectionState::default()
        };
        assert!(!changed_since_served(&s, 5, 10), "served");
        assert!(changed_since_served(&s, 5, 11), "changed since");
        assert!(!changed_since_served(&s, 7, 12), "the device's own change");
        // After a filter change the log is read again from 0; what was served stays served.
        change_filter(&mut s, 3);
        assert!(!changed_since_served(&s, 5, 10));
        assert!(changed_since_served(&s, 5, 11));
    }

    #[test]
    fn older_states_load_and_merged_states_compare_without_positions() {
        let old = r#"{"key":7,"modseq":3,"filter":0,"previous":{"key":6,"modseq":2,"filter":0}}"#;
        let s: CollectionState = serde_json::from_str(old).expect("an older state loads");
        assert_eq!((&s.merged, s.added.len()), (&None, 0));
        assert!(Merged::same(s.merged.as_ref(), None));
        let all = Merge::TasksAsEvents {
            not_completed: false,
        };
        let open = Merge::TasksAsEvents {
            not_completed: true,
        };
        let merged = |sources: &[(FolderId, Merge)]| Merged::new(sources.iter().copied());
        let mut served = merged(&[(3, all), (9, all)]).expect("sources");
        served.sources[0].at = 40;
        let same = |other: Option<Merged>| Merged::same(Some(&served), other.as_ref());
        assert!(same(merged(&[(3, all), (9, all)])));
        assert!(!same(merged(&[(3, open), (9, open)])));
        assert!(!same(merged(&[(3, all)])));
        assert!(!same(merged(&[(3, all), (9, Merge::NotesAsEvents)])));
        assert!(!same(None));
        assert!(merged(&[]).is_none());
    }

    #[test]
    fn keys_match_current_previous_or_nothing() {
        let s = CollectionState {
            key: 7,
            previous: Some(Previous {
                key: 6,
                ..Previous::default()
            }),
            ..CollectionState::default()
        };
        assert_eq!(match_key(Some(&s), 7), KeyMatch::Current);
        assert_eq!(match_key(Some(&s), 6), KeyMatch::Previous);
        assert_eq!(match_key(Some(&s), 5), KeyMatch::Unknown);
        assert_eq!(match_key(None, 7), KeyMatch::Unknown);
        assert_eq!(rewind(&s).unwrap().key, 6);
    }
}
