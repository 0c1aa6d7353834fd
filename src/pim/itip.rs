//! iTIP scheduling objects (RFC 5546) read from iCalendar text (RFC 5545): the method and,
//! per VEVENT, what a meeting message shows ([MS-ASEMAIL] 2.2.2.48 MeetingRequest).
//!
//! The text is parsed with calcard (Stalwart); this module turns its components into typed
//! values with every time resolved to UTC. A `TZID` is looked up, in order, as an IANA
//! name (jiff's bundled database), as one of the names calcard knows (Windows zone names
//! as Outlook sends them, "(UTC+01:00) …" labels, CDO zone ids), as the zone its
//! VTIMEZONE names (X-LIC-LOCATION, X-MICROSOFT-CDO-TZID), and last from the VTIMEZONE's
//! own STANDARD/DAYLIGHT rules, read as a TIME_ZONE_INFORMATION and mapped by
//! `pim::tz::zone_for`. A zone none of those finds is an error, never a guess.
//!
//! Pure and bounded: no I/O, at most [`MAX_TEXT`] bytes of text, [`MAX_EVENTS`] events,
//! [`MAX_ATTENDEES`] attendees and [`MAX_EXDATES`] excluded dates per event; anything
//! else is an [`ItipError`], never a panic (fuzzed by `fuzz/fuzz_targets/itip.rs`).

use calcard::common::PartialDateTime;
use calcard::common::timezone::Tz;
use calcard::icalendar::{
    ICalendar, ICalendarClassification, ICalendarComponent, ICalendarComponentType,
    ICalendarDuration, ICalendarEntry, ICalendarMethod, ICalendarParameterName,
    ICalendarParameterValue, ICalendarParticipationRole, ICalendarParticipationStatus,
    ICalendarProperty, ICalendarRelated, ICalendarTransparency, ICalendarValue,
};
use calcard::{Entry, Parser};
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};

use crate::pim::recur::{RecurError, Recurrence};
use crate::pim::tz;
use crate::proto::timezone::{ChangeDate, TimeOfDay, TimeZoneInfo};

/// The most iCalendar text read (a meeting invitation is a few KiB; Outlook's largest,
/// with many attendees and a long description, stay well below this).
pub const MAX_TEXT: usize = 256 * 1024;
/// The most VEVENTs in one object (a series and its overridden occurrences).
pub const MAX_EVENTS: usize = 64;
/// The most ATTENDEEs of one event.
pub const MAX_ATTENDEES: usize = 1000;
/// The most EXDATE values of one event.
pub const MAX_EXDATES: usize = 1000;

/// The iTIP method (RFC 5546 1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Publish,
    Request,
    Reply,
    Add,
    Cancel,
    Refresh,
    Counter,
    DeclineCounter,
}

impl Method {
    /// The method named by `text` (the METHOD property or a Content-Type `method=`
    /// parameter, RFC 6047 2.4), case-insensitively.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text.trim().to_ascii_uppercase().as_str() {
            "PUBLISH" => Method::Publish,
            "REQUEST" => Method::Request,
            "REPLY" => Method::Reply,
            "ADD" => Method::Add,
            "CANCEL" => Method::Cancel,
            "REFRESH" => Method::Refresh,
            "COUNTER" => Method::Counter,
            "DECLINECOUNTER" => Method::DeclineCounter,
            _ => return None,
        })
    }

    fn from_calcard(method: &ICalendarMethod) -> Self {
        match method {
            ICalendarMethod::Publish => Method::Publish,
            ICalendarMethod::Request => Method::Request,
            ICalendarMethod::Reply => Method::Reply,
            ICalendarMethod::Add => Method::Add,
            ICalendarMethod::Cancel => Method::Cancel,
            ICalendarMethod::Refresh => Method::Refresh,
            ICalendarMethod::Counter => Method::Counter,
            ICalendarMethod::Declinecounter => Method::DeclineCounter,
        }
    }
}

/// An attendee's participation status (RFC 5545 3.2.12; the to-do values are read as
/// needs-action, they do not apply to events).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartStat {
    NeedsAction,
    Accepted,
    Declined,
    Tentative,
    Delegated,
}

/// An attendee's role (RFC 5545 3.2.16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Chair,
    Required,
    Optional,
    NonParticipant,
}

/// The event's access classification (RFC 5545 3.8.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Public,
    Private,
    Confidential,
}

/// How the event shows on free/busy: X-MICROSOFT-CDO-INTENDEDSTATUS (Outlook's own), else
/// TRANSP (RFC 5545 3.8.2.7: opaque = busy, transparent = free).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    Free,
    Tentative,
    Busy,
    OutOfOffice,
}

/// An ORGANIZER or ATTENDEE: the calendar address without `mailto:`, and its CN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub address: String,
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attendee {
    pub person: Person,
    pub partstat: PartStat,
    pub rsvp: bool,
    pub role: Role,
}

/// One VEVENT with its times in UTC (Unix seconds).
#[derive(Debug, Clone)]
pub struct Event {
    pub uid: String,
    pub sequence: u32,
    pub dtstamp: Option<i64>,
    /// The original start of the occurrence this VEVENT overrides.
    pub recurrence_id: Option<i64>,
    pub start: i64,
    pub end: i64,
    /// From midnight to midnight: DTSTART;VALUE=DATE, or X-MICROSOFT-CDO-ALLDAYEVENT.
    pub all_day: bool,
    /// The zone of DTSTART: UTC for UTC, floating and date-only starts.
    pub zone: TimeZone,
    pub summary: Option<String>,
    pub location: Option<String>,
    /// DESCRIPTION: the plain-text body.
    pub description: Option<String>,
    /// Every CATEGORIES value, in order (RFC 5545 3.8.1.2).
    pub categories: Vec<String>,
    pub organizer: Option<Person>,
    pub attendees: Vec<Attendee>,
    pub recurrence: Option<Recurrence>,
    pub exdates: Vec<i64>,
    pub class: Class,
    pub busy: Option<Busy>,
    /// The earliest alarm, in seconds before the start (negative: after it).
    pub reminder: Option<i64>,
    /// X-MICROSOFT-DISALLOW-COUNTER: the organizer accepts no new time proposal.
    pub disallow_counter: bool,
}

/// A scheduling object: its METHOD (absent in plain iCalendar files) and its events.
#[derive(Debug, Clone)]
pub struct Itip {
    pub method: Option<Method>,
    pub events: Vec<Event>,
}

impl Itip {
    /// The event a meeting message is about: the series (or single event), else the
    /// first overridden occurrence.
    pub fn main_event(&self) -> Option<&Event> {
        self.events
            .iter()
            .find(|e| e.recurrence_id.is_none())
            .or_else(|| self.events.first())
    }
}

/// Why iCalendar text was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ItipError {
    #[error("the calendar is {0} bytes long, more than {MAX_TEXT}")]
    TooLarge(usize),
    #[error("the text is not an iCalendar object")]
    NotCalendar,
    #[error("the calendar holds no VEVENT")]
    NoEvent,
    #[error("the calendar holds more than {MAX_EVENTS} events")]
    TooManyEvents,
    #[error("an event has more than {MAX_ATTENDEES} attendees")]
    TooManyAttendees,
    #[error("an event has more than {MAX_EXDATES} excluded dates")]
    TooManyExdates,
    #[error("an event has no {0}")]
    Missing(&'static str),
    #[error("{0} is not a valid date or time")]
    BadTime(&'static str),
    #[error("the time zone {0:?} is unknown and has no usable VTIMEZONE")]
    UnknownZone(String),
    #[error("DTEND is before DTSTART")]
    EndBeforeStart,
    #[error("the recurrence: {0}")]
    Recurrence(#[from] RecurError),
}

/// Reads an iCalendar object.
pub fn parse(text: &str) -> Result<Itip, ItipError> {
    if text.len() > MAX_TEXT {
        return Err(ItipError::TooLarge(text.len()));
    }
    let cal = calendar(text)?;
    let root = cal
        .components
        .first()
        .filter(|c| c.component_type == ICalendarComponentType::VCalendar)
        .ok_or(ItipError::NotCalendar)?;
    let method = root
        .property(&ICalendarProperty::Method)
        .and_then(|e| e.values.first())
        .and_then(|v| match v {
            ICalendarValue::Method(m) => Some(Method::from_calcard(m)),
            other => other.as_text().and_then(Method::parse),
        });
    let zones = Zones { cal: &cal };
    let mut events = Vec::new();
    for component in cal
        .components
        .iter()
        .filter(|c| c.component_type == ICalendarComponentType::VEvent)
    {
        if events.len() == MAX_EVENTS {
            return Err(ItipError::TooManyEvents);
        }
        events.push(event(&cal, component, &zones)?);
    }
    if events.is_empty() {
        return Err(ItipError::NoEvent);
    }
    Ok(Itip { method, events })
}

/// The VCALENDAR object `text` begins with. Its first line is checked here and the rest
/// handed to calcard's iCalendar parser directly rather than through its generic entry
/// point, which also reads vCards: that keeps calcard's vCard code out of the binary.
fn calendar(text: &str) -> Result<ICalendar, ItipError> {
    let text = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    let (first, rest) = text.split_once('\n').ok_or(ItipError::NotCalendar)?;
    if !first.trim_end().eq_ignore_ascii_case("BEGIN:VCALENDAR") {
        return Err(ItipError::NotCalendar);
    }
    match Parser::new(rest).icalendar(ICalendarComponentType::VCalendar) {
        Entry::ICalendar(cal) => Ok(cal),
        _ => Err(ItipError::NotCalendar),
    }
}

fn event(cal: &ICalendar, c: &ICalendarComponent, zones: &Zones<'_>) -> Result<Event, ItipError> {
    let uid = text(c, &ICalendarProperty::Uid).ok_or(ItipError::Missing("UID"))?;
    let start_entry = c
        .property(&ICalendarProperty::Dtstart)
        .ok_or(ItipError::Missing("DTSTART"))?;
    let start = when(start_entry, zones, "DTSTART")?;
    let cdo_all_day =
        other(c, "X-MICROSOFT-CDO-ALLDAYEVENT").is_some_and(|v| v.eq_ignore_ascii_case("TRUE"));
    let all_day = matches!(start, When::Date(_)) || cdo_all_day;
    let end = match (
        c.property(&ICalendarProperty::Dtend),
        c.property(&ICalendarProperty::Duration),
    ) {
        (Some(e), _) => when(e, zones, "DTEND")?,
        (None, Some(d)) => {
            let duration = match d.values.first() {
                Some(ICalendarValue::Duration(d)) => d,
                _ => return Err(ItipError::BadTime("DURATION")),
            };
            start.plus(duration).ok_or(ItipError::BadTime("DURATION"))?
        }
        // RFC 5545 3.6.1: a date lasts one day, a date-time no time at all.
        (None, None) => match &start {
            When::Date(d) => When::Date(d.tomorrow().map_err(|_| ItipError::BadTime("DTSTART"))?),
            other => other.clone(),
        },
    };
    let zone = start.zone();
    let (start_at, end_at) = (start.instant()?, end.instant()?);
    if end_at < start_at {
        return Err(ItipError::EndBeforeStart);
    }
    let recurrence = match c.property(&ICalendarProperty::Rrule) {
        Some(rule) => {
            let rule = match rule.values.first() {
                Some(ICalendarValue::RecurrenceRule(r)) => r.to_string(),
                _ => return Err(ItipError::BadTime("RRULE")),
            };
            Some(Recurrence::from_rrule(&rule, start.local(), &zone)?)
        }
        None => None,
    };
    let mut exdates = Vec::new();
    for entry in c.properties(&ICalendarProperty::Exdate) {
        for value in &entry.values {
            if exdates.len() == MAX_EXDATES {
                return Err(ItipError::TooManyExdates);
            }
            let ICalendarValue::PartialDateTime(p) = value else {
                return Err(ItipError::BadTime("EXDATE"));
            };
            exdates.push(when_value(p, entry, zones, "EXDATE")?.instant()?);
        }
    }
    let recurrence_id = c
        .property(&ICalendarProperty::RecurrenceId)
        .map(|e| when(e, zones, "RECURRENCE-ID")?.instant())
        .transpose()?;
    let dtstamp = c
        .property(&ICalendarProperty::Dtstamp)
        .map(|e| when(e, zones, "DTSTAMP")?.instant())
        .transpose()?;
    let mut attendees = Vec::new();
    for entry in c.properties(&ICalendarProperty::Attendee) {
        if attendees.len() == MAX_ATTENDEES {
            return Err(ItipError::TooManyAttendees);
        }
        if let Some(a) = attendee(entry) {
            attendees.push(a);
        }
    }
    Ok(Event {
        uid: uid.to_owned(),
        sequence: c
            .property(&ICalendarProperty::Sequence)
            .and_then(|e| e.values.first())
            .and_then(|v| v.as_integer())
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0),
        dtstamp,
        recurrence_id,
        start: start_at,
        end: end_at,
        all_day,
        zone,
        summary: text(c, &ICalendarProperty::Summary).map(str::to_owned),
        location: text(c, &ICalendarProperty::Location)
            .filter(|l| !l.is_empty())
            .map(str::to_owned),
        description: text(c, &ICalendarProperty::Description).map(str::to_owned),
        categories: c
            .properties(&ICalendarProperty::Categories)
            .flat_map(|e| e.values.iter().filter_map(|v| v.as_text()))
            .map(str::to_owned)
            .collect(),
        organizer: c.property(&ICalendarProperty::Organizer).and_then(person),
        attendees,
        recurrence,
        exdates,
        class: class(c),
        busy: busy(c),
        reminder: reminder(cal, c, start_at, end_at),
        disallow_counter: other(c, "X-MICROSOFT-DISALLOW-COUNTER")
            .is_some_and(|v| v.eq_ignore_ascii_case("TRUE")),
    })
}

/// The first value of a property as text.
fn text<'a>(c: &'a ICalendarComponent, prop: &ICalendarProperty) -> Option<&'a str> {
    c.property(prop)?.values.first()?.as_text()
}

/// An X- property's text, its name matched case-insensitively.
fn other<'a>(c: &'a ICalendarComponent, name: &str) -> Option<&'a str> {
    c.entries.iter().find_map(|e| match &e.name {
        ICalendarProperty::Other(n) if n.eq_ignore_ascii_case(name) => {
            e.values.first()?.as_text().map(str::trim)
        }
        _ => None,
    })
}

fn param<'a>(entry: &'a ICalendarEntry, name: &ICalendarParameterName) -> Option<&'a str> {
    entry.parameter(name)?.as_text()
}

fn person(entry: &ICalendarEntry) -> Option<Person> {
    let address = entry.calendar_address()?.trim();
    (!address.is_empty()).then(|| Person {
        address: address.to_owned(),
        name: param(entry, &ICalendarParameterName::Cn)
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned),
    })
}

fn attendee(entry: &ICalendarEntry) -> Option<Attendee> {
    let partstat = match entry.parameter(&ICalendarParameterName::Partstat) {
        Some(ICalendarParameterValue::Partstat(p)) => match p {
            ICalendarParticipationStatus::Accepted => PartStat::Accepted,
            ICalendarParticipationStatus::Declined => PartStat::Declined,
            ICalendarParticipationStatus::Tentative => PartStat::Tentative,
            ICalendarParticipationStatus::Delegated => PartStat::Delegated,
            _ => PartStat::NeedsAction,
        },
        _ => PartStat::NeedsAction,
    };
    let role = match entry.parameter(&ICalendarParameterName::Role) {
        Some(ICalendarParameterValue::Role(r)) => match r {
            ICalendarParticipationRole::Chair => Role::Chair,
            ICalendarParticipationRole::OptParticipant => Role::Optional,
            ICalendarParticipationRole::NonParticipant => Role::NonParticipant,
            _ => Role::Required,
        },
        // RFC 5545 3.2.16: REQ-PARTICIPANT is the default.
        _ => Role::Required,
    };
    let rsvp = match entry.parameter(&ICalendarParameterName::Rsvp) {
        Some(ICalendarParameterValue::Bool(b)) => *b,
        Some(other) => other
            .as_text()
            .is_some_and(|t| t.eq_ignore_ascii_case("TRUE")),
        None => false,
    };
    Some(Attendee {
        person: person(entry)?,
        partstat,
        rsvp,
        role,
    })
}

fn class(c: &ICalendarComponent) -> Class {
    match c
        .property(&ICalendarProperty::Class)
        .and_then(|e| e.values.first())
    {
        Some(ICalendarValue::Classification(ICalendarClassification::Private)) => Class::Private,
        Some(ICalendarValue::Classification(ICalendarClassification::Confidential)) => {
            Class::Confidential
        }
        // RFC 5545 3.8.1.3: PUBLIC is the default, and unknown values are read as PRIVATE.
        Some(ICalendarValue::Classification(ICalendarClassification::Public)) | None => {
            Class::Public
        }
        Some(_) => Class::Private,
    }
}

fn busy(c: &ICalendarComponent) -> Option<Busy> {
    let intended = other(c, "X-MICROSOFT-CDO-INTENDEDSTATUS").and_then(|s| {
        Some(match s.to_ascii_uppercase().as_str() {
            "FREE" => Busy::Free,
            "TENTATIVE" => Busy::Tentative,
            "BUSY" => Busy::Busy,
            "OOF" => Busy::OutOfOffice,
            _ => return None,
        })
    });
    intended.or_else(
        || match c.property(&ICalendarProperty::Transp)?.values.first()? {
            ICalendarValue::Transparency(ICalendarTransparency::Transparent) => Some(Busy::Free),
            ICalendarValue::Transparency(ICalendarTransparency::Opaque) => Some(Busy::Busy),
            _ => None,
        },
    )
}

/// The earliest VALARM of the event as seconds before its start: a TRIGGER duration
/// relative to the start (or, with RELATED=END, to the end), or an absolute UTC time.
fn reminder(cal: &ICalendar, c: &ICalendarComponent, start: i64, end: i64) -> Option<i64> {
    c.component_ids
        .iter()
        .filter_map(|&id| cal.components.get(id as usize))
        .filter(|a| a.component_type == ICalendarComponentType::VAlarm)
        .filter_map(|alarm| {
            let trigger = alarm.property(&ICalendarProperty::Trigger)?;
            match trigger.values.first()? {
                ICalendarValue::Duration(d) => {
                    let related_end = matches!(
                        trigger.parameter(&ICalendarParameterName::Related),
                        Some(ICalendarParameterValue::Related(ICalendarRelated::End))
                    );
                    let anchor = if related_end { end } else { start };
                    Some(start - (anchor + signed_seconds(d)))
                }
                ICalendarValue::PartialDateTime(p) if p.has_zone() => Some(start - utc_of(p)?),
                _ => None,
            }
        })
        // The alarm that rings first warns the most seconds ahead.
        .max()
}

fn signed_seconds(d: &ICalendarDuration) -> i64 {
    let seconds = i64::from(d.weeks) * 7 * 86_400
        + i64::from(d.days) * 86_400
        + i64::from(d.hours) * 3600
        + i64::from(d.minutes) * 60
        + i64::from(d.seconds);
    if d.neg { -seconds } else { seconds }
}

/// A date-time value in one of RFC 5545's three forms (3.3.5), or a date.
#[derive(Debug, Clone)]
enum When {
    /// UTC (`…Z`) or with an explicit offset: already an instant.
    Instant(i64),
    /// Local time in a zone (TZID), or floating time, read in UTC.
    Local(DateTime, TimeZone),
    Date(Date),
}

impl When {
    fn instant(&self) -> Result<i64, ItipError> {
        match self {
            When::Instant(t) => Ok(*t),
            When::Local(dt, zone) => zone
                .to_timestamp(*dt)
                .map(|t| t.as_second())
                .map_err(|_| ItipError::BadTime("a local time")),
            // A date (all day, no zone) starts at midnight UTC, as 16.x's date-only
            // values are read ([MS-ASCAL] 2.2.2.1).
            When::Date(d) => TimeZone::UTC
                .to_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
                .map(|t| t.as_second())
                .map_err(|_| ItipError::BadTime("a date")),
        }
    }

    /// The local wall time the start is in (what an RRULE is expanded from).
    fn local(&self) -> DateTime {
        match self {
            When::Instant(t) => Timestamp::from_second(*t)
                .map(|t| TimeZone::UTC.to_datetime(t))
                .unwrap_or_default(),
            When::Local(dt, _) => *dt,
            When::Date(d) => d.to_datetime(jiff::civil::Time::midnight()),
        }
    }

    fn zone(&self) -> TimeZone {
        match self {
            When::Local(_, zone) => zone.clone(),
            _ => TimeZone::UTC,
        }
    }

    /// The end of an event of this start lasting `d`: days are calendar days in the
    /// start's zone, the rest exact time (RFC 5545 3.3.6).
    fn plus(&self, d: &ICalendarDuration) -> Option<When> {
        let sign = if d.neg { -1 } else { 1 };
        let days = sign * (i64::from(d.weeks) * 7 + i64::from(d.days));
        let exact =
            sign * (i64::from(d.hours) * 3600 + i64::from(d.minutes) * 60 + i64::from(d.seconds));
        let (days_n, exact_n) = (days, exact);
        let days = Span::new().try_days(days).ok()?;
        let exact = Span::new().try_seconds(exact).ok()?;
        Some(match self {
            // In UTC every day is 86,400 seconds.
            When::Instant(t) => When::Instant(
                t.checked_add(days_n.checked_mul(86_400)?)?
                    .checked_add(exact_n)?,
            ),
            When::Local(dt, zone) => {
                let end = dt
                    .to_zoned_datetime(zone.clone())
                    .ok()?
                    .checked_add(days)
                    .ok()?
                    .checked_add(exact)
                    .ok()?;
                When::Instant(end.timestamp().as_second())
            }
            When::Date(date) => When::Date(date.checked_add(days).ok()?),
        })
    }
}

fn when(entry: &ICalendarEntry, zones: &Zones<'_>, what: &'static str) -> Result<When, ItipError> {
    match entry.values.first() {
        Some(ICalendarValue::PartialDateTime(p)) => when_value(p, entry, zones, what),
        _ => Err(ItipError::BadTime(what)),
    }
}

fn when_value(
    p: &PartialDateTime,
    entry: &ICalendarEntry,
    zones: &Zones<'_>,
    what: &'static str,
) -> Result<When, ItipError> {
    let bad = || ItipError::BadTime(what);
    let date = Date::new(
        i16::try_from(p.year.ok_or_else(bad)?).map_err(|_| bad())?,
        p.month.ok_or_else(bad)? as i8,
        p.day.ok_or_else(bad)? as i8,
    )
    .map_err(|_| bad())?;
    if !p.has_time() {
        return Ok(When::Date(date));
    }
    if p.has_zone() {
        return utc_of(p).map(When::Instant).ok_or_else(bad);
    }
    let dt = civil(date, p).ok_or_else(bad)?;
    match entry.tz_id() {
        Some(tzid) => Ok(When::Local(dt, zones.resolve(tzid, date.year())?)),
        // Floating time: the same wall time everywhere; easd has no zone of the
        // reader's to put it in, so it is read as UTC.
        None => Ok(When::Local(dt, TimeZone::UTC)),
    }
}

fn civil(date: Date, p: &PartialDateTime) -> Option<DateTime> {
    let time = jiff::civil::Time::new(
        p.hour? as i8,
        p.minute? as i8,
        // RFC 5545 allows the leap second 60; it is read as 59.
        p.second.unwrap_or(0).min(59) as i8,
        0,
    )
    .ok()?;
    Some(date.to_datetime(time))
}

/// A date-time with a UTC offset (`Z`, or `±hhmm` from a TRIGGER) as an instant.
fn utc_of(p: &PartialDateTime) -> Option<i64> {
    let date = Date::new(i16::try_from(p.year?).ok()?, p.month? as i8, p.day? as i8).ok()?;
    let local = TimeZone::UTC.to_timestamp(civil(date, p)?).ok()?;
    let offset =
        i64::from(p.tz_hour.unwrap_or(0)) * 3600 + i64::from(p.tz_minute.unwrap_or(0)) * 60;
    let offset = if p.tz_minus { -offset } else { offset };
    Some(local.as_second() - offset)
}

/// Resolves TZIDs against the object's VTIMEZONEs.
struct Zones<'a> {
    cal: &'a ICalendar,
}

impl Zones<'_> {
    fn resolve(&self, tzid: &str, year: i16) -> Result<TimeZone, ItipError> {
        let db = jiff::tz::db();
        if let Ok(zone) = db.get(tzid) {
            return Ok(zone);
        }
        let named = |tz: Tz| match tz {
            Tz::Tz(_) => tz.name().and_then(|name| db.get(&name).ok()),
            Tz::Fixed(offset) => jiff::tz::Offset::from_seconds(offset.local_minus_utc())
                .ok()
                .map(TimeZone::fixed),
            Tz::Floating => None,
        };
        if let Some(zone) = tzid.parse::<Tz>().ok().and_then(named) {
            return Ok(zone);
        }
        let vtimezone = self
            .cal
            .timezones()
            .find(|c| text(c, &ICalendarProperty::Tzid).is_some_and(|id| id == tzid));
        if let Some(vtimezone) = vtimezone {
            if let Some(zone) = vtimezone.timezone().and_then(|(_, tz)| named(tz)) {
                return Ok(zone);
            }
            if let Some(info) = self.rules(vtimezone) {
                return Ok(tz::zone_for(&info, year));
            }
        }
        Err(ItipError::UnknownZone(tzid.chars().take(100).collect()))
    }

    /// A VTIMEZONE's rules as a TIME_ZONE_INFORMATION: the latest STANDARD and DAYLIGHT
    /// observances, each a yearly `RRULE:FREQ=YEARLY;BYMONTH=m;BYDAY=nDD` changing at its
    /// DTSTART's wall time. A zone with only STANDARD (or whose DAYLIGHT has no such rule)
    /// is a fixed offset.
    fn rules(&self, vtimezone: &ICalendarComponent) -> Option<TimeZoneInfo> {
        let latest = |kind: ICalendarComponentType| {
            vtimezone
                .component_ids
                .iter()
                .filter_map(|&id| self.cal.components.get(id as usize))
                .filter(|c| c.component_type == kind)
                .max_by_key(|c| {
                    c.property(&ICalendarProperty::Dtstart)
                        .and_then(|e| e.values.first())
                        .and_then(|v| v.as_partial_date_time())
                        .map(|p| (p.year, p.month, p.day, p.hour, p.minute))
                })
        };
        let standard = latest(ICalendarComponentType::Standard)?;
        let standard_offset = offset_minutes(standard)?;
        let mut info = TimeZoneInfo::fixed(-standard_offset);
        let daylight = latest(ICalendarComponentType::Daylight);
        if let Some(daylight) = daylight
            && let (Some(dst_offset), Some(dst_date), Some(std_date)) = (
                offset_minutes(daylight),
                yearly_change(daylight),
                yearly_change(standard),
            )
        {
            info.daylight_bias = standard_offset - dst_offset;
            info.daylight_date = dst_date;
            info.standard_date = std_date;
        }
        // The blob's own checks (offsets within 18 h, real months and times of day), so
        // that nothing out of range reaches the zone mapping.
        TimeZoneInfo::from_bytes(&info.to_bytes()).ok()
    }
}

/// TZOFFSETTO in minutes east of UTC.
fn offset_minutes(observance: &ICalendarComponent) -> Option<i32> {
    let p = observance
        .property(&ICalendarProperty::Tzoffsetto)?
        .values
        .first()?
        .as_partial_date_time()?;
    let minutes = i32::from(p.tz_hour?) * 60 + i32::from(p.tz_minute.unwrap_or(0));
    Some(if p.tz_minus { -minutes } else { minutes })
}

/// An observance's yearly change as a SYSTEMTIME rule ([MS-ASDTYPE] 2.7.6: week 5 is the
/// last one, as BYDAY=-1 says).
fn yearly_change(observance: &ICalendarComponent) -> Option<ChangeDate> {
    let start = observance
        .property(&ICalendarProperty::Dtstart)?
        .values
        .first()?
        .as_partial_date_time()?;
    let rule = match observance
        .property(&ICalendarProperty::Rrule)?
        .values
        .first()?
    {
        ICalendarValue::RecurrenceRule(r) => r,
        _ => return None,
    };
    let month = rule.bymonth.first()?.month();
    let day = rule.byday.first()?;
    let week = match day.ordwk {
        Some(-1) => 5,
        Some(n @ 1..=5) => n as u8,
        _ => return None,
    };
    Some(ChangeDate::Rule {
        month,
        week,
        weekday: sunday_based(day.weekday),
        time: TimeOfDay {
            hour: start.hour?,
            minute: start.minute.unwrap_or(0),
            second: start.second.unwrap_or(0),
            millis: 0,
        },
    })
}

/// SYSTEMTIME's wDayOfWeek: 0 = Sunday.
fn sunday_based(day: calcard::icalendar::ICalendarWeekday) -> u8 {
    use calcard::icalendar::ICalendarWeekday as W;
    match day {
        W::Sunday => 0,
        W::Monday => 1,
        W::Tuesday => 2,
        W::Wednesday => 3,
        W::Thursday => 4,
        W::Friday => 5,
        W::Saturday => 6,
    }
}

#[cfg(test)]
#[path = "itip_tests.rs"]
mod tests;
