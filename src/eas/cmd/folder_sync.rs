//! FolderSync ([MS-ASCMD] 2.2.1.5): the folder hierarchy, in full for SyncKey 0, else the
//! changes since the device's key.

use super::{Ctx, Reply, body_with_root, status_reply};
use crate::govern::foreign;
use crate::govern::settings::Sight;
use crate::proto::ids::{IssuedSyncKey, SyncKey};
use crate::proto::status::command_status;
use crate::store::model::{AccountId, Folder};
use crate::store::ops::{self, Reads};
use crate::store::{Reader, StoreError};
use crate::sync::hierarchy::{self, Changes, Plan};
use crate::wbxml::{Element, tag::folderhierarchy as fh};

command_status! {
    /// FolderSync Status values ([MS-ASCMD] 2.2.3.177.5).
    enum Status {
        Ok = 1,
        InvalidKey = 9,
        Malformed = 10,
    }
}

pub async fn handle(ctx: &mut Ctx<'_>, body: Option<Element>) -> Result<Reply, StoreError> {
    let Some(key) = body_with_root(body, fh::FOLDER_SYNC)
        .and_then(|b| b.text_of(fh::SYNC_KEY).map(SyncKey::parse))
    else {
        return Ok(status_reply(fh::FOLDER_SYNC, fh::STATUS, Status::Malformed));
    };
    let (account, device_id) = (ctx.account.id, ctx.device.device_id.clone());
    // The folders the device is shown are worked out per request, so a change of its ABQ
    // state or settings reaches it as Adds and Deletes through the ordinary diff.
    let sight = Sight::of(&ctx.device);
    // Most FolderSyncs change nothing: answer those from a read transaction, no commit.
    // A foreign folder the account has no id for yet needs the write below.
    let id = device_id.clone();
    let plan = (ctx.app.store)
        .view(move |tx| {
            let Some(folders) = shown(tx, account, sight)? else {
                return Ok(None);
            };
            let state = tx.hierarchy(account, &id)?;
            Ok::<_, StoreError>(Some(hierarchy::plan(
                state.as_ref(),
                key,
                &folders,
                IssuedSyncKey::fresh(),
            )))
        })
        .await?;
    let plan = match plan {
        Some(None) => {
            return Ok(status_reply(
                fh::FOLDER_SYNC,
                fh::STATUS,
                Status::InvalidKey,
            ));
        }
        Some(Some(p)) if p.save.is_none() => p,
        _ => {
            let fresh = IssuedSyncKey::fresh();
            let planned = ctx
                .app
                .store
                .write(move |wctx| {
                    foreign::assign_ids(wctx, account, sight.reach())?;
                    // Every reachable foreign folder has an id now; were one still
                    // missing, an empty list would tell the device to delete everything.
                    let folders =
                        shown(wctx, account, sight)?.ok_or_else(|| StoreError::Corrupt {
                            what: "foreign_ids",
                            detail: "a foreign folder has no id after assign_ids".into(),
                        })?;
                    let state = wctx.hierarchy(account, &device_id)?;
                    let plan = hierarchy::plan(state.as_ref(), key, &folders, fresh);
                    if let Some(Plan { save: Some(s), .. }) = &plan {
                        ops::put_hierarchy(wctx, account, &device_id, s)?;
                    }
                    Ok(plan)
                })
                .await?;
            match planned {
                Some(p) => p,
                None => {
                    return Ok(status_reply(
                        fh::FOLDER_SYNC,
                        fh::STATUS,
                        Status::InvalidKey,
                    ));
                }
            }
        }
    };
    Ok(Reply::Wbxml(
        Element::new(fh::FOLDER_SYNC)
            .text_child(fh::STATUS, Status::Ok.to_string())
            .text_child(fh::SYNC_KEY, plan.key.to_string())
            .child(changes_element(&plan.changes)),
    ))
}

/// The folders the device is shown: its account's own that its `Sight` admits, and the
/// other accounts' folders its settings reach (`govern::foreign`); `None` when one of
/// those has no id for the account yet.
fn shown(
    tx: &impl Reader,
    account: AccountId,
    sight: Sight,
) -> Result<Option<Vec<Folder>>, StoreError> {
    let Some(foreign) = foreign::folders(tx, account, sight.reach())? else {
        return Ok(None);
    };
    let mut folders = sight.hierarchy(tx.folders(account)?);
    folders.extend(foreign);
    Ok(Some(folders))
}

fn changes_element(c: &Changes) -> Element {
    let mut e = Element::new(fh::CHANGES).text_child(fh::COUNT, c.len().to_string());
    for id in &c.deletes {
        e.push(Element::new(fh::DELETE).text_child(fh::SERVER_ID, id.to_string()));
    }
    for (tag, list) in [(fh::ADD, &c.adds), (fh::UPDATE, &c.updates)] {
        for (id, v) in list {
            e.push(
                Element::new(tag)
                    .text_child(fh::SERVER_ID, id.to_string())
                    .text_child(fh::PARENT_ID, v.parent.to_string())
                    .text_child(fh::DISPLAY_NAME, v.name.clone())
                    .text_child(fh::TYPE, (v.kind as u8).to_string()),
            );
        }
    }
    e
}
