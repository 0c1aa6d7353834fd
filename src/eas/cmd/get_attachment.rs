//! GetAttachment ([MS-ASCMD] 2.2.1.7), protocol 12.0/12.1 only: the attachment named by
//! `AttachmentName` (a FileReference, as Sync hands out) is the raw HTTP response body.
//!
//! The command has no WBXML status: [MS-ASCMD] 2.2.1.7 answers an attachment that does not
//! exist (any more) with HTTP 500, which is also what an unparseable name gets.

use hyper::StatusCode;

use super::{Ctx, Reply};
use crate::mail::mime;
use crate::store::StoreError;
use crate::store::items::ItemReads;
use crate::sync::parse_file_reference;

pub async fn handle(ctx: &mut Ctx<'_>) -> Result<Reply, StoreError> {
    let Some(name) = ctx.req.attachment_name.as_deref() else {
        tracing::info!(
            "{}: GetAttachment without AttachmentName",
            ctx.account.email
        );
        return Ok(Reply::Http(StatusCode::BAD_REQUEST));
    };
    match find(ctx, name)? {
        Some((content_type, body)) => Ok(Reply::Raw { content_type, body }),
        None => {
            tracing::info!("{}: GetAttachment of unknown {name:?}", ctx.account.email);
            Ok(Reply::Http(StatusCode::INTERNAL_SERVER_ERROR))
        }
    }
}

/// The content type and decoded bytes of the attachment `file_ref` names, if it exists.
fn find(ctx: &Ctx<'_>, file_ref: &str) -> Result<Option<(String, Vec<u8>)>, StoreError> {
    let Some((folder, id, part)) = parse_file_reference(file_ref) else {
        return Ok(None);
    };
    let Some(item) = ctx.app.store.read()?.item(ctx.account.id, folder, id)? else {
        return Ok(None);
    };
    let raw = ctx.app.store.blobs().read(&item.blob)?;
    Ok(mime::attachment(&raw, part))
}
