//! FolderCreate, FolderUpdate and FolderDelete ([MS-ASCMD] 2.2.1.3, 2.2.1.6, 2.2.1.4).
//!
//! Each carries the device's current hierarchy key, changes the folder tree and the
//! device's snapshot in one transaction (so the device is not sent its own change back),
//! and answers with the next key.

use super::{Ctx, Reply, body_with_root, status_reply};
use crate::govern::foreign::{self, Reached};
use crate::govern::settings::Sight;
use crate::proto::ids::{IssuedSyncKey, SyncKey};
use crate::proto::status::command_status;
use crate::store::folders::{self, FolderError};
use crate::store::model::{AccountId, Folder, FolderId, FolderType, FolderView, ROOT_FOLDER};
use crate::store::ops::{self, Reads};
use crate::store::share::{self, Reach, ShareReads};
use crate::store::{StoreError, WriteCtx};
use crate::sync::hierarchy;
use crate::wbxml::{Element, Tag, tag::folderhierarchy as fh};

command_status! {
    /// FolderCreate, FolderDelete and FolderUpdate Status values ([MS-ASCMD] 2.2.3.177.3,
    /// 2.2.3.177.4, 2.2.3.177.6): the three tables share their numbers.
    enum Status {
        Ok = 1,
        /// A folder of that name exists; FolderUpdate also answers a special folder so.
        Exists = 2,
        /// A special folder (FolderDelete), or one as the parent.
        Special = 3,
        NotFound = 4,
        ParentNotFound = 5,
        ServerError = 6,
        InvalidKey = 9,
        Malformed = 10,
    }
}

enum Op {
    Create {
        parent: Option<FolderId>,
        name: String,
        kind: FolderType,
    },
    Update {
        id: Option<FolderId>,
        parent: Option<FolderId>,
        name: String,
    },
    Delete {
        id: Option<FolderId>,
    },
}

/// A folder id from the client; `None` for text that cannot name any folder of ours.
fn folder_id(text: Option<&str>) -> Option<FolderId> {
    text.and_then(|t| t.parse().ok())
}

pub async fn create(ctx: &mut Ctx<'_>, body: Option<Element>) -> Result<Reply, StoreError> {
    let parsed = body_with_root(body, fh::FOLDER_CREATE).and_then(|b| {
        let kind = b.text_of(fh::TYPE)?.parse::<u8>().ok()?;
        Some((
            SyncKey::parse(b.text_of(fh::SYNC_KEY)?),
            Op::Create {
                parent: folder_id(b.text_of(fh::PARENT_ID)),
                name: b.text_of(fh::DISPLAY_NAME)?.to_owned(),
                kind: FolderType::try_from(kind).ok()?,
            },
        ))
    });
    run(ctx, fh::FOLDER_CREATE, parsed).await
}

pub async fn update(ctx: &mut Ctx<'_>, body: Option<Element>) -> Result<Reply, StoreError> {
    let parsed = body_with_root(body, fh::FOLDER_UPDATE).and_then(|b| {
        Some((
            SyncKey::parse(b.text_of(fh::SYNC_KEY)?),
            Op::Update {
                id: folder_id(b.text_of(fh::SERVER_ID)),
                parent: folder_id(b.text_of(fh::PARENT_ID)),
                name: b.text_of(fh::DISPLAY_NAME)?.to_owned(),
            },
        ))
    });
    run(ctx, fh::FOLDER_UPDATE, parsed).await
}

pub async fn delete(ctx: &mut Ctx<'_>, body: Option<Element>) -> Result<Reply, StoreError> {
    let parsed = body_with_root(body, fh::FOLDER_DELETE).and_then(|b| {
        Some((
            SyncKey::parse(b.text_of(fh::SYNC_KEY)?),
            Op::Delete {
                id: folder_id(b.text_of(fh::SERVER_ID)),
            },
        ))
    });
    run(ctx, fh::FOLDER_DELETE, parsed).await
}

/// The status each command gives a folder error (the three tables differ).
fn status_for(root: Tag, e: &FolderError) -> Status {
    let update = root == fh::FOLDER_UPDATE;
    match e {
        FolderError::Exists => Status::Exists,
        // [MS-ASCMD] 2.2.3.177.6: FolderUpdate reports a special folder as 2; FolderDelete
        // (2.2.3.177.4) as 3.
        FolderError::Special if update => Status::Exists,
        FolderError::Special | FolderError::SpecialParent => Status::Special,
        FolderError::NotFound => Status::NotFound,
        FolderError::ParentNotFound => Status::ParentNotFound,
        FolderError::Invalid(_) => Status::Malformed,
        FolderError::Store(_) => Status::ServerError,
    }
}

/// Outcome of the transaction: the new key and the created folder, or a status.
type Outcome = Result<(IssuedSyncKey, Option<FolderId>), Status>;

async fn run(
    ctx: &mut Ctx<'_>,
    root: Tag,
    parsed: Option<(SyncKey, Op)>,
) -> Result<Reply, StoreError> {
    let Some((key, op)) = parsed else {
        return Ok(status_reply(root, fh::STATUS, Status::Malformed));
    };
    let (account, device_id) = (ctx.account.id, ctx.device.device_id.clone());
    let device = ctx.device.clone();
    let outcome: Outcome = ctx
        .app
        .store
        .write(move |wctx| {
            let state = wctx.hierarchy(account, &device_id)?;
            if !hierarchy::is_current(state.as_ref(), key) {
                return Ok(Err(Status::InvalidKey));
            }
            let applied = match apply(wctx, account, &Sight::of(&device), &op) {
                Ok(a) => a,
                Err(FolderError::Store(e)) => return Err(e),
                Err(e) => {
                    tracing::info!("folder change refused: {e}");
                    return Ok(Err(status_for(root, &e)));
                }
            };
            let created = applied.created;
            let next = hierarchy::own_change(state, key, |snap| {
                for id in &applied.removed {
                    snap.remove(id);
                }
                if let Some((id, view)) = applied.changed {
                    snap.insert(id, view);
                }
            })
            .ok_or_else(|| {
                StoreError::Conflict("hierarchy key changed inside the transaction".into())
            })?;
            ops::put_hierarchy(wctx, account, &device_id, &next)?;
            Ok(Ok((next.key, created)))
        })
        .await?;
    Ok(match outcome {
        Err(status) => status_reply(root, fh::STATUS, status),
        Ok((key, created)) => {
            let mut e = Element::new(root)
                .text_child(fh::STATUS, Status::Ok.to_string())
                .text_child(fh::SYNC_KEY, key.to_string());
            if let Some(id) = created {
                e.push_text(fh::SERVER_ID, id.to_string());
            }
            Reply::Wbxml(e)
        }
    })
}

struct Applied {
    created: Option<FolderId>,
    changed: Option<(FolderId, FolderView)>,
    removed: Vec<FolderId>,
}

/// Applies `op`. Folders the device is not shown are ones it does not have: naming one is
/// Status 4 (the folder) or 5 (the parent), as for a folder that does not exist.
///
/// In another account's folder the device reaches, a subfolder is created (in the owner's
/// account, shared as its parent: `share::inherit`), renamed, moved or deleted only with
/// the right to create subfolders there. A shared folder itself is not the reader's to
/// rename or delete: refused as a special folder is (FolderUpdate Status 2, FolderDelete 3,
/// [MS-ASCMD] 2.2.3.177.6, 2.2.3.177.4); nor is a folder the reader may not create in a
/// parent for FolderCreate or FolderUpdate (Status 3, "the parent folder is a special
/// system folder", 2.2.3.177.3, 2.2.3.177.6).
fn apply(
    wctx: &mut WriteCtx,
    account: u64,
    sight: &Sight,
    op: &Op,
) -> Result<Applied, FolderError> {
    let shown = |wctx: &WriteCtx, id: Option<FolderId>, missing: FolderError| match id {
        Some(ROOT_FOLDER) => Ok(ROOT_FOLDER),
        Some(id) if sight.folder(wctx, account, id)?.is_some() => Ok(id),
        _ => Err(missing),
    };
    let reach = sight.reach();
    // A folder of another account named by the device's id (`None`: its own, the root, or
    // one it does not reach).
    let foreign_of = |wctx: &WriteCtx, id: Option<FolderId>| match id {
        Some(id) if id != ROOT_FOLDER && sight.folder(wctx, account, id)?.is_none() => {
            Ok::<_, FolderError>(foreign::folder(wctx, account, id, reach)?)
        }
        _ => Ok(None),
    };
    // A foreign folder the device may create subfolders in.
    let creatable = |r: Option<Reached>| r.filter(|r| r.rights.create_subfolders);
    Ok(match op {
        Op::Create { parent, name, kind } => match foreign_of(wctx, *parent)? {
            Some(reached) => {
                let parent = creatable(Some(reached)).ok_or(FolderError::SpecialParent)?;
                let (owner, home) = (parent.at.owner, parent.at.folder);
                let f = folders::create(wctx, owner, home, name, *kind)?;
                share::inherit(wctx, owner, home, f.id)?;
                let id = share::foreign_id(wctx, account, owner, f.id)?;
                let view = readers_view(wctx, owner, &f, id, parent.folder.id)?;
                Applied {
                    created: Some(id),
                    changed: Some((id, view)),
                    removed: Vec::new(),
                }
            }
            None => {
                let parent = shown(wctx, *parent, FolderError::ParentNotFound)?;
                let f = folders::create(wctx, account, parent, name, *kind)?;
                Applied {
                    created: Some(f.id),
                    changed: Some((f.id, f.view())),
                    removed: Vec::new(),
                }
            }
        },
        Op::Update { id, parent, name } => match foreign_of(wctx, *id)? {
            Some(folder) => {
                managed(wctx, account, reach, &folder)?;
                let parent = creatable(foreign_of(wctx, *parent)?)
                    .filter(|p| p.at.owner == folder.at.owner)
                    .ok_or(FolderError::SpecialParent)?;
                let f = folders::update(
                    wctx,
                    folder.at.owner,
                    folder.at.folder,
                    parent.at.folder,
                    name,
                )?;
                let view = readers_view(
                    wctx,
                    folder.at.owner,
                    &f,
                    folder.folder.id,
                    parent.folder.id,
                )?;
                Applied {
                    created: None,
                    changed: Some((folder.folder.id, view)),
                    removed: Vec::new(),
                }
            }
            None => {
                let id = shown(wctx, *id, FolderError::NotFound)?;
                if foreign_of(wctx, *parent)?.is_some() {
                    // Into another account's folder: between accounts.
                    return Err(FolderError::SpecialParent);
                }
                let parent = shown(wctx, *parent, FolderError::ParentNotFound)?;
                let f = folders::update(wctx, account, id, parent, name)?;
                Applied {
                    created: None,
                    changed: Some((f.id, f.view())),
                    removed: Vec::new(),
                }
            }
        },
        Op::Delete { id } => match foreign_of(wctx, *id)? {
            Some(folder) => {
                managed(wctx, account, reach, &folder)?;
                let owner = folder.at.owner;
                let mut removed = Vec::new();
                for gone in folders::delete(wctx, owner, folder.at.folder)? {
                    removed.extend(wctx.foreign_id_of(account, owner, gone)?);
                }
                Applied {
                    created: None,
                    changed: None,
                    removed,
                }
            }
            None => Applied {
                created: None,
                changed: None,
                removed: folders::delete(wctx, account, shown(wctx, *id, FolderError::NotFound)?)?,
            },
        },
    })
}

/// Checks that the reader may rename, move or delete the foreign folder `folder`: a
/// subfolder of a folder it reaches with the right to create subfolders; a shared folder
/// itself is refused as a special folder.
fn managed(
    wctx: &WriteCtx,
    account: u64,
    reach: Reach,
    folder: &Reached,
) -> Result<(), FolderError> {
    // `Reached::folder` keeps the owner's parent id.
    let owner = folder.at.owner;
    let Some(parent) = wctx.foreign_id_of(account, owner, folder.folder.parent)? else {
        return Err(FolderError::Special);
    };
    match foreign::folder(wctx, account, parent, reach)? {
        Some(p) if p.rights.create_subfolders => Ok(()),
        _ => Err(FolderError::Special),
    }
}

/// How the reader's device is shown the owner's folder `f` (what FolderSync will say of
/// it), for the device's hierarchy snapshot.
fn readers_view(
    wctx: &WriteCtx,
    owner: AccountId,
    f: &Folder,
    id: FolderId,
    parent: FolderId,
) -> Result<FolderView, FolderError> {
    let owner_name = foreign::owner_name(wctx, owner)?;
    Ok(foreign::as_readers(f, id, parent, &owner_name).view())
}
