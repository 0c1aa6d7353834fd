//! SendMail, SmartReply and SmartForward ([MS-ASCMD] 2.2.1.17, 2.2.1.20, 2.2.1.19): the
//! 14.0+ ComposeMail WBXML form and the 12.x form (the raw message as the body, parameters
//! in the query).

use hyper::StatusCode;

use super::{Ctx, Reply};
use crate::govern::settings::Sight;
use crate::mail::smart::Smart;
use crate::mail::submit::{self, Source, Submission, SubmitError};
use crate::proto::command::Command;
use crate::proto::ids::ItemRef;
use crate::proto::status::GlobalStatus;
use crate::proto::version::ProtocolVersion;
use crate::refusal::Limit;
use crate::store::StoreError;
use crate::wbxml::{Element, Tag, tag::composemail as cm};

fn root(command: Command) -> Tag {
    match command {
        Command::SmartReply => cm::SMART_REPLY,
        Command::SmartForward => cm::SMART_FORWARD,
        _ => cm::SEND_MAIL,
    }
}

fn smart_kind(command: Command) -> Option<Smart> {
    match command {
        Command::SmartReply => Some(Smart::Reply),
        Command::SmartForward => Some(Smart::Forward),
        _ => None,
    }
}

pub async fn handle(ctx: &mut Ctx<'_>, body: Option<Element>) -> Result<Reply, StoreError> {
    let command = ctx.req.command;
    let submission = if ctx.req.version >= ProtocolVersion::V14_0 && ctx.mime_body.is_none() {
        from_wbxml(command, body)
    } else {
        from_query(ctx, command)
    };
    let Some(submission) = submission else {
        tracing::info!("{}: malformed {command}", ctx.device.device_id);
        return Ok(failure(ctx, command, GlobalStatus::InvalidContent));
    };
    // The message replied to or forwarded must be in a folder the device is sent the
    // contents of: one in a folder it does not have (or any while it is quarantined, as
    // the reply or forward would carry the original) is not found (Status 150,
    // ItemNotFound).
    if let Some(folder) = submission.source.as_ref().map(|s| s.folder) {
        let (sight, account) = (Sight::of(&ctx.device), ctx.account.id);
        let shown = (ctx.app.store)
            .view(move |tx| sight.contents(tx, account, folder))
            .await?;
        if shown.is_none() {
            let e = SubmitError::SourceNotFound;
            tracing::info!(
                "{} {}: {command}: {e}",
                ctx.account.email,
                ctx.device.device_id
            );
            return Ok(failure(ctx, command, e.status()));
        }
    }
    match submit::submit(
        &ctx.app.store,
        &ctx.app.settings.current().cfg,
        ctx.account,
        submission,
    )
    .await
    {
        // [MS-ASCMD] 2.2.1.17: success is an empty response.
        Ok(()) => Ok(Reply::Http(StatusCode::OK)),
        Err(SubmitError::Store(e)) => Err(e),
        Err(e @ SubmitError::TooManyRecipients { .. }) => {
            ctx.refuse(Limit::Recipients, format_args!("{command}: {e}"));
            Ok(failure(ctx, command, e.status()))
        }
        Err(e) => {
            tracing::warn!(
                "{} {}: {command} failed: {e}",
                ctx.account.email,
                ctx.device.device_id
            );
            Ok(failure(ctx, command, e.status()))
        }
    }
}

/// 14.0+ answers with the command's Status; 12.x only has HTTP statuses.
fn failure(ctx: &Ctx<'_>, command: Command, status: GlobalStatus) -> Reply {
    if ctx.req.version >= ProtocolVersion::V14_0 {
        Reply::Wbxml(Element::new(root(command)).text_child(cm::STATUS, status.code().to_string()))
    } else if status == GlobalStatus::ServerErrorRetryLater {
        Reply::Http(StatusCode::SERVICE_UNAVAILABLE)
    } else {
        Reply::Http(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

fn from_wbxml(command: Command, body: Option<Element>) -> Option<Submission> {
    let mut b = body.filter(|b| b.tag == root(command))?;
    let raw = b.find_mut(cm::MIME)?.take_bytes_lenient()?;
    let source = match smart_kind(command) {
        Some(kind) => {
            let s = b.find(cm::SOURCE)?;
            // Source by LongId (a search result) names `folder:item` like a ServerId.
            let ItemRef { folder, item } = match (s.text_of(cm::FOLDER_ID), s.text_of(cm::ITEM_ID))
            {
                (Some(f), Some(i)) => ItemRef::parse(i).filter(|r| f.parse() == Ok(r.folder))?,
                _ => ItemRef::parse(s.text_of(cm::LONG_ID)?)?,
            };
            Some(Source {
                folder,
                item,
                kind,
                replace_mime: b.find(cm::REPLACE_MIME).is_some(),
            })
        }
        None => None,
    };
    Some(Submission {
        raw,
        save_in_sent: b.find(cm::SAVE_IN_SENT_ITEMS).is_some(),
        client_id: b.text_of(cm::CLIENT_ID).map(str::to_owned),
        source,
        draft: None,
    })
}

fn from_query(ctx: &Ctx<'_>, command: Command) -> Option<Submission> {
    let raw = ctx.mime_body.as_ref()?.to_vec();
    let source = match smart_kind(command) {
        Some(kind) => {
            let item = ctx.req.item_id.as_ref()?;
            let ItemRef { folder, item: id } = ItemRef::parse(item.as_str())?;
            if ctx
                .req
                .collection_id
                .as_ref()
                .is_some_and(|c| c.as_str().parse() != Ok(folder))
            {
                return None;
            }
            Some(Source {
                folder,
                item: id,
                kind,
                replace_mime: false,
            })
        }
        None => None,
    };
    Some(Submission {
        raw,
        save_in_sent: ctx.req.save_in_sent,
        client_id: None,
        source,
        draft: None,
    })
}
