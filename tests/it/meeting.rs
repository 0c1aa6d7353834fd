//! Meeting invitations delivered over LMTP: the Inbox shows them with
//! `email:MeetingRequest` ([MS-ASEMAIL] 2.2.2.48) in each reader's protocol version, through
//! Sync, ItemOperations and Search; an update arrives as a full update; an invitation
//! that does not read, or comes as TNEF, stays plain mail.

use crate::support::*;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use easd::pim::goid;
use easd::proto::timezone::{ChangeDate, TimeOfDay, TimeZoneInfo};
use easd::wbxml::Element;
use easd::wbxml::tag::{airsyncbase as asb, calendar as cal, email as em, email2 as em2};

const BOB: &str = "bob@example.com";
const INBOX: u8 = 2;
const UID: &str = "040000008200E00074C5B7101A82E00800000000A0D2E3B7E26ADC01000000000000000010000000F3C1A4E9B0D84E47A4E5A1B2C3D4E5F6";

/// An invitation as Outlook sends it: text and calendar alternatives, the calendar with a
/// Windows zone name and its VTIMEZONE, a weekly series of 5 on Wednesdays at 10:00
/// Berlin time, a reminder, CDO properties. `sequence` and `start_day` vary for updates.
fn outlook_invitation(sequence: u32, start_day: u32) -> Vec<u8> {
    let calendar = format!(
        "BEGIN:VCALENDAR\r\n\
METHOD:REQUEST\r\n\
PRODID:Microsoft Exchange Server 2010\r\n\
VERSION:2.0\r\n\
BEGIN:VTIMEZONE\r\n\
TZID:W. Europe Standard Time\r\n\
BEGIN:STANDARD\r\n\
DTSTART:16010101T030000\r\n\
TZOFFSETFROM:+0200\r\n\
TZOFFSETTO:+0100\r\n\
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10\r\n\
END:STANDARD\r\n\
BEGIN:DAYLIGHT\r\n\
DTSTART:16010101T020000\r\n\
TZOFFSETFROM:+0100\r\n\
TZOFFSETTO:+0200\r\n\
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3\r\n\
END:DAYLIGHT\r\n\
END:VTIMEZONE\r\n\
BEGIN:VEVENT\r\n\
ORGANIZER;CN=Olga Organizer:mailto:olga@example.org\r\n\
ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CN=Bob:mailto:{BOB}\r\n\
RRULE:FREQ=WEEKLY;COUNT=5;INTERVAL=1;BYDAY=WE;WKST=MO\r\n\
UID:{UID}\r\n\
SUMMARY;LANGUAGE=en-US:Planning\r\n\
DTSTART;TZID=W. Europe Standard Time:202607{start_day:02}T100000\r\n\
DTEND;TZID=W. Europe Standard Time:202607{start_day:02}T113000\r\n\
CLASS:PRIVATE\r\n\
DTSTAMP:20260701T080000Z\r\n\
TRANSP:OPAQUE\r\n\
SEQUENCE:{sequence}\r\n\
LOCATION;LANGUAGE=en-US:Room 4\r\n\
X-MICROSOFT-CDO-INTENDEDSTATUS:TENTATIVE\r\n\
X-MICROSOFT-DISALLOW-COUNTER:TRUE\r\n\
BEGIN:VALARM\r\n\
TRIGGER;RELATED=START:-PT15M\r\n\
ACTION:DISPLAY\r\n\
END:VALARM\r\n\
END:VEVENT\r\n\
END:VCALENDAR\r\n"
    );
    format!(
        "From: Olga Organizer <olga@example.org>\r\n\
To: Bob <{BOB}>\r\n\
Subject: Planning (seq {sequence})\r\n\
Message-ID: <invite-{sequence}@example.org>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=\"ALT\"\r\n\
\r\n\
--ALT\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Planning invitation.\r\n\
--ALT\r\n\
Content-Type: text/calendar; charset=utf-8; method=REQUEST\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
{}\r\n\
--ALT--\r\n",
        BASE64.encode(calendar)
    )
    .into_bytes()
}

/// The Inbox's Adds for a new device of Bob's speaking `version`.
#[track_caller]
fn inbox(s: &TestServer, version: &'static str) -> (EasClient, Vec<(String, Element)>) {
    let mut c = s
        .eas(BOB, &format!("dev{}", version.replace('.', "")))
        .with_version(version);
    c.provision();
    let inbox = c.folder_of_type(INBOX);
    let key = c.sync_init(&inbox);
    let (_, adds) = c.sync_all(SyncColl::new(&inbox, &key).window(100));
    (c, adds)
}

#[track_caller]
fn request_of(data: &Element) -> &Element {
    data.find(em::MEETING_REQUEST)
        .unwrap_or_else(|| panic!("no MeetingRequest in {data:?}"))
}

/// Checks what every version carries, with the values of `outlook_invitation(0, 15)`.
#[track_caller]
fn check_common(data: &Element) {
    assert_eq!(
        data.text_of(em::MESSAGE_CLASS),
        Some("IPM.Schedule.Meeting.Request")
    );
    let m = request_of(data);
    let text = |tag| m.text_of(tag);
    assert_eq!(text(em::ALL_DAY_EVENT), Some("0"));
    // 10:00 CEST is 08:00 UTC.
    assert_eq!(text(em::START_TIME), Some("2026-07-15T08:00:00.000Z"));
    assert_eq!(text(em::END_TIME), Some("2026-07-15T09:30:00.000Z"));
    assert_eq!(text(em::DT_STAMP), Some("2026-07-01T08:00:00.000Z"));
    assert_eq!(text(em::INSTANCE_TYPE), Some("1"), "a recurring master");
    assert_eq!(
        text(em::ORGANIZER),
        Some("\"Olga Organizer\" <olga@example.org>")
    );
    assert_eq!(text(em::REMINDER), Some("900"), "seconds");
    assert_eq!(text(em::RESPONSE_REQUESTED), Some("1"));
    assert_eq!(text(em::SENSITIVITY), Some("2"), "CLASS:PRIVATE");
    assert_eq!(text(em::BUSY_STATUS), Some("1"), "INTENDEDSTATUS:TENTATIVE");
    assert_eq!(m.find(em::RECURRENCE_ID), None);
    let r = m
        .find(em::RECURRENCES)
        .and_then(|r| r.find(em::RECURRENCE))
        .expect("Recurrence");
    assert_eq!(r.text_of(em::TYPE), Some("1"));
    assert_eq!(r.text_of(em::INTERVAL), Some("1"));
    assert_eq!(r.text_of(em::OCCURRENCES), Some("5"));
    assert_eq!(r.text_of(em::DAY_OF_WEEK), Some("8"), "Wednesday");
    let zone = TimeZoneInfo::from_base64(text(em::TIME_ZONE).expect("TimeZone")).expect("a blob");
    assert_eq!((zone.bias, zone.daylight_bias), (-60, -60));
    let at = |hour| TimeOfDay {
        hour,
        minute: 0,
        second: 0,
        millis: 0,
    };
    assert_eq!(
        zone.daylight_date,
        ChangeDate::Rule {
            month: 3,
            week: 5,
            weekday: 0,
            time: at(2)
        }
    );
    assert_eq!(
        zone.standard_date,
        ChangeDate::Rule {
            month: 10,
            week: 5,
            weekday: 0,
            time: at(3)
        }
    );
}

#[test]
fn lmtp_invitation_shows_meeting_request_per_version() {
    let s = server_with(&[BOB]);
    s.deliver(&[BOB], &outlook_invitation(0, 15));

    // 12.1: email:Location and GlobalObjId; nothing of 14.x.
    let (_, adds) = inbox(&s, "12.1");
    assert_eq!(adds.len(), 1);
    let data = &adds[0].1;
    check_common(data);
    let m = request_of(data);
    assert_eq!(m.text_of(em::LOCATION), Some("Room 4"));
    let id = BASE64
        .decode(m.text_of(em::GLOBAL_OBJ_ID).expect("GlobalObjId"))
        .expect("base64");
    assert_eq!(goid::to_uid(&id), UID, "Outlook's own id comes back");
    for absent in [
        em::DISALLOW_NEW_TIME_PROPOSAL,
        em2::MEETING_MESSAGE_TYPE,
        cal::UID,
    ] {
        assert_eq!(m.find(absent), None, "{absent:?} at 12.1");
    }
    let r = m
        .find(em::RECURRENCES)
        .unwrap()
        .find(em::RECURRENCE)
        .unwrap();
    assert_eq!(r.find(em2::FIRST_DAY_OF_WEEK), None);

    // 14.1: the same plus DisallowNewTimeProposal, MeetingMessageType, FirstDayOfWeek.
    let (c141, adds) = inbox(&s, "14.1");
    let data = &adds[0].1;
    check_common(data);
    let m = request_of(data);
    assert_eq!(m.text_of(em::LOCATION), Some("Room 4"));
    assert!(m.find(em::GLOBAL_OBJ_ID).is_some());
    assert_eq!(m.find(cal::UID), None);
    assert_eq!(m.text_of(em::DISALLOW_NEW_TIME_PROPOSAL), Some("1"));
    assert_eq!(m.text_of(em2::MEETING_MESSAGE_TYPE), Some("1"), "initial");
    let r = m
        .find(em::RECURRENCES)
        .unwrap()
        .find(em::RECURRENCE)
        .unwrap();
    assert_eq!(r.text_of(em2::FIRST_DAY_OF_WEEK), Some("1"), "WKST=MO");

    // ItemOperations and Search give the same element.
    let fetched = c141.fetch_item(&adds[0].0, Some(1));
    assert_eq!(request_of(&fetched), m);
    let found = c141.search_mailbox("planning", &[]);
    assert_eq!(found.len(), 1);
    assert_eq!(request_of(&found[0]), m);

    // 16.1: calendar:UID and airsyncbase:Location instead.
    let (_, adds) = inbox(&s, "16.1");
    let data = &adds[0].1;
    check_common(data);
    let m = request_of(data);
    assert_eq!(m.text_of(cal::UID), Some(UID));
    assert_eq!(m.find(em::GLOBAL_OBJ_ID), None);
    assert_eq!(m.find(em::LOCATION), None);
    assert_eq!(
        m.find(asb::LOCATION)
            .and_then(|l| l.text_of(asb::DISPLAY_NAME)),
        Some("Room 4")
    );
    assert_eq!(m.text_of(em2::MEETING_MESSAGE_TYPE), Some("1"));
}

/// The organizer moves the series (same UID, higher SEQUENCE): the new message is a full
/// update with the new times; the first stays an initial request.
#[test]
fn an_update_arrives_as_a_full_update() {
    let s = server_with(&[BOB]);
    s.deliver(&[BOB], &outlook_invitation(0, 15));
    s.deliver(&[BOB], &outlook_invitation(1, 22));
    let (_, adds) = inbox(&s, "14.1");
    assert_eq!(adds.len(), 2);
    let by_subject = |subject: &str| {
        let (_, data) = adds
            .iter()
            .find(|(_, d)| d.text_of(em::SUBJECT) == Some(subject))
            .unwrap_or_else(|| panic!("no {subject}"));
        request_of(data).clone()
    };
    let first = by_subject("Planning (seq 0)");
    let update = by_subject("Planning (seq 1)");
    assert_eq!(first.text_of(em2::MEETING_MESSAGE_TYPE), Some("1"));
    assert_eq!(update.text_of(em2::MEETING_MESSAGE_TYPE), Some("2"));
    assert_eq!(
        update.text_of(em::START_TIME),
        Some("2026-07-22T08:00:00.000Z")
    );
    assert_eq!(
        update.text_of(em::GLOBAL_OBJ_ID),
        first.text_of(em::GLOBAL_OBJ_ID),
        "the same meeting"
    );
}

/// An invitation whose calendar does not read, and an Outlook invitation in TNEF, arrive
/// as plain mail with their attachment.
#[test]
fn broken_and_tnef_invitations_stay_plain_mail() {
    let s = server_with(&[BOB]);
    s.deliver(
        &[BOB],
        include_bytes!("../fixtures/mail/meeting-broken.eml"),
    );
    s.deliver(&[BOB], include_bytes!("../fixtures/mail/winmail.eml"));
    let (_, adds) = inbox(&s, "14.1");
    assert_eq!(adds.len(), 2);
    for (_, data) in &adds {
        assert_eq!(
            data.text_of(em::MESSAGE_CLASS),
            Some("IPM.Note"),
            "{data:?}"
        );
        assert_eq!(data.find(em::MEETING_REQUEST), None);
        let attachments = data
            .find(asb::ATTACHMENTS)
            .expect("the attachment is listed");
        assert_eq!(attachments.find_all(asb::ATTACHMENT).count(), 1);
    }
}

const CALENDAR: u8 = 8;

/// A message from `from` to `to` carrying `calendar` alone (as Thunderbird and Google
/// send a CANCEL or a REPLY).
fn itip_message(from: &str, to: &str, id: &str, method: &str, calendar: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {method} {id}\r\nMessage-ID: <{id}@example.org>\r\n\
MIME-Version: 1.0\r\nContent-Type: text/calendar; charset=utf-8; method={method}\r\n\r\n\
BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:{method}\r\n{calendar}END:VCALENDAR\r\n"
    )
    .into_bytes()
}

/// Bob's default calendar as a new device speaking `version` syncs it: the client and its
/// events.
#[track_caller]
fn calendar(
    s: &TestServer,
    version: &'static str,
) -> (EasClient, String, String, Vec<(String, Element)>) {
    let mut c = s
        .eas(BOB, &format!("cal{}", version.replace('.', "")))
        .with_version(version);
    c.provision();
    let folder = c.folder_of_type(CALENDAR);
    let key = c.sync_init(&folder);
    let (key, adds) = c.sync_all(SyncColl::new(&folder, &key).window(100));
    (c, folder, key, adds)
}

/// The event as placed from `outlook_invitation(_, start_day)`, as every version has it.
#[track_caller]
fn check_placed(data: &Element, start: &str) {
    assert_eq!(data.text_of(cal::SUBJECT), Some("Planning"));
    assert_eq!(data.text_of(cal::START_TIME), Some(start));
    assert_eq!(
        data.text_of(cal::MEETING_STATUS),
        Some("3"),
        "a received meeting"
    );
    assert_eq!(data.text_of(cal::ORGANIZER_EMAIL), Some("olga@example.org"));
    assert_eq!(data.text_of(cal::ORGANIZER_NAME), Some("Olga Organizer"));
    assert_eq!(data.text_of(cal::BUSY_STATUS), Some("1"));
    assert_eq!(data.text_of(cal::SENSITIVITY), Some("2"));
    assert_eq!(data.text_of(cal::REMINDER), Some("15"), "minutes");
    let zone =
        TimeZoneInfo::from_base64(data.text_of(cal::TIMEZONE).expect("Timezone")).expect("a blob");
    assert_eq!((zone.bias, zone.daylight_bias), (-60, -60));
    let attendee = data
        .find(cal::ATTENDEES)
        .and_then(|a| a.find(cal::ATTENDEE))
        .expect("the attendee");
    assert_eq!(attendee.text_of(cal::EMAIL), Some(BOB));
    assert_eq!(attendee.text_of(cal::ATTENDEE_STATUS), Some("5"));
    let r = data.find(cal::RECURRENCE).expect("Recurrence");
    assert_eq!(r.text_of(cal::TYPE), Some("1"));
    assert_eq!(r.text_of(cal::OCCURRENCES), Some("5"));
    assert_eq!(r.text_of(cal::DAY_OF_WEEK), Some("8"));
}

/// An invitation places its event in the calendar, not yet answered ([MS-ASCAL]
/// MeetingStatus 3, ResponseType 5), read by 14.1 and 16.1 devices; a higher SEQUENCE
/// updates it and a repeated older one does not; a CANCEL of one occurrence deletes that
/// occurrence, a CANCEL of the meeting removes it.
#[test]
fn an_invitation_is_placed_in_the_calendar_updated_and_cancelled() {
    let s = server_with(&[BOB]);
    s.deliver(&[BOB], &outlook_invitation(0, 15));

    let (c14, folder, key14, adds) = calendar(&s, "14.1");
    assert_eq!(adds.len(), 1, "{adds:?}");
    let (sid, data) = &adds[0];
    check_placed(data, "2026-07-15T08:00:00.000Z");
    assert_eq!(data.text_of(cal::UID), Some(UID));
    assert_eq!(data.text_of(cal::RESPONSE_TYPE), Some("5"), "not responded");
    assert_eq!(data.text_of(cal::RESPONSE_REQUESTED), Some("1"));
    assert_eq!(data.text_of(cal::LOCATION), Some("Room 4"));

    let (_, _, _, adds16) = calendar(&s, "16.1");
    assert_eq!(adds16.len(), 1);
    let data = &adds16[0].1;
    check_placed(data, "2026-07-15T08:00:00.000Z");
    assert_eq!(data.text_of(cal::RESPONSE_TYPE), Some("5"));
    assert_eq!(
        data.find(asb::LOCATION)
            .and_then(|l| l.text_of(asb::DISPLAY_NAME)),
        Some("Room 4")
    );

    // The update moves the series a week on; the original sent again changes nothing.
    s.deliver(&[BOB], &outlook_invitation(1, 22));
    let out = c14.sync1(&SyncColl::new(&folder, &key14).window(100));
    assert_eq!(out.changes.len(), 1, "{:?}", out.raw);
    assert_eq!(&out.changes[0].0, sid, "the same event");
    check_placed(&out.changes[0].1, "2026-07-22T08:00:00.000Z");
    let key = out.ok_key();
    s.deliver(&[BOB], &outlook_invitation(0, 15));
    let out = c14.sync1(&SyncColl::new(&folder, &key).window(100));
    assert!(
        out.changes.is_empty() && out.adds.is_empty(),
        "{:?}",
        out.raw
    );

    // The organizer cancels the third occurrence (29 July, 08:00 UTC) ...
    let event = format!(
        "BEGIN:VEVENT\r\nUID:{UID}\r\nSEQUENCE:2\r\nDTSTAMP:20260702T080000Z\r\n\
RECURRENCE-ID:20260729T080000Z\r\nDTSTART:20260729T080000Z\r\nDTEND:20260729T093000Z\r\n\
ORGANIZER:mailto:olga@example.org\r\nATTENDEE:mailto:{BOB}\r\nEND:VEVENT\r\n"
    );
    s.deliver(
        &[BOB],
        &itip_message("olga@example.org", BOB, "cancel-1", "CANCEL", &event),
    );
    let out = c14.sync1(&SyncColl::new(&folder, &key).window(100));
    assert_eq!(out.changes.len(), 1, "{:?}", out.raw);
    let exception = out.changes[0]
        .1
        .find(cal::EXCEPTIONS)
        .and_then(|x| x.find(cal::EXCEPTION))
        .expect("an exception");
    assert_eq!(exception.text_of(cal::DELETED), Some("1"));
    assert_eq!(
        exception.text_of(cal::EXCEPTION_START_TIME),
        Some("2026-07-29T08:00:00.000Z")
    );
    let key = out.ok_key();

    // ... then the meeting.
    let event = format!(
        "BEGIN:VEVENT\r\nUID:{UID}\r\nSEQUENCE:3\r\nDTSTAMP:20260703T080000Z\r\n\
DTSTART:20260722T080000Z\r\nORGANIZER:mailto:olga@example.org\r\n\
ATTENDEE:mailto:{BOB}\r\nEND:VEVENT\r\n"
    );
    s.deliver(
        &[BOB],
        &itip_message("olga@example.org", BOB, "cancel-2", "CANCEL", &event),
    );
    let out = c14.sync1(&SyncColl::new(&folder, &key).window(100));
    assert_eq!(out.deletes, vec![sid.clone()], "{:?}", out.raw);
}

/// A REPLY delivered to the organizer records the attendee's answer on her event; one
/// from someone not invited, or about an event she does not hold, changes nothing.
#[test]
fn a_reply_updates_the_organizers_event() {
    const OLGA: &str = "olga@example.com";
    let s = server_with(&[OLGA]);
    let mut c = s.eas(OLGA, "olga1").with_version("14.1");
    c.provision();
    let folder = c.folder_of_type(CALENDAR);
    let key = c.sync_init(&folder);
    let attendee = |email: &str| {
        Element::new(cal::ATTENDEE)
            .text_child(cal::EMAIL, email)
            .text_child(cal::NAME, email)
            .text_child(cal::ATTENDEE_TYPE, "1")
    };
    let mut d = crate::groupware::event("Review", 1_800_000_000, 1_800_003_600);
    d.push(Element::with_text(cal::UID, "review-1"));
    d.push(Element::with_text(cal::MEETING_STATUS, "1"));
    d.push(
        Element::new(cal::ATTENDEES)
            .child(attendee(BOB))
            .child(attendee("carol@example.net")),
    );
    let (key, sid) = crate::groupware::add(&c, &folder, &key, "c1", d);

    let reply = |who: &str, uid: &str, partstat: &str, id: &str| {
        let event = format!(
            "BEGIN:VEVENT\r\nUID:{uid}\r\nSEQUENCE:0\r\nDTSTAMP:20260702T080000Z\r\n\
DTSTART:20270115T080000Z\r\nORGANIZER:mailto:{OLGA}\r\n\
ATTENDEE;PARTSTAT={partstat}:mailto:{who}\r\nEND:VEVENT\r\n"
        );
        itip_message(who, OLGA, id, "REPLY", &event)
    };
    s.deliver(
        &[OLGA],
        &reply("dave@example.net", "review-1", "ACCEPTED", "r0"),
    );
    s.deliver(&[OLGA], &reply(BOB, "other", "ACCEPTED", "r1"));
    let out = c.sync1(&SyncColl::new(&folder, &key).window(100));
    assert!(out.changes.is_empty(), "{:?}", out.raw);
    let key = out.ok_key();

    s.deliver(&[OLGA], &reply(BOB, "review-1", "ACCEPTED", "r2"));
    s.deliver(
        &[OLGA],
        &reply("Carol@Example.NET", "review-1", "DECLINED", "r3"),
    );
    let out = c.sync1(&SyncColl::new(&folder, &key).window(100));
    assert_eq!(out.changes.len(), 1, "{:?}", out.raw);
    assert_eq!(out.changes[0].0, sid);
    let data = &out.changes[0].1;
    assert_eq!(data.text_of(cal::SUBJECT), Some("Review"), "the rest kept");
    let status: Vec<_> = data
        .find(cal::ATTENDEES)
        .expect("attendees")
        .find_all(cal::ATTENDEE)
        .map(|a| {
            (
                a.text_of(cal::EMAIL).unwrap_or_default().to_owned(),
                a.text_of(cal::ATTENDEE_STATUS)
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    assert_eq!(
        status,
        vec![
            (BOB.to_owned(), "3".to_owned()),
            ("carol@example.net".to_owned(), "4".to_owned())
        ]
    );
}

/// One MeetingResponse Request; the Result's (Status, CalendarId).
#[track_caller]
fn respond(
    c: &EasClient,
    answer: &str,
    collection: &str,
    request: &str,
    instance: Option<&str>,
) -> (String, Option<String>) {
    respond_with(c, (answer, collection, request), instance, None)
}

/// One MeetingResponse Request, with a 16.x SendResponse when `send` is set (its Body
/// text, or an empty SendResponse).
#[track_caller]
fn respond_with(
    c: &EasClient,
    (answer, collection, request): (&str, &str, &str),
    instance: Option<&str>,
    send: Option<Option<&str>>,
) -> (String, Option<String>) {
    use easd::wbxml::tag::meetingresponse as mr;
    let mut r = Element::new(mr::REQUEST)
        .text_child(mr::USER_RESPONSE, answer)
        .text_child(mr::COLLECTION_ID, collection)
        .text_child(mr::REQUEST_ID, request);
    if let Some(i) = instance {
        r.push_text(mr::INSTANCE_ID, i);
    }
    if let Some(body) = send {
        let mut e = Element::new(mr::SEND_RESPONSE);
        if let Some(text) = body {
            e.push(
                Element::new(asb::BODY)
                    .text_child(asb::TYPE, "1")
                    .text_child(asb::DATA, text),
            );
        }
        r.push(e);
    }
    let out = c.call(
        "MeetingResponse",
        &Element::new(mr::MEETING_RESPONSE).child(r),
    );
    let result = out.find(mr::RESULT).unwrap_or_else(|| panic!("{out:?}"));
    assert_eq!(result.text_of(mr::REQUEST_ID), Some(request));
    (
        result.text_of(mr::STATUS).unwrap_or_default().to_owned(),
        result.text_of(mr::CALENDAR_ID).map(str::to_owned),
    )
}

/// A mailed iTIP message: its recipients, its Content-Type method, the text part, and
/// the calendar read back.
#[track_caller]
fn itip_of(m: &SmtpMessage) -> (Vec<String>, String, String, easd::pim::itip::Itip) {
    let (text, method) =
        easd::mail::mime::calendar(&m.data).unwrap_or_else(|| panic!("no calendar: {}", m.text()));
    let parsed = mail_parser::MessageParser::default()
        .parse(&m.data)
        .expect("a message");
    let note = parsed
        .body_text(0)
        .map(|t| t.into_owned())
        .unwrap_or_default();
    let itip = easd::pim::itip::parse(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (
        m.recipients.clone(),
        method.unwrap_or_default().to_ascii_uppercase(),
        note,
        itip,
    )
}

/// MeetingResponse ([MS-ASCMD] 2.2.1.11): accepting from the Inbox updates the event and
/// returns its CalendarId, and the request message goes to Deleted Items; a tentative
/// answer from the calendar; an occurrence declined by InstanceId; a decline removes the
/// event. Unknown ids, plain mail, a bad InstanceId, another account's ids: Status 2.
#[test]
fn meeting_response_from_the_inbox_and_the_calendar() {
    const ALICE: &str = "alice@example.com";
    let s = server_with(&[BOB, ALICE]);
    s.deliver(&[BOB], &outlook_invitation(0, 15));
    s.deliver(
        &[BOB],
        &text_message("x@example.org", BOB, "plain", "hello"),
    );
    let (c, adds) = inbox(&s, "14.1");
    let inbox_id = c.folder_of_type(INBOX);
    let sid_of = |subject: &str| {
        adds.iter()
            .find(|(_, d)| d.text_of(em::SUBJECT) == Some(subject))
            .map(|(sid, _)| sid.clone())
            .unwrap_or_else(|| panic!("no {subject}"))
    };
    let (request, plain) = (sid_of("Planning (seq 0)"), sid_of("plain"));
    let cal_folder = c.folder_of_type(CALENDAR);
    let key = c.sync_init(&cal_folder);
    let (key, events) = c.sync_all(SyncColl::new(&cal_folder, &key).window(100));
    let event = events[0].0.clone();

    // Errors first: nothing changes.
    let two = ("2".to_owned(), None);
    let mut alice = s.eas(ALICE, "alice1").with_version("14.1");
    alice.provision();
    assert_eq!(
        respond(&alice, "1", &inbox_id, &request, None),
        two,
        "Bob's ids"
    );
    assert_eq!(respond(&c, "1", &inbox_id, &plain, None), two, "plain mail");
    assert_eq!(
        respond(&c, "1", &inbox_id, &format!("{inbox_id}:999"), None),
        two
    );
    assert_eq!(
        respond(&c, "7", &inbox_id, &request, None),
        two,
        "UserResponse 7"
    );
    assert_eq!(
        respond(&c, "1", &cal_folder, &event, Some("tomorrow")),
        two,
        "a bad InstanceId"
    );

    let (status, calendar_id) = respond(&c, "1", &inbox_id, &request, None);
    assert_eq!(status, "1");
    assert_eq!(calendar_id.as_deref(), Some(event.as_str()));
    let out = c.sync1(&SyncColl::new(&cal_folder, &key).window(100));
    assert_eq!(out.changes.len(), 1, "{:?}", out.raw);
    let data = &out.changes[0].1;
    assert_eq!(data.text_of(cal::RESPONSE_TYPE), Some("3"), "accepted");
    assert_eq!(data.text_of(cal::BUSY_STATUS), Some("2"), "busy");
    let key = out.ok_key();
    let deleted_items = c.folder_of_type(4);
    let dkey = c.sync_init(&deleted_items);
    let (_, moved) = c.sync_all(SyncColl::new(&deleted_items, &dkey).window(100));
    assert_eq!(moved.len(), 1, "the request went to Deleted Items");
    assert_eq!(moved[0].1.text_of(em::SUBJECT), Some("Planning (seq 0)"));

    // Tentative from the calendar, then one occurrence declined (22 July, 08:00 UTC).
    let (status, calendar_id) = respond(&c, "2", &cal_folder, &event, None);
    assert_eq!(
        (status.as_str(), calendar_id.as_deref()),
        ("1", Some(event.as_str()))
    );
    let (status, _) = respond(
        &c,
        "3",
        &cal_folder,
        &event,
        Some("2026-07-22T08:00:00.000Z"),
    );
    assert_eq!(status, "1");
    let out = c.sync1(&SyncColl::new(&cal_folder, &key).window(100));
    let data = &out.changes[0].1;
    assert_eq!(data.text_of(cal::RESPONSE_TYPE), Some("2"), "tentative");
    let x = data
        .find(cal::EXCEPTIONS)
        .and_then(|x| x.find(cal::EXCEPTION))
        .expect("the declined occurrence");
    assert_eq!(x.text_of(cal::DELETED), Some("1"));
    let key = out.ok_key();

    // Declined: the event leaves the calendar, no CalendarId.
    assert_eq!(
        respond(&c, "3", &cal_folder, &event, None),
        ("1".to_owned(), None)
    );
    let out = c.sync1(&SyncColl::new(&cal_folder, &key).window(100));
    assert_eq!(out.deletes, vec![event.clone()]);
    assert_eq!(respond(&c, "1", &cal_folder, &event, None), two, "gone");
}

/// 16.x SendResponse ([MS-ASCMD] 2.2.3.163): the server mails the iTIP REPLY to the
/// organizer (RFC 5546 3.2.3: one ATTENDEE, the user, with the answer's PARTSTAT; the
/// UID and SEQUENCE of the invitation), with the Body as its text, and files it in Sent
/// Items. Without SendResponse, or at 14.1, nothing is sent. A relay that is down does
/// not undo the answer: Status 1 and the event updated.
#[test]
fn a_16_1_send_response_mails_the_reply_to_the_organizer() {
    let (sink, s) = relaying_server_with(&[BOB]);
    s.deliver(&[BOB], &outlook_invitation(3, 15));
    let (c, adds) = inbox(&s, "16.1");
    let inbox_id = c.folder_of_type(INBOX);
    let cal_folder = c.folder_of_type(CALENDAR);
    let key = c.sync_init(&cal_folder);
    let (key, events) = c.sync_all(SyncColl::new(&cal_folder, &key).window(100));
    let event = events[0].0.clone();

    let (status, calendar_id) = respond_with(
        &c,
        ("1", &inbox_id, &adds[0].0),
        None,
        Some(Some("See you there")),
    );
    assert_eq!(
        (status.as_str(), calendar_id.as_deref()),
        ("1", Some(event.as_str()))
    );
    let sent = sink.messages();
    assert_eq!(sent.len(), 1, "one reply");
    let (to, method, note, itip) = itip_of(&sent[0]);
    assert_eq!(to, ["olga@example.org"]);
    assert_eq!(sent[0].from, BOB);
    assert_eq!(method, "REPLY");
    assert_eq!(note.trim(), "See you there");
    assert_eq!(itip.method, Some(easd::pim::itip::Method::Reply));
    let reply = itip.main_event().expect("a VEVENT");
    assert_eq!(reply.uid, UID);
    assert_eq!(reply.sequence, 3, "the invitation's SEQUENCE");
    assert_eq!(
        reply.organizer.as_ref().map(|o| o.address.as_str()),
        Some("olga@example.org")
    );
    assert_eq!(reply.attendees.len(), 1);
    assert_eq!(reply.attendees[0].person.address, BOB);
    assert_eq!(
        reply.attendees[0].partstat,
        easd::pim::itip::PartStat::Accepted
    );
    assert!(sent[0].text().contains("Subject: Accepted: Planning"));
    // A copy in Sent Items, as SendMail files one.
    let sent_items = c.folder_of_type(5);
    let skey = c.sync_init(&sent_items);
    let (_, copies) = c.sync_all(SyncColl::new(&sent_items, &skey).window(100));
    assert_eq!(copies.len(), 1);
    assert_eq!(copies[0].1.text_of(em::SUBJECT), Some("Accepted: Planning"));

    // Without SendResponse: the client sends its own, the server nothing.
    let (status, _) = respond(&c, "2", &cal_folder, &event, None);
    assert_eq!(status, "1");
    assert_eq!(sink.messages().len(), 1);

    // An empty SendResponse: a reply without text, one occurrence by RECURRENCE-ID.
    let (status, _) = respond_with(
        &c,
        ("2", &cal_folder, &event),
        Some("2026-07-22T08:00:00.000Z"),
        Some(None),
    );
    assert_eq!(status, "1");
    let sent = sink.messages();
    assert_eq!(sent.len(), 2);
    let (_, _, note, itip) = itip_of(&sent[1]);
    assert_eq!(note.trim(), "");
    let reply = &itip.events[0];
    assert_eq!(
        reply.recurrence_id,
        Some(1_784_707_200),
        "2026-07-22T08:00:00Z"
    );
    assert_eq!(
        reply.attendees[0].partstat,
        easd::pim::itip::PartStat::Tentative
    );

    // At 14.1 SendResponse is no element of the command: ignored, nothing sent.
    let mut c14 = s.eas(BOB, "old141").with_version("14.1");
    c14.provision();
    let (status, _) = respond_with(&c14, ("1", &cal_folder, &event), None, Some(Some("x")));
    assert_eq!(status, "1");
    assert_eq!(sink.messages().len(), 2);

    // The relay down: the answer stands (declined: the event leaves the calendar).
    sink.set_mode(SinkMode::Refuse);
    let (status, calendar_id) =
        respond_with(&c, ("3", &cal_folder, &event), None, Some(Some("Sorry")));
    assert_eq!((status.as_str(), calendar_id), ("1", None));
    assert_eq!(sink.messages().len(), 2, "nothing was accepted");
    let out = c.sync1(&SyncColl::new(&cal_folder, &key).window(100));
    assert_eq!(out.deletes, vec![event], "{:?}", out.raw);
}

/// A relay that is not there at all (nothing listens where it is configured): the
/// answer is recorded and the failure logged, no panic.
#[test]
fn send_response_without_a_reachable_relay_still_answers() {
    let s = start_server(|c| {
        c.relay.host = "127.0.0.1".into();
        c.relay.port = 9;
        c.relay.timeout_seconds = 2;
    });
    s.add_user(BOB);
    s.deliver(&[BOB], &outlook_invitation(0, 15));
    let (c, adds) = inbox(&s, "16.1");
    let inbox_id = c.folder_of_type(INBOX);
    let (status, calendar_id) = respond_with(&c, ("1", &inbox_id, &adds[0].0), None, Some(None));
    assert_eq!(status, "1");
    assert!(calendar_id.is_some());
}

const OLGA: &str = "olga@example.com";

/// A meeting as a device adds it: MeetingStatus 1 (the user organizes it), its
/// attendees, weekly on Mondays.
fn device_meeting(subject: &str, start: i64, attendees: &[&str]) -> Element {
    use crate::groupware::{event, t};
    let mut d = event(subject, start, start + 3600);
    d.push(t(cal::MEETING_STATUS, "1"));
    d.push(t(cal::LOCATION, "Room 1"));
    let mut list = Element::new(cal::ATTENDEES);
    for a in attendees {
        list.push(
            Element::new(cal::ATTENDEE)
                .text_child(cal::EMAIL, *a)
                .text_child(cal::NAME, *a)
                .text_child(cal::ATTENDEE_TYPE, "1"),
        );
    }
    d.push(list);
    d.push(
        Element::new(cal::RECURRENCE)
            .text_child(cal::TYPE, "1")
            .text_child(cal::INTERVAL, "1")
            .text_child(cal::DAY_OF_WEEK, "2")
            .text_child(cal::OCCURRENCES, "4"),
    );
    d
}

/// The new messages the sink holds since `seen`, as (recipients, method, SEQUENCE, UID).
#[track_caller]
fn mailed_since(sink: &SmtpSink, seen: usize) -> Vec<(Vec<String>, String, u32, String)> {
    sink.messages()[seen..]
        .iter()
        .map(|m| {
            let (to, method, _, itip) = itip_of(m);
            let e = itip.main_event().expect("a VEVENT").clone();
            assert_eq!(
                e.organizer.as_ref().map(|o| o.address.as_str()),
                Some(OLGA),
                "{}",
                m.text()
            );
            (to, method, e.sequence, e.uid)
        })
        .collect()
}

/// [MS-ASCMD] 3.1.5.5: a 16.1 device's new meeting has the server mail the REQUEST to
/// its attendees (the server's UID, SEQUENCE 0, the RRULE); a re-save that changes
/// nothing sends nothing; a new time with an attendee removed sends an update at
/// SEQUENCE 1 and a CANCEL to the removed one; the delete a CANCEL to the rest. A 14.1
/// device's meetings are its own to send; a relay that is down loses the mail, not the
/// change.
#[test]
fn a_16_1_device_meeting_mails_requests_updates_and_cancels() {
    use crate::groupware::{add, change_cmd};
    const BOB_OUT: &str = "bob@example.org";
    const CAROL: &str = "carol@example.net";
    let (sink, s) = relaying_server_with(&[OLGA]);
    let start = 1_800_000_000; // a Friday; the series is on Mondays
    let mut c = s.eas(OLGA, "olga16").with_version("16.1");
    c.provision();
    let folder = c.folder_of_type(CALENDAR);
    let key = c.sync_init(&folder);
    let out = c.sync1(
        &SyncColl::new(&folder, &key).command(crate::groupware::add_cmd(
            "m1",
            Some(device_meeting("Review", start, &[BOB_OUT, CAROL, OLGA])),
        )),
    );
    let (status, sid) = crate::groupware::add_response(&out, "m1");
    assert_eq!(status, "1", "{:?}", out.raw);
    let sid = sid.unwrap();
    let uid = out
        .responses
        .as_ref()
        .and_then(|r| r.find(easd::wbxml::tag::airsync::ADD))
        .and_then(|a| a.find(easd::wbxml::tag::airsync::APPLICATION_DATA))
        .and_then(|d| d.text_of(cal::UID))
        .expect("the server's UID in the Add response")
        .to_owned();
    let key = out.ok_key();
    let mailed = mailed_since(&sink, 0);
    assert_eq!(
        mailed,
        vec![(
            vec![BOB_OUT.to_owned(), CAROL.to_owned()],
            "REQUEST".to_owned(),
            0,
            uid.clone()
        )]
    );
    let (_, _, _, itip) = itip_of(&sink.messages()[0]);
    let e = itip.main_event().unwrap();
    assert!(e.recurrence.is_some(), "the RRULE goes along");
    assert_eq!(e.start, start);
    assert_eq!(e.location.as_deref(), Some("Room 1"));
    assert!(e.attendees.iter().all(|a| a.rsvp));

    // The iPhone re-save: the same data again, nothing mailed.
    let out = c.sync1(&SyncColl::new(&folder, &key).command(change_cmd(
        &sid,
        device_meeting("Review", start, &[BOB_OUT, CAROL, OLGA]),
    )));
    assert!(out.responses.is_none(), "{:?}", out.raw);
    let key = out.ok_key();
    assert_eq!(sink.messages().len(), 1, "a re-save mails nothing");

    // Two hours later, without Carol.
    let out = c.sync1(&SyncColl::new(&folder, &key).command(change_cmd(
        &sid,
        device_meeting("Review", start + 7200, &[BOB_OUT]),
    )));
    let key = out.ok_key();
    assert_eq!(
        mailed_since(&sink, 1),
        vec![
            (
                vec![BOB_OUT.to_owned()],
                "REQUEST".to_owned(),
                1,
                uid.clone()
            ),
            (vec![CAROL.to_owned()], "CANCEL".to_owned(), 1, uid.clone()),
        ]
    );
    let (_, _, _, itip) = itip_of(&sink.messages()[1]);
    assert_eq!(itip.main_event().unwrap().start, start + 7200);
    assert!(
        sink.messages()[1]
            .text()
            .contains("Subject: Updated: Review")
    );

    // Deleted: Bob hears of it.
    let out = c.sync1(&SyncColl::new(&folder, &key).delete(&sid));
    assert!(out.responses.is_none(), "{:?}", out.raw);
    assert_eq!(
        mailed_since(&sink, 3),
        vec![(vec![BOB_OUT.to_owned()], "CANCEL".to_owned(), 2, uid)]
    );
    let key = out.ok_key();

    // A meeting the server refuses (an impossible recurrence: Status 6) mails nothing.
    let mut bad = device_meeting("Broken", start, &[BOB_OUT]);
    *bad.find_mut(cal::RECURRENCE).expect("a Recurrence") = Element::new(cal::RECURRENCE)
        .text_child(cal::TYPE, "9")
        .text_child(cal::INTERVAL, "1");
    let out =
        c.sync1(&SyncColl::new(&folder, &key).command(crate::groupware::add_cmd("bad", Some(bad))));
    assert_eq!(
        crate::groupware::add_response(&out, "bad").0,
        "6",
        "{:?}",
        out.raw
    );
    assert_eq!(sink.messages().len(), 4);
    let key = out.ok_key();

    // A 14.1 device sends its own invitations: the server mails nothing.
    let mut c14 = s.eas(OLGA, "olga14").with_version("14.1");
    c14.provision();
    let key14 = c14.sync_init(&folder);
    add(
        &c14,
        &folder,
        &key14,
        "old1",
        device_meeting("Old style", start, &[BOB_OUT]),
    );
    assert_eq!(sink.messages().len(), 4);

    // The relay down: the Add is still stored and answered Status 1.
    sink.set_mode(SinkMode::Refuse);
    let out = c.sync1(
        &SyncColl::new(&folder, &key).command(crate::groupware::add_cmd(
            "m2",
            Some(device_meeting("Lost mail", start, &[BOB_OUT])),
        )),
    );
    let (status, sid2) = crate::groupware::add_response(&out, "m2");
    assert_eq!(status, "1", "{:?}", out.raw);
    assert!(sid2.is_some());
    assert_eq!(sink.messages().len(), 4, "nothing accepted");
    let (_, events) = crate::groupware::full_sync(&c, &folder, None);
    assert!(
        events
            .iter()
            .any(|(_, d)| d.text_of(cal::SUBJECT) == Some("Lost mail")),
        "the meeting is stored"
    );
}

/// The whole flow (issue 15 point 5): an invitation in by LMTP shows as a MeetingRequest
/// in the Inbox and as an event in the calendar (14.1 and 16.1 devices); accepted on the
/// 16.1 device with SendResponse, the REPLY reaches the organizer through the relay; the
/// organizer's update (SEQUENCE 1) moves the event on every device; her CANCEL removes it.
#[test]
fn the_full_meeting_flow_from_invitation_to_cancellation() {
    let (sink, s) = relaying_server_with(&[BOB]);
    s.deliver(&[BOB], &outlook_invitation(0, 15));

    let (_, mail14) = inbox(&s, "14.1");
    assert_eq!(mail14.len(), 1);
    check_common(&mail14[0].1);
    let (c16, mail16) = inbox(&s, "16.1");
    assert_eq!(mail16.len(), 1);
    check_common(&mail16[0].1);
    let (cal14, folder, key14, events14) = calendar(&s, "14.1");
    let (cal16, _, key16, events16) = calendar(&s, "16.1");
    assert_eq!((events14.len(), events16.len()), (1, 1));
    check_placed(&events14[0].1, "2026-07-15T08:00:00.000Z");
    check_placed(&events16[0].1, "2026-07-15T08:00:00.000Z");
    let event = events16[0].0.clone();
    assert_eq!(events14[0].0, event, "one event, one ServerId");

    // Accepted on the 16.1 device, from its Inbox, the server sending the reply.
    let inbox16 = c16.folder_of_type(INBOX);
    let (status, calendar_id) = respond_with(
        &c16,
        ("1", &inbox16, &mail16[0].0),
        None,
        Some(Some("Count me in")),
    );
    assert_eq!(
        (status.as_str(), calendar_id.as_deref()),
        ("1", Some(event.as_str()))
    );
    let sent = sink.messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].recipients, ["olga@example.org"]);
    let text = sent[0].text();
    let (_, method, note, itip) = itip_of(&sent[0]);
    assert_eq!(method, "REPLY");
    assert_eq!(note.trim(), "Count me in");
    let reply = itip.main_event().unwrap();
    assert_eq!(reply.uid, UID);
    assert_eq!(reply.attendees.len(), 1, "{text}");
    assert_eq!(reply.attendees[0].person.address, BOB);
    assert_eq!(
        reply.attendees[0].partstat,
        easd::pim::itip::PartStat::Accepted
    );
    // Both calendars show the answer.
    let mut keys = Vec::new();
    for (c, key) in [(&cal14, &key14), (&cal16, &key16)] {
        let out = c.sync1(&SyncColl::new(&folder, key).window(100));
        assert_eq!(out.changes.len(), 1, "{:?}", out.raw);
        assert_eq!(out.changes[0].1.text_of(cal::RESPONSE_TYPE), Some("3"));
        keys.push(out.ok_key());
    }

    // The organizer moves the series a week on (SEQUENCE 1).
    s.deliver(&[BOB], &outlook_invitation(1, 22));
    for (c, key) in [&cal14, &cal16].into_iter().zip(keys.iter_mut()) {
        let out = c.sync1(&SyncColl::new(&folder, key).window(100));
        assert_eq!(out.changes.len(), 1, "{:?}", out.raw);
        assert_eq!(out.changes[0].0, event);
        check_placed(&out.changes[0].1, "2026-07-22T08:00:00.000Z");
        *key = out.ok_key();
    }

    // Her CANCEL removes it everywhere.
    let cancel = format!(
        "BEGIN:VEVENT\r\nUID:{UID}\r\nSEQUENCE:2\r\nDTSTAMP:20260703T080000Z\r\n\
DTSTART:20260722T080000Z\r\nORGANIZER:mailto:olga@example.org\r\n\
ATTENDEE:mailto:{BOB}\r\nSTATUS:CANCELLED\r\nEND:VEVENT\r\n"
    );
    s.deliver(
        &[BOB],
        &itip_message("olga@example.org", BOB, "cancel-all", "CANCEL", &cancel),
    );
    for (c, key) in [(&cal14, &keys[0]), (&cal16, &keys[1])] {
        let out = c.sync1(&SyncColl::new(&folder, key).window(100));
        assert_eq!(out.deletes, vec![event.clone()], "{:?}", out.raw);
    }
    assert_eq!(
        sink.messages().len(),
        1,
        "the server mails only the reply it was asked to"
    );
}

/// Between two accounts of the server: Olga organizes a meeting on her 16.1 device, the
/// REQUEST is delivered locally and places the event in Bob's calendar (as LMTP delivery
/// does); Bob accepts on his 16.1 device with SendResponse, and the REPLY, delivered to
/// Olga, records his answer on her event. Nothing goes to the relay.
#[test]
fn a_meeting_between_two_local_accounts_goes_round() {
    use crate::groupware::{add_cmd, add_response};
    let (sink, s) = relaying_server_with(&[OLGA, BOB]);
    let start = 1_800_000_000;
    let mut olga = s.eas(OLGA, "olga16").with_version("16.1");
    olga.provision();
    let folder = olga.folder_of_type(CALENDAR);
    let key = olga.sync_init(&folder);
    let out = olga.sync1(&SyncColl::new(&folder, &key).command(add_cmd(
        "m1",
        Some(device_meeting("Local review", start, &[BOB])),
    )));
    let (status, sid) = add_response(&out, "m1");
    assert_eq!(status, "1", "{:?}", out.raw);
    let (sid, key) = (sid.unwrap(), out.ok_key());

    let (bob, mail) = inbox(&s, "16.1");
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(
        mail[0].1.text_of(em::MESSAGE_CLASS),
        Some("IPM.Schedule.Meeting.Request")
    );
    let (_, _, _, events) = calendar(&s, "16.1");
    assert_eq!(events.len(), 1);
    let placed = &events[0].1;
    assert_eq!(placed.text_of(cal::SUBJECT), Some("Local review"));
    assert_eq!(placed.text_of(cal::MEETING_STATUS), Some("3"));
    assert_eq!(placed.text_of(cal::ORGANIZER_EMAIL), Some(OLGA));

    let inbox_id = bob.folder_of_type(INBOX);
    let (status, _) = respond_with(&bob, ("1", &inbox_id, &mail[0].0), None, Some(None));
    assert_eq!(status, "1");
    let out = olga.sync1(&SyncColl::new(&folder, &key).window(100));
    assert_eq!(out.changes.len(), 1, "{:?}", out.raw);
    assert_eq!(out.changes[0].0, sid);
    let attendee = out.changes[0]
        .1
        .find(cal::ATTENDEES)
        .and_then(|a| a.find(cal::ATTENDEE))
        .expect("Bob");
    assert_eq!(attendee.text_of(cal::EMAIL), Some(BOB));
    assert_eq!(
        attendee.text_of(cal::ATTENDEE_STATUS),
        Some("3"),
        "accepted"
    );
    assert_eq!(
        sink.messages().len(),
        0,
        "local mail never reaches the relay"
    );
}
