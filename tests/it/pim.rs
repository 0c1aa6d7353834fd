//! Calendar, contact, task and note items as typed records over real sockets: what each
//! protocol version gets of an item (12.1 Location vs 16.1 airsyncbase:Location, the
//! server's UID, no Timezone on a 16.x all-day event), Changes that name only some
//! elements (Supported and ghosting, [MS-ASCMD] 2.2.3.179 and its 4.24.2 example), two
//! devices with different Supported lists, exceptions, tasks and notes, and malformed
//! items refused with Status 6.

use crate::groupware::{
    ALICE, CALENDAR, CONTACTS, DAY, NOTES, TASKS, add, add_cmd, add_response, change_cmd, data,
    date, event, now, response_status, t,
};
use crate::support::*;
use easd::proto::timezone::TimeZoneInfo;
use easd::wbxml::tag::{
    airsync as air, airsyncbase as asb, calendar as cal, contacts as con, notes as nt, tasks as tk,
};
use easd::wbxml::{Element, Tag};

/// A device of ALICE speaking `version`, provisioned.
fn device(s: &TestServer, id: &str, version: &'static str) -> EasClient {
    let mut c = s.eas(ALICE, id).with_version(version);
    c.provision();
    c
}

/// The initial Sync of `folder`, with a Supported list when given; the key.
fn init(c: &EasClient, folder: &str, supported: Option<&[Tag]>) -> String {
    let mut first = SyncColl::new(folder, "0");
    if let Some(tags) = supported {
        first = first.supported(tags);
    }
    c.sync1(&first).ok_key()
}

/// Syncs `folder` from `key`; the new key and the one item sent (as Add or Change).
#[track_caller]
fn one_item(c: &EasClient, folder: &str, key: &str) -> (String, Element) {
    let out = c.sync1(&SyncColl::new(folder, key).window(100));
    let mut items: Vec<Element> = (out.adds.iter().chain(&out.changes))
        .map(|(_, e)| e.clone())
        .collect();
    assert_eq!(items.len(), 1, "{:?}", out.raw);
    (out.ok_key(), items.remove(0))
}

/// Sends a Change; its key after the round (Status 1 asserted).
#[track_caller]
fn change(c: &EasClient, folder: &str, key: &str, sid: &str, d: Element) -> String {
    let out = c.sync1(&SyncColl::new(folder, key).command(change_cmd(sid, d)));
    assert!(out.responses.is_none(), "refused: {:?}", out.raw);
    out.ok_key()
}

/// Sends a Change expected to be refused; its Status.
#[track_caller]
fn refused_change(c: &EasClient, folder: &str, key: &str, sid: &str, d: Element) -> String {
    let out = c.sync1(&SyncColl::new(folder, key).command(change_cmd(sid, d)));
    response_status(&out, air::CHANGE, sid)
}

fn ada() -> Element {
    data(vec![
        t(con::FIRST_NAME, "Ada"),
        t(con::LAST_NAME, "Lovelace"),
        t(con::EMAIL1_ADDRESS, "ada@example.com"),
        t(con::MOBILE_PHONE_NUMBER, "+44 20 0000"),
        t(con::BIRTHDAY, "1815-12-10T00:00:00.000Z"),
        Element::new(con::CATEGORIES).text_child(con::CATEGORY, "Science"),
        Element::new(asb::BODY)
            .text_child(asb::TYPE, "1")
            .text_child(asb::DATA, "Analytical engine"),
    ])
}

#[test]
fn a_job_title_only_change_keeps_every_other_field_ms_ascmd_4_24_2() {
    let s = server_with(&[ALICE]);
    let a = device(&s, "a16", "16.1");
    let b = device(&s, "b121", "12.1");
    let folder = a.folder_of_type(CONTACTS);
    let ka = init(&a, &folder, None);
    // B manages JobTitle only: every other contact element is ghosted for it.
    let kb = init(&b, &folder, Some(&[con::JOB_TITLE]));
    let (ka, sid) = add(&a, &folder, &ka, "c1", ada());
    let (kb, _) = one_item(&b, &folder, &kb);
    change(
        &b,
        &folder,
        &kb,
        &sid,
        data(vec![t(con::JOB_TITLE, "Countess")]),
    );
    let (_, got) = one_item(&a, &folder, &ka);
    let mut expected = ada();
    expected.push(t(con::JOB_TITLE, "Countess"));
    assert_eq!(as_sent(&got, &expected), expected);
}

#[test]
fn without_supported_an_omitted_element_is_deleted_but_not_the_body() {
    let s = server_with(&[ALICE]);
    let a = device(&s, "a16", "16.1");
    let b = device(&s, "b141", "14.1");
    let folder = a.folder_of_type(CONTACTS);
    let ka = init(&a, &folder, None);
    let kb = init(&b, &folder, None);
    let (ka, sid) = add(&a, &folder, &ka, "c1", ada());
    let (kb, _) = one_item(&b, &folder, &kb);
    change(
        &b,
        &folder,
        &kb,
        &sid,
        data(vec![t(con::FIRST_NAME, "Augusta")]),
    );
    let (_, got) = one_item(&a, &folder, &ka);
    // [MS-ASCMD] 2.2.3.179: nothing is ghosted, so what the Change left out is gone,
    // except the notes ([MS-ASCNTC]: a Change without Body keeps them).
    let expected = data(vec![
        t(con::FIRST_NAME, "Augusta"),
        Element::new(asb::BODY)
            .text_child(asb::TYPE, "1")
            .text_child(asb::DATA, "Analytical engine"),
    ]);
    assert_eq!(as_sent(&got, &expected), expected);
}

#[test]
fn two_devices_with_different_supported_lists_keep_each_others_fields() {
    let s = server_with(&[ALICE]);
    let a = device(&s, "a121", "12.1");
    let b = device(&s, "b141", "14.1");
    let c = device(&s, "c161", "16.1");
    let folder = a.folder_of_type(CONTACTS);
    let ka = init(
        &a,
        &folder,
        Some(&[con::FIRST_NAME, con::LAST_NAME, con::MOBILE_PHONE_NUMBER]),
    );
    let kb = init(
        &b,
        &folder,
        Some(&[
            con::FIRST_NAME,
            con::LAST_NAME,
            con::EMAIL1_ADDRESS,
            con::JOB_TITLE,
        ]),
    );
    let kc = init(&c, &folder, None);
    let (kc, sid) = add(&c, &folder, &kc, "c1", ada());
    let (ka, _) = one_item(&a, &folder, &ka);
    let (kb, _) = one_item(&b, &folder, &kb);
    // B rewrites what it manages.
    let kb = change(
        &b,
        &folder,
        &kb,
        &sid,
        data(vec![
            t(con::FIRST_NAME, "Ada"),
            t(con::LAST_NAME, "King"),
            t(con::EMAIL1_ADDRESS, "ada@king.example"),
            t(con::JOB_TITLE, "Countess"),
        ]),
    );
    let (ka, from_b) = one_item(&a, &folder, &ka);
    assert_eq!(
        from_b.text_of(con::MOBILE_PHONE_NUMBER),
        Some("+44 20 0000")
    );
    // A rewrites what it manages, and clears its phone.
    change(
        &a,
        &folder,
        &ka,
        &sid,
        data(vec![t(con::FIRST_NAME, "Ada"), t(con::LAST_NAME, "King")]),
    );
    let (_, seen_by_b) = one_item(&b, &folder, &kb);
    assert_eq!(
        seen_by_b.text_of(con::EMAIL1_ADDRESS),
        Some("ada@king.example")
    );
    assert_eq!(seen_by_b.text_of(con::JOB_TITLE), Some("Countess"));
    let (_, seen_by_c) = one_item(&c, &folder, &kc);
    let expected = data(vec![
        t(con::FIRST_NAME, "Ada"),
        t(con::LAST_NAME, "King"),
        t(con::EMAIL1_ADDRESS, "ada@king.example"),
        t(con::BIRTHDAY, "1815-12-10T00:00:00.000Z"),
        t(con::JOB_TITLE, "Countess"),
        Element::new(con::CATEGORIES).text_child(con::CATEGORY, "Science"),
        Element::new(asb::BODY)
            .text_child(asb::TYPE, "1")
            .text_child(asb::DATA, "Analytical engine"),
    ]);
    assert_eq!(as_sent(&seen_by_c, &expected), expected);
}

fn meeting(start: i64) -> Element {
    data(vec![
        t(cal::TIMEZONE, &TimeZoneInfo::fixed(-60).to_base64()),
        t(cal::START_TIME, &date(start)),
        t(cal::END_TIME, &date(start + 3600)),
        t(cal::SUBJECT, "Planning"),
        t(cal::BUSY_STATUS, "2"),
        Element::new(asb::LOCATION)
            .text_child(asb::DISPLAY_NAME, "Room 4")
            .text_child(asb::CITY, "Lyon")
            .text_child(asb::LATITUDE, "45.76"),
        Element::new(cal::RECURRENCE)
            .text_child(cal::TYPE, "1")
            .text_child(cal::INTERVAL, "1")
            .text_child(cal::DAY_OF_WEEK, "2")
            .text_child(cal::FIRST_DAY_OF_WEEK, "1"),
    ])
}

#[test]
fn a_16_1_event_gets_a_server_uid_and_a_12_1_device_gets_location_and_keeps_the_rest() {
    let s = server_with(&[ALICE]);
    let new = device(&s, "a161", "16.1");
    let old = device(&s, "b121", "12.1");
    let folder = new.folder_of_type(CALENDAR);
    let kn = init(&new, &folder, None);
    let ko = init(&old, &folder, None);
    let start = now() + DAY;
    let out = new.sync1(&SyncColl::new(&folder, &kn).command(add_cmd("e1", Some(meeting(start)))));
    let (status, sid) = add_response(&out, "e1");
    assert_eq!(status, "1");
    let sid = sid.expect("ServerId");
    let kn = out.ok_key();
    // [MS-ASCAL] 2.2.2.46: the 16.x Add answer carries the server's UID.
    let answered = out
        .responses
        .as_ref()
        .and_then(|r| r.find_path(&[air::ADD, air::APPLICATION_DATA, cal::UID]))
        .and_then(Element::text)
        .expect("UID in the Add response")
        .to_owned();

    let (ko, seen) = one_item(&old, &folder, &ko);
    let uid = seen.text_of(cal::UID).expect("the server's UID").to_owned();
    assert_eq!(uid, answered);
    assert_eq!(seen.text_of(cal::LOCATION), Some("Room 4"));
    assert!(seen.find(asb::LOCATION).is_none(), "{seen:?}");
    assert!(
        seen.find_path(&[cal::RECURRENCE, cal::FIRST_DAY_OF_WEEK])
            .is_none(),
        "FirstDayOfWeek is 14.1+"
    );
    let fresh = device(&s, "c161", "16.1");
    let (_, adds) = fresh.sync_all(SyncColl::new(&folder, &init(&fresh, &folder, None)).window(10));
    assert_eq!(adds[0].1.text_of(cal::UID), Some(uid.as_str()));

    // The 12.1 device edits the subject, sending back everything it has (no Supported):
    // what it cannot represent (the 16.x location's address, FirstDayOfWeek) is kept.
    let mut edited = Element::new(air::APPLICATION_DATA);
    for child in seen.elements() {
        if child.tag == cal::SUBJECT {
            edited.push(t(cal::SUBJECT, "Planning (new room)"));
        } else if child.tag != cal::UID {
            edited.push(child.clone());
        }
    }
    change(&old, &folder, &ko, &sid, edited);
    let (_, back) = one_item(&new, &folder, &kn);
    assert_eq!(back.text_of(cal::SUBJECT), Some("Planning (new room)"));
    assert_eq!(back.text_of(cal::UID), Some(uid.as_str()));
    assert_eq!(
        back.find_path(&[asb::LOCATION, asb::CITY])
            .and_then(Element::text),
        Some("Lyon")
    );
    assert_eq!(
        back.find_path(&[cal::RECURRENCE, cal::FIRST_DAY_OF_WEEK])
            .and_then(Element::text),
        Some("1")
    );
}

#[test]
fn a_16_1_change_naming_one_element_keeps_the_rest_and_exceptions_merge_by_occurrence() {
    let s = server_with(&[ALICE]);
    let a = device(&s, "a141", "14.1");
    let b = device(&s, "b161", "16.1");
    let folder = a.folder_of_type(CALENDAR);
    let ka = init(&a, &folder, None);
    let kb = init(&b, &folder, None);
    let start = now() - now() % DAY + 9 * 3600;
    let mut series = meeting(start);
    let first = |n: i64| date(start + n * 7 * DAY);
    series.push(
        Element::new(cal::EXCEPTIONS)
            .child(
                Element::new(cal::EXCEPTION)
                    .text_child(cal::EXCEPTION_START_TIME, first(1))
                    .text_child(cal::DELETED, "1"),
            )
            .child(
                Element::new(cal::EXCEPTION)
                    .text_child(cal::EXCEPTION_START_TIME, first(2))
                    .text_child(cal::SUBJECT, "Planning (long)"),
            ),
    );
    let (ka, sid) = add(&a, &folder, &ka, "e1", series);
    let (kb, seen) = one_item(&b, &folder, &kb);
    let instances: Vec<&str> = seen
        .find(cal::EXCEPTIONS)
        .expect("Exceptions")
        .find_all(cal::EXCEPTION)
        .map(|x| x.text_of(asb::INSTANCE_ID).expect("16.x InstanceId"))
        .collect();
    assert_eq!(instances, [first(1), first(2)]);

    // 16.1: an element left out is ghosted ([MS-ASCAL] 3.1.5.3).
    let kb = change(&b, &folder, &kb, &sid, data(vec![t(cal::BUSY_STATUS, "1")]));
    let (ka, after) = one_item(&a, &folder, &ka);
    assert_eq!(after.text_of(cal::BUSY_STATUS), Some("1"));
    assert_eq!(after.text_of(cal::SUBJECT), Some("Planning"));
    assert!(after.find(cal::TIMEZONE).is_some() && after.find(cal::RECURRENCE).is_some());
    assert_eq!(
        after
            .find(cal::EXCEPTIONS)
            .map(|x| x.find_all(cal::EXCEPTION).count()),
        Some(2)
    );

    // 14.1: an Exception sent alone changes that occurrence; the others stay.
    let mut edit = Element::new(air::APPLICATION_DATA);
    for child in after.elements() {
        if child.tag != cal::EXCEPTIONS {
            edit.push(child.clone());
        }
    }
    edit.push(
        Element::new(cal::EXCEPTIONS).child(
            Element::new(cal::EXCEPTION)
                .text_child(cal::EXCEPTION_START_TIME, first(2))
                .text_child(cal::SUBJECT, "Planning (short)"),
        ),
    );
    change(&a, &folder, &ka, &sid, edit);
    let (_, last) = one_item(&b, &folder, &kb);
    let subjects: Vec<(Option<&str>, Option<&str>)> = last
        .find(cal::EXCEPTIONS)
        .expect("Exceptions")
        .find_all(cal::EXCEPTION)
        .map(|x| (x.text_of(cal::DELETED), x.text_of(cal::SUBJECT)))
        .collect();
    assert_eq!(
        subjects,
        [(Some("1"), None), (None, Some("Planning (short)"))]
    );
}

#[test]
fn an_all_day_event_has_no_timezone_at_16_1_and_keeps_it_at_14_1() {
    let s = server_with(&[ALICE]);
    let a = device(&s, "a141", "14.1");
    let b = device(&s, "b161", "16.1");
    let c = device(&s, "c141", "14.1");
    let folder = a.folder_of_type(CALENDAR);
    let ka = init(&a, &folder, None);
    let kb = init(&b, &folder, None);
    let kc = init(&c, &folder, None);
    // Midnight to midnight in UTC+1, as 14.1 sends it.
    let midnight = now() - now() % DAY + 10 * DAY - 3600;
    let day = data(vec![
        t(cal::TIMEZONE, &TimeZoneInfo::fixed(-60).to_base64()),
        t(cal::ALL_DAY_EVENT, "1"),
        t(cal::START_TIME, &date(midnight)),
        t(cal::END_TIME, &date(midnight + DAY)),
        t(cal::SUBJECT, "Holiday"),
    ]);
    add(&a, &folder, &ka, "d1", day.clone());
    let (_, at16) = one_item(&b, &folder, &kb);
    assert!(at16.find(cal::TIMEZONE).is_none(), "{at16:?}");
    assert_eq!(at16.text_of(cal::ALL_DAY_EVENT), Some("1"));
    assert_eq!(at16.text_of(cal::START_TIME), Some(date(midnight).as_str()));
    let (_, at14) = one_item(&c, &folder, &kc);
    assert_eq!(as_sent(&at14, &day), day);
}

#[test]
fn tasks_keep_importance_reminder_and_body_notes_are_replaced_whole() {
    let s = server_with(&[ALICE]);
    let a = device(&s, "a141", "14.1");
    let b = device(&s, "b161", "16.1");
    let tasks = a.folder_of_type(TASKS);
    let ka = init(&a, &tasks, None);
    let kb = init(&b, &tasks, None);
    let task = data(vec![
        t(tk::SUBJECT, "Taxes"),
        t(tk::IMPORTANCE, "2"),
        t(tk::COMPLETE, "0"),
        t(tk::REMINDER_SET, "1"),
        t(tk::REMINDER_TIME, &date(now() + DAY)),
        Element::new(asb::BODY)
            .text_child(asb::TYPE, "1")
            .text_child(asb::DATA, "forms"),
    ]);
    let (ka, sid) = add(&a, &tasks, &ka, "t1", task);
    let (kb, _) = one_item(&b, &tasks, &kb);
    change(
        &b,
        &tasks,
        &kb,
        &sid,
        data(vec![
            t(tk::SUBJECT, "Taxes"),
            t(tk::COMPLETE, "1"),
            t(tk::DATE_COMPLETED, &date(now())),
        ]),
    );
    let (_, got) = one_item(&a, &tasks, &ka);
    assert_eq!(got.text_of(tk::COMPLETE), Some("1"));
    // [MS-ASTASK] 3.2.5.3: Importance and ReminderSet left out keep their values.
    assert_eq!(got.text_of(tk::IMPORTANCE), Some("2"));
    assert_eq!(got.text_of(tk::REMINDER_SET), Some("1"));
    assert_eq!(
        got.find_path(&[asb::BODY, asb::DATA])
            .and_then(Element::text),
        Some("forms")
    );
    // ReminderTime is not kept by omission.
    assert!(got.find(tk::REMINDER_TIME).is_none());

    let notes = a.folder_of_type(NOTES);
    let ka = init(&a, &notes, None);
    let kb = init(&b, &notes, None);
    let note = data(vec![
        t(nt::SUBJECT, "Ideas"),
        t(nt::MESSAGE_CLASS, "IPM.StickyNote"),
        Element::new(nt::CATEGORIES).text_child(nt::CATEGORY, "Home"),
    ]);
    let (ka, sid) = add(&a, &notes, &ka, "n1", note);
    let (kb, _) = one_item(&b, &notes, &kb);
    let whole = data(vec![
        t(nt::SUBJECT, "More ideas"),
        t(nt::MESSAGE_CLASS, "IPM.StickyNote"),
    ]);
    change(&b, &notes, &kb, &sid, whole.clone());
    let (_, got) = one_item(&a, &notes, &ka);
    assert_eq!(
        as_sent(&got, &whole),
        whole,
        "[MS-ASNOTE]: a Change is the whole note"
    );
}

#[test]
fn malformed_items_get_status_6_and_leave_the_stored_item_as_it_was() {
    let s = server_with(&[ALICE]);
    let a = device(&s, "a161", "16.1");
    let calendar = a.folder_of_type(CALENDAR);
    let contacts = a.folder_of_type(CONTACTS);
    let kc = init(&a, &calendar, None);
    let kp = init(&a, &contacts, None);
    let bad_zone = data(vec![
        t(cal::TIMEZONE, "bm90IGEgem9uZQ=="),
        t(cal::START_TIME, &date(now())),
        t(cal::SUBJECT, "x"),
    ]);
    let impossible = data(vec![
        t(cal::START_TIME, &date(now())),
        t(cal::SUBJECT, "x"),
        Element::new(cal::RECURRENCE)
            .text_child(cal::TYPE, "2")
            .text_child(cal::INTERVAL, "1")
            .text_child(cal::DAY_OF_MONTH, "32"),
    ]);
    let out = a.sync1(
        &SyncColl::new(&calendar, &kc)
            .command(add_cmd("z", Some(bad_zone)))
            .command(add_cmd("r", Some(impossible))),
    );
    assert_eq!(add_response(&out, "z"), ("6".into(), None));
    assert_eq!(add_response(&out, "r"), ("6".into(), None));
    let kc = out.ok_key();

    let photo = data(vec![
        t(con::FIRST_NAME, "Big"),
        t(con::PICTURE, &"A".repeat(50_000)),
    ]);
    let out = a.sync1(&SyncColl::new(&contacts, &kp).command(add_cmd("p", Some(photo))));
    assert_eq!(add_response(&out, "p"), ("6".into(), None));
    let kp = out.ok_key();

    // A Change with a bad value is refused and the item stays as it was.
    let (kp, sid) = add(&a, &contacts, &kp, "ok", ada());
    let status = refused_change(
        &a,
        &contacts,
        &kp,
        &sid,
        data(vec![t(con::BIRTHDAY, "soon")]),
    );
    assert_eq!(status, "6");
    let other = device(&s, "b161", "16.1");
    let (_, adds) =
        other.sync_all(SyncColl::new(&contacts, &init(&other, &contacts, None)).window(10));
    assert_eq!(as_sent(&adds[0].1, &ada()), ada());
    // A series made impossible by a Change is refused as well.
    let (kc, sid) = add(&a, &calendar, &kc, "e", event("Fine", now(), now() + 3600));
    let status = refused_change(
        &a,
        &calendar,
        &kc,
        &sid,
        data(vec![
            Element::new(cal::RECURRENCE).text_child(cal::TYPE, "1"),
        ]),
    );
    assert_eq!(status, "6");
}

#[test]
fn every_class_goes_both_ways_between_a_16_1_and_an_older_device() {
    let s = server_with(&[ALICE]);
    let new = device(&s, "a161", "16.1");
    // Notes are 14.0+ ([MS-ASNOTE]); the rest is tried against 12.1.
    let old = device(&s, "b121", "12.1");
    let notes_old = device(&s, "c140", "14.0");
    let cases = [
        (
            CONTACTS,
            &old,
            ada(),
            data(vec![t(con::FIRST_NAME, "Ada"), t(con::LAST_NAME, "King")]),
        ),
        (
            CALENDAR,
            &old,
            event("Standup", now() + DAY, now() + DAY + 1800),
            event("Standup (moved)", now() + 2 * DAY, now() + 2 * DAY + 1800),
        ),
        (
            TASKS,
            &old,
            data(vec![t(tk::SUBJECT, "Report"), t(tk::COMPLETE, "0")]),
            data(vec![
                t(tk::SUBJECT, "Report"),
                t(tk::COMPLETE, "1"),
                t(tk::DATE_COMPLETED, &date(now())),
            ]),
        ),
        (
            NOTES,
            &notes_old,
            data(vec![
                t(nt::SUBJECT, "Ideas"),
                t(nt::MESSAGE_CLASS, "IPM.StickyNote"),
            ]),
            data(vec![
                t(nt::SUBJECT, "More"),
                t(nt::MESSAGE_CLASS, "IPM.StickyNote"),
            ]),
        ),
    ];
    for (kind, other, added, changed) in cases {
        let folder = new.folder_of_type(kind);
        let kn = init(&new, &folder, None);
        let ko = init(other, &folder, None);
        // The older device adds, the 16.1 one gets it.
        let (ko, sid) = add(other, &folder, &ko, "x", added.clone());
        let (kn, got) = one_item(&new, &folder, &kn);
        assert_eq!(as_sent(&got, &added), added, "type {kind}");
        // The 16.1 device changes it, the older one gets the change.
        let kn = change(&new, &folder, &kn, &sid, changed.clone());
        let (ko, got) = one_item(other, &folder, &ko);
        for child in changed.elements() {
            assert_eq!(got.find(child.tag), Some(child), "type {kind}: {got:?}");
        }
        // The older device deletes it, the 16.1 one gets the Delete.
        let out = other.sync1(&SyncColl::new(&folder, &ko).delete(&sid));
        assert!(out.responses.is_none(), "{:?}", out.raw);
        let out = new.sync1(&SyncColl::new(&folder, &kn));
        assert_eq!(out.deletes, [sid.as_str()], "type {kind}");
    }
}

#[test]
fn a_16_1_change_or_delete_of_one_occurrence_becomes_an_exception_of_the_series() {
    let s = server_with(&[ALICE]);
    let new = device(&s, "a161", "16.1");
    let old = device(&s, "b141", "14.1");
    let folder = new.folder_of_type(CALENDAR);
    let kn = init(&new, &folder, None);
    let ko = init(&old, &folder, None);
    let start = now() - now() % DAY + 9 * 3600;
    let week = |n: i64| date(start + n * 7 * DAY);
    let (kn, sid) = add(&new, &folder, &kn, "s", meeting(start));
    let (ko, _) = one_item(&old, &folder, &ko);
    let (kn, single) = add(&new, &folder, &kn, "one", event("Once", start, start + 60));

    let occurrence = |verb: Tag, server_id: &str, at: &str, d: Option<Element>| {
        let mut e = Element::new(verb)
            .text_child(air::SERVER_ID, server_id)
            .text_child(asb::INSTANCE_ID, at);
        if let Some(d) = d {
            e.push(d);
        }
        e
    };
    let out = new.sync1(
        &SyncColl::new(&folder, &kn)
            .command(occurrence(
                air::CHANGE,
                &sid,
                &week(1),
                Some(data(vec![t(cal::SUBJECT, "Planning (moved)")])),
            ))
            .command(occurrence(air::DELETE, &sid, &week(2), None))
            .command(occurrence(
                air::CHANGE,
                &single,
                &week(0),
                Some(data(vec![t(cal::SUBJECT, "x")])),
            ))
            .command(occurrence(air::DELETE, &sid, "next week", None)),
    );
    // [MS-ASAIRS] 2.2.2.25: InstanceId names an occurrence of a series.
    assert_eq!(response_status(&out, air::CHANGE, &single), "6");
    let r = out.responses.as_ref().expect("Responses");
    assert_eq!(r.find_all(air::DELETE).count(), 1, "{r:?}");
    assert_eq!(response_status(&out, air::DELETE, &sid), "6");

    let out = old.sync1(&SyncColl::new(&folder, &ko).window(10));
    let got = &out
        .changes
        .iter()
        .find(|(id, _)| *id == sid)
        .expect("the series changed")
        .1;
    let exceptions: Vec<(Option<&str>, Option<&str>, Option<&str>)> = got
        .find(cal::EXCEPTIONS)
        .expect("Exceptions")
        .find_all(cal::EXCEPTION)
        .map(|x| {
            (
                x.text_of(cal::EXCEPTION_START_TIME),
                x.text_of(cal::DELETED),
                x.text_of(cal::SUBJECT),
            )
        })
        .collect();
    assert_eq!(
        exceptions,
        [
            (Some(week(1).as_str()), None, Some("Planning (moved)")),
            (Some(week(2).as_str()), Some("1"), None),
        ]
    );
    assert_eq!(
        got.text_of(cal::SUBJECT),
        Some("Planning"),
        "the series is unchanged"
    );
}

#[test]
fn items_a_schema_5_store_kept_as_application_data_read_back_the_same_after_the_upgrade() {
    use base64::Engine as _;
    use redb::ReadableTable as _;
    let mut s = server_with(&[ALICE]);
    let a = device(&s, "a141", "14.1");
    let contacts = a.folder_of_type(CONTACTS);
    let calendar = a.folder_of_type(CALENDAR);
    let (_, contact) = add(&a, &contacts, &init(&a, &contacts, None), "c", ada());
    let mut appointment = event("Review", now() + DAY, now() + DAY + 3600);
    appointment.push(t(cal::LOCATION, "Room 4"));
    appointment.push(t(cal::UID, "client-uid-1"));
    let (_, meeting) = add(
        &a,
        &calendar,
        &init(&a, &calendar, None),
        "e",
        appointment.clone(),
    );
    s.shutdown();
    // Rewrite both rows as schema 5 kept them: the ApplicationData the client sent,
    // WBXML in base64, instead of the record.
    {
        let db = redb::Database::create(s.data_dir().join("easd.redb")).expect("store");
        let items: redb::TableDefinition<(u64, u64, u64), &[u8]> =
            redb::TableDefinition::new("groupware_items");
        let meta: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("meta");
        let tx = db.begin_write().expect("write");
        {
            let mut table = tx.open_table(items).expect("groupware_items");
            let rows: Vec<((u64, u64, u64), Vec<u8>)> = table
                .iter()
                .expect("rows")
                .map(|r| {
                    let (k, v) = r.expect("row");
                    (k.value(), v.value().to_vec())
                })
                .collect();
            assert_eq!(rows.len(), 2);
            for (key, json) in rows {
                let mut row: serde_json::Value = serde_json::from_slice(&json).expect("json");
                let sid = format!("{}:{}", key.1, key.2);
                let sent = if sid == contact {
                    ada()
                } else {
                    appointment.clone()
                };
                assert!(sid == contact || sid == meeting, "{sid}");
                let object = row.as_object_mut().expect("an object");
                assert!(
                    object.remove("record").is_some(),
                    "schema 6 rows hold a record"
                );
                object.insert(
                    "data".into(),
                    base64::engine::general_purpose::STANDARD
                        .encode(easd::wbxml::encode(&sent))
                        .into(),
                );
                let bytes = serde_json::to_vec(&row).expect("json");
                table.insert(key, bytes.as_slice()).expect("insert");
            }
            tx.open_table(meta)
                .expect("meta")
                .insert("schema_version", 5u32.to_le_bytes().as_slice())
                .expect("schema_version");
        }
        tx.commit().expect("commit");
    }
    s.restart();
    let b = device(&s, "b141", "14.1");
    for (folder, sid, sent) in [
        (&contacts, &contact, ada()),
        (&calendar, &meeting, appointment),
    ] {
        let (_, adds) = b.sync_all(SyncColl::new(folder, &init(&b, folder, None)).window(10));
        assert_eq!(adds.len(), 1, "{adds:?}");
        assert_eq!(&adds[0].0, sid);
        assert_eq!(as_sent(&adds[0].1, &sent), sent);
    }
}

#[test]
fn a_16_1_add_retried_with_the_same_client_uid_gets_the_event_it_made() {
    let s = server_with(&[ALICE]);
    let a = device(&s, "cu161", "16.1");
    let folder = a.folder_of_type(CALENDAR);
    let key = init(&a, &folder, None);
    let start = now() + DAY;
    let with_client_uid = || {
        let mut d = event("Retried", start, start + 3600);
        d.push(t(cal::CLIENT_UID, "client-uid-42"));
        d
    };
    let uid_of = |out: &SyncOut, client_id: &str| {
        let adds = out.responses.as_ref().expect("Responses");
        adds.find_all(air::ADD)
            .find(|e| e.text_of(air::CLIENT_ID) == Some(client_id))
            .and_then(|e| e.find_path(&[air::APPLICATION_DATA, cal::UID]))
            .and_then(Element::text)
            .expect("UID in the Add response")
            .to_owned()
    };
    let out =
        a.sync1(&SyncColl::new(&folder, &key).command(add_cmd("e1", Some(with_client_uid()))));
    let (status, first) = add_response(&out, "e1");
    assert_eq!(status, "1");
    let uid = uid_of(&out, "e1");
    // The answer was lost: the client retries the Add, with a new ClientId and the same
    // ClientUid ([MS-ASCAL] 2.2.2.13), from its new key.
    let out = a.sync1(
        &SyncColl::new(&folder, &out.ok_key()).command(add_cmd("e2", Some(with_client_uid()))),
    );
    let (status, again) = add_response(&out, "e2");
    assert_eq!((status.as_str(), &again), ("1", &first));
    assert_eq!(uid_of(&out, "e2"), uid);
    // Nothing more comes to the device, and another device sees one event.
    let more = a.sync1(&SyncColl::new(&folder, &out.ok_key()).window(100));
    assert!(more.adds.is_empty(), "{:?}", more.raw);
    let other = device(&s, "cu161b", "16.1");
    let (_, adds) = other.sync_all(SyncColl::new(&folder, &init(&other, &folder, None)).window(10));
    assert_eq!(adds.len(), 1);
    // Another ClientUid is another event.
    let mut d = event("Second", start, start + 3600);
    d.push(t(cal::CLIENT_UID, "client-uid-43"));
    let (_, sid) = add(&a, &folder, &more.ok_key(), "e3", d);
    assert_ne!(Some(sid), first);
}

#[test]
fn an_empty_picture_from_an_iphone_keeps_the_photo_and_from_others_deletes_it() {
    let s = server_with(&[ALICE]);
    let mut phone = s.eas(ALICE, "ios1").with_version("16.1");
    phone.device_type = "iPhone".into();
    phone.provision();
    let other = device(&s, "and1", "16.1");
    let folder = phone.folder_of_type(CONTACTS);
    let kp = init(&phone, &folder, None);
    let ko = init(&other, &folder, None);
    let photo = base64_photo();
    let (ko, sid) = add(
        &other,
        &folder,
        &ko,
        "c1",
        data(vec![t(con::FIRST_NAME, "Ada"), t(con::PICTURE, &photo)]),
    );
    let (kp, seen) = one_item(&phone, &folder, &kp);
    assert_eq!(seen.text_of(con::PICTURE), Some(photo.as_str()));
    // iOS edits the name and sends the empty Picture it sends with every edit.
    let edit = |name: &str| data(vec![t(con::FIRST_NAME, name), t(con::PICTURE, "")]);
    let kp = change(&phone, &folder, &kp, &sid, edit("Ada L."));
    let (ko, back) = one_item(&other, &folder, &ko);
    assert_eq!(back.text_of(con::FIRST_NAME), Some("Ada L."));
    assert_eq!(
        back.text_of(con::PICTURE),
        Some(photo.as_str()),
        "photo kept"
    );
    // The same from another device deletes it ([MS-ASCNTC] 2.2.2.58).
    change(&other, &folder, &ko, &sid, edit("Ada"));
    let (_, back) = one_item(&phone, &folder, &kp);
    assert_eq!(back.text_of(con::FIRST_NAME), Some("Ada"));
    assert!(back.find(con::PICTURE).is_none(), "{back:?}");
}

/// A small JPEG-looking photo, base64.
fn base64_photo() -> String {
    use base64::Engine;
    let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE0];
    bytes.extend((0..600u32).map(|i| (i * 7 % 251) as u8));
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
