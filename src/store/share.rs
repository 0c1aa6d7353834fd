//! Groups, shared folders and public folders, and the ids under which a reader sees a
//! folder of another account.
//!
//! Who may reach which folder: an account reaches its own folders; another account's
//! folder only through a share granted to it (directly or through a group it is a member
//! of) or a public folder, and only under the id [`foreign_id`] gave that folder for that
//! reader. A reader's foreign ids come from its own folder id counter, so they never name
//! one of its own folders, never repeat, and say nothing of the owner's ids; an id from the
//! request that is not in the reader's table reaches nothing.

use std::collections::BTreeMap;

use redb::ReadableTable;

use super::model::*;
use super::ops::{self, Reads};
use super::tables::{self, *};
use super::tx::Tx;
use super::{Event, StoreError, WriteCtx, now};

/// Which kinds of foreign folders a reader is shown (the device's `shared_folders` and
/// `public_folders` settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reach {
    pub shared: bool,
    pub public: bool,
}

impl Reach {
    pub const NONE: Reach = Reach {
        shared: false,
        public: false,
    };

    pub fn any(self) -> bool {
        self.shared || self.public
    }
}

/// Typed reads of the sharing tables, for any transaction.
pub trait ShareReads: Tx {
    fn groups(&self) -> Result<Vec<Group>, StoreError> {
        let mut out = Vec::new();
        for row in self.table(GROUPS)?.iter()? {
            out.push(row?.1.value().decode()?);
        }
        Ok(out)
    }

    fn group_by_name(&self, name: &str) -> Result<Option<Group>, StoreError> {
        let name = name.trim().to_lowercase();
        Ok(self.groups()?.into_iter().find(|g| g.name == name))
    }

    /// Every share, by owner and folder.
    fn shares(&self) -> Result<Vec<Share>, StoreError> {
        let mut out = Vec::new();
        for row in self.table(SHARES)?.iter()? {
            out.push(row?.1.value().decode()?);
        }
        Ok(out)
    }

    fn public_folders(&self) -> Result<Vec<PublicFolder>, StoreError> {
        let mut out = Vec::new();
        for row in self.table(PUBLIC_FOLDERS)?.iter()? {
            out.push(row?.1.value().decode()?);
        }
        Ok(out)
    }

    /// Where the reader's id `id` points, if it is one of its foreign ids.
    fn foreign_folder(
        &self,
        reader: AccountId,
        id: FolderId,
    ) -> Result<Option<ForeignFolder>, StoreError> {
        tables::get(&self.table(FOREIGN_FOLDERS)?, (reader, id))
    }

    /// The reader's id for `owner`'s folder, if it was given one.
    fn foreign_id_of(
        &self,
        reader: AccountId,
        owner: AccountId,
        folder: FolderId,
    ) -> Result<Option<FolderId>, StoreError> {
        Ok(self
            .table(FOREIGN_IDS)?
            .get((reader, owner, folder))?
            .map(|v| v.value()))
    }

    /// The folders of other accounts `reader` may reach under `reach`, with the union of
    /// the rights granted (directly, through groups, as a public folder).
    fn reachable_foreign(
        &self,
        reader: AccountId,
        reach: Reach,
    ) -> Result<BTreeMap<(AccountId, FolderId), Rights>, StoreError> {
        let mut out: BTreeMap<(AccountId, FolderId), Rights> = BTreeMap::new();
        let mut grant = |owner: AccountId, folder: FolderId, rights: Rights| {
            if owner != reader {
                let r = out.entry((owner, folder)).or_insert(rights);
                *r = r.union(rights);
            }
        };
        if reach.shared {
            let shares = self.shares()?;
            // Groups are read only when a share names one.
            let groups = if shares
                .iter()
                .any(|s| matches!(s.grantee, Grantee::Group(_)))
            {
                self.groups()?
            } else {
                Vec::new()
            };
            for s in shares {
                let granted = match s.grantee {
                    Grantee::Account(a) => a == reader,
                    Grantee::Group(g) => groups
                        .iter()
                        .any(|group| group.id == g && group.members.contains(&reader)),
                };
                if granted {
                    grant(s.owner, s.folder, s.rights);
                }
            }
        }
        if reach.public {
            for p in self.public_folders()? {
                grant(p.owner, p.folder, p.rights);
            }
        }
        Ok(out)
    }

    /// The foreign folder behind the reader's id `id` and the rights the reader has there,
    /// or `None` when the id is not one of its foreign ids or nothing grants it any more.
    fn foreign_access(
        &self,
        reader: AccountId,
        id: FolderId,
        reach: Reach,
    ) -> Result<Option<(ForeignFolder, Rights)>, StoreError> {
        if !reach.any() {
            return Ok(None);
        }
        let Some(f) = self.foreign_folder(reader, id)? else {
            return Ok(None);
        };
        Ok(self
            .reachable_foreign(reader, reach)?
            .get(&(f.owner, f.folder))
            .map(|r| (f, *r)))
    }
}

impl<T: Tx> ShareReads for T {}

/// Accounts whose visible hierarchy a change of these shares may change.
fn affected(ctx: &WriteCtx, grantee: Grantee) -> Result<Vec<AccountId>, StoreError> {
    Ok(match grantee {
        Grantee::Account(a) => vec![a],
        Grantee::Group(g) => ctx
            .groups()?
            .into_iter()
            .find(|group| group.id == g)
            .map(|group| group.members.into_iter().collect())
            .unwrap_or_default(),
    })
}

fn publish_hierarchy(ctx: &mut WriteCtx, accounts: impl IntoIterator<Item = AccountId>) {
    for account in accounts {
        ctx.publish(Event::Hierarchy { account });
    }
}

/// Checks a group name: 1-64 printable characters without `@` (so that a grantee given as
/// text is an address exactly when it holds an `@`).
pub fn normalize_group_name(name: &str) -> Result<String, StoreError> {
    let name = name.trim().to_lowercase();
    if name.is_empty()
        || name.chars().count() > 64
        || name.contains('@')
        || name.chars().any(char::is_control)
    {
        return Err(StoreError::Invalid(format!(
            "not a valid group name: {name:?} (1-64 characters, no @)"
        )));
    }
    Ok(name)
}

pub fn create_group(ctx: &mut WriteCtx, name: &str) -> Result<Group, StoreError> {
    let name = normalize_group_name(name)?;
    if ctx.group_by_name(&name)?.is_some() {
        return Err(StoreError::Conflict(format!("group {name} already exists")));
    }
    let group = Group {
        id: ops::next_id(ctx.tx, "next_group_id")?,
        name,
        members: Default::default(),
        created: now(),
        gal_members: false,
    };
    put_group(ctx, &group)?;
    Ok(group)
}

/// Stores a group; its members' hierarchies may change (the folders shared with it).
pub fn put_group(ctx: &mut WriteCtx, group: &Group) -> Result<(), StoreError> {
    ctx.tx
        .open_table(GROUPS)?
        .insert(group.id, tables::Record::of(group))?;
    // Members and the GAL option decide who sees which GAL entry.
    super::directory::bump(ctx.tx)
}

/// Changes a group's members, waking the devices of who joined or left.
pub fn set_members(
    ctx: &mut WriteCtx,
    mut group: Group,
    change: impl FnOnce(&mut std::collections::BTreeSet<AccountId>) -> Option<AccountId>,
) -> Result<Option<AccountId>, StoreError> {
    let changed = change(&mut group.members);
    if let Some(a) = changed {
        put_group(ctx, &group)?;
        publish_hierarchy(ctx, [a]);
    }
    Ok(changed)
}

/// Deletes a group and the shares granted to it.
pub fn delete_group(ctx: &mut WriteCtx, group: &Group) -> Result<(), StoreError> {
    ctx.tx.open_table(GROUPS)?.remove(group.id)?;
    let (kind, id) = Grantee::Group(group.id).key();
    ctx.tx
        .open_table(SHARES)?
        .retain(|k, _| !(k.2 == kind && k.3 == id))?;
    publish_hierarchy(ctx, group.members.iter().copied());
    super::directory::bump(ctx.tx)
}

/// Shares (or re-shares with new rights) a folder.
pub fn put_share(ctx: &mut WriteCtx, share: &Share) -> Result<(), StoreError> {
    let (kind, id) = share.grantee.key();
    ctx.tx.open_table(SHARES)?.insert(
        (share.owner, share.folder, kind, id),
        tables::Record::of(share),
    )?;
    let accounts = affected(ctx, share.grantee)?;
    publish_hierarchy(ctx, accounts);
    // Who reads a folder is who sees it as a GAL source.
    super::directory::bump(ctx.tx)
}

/// Ends a share; `false` when there was none.
pub fn remove_share(
    ctx: &mut WriteCtx,
    owner: AccountId,
    folder: FolderId,
    grantee: Grantee,
) -> Result<bool, StoreError> {
    let (kind, id) = grantee.key();
    let removed = ctx
        .tx
        .open_table(SHARES)?
        .remove((owner, folder, kind, id))?
        .is_some();
    if removed {
        let accounts = affected(ctx, grantee)?;
        publish_hierarchy(ctx, accounts);
        super::directory::bump(ctx.tx)?;
    }
    Ok(removed)
}

/// Every account's hierarchy may change with a public folder (and who sees it as a GAL
/// source).
fn publish_everyone(ctx: &mut WriteCtx) -> Result<(), StoreError> {
    let ids: Vec<AccountId> = ctx.accounts()?.into_iter().map(|a| a.id).collect();
    publish_hierarchy(ctx, ids);
    super::directory::bump(ctx.tx)
}

pub fn put_public(ctx: &mut WriteCtx, public: &PublicFolder) -> Result<(), StoreError> {
    ctx.tx
        .open_table(PUBLIC_FOLDERS)?
        .insert((public.owner, public.folder), tables::Record::of(public))?;
    publish_everyone(ctx)
}

/// Makes a public folder private again; `false` when it was not public.
pub fn remove_public(
    ctx: &mut WriteCtx,
    owner: AccountId,
    folder: FolderId,
) -> Result<bool, StoreError> {
    let removed = ctx
        .tx
        .open_table(PUBLIC_FOLDERS)?
        .remove((owner, folder))?
        .is_some();
    if removed {
        publish_everyone(ctx)?;
    }
    Ok(removed)
}

/// The reader's id for `owner`'s folder, given from the reader's folder id counter the
/// first time (and kept, so the id a device holds stays the same across FolderSyncs and
/// unshare/share again).
pub fn foreign_id(
    ctx: &mut WriteCtx,
    reader: AccountId,
    owner: AccountId,
    folder: FolderId,
) -> Result<FolderId, StoreError> {
    if let Some(id) = ctx.foreign_id_of(reader, owner, folder)? {
        return Ok(id);
    }
    let mut account = ctx
        .account(reader)?
        .ok_or_else(|| StoreError::NotFound("account".into()))?;
    let id = account.next_folder_id;
    account.next_folder_id += 1;
    ops::put_account(ctx, &account)?;
    ctx.tx.open_table(FOREIGN_FOLDERS)?.insert(
        (reader, id),
        tables::Record::of(&ForeignFolder { owner, folder }),
    )?;
    ctx.tx
        .open_table(FOREIGN_IDS)?
        .insert((reader, owner, folder), id)?;
    Ok(id)
}

/// Shares `owner`'s new folder `child` as its parent `parent` is shared: with the same
/// grantees and rights, and public when the parent is: a subfolder a grantee creates in a
/// shared folder is as shared as the folder it is in, so that every grantee who could
/// create it reaches it too, the creator included.
pub fn inherit(
    ctx: &mut WriteCtx,
    owner: AccountId,
    parent: FolderId,
    child: FolderId,
) -> Result<(), StoreError> {
    let created = now();
    let shares: Vec<Share> = ctx
        .shares()?
        .into_iter()
        .filter(|s| s.owner == owner && s.folder == parent)
        .collect();
    for s in shares {
        put_share(
            ctx,
            &Share {
                folder: child,
                created,
                ..s
            },
        )?;
    }
    let public = ctx
        .public_folders()?
        .into_iter()
        .find(|p| p.owner == owner && p.folder == parent);
    if let Some(p) = public {
        put_public(
            ctx,
            &PublicFolder {
                folder: child,
                created,
                ..p
            },
        )?;
    }
    Ok(())
}

/// Forgets the shares and public entries of deleted folders of `owner`. The readers' ids
/// for them stay: the owner never reuses a folder id, so they point at nothing.
pub fn forget_folders(
    ctx: &mut WriteCtx,
    owner: AccountId,
    folders: &[FolderId],
) -> Result<(), StoreError> {
    let doomed: Vec<Share> = ctx
        .shares()?
        .into_iter()
        .filter(|s| s.owner == owner && folders.contains(&s.folder))
        .collect();
    for s in doomed {
        remove_share(ctx, s.owner, s.folder, s.grantee)?;
    }
    for f in folders {
        remove_public(ctx, owner, *f)?;
    }
    Ok(())
}

/// Forgets everything sharing knows of a deleted account: its shares either way, its
/// public folders, its group memberships, its foreign ids and the other readers' ids for
/// its folders.
pub fn forget_account(ctx: &mut WriteCtx, account: AccountId) -> Result<(), StoreError> {
    let (kind, id) = Grantee::Account(account).key();
    ctx.tx
        .open_table(SHARES)?
        .retain(|k, _| k.0 != account && !(k.2 == kind && k.3 == id))?;
    ctx.tx
        .open_table(PUBLIC_FOLDERS)?
        .retain_in((account, 0)..=(account, u64::MAX), |_, _| false)?;
    for mut g in ctx.groups()? {
        if g.members.remove(&account) {
            put_group(ctx, &g)?;
        }
    }
    ctx.tx
        .open_table(FOREIGN_FOLDERS)?
        .retain(|k, v| k.0 != account && v.decode().is_ok_and(|f| f.owner != account))?;
    ctx.tx
        .open_table(FOREIGN_IDS)?
        .retain(|k, _| k.0 != account && k.1 != account)?;
    publish_everyone(ctx)
}

#[cfg(test)]
mod tests {
    use super::super::Store;
    use super::*;

    fn account(store: &Store, email: &'static str) -> AccountId {
        store
            .write_blocking(move |ctx| ops::create_account(ctx, email, "", "hash", false))
            .unwrap()
            .id
    }

    const BOTH: Reach = Reach {
        shared: true,
        public: true,
    };

    #[test]
    fn a_reader_reaches_what_it_is_granted_directly_by_group_or_as_public() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (alice, bob, carol) = (
            account(&store, "alice@example.com"),
            account(&store, "bob@example.com"),
            account(&store, "carol@example.com"),
        );
        const CALENDAR: FolderId = 7;
        const CONTACTS: FolderId = 8;
        store
            .write_blocking(move |ctx| {
                let mut team = create_group(ctx, "Team")?;
                team.members.insert(carol);
                put_group(ctx, &team)?;
                let share = |grantee, rights| Share {
                    owner: alice,
                    folder: CALENDAR,
                    grantee,
                    rights,
                    created: 0,
                };
                put_share(ctx, &share(Grantee::Account(bob), Rights::READ_ONLY))?;
                let write = Rights {
                    write: true,
                    ..Rights::READ_ONLY
                };
                put_share(ctx, &share(Grantee::Group(team.id), write))?;
                put_share(ctx, &share(Grantee::Account(carol), Rights::READ_ONLY))?;
                put_public(
                    ctx,
                    &PublicFolder {
                        owner: bob,
                        folder: CONTACTS,
                        rights: Rights::READ_ONLY,
                        created: 0,
                    },
                )
            })
            .unwrap();
        let snap = store.sync_snapshot().unwrap();
        let bob_sees = snap.reachable_foreign(bob, BOTH).unwrap();
        // Bob's own public folder is his, not a foreign one.
        assert_eq!(
            bob_sees.into_iter().collect::<Vec<_>>(),
            [((alice, CALENDAR), Rights::READ_ONLY)]
        );
        let carol_sees = snap.reachable_foreign(carol, BOTH).unwrap();
        assert!(carol_sees[&(alice, CALENDAR)].write, "the group's right");
        assert!(carol_sees.contains_key(&(bob, CONTACTS)));
        let only_shared = Reach {
            public: false,
            ..BOTH
        };
        assert!(
            !snap
                .reachable_foreign(carol, only_shared)
                .unwrap()
                .contains_key(&(bob, CONTACTS))
        );
        assert!(
            snap.reachable_foreign(alice, Reach::NONE)
                .unwrap()
                .is_empty()
        );
        assert_eq!(snap.groups().unwrap()[0].name, "team");
    }

    #[test]
    fn foreign_ids_are_the_readers_own_stable_and_reach_nothing_once_unshared() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (alice, bob) = (
            account(&store, "alice@example.com"),
            account(&store, "bob@example.com"),
        );
        let (first, again) = store
            .write_blocking(move |ctx| {
                put_share(
                    ctx,
                    &Share {
                        owner: alice,
                        folder: 7,
                        grantee: Grantee::Account(bob),
                        rights: Rights::READ_ONLY,
                        created: 0,
                    },
                )?;
                Ok((
                    foreign_id(ctx, bob, alice, 7)?,
                    foreign_id(ctx, bob, alice, 7)?,
                ))
            })
            .unwrap();
        assert_eq!(first, again);
        let snap = store.sync_snapshot().unwrap();
        // Taken from Bob's counter: past his ten default folders, and the counter moved on.
        assert!(snap.folder(bob, first).unwrap().is_none());
        assert_eq!(first, 11);
        assert_eq!(snap.account(bob).unwrap().unwrap().next_folder_id, 12);
        let (f, rights) = snap.foreign_access(bob, first, BOTH).unwrap().unwrap();
        assert_eq!((f.owner, f.folder, rights), (alice, 7, Rights::READ_ONLY));
        // The owner's own id, and an id of no mapping, reach nothing.
        assert!(snap.foreign_access(bob, 7, BOTH).unwrap().is_none());
        assert!(snap.foreign_access(bob, 12, BOTH).unwrap().is_none());
        // Alice holds no id of Bob's.
        assert!(snap.foreign_access(alice, first, BOTH).unwrap().is_none());
        assert!(
            snap.foreign_access(bob, first, Reach::NONE)
                .unwrap()
                .is_none()
        );
        drop(snap);

        store
            .write_blocking(move |ctx| remove_share(ctx, alice, 7, Grantee::Account(bob)))
            .unwrap();
        let snap = store.sync_snapshot().unwrap();
        assert!(snap.foreign_access(bob, first, BOTH).unwrap().is_none());
        // The id stays Bob's, for the day it is shared again.
        assert!(snap.foreign_folder(bob, first).unwrap().is_some());
    }

    #[test]
    fn deleting_a_folder_or_an_account_ends_its_shares() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (alice, bob) = (
            account(&store, "alice@example.com"),
            account(&store, "bob@example.com"),
        );
        store
            .write_blocking(move |ctx| {
                let f = super::super::folders::create(
                    ctx,
                    alice,
                    ROOT_FOLDER,
                    "Team",
                    FolderType::UserCalendar,
                )
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
                for folder in [f.id, 7] {
                    put_share(
                        ctx,
                        &Share {
                            owner: alice,
                            folder,
                            grantee: Grantee::Account(bob),
                            rights: Rights::READ_ONLY,
                            created: 0,
                        },
                    )?;
                }
                super::super::folders::delete(ctx, alice, f.id)
                    .map_err(|e| StoreError::Invalid(e.to_string()))?;
                Ok(())
            })
            .unwrap();
        let shares = store.sync_snapshot().unwrap().shares().unwrap();
        assert_eq!(shares.iter().map(|s| s.folder).collect::<Vec<_>>(), [7]);
        store
            .write_blocking(move |ctx| {
                let b = ctx.account(bob)?.unwrap();
                ops::delete_account(ctx, &b)
            })
            .unwrap();
        assert!(store.sync_snapshot().unwrap().shares().unwrap().is_empty());
    }
}
