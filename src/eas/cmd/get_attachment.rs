//! GetAttachment ([MS-ASCMD] 2.2.1.7), protocol 12.0/12.1 only: the attachment named by
//! `AttachmentName` (a FileReference, as Sync hands out) is the raw HTTP response body.
//!
//! The command has no WBXML status: [MS-ASCMD] 2.2.1.7 answers an attachment that does not
//! exist (any more) with HTTP 500, which is also what an unparseable name gets. One the
//! device's policy withholds (AttachmentsEnabled=0, MaxAttachmentSize, [MS-ASPROV]
//! 2.2.2.11/2.2.2.31) gets 403: retrying would not help, unlike after a 500.

use hyper::StatusCode;

use super::{Ctx, Reply};
use crate::eas::class::AttachmentRefusal;
use crate::govern::foreign::Place;
use crate::govern::settings::Sight;
use crate::mail::mime;
use crate::proto::ids::{FileRef, ItemRef};
use crate::store::StoreError;

pub async fn handle(ctx: &mut Ctx<'_>) -> Result<Reply, StoreError> {
    let Some(name) = ctx.req.attachment_name.as_deref() else {
        tracing::info!(
            "{}: GetAttachment without AttachmentName",
            ctx.account.email
        );
        return Ok(Reply::Http(StatusCode::BAD_REQUEST));
    };
    match find(ctx, name).await? {
        Found::Attachment(content_type, body) => Ok(Reply::Raw { content_type, body }),
        Found::Withheld(why) => {
            tracing::info!(
                "{}: GetAttachment of {name:?} refused by policy: {why:?}",
                ctx.account.email
            );
            Ok(Reply::Http(StatusCode::FORBIDDEN))
        }
        Found::Nothing => {
            tracing::info!("{}: GetAttachment of unknown {name:?}", ctx.account.email);
            Ok(Reply::Http(StatusCode::INTERNAL_SERVER_ERROR))
        }
    }
}

enum Found {
    Attachment(String, Vec<u8>),
    Withheld(AttachmentRefusal),
    Nothing,
}

/// The content type and decoded bytes of the attachment `file_ref` names, if it exists and
/// the device's policy lets it have it (checked on the recorded size, before the blob is read).
async fn find(ctx: &Ctx<'_>, file_ref: &str) -> Result<Found, StoreError> {
    let Some(FileRef {
        item: ItemRef { folder, item: id },
        part,
    }) = FileRef::parse(file_ref)
    else {
        return Ok(Found::Nothing);
    };
    let (sight, account) = (Sight::of(&ctx.device), ctx.account.id);
    let item = (ctx.app.store)
        .view(move |tx| Place::item(tx, sight, account, folder, id))
        .await?;
    let Some(item) = item else {
        return Ok(Found::Nothing);
    };
    let Some(listed) = item.meta.attachments.iter().find(|a| a.part == part) else {
        return Ok(Found::Nothing);
    };
    let policy = ctx.mail_policy();
    if let Err(why) = policy.attachment(listed.size) {
        return Ok(Found::Withheld(why));
    }
    let raw = ctx.app.store.blobs().read(&item.blob)?;
    Ok(match mime::attachment(&raw, part) {
        Some((content_type, body)) => Found::Attachment(content_type, body),
        None => Found::Nothing,
    })
}
