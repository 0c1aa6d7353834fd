use super::*;
use crate::proto::timezone::TimeZoneInfo;
use crate::wbxml::tag::{calendar as cal, contacts as c, contacts2 as c2, notes as n, tasks as t};

const V12: ProtocolVersion = ProtocolVersion::V12_1;
const V14: ProtocolVersion = ProtocolVersion::V14_1;
const V16: ProtocolVersion = ProtocolVersion::V16_1;

fn data() -> Element {
    Element::new(airsync::APPLICATION_DATA)
}

/// A value of the right type for every scalar of a record's table, as sent.
fn every_scalar(rec: &impl Scalars) -> Element {
    let mut e = data();
    for (i, s) in rec.scalars().into_iter().enumerate() {
        let text = match s.slot {
            Slot::Text(_) => format!("text {i}"),
            Slot::Int(_) => (i % 3).to_string(),
            Slot::Flag(_) => "1".to_owned(),
            Slot::Date(_) => format_datetime(1_767_261_600 + i as i64 * 60),
        };
        e.push_text(s.tag, text);
    }
    e
}

#[test]
fn every_contact_element_goes_round() {
    let mut sent = every_scalar(&Contact::default());
    sent.push(
        Element::new(c::CATEGORIES)
            .text_child(c::CATEGORY, "Work")
            .text_child(c::CATEGORY, "VIP"),
    );
    sent.push(Element::new(c::CHILDREN).text_child(c::CHILD, "Ann"));
    sent.push_text(c::PICTURE, "iVBORw0KGgo=");
    sent.push(
        Element::new(airsyncbase::BODY)
            .text_child(airsyncbase::TYPE, "1")
            .text_child(airsyncbase::ESTIMATED_DATA_SIZE, "5")
            .text_child(airsyncbase::DATA, "notes"),
    );
    let contact = Contact::parse(&sent, Mode::Strict).expect("a contact");
    assert_eq!(contact.job_title.as_deref(), Some("text 28"));
    assert_eq!(contact.mms.as_deref(), Some("text 58"));
    assert_eq!(contact.categories, ["Work", "VIP"]);
    assert!(contact.extra.is_empty(), "every element is modelled");
    // Stored as JSON and read back, then written for a 14.1 reader: what was sent.
    let json = serde_json::to_string(&Record::Contact(Box::new(contact))).expect("json");
    let back: Record = serde_json::from_str(&json).expect("record");
    assert_eq!(back.render(V14), sent);
    // Alias and WeightedRank are 14.0+ ([MS-ASWBXML]).
    let old = back.render(V12);
    assert!(old.find(c::ALIAS).is_none() && old.find(c::WEIGHTED_RANK).is_none());
    assert_eq!(
        old.text_of(c2::NICK_NAME),
        back.render(V14).text_of(c2::NICK_NAME)
    );
}

#[test]
fn unknown_elements_are_kept_and_bad_values_refused_or_kept() {
    // A 2.5 contacts:Body is not modelled: kept and sent back.
    let sent = data()
        .text_child(c::FIRST_NAME, "Ann")
        .text_child(c::BODY, "legacy");
    let contact = Contact::parse(&sent, Mode::Strict).expect("a contact");
    assert!(!contact.extra.is_empty());
    assert_eq!(contact.render(V14).text_of(c::BODY), Some("legacy"));

    let bad = data()
        .text_child(c::FIRST_NAME, "Ann")
        .text_child(c::BIRTHDAY, "soon");
    assert!(Contact::parse(&bad, Mode::Strict).is_err());
    let kept = Contact::parse(&bad, Mode::Keep).expect("kept");
    assert_eq!(kept.birthday, None);
    assert_eq!(kept.render(V14), bad, "an upgrade loses nothing");

    // [MS-ASCNTC] 2.2.2.58: a Picture over 48 KB is refused.
    let big = data().text_child(c::PICTURE, "A".repeat(MAX_PICTURE + 1));
    assert!(Contact::parse(&big, Mode::Strict).is_err());
    assert!(Event::parse(&data().text_child(cal::ALL_DAY_EVENT, "2"), Mode::Strict).is_err());
    assert!(Event::parse(&data().text_child(cal::REMINDER, "ten"), Mode::Strict).is_err());
    let no_start = data().child(Element::new(cal::EXCEPTIONS).child(Element::new(cal::EXCEPTION)));
    assert!(Event::parse(&no_start, Mode::Strict).is_err());
}

fn meeting() -> Element {
    data()
        .text_child(cal::TIMEZONE, TimeZoneInfo::fixed(-60).to_base64())
        .text_child(cal::START_TIME, "2026-03-02T09:00:00.000Z")
        .text_child(cal::END_TIME, "2026-03-02T10:00:00.000Z")
        .text_child(cal::SUBJECT, "Review")
        .text_child(cal::UID, "abc-1")
        .text_child(cal::RESPONSE_REQUESTED, "1")
        .text_child(cal::ONLINE_MEETING_EXTERNAL_LINK, "https://meet.example/1")
        .text_child(cal::CLIENT_UID, "client-7")
        .child(
            Element::new(base_location())
                .text_child(airsyncbase::DISPLAY_NAME, "Room 4")
                .text_child(airsyncbase::CITY, "Lyon"),
        )
        .child(
            Element::new(cal::ATTENDEES).child(
                Element::new(cal::ATTENDEE)
                    .text_child(cal::EMAIL, "bob@example.com")
                    .text_child(cal::NAME, "Bob")
                    .text_child(cal::ATTENDEE_TYPE, "1"),
            ),
        )
        .child(
            Element::new(cal::RECURRENCE)
                .text_child(cal::TYPE, "1")
                .text_child(cal::INTERVAL, "1")
                .text_child(cal::DAY_OF_WEEK, "2")
                .text_child(cal::FIRST_DAY_OF_WEEK, "1"),
        )
        .child(
            Element::new(cal::EXCEPTIONS).child(
                Element::new(cal::EXCEPTION)
                    .text_child(airsyncbase::INSTANCE_ID, "2026-03-09T09:00:00.000Z")
                    .text_child(cal::SUBJECT, "Review (moved)")
                    .text_child(cal::START_TIME, "2026-03-09T13:00:00.000Z"),
            ),
        )
}

fn base_location() -> Tag {
    airsyncbase::LOCATION
}

#[test]
fn each_reader_gets_the_elements_of_its_version() {
    let event = Event::parse(&meeting(), Mode::Strict).expect("an event");
    let v16 = event.render(V16);
    assert_eq!(
        v16.find_path(&[airsyncbase::LOCATION, airsyncbase::CITY])
            .and_then(Element::text),
        Some("Lyon")
    );
    assert!(v16.find(cal::LOCATION).is_none());
    assert_eq!(v16.text_of(cal::CLIENT_UID), Some("client-7"));
    assert_eq!(
        v16.find_path(&[cal::EXCEPTIONS, cal::EXCEPTION, airsyncbase::INSTANCE_ID])
            .and_then(Element::text),
        Some("2026-03-09T09:00:00.000Z")
    );
    assert!(
        v16.find(cal::TIMEZONE).is_some(),
        "a zone with an offset is sent"
    );

    let v12 = event.render(V12);
    assert_eq!(v12.text_of(cal::LOCATION), Some("Room 4"));
    assert!(v12.find(airsyncbase::LOCATION).is_none());
    assert!(v12.find(cal::CLIENT_UID).is_none());
    assert!(v12.find(cal::RESPONSE_REQUESTED).is_none(), "14.0+");
    assert!(
        v12.find(cal::ONLINE_MEETING_EXTERNAL_LINK).is_none(),
        "14.1+"
    );
    assert_eq!(
        v12.find_path(&[cal::EXCEPTIONS, cal::EXCEPTION, cal::EXCEPTION_START_TIME])
            .and_then(Element::text),
        Some("2026-03-09T09:00:00.000Z")
    );
    assert!(
        v12.find_path(&[cal::RECURRENCE, cal::FIRST_DAY_OF_WEEK])
            .is_none()
    );
    let v14 = event.render(V14);
    assert_eq!(v14.text_of(cal::RESPONSE_REQUESTED), Some("1"));
    assert!(
        v14.find_path(&[cal::RECURRENCE, cal::FIRST_DAY_OF_WEEK])
            .is_some()
    );
    // Read back from a 12.1 reader's form, the exception is the same occurrence.
    let again = Event::parse(&v12, Mode::Strict).expect("12.1 form");
    assert_eq!(again.exceptions, event.exceptions);
}

#[test]
fn a_utc_or_all_day_event_has_no_timezone_at_16() {
    let utc = data()
        .text_child(cal::TIMEZONE, TimeZoneInfo::utc().to_base64())
        .text_child(cal::START_TIME, "2026-03-02T09:00:00.000Z")
        .text_child(cal::SUBJECT, "Call");
    let event = Event::parse(&utc, Mode::Strict).expect("an event");
    assert!(event.is_utc());
    assert!(event.render(V16).find(cal::TIMEZONE).is_none());
    assert!(event.render(V14).find(cal::TIMEZONE).is_some());
    let all_day = data()
        .text_child(cal::TIMEZONE, TimeZoneInfo::fixed(-60).to_base64())
        .text_child(cal::ALL_DAY_EVENT, "1")
        .text_child(cal::END_TIME, "2026-03-02T23:00:00.000Z")
        .text_child(cal::START_TIME, "2026-03-01T23:00:00.000Z");
    let event = Event::parse(&all_day, Mode::Strict).expect("an all-day event");
    assert!(event.render(V16).find(cal::TIMEZONE).is_none());
    assert_eq!(event.render(V14), all_day);
}

#[test]
fn tasks_and_notes_go_round() {
    let mut task = every_scalar(&Task::default());
    let mut r = every_scalar(&TaskRecurrence::default());
    r.tag = t::RECURRENCE;
    task.push(Element::new(t::CATEGORIES).text_child(t::CATEGORY, "Home"));
    task.push(r);
    let parsed = Task::parse(&task, Mode::Strict).expect("a task");
    assert!(parsed.extra.is_empty());
    assert_eq!(parsed.render(V14), task);

    let mut note = every_scalar(&Note::default());
    note.push(Element::new(n::CATEGORIES).text_child(n::CATEGORY, "Home"));
    note.push(
        Element::new(airsyncbase::BODY)
            .text_child(airsyncbase::TYPE, "2")
            .text_child(airsyncbase::ESTIMATED_DATA_SIZE, "9")
            .text_child(airsyncbase::DATA, "<b>hi</b>"),
    );
    let parsed = Note::parse(&note, Mode::Strict).expect("a note");
    assert_eq!(parsed.render(V16), note);
}

#[test]
fn an_events_times_read_from_its_stored_record_skip_the_rest() {
    let event = Event {
        subject: Some("Budget".into()),
        uid: Some("u1".into()),
        start_time: Some(Stamp(1_000)),
        end_time: Some(Stamp(2_800)),
        busy_status: Some(1),
        meeting_status: Some(1),
        timezone: Some("AAAA".into()),
        recurrence: Some(Recurrence {
            kind: Some(0),
            interval: Some(2),
            ..Recurrence::default()
        }),
        exceptions: vec![Exception {
            original: Stamp(1_000 + 2 * 86_400),
            deleted: Some(true),
            ..Exception::default()
        }],
        categories: vec!["Work".into()],
        ..Event::default()
    };
    let times: EventTimesOf = serde_json::from_slice(
        &serde_json::to_vec(&Record::Event(Box::new(event.clone()))).unwrap(),
    )
    .unwrap();
    let read = Event::from(times.0.expect("an event"));
    assert_eq!(
        read,
        Event {
            subject: None,
            uid: None,
            categories: Vec::new(),
            ..event
        }
    );
    let note = Record::Note(Box::default());
    let times: EventTimesOf = serde_json::from_slice(&serde_json::to_vec(&note).unwrap()).unwrap();
    assert!(times.0.is_none());
}
