//! MeetingResponse ([MS-ASCMD] 2.2.1.11): the user accepts, tentatively accepts or
//! declines a meeting, named by the meeting request in a mail folder (RequestId = the
//! message's ServerId) or by the event in a calendar (the event's ServerId), at 14.1+
//! optionally one occurrence of it (InstanceId). The event is updated (or, declined,
//! removed) through `mail::invite::respond`; a meeting request message answered from the
//! Inbox goes to Deleted Items (where Exchange puts it), or is deleted when there is none.
//! The answer's CalendarId is the event's ServerId, absent for a decline (2.2.3.18).
//!
//! At 16.x a Request with SendResponse (2.2.3.163) also has the server mail the iTIP
//! REPLY to the organizer (`mail::imip::reply`), after the calendar change is committed;
//! below 16.0, or without SendResponse, nothing is sent (the client sends its own,
//! 2.2.1.11). The spec has no Status for a reply that could not be mailed: the answer is
//! the calendar's (Status 1), and the failure is logged.

use super::{Ctx, Reply, status_reply};
use crate::bounded::at_most;
use crate::eas::class::groupware::Class;
use crate::govern::settings::Sight;
use crate::mail::imip::{self, Note};
use crate::mail::invite::{self, Answer, Responded};
use crate::proto::datetime::parse_datetime;
use crate::proto::ids::ItemRef;
use crate::proto::status::command_status;
use crate::proto::version::ProtocolVersion;
use crate::refusal::Limit;
use crate::store::items::{self, ItemReads};
use crate::store::model::pim::{Event, Record};
use crate::store::model::{AccountId, FolderId, FolderType, MeetingMessageType};
use crate::store::ops::Reads;
use crate::store::{StoreError, WriteCtx, now};
use crate::wbxml::tag::airsyncbase as base;
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
    /// 16.x SendResponse: mail the REPLY, with this text (`None`: no body).
    send: Option<Option<Note>>,
}

/// A SendResponse's text: its airsyncbase:Body ([MS-ASAIRS] 2.2.2.9; Type 1 plain, 2
/// HTML). An RTF body (Type 3) is not turned into text: the reply goes without one.
fn send_response(e: &Element) -> Option<Note> {
    let body = e.find(base::BODY)?;
    let data = body.text_of(base::DATA).unwrap_or_default().to_owned();
    match body.text_of(base::TYPE).map(str::trim) {
        Some("2") => Some(Note::Html(data)),
        Some("1") | None => Some(Note::Plain(data)),
        Some(other) => {
            tracing::info!(
                "MeetingResponse: a SendResponse Body of Type {other} is sent without its text"
            );
            None
        }
    }
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
    // SendResponse is a 16.0 element ([MS-ASCMD] 2.2.3.163).
    let sends = ctx.req.version >= ProtocolVersion::V16_0;
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
            send: r
                .find(mr::SEND_RESPONSE)
                .filter(|_| sends)
                .map(send_response),
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
    let (done, answered) = (ctx.app.store)
        .write(move |w: &mut WriteCtx| {
            // The event as it was answered: a declined one is gone after `respond`.
            let answered = match w.groupware_item(account, calendar, event)? {
                Some(item) => match item.record {
                    Record::Event(e) => Some(*e),
                    _ => None,
                },
                None => None,
            };
            let done = invite::respond(w, account, (calendar, event), answer, instance, at)?;
            if let (Source::Message(folder, id), Responded::Kept(_) | Responded::Removed) =
                (&source, done)
            {
                put_away(w, account, *folder, *id)?;
            }
            Ok((done, answered))
        })
        .await?;
    if let (Some(note), Responded::Kept(_) | Responded::Removed, Some(event)) =
        (&a.send, done, &answered)
    {
        mail_reply(ctx, event, answer, instance, note.clone(), at).await;
    }
    Ok(match done {
        Responded::Kept(id) => (Status::Ok, Some(ItemRef::new(calendar, id).to_string())),
        Responded::Removed => (Status::Ok, None),
        Responded::Gone => return invalid("the event is gone"),
        Responded::NoSuchInstance => return invalid("an InstanceId for a single event"),
    })
}

/// Mails the REPLY for a committed answer; a failure is logged, the answer stands.
async fn mail_reply(
    ctx: &Ctx<'_>,
    event: &Event,
    answer: Answer,
    instance: Option<i64>,
    note: Option<Note>,
    at: i64,
) {
    let sender = imip::Sender {
        email: &ctx.account.email,
        name: &ctx.account.display_name,
        lcid: ctx.req.locale,
        hostname: &ctx.app.cfg.hostname,
        now: at,
    };
    let Some(out) = imip::reply(&sender, event, answer, instance, note) else {
        tracing::info!(
            who = ctx.who(),
            uid = event.uid.as_deref().unwrap_or_default(),
            "MeetingResponse: SendResponse for a meeting without an organizer; no reply sent"
        );
        return;
    };
    match imip::send(&ctx.app.store, &ctx.app.cfg, ctx.account, out).await {
        Ok(()) => tracing::info!(
            who = ctx.who(),
            uid = event.uid.as_deref().unwrap_or_default(),
            "MeetingResponse: reply sent to the organizer"
        ),
        Err(e) => tracing::warn!(
            who = ctx.who(),
            uid = event.uid.as_deref().unwrap_or_default(),
            error = %e,
            "MeetingResponse: the reply to the organizer was not sent; the calendar keeps the answer"
        ),
    }
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
