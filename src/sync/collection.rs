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
//!
//! This module holds the state and its pure rules; a round's decisions over it are in
//! [`super::round`], and where it is stored in [`super::stored`].

use crate::proto::filter::FilterType;
use crate::proto::ids::IssuedSyncKey;
use crate::store::model::{
    CollectionState, FolderId, GroupwareItem, MailItem, Merge, Merged, Source, Summary,
};

/// The shortest mail window (FilterType, [MS-ASCMD] 2.2.3.71.2) under which tasks shown as
/// mail are carried: a week.
const TASKS_AS_MAIL_MIN_DAYS: i64 = 7;

impl Merge {
    /// Whether an item of a source folder is carried under the collection's FilterType
    /// `filter`: of the source's class, and, for tasks limited to the open ones, not
    /// complete. As mail, notes always are, and tasks unless the mail window is under a
    /// week (the guide's "GroupWare mail access": a short mail window is for recent mail,
    /// which a task list is not).
    fn admits(self, summary: &Summary, filter: FilterType) -> bool {
        match (self, summary) {
            (Merge::TasksAsEvents { not_completed }, Summary::Task(t)) => {
                !(not_completed && t.complete)
            }
            (Merge::NotesAsEvents | Merge::NotesAsTasks | Merge::AsMail, Summary::Note(_)) => true,
            (Merge::AsMail, Summary::Task(_)) => filter
                .window_days()
                .is_none_or(|d| d >= TASKS_AS_MAIL_MIN_DAYS),
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
            own_as: None,
        })
    }

    /// A folder that carries none of its own groupware items (see `withholds_own`).
    pub fn withholding_own() -> Self {
        Merged {
            sources: Vec::new(),
            withholds_own: true,
            own_as: None,
        }
    }

    /// A notes or tasks folder shown as a mail folder: its own items carried as
    /// generated messages, never as what they are (see `own_as`).
    pub fn as_mail() -> Self {
        Merged {
            own_as: Some(Merge::AsMail),
            ..Merged::withholding_own()
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
        kinds(a) == kinds(b)
            && Merged::withholds_own(a) == Merged::withholds_own(b)
            && Merged::own_as(a) == Merged::own_as(b)
    }

    /// The conversion of source folder `folder`, when it is one.
    pub fn of(merged: Option<&Merged>, folder: FolderId) -> Option<Merge> {
        merged?
            .sources
            .iter()
            .find(|s| s.folder == folder)
            .map(|s| s.what)
    }

    /// The conversion the collection's own items are carried under, when they are.
    pub fn own_as(merged: Option<&Merged>) -> Option<Merge> {
        merged?.own_as
    }

    /// The conversion item `folder` of collection `collection` is carried under: the
    /// collection's own when it is the collection's folder, else its source's.
    pub fn conversion(
        merged: Option<&Merged>,
        collection: FolderId,
        folder: FolderId,
    ) -> Option<Merge> {
        if folder == collection {
            Merged::own_as(merged)
        } else {
            Merged::of(merged, folder)
        }
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

    /// The item as the collection `folder` carries it: a foreign folder's items are named
    /// by the reader's id for the folder, not the owner's.
    pub fn named_in(mut self, folder: FolderId) -> Self {
        match &mut self {
            SyncItem::Mail(m) => m.folder = folder,
            SyncItem::Groupware(g) | SyncItem::Merged(g, _) => g.folder = folder,
        }
        self
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
    /// (`cutoff`); tasks by the incomplete-tasks filter; contacts and notes have no
    /// filter. A merged item is in when its conversion admits it.
    pub(super) fn in_window(&self, filter: FilterType, cutoff: Option<i64>) -> bool {
        let dated = || cutoff.is_none_or(|c| self.window_date() >= c);
        match self {
            SyncItem::Mail(_) => dated(),
            SyncItem::Groupware(g) => match &g.summary {
                Summary::Calendar(_) => dated(),
                Summary::Task(t) => filter != FilterType::IncompleteTasks || !t.complete,
                Summary::Contact | Summary::Note(_) => true,
            },
            SyncItem::Merged(g, what) => what.admits(&g.summary, filter),
        }
    }
}

/// The oldest DateReceived inside FilterType `filter` at time `now` ([MS-ASCMD] 2.2.3.71.2).
pub fn filter_cutoff(filter: FilterType, now: i64) -> Option<i64> {
    const DAY: i64 = 86_400;
    filter.window_days().map(|days| now - days * DAY)
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

/// Switches the state to a new FilterType: the log is read again from the start, so items
/// entering the window are added and held items leaving it are soft-deleted.
pub fn change_filter(state: &mut CollectionState, filter: FilterType) {
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

pub fn match_key(state: Option<&CollectionState>, key: IssuedSyncKey) -> KeyMatch {
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
        supported: state.supported.clone(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::model::Previous;

    fn key(n: u64) -> IssuedSyncKey {
        IssuedSyncKey::new(n.try_into().unwrap())
    }

    #[test]
    fn filter_cutoffs() {
        assert_eq!(filter_cutoff(FilterType::All, 1_000_000), None);
        assert_eq!(
            filter_cutoff(FilterType::OneDay, 1_000_000),
            Some(1_000_000 - 86_400)
        );
        assert_eq!(
            filter_cutoff(FilterType::SixMonths, 100_000_000),
            Some(100_000_000 - 183 * 86_400)
        );
        assert_eq!(filter_cutoff(FilterType::IncompleteTasks, 1), None);
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
        change_filter(&mut s, FilterType::OneWeek);
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
            key: key(7),
            previous: Some(Previous {
                key: key(6),
                ..Previous::default()
            }),
            ..CollectionState::default()
        };
        assert_eq!(match_key(Some(&s), key(7)), KeyMatch::Current);
        assert_eq!(match_key(Some(&s), key(6)), KeyMatch::Previous);
        assert_eq!(match_key(Some(&s), key(5)), KeyMatch::Unknown);
        assert_eq!(match_key(None, key(7)), KeyMatch::Unknown);
        assert_eq!(rewind(&s).unwrap().key, key(6));
    }
}
