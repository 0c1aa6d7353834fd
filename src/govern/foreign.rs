//! Other accounts' folders as a reader's device is shown them: the folders shared with
//! the reader (directly or through a group) and the public folders its device's
//! [`Reach`] allows, each under the reader's own id for it (`store::share::foreign_id`).
//!
//! A foreign folder is shown named after its owner ("Calendar (Alice)"), typed as a
//! user-created folder of its kind, under the reader's id of its parent when the parent is
//! shown too, else at the top.

use std::collections::BTreeMap;

use crate::store::model::{AccountId, Folder, FolderId, ForeignFolder, ROOT_FOLDER, Rights};
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
            e.insert(tx.account(owner)?.map_or_else(String::new, |a| {
                if a.display_name.trim().is_empty() {
                    a.email
                } else {
                    a.display_name
                }
            }));
        }
        let parent: FolderId = ids.get(&(owner, f.parent)).copied().unwrap_or(ROOT_FOLDER);
        out.push(Folder {
            id,
            parent,
            name: format!("{} ({})", f.name, owners[&owner]),
            kind: f.kind.as_user_created(),
            special: false,
            modseq: f.modseq,
        });
    }
    Ok(Some(out))
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
