//! Folder-hierarchy sync ([MS-ASCMD] 2.2.1.5 FolderSync): per device, the snapshot of folders
//! it was last told about, diffed against the account's folders now.
//!
//! The previous snapshot is kept with its key: a client whose answer was lost sends the
//! older key again and gets the same changes again (plus anything newer), never a 9 and a
//! full resync.

use std::collections::BTreeMap;

use crate::proto::ids::{IssuedSyncKey, SyncKey};
use crate::store::model::{
    Folder, FolderId, FolderView, HierarchySnapshot, HierarchyState, ROOT_FOLDER,
};

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Parents come before their children.
    pub adds: Vec<(FolderId, FolderView)>,
    pub updates: Vec<(FolderId, FolderView)>,
    /// Only the top of each deleted subtree: the client drops the children with it.
    pub deletes: Vec<FolderId>,
}

impl Changes {
    pub fn len(&self) -> usize {
        self.adds.len() + self.updates.len() + self.deletes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

pub fn snapshot(folders: &[Folder]) -> HierarchySnapshot {
    folders.iter().map(|f| (f.id, f.view())).collect()
}

fn depth(id: FolderId, views: &BTreeMap<FolderId, FolderView>) -> usize {
    let mut d = 0;
    let mut cursor = id;
    while let Some(v) = views.get(&cursor) {
        if v.parent == ROOT_FOLDER || d > views.len() {
            break;
        }
        cursor = v.parent;
        d += 1;
    }
    d
}

pub fn diff(known: &HierarchySnapshot, current: &HierarchySnapshot) -> Changes {
    let mut changes = Changes::default();
    for (id, view) in current {
        match known.get(id) {
            None => changes.adds.push((*id, view.clone())),
            Some(old) if old != view => changes.updates.push((*id, view.clone())),
            Some(_) => {}
        }
    }
    changes.adds.sort_by_key(|(id, _)| depth(*id, current));
    changes.deletes = known
        .iter()
        .filter(|(id, v)| {
            !current.contains_key(id)
                && (v.parent == ROOT_FOLDER
                    || current.contains_key(&v.parent)
                    || !known.contains_key(&v.parent))
        })
        .map(|(id, _)| *id)
        .collect();
    changes
}

/// What a FolderSync answers and what it leaves behind.
#[derive(Debug, PartialEq)]
pub struct Plan {
    pub key: IssuedSyncKey,
    pub changes: Changes,
    /// The state to store; `None` when nothing changed (no commit needed).
    pub save: Option<HierarchyState>,
}

/// Plans the answer to a FolderSync with `key`. `None`: the key is not one this device
/// holds (Status 9). `fresh_key` is the first key of a new state.
pub fn plan(
    state: Option<&HierarchyState>,
    key: SyncKey,
    current: &[Folder],
    fresh_key: IssuedSyncKey,
) -> Option<Plan> {
    let now = snapshot(current);
    match (key, state) {
        (SyncKey::Initial, _) => Some(Plan {
            key: fresh_key,
            changes: diff(&HierarchySnapshot::new(), &now),
            save: Some(HierarchyState {
                key: fresh_key,
                folders: now,
                previous: None,
            }),
        }),
        (SyncKey::Issued(k), Some(s)) if k == s.key => {
            let changes = diff(&s.folders, &now);
            if changes.is_empty() {
                return Some(Plan {
                    key: s.key,
                    changes,
                    save: None,
                });
            }
            let key = s.key.next();
            Some(Plan {
                key,
                changes,
                save: Some(HierarchyState {
                    key,
                    folders: now,
                    previous: Some((s.key, s.folders.clone())),
                }),
            })
        }
        (SyncKey::Issued(k), Some(s)) => {
            let (pk, prev) = s.previous.as_ref().filter(|(pk, _)| *pk == k)?;
            let key = s.key.next();
            Some(Plan {
                key,
                changes: diff(prev, &now),
                save: Some(HierarchyState {
                    key,
                    folders: now,
                    previous: Some((*pk, prev.clone())),
                }),
            })
        }
        _ => None,
    }
}

/// Records a change the device made itself (FolderCreate/Update/Delete): its snapshot
/// learns the change so it is not sent back, and a new key is issued. `None` when `key`
/// is not the device's current key.
pub fn own_change(
    state: Option<HierarchyState>,
    key: SyncKey,
    change: impl FnOnce(&mut HierarchySnapshot),
) -> Option<HierarchyState> {
    let mut s = state.filter(|s| is_current(Some(s), key))?;
    change(&mut s.folders);
    s.key = s.key.next();
    // The older snapshot no longer describes what the client holds.
    s.previous = None;
    Some(s)
}

/// Whether `key` is the device's current hierarchy key (the only one a folder change may
/// carry).
pub fn is_current(state: Option<&HierarchyState>, key: SyncKey) -> bool {
    matches!((key, state), (SyncKey::Issued(k), Some(s)) if k == s.key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::ids::IssuedSyncKey;
    use crate::store::model::FolderType;

    fn folder(id: u64, parent: u64, name: &str) -> Folder {
        Folder {
            id,
            parent,
            name: name.into(),
            kind: FolderType::UserMail,
            special: false,
            modseq: 0,
        }
    }

    fn key(n: u64) -> IssuedSyncKey {
        IssuedSyncKey::new(n.try_into().unwrap())
    }

    fn issued(n: u64) -> SyncKey {
        SyncKey::Issued(key(n))
    }

    #[test]
    fn initial_sends_everything_parents_first() {
        let folders = [
            folder(5, 7, "child"),
            folder(7, 0, "parent"),
            folder(1, 0, "Inbox"),
        ];
        let p = plan(None, SyncKey::Initial, &folders, key(100)).unwrap();
        assert_eq!(p.key, key(100));
        let order: Vec<u64> = p.changes.adds.iter().map(|(id, _)| *id).collect();
        assert_eq!(order, [1, 7, 5]);
    }

    #[test]
    fn no_change_keeps_the_key_and_saves_nothing() {
        let folders = [folder(1, 0, "Inbox")];
        let s = plan(None, SyncKey::Initial, &folders, key(10))
            .unwrap()
            .save
            .unwrap();
        let p = plan(Some(&s), issued(10), &folders, IssuedSyncKey::FIRST).unwrap();
        assert_eq!((p.key, p.changes.len(), p.save), (key(10), 0, None));
    }

    #[test]
    fn changes_then_a_resent_previous_key_repeats_them() {
        let before = [folder(1, 0, "Inbox"), folder(2, 0, "Old")];
        let s = plan(None, SyncKey::Initial, &before, key(10))
            .unwrap()
            .save
            .unwrap();
        let after = [folder(1, 0, "Inbox renamed"), folder(3, 0, "New")];
        let p = plan(Some(&s), issued(10), &after, IssuedSyncKey::FIRST).unwrap();
        assert_eq!(p.key, key(11));
        assert_eq!(p.changes.adds.len(), 1);
        assert_eq!(p.changes.updates.len(), 1);
        assert_eq!(p.changes.deletes, [2]);
        let s2 = p.save.unwrap();
        // The answer was lost: the client sends 10 again.
        let again = plan(Some(&s2), issued(10), &after, IssuedSyncKey::FIRST).unwrap();
        assert_eq!(again.changes, p.changes);
        assert_eq!(again.key, key(12));
        // An unknown key is refused.
        assert!(plan(Some(&s2), issued(99), &after, IssuedSyncKey::FIRST).is_none());
        assert!(plan(None, issued(10), &after, IssuedSyncKey::FIRST).is_none());
        assert!(plan(Some(&s2), SyncKey::Unknown, &after, IssuedSyncKey::FIRST).is_none());
    }

    #[test]
    fn deleting_a_subtree_sends_only_its_top() {
        let before = [folder(1, 0, "A"), folder(2, 1, "B"), folder(3, 2, "C")];
        let known = snapshot(&before);
        let c = diff(&known, &snapshot(&[]));
        assert_eq!(c.deletes, [1]);
    }

    #[test]
    fn own_changes_are_not_echoed() {
        let folders = [folder(1, 0, "Inbox")];
        let s = plan(None, SyncKey::Initial, &folders, key(10))
            .unwrap()
            .save
            .unwrap();
        let created = folder(4, 1, "Mine");
        let s = own_change(Some(s), issued(10), |snap| {
            snap.insert(4, created.view());
        })
        .unwrap();
        assert_eq!(s.key, key(11));
        let now = [folder(1, 0, "Inbox"), created];
        assert!(
            plan(Some(&s), issued(11), &now, IssuedSyncKey::FIRST)
                .unwrap()
                .changes
                .is_empty()
        );
        assert!(own_change(Some(s), issued(10), |_| {}).is_none());
    }
}
