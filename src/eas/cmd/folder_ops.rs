//! FolderCreate, FolderUpdate and FolderDelete ([MS-ASCMD] 2.2.1.3, 2.2.1.6, 2.2.1.4).
//!
//! Each carries the device's current hierarchy key, changes the folder tree and the
//! device's snapshot in one transaction (so the device is not sent its own change back),
//! and answers with the next key.

use super::{Ctx, Reply, body_with_root, status_reply};
use crate::govern::settings::Sight;
use crate::proto::ids::{IssuedSyncKey, SyncKey};
use crate::proto::status::command_status;
use crate::store::folders::{self, FolderError};
use crate::store::model::{FolderId, FolderType, FolderView, ROOT_FOLDER};
use crate::store::ops::{self, Reads};
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
    Ok(match op {
        Op::Create { parent, name, kind } => {
            let parent = shown(wctx, *parent, FolderError::ParentNotFound)?;
            let f = folders::create(wctx, account, parent, name, *kind)?;
            Applied {
                created: Some(f.id),
                changed: Some((f.id, f.view())),
                removed: Vec::new(),
            }
        }
        Op::Update { id, parent, name } => {
            let id = shown(wctx, *id, FolderError::NotFound)?;
            let parent = shown(wctx, *parent, FolderError::ParentNotFound)?;
            let f = folders::update(wctx, account, id, parent, name)?;
            Applied {
                created: None,
                changed: Some((f.id, f.view())),
                removed: Vec::new(),
            }
        }
        Op::Delete { id } => Applied {
            created: None,
            changed: None,
            removed: folders::delete(wctx, account, shown(wctx, *id, FolderError::NotFound)?)?,
        },
    })
}
