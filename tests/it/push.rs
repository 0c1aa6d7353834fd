//! Direct push over real sockets: Ping and hanging Sync waiting for changes, woken by LMTP
//! deliveries and by other devices, answered at their heartbeat, by a newer request of the
//! same device, or at shutdown.
//!
//! Every test starts its own server with small heartbeat bounds (1..120 s) so that waits
//! take seconds.

use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::support::*;
use easd::config::Config;
use easd::wbxml::Element;
use easd::wbxml::tag::{airsync as air, ping as p};

const ALICE: &str = "alice@example.com";
const BOB: &str = "bob@example.com";

const INBOX: u8 = 2;
const SENT_ITEMS: u8 = 5;

const MIN_HEARTBEAT: u32 = 1;
const MAX_HEARTBEAT: u32 = 120;
const MAX_FOLDERS: usize = 3;

/// How soon a waiting request must answer after the change that wakes it.
const PROMPT: Duration = Duration::from_millis(1000);

// ---- helpers ----------------------------------------------------------------------------

fn small_bounds(c: &mut Config) {
    c.push.min_heartbeat = MIN_HEARTBEAT;
    c.push.max_heartbeat = MAX_HEARTBEAT;
    c.push.max_folders = MAX_FOLDERS;
}

fn server() -> TestServer {
    server_with(|_| {})
}

fn server_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
    let s = start_server(|c| {
        small_bounds(c);
        tweak(c);
    });
    s.add_user(ALICE);
    s.add_user(BOB);
    s
}

/// Syncs `folder` from key 0 to the end; the key and the Adds.
#[track_caller]
fn synced(c: &EasClient, folder: &str) -> (String, Vec<(String, Element)>) {
    let k = c.sync_init(folder);
    c.sync_all(SyncColl::new(folder, &k).window(512))
}

fn ping_body(heartbeat: Option<&str>, folders: Option<&[&str]>) -> Element {
    let mut e = Element::new(p::PING);
    if let Some(h) = heartbeat {
        e.push_text(p::HEARTBEAT_INTERVAL, h);
    }
    if let Some(list) = folders {
        let mut fs = Element::new(p::FOLDERS);
        for id in list {
            fs.push(
                Element::new(p::FOLDER)
                    .text_child(p::ID, *id)
                    .text_child(p::CLASS, "Email"),
            );
        }
        e.push(fs);
    }
    e
}

/// A Ping answer, taken apart.
#[derive(Debug)]
pub(crate) struct PingOut {
    pub(crate) status: String,
    pub(crate) folders: Vec<String>,
    heartbeat: Option<String>,
    max_folders: Option<String>,
    took: Duration,
}

impl PingOut {
    fn parse(raw: Element, took: Duration) -> Self {
        PingOut {
            status: text(&raw, p::STATUS).to_owned(),
            folders: raw
                .find(p::FOLDERS)
                .map(|f| {
                    f.find_all(p::FOLDER)
                        .map(|e| e.text().unwrap_or("").to_owned())
                        .collect()
                })
                .unwrap_or_default(),
            heartbeat: raw.text_of(p::HEARTBEAT_INTERVAL).map(str::to_owned),
            max_folders: raw.text_of(p::MAX_FOLDERS).map(str::to_owned),
            took,
        }
    }
}

/// Ping with `body` (`None`: an empty request), timed.
#[track_caller]
fn ping_with(c: &EasClient, body: Option<&Element>) -> PingOut {
    let start = Instant::now();
    let r = c.post("Ping", body);
    let took = start.elapsed();
    r.expect_status(200);
    PingOut::parse(r.wbxml(), took)
}

#[track_caller]
fn ping(c: &EasClient, heartbeat: u32, folders: &[&str]) -> PingOut {
    ping_with(
        c,
        Some(&ping_body(Some(&heartbeat.to_string()), Some(folders))),
    )
}

/// A Ping on its own thread; joined, it gives the answer and the instant it came.
pub(crate) fn ping_in_background(
    c: &EasClient,
    heartbeat: u32,
    folders: &[&str],
) -> JoinHandle<(PingOut, Instant)> {
    let c = c.clone();
    let folders: Vec<String> = folders.iter().map(|f| (*f).to_owned()).collect();
    std::thread::spawn(move || {
        let ids: Vec<&str> = folders.iter().map(String::as_str).collect();
        let out = ping(&c, heartbeat, &ids);
        (out, Instant::now())
    })
}

#[track_caller]
pub(crate) fn join<T>(h: JoinHandle<T>) -> T {
    h.join().expect("the background request panicked")
}

#[track_caller]
pub(crate) fn assert_prompt(answered: Instant, since: Instant, what: &str) {
    let after = answered.saturating_duration_since(since);
    assert!(
        after < PROMPT,
        "{what}: answered {after:?} after the change"
    );
}

/// A Sync of one collection at `key` with a hanging-Sync element (`tag`: HeartbeatInterval
/// or Wait) set to `value`.
fn hanging_sync_body(folder: &str, key: &str, tag: easd::wbxml::Tag, value: &str) -> Element {
    Element::new(air::SYNC)
        .child(
            Element::new(air::COLLECTIONS).child(SyncColl::new(folder, key).window(512).element()),
        )
        .text_child(tag, value)
}

/// A hanging Sync (HeartbeatInterval 60) of one collection on its own thread; joined, it
/// gives the collection's answer and the instant it came.
pub(crate) fn hanging_sync_in_background(
    c: &EasClient,
    folder: &str,
    key: &str,
) -> JoinHandle<(SyncOut, Instant)> {
    let (c, body) = (
        c.clone(),
        hanging_sync_body(folder, key, air::HEARTBEAT_INTERVAL, "60"),
    );
    std::thread::spawn(move || {
        let r = c.post("Sync", Some(&body));
        let answered = Instant::now();
        r.expect_status(200);
        let root = r.wbxml();
        let out = SyncOut::parse(
            root.find_path(&[air::COLLECTIONS, air::COLLECTION])
                .unwrap_or_else(|| panic!("{root:?}")),
        );
        (out, answered)
    })
}

// ---- Ping: statuses -----------------------------------------------------------------------

#[test]
fn ping_without_changes_expires_with_status_1_at_its_heartbeat() {
    let s = server();
    let a = s.device(ALICE, "phone");
    let inbox = a.folder_of_type(INBOX);
    synced(&a, &inbox);
    let out = ping(&a, 2, &[&inbox]);
    assert_eq!(out.status, "1", "{out:?}");
    assert!(out.folders.is_empty(), "{out:?}");
    assert!(
        out.took >= Duration::from_secs(2),
        "answered early: {out:?}"
    );
    assert!(out.took < Duration::from_secs(10), "answered late: {out:?}");
}

/// A quarantined device is sent nothing, so nothing is pending for it: its Ping waits for
/// its heartbeat through a delivery (Status 1, not 2 at once over and over). An admin's
/// allow wakes its waiting Ping at once with Status 2, and the Sync that follows brings
/// the mail.
#[test]
fn a_quarantined_device_pings_until_its_heartbeat_and_an_allow_wakes_it() {
    use easd::admin::govern::GovRequest;
    use easd::admin::ops::Request;
    use easd::store::model::Access;
    let s = server();
    s.control_ok(Request::Govern(GovRequest::RuleGlobal {
        action: Access::Quarantine,
    }));
    let q = s.device(ALICE, "quar");
    let inbox = q.folder_of_type(INBOX);
    // Never synced and holding the quarantine notice, the Inbox would count as changed
    // for an allowed device.
    let waiting = ping_in_background(&q, 3, &[&inbox]);
    s.wait_until_waiting(1);
    s.deliver_text(ALICE, "not for you yet", "x");
    let (out, _) = join(waiting);
    assert_eq!(out.status, "1", "{out:?}");
    assert!(
        out.took >= Duration::from_secs(3),
        "answered early: {out:?}"
    );

    let waiting = ping_in_background(&q, 60, &[&inbox]);
    s.wait_until_waiting(1);
    s.control_ok(Request::Govern(GovRequest::DeviceAccess {
        device: format!("{ALICE}/quar"),
        access: Access::Allow,
    }));
    let allowed = Instant::now();
    let (out, answered) = join(waiting);
    assert_eq!(out.status, "2", "{out:?}");
    assert_eq!(out.folders, [inbox.as_str()], "{out:?}");
    assert_prompt(answered, allowed, "Ping after an allow");
    let (_, adds) = synced(&q, &inbox);
    assert!(
        adds.iter()
            .any(|(_, d)| d.text_of(easd::wbxml::tag::email::SUBJECT) == Some("not for you yet")),
        "{adds:?}"
    );

    // A hanging Sync of a quarantined device waits through a delivery too, and an allow
    // answers it with the mail.
    s.control_ok(Request::Govern(GovRequest::RuleGlobal {
        action: Access::Quarantine,
    }));
    let h = s.device(ALICE, "hang");
    let key = h.sync_init(&inbox);
    let waiting = hanging_sync_in_background(&h, &inbox, &key);
    s.wait_until_waiting(1);
    s.deliver_text(ALICE, "while hanging", "x");
    let allowing = Instant::now();
    s.control_ok(Request::Govern(GovRequest::DeviceAccess {
        device: format!("{ALICE}/hang"),
        access: Access::Allow,
    }));
    let allowed = Instant::now();
    let (out, answered) = join(waiting);
    assert!(
        answered >= allowing,
        "answered before the allow: {:?}",
        out.raw
    );
    assert_prompt(answered, allowed, "hanging Sync after an allow");
    let got: Vec<&str> = out
        .adds
        .iter()
        .filter_map(|(_, d)| d.text_of(easd::wbxml::tag::email::SUBJECT))
        .collect();
    assert!(got.contains(&"while hanging"), "{:?}", out.raw);
}

#[test]
fn a_delivery_while_pinging_is_status_2_for_exactly_that_folder() {
    let s = server();
    let a = s.device(ALICE, "phone");
    let inbox = a.folder_of_type(INBOX);
    let sent = a.folder_of_type(SENT_ITEMS);
    synced(&a, &inbox);
    synced(&a, &sent);
    let waiting = ping_in_background(&a, 60, &[&inbox, &sent]);
    s.wait_until_waiting(1);
    s.deliver_text(ALICE, "wake up", "ring ring");
    let delivered = Instant::now();
    let (out, answered) = join(waiting);
    assert_eq!(out.status, "2", "{out:?}");
    assert_eq!(out.folders, [inbox.as_str()], "{out:?}");
    assert_prompt(answered, delivered, "Ping after a delivery");
}

#[test]
fn changes_between_the_last_sync_and_the_ping_answer_at_once() {
    let s = server();
    let a = s.device(ALICE, "phone");
    let inbox = a.folder_of_type(INBOX);
    let sent = a.folder_of_type(SENT_ITEMS);
    synced(&a, &inbox);
    synced(&a, &sent);
    s.deliver_text(ALICE, "while away", "x");
    let out = ping(&a, 60, &[&sent, &inbox]);
    assert_eq!(out.status, "2", "{out:?}");
    assert_eq!(out.folders, [inbox.as_str()], "{out:?}");
    assert!(out.took < PROMPT, "{out:?}");
    // Once synced, the same Ping waits again.
    synced(&a, &inbox);
    let out = ping(&a, 1, &[&sent, &inbox]);
    assert_eq!(out.status, "1", "{out:?}");
}

#[test]
fn a_folder_the_device_never_synced_counts_as_changed() {
    let s = server();
    let a = s.device(ALICE, "phone");
    let inbox = a.folder_of_type(INBOX);
    let sent = a.folder_of_type(SENT_ITEMS);
    synced(&a, &inbox);
    let out = ping(&a, 60, &[&inbox, &sent]);
    assert_eq!(out.status, "2", "{out:?}");
    assert_eq!(out.folders, [sent.as_str()], "{out:?}");
    assert!(out.took < PROMPT, "{out:?}");
}

#[test]
fn heartbeat_out_of_bounds_is_5_with_the_bound_and_garbage_is_4() {
    let s = server();
    let a = s.device(ALICE, "phone");
    let inbox = a.folder_of_type(INBOX);
    synced(&a, &inbox);

    let low = ping(&a, MIN_HEARTBEAT - 1, &[&inbox]);
    assert_eq!(low.status, "5", "{low:?}");
    assert_eq!(low.heartbeat.as_deref(), Some("1"), "{low:?}");
    let high = ping(&a, MAX_HEARTBEAT + 1, &[&inbox]);
    assert_eq!(high.status, "5", "{high:?}");
    assert_eq!(high.heartbeat.as_deref(), Some("120"), "{high:?}");

    for garbage in ["soon", "-5", "1.5"] {
        let out = ping_with(&a, Some(&ping_body(Some(garbage), Some(&[&inbox]))));
        assert_eq!(out.status, "4", "HeartbeatInterval {garbage:?}: {out:?}");
    }
}

#[test]
fn more_folders_than_allowed_is_6_with_max_folders() {
    let s = server();
    let a = s.device(ALICE, "phone");
    let (_, r) = a.folder_sync_ok("0");
    let ids: Vec<String> = changes_of(&r)
        .adds
        .into_iter()
        .map(|f| f.server_id)
        .take(MAX_FOLDERS + 1)
        .collect();
    assert_eq!(ids.len(), MAX_FOLDERS + 1, "too few folders to test with");
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let out = ping(&a, 10, &refs);
    assert_eq!(out.status, "6", "{out:?}");
    assert_eq!(out.max_folders, Some(MAX_FOLDERS.to_string()), "{out:?}");
    assert_eq!(s.refused("ping_folders"), 1);
    // Exactly the maximum is fine (answered at once: those folders were never synced),
    // and a folder named twice counts once.
    let out = ping(&a, 10, &refs[..MAX_FOLDERS]);
    assert_eq!(out.status, "2", "{out:?}");
    let mut twice = refs[..MAX_FOLDERS].to_vec();
    twice.push(refs[0]);
    let out = ping(&a, 10, &twice);
    assert_eq!(out.status, "2", "{out:?}");
    assert_eq!(out.folders.len(), MAX_FOLDERS, "{out:?}");
    assert_eq!(s.refused("ping_folders"), 1);
}

#[test]
fn an_unknown_folder_is_7() {
    let s = server();
    let a = s.device(ALICE, "phone");
    let inbox = a.folder_of_type(INBOX);
    synced(&a, &inbox);
    for bad in ["999999", "not-a-folder"] {
        let out = ping(&a, 10, &[&inbox, bad]);
        assert_eq!(out.status, "7", "folder {bad:?}: {out:?}");
        assert!(out.took < PROMPT, "{out:?}");
    }
}

#[test]
fn a_folder_deleted_while_waiting_is_7() {
    let s = server();
    let a = s.device(ALICE, "phone");
    let (key, _) = a.folder_sync_ok("0");
    let r = a.folder_create(&key, "0", "Projects", "12");
    assert_eq!(
        r.text_of(easd::wbxml::tag::folderhierarchy::STATUS),
        Some("1"),
        "{r:?}"
    );
    let projects = text(&r, easd::wbxml::tag::folderhierarchy::SERVER_ID).to_owned();
    synced(&a, &projects);

    let waiting = ping_in_background(&a, 60, &[&projects]);
    s.wait_until_waiting(1);
    let other = s.device(ALICE, "tablet");
    let (key, _) = other.folder_sync_ok("0");
    let r = other.folder_delete(&key, &projects);
    assert_eq!(
        r.text_of(easd::wbxml::tag::folderhierarchy::STATUS),
        Some("1"),
        "{r:?}"
    );
    let deleted = Instant::now();
    let (out, answered) = join(waiting);
    assert_eq!(out.status, "7", "{out:?}");
    assert_prompt(answered, deleted, "Ping on a deleted folder");
}

#[test]
fn an_empty_ping_without_an_earlier_one_is_3() {
    let s = server();
    let a = s.device(ALICE, "phone");
    let out = ping_with(&a, None);
    assert_eq!(out.status, "3", "{out:?}");
    // A Ping element without anything in it, the same.
    let out = ping_with(&a, Some(&ping_body(None, None)));
    assert_eq!(out.status, "3", "{out:?}");
    // Folders but no heartbeat, never given before: 3.
    let inbox = a.folder_of_type(INBOX);
    let out = ping_with(&a, Some(&ping_body(None, Some(&[&inbox]))));
    assert_eq!(out.status, "3", "{out:?}");
}

#[test]
fn an_empty_ping_repeats_the_last_parameters_also_after_a_restart() {
    let mut s = server();
    let a = s.device(ALICE, "phone");
    let inbox = a.folder_of_type(INBOX);
    let sent = a.folder_of_type(SENT_ITEMS);
    synced(&a, &inbox);
    synced(&a, &sent);
    let out = ping(&a, 2, &[&inbox, &sent]);
    assert_eq!(out.status, "1", "{out:?}");

    // Empty: the same heartbeat and folders.
    let out = ping_with(&a, None);
    assert_eq!(out.status, "1", "{out:?}");
    assert!(out.took >= Duration::from_secs(2), "{out:?}");
    s.deliver_text(ALICE, "news", "x");
    let out = ping_with(&a, None);
    assert_eq!(out.status, "2", "{out:?}");
    assert_eq!(out.folders, [inbox.as_str()], "{out:?}");
    synced(&a, &inbox);

    // Only a new heartbeat: the folders are kept.
    let out = ping_with(&a, Some(&ping_body(Some("1"), None)));
    assert_eq!(out.status, "1", "{out:?}");
    assert!(out.took >= Duration::from_secs(1), "{out:?}");
    assert!(out.took < Duration::from_secs(2) + PROMPT, "{out:?}");

    s.restart();
    let out = ping_with(&a, None);
    assert_eq!(out.status, "1", "after restart: {out:?}");
    assert!(out.took >= Duration::from_secs(1), "{out:?}");
    s.deliver_text(ALICE, "after restart", "x");
    let out = ping_with(&a, None);
    assert_eq!(out.status, "2", "after restart: {out:?}");
    assert_eq!(out.folders, [inbox], "{out:?}");
}

// ---- Ping: what wakes it ------------------------------------------------------------------

#[test]
fn a_read_flag_from_another_device_wakes_the_ping() {
    let s = server();
    s.deliver_text(ALICE, "shared", "x");
    let a = s.device(ALICE, "phone");
    let b = s.device(ALICE, "tablet");
    let inbox = a.folder_of_type(INBOX);
    let (akey, adds) = synced(&a, &inbox);
    let (bkey, _) = synced(&b, &inbox);
    let id = adds[0].0.clone();

    let waiting = ping_in_background(&a, 60, &[&inbox]);
    s.wait_until_waiting(1);
    b.sync1(&SyncColl::new(&inbox, &bkey).mark_read(&id, true))
        .ok_key();
    let changed = Instant::now();
    let (out, answered) = join(waiting);
    assert_eq!(out.status, "2", "{out:?}");
    assert_eq!(out.folders, [inbox.as_str()], "{out:?}");
    assert_prompt(answered, changed, "Ping after another device's Read flag");
    // The change reaches the phone.
    let out = a.sync1(&SyncColl::new(&inbox, &akey));
    out.ok_key();
    assert_eq!(out.changes.len(), 1, "{:?}", out.raw);
    assert_eq!(out.changes[0].0, id);
}

#[test]
fn the_devices_own_sync_on_another_connection_ends_its_ping() {
    let s = server();
    s.deliver_text(ALICE, "mine", "x");
    let a = s.device(ALICE, "phone");
    let inbox = a.folder_of_type(INBOX);
    let (key, adds) = synced(&a, &inbox);
    let id = adds[0].0.clone();

    let waiting = ping_in_background(&a, 60, &[&inbox]);
    s.wait_until_waiting(1);
    let start = Instant::now();
    let key = a
        .sync1(&SyncColl::new(&inbox, &key).mark_read(&id, true))
        .ok_key();
    let (out, answered) = join(waiting);
    assert_eq!(out.status, "1", "superseded Ping: {out:?}");
    assert!(
        answered.saturating_duration_since(start) < Duration::from_secs(5),
        "the Ping hung on after its device's Sync: {out:?}"
    );
    s.wait_until_waiting(0);
    // Its own change is no news to it.
    let out = ping(&a, 1, &[&inbox]);
    assert_eq!(out.status, "1", "own change reported: {out:?}");
    let out = a.sync1(&SyncColl::new(&inbox, &key));
    assert!(!out.has_commands(), "own change echoed: {:?}", out.raw);
}

#[test]
fn a_delivery_to_another_account_does_not_wake_the_ping() {
    let s = server();
    let a = s.device(ALICE, "phone");
    let inbox = a.folder_of_type(INBOX);
    synced(&a, &inbox);
    let waiting = ping_in_background(&a, 3, &[&inbox]);
    s.wait_until_waiting(1);
    s.deliver_text(BOB, "for bob", "x");
    let (out, _) = join(waiting);
    assert_eq!(out.status, "1", "{out:?}");
    assert!(out.took >= Duration::from_secs(3), "woken early: {out:?}");
}

#[test]
fn a_udp_notice_wakes_the_ping_and_one_for_another_account_does_not() {
    let s = server();
    let a = s.device(ALICE, "phone");
    let inbox = a.folder_of_type(INBOX);
    synced(&a, &inbox);
    // A notice for bob: alice's Ping sleeps on to its heartbeat.
    let waiting = ping_in_background(&a, 3, &[&inbox]);
    s.wait_until_waiting(1);
    easd::push::notify::send(s.notify_addr(), BOB, Some("INBOX")).unwrap();
    let (out, _) = join(waiting);
    assert_eq!(out.status, "1", "{out:?}");
    assert!(
        out.took >= Duration::from_secs(3),
        "woken by bob's notice: {out:?}"
    );
    // A notice for alice's Inbox: answered at once with that folder.
    let waiting = ping_in_background(&a, 60, &[&inbox]);
    s.wait_until_waiting(1);
    let sent = Instant::now();
    easd::push::notify::send(s.notify_addr(), ALICE, Some("INBOX")).unwrap();
    let (out, answered) = join(waiting);
    assert_eq!(out.status, "2", "{out:?}");
    assert_eq!(out.folders, std::slice::from_ref(&inbox), "{out:?}");
    assert_prompt(answered, sent, "a UDP notice");
    // A malformed datagram wakes nobody and is counted.
    let waiting = ping_in_background(&a, 2, &[&inbox]);
    s.wait_until_waiting(1);
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .send_to(b"v9 nonsense", s.notify_addr())
        .unwrap();
    let (out, _) = join(waiting);
    assert_eq!(out.status, "1", "{out:?}");
    let status = s.status_json();
    assert_eq!(status["notify"]["malformed"].as_u64(), Some(1), "{status}");
    assert_eq!(status["notify"]["accepted"].as_u64(), Some(2), "{status}");
}

#[test]
fn a_change_made_from_the_command_line_wakes_the_ping() {
    let s = server();
    let a = s.device(ALICE, "phone");
    let inbox = a.folder_of_type(INBOX);
    synced(&a, &inbox);
    let eml = s.data_dir().join("old.eml");
    std::fs::write(&eml, b"From: x@example.net\r\nTo: alice\r\nSubject: imported\r\nMessage-ID: <cli@x>\r\n\r\nold mail\r\n").unwrap();
    let waiting = ping_in_background(&a, 60, &[&inbox]);
    s.wait_until_waiting(1);
    let out = std::process::Command::new(crate::support::cli_path())
        .args(["import", "--user", ALICE, "--folder", "INBOX"])
        .arg(&eml)
        .arg("--data")
        .arg(s.data_dir())
        .output()
        .unwrap();
    // Measured from the command's end, when the import is committed: how long a loaded
    // machine takes to start the command line is not the wake path's.
    let sent = Instant::now();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (out, answered) = join(waiting);
    assert_eq!(out.status, "2", "{out:?}");
    assert_eq!(out.folders, std::slice::from_ref(&inbox), "{out:?}");
    assert_prompt(answered, sent, "an import from the command line");
}

#[test]
fn a_newer_ping_from_the_same_device_answers_the_older() {
    let s = server();
    let a = s.device(ALICE, "phone");
    let inbox = a.folder_of_type(INBOX);
    synced(&a, &inbox);
    let first = ping_in_background(&a, 100, &[&inbox]);
    s.wait_until_waiting(1);
    let start = Instant::now();
    let second = ping_in_background(&a, 2, &[&inbox]);
    let (old, answered) = join(first);
    assert_eq!(old.status, "1", "{old:?}");
    assert!(
        answered.saturating_duration_since(start) < Duration::from_secs(2),
        "the older Ping was not answered promptly: {old:?}"
    );
    let (new, _) = join(second);
    assert_eq!(new.status, "1", "{new:?}");
    assert!(new.took >= Duration::from_secs(2), "{new:?}");
    // Another device's Ping does not end this one.
    let b = s.device(ALICE, "tablet");
    synced(&b, &inbox);
    let first = ping_in_background(&a, 3, &[&inbox]);
    s.wait_until_waiting(1);
    let other = ping(&b, 1, &[&inbox]);
    assert_eq!(other.status, "1", "{other:?}");
    let (out, _) = join(first);
    assert_eq!(out.status, "1");
    assert!(
        out.took >= Duration::from_secs(3),
        "ended by another device: {out:?}"
    );
}

#[test]
fn too_many_waiting_requests_of_one_account_get_503() {
    let s = server_with(|c| c.push.max_waiting_per_account = 1);
    let a = s.device(ALICE, "phone");
    let b = s.device(ALICE, "tablet");
    let bob = s.device(BOB, "bobphone");
    let inbox = a.folder_of_type(INBOX);
    synced(&a, &inbox);
    synced(&b, &inbox);
    let waiting = ping_in_background(&a, 3, &[&inbox]);
    s.wait_until_waiting(1);
    let r = b.post("Ping", Some(&ping_body(Some("3"), Some(&[&inbox]))));
    assert_eq!(r.status, 503, "{r:?}");
    assert_eq!(s.refused("waiting_requests"), 1);
    // A hanging Sync counts too.
    let key = b.sync_init(&inbox);
    let r = b.post(
        "Sync",
        Some(&hanging_sync_body(
            &inbox,
            &key,
            air::HEARTBEAT_INTERVAL,
            "3",
        )),
    );
    assert_eq!(r.status, 503, "{r:?}");
    assert_eq!(s.refused("waiting_requests"), 2);
    // Another account is not limited by alice's.
    let bob_inbox = bob.folder_of_type(INBOX);
    synced(&bob, &bob_inbox);
    let out = ping(&bob, 1, &[&bob_inbox]);
    assert_eq!(out.status, "1", "{out:?}");
    let (out, _) = join(waiting);
    assert_eq!(out.status, "1", "{out:?}");
}

#[test]
fn shutdown_answers_a_waiting_ping_with_status_1() {
    let mut s = server();
    let a = s.device(ALICE, "phone");
    let inbox = a.folder_of_type(INBOX);
    synced(&a, &inbox);
    let waiting = ping_in_background(&a, 100, &[&inbox]);
    s.wait_until_waiting(1);
    let start = Instant::now();
    let report = s.shutdown();
    let (out, answered) = join(waiting);
    assert_eq!(out.status, "1", "{out:?}");
    assert!(
        answered.saturating_duration_since(start) < Duration::from_secs(10),
        "{out:?}"
    );
    assert!(report.store_reopened_in_runtime.is_ok(), "{report:?}");
}

// ---- hanging Sync -------------------------------------------------------------------------

#[test]
fn a_hanging_sync_without_changes_ends_empty_after_its_interval() {
    let s = server();
    let a = s.device(ALICE, "phone");
    let inbox = a.folder_of_type(INBOX);
    let (key, _) = synced(&a, &inbox);
    let start = Instant::now();
    let r = a.post(
        "Sync",
        Some(&hanging_sync_body(
            &inbox,
            &key,
            air::HEARTBEAT_INTERVAL,
            "2",
        )),
    );
    let took = start.elapsed();
    r.expect_status(200);
    assert!(r.body.is_empty(), "{:?}", r.wbxml());
    assert!(took >= Duration::from_secs(2), "answered early: {took:?}");
    assert!(took < Duration::from_secs(10), "answered late: {took:?}");
    // The key is still good.
    let out = a.sync1(&SyncColl::new(&inbox, &key));
    assert_eq!(out.ok_key(), key);
}

#[test]
fn a_delivery_during_a_hanging_sync_is_answered_with_the_add() {
    let s = server();
    let a = s.device(ALICE, "phone");
    let inbox = a.folder_of_type(INBOX);
    let (key, _) = synced(&a, &inbox);
    let waiting = hanging_sync_in_background(&a, &inbox, &key);
    s.wait_until_waiting(1);
    s.deliver_text(ALICE, "pushed", "x");
    let delivered = Instant::now();
    let (out, answered) = join(waiting);
    assert_prompt(answered, delivered, "hanging Sync after a delivery");
    let new_key = out.ok_key();
    assert_ne!(new_key, key);
    assert_eq!(out.adds.len(), 1, "{:?}", out.raw);
    assert_eq!(
        out.adds[0].1.text_of(easd::wbxml::tag::email::SUBJECT),
        Some("pushed")
    );
}

#[test]
fn a_hanging_sync_out_of_range_is_14_with_the_limit() {
    let s = server();
    let a = s.device(ALICE, "phone");
    let inbox = a.folder_of_type(INBOX);
    let (key, _) = synced(&a, &inbox);
    let status_and_limit = |c: &EasClient, tag, value: &str| {
        let r = c.call("Sync", &hanging_sync_body(&inbox, &key, tag, value));
        (
            r.text_of(air::STATUS).map(str::to_owned),
            r.text_of(air::LIMIT).map(str::to_owned),
        )
    };
    // HeartbeatInterval, seconds.
    assert_eq!(
        status_and_limit(&a, air::HEARTBEAT_INTERVAL, "0"),
        (Some("14".into()), Some(MIN_HEARTBEAT.to_string()))
    );
    assert_eq!(
        status_and_limit(
            &a,
            air::HEARTBEAT_INTERVAL,
            &(MAX_HEARTBEAT + 1).to_string()
        ),
        (Some("14".into()), Some(MAX_HEARTBEAT.to_string()))
    );
    // Wait, minutes (12.1): 1..=2 with 1..120 s.
    let mut old = s.eas(ALICE, "oldphone").with_version("12.1");
    old.provision();
    let key12 = {
        let k = old.sync_init(&inbox);
        old.sync_all(SyncColl::new(&inbox, &k).window(512)).0
    };
    let status_and_limit_12 = |value: &str| {
        let r = old.call("Sync", &hanging_sync_body(&inbox, &key12, air::WAIT, value));
        (
            r.text_of(air::STATUS).map(str::to_owned),
            r.text_of(air::LIMIT).map(str::to_owned),
        )
    };
    assert_eq!(
        status_and_limit_12("0"),
        (Some("14".into()), Some("1".into()))
    );
    assert_eq!(
        status_and_limit_12("3"),
        (Some("14".into()), Some("2".into()))
    );
    // Not a number: a protocol error (4).
    assert_eq!(
        status_and_limit(&a, air::HEARTBEAT_INTERVAL, "soon").0,
        Some("4".into())
    );
}

#[test]
fn a_wait_with_no_whole_minute_in_the_bounds_is_refused_not_a_crash() {
    let s = start_server(|c| {
        c.push.min_heartbeat = 1;
        c.push.max_heartbeat = 30;
    });
    s.add_user(ALICE);
    let mut old = s.eas(ALICE, "oldphone").with_version("12.1");
    old.provision();
    let inbox = old.folder_of_type(INBOX);
    let k = old.sync_init(&inbox);
    let r = old.call("Sync", &hanging_sync_body(&inbox, &k, air::WAIT, "1"));
    assert_eq!(r.text_of(air::STATUS), Some("14"), "{r:?}");
}
