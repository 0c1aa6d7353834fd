//! Sharing over real sockets: groups, shared and public folders through the admin
//! requests and the `easd` CLI (audited), and what a reader's FolderSync shows of other
//! accounts' folders under its device settings.

use crate::govern::{cli, gov_ok};
use crate::groupware::{add, add_cmd, add_response, change_cmd, event, full_sync, response_status};
use crate::push::{assert_prompt, hanging_sync_in_background, join, ping_in_background};
use crate::support::*;
use easd::admin::govern::GovRequest;
use easd::admin::ops::Request;
use easd::admin::reply::{Reply, ShareReply, ShareSummary};
use easd::admin::share::{Right, ShareRequest};
use easd::wbxml::tag::{airsync as air, calendar as cal};

const ALICE: &str = "alice@example.com";
const BOB: &str = "bob@example.com";
const CAROL: &str = "carol@example.com";
const TEAM: &str = "team@example.com";
const USER_CALENDAR: u8 = 13;
const USER_CONTACTS: u8 = 14;

/// A server with Alice (display name "Alice"), Bob, Carol and a team account.
fn server() -> TestServer {
    let s = start_server(|_| {});
    s.control_ok(Request::UserAdd {
        email: ALICE.into(),
        name: Some("Alice".into()),
        admin: false,
        password: PASSWORD.into(),
    });
    for user in [BOB, CAROL, TEAM] {
        s.add_user(user);
    }
    s
}

fn share_req(s: &TestServer, req: ShareRequest) -> Reply {
    s.control(Request::Share(req))
}

#[track_caller]
fn share_ok(s: &TestServer, req: ShareRequest) -> String {
    match share_req(s, req.clone()) {
        Reply::Done { message } => message,
        other => panic!("{req:?} answered {other:?}"),
    }
}

#[track_caller]
fn share_err(s: &TestServer, req: ShareRequest) -> String {
    match share_req(s, req.clone()) {
        Reply::Error { message } => message,
        other => panic!("{req:?} should fail, answered {other:?}"),
    }
}

fn share(owner: &str, folder: &str, to: &str, rights: &[Right]) -> ShareRequest {
    ShareRequest::FolderShare {
        owner: owner.into(),
        folder: folder.into(),
        to: to.into(),
        rights: rights.to_vec(),
    }
}

fn unshare(owner: &str, folder: &str, to: &str) -> ShareRequest {
    ShareRequest::FolderUnshare {
        owner: owner.into(),
        folder: folder.into(),
        to: to.into(),
    }
}

fn shares(s: &TestServer, req: ShareRequest) -> Vec<ShareSummary> {
    match share_req(s, req) {
        Reply::Share(ShareReply::Shares { shares }) => shares,
        other => panic!("answered {other:?}"),
    }
}

/// Switches a device's `shared_folders` / `public_folders` settings.
fn reach(s: &TestServer, user: &str, id: &str, shared: bool, public: bool) {
    let on = |b: bool| if b { "on" } else { "off" }.to_owned();
    gov_ok(
        s,
        GovRequest::DeviceSettings {
            device: format!("{user}/{id}"),
            values: vec![
                ("shared_folders".into(), on(shared)),
                ("public_folders".into(), on(public)),
            ],
        },
    );
}

/// The folders a FolderSync from key 0 announces, and its key.
fn all_folders(c: &EasClient) -> (String, Vec<FolderEntry>) {
    let (key, r) = c.folder_sync_ok("0");
    (key, changes_of(&r).adds)
}

fn named<'a>(folders: &'a [FolderEntry], name: &str) -> Option<&'a FolderEntry> {
    folders.iter().find(|f| f.name == name)
}

#[test]
fn groups_shares_and_public_folders_are_managed_from_the_cli_and_audited() {
    let s = server();
    let run = |args: &[&str]| {
        let out = cli(&s, args);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert!(run(&["group", "add", "Sales"]).0);
    let (ok, _, err) = run(&["group", "add", "sales"]);
    assert!(!ok && err.contains("already exists"), "{err}");
    let (ok, _, err) = run(&["group", "add", "a@b"]);
    assert!(!ok && err.contains("no @"), "{err}");
    assert!(run(&["group", "member", "add", "sales", BOB]).0);
    assert!(run(&["group", "member", "add", "sales", CAROL]).0);
    let (ok, _, err) = run(&["group", "member", "add", "sales", BOB]);
    assert!(!ok && err.contains("already a member"), "{err}");
    let (ok, _, err) = run(&["group", "member", "add", "nosuch", BOB]);
    assert!(!ok && err.contains("no group nosuch"), "{err}");
    let (ok, out, _) = run(&["group", "list"]);
    assert!(ok);
    assert_eq!(out.trim(), format!("sales\t{BOB}, {CAROL}"));
    assert!(run(&["group", "member", "del", "sales", CAROL]).0);
    let (ok, _, err) = run(&["group", "member", "del", "sales", CAROL]);
    assert!(!ok && err.contains("not a member"), "{err}");

    let (ok, _, err) = run(&[
        "folder",
        "share",
        ALICE,
        "calendar",
        "sales",
        "--rights",
        "write,delete",
    ]);
    assert!(ok, "{err}");
    assert!(err.contains("read,write,delete"), "{err}");
    assert!(run(&["folder", "share", ALICE, "Contacts", CAROL]).0);
    let (ok, _, err) = run(&["folder", "share", ALICE, "Calendar", ALICE]);
    assert!(!ok && err.contains("owns the folder"), "{err}");
    let (ok, _, err) = run(&["folder", "share", ALICE, "Nowhere", BOB]);
    assert!(!ok && err.contains("no folder"), "{err}");
    let (ok, _, err) = run(&["folder", "share", ALICE, "Calendar", "nobody@example.com"]);
    assert!(!ok && err.contains("no account"), "{err}");
    let (ok, _, err) = run(&["folder", "share", ALICE, "Calendar", BOB, "--rights", "all"]);
    assert!(!ok && err.contains("invalid value"), "{err}");
    let (ok, out, _) = run(&["folder", "list-shares", ALICE, "--json"]);
    assert!(ok);
    let listed: Vec<ShareSummary> = serde_json::from_str(&out).unwrap();
    assert_eq!(
        listed,
        [
            ShareSummary {
                owner: ALICE.into(),
                folder: "Calendar".into(),
                grantee: "group sales".into(),
                rights: "read,write,delete".into(),
            },
            ShareSummary {
                owner: ALICE.into(),
                folder: "Contacts".into(),
                grantee: CAROL.into(),
                rights: "read".into(),
            },
        ]
    );
    assert!(run(&["folder", "unshare", ALICE, "Contacts", CAROL]).0);
    let (ok, _, err) = run(&["folder", "unshare", ALICE, "Contacts", CAROL]);
    assert!(!ok && err.contains("is not shared with"), "{err}");

    assert!(run(&["public-folder", "add", TEAM, "Calendar"]).0);
    let (ok, out, _) = run(&["public-folder", "list"]);
    assert!(ok);
    assert_eq!(out.trim(), format!("{TEAM}\tCalendar\teveryone\tread"));
    assert!(run(&["public-folder", "del", TEAM, "Calendar"]).0);
    let (ok, _, err) = run(&["public-folder", "del", TEAM, "Calendar"]);
    assert!(!ok && err.contains("not a public folder"), "{err}");
    assert!(shares(&s, ShareRequest::PublicList).is_empty());

    // Deleting the group ends the shares granted to it.
    assert!(run(&["group", "del", "sales"]).0);
    assert!(shares(&s, ShareRequest::ShareList { owner: None }).is_empty());

    let Reply::Audit { entries } = s.control(Request::AuditList { limit: 100 }) else {
        panic!("audit list");
    };
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    for action in [
        "group_add",
        "group_member_add",
        "group_member_del",
        "folder_share",
        "folder_unshare",
        "public_folder_add",
        "public_folder_del",
        "group_del",
    ] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    // A refused change is logged with its error; a list is not logged.
    assert!(
        entries
            .iter()
            .any(|e| e.action == "folder_share" && e.error.is_some())
    );
    assert!(!actions.contains(&"group_list") && !actions.contains(&"share_list"));
}

#[test]
fn a_device_sees_shared_folders_only_when_its_settings_allow_and_unshare_removes_them() {
    let s = server();
    let alice = s.device(ALICE, "alicephone");
    let bob = s.device(BOB, "bobphone");
    let (_, own) = all_folders(&bob);
    share_ok(&s, share(ALICE, "Calendar", BOB, &[]));

    // Off by default: nothing foreign.
    let (_, folders) = all_folders(&bob);
    assert_eq!(folders, own);

    reach(&s, BOB, "bobphone", true, false);
    let (_, folders) = all_folders(&bob);
    let shared = named(&folders, "Calendar (Alice)")
        .unwrap_or_else(|| panic!("no shared calendar in {folders:?}"))
        .clone();
    assert_eq!(shared.kind, USER_CALENDAR, "a user-created calendar");
    assert_eq!(shared.parent_id, "0");
    // An id of Bob's own, not Alice's (her Calendar is 7) nor one of his folders.
    assert_ne!(shared.server_id, "7");
    assert!(own.iter().all(|f| f.server_id != shared.server_id));
    // Stable: the same id again (a FolderSync from 0 starts a new state), and no change
    // to report.
    let (key, again) = all_folders(&bob);
    assert_eq!(named(&again, "Calendar (Alice)"), Some(&shared));
    let (key, r) = bob.folder_sync_ok(&key);
    assert_eq!(changes_of(&r).count, 0);

    // A subfolder shared too is shown under its shared parent.
    let (akey, _) = alice.folder_sync_ok("0");
    let r = alice.folder_create(&akey, "7", "Holidays", "13");
    assert_eq!(
        r.text_of(easd::wbxml::tag::folderhierarchy::STATUS),
        Some("1")
    );
    share_ok(&s, share(ALICE, "Holidays", BOB, &[Right::Write]));
    let (key, r) = bob.folder_sync_ok(&key);
    let changes = changes_of(&r);
    assert_eq!(changes.adds.len(), 1, "{changes:?}");
    assert_eq!(changes.adds[0].name, "Holidays (Alice)");
    assert_eq!(changes.adds[0].parent_id, shared.server_id);

    // Unshared: gone at the next FolderSync (the subfolder with its parent).
    share_ok(&s, unshare(ALICE, "Calendar", BOB));
    let (_, r) = bob.folder_sync_ok(&key);
    let changes = changes_of(&r);
    assert_eq!(
        changes.deletes,
        std::slice::from_ref(&shared.server_id),
        "{changes:?}"
    );
    assert_eq!(changes.updates.len(), 1, "Holidays moves to the top");
    assert_eq!(changes.updates[0].parent_id, "0");

    // Shared again: the same id as before.
    share_ok(&s, share(ALICE, "Calendar", BOB, &[]));
    let (_, folders) = all_folders(&bob);
    assert_eq!(
        named(&folders, "Calendar (Alice)").map(|f| &f.server_id),
        Some(&shared.server_id)
    );

    // Switched off again: Bob's device no longer sees them.
    reach(&s, BOB, "bobphone", false, false);
    let (_, folders) = all_folders(&bob);
    assert_eq!(folders, own);
}

#[test]
fn a_group_share_reaches_its_members_and_a_public_folder_every_account() {
    let s = server();
    share_ok(
        &s,
        ShareRequest::GroupAdd {
            name: "sales".into(),
        },
    );
    share_ok(
        &s,
        ShareRequest::GroupMemberAdd {
            group: "sales".into(),
            email: CAROL.into(),
        },
    );
    share_ok(&s, share(ALICE, "Contacts", "sales", &[]));
    let err = share_err(&s, share(ALICE, "Contacts", "nosuch", &[]));
    assert!(err.contains("no group nosuch"), "{err}");
    share_ok(
        &s,
        ShareRequest::PublicAdd {
            owner: TEAM.into(),
            folder: "Calendar".into(),
            rights: vec![],
        },
    );
    let carol = s.device(CAROL, "carolphone");
    let bob = s.device(BOB, "bobphone");
    reach(&s, CAROL, "carolphone", true, false);
    reach(&s, BOB, "bobphone", true, true);

    let (key, folders) = all_folders(&carol);
    let contacts = named(&folders, "Contacts (Alice)").expect("shared through the group");
    assert_eq!(contacts.kind, USER_CONTACTS);
    assert!(
        named(&folders, &format!("Calendar ({TEAM})")).is_none(),
        "public folders are off on this device"
    );
    let (_, folders) = all_folders(&bob);
    assert!(
        named(&folders, "Contacts (Alice)").is_none(),
        "not a member"
    );
    assert!(named(&folders, &format!("Calendar ({TEAM})")).is_some());

    // Carol leaves the group: the folder goes at her next FolderSync.
    share_ok(
        &s,
        ShareRequest::GroupMemberDel {
            group: "sales".into(),
            email: CAROL.into(),
        },
    );
    let (_, r) = carol.folder_sync_ok(&key);
    assert_eq!(
        changes_of(&r).deletes,
        std::slice::from_ref(&contacts.server_id)
    );

    // The owner of a public folder sees it as its own folder, not as a foreign one.
    let team = s.device(TEAM, "teamphone");
    reach(&s, TEAM, "teamphone", true, true);
    let (_, folders) = all_folders(&team);
    assert!(
        folders.iter().all(|f| !f.name.contains('(')),
        "its own public folder is not foreign: {folders:?}"
    );
}

/// No id a reader sends (the owner's real ids, another reader's, a forged one) reaches
/// the owner's folders; only the reader's own id for a shared folder does.
#[test]
fn no_id_a_reader_sends_reaches_the_owners_items() {
    let s = server();
    s.deliver_text(ALICE, "for alice only", "secret body");
    share_ok(&s, share(ALICE, "Inbox", BOB, &[Right::Write]));
    let bob = s.device(BOB, "bobphone");
    reach(&s, BOB, "bobphone", true, false);
    let (_, folders) = all_folders(&bob);
    let foreign = named(&folders, "Inbox (Alice)")
        .expect("shown")
        .server_id
        .clone();
    let forged = (foreign.parse::<u64>().unwrap() + 1).to_string();
    let alice_inbox = "1";
    for id in [forged.as_str(), "999"] {
        let out = bob.sync1(&SyncColl::new(id, "0"));
        assert_eq!(out.status, "12", "Sync of {id}: {:?}", out.raw);
    }
    // His id for her Inbox reaches it, and names its items by his id.
    let (_, adds) = full_sync(&bob, &foreign, None);
    let ids: Vec<&str> = adds.iter().map(|(sid, _)| sid.as_str()).collect();
    assert_eq!(ids.len(), 1, "{adds:?}");
    assert!(ids[0].starts_with(&format!("{foreign}:")), "{ids:?}");
    // The owner's real id is the reader's own folder of that id: Bob's Inbox, without
    // Alice's message.
    let key = bob.sync_init(alice_inbox);
    let (_, adds) = bob.sync_all(SyncColl::new(alice_inbox, &key));
    assert!(adds.is_empty(), "{adds:?}");
    assert!(bob.search_mailbox("secret", &[]).is_empty());
    // Carol, shown nothing, cannot use Bob's id either.
    let carol = s.device(CAROL, "carolphone");
    reach(&s, CAROL, "carolphone", true, true);
    let out = carol.sync1(&SyncColl::new(&foreign, "0"));
    assert_eq!(out.status, "12", "{:?}", out.raw);
    // Alice still has it.
    let alice = s.device(ALICE, "alicephone");
    let key = alice.sync_init(alice_inbox);
    let (_, adds) = alice.sync_all(SyncColl::new(alice_inbox, &key));
    assert_eq!(adds.len(), 1);
}

#[test]
fn a_quarantined_device_is_shown_no_foreign_folder_whatever_its_settings() {
    let s = server();
    share_ok(&s, share(ALICE, "Calendar", BOB, &[]));
    s.control_ok(Request::Govern(GovRequest::RuleGlobal {
        action: easd::store::model::Access::Quarantine,
    }));
    let bob = s.device(BOB, "bobphone");
    reach(&s, BOB, "bobphone", true, true);
    let (_, folders) = all_folders(&bob);
    assert!(!folders.is_empty());
    assert!(named(&folders, "Calendar (Alice)").is_none(), "{folders:?}");
    // Allowed, it is.
    gov_ok(
        &s,
        GovRequest::DeviceAccess {
            device: format!("{BOB}/bobphone"),
            access: easd::store::model::Access::Allow,
        },
    );
    let (_, folders) = all_folders(&bob);
    assert!(named(&folders, "Calendar (Alice)").is_some(), "{folders:?}");
}

/// Bob's device with `shared_folders` on, and his id for Alice's Calendar.
fn bob_with_alices_calendar(s: &TestServer) -> (EasClient, String) {
    let bob = s.device(BOB, "bobphone");
    reach(s, BOB, "bobphone", true, false);
    let (_, folders) = all_folders(&bob);
    let id = named(&folders, "Calendar (Alice)")
        .unwrap_or_else(|| panic!("no shared calendar in {folders:?}"))
        .server_id
        .clone();
    (bob, id)
}

fn subject(data: &easd::wbxml::Element) -> Option<&str> {
    data.text_of(cal::SUBJECT)
}

const ALICE_CALENDAR: &str = "7";

#[test]
fn a_read_only_grantee_syncs_a_shared_calendar_and_its_writes_change_nothing() {
    let s = server();
    let alice = s.device(ALICE, "alicephone");
    let akey = alice.sync_init(ALICE_CALENDAR);
    let t0 = easd::store::now() + 86_400;
    add(
        &alice,
        ALICE_CALENDAR,
        &akey,
        "a1",
        event("Standup", t0, t0 + 900),
    );
    share_ok(&s, share(ALICE, "Calendar", BOB, &[]));
    let (bob, cal_id) = bob_with_alices_calendar(&s);

    // Read: the initial sync, under Bob's ids.
    let (key, adds) = full_sync(&bob, &cal_id, None);
    assert_eq!(adds.len(), 1, "{adds:?}");
    let (sid, data) = &adds[0];
    assert!(sid.starts_with(&format!("{cal_id}:")), "{sid}");
    assert_eq!(subject(data), Some("Standup"));
    // GetItemEstimate: nothing more to come; the whole calendar from key 0's state.
    assert_eq!(
        estimate(&bob, &cal_id, Some(&key), None),
        ("1".to_owned(), Some(0))
    );
    let fresh = bob.sync_init(&cal_id);
    assert_eq!(
        estimate(&bob, &cal_id, Some(&fresh), None),
        ("1".to_owned(), Some(1))
    );
    let (key, _) = bob.sync_all(SyncColl::new(&cal_id, &fresh));
    // ItemOperations Fetch; a forged item of the folder is not found.
    let props = bob.fetch_item(sid, None);
    assert_eq!(subject(&props), Some("Standup"));
    assert_eq!(fetch_status(&bob, &format!("{cal_id}:999")), "6");
    // Sync Fetch.
    let out = bob.sync1(&SyncColl::new(&cal_id, &key).fetch(sid));
    let fetched = out.fetched();
    assert_eq!(fetched.text_of(air::STATUS), Some("1"), "{fetched:?}");
    assert_eq!(
        fetched.find(air::APPLICATION_DATA).and_then(subject),
        Some("Standup")
    );
    let key = out.ok_key();

    // Writes without the right: Status 6 each, and the device's copy is put right.
    let out = bob.sync1(
        &SyncColl::new(&cal_id, &key)
            .command(add_cmd("b1", Some(event("Intruder", t0, t0 + 60))))
            .command(change_cmd(sid, event("Renamed", t0, t0 + 900))),
    );
    assert_eq!(add_response(&out, "b1"), ("6".to_owned(), None));
    assert_eq!(response_status(&out, air::CHANGE, sid), "6");
    assert_eq!(out.changes.len(), 1, "the item goes back: {:?}", out.raw);
    assert_eq!(subject(&out.changes[0].1), Some("Standup"));
    let key = out.ok_key();
    let out = bob.sync1(&SyncColl::new(&cal_id, &key).delete(sid));
    assert_eq!(response_status(&out, air::DELETE, sid), "6");
    assert_eq!(
        out.add_ids(),
        vec![sid.clone()],
        "added again: {:?}",
        out.raw
    );
    let key = out.ok_key();

    // Alice's calendar is as it was.
    let (akey, theirs) = full_sync(&alice, ALICE_CALENDAR, None);
    let subjects: Vec<_> = theirs.iter().map(|(_, d)| subject(d)).collect();
    assert_eq!(subjects, vec![Some("Standup")]);

    // Her later changes reach Bob at his next Sync.
    add(
        &alice,
        ALICE_CALENDAR,
        &akey,
        "a2",
        event("Review", t0, t0 + 600),
    );
    let out = bob.sync1(&SyncColl::new(&cal_id, &key));
    let subjects: Vec<_> = out.adds.iter().map(|(_, d)| subject(d)).collect();
    assert_eq!(subjects, vec![Some("Review")], "{:?}", out.raw);
}

#[test]
fn a_grantee_writes_in_a_shared_calendar_as_far_as_its_rights_go() {
    let s = server();
    let alice = s.device(ALICE, "alicephone");
    let akey = alice.sync_init(ALICE_CALENDAR);
    share_ok(&s, share(ALICE, "Calendar", BOB, &[Right::Write]));
    let (bob, cal_id) = bob_with_alices_calendar(&s);
    let key = bob.sync_init(&cal_id);
    let t0 = easd::store::now() + 86_400;

    // Write: Bob adds and changes, in Alice's calendar.
    let (key, sid) = add(&bob, &cal_id, &key, "b1", event("Lunch", t0, t0 + 3600));
    assert!(sid.starts_with(&format!("{cal_id}:")), "{sid}");
    let out = bob.sync1(
        &SyncColl::new(&cal_id, &key).command(change_cmd(&sid, event("Long lunch", t0, t0 + 7200))),
    );
    assert!(out.responses.is_none(), "{:?}", out.raw);
    assert!(
        !out.has_commands(),
        "his own change is not echoed: {:?}",
        out.raw
    );
    let key = out.ok_key();
    let (akey, adds) = alice.sync_all(SyncColl::new(ALICE_CALENDAR, &akey));
    let subjects: Vec<_> = adds.iter().map(|(_, d)| subject(d)).collect();
    assert_eq!(subjects, vec![Some("Long lunch")]);
    let alice_sid = adds[0].0.clone();

    // No delete right: Status 6, the event stays and comes back to Bob.
    let out = bob.sync1(&SyncColl::new(&cal_id, &key).delete(&sid));
    assert_eq!(response_status(&out, air::DELETE, &sid), "6");
    assert_eq!(out.add_ids(), vec![sid.clone()]);
    let key = out.ok_key();
    let out = alice.sync1(&SyncColl::new(ALICE_CALENDAR, &akey));
    assert!(!out.has_commands(), "{:?}", out.raw);
    let akey = out.ok_key();

    // With it, the delete reaches Alice.
    share_ok(
        &s,
        share(ALICE, "Calendar", BOB, &[Right::Write, Right::Delete]),
    );
    let out = bob.sync1(&SyncColl::new(&cal_id, &key).delete(&sid));
    assert!(out.responses.is_none(), "{:?}", out.raw);
    let out = alice.sync1(&SyncColl::new(ALICE_CALENDAR, &akey));
    assert_eq!(out.deletes, vec![alice_sid], "{:?}", out.raw);
}

#[test]
fn the_owners_change_wakes_a_grantees_ping_and_hanging_sync_on_the_shared_folder() {
    let s = server();
    let alice = s.device(ALICE, "alicephone");
    let akey = alice.sync_init(ALICE_CALENDAR);
    share_ok(&s, share(ALICE, "Calendar", BOB, &[]));
    let (bob, cal_id) = bob_with_alices_calendar(&s);
    let (key, _) = full_sync(&bob, &cal_id, None);
    let t0 = easd::store::now() + 86_400;

    // Ping: Status 2 for Bob's id of the calendar, at Alice's change.
    let waiting = ping_in_background(&bob, 60, &[&cal_id]);
    s.wait_until_waiting(1);
    let (akey, _) = add(
        &alice,
        ALICE_CALENDAR,
        &akey,
        "a1",
        event("Standup", t0, t0 + 900),
    );
    let changed = std::time::Instant::now();
    let (out, answered) = join(waiting);
    assert_eq!(out.status, "2", "{out:?}");
    assert_eq!(out.folders, [cal_id.as_str()], "{out:?}");
    assert_prompt(
        answered,
        changed,
        "a grantee's Ping after the owner's change",
    );
    let out = bob.sync1(&SyncColl::new(&cal_id, &key));
    assert_eq!(out.adds.len(), 1, "{:?}", out.raw);
    let key = out.ok_key();

    // A hanging Sync: answered with the change.
    let waiting = hanging_sync_in_background(&bob, &cal_id, &key);
    s.wait_until_waiting(1);
    add(
        &alice,
        ALICE_CALENDAR,
        &akey,
        "a2",
        event("Review", t0, t0 + 600),
    );
    let changed = std::time::Instant::now();
    let (out, answered) = join(waiting);
    let subjects: Vec<_> = out.adds.iter().map(|(_, d)| subject(d)).collect();
    assert_eq!(subjects, vec![Some("Review")], "{:?}", out.raw);
    assert_prompt(
        answered,
        changed,
        "a grantee's hanging Sync after the owner's change",
    );
}

#[test]
fn a_grantee_moves_items_between_shared_folders_only_with_the_rights_and_within_one_account() {
    let s = server();
    let alice = s.device(ALICE, "alicephone");
    let (fkey, _) = alice.folder_sync_ok("0");
    let created = alice.folder_create(&fkey, ALICE_CALENDAR, "Holidays", "13");
    let holidays_of_alice = created
        .text_of(easd::wbxml::tag::folderhierarchy::SERVER_ID)
        .expect("new folder id")
        .to_owned();
    let akey = alice.sync_init(ALICE_CALENDAR);
    let t0 = easd::store::now() + 86_400;
    add(
        &alice,
        ALICE_CALENDAR,
        &akey,
        "a1",
        event("Offsite", t0, t0 + 900),
    );
    share_ok(
        &s,
        share(ALICE, "Calendar", BOB, &[Right::Write, Right::Delete]),
    );
    share_ok(&s, share(ALICE, "Holidays", BOB, &[Right::Write]));
    let (bob, cal_id) = bob_with_alices_calendar(&s);
    let (_, folders) = all_folders(&bob);
    let holidays = named(&folders, "Holidays (Alice)")
        .expect("shown")
        .server_id
        .clone();
    let bobs_calendar = bob.folder_of_type(8);
    let (_, adds) = full_sync(&bob, &cal_id, None);
    let sid = adds[0].0.clone();

    // Forged ids: Status 1 or 2, as for any folder he does not have.
    let forged = (holidays.parse::<u64>().unwrap() + 1000).to_string();
    assert_eq!(bob.move_item(&sid, &forged, &holidays).0, "1");
    assert_eq!(bob.move_item(&sid, &cal_id, "999").0, "2");
    // Out of the shared calendar into his own: between accounts, refused (Status 5).
    assert_eq!(bob.move_item(&sid, &cal_id, &bobs_calendar).0, "5");

    // Calendar (delete) to Holidays (write): moved, named by his id for Holidays.
    let (status, moved) = bob.move_item(&sid, &cal_id, &holidays);
    assert_eq!(status, "3");
    let moved = moved.expect("DstMsgId");
    assert!(moved.starts_with(&format!("{holidays}:")), "{moved}");
    // Back: no delete right in Holidays (Status 5), the event stays there.
    assert_eq!(bob.move_item(&moved, &holidays, &cal_id).0, "5");
    let (_, theirs) = full_sync(&alice, &holidays_of_alice, None);
    let subjects: Vec<_> = theirs.iter().map(|(_, d)| subject(d)).collect();
    assert_eq!(subjects, vec![Some("Offsite")]);
    let (_, left) = full_sync(&alice, ALICE_CALENDAR, None);
    assert!(left.is_empty(), "{left:?}");
}

/// A Mailbox Search for `word`, in these folders (none: all): the Store element, whatever its
/// Status.
fn search_in(c: &EasClient, word: &str, folders: &[&str]) -> easd::wbxml::Element {
    use easd::wbxml::Element;
    use easd::wbxml::tag::search as sr;
    let mut and = Element::new(sr::AND).text_child(sr::FREE_TEXT, word);
    for f in folders {
        and.push_text(air::COLLECTION_ID, *f);
    }
    let r = c.call(
        "Search",
        &Element::new(sr::SEARCH).child(
            Element::new(sr::STORE)
                .text_child(sr::NAME, "Mailbox")
                .child(Element::new(sr::QUERY).child(and)),
        ),
    );
    r.find_path(&[sr::RESPONSE, sr::STORE])
        .unwrap_or_else(|| panic!("no Store in {r:?}"))
        .clone()
}

/// Each result of a Search Store: (LongId, CollectionId, Subject).
fn search_results(store: &easd::wbxml::Element) -> Vec<(String, String, String)> {
    use easd::wbxml::tag::{email, search as sr};
    store
        .find_all(sr::RESULT)
        .map(|r| {
            let text = |e: Option<&str>| e.unwrap_or_default().to_owned();
            (
                text(r.text_of(sr::LONG_ID)),
                text(r.text_of(air::COLLECTION_ID)),
                text(
                    r.find(sr::PROPERTIES)
                        .and_then(|p| p.text_of(email::SUBJECT)),
                ),
            )
        })
        .collect()
}

/// Bob's device with `shared_folders` on, Alice's Inbox shared with him (read), and his id
/// for it.
fn bob_with_alices_inbox(s: &TestServer) -> (EasClient, String) {
    share_ok(s, share(ALICE, "Inbox", BOB, &[]));
    let bob = s.device(BOB, "bobphone");
    reach(s, BOB, "bobphone", true, false);
    let (_, folders) = all_folders(&bob);
    let id = named(&folders, "Inbox (Alice)")
        .unwrap_or_else(|| panic!("no shared inbox in {folders:?}"))
        .server_id
        .clone();
    (bob, id)
}

#[test]
fn search_and_find_reach_a_shared_folder_only_when_named_and_under_the_readers_ids() {
    use crate::directory::find;
    use easd::wbxml::tag::find as fd;
    let s = server();
    s.deliver_text(ALICE, "Budget of Alice", "the quarterly budget");
    s.deliver_text(BOB, "Budget of Bob", "his own budget");
    let (bob, foreign) = bob_with_alices_inbox(&s);
    let own_inbox = bob.folder_of_type(2);

    // "All folders" are his own: Alice's message is not among them.
    let all = search_in(&bob, "budget", &[]);
    assert_eq!(all.text_of(easd::wbxml::tag::search::STATUS), Some("1"));
    let hits = search_results(&all);
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(
        (hits[0].1.as_str(), hits[0].2.as_str()),
        (own_inbox.as_str(), "Budget of Bob")
    );

    // Named by his id, her folder is searched, and the hit is named by his ids.
    let theirs = search_results(&search_in(&bob, "budget", &[&foreign]));
    assert_eq!(theirs.len(), 1, "{theirs:?}");
    let (long_id, collection, subject) = &theirs[0];
    assert_eq!(
        (collection.as_str(), subject.as_str()),
        (foreign.as_str(), "Budget of Alice")
    );
    assert!(long_id.starts_with(&format!("{foreign}:")), "{long_id}");
    // ItemOperations fetches it by that LongId.
    let props = bob.fetch_item(long_id, Some(1));
    assert_eq!(
        props.text_of(easd::wbxml::tag::email::SUBJECT),
        Some("Budget of Alice")
    );
    // Both, named together: newest first, each under the device's id of its folder.
    let both = search_results(&search_in(&bob, "budget", &[&foreign, &own_inbox]));
    let mut folders: Vec<&str> = both.iter().map(|h| h.1.as_str()).collect();
    folders.sort_unstable();
    let mut expected = [own_inbox.as_str(), foreign.as_str()];
    expected.sort_unstable();
    assert_eq!(folders, expected, "{both:?}");

    // Alice's real Inbox id is Bob's own Inbox to him; a forged id, and his id sent by an
    // account it is not Bob's, reach nothing: Status 11 (FolderSyncRequired).
    let forged = (foreign.parse::<u64>().unwrap() + 1).to_string();
    let real = search_results(&search_in(&bob, "budget", &["1"]));
    assert!(real.iter().all(|h| h.2 == "Budget of Bob"), "{real:?}");
    let carol = s.device(CAROL, "carolphone");
    reach(&s, CAROL, "carolphone", true, true);
    for (c, id) in [
        (&bob, forged.as_str()),
        (&carol, foreign.as_str()),
        (&bob, "x"),
    ] {
        let store = search_in(c, "budget", &[id]);
        assert_eq!(
            store.text_of(easd::wbxml::tag::search::STATUS),
            Some("11"),
            "{id}: {store:?}"
        );
        assert!(search_results(&store).is_empty());
    }

    // Find (16.1): the same scope and ids.
    let query = |folder: Option<&str>| {
        let mut q = easd::wbxml::Element::new(fd::QUERY).text_child(fd::FREE_TEXT, "budget");
        if let Some(f) = folder {
            q.push_text(air::COLLECTION_ID, f);
        }
        easd::wbxml::Element::new(fd::MAIL_BOX_SEARCH_CRITERION).child(q)
    };
    let server_ids = |r: &easd::wbxml::Element| -> Vec<String> {
        r.find(fd::RESPONSE)
            .map(|resp| {
                resp.find_all(fd::RESULT)
                    .map(|x| x.text_of(air::SERVER_ID).unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    let r = find(&bob, None, query(None));
    assert_eq!(r.text_of(fd::STATUS), Some("1"), "{r:?}");
    let ids = server_ids(&r);
    assert!(
        ids.len() == 1 && ids[0].starts_with(&format!("{own_inbox}:")),
        "{ids:?}"
    );
    let r = find(&bob, None, query(Some(&foreign)));
    let ids = server_ids(&r);
    assert!(
        ids.len() == 1 && ids[0].starts_with(&format!("{foreign}:")),
        "{ids:?}"
    );
    for (c, id) in [(&bob, forged.as_str()), (&carol, foreign.as_str())] {
        let r = find(c, None, query(Some(id)));
        assert_eq!(r.text_of(fd::STATUS), Some("3"), "{id}: {r:?}");
    }

    // Unshared: his id reaches nothing any more.
    share_ok(&s, unshare(ALICE, "Inbox", BOB));
    let store = search_in(&bob, "budget", &[&foreign]);
    assert_eq!(store.text_of(easd::wbxml::tag::search::STATUS), Some("11"));
}

/// ItemOperations EmptyFolderContents of `folder` (with DeleteSubFolders when asked): its
/// Status.
fn empty_folder(c: &EasClient, folder: &str, subfolders: bool) -> String {
    use easd::wbxml::Element;
    use easd::wbxml::tag::itemoperations as io;
    let mut op = Element::new(io::EMPTY_FOLDER_CONTENTS).text_child(air::COLLECTION_ID, folder);
    if subfolders {
        op.push(Element::new(io::OPTIONS).empty_child(io::DELETE_SUB_FOLDERS));
    }
    let r = c.call(
        "ItemOperations",
        &Element::new(io::ITEM_OPERATIONS).child(op),
    );
    r.find_path(&[io::RESPONSE, io::EMPTY_FOLDER_CONTENTS, io::STATUS])
        .and_then(|e| e.text())
        .unwrap_or_else(|| panic!("no EmptyFolderContents Status in {r:?}"))
        .to_owned()
}

#[test]
fn item_operations_in_a_shared_mail_folder_go_as_far_as_the_rights_and_only_by_the_readers_ids() {
    use easd::wbxml::tag::airsyncbase as asb;
    let s = server();
    s.deliver(
        &[ALICE],
        &message_with_attachment(ALICE, "Contract", "contract.bin", b"signed bytes"),
    );
    s.deliver_text(ALICE, "Minutes", "of the meeting");
    s.deliver_text(BOB, "Mine", "his own");
    let (bob, foreign) = bob_with_alices_inbox(&s);
    let own_inbox = bob.folder_of_type(2);
    let (_, adds) = full_sync(&bob, &foreign, None);
    assert_eq!(adds.len(), 2, "{adds:?}");
    let file_ref = adds
        .iter()
        .find_map(|(_, d)| d.find_path(&[asb::ATTACHMENTS, asb::ATTACHMENT]))
        .and_then(|a| a.text_of(asb::FILE_REFERENCE))
        .expect("FileReference")
        .to_owned();
    // The reference names the folder by Bob's id, and fetches Alice's attachment.
    assert!(file_ref.starts_with(&format!("{foreign}:")), "{file_ref}");
    assert_eq!(
        bob.fetch_attachment(&file_ref),
        ("1".into(), Some(b"signed bytes".to_vec()))
    );
    // The same reference with Alice's real folder id (Bob's own Inbox to him), a forged
    // folder id, or sent by Carol: Status 15, no bytes.
    let rest = file_ref.split_once(':').expect("folder:item:part").1;
    let forged = (foreign.parse::<u64>().unwrap() + 1).to_string();
    let carol = s.device(CAROL, "carolphone");
    reach(&s, CAROL, "carolphone", true, true);
    for (c, r) in [
        (&bob, format!("1:{rest}")),
        (&bob, format!("{forged}:{rest}")),
        (&carol, file_ref.clone()),
    ] {
        assert_eq!(c.fetch_attachment(&r), ("15".into(), None), "{r}");
    }

    // EmptyFolderContents: read only, refused (16); ids he does not reach: 6. Nothing goes.
    assert_eq!(empty_folder(&bob, &foreign, false), "16");
    assert_eq!(empty_folder(&bob, &forged, false), "6");
    assert_eq!(empty_folder(&carol, &foreign, false), "6");
    let alice = s.device(ALICE, "alicephone");
    let alice_inbox = alice.folder_of_type(2);
    assert_eq!(full_sync(&alice, &alice_inbox, None).1.len(), 2);
    // A conversation does not move into her folder: between accounts (16).
    let (_, mine) = full_sync(&bob, &own_inbox, None);
    let conversation = mine[0]
        .1
        .find(easd::wbxml::tag::email2::CONVERSATION_ID)
        .and_then(easd::wbxml::Element::opaque)
        .expect("ConversationId")
        .to_vec();
    assert_eq!(
        crate::mail::move_conversation(&bob, Some(&conversation), &foreign, true).0,
        "16"
    );
    assert_eq!(full_sync(&bob, &own_inbox, None).1.len(), 1);

    // With the delete right: emptied, but not with DeleteSubFolders (her folders are not
    // his to delete). His own Inbox keeps its message.
    share_ok(&s, share(ALICE, "Inbox", BOB, &[Right::Delete]));
    assert_eq!(empty_folder(&bob, &foreign, true), "16");
    assert_eq!(full_sync(&alice, &alice_inbox, None).1.len(), 2);
    assert_eq!(empty_folder(&bob, &foreign, false), "1");
    assert!(full_sync(&alice, &alice_inbox, None).1.is_empty());
    assert_eq!(full_sync(&bob, &own_inbox, None).1.len(), 1);
}

/// A folder command's Status, and the ServerId FolderCreate gives.
fn folder_status(r: &easd::wbxml::Element) -> (String, Option<String>) {
    use easd::wbxml::tag::folderhierarchy as fh;
    (
        r.text_of(fh::STATUS).unwrap_or_default().to_owned(),
        r.text_of(fh::SERVER_ID).map(str::to_owned),
    )
}

#[test]
fn folders_under_a_shared_folder_take_the_create_right_and_the_shared_folder_itself_stays_the_owners()
 {
    let s = server();
    share_ok(
        &s,
        share(ALICE, "Calendar", BOB, &[Right::CreateSubfolders]),
    );
    share_ok(&s, share(ALICE, "Calendar", CAROL, &[]));
    let (bob, cal) = bob_with_alices_calendar(&s);
    let carol = s.device(CAROL, "carolphone");
    reach(&s, CAROL, "carolphone", true, false);
    let (ckey, cfolders) = all_folders(&carol);
    let carol_cal = named(&cfolders, "Calendar (Alice)")
        .expect("shown")
        .server_id
        .clone();
    let alice = s.device(ALICE, "alicephone");
    let alice_names = |c: &EasClient| -> Vec<(String, String)> {
        let mut v: Vec<_> = all_folders(c)
            .1
            .into_iter()
            .map(|f| (f.name, f.parent_id))
            .collect();
        v.sort();
        v
    };
    let before = alice_names(&alice);

    // Carol, read only: no subfolder (Status 3), no rename (2), no delete (3).
    assert_eq!(
        folder_status(&carol.folder_create(&ckey, &carol_cal, "Mine", "13")).0,
        "3"
    );
    assert_eq!(
        folder_status(&carol.folder_update(&ckey, &carol_cal, "0", "Renamed")).0,
        "2"
    );
    assert_eq!(
        folder_status(&carol.folder_delete(&ckey, &carol_cal)).0,
        "3"
    );
    // Bob may create a subfolder, but the shared folder itself is not his either.
    let (key, _) = bob.folder_sync_ok("0");
    assert_eq!(
        folder_status(&bob.folder_update(&key, &cal, "0", "Renamed")).0,
        "2"
    );
    assert_eq!(folder_status(&bob.folder_delete(&key, &cal)).0, "3");
    // Ids he does not reach: not found (4, 5); one of his own into her folder: 3 (between
    // accounts).
    let forged = (cal.parse::<u64>().unwrap() + 1000).to_string();
    assert_eq!(
        folder_status(&bob.folder_create(&key, &forged, "X", "13")).0,
        "5"
    );
    assert_eq!(folder_status(&bob.folder_delete(&key, &forged)).0, "4");
    let created = bob.folder_create(&key, "0", "Own", "13");
    let (status, own) = folder_status(&created);
    assert_eq!(status, "1");
    let key = created
        .text_of(easd::wbxml::tag::folderhierarchy::SYNC_KEY)
        .expect("SyncKey")
        .to_owned();
    let own = own.expect("ServerId");
    // Bob's folder id is no folder of Carol's.
    assert_eq!(folder_status(&carol.folder_delete(&ckey, &own)).0, "4");
    assert_eq!(
        folder_status(&bob.folder_update(&key, &own, &cal, "Own")).0,
        "3"
    );
    assert_eq!(alice_names(&alice), before, "nothing of Alice's changed");

    // Bob creates "Sprint" in her Calendar: hers, shared as the Calendar is, his id for it.
    let created = bob.folder_create(&key, &cal, "Sprint", "13");
    let (status, sprint) = folder_status(&created);
    assert_eq!(status, "1", "{created:?}");
    let sprint = sprint.expect("ServerId");
    let key = created
        .text_of(easd::wbxml::tag::folderhierarchy::SYNC_KEY)
        .expect("SyncKey")
        .to_owned();
    let (_, changes) = bob.folder_sync_ok(&key);
    assert_eq!(
        changes_of(&changes).count,
        0,
        "his own change is not sent back"
    );
    let theirs = all_folders(&alice).1;
    let alice_sprint = named(&theirs, "Sprint").expect("Alice has it");
    assert_eq!(alice_sprint.parent_id, ALICE_CALENDAR);
    assert_ne!(alice_sprint.server_id, sprint, "Bob's id is his own");
    let bobs = all_folders(&bob).1;
    let shown = named(&bobs, "Sprint (Alice)").expect("Bob is shown it");
    assert_eq!(
        (shown.server_id.as_str(), shown.parent_id.as_str()),
        (sprint.as_str(), cal.as_str())
    );
    // Carol reaches it as she reaches the Calendar: read only.
    let (ckey, cfolders) = all_folders(&carol);
    let carol_sprint = named(&cfolders, "Sprint (Alice)").expect("Carol is shown it");
    assert_eq!(carol_sprint.parent_id, carol_cal);
    assert_eq!(
        folder_status(&carol.folder_delete(&ckey, &carol_sprint.server_id)).0,
        "3"
    );

    // Bob renames and deletes the subfolder he may manage.
    let (key, _) = bob.folder_sync_ok("0");
    let renamed = bob.folder_update(&key, &sprint, &cal, "Sprint 2");
    assert_eq!(folder_status(&renamed).0, "1", "{renamed:?}");
    assert!(named(&all_folders(&alice).1, "Sprint 2").is_some());
    let key = renamed
        .text_of(easd::wbxml::tag::folderhierarchy::SYNC_KEY)
        .expect("SyncKey")
        .to_owned();
    assert_eq!(folder_status(&bob.folder_delete(&key, &sprint)).0, "1");
    let theirs = all_folders(&alice).1;
    assert!(named(&theirs, "Sprint 2").is_none(), "{theirs:?}");
    assert!(named(&theirs, "Calendar").is_some());
}
