//! MeetingResponse ([MS-ASCMD] 2.2.1.11): the user accepts, tentatively accepts or
//! declines a meeting, named by the meeting request in a mail folder (RequestId = the
//! message's ServerId) or by the event in a calendar (the event's ServerId), at 14.1+
//! optionally one occurrence of it (InstanceId). The event is updated (or, declined,
//! removed) through `mail::invite::respond`; a meeting request message answered from the
//! Inbox goes to Deleted Items (where Exchange puts it), or is deleted when there is none.
//! The answer's CalendarId is the event's ServerId, absent for a decline (2.2.3.18).

use super::{Ctx, Reply, status_reply};
use crate::bounded::at_most;
use crate::eas::class::groupware::Class;
use crate::govern::settings::Sight;
use crate::mail::invite::{self, Answer, Responded};
use crate::proto::datetime::parse_datetime;
use crate::proto::ids::ItemRef;
use crate::proto::status::command_status;
use crate::proto::version::ProtocolVersion;
use crate::refusal::Limit;
use crate::store::items::{self, ItemReads};
use crate::store::model::{AccountId, FolderId, FolderType, MeetingMessageType};
use crate::store::ops::Reads;
use crate::store::{StoreError, WriteCtx, now};
use crate::wbxml::{Element, tag::meetingresponse as mr};

command_status! {
    /// MeetingResponse Status values ([MS-ASCMD] 2.2.3.177.8).
    enum Status {
        Ok = 1,
        /// "Invalid meeting request": no such item, not a meeting request, a bad
        /// UserResponse or InstanceId, another account's id.
        InvalidRequest = 2,
        /// "An error occurred on the server mailbox."
        MailboxError = 3,
    }
}

/// One Request of the command.
struct Asked {
    request_id: String,
    collection_id: String,
    answer: Option<Answer>,
    /// `Some(None)`: an InstanceId that is no date-time.
    instance: Option<Option<i64>>,
}

pub async fn handle(ctx: &mut Ctx<'_>, body: Option<Element>) -> Result<Reply, StoreError> {
    let Some(req) = body.filter(|b| b.tag == mr::MEETING_RESPONSE) else {
        return Ok(status_reply(
            mr::MEETING_RESPONSE,
            mr::STATUS,
            Status::InvalidRequest,
        ));
    };
    let max = ctx.app.cfg.limits.max_commands;
    let Ok(requests) = at_most(req.find_all(mr::REQUEST), max) else {
        ctx.refuse(
            Limit::Commands,
            format_args!("MeetingResponse with more than max_commands {max} requests"),
        );
        return Ok(status_reply(
            mr::MEETING_RESPONSE,
            mr::STATUS,
            Status::InvalidRequest,
        ));
    };
    // InstanceId is a 14.1 element ([MS-ASCMD] 2.2.3.88.1).
    let instances = ctx.req.version >= ProtocolVersion::V14_1;
    let asked: Vec<Asked> = requests
        .into_iter()
        .map(|r| Asked {
            request_id: r.text_of(mr::REQUEST_ID).unwrap_or_default().to_owned(),
            collection_id: r.text_of(mr::COLLECTION_ID).unwrap_or_default().to_owned(),
            answer: r.text_of(mr::USER_RESPONSE).and_then(Answer::from_number),
            instance: r
                .text_of(mr::INSTANCE_ID)
                .filter(|_| instances)
                .map(parse_datetime),
        })
        .collect();
    let mut out = Element::new(mr::MEETING_RESPONSE);
    for a in asked {
        let (status, calendar_id) = match answer_one(ctx, &a).await {
            Ok(done) => done,
            Err(e) => {
                tracing::warn!(who = ctx.who(), error = %e, "MeetingResponse failed");
                (Status::MailboxError, None)
            }
        };
        let mut r = Element::new(mr::RESULT)
            .text_child(mr::REQUEST_ID, a.request_id.clone())
            .text_child(mr::STATUS, status.code().to_string());
        if let Some(id) = calendar_id {
            r.push_text(mr::CALENDAR_ID, id);
        }
        out.push(r);
    }
    Ok(Reply::Wbxml(out))
}

/// Where the answered meeting was named.
enum Source {
    /// A meeting request message: its folder and id.
    Message(FolderId, u64),
    /// The event itself.
    Event,
}

async fn answer_one(ctx: &Ctx<'_>, a: &Asked) -> Result<(Status, Option<String>), StoreError> {
    let invalid = |why: &str| {
        tracing::info!(
            who = ctx.who(),
            request = a.request_id,
            "MeetingResponse: {why}"
        );
        Ok((Status::InvalidRequest, None))
    };
    let (Some(answer), Some(ItemRef { folder, item })) = (a.answer, ItemRef::parse(&a.request_id))
    else {
        return invalid("no UserResponse or RequestId");
    };
    let instance = match a.instance {
        Some(None) => return invalid("an InstanceId that is no date-time"),
        Some(Some(t)) => Some(t),
        None => None,
    };
    let account = ctx.account.id;
    let sight = Sight::of(&ctx.device);
    let name = a.collection_id.clone();
    // Folders and items are looked up in the account's own folders only: another
    // account's ids name nothing here (Status 2, nothing told).
    let found = (ctx.app.store)
        .view(move |tx| locate(tx, &sight, account, &name, (folder, item)))
        .await?;
    let Some((source, (calendar, event))) = found else {
        return invalid("no meeting request or event of this account by that id");
    };
    let at = now();
    let done = (ctx.app.store)
        .write(move |w: &mut WriteCtx| {
            let done = invite::respond(w, account, (calendar, event), answer, instance, at)?;
            if let (Source::Message(folder, id), Responded::Kept(_) | Responded::Removed) =
                (&source, done)
            {
                put_away(w, account, *folder, *id)?;
            }
            Ok(done)
        })
        .await?;
    Ok(match done {
        Responded::Kept(id) => (Status::Ok, Some(ItemRef::new(calendar, id).to_string())),
        Responded::Removed => (Status::Ok, None),
        Responded::Gone => return invalid("the event is gone"),
        Responded::NoSuchInstance => return invalid("an InstanceId for a single event"),
    })
}

/// An event: its calendar folder and id.
type EventAt = (FolderId, u64);

/// The answered meeting: where it was named and its event (calendar folder, event id).
fn locate(
    tx: &impl Reads,
    sight: &Sight,
    account: AccountId,
    collection: &str,
    (folder, item): (FolderId, u64),
) -> Result<Option<(Source, EventAt)>, StoreError> {
    let Some(f) = sight.folder_named(tx, account, collection)? else {
        return Ok(None);
    };
    if f.id != folder {
        return Ok(None);
    }
    match Class::of(f.kind) {
        // A mail folder: a meeting request message, its event found by UID in the
        // default calendar (where its delivery placed it).
        None => {
            let Some(message) = tx.item(account, folder, item)? else {
                return Ok(None);
            };
            let Some(meeting) = message.meta.meeting.filter(|m| {
                m.message_type != MeetingMessageType::Unspecified
                    || message.meta.message_class == "IPM.Schedule.Meeting.Request"
            }) else {
                return Ok(None);
            };
            let Some(calendar) = invite::default_calendar(tx, account)? else {
                return Ok(None);
            };
            Ok(invite::find(tx, account, calendar, &meeting.uid)?
                .map(|(id, _)| (Source::Message(folder, item), (calendar, id))))
        }
        Some(_) if matches!(f.kind, FolderType::Calendar | FolderType::UserCalendar) => Ok(tx
            .groupware_item(account, folder, item)?
            .map(|_| (Source::Event, (folder, item)))),
        Some(_) => Ok(None),
    }
}

/// The answered request message goes to Deleted Items, or is deleted without one.
fn put_away(
    w: &mut WriteCtx,
    account: AccountId,
    folder: FolderId,
    id: u64,
) -> Result<(), StoreError> {
    let deleted = w
        .folders(account)?
        .into_iter()
        .find(|f| f.kind == FolderType::DeletedItems)
        .map(|f| f.id);
    match deleted {
        Some(to) if to != folder => {
            items::move_to(w, account, folder, id, to)?;
        }
        _ => {
            items::delete(w, account, folder, id)?;
        }
    }
    Ok(())
}
