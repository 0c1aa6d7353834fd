//! GroupWare mail access (`groupware_folders=all-as-mail`) over real sockets: a mail-only
//! device is shown the Notes and Tasks folders as mail folders whose messages are made of
//! the notes and tasks (subject, body, categories as the sender, DateReceived the last
//! change), tasks left out under a mail window shorter than a week (GetItemEstimate too); the device cannot
//! add, change, delete or move anything there; a changed or deleted note reaches it as a
//! Change or Delete of the same ServerId and wakes its Ping; a fetched message has the
//! same bytes every time.

use crate::groupware::{
    ALICE, DAY, NOTES, TASKS, add, change_cmd, data, date, now, response_status, set_device, t,
    task,
};
use crate::push::{join, ping_in_background};
use crate::support::*;
use easd::wbxml::Element;
use easd::wbxml::tag::{airsync as air, airsyncbase as asb, email as em, notes as nt, tasks as tk};

const PLAIN: u8 = 1;
const HTML: u8 = 2;
const MIME: u8 = 4;

/// Syncs `folder` from key 0 with body Type `body` and FilterType `filter`; the last key
/// and every Add.
fn as_mail(c: &EasClient, folder: &str, body: u8, filter: u8) -> (String, Vec<(String, Element)>) {
    let k = c.sync1(&SyncColl::new(folder, "0").filter(filter)).ok_key();
    c.sync_all(
        SyncColl::new(folder, &k)
            .window(100)
            .filter(filter)
            .body(body, None)
            .option(mime_support()),
    )
}

/// MIMESupport 2: MIME for every message ([MS-ASCMD] 2.2.3.110.3).
fn mime_support() -> Element {
    Element::with_text(air::MIME_SUPPORT, "2")
}

/// The Properties of an ItemOperations Fetch of `server_id` as MIME.
fn fetch_mime(c: &EasClient, server_id: &str) -> Element {
    let preference = Element::new(asb::BODY_PREFERENCE).text_child(asb::TYPE, MIME.to_string());
    let f = c.fetch_with(server_id, &[preference, mime_support()]);
    assert_eq!(
        f.text_of(easd::wbxml::tag::itemoperations::STATUS),
        Some("1")
    );
    f.find(easd::wbxml::tag::itemoperations::PROPERTIES)
        .expect("Properties")
        .clone()
}

fn body_data(e: &Element) -> &str {
    e.find_path(&[asb::BODY, asb::DATA])
        .and_then(Element::text)
        .unwrap_or_else(|| panic!("no Body/Data in {e:?}"))
}

/// A note with categories and a task with a due date and a description, added by device
/// "deva"; (deva, the Notes and Tasks folders, the note's key and ServerId, the task's).
struct Items {
    a: EasClient,
    notes: String,
    tasks: String,
    note_key: String,
    note: String,
    task: String,
}

fn items(s: &TestServer) -> Items {
    let a = s.device(ALICE, "deva");
    let notes = a.folder_of_type(NOTES);
    let k = a.sync_init(&notes);
    let modified = (now() / DAY - 2) * DAY;
    let mut note = data(vec![
        t(nt::SUBJECT, "Door code"),
        t(nt::LAST_MODIFIED_DATE, &date(modified)),
        Element::new(nt::CATEGORIES)
            .child(t(nt::CATEGORY, "Home"))
            .child(t(nt::CATEGORY, "Keys")),
    ]);
    note.push(
        Element::new(asb::BODY)
            .text_child(asb::TYPE, "1")
            .text_child(asb::DATA, "4711 then #"),
    );
    let (note_key, note) = add(&a, &notes, &k, "n", note);
    let tasks = a.folder_of_type(TASKS);
    let k = a.sync_init(&tasks);
    let due = (now() / DAY + 5) * DAY;
    let mut pay = task("Pay the rent", None, Some(due), false);
    pay.push(t(tk::IMPORTANCE, "2"));
    pay.push(
        Element::new(asb::BODY)
            .text_child(asb::TYPE, "1")
            .text_child(asb::DATA, "Bank transfer."),
    );
    let (_, task) = add(&a, &tasks, &k, "t", pay);
    Items {
        a,
        notes,
        tasks,
        note_key,
        note,
        task,
    }
}

#[test]
fn notes_and_tasks_are_messages_and_tasks_leave_under_a_window_shorter_than_a_week() {
    let s = server_with(&[ALICE]);
    let it = items(&s);
    let b = s.device(ALICE, "devb");
    set_device(&s, ALICE, "devb", &[("groupware_folders", "all-as-mail")]);

    let (_, adds) = as_mail(&b, &it.notes, PLAIN, 0);
    assert_eq!(adds.len(), 1, "{adds:?}");
    let (sid, m) = &adds[0];
    assert_eq!(sid, &it.note, "the note's own ServerId");
    assert_eq!(m.text_of(em::SUBJECT), Some("Door code"));
    assert_eq!(
        m.text_of(em::FROM),
        Some("\"Home, Keys\" <alice@example.com>")
    );
    assert_eq!(m.text_of(em::TO), Some("alice@example.com"));
    let modified = (now() / DAY - 2) * DAY;
    assert_eq!(m.text_of(em::DATE_RECEIVED), Some(date(modified).as_str()));
    assert_eq!(m.text_of(em::READ), Some("1"));
    assert_eq!(body_data(m).trim_end(), "4711 then #");
    assert!(m.find(asb::ATTACHMENTS).is_none());

    // A task: its details, then its description; its importance; in HTML when asked.
    let (_, adds) = as_mail(&b, &it.tasks, HTML, 0);
    let ids: Vec<&str> = adds.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(ids, [it.task.as_str()]);
    let m = &adds[0].1;
    assert_eq!(m.text_of(em::SUBJECT), Some("Pay the rent"));
    assert_eq!(m.text_of(em::FROM), Some("\"Task\" <alice@example.com>"));
    assert_eq!(m.text_of(em::IMPORTANCE), Some("2"));
    let html = body_data(m);
    let due = date((now() / DAY + 5) * DAY);
    for line in [
        format!("Due: {}", &due[..10]),
        "Status: not completed".into(),
        "Priority: high".into(),
        "Bank transfer.".into(),
    ] {
        assert!(html.contains(&line), "{line} in {html}");
    }

    // FilterType 2 (three days) leaves the tasks out, the notes in; a week (3) keeps both.
    // GetItemEstimate counts what Sync would bring.
    let k = b.sync1(&SyncColl::new(&it.tasks, "0").filter(2)).ok_key();
    let estimated = |filter| estimate(&b, &it.tasks, Some(&k), Some(filter));
    assert_eq!(estimated(2), ("1".into(), Some(0)));
    assert_eq!(estimated(3), ("1".into(), Some(1)));
    assert!(as_mail(&b, &it.tasks, PLAIN, 2).1.is_empty());
    assert_eq!(as_mail(&b, &it.notes, PLAIN, 2).1.len(), 1);
    assert_eq!(as_mail(&b, &it.tasks, PLAIN, 3).1.len(), 1);
    // A narrower window later: the held task leaves as a SoftDelete.
    let (k, _) = as_mail(&b, &it.tasks, PLAIN, 3);
    let out = b.sync1(&SyncColl::new(&it.tasks, &k).filter(1));
    assert_eq!(out.soft_deletes, [it.task.as_str()], "{:?}", out.raw);

    // The device that sees them as what they are still does.
    let (_, adds) = crate::groupware::full_sync(&it.a, &it.notes, None);
    assert_eq!(adds[0].1.text_of(nt::SUBJECT), Some("Door code"));
}

#[test]
fn the_device_changes_nothing_there() {
    let s = server_with(&[ALICE]);
    let it = items(&s);
    let b = s.device(ALICE, "devb");
    set_device(&s, ALICE, "devb", &[("groupware_folders", "all-as-mail")]);
    let (k, _) = as_mail(&b, &it.notes, PLAIN, 0);

    // [MS-ASCMD] 2.2.3.177.17 Status 6 for each; what the device changed or deleted comes
    // back as the server has it.
    let add = Element::new(air::ADD)
        .text_child(air::CLIENT_ID, "x")
        .child(Element::new(air::APPLICATION_DATA).text_child(em::SUBJECT, "mine"));
    let unread = change_cmd(&it.note, data(vec![t(em::READ, "0")]));
    let out = b.sync1(
        &SyncColl::new(&it.notes, &k)
            .body(PLAIN, None)
            .command(add)
            .command(unread),
    );
    let added = out.responses.as_ref().and_then(|r| r.find(air::ADD));
    assert_eq!(added.and_then(|a| a.text_of(air::STATUS)), Some("6"));
    assert_eq!(response_status(&out, air::CHANGE, &it.note), "6");
    assert_eq!(out.changes.len(), 1, "{:?}", out.raw);
    assert_eq!(out.changes[0].1.text_of(em::READ), Some("1"));
    let k = out.ok_key();
    let out = b.sync1(
        &SyncColl::new(&it.notes, &k)
            .body(PLAIN, None)
            .delete(&it.note),
    );
    assert_eq!(response_status(&out, air::DELETE, &it.note), "6");
    assert_eq!(out.add_ids(), [it.note.as_str()]);

    // MoveItems out of it or into it: Status 5, nothing moved.
    let inbox = b.folder_of_type(2);
    assert_eq!(b.move_item(&it.note, &it.notes, &inbox), ("5".into(), None));
    assert_eq!(b.move_item(&it.task, &it.tasks, &it.notes).0, "5");

    // The note is as it was, where it was, for the device that sees notes.
    let (_, adds) = crate::groupware::full_sync(&it.a, &it.notes, None);
    assert_eq!(adds.len(), 1);
    assert_eq!(adds[0].1.text_of(nt::SUBJECT), Some("Door code"));
    assert_eq!(
        crate::groupware::full_sync(&it.a, &it.tasks, None).1.len(),
        1
    );
}

#[test]
fn a_changed_or_deleted_note_changes_the_message_and_wakes_the_ping() {
    let s = server_with(&[ALICE]);
    let it = items(&s);
    let b = s.device(ALICE, "devb");
    set_device(&s, ALICE, "devb", &[("groupware_folders", "all-as-mail")]);
    let (k, _) = as_mail(&b, &it.notes, PLAIN, 0);

    let waiting = ping_in_background(&b, 60, &[&it.notes]);
    // The Ping is registered before the change, so only the wake path can answer it.
    s.wait_until_waiting(1);
    let out =
        it.a.sync1(&SyncColl::new(&it.notes, &it.note_key).command(change_cmd(
            &it.note,
            data(vec![t(nt::SUBJECT, "Gate code")]),
        )));
    let ka = out.ok_key();
    let (r, _) = join(waiting);
    assert_eq!(r.status, "2", "{r:?}");

    let out = b.sync1(&SyncColl::new(&it.notes, &k).body(PLAIN, None));
    assert_eq!(out.changes.len(), 1, "{:?}", out.raw);
    let (sid, m) = &out.changes[0];
    assert_eq!(sid, &it.note, "the same ServerId");
    assert_eq!(m.text_of(em::SUBJECT), Some("Gate code"));
    let k = out.ok_key();

    let out = it.a.sync1(&SyncColl::new(&it.notes, &ka).delete(&it.note));
    out.ok_key();
    let out = b.sync1(&SyncColl::new(&it.notes, &k));
    assert_eq!(out.deletes, [it.note.as_str()], "{:?}", out.raw);
}

#[test]
fn a_fetched_message_has_the_same_mime_each_time_and_every_body_type() {
    let s = server_with(&[ALICE]);
    let it = items(&s);
    let b = s.device(ALICE, "devb");
    set_device(&s, ALICE, "devb", &[("groupware_folders", "all-as-mail")]);

    let first = fetch_mime(&b, &it.task);
    let mime = body_data(&first).to_owned();
    assert!(mime.contains("Subject: Pay the rent"), "{mime}");
    assert!(mime.contains("Importance: high"), "{mime}");
    assert_eq!(body_data(&fetch_mime(&b, &it.task)), mime);
    // Sync's Fetch gives the same bytes.
    let (k, _) = as_mail(&b, &it.tasks, MIME, 0);
    let out = b.sync1(
        &SyncColl::new(&it.tasks, &k)
            .body(MIME, None)
            .option(mime_support())
            .fetch(&it.task),
    );
    let fetched = out.fetched();
    assert_eq!(fetched.text_of(air::STATUS), Some("1"), "{:?}", out.raw);
    let data = fetched
        .find(air::APPLICATION_DATA)
        .expect("ApplicationData");
    assert_eq!(body_data(data), mime);
    // Plain text and HTML as for any message.
    let plain = b.fetch_item(&it.task, Some(PLAIN));
    assert!(
        body_data(&plain).contains("Priority: high\r\n"),
        "{plain:?}"
    );
    let html = b.fetch_item(&it.task, Some(HTML));
    assert!(body_data(&html).contains("<br>"), "{html:?}");
    // The device that sees tasks as tasks fetches the task.
    let as_task = it.a.fetch_item(&it.task, None);
    assert_eq!(as_task.text_of(tk::SUBJECT), Some("Pay the rent"));
    assert_eq!(fetch_status(&b, &format!("{}:999999", it.tasks)), "6");
}
