//! MoveItems ([MS-ASCMD] 2.2.1.12): move messages between mail folders, and calendar,
//! contact, task and note items between folders of their class; each move answers with its
//! own status and the item's new ServerId.
//!
//! "When items are moved between folders on the server, the client receives Delete and Add
//! operations the next time the client synchronizes the affected folders" (2.2.1.12): every
//! device, the mover too, finds the move in the folders' change logs. A resent MoveItems
//! (its answer was lost) gets the same answer again from the store's record of the move.

use super::{Ctx, Reply, status_reply};
use crate::bounded::at_most;
use crate::eas::class::groupware::Class;
use crate::govern::foreign::Place;
use crate::govern::settings::Sight;
use crate::proto::ids::ItemRef;
use crate::proto::status::command_status;
use crate::refusal::Limit;
use crate::store::items::{self, ItemReads};
use crate::store::ops::Reads;
use crate::store::{StoreError, WriteCtx};
use crate::sync::retriable;
use crate::wbxml::{Element, tag::r#move as mv};

command_status! {
    /// MoveItems Status values ([MS-ASCMD] 2.2.3.177.9).
    enum Status {
        InvalidSource = 1,
        InvalidDestination = 2,
        Ok = 3,
        SameFolder = 4,
        /// "The item cannot be moved to more than one item at a time" (more than one DstFldId),
        /// and "a failure occurred during the MoveItem operation": a move the account has no
        /// right to make in a shared folder, or between accounts.
        Failed = 5,
        /// "Source or destination item was locked": a transient server condition; the client
        /// retries the move.
        Locked = 7,
    }
}

struct Move {
    src_msg: String,
    src_folder: String,
    dst_folder: String,
    /// More than one DstFldId: one item cannot go to several folders.
    several_destinations: bool,
}

/// What the move's write transaction found.
enum Moved {
    To(String),
    /// The item left the source folder (moved or deleted) since it was looked up.
    SourceGone,
    /// The destination folder was deleted since it was looked up.
    DestinationGone,
    /// A share of either folder changed since it was looked up: the client retries, and
    /// its retry is looked up afresh.
    AccessChanged,
}

pub async fn handle(ctx: &mut Ctx<'_>, body: Option<Element>) -> Result<Reply, StoreError> {
    let Some(req) = body.filter(|b| b.tag == mv::MOVE_ITEMS) else {
        return Ok(status_reply(
            mv::MOVE_ITEMS,
            mv::STATUS,
            Status::InvalidSource,
        ));
    };
    let max = ctx.app.cfg.limits.max_commands;
    let Ok(moves) = at_most(req.find_all(mv::MOVE), max) else {
        ctx.refuse(
            Limit::Commands,
            format_args!("MoveItems with more than max_commands {max} moves"),
        );
        // The protocol has no Status for it: answered as a MoveItems that cannot be read.
        return Ok(status_reply(
            mv::MOVE_ITEMS,
            mv::STATUS,
            Status::InvalidSource,
        ));
    };
    let moves: Vec<Move> = moves
        .into_iter()
        .map(|m| Move {
            src_msg: m.text_of(mv::SRC_MSG_ID).unwrap_or_default().to_owned(),
            src_folder: m.text_of(mv::SRC_FLD_ID).unwrap_or_default().to_owned(),
            dst_folder: m.text_of(mv::DST_FLD_ID).unwrap_or_default().to_owned(),
            several_destinations: m.find_all(mv::DST_FLD_ID).nth(1).is_some(),
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

async fn move_one(ctx: &Ctx<'_>, m: &Move) -> Result<(Status, Option<String>), StoreError> {
    if m.several_destinations {
        return Ok((Status::Failed, None));
    }
    let account = ctx.account.id;
    let src_folder = m.src_folder.parse::<u64>().ok();
    let item = ItemRef::parse(&m.src_msg).filter(|r| Some(r.folder) == src_folder);
    // Folders the device is not shown are ones it does not have: Status 1 or 2.
    let sight = Sight::of(&ctx.device);
    let (src_name, dst_name) = (m.src_folder.clone(), m.dst_folder.clone());
    let (src, dst) = (ctx.app.store)
        .view(move |tx| {
            let src = Place::find(tx, sight, account, &src_name)?;
            Ok::<_, StoreError>((src, Place::find(tx, sight, account, &dst_name)?))
        })
        .await?;
    let (Some(src), Some(ItemRef { item: id, .. })) = (src, item) else {
        return Ok((Status::InvalidSource, None));
    };
    let Some(dst) = dst else {
        return Ok((Status::InvalidDestination, None));
    };
    if src.folder.id == dst.folder.id {
        return Ok((Status::SameFolder, None));
    }
    // A groupware folder shown as a mail folder (`all-as-mail`) holds messages made of
    // notes and tasks, server to device only: nothing moves out of it or into it.
    // [MS-ASCMD] 2.2.3.177.10 Status 5, "a failure occurred during the MoveItem operation",
    // as for a move the account has no right to make.
    if sight.shows_as_mail(&src.folder) || sight.shows_as_mail(&dst.folder) {
        tracing::info!(
            "{}: MoveItems from {} to {} refused: a groupware folder shown as mail is read-only",
            ctx.device.device_id,
            m.src_folder,
            m.dst_folder
        );
        return Ok((Status::Failed, None));
    }
    // An item goes only where its kind lives: mail between mail folders, an event between
    // calendars, ... ([MS-ASCMD] 2.2.3.177.9 Status 2, "invalid destination collection").
    let class = Class::of(src.folder.kind);
    if Class::of(dst.folder.kind) != class {
        return Ok((Status::InvalidDestination, None));
    }
    // In shared folders a move takes the right to delete (move out) at the source and to
    // write at the destination; items move within one account's folders only.
    let ((owner, from), (dst_owner, to)) = (src.home(account), dst.home(account));
    if owner != dst_owner || !src.may(|r| r.delete) || !dst.may(|r| r.write) {
        tracing::info!(
            "{}: MoveItems from {} to {} refused: no such right, or between accounts",
            ctx.device.device_id,
            m.src_folder,
            m.dst_folder
        );
        return Ok((Status::Failed, None));
    }
    let reach = sight.reach();
    let shown_id = dst.folder.id;
    let moved = ctx
        .app
        .store
        .write(move |w: &mut WriteCtx| {
            for place in [&src, &dst] {
                if !place.unchanged(w, account, reach)? {
                    return Ok(Moved::AccessChanged);
                }
            }
            let account = owner;
            if w.folder(account, to)?.is_none() {
                return Ok(Moved::DestinationGone);
            }
            let new_id = match class {
                None => items::move_to(w, account, from, id, to)?.map(|(_, m)| m.id),
                Some(_) => items::move_groupware(w, account, from, id, to)?.map(|(_, g)| g.id),
            };
            if let Some(new_id) = new_id {
                return Ok(Moved::To(ItemRef::new(shown_id, new_id).to_string()));
            }
            // Gone from the source: a resend of this very move gets the same answer while
            // the moved item is still where the move put it.
            match w.moved_to(account, from, id)? {
                Some((there, new_id))
                    if there == to
                        && (w.item(account, to, new_id)?.is_some()
                            || w.groupware_item(account, to, new_id)?.is_some()) =>
                {
                    Ok(Moved::To(ItemRef::new(shown_id, new_id).to_string()))
                }
                _ => Ok(Moved::SourceGone),
            }
        })
        .await;
    Ok(match moved {
        Ok(Moved::To(new_id)) => (Status::Ok, Some(new_id)),
        Ok(Moved::SourceGone) => (Status::InvalidSource, None),
        Ok(Moved::DestinationGone) => (Status::InvalidDestination, None),
        Ok(Moved::AccessChanged) => (Status::Locked, None),
        Err(e) => (write_failure(e)?, None),
    })
}

/// The Status of a move whose write failed: a retriable failure is the transient
/// condition of Status 7, and the client tries again; any other is the server's error.
fn write_failure(e: StoreError) -> Result<Status, StoreError> {
    if retriable(&e) {
        tracing::warn!("MoveItems write failed, the client is told to retry: {e}");
        Ok(Status::Locked)
    } else {
        Err(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_is_locked_or_an_error() {
        assert_eq!(
            write_failure(StoreError::WriterGone).ok(),
            Some(Status::Locked)
        );
        assert_eq!(
            write_failure(StoreError::Io(std::io::Error::other("commit failed"))).ok(),
            Some(Status::Locked)
        );
        assert!(write_failure(StoreError::Invalid("no".into())).is_err());
    }
}
