//! The folder tree of an account: create, rename/move and delete with the checks that
//! FolderCreate/FolderUpdate/FolderDelete ([MS-ASCMD] 2.2.1.3, 2.2.1.6, 2.2.1.4) report.

use super::model::*;
use super::ops::{self, Reads};
use super::{Event, StoreError, WriteCtx};

#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    #[error("a folder with that name already exists under that parent")]
    Exists,
    #[error("the folder is a special folder")]
    Special,
    #[error("the parent is a special system folder that takes no subfolders")]
    SpecialParent,
    #[error("no such folder")]
    NotFound,
    #[error("no such parent folder")]
    ParentNotFound,
    #[error("invalid folder: {0}")]
    Invalid(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

const MAX_NAME: usize = 256;

fn check_name(name: &str) -> Result<&str, FolderError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(FolderError::Invalid(
            "folder names are 1-256 printable characters",
        ));
    }
    Ok(name)
}

/// Checks that `parent` can hold a child called `name` (other than `except`).
fn check_place(
    folders: &[Folder],
    parent: FolderId,
    name: &str,
    except: Option<FolderId>,
) -> Result<(), FolderError> {
    if parent != ROOT_FOLDER {
        let p = folders
            .iter()
            .find(|f| f.id == parent)
            .ok_or(FolderError::ParentNotFound)?;
        if p.kind == FolderType::RecipientCache {
            return Err(FolderError::SpecialParent);
        }
    }
    let clash = folders
        .iter()
        .any(|f| f.parent == parent && Some(f.id) != except && f.name.eq_ignore_ascii_case(name));
    if clash {
        Err(FolderError::Exists)
    } else {
        Ok(())
    }
}

pub fn create(
    ctx: &mut WriteCtx,
    account_id: AccountId,
    parent: FolderId,
    name: &str,
    kind: FolderType,
) -> Result<Folder, FolderError> {
    let name = check_name(name)?;
    if !kind.is_user_creatable() {
        return Err(FolderError::Invalid(
            "only user-created folder types can be created",
        ));
    }
    let mut account = ctx
        .tx
        .account(account_id)?
        .ok_or(StoreError::NotFound("account".into()))?;
    let folders = ctx.tx.folders(account_id)?;
    check_place(&folders, parent, name, None)?;
    let folder = Folder {
        id: account.next_folder_id,
        parent,
        name: name.to_owned(),
        kind,
        special: false,
        modseq: 0,
    };
    account.next_folder_id += 1;
    ops::put_account(ctx, &account)?;
    ops::put_folder(ctx, account_id, &folder)?;
    ctx.publish(Event::Hierarchy {
        account: account_id,
    });
    Ok(folder)
}

/// Renames and/or moves a folder.
pub fn update(
    ctx: &mut WriteCtx,
    account_id: AccountId,
    id: FolderId,
    new_parent: FolderId,
    new_name: &str,
) -> Result<Folder, FolderError> {
    let name = check_name(new_name)?;
    let folders = ctx.tx.folders(account_id)?;
    let mut folder = folders
        .iter()
        .find(|f| f.id == id)
        .cloned()
        .ok_or(FolderError::NotFound)?;
    if folder.special {
        return Err(FolderError::Special);
    }
    check_place(&folders, new_parent, name, Some(id))?;
    // A folder cannot move below itself.
    let mut cursor = new_parent;
    while cursor != ROOT_FOLDER {
        if cursor == id {
            return Err(FolderError::Invalid(
                "a folder cannot be moved into its own subtree",
            ));
        }
        cursor = folders
            .iter()
            .find(|f| f.id == cursor)
            .map_or(ROOT_FOLDER, |f| f.parent);
    }
    folder.parent = new_parent;
    folder.name = name.to_owned();
    ops::put_folder(ctx, account_id, &folder)?;
    ctx.publish(Event::Hierarchy {
        account: account_id,
    });
    Ok(folder)
}

/// Deletes a folder and its whole subtree; returns the ids removed.
pub fn delete(
    ctx: &mut WriteCtx,
    account_id: AccountId,
    id: FolderId,
) -> Result<Vec<FolderId>, FolderError> {
    let folders = ctx.tx.folders(account_id)?;
    let folder = folders
        .iter()
        .find(|f| f.id == id)
        .ok_or(FolderError::NotFound)?;
    if folder.special {
        return Err(FolderError::Special);
    }
    let mut doomed = vec![id];
    let mut i = 0;
    while i < doomed.len() {
        let parent = doomed[i];
        doomed.extend(folders.iter().filter(|f| f.parent == parent).map(|f| f.id));
        i += 1;
    }
    for f in &doomed {
        ops::remove_folder(ctx, account_id, *f)?;
        super::items::purge_folder(ctx, account_id, *f)?;
    }
    // A deleted folder is shared with no one any more.
    super::share::forget_folders(ctx, account_id, &doomed)?;
    super::directory::forget_sources(ctx.tx, account_id, Some(&doomed))?;
    ctx.publish(Event::Hierarchy {
        account: account_id,
    });
    Ok(doomed)
}
