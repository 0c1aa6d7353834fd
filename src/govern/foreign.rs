//! Other accounts' folders as a reader's device is shown them: the folders shared with
//! the reader (directly or through a group) and the public folders its device's
//! [`Reach`] allows, each under the reader's own id for it (`store::share::foreign_id`).
//!
//! A foreign folder is shown named after its owner ("Calendar (Alice)"), typed as a
//! user-created folder of its kind, under the reader's id of its parent when the parent is
//! shown too, else at the top.

use std::collections::BTreeMap;

use crate::govern::settings::Sight;
use crate::store::items::ItemReads;
use crate::store::model::{
    AccountId, Folder, FolderId, ForeignFolder, MailItem, ROOT_FOLDER, Rights,
};
use crate::store::ops::Reads;
use crate::store::share::{self, Reach, ShareReads};
use crate::store::{StoreError, WriteCtx};

/// The foreign folders the reader is shown under `reach`, as the reader's folders; `None`
/// when one of them has no id for the reader yet ([`assign_ids`] in a write gives them).
pub fn folders(
    tx: &(impl Reads + ShareReads),
    reader: AccountId,
    reach: Reach,
) -> Result<Option<Vec<Folder>>, StoreError> {
    // Devices that are shown nothing foreign read nothing more.
    if !reach.any() {
        return Ok(Some(Vec::new()));
    }
    let reachable = tx.reachable_foreign(reader, reach)?;
    let mut ids = BTreeMap::new();
    for (owner, folder) in reachable.keys() {
        match tx.foreign_id_of(reader, *owner, *folder)? {
            Some(id) => ids.insert((*owner, *folder), id),
            None => return Ok(None),
        };
    }
    let mut out = Vec::with_capacity(ids.len());
    let mut owners = BTreeMap::new();
    for (&(owner, folder), &id) in &ids {
        // A share may outlive nothing: the owner's folder or account is gone.
        let Some(f) = tx.folder(owner, folder)? else {
            continue;
        };
        if let std::collections::btree_map::Entry::Vacant(e) = owners.entry(owner) {
            e.insert(owner_name(tx, owner)?);
        }
        let parent: FolderId = ids.get(&(owner, f.parent)).copied().unwrap_or(ROOT_FOLDER);
        out.push(as_readers(&f, id, parent, &owners[&owner]));
    }
    Ok(Some(out))
}

/// What a reader's foreign folders say of their owner: its display name, else its address.
pub fn owner_name(tx: &impl Reads, owner: AccountId) -> Result<String, StoreError> {
    Ok(tx.account(owner)?.map_or_else(String::new, |a| {
        if a.display_name.trim().is_empty() {
            a.email
        } else {
            a.display_name
        }
    }))
}

/// The owner's folder `f` as a reader is shown it: under the reader's `id`, below the
/// reader's `parent`, named after its owner, typed as a user-created folder.
pub fn as_readers(f: &Folder, id: FolderId, parent: FolderId, owner_name: &str) -> Folder {
    Folder {
        id,
        parent,
        name: format!("{} ({owner_name})", f.name),
        kind: f.kind.as_user_created(),
        special: false,
        modseq: f.modseq,
    }
}

/// Gives the reader an id for each foreign folder it is shown under `reach` that has none.
pub fn assign_ids(ctx: &mut WriteCtx, reader: AccountId, reach: Reach) -> Result<(), StoreError> {
    if !reach.any() {
        return Ok(());
    }
    for (owner, folder) in ctx.reachable_foreign(reader, reach)?.into_keys() {
        share::foreign_id(ctx, reader, owner, folder)?;
    }
    Ok(())
}

/// A foreign folder a command names by the reader's id for it.
pub struct Reached {
    /// The folder as the reader's: its id the reader's, its type a user-created one; its
    /// name and parent the owner's (commands other than FolderSync show neither).
    pub folder: Folder,
    /// Where its items are.
    pub at: ForeignFolder,
    pub rights: Rights,
}

/// The foreign folder behind the reader's id `id` when `reach` lets the reader reach it;
/// `None` for any other id (one of the reader's own, another account's, a forged one).
pub fn folder(
    tx: &(impl Reads + ShareReads),
    reader: AccountId,
    id: FolderId,
    reach: Reach,
) -> Result<Option<Reached>, StoreError> {
    let Some((at, rights)) = tx.foreign_access(reader, id, reach)? else {
        return Ok(None);
    };
    let Some(f) = tx.folder(at.owner, at.folder)? else {
        return Ok(None);
    };
    Ok(Some(Reached {
        folder: Folder {
            id,
            kind: f.kind.as_user_created(),
            special: false,
            ..f
        },
        at,
        rights,
    }))
}

/// [`folder`] for a folder id as the device sent it.
pub fn folder_named(
    tx: &(impl Reads + ShareReads),
    reader: AccountId,
    id: &str,
    reach: Reach,
) -> Result<Option<Reached>, StoreError> {
    match id.parse() {
        Ok(id) => folder(tx, reader, id, reach),
        Err(_) => Ok(None),
    }
}

/// A folder a command names by the device's id for it, as the device's account reaches
/// it: one of its own the device is shown, or a foreign one its [`Reach`] allows.
pub struct Place {
    /// As the device knows it (its id the device's).
    pub folder: Folder,
    /// For a folder of another account: where it is and what the account may do there.
    pub foreign: Option<(ForeignFolder, Rights)>,
}

impl Place {
    pub fn find(
        tx: &(impl Reads + ShareReads),
        sight: Sight,
        account: AccountId,
        id: &str,
    ) -> Result<Option<Place>, StoreError> {
        if let Some(folder) = sight.folder_named(tx, account, id)? {
            return Ok(Some(Place {
                folder,
                foreign: None,
            }));
        }
        Ok(
            folder_named(tx, account, id, sight.reach())?.map(|r| Place {
                folder: r.folder,
                foreign: Some((r.at, r.rights)),
            }),
        )
    }

    /// [`Place::find`] for commands that hand out what the folder holds: nothing while
    /// the device is not sent contents ([`Sight::contents`]).
    pub fn contents(
        tx: &(impl Reads + ShareReads),
        sight: Sight,
        account: AccountId,
        id: FolderId,
    ) -> Result<Option<Place>, StoreError> {
        if !sight.serves_contents() {
            return Ok(None);
        }
        Place::find(tx, sight, account, &id.to_string())
    }

    /// Message `id` of the folder the device names `folder`, when the device is sent what
    /// that folder holds; named by the device's id (the owner's message for a foreign one).
    pub fn item(
        tx: &(impl Reads + ShareReads + ItemReads),
        sight: Sight,
        account: AccountId,
        folder: FolderId,
        id: u64,
    ) -> Result<Option<MailItem>, StoreError> {
        let Some(place) = Place::contents(tx, sight, account, folder)? else {
            return Ok(None);
        };
        let (owner, home) = place.home(account);
        Ok(tx.item(owner, home, id)?.map(|mut m| {
            m.folder = folder;
            m
        }))
    }

    /// The account and folder the items are stored in.
    pub fn home(&self, account: AccountId) -> (AccountId, FolderId) {
        match self.foreign {
            Some((at, _)) => (at.owner, at.folder),
            None => (account, self.folder.id),
        }
    }

    /// Whether the account may do what `right` asks here: anything in its own folders.
    pub fn may(&self, right: impl Fn(Rights) -> bool) -> bool {
        self.foreign.is_none_or(|(_, rights)| right(rights))
    }

    /// Whether the access this place was found with still holds, checked again inside a
    /// write (a share may have ended or changed since it was looked up).
    pub fn unchanged(
        &self,
        tx: &impl ShareReads,
        account: AccountId,
        reach: Reach,
    ) -> Result<bool, StoreError> {
        Ok(match self.foreign {
            None => true,
            Some(seen) => tx.foreign_access(account, self.folder.id, reach)? == Some(seen),
        })
    }
}
