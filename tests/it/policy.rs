//! Security policies over real sockets: the EASProvisionDoc of every version, inheritance
//! across the levels, the policy lifecycle (142 / 143 / 144 and 449, the refresh
//! interval), devices that cannot apply their policy, and easd's own keys
//! (AllowNonProvisionableDevices, PolicyRefreshHours, MaxDevicesPerUser,
//! MaxProtocolVersion, BluetoothLevel).

use crate::govern::*;
use crate::support::*;
use easd::admin::govern::GovRequest;
use easd::govern::compliance;
use easd::govern::policy::SETTINGS;
use easd::govern::registry::Filter;
use easd::store::Store;
use easd::store::ops::Reads;
use easd::wbxml::tag::{folderhierarchy as fh, provision as pv};
use easd::wbxml::{self, Element};

/// Every EASProvisionDoc element with a value other than its default, as `policy set`
/// takes it; lists are comma-separated.
const ELEMENTS: &[(&str, &str)] = &[
    ("DevicePasswordEnabled", "1"),
    ("AlphanumericDevicePasswordRequired", "1"),
    ("RequireStorageCardEncryption", "1"),
    ("PasswordRecoveryEnabled", "1"),
    ("AttachmentsEnabled", "0"),
    ("MinDevicePasswordLength", "6"),
    ("MaxInactivityTimeDeviceLock", "900"),
    ("MaxDevicePasswordFailedAttempts", "8"),
    ("MaxAttachmentSize", "1048576"),
    ("AllowSimpleDevicePassword", "0"),
    ("DevicePasswordExpiration", "90"),
    ("DevicePasswordHistory", "5"),
    ("AllowStorageCard", "0"),
    ("AllowCamera", "0"),
    ("RequireDeviceEncryption", "1"),
    ("AllowUnsignedApplications", "0"),
    ("AllowUnsignedInstallationPackages", "0"),
    ("MinDevicePasswordComplexCharacters", "3"),
    ("AllowWiFi", "0"),
    ("AllowTextMessaging", "0"),
    ("AllowPOPIMAPEmail", "0"),
    ("AllowBluetooth", "1"),
    ("AllowIrDA", "0"),
    ("RequireManualSyncWhenRoaming", "1"),
    ("AllowDesktopSync", "0"),
    ("MaxCalendarAgeFilter", "4"),
    ("AllowHTMLEmail", "0"),
    ("MaxEmailAgeFilter", "3"),
    ("MaxEmailBodyTruncationSize", "50"),
    ("MaxEmailHTMLBodyTruncationSize", "100"),
    ("RequireSignedSMIMEMessages", "1"),
    ("RequireEncryptedSMIMEMessages", "1"),
    ("RequireSignedSMIMEAlgorithm", "1"),
    ("RequireEncryptionSMIMEAlgorithm", "2"),
    ("AllowSMIMEEncryptionAlgorithmNegotiation", "1"),
    ("AllowSMIMESoftCerts", "0"),
    ("AllowBrowser", "0"),
    ("AllowConsumerEmail", "0"),
    ("AllowRemoteDesktop", "0"),
    ("AllowInternetSharing", "0"),
    ("UnapprovedInROMApplicationList", "Calculator,Notes"),
    ("ApprovedApplicationList", "0123abcd,4567ef01"),
];

/// The EASProvisionDoc of Provision phase 1.
#[track_caller]
fn provision_doc(c: &EasClient) -> Element {
    let one = c.provision_phase1(None);
    policy_of(&one)
        .find_path(&[pv::DATA, pv::EAS_PROVISION_DOC])
        .unwrap_or_else(|| panic!("no EASProvisionDoc in {one:?}"))
        .clone()
}

/// FolderSync needs provisioning: HTTP 449 for 12.x, else Status `status` in the body.
#[track_caller]
fn assert_provision_again(c: &EasClient, status: &str) {
    let r = folder_sync_status(c);
    if c.version.starts_with("12.") {
        r.expect_status(449);
    } else {
        r.expect_status(200);
        assert_eq!(
            r.wbxml().text_of(fh::STATUS),
            Some(status),
            "{:?}",
            r.wbxml()
        );
    }
}

// ---- the EASProvisionDoc --------------------------------------------------------------

#[test]
fn every_element_is_in_the_provision_doc_of_the_versions_that_have_it() {
    let mut table: Vec<&str> = ELEMENTS.iter().map(|(n, _)| *n).collect();
    let mut all: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
    table.sort_unstable();
    all.sort_unstable();
    assert_eq!(table, all, "the table names every element of policy.rs");

    let s = server();
    let values: Vec<(&str, &str)> = ELEMENTS.to_vec();
    set(&s, "server", &values);
    for version in ["12.0", "12.1", "14.1", "16.1"] {
        let v = easd::proto::version::ProtocolVersion::parse(version).unwrap();
        let c = s
            .eas(ALICE, &format!("DOC{}", version.replace('.', "")))
            .with_version(version);
        let doc = provision_doc(&c);
        let mut expected = 0;
        for (name, value) in ELEMENTS {
            let tag = wbxml::lookup("Provision", name).expect("a Provision tag");
            let since = SETTINGS.iter().find(|s| s.name == *name).unwrap().since;
            let Some(e) = doc.find(tag) else {
                assert!(since > v, "{version}: no {name} in {doc:?}");
                continue;
            };
            assert!(since <= v, "{version} has no {name}, yet it was sent");
            expected += 1;
            if value.contains(',') {
                let items: Vec<&str> = e.elements().filter_map(|i| i.text()).collect();
                assert_eq!(items.join(","), *value, "{version} {name}");
            } else {
                assert_eq!(e.text(), Some(*value), "{version} {name}");
            }
        }
        assert_eq!(doc.elements().count(), expected, "{version}: {doc:?}");
        assert_eq!(
            expected == ELEMENTS.len(),
            v >= easd::proto::version::ProtocolVersion::V12_1
        );
    }
}

#[test]
fn policy_levels_inherit_and_hold_their_own_settings() {
    let s = server();
    let dev = format!("device:{ALICE}/PHONE");
    let user = format!("user:{ALICE}");
    assert_eq!(
        show(&s, &dev),
        ("inherited from the built-in default".into(), "1".into())
    );
    set(&s, "server", &[("MinDevicePasswordLength", "4")]);
    assert_eq!(show(&s, &dev), ("inherited from server".into(), "4".into()));
    set(&s, "domain:example.com", &[("AllowCamera", "0")]);
    // The domain took a complete copy of the server's settings.
    assert_eq!(
        show(&s, &dev),
        ("inherited from domain example.com".into(), "4".into())
    );
    set(&s, "server", &[("MinDevicePasswordLength", "5")]);
    assert_eq!(
        show(&s, &dev).1,
        "4",
        "a level with its own settings is not changed"
    );
    assert_eq!(show(&s, &format!("user:{BOB}")).1, "5");
    set(&s, &user, &[("MinDevicePasswordLength", "8")]);
    assert_eq!(
        show(&s, &dev),
        ("inherited from user alice@example.com".into(), "8".into())
    );
    set(&s, &dev, &[("MinDevicePasswordLength", "10")]);
    assert_eq!(show(&s, &dev), ("own settings".into(), "10".into()));
    policy(&s, GovRequest::PolicyInherit { level: dev.clone() });
    assert_eq!(show(&s, &dev).1, "8");
    policy(&s, GovRequest::PolicyInherit { level: user });
    let (_, values) = policy(&s, GovRequest::PolicyShow { level: dev });
    assert_eq!(setting(&values, "AllowCamera"), "0");

    // Errors: an unknown key, a bad value, a bad level, the read-only default.
    for (level, kv) in [
        ("server", "NoSuchKey=1"),
        ("server", "AllowCamera=yes"),
        ("planet:mars", "AllowCamera=0"),
        ("default", "AllowCamera=0"),
    ] {
        let (k, v) = kv.split_once('=').unwrap();
        let e = gov_err(
            &s,
            GovRequest::PolicySet {
                level: level.into(),
                values: vec![(k.into(), v.into())],
            },
        );
        assert!(!e.is_empty());
    }
    let out = cli(&s, &["policy", "show", "--level", "server", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["source"], "own settings");
    assert_eq!(v["values"]["MinDevicePasswordLength"], 5);
}

// ---- easd's own keys ------------------------------------------------------------------

#[test]
fn own_keys_are_set_shown_with_their_source_and_never_force_a_provision() {
    let s = server();
    let mut c = s.eas(ALICE, "OWN").with_version("14.1");
    c.provision();
    c.folder_sync_ok("0");
    let out = cli(
        &s,
        &[
            "policy",
            "set",
            "--level",
            "domain:example.com",
            "AllowNonProvisionableDevices=0",
            "PolicyRefreshHours=24",
            "MaxDevicesPerUser=3",
            "MaxProtocolVersion=14.1",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    // None of them is sent to the device: its key stays good.
    c.folder_sync_ok("0");
    let out = cli(
        &s,
        &[
            "policy",
            "set",
            "--level",
            "domain:example.com",
            "BluetoothLevel=handsfree-only",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let out = cli(
        &s,
        &[
            "policy",
            "show",
            "--level",
            &format!("user:{ALICE}"),
            "--json",
        ],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["source"], "inherited from domain example.com");
    assert_eq!(v["values"]["AllowNonProvisionableDevices"], 0);
    assert_eq!(v["values"]["PolicyRefreshHours"], 24);
    assert_eq!(v["values"]["MaxDevicesPerUser"], 3);
    assert_eq!(v["values"]["MaxProtocolVersion"], "14.1");
    assert_eq!(v["values"]["BluetoothLevel"], "handsfree-only");
    assert_eq!(v["values"]["AllowBluetooth"], 1);
    // BluetoothLevel is AllowBluetooth: that one is sent, so the device provisions again.
    assert_provision_again(&c, "143");
    c.provision();
    assert_eq!(provision_doc(&c).text_of(pv::ALLOW_BLUETOOTH), Some("1"));
    // Bob's domain keeps the defaults; the text form lists every key.
    let out = cli(&s, &["policy", "show", "--level", &format!("user:{BOB}")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("user bob@other.org: inherited from the built-in default"),
        "{text}"
    );
    for line in [
        "AllowNonProvisionableDevices=1",
        "PolicyRefreshHours=\n",
        "MaxDevicesPerUser=\n",
        "MaxProtocolVersion=\n",
        "BluetoothLevel=allowed",
    ] {
        assert!(text.contains(line), "{line:?} in {text}");
    }
    for bad in [
        "AllowNonProvisionableDevices=2",
        "PolicyRefreshHours=0",
        "MaxDevicesPerUser=-1",
        "MaxProtocolVersion=15.0",
        "BluetoothLevel=fully",
        "NoSuchKey=1",
    ] {
        let out = cli(&s, &["policy", "set", "--level", "server", bad]);
        assert!(!out.status.success(), "{bad} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(bad.split('=').next().unwrap()), "{bad}: {err}");
    }
}

// ---- the policy lifecycle ---------------------------------------------------------------

/// 142 for no key (0), 144 for a key that is not the device's, 143 for its own key once
/// the policy changed; 449 for all of them in 12.x. The re-provision hands out the new
/// settings and a new key, and other accounts are not affected.
fn lifecycle(version: &'static str) {
    let s = server();
    let mut c = s.eas(ALICE, "P").with_version(version);
    c.policy_key = Some(0);
    assert_provision_again(&c, "142");
    let old_key = c.provision();
    c.folder_sync_ok("0");
    c.policy_key = Some(old_key ^ 0x5a5a);
    assert_provision_again(&c, "144");
    c.policy_key = Some(old_key);
    c.folder_sync_ok("0");
    set(
        &s,
        &format!("user:{ALICE}"),
        &[
            ("DevicePasswordEnabled", "1"),
            ("MinDevicePasswordLength", "6"),
        ],
    );
    assert_provision_again(&c, "143");
    let mut b = s.eas(BOB, "B").with_version(version);
    b.provision();
    let doc = provision_doc(&c);
    assert_eq!(doc.text_of(pv::DEVICE_PASSWORD_ENABLED), Some("1"));
    assert_eq!(doc.text_of(pv::MIN_DEVICE_PASSWORD_LENGTH), Some("6"));
    let new_key = c.provision();
    assert_ne!(old_key, new_key);
    c.folder_sync_ok("0");
    b.folder_sync_ok("0");
    // The old key is unknown now.
    c.policy_key = Some(old_key);
    assert_provision_again(&c, "144");
}

#[test]
fn lifecycle_12_1_is_449() {
    lifecycle("12.1");
}

#[test]
fn lifecycle_14_1_is_142_143_144() {
    lifecycle("14.1");
}

#[test]
fn lifecycle_16_1_is_142_143_144() {
    lifecycle("16.1");
}

#[test]
fn a_policy_or_rule_change_is_seen_by_the_very_next_request() {
    let s = server();
    let mut c = s.eas(ALICE, "NEXT");
    c.provision();
    for round in 0..4 {
        c.folder_sync_ok("0");
        let length = (4 + round).to_string();
        set(
            &s,
            "server",
            &[("MinDevicePasswordLength", length.as_str())],
        );
        assert_provision_again(&c, "143");
        c.provision();
    }
    c.folder_sync_ok("0");
    policy(
        &s,
        GovRequest::PolicyInherit {
            level: "server".into(),
        },
    );
    assert_provision_again(&c, "143");
    // A rule change decides the very next new device.
    for (i, action) in [
        easd::store::model::Access::Block,
        easd::store::model::Access::Allow,
    ]
    .into_iter()
    .enumerate()
    {
        gov_ok(&s, GovRequest::RuleGlobal { action });
        let mut d = s.eas(ALICE, &format!("NEW{i}"));
        d.provision();
        let r = folder_sync_status(&d);
        r.expect_status(if i == 0 { 403 } else { 200 });
    }
}

/// Rewrites when a device last accepted its policy, with the server stopped.
fn accepted_hours_ago(s: &mut TestServer, user: &str, device_id: &str, hours: i64) {
    s.shutdown();
    {
        let store = Store::open(s.data_dir()).expect("store");
        let email = user.to_owned();
        let account = stored(&store, move |tx| tx.account_by_email(&email)).expect("account");
        let t = easd::store::now() - hours * 3600;
        block_on(compliance::write(
            &store,
            account.id,
            device_id,
            move |_, state| {
                state.accepted_at = Some(t);
                Ok::<_, easd::store::StoreError>(())
            },
        ))
        .expect("write");
    }
    s.restart();
}

#[test]
fn policy_refresh_hours_make_devices_provision_again() {
    let mut s = server();
    set(&s, "server", &[("PolicyRefreshHours", "2")]);
    let mut c = s.eas(ALICE, "REFRESH").with_version("14.1");
    let mut old = s.eas(ALICE, "OLD").with_version("12.1");
    c.provision();
    old.provision();
    c.folder_sync_ok("0");
    old.folder_sync_ok("0");
    let accepted = one_device(&s, ALICE, "REFRESH")
        .policy_accepted
        .expect("accepted");
    assert!((easd::store::now() - accepted).abs() < 60);

    // One hour on: nothing to do. Three hours on: 143 (449 for 12.1), then a new key.
    accepted_hours_ago(&mut s, ALICE, "REFRESH", 1);
    c.folder_sync_ok("0");
    accepted_hours_ago(&mut s, ALICE, "REFRESH", 3);
    accepted_hours_ago(&mut s, ALICE, "OLD", 3);
    assert_provision_again(&c, "143");
    assert_provision_again(&old, "143");
    c.provision();
    old.provision();
    c.folder_sync_ok("0");
    old.folder_sync_ok("0");
    assert!(one_device(&s, ALICE, "REFRESH").policy_accepted > Some(accepted - 3 * 3600));

    // Unset, the policy is applied once: an old acceptance is good forever.
    set(&s, "server", &[("PolicyRefreshHours", "")]);
    accepted_hours_ago(&mut s, ALICE, "REFRESH", 1000);
    c.folder_sync_ok("0");
}

// ---- devices that cannot apply the policy ----------------------------------------------

fn cannot_connect_mails(s: &TestServer, user: &str, reader: &str, device_id: &str) -> usize {
    let subject = format!("Device {device_id} cannot connect");
    inbox_subjects(s, user, reader)
        .iter()
        .filter(|x| **x == subject)
        .count()
}

#[test]
fn devices_without_a_policy_key_sync_if_allowed_else_are_refused_with_two_mails() {
    let s = server();
    // Allowed (the default): a device that sends no X-MS-PolicyKey syncs without a policy.
    let plain = s.eas(ALICE, "NOKEY");
    plain.folder_sync_ok("0");
    let d = one_device(&s, ALICE, "NOKEY");
    assert_eq!(
        (d.compliance.as_str(), d.policy_refused),
        ("not-provisionable", false)
    );
    // Key 0 is always asked to provision.
    let mut zero = s.eas(ALICE, "ZERO");
    zero.policy_key = Some(0);
    assert_provision_again(&zero, "142");

    set(&s, "server", &[("AllowNonProvisionableDevices", "0")]);
    assert_provision_again(&plain, "142");
    for _ in 0..3 {
        assert_provision_again(&plain, "142");
    }
    let old = s.eas(ALICE, "NOKEY12").with_version("12.1");
    assert_provision_again(&old, "142");
    let d = one_device(&s, ALICE, "NOKEY");
    assert_eq!(
        (d.compliance.as_str(), d.policy_refused),
        ("not-provisionable", true)
    );
    let out = cli(&s, &["device", "list", "--user", ALICE, "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let listed = list
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["device_id"] == "NOKEY")
        .expect("NOKEY listed");
    assert_eq!(listed["compliance"], "not-provisionable");
    assert_eq!(listed["policy_refused"], true);

    // The user and the admin, once each; nobody else.
    assert_eq!(cannot_connect_mails(&s, ALICE, "R1", "NOKEY"), 1);
    assert_eq!(cannot_connect_mails(&s, ADMIN, "R2", "NOKEY"), 1);
    assert_eq!(cannot_connect_mails(&s, BOB, "R3", "NOKEY"), 0);
    let body = mail_body(&s, ADMIN, "R4", "Device NOKEY cannot connect");
    assert!(
        body.contains("didn't confirm the security profile required by server administrator, therefore cannot connect"),
        "{body}"
    );
    // Allowed again, it syncs again.
    set(&s, "server", &[("AllowNonProvisionableDevices", "1")]);
    plain.folder_sync_ok("0");
}

/// The plain-text body of the message with `subject` in the Inbox of `user`.
fn mail_body(s: &TestServer, user: &str, reader: &str, subject: &str) -> String {
    use easd::wbxml::tag::{airsyncbase as asb, email as em};
    let mut c = s.eas(user, reader);
    c.provision();
    let inbox = c.folder_of_type(INBOX);
    let k = c.sync_init(&inbox);
    let (_, adds) = c.sync_all(SyncColl::new(&inbox, &k).window(512).body(1, None));
    let (_, item) = adds
        .iter()
        .find(|(_, d)| d.text_of(em::SUBJECT) == Some(subject))
        .unwrap_or_else(|| panic!("no {subject:?} for {user}"));
    item.find_path(&[asb::BODY, asb::DATA])
        .and_then(|d| d.text())
        .unwrap_or_default()
        .to_owned()
}

/// Provision with the acknowledgement Status `status`; the whole answer.
fn acknowledge_with(c: &EasClient, status: &str) -> Resp {
    let one = c.provision_phase1(None);
    let temporary = policy_of(&one)
        .text_of(pv::POLICY_KEY)
        .expect("key")
        .to_owned();
    let body = Element::new(pv::PROVISION).child(
        Element::new(pv::POLICIES).child(
            Element::new(pv::POLICY)
                .text_child(pv::POLICY_TYPE, easd::govern::policy::POLICY_TYPE)
                .text_child(pv::POLICY_KEY, temporary)
                .text_child(pv::STATUS, status),
        ),
    );
    c.post("Provision", Some(&body))
}

#[test]
fn devices_that_cannot_apply_the_policy_are_allowed_or_refused_with_two_mails() {
    let s = server();
    // Allowed: the partial acknowledgement gets a final key.
    let mut partial = s.eas(ALICE, "PARTIAL");
    let r = acknowledge_with(&partial, "2").wbxml();
    let key = policy_of(&r).text_of(pv::POLICY_KEY).expect("final key");
    partial.policy_key = Some(key.parse().unwrap());
    partial.folder_sync_ok("0");
    let d = one_device(&s, ALICE, "PARTIAL");
    assert_eq!(
        (d.compliance.as_str(), d.policy_refused),
        ("non-compliant", false)
    );

    // Not allowed for alice: her non-compliant device is refused at once (142), a new one
    // is refused at its acknowledgement (139; 403 in 12.1), and cannot sync either.
    set(
        &s,
        &format!("user:{ALICE}"),
        &[("AllowNonProvisionableDevices", "0")],
    );
    assert_provision_again(&partial, "142");
    let fresh = s.eas(ALICE, "FRESH");
    let r = acknowledge_with(&fresh, "3");
    r.expect_status(200);
    assert_eq!(
        r.wbxml().text_of(pv::STATUS),
        Some("139"),
        "{:?}",
        r.wbxml()
    );
    assert!(r.wbxml().find(pv::POLICIES).is_none());
    let mut fresh = fresh;
    fresh.policy_key = Some(1);
    assert_provision_again(&fresh, "142");
    let old = s.eas(ALICE, "OLDPARTIAL").with_version("12.1");
    acknowledge_with(&old, "2").expect_status(403);
    assert_provision_again(&old, "142");
    assert!(one_device(&s, ALICE, "FRESH").policy_refused);
    // Bob is not concerned.
    let mut b = s.eas(BOB, "BPARTIAL");
    let r = acknowledge_with(&b, "2").wbxml();
    b.policy_key = policy_of(&r)
        .text_of(pv::POLICY_KEY)
        .and_then(|k| k.parse().ok());
    b.folder_sync_ok("0");

    for device in ["PARTIAL", "FRESH", "OLDPARTIAL"] {
        assert_eq!(cannot_connect_mails(&s, ALICE, "R1", device), 1, "{device}");
        assert_eq!(cannot_connect_mails(&s, ADMIN, "R2", device), 1, "{device}");
    }
    // A device that applies the policy after all is compliant again.
    partial.provision();
    partial.folder_sync_ok("0");
    assert_eq!(one_device(&s, ALICE, "PARTIAL").compliance, "compliant");
}

// ---- MaxDevicesPerUser ------------------------------------------------------------------

#[test]
fn max_devices_per_user_refuses_new_devices_with_177() {
    let s = server();
    let mut a = s.eas(ALICE, "A1");
    a.provision();
    a.folder_sync_ok("0");
    let mut b = s.eas(ALICE, "A2").with_version("14.1");
    b.provision();
    b.folder_sync_ok("0");
    set(&s, &format!("user:{ALICE}"), &[("MaxDevicesPerUser", "2")]);

    // A third device: 177 in Provision and FolderSync; 403 in 12.1.
    let third = s.eas(ALICE, "A3");
    let r = third.post(
        "Provision",
        Some(
            &Element::new(pv::PROVISION).child(
                Element::new(pv::POLICIES).child(
                    Element::new(pv::POLICY)
                        .text_child(pv::POLICY_TYPE, easd::govern::policy::POLICY_TYPE),
                ),
            ),
        ),
    );
    r.expect_status(200);
    assert_eq!(
        r.wbxml().text_of(pv::STATUS),
        Some("177"),
        "{:?}",
        r.wbxml()
    );
    let r = folder_sync_status(&third);
    r.expect_status(200);
    assert_eq!(r.wbxml().text_of(fh::STATUS), Some("177"));
    s.eas(ALICE, "A4")
        .with_version("12.1")
        .post("Provision", None)
        .expect_status(403);
    // The existing devices go on; another account is not concerned.
    a.folder_sync_ok("0");
    b.folder_sync_ok("0");
    let mut bob = s.eas(BOB, "B3");
    bob.provision();
    bob.folder_sync_ok("0");

    // Deleting a device frees its place.
    gov_ok(
        &s,
        GovRequest::DeviceDelete {
            device: format!("{ALICE}/A2"),
        },
    );
    let mut third = third;
    third.provision();
    third.folder_sync_ok("0");
    // Lowering the limit leaves the devices that have a place alone.
    set(&s, &format!("user:{ALICE}"), &[("MaxDevicesPerUser", "1")]);
    a.folder_sync_ok("0");
    third.folder_sync_ok("0");
    assert_eq!(
        devices(
            &s,
            Filter {
                user: Some(ALICE.into()),
                ..Filter::default()
            }
        )
        .len(),
        3,
        "A1, A3 and the refused A4: listed, though not admitted"
    );
}

// ---- MaxProtocolVersion -----------------------------------------------------------------

#[test]
fn max_protocol_version_limits_options_and_refuses_higher_requests() {
    let s = server();
    set(
        &s,
        &format!("user:{ALICE}"),
        &[("MaxProtocolVersion", "14.1")],
    );
    let c = s.eas(ALICE, "NEW");
    let r = c.options();
    r.expect_status(200);
    assert_eq!(
        r.header("MS-ASProtocolVersions"),
        Some("12.0,12.1,14.0,14.1")
    );
    let r = s.eas(BOB, "B").options();
    assert_eq!(
        r.header("MS-ASProtocolVersions"),
        Some("12.0,12.1,14.0,14.1,16.0,16.1")
    );

    // 16.1 is refused, Provision included, with the versions the device may use.
    for r in [folder_sync_status(&c), c.post("Provision", None)] {
        r.expect_status(400);
        assert_eq!(
            r.header("MS-ASProtocolVersions"),
            Some("12.0,12.1,14.0,14.1")
        );
        assert!(
            r.text().contains("above this device's maximum, 14.1"),
            "{}",
            r.text()
        );
    }
    let mut ok = c.clone().with_version("14.1");
    ok.provision();
    ok.folder_sync_ok("0");

    // Per device: OPTIONS still says what the account's level allows.
    set(
        &s,
        &format!("device:{ALICE}/OLD"),
        &[("MaxProtocolVersion", "12.1")],
    );
    let old = s.eas(ALICE, "OLD").with_version("14.0");
    folder_sync_status(&old).expect_status(400);
    assert_eq!(
        old.options().header("MS-ASProtocolVersions"),
        Some("12.0,12.1,14.0,14.1")
    );
    let mut old = old.with_version("12.1");
    old.provision();
    old.folder_sync_ok("0");
}
