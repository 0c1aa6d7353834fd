//! Device governance over real sockets: the device registry and its CLI, ABQ rules and the
//! device gate, quarantine, remote wipe, device deletion. Security policies are in
//! `policy`.

use crate::govern::*;
use crate::support::*;
use easd::admin::govern::GovRequest;
use easd::govern::abq::Param;
use easd::govern::registry::Filter;
use easd::store::model::Access;
use easd::wbxml::Element;
use easd::wbxml::tag::{email as em, folderhierarchy as fh, provision as pv, settings as st};

// ---- device registry ----------------------------------------------------------------------

#[test]
fn device_list_json_show_and_model_from_the_user_agent() {
    let s = server();
    let mut c = s.eas(ALICE, "UAPHONE");
    let ua = [("User-Agent", "Apple-iPhone15C2/2104.181".to_owned())];
    let q = c.query("FolderSync", None);
    c.post_raw(&q, &ua, Vec::new()).expect_status(200);
    c.provision();
    // Every request refreshes the User-Agent; the latest one counts.
    let q = c.query("FolderSync", None);
    c.post_raw(&q, &ua, Vec::new()).expect_status(200);
    phone(&s, BOB, "PIXEL", "Android 14", "Pixel 8").folder_sync_ok("0");

    let out = cli(&s, &["device", "list", "--user", ALICE, "--json"]);
    assert!(out.status.success(), "{out:?}");
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let list = list.as_array().expect("array");
    assert_eq!(list.len(), 1, "{list:?}");
    let d = &list[0];
    for key in [
        "user",
        "device_id",
        "type",
        "model",
        "os",
        "protocol",
        "abq",
        "wipe",
        "first_seen",
        "last_sync",
    ] {
        assert!(d.get(key).is_some(), "no {key} in {d}");
    }
    assert_eq!(d["user"], ALICE);
    assert_eq!(d["device_id"], "UAPHONE");
    assert_eq!(d["type"], "TestDevice");
    assert_eq!(d["model"], "iPhone15C2");
    assert_eq!(d["os"], "iOS 2104.181");
    assert_eq!(d["protocol"], "16.1");
    assert_eq!(d["abq"], "allow");
    assert_eq!(d["wipe"], "none");

    // DeviceInformation wins over the User-Agent; the filters.
    let all = devices(&s, Filter::default());
    assert_eq!(all.len(), 2);
    let by = |f: Filter| devices(&s, f).len();
    let f = Filter::default;
    assert_eq!(
        by(Filter {
            os: Some("Android 14".into()),
            ..f()
        }),
        1
    );
    assert_eq!(
        by(Filter {
            model: Some("Pixel 8".into()),
            ..f()
        }),
        1
    );
    assert_eq!(
        by(Filter {
            domain: Some("other.org".into()),
            ..f()
        }),
        1
    );
    assert_eq!(
        by(Filter {
            protocol: Some("14.1".into()),
            ..f()
        }),
        0
    );
    assert_eq!(
        by(Filter {
            status: Some("block".into()),
            ..f()
        }),
        0
    );
    assert_eq!(
        by(Filter {
            status: Some("allow".into()),
            ..f()
        }),
        2
    );
    assert_eq!(
        by(Filter {
            device_type: Some("TestDevice".into()),
            ..f()
        }),
        2
    );

    let show = cli(&s, &["device", "show", &format!("{BOB}/PIXEL")]);
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(text.contains("model: Pixel 8"), "{text}");
    assert!(text.contains("abq_source: global rule"), "{text}");

    // Error paths: a bad name, an unknown device, an unknown account.
    let bad = cli(&s, &["device", "show", "PIXEL"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("EMAIL/DEVICEID"));
    let e = gov_err(
        &s,
        GovRequest::DeviceShow {
            device: format!("{ALICE}/NOPE"),
        },
    );
    assert!(e.contains("no device NOPE"), "{e}");
    let e = gov_err(
        &s,
        GovRequest::DeviceDelete {
            device: "x@nowhere.org/A".into(),
        },
    );
    assert!(e.contains("no account"), "{e}");
}

#[test]
fn delete_device_forces_a_full_resync_of_that_device_only() {
    let s = server();
    let mut a = s.eas(ALICE, "DEVA");
    a.provision();
    let mut b = s.eas(ALICE, "DEVB");
    b.provision();
    let inbox = a.folder_of_type(INBOX);
    let (fa, _) = a.folder_sync_ok("0");
    let (fb, _) = b.folder_sync_ok("0");
    let ka = a.sync_init(&inbox);
    let kb = b.sync_init(&inbox);

    let out = cli(&s, &["device", "delete", &format!("{ALICE}/DEVA")]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(devices(&s, Filter::default()).len(), 1);

    // A's key is unknown now: provision again, then FolderSync 9 and Sync 3.
    let r = folder_sync_status(&a);
    assert_eq!(r.wbxml().text_of(fh::STATUS), Some("144"));
    a.provision();
    assert_eq!(a.folder_sync(&fa).text_of(fh::STATUS), Some("9"));
    assert_eq!(a.sync1(&SyncColl::new(&inbox, &ka)).status, "3");
    // B goes on with its keys.
    assert_eq!(b.folder_sync(&fb).text_of(fh::STATUS), Some("1"));
    assert_eq!(b.sync1(&SyncColl::new(&inbox, &kb)).status, "1");
}

// ---- ABQ rules ----------------------------------------------------------------------------

#[test]
fn rules_apply_in_order_user_domain_os_model_type_global() {
    let s = server();
    gov_ok(
        &s,
        GovRequest::RuleGlobal {
            action: Access::Quarantine,
        },
    );
    add_rule(&s, Param::Type, "Test", Access::Block, true);
    add_rule(&s, Param::Model, "Pixel", Access::Allow, true);
    add_rule(&s, Param::Os, "Android", Access::Quarantine, true);

    // OS beats Model beats Type beats global.
    let c = phone(&s, ALICE, "D1", "Android 14", "Pixel 8");
    assert_eq!(admitted(&s, &c), Access::Quarantine);
    assert_eq!(one_device(&s, ALICE, "D1").abq_source, "rule 3");
    let c = phone(&s, ALICE, "D2", "Sailfish", "Pixel 8");
    assert_eq!(admitted(&s, &c), Access::Allow);
    let c = phone(&s, ALICE, "D3", "Sailfish", "Jolla");
    assert_eq!(admitted(&s, &c), Access::Block);
    let mut other = s.eas(ALICE, "D4");
    other.device_type = "Other".into();
    introduce(&other, "Sailfish", "Jolla");
    other.provision();
    assert_eq!(admitted(&s, &other), Access::Quarantine);
    assert_eq!(one_device(&s, ALICE, "D4").abq_source, "global rule");

    // The domain rule beats the server rules; the user rule beats the domain rule.
    gov_ok(
        &s,
        GovRequest::RuleDomain {
            domain: "example.com".into(),
            action: Some(Access::Block),
        },
    );
    let c = phone(&s, ALICE, "D5", "Android 14", "Pixel 8");
    assert_eq!(admitted(&s, &c), Access::Block);
    gov_ok(
        &s,
        GovRequest::RuleUser {
            email: ALICE.into(),
            action: Some(Access::Allow),
        },
    );
    let c = phone(&s, ALICE, "D6", "Android 14", "Pixel 8");
    assert_eq!(admitted(&s, &c), Access::Allow);
    // Another account of the domain still meets the domain rule; `none` removes rules.
    gov_ok(
        &s,
        GovRequest::RuleUser {
            email: ALICE.into(),
            action: None,
        },
    );
    let c = phone(&s, ALICE, "D7", "Sailfish", "Pixel 8");
    assert_eq!(admitted(&s, &c), Access::Block);
    gov_ok(
        &s,
        GovRequest::RuleDomain {
            domain: "example.com".into(),
            action: None,
        },
    );
    let c = phone(&s, ALICE, "D8", "Sailfish", "Pixel 8");
    assert_eq!(admitted(&s, &c), Access::Allow);

    // Rules are evaluated once: a later rule does not change an admitted device.
    gov_ok(
        &s,
        GovRequest::RuleGlobal {
            action: Access::Block,
        },
    );
    assert_eq!(admitted(&s, &other), Access::Quarantine);
    // Error paths.
    let e = gov_err(
        &s,
        GovRequest::RuleUser {
            email: "nobody@example.com".into(),
            action: None,
        },
    );
    assert!(e.contains("no account"), "{e}");
    let e = gov_err(&s, GovRequest::RuleDel { id: 99 });
    assert!(e.contains("no rule 99"), "{e}");
}

#[test]
fn prefix_matching_longest_wins_case_sensitive_disabled_ignored() {
    let s = server();
    add_rule(&s, Param::Os, "A", Access::Block, true);
    let andro = add_rule(&s, Param::Os, "Andro", Access::Quarantine, true);
    add_rule(&s, Param::Os, "android", Access::Allow, true);
    add_rule(&s, Param::Os, "Android 1", Access::Allow, false);

    let c = phone(&s, ALICE, "P1", "Android 14", "m");
    assert_eq!(admitted(&s, &c), Access::Quarantine);
    assert_eq!(
        one_device(&s, ALICE, "P1").abq_source,
        format!("rule {andro}")
    );
    let c = phone(&s, ALICE, "P2", "Amiga", "m");
    assert_eq!(admitted(&s, &c), Access::Block);
    // "android" matches nothing of "Android": case-sensitive; nothing of "BeOS" at all.
    let c = phone(&s, ALICE, "P3", "BeOS", "m");
    assert_eq!(admitted(&s, &c), Access::Allow);
    // Disabling "Andro" lets the shorter "A" win; enabling "Android 1" makes it win.
    gov_ok(
        &s,
        GovRequest::RuleSetEnabled {
            id: andro,
            enabled: false,
        },
    );
    let c = phone(&s, ALICE, "P4", "Android 14", "m");
    assert_eq!(admitted(&s, &c), Access::Block);
    gov_ok(
        &s,
        GovRequest::RuleSetEnabled {
            id: 4,
            enabled: true,
        },
    );
    let c = phone(&s, ALICE, "P5", "Android 14", "m");
    assert_eq!(admitted(&s, &c), Access::Allow);
    // CLI: add prints the id; a rule for similar devices takes the device's model.
    let out = cli(
        &s,
        &[
            "rule",
            "add",
            "--param",
            "model",
            "--from-device",
            &format!("{ALICE}/P5"),
            "--action",
            "block",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "5");
    let c = phone(&s, BOB, "P6", "BeOS", "m");
    assert_eq!(admitted(&s, &c), Access::Block);
    let out = cli(&s, &["rule", "add", "--param", "os", "--action", "block"]);
    assert!(!out.status.success());
}

#[test]
fn block_is_403_for_every_command_and_direct_choices_override_rules() {
    let s = server();
    add_rule(&s, Param::Model, "Bad", Access::Block, true);
    let c = phone(&s, ALICE, "BAD1", "X", "BadPhone");
    assert_eq!(admitted(&s, &c), Access::Block);
    let settings = Element::new(st::SETTINGS)
        .child(Element::new(st::USER_INFORMATION).child(Element::new(st::GET)));
    for (cmd, body) in [
        (
            "FolderSync",
            Some(Element::new(fh::FOLDER_SYNC).text_child(fh::SYNC_KEY, "0")),
        ),
        ("Sync", None),
        ("Ping", None),
        ("Settings", Some(settings.clone())),
        ("Provision", None),
    ] {
        let r = c.post(cmd, body.as_ref());
        r.expect_status(403);
        assert_eq!(body_status(&r), Some("129".into()), "{cmd}");
    }
    // 12.1: plain 403.
    let old = c.clone().with_version("12.1");
    old.post("FolderSync", None).expect_status(403);

    // A direct allow overrides the rule at the next request …
    gov_ok(
        &s,
        GovRequest::DeviceAccess {
            device: format!("{ALICE}/BAD1"),
            access: Access::Allow,
        },
    );
    c.folder_sync_ok("0");
    assert_eq!(one_device(&s, ALICE, "BAD1").abq_source, "direct");
    // … and a direct block overrides an allowing rule.
    let mut good = s.eas(ALICE, "GOOD");
    good.provision();
    good.folder_sync_ok("0");
    let out = cli(&s, &["device", "block", &format!("{ALICE}/GOOD")]);
    assert!(out.status.success(), "{out:?}");
    folder_sync_status(&good).expect_status(403);
    let e = gov_err(
        &s,
        GovRequest::DeviceAccess {
            device: format!("{ALICE}/GOOD"),
            access: Access::Quarantine,
        },
    );
    assert!(e.contains("quarantine comes from the rules"), "{e}");
}

/// The Status of a status-only body (`<Root><Status>`), whatever its namespace.
fn body_status(r: &Resp) -> Option<String> {
    r.wbxml().elements().next()?.text().map(str::to_owned)
}

#[test]
fn quarantine_default_folders_only_client_changes_in_one_mail_then_allow() {
    let s = server();
    // A user folder and a message, seen by an allowed device first.
    let mut seen = s.eas(ALICE, "SEEN");
    seen.provision();
    let (fk, _) = seen.folder_sync_ok("0");
    let r = seen.folder_create(&fk, "0", "Projects", "12");
    assert_eq!(r.text_of(fh::STATUS), Some("1"));
    s.deliver_text(ALICE, "Hello there", "body");

    gov_ok(
        &s,
        GovRequest::RuleGlobal {
            action: Access::Quarantine,
        },
    );
    let q = phone(&s, ALICE, "QUAR", "X", "Y");
    let (_, r) = q.folder_sync_ok("0");
    let names: Vec<String> = changes_of(&r).adds.into_iter().map(|f| f.name).collect();
    assert!(!names.contains(&"Projects".to_owned()), "{names:?}");
    assert!(names.contains(&"Inbox".to_owned()), "{names:?}");
    assert_eq!(one_device(&s, ALICE, "QUAR").abq, Access::Quarantine);

    // Nothing flows to the device; its own change is accepted.
    let inbox = q.folder_of_type(INBOX);
    let k = q.sync_init(&inbox);
    let seen_inbox = seen.folder_of_type(INBOX);
    let sk = seen.sync_init(&seen_inbox);
    let (sk, adds) = seen.sync_all(SyncColl::new(&seen_inbox, &sk).window(512));
    let hello = adds
        .iter()
        .find(|(_, d)| d.text_of(em::SUBJECT) == Some("Hello there"))
        .expect("Hello there")
        .0
        .clone();
    let out = q.sync1(&SyncColl::new(&inbox, &k).mark_read(&hello, true));
    let k = out.ok_key();
    assert!(out.adds.is_empty(), "{:?}", out.raw);
    let changed = seen.sync1(&SyncColl::new(&seen_inbox, &sk).window(512));
    assert_eq!(changed.changes.len(), 1, "{:?}", changed.raw);
    // A user folder is out of reach.
    let projects = changes_of(&seen.folder_sync_ok("0").1)
        .adds
        .into_iter()
        .find(|f| f.name == "Projects")
        .expect("Projects")
        .server_id;
    assert_eq!(q.sync1(&SyncColl::new(&projects, "0")).status, "12");
    // More requests, still one notice.
    q.folder_sync_ok("0");
    gov_ok(
        &s,
        GovRequest::RuleGlobal {
            action: Access::Allow,
        },
    );
    let subjects = inbox_subjects(&s, ALICE, "READER");
    let notices = subjects
        .iter()
        .filter(|s| s.contains("quarantined"))
        .count();
    assert_eq!(notices, 1, "{subjects:?}");

    // Withheld while quarantined, delivered once allowed.
    s.deliver_text(ALICE, "During quarantine", "body");
    let out = q.sync1(&SyncColl::new(&inbox, &k).window(512));
    let k = out.ok_key();
    assert!(out.adds.is_empty(), "{:?}", out.raw);

    // The admin allows it: at its next request everything flows.
    gov_ok(
        &s,
        GovRequest::DeviceAccess {
            device: format!("{ALICE}/QUAR"),
            access: Access::Allow,
        },
    );
    let (_, adds) = q.sync_all(SyncColl::new(&inbox, &k).window(512));
    let got: Vec<&str> = adds
        .iter()
        .filter_map(|(_, d)| d.text_of(em::SUBJECT))
        .collect();
    assert!(got.contains(&"During quarantine"), "{got:?}");
    assert!(
        got.contains(&"Your mobile device is quarantined"),
        "{got:?}"
    );
    let (_, r) = q.folder_sync_ok("0");
    assert!(changes_of(&r).adds.iter().any(|f| f.name == "Projects"));
}

/// A quarantined device is sent nothing of the mailbox, whichever command asks: each
/// answers as for an item it does not have, though the ids are right (the allowed device
/// gets the same message and attachment with them).
#[test]
fn quarantine_hands_out_nothing_of_the_mailbox() {
    use easd::wbxml::tag::{airsync as air, airsyncbase as asb, composemail as cm};
    let s = server();
    let bytes = pattern(2000);
    s.deliver(
        &[ALICE],
        &message_with_attachment(ALICE, "secret plans", "plans.bin", &bytes),
    );
    let mut seen = s.eas(ALICE, "SEEN");
    seen.provision();
    let inbox = seen.folder_of_type(INBOX);
    let k = seen.sync_init(&inbox);
    let (_, adds) = seen.sync_all(SyncColl::new(&inbox, &k).window(512));
    let (item, data) = adds
        .iter()
        .find(|(_, d)| d.text_of(em::SUBJECT) == Some("secret plans"))
        .expect("secret plans");
    let file_ref = data
        .find_path(&[asb::ATTACHMENTS, asb::ATTACHMENT])
        .and_then(|a| a.text_of(asb::FILE_REFERENCE))
        .expect("FileReference")
        .to_owned();
    assert_eq!(fetch_status(&seen, item), "1");
    assert_eq!(seen.fetch_attachment(&file_ref), ("1".into(), Some(bytes)));
    assert_eq!(search(&seen, "plans", 1).len(), 1);

    gov_ok(
        &s,
        GovRequest::RuleGlobal {
            action: Access::Quarantine,
        },
    );
    let q = phone(&s, ALICE, "QUAR", "X", "Y");
    assert_eq!(admitted(&s, &q), Access::Quarantine);
    assert_eq!(q.folder_of_type(INBOX), inbox);
    // Sync: no Add, and a Fetch of the item finds nothing (Status 8).
    let key = q.sync_init(&inbox);
    let out = q.sync1(&SyncColl::new(&inbox, &key).window(512).fetch(item));
    assert!(out.adds.is_empty(), "{:?}", out.raw);
    assert_eq!(
        out.fetched().text_of(air::STATUS),
        Some("8"),
        "{:?}",
        out.raw
    );
    // GetItemEstimate: nothing will come.
    let key = out.ok_key();
    assert_eq!(
        estimate(&q, &inbox, Some(&key), None),
        ("1".into(), Some(0))
    );
    // ItemOperations: neither the item (6) nor its attachment (15, no data).
    assert_eq!(fetch_status(&q, item), "6");
    assert_eq!(q.fetch_attachment(&file_ref), ("15".into(), None));
    // Search: no hit.
    assert!(search(&q, "plans", 1).is_empty());
    // GetAttachment (12.1): as for an attachment that does not exist.
    get_attachment(&q.clone().with_version("12.1"), &file_ref).expect_status(500);
    // Nor can the message leave through it: a SmartForward of it is not found (150).
    let mut forward = Element::new(cm::SMART_FORWARD)
        .text_child(cm::CLIENT_ID, unique_token())
        .child(
            Element::new(cm::SOURCE)
                .text_child(cm::FOLDER_ID, inbox.as_str())
                .text_child(cm::ITEM_ID, item.as_str()),
        );
    forward.push_opaque(cm::MIME, text_message(ALICE, BOB, "FW: plans", "x"));
    let r = q.post("SmartForward", Some(&forward));
    assert_eq!(text(&r.wbxml(), cm::STATUS), "150", "{:?}", r.wbxml());
}

// ---- remote wipe ----------------------------------------------------------------------------

/// Provision phase 1 of a device with a wipe pending: Status 1 and the directive.
fn wipe_directive(c: &EasClient) -> Element {
    let body = Element::new(pv::PROVISION).child(Element::new(pv::POLICIES).child(
        Element::new(pv::POLICY).text_child(pv::POLICY_TYPE, easd::govern::policy::POLICY_TYPE),
    ));
    let r = c.call("Provision", &body);
    assert_eq!(r.text_of(pv::STATUS), Some("1"), "{r:?}");
    r
}

fn acknowledge(c: &EasClient, directive: easd::wbxml::Tag) -> Element {
    let body =
        Element::new(pv::PROVISION).child(Element::new(directive).text_child(pv::STATUS, "1"));
    c.call("Provision", &body)
}

fn wipe_end_to_end(version: &'static str, soft: bool) {
    let s = server();
    let mut c = s.eas(ALICE, "LOST").with_version(version);
    c.provision();
    c.folder_sync_ok("0");
    let name = format!("{ALICE}/LOST");
    let mut args = vec!["device", "wipe", name.as_str()];
    if soft {
        args.push("--soft");
    }
    let out = cli(&s, &args);
    assert!(out.status.success(), "{out:?}");
    assert!(one_device(&s, ALICE, "LOST").wipe.starts_with("pending"));

    // The next command: 449 (12.x) or Status 140.
    let r = folder_sync_status(&c);
    if version.starts_with("12") {
        r.expect_status(449);
    } else {
        r.expect_status(200);
        assert_eq!(r.wbxml().text_of(fh::STATUS), Some("140"));
    }
    let directive = if soft {
        pv::ACCOUNT_ONLY_REMOTE_WIPE
    } else {
        pv::REMOTE_WIPE
    };
    let r = wipe_directive(&c);
    assert!(r.find(directive).is_some(), "{r:?}");
    assert!(r.find(pv::POLICIES).is_none(), "{r:?}");
    let r = acknowledge(&c, directive);
    assert_eq!(r.text_of(pv::STATUS), Some("1"), "{r:?}");

    // Out of the list, barred, both mails.
    assert!(devices(&s, Filter::default()).is_empty());
    let wiped = devices(
        &s,
        Filter {
            status: Some("wiped".into()),
            ..Filter::default()
        },
    );
    assert_eq!(wiped.len(), 1);
    assert_eq!(wiped[0].wipe, "done");
    c.policy_key = None;
    c.post("Provision", None).expect_status(403);
    folder_sync_status(&c).expect_status(403);
    let confirm = "Remote wipe of LOST confirmed";
    assert!(inbox_subjects(&s, ALICE, "R1").iter().any(|x| x == confirm));
    assert!(inbox_subjects(&s, ADMIN, "R2").iter().any(|x| x == confirm));
    assert!(!inbox_subjects(&s, BOB, "R3").iter().any(|x| x == confirm));

    // The admin clears it: it starts over.
    let e = gov_err(
        &s,
        GovRequest::DeviceWipeCancel {
            device: name.clone(),
        },
    );
    assert!(e.contains("already wiped"), "{e}");
    gov_ok(
        &s,
        GovRequest::DeviceAccess {
            device: name,
            access: Access::Allow,
        },
    );
    c.provision();
    c.folder_sync_ok("0");
}

#[test]
fn hard_wipe_16_1_end_to_end() {
    wipe_end_to_end("16.1", false);
}

#[test]
fn hard_wipe_12_1_end_to_end() {
    wipe_end_to_end("12.1", false);
}

#[test]
fn soft_wipe_16_1_end_to_end() {
    wipe_end_to_end("16.1", true);
}

#[test]
fn soft_wipe_refused_before_16_1_and_wipe_cancel() {
    let s = server();
    let mut c = s.eas(ALICE, "OLD").with_version("14.1");
    c.provision();
    c.folder_sync_ok("0");
    let out = cli(&s, &["device", "wipe", &format!("{ALICE}/OLD"), "--soft"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not supported") && err.contains("16.1"),
        "{err}"
    );
    assert_eq!(one_device(&s, ALICE, "OLD").wipe, "none");
    let name = format!("{ALICE}/OLD");
    let e = gov_err(
        &s,
        GovRequest::DeviceWipeCancel {
            device: name.clone(),
        },
    );
    assert!(e.contains("no wipe is pending"), "{e}");
    gov_ok(
        &s,
        GovRequest::DeviceWipe {
            device: name.clone(),
            soft: false,
        },
    );
    gov_ok(&s, GovRequest::DeviceWipeCancel { device: name });
    c.folder_sync_ok("0");
    // An acknowledgement without a pending wipe is a protocol error.
    let r = acknowledge(&c, pv::REMOTE_WIPE);
    assert_eq!(r.text_of(pv::STATUS), Some("2"), "{r:?}");
    // A device that never accepted a policy shows "not-supported".
    let fresh = s.eas(ALICE, "NEVER");
    fresh.post("FolderSync", None);
    gov_ok(
        &s,
        GovRequest::DeviceWipe {
            device: format!("{ALICE}/NEVER"),
            soft: false,
        },
    );
    assert_eq!(one_device(&s, ALICE, "NEVER").wipe, "not-supported");
}
