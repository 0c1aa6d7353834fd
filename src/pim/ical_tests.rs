use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::*;

fn at(text: &str) -> i64 {
    text.parse::<Timestamp>().unwrap().as_second()
}

fn blob(zone: &str, when: &str) -> String {
    let zone = TimeZone::get(zone).unwrap();
    tz::blob_for(&zone, when.parse().unwrap()).to_base64()
}

fn person(email: &str, name: &str, status: i32, kind: i32) -> Attendee {
    Attendee {
        email: Some(email.into()),
        name: Some(name.into()),
        attendee_status: Some(status),
        attendee_type: Some(kind),
        ..Attendee::default()
    }
}

/// A weekly meeting in Paris, across the March DST change, with a deleted and a moved
/// occurrence: every field the mapping carries.
fn meeting() -> Event {
    Event {
        uid: Some("weekly-1@example.com".into()),
        dt_stamp: Some(Stamp(at("2026-02-20T10:00:00Z"))),
        start_time: Some(Stamp(at("2026-03-16T08:00:00Z"))),
        end_time: Some(Stamp(at("2026-03-16T09:00:00Z"))),
        timezone: Some(blob("Europe/Paris", "2026-03-16T08:00:00Z")),
        subject: Some("Weekly sync; budget, plans\nand more".into()),
        location: place(Some("Room 4, 2nd floor")),
        body: Some(Body {
            kind: BODY_PLAIN,
            data: "Agenda:\n1. budget\n2. hiring".into(),
        }),
        categories: vec!["Work".into(), "Team, core".into()],
        organizer_email: Some("boss@example.com".into()),
        organizer_name: Some("The Boss".into()),
        attendees: vec![
            person("alice@example.com", "Alice", STATUS_ACCEPT, TYPE_REQUIRED),
            person(
                "bob@example.com",
                "Bob: B.",
                STATUS_TENTATIVE,
                TYPE_OPTIONAL,
            ),
            person(
                "room4@example.com",
                "Room 4",
                STATUS_NOT_RESPONDED,
                TYPE_RESOURCE,
            ),
        ],
        sensitivity: Some(SENSITIVITY_PRIVATE),
        busy_status: Some(BUSY_TENTATIVE),
        reminder: Some(15),
        recurrence: Some(RecurrenceRecord {
            kind: Some(1),
            interval: Some(1),
            occurrences: Some(10),
            day_of_week: Some(2),
            calendar_type: Some(0),
            is_leap_month: Some(0),
            // RFC 5545 3.3.10: without WKST the week starts on Monday, so that is what
            // a rule read back says.
            first_day_of_week: Some(1),
            ..RecurrenceRecord::default()
        }),
        exceptions: vec![
            Exception {
                deleted: Some(true),
                original: Stamp(at("2026-03-23T08:00:00Z")),
                ..Exception::default()
            },
            // After the change to summer time: 09:00 Paris is 07:00Z; moved to 11:00.
            Exception {
                original: Stamp(at("2026-03-30T07:00:00Z")),
                start_time: Some(Stamp(at("2026-03-30T09:00:00Z"))),
                end_time: Some(Stamp(at("2026-03-30T10:00:00Z"))),
                subject: Some("Weekly sync (moved)".into()),
                ..Exception::default()
            },
        ],
        ..Event::default()
    }
}

fn round_trip(event: &Event) -> Event {
    let text = export([("fallback", event)], 0);
    let got = import(&text);
    assert!(got.rejected.is_empty(), "{:?}\n{text}", got.rejected);
    assert_eq!(got.events.len(), 1, "{text}");
    got.events.into_iter().next().unwrap()
}

#[test]
fn a_zoned_recurring_meeting_with_exceptions_round_trips() {
    let event = meeting();
    let text = export([("fallback", &event)], 0);
    // The blob names no zone: the first IANA zone with Paris' rules stands for it.
    let zone = tz::zone_for(
        &TimeZoneInfo::from_base64(event.timezone.as_deref().unwrap()).unwrap(),
        2026,
    );
    let id = zone.iana_name().unwrap();
    assert!(
        text.contains(&format!("BEGIN:VTIMEZONE\r\nTZID:{id}\r\n")),
        "{text}"
    );
    assert!(text.contains("BEGIN:DAYLIGHT\r\nDTSTART:16010301T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\n"), "{text}");
    assert!(
        text.contains(&format!("DTSTART;TZID={id}:20260316T090000\r\n")),
        "{text}"
    );
    assert!(
        text.contains("RRULE:FREQ=WEEKLY;COUNT=10;BYDAY=MO;WKST=MO\r\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!("EXDATE;TZID={id}:20260323T090000\r\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!("RECURRENCE-ID;TZID={id}:20260330T090000\r\n")),
        "{text}"
    );
    assert!(text.lines().all(|l| l.len() <= 75), "{text}");
    assert_eq!(round_trip(&event), event);
}

#[test]
fn all_day_events_round_trip_in_utc_and_in_a_zone() {
    let utc = Event {
        uid: Some("holiday@example.com".into()),
        dt_stamp: Some(Stamp(at("2026-01-01T00:00:00Z"))),
        start_time: Some(Stamp(at("2026-05-01T00:00:00Z"))),
        end_time: Some(Stamp(at("2026-05-02T00:00:00Z"))),
        all_day_event: Some(true),
        timezone: Some(TimeZoneInfo::utc().to_base64()),
        subject: Some("Labour day".into()),
        sensitivity: Some(SENSITIVITY_NORMAL),
        busy_status: Some(BUSY_FREE),
        ..Event::default()
    };
    let text = export([("x", &utc)], 0);
    assert!(text.contains("DTSTART;VALUE=DATE:20260501\r\n"), "{text}");
    assert_eq!(round_trip(&utc), utc);

    // Midnight in Kolkata (UTC+05:30), two days.
    let zoned = Event {
        start_time: Some(Stamp(at("2026-05-31T18:30:00Z"))),
        end_time: Some(Stamp(at("2026-06-02T18:30:00Z"))),
        timezone: Some(blob("Asia/Kolkata", "2026-06-01T00:00:00Z")),
        ..utc
    };
    let text = export([("x", &zoned)], 0);
    assert!(text.contains("X-MICROSOFT-CDO-ALLDAYEVENT:TRUE"), "{text}");
    assert_eq!(round_trip(&zoned), zoned);
}

#[test]
fn a_record_without_uid_or_stamp_gets_the_fallbacks() {
    let event = Event {
        start_time: Some(Stamp(at("2026-04-01T12:00:00Z"))),
        end_time: Some(Stamp(at("2026-04-01T13:00:00Z"))),
        ..Event::default()
    };
    let now = at("2026-03-01T00:00:00Z");
    let got = import(&export([("srv-42", &event)], now));
    assert_eq!(got.events[0].uid.as_deref(), Some("srv-42"));
    assert_eq!(got.events[0].dt_stamp, Some(Stamp(now)));
}

/// The shape of a Google Calendar export (Settings → Import & export): PRODID
/// "-//Google Inc//Google Calendar 70.9054//EN", X-WR-* headers, a VTIMEZONE with
/// X-LIC-LOCATION and one observance each, the series then its moved occurrence, RRULE
/// with UNTIL in UTC, EXDATE, CN-quoted attendees with X-NUM-GUESTS, a VALARM with a
/// DURATION trigger. Written by hand after exports seen in the wild.
const GOOGLE: &str = "BEGIN:VCALENDAR\r
PRODID:-//Google Inc//Google Calendar 70.9054//EN\r
VERSION:2.0\r
CALSCALE:GREGORIAN\r
METHOD:PUBLISH\r
X-WR-CALNAME:alice@example.com\r
X-WR-TIMEZONE:America/New_York\r
BEGIN:VTIMEZONE\r
TZID:America/New_York\r
X-LIC-LOCATION:America/New_York\r
BEGIN:DAYLIGHT\r
TZOFFSETFROM:-0500\r
TZOFFSETTO:-0400\r
TZNAME:EDT\r
DTSTART:19700308T020000\r
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\r
END:DAYLIGHT\r
BEGIN:STANDARD\r
TZOFFSETFROM:-0400\r
TZOFFSETTO:-0500\r
TZNAME:EST\r
DTSTART:19701101T020000\r
RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU\r
END:STANDARD\r
END:VTIMEZONE\r
BEGIN:VEVENT\r
DTSTART;TZID=America/New_York:20261102T100000\r
DTEND;TZID=America/New_York:20261102T103000\r
RRULE:FREQ=WEEKLY;WKST=SU;UNTIL=20261231T045959Z;BYDAY=MO\r
EXDATE;TZID=America/New_York:20261109T100000\r
DTSTAMP:20261020T120000Z\r
ORGANIZER;CN=Alice Example:mailto:alice@example.com\r
UID:7kukuqrfedlm2f9t0vr42q2gsp@google.com\r
ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;CN=Alice Ex\r
 ample;X-NUM-GUESTS=0:mailto:alice@example.com\r
ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;CN=bob@\r
 example.org;X-NUM-GUESTS=0:mailto:bob@example.org\r
CREATED:20261020T115900Z\r
DESCRIPTION:Stand-up\\, 30 minutes.\r
LAST-MODIFIED:20261020T120000Z\r
LOCATION:\r
SEQUENCE:0\r
STATUS:CONFIRMED\r
SUMMARY:Stand-up\r
TRANSP:OPAQUE\r
BEGIN:VALARM\r
ACTION:DISPLAY\r
DESCRIPTION:This is an event reminder\r
TRIGGER:-P0DT0H10M0S\r
END:VALARM\r
END:VEVENT\r
BEGIN:VEVENT\r
DTSTART;TZID=America/New_York:20261117T150000\r
DTEND;TZID=America/New_York:20261117T153000\r
DTSTAMP:20261020T120000Z\r
UID:7kukuqrfedlm2f9t0vr42q2gsp@google.com\r
RECURRENCE-ID;TZID=America/New_York:20261116T100000\r
SUMMARY:Stand-up (Tuesday this week)\r
SEQUENCE:1\r
END:VEVENT\r
END:VCALENDAR\r
";

#[test]
fn a_google_calendar_export_reads_into_one_series() {
    let got = import(GOOGLE);
    assert!(got.rejected.is_empty(), "{:?}", got.rejected);
    let [event] = got.events.as_slice() else {
        panic!("{:?}", got.events)
    };
    assert_eq!(
        event.uid.as_deref(),
        Some("7kukuqrfedlm2f9t0vr42q2gsp@google.com")
    );
    assert_eq!(event.subject.as_deref(), Some("Stand-up"));
    // 10:00 EST.
    assert_eq!(event.start_time, Some(Stamp(at("2026-11-02T15:00:00Z"))));
    assert_eq!(
        event.timezone,
        Some(blob("America/New_York", "2026-11-02T15:00:00Z"))
    );
    assert_eq!(event.reminder, Some(10));
    assert_eq!(event.body.as_ref().unwrap().data, "Stand-up, 30 minutes.");
    assert_eq!(event.location, None);
    assert_eq!(event.busy_status, Some(BUSY_BUSY));
    let r = event.recurrence.as_ref().unwrap();
    assert_eq!((r.kind, r.day_of_week), (Some(1), Some(2)));
    assert_eq!(r.until, Some(Stamp(at("2026-12-31T04:59:59Z"))));
    assert_eq!(event.attendees[0].attendee_status, Some(STATUS_ACCEPT));
    assert_eq!(
        event.attendees[1].attendee_status,
        Some(STATUS_NOT_RESPONDED)
    );
    assert_eq!(event.exceptions.len(), 2);
    assert_eq!(event.exceptions[0].deleted, Some(true));
    assert_eq!(
        event.exceptions[0].original,
        Stamp(at("2026-11-09T15:00:00Z"))
    );
    let moved = &event.exceptions[1];
    assert_eq!(moved.original, Stamp(at("2026-11-16T15:00:00Z")));
    assert_eq!(moved.start_time, Some(Stamp(at("2026-11-17T20:00:00Z"))));
    assert_eq!(
        moved.subject.as_deref(),
        Some("Stand-up (Tuesday this week)")
    );
    // And what easd writes of it reads back the same.
    assert_eq!(round_trip(event), *event);
}

/// The shape of a Thunderbird (Lightning) export: PRODID "-//Mozilla.org/NONSGML Mozilla
/// Calendar V1.1//EN", X-MOZ-* properties, CATEGORIES, an all-day event as VALUE=DATE,
/// a TRIGGER with VALUE=DURATION, CLASS. Written by hand after Thunderbird 115 exports.
const THUNDERBIRD: &str = "BEGIN:VCALENDAR
PRODID:-//Mozilla.org/NONSGML Mozilla Calendar V1.1//EN
VERSION:2.0
BEGIN:VEVENT
CREATED:20260110T090000Z
LAST-MODIFIED:20260110T090500Z
DTSTAMP:20260110T090500Z
UID:0f0d5a4e-7d1c-4c43-9a1b-3c1b2f1e9a77
SUMMARY:Mum's birthday
CATEGORIES:Birthday,Family
CLASS:CONFIDENTIAL
RRULE:FREQ=YEARLY;BYMONTH=7;BYMONTHDAY=14
DTSTART;VALUE=DATE:20260714
DTEND;VALUE=DATE:20260715
TRANSP:TRANSPARENT
X-MOZ-GENERATION:2
BEGIN:VALARM
ACTION:DISPLAY
TRIGGER;VALUE=DURATION:-P1D
DESCRIPTION:Default Mozilla Description
END:VALARM
END:VEVENT
BEGIN:VEVENT
UID:broken-1
SUMMARY:No start
DTSTAMP:20260110T090500Z
END:VEVENT
END:VCALENDAR
";

#[test]
fn a_thunderbird_export_reads_and_a_broken_event_is_reported() {
    let got = import(THUNDERBIRD);
    assert_eq!(got.rejected.len(), 1, "{:?}", got.rejected);
    assert_eq!(got.rejected[0].index, 2);
    assert!(
        got.rejected[0].reason.contains("DTSTART"),
        "{:?}",
        got.rejected
    );
    let [event] = got.events.as_slice() else {
        panic!("{:?}", got.events)
    };
    assert_eq!(event.all_day_event, Some(true));
    assert_eq!(event.start_time, Some(Stamp(at("2026-07-14T00:00:00Z"))));
    assert_eq!(event.categories, ["Birthday", "Family"]);
    assert_eq!(event.sensitivity, Some(SENSITIVITY_CONFIDENTIAL));
    assert_eq!(event.busy_status, Some(BUSY_FREE));
    assert_eq!(event.reminder, Some(24 * 60));
    let r = event.recurrence.as_ref().unwrap();
    assert_eq!(
        (r.kind, r.month_of_year, r.day_of_month),
        (Some(5), Some(7), Some(14))
    );
    assert_eq!(round_trip(event), *event);
}

#[test]
fn garbage_and_orphans_are_reported_never_a_panic() {
    assert!(import("").events.is_empty());
    let junk = import("BEGIN:VEVENT\nDTSTART:not a date\nEND:VEVENT\nBEGIN:VEVENT\n");
    assert!(junk.events.is_empty());
    assert_eq!(junk.rejected.len(), 1);
    let orphan = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:o\nDTSTAMP:20260101T000000Z\n\
        RECURRENCE-ID:20260105T100000Z\nDTSTART:20260105T110000Z\nEND:VEVENT\nEND:VCALENDAR\n";
    let got = import(orphan);
    assert!(got.events.is_empty());
    assert!(
        got.rejected[0].reason.contains("RECURRENCE-ID"),
        "{:?}",
        got.rejected
    );
}

/// An iTIP message as `pim::itip` (calcard) reads it.
fn read_itip(text: &str) -> itip::Itip {
    itip::parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

#[test]
fn a_request_carries_method_sequence_every_attendee_and_the_series() {
    let event = meeting();
    let now = at("2026-03-01T12:00:00Z");
    let text = scheduling(Scheduling::Request, "fallback", &event, 2, now);
    let got = read_itip(&text);
    assert_eq!(got.method, Some(itip::Method::Request));
    let main = got.main_event().unwrap();
    assert_eq!(main.uid, "weekly-1@example.com");
    assert_eq!(main.sequence, 2);
    assert_eq!(
        main.dtstamp,
        Some(now),
        "DTSTAMP is when the message is made"
    );
    assert_eq!(main.start, at("2026-03-16T08:00:00Z"));
    assert!(main.recurrence.is_some());
    assert_eq!(main.exdates, vec![at("2026-03-23T08:00:00Z")]);
    assert_eq!(main.attendees.len(), 3);
    assert!(main.attendees.iter().all(|a| a.rsvp), "{text}");
    assert_eq!(
        main.organizer.as_ref().map(|o| o.address.as_str()),
        Some("boss@example.com")
    );
    // The moved occurrence goes along, at the same revision.
    let moved = got
        .events
        .iter()
        .find(|e| e.recurrence_id == Some(at("2026-03-30T07:00:00Z")))
        .expect("the changed occurrence");
    assert_eq!(moved.sequence, 2);
    assert_eq!(moved.start, at("2026-03-30T09:00:00Z"));
    assert!(
        !text.contains("BEGIN:VALARM"),
        "no alarm is imposed: {text}"
    );
}

#[test]
fn a_reply_names_only_the_answering_attendee_and_an_instance_by_recurrence_id() {
    let event = meeting();
    let me = person("bob@example.com", "Bob", STATUS_ACCEPT, TYPE_OPTIONAL);
    let now = at("2026-03-02T08:00:00Z");
    let whole = scheduling(
        Scheduling::Reply {
            attendee: &me,
            instance: None,
        },
        "x",
        &event,
        0,
        now,
    );
    let got = read_itip(&whole);
    assert_eq!(got.method, Some(itip::Method::Reply));
    assert_eq!(
        got.events.len(),
        1,
        "no changed occurrences in a reply: {whole}"
    );
    let e = &got.events[0];
    assert_eq!(e.attendees.len(), 1);
    assert_eq!(e.attendees[0].person.address, "bob@example.com");
    assert_eq!(e.attendees[0].partstat, itip::PartStat::Accepted);
    assert!(e.organizer.is_some(), "ORGANIZER is always written");
    assert!(!whole.contains("DESCRIPTION:"), "{whole}");

    let one = scheduling(
        Scheduling::Reply {
            attendee: &me,
            instance: Some(at("2026-03-30T07:00:00Z")),
        },
        "x",
        &event,
        1,
        now,
    );
    let got = read_itip(&one);
    let e = &got.events[0];
    assert_eq!(e.recurrence_id, Some(at("2026-03-30T07:00:00Z")));
    // The moved occurrence's own time.
    assert_eq!(e.start, at("2026-03-30T09:00:00Z"));
    assert_eq!(e.sequence, 1);
    assert!(e.recurrence.is_none(), "{one}");
}

#[test]
fn a_cancel_is_marked_cancelled_and_names_only_those_told() {
    let event = meeting();
    let told = [person(
        "room4@example.com",
        "Room 4",
        STATUS_NOT_RESPONDED,
        TYPE_RESOURCE,
    )];
    let text = scheduling(
        Scheduling::Cancel { attendees: &told },
        "x",
        &event,
        3,
        at("2026-03-03T00:00:00Z"),
    );
    assert!(text.contains("\r\nMETHOD:CANCEL\r\n"), "{text}");
    assert!(text.contains("\r\nSTATUS:CANCELLED\r\n"), "{text}");
    let got = read_itip(&text);
    assert_eq!(got.method, Some(itip::Method::Cancel));
    assert_eq!(got.events.len(), 1);
    assert_eq!(got.events[0].sequence, 3);
    let to: Vec<_> = got.events[0]
        .attendees
        .iter()
        .map(|a| a.person.address.as_str())
        .collect();
    assert_eq!(to, ["room4@example.com"]);
}
