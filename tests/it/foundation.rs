//! The foundation over real HTTPS: an in-process easd on ephemeral ports with a temp data
//! directory per test, driven like a phone would drive it.
//!
//! Covers the "Done when" list: OPTIONS, authentication and throttling, both query
//! encodings, the 400/403/405/413/501 refusals, Provision (both phases, 449 / 142 / 144),
//! FolderSync and the folder commands with their statuses, Settings, the protocol log, the
//! control socket and the CLI while serving, restart and graceful shutdown.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::support::*;
use easd::admin::ops::Request;
use easd::admin::reply::Reply;
use easd::eas::cmd::IMPLEMENTED;
use easd::proto::command::Command;
use easd::proto::version::ProtocolVersion;
use easd::store::ops::Reads;
use easd::wbxml::tag::{folderhierarchy as fh, provision as pv, settings as st};
use easd::wbxml::{Element, lookup};
use hyper::Method;

const ALICE: &str = "alice@example.com";
const BOB: &str = "bob@example.com";

/// Default folder types ([MS-ASCMD] 2.2.3.186.3): Inbox .. Notes, plus Junk as type 12.
const DEFAULT_TYPES: [u8; 10] = [2, 3, 4, 5, 6, 7, 8, 9, 10, 12];

// ---- helpers ----------------------------------------------------------------------------

/// A device of `user` that completed the Provision handshake.
fn provisioned(s: &TestServer, user: &str, device_id: &str) -> EasClient {
    let mut c = s.eas(user, device_id);
    c.provision();
    c
}

fn fs_body(key: &str) -> Element {
    Element::new(fh::FOLDER_SYNC).text_child(fh::SYNC_KEY, key)
}

fn user_information_get() -> Element {
    Element::new(st::SETTINGS)
        .child(Element::new(st::USER_INFORMATION).child(Element::new(st::GET)))
}

fn device_information(fields: &[(easd::wbxml::Tag, &str)]) -> Element {
    let set = fields
        .iter()
        .fold(Element::new(st::SET), |e, (t, v)| e.text_child(*t, *v));
    Element::new(st::DEVICE_INFORMATION).child(set)
}

/// The Status of a folder command or FolderSync response (all share FolderHierarchy:Status).
#[track_caller]
fn assert_folder_status(e: &Element, expected: &str) {
    assert_eq!(e.text_of(fh::STATUS), Some(expected), "{e:?}");
}

/// ServerId of the default folder of `kind` in a FolderSync 0 answer.
fn default_folder(initial: &Element, kind: u8) -> String {
    changes_of(initial)
        .adds
        .into_iter()
        .find(|f| f.kind == kind)
        .unwrap_or_else(|| panic!("no folder of type {kind}"))
        .server_id
}

/// What a device that is not (or no longer) provisioned gets for FolderSync: HTTP 449 for
/// 12.x, else HTTP 200 with FolderSync Status `status`.
#[track_caller]
fn assert_provisioning_required(c: &EasClient, status: &str) {
    let r = c.post("FolderSync", Some(&fs_body("0")));
    if c.version.starts_with("12.") {
        r.expect_status(449);
    } else {
        r.expect_status(200);
        let root = r.wbxml();
        assert_eq!(root.tag, fh::FOLDER_SYNC, "{root:?}");
        assert_eq!(root.text_of(fh::STATUS), Some(status), "{root:?}");
    }
}

// ---- OPTIONS ----------------------------------------------------------------------------

#[test]
fn options_advertises_versions_and_exactly_the_implemented_commands() {
    let s = server_with(&[ALICE]);
    let c = s.eas(ALICE, "optdev");
    let r = c.options();
    r.expect_status(200);
    assert!(
        r.header("MS-Server-ActiveSync")
            .is_some_and(|v| !v.trim().is_empty()),
        "{r:?}"
    );
    assert_eq!(
        r.header("MS-ASProtocolVersions"),
        Some("12.0,12.1,14.0,14.1,16.0,16.1")
    );
    let commands = r.header("MS-ASProtocolCommands").expect("commands header");
    assert_eq!(commands, easd::eas::cmd::implemented_header());
    let advertised: BTreeSet<&str> = commands.split(',').collect();
    let implemented: BTreeSet<&str> = IMPLEMENTED.iter().map(|c| c.name()).collect();
    assert_eq!(advertised, implemented);
    assert_eq!(advertised.len(), IMPLEMENTED.len(), "no duplicates");
    // At least the foundation's commands; later work adds more.
    for cmd in [
        "FolderCreate",
        "FolderDelete",
        "FolderSync",
        "FolderUpdate",
        "Provision",
        "Settings",
    ] {
        assert!(advertised.contains(cmd), "{cmd} not advertised: {commands}");
    }
    assert_eq!(r.header("Allow"), Some("OPTIONS,POST"));

    // The plain-HTTP listener answers the same.
    let mut plain = c.clone();
    plain.http = s.http();
    let p = plain.options();
    p.expect_status(200);
    for h in ["MS-ASProtocolVersions", "MS-ASProtocolCommands", "Allow"] {
        assert_eq!(p.header(h), r.header(h), "{h}");
    }

    // OPTIONS needs credentials too.
    let anon = s
        .https()
        .request(Method::OPTIONS, EAS_PATH, &[], Vec::new());
    anon.expect_status(401);
}

#[test]
fn path_is_case_insensitive_other_paths_are_404_and_methods_405() {
    let s = server_with(&[ALICE]);
    let c = s.eas(ALICE, "pathdev");
    let auth = [("Authorization", basic_auth(ALICE, PASSWORD))];
    let https = s.https();

    let lower = https.request(
        Method::OPTIONS,
        "/microsoft-server-activesync",
        &auth,
        Vec::new(),
    );
    lower.expect_status(200);
    assert!(lower.header("MS-ASProtocolCommands").is_some());
    // A POST on the lower-cased path reaches the command too.
    let q = c.query("Settings", None);
    let r = https.request(
        Method::POST,
        &format!("/MICROSOFT-SERVER-ACTIVESYNC?{q}"),
        &c.headers(),
        easd::wbxml::encode(&user_information_get()),
    );
    r.expect_status(200);
    assert_eq!(text(&r.wbxml(), st::STATUS), "1");

    for method in [Method::PUT, Method::DELETE] {
        let r = https.request(method.clone(), EAS_PATH, &auth, Vec::new());
        r.expect_status(405);
        assert_eq!(r.header("Allow"), Some("GET,OPTIONS,POST"), "{method}");
    }
    // 405 does not depend on credentials.
    https
        .request(Method::PUT, EAS_PATH, &[], Vec::new())
        .expect_status(405);

    // (`/` is the web pages' entry: tests/it/web.rs.)
    for path in ["/Microsoft-Server-ActiveSync/x", "/autodiscover"] {
        https
            .request(Method::POST, path, &auth, Vec::new())
            .expect_status(404);
    }
    https
        .request(Method::GET, "/nothing-here", &[], Vec::new())
        .expect_status(404);
}

// ---- authentication ---------------------------------------------------------------------

#[test]
fn missing_or_wrong_credentials_get_401_with_a_basic_challenge() {
    let s = server_with(&[ALICE]);
    let c = s.eas(ALICE, "authdev");
    let body = easd::wbxml::encode(&user_information_get());
    let query = c.query("Settings", None);
    let path = format!("{EAS_PATH}?{query}");
    let version = ("MS-ASProtocolVersion", "16.1".to_owned());

    let challenged = |r: &Resp| {
        r.expect_status(401);
        let h = r.header("WWW-Authenticate").expect("WWW-Authenticate");
        assert!(h.starts_with("Basic"), "{h}");
    };
    // No Authorization header.
    challenged(&s.https().request(
        Method::POST,
        &path,
        std::slice::from_ref(&version),
        body.clone(),
    ));
    // Not Basic.
    challenged(&s.https().request(
        Method::POST,
        &path,
        &[version.clone(), ("Authorization", "Bearer abc".into())],
        body.clone(),
    ));
    // Wrong password.
    challenged(&c.clone().with_password("wrong").post("Settings", None));
    // Unknown account.
    let mut stranger = c.clone();
    stranger.user = "nobody@example.com".into();
    challenged(&stranger.post("Settings", None));

    // The right password works, in the forms phones send the user name.
    c.call("Settings", &user_information_get());
    for user in ["ALICE@Example.COM", "example.com\\alice"] {
        let mut other = c.clone();
        other.user = user.into();
        other.options().expect_status(200);
    }
}

#[test]
fn a_disabled_account_gets_403_until_enabled_again() {
    let s = server_with(&[ALICE]);
    let c = s.eas(ALICE, "disdev");
    c.options().expect_status(200);
    s.set_enabled(ALICE, false);
    let r = c.options();
    r.expect_status(403);
    c.post("Settings", Some(&user_information_get()))
        .expect_status(403);
    // A wrong password on a disabled account is still just a wrong password.
    c.clone()
        .with_password("wrong")
        .options()
        .expect_status(401);
    s.set_enabled(ALICE, true);
    c.options().expect_status(200);
    c.call("Settings", &user_information_get());
}

#[test]
fn a_password_change_ends_the_old_password_at_once() {
    let s = server_with(&[ALICE]);
    let c = s.eas(ALICE, "pwdev");
    // Twice, so that the credential is certainly cached.
    c.options().expect_status(200);
    c.options().expect_status(200);
    s.set_password(ALICE, "a whole new secret");
    c.options().expect_status(401);
    c.clone()
        .with_password("a whole new secret")
        .options()
        .expect_status(200);
    c.options().expect_status(401);
}

#[test]
fn repeated_failures_lock_out_the_account_and_the_source_address() {
    let s = start_server(|c| {
        c.auth.slow_after = 1;
        c.auth.lockout_after = 3;
        c.auth.source_lockout_after = 3;
        c.auth.lockout_seconds = 60;
    });
    s.add_user(ALICE);
    s.add_user(BOB);
    let good = s.eas(ALICE, "thrdev");
    let bad = good.clone().with_password("wrong");
    let bob = s.eas(BOB, "bobdev");
    good.options().expect_status(200);
    bob.options().expect_status(200);

    // Failure 1: within slow_after, answered at once.
    bad.options().expect_status(401);
    // Failure 2: past slow_after, the 401 is delayed (1 s for the first slow step).
    let t = Instant::now();
    bad.options().expect_status(401);
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "second failure answered after {:?}",
        t.elapsed()
    );
    // Failure 3 reaches lockout_after: 429 with Retry-After.
    let locked = bad.options();
    locked.expect_status(429);
    let retry: u64 = locked
        .header("Retry-After")
        .expect("Retry-After")
        .parse()
        .expect("Retry-After seconds");
    assert!((1..=60).contains(&retry), "Retry-After {retry}");

    // Now even the right password is refused from this source, without being checked
    // (the source had logged in to alice, so its own allowance for alice is used up).
    let r = good.options();
    r.expect_status(429);
    assert!(r.header("Retry-After").is_some());
    // The failures were also counted against the source address (127.0.0.1), which is now
    // locked as well (source_lockout_after = 3 here): every account from this address is
    // refused, even without credentials. (Behind a reverse proxy that does not pass the
    // client address, one attacker locks out everyone for lockout_seconds; that is the
    // documented trade-off of per-address locks. tests/it/lockout.rs covers smart lockout.)
    bob.options().expect_status(429);
    s.https()
        .request(Method::OPTIONS, EAS_PATH, &[], Vec::new())
        .expect_status(429);
}

#[test]
fn the_first_start_creates_an_admin_whose_password_is_written_down() {
    let s = start_server(|_| {});
    let file = s.data_dir().join("initial-admin-password");
    let password = match std::env::var("EASD_ADMIN_PASSWORD") {
        Ok(p) if !p.is_empty() => p,
        _ => {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file)
                .expect("password file")
                .permissions();
            assert_eq!(mode.mode() & 0o777, 0o600);
            std::fs::read_to_string(&file)
                .expect("password file")
                .trim()
                .to_owned()
        }
    };
    // A bare user name gets the server's host name as its domain.
    for user in ["admin", "admin@localhost"] {
        let mut c = s.eas(user, "admindev");
        c.password = password.clone();
        c.options().expect_status(200);
    }
    match s.control(Request::UserList) {
        Reply::Users { users } => {
            assert_eq!(users.len(), 1, "{users:?}");
            assert_eq!(users[0].email, "admin@localhost");
            assert!(users[0].admin && users[0].enabled);
        }
        other => panic!("{other:?}"),
    }
}

// ---- the query --------------------------------------------------------------------------

#[test]
fn both_query_encodings_get_the_same_answer() {
    let s = server_with(&[ALICE]);
    let plain = provisioned(&s, ALICE, "encdev");
    let base64 = plain.clone().with_base64_query();
    assert_ne!(
        plain.query("FolderSync", None),
        base64.query("FolderSync", None)
    );

    let (key, initial) = plain.folder_sync_ok("0");
    // The same request (same device, same key, same policy key) in both encodings.
    let a = plain.post("FolderSync", Some(&fs_body(&key)));
    let b = base64.post("FolderSync", Some(&fs_body(&key)));
    a.expect_status(200);
    b.expect_status(200);
    assert_eq!(a.body, b.body, "plain and base64 answers differ");
    assert_eq!(changes_of(&a.wbxml()).count, 0);

    // A device that only ever speaks base64 provisions (its key rides in the query) and gets
    // the same hierarchy.
    let mut only64 = s.eas(ALICE, "b64dev").with_base64_query();
    only64.provision();
    let (_, initial64) = only64.folder_sync_ok("0");
    assert_eq!(changes_of(&initial64), changes_of(&initial));
    // Its key really is checked: a wrong one in the query is refused.
    let mut wrong = only64.clone();
    wrong.policy_key = Some(only64.policy_key.unwrap() ^ 1);
    assert_provisioning_required(&wrong, "144");

    // 12.1 may use base64; 12.0 must not ([MS-ASHTTP] 2.2.1.1.1.1).
    let v121 = s
        .eas(ALICE, "b64v121")
        .with_version("12.1")
        .with_base64_query();
    assert_eq!(
        text(&v121.call("Settings", &user_information_get()), st::STATUS),
        "1"
    );
    let v120 = s
        .eas(ALICE, "b64v120")
        .with_version("12.0")
        .with_base64_query();
    v120.post("Settings", Some(&user_information_get()))
        .expect_status(400);
    // The same 12.0 device with the plain form is fine.
    let v120plain = s.eas(ALICE, "b64v120").with_version("12.0");
    v120plain.call("Settings", &user_information_get());
}

#[test]
fn malformed_requests_get_400() {
    let s = server_with(&[ALICE, BOB]);
    let c = s.eas(ALICE, "baddev");
    let body = || easd::wbxml::encode(&user_information_get());
    let post = |query: &str| c.post_raw(query, &[], body());

    // The well-formed request, for contrast.
    post("Cmd=Settings&DeviceId=baddev&DeviceType=TestDevice").expect_status(200);

    for query in [
        "",
        "Cmd=Settings&DeviceType=TestDevice",
        "Cmd=Settings&DeviceId=baddev",
        "DeviceId=baddev&DeviceType=TestDevice",
        // 33 characters.
        "Cmd=Settings&DeviceId=abcdefghijklmnopqrstuvwxyz0123456&DeviceType=TestDevice",
        // Punctuation and escapes that decode to it.
        "Cmd=Settings&DeviceId=bad-dev&DeviceType=TestDevice",
        "Cmd=Settings&DeviceId=bad%2Cdev&DeviceType=TestDevice",
        "Cmd=Settings&DeviceId=bad%20dev&DeviceType=TestDevice",
        "Cmd=Settings&DeviceId=bad%zzdev&DeviceType=TestDevice",
        "Cmd=Settings&DeviceId=&DeviceType=TestDevice",
        // Unknown commands.
        "Cmd=Bogus&DeviceId=baddev&DeviceType=TestDevice",
        "Cmd=&DeviceId=baddev&DeviceType=TestDevice",
        // A parameter twice.
        "Cmd=Settings&Cmd=Settings&DeviceId=baddev&DeviceType=TestDevice",
        // A command the version does not have: GetAttachment ended with 12.1, Find is 16.1.
        "Cmd=GetAttachment&DeviceId=baddev&DeviceType=TestDevice&AttachmentName=x",
        // Neither a plain query nor base64.
        "!!!not-base64!!!",
    ] {
        let r = post(query);
        assert_eq!(r.status, 400, "query {query:?}: {r:?}");
    }
    let v141 = c.clone().with_version("14.1");
    v141.post_raw(
        "Cmd=Find&DeviceId=baddev&DeviceType=TestDevice",
        &[],
        body(),
    )
    .expect_status(400);

    // Unsupported or missing protocol version.
    for version in ["2.5", "2.0", "15.0", "16.2", "abc"] {
        let r = c.post_raw(
            &c.query("Settings", None),
            &[("MS-ASProtocolVersion", version.into())],
            body(),
        );
        assert_eq!(r.status, 400, "version {version}: {r:?}");
    }
    let no_version = s.https().request(
        Method::POST,
        &format!("{EAS_PATH}?{}", c.query("Settings", None)),
        &[("Authorization", basic_auth(ALICE, PASSWORD))],
        body(),
    );
    no_version.expect_status(400);

    // Malformed WBXML (Settings passes the provisioning gate, so the body is decoded).
    for bytes in [
        vec![0x01, 0x02, 0x03],
        vec![0x03, 0x01, 0x6a, 0x00, 0x00, 0x12, 0x45],
        // Valid header, an element that is never closed.
        vec![0x03, 0x01, 0x6a, 0x00, 0x00, 0x12, 0x45, 0x5d],
    ] {
        let r = c.post_raw(&c.query("Settings", None), &[], bytes.clone());
        assert_eq!(r.status, 400, "body {bytes:02x?}: {r:?}");
    }
}

#[test]
fn user_in_the_query_must_be_the_authenticated_account() {
    let s = server_with(&[ALICE, BOB]);
    let c = s.eas(ALICE, "userdev");
    let body = user_information_get();
    c.post_as("Settings", Some(BOB), Some(&body))
        .expect_status(403);
    c.post_as("Settings", Some("bob"), Some(&body))
        .expect_status(403);
    c.clone()
        .with_base64_query()
        .post_as("Settings", Some(BOB), Some(&body))
        .expect_status(403);
    for user in [ALICE, "alice", "ALICE@EXAMPLE.COM", "example.com\\alice"] {
        let r = c.post_as("Settings", Some(user), Some(&body));
        assert_eq!(r.status, 200, "User={user}: {r:?}");
    }
}

#[test]
fn known_but_unimplemented_commands_get_501() {
    let s = server_with(&[ALICE]);
    // Not provisioned: 501 comes before the provisioning gate.
    let fresh = s.eas(ALICE, "newdev");
    let c = provisioned(&s, ALICE, "impldev");
    // Every known command that the server does not implement (the list shrinks as
    // commands land; OPTIONS advertises exactly the complement).
    let unimplemented: Vec<Command> = Command::ALL
        .into_iter()
        .filter(|c| !IMPLEMENTED.contains(c))
        .collect();
    for cmd in unimplemented
        .iter()
        .filter(|c| c.available_in(ProtocolVersion::V16_1))
    {
        let cmd = cmd.name();
        assert_eq!(c.post(cmd, None).status, 501, "{cmd}");
        assert_eq!(fresh.post(cmd, None).status, 501, "{cmd} unprovisioned");
        assert_eq!(
            c.clone().with_base64_query().post(cmd, None).status,
            501,
            "{cmd} base64"
        );
    }
    // GetAttachment exists only up to 12.1.
    if unimplemented.contains(&Command::GetAttachment) {
        let v121 = s.eas(ALICE, "impl121").with_version("12.1");
        v121.post_raw(
            "Cmd=GetAttachment&DeviceId=impl121&DeviceType=TestDevice&AttachmentName=x",
            &[],
            Vec::new(),
        )
        .expect_status(501);
    }
}

#[test]
fn a_body_over_max_body_gets_413() {
    let s = start_server(|c| c.limits.max_body = 1024);
    s.add_user(ALICE);
    let c = s.eas(ALICE, "bigdev");
    let small = Element::new(st::SETTINGS).child(device_information(&[(st::MODEL, "small")]));
    let r = c.call("Settings", &small);
    assert_eq!(text(&r, st::STATUS), "1");
    let long = "x".repeat(4000);
    let big = Element::new(st::SETTINGS).child(device_information(&[(st::MODEL, &long)]));
    assert!(easd::wbxml::encode(&big).len() > 1024);
    c.post("Settings", Some(&big)).expect_status(413);
    // Raw bytes over the limit are refused before being decoded.
    c.post_raw(&c.query("Settings", None), &[], vec![0u8; 2048])
        .expect_status(413);
    // The server is fine afterwards.
    c.call("Settings", &small);
}

// ---- Provision --------------------------------------------------------------------------

/// The whole handshake for one protocol version.
fn provision_handshake(version: &'static str) {
    let s = server_with(&[ALICE]);
    let device = format!("prov{}", version.replace('.', ""));
    let mut c = s.eas(ALICE, &device).with_version(version);

    // Not provisioned yet: "0" is the no-key value clients send before provisioning;
    // 449 for 12.x, Status 142 for 14.0+. (No header at all is a device that does not
    // know provisioning: tests/it/policy.rs.)
    c.policy_key = Some(0);
    assert_provisioning_required(&c, "142");
    c.policy_key = None;
    // Settings is allowed before provisioning.
    let settings = c.call("Settings", &user_information_get());
    assert_eq!(text(&settings, st::STATUS), "1");

    // Phase 1: Status 1, a temporary key and the policy document.
    let one = c.provision_phase1(None);
    assert_eq!(text(&one, pv::STATUS), "1", "{one:?}");
    let policy = policy_of(&one);
    assert_eq!(text(policy, pv::POLICY_TYPE), "MS-EAS-Provisioning-WBXML");
    assert_eq!(text(policy, pv::STATUS), "1");
    let temporary = text(policy, pv::POLICY_KEY).to_owned();
    let temporary_n: u32 = temporary.parse().expect("numeric key");
    assert_ne!(temporary_n, 0);
    let doc = policy
        .find_path(&[pv::DATA, pv::EAS_PROVISION_DOC])
        .unwrap_or_else(|| panic!("no Data/EASProvisionDoc in {one:?}"));
    assert!(doc.find(pv::DEVICE_PASSWORD_ENABLED).is_some(), "{doc:?}");
    // AllowCamera is a 12.1+ element.
    assert_eq!(doc.text_of(pv::ALLOW_CAMERA), Some("1"), "{doc:?}");

    // Still not provisioned: the temporary key is not a final key.
    c.policy_key = Some(temporary_n);
    assert_provisioning_required(&c, "144");
    c.policy_key = None;

    // Phase 2 with a key that was never handed out: Policy Status 5.
    let wrong = temporary_n.checked_add(1).unwrap_or(1).to_string();
    let bad = c.provision_phase2(&wrong, "1");
    assert_eq!(text(&bad, pv::STATUS), "1", "{bad:?}");
    assert_eq!(text(policy_of(&bad), pv::STATUS), "5", "{bad:?}");
    assert!(policy_of(&bad).find(pv::POLICY_KEY).is_none(), "{bad:?}");
    // The acknowledged key is read by the same parser: a signed one is not the key.
    let signed = c.provision_phase2(&format!("+{temporary}"), "1");
    assert_eq!(text(policy_of(&signed), pv::STATUS), "5", "{signed:?}");

    // Phase 2 with the temporary key: the final key.
    let two = c.provision_phase2(&temporary, "1");
    assert_eq!(text(&two, pv::STATUS), "1");
    assert_eq!(text(policy_of(&two), pv::STATUS), "1");
    let final_key: u32 = text(policy_of(&two), pv::POLICY_KEY).parse().unwrap();
    assert_ne!(final_key, temporary_n);
    assert_ne!(final_key, 0);

    // The final key opens the door.
    c.policy_key = Some(final_key);
    c.folder_sync_ok("0");
    // A stale key (the temporary one) or an unknown one: provision again (144 / 449).
    c.policy_key = Some(temporary_n);
    assert_provisioning_required(&c, "144");
    c.policy_key = Some(final_key ^ 0x5a5a);
    assert_provisioning_required(&c, "144");
    // A key that is not a 32-bit unsigned decimal gets one answer, whatever it is and in
    // either query form: provision again (Status 144, 449 below 14.0), never a 400.
    let base64 = s
        .eas(ALICE, &device)
        .with_version(version)
        .with_base64_query();
    for form in [&c, &base64] {
        for bad in ["+5", "-1", "abc", "99999999999", "", "   ", "not-a-number"] {
            let garbled = form.post_raw(
                &form.query("FolderSync", None),
                &[("X-MS-PolicyKey", bad.into())],
                easd::wbxml::encode(&fs_body("0")),
            );
            let what = format!(
                "X-MS-PolicyKey {bad:?}, base64 query: {}",
                form.base64_query
            );
            if version.starts_with("12.") {
                assert_eq!(garbled.status, 449, "{what}: {garbled:?}");
            } else {
                assert_eq!(garbled.status, 200, "{what}: {garbled:?}");
                assert_eq!(text(&garbled.wbxml(), fh::STATUS), "144", "{what}");
            }
        }
    }
    // No key at all from a device that provisioned before: 142 (449).
    c.policy_key = None;
    assert_provisioning_required(&c, "142");
    // And the final key still works.
    c.policy_key = Some(final_key);
    c.folder_sync_ok("0");
}

#[test]
fn provision_handshake_16_1() {
    provision_handshake("16.1");
}

#[test]
fn provision_handshake_14_1() {
    provision_handshake("14.1");
}

#[test]
fn provision_handshake_12_1() {
    provision_handshake("12.1");
}

#[test]
fn provision_handshake_12_0_sends_only_12_0_elements() {
    let s = server_with(&[ALICE]);
    let mut c = s.eas(ALICE, "prov120").with_version("12.0");
    c.policy_key = Some(0);
    assert_provisioning_required(&c, "142");
    c.policy_key = None;
    let one = c.provision_phase1(None);
    let doc = policy_of(&one)
        .find_path(&[pv::DATA, pv::EAS_PROVISION_DOC])
        .expect("EASProvisionDoc");
    assert!(doc.find(pv::DEVICE_PASSWORD_ENABLED).is_some(), "{doc:?}");
    assert!(doc.find(pv::MAX_ATTACHMENT_SIZE).is_some(), "{doc:?}");
    for name in ["AllowCamera", "AllowStorageCard", "RequireDeviceEncryption"] {
        let tag = lookup("Provision", name).expect("Provision tag");
        assert!(doc.find(tag).is_none(), "12.0 got {name}: {doc:?}");
    }
    c.provision();
    c.folder_sync_ok("0");
}

#[test]
fn provision_with_an_unknown_policy_type_or_no_policy() {
    let s = server_with(&[ALICE]);
    let c = s.eas(ALICE, "ptypedev");
    let body = Element::new(pv::PROVISION)
        .child(Element::new(pv::POLICIES).child(
            Element::new(pv::POLICY).text_child(pv::POLICY_TYPE, "MS-WAP-Provisioning-XML"),
        ));
    let r = c.call("Provision", &body);
    assert_eq!(text(&r, pv::STATUS), "1");
    assert_eq!(text(policy_of(&r), pv::STATUS), "3", "{r:?}");
    // No Policies at all, or an empty body: Status 2 (protocol error).
    let r = c.call("Provision", &Element::new(pv::PROVISION));
    assert_eq!(text(&r, pv::STATUS), "2");
    let r = c.post("Provision", None);
    r.expect_status(200);
    assert_eq!(text(&r.wbxml(), pv::STATUS), "2");
}

#[test]
fn device_information_sent_with_provision_is_stored() {
    let mut s = server_with(&[ALICE]);
    let c = s.eas(ALICE, "infodev").with_version("14.1");
    let info = device_information(&[
        (st::MODEL, "Pixel 9"),
        (st::FRIENDLY_NAME, "Alice's phone"),
        (st::OS, "Android 15"),
        (st::OS_LANGUAGE, "English"),
        (st::MOBILE_OPERATOR, "Example Mobile"),
    ]);
    let one = c.provision_phase1(Some(info));
    let di = one
        .find(st::DEVICE_INFORMATION)
        .unwrap_or_else(|| panic!("no DeviceInformation answer in {one:?}"));
    assert_eq!(text(di, st::STATUS), "1");
    let temporary = text(policy_of(&one), pv::POLICY_KEY).to_owned();
    let two = c.provision_phase2(&temporary, "1");
    let final_key: u32 = text(policy_of(&two), pv::POLICY_KEY).parse().unwrap();

    s.shutdown();
    let store = easd::store::Store::open(s.data_dir()).expect("store");
    let d = stored(&store, |tx| {
        let account = tx.account_by_email(ALICE)?.expect("alice");
        tx.device(account.id, "infodev")
    })
    .expect("device row");
    assert_eq!(d.info.model.as_deref(), Some("Pixel 9"));
    assert_eq!(d.info.friendly_name.as_deref(), Some("Alice's phone"));
    assert_eq!(d.info.os.as_deref(), Some("Android 15"));
    assert_eq!(d.info.os_language.as_deref(), Some("English"));
    assert_eq!(d.info.mobile_operator.as_deref(), Some("Example Mobile"));
    assert_eq!(d.device_type.as_str(), "TestDevice");
    assert_eq!(d.protocol.as_str(), "14.1");
    assert_eq!(d.provision.final_key().map(|k| k.get()), Some(final_key));
    assert_eq!(d.provision.offer(), None);
}

#[test]
fn a_resent_provision_acknowledgement_gets_the_same_final_key() {
    let s = server_with(&[ALICE]);
    let c = s.eas(ALICE, "resenddev");
    let one = c.provision_phase1(None);
    let temporary = text(policy_of(&one), pv::POLICY_KEY).to_owned();
    let two = c.provision_phase2(&temporary, "1");
    let final_key = text(policy_of(&two), pv::POLICY_KEY).to_owned();
    // The answer was lost on the way: the device sends the same acknowledgement again.
    let again = c.provision_phase2(&temporary, "1");
    assert_eq!(text(policy_of(&again), pv::STATUS), "1", "{again:?}");
    assert_eq!(text(policy_of(&again), pv::POLICY_KEY), final_key);
}

// ---- FolderSync -------------------------------------------------------------------------

#[test]
fn folder_sync_initial_no_change_and_invalid_keys() {
    let s = server_with(&[ALICE]);
    let c = provisioned(&s, ALICE, "fsdev");
    let (key, initial) = c.folder_sync_ok("0");
    assert_ne!(key, "0");
    let changes = changes_of(&initial);
    assert_eq!(changes.count, 10);
    assert_eq!(changes.adds.len(), 10);
    assert!(changes.updates.is_empty() && changes.deletes.is_empty());
    let mut types: Vec<u8> = changes.adds.iter().map(|f| f.kind).collect();
    types.sort_unstable();
    assert_eq!(types, DEFAULT_TYPES);
    assert!(
        changes.adds.iter().all(|f| f.parent_id == "0"),
        "{changes:?}"
    );
    let ids: BTreeSet<&str> = changes.adds.iter().map(|f| f.server_id.as_str()).collect();
    assert_eq!(ids.len(), 10, "ServerIds are unique");
    let names: BTreeSet<&str> = changes.adds.iter().map(|f| f.name.as_str()).collect();
    for n in [
        "Inbox",
        "Drafts",
        "Deleted Items",
        "Sent Items",
        "Calendar",
        "Contacts",
    ] {
        assert!(names.contains(n), "{names:?}");
    }

    // Nothing changed: Count 0 and the same key.
    let (again, r) = c.folder_sync_ok(&key);
    assert_eq!(again, key);
    let none = changes_of(&r);
    assert_eq!(none.count, 0);
    assert_eq!(none, FolderChanges::default());

    // Keys the device does not hold: Status 9.
    let unknown = (key.parse::<u64>().unwrap() + 1000).to_string();
    for bad in [
        unknown.as_str(),
        "garbage",
        "-1",
        "01",
        "18446744073709551616",
    ] {
        let r = c.folder_sync(bad);
        assert_folder_status(&r, "9");
        assert!(r.find(fh::CHANGES).is_none(), "{r:?}");
    }
    // The current key still works after those.
    assert_eq!(c.folder_sync_ok(&key).0, key);

    // Malformed requests: Status 10.
    let empty = c.post("FolderSync", None);
    empty.expect_status(200);
    assert_folder_status(&empty.wbxml(), "10");
    assert_folder_status(&c.call("FolderSync", &Element::new(fh::FOLDER_SYNC)), "10");
    assert_folder_status(&c.call("FolderSync", &user_information_get()), "10");

    // SyncKey 0 again starts over with the full list and a new key.
    let (fresh, r) = c.folder_sync_ok("0");
    assert_eq!(changes_of(&r).adds.len(), 10);
    assert_ne!(fresh, "0");
}

#[test]
fn hierarchy_changes_by_one_device_reach_the_other_and_are_not_echoed() {
    let s = server_with(&[ALICE]);
    let a = provisioned(&s, ALICE, "devA");
    let b = provisioned(&s, ALICE, "devB");
    let (ka, _) = a.folder_sync_ok("0");
    let (kb0, _) = b.folder_sync_ok("0");

    // A creates a folder.
    let created = a.folder_create(&ka, "0", "Projects", "12");
    assert_folder_status(&created, "1");
    let id = text(&created, fh::SERVER_ID).to_owned();
    let ka = text(&created, fh::SYNC_KEY).to_owned();
    // A is not sent its own change back.
    let (ka2, r) = a.folder_sync_ok(&ka);
    assert_eq!(ka2, ka);
    assert_eq!(changes_of(&r).count, 0);

    // B sees it as an Add.
    let (kb1, r) = b.folder_sync_ok(&kb0);
    assert_ne!(kb1, kb0);
    let seen = changes_of(&r);
    let expected = FolderEntry {
        server_id: id.clone(),
        parent_id: "0".into(),
        name: "Projects".into(),
        kind: 12,
    };
    assert_eq!(seen.count, 1);
    assert_eq!(seen.adds, std::slice::from_ref(&expected));
    // B's answer was lost: it sends kb0 again and gets the same changes again.
    let (kb2, r) = b.folder_sync_ok(&kb0);
    assert_eq!(changes_of(&r), seen);
    assert_ne!(kb2, kb0);
    // Continuing from the newest key: nothing more.
    let (kb2b, r) = b.folder_sync_ok(&kb2);
    assert_eq!(kb2b, kb2);
    assert_eq!(changes_of(&r).count, 0);

    // A renames it: an Update for B.
    let renamed = a.folder_update(&ka, &id, "0", "Projects 2025");
    assert_folder_status(&renamed, "1");
    let ka = text(&renamed, fh::SYNC_KEY).to_owned();
    assert!(renamed.find(fh::SERVER_ID).is_none(), "{renamed:?}");
    let (kb3, r) = b.folder_sync_ok(&kb2);
    let seen = changes_of(&r);
    assert_eq!(seen.count, 1);
    assert_eq!(
        seen.updates,
        [FolderEntry {
            name: "Projects 2025".into(),
            ..expected.clone()
        }]
    );
    assert!(seen.adds.is_empty() && seen.deletes.is_empty());

    // A deletes it: a Delete for B. Not echoed to A.
    let deleted = a.folder_delete(&ka, &id);
    assert_folder_status(&deleted, "1");
    let ka = text(&deleted, fh::SYNC_KEY).to_owned();
    assert_eq!(changes_of(&a.folder_sync_ok(&ka).1).count, 0);
    let (_, r) = b.folder_sync_ok(&kb3);
    let seen = changes_of(&r);
    assert_eq!(seen.count, 1);
    assert_eq!(seen.deletes, [id]);
}

#[test]
fn deleting_a_subtree_is_one_delete_for_other_devices() {
    let s = server_with(&[ALICE]);
    let a = provisioned(&s, ALICE, "treeA");
    let b = provisioned(&s, ALICE, "treeB");
    let (k, _) = a.folder_sync_ok("0");
    let parent = a.folder_create(&k, "0", "Parent", "12");
    let (pid, k) = (text(&parent, fh::SERVER_ID), text(&parent, fh::SYNC_KEY));
    let child = a.folder_create(k, pid, "Child", "12");
    assert_folder_status(&child, "1");
    let cid = text(&child, fh::SERVER_ID).to_owned();
    let k = text(&child, fh::SYNC_KEY).to_owned();

    // B learns both, parent first.
    let (kb, r) = b.folder_sync_ok("0");
    let adds = changes_of(&r).adds;
    let pos = |id: &str| adds.iter().position(|f| f.server_id == id).unwrap();
    assert!(pos(pid) < pos(&cid), "parent must come before its child");
    assert_eq!(adds[pos(&cid)].parent_id, pid);

    let deleted = a.folder_delete(&k, pid);
    assert_folder_status(&deleted, "1");
    let (_, r) = b.folder_sync_ok(&kb);
    let seen = changes_of(&r);
    assert_eq!(seen.deletes, [pid.to_owned()]);
    assert_eq!(seen.count, 1);
    // Both are gone for a new device.
    let c = provisioned(&s, ALICE, "treeC");
    let (_, r) = c.folder_sync_ok("0");
    assert_eq!(changes_of(&r).adds.len(), 10);
}

// ---- folder commands --------------------------------------------------------------------

#[test]
fn folder_create_statuses() {
    let s = server_with(&[ALICE]);
    let c = provisioned(&s, ALICE, "fcdev");
    // A device that never did FolderSync holds no key: 9.
    assert_folder_status(&c.folder_create("0", "0", "Early", "12"), "9");
    assert_folder_status(&c.folder_create("1", "0", "Early", "12"), "9");
    let (k0, _) = c.folder_sync_ok("0");

    let work = c.folder_create(&k0, "0", "Work", "12");
    assert_folder_status(&work, "1");
    let work_id = text(&work, fh::SERVER_ID).to_owned();
    let k1 = text(&work, fh::SYNC_KEY).to_owned();
    assert_ne!(k1, k0);
    assert!(!work_id.is_empty());

    // The same name under the same parent (case-insensitively): 2, and the key stays.
    for name in ["Work", "WORK", " Work "] {
        let dup = c.folder_create(&k1, "0", name, "12");
        assert_folder_status(&dup, "2");
        assert!(dup.find(fh::SYNC_KEY).is_none(), "{dup:?}");
    }
    // A default folder's name too.
    assert_folder_status(&c.folder_create(&k1, "0", "Inbox", "12"), "2");
    // The same name elsewhere is fine; other user-creatable types too.
    let nested = c.folder_create(&k1, &work_id, "Work", "12");
    assert_folder_status(&nested, "1");
    let mut k = text(&nested, fh::SYNC_KEY).to_owned();
    for (name, kind) in [
        ("Generic", "1"),
        ("Team calendar", "13"),
        ("Team contacts", "14"),
    ] {
        let r = c.folder_create(&k, "0", name, kind);
        assert_folder_status(&r, "1");
        k = text(&r, fh::SYNC_KEY).to_owned();
    }

    // Parent not found: 5.
    assert_folder_status(&c.folder_create(&k, "9999", "Orphan", "12"), "5");
    assert_folder_status(&c.folder_create(&k, "not-an-id", "Orphan", "12"), "5");
    // Stale or garbage key: 9.
    assert_folder_status(&c.folder_create(&k0, "0", "Late", "12"), "9");
    assert_folder_status(&c.folder_create(&k1, "0", "Late", "12"), "9");
    assert_folder_status(&c.folder_create("garbage", "0", "Late", "12"), "9");

    // Malformed: 10.
    let without_name = Element::new(fh::FOLDER_CREATE)
        .text_child(fh::SYNC_KEY, k.as_str())
        .text_child(fh::PARENT_ID, "0")
        .text_child(fh::TYPE, "12");
    assert_folder_status(&c.call("FolderCreate", &without_name), "10");
    let without_type = Element::new(fh::FOLDER_CREATE)
        .text_child(fh::SYNC_KEY, k.as_str())
        .text_child(fh::PARENT_ID, "0")
        .text_child(fh::DISPLAY_NAME, "No type");
    assert_folder_status(&c.call("FolderCreate", &without_type), "10");
    for kind in ["2", "8", "19", "0", "99", "abc"] {
        let r = c.folder_create(&k, "0", "Typed", kind);
        assert_eq!(r.text_of(fh::STATUS), Some("10"), "Type {kind}: {r:?}");
    }
    assert_folder_status(&c.folder_create(&k, "0", "   ", "12"), "10");
    assert_folder_status(&c.folder_create(&k, "0", &"n".repeat(257), "12"), "10");
    let empty = c.post("FolderCreate", None);
    empty.expect_status(200);
    assert_folder_status(&empty.wbxml(), "10");

    // None of the refusals changed the key.
    let (after, r) = c.folder_sync_ok(&k);
    assert_eq!(after, k);
    assert_eq!(changes_of(&r).count, 0);
}

#[test]
fn folder_update_statuses() {
    let s = server_with(&[ALICE]);
    let c = provisioned(&s, ALICE, "fudev");
    let (k0, initial) = c.folder_sync_ok("0");
    let inbox = default_folder(&initial, 2);
    let junk = changes_of(&initial)
        .adds
        .into_iter()
        .find(|f| f.name == "Junk E-Mail")
        .expect("Junk E-Mail")
        .server_id;

    let a = c.folder_create(&k0, "0", "A", "12");
    let a_id = text(&a, fh::SERVER_ID).to_owned();
    let b = c.folder_create(text(&a, fh::SYNC_KEY), &a_id, "B", "12");
    let b_id = text(&b, fh::SERVER_ID).to_owned();
    let k = text(&b, fh::SYNC_KEY).to_owned();

    // A special folder cannot be renamed or moved: 2 ([MS-ASCMD] 2.2.3.177.6).
    assert_folder_status(&c.folder_update(&k, &inbox, "0", "Renamed Inbox"), "2");
    assert_folder_status(&c.folder_update(&k, &junk, "0", "Spam"), "2");
    // A name that exists under the target parent: 2.
    assert_folder_status(&c.folder_update(&k, &a_id, "0", "Junk E-Mail"), "2");
    // Not found: 4.
    assert_folder_status(&c.folder_update(&k, "9999", "0", "X"), "4");
    assert_folder_status(&c.folder_update(&k, "abc", "0", "X"), "4");
    // Parent not found: 5.
    assert_folder_status(&c.folder_update(&k, &a_id, "9999", "A"), "5");
    // Moving a folder below itself is refused as malformed (10).
    assert_folder_status(&c.folder_update(&k, &a_id, &b_id, "A"), "10");
    assert_folder_status(&c.folder_update(&k, &a_id, &a_id, "A"), "10");
    // Missing DisplayName: 10.
    let without_name = Element::new(fh::FOLDER_UPDATE)
        .text_child(fh::SYNC_KEY, k.as_str())
        .text_child(fh::SERVER_ID, a_id.as_str())
        .text_child(fh::PARENT_ID, "0");
    assert_folder_status(&c.call("FolderUpdate", &without_name), "10");
    // Stale key: 9.
    assert_folder_status(&c.folder_update(&k0, &a_id, "0", "A2"), "9");

    // Rename, then move B to the top: 1 with a new key each time.
    let r = c.folder_update(&k, &a_id, "0", "A renamed");
    assert_folder_status(&r, "1");
    let k2 = text(&r, fh::SYNC_KEY).to_owned();
    assert_ne!(k2, k);
    let r = c.folder_update(&k2, &b_id, "0", "B");
    assert_folder_status(&r, "1");
    let k3 = text(&r, fh::SYNC_KEY).to_owned();
    // Renaming to its own name in another case is allowed (it does not clash with itself).
    let r = c.folder_update(&k3, &b_id, "0", "b");
    assert_folder_status(&r, "1");
    let k4 = text(&r, fh::SYNC_KEY).to_owned();

    let other = provisioned(&s, ALICE, "fudev2");
    let (_, r) = other.folder_sync_ok("0");
    let adds = changes_of(&r).adds;
    let find = |id: &str| adds.iter().find(|f| f.server_id == id).unwrap().clone();
    assert_eq!(find(&a_id).name, "A renamed");
    assert_eq!(
        (find(&b_id).name.as_str(), find(&b_id).parent_id.as_str()),
        ("b", "0")
    );
    // Not echoed to the device that made the changes.
    assert_eq!(changes_of(&c.folder_sync_ok(&k4).1).count, 0);
}

#[test]
fn folder_delete_statuses() {
    let s = server_with(&[ALICE]);
    let c = provisioned(&s, ALICE, "fddev");
    let (k0, initial) = c.folder_sync_ok("0");
    let created = c.folder_create(&k0, "0", "Doomed", "12");
    let id = text(&created, fh::SERVER_ID).to_owned();
    let k = text(&created, fh::SYNC_KEY).to_owned();

    // Every default folder is special: 3 ([MS-ASCMD] 2.2.3.177.4).
    for f in changes_of(&initial).adds {
        let r = c.folder_delete(&k, &f.server_id);
        assert_eq!(r.text_of(fh::STATUS), Some("3"), "{}: {r:?}", f.name);
    }
    // Not found: 4.
    assert_folder_status(&c.folder_delete(&k, "9999"), "4");
    assert_folder_status(&c.folder_delete(&k, "abc"), "4");
    let without_id = Element::new(fh::FOLDER_DELETE).text_child(fh::SYNC_KEY, k.as_str());
    assert_folder_status(&c.call("FolderDelete", &without_id), "4");
    // Stale key: 9.
    assert_folder_status(&c.folder_delete(&k0, &id), "9");
    // Malformed: 10.
    let empty = c.post("FolderDelete", None);
    empty.expect_status(200);
    assert_folder_status(&empty.wbxml(), "10");

    let r = c.folder_delete(&k, &id);
    assert_folder_status(&r, "1");
    let k2 = text(&r, fh::SYNC_KEY).to_owned();
    assert_ne!(k2, k);
    // Gone: a second delete is 4.
    assert_folder_status(&c.folder_delete(&k2, &id), "4");
}

#[test]
fn accounts_are_isolated() {
    let s = server_with(&[ALICE, BOB]);
    let alice = provisioned(&s, ALICE, "aliceph");
    let bob = provisioned(&s, BOB, "bobph");
    let (ka, _) = alice.folder_sync_ok("0");
    let secret = alice.folder_create(&ka, "0", "Alice private", "12");
    assert_folder_status(&secret, "1");
    let id = text(&secret, fh::SERVER_ID).to_owned();

    let (kb, r) = bob.folder_sync_ok("0");
    let bobs = changes_of(&r).adds;
    assert_eq!(bobs.len(), 10);
    assert!(bobs.iter().all(|f| f.name != "Alice private"));
    assert!(bobs.iter().all(|f| f.server_id != id));
    // Bob cannot delete, rename or create below alice's folder.
    assert_folder_status(&bob.folder_delete(&kb, &id), "4");
    assert_folder_status(&bob.folder_update(&kb, &id, "0", "Mine now"), "4");
    assert_folder_status(&bob.folder_create(&kb, &id, "Inside", "12"), "5");
    // Bob's credentials on alice's device id are a different device: not provisioned.
    let mut bob_on_alices_device = bob.clone().with_device("aliceph");
    bob_on_alices_device.policy_key = alice.policy_key;
    assert_provisioning_required(&bob_on_alices_device, "144");
    // Alice still has it, untouched.
    let other = provisioned(&s, ALICE, "alicetab");
    let (_, r) = other.folder_sync_ok("0");
    let mine = changes_of(&r).adds;
    assert!(
        mine.iter()
            .any(|f| f.server_id == id && f.name == "Alice private")
    );
}

// ---- Settings ---------------------------------------------------------------------------

#[test]
fn settings_user_information_per_version() {
    let s = start_server(|_| {});
    s.control_ok(Request::UserAdd {
        email: ALICE.into(),
        name: Some("Alice Example".into()),
        admin: false,
        password: PASSWORD.into(),
    });
    for version in ["16.1", "14.1"] {
        let c = s.eas(ALICE, "uidev").with_version(version);
        let r = c.call("Settings", &user_information_get());
        assert_eq!(text(&r, st::STATUS), "1");
        let ui = r.find(st::USER_INFORMATION).expect("UserInformation");
        assert_eq!(text(ui, st::STATUS), "1");
        let account = ui
            .find_path(&[st::GET, st::ACCOUNTS, st::ACCOUNT])
            .unwrap_or_else(|| panic!("{version}: no Get/Accounts/Account in {r:?}"));
        assert_eq!(text(account, st::USER_DISPLAY_NAME), "Alice Example");
        let addresses = account.find(st::EMAIL_ADDRESSES).expect("EmailAddresses");
        assert_eq!(text(addresses, st::PRIMARY_SMTP_ADDRESS), ALICE);
        assert_eq!(text(addresses, st::SMTP_ADDRESS), ALICE);
    }
    for version in ["12.1", "14.0"] {
        let c = s.eas(ALICE, "uidev").with_version(version);
        let r = c.call("Settings", &user_information_get());
        let get = r
            .find_path(&[st::USER_INFORMATION, st::GET])
            .expect("UserInformation/Get");
        assert!(get.find(st::ACCOUNTS).is_none(), "{version}: {r:?}");
        let addresses = get.find(st::EMAIL_ADDRESSES).expect("EmailAddresses");
        assert_eq!(text(addresses, st::SMTP_ADDRESS), ALICE);
    }
}

#[test]
fn settings_device_information_device_password_and_rights_management() {
    let mut s = server_with(&[ALICE]);
    let c = s.eas(ALICE, "setdev");
    let body = Element::new(st::SETTINGS)
        .child(device_information(&[
            (st::MODEL, "iPhone15,2"),
            (st::IMEI, "356938035643809"),
            (st::FRIENDLY_NAME, "Work phone"),
            (st::ENABLE_OUTBOUND_SMS, "0"),
        ]))
        .child(
            Element::new(st::DEVICE_PASSWORD)
                .child(Element::new(st::SET).text_child(st::PASSWORD, "recovery-1234")),
        )
        .child(Element::new(st::RIGHTS_MANAGEMENT_INFORMATION).child(Element::new(st::GET)));
    let r = c.call("Settings", &body);
    assert_eq!(text(&r, st::STATUS), "1");
    for part in [
        st::DEVICE_INFORMATION,
        st::DEVICE_PASSWORD,
        st::RIGHTS_MANAGEMENT_INFORMATION,
    ] {
        let p = r
            .find(part)
            .unwrap_or_else(|| panic!("no {part:?} in {r:?}"));
        assert_eq!(text(p, st::STATUS), "1", "{part:?}");
    }
    // A part without its Set: Status 2 for that part.
    let r = c.call(
        "Settings",
        &Element::new(st::SETTINGS).child(Element::new(st::DEVICE_PASSWORD)),
    );
    assert_eq!(text(r.find(st::DEVICE_PASSWORD).unwrap(), st::STATUS), "2");
    // An empty body: Settings Status 2.
    let empty = c.post("Settings", None);
    empty.expect_status(200);
    assert_eq!(text(&empty.wbxml(), st::STATUS), "2");

    s.shutdown();
    let store = easd::store::Store::open(s.data_dir()).unwrap();
    let d = stored(&store, |tx| {
        let id = tx.account_by_email(ALICE)?.expect("alice").id;
        tx.device(id, "setdev")
    })
    .expect("device");
    assert_eq!(d.info.model.as_deref(), Some("iPhone15,2"));
    assert_eq!(d.info.imei.as_deref(), Some("356938035643809"));
    assert_eq!(d.info.friendly_name.as_deref(), Some("Work phone"));
    assert_eq!(d.info.enable_outbound_sms, Some(false));
    assert_eq!(d.recovery_password.as_deref(), Some("recovery-1234"));
    // Settings did not provision anything.
    assert_eq!(
        d.provision,
        easd::store::model::ProvisionState::NotProvisioned
    );
}

#[test]
fn a_declared_user_agent_survives_later_requests() {
    let mut s = server_with(&[ALICE]);
    let c = s.eas(ALICE, "uadev");
    let body = Element::new(st::SETTINGS).child(device_information(&[
        (st::MODEL, "Pixel"),
        (st::USER_AGENT, "Declared-Agent/7.0"),
    ]));
    c.call("Settings", &body);
    // Any later request (its HTTP User-Agent is "easd-test/1.0").
    c.call("Settings", &user_information_get());
    s.shutdown();
    let store = easd::store::Store::open(s.data_dir()).unwrap();
    let d = stored(&store, |tx| {
        let id = tx.account_by_email(ALICE)?.expect("alice").id;
        tx.device(id, "uadev")
    })
    .expect("device");
    assert_eq!(d.info.user_agent.as_deref(), Some("Declared-Agent/7.0"));
}

fn oof_set(
    state: &str,
    times: Option<(&str, &str)>,
    messages: &[(easd::wbxml::Tag, &str)],
) -> Element {
    let mut set = Element::new(st::SET).text_child(st::OOF_STATE, state);
    if let Some((start, end)) = times {
        set.push_text(st::START_TIME, start);
        set.push_text(st::END_TIME, end);
    }
    for (applies, reply) in messages {
        set.push(
            Element::new(st::OOF_MESSAGE)
                .child(Element::new(*applies))
                .text_child(st::ENABLED, "1")
                .text_child(st::REPLY_MESSAGE, *reply)
                .text_child(st::BODY_TYPE, "Text"),
        );
    }
    Element::new(st::SETTINGS).child(Element::new(st::OOF).child(set))
}

fn oof_get(c: &EasClient) -> Element {
    let body = Element::new(st::SETTINGS).child(
        Element::new(st::OOF).child(Element::new(st::GET).text_child(st::BODY_TYPE, "Text")),
    );
    let r = c.call("Settings", &body);
    let oof = r.find(st::OOF).expect("Oof");
    assert_eq!(text(oof, st::STATUS), "1");
    oof.find(st::GET).expect("Oof/Get").clone()
}

/// ReplyMessage of the OofMessage that applies to `applies`, when enabled.
fn oof_reply(get: &Element, applies: easd::wbxml::Tag) -> Option<String> {
    get.find_all(st::OOF_MESSAGE)
        .find(|m| m.find(applies).is_some())
        .filter(|m| m.text_of(st::ENABLED) == Some("1"))
        .and_then(|m| m.text_of(st::REPLY_MESSAGE))
        .map(str::to_owned)
}

#[test]
fn settings_oof_set_then_get() {
    let s = server_with(&[ALICE]);
    let c = s.eas(ALICE, "oofdev");
    // Nothing set yet.
    let get = oof_get(&c);
    assert_eq!(text(&get, st::OOF_STATE), "0");

    let r = c.call(
        "Settings",
        &oof_set(
            "1",
            None,
            &[
                (st::APPLIES_TO_INTERNAL, "Away until Monday"),
                (st::APPLIES_TO_EXTERNAL_UNKNOWN, "I am away."),
            ],
        ),
    );
    assert_eq!(text(r.find(st::OOF).unwrap(), st::STATUS), "1");
    let get = oof_get(&c);
    assert_eq!(text(&get, st::OOF_STATE), "1");
    assert_eq!(
        oof_reply(&get, st::APPLIES_TO_INTERNAL).as_deref(),
        Some("Away until Monday")
    );
    assert_eq!(
        oof_reply(&get, st::APPLIES_TO_EXTERNAL_UNKNOWN).as_deref(),
        Some("I am away.")
    );
    assert_eq!(oof_reply(&get, st::APPLIES_TO_EXTERNAL_KNOWN), None);

    // Time-based without its window: 5, and nothing changes.
    let r = c.call("Settings", &oof_set("2", None, &[]));
    assert_eq!(text(r.find(st::OOF).unwrap(), st::STATUS), "5");
    assert_eq!(text(&oof_get(&c), st::OOF_STATE), "1");
    // A state that does not exist: 5.
    let r = c.call("Settings", &oof_set("7", None, &[]));
    assert_eq!(text(r.find(st::OOF).unwrap(), st::STATUS), "5");

    // Time-based with its window.
    let (start, end) = ("2030-01-01T00:00:00.000Z", "2030-01-08T00:00:00.000Z");
    let r = c.call(
        "Settings",
        &oof_set(
            "2",
            Some((start, end)),
            &[(st::APPLIES_TO_INTERNAL, "Skiing")],
        ),
    );
    assert_eq!(text(r.find(st::OOF).unwrap(), st::STATUS), "1");
    let get = oof_get(&c);
    assert_eq!(text(&get, st::OOF_STATE), "2");
    assert_eq!(text(&get, st::START_TIME), start);
    assert_eq!(text(&get, st::END_TIME), end);
    assert_eq!(
        oof_reply(&get, st::APPLIES_TO_INTERNAL).as_deref(),
        Some("Skiing")
    );
    // The setting belongs to the account: another device of alice sees it.
    let tablet = s.eas(ALICE, "ooftab");
    assert_eq!(text(&oof_get(&tablet), st::OOF_STATE), "2");
}

// ---- protocol log -----------------------------------------------------------------------

#[test]
fn the_protocol_log_records_requests_and_masks_passwords() {
    let s = server_with(&[ALICE]);
    let c = provisioned(&s, ALICE, "logdev");
    let path = easd::protolog::ProtocolLog::path(s.data_dir(), "logdev");
    c.folder_sync_ok("0");
    assert!(!path.exists(), "logging is off by default");

    s.set_log(ALICE, true);
    c.folder_sync_ok("0");
    let secret = "hunter2-recovery-secret";
    let body = Element::new(st::SETTINGS).child(
        Element::new(st::DEVICE_PASSWORD)
            .child(Element::new(st::SET).text_child(st::PASSWORD, secret)),
    );
    c.call("Settings", &body);
    let log = easd::protolog::ProtocolLog::read(s.data_dir(), "logdev").expect("protocol log");
    assert!(log.contains("<<< FolderSync"), "{log}");
    assert!(log.contains(">>> 200 OK"), "{log}");
    assert!(log.contains("<<< Settings"), "{log}");
    assert!(log.contains(ALICE), "{log}");
    assert!(log.contains("***"), "{log}");
    assert!(
        !log.contains(secret),
        "the password leaked into the log:\n{log}"
    );
    // Credentials never reach it either.
    assert!(!log.contains(PASSWORD), "{log}");
    assert!(!log.contains(&basic_auth(ALICE, PASSWORD)[6..]), "{log}");

    // Off again: no more entries.
    s.set_log(ALICE, false);
    let before = easd::protolog::ProtocolLog::read(s.data_dir(), "logdev").unwrap();
    c.folder_sync_ok("0");
    let after = easd::protolog::ProtocolLog::read(s.data_dir(), "logdev").unwrap();
    assert_eq!(before, after);

    // Per device: only that device is logged.
    let other = provisioned(&s, ALICE, "quietdev");
    s.set_log(&format!("{ALICE}/logdev"), true);
    c.folder_sync_ok("0");
    other.folder_sync_ok("0");
    let after_device = easd::protolog::ProtocolLog::read(s.data_dir(), "logdev").unwrap();
    assert!(after_device.len() > after.len());
    assert!(!easd::protolog::ProtocolLog::path(s.data_dir(), "quietdev").exists());
}

/// The protocol log's entries of `user`'s `device_id` as (request number, what), bodies
/// left out.
fn log_entries(s: &TestServer, user: &str, device_id: &str) -> Vec<(String, String)> {
    let log = easd::protolog::ProtocolLog::read(s.data_dir(), device_id).expect("protocol log");
    let head = format!("{device_id} [{user}] [");
    log.lines()
        .filter_map(|line| {
            let (seq, rest) = line.strip_prefix(&head)?.split_once("] ")?;
            // After the time of day (hh:mm:ss).
            let (_, what) = rest.split_once(' ')?;
            Some((seq.to_owned(), what.to_owned()))
        })
        .collect()
}

#[test]
fn the_protocol_log_pairs_each_request_with_its_answer_also_when_refused() {
    let s = server_with(&[ALICE]);
    let mut c = s.eas(ALICE, "logrefused").with_version("12.1");
    c.provision();
    s.set_log(ALICE, true);

    // Undecodable WBXML: refused by the front door before any command runs.
    c.post_raw(
        &c.query("Sync", None),
        &[],
        vec![0x03, 0x01, 0x6a, 0x00, 0xff, 0xff],
    )
    .expect_status(400);
    // A bare HTTP status from the command: GetAttachment without an AttachmentName.
    c.post_raw(&c.query("GetAttachment", None), &[], Vec::new())
        .expect_status(400);
    // An answer with WBXML.
    c.folder_sync_ok("0");

    let entries = log_entries(&s, ALICE, "logrefused");
    let whats: Vec<&str> = entries.iter().map(|(_, w)| w.as_str()).collect();
    assert_eq!(whats.len(), 6, "{entries:?}");
    assert!(
        whats[0].starts_with("<<< Sync (undecodable: "),
        "{entries:?}"
    );
    assert_eq!(
        &whats[1..],
        [
            ">>> 400 Bad Request",
            "<<< GetAttachment",
            ">>> 400 Bad Request",
            "<<< FolderSync",
            ">>> 200 OK"
        ],
        "{entries:?}"
    );
    // A request and its answer carry the same number; each request its own.
    for pair in entries.chunks(2) {
        assert_eq!(pair[0].0, pair[1].0, "{entries:?}");
    }
    assert_ne!(entries[0].0, entries[2].0, "{entries:?}");
}

// ---- control socket and CLI -------------------------------------------------------------

fn emails(reply: Reply) -> BTreeSet<String> {
    match reply {
        Reply::Users { users } => users.into_iter().map(|u| u.email).collect(),
        other => panic!("expected a user list, got {other:?}"),
    }
}

#[test]
fn the_control_socket_and_the_cli_work_while_serving() {
    let s = start_server(|_| {});
    // The store is held by the daemon: nobody can go around the socket.
    assert!(matches!(
        easd::store::Store::open(s.data_dir()),
        Err(easd::store::StoreError::Locked { .. })
    ));

    s.add_user(ALICE);
    let users = emails(s.control(Request::UserList));
    assert_eq!(
        users,
        BTreeSet::from(["admin@localhost".to_owned(), ALICE.to_owned()])
    );
    // The new account can log in at once.
    s.eas(ALICE, "ctldev").options().expect_status(200);
    // Errors come back as errors.
    assert!(matches!(
        s.control(Request::UserAdd {
            email: ALICE.into(),
            name: None,
            admin: false,
            password: "x".into(),
        }),
        Reply::Error { .. }
    ));
    assert!(matches!(
        s.control(Request::UserAdd {
            email: "not an address".into(),
            name: None,
            admin: false,
            password: "x".into(),
        }),
        Reply::Error { .. }
    ));
    assert!(matches!(
        s.control(Request::LogSet {
            target: "nobody@example.com".into(),
            on: true
        }),
        Reply::Error { .. }
    ));

    // The real binary, while the server runs.
    let out = std::process::Command::new(cli_path())
        .args(["user", "list", "--json", "--data"])
        .arg(s.data_dir())
        .env_remove("EASD_DATA")
        .output()
        .expect("run easd");
    assert!(
        out.status.success(),
        "easd user list failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let listed: BTreeSet<String> = listed
        .as_array()
        .expect("a JSON array")
        .iter()
        .map(|u| u["email"].as_str().expect("email").to_owned())
        .collect();
    assert_eq!(listed, users);

    // `user add --password-stdin` through the CLI, then log in as that account.
    let mut child = std::process::Command::new(cli_path())
        .args([
            "user",
            "add",
            "carol@example.com",
            "--password-stdin",
            "--data",
        ])
        .arg(s.data_dir())
        .env_remove("EASD_DATA")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run easd");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"carols secret\n").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "easd user add failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    s.eas("carol@example.com", "caroldev")
        .with_password("carols secret")
        .options()
        .expect_status(200);
    // And `user disable` through the CLI takes effect at once.
    let out = std::process::Command::new(cli_path())
        .args(["user", "disable", "carol@example.com", "--data"])
        .arg(s.data_dir())
        .env_remove("EASD_DATA")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    s.eas("carol@example.com", "caroldev")
        .with_password("carols secret")
        .options()
        .expect_status(403);
}

// ---- restart and shutdown ---------------------------------------------------------------

#[test]
fn a_restart_keeps_accounts_folders_policy_keys_and_hierarchy_keys() {
    let mut s = server_with(&[ALICE, BOB]);
    let c = provisioned(&s, ALICE, "keepdev");
    let (k0, _) = c.folder_sync_ok("0");
    let created = c.folder_create(&k0, "0", "Keep me", "12");
    assert_folder_status(&created, "1");
    let id = text(&created, fh::SERVER_ID).to_owned();
    let k1 = text(&created, fh::SYNC_KEY).to_owned();
    c.call(
        "Settings",
        &oof_set("1", None, &[(st::APPLIES_TO_INTERNAL, "Back soon")]),
    );
    let users = emails(s.control(Request::UserList));

    s.restart();

    // The same device, the same policy key, the same hierarchy key: no re-provisioning, no
    // full resync.
    let (k, r) = c.folder_sync_ok(&k1);
    assert_eq!(k, k1);
    assert_eq!(changes_of(&r).count, 0);
    let inside = c.folder_create(&k1, &id, "Inside", "12");
    assert_folder_status(&inside, "1");
    // Folder ids keep counting up across the restart: ids are never reused.
    let inside_id: u64 = text(&inside, fh::SERVER_ID).parse().unwrap();
    assert!(inside_id > id.parse::<u64>().unwrap());
    // Accounts (and no second admin), folders, OOF.
    assert_eq!(emails(s.control(Request::UserList)), users);
    s.eas(BOB, "bobdev").options().expect_status(200);
    let other = provisioned(&s, ALICE, "keepdev2");
    let (_, r) = other.folder_sync_ok("0");
    let adds = changes_of(&r).adds;
    assert_eq!(adds.len(), 12, "10 defaults, Keep me and Inside");
    assert!(
        adds.iter()
            .any(|f| f.server_id == id && f.name == "Keep me")
    );
    assert_eq!(
        oof_reply(&oof_get(&c), st::APPLIES_TO_INTERNAL).as_deref(),
        Some("Back soon")
    );
}

#[test]
fn graceful_shutdown_releases_the_store_and_the_socket() {
    let mut s = server_with(&[ALICE]);
    let c = provisioned(&s, ALICE, "downdev");
    c.folder_sync_ok("0");
    let t = Instant::now();
    s.shutdown();
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert!(!easd::admin::control::socket_path(s.data_dir()).exists());
    assert!(matches!(
        easd::admin::control::call(s.data_dir(), &Request::UserList),
        Ok(None)
    ));
    let store = easd::store::Store::open(s.data_dir()).expect("store after shutdown");
    assert!(stored(&store, |tx| tx.account_by_email(ALICE)).is_some());
    // The CLI works on the store directly once the daemon is gone.
    drop(store);
    let out = std::process::Command::new(cli_path())
        .args(["user", "list", "--json", "--data"])
        .arg(s.data_dir())
        .env_remove("EASD_DATA")
        .output()
        .expect("run easd");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(ALICE));
}

#[test]
fn the_store_is_free_as_soon_as_shutdown_returns() {
    // No request at all: only the control task holds a Store clone besides `Running`.
    let mut s = start_server(|_| {});
    let report = s.shutdown();
    assert_eq!(report.store_reopened_in_runtime, Ok(()));
}
