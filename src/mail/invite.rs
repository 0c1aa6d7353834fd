//! What a delivered meeting message does to the recipient's default calendar (iTIP, RFC
//! 5546 3.2; pim-notes §4): a REQUEST places the event there as not yet answered, or
//! updates the one of the same UID when its SEQUENCE is higher; a CANCEL removes it (or the
//! cancelled occurrence); a REPLY, delivered to the organizer, records the answering
//! attendee's status on the organizer's event. Runs inside the delivery's transaction, so
//! the message and its calendar change commit together.

use jiff::Timestamp;

use crate::pim::itip::{self, Busy, Class, Itip, Method, PartStat, Role};
use crate::pim::tz;
use crate::store::items::{self, ItemReads};
use crate::store::model::pim::{Attendee, Event, Exception, Place, Record, Stamp};
use crate::store::model::{
    AccountId, CalendarSummary, FolderId, FolderType, GroupwareItem, Summary,
};
use crate::store::ops::Reads;
use crate::store::{StoreError, WriteCtx};

/// [MS-ASCAL] 2.2.2.29 MeetingStatus 3: a meeting the user received.
const MEETING_RECEIVED: i32 = 3;
/// [MS-ASCAL] 2.2.2.29 MeetingStatus 7: a received meeting that was cancelled.
const RECEIVED_CANCELLED: i32 = 7;
/// [MS-ASCAL] 2.2.2.40 ResponseType 5: not responded.
const NOT_RESPONDED: i32 = 5;

/// A meeting message read for the calendar: its method and its events.
#[derive(Debug, Clone)]
pub struct Scheduling {
    pub method: Method,
    pub itip: Itip,
}

/// Reads the calendar part of `raw`, a message `mime::parse` found to be a meeting
/// message. `None`: no method this module acts on.
pub fn read(raw: &[u8]) -> Option<Scheduling> {
    let (text, param) = super::mime::calendar(raw)?;
    let itip = itip::parse(&text).ok()?;
    let method = param.as_deref().and_then(Method::parse).or(itip.method)?;
    matches!(
        method,
        Method::Request | Method::Add | Method::Cancel | Method::Reply
    )
    .then_some(Scheduling { method, itip })
}

/// The calendar change a parsed message carries: only meeting messages are read again
/// (the calendar part is small, the second parse rare).
pub fn of_message(meta: &crate::store::model::MessageMeta, raw: &[u8]) -> Option<Scheduling> {
    meta.meeting.is_some().then(|| read(raw)).flatten()
}

/// Applies `s` to the default calendar of `account`. An account without a calendar, or
/// a message about an event it does not hold (a CANCEL or REPLY of an unknown UID), leaves
/// the calendar as it is.
pub fn apply(ctx: &mut WriteCtx, account: AccountId, s: &Scheduling) -> Result<(), StoreError> {
    let Some(main) = s.itip.main_event() else {
        return Ok(());
    };
    let Some(calendar) = default_calendar(ctx, account)? else {
        tracing::info!(
            account,
            "a meeting message for an account without a calendar"
        );
        return Ok(());
    };
    let stored = find(ctx, account, calendar, &main.uid)?;
    let put = |ctx: &mut WriteCtx, id: Option<u64>, event: Event| {
        let summary = summary(&event);
        items::put_groupware(
            ctx,
            account,
            calendar,
            id,
            Record::Event(Box::new(event)),
            summary,
        )
        .map(|_: Option<GroupwareItem>| ())
    };
    match (s.method, stored) {
        (Method::Request | Method::Add, None) => put(ctx, None, placed(main, &s.itip)),
        // RFC 5546 2.1.5: only a higher SEQUENCE revises the event; an equal or lower one
        // is a copy or an older revision.
        (Method::Request | Method::Add, Some((id, old))) => {
            if old.itip_sequence.is_some_and(|seq| main.sequence <= seq) {
                tracing::info!(account, uid = main.uid, "an older or repeated invitation");
                return Ok(());
            }
            let mut new = placed(main, &s.itip);
            if main.recurrence_id.is_some() {
                // One occurrence re-sent: the series stays, that occurrence changes.
                new = with_exceptions(old, &s.itip);
            }
            put(ctx, Some(id), new)
        }
        (Method::Cancel, Some((id, mut old))) => match main.recurrence_id {
            // RFC 5546 3.2.5: a CANCEL with a RECURRENCE-ID cancels that occurrence.
            Some(original) if old.recurrence.is_some() => {
                set_exception(&mut old.exceptions, deleted(original));
                put(ctx, Some(id), old)
            }
            _ => items::delete_groupware(ctx, account, calendar, id).map(|_| ()),
        },
        (Method::Reply, Some((id, mut old))) => {
            // RFC 5546 3.2.3: the REPLY's one ATTENDEE is the one answering.
            let Some(answer) = main.attendees.first() else {
                return Ok(());
            };
            let Some(attendee) = old.attendees.iter_mut().find(|a| {
                a.email
                    .as_deref()
                    .is_some_and(|e| e.eq_ignore_ascii_case(&answer.person.address))
            }) else {
                tracing::info!(account, uid = main.uid, "a reply from someone not invited");
                return Ok(());
            };
            attendee.attendee_status = Some(attendee_status(answer.partstat));
            put(ctx, Some(id), old)
        }
        (_, None) => {
            tracing::info!(
                account,
                uid = main.uid,
                "a meeting message about an event not held"
            );
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The account's default calendar.
pub fn default_calendar(
    tx: &impl Reads,
    account: AccountId,
) -> Result<Option<FolderId>, StoreError> {
    Ok(tx
        .folders(account)?
        .into_iter()
        .find(|f| f.kind == FolderType::Calendar)
        .map(|f| f.id))
}

/// The event of `folder` with the iCalendar UID `uid`: its id and record.
pub fn find(
    tx: &impl Reads,
    account: AccountId,
    folder: FolderId,
    uid: &str,
) -> Result<Option<(u64, Event)>, StoreError> {
    Ok(tx
        .groupware_items(account, folder)?
        .into_iter()
        .find_map(|item| match item.record {
            Record::Event(e) if e.uid.as_deref() == Some(uid) => Some((item.id, *e)),
            _ => None,
        }))
}

/// A user's answer to a meeting ([MS-ASCMD] 2.2.3.182 UserResponse).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Accept,
    Tentative,
    Decline,
}

impl Answer {
    /// UserResponse 1, 2, 3.
    pub fn from_number(n: &str) -> Option<Self> {
        match n.trim() {
            "1" => Some(Answer::Accept),
            "2" => Some(Answer::Tentative),
            "3" => Some(Answer::Decline),
            _ => None,
        }
    }
}

/// What [`respond`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Responded {
    /// The event stays in the calendar: its id.
    Kept(u64),
    /// Declined: the event left the calendar.
    Removed,
    /// No such event (any more).
    Gone,
    /// An InstanceId for an event that is no series.
    NoSuchInstance,
}

/// Records `answer` on event `id` of `folder` (the whole series, or with `instance` the
/// occurrence that started then): an accepted or tentative meeting stays with its
/// ResponseType and BusyStatus ([MS-ASCAL] 2.2.2.40, 2.2.2.10), a declined one leaves the
/// calendar (a declined occurrence becomes a deleted exception).
pub fn respond(
    ctx: &mut WriteCtx,
    account: AccountId,
    (folder, id): (FolderId, u64),
    answer: Answer,
    instance: Option<i64>,
    now: i64,
) -> Result<Responded, StoreError> {
    let Some(item) = ctx.groupware_item(account, folder, id)? else {
        return Ok(Responded::Gone);
    };
    let Record::Event(mut event) = item.record else {
        return Ok(Responded::Gone);
    };
    // [MS-ASCAL] 2.2.2.40 ResponseType: 2 tentative, 3 accepted, 4 declined; BusyStatus
    // (2.2.2.10): 0 free, 1 tentative, 2 busy.
    let (response, busy) = match answer {
        Answer::Accept => (3, 2),
        Answer::Tentative => (2, 1),
        Answer::Decline => (4, 0),
    };
    match instance {
        Some(_) if event.recurrence.is_none() => return Ok(Responded::NoSuchInstance),
        Some(original) if answer == Answer::Decline => {
            set_exception(&mut event.exceptions, deleted(original));
        }
        Some(original) => {
            let mut x = event
                .exceptions
                .iter()
                .find(|x| x.original == Stamp(original))
                .cloned()
                .unwrap_or_else(|| Exception {
                    original: Stamp(original),
                    ..Exception::default()
                });
            x.response_type = Some(response);
            x.busy_status = Some(busy);
            x.appointment_reply_time = Some(Stamp(now));
            set_exception(&mut event.exceptions, x);
        }
        None if answer == Answer::Decline => {
            items::delete_groupware(ctx, account, folder, id)?;
            return Ok(Responded::Removed);
        }
        None => {
            event.response_type = Some(response);
            event.busy_status = Some(busy);
            event.appointment_reply_time = Some(Stamp(now));
        }
    }
    let summary = summary(&event);
    items::put_groupware(
        ctx,
        account,
        folder,
        Some(id),
        Record::Event(event),
        summary,
    )?;
    Ok(Responded::Kept(id))
}

/// The event a REQUEST places: the series (or single event) with its overridden and
/// excluded occurrences as exceptions, not yet answered.
fn placed(main: &itip::Event, itip: &Itip) -> Event {
    let mut event = Event {
        timezone: Some(zone_blob(main).to_base64()),
        all_day_event: Some(main.all_day),
        busy_status: Some(busy_status(main.busy)),
        dt_stamp: Some(Stamp(main.dtstamp.unwrap_or(main.start))),
        start_time: Some(Stamp(main.start)),
        end_time: Some(Stamp(main.end)),
        meeting_status: Some(MEETING_RECEIVED),
        organizer_email: main.organizer.as_ref().map(|o| o.address.clone()),
        organizer_name: main.organizer.as_ref().and_then(|o| o.name.clone()),
        // [MS-ASCAL] 2.2.2.38: minutes.
        reminder: main
            .reminder
            .and_then(|s| i32::try_from(s / 60).ok())
            .filter(|m| *m >= 0),
        sensitivity: Some(sensitivity(main.class)),
        subject: main.summary.clone(),
        uid: Some(main.uid.clone()),
        disallow_new_time_proposal: Some(main.disallow_counter),
        response_requested: Some(main.attendees.iter().any(|a| a.rsvp)),
        response_type: Some(NOT_RESPONDED),
        location: main.location.clone().map(|name| Place {
            display_name: Some(name),
            ..Place::default()
        }),
        attendees: main.attendees.iter().map(attendee).collect(),
        recurrence: main
            .recurrence
            .as_ref()
            .map(crate::pim::ical::recurrence_record),
        itip_sequence: Some(main.sequence),
        ..Event::default()
    };
    if event.recurrence.is_some() {
        for &original in &main.exdates {
            set_exception(&mut event.exceptions, deleted(original));
        }
        event = with_exceptions(event, itip);
    }
    event
}

/// `event` with the occurrences `itip` overrides (its VEVENTs with a RECURRENCE-ID) as
/// changed exceptions ([MS-ASCAL] 2.2.2.21).
fn with_exceptions(mut event: Event, itip: &Itip) -> Event {
    for e in &itip.events {
        let Some(original) = e.recurrence_id else {
            continue;
        };
        let exception = Exception {
            subject: e.summary.clone(),
            start_time: Some(Stamp(e.start)),
            end_time: Some(Stamp(e.end)),
            all_day_event: Some(e.all_day),
            busy_status: Some(busy_status(e.busy)),
            meeting_status: Some(MEETING_RECEIVED),
            dt_stamp: e.dtstamp.map(Stamp),
            original: Stamp(original),
            location: e.location.clone().map(|name| Place {
                display_name: Some(name),
                ..Place::default()
            }),
            ..Exception::default()
        };
        set_exception(&mut event.exceptions, exception);
    }
    event
}

fn deleted(original: i64) -> Exception {
    Exception {
        deleted: Some(true),
        meeting_status: Some(RECEIVED_CANCELLED),
        original: Stamp(original),
        ..Exception::default()
    }
}

/// Puts `x` in the list in place of the exception of the same occurrence, if any.
fn set_exception(list: &mut Vec<Exception>, x: Exception) {
    match list.iter_mut().find(|e| e.original == x.original) {
        Some(kept) => *kept = x,
        None => list.push(x),
    }
}

/// The zone of the start as a TIME_ZONE_INFORMATION ([MS-ASCAL] 2.2.2.44); an all-day
/// event without a zone is in UTC.
fn zone_blob(e: &itip::Event) -> crate::proto::timezone::TimeZoneInfo {
    Timestamp::from_second(e.start)
        .map(|at| tz::blob_for(&e.zone, at))
        .unwrap_or_else(|_| crate::proto::timezone::TimeZoneInfo::utc())
}

fn attendee(a: &itip::Attendee) -> Attendee {
    Attendee {
        email: Some(a.person.address.clone()),
        name: a.person.name.clone(),
        attendee_status: Some(attendee_status(a.partstat)),
        // [MS-ASCAL] 2.2.2.5: 1 required, 2 optional, 3 resource.
        attendee_type: Some(match a.role {
            Role::Optional | Role::NonParticipant => 2,
            Role::Chair | Role::Required => 1,
        }),
        ..Attendee::default()
    }
}

/// [MS-ASCAL] 2.2.2.4 AttendeeStatus: 0 unknown, 2 tentative, 3 accepted, 4 declined,
/// 5 not responded.
fn attendee_status(p: PartStat) -> i32 {
    match p {
        PartStat::Accepted => 3,
        PartStat::Tentative => 2,
        PartStat::Declined => 4,
        PartStat::NeedsAction => 5,
        PartStat::Delegated => 0,
    }
}

/// [MS-ASCAL] 2.2.2.10 BusyStatus: 0 free, 1 tentative, 2 busy, 3 out of office.
fn busy_status(b: Option<Busy>) -> i32 {
    match b {
        Some(Busy::Free) => 0,
        Some(Busy::Tentative) => 1,
        Some(Busy::OutOfOffice) => 3,
        Some(Busy::Busy) | None => 2,
    }
}

/// [MS-ASCAL] 2.2.2.42 Sensitivity: 0 normal, 2 private, 3 confidential.
fn sensitivity(c: Class) -> i32 {
    match c {
        Class::Public => 0,
        Class::Private => 2,
        Class::Confidential => 3,
    }
}

fn summary(e: &Event) -> Summary {
    Summary::Calendar(CalendarSummary {
        start: e.start_time.map(|s| s.0),
        end: e.end_time.map(|s| s.0),
        all_day: e.all_day_event == Some(true),
        recurring: e.recurrence.is_some(),
    })
}
