//! iCalendar files (RFC 5545) of a calendar folder: event records written out
//! ([`export`]) and read back ([`import`]).
//!
//! Export writes what an `Event` record holds: UID, DTSTAMP, the start and end in the
//! event's zone (a `TZID` with its VTIMEZONE built from the TIME_ZONE_INFORMATION blob,
//! or UTC), all-day events (VALUE=DATE in UTC, else midnight in their zone marked
//! X-MICROSOFT-CDO-ALLDAYEVENT as Outlook writes them), the RRULE (`pim::recur`), deleted
//! occurrences as EXDATE and changed ones as VEVENTs with a RECURRENCE-ID (RFC 5545
//! 3.8.4.4), ORGANIZER, ATTENDEE, CATEGORIES, CLASS, TRANSP and busy status, the plain
//! text body as DESCRIPTION, the reminder as a VALARM.
//!
//! [`scheduling`] writes the same VEVENT as an iTIP message (RFC 5546): METHOD, SEQUENCE,
//! DTSTAMP = when the message is made, and per method the attendees named (a REQUEST's
//! all, asked to RSVP; a CANCEL's those told, STATUS:CANCELLED; a REPLY's one, with a
//! RECURRENCE-ID when it answers for one occurrence).
//!
//! Import reads each VEVENT with `pim::itip` (calcard's parser, every zone resolved, every
//! time in UTC) and turns the VEVENTs of one UID into one record: the series, its EXDATEs
//! as deleted exceptions, its RECURRENCE-ID VEVENTs as changed ones. A VEVENT that does
//! not read is reported with its reason and skipped; the others are kept. Pure, no I/O.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::pim::itip::{self, Busy, Class, PartStat, Role};
use crate::pim::recur::{self, DayOfWeek, recurrence_fields};
use crate::pim::tz;
use crate::proto::timezone::{ChangeDate, TimeZoneInfo};
use crate::store::model::pim::{
    Attendee, Body, Event, Exception, Place, Recurrence as RecurrenceRecord, Stamp,
};

/// [MS-ASCAL] 2.2.2.4 AttendeeStatus values.
const STATUS_TENTATIVE: i32 = 2;
const STATUS_ACCEPT: i32 = 3;
const STATUS_DECLINE: i32 = 4;
const STATUS_NOT_RESPONDED: i32 = 5;
/// [MS-ASCAL] 2.2.2.5 AttendeeType values.
const TYPE_REQUIRED: i32 = 1;
const TYPE_OPTIONAL: i32 = 2;
const TYPE_RESOURCE: i32 = 3;
/// [MS-ASCAL] 2.2.2.41 Sensitivity values (1 Personal has no iCalendar class of its
/// own: it is written PRIVATE).
const SENSITIVITY_NORMAL: i32 = 0;
const SENSITIVITY_PRIVATE: i32 = 2;
const SENSITIVITY_CONFIDENTIAL: i32 = 3;
/// [MS-ASCAL] 2.2.2.10 BusyStatus values.
const BUSY_FREE: i32 = 0;
const BUSY_TENTATIVE: i32 = 1;
const BUSY_BUSY: i32 = 2;
const BUSY_OOF: i32 = 3;
/// [MS-ASAIRS] 2.2.2.41.1 Body Type 1: plain text.
const BODY_PLAIN: u8 = 1;

/// One VEVENT (or an event's VEVENTs) that did not read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// 1-based position of the VEVENT in the file.
    pub index: usize,
    pub reason: String,
}

/// What a file held: the events read, and the VEVENTs that were not.
#[derive(Debug, Default)]
pub struct Imported {
    pub events: Vec<Event>,
    pub rejected: Vec<Rejected>,
}

/// Writes `events` as one VCALENDAR. Each comes with the UID to use when the record has
/// none (its server id); `now` is the DTSTAMP of a record that has none (RFC 5545
/// 3.6.1: DTSTAMP is required).
pub fn export<'a>(events: impl IntoIterator<Item = (&'a str, &'a Event)>, now: i64) -> String {
    calendar(
        None,
        events
            .into_iter()
            .map(|(uid, event)| (uid, event, Shape::export(event))),
        now,
    )
}

/// An iTIP message about an event (RFC 5546 3.2): its method, and what that changes in
/// the VEVENT written.
#[derive(Debug, Clone, Copy)]
pub enum Scheduling<'a> {
    /// METHOD:REQUEST (3.2.2): the event with its attendees, each asked to answer.
    Request,
    /// METHOD:CANCEL (3.2.5): the event marked STATUS:CANCELLED, naming the attendees
    /// told.
    Cancel { attendees: &'a [Attendee] },
    /// METHOD:REPLY (3.2.3): exactly one ATTENDEE, the one answering, with its
    /// PARTSTAT; for the whole event, or with `instance` for the occurrence whose
    /// original start that is (RECURRENCE-ID).
    Reply {
        attendee: &'a Attendee,
        instance: Option<i64>,
    },
}

impl Scheduling<'_> {
    /// The METHOD value, also the Content-Type `method` parameter (RFC 6047 2.4).
    pub fn method(&self) -> &'static str {
        match self {
            Scheduling::Request => "REQUEST",
            Scheduling::Cancel { .. } => "CANCEL",
            Scheduling::Reply { .. } => "REPLY",
        }
    }
}

/// The iCalendar object of an iTIP message about `event` (UID `uid` when the record has
/// none), at revision `sequence` (RFC 5546 2.1.4), made at `now` (its DTSTAMP).
pub fn scheduling(
    kind: Scheduling<'_>,
    uid: &str,
    event: &Event,
    sequence: u32,
    now: i64,
) -> String {
    let shape = Shape {
        method: Some(kind),
        sequence: Some(sequence),
        dtstamp: Some(now),
        attendees: match kind {
            Scheduling::Request => &event.attendees,
            Scheduling::Cancel { attendees } => attendees,
            Scheduling::Reply { attendee, .. } => std::slice::from_ref(attendee),
        },
    };
    calendar(Some(kind.method()), [(uid, event, shape)], now)
}

/// How one event is written: as it is (an export), or as part of an iTIP message.
struct Shape<'a> {
    method: Option<Scheduling<'a>>,
    sequence: Option<u32>,
    /// The DTSTAMP of every VEVENT: an iTIP message's is when it was made (RFC 5546
    /// 2.1.5); an export keeps the record's.
    dtstamp: Option<i64>,
    attendees: &'a [Attendee],
}

impl<'a> Shape<'a> {
    fn export(event: &'a Event) -> Self {
        Shape {
            method: None,
            sequence: None,
            dtstamp: None,
            attendees: &event.attendees,
        }
    }

    /// The occurrence a REPLY answers for, if any.
    fn instance(&self) -> Option<i64> {
        match self.method {
            Some(Scheduling::Reply { instance, .. }) => instance,
            _ => None,
        }
    }
}

/// One VCALENDAR: METHOD when an iTIP message, a VTIMEZONE per zone, the events.
fn calendar<'a>(
    method: Option<&str>,
    events: impl IntoIterator<Item = (&'a str, &'a Event, Shape<'a>)>,
    now: i64,
) -> String {
    let mut out = Lines::default();
    out.line("BEGIN:VCALENDAR");
    out.line("VERSION:2.0");
    out.line("PRODID:-//easd//easd export//EN");
    if let Some(m) = method {
        out.line(&format!("METHOD:{m}"));
    }
    let mut zones: Vec<String> = Vec::new();
    let mut body = Lines::default();
    for (fallback_uid, event, shape) in events {
        let zone = EventZone::of(event);
        if let EventZone::Named { id, info, .. } = &zone
            && !zones.contains(id)
        {
            vtimezone(&mut out, id, info);
            zones.push(id.clone());
        }
        write_event(&mut body, (fallback_uid, event, &shape), &zone, now);
    }
    out.0.push_str(&body.0);
    out.line("END:VCALENDAR");
    out.0
}

/// Reads an iCalendar file into event records (see the module comment).
pub fn import(text: &str) -> Imported {
    let (timezones, vevents) = blocks(text);
    let mut imported = Imported::default();
    // The VEVENTs read, by UID in the order first met: the series, then its overrides.
    let mut groups: Vec<(String, usize, Vec<itip::Event>)> = Vec::new();
    for (n, vevent) in vevents.iter().enumerate() {
        let index = n + 1;
        let mut one = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n");
        for t in &timezones {
            one.push_str(t);
            one.push_str("\r\n");
        }
        one.push_str(vevent);
        one.push_str("\r\nEND:VCALENDAR\r\n");
        match itip::parse(&one) {
            Ok(mut parsed) => {
                let Some(event) = parsed.events.pop() else {
                    continue;
                };
                match groups.iter_mut().find(|(uid, ..)| *uid == event.uid) {
                    Some((_, _, list)) => list.push(event),
                    None => groups.push((event.uid.clone(), index, vec![event])),
                }
            }
            Err(e) => imported.rejected.push(Rejected {
                index,
                reason: e.to_string(),
            }),
        }
    }
    for (_, index, list) in groups {
        match record(list) {
            Ok(event) => imported.events.push(event),
            Err(reason) => imported.rejected.push(Rejected { index, reason }),
        }
    }
    imported
}

/// The VTIMEZONE blocks and the VEVENT blocks of `text`, each as it stands (a VEVENT's
/// VALARMs inside it).
fn blocks(text: &str) -> (Vec<&str>, Vec<&str>) {
    let (mut zones, mut events) = (Vec::new(), Vec::new());
    let mut open: Option<(usize, &str)> = None;
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        match open {
            None => {
                for kind in ["VTIMEZONE", "VEVENT"] {
                    if trimmed.len() == 6 + kind.len()
                        && trimmed[..6].eq_ignore_ascii_case("BEGIN:")
                        && trimmed[6..].eq_ignore_ascii_case(kind)
                    {
                        open = Some((at, kind));
                    }
                }
            }
            Some((start, kind)) => {
                if trimmed.len() == 4 + kind.len()
                    && trimmed[..4].eq_ignore_ascii_case("END:")
                    && trimmed[4..].eq_ignore_ascii_case(kind)
                {
                    let block = text[start..at + line.len()].trim_end();
                    if kind == "VEVENT" {
                        events.push(block);
                    } else {
                        zones.push(block);
                    }
                    open = None;
                }
            }
        }
        at += line.len();
    }
    (zones, events)
}

/// The record of one UID's VEVENTs.
fn record(list: Vec<itip::Event>) -> Result<Event, String> {
    let (series, overrides): (Vec<_>, Vec<_>) =
        list.into_iter().partition(|e| e.recurrence_id.is_none());
    let Some(master) = series.into_iter().next() else {
        return Err("a changed occurrence (RECURRENCE-ID) without its series".into());
    };
    let mut event = Event {
        uid: Some(master.uid.clone()),
        dt_stamp: master.dtstamp.map(Stamp),
        start_time: Some(Stamp(master.start)),
        end_time: Some(Stamp(master.end)),
        all_day_event: master.all_day.then_some(true),
        timezone: Some(zone_blob(&master.zone, master.start)),
        subject: master.summary.clone(),
        location: place(master.location.as_deref()),
        body: master.description.clone().map(|data| Body {
            kind: BODY_PLAIN,
            data,
        }),
        categories: master.categories.clone(),
        organizer_email: master.organizer.as_ref().map(|o| o.address.clone()),
        organizer_name: master.organizer.as_ref().and_then(|o| o.name.clone()),
        attendees: master.attendees.iter().map(attendee).collect(),
        sensitivity: Some(sensitivity(master.class)),
        busy_status: master.busy.map(busy_status),
        reminder: master
            .reminder
            .and_then(|s| i32::try_from(s.div_euclid(60)).ok()),
        disallow_new_time_proposal: master.disallow_counter.then_some(true),
        recurrence: master.recurrence.as_ref().map(recurrence_record),
        ..Event::default()
    };
    if !overrides.is_empty() && master.recurrence.is_none() {
        return Err("changed occurrences of an event that does not recur".into());
    }
    event.exceptions = master
        .exdates
        .iter()
        .map(|&original| Exception {
            deleted: Some(true),
            original: Stamp(original),
            ..Exception::default()
        })
        .collect();
    for o in overrides {
        let differs = |a: &Option<String>, b: &Option<String>| (a != b).then(|| a.clone());
        event.exceptions.push(Exception {
            original: Stamp(o.recurrence_id.unwrap_or(o.start)),
            start_time: Some(Stamp(o.start)),
            end_time: Some(Stamp(o.end)),
            subject: differs(&o.summary, &master.summary).flatten(),
            location: differs(&o.location, &master.location)
                .map(|l| place(l.as_deref()).unwrap_or_default()),
            all_day_event: (o.all_day != master.all_day).then_some(o.all_day),
            ..Exception::default()
        });
    }
    if event.exceptions.len() > crate::store::model::pim::MAX_EXCEPTIONS {
        return Err(format!(
            "more than {} exceptions",
            crate::store::model::pim::MAX_EXCEPTIONS
        ));
    }
    event.exceptions.sort_by_key(|e| e.original);
    Ok(event)
}

fn place(name: Option<&str>) -> Option<Place> {
    name.map(|n| Place {
        display_name: Some(n.to_owned()),
        ..Place::default()
    })
}

/// The blob of an imported event's zone in force at its start (UTC: the all-zero blob).
fn zone_blob(zone: &TimeZone, start: i64) -> String {
    let at = Timestamp::from_second(start).unwrap_or(Timestamp::UNIX_EPOCH);
    tz::blob_for(zone, at).to_base64()
}

fn attendee(a: &itip::Attendee) -> Attendee {
    Attendee {
        email: Some(a.person.address.clone()),
        name: a.person.name.clone(),
        attendee_status: Some(match a.partstat {
            PartStat::Accepted => STATUS_ACCEPT,
            PartStat::Declined => STATUS_DECLINE,
            PartStat::Tentative => STATUS_TENTATIVE,
            PartStat::NeedsAction | PartStat::Delegated => STATUS_NOT_RESPONDED,
        }),
        attendee_type: Some(match a.role {
            Role::Chair | Role::Required => TYPE_REQUIRED,
            Role::Optional => TYPE_OPTIONAL,
            Role::NonParticipant => TYPE_RESOURCE,
        }),
        ..Attendee::default()
    }
}

fn sensitivity(class: Class) -> i32 {
    match class {
        Class::Public => SENSITIVITY_NORMAL,
        Class::Private => SENSITIVITY_PRIVATE,
        Class::Confidential => SENSITIVITY_CONFIDENTIAL,
    }
}

fn busy_status(busy: Busy) -> i32 {
    match busy {
        Busy::Free => BUSY_FREE,
        Busy::Tentative => BUSY_TENTATIVE,
        Busy::Busy => BUSY_BUSY,
        Busy::OutOfOffice => BUSY_OOF,
    }
}

/// A checked pattern as the stored Recurrence's numbers ([MS-ASCAL] 2.2.2.37).
pub(crate) fn recurrence_record(r: &recur::Recurrence) -> RecurrenceRecord {
    let f = r.to_fields();
    let n = |v: Option<u32>| v.and_then(|v| i32::try_from(v).ok());
    RecurrenceRecord {
        kind: n(f.kind),
        occurrences: n(f.occurrences),
        interval: n(f.interval),
        week_of_month: n(f.week_of_month),
        day_of_week: n(f.day_of_week),
        month_of_year: n(f.month_of_year),
        until: f.until.map(Stamp),
        day_of_month: n(f.day_of_month),
        calendar_type: n(f.calendar_type),
        is_leap_month: n(f.is_leap_month),
        first_day_of_week: n(f.first_day_of_week),
    }
}

/// How an event's times are written.
enum EventZone {
    /// UTC (no Timezone, an all-zero one, or one that does not read).
    Utc,
    /// Local times with this TZID: the IANA name of the blob's zone, else a name of
    /// easd's own; the VTIMEZONE carries the blob's rules either way.
    Named {
        id: String,
        info: TimeZoneInfo,
        zone: TimeZone,
    },
}

impl EventZone {
    fn of(event: &Event) -> EventZone {
        let Some(info) = event
            .timezone
            .as_deref()
            .and_then(|b| TimeZoneInfo::from_base64(b).ok())
        else {
            return EventZone::Utc;
        };
        if !info.has_dst() && info.standard_offset_minutes() == 0 {
            return EventZone::Utc;
        }
        let start = event.start_time.map_or(0, |s| s.0);
        let year =
            Timestamp::from_second(start).map_or(1970, |t| TimeZone::UTC.to_datetime(t).year());
        let zone = tz::zone_for(&info, year);
        let id = zone.iana_name().map_or_else(
            || format!("easd-{}", info.to_base64().replace(['/', '+', '='], "")),
            str::to_owned,
        );
        EventZone::Named { id, info, zone }
    }

    /// DTSTART/DTEND-style property `name` for instant `t` (a date for an all-day UTC
    /// event).
    fn write(&self, out: &mut Lines, name: &str, t: i64, all_day: bool) {
        let at = Timestamp::from_second(t).unwrap_or(Timestamp::UNIX_EPOCH);
        match self {
            EventZone::Utc if all_day => {
                let d = TimeZone::UTC.to_datetime(at);
                out.line(&format!(
                    "{name};VALUE=DATE:{:04}{:02}{:02}",
                    d.year(),
                    d.month(),
                    d.day()
                ));
            }
            EventZone::Utc => out.line(&format!("{name}:{}", utc(t))),
            EventZone::Named { id, zone, .. } => {
                let d = zone.to_datetime(at);
                out.line(&format!(
                    "{name};TZID={}:{:04}{:02}{:02}T{:02}{:02}{:02}",
                    param(id),
                    d.year(),
                    d.month(),
                    d.day(),
                    d.hour(),
                    d.minute(),
                    d.second()
                ));
            }
        }
    }
}

/// The VTIMEZONE of a blob (RFC 5545 3.6.5): a STANDARD observance, and a DAYLIGHT one
/// when the blob has yearly rules, each an RRULE (week 5 of [MS-ASDTYPE] 2.7.6 is the
/// last: BYDAY=-1).
fn vtimezone(out: &mut Lines, id: &str, info: &TimeZoneInfo) {
    let standard = info.standard_offset_minutes();
    out.line("BEGIN:VTIMEZONE");
    out.line(&format!("TZID:{}", text(id)));
    match (
        info.daylight_offset_minutes(),
        info.standard_date,
        info.daylight_date,
    ) {
        (Some(daylight), ChangeDate::Rule { .. }, ChangeDate::Rule { .. }) => {
            observance(out, "STANDARD", daylight, standard, info.standard_date);
            observance(out, "DAYLIGHT", standard, daylight, info.daylight_date);
        }
        _ => observance(out, "STANDARD", standard, standard, ChangeDate::None),
    }
    out.line("END:VTIMEZONE");
}

fn observance(out: &mut Lines, kind: &str, from: i32, to: i32, change: ChangeDate) {
    out.line(&format!("BEGIN:{kind}"));
    match change {
        ChangeDate::Rule {
            month,
            week,
            weekday,
            time,
        } => {
            out.line(&format!(
                "DTSTART:1601{month:02}01T{:02}{:02}{:02}",
                time.hour, time.minute, time.second
            ));
            let ordinal = if week >= 5 {
                -1
            } else {
                i8::try_from(week).unwrap_or(1)
            };
            let day = DayOfWeek::from_number(weekday.into()).unwrap_or(DayOfWeek::Sunday);
            out.line(&format!(
                "RRULE:FREQ=YEARLY;BYMONTH={month};BYDAY={ordinal}{}",
                day.code()
            ));
        }
        _ => out.line("DTSTART:16010101T000000"),
    }
    out.line(&format!("TZOFFSETFROM:{}", offset(from)));
    out.line(&format!("TZOFFSETTO:{}", offset(to)));
    out.line(&format!("END:{kind}"));
}

/// A UTC offset in minutes east as `+hhmm` (RFC 5545 3.3.14).
fn offset(minutes: i32) -> String {
    let sign = if minutes < 0 { '-' } else { '+' };
    let m = minutes.unsigned_abs();
    format!("{sign}{:02}{:02}", m / 60, m % 60)
}

fn write_event(
    out: &mut Lines,
    (fallback_uid, event, shape): (&str, &Event, &Shape<'_>),
    zone: &EventZone,
    now: i64,
) {
    let uid = event.uid.as_deref().unwrap_or(fallback_uid);
    let all_day = event.all_day_event == Some(true);
    let start = event.start_time.map_or(now, |s| s.0);
    let end = event.end_time.map_or(start, |s| s.0);
    let length = end - start;
    let exported = shape.method.is_none();
    let request = matches!(shape.method, Some(Scheduling::Request));
    let dtstamp = |own: Option<Stamp>| utc(shape.dtstamp.or(own.map(|s| s.0)).unwrap_or(now));
    out.line("BEGIN:VEVENT");
    out.line(&format!("UID:{}", text(uid)));
    out.line(&format!("DTSTAMP:{}", dtstamp(event.dt_stamp)));
    if let Some(seq) = shape.sequence {
        out.line(&format!("SEQUENCE:{seq}"));
    }
    match shape.instance() {
        // RFC 5546 3.2.3: a REPLY to one occurrence names it by RECURRENCE-ID, with that
        // occurrence's own times.
        Some(original) => {
            let changed = event.exceptions.iter().find(|e| e.original.0 == original);
            let o_start = changed.and_then(|e| e.start_time).map_or(original, |s| s.0);
            let o_end = changed
                .and_then(|e| e.end_time)
                .map_or(o_start + length, |s| s.0);
            zone.write(out, "RECURRENCE-ID", original, all_day);
            zone.write(out, "DTSTART", o_start, all_day);
            zone.write(out, "DTEND", o_end, all_day);
        }
        None => {
            zone.write(out, "DTSTART", start, all_day);
            zone.write(out, "DTEND", end, all_day);
        }
    }
    if all_day && matches!(zone, EventZone::Named { .. }) {
        // Outlook's mark of an all-day event written in a zone (read by pim::itip).
        out.line("X-MICROSOFT-CDO-ALLDAYEVENT:TRUE");
    }
    if matches!(shape.method, Some(Scheduling::Cancel { .. })) {
        out.line("STATUS:CANCELLED");
    }
    if let Some(s) = &event.subject {
        out.line(&format!("SUMMARY:{}", text(s)));
    }
    if let Some(name) = event
        .location
        .as_ref()
        .and_then(|l| l.display_name.as_ref())
    {
        out.line(&format!("LOCATION:{}", text(name)));
    }
    if let Some(body) = event
        .body
        .as_ref()
        .filter(|b| b.kind == BODY_PLAIN && (exported || request))
    {
        out.line(&format!("DESCRIPTION:{}", text(&body.data)));
    }
    // Categories are the owner's own filing, not the meeting's.
    if !event.categories.is_empty() && exported {
        let list: Vec<String> = event.categories.iter().map(|c| text(c)).collect();
        out.line(&format!("CATEGORIES:{}", list.join(",")));
    }
    match event.sensitivity {
        Some(SENSITIVITY_NORMAL) => out.line("CLASS:PUBLIC"),
        Some(SENSITIVITY_CONFIDENTIAL) => out.line("CLASS:CONFIDENTIAL"),
        Some(_) => out.line("CLASS:PRIVATE"),
        None => {}
    }
    if let Some(busy) = event.busy_status {
        out.line(if busy == BUSY_FREE {
            "TRANSP:TRANSPARENT"
        } else {
            "TRANSP:OPAQUE"
        });
        let intended = match busy {
            BUSY_FREE => Some("FREE"),
            BUSY_TENTATIVE => Some("TENTATIVE"),
            BUSY_BUSY => Some("BUSY"),
            BUSY_OOF => Some("OOF"),
            _ => None,
        };
        if let Some(i) = intended {
            out.line(&format!("X-MICROSOFT-CDO-INTENDEDSTATUS:{i}"));
        }
    }
    if event.disallow_new_time_proposal == Some(true) {
        out.line("X-MICROSOFT-DISALLOW-COUNTER:TRUE");
    }
    people(out, event, shape.attendees, request);
    if let Some(r) = event
        .recurrence
        .as_ref()
        .filter(|_| shape.instance().is_none())
        && let Ok(rule) =
            recur::Recurrence::from_fields(&recurrence_fields!(r)).and_then(|r| r.to_rrule())
    {
        out.line(&format!("RRULE:{rule}"));
        for e in event.exceptions.iter().filter(|e| e.deleted == Some(true)) {
            zone.write(out, "EXDATE", e.original.0, all_day);
        }
    }
    // An alarm is the owner's own; an iTIP message does not set one for its recipients.
    if let Some(minutes) = event.reminder.filter(|_| exported) {
        out.line("BEGIN:VALARM");
        out.line("ACTION:DISPLAY");
        out.line(&format!(
            "DESCRIPTION:{}",
            text(event.subject.as_deref().unwrap_or("Reminder"))
        ));
        out.line(&format!("TRIGGER:-PT{minutes}M"));
        out.line("END:VALARM");
    }
    out.line("END:VEVENT");
    // The changed occurrences go with the series in a file and in a REQUEST (RFC 5546
    // 3.2.2: the whole recurring event); a REPLY or CANCEL is about the event as a whole.
    if event.recurrence.is_none() || !(exported || request) {
        return;
    }
    for e in event.exceptions.iter().filter(|e| e.deleted != Some(true)) {
        let e_all_day = e.all_day_event.unwrap_or(all_day);
        out.line("BEGIN:VEVENT");
        out.line(&format!("UID:{}", text(uid)));
        out.line(&format!(
            "DTSTAMP:{}",
            dtstamp(e.dt_stamp.or(event.dt_stamp))
        ));
        if let Some(seq) = shape.sequence {
            out.line(&format!("SEQUENCE:{seq}"));
        }
        zone.write(out, "RECURRENCE-ID", e.original.0, all_day);
        let e_start = e.start_time.map_or(e.original.0, |s| s.0);
        zone.write(out, "DTSTART", e_start, e_all_day);
        zone.write(
            out,
            "DTEND",
            e.end_time.map_or(e_start + length, |s| s.0),
            e_all_day,
        );
        if e_all_day && matches!(zone, EventZone::Named { .. }) {
            out.line("X-MICROSOFT-CDO-ALLDAYEVENT:TRUE");
        }
        if let Some(s) = e.subject.as_ref().or(event.subject.as_ref()) {
            out.line(&format!("SUMMARY:{}", text(s)));
        }
        let location = e.location.as_ref().or(event.location.as_ref());
        if let Some(name) = location.and_then(|l| l.display_name.as_ref()) {
            out.line(&format!("LOCATION:{}", text(name)));
        }
        if request {
            people(
                out,
                event,
                e.attendees.as_deref().unwrap_or(shape.attendees),
                true,
            );
        }
        out.line("END:VEVENT");
    }
}

/// ORGANIZER and the ATTENDEE lines of `attendees`; in a REQUEST each is asked to answer
/// (RSVP, RFC 5545 3.2.17) unless the organizer asked for no answers.
fn people(out: &mut Lines, event: &Event, attendees: &[Attendee], request: bool) {
    if let Some(email) = &event.organizer_email {
        out.line(&format!(
            "ORGANIZER{}:mailto:{email}",
            cn(event.organizer_name.as_deref())
        ));
    }
    let rsvp = if request && event.response_requested != Some(false) {
        ";RSVP=TRUE"
    } else {
        ""
    };
    for a in attendees {
        let Some(email) = &a.email else { continue };
        let partstat = match a.attendee_status {
            Some(STATUS_ACCEPT) => "ACCEPTED",
            Some(STATUS_DECLINE) => "DECLINED",
            Some(STATUS_TENTATIVE) => "TENTATIVE",
            _ => "NEEDS-ACTION",
        };
        let role = match a.attendee_type {
            Some(TYPE_OPTIONAL) => "OPT-PARTICIPANT",
            Some(TYPE_RESOURCE) => "NON-PARTICIPANT;CUTYPE=RESOURCE",
            _ => "REQ-PARTICIPANT",
        };
        out.line(&format!(
            "ATTENDEE{};PARTSTAT={partstat};ROLE={role}{rsvp}:mailto:{email}",
            cn(a.name.as_deref())
        ));
    }
}

/// `;CN="name"` (RFC 5545 3.2.2; a quoted parameter value holds no `"`).
fn cn(name: Option<&str>) -> String {
    name.map_or_else(String::new, |n| format!(";CN={}", param(n)))
}

/// A parameter value, quoted when it holds `:`, `;` or `,` (RFC 5545 3.1).
fn param(value: &str) -> String {
    let clean: String = value
        .chars()
        .filter(|c| *c != '"' && !c.is_control())
        .collect();
    if clean.contains([':', ';', ',']) {
        format!("\"{clean}\"")
    } else {
        clean
    }
}

/// A TEXT value escaped (RFC 5545 3.3.11).
fn text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// A UTC DATE-TIME (RFC 5545 3.3.5 form 2).
fn utc(t: i64) -> String {
    let d = TimeZone::UTC.to_datetime(Timestamp::from_second(t).unwrap_or(Timestamp::UNIX_EPOCH));
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        d.year(),
        d.month(),
        d.day(),
        d.hour(),
        d.minute(),
        d.second()
    )
}

/// Content lines, CRLF-terminated and folded at 75 octets (RFC 5545 3.1), never inside
/// a UTF-8 sequence.
#[derive(Default)]
struct Lines(String);

impl Lines {
    fn line(&mut self, line: &str) {
        let mut rest = line;
        let mut first = true;
        while !rest.is_empty() {
            let room = if first { 75 } else { 74 };
            let mut cut = rest.len().min(room);
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            if !first {
                self.0.push(' ');
            }
            self.0.push_str(&rest[..cut]);
            self.0.push_str("\r\n");
            rest = &rest[cut..];
            first = false;
        }
    }
}

#[cfg(test)]
#[path = "ical_tests.rs"]
mod tests;
