use super::*;
use crate::pim::recur::{End, Pattern};

/// Unix seconds of a UTC time written as `YYYY-MM-DDTHH:MM:SSZ`.
fn utc(text: &str) -> i64 {
    text.parse::<Timestamp>().expect("timestamp").as_second()
}

/// An invitation as Outlook (Exchange) sends it: a Windows zone name as TZID, with its
/// VTIMEZONE, CDO properties, an alarm and Outlook's hex UID.
const OUTLOOK: &str = "BEGIN:VCALENDAR\r
METHOD:REQUEST\r
PRODID:Microsoft Exchange Server 2010\r
VERSION:2.0\r
BEGIN:VTIMEZONE\r
TZID:W. Europe Standard Time\r
BEGIN:STANDARD\r
DTSTART:16010101T030000\r
TZOFFSETFROM:+0200\r
TZOFFSETTO:+0100\r
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10\r
END:STANDARD\r
BEGIN:DAYLIGHT\r
DTSTART:16010101T020000\r
TZOFFSETFROM:+0100\r
TZOFFSETTO:+0200\r
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3\r
END:DAYLIGHT\r
END:VTIMEZONE\r
BEGIN:VEVENT\r
ORGANIZER;CN=Olga Organizer:mailto:olga@example.com\r
ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CN=Bob Builder:\r
 mailto:bob@example.org\r
ATTENDEE;ROLE=OPT-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=FALSE;CN=Carol:mailto:c\r
 arol@example.org\r
DESCRIPTION;LANGUAGE=en-US:Quarterly planning\\n\r
UID:040000008200E00074C5B7101A82E0080000000010C8F5A39A6ADB01000000000000000010\r
 000000A4B3CBC2BB4E1A47A53E11D6D0F8A5C8\r
SUMMARY;LANGUAGE=en-US:Planning\r
DTSTART;TZID=W. Europe Standard Time:20260715T100000\r
DTEND;TZID=W. Europe Standard Time:20260715T113000\r
CLASS:PRIVATE\r
PRIORITY:5\r
DTSTAMP:20260701T080000Z\r
TRANSP:OPAQUE\r
STATUS:CONFIRMED\r
SEQUENCE:0\r
LOCATION;LANGUAGE=en-US:Room 4\r
X-MICROSOFT-CDO-INTENDEDSTATUS:TENTATIVE\r
X-MICROSOFT-CDO-ALLDAYEVENT:FALSE\r
X-MICROSOFT-DISALLOW-COUNTER:TRUE\r
BEGIN:VALARM\r
DESCRIPTION:REMINDER\r
TRIGGER;RELATED=START:-PT15M\r
ACTION:DISPLAY\r
END:VALARM\r
END:VEVENT\r
END:VCALENDAR\r
";

#[test]
fn outlook_invitation_with_windows_zone() {
    let itip = parse(OUTLOOK).expect("parses");
    assert_eq!(itip.method, Some(Method::Request));
    assert_eq!(itip.events.len(), 1);
    let e = itip.main_event().expect("event");
    assert!(e.uid.starts_with("040000008200E00074C5B7101A82E008"));
    assert!(
        e.uid.ends_with("A4B3CBC2BB4E1A47A53E11D6D0F8A5C8"),
        "unfolded"
    );
    assert_eq!(e.sequence, 0);
    assert_eq!(e.dtstamp, Some(utc("2026-07-01T08:00:00Z")));
    // 10:00 CEST (UTC+2 in July).
    assert_eq!(e.start, utc("2026-07-15T08:00:00Z"));
    assert_eq!(e.end, utc("2026-07-15T09:30:00Z"));
    assert!(!e.all_day);
    assert_eq!(e.zone.iana_name(), Some("Europe/Berlin"));
    assert_eq!(e.summary.as_deref(), Some("Planning"));
    assert_eq!(e.location.as_deref(), Some("Room 4"));
    let organizer = e.organizer.as_ref().expect("organizer");
    assert_eq!(organizer.address, "olga@example.com");
    assert_eq!(organizer.name.as_deref(), Some("Olga Organizer"));
    assert_eq!(e.attendees.len(), 2);
    let bob = &e.attendees[0];
    assert_eq!(
        (bob.person.address.as_str(), bob.person.name.as_deref()),
        ("bob@example.org", Some("Bob Builder"))
    );
    assert_eq!(
        (bob.partstat, bob.rsvp, bob.role),
        (PartStat::NeedsAction, true, Role::Required)
    );
    let carol = &e.attendees[1];
    assert_eq!(
        carol.person.address, "carol@example.org",
        "folded mid-address"
    );
    assert_eq!((carol.rsvp, carol.role), (false, Role::Optional));
    assert_eq!(e.class, Class::Private);
    assert_eq!(e.busy, Some(Busy::Tentative), "INTENDEDSTATUS beats TRANSP");
    assert_eq!(e.reminder, Some(15 * 60));
    assert!(e.disallow_counter);
    assert!(e.recurrence.is_none());
    assert!(e.recurrence_id.is_none());
}

/// A zone known only by its VTIMEZONE rules (a made-up TZID): read as a
/// TIME_ZONE_INFORMATION and mapped to the IANA zone with the same changes.
#[test]
fn unnamed_zone_from_its_vtimezone_rules() {
    let text = OUTLOOK.replace("W. Europe Standard Time", "Custom Zone 42");
    let e = parse(&text).expect("parses").events.remove(0);
    assert_eq!(e.start, utc("2026-07-15T08:00:00Z"));
    // Winter: the same rules give UTC+1.
    let winter = text.replace("20260715T1", "20261215T1");
    let e = parse(&winter).expect("parses").events.remove(0);
    assert_eq!(e.start, utc("2026-12-15T09:00:00Z"));
    // A southern zone with no DST: a STANDARD alone is a fixed offset.
    let kolkata = "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VTIMEZONE\r\nTZID:My India\r\n\
        BEGIN:STANDARD\r\nDTSTART:16010101T000000\r\nTZOFFSETFROM:+0530\r\nTZOFFSETTO:+0530\r\n\
        END:STANDARD\r\nEND:VTIMEZONE\r\nBEGIN:VEVENT\r\nUID:k\r\nDTSTAMP:20260101T000000Z\r\n\
        DTSTART;TZID=My India:20260301T093000\r\nDURATION:PT1H\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let e = parse(kolkata).expect("parses").events.remove(0);
    assert_eq!(e.start, utc("2026-03-01T04:00:00Z"));
    assert_eq!(e.end, utc("2026-03-01T05:00:00Z"));
    // Rules out of range (a change at 25:00, an offset of 99 hours) are no zone.
    for (from, to) in [
        ("DTSTART:16010101T030000", "DTSTART:16010101T250000"),
        ("TZOFFSETTO:+0100", "TZOFFSETTO:+9900"),
    ] {
        let bad = text.replace(from, to);
        assert_eq!(
            parse(&bad).unwrap_err(),
            ItipError::UnknownZone("Custom Zone 42".into()),
            "{to}"
        );
    }
}

/// Google Calendar: IANA TZID, VTIMEZONE with X-LIC-LOCATION, a weekly series with
/// excluded dates and an attendee's RSVP.
const GOOGLE: &str = "BEGIN:VCALENDAR
PRODID:-//Google Inc//Google Calendar 70.9054//EN
VERSION:2.0
CALSCALE:GREGORIAN
METHOD:REQUEST
BEGIN:VTIMEZONE
TZID:America/New_York
X-LIC-LOCATION:America/New_York
BEGIN:DAYLIGHT
TZOFFSETFROM:-0500
TZOFFSETTO:-0400
TZNAME:EDT
DTSTART:19700308T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:-0400
TZOFFSETTO:-0500
TZNAME:EST
DTSTART:19701101T020000
RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU
END:STANDARD
END:VTIMEZONE
BEGIN:VEVENT
DTSTART;TZID=America/New_York:20261026T090000
DTEND;TZID=America/New_York:20261026T093000
RRULE:FREQ=WEEKLY;WKST=SU;COUNT=10;BYDAY=MO
EXDATE;TZID=America/New_York:20261109T090000,20261116T090000
DTSTAMP:20261020T120000Z
ORGANIZER;CN=alice@example.com:mailto:alice@example.com
UID:7kukuqrfedlm2f9t0vr42q2k8s@google.com
ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=TRUE
 ;CN=alice@example.com;X-NUM-GUESTS=0:mailto:alice@example.com
ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=
 TRUE;CN=bob@example.org;X-NUM-GUESTS=0:mailto:bob@example.org
CREATED:20261020T115900Z
LAST-MODIFIED:20261020T120000Z
LOCATION:
SEQUENCE:0
STATUS:CONFIRMED
SUMMARY:Standup
TRANSP:TRANSPARENT
BEGIN:VALARM
ACTION:EMAIL
TRIGGER:-P0DT0H10M0S
END:VALARM
BEGIN:VALARM
ACTION:DISPLAY
TRIGGER:-P0DT0H30M0S
END:VALARM
END:VEVENT
END:VCALENDAR
";

#[test]
fn google_series_with_iana_zone_and_exdates() {
    let e = parse(GOOGLE).expect("parses").events.remove(0);
    assert_eq!(e.zone.iana_name(), Some("America/New_York"));
    // 09:00 EDT on 26 October, before the change of 1 November.
    assert_eq!(e.start, utc("2026-10-26T13:00:00Z"));
    assert_eq!(e.end, utc("2026-10-26T13:30:00Z"));
    let r = e.recurrence.as_ref().expect("weekly series");
    assert!(matches!(r.pattern, Pattern::Weekly { .. }));
    assert_eq!((r.interval, r.end), (1, End::Count(10)));
    // 09:00 EST after the change: 14:00 UTC.
    assert_eq!(
        e.exdates,
        vec![utc("2026-11-09T14:00:00Z"), utc("2026-11-16T14:00:00Z")]
    );
    assert_eq!(e.location, None, "an empty LOCATION is none");
    assert_eq!(e.busy, Some(Busy::Free));
    assert_eq!(e.class, Class::Public);
    assert_eq!(e.reminder, Some(30 * 60), "the earliest of two alarms");
    assert!(!e.disallow_counter);
    assert_eq!(e.attendees[0].partstat, PartStat::Accepted);
}

#[test]
fn all_day_events() {
    let date_only = "BEGIN:VCALENDAR\nMETHOD:REQUEST\nBEGIN:VEVENT\nUID:a\n\
        DTSTAMP:20260101T000000Z\nDTSTART;VALUE=DATE:20261224\nDTEND;VALUE=DATE:20261226\n\
        SUMMARY:Holidays\nEND:VEVENT\nEND:VCALENDAR\n";
    let e = parse(date_only).expect("parses").events.remove(0);
    assert!(e.all_day);
    assert_eq!(e.start, utc("2026-12-24T00:00:00Z"));
    assert_eq!(e.end, utc("2026-12-26T00:00:00Z"));
    assert_eq!(e.zone, TimeZone::UTC);
    // No DTEND: one day (RFC 5545 3.6.1).
    let one = date_only.replace("DTEND;VALUE=DATE:20261226\n", "");
    assert_eq!(
        parse(&one).expect("parses").events[0].end,
        utc("2026-12-25T00:00:00Z")
    );
    // Outlook's form: local midnights with the CDO flag.
    let outlook = OUTLOOK
        .replace("20260715T100000", "20260715T000000")
        .replace("20260715T113000", "20260716T000000")
        .replace(
            "X-MICROSOFT-CDO-ALLDAYEVENT:FALSE",
            "X-MICROSOFT-CDO-ALLDAYEVENT:TRUE",
        );
    let e = parse(&outlook).expect("parses").events.remove(0);
    assert!(e.all_day);
    assert_eq!(e.start, utc("2026-07-14T22:00:00Z"));
    assert_eq!(e.end, utc("2026-07-15T22:00:00Z"));
}

#[test]
fn cancel_and_reply() {
    let cancel = GOOGLE
        .replace("METHOD:REQUEST", "METHOD:CANCEL")
        .replace("SEQUENCE:0", "SEQUENCE:2")
        .replace(
            "DTSTART;TZID=America/New_York:20261026T090000",
            "RECURRENCE-ID;TZID=America/New_York:20261102T090000\nDTSTART;TZID=America/New_York:20261102T090000",
        )
        .replace("DTEND;TZID=America/New_York:20261026T093000", "DTEND;TZID=America/New_York:20261102T093000")
        .replace("RRULE:FREQ=WEEKLY;WKST=SU;COUNT=10;BYDAY=MO\n", "");
    let itip = parse(&cancel).expect("parses");
    assert_eq!(itip.method, Some(Method::Cancel));
    let e = itip.main_event().expect("event");
    assert_eq!(e.sequence, 2);
    // 2 November is after the change: EST.
    assert_eq!(e.recurrence_id, Some(utc("2026-11-02T14:00:00Z")));
    assert!(e.recurrence.is_none());

    let reply = "BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:r-1\r\n\
        DTSTAMP:20260101T000000Z\r\nDTSTART:20260110T100000Z\r\nDTEND:20260110T110000Z\r\n\
        ATTENDEE;PARTSTAT=DECLINED:mailto:bob@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let itip = parse(reply).expect("parses");
    assert_eq!(itip.method, Some(Method::Reply));
    let e = &itip.events[0];
    assert_eq!(e.attendees[0].partstat, PartStat::Declined);
    assert!(e.organizer.is_none(), "Exchange's replies omit ORGANIZER");
}

#[test]
fn method_names() {
    assert_eq!(Method::parse(" request "), Some(Method::Request));
    assert_eq!(
        Method::parse("DECLINECOUNTER"),
        Some(Method::DeclineCounter)
    );
    assert_eq!(Method::parse("BOGUS"), None);
    let no_method = GOOGLE.replace("METHOD:REQUEST\n", "");
    assert_eq!(parse(&no_method).expect("parses").method, None);
}

#[test]
fn malformed_inputs_are_errors() {
    let event = |body: &str| {
        format!("BEGIN:VCALENDAR\nMETHOD:REQUEST\nBEGIN:VEVENT\n{body}END:VEVENT\nEND:VCALENDAR\n")
    };
    assert_eq!(parse("").unwrap_err(), ItipError::NotCalendar);
    assert_eq!(parse("hello world").unwrap_err(), ItipError::NotCalendar);
    assert_eq!(
        parse("BEGIN:VCARD\nFN:x\nEND:VCARD\n").unwrap_err(),
        ItipError::NotCalendar
    );
    assert_eq!(
        parse("BEGIN:VCALENDAR\nMETHOD:REQUEST\nEND:VCALENDAR\n").unwrap_err(),
        ItipError::NoEvent
    );
    assert_eq!(
        parse(&event("DTSTART:20260101T100000Z\n")).unwrap_err(),
        ItipError::Missing("UID")
    );
    assert_eq!(
        parse(&event("UID:x\n")).unwrap_err(),
        ItipError::Missing("DTSTART")
    );
    assert_eq!(
        parse(&event("UID:x\nDTSTART:20261340T100000Z\n")).unwrap_err(),
        ItipError::BadTime("DTSTART")
    );
    assert_eq!(
        parse(&event(
            "UID:x\nDTSTART:20260101T100000Z\nDTEND:20250101T100000Z\n"
        ))
        .unwrap_err(),
        ItipError::EndBeforeStart
    );
    assert_eq!(
        parse(&event(
            "UID:x\nDTSTART;TZID=Nowhere/Special:20260101T100000\n"
        ))
        .unwrap_err(),
        ItipError::UnknownZone("Nowhere/Special".into())
    );
    assert!(matches!(
        parse(&event(
            "UID:x\nDTSTART:20260101T100000Z\nRRULE:FREQ=HOURLY\n"
        ))
        .unwrap_err(),
        ItipError::Recurrence(_)
    ));
    let big = "X".repeat(MAX_TEXT + 1);
    assert_eq!(parse(&big).unwrap_err(), ItipError::TooLarge(MAX_TEXT + 1));
    let many_events: String = std::iter::repeat_n(
        "BEGIN:VEVENT\nUID:x\nDTSTART:20260101T100000Z\nEND:VEVENT\n",
        MAX_EVENTS + 1,
    )
    .collect();
    assert_eq!(
        parse(&format!("BEGIN:VCALENDAR\n{many_events}END:VCALENDAR\n")).unwrap_err(),
        ItipError::TooManyEvents
    );
    let crowd: String = (0..=MAX_ATTENDEES)
        .map(|i| format!("ATTENDEE:mailto:a{i}@x\n"))
        .collect();
    assert_eq!(
        parse(&event(&format!("UID:x\nDTSTART:20260101T100000Z\n{crowd}"))).unwrap_err(),
        ItipError::TooManyAttendees
    );
    // Truncated text still parses what is there or fails cleanly: never a panic.
    for cut in (0..GOOGLE.len()).step_by(7) {
        let _ = parse(&GOOGLE[..cut]);
    }
}
