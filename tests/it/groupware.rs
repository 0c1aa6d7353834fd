//! Calendar, contact, task and note items over real sockets: Sync Add/Change/Delete/Fetch
//! from one device reaching the others through the shared change log, resent Adds, the
//! refusals (malformed items, mail folders, other accounts), a restart, the calendar and
//! task filters with the device's `calendar_period`, and tasks as events
//! (`tasks_as_events`, `tasks_calendar`).

use crate::govern::*;
use crate::support::*;
use easd::admin::govern::GovRequest;
use easd::proto::datetime::format_datetime;
use easd::wbxml::Element;
use easd::wbxml::tag::{
    airsync as air, calendar as cal, contacts as con, email as em, notes as nt, tasks as tk,
};

pub(crate) const ALICE: &str = "alice@example.com";
pub(crate) const BOB: &str = "bob@example.com";

const INBOX: u8 = 2;
pub(crate) const TASKS: u8 = 7;
pub(crate) const CALENDAR: u8 = 8;
pub(crate) const CONTACTS: u8 = 9;
pub(crate) const NOTES: u8 = 10;

pub(crate) const DAY: i64 = 86_400;

/// `easd device settings USER/ID KEY=VALUE…`.
#[track_caller]
pub(crate) fn set_device(s: &TestServer, user: &str, id: &str, pairs: &[(&str, &str)]) {
    gov_ok(
        s,
        GovRequest::DeviceSettings {
            device: format!("{user}/{id}"),
            values: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        },
    );
}

pub(crate) fn data(children: Vec<Element>) -> Element {
    let mut d = Element::new(air::APPLICATION_DATA);
    for c in children {
        d.push(c);
    }
    d
}

pub(crate) fn t(tag: easd::wbxml::Tag, text: &str) -> Element {
    Element::with_text(tag, text)
}

pub(crate) fn add_cmd(client_id: &str, data: Option<Element>) -> Element {
    let mut e = Element::new(air::ADD).text_child(air::CLIENT_ID, client_id);
    if let Some(d) = data {
        e.push(d);
    }
    e
}

pub(crate) fn change_cmd(server_id: &str, data: Element) -> Element {
    Element::new(air::CHANGE)
        .text_child(air::SERVER_ID, server_id)
        .child(data)
}

/// The Responses/Add for `client_id`: (Status, ServerId).
#[track_caller]
pub(crate) fn add_response(out: &SyncOut, client_id: &str) -> (String, Option<String>) {
    let r = out.responses.as_ref().expect("Responses");
    let a = r
        .find_all(air::ADD)
        .find(|a| a.text_of(air::CLIENT_ID) == Some(client_id))
        .unwrap_or_else(|| panic!("no Add response for {client_id} in {r:?}"));
    (
        text(a, air::STATUS).to_owned(),
        a.text_of(air::SERVER_ID).map(str::to_owned),
    )
}

/// The Status of the Responses element `tag` for `server_id`.
#[track_caller]
pub(crate) fn response_status(out: &SyncOut, tag: easd::wbxml::Tag, server_id: &str) -> String {
    let r = out.responses.as_ref().expect("Responses");
    let e = r
        .find_all(tag)
        .find(|e| e.text_of(air::SERVER_ID) == Some(server_id))
        .unwrap_or_else(|| panic!("no response for {server_id} in {r:?}"));
    text(e, air::STATUS).to_owned()
}

/// Adds one item; the new key and the item's ServerId.
#[track_caller]
pub(crate) fn add(
    c: &EasClient,
    folder: &str,
    key: &str,
    client_id: &str,
    d: Element,
) -> (String, String) {
    let out = c.sync1(&SyncColl::new(folder, key).command(add_cmd(client_id, Some(d))));
    let (status, sid) = add_response(&out, client_id);
    assert_eq!(status, "1", "{:?}", out.raw);
    (out.ok_key(), sid.expect("ServerId with Status 1"))
}

/// Syncs from key 0 to the end; the last key and every Add.
#[track_caller]
pub(crate) fn full_sync(
    c: &EasClient,
    folder: &str,
    filter: Option<u8>,
) -> (String, Vec<(String, Element)>) {
    let mut first = SyncColl::new(folder, "0");
    first.filter = filter;
    let k = c.sync1(&first).ok_key();
    let mut next = SyncColl::new(folder, &k).window(512);
    next.filter = filter;
    c.sync_all(next)
}

pub(crate) fn date(unix: i64) -> String {
    format_datetime(unix)
}

pub(crate) fn now() -> i64 {
    easd::store::now()
}

pub(crate) fn event(subject: &str, start: i64, end: i64) -> Element {
    data(vec![
        t(cal::SUBJECT, subject),
        t(cal::START_TIME, &date(start)),
        t(cal::END_TIME, &date(end)),
        t(cal::ALL_DAY_EVENT, "0"),
    ])
}

pub(crate) fn task(subject: &str, start: Option<i64>, due: Option<i64>, complete: bool) -> Element {
    let mut d = vec![t(tk::SUBJECT, subject)];
    if let Some(s) = start {
        d.push(t(tk::START_DATE, &date(s)));
        d.push(t(tk::UTC_START_DATE, &date(s)));
    }
    if let Some(s) = due {
        d.push(t(tk::DUE_DATE, &date(s)));
        d.push(t(tk::UTC_DUE_DATE, &date(s)));
    }
    d.push(t(tk::COMPLETE, if complete { "1" } else { "0" }));
    data(d)
}

pub(crate) fn ids(adds: &[(String, Element)]) -> Vec<String> {
    let mut v: Vec<String> = adds.iter().map(|(s, _)| s.clone()).collect();
    v.sort();
    v
}

// ---- items between devices --------------------------------------------------------------

#[test]
fn groupware_items_reach_the_other_devices_and_not_the_sender() {
    let s = server_with(&[ALICE]);
    let a = s.device(ALICE, "deva");
    let b = s.device(ALICE, "devb");
    let items = [
        (
            CONTACTS,
            data(vec![
                t(con::FIRST_NAME, "Ada"),
                t(con::LAST_NAME, "Lovelace"),
                t(con::EMAIL1_ADDRESS, "ada@example.com"),
            ]),
            data(vec![t(con::FIRST_NAME, "Ada"), t(con::LAST_NAME, "King")]),
        ),
        (
            CALENDAR,
            event("Standup", now() + DAY, now() + DAY + 1800),
            event("Standup (moved)", now() + 2 * DAY, now() + 2 * DAY + 1800),
        ),
        (
            TASKS,
            task("Write report", Some(now()), Some(now() + DAY), false),
            task("Write report", Some(now()), Some(now() + DAY), true),
        ),
        (
            NOTES,
            data(vec![
                t(nt::SUBJECT, "Ideas"),
                t(nt::MESSAGE_CLASS, "IPM.StickyNote"),
            ]),
            data(vec![t(nt::SUBJECT, "More ideas")]),
        ),
    ];
    for (kind, added, changed) in items {
        let folder = a.folder_of_type(kind);
        let ka = a.sync_init(&folder);
        let kb = b.sync_init(&folder);
        let (ka, sid) = add(&a, &folder, &ka, "c1", added.clone());
        assert!(sid.starts_with(&format!("{folder}:")), "{sid}");

        let out = b.sync1(&SyncColl::new(&folder, &kb));
        assert_eq!(out.add_ids(), std::slice::from_ref(&sid), "type {kind}");
        assert_eq!(as_sent(&out.adds[0].1, &added), added, "type {kind}");
        let kb = out.ok_key();
        // The sender is not sent its own item back.
        let mine = a.sync1(&SyncColl::new(&folder, &ka));
        assert!(!mine.has_commands(), "echoed: {:?}", mine.raw);
        let ka = mine.ok_key();

        let out = a.sync1(&SyncColl::new(&folder, &ka).command(change_cmd(&sid, changed.clone())));
        assert!(out.responses.is_none(), "{:?}", out.raw);
        let ka = out.ok_key();
        let out = b.sync1(&SyncColl::new(&folder, &kb));
        assert_eq!(out.changes.len(), 1, "type {kind}");
        assert_eq!(out.changes[0].0, sid);
        assert_eq!(as_sent(&out.changes[0].1, &changed), changed, "type {kind}");
        let kb = out.ok_key();

        // Fetch answers with the item as stored.
        let fetched = b.sync1(&SyncColl::new(&folder, &kb).fetch(&sid));
        let f = fetched.fetched();
        assert_eq!(f.text_of(air::STATUS), Some("1"));
        let props = f.find(air::APPLICATION_DATA).expect("ApplicationData");
        assert_eq!(as_sent(props, &changed), changed);
        let kb = fetched.ok_key();

        let out = a.sync1(&SyncColl::new(&folder, &ka).delete(&sid));
        assert!(out.responses.is_none(), "{:?}", out.raw);
        let ka = out.ok_key();
        let out = b.sync1(&SyncColl::new(&folder, &kb));
        assert_eq!(out.deletes, [sid.as_str()], "type {kind}");
        let mine = a.sync1(&SyncColl::new(&folder, &ka));
        assert!(!mine.has_commands(), "echoed: {:?}", mine.raw);
        // Gone for a new device too.
        let (_, adds) = full_sync(&s.device(ALICE, &format!("new{kind}")), &folder, None);
        assert!(adds.is_empty(), "{adds:?}");
    }
}

#[test]
fn a_resent_add_gets_the_same_item_and_no_duplicate() {
    let s = server_with(&[ALICE]);
    let a = s.device(ALICE, "deva");
    let folder = a.folder_of_type(CONTACTS);
    let k1 = a.sync_init(&folder);
    let request = SyncColl::new(&folder, &k1)
        .command(add_cmd("c1", Some(data(vec![t(con::FIRST_NAME, "Grace")]))));
    let first = a.sync1(&request);
    let (status, sid) = add_response(&first, "c1");
    assert_eq!(status, "1");
    // The answer was lost: the device sends the same request with the same key.
    let again = a.sync1(&request);
    assert_eq!(add_response(&again, "c1"), ("1".into(), sid.clone()));
    assert!(!again.has_commands(), "{:?}", again.raw);
    let (_, adds) = full_sync(&s.device(ALICE, "devb"), &folder, None);
    assert_eq!(ids(&adds), [sid.clone().expect("ServerId")]);
    // A new round with the same ClientId is a new item.
    let k2 = again.ok_key();
    let next = a.sync1(
        &SyncColl::new(&folder, &k2)
            .command(add_cmd("c1", Some(data(vec![t(con::FIRST_NAME, "Alan")])))),
    );
    let (status, sid2) = add_response(&next, "c1");
    assert_eq!(status, "1");
    assert_ne!(sid2, sid);
}

#[test]
fn malformed_items_mail_folders_and_other_accounts_are_refused() {
    let s = server_with(&[ALICE, BOB]);
    let a = s.device(ALICE, "deva");
    let calendar = a.folder_of_type(CALENDAR);
    let k = a.sync_init(&calendar);
    let out = a.sync1(
        &SyncColl::new(&calendar, &k)
            // A task's fields in a calendar.
            .command(add_cmd("wrong-class", Some(task("x", None, None, false))))
            .command(add_cmd("no-data", None))
            .command(add_cmd(
                "bad-date",
                Some(data(vec![t(cal::SUBJECT, "x"), t(cal::START_TIME, "soon")])),
            ))
            .command(add_cmd("ok", Some(event("Kept", now(), now() + 60)))),
    );
    for c in ["wrong-class", "no-data", "bad-date"] {
        assert_eq!(add_response(&out, c), ("6".into(), None), "{c}");
    }
    let (status, sid) = add_response(&out, "ok");
    assert_eq!(status, "1");
    let k = out.ok_key();
    // A malformed Change leaves the item as it was.
    let out = a.sync1(&SyncColl::new(&calendar, &k).command(change_cmd(
        sid.as_deref().expect("ServerId"),
        data(vec![t(em::READ, "1")]),
    )));
    assert_eq!(
        response_status(&out, air::CHANGE, sid.as_deref().expect("ServerId")),
        "6"
    );
    let (_, adds) = full_sync(&s.device(ALICE, "devb"), &calendar, None);
    assert_eq!(adds.len(), 1, "{adds:?}");
    assert_eq!(adds[0].1.text_of(cal::SUBJECT), Some("Kept"));

    // Mail folders take no Add.
    let inbox = a.folder_of_type(INBOX);
    let k = a.sync_init(&inbox);
    let out = a.sync1(
        &SyncColl::new(&inbox, &k).command(add_cmd("m", Some(data(vec![t(em::SUBJECT, "x")])))),
    );
    assert_eq!(add_response(&out, "m"), ("6".into(), None));

    // Another account sees none of it, and cannot reach it by ServerId.
    let bob = s.device(BOB, "devbob");
    let bob_calendar = bob.folder_of_type(CALENDAR);
    let (kb, adds) = full_sync(&bob, &bob_calendar, None);
    assert!(adds.is_empty(), "{adds:?}");
    let sid = sid.expect("ServerId");
    let out = bob.sync1(&SyncColl::new(&bob_calendar, &kb).fetch(&sid));
    let f = out.fetched();
    assert_eq!(f.text_of(air::STATUS), Some("8"));
}

#[test]
fn groupware_items_survive_a_restart() {
    let mut s = server_with(&[ALICE]);
    let a = s.device(ALICE, "deva");
    let notes = a.folder_of_type(NOTES);
    let k = a.sync_init(&notes);
    let d = data(vec![t(nt::SUBJECT, "Kept across restarts")]);
    let (_, sid) = add(&a, &notes, &k, "n1", d.clone());
    s.restart();
    let b = s.device(ALICE, "devb");
    let (_, adds) = full_sync(&b, &notes, None);
    assert_eq!(ids(&adds), std::slice::from_ref(&sid));
    assert_eq!(as_sent(&adds[0].1, &d), d);
    // ItemOperations fetches it as stored too.
    let props = b.fetch_item(&sid, None);
    assert_eq!(as_sent(&props, &d).children, d.children);
}

// ---- filters -----------------------------------------------------------------------------

#[test]
fn calendar_filter_type_and_calendar_period_leave_out_old_events() {
    let s = server_with(&[ALICE]);
    let a = s.device(ALICE, "deva");
    let calendar = a.folder_of_type(CALENDAR);
    let k = a.sync_init(&calendar);
    let old = now() - 60 * DAY;
    let (k, old_sid) = add(&a, &calendar, &k, "old", event("Old", old, old + 3600));
    let mut series = event("Weekly", old, old + 3600);
    series.push(
        Element::new(cal::RECURRENCE)
            .text_child(cal::TYPE, "1")
            .text_child(cal::INTERVAL, "1")
            .text_child(cal::DAY_OF_WEEK, "2"),
    );
    let (k, series_sid) = add(&a, &calendar, &k, "series", series);
    let (_, new_sid) = add(&a, &calendar, &k, "new", event("New", now(), now() + 3600));
    let all = {
        let mut v = vec![old_sid.clone(), series_sid.clone(), new_sid.clone()];
        v.sort();
        v
    };
    let recent = {
        let mut v = vec![series_sid.clone(), new_sid.clone()];
        v.sort();
        v
    };

    let b = s.device(ALICE, "devb");
    assert_eq!(
        ids(&full_sync(&b, &calendar, Some(5)).1),
        recent,
        "FilterType 5"
    );
    assert_eq!(
        ids(&full_sync(&b, &calendar, Some(0)).1),
        all,
        "FilterType 0"
    );
    assert_eq!(ids(&full_sync(&b, &calendar, None).1), all, "no FilterType");
    set_device(&s, ALICE, "devb", &[("calendar_period", "1m")]);
    assert_eq!(
        ids(&full_sync(&b, &calendar, Some(0)).1),
        recent,
        "calendar_period=1m"
    );
    // The mail period does not touch calendars.
    set_device(
        &s,
        ALICE,
        "devb",
        &[("calendar_period", "none"), ("mail_period", "1d")],
    );
    assert_eq!(ids(&full_sync(&b, &calendar, None).1), all);
}

#[test]
fn tasks_filter_8_leaves_out_completed_tasks() {
    let s = server_with(&[ALICE]);
    let a = s.device(ALICE, "deva");
    let tasks = a.folder_of_type(TASKS);
    let k = a.sync_init(&tasks);
    let (k, open) = add(&a, &tasks, &k, "open", task("Open", None, None, false));
    let (_, done) = add(&a, &tasks, &k, "done", task("Done", None, None, true));
    let b = s.device(ALICE, "devb");
    assert_eq!(ids(&full_sync(&b, &tasks, Some(8)).1), [open.as_str()]);
    let mut both = vec![open, done];
    both.sort();
    assert_eq!(ids(&full_sync(&b, &tasks, Some(0)).1), both);
}

// ---- tasks as events ---------------------------------------------------------------------

/// Alice's device "deva" adds an open task (start day 10, due day 12 from now) and a
/// completed one; (tasks folder, open ServerId, completed ServerId, deva's key).
fn two_tasks(s: &TestServer, a: &EasClient) -> (String, String, String, String) {
    let _ = s;
    let tasks = a.folder_of_type(TASKS);
    let k = a.sync_init(&tasks);
    let day = (now() / DAY + 10) * DAY;
    let (k, open) = add(
        a,
        &tasks,
        &k,
        "open",
        task(
            "Open task",
            Some(day + 3600),
            Some(day + 2 * DAY + 3600),
            false,
        ),
    );
    let (k, done) = add(
        a,
        &tasks,
        &k,
        "done",
        task("Done task", Some(day), None, true),
    );
    (tasks, open, done, k)
}

#[test]
fn tasks_appear_as_all_day_events_in_the_calendar_of_a_device_that_asks() {
    let s = server_with(&[ALICE]);
    let a = s.device(ALICE, "deva");
    let b = s.device(ALICE, "devb");
    let c = s.device(ALICE, "devc");
    let (tasks, open, done, _) = two_tasks(&s, &a);
    let calendar = a.folder_of_type(CALENDAR);
    set_device(&s, ALICE, "devb", &[("tasks_as_events", "all")]);

    let (kb, adds) = full_sync(&b, &calendar, None);
    let mut expected = vec![open.clone(), done.clone()];
    expected.sort();
    assert_eq!(ids(&adds), expected);
    assert!(
        open.starts_with(&format!("{tasks}:")),
        "the task's own ServerId: {open}"
    );
    let (_, e) = adds
        .iter()
        .find(|(sid, _)| *sid == open)
        .expect("the open task");
    let day = (now() / DAY + 10) * DAY;
    assert_eq!(e.text_of(cal::SUBJECT), Some("Open task"));
    assert_eq!(e.text_of(cal::ALL_DAY_EVENT), Some("1"));
    assert_eq!(e.text_of(cal::START_TIME), Some(date(day).as_str()));
    assert_eq!(e.text_of(cal::END_TIME), Some(date(day + 3 * DAY).as_str()));

    // A device without the setting sees no tasks in its calendar.
    let (_, adds) = full_sync(&c, &calendar, None);
    assert!(adds.is_empty(), "{adds:?}");

    // Deleting the event does not delete the task: Status 6, and the event comes back.
    let out = b.sync1(&SyncColl::new(&calendar, &kb).delete(&open));
    assert_eq!(response_status(&out, air::DELETE, &open), "6");
    assert_eq!(out.add_ids(), [open.as_str()]);
    let kb = out.ok_key();
    let out =
        b.sync1(&SyncColl::new(&calendar, &kb).command(change_cmd(&open, event("Edited", 0, 60))));
    assert_eq!(response_status(&out, air::CHANGE, &open), "6");
    let kb = out.ok_key();
    let (_, tasks_seen) = full_sync(&c, &tasks, None);
    let mut both = vec![open.clone(), done.clone()];
    both.sort();
    assert_eq!(ids(&tasks_seen), both, "the tasks survive");
    assert_eq!(
        tasks_seen
            .iter()
            .find(|(sid, _)| *sid == open)
            .and_then(|(_, d)| d.text_of(tk::SUBJECT)),
        Some("Open task")
    );

    // A task changed on another device reaches the calendar as a Change of the event.
    let ka = a.sync_init(&tasks);
    let ka = a.sync_all(SyncColl::new(&tasks, &ka)).0;
    let out = a.sync1(&SyncColl::new(&tasks, &ka).command(change_cmd(
        &open,
        task("Renamed task", Some(day), None, false),
    )));
    let ka = out.ok_key();
    let out = b.sync1(&SyncColl::new(&calendar, &kb));
    assert_eq!(out.changes.len(), 1, "{:?}", out.raw);
    assert_eq!(out.changes[0].0, open);
    assert_eq!(out.changes[0].1.text_of(cal::SUBJECT), Some("Renamed task"));
    let kb = out.ok_key();
    // ... and a deleted task as a Delete.
    a.sync1(&SyncColl::new(&tasks, &ka).delete(&done)).ok_key();
    let out = b.sync1(&SyncColl::new(&calendar, &kb));
    assert_eq!(out.deletes, [done]);
}

#[test]
fn a_settings_change_makes_the_calendar_resync_and_not_completed_hides_completed_tasks() {
    let s = server_with(&[ALICE]);
    let a = s.device(ALICE, "deva");
    let b = s.device(ALICE, "devb");
    let (tasks, open, done, ka) = two_tasks(&s, &a);
    let calendar = a.folder_of_type(CALENDAR);
    let (kb, adds) = full_sync(&b, &calendar, None);
    assert!(adds.is_empty(), "{adds:?}");

    set_device(&s, ALICE, "devb", &[("tasks_as_events", "not-completed")]);
    // The state was made without tasks: the device must start again.
    let out = b.sync1(&SyncColl::new(&calendar, &kb));
    assert_eq!(out.status, "3", "{:?}", out.raw);
    let (kb, adds) = full_sync(&b, &calendar, None);
    assert_eq!(ids(&adds), [open.as_str()]);
    let _ = done;

    // The open task is completed on another device: it leaves the calendar as a Delete.
    let out = a.sync1(
        &SyncColl::new(&tasks, &ka).command(change_cmd(&open, task("Open task", None, None, true))),
    );
    out.ok_key();
    let out = b.sync1(&SyncColl::new(&calendar, &kb));
    assert_eq!(out.deletes, [open], "{:?}", out.raw);
    assert!(out.soft_deletes.is_empty());
    let kb = out.ok_key();

    // Turning it off again is another resync, to a calendar without tasks.
    set_device(&s, ALICE, "devb", &[("tasks_as_events", "off")]);
    assert_eq!(b.sync1(&SyncColl::new(&calendar, &kb)).status, "3");
    assert!(full_sync(&b, &calendar, None).1.is_empty());
}

#[test]
fn a_chosen_tasks_calendar_carries_the_tasks_instead_of_the_default() {
    let s = server_with(&[ALICE]);
    let a = s.device(ALICE, "deva");
    let b = s.device(ALICE, "devb");
    let (_, open, done, _) = two_tasks(&s, &a);
    let (key, _) = b.folder_sync_ok("0");
    let r = b.folder_create(&key, "0", "Task days", "13");
    assert_eq!(
        r.text_of(easd::wbxml::tag::folderhierarchy::STATUS),
        Some("1")
    );
    let chosen = text(&r, easd::wbxml::tag::folderhierarchy::SERVER_ID).to_owned();
    set_device(
        &s,
        ALICE,
        "devb",
        &[("tasks_as_events", "all"), ("tasks_calendar", &chosen)],
    );
    let calendar = b.folder_of_type(CALENDAR);
    assert!(full_sync(&b, &calendar, None).1.is_empty());
    let mut both = vec![open, done];
    both.sort();
    assert_eq!(ids(&full_sync(&b, &chosen, None).1), both);
}

#[test]
fn a_task_change_wakes_a_ping_on_the_calendar_that_carries_tasks() {
    use easd::wbxml::tag::ping as p;
    let s = server_with(&[ALICE]);
    let a = s.device(ALICE, "deva");
    let b = s.device(ALICE, "devb");
    set_device(&s, ALICE, "devb", &[("tasks_as_events", "all")]);
    let calendar = b.folder_of_type(CALENDAR);
    full_sync(&b, &calendar, None);
    let tasks = a.folder_of_type(TASKS);
    let ka = a.sync_init(&tasks);
    let waiting = {
        let (b, calendar) = (b.clone(), calendar.clone());
        std::thread::spawn(move || {
            b.call(
                "Ping",
                &Element::new(p::PING)
                    .text_child(p::HEARTBEAT_INTERVAL, "60")
                    .child(
                        Element::new(p::FOLDERS).child(
                            Element::new(p::FOLDER)
                                .text_child(p::ID, calendar)
                                .text_child(p::CLASS, "Calendar"),
                        ),
                    ),
            )
        })
    };
    // The Ping is registered before the change, so only the wake path can answer it.
    s.wait_until_waiting(1);
    let changed = std::time::Instant::now();
    add(&a, &tasks, &ka, "t", task("Wake up", None, None, false));
    let r = waiting.join().expect("the Ping");
    assert!(
        changed.elapsed() < std::time::Duration::from_secs(20),
        "not woken"
    );
    assert_eq!(r.text_of(p::STATUS), Some("2"), "{r:?}");
    assert_eq!(
        r.find_path(&[p::FOLDERS, p::FOLDER])
            .and_then(Element::text),
        Some(calendar.as_str())
    );
}

// ---- notes as events or tasks -------------------------------------------------------------

#[test]
fn notes_appear_as_events_or_tasks_where_the_device_asks() {
    let s = server_with(&[ALICE]);
    let a = s.device(ALICE, "deva");
    let notes = a.folder_of_type(NOTES);
    let k = a.sync_init(&notes);
    let day = (now() / DAY - 3) * DAY;
    let (k, note) = add(
        &a,
        &notes,
        &k,
        "n",
        data(vec![
            t(nt::SUBJECT, "Groceries"),
            t(nt::LAST_MODIFIED_DATE, &date(day + 3600)),
        ]),
    );
    let tasks = a.folder_of_type(TASKS);
    let kt = a.sync_init(&tasks);
    let (_, task_sid) = add(&a, &tasks, &kt, "t", task("Real task", None, None, false));
    let calendar = a.folder_of_type(CALENDAR);

    // As events, in the same calendar as the tasks: one collection, two merged sources.
    let b = s.device(ALICE, "devb");
    set_device(
        &s,
        ALICE,
        "devb",
        &[("notes_as", "events"), ("tasks_as_events", "all")],
    );
    let (kb, adds) = full_sync(&b, &calendar, None);
    let mut expected = vec![note.clone(), task_sid.clone()];
    expected.sort();
    assert_eq!(ids(&adds), expected);
    let (_, e) = adds.iter().find(|(sid, _)| *sid == note).expect("the note");
    assert_eq!(e.text_of(cal::SUBJECT), Some("Groceries"));
    assert_eq!(e.text_of(cal::ALL_DAY_EVENT), Some("1"));
    assert_eq!(e.text_of(cal::START_TIME), Some(date(day).as_str()));
    // The calendar cannot delete the note.
    let out = b.sync1(&SyncColl::new(&calendar, &kb).delete(&note));
    assert_eq!(response_status(&out, air::DELETE, &note), "6");
    assert_eq!(out.add_ids(), [note.as_str()]);
    let kb = out.ok_key();
    // A changed note reaches the calendar as a Change.
    let out = a.sync1(
        &SyncColl::new(&notes, &k).command(change_cmd(&note, data(vec![t(nt::SUBJECT, "Shop")]))),
    );
    out.ok_key();
    let out = b.sync1(&SyncColl::new(&calendar, &kb));
    assert_eq!(out.changes.len(), 1, "{:?}", out.raw);
    assert_eq!(out.changes[0].1.text_of(cal::SUBJECT), Some("Shop"));

    // As tasks, in the default task folder; the calendar carries none.
    let c = s.device(ALICE, "devc");
    set_device(&s, ALICE, "devc", &[("notes_as", "tasks")]);
    let (_, adds) = full_sync(&c, &tasks, None);
    let mut expected = vec![note.clone(), task_sid.clone()];
    expected.sort();
    assert_eq!(ids(&adds), expected);
    let (_, as_task) = adds.iter().find(|(sid, _)| *sid == note).expect("the note");
    assert_eq!(as_task.text_of(tk::SUBJECT), Some("Shop"));
    assert_eq!(as_task.text_of(tk::COMPLETE), Some("0"));
    assert!(full_sync(&c, &calendar, None).1.is_empty());
    // Synced as tasks, the notes are not in the Notes folder too; with tasks-and-notes they
    // are in both.
    assert!(full_sync(&c, &notes, None).1.is_empty());
    let d = s.device(ALICE, "devd");
    set_device(&s, ALICE, "devd", &[("notes_as", "tasks-and-notes")]);
    assert!(ids(&full_sync(&d, &tasks, None).1).contains(&note));
    assert_eq!(ids(&full_sync(&d, &notes, None).1), [note.as_str()]);

    // Into a chosen task folder instead of the default one.
    let (key, _) = c.folder_sync_ok("0");
    let r = c.folder_create(&key, "0", "Note tasks", "15");
    let chosen = text(&r, easd::wbxml::tag::folderhierarchy::SERVER_ID).to_owned();
    set_device(&s, ALICE, "devc", &[("notes_folder", &chosen)]);
    assert_eq!(ids(&full_sync(&c, &tasks, None).1), [task_sid.as_str()]);
    assert_eq!(ids(&full_sync(&c, &chosen, None).1), [note.as_str()]);
}

/// Device A adds a contact named `first_name`; device B syncs it. A, B, the Contacts
/// folder, the contact's ServerId and B's key.
fn contact_on_two_devices(
    s: &TestServer,
    first_name: &str,
) -> (EasClient, EasClient, String, String, String) {
    let a = s.device(ALICE, "deva");
    let b = s.device(ALICE, "devb");
    let contacts = a.folder_of_type(CONTACTS);
    let k = a.sync_init(&contacts);
    let (_, sid) = add(
        &a,
        &contacts,
        &k,
        "c",
        data(vec![t(con::FIRST_NAME, first_name)]),
    );
    let (kb, adds) = full_sync(&b, &contacts, None);
    assert_eq!(ids(&adds), [sid.as_str()]);
    (a, b, contacts, sid, kb)
}

#[test]
fn empty_folder_contents_deletes_groupware_items_too() {
    use easd::wbxml::tag::itemoperations as io;
    let s = server_with(&[ALICE]);
    let (a, b, contacts, sid, kb) = contact_on_two_devices(&s, "Emmy");
    let r = a.call(
        "ItemOperations",
        &Element::new(io::ITEM_OPERATIONS).child(
            Element::new(io::EMPTY_FOLDER_CONTENTS).text_child(air::COLLECTION_ID, &contacts),
        ),
    );
    assert_eq!(
        r.find_path(&[io::RESPONSE, io::EMPTY_FOLDER_CONTENTS])
            .and_then(|e| e.text_of(io::STATUS)),
        Some("1"),
        "{r:?}"
    );
    let out = b.sync1(&SyncColl::new(&contacts, &kb));
    assert_eq!(out.deletes, [sid.as_str()]);
}

#[test]
fn a_device_shown_groupware_folders_as_mail_gets_no_groupware_items() {
    let s = server_with(&[ALICE]);
    let (_, b, contacts, sid, kb) = contact_on_two_devices(&s, "Hedy");

    set_device(&s, ALICE, "devb", &[("groupware_folders", "all-as-mail")]);
    // Its state held a contact the mail view does not carry: it starts again.
    assert_eq!(b.sync1(&SyncColl::new(&contacts, &kb)).status, "3");
    let (kb, adds) = full_sync(&b, &contacts, None);
    assert!(adds.is_empty(), "contacts in a mail folder: {adds:?}");
    let out = b.sync1(
        &SyncColl::new(&contacts, &kb)
            .command(add_cmd("x", Some(data(vec![t(con::FIRST_NAME, "X")]))))
            .fetch(&sid),
    );
    assert_eq!(add_response(&out, "x"), ("6".into(), None));
    let f = out.fetched();
    assert_eq!(f.text_of(air::STATUS), Some("8"));
}

#[test]
fn items_move_between_folders_of_their_class_only() {
    let s = server_with(&[ALICE]);
    let a = s.device(ALICE, "deva");
    let b = s.device(ALICE, "devb");
    let calendar = a.folder_of_type(CALENDAR);
    let contacts = a.folder_of_type(CONTACTS);
    let (key, _) = a.folder_sync_ok("0");
    let r = a.folder_create(&key, "0", "Team", "13");
    let team = text(&r, easd::wbxml::tag::folderhierarchy::SERVER_ID).to_owned();
    let k = a.sync_init(&calendar);
    let start = now() + DAY;
    let (ka, sid) = add(&a, &calendar, &k, "e", event("Review", start, start + 3600));
    let (kb, adds) = full_sync(&b, &calendar, None);
    assert_eq!(ids(&adds), [sid.as_str()]);
    let kt = b.sync_init(&team);
    let ka_team = a.sync_init(&team);

    // Not into a contacts folder (or the Inbox): Status 2, and the event stays.
    assert_eq!(a.move_item(&sid, &calendar, &contacts).0, "2");
    assert_eq!(
        a.move_item(&sid, &calendar, &a.folder_of_type(INBOX)).0,
        "2"
    );
    // Into another calendar: Status 3 and its new ServerId there.
    let (status, moved) = a.move_item(&sid, &calendar, &team);
    assert_eq!(status, "3");
    let moved = moved.expect("DstMsgId");
    assert!(moved.starts_with(&format!("{team}:")), "{moved}");
    // The other device sees it leave one calendar and arrive in the other, unchanged.
    let out = b.sync1(&SyncColl::new(&calendar, &kb));
    assert_eq!(out.deletes, [sid.as_str()]);
    let (_, adds) = b.sync_all(SyncColl::new(&team, &kt));
    assert_eq!(ids(&adds), [moved.as_str()]);
    assert_eq!(adds[0].1.text_of(cal::SUBJECT), Some("Review"));
    // The mover sees its move like every device ([MS-ASCMD] 2.2.1.12): a Delete here, an
    // Add there.
    let out = a.sync1(&SyncColl::new(&calendar, &ka));
    assert_eq!(out.deletes, [sid.as_str()]);
    let (_, adds) = a.sync_all(SyncColl::new(&team, &ka_team));
    assert_eq!(ids(&adds), [moved.as_str()]);
    // A resent move gets the same answer and moves nothing twice.
    assert_eq!(
        a.move_item(&sid, &calendar, &team),
        ("3".to_owned(), Some(moved.clone()))
    );
    // Gone from the source: moving it elsewhere is Status 1.
    let (key, _) = a.folder_sync_ok("0");
    let r = a.folder_create(&key, "0", "Other", "13");
    let other = text(&r, easd::wbxml::tag::folderhierarchy::SERVER_ID).to_owned();
    assert_eq!(a.move_item(&sid, &calendar, &other).0, "1");
}
