//! The server settings page (issue 14, "Server settings") over real HTTPS: a saved value
//! overrides the configuration file's for the next request (Ping's heartbeat bounds,
//! Autodiscover's URL, the versions OPTIONS offers, the relay SendMail uses), bad values
//! are refused with nothing saved, listeners wait for a restart, the relay's password is
//! never shown, every change is audited, and saved values survive a restart.

use hyper::Method;

use crate::govern::cli;
use crate::support::*;
use crate::web::{add_admin, audit_json};
use easd::wbxml::Element;
use easd::wbxml::tag::ping as p;

const ADMIN: &str = "boss@example.com";
const ALICE: &str = "alice@example.com";
const PAGE: &str = "/admin/settings";

/// A Ping naming one folder with `heartbeat`: its Status and HeartbeatInterval.
fn ping(c: &EasClient, heartbeat: u32) -> (String, Option<String>) {
    let body = Element::new(p::PING)
        .text_child(p::HEARTBEAT_INTERVAL, heartbeat.to_string())
        .child(
            Element::new(p::FOLDERS).child(
                Element::new(p::FOLDER)
                    .text_child(p::ID, "1")
                    .text_child(p::CLASS, "Email"),
            ),
        );
    let r = c.post("Ping", Some(&body));
    r.expect_status(200);
    let e = r.wbxml();
    (
        text(&e, p::STATUS).to_owned(),
        e.text_of(p::HEARTBEAT_INTERVAL).map(str::to_owned),
    )
}

/// Saves `fields` on the page: the answer.
fn save(b: &mut Browser, fields: &[(&str, &str)]) -> Resp {
    let csrf = b.csrf(PAGE);
    let mut all = vec![("csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    b.post(PAGE, &all)
}

fn autodiscover_url(s: &TestServer) -> String {
    let body = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006">
<Request><EMailAddress>{ALICE}</EMailAddress>
<AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006</AcceptableResponseSchema>
</Request></Autodiscover>"#
    );
    let r = s.https().request(
        Method::POST,
        "/autodiscover/autodiscover.xml",
        &[("Authorization", basic_auth(ALICE, PASSWORD))],
        body.into_bytes(),
    );
    r.expect_status(200);
    let text = r.text();
    let start = text.find("<Url>").expect("a Url") + "<Url>".len();
    let end = text[start..].find("</Url>").expect("</Url>");
    text[start..start + end].to_owned()
}

fn offered_versions(s: &TestServer) -> String {
    let auth = [("Authorization", basic_auth(ALICE, PASSWORD))];
    let r = s
        .https()
        .request(Method::OPTIONS, EAS_PATH, &auth, Vec::new());
    r.expect_status(200);
    r.header("ms-asprotocolversions")
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn saved_settings_apply_to_the_next_request_and_survive_a_restart() {
    let mut s = server_with(&[ALICE]);
    add_admin(&s, ADMIN);
    let mut phone = s.eas(ALICE, "phone").with_version("14.1");
    phone.provision();
    let mut b = Browser::signed_in(&s, ADMIN);
    let html = b.get(PAGE).text();
    assert!(html.contains("push.max_heartbeat"), "{html}");
    assert!(html.contains("from the configuration file"), "{html}");
    assert!(!html.contains("saved here"), "{html}");
    // The file's bounds (60..1800) hold.
    assert_eq!(ping(&phone, 50), ("5".into(), Some("60".into())));

    let r = save(
        &mut b,
        &[
            ("push.min_heartbeat", "120"),
            ("push.max_heartbeat", "600"),
            ("public_url", "https://mail.example.com/"),
            ("max_protocol_version", "14.1"),
        ],
    );
    r.expect_status(303);
    let html = b.get(r.header("location").unwrap()).text();
    assert!(html.contains("Settings saved."), "{html}");
    assert!(html.contains("saved here"), "{html}");
    assert!(
        html.contains("name=\"push.min_heartbeat\" value=\"120\""),
        "{html}"
    );
    // In force for the next request, no restart.
    assert_eq!(ping(&phone, 60), ("5".into(), Some("120".into())));
    assert_eq!(ping(&phone, 900), ("5".into(), Some("600".into())));
    assert_eq!(
        autodiscover_url(&s),
        "https://mail.example.com/Microsoft-Server-ActiveSync"
    );
    assert_eq!(offered_versions(&s), "12.0,12.1,14.0,14.1");
    // A request in a version no longer on offer: 400 with the versions that are.
    let r = s.eas(ALICE, "newer").post("FolderSync", None);
    r.expect_status(400);
    assert_eq!(
        r.header("ms-asprotocolversions"),
        Some("12.0,12.1,14.0,14.1")
    );
    let audit = audit_json(&s);
    let set = audit
        .iter()
        .find(|e| e.action == "settings_set" && e.actor == ADMIN)
        .expect("the save is audited");
    assert!(set.detail.contains("push.min_heartbeat"), "{}", set.detail);
    assert_eq!(set.error, None);

    // Durable: a restarted server reads them back.
    s.restart();
    let mut phone = s.eas(ALICE, "phone2").with_version("14.1");
    phone.provision();
    assert_eq!(ping(&phone, 60), ("5".into(), Some("120".into())));
    assert_eq!(
        autodiscover_url(&s),
        "https://mail.example.com/Microsoft-Server-ActiveSync"
    );
    let shown = String::from_utf8(cli(&s, &["settings", "show"]).stdout).unwrap();
    assert!(shown.contains("push.min_heartbeat\t120\tsaved"), "{shown}");
    assert!(shown.contains("push.max_heartbeat\t600\tsaved"), "{shown}");

    // Back to the file's value: the button, then the command line.
    let mut b = Browser::signed_in(&s, ADMIN);
    let csrf = b.csrf(PAGE);
    b.post(
        "/admin/settings/unset",
        &[("csrf", &csrf), ("key", "public_url")],
    )
    .expect_status(303);
    assert!(autodiscover_url(&s).ends_with("/Microsoft-Server-ActiveSync"));
    assert!(!autodiscover_url(&s).contains("mail.example.com"));
    let out = cli(
        &s,
        &[
            "settings",
            "unset",
            "push.min_heartbeat",
            "max_protocol_version",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    // The file's minimum again.
    assert_eq!(ping(&phone, 50), ("5".into(), Some("60".into())));
    assert_eq!(offered_versions(&s), "12.0,12.1,14.0,14.1,16.0,16.1");
    assert!(
        audit_json(&s)
            .iter()
            .any(|e| e.action == "settings_unset" && e.actor == ADMIN)
    );
}

#[test]
fn bad_values_are_refused_on_the_page_and_nothing_is_saved() {
    let s = server_with(&[]);
    add_admin(&s, ADMIN);
    let mut b = Browser::signed_in(&s, ADMIN);
    for (fields, says) in [
        (vec![("push.min_heartbeat", "30")], "60 to 3540"),
        (vec![("push.max_heartbeat", "4000")], "60 to 3540"),
        // Both valid alone, not together.
        (
            vec![("push.min_heartbeat", "900"), ("push.max_heartbeat", "600")],
            "min &lt;= max",
        ),
        (vec![("public_url", "mail.example.com")], "public_url"),
        (vec![("relay.port", "99999")], "relay.port"),
        (vec![("lmtp", "somewhere")], "lmtp"),
    ] {
        let r = save(&mut b, &fields);
        r.expect_status(422);
        assert!(r.text().contains(says), "{fields:?}: {}", r.text());
    }
    let html = b.get(PAGE).text();
    assert!(!html.contains("saved here"), "{html}");
    assert!(
        html.contains("name=\"push.min_heartbeat\" value=\"60\""),
        "{html}"
    );
    // Refusals are audited with their error.
    assert!(
        audit_json(&s)
            .iter()
            .any(|e| e.action == "settings_set" && e.error.is_some())
    );
}

#[test]
fn the_relay_password_is_never_shown_and_listeners_wait_for_a_restart() {
    let sink = SmtpSink::start();
    // The file's relay port is closed; the page points easd at the sink.
    let s = start_server(|c| {
        sink.configure(c);
        c.relay.port = 1;
    });
    s.add_user(ALICE);
    add_admin(&s, ADMIN);
    let mut probe = easd::config::Config::default();
    sink.configure(&mut probe);
    let mut b = Browser::signed_in(&s, ADMIN);
    let port = probe.relay.port.to_string();
    save(
        &mut b,
        &[
            ("relay.port", &port),
            ("relay.password", "hunter2-relay"),
            ("notify.listen", "off"),
        ],
    )
    .expect_status(303);
    let html = b.get(PAGE).text();
    assert!(!html.contains("hunter2"), "{html}");
    assert!(html.contains("a password is set"), "{html}");
    assert!(html.contains("applies after restart"), "{html}");
    assert!(
        html.contains("Saved settings wait for a restart of easd: notify.listen"),
        "{html}"
    );
    assert!(
        b.get("/admin")
            .text()
            .contains("Saved settings wait for a restart of easd: notify.listen")
    );
    assert_eq!(
        s.status_json()["restart_pending"],
        serde_json::json!(["notify.listen"])
    );
    for e in audit_json(&s) {
        assert!(!e.detail.contains("hunter2"), "{e:?}");
    }
    let shown = String::from_utf8(cli(&s, &["settings", "show"]).stdout).unwrap();
    assert!(!shown.contains("hunter2"), "{shown}");
    // Leaving the password field empty keeps it.
    save(&mut b, &[("relay.password", ""), ("relay.port", &port)]).expect_status(200);
    assert!(b.get(PAGE).text().contains("a password is set"));

    // SendMail goes to the relay now in force (the sink takes any credentials).
    let phone = s.device(ALICE, "phone");
    let mime = format!(
        "From: {ALICE}\r\nTo: someone@elsewhere.example\r\nSubject: via the saved relay\r\n\r\nhello\r\n"
    );
    crate::send::send_mail(&phone, mime.as_bytes()).expect_status(200);
    let sent = sink.messages();
    assert_eq!(sent.len(), 1, "{sent:?}");
}

#[test]
fn only_admins_with_the_csrf_token_change_settings() {
    let s = server_with(&[ALICE]);
    add_admin(&s, ADMIN);
    let mut user = Browser::signed_in(&s, ALICE);
    user.get(PAGE).expect_status(403);
    let csrf = user.csrf("/account");
    user.post(PAGE, &[("csrf", &csrf), ("push.max_heartbeat", "600")])
        .expect_status(403);
    let mut admin = Browser::signed_in(&s, ADMIN);
    admin.get(PAGE).expect_status(200);
    admin
        .post(PAGE, &[("push.max_heartbeat", "600")])
        .expect_status(403);
    admin
        .post(PAGE, &[("csrf", "forged"), ("push.max_heartbeat", "600")])
        .expect_status(403);
    let html = admin.get(PAGE).text();
    assert!(
        html.contains("name=\"push.max_heartbeat\" value=\"1800\""),
        "{html}"
    );
    assert!(!html.contains("saved here"), "{html}");
}

#[test]
fn a_saved_setting_the_file_contradicts_stops_the_start_with_how_to_fix_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // No daemon: the command line saves on the store itself, checked over the file.
    let out = run_cli(&data, &["settings", "set", "push.min_heartbeat=900"]);
    assert!(out.status.success(), "{out:?}");
    let config = dir.path().join("easd.toml");
    std::fs::write(
        &config,
        "https = \"127.0.0.1:0\"\nlmtp = \"off\"\n[push]\nmax_heartbeat = 600\n[notify]\nlisten = \"off\"\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let mut serve = std::process::Command::new(cli_path())
        .args(["serve", "--data"])
        .arg(&data)
        .args(["--config", config])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = serve.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            serve.kill().unwrap();
            panic!("easd serve started with contradicting settings");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(!status.success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut serve.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(
        stderr.contains("do not fit the configuration file"),
        "{stderr}"
    );
    assert!(stderr.contains("min <= max"), "{stderr}");
    // Checked over that file, the saved value is refused; going back to the file's works.
    let out = run_cli(
        &data,
        &[
            "settings",
            "set",
            "push.min_heartbeat=700",
            "--config",
            config,
        ],
    );
    assert!(!out.status.success(), "{out:?}");
    let out = run_cli(
        &data,
        &[
            "settings",
            "unset",
            "push.min_heartbeat",
            "--config",
            config,
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let shown = String::from_utf8(run_cli(&data, &["settings", "show", "--config", config]).stdout)
        .unwrap();
    assert!(shown.contains("push.max_heartbeat\t600\tfile"), "{shown}");
}
