//! MoveItems ([MS-ASCMD] 2.2.1.12): move messages between folders; each move answers with
//! its own status and the item's new ServerId.

use super::{Ctx, Reply, status_reply};
use crate::store::items;
use crate::store::ops::Reads;
use crate::store::{StoreError, WriteCtx};
use crate::sync::collection as coll;
use crate::sync::{item_server_id, parse_item_server_id};
use crate::wbxml::{Element, tag::r#move as mv};

/// MoveItems Status values ([MS-ASCMD] 2.2.3.177.9).
const INVALID_SOURCE: u8 = 1;
const INVALID_DESTINATION: u8 = 2;
const OK: u8 = 3;
const SAME_FOLDER: u8 = 4;

struct Move {
    src_msg: String,
    src_folder: String,
    dst_folder: String,
}

pub async fn handle(ctx: &mut Ctx<'_>, body: Option<Element>) -> Result<Reply, StoreError> {
    let Some(req) = body.filter(|b| b.tag == mv::MOVE_ITEMS) else {
        return Ok(status_reply(mv::MOVE_ITEMS, mv::STATUS, INVALID_SOURCE));
    };
    let moves: Vec<Move> = req
        .find_all(mv::MOVE)
        .map(|m| Move {
            src_msg: m.text_of(mv::SRC_MSG_ID).unwrap_or_default().to_owned(),
            src_folder: m.text_of(mv::SRC_FLD_ID).unwrap_or_default().to_owned(),
            dst_folder: m.text_of(mv::DST_FLD_ID).unwrap_or_default().to_owned(),
        })
        .collect();
    let mut out = Element::new(mv::MOVE_ITEMS);
    for m in moves {
        let (status, new_id) = move_one(ctx, &m).await?;
        let mut r = Element::new(mv::RESPONSE)
            .text_child(mv::SRC_MSG_ID, m.src_msg.clone())
            .text_child(mv::STATUS, status.to_string());
        if let Some(id) = new_id {
            r.push_text(mv::DST_MSG_ID, id);
        }
        out.push(r);
    }
    Ok(Reply::Wbxml(out))
}

async fn move_one(ctx: &Ctx<'_>, m: &Move) -> Result<(u8, Option<String>), StoreError> {
    let account = ctx.account.id;
    let src_folder = m.src_folder.parse::<u64>().ok();
    let dst_folder = m.dst_folder.parse::<u64>().ok();
    let item = parse_item_server_id(&m.src_msg).filter(|(f, _)| Some(*f) == src_folder);
    let tx = ctx.app.store.read()?;
    let (Some(src), Some((_, id))) = (
        src_folder
            .map(|f| tx.folder(account, f))
            .transpose()?
            .flatten(),
        item,
    ) else {
        return Ok((INVALID_SOURCE, None));
    };
    let Some(dst) = dst_folder
        .map(|f| tx.folder(account, f))
        .transpose()?
        .flatten()
    else {
        return Ok((INVALID_DESTINATION, None));
    };
    if src.id == dst.id {
        return Ok((SAME_FOLDER, None));
    }
    drop(tx);
    let device = ctx.device.device_id.clone();
    let (from, to) = (src.id, dst.id);
    let moved = ctx
        .app
        .store
        .write(move |w: &mut WriteCtx| {
            let Some((tombstone, item)) = items::move_to(w, account, from, id, to)? else {
                return Ok(None);
            };
            coll::note_own_move(w, account, &device, (from, id, tombstone), (to, &item))?;
            Ok(Some(item_server_id(to, item.id)))
        })
        .await?;
    Ok(match moved {
        Some(new_id) => (OK, Some(new_id)),
        None => (INVALID_SOURCE, None),
    })
}
