//! Per-device folder and sync settings over real sockets: what FolderSync announces and what
//! the other commands reach, the mail period, new-device templates on ABQ rules, the
//! validation of `easd device settings` and `easd rule settings`, and `--status refused`.

use crate::govern::*;
use crate::support::*;
use easd::admin::govern::GovRequest;
use easd::admin::reply::{GovReply, Reply};
use easd::govern::abq::Param;
use easd::govern::registry::Filter;
use easd::store::model::Access;
use easd::store::model::{DeviceSettings, GroupwareFolders, MailFolders, Period};
use easd::wbxml::Element;
use easd::wbxml::tag::{
    composemail as cm, email as em, folderhierarchy as fh, getitemestimate as gie, ping as pg,
};

const DAY: i64 = 86_400;

// ---- helpers ----------------------------------------------------------------------------

fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `easd device settings USER/ID KEY=VALUE…`; the settings it answers with.
#[track_caller]
fn set_device(s: &TestServer, user: &str, id: &str, pairs: &[(&str, &str)]) -> DeviceSettings {
    let req = GovRequest::DeviceSettings {
        device: format!("{user}/{id}"),
        values: kv(pairs),
    };
    match gov(s, req.clone()) {
        Reply::Govern(GovReply::Settings { settings, .. }) => settings,
        other => panic!("{req:?} answered {other:?}"),
    }
}

/// `easd rule settings RULE KEY=VALUE…`; (source, settings) as answered.
#[track_caller]
fn set_rule(s: &TestServer, rule: &str, pairs: &[(&str, &str)]) -> (String, DeviceSettings) {
    let req = GovRequest::RuleSettings {
        rule: rule.into(),
        values: kv(pairs),
        clear: false,
    };
    match gov(s, req.clone()) {
        Reply::Govern(GovReply::Settings {
            source, settings, ..
        }) => (source, settings),
        other => panic!("{req:?} answered {other:?}"),
    }
}

/// The folders a FolderSync from key 0 announces: (name, ServerId, Type).
fn announced(c: &EasClient) -> Vec<(String, String, u8)> {
    announced_with_key(c).1
}

/// [`announced`] and the key of that FolderSync.
fn announced_with_key(c: &EasClient) -> (String, Vec<(String, String, u8)>) {
    let (key, r) = c.folder_sync_ok("0");
    let folders = changes_of(&r)
        .adds
        .into_iter()
        .map(|f| (f.name, f.server_id, f.kind))
        .collect();
    (key, folders)
}

fn names(folders: &[(String, String, u8)]) -> Vec<&str> {
    folders.iter().map(|(n, _, _)| n.as_str()).collect()
}

/// Creates a folder of `kind` at the top of `c`'s hierarchy; its ServerId and the new key.
fn create(c: &EasClient, key: &str, name: &str, kind: &str) -> (String, String) {
    let r = c.folder_create(key, "0", name, kind);
    assert_eq!(r.text_of(fh::STATUS), Some("1"), "{r:?}");
    (
        text(&r, fh::SERVER_ID).to_owned(),
        text(&r, fh::SYNC_KEY).to_owned(),
    )
}

/// The GetItemEstimate Status for a collection.
fn estimate_status(c: &EasClient, folder: &str) -> String {
    let coll = Element::new(gie::COLLECTION)
        .text_child(easd::wbxml::tag::airsync::SYNC_KEY, "1")
        .text_child(gie::COLLECTION_ID, folder);
    let r = c.call(
        "GetItemEstimate",
        &Element::new(gie::GET_ITEM_ESTIMATE).child(Element::new(gie::COLLECTIONS).child(coll)),
    );
    text(r.find(gie::RESPONSE).expect("Response"), gie::STATUS).to_owned()
}

/// The Ping Status for one folder (a folder it does not have answers at once).
fn ping_status(c: &EasClient, folder: &str) -> String {
    let r = c.call(
        "Ping",
        &Element::new(pg::PING)
            .text_child(pg::HEARTBEAT_INTERVAL, "60")
            .child(
                Element::new(pg::FOLDERS).child(
                    Element::new(pg::FOLDER)
                        .text_child(pg::ID, folder)
                        .text_child(pg::CLASS, "Email"),
                ),
            ),
    );
    text(&r, pg::STATUS).to_owned()
}

/// Every Add of the Inbox from key 0, with FilterType `filter` when given.
fn inbox_subjects(c: &EasClient, filter: Option<u8>) -> Vec<String> {
    let inbox = c.folder_of_type(INBOX);
    let mut coll = SyncColl::new(&inbox, &c.sync_init(&inbox)).window(512);
    coll.filter = filter;
    let mut v: Vec<String> = c
        .sync_all(coll)
        .1
        .iter()
        .map(|(_, d)| text(d, em::SUBJECT).to_owned())
        .collect();
    v.sort_unstable();
    v
}

// ---- folders ------------------------------------------------------------------------------

#[test]
fn mail_folders_default_hides_user_mail_folders_until_widened() {
    let s = server();
    let c = s.device(ALICE, "PHONE");
    s.deliver_text(ALICE, "Hello", "x");
    let inbox = c.folder_of_type(INBOX);
    let ik = c.sync_init(&inbox);
    let (_, adds) = c.sync_all(SyncColl::new(&inbox, &ik).window(512));
    let hello = adds[0].0.clone();
    let (k, _) = c.folder_sync_ok("0");
    let (projects, k) = create(&c, &k, "Projects", "12");

    let narrowed = set_device(&s, ALICE, "PHONE", &[("mail_folders", "default")]);
    assert_eq!(narrowed.mail_folders, MailFolders::Default);
    // The next FolderSync takes the folder away, and only it.
    let (_, r) = c.folder_sync_ok(&k);
    let changes = changes_of(&r);
    assert_eq!(changes.deletes, std::slice::from_ref(&projects), "{r:?}");
    assert!(changes.adds.is_empty(), "{r:?}");
    // The default mail folders stay, Junk E-Mail (a Type 12 default folder) included.
    let (k, shown) = announced_with_key(&c);
    assert!(!names(&shown).contains(&"Projects"), "{shown:?}");
    for name in ["Inbox", "Sent Items", "Junk E-Mail", "Calendar"] {
        assert!(names(&shown).contains(&name), "{name} in {shown:?}");
    }
    // Every command treats it as a folder the device does not have.
    assert_eq!(c.sync1(&SyncColl::new(&projects, "0")).status, "12");
    assert_eq!(estimate_status(&c, &projects), "2");
    assert_eq!(ping_status(&c, &projects), "7");
    assert_eq!(c.move_item(&hello, &inbox, &projects).0, "2");
    let r = c.folder_update(&k, &projects, "0", "Renamed");
    assert_eq!(r.text_of(fh::STATUS), Some("4"), "{r:?}");
    let r = c.folder_create(&k, &projects, "Below", "12");
    assert_eq!(r.text_of(fh::STATUS), Some("5"), "{r:?}");

    // Widened again: it comes back as an Add.
    set_device(&s, ALICE, "PHONE", &[("mail_folders", "all")]);
    let (_, r) = c.folder_sync_ok(&k);
    let changes = changes_of(&r);
    assert_eq!(changes.adds.len(), 1, "{r:?}");
    assert_eq!(changes.adds[0].server_id, projects);
    assert_eq!(c.sync1(&SyncColl::new(&projects, "0")).status, "1");
    let (status, moved) = c.move_item(&hello, &inbox, &projects);
    assert_eq!(status, "3");
    let moved = moved.expect("DstMsgId");
    assert_eq!(fetch_status(&c, &moved), "1");
    // Narrowed again, the message is out of reach with its folder.
    set_device(&s, ALICE, "PHONE", &[("mail_folders", "default")]);
    assert_eq!(fetch_status(&c, &moved), "6");
    let mut forward = Element::new(cm::SMART_FORWARD)
        .text_child(cm::CLIENT_ID, unique_token())
        .child(
            Element::new(cm::SOURCE)
                .text_child(cm::FOLDER_ID, projects.as_str())
                .text_child(cm::ITEM_ID, moved.as_str()),
        );
    forward.push_opaque(cm::MIME, text_message(ALICE, BOB, "FW: Hello", "x"));
    let r = c.post("SmartForward", Some(&forward));
    assert_eq!(text(&r.wbxml(), cm::STATUS), "150", "{:?}", r.wbxml());
}

#[test]
fn groupware_folders_default_hides_user_calendars_and_all_as_mail_types_them_12() {
    let s = server();
    let c = s.device(ALICE, "PHONE");
    let (k, _) = c.folder_sync_ok("0");
    let (team, _) = create(&c, &k, "Team", "13");
    // Another device of the same account keeps the defaults.
    let other = s.device(ALICE, "OTHER");

    set_device(&s, ALICE, "PHONE", &[("groupware_folders", "default")]);
    let shown = announced(&c);
    assert!(!names(&shown).contains(&"Team"), "{shown:?}");
    assert!(names(&shown).contains(&"Calendar"), "{shown:?}");
    assert_eq!(c.sync1(&SyncColl::new(&team, "0")).status, "12");
    assert!(names(&announced(&other)).contains(&"Team"));

    set_device(&s, ALICE, "PHONE", &[("groupware_folders", "all-as-mail")]);
    let shown = announced(&c);
    for name in ["Calendar", "Contacts", "Tasks", "Notes", "Team"] {
        let kind = shown.iter().find(|(n, _, _)| n == name).map(|f| f.2);
        assert_eq!(kind, Some(12), "{name} in {shown:?}");
    }
    let inbox = shown.iter().find(|(n, _, _)| n == "Inbox").map(|f| f.2);
    assert_eq!(inbox, Some(2));
    let calendar = announced(&other)
        .into_iter()
        .find(|(n, _, _)| n == "Calendar")
        .map(|f| f.2);
    assert_eq!(calendar, Some(8));
}

// ---- mail period --------------------------------------------------------------------------

#[test]
fn mail_period_caps_the_filter_type_with_the_policy_the_stricter() {
    let mut s = server();
    s.deliver_text(ALICE, "today", "x");
    s.store_in_the_past(
        ALICE,
        &[
            (text_message("a@b.test", ALICE, "two days", "x"), 2 * DAY),
            (text_message("a@b.test", ALICE, "five days", "x"), 5 * DAY),
            (text_message("a@b.test", ALICE, "ten days", "x"), 10 * DAY),
        ],
    );
    let free = s.device(ALICE, "FREE");
    assert_eq!(
        inbox_subjects(&free, None),
        ["five days", "ten days", "today", "two days"]
    );

    // Set before the device's first command admits it: admission keeps what the admin set.
    let capped = s.device(ALICE, "CAPPED");
    let capped_to = set_device(&s, ALICE, "CAPPED", &[("mail_period", "1w")]);
    assert_eq!(capped_to.mail_period, Some(Period::OneWeek));
    // No FilterType, and "all" (0): the week the setting allows.
    let week = ["five days", "today", "two days"];
    assert_eq!(inbox_subjects(&capped, None), week);
    assert_eq!(inbox_subjects(&capped, Some(0)), week);
    // A narrower window than the setting's is kept.
    assert_eq!(inbox_subjects(&capped, Some(1)), ["today"]);
    assert_eq!(
        inbox_subjects(&free, Some(0)),
        ["five days", "ten days", "today", "two days"]
    );

    // With MaxEmailAgeFilter too, the stricter of the two wins.
    set(&s, &format!("user:{ALICE}"), &[("MaxEmailAgeFilter", "2")]);
    let mut capped = capped;
    capped.provision();
    assert_eq!(inbox_subjects(&capped, Some(0)), ["today", "two days"]);
    set(&s, &format!("user:{ALICE}"), &[("MaxEmailAgeFilter", "4")]);
    capped.provision();
    assert_eq!(inbox_subjects(&capped, Some(0)), week);
}

// ---- new-device templates -----------------------------------------------------------------

#[test]
fn rules_give_new_devices_their_template_or_the_global_one() {
    let s = server();
    let ios = add_rule(&s, Param::Os, "iOS", Access::Allow, true);
    // No template yet: what the rule gives is the built-in defaults.
    let (source, shown) = set_rule(&s, &ios.to_string(), &[]);
    assert!(source.contains("built-in"), "{source}");
    assert_eq!(shown, DeviceSettings::default());

    let (source, _) = set_rule(&s, &ios.to_string(), &[("mail_folders", "default")]);
    assert_eq!(source, "own template");
    set_rule(&s, "global", &[("groupware_folders", "default")]);
    gov_ok(
        &s,
        GovRequest::RuleUser {
            email: BOB.into(),
            action: Some(Access::Allow),
        },
    );
    // A rule without its own template shows (and starts from) the global one.
    let (source, shown) = set_rule(&s, &format!("user:{BOB}"), &[]);
    assert!(source.contains("global"), "{source}");
    assert_eq!(shown.groupware_folders, GroupwareFolders::Default);
    set_rule(&s, &format!("user:{BOB}"), &[("archive", "on")]);
    gov_ok(
        &s,
        GovRequest::RuleDomain {
            domain: "example.com".into(),
            action: Some(Access::Allow),
        },
    );
    set_rule(&s, "domain:example.com", &[("mail_period", "2w")]);

    for (user, id, os) in [
        (ALICE, "IPHONE", "iOS 17.4"),
        (ALICE, "ANDROID", "Android 14"),
        (BOB, "BOBS", "iOS 17.4"),
    ] {
        assert_eq!(admitted(&s, &phone(&s, user, id, os, "M")), Access::Allow);
    }
    // The domain rule comes before server rules: alice's devices get its template (which
    // started from the global one's, as it showed before it had its own).
    for id in ["IPHONE", "ANDROID"] {
        let got = one_device(&s, ALICE, id).settings;
        assert_eq!(got.mail_period, Some(Period::TwoWeeks));
        assert_eq!(got.groupware_folders, GroupwareFolders::Default);
    }
    gov_ok(
        &s,
        GovRequest::RuleDomain {
            domain: "example.com".into(),
            action: None,
        },
    );
    let iphone2 = phone(&s, ALICE, "IPHONE2", "iOS 17.4", "iPhone");
    let android2 = phone(&s, ALICE, "ANDROID2", "Android 14", "Pixel");
    admitted(&s, &iphone2);
    admitted(&s, &android2);
    let by_os = one_device(&s, ALICE, "IPHONE2").settings;
    assert_eq!(
        (by_os.mail_folders, by_os.groupware_folders),
        (MailFolders::Default, GroupwareFolders::All)
    );
    let by_global = one_device(&s, ALICE, "ANDROID2").settings;
    assert_eq!(
        (by_global.mail_folders, by_global.groupware_folders),
        (MailFolders::All, GroupwareFolders::Default)
    );
    let bob = one_device(&s, BOB, "BOBS").settings;
    assert!(bob.archive);
    assert_eq!(bob.groupware_folders, GroupwareFolders::Default);
    // A template copied at admission has its effect at once.
    let (k, _) = android2.folder_sync_ok("0");
    create(&android2, &k, "Shared work", "12");
    assert!(!names(&announced(&iphone2)).contains(&"Shared work"));
    assert!(names(&announced(&android2)).contains(&"Shared work"));

    // Later edits of a template leave admitted devices alone.
    set_rule(&s, &ios.to_string(), &[("mail_folders", "all")]);
    set_rule(&s, "global", &[("groupware_folders", "all")]);
    assert_eq!(one_device(&s, ALICE, "IPHONE2").settings, by_os);
    assert_eq!(one_device(&s, ALICE, "ANDROID2").settings, by_global);

    // The templates in `easd rule list --json`; removing a user rule removes its template.
    let out = cli(&s, &["rule", "list", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let rules: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(rules["server"][0]["settings"]["mail_folders"], "all");
    assert_eq!(rules["global_settings"]["groupware_folders"], "all");
    assert_eq!(rules["user_settings"][BOB]["archive"], true);
    gov_ok(
        &s,
        GovRequest::RuleUser {
            email: BOB.into(),
            action: None,
        },
    );
    let out = cli(&s, &["rule", "list", "--json"]);
    let rules: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(rules["user_settings"].get(BOB).is_none(), "{rules}");
    // --clear: the rule gives the global template again.
    let cleared = gov(
        &s,
        GovRequest::RuleSettings {
            rule: ios.to_string(),
            values: Vec::new(),
            clear: true,
        },
    );
    assert!(
        matches!(&cleared, Reply::Govern(GovReply::Settings { source, .. }) if source.contains("global")),
        "{cleared:?}"
    );
}

// ---- validation ---------------------------------------------------------------------------

#[test]
fn invalid_settings_are_refused_with_a_clear_message_and_change_nothing() {
    let s = server();
    let c = s.device(ALICE, "PHONE");
    let (k, _) = c.folder_sync_ok("0");
    let (projects, k) = create(&c, &k, "Projects", "12");
    let (team, _) = create(&c, &k, "Team", "13");
    // Bob has more folders than alice: his last one's id is not one of hers.
    let b = s.device(BOB, "BPHONE");
    let (bk, _) = b.folder_sync_ok("0");
    let (_, bk) = create(&b, &bk, "One", "13");
    let (_, bk) = create(&b, &bk, "Two", "13");
    let (bobs, _) = create(&b, &bk, "Three", "13");
    let show = GovRequest::DeviceSettings {
        device: format!("{ALICE}/PHONE"),
        values: Vec::new(),
    };
    let refused = |pairs: &[(&str, &str)]| {
        gov_err(
            &s,
            GovRequest::DeviceSettings {
                device: format!("{ALICE}/PHONE"),
                values: kv(pairs),
            },
        )
    };
    let e = refused(&[("mail_folders", "default"), ("mail_foldrs", "all")]);
    assert!(e.contains("unknown device setting \"mail_foldrs\""), "{e}");
    let e = refused(&[("mail_folders", "some")]);
    assert!(
        e.contains("mail_folders=some") && e.contains("default"),
        "{e}"
    );
    let e = refused(&[("calendar_period", "1d")]);
    assert!(e.contains("2w, 1m, 3m or 6m"), "{e}");
    let e = refused(&[("mail_folders", "default"), ("tasks_calendar", &projects)]);
    assert!(e.contains("\"Projects\" is not a calendar folder"), "{e}");
    let e = refused(&[("tasks_calendar", &bobs)]);
    assert!(e.contains("has no folder"), "{e}");
    let e = refused(&[("notes_as", "tasks"), ("notes_folder", &team)]);
    assert!(e.contains("not a tasks folder"), "{e}");
    match gov(&s, show) {
        Reply::Govern(GovReply::Settings { settings, .. }) => {
            assert_eq!(settings, DeviceSettings::default())
        }
        other => panic!("{other:?}"),
    }
    // The CLI says why and fails.
    let out = cli(
        &s,
        &[
            "device",
            "settings",
            &format!("{ALICE}/PHONE"),
            "archive=yes",
        ],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("archive=yes: expected on or off"),
        "{out:?}"
    );
    // Folders of the right kind and account are accepted.
    let ok = set_device(
        &s,
        ALICE,
        "PHONE",
        &[
            ("tasks_as_events", "not-completed"),
            ("tasks_calendar", &team),
            ("notes_as", "events"),
            ("notes_folder", &team),
        ],
    );
    assert_eq!(ok.tasks_calendar, team.parse().ok());

    // Rule templates: no folder ids, and the rule must exist.
    let e = gov_err(
        &s,
        GovRequest::RuleSettings {
            rule: "global".into(),
            values: kv(&[("tasks_calendar", "7")]),
            clear: false,
        },
    );
    assert!(e.contains("names no folder"), "{e}");
    let e = gov_err(
        &s,
        GovRequest::RuleSettings {
            rule: format!("user:{BOB}"),
            values: kv(&[("archive", "on")]),
            clear: false,
        },
    );
    assert!(e.contains("no user rule"), "{e}");
    let e = gov_err(
        &s,
        GovRequest::RuleSettings {
            rule: "42".into(),
            values: Vec::new(),
            clear: false,
        },
    );
    assert!(e.contains("no rule 42"), "{e}");
    let (_, global) = set_rule(&s, "global", &[]);
    assert_eq!(global, DeviceSettings::default());
}

// ---- durability ---------------------------------------------------------------------------

#[test]
fn settings_survive_a_restart() {
    let mut s = server();
    let c = s.device(ALICE, "PHONE");
    let (k, _) = c.folder_sync_ok("0");
    create(&c, &k, "Projects", "12");
    let stored = set_device(
        &s,
        ALICE,
        "PHONE",
        &[("mail_folders", "default"), ("archive", "on")],
    );
    set_rule(&s, "global", &[("mail_period", "3m")]);
    s.restart();
    assert_eq!(one_device(&s, ALICE, "PHONE").settings, stored);
    assert!(!names(&announced(&c)).contains(&"Projects"));
    let (_, global) = set_rule(&s, "global", &[]);
    assert_eq!(global.mail_period, Some(Period::ThreeMonths));
    // `easd device show --json` and `device list --json` carry them.
    let out = cli(&s, &["device", "show", &format!("{ALICE}/PHONE"), "--json"]);
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(shown[0]["settings"]["mail_folders"], "default");
    let out = cli(&s, &["device", "list", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(listed[0]["settings"]["archive"], true);
}

// ---- device list --status refused ---------------------------------------------------------

#[test]
fn status_refused_lists_devices_refused_for_their_policy_standing() {
    let s = server();
    let refused = |s: &TestServer| -> Vec<String> {
        let out = cli(s, &["device", "list", "--status", "refused", "--json"]);
        assert!(out.status.success(), "{out:?}");
        let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        list.as_array()
            .expect("array")
            .iter()
            .map(|d| d["device_id"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    // A device that sends no policy key, and one that provisions.
    s.eas(ALICE, "NOKEY").folder_sync_ok("0");
    s.device(ALICE, "GOOD").folder_sync_ok("0");
    assert!(refused(&s).is_empty());
    set(&s, "server", &[("AllowNonProvisionableDevices", "0")]);
    assert_eq!(refused(&s), ["NOKEY"]);
    let all = devices(&s, Filter::default());
    assert_eq!(all.len(), 2, "{all:?}");
}
