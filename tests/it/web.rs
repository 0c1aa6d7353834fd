//! The web pages (issue 14, points 1 and 2) over real HTTPS: `/` and the login, sessions
//! (cookie attributes, logout, idle expiry), the login throttle shared with ActiveSync,
//! CSRF, the admin-only pages, the self-service page and its device ownership, the audit
//! log written by web and command-line actions, the language switch, and what each page
//! shows.

use hyper::Method;

use crate::govern::{cli, gov_ok, one_device};
use crate::support::*;
use easd::admin::govern::GovRequest;
use easd::admin::ops::Request;
use easd::admin::reply::Reply;
use easd::store::model::{Access, AuditEntry};

const ADMIN: &str = "boss@example.com";
const ALICE: &str = "alice@example.com";
const BOB: &str = "bob@example.com";

pub(crate) fn add_admin(s: &TestServer, email: &str) {
    s.control_ok(Request::UserAdd {
        email: email.into(),
        name: Some("The Boss".into()),
        admin: true,
        password: PASSWORD.into(),
    });
}

fn emails(s: &TestServer) -> Vec<String> {
    match s.control(Request::UserList) {
        Reply::Users { users } => users.into_iter().map(|u| u.email).collect(),
        other => panic!("user list answered {other:?}"),
    }
}

pub(crate) fn audit_json(s: &TestServer) -> Vec<AuditEntry> {
    let out = cli(s, &["audit", "--json"]);
    assert!(
        out.status.success(),
        "easd audit: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("easd audit --json prints entries")
}

#[test]
fn the_first_visit_leads_to_the_login_then_to_each_ones_pages_and_logout_ends_it() {
    let s = server_with(&[ALICE]);
    add_admin(&s, ADMIN);
    let mut anon = Browser::new(&s);
    for path in ["/", "/admin", "/admin/audit", "/account", "/account/"] {
        let r = anon.get(path);
        r.expect_status(303);
        assert_eq!(r.header("location"), Some("/login"), "{path}");
    }
    let login = anon.get("/login");
    login.expect_status(200);
    assert!(login.text().contains("type=\"password\""));
    assert_eq!(
        login.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let csp = login.header("content-security-policy").expect("CSP");
    assert!(csp.contains("default-src 'none'"), "{csp}");

    let mut admin = Browser::new(&s);
    let r = admin.sign_in(ADMIN, PASSWORD);
    r.expect_status(303);
    let cookie = r
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("easd_session="))
        .expect("a session cookie");
    for attr in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attr), "{attr} missing from {cookie}");
    }
    let r = admin.get("/");
    r.expect_status(303);
    assert_eq!(r.header("location"), Some("/admin"));
    admin.get("/admin").expect_status(200);
    admin.get("/admin/").expect_status(200);
    // The stylesheet is embedded and served from the site itself.
    let css = admin.get("/web.css");
    css.expect_status(200);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert!(css.text().contains(":focus-visible"));

    let mut alice = Browser::signed_in(&s, ALICE);
    let r = alice.get("/");
    assert_eq!(r.header("location"), Some("/account"));
    alice.get("/account").expect_status(200);

    // Logout ends the session on the server: the old cookie no longer opens a page.
    let stolen = admin.cookies.clone();
    let csrf = admin.csrf("/admin");
    let r = admin.post("/logout", &[("csrf", &csrf)]);
    r.expect_status(303);
    assert_eq!(r.header("location"), Some("/login"));
    assert!(
        !admin.cookies.contains_key("easd_session"),
        "cookie cleared"
    );
    let mut replay = Browser::new(&s);
    replay.cookies = stolen;
    let r = replay.get("/admin");
    r.expect_status(303);
    assert_eq!(r.header("location"), Some("/login"));
}

#[test]
fn wrong_passwords_are_refused_then_throttled_like_activesync_logins() {
    let s = start_server(|c| {
        c.auth.lockout_after = 3;
        c.auth.slow_after = 100;
    });
    s.add_user(ALICE);
    let mut b = Browser::new(&s);
    for _ in 0..2 {
        let r = b.sign_in(ALICE, "wrong password");
        r.expect_status(401);
        assert!(
            r.text().contains("Wrong address or password"),
            "{}",
            r.text()
        );
        assert!(!b.cookies.contains_key("easd_session"));
    }
    // The third failure locks the account for unfamiliar sources: then the right
    // password too is refused.
    b.sign_in(ALICE, "wrong password").expect_status(429);
    let r = b.sign_in(ALICE, PASSWORD);
    r.expect_status(429);
    assert!(r.header("retry-after").is_some());
    assert!(r.text().contains("Too many failed sign-ins"));
    // The same throttle as ActiveSync: a new device from this source is refused as well.
    s.eas(ALICE, "NEWPHONE").options().expect_status(429);
}

#[test]
fn an_idle_session_ends() {
    let s = start_server(|c| c.web.session_idle_seconds = 2);
    add_admin(&s, ADMIN);
    let mut b = Browser::signed_in(&s, ADMIN);
    // Taken before the request: the server marks the session used after this instant.
    let last_use = std::time::Instant::now();
    b.get("/admin").expect_status(200);
    // Watched through `easd status`: a page would use the session and keep it alive.
    let sessions = || match s.control(Request::Status) {
        Reply::Status { status } => status["web_sessions"].as_u64().expect("web_sessions"),
        other => panic!("status answered {other:?}"),
    };
    assert_eq!(sessions(), 1);
    wait_for("the idle session to end", || sessions() == 0);
    assert!(
        last_use.elapsed() >= std::time::Duration::from_secs(2),
        "ended before its idle timeout"
    );
    assert_eq!(b.get("/admin").header("location"), Some("/login"));
}

#[test]
fn a_form_without_its_csrf_token_is_refused_and_changes_nothing() {
    let s = server_with(&[]);
    add_admin(&s, ADMIN);
    let mut b = Browser::signed_in(&s, ADMIN);
    let good = b.csrf("/admin/accounts");
    fn add(csrf: Option<&str>) -> Vec<(&str, &str)> {
        let mut f = vec![
            ("email", "carol@example.com"),
            ("password", "a long enough password"),
        ];
        if let Some(c) = csrf {
            f.push(("csrf", c));
        }
        f
    }
    let r = b.post("/admin/accounts/add", &add(None));
    r.expect_status(403);
    assert!(r.text().contains("nothing was changed"), "{}", r.text());
    let forged = "A".repeat(good.len());
    b.post("/admin/accounts/add", &add(Some(&forged)))
        .expect_status(403);
    b.post("/logout", &[]).expect_status(403);
    assert!(!emails(&s).contains(&"carol@example.com".to_owned()));
    assert!(
        audit_json(&s)
            .iter()
            .all(|e| e.action != "user_add" || !e.detail.contains("carol"))
    );

    // The login form has its own token.
    let mut anon = Browser::new(&s);
    anon.get("/login").expect_status(200);
    anon.post("/login", &[("user", ADMIN), ("password", PASSWORD)])
        .expect_status(403);
    assert!(!anon.cookies.contains_key("easd_session"));

    let r = b.post("/admin/accounts/add", &add(Some(&good)));
    r.expect_status(200);
    assert!(emails(&s).contains(&"carol@example.com".to_owned()));
    assert!(r.text().contains("carol@example.com"));
}

#[test]
fn a_user_is_refused_at_the_admin_pages() {
    let s = server_with(&[ALICE]);
    let mut alice = Browser::signed_in(&s, ALICE);
    for path in ["/admin", "/admin/accounts", "/admin/audit"] {
        let r = alice.get(path);
        r.expect_status(403);
        assert!(r.text().contains("for administrators"), "{path}");
    }
    let csrf = alice.csrf("/account");
    alice
        .post(
            "/admin/accounts/add",
            &[
                ("csrf", &csrf),
                ("email", "mallory@example.com"),
                ("password", "a long enough password"),
                ("admin", "on"),
            ],
        )
        .expect_status(403);
    assert!(!emails(&s).contains(&"mallory@example.com".to_owned()));
}

#[test]
fn a_user_sees_and_wipes_only_their_own_devices() {
    let s = server_with(&[ALICE, BOB]);
    s.device(ALICE, "ALICEPHONE");
    s.device(ALICE, "ALICEOLD");
    s.device(BOB, "BOBPHONE");
    gov_ok(
        &s,
        GovRequest::DeviceAccess {
            device: format!("{ALICE}/ALICEOLD"),
            access: Access::Block,
        },
    );
    let mut alice = Browser::signed_in(&s, ALICE);
    let page = alice.get("/account");
    page.expect_status(200);
    let html = page.text();
    assert!(html.contains("ALICEPHONE"), "{html}");
    assert!(
        !html.contains("ALICEOLD"),
        "a blocked device is not listed: {html}"
    );
    assert!(!html.contains("BOBPHONE"), "{html}");
    let csrf = csrf_of(&page);

    for other in ["BOBPHONE", "ALICEOLD", "NOSUCH"] {
        for confirm in ["", "1"] {
            let r = alice.post(
                "/account/wipe",
                &[("csrf", &csrf), ("device", other), ("confirm", confirm)],
            );
            r.expect_status(403);
        }
    }
    assert_eq!(one_device(&s, BOB, "BOBPHONE").wipe, "none");
    assert_eq!(one_device(&s, ALICE, "ALICEOLD").wipe, "none");

    // Her own: a confirmation step first, then the wipe.
    let r = alice.post(
        "/account/wipe",
        &[("csrf", &csrf), ("device", "ALICEPHONE")],
    );
    r.expect_status(200);
    assert!(r.text().contains("Yes, wipe it"), "{}", r.text());
    assert_eq!(one_device(&s, ALICE, "ALICEPHONE").wipe, "none");
    let r = alice.post(
        "/account/wipe",
        &[("csrf", &csrf), ("device", "ALICEPHONE"), ("confirm", "1")],
    );
    r.expect_status(200);
    assert!(r.text().contains("will be wiped"), "{}", r.text());
    assert_eq!(one_device(&s, ALICE, "ALICEPHONE").wipe, "pending");
    let wiped = audit_json(&s)
        .into_iter()
        .find(|e| e.action == "device_wipe")
        .expect("the wipe is audited");
    assert_eq!(wiped.actor, ALICE);
    assert!(wiped.detail.contains("ALICEPHONE"));
}

#[test]
fn a_user_changes_their_password_and_stays_signed_in() {
    let s = server_with(&[ALICE]);
    let mut alice = Browser::signed_in(&s, ALICE);
    let csrf = alice.csrf("/account");
    let r = alice.post(
        "/account/password",
        &[
            ("csrf", &csrf),
            ("current", "wrong"),
            ("new", "another fine password"),
        ],
    );
    r.expect_status(403);
    assert!(r.text().contains("current password is wrong"));
    let r = alice.post(
        "/account/password",
        &[
            ("csrf", &csrf),
            ("current", PASSWORD),
            ("new", "another fine password"),
        ],
    );
    r.expect_status(303);
    let r = alice.get(r.header("location").expect("location"));
    r.expect_status(200);
    assert!(
        r.text().contains("Your password was changed"),
        "{}",
        r.text()
    );
    // The new password is the account's, for ActiveSync too.
    s.eas(ALICE, "P1")
        .with_password("another fine password")
        .options()
        .expect_status(200);
    assert_eq!(Browser::new(&s).sign_in(ALICE, PASSWORD).status, 401);
}

#[test]
fn web_and_command_line_actions_are_audited() {
    let mut s = server_with(&[ALICE]);
    add_admin(&s, ADMIN);
    let mut b = Browser::signed_in(&s, ADMIN);
    let csrf = b.csrf("/admin/accounts");
    b.post(
        "/admin/accounts",
        &[("csrf", &csrf), ("account", ALICE), ("action", "disable")],
    )
    .expect_status(200);
    // A refused action is recorded with its error.
    b.post(
        "/admin/accounts/add",
        &[
            ("csrf", &csrf),
            ("email", "not an address"),
            ("password", "a long enough password"),
        ],
    )
    .expect_status(422);
    let out = cli(&s, &["user", "enable", ALICE]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let entries = audit_json(&s);
    let [cli_enable, web_add, web_disable] = &entries[..3] else {
        panic!("{entries:?}")
    };
    assert_eq!(web_disable.action, "user_set_enabled");
    assert_eq!(web_disable.actor, ADMIN);
    assert_eq!(web_disable.origin, "127.0.0.1");
    assert!(web_disable.detail.contains(ALICE) && web_disable.detail.contains("false"));
    assert_eq!(web_disable.error, None);
    // Written once, with the change it records (in its transaction), not again after it.
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.actor == ADMIN && e.action == "user_set_enabled")
            .count(),
        1,
        "{entries:?}"
    );
    assert_eq!(web_add.action, "user_add");
    assert!(web_add.error.is_some(), "{web_add:?}");
    assert!(
        !web_add.detail.contains("long enough"),
        "no password: {web_add:?}"
    );
    assert_eq!(cli_enable.action, "user_set_enabled");
    assert_eq!(cli_enable.origin, "control socket");
    assert!(cli_enable.actor.starts_with("uid "), "{cli_enable:?}");
    // The setup's own user_add (through the control socket) is there too.
    assert!(
        entries
            .iter()
            .any(|e| e.action == "user_add" && e.detail.contains(ADMIN))
    );
    // Reads are not recorded.
    assert!(entries.iter().all(|e| e.action != "user_list"));

    let page = b.get("/admin/audit");
    page.expect_status(200);
    let html = page.text();
    assert!(
        html.contains("user_set_enabled") && html.contains("control socket"),
        "{html}"
    );
    assert!(html.contains(ADMIN));

    // With the daemon stopped the command line works on the store, and is audited too.
    s.shutdown();
    let out = cli(&s, &["user", "disable", ALICE]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(&s, &["audit"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let newest = text.lines().next().expect("an entry");
    assert!(
        newest.contains("command line") && newest.contains("user_set_enabled"),
        "{text}"
    );
}

#[test]
fn the_language_follows_the_browser_then_the_switch() {
    let s = server_with(&[ALICE]);
    let mut b = Browser::new(&s);
    b.accept_language = Some("fr-FR,fr;q=0.9,en;q=0.5");
    let page = b.get("/login");
    let html = page.text();
    assert!(html.contains("<html lang=\"fr\">"), "{html}");
    assert!(html.contains("Se connecter"));
    // The switch: back to the same page, in English, remembered by a cookie.
    assert!(
        html.contains("href=\"/lang?l=en&amp;back=%2Flogin\""),
        "{html}"
    );
    let r = b.get("/lang?l=en&back=%2Flogin");
    r.expect_status(303);
    assert_eq!(r.header("location"), Some("/login"));
    assert_eq!(b.cookies.get("easd_lang").map(String::as_str), Some("en"));
    let html = b.get("/login").text();
    assert!(
        html.contains("<html lang=\"en\">") && html.contains("Sign in"),
        "{html}"
    );
    // Only paths of this site are gone back to.
    let r = b.get("/lang?l=fr&back=%2F%2Fevil.example");
    assert_eq!(r.header("location"), Some("/"));

    let mut alice = Browser::signed_in(&s, ALICE);
    alice.accept_language = Some("fr");
    let html = alice.get("/account").text();
    assert!(html.contains("Mes appareils") && html.contains("Changer mon mot de passe"));
}

#[test]
fn the_admin_pages_show_the_servers_data() {
    // Three accounts besides the one made at first start.
    let s = server_with(&[ALICE, BOB]);
    add_admin(&s, ADMIN);
    s.device(ALICE, "ALICEPHONE");
    s.device(BOB, "BOBPHONE");
    gov_ok(
        &s,
        GovRequest::DeviceAccess {
            device: format!("{BOB}/BOBPHONE"),
            access: Access::Block,
        },
    );
    s.set_enabled(BOB, false);
    let mut b = Browser::signed_in(&s, ADMIN);

    let html = b.get("/admin").text();
    assert!(html.contains(env!("CARGO_PKG_VERSION")), "{html}");
    assert!(html.contains("<dt>Accounts</dt><dd>4</dd>"), "{html}");
    assert!(
        html.contains("allowed 1") && html.contains("blocked 1"),
        "{html}"
    );
    assert!(html.contains(" MiB"), "memory and store size: {html}");
    // The store's sizes: the file with its live data, free space and search index, and
    // the message files.
    assert!(
        html.contains("<dt>Store database</dt>")
            && html.contains(" · data ")
            && html.contains(" · free ")
            && html.contains(" · search index "),
        "{html}"
    );
    assert!(
        html.contains("<dt>Message files</dt>") && html.contains(" · on disk "),
        "{html}"
    );

    let html = b.get("/admin/accounts").text();
    for want in [ALICE, BOB, ADMIN, "The Boss", "administrator", "disabled"] {
        assert!(html.contains(want), "{want} missing: {html}");
    }

    let html = b.get("/admin/audit").text();
    assert!(
        html.contains("user_set_enabled") && html.contains("device_access"),
        "{html}"
    );
    assert!(html.contains(" UTC"), "{html}");
}

#[test]
fn the_dashboard_shows_the_served_certificate_and_warns_before_it_expires() {
    let s = server_with(&[]);
    add_admin(&s, ADMIN);
    let served = leaf_info(&s.data_dir().join("tls").join("cert.pem"));
    let html = Browser::signed_in(&s, ADMIN).get("/admin").text();
    assert!(html.contains(&served.sha256), "{html}");
    assert!(html.contains(&served.issuer), "{html}");
    assert!(!html.contains("expires in less than 14 days"), "{html}");

    // A certificate ten days from its end.
    let dir = tempfile::tempdir().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
    let soon = std::time::SystemTime::now() + std::time::Duration::from_secs(10 * 86_400);
    params.not_after = soon.into();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Short-lived Test CA");
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let (cert_path, key_path) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    let s = start_server(|c| {
        c.cert = Some(cert_path.clone());
        c.key = Some(key_path.clone());
    });
    add_admin(&s, ADMIN);
    // The test client trusts DATA/tls/cert.pem: put the served one there.
    std::fs::create_dir_all(s.data_dir().join("tls")).unwrap();
    std::fs::copy(&cert_path, s.data_dir().join("tls").join("cert.pem")).unwrap();
    let html = Browser::signed_in(&s, ADMIN).get("/admin").text();
    assert!(html.contains("CN=Short-lived Test CA"), "{html}");
    assert!(html.contains("expires in less than 14 days"), "{html}");
}

#[test]
fn the_first_start_prints_the_admin_url_and_the_certificate_fingerprint() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    /// The daemon started here, stopped however the test ends.
    struct Daemon(std::process::Child);
    impl Drop for Daemon {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = Daemon(
        std::process::Command::new(cli_path())
            .args([
                "serve",
                "--https",
                "127.0.0.1:0",
                "--lmtp",
                "off",
                "--notify",
                "off",
            ])
            .arg("--data")
            .arg(dir.path())
            .env_remove("EASD_ADMIN_PASSWORD")
            .env_remove("EASD_DATA")
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start easd"),
    );
    let stderr = child.0.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut said = Vec::new();
    while !said.iter().any(|l: &String| l.contains("fingerprint")) {
        match rx.recv_timeout(std::time::Duration::from_secs(60)) {
            Ok(line) => said.push(line),
            Err(e) => panic!("easd never printed its fingerprint ({e}): {said:?}"),
        }
    }
    let text = said.join("\n");
    let url = said
        .iter()
        .find_map(|l| l.strip_prefix("easd: sign in at "))
        .unwrap_or_else(|| panic!("no URL in {text}"))
        .to_owned();
    let password = std::fs::read_to_string(dir.path().join("initial-admin-password")).unwrap();
    let served = leaf_info(&dir.path().join("tls").join("cert.pem"));
    assert!(text.contains(&served.sha256), "{text}");
    assert!(text.contains(password.trim()), "{text}");

    // The URL leads to the login page of that daemon.
    let port: u16 = url
        .strip_prefix("https://localhost:")
        .and_then(|rest| rest.strip_suffix("/admin"))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected URL {url}"));
    let http = HttpClient::https_to(
        std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        &dir.path().join("tls").join("cert.pem"),
    );
    let r = http.request(Method::GET, "/admin", &[], Vec::new());
    drop(child);
    r.expect_status(303);
    assert_eq!(r.header("location"), Some("/login"));
}

#[test]
fn the_devices_page_filters_and_acts_with_a_confirmation_for_what_destroys() {
    let s = server_with(&[ALICE, BOB]);
    add_admin(&s, ADMIN);
    s.device(ALICE, "ALICEPHONE");
    s.device(ALICE, "ALICETAB");
    s.device(BOB, "BOBPHONE");
    let mut b = Browser::signed_in(&s, ADMIN);
    let page = b.get("/admin/devices");
    page.expect_status(200);
    let html = page.text();
    for want in [
        "ALICEPHONE",
        "ALICETAB",
        "BOBPHONE",
        "TestDevice",
        "16.1",
        "3 devices",
    ] {
        assert!(html.contains(want), "{want} missing: {html}");
    }
    let html = b.get(&format!("/admin/devices?user={}", enc(BOB))).text();
    assert!(
        html.contains("BOBPHONE") && !html.contains("ALICEPHONE"),
        "{html}"
    );
    assert!(html.contains("1 devices"), "{html}");

    let csrf = csrf_of(&page);
    let act = |b: &mut Browser, device: &str, action: &str, confirm: &str| {
        let device = format!("{ALICE}/{device}");
        b.post(
            "/admin/devices",
            &[
                ("csrf", &csrf),
                ("device", &device),
                ("action", action),
                ("confirm", confirm),
            ],
        )
    };
    act(&mut b, "ALICEPHONE", "block", "").expect_status(200);
    assert_eq!(one_device(&s, ALICE, "ALICEPHONE").abq, Access::Block);
    let html = b.get("/admin/devices?status=block").text();
    assert!(
        html.contains("ALICEPHONE") && !html.contains("ALICETAB"),
        "{html}"
    );
    act(&mut b, "ALICEPHONE", "allow", "").expect_status(200);
    assert_eq!(one_device(&s, ALICE, "ALICEPHONE").abq, Access::Allow);

    // Wipes and delete ask first.
    for (action, question) in [
        ("wipe", "Erase everything on this device"),
        ("account-wipe", "Erase this account's data"),
        ("delete", "Delete this device from the registry"),
    ] {
        let r = act(&mut b, "ALICETAB", action, "");
        r.expect_status(200);
        assert!(r.text().contains(question), "{action}: {}", r.text());
        assert_eq!(one_device(&s, ALICE, "ALICETAB").wipe, "none");
    }
    act(&mut b, "ALICETAB", "account-wipe", "1").expect_status(200);
    assert_eq!(one_device(&s, ALICE, "ALICETAB").wipe, "pending");
    act(&mut b, "ALICETAB", "wipe-cancel", "").expect_status(200);
    assert_eq!(one_device(&s, ALICE, "ALICETAB").wipe, "none");
    act(&mut b, "ALICETAB", "delete", "1").expect_status(200);
    let html = b.get("/admin/devices").text();
    assert!(
        !html.contains("ALICETAB") && html.contains("2 devices"),
        "{html}"
    );
    // An action on no device, or an unknown one, changes nothing and says why.
    let r = b.post("/admin/devices", &[("csrf", &csrf), ("action", "block")]);
    r.expect_status(422);
    let r = act(&mut b, "NOSUCH", "block", "");
    r.expect_status(422);
    assert_eq!(one_device(&s, ALICE, "ALICEPHONE").abq, Access::Allow);
    let audit = audit_json(&s);
    for action in [
        "device_access",
        "device_wipe",
        "device_wipe_cancel",
        "device_delete",
    ] {
        assert!(
            audit.iter().any(|e| e.action == action && e.actor == ADMIN),
            "{action}"
        );
    }
}

#[test]
fn the_accounts_page_switches_activesync_sets_passwords_and_deletes_after_asking() {
    let s = server_with(&[ALICE, BOB]);
    add_admin(&s, ADMIN);
    let mut b = Browser::signed_in(&s, ADMIN);
    let csrf = b.csrf("/admin/accounts");
    let act = |b: &mut Browser, account: &str, action: &str, extra: &[(&str, &str)]| {
        let mut f = vec![
            ("csrf", csrf.as_str()),
            ("account", account),
            ("action", action),
        ];
        f.extend_from_slice(extra);
        b.post("/admin/accounts", &f)
    };

    // ActiveSync off: the account's phones get 403, its web pages still work.
    act(&mut b, ALICE, "activesync-off", &[]).expect_status(200);
    s.eas(ALICE, "PHONE1").options().expect_status(403);
    let html = b.get("/admin/accounts").text();
    assert!(html.contains("<td>off</td>"), "{html}");
    Browser::signed_in(&s, ALICE)
        .get("/account")
        .expect_status(200);
    act(&mut b, ALICE, "activesync-on", &[]).expect_status(200);
    s.eas(ALICE, "PHONE1").options().expect_status(200);

    act(
        &mut b,
        BOB,
        "password",
        &[("password", "a brand new password")],
    )
    .expect_status(200);
    s.eas(BOB, "PHONE2")
        .with_password("a brand new password")
        .options()
        .expect_status(200);
    // Empty: refused, said, nothing changed.
    let r = act(&mut b, BOB, "password", &[("password", "")]);
    r.expect_status(422);
    assert!(r.text().contains("the password is empty"), "{}", r.text());
    s.eas(BOB, "PHONE2")
        .with_password("a brand new password")
        .options()
        .expect_status(200);

    let r = act(&mut b, BOB, "delete", &[]);
    r.expect_status(200);
    assert!(r.text().contains("Delete this account"), "{}", r.text());
    assert!(emails(&s).contains(&BOB.to_owned()));
    act(&mut b, BOB, "delete", &[("confirm", "1")]).expect_status(200);
    assert!(!emails(&s).contains(&BOB.to_owned()));
    act(&mut b, "", "disable", &[]).expect_status(422);
    let audit = audit_json(&s);
    for action in ["user_set_activesync", "user_passwd", "user_del"] {
        assert!(
            audit.iter().any(|e| e.action == action && e.actor == ADMIN),
            "{action}"
        );
    }
    assert!(audit.iter().all(|e| !e.detail.contains("brand new")));
}

#[test]
fn the_account_page_shows_the_policy_that_applies_and_sets_out_of_office() {
    let s = server_with(&[ALICE]);
    s.set_policy(
        "domain:example.com",
        &[
            ("DevicePasswordEnabled", "1"),
            ("MinDevicePasswordLength", "6"),
        ],
    );
    let mut alice = Browser::signed_in(&s, ALICE);
    let page = alice.get("/account");
    let html = page.text();
    assert!(html.contains("inherited from domain example.com"), "{html}");
    assert!(
        html.contains("<dt>MinDevicePasswordLength</dt><dd>6</dd>"),
        "{html}"
    );

    let csrf = csrf_of(&page);
    let r = alice.post(
        "/account/oof",
        &[("csrf", &csrf), ("on", "on"), ("reply", "")],
    );
    r.expect_status(422);
    let r = alice.post(
        "/account/oof",
        &[
            ("csrf", &csrf),
            ("on", "on"),
            ("reply", "Back on Monday <3"),
        ],
    );
    r.expect_status(303);
    let html = alice.get(r.header("location").unwrap()).text();
    assert!(html.contains("out-of-office settings were saved"), "{html}");
    assert!(html.contains("name=\"on\" checked"), "{html}");
    assert!(
        html.contains(">Back on Monday &lt;3</textarea>"),
        "escaped: {html}"
    );
    alice
        .post(
            "/account/oof",
            &[("csrf", &csrf), ("reply", "Back on Monday <3")],
        )
        .expect_status(303);
    let html = alice.get("/account").text();
    assert!(!html.contains("name=\"on\" checked"), "{html}");
}

#[test]
fn resetting_the_activesync_database_makes_devices_resync_and_keeps_their_governance() {
    use easd::wbxml::tag::folderhierarchy as fh;
    let s = server_with(&[ALICE, BOB]);
    add_admin(&s, ADMIN);
    let alice = s.device(ALICE, "ALICEPHONE");
    let bob = s.device(BOB, "BOBPHONE");
    let (alice_key, _) = alice.folder_sync_ok("0");
    let (bob_key, _) = bob.folder_sync_ok("0");
    gov_ok(
        &s,
        GovRequest::DeviceSettings {
            device: format!("{ALICE}/ALICEPHONE"),
            values: vec![("mail_period".into(), "1w".into())],
        },
    );
    let settings_before = one_device(&s, ALICE, "ALICEPHONE").settings;

    // The command line, for one account: only bob's device starts over.
    let out = cli(&s, &["sync-state", "reset", "--user", BOB]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(bob.folder_sync(&bob_key).text_of(fh::STATUS), Some("9"));
    assert_eq!(alice.folder_sync(&alice_key).text_of(fh::STATUS), Some("1"));

    // The web page, after its confirmation page: every device.
    let mut b = Browser::signed_in(&s, ADMIN);
    let csrf = b.csrf("/admin");
    let r = b.post("/admin/sync-reset", &[("csrf", &csrf)]);
    r.expect_status(200);
    assert!(
        r.text().contains("download all its folders again"),
        "{}",
        r.text()
    );
    assert_eq!(alice.folder_sync(&alice_key).text_of(fh::STATUS), Some("1"));
    let r = b.post("/admin/sync-reset", &[("csrf", &csrf), ("confirm", "1")]);
    r.expect_status(200);
    assert!(
        r.text().contains("sync state dropped for 2 devices"),
        "{}",
        r.text()
    );
    assert_eq!(alice.folder_sync(&alice_key).text_of(fh::STATUS), Some("9"));
    // Governance and settings are kept: the device syncs again without a new Provision.
    let (_, folders) = alice.folder_sync_ok("0");
    assert!(!changes_of(&folders).adds.is_empty());
    assert_eq!(
        one_device(&s, ALICE, "ALICEPHONE").settings,
        settings_before
    );
    let audit = audit_json(&s);
    let resets: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "sync_state_reset")
        .collect();
    assert_eq!(resets.len(), 2, "{audit:?}");
}

#[test]
fn the_device_window_shows_the_device_and_its_protocol_log_with_its_switch() {
    let s = server_with(&[ALICE]);
    add_admin(&s, ADMIN);
    let phone = s.device(ALICE, "ALICEPHONE");
    let mut b = Browser::signed_in(&s, ADMIN);
    let list = b.get("/admin/devices").text();
    let link = "/admin/devices/show?device=alice%40example.com%2FALICEPHONE";
    assert!(list.contains(link), "{list}");
    let page = b.get(link);
    page.expect_status(200);
    let html = page.text();
    for want in [
        "<dt>device_id</dt><dd>ALICEPHONE</dd>",
        "<dt>type</dt><dd>TestDevice</dd>",
        "settings.mail_period",
        "No protocol log",
    ] {
        assert!(html.contains(want), "{want} missing: {html}");
    }
    let csrf = csrf_of(&page);
    let device = format!("{ALICE}/ALICEPHONE");
    let r = b.post(
        "/admin/devices/log",
        &[("csrf", &csrf), ("device", &device), ("on", "1")],
    );
    r.expect_status(303);
    phone.folder_sync_ok("0");
    let html = b.get(link).text();
    assert!(
        html.contains("FolderSync") && html.contains("class=\"log\""),
        "{html}"
    );
    b.post(
        "/admin/devices/log",
        &[("csrf", &csrf), ("device", &device), ("on", "0")],
    )
    .expect_status(303);
    assert!(
        audit_json(&s)
            .iter()
            .filter(|e| e.action == "log_set")
            .count()
            == 2
    );
    b.get("/admin/devices/show?device=alice%40example.com%2FNOSUCH")
        .expect_status(404);
}

#[test]
fn the_policies_page_edits_a_level_and_the_level_below_says_it_inherits() {
    let s = server_with(&[ALICE]);
    add_admin(&s, ADMIN);
    let mut b = Browser::signed_in(&s, ADMIN);
    let page = b.get("/admin/policies?level=domain:example.com");
    page.expect_status(200);
    let html = page.text();
    for group in ["Security", "Synchronisation", "Device", "Applications"] {
        assert!(
            html.contains(&format!("<h2>{group}</h2>")),
            "{group}: {html}"
        );
    }
    assert!(!html.contains("own settings"), "{html}");
    let csrf = csrf_of(&page);
    let level = "domain:example.com";
    let r = b.post(
        "/admin/policies",
        &[
            ("csrf", &csrf),
            ("level", level),
            ("MinDevicePasswordLength", "6"),
            ("DevicePasswordEnabled", "1"),
        ],
    );
    r.expect_status(303);
    let html = b.get(r.header("location").unwrap()).text();
    assert!(html.contains("own settings"), "{html}");
    assert!(
        html.contains("name=\"MinDevicePasswordLength\" value=\"6\""),
        "{html}"
    );
    let html = b
        .get("/admin/policies?level=user:alice%40example.com")
        .text();
    assert!(html.contains("inherited from domain example.com"), "{html}");
    assert!(
        html.contains("name=\"MinDevicePasswordLength\" value=\"6\""),
        "{html}"
    );
    // A value the policy does not accept: refused, said, nothing changed.
    let r = b.post(
        "/admin/policies",
        &[
            ("csrf", &csrf),
            ("level", level),
            ("MinDevicePasswordLength", "many"),
        ],
    );
    r.expect_status(422);
    assert!(
        b.get("/admin/policies?level=domain:example.com")
            .text()
            .contains("value=\"6\"")
    );
    // Inherit again.
    b.post(
        "/admin/policies/inherit",
        &[("csrf", &csrf), ("level", level)],
    )
    .expect_status(303);
    let html = b
        .get("/admin/policies?level=user:alice%40example.com")
        .text();
    assert!(
        !html.contains("inherited from domain example.com"),
        "{html}"
    );
    assert!(
        !html.contains("name=\"MinDevicePasswordLength\" value=\"6\""),
        "{html}"
    );
    let audit = audit_json(&s);
    assert!(
        audit
            .iter()
            .any(|e| e.action == "policy_set" && e.actor == ADMIN)
    );
    assert!(
        audit
            .iter()
            .any(|e| e.action == "policy_inherit" && e.actor == ADMIN)
    );
}

fn rules(s: &TestServer) -> easd::govern::abq::Rules {
    match s.control(Request::Govern(GovRequest::RuleList)) {
        Reply::Govern(easd::admin::reply::GovReply::Rules { rules }) => rules,
        other => panic!("rule list answered {other:?}"),
    }
}

#[test]
fn the_rules_page_sets_the_global_server_user_and_domain_rules() {
    let s = server_with(&[ALICE]);
    add_admin(&s, ADMIN);
    let mut b = Browser::signed_in(&s, ADMIN);
    let csrf = b.csrf("/admin/rules");
    b.post(
        "/admin/rules/global",
        &[("csrf", &csrf), ("global", "quarantine")],
    )
    .expect_status(303);
    assert_eq!(rules(&s).global, Access::Quarantine);
    // A new phone now waits for an admin: the rule is in force.
    let mut phone = s.eas(ALICE, "NEWPHONE");
    phone.provision();
    crate::govern::folder_sync_status(&phone);
    assert_eq!(one_device(&s, ALICE, "NEWPHONE").abq, Access::Quarantine);

    let add = [
        ("csrf", csrf.as_str()),
        ("edit", ""),
        ("param", "os"),
        ("value", "iOS 17"),
        ("action", "allow"),
        ("description", "company iPhones"),
    ];
    b.post("/admin/rules/save", &add).expect_status(303);
    let r = rules(&s).server;
    assert_eq!(r.len(), 1);
    let id = r[0].id.to_string();
    assert_eq!(
        (r[0].value.as_str(), r[0].action, r[0].enabled),
        ("iOS 17", Access::Allow, true)
    );
    let html = b.get("/admin/rules").text();
    assert!(
        html.contains("company iPhones") && html.contains("iOS 17"),
        "{html}"
    );

    let edit = [
        ("csrf", csrf.as_str()),
        ("edit", id.as_str()),
        ("param", "model"),
        ("value", "Pixel"),
        ("action", "block"),
        ("description", "no Pixels"),
    ];
    b.post("/admin/rules/save", &edit).expect_status(303);
    let r = &rules(&s).server[0];
    assert_eq!((r.value.as_str(), r.action), ("Pixel", Access::Block));
    b.post(
        "/admin/rules/server",
        &[("csrf", &csrf), ("id", &id), ("op", "disable")],
    )
    .expect_status(303);
    assert!(!rules(&s).server[0].enabled);
    b.post("/admin/rules/server", &[("csrf", &csrf), ("op", "delete")])
        .expect_status(422);
    b.post(
        "/admin/rules/server",
        &[("csrf", &csrf), ("id", &id), ("op", "delete")],
    )
    .expect_status(303);
    assert!(rules(&s).server.is_empty());

    b.post(
        "/admin/rules/target",
        &[
            ("csrf", &csrf),
            ("target", &format!("user:{ALICE}")),
            ("target_action", "block"),
            ("op", "set"),
        ],
    )
    .expect_status(303);
    b.post(
        "/admin/rules/target",
        &[
            ("csrf", &csrf),
            ("target", "domain:example.com"),
            ("target_action", "allow"),
            ("op", "set"),
        ],
    )
    .expect_status(303);
    let r = rules(&s);
    assert_eq!(r.users.get(ALICE), Some(&Access::Block));
    assert_eq!(r.domains.get("example.com"), Some(&Access::Allow));
    let html = b.get("/admin/rules").text();
    assert!(
        html.contains(&format!("user:{ALICE}")) && html.contains("domain:example.com"),
        "{html}"
    );
    b.post(
        "/admin/rules/target",
        &[
            ("csrf", &csrf),
            ("target", &format!("user:{ALICE}")),
            ("op", "remove"),
        ],
    )
    .expect_status(303);
    assert_eq!(rules(&s).users.get(ALICE), None);
    let audit = audit_json(&s);
    for action in [
        "rule_global",
        "rule_add",
        "rule_edit",
        "rule_set_enabled",
        "rule_del",
        "rule_user",
        "rule_domain",
    ] {
        assert!(
            audit.iter().any(|e| e.action == action && e.actor == ADMIN),
            "{action}"
        );
    }
}

#[test]
fn a_rules_new_device_settings_are_set_on_its_page_and_given_to_the_devices_it_admits() {
    use easd::govern::abq::Param;
    use easd::store::model::Period;
    let s = server_with(&[ALICE]);
    add_admin(&s, ADMIN);
    let ios = crate::govern::add_rule(&s, Param::Os, "iOS", Access::Allow, true);
    let page = format!("/admin/rules/settings?rule={ios}");
    let mut b = Browser::signed_in(&s, ADMIN);
    let rules_page = b.get("/admin/rules").text();
    assert!(
        rules_page.contains(&format!("href=\"{page}\"")),
        "{rules_page}"
    );
    assert!(rules_page.contains("href=\"/admin/rules/settings?rule=global\""));
    let html = b.get(&page).text();
    assert!(html.contains("built-in"), "{html}");
    assert!(
        html.contains("name=\"mail_period\" value=\"none\""),
        "{html}"
    );
    let csrf = csrf_of(&b.get(&page));
    let id = ios.to_string();
    let r = b.post(
        "/admin/rules/settings",
        &[
            ("csrf", &csrf),
            ("rule", &id),
            ("op", "save"),
            ("mail_period", "1m"),
            ("archive", "on"),
        ],
    );
    r.expect_status(303);
    let html = b.get(r.header("location").unwrap()).text();
    assert!(html.contains("own template"), "{html}");
    assert!(html.contains("name=\"mail_period\" value=\"1m\""), "{html}");
    // Refused values say why and change nothing: a bad word, and a folder id (folders
    // belong to one account).
    for (key, value, says) in [
        ("mail_period", "forever", "mail_period=forever"),
        ("tasks_calendar", "5", "names no folder"),
    ] {
        let r = b.post(
            "/admin/rules/settings",
            &[("csrf", &csrf), ("rule", &id), ("op", "save"), (key, value)],
        );
        r.expect_status(422);
        assert!(r.text().contains(says), "{key}: {}", r.text());
    }
    assert!(
        b.get(&page)
            .text()
            .contains("name=\"mail_period\" value=\"1m\"")
    );
    // Without the CSRF token: refused, unchanged.
    b.post(
        "/admin/rules/settings",
        &[("rule", &id), ("op", "save"), ("mail_period", "2w")],
    )
    .expect_status(403);

    // A device the rule admits starts with them.
    let phone = crate::govern::phone(&s, ALICE, "IPHONE", "iOS 17.4", "iPhone15,2");
    assert_eq!(crate::govern::admitted(&s, &phone), Access::Allow);
    let got = one_device(&s, ALICE, "IPHONE").settings;
    assert_eq!(got.mail_period, Some(Period::OneMonth));
    assert!(got.archive);

    // Removing the rule's own settings: the built-in defaults again, the device keeps its.
    b.post(
        "/admin/rules/settings",
        &[("csrf", &csrf), ("rule", &id), ("op", "clear")],
    )
    .expect_status(303);
    assert!(b.get(&page).text().contains("built-in"));
    assert_eq!(
        one_device(&s, ALICE, "IPHONE").settings.mail_period,
        Some(Period::OneMonth)
    );
    b.get("/admin/rules/settings?rule=99").expect_status(404);
    let audit = audit_json(&s);
    assert!(
        audit
            .iter()
            .filter(|e| e.action == "rule_settings" && e.actor == ADMIN)
            .count()
            >= 2,
        "{audit:?}"
    );
}

#[test]
fn the_certificate_page_installs_a_chain_audited_and_a_refused_one_keeps_the_old() {
    let s = server_with(&[]);
    add_admin(&s, ADMIN);
    let old = pem_certs(
        &std::fs::read_to_string(s.data_dir().join("tls").join("cert.pem")).expect("cert"),
    );
    let mut b = Browser::signed_in(&s, ADMIN);
    let dashboard = b.get("/admin").text();
    assert!(dashboard.contains("self-signed"), "{dashboard}");
    let page = b.get("/admin/certificate");
    page.expect_status(200);
    assert!(page.text().contains("name=\"chain_pem\""));
    let csrf = csrf_of(&page);

    let ca = TestCa::new("easd web CA");
    let (chain, key) = ca.issue(&["localhost"], false);
    let (_, other_key) = ca.issue(&["localhost"], false);
    // A key of another certificate: refused with the reason, nothing served changes.
    let refused = b.post(
        "/admin/certificate",
        &[
            ("csrf", &csrf),
            ("chain_pem", &chain),
            ("key_pem", &other_key),
        ],
    );
    refused.expect_status(422);
    assert!(
        refused
            .text()
            .contains("does not belong to the certificate"),
        "{}",
        refused.text()
    );
    assert_eq!(
        served_chain(s.https_addr(), "localhost", &old).unwrap(),
        old
    );
    // Without the CSRF token nothing is installed either.
    b.post(
        "/admin/certificate",
        &[("chain_pem", &chain), ("key_pem", &key)],
    )
    .expect_status(403);
    assert_eq!(
        served_chain(s.https_addr(), "localhost", &old).unwrap(),
        old
    );

    let done = b.post(
        "/admin/certificate",
        &[("csrf", &csrf), ("chain_pem", &chain), ("key_pem", &key)],
    );
    done.expect_status(200);
    assert!(
        done.text().contains("installed (web page"),
        "{}",
        done.text()
    );
    let trusted = vec![ca.der()];
    let served = served_chain(s.https_addr(), "localhost", &trusted).unwrap();
    assert_eq!(served, pem_certs(&chain));

    let audit = audit_json(&s);
    let installs: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "cert_install" && e.actor == ADMIN)
        .collect();
    assert_eq!(installs.len(), 2, "{audit:?}");
    assert_eq!(installs[0].error, None);
    assert!(installs[1].error.is_some());
    assert!(
        installs
            .iter()
            .all(|e| !e.detail.contains("BEGIN") && !e.detail.contains("PRIVATE")),
        "{installs:?}"
    );
}

#[test]
fn a_rule_for_similar_devices_is_made_from_the_device_list_or_window() {
    let s = server_with(&[ALICE]);
    add_admin(&s, ADMIN);
    s.device(ALICE, "ALICEPHONE");
    let mut b = Browser::signed_in(&s, ADMIN);
    let list = b.get("/admin/devices");
    assert!(
        list.text().contains("formaction=\"/admin/rules/similar\""),
        "{}",
        list.text()
    );
    let device = format!("{ALICE}/ALICEPHONE");
    let window = b.get(&format!("/admin/devices/show?device={}", enc(&device)));
    assert!(window.text().contains("action=\"/admin/rules/similar\""));
    let csrf = csrf_of(&window);

    // A device that does not exist: refused with the reason, no rule made.
    let refused = b.post(
        "/admin/rules/similar",
        &[
            ("csrf", &csrf),
            ("device", &format!("{ALICE}/NOSUCH")),
            ("similar_param", "type"),
            ("similar_action", "quarantine"),
        ],
    );
    refused.expect_status(422);
    let server_rules = |s: &TestServer| match s.control(Request::Govern(GovRequest::RuleList)) {
        Reply::Govern(easd::admin::reply::GovReply::Rules { rules }) => rules.server,
        other => panic!("rule list answered {other:?}"),
    };
    assert!(server_rules(&s).is_empty());

    let made = b.post(
        "/admin/rules/similar",
        &[
            ("csrf", &csrf),
            ("device", &device),
            ("similar_param", "type"),
            ("similar_action", "quarantine"),
        ],
    );
    made.expect_status(303);
    let rules = server_rules(&s);
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert_eq!(rules[0].value, "TestDevice");
    assert_eq!(rules[0].action, Access::Quarantine);
    let page = b.get("/admin/rules").text();
    assert!(page.contains("TestDevice"), "{page}");
    assert!(
        audit_json(&s)
            .iter()
            .any(|e| e.action == "rule_add" && e.actor == ADMIN && e.error.is_none())
    );
}

#[test]
fn the_logs_page_searches_an_accounts_device_logs_newest_first_and_switches_them() {
    let s = server_with(&[ALICE, BOB]);
    add_admin(&s, ADMIN);
    let alice = s.device(ALICE, "ALICEPHONE");
    let bob = s.device(BOB, "BOBPHONE");
    let mut b = Browser::signed_in(&s, ADMIN);
    let page = b.get(&format!("/admin/logs?account={}", enc(ALICE)));
    page.expect_status(200);
    assert!(page.text().contains("No protocol log"), "{}", page.text());
    let csrf = csrf_of(&page);
    for who in [ALICE, BOB] {
        b.post(
            "/admin/logs/switch",
            &[("csrf", &csrf), ("account", who), ("on", "1")],
        )
        .expect_status(303);
    }
    alice.folder_sync_ok("0");
    alice.post("Settings", None);
    bob.folder_sync_ok("0");

    let html = b.get(&format!("/admin/logs?account={}", enc(ALICE))).text();
    let (settings, folder_sync) = (
        html.find("&lt;&lt;&lt; Settings"),
        html.find("&lt;&lt;&lt; FolderSync"),
    );
    assert!(
        settings.is_some() && folder_sync.is_some() && settings < folder_sync,
        "newest first: {html}"
    );
    assert!(!html.contains("BOBPHONE ["), "only alice's: {html}");
    let html = b
        .get(&format!("/admin/logs?account={}&q=Settings", enc(ALICE)))
        .text();
    assert!(
        html.contains("&lt;&lt;&lt; Settings") && !html.contains("&lt;&lt;&lt; FolderSync"),
        "{html}"
    );
    let html = b.get("/admin/logs?device=BOBPHONE").text();
    assert!(
        html.contains("BOBPHONE [") && !html.contains("ALICEPHONE ["),
        "{html}"
    );

    // Off again: nothing more is logged; an unknown account is refused.
    b.post(
        "/admin/logs/switch",
        &[("csrf", &csrf), ("account", ALICE), ("on", "0")],
    )
    .expect_status(303);
    b.post(
        "/admin/logs/switch",
        &[
            ("csrf", &csrf),
            ("account", "nobody@example.com"),
            ("on", "1"),
        ],
    )
    .expect_status(422);
    assert_eq!(
        audit_json(&s)
            .iter()
            .filter(|e| e.action == "log_set" && e.actor == ADMIN)
            .count(),
        4
    );
}

/// The directory entry of `email`, as `easd user show` reads it.
fn entry_of(s: &TestServer, email: &str) -> easd::directory::entry::Shown {
    match s.control(Request::UserShow {
        email: email.into(),
    }) {
        Reply::Directory { entry } => *entry,
        other => panic!("user show: {other:?}"),
    }
}

fn entry_field(e: &easd::directory::entry::Shown, key: &str) -> String {
    e.fields
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("no field {key}"))
}

fn test_certificate(name: &str) -> rcgen::Certificate {
    let mut params = rcgen::CertificateParams::new(vec![]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params
        .self_signed(&rcgen::KeyPair::generate().unwrap())
        .unwrap()
}

#[test]
fn the_admin_edits_a_directory_entry_with_its_photo_and_certificates() {
    let s = server_with(&[ALICE]);
    add_admin(&s, ADMIN);
    let mut b = Browser::signed_in(&s, ADMIN);
    let accounts = b.get("/admin/accounts").text();
    let page_path = "/admin/accounts/entry?account=alice%40example.com";
    assert!(
        accounts.contains("/admin/accounts/entry?account=alice%40example.com"),
        "{accounts}"
    );
    let csrf = b.csrf(page_path);
    let mut photo = vec![0xFF, 0xD8, 0xFF, 0xE0];
    photo.resize(3000, 7);
    let (one, two) = (test_certificate("Alice One"), test_certificate("Alice Two"));
    let pem = format!("{}{}", one.pem(), two.pem());
    let r = b.post_multipart(
        "/admin/accounts/entry",
        &[
            ("csrf", &csrf),
            ("account", ALICE),
            ("name", "Alice Example"),
            ("first_name", "Alice"),
            ("title", "Acheteuse"),
            ("mobile_phone", "+33 6 12 34 56 78"),
        ],
        &[
            ("photo", "alice.jpg", &photo),
            ("certificate", "alice.pem", pem.as_bytes()),
        ],
    );
    r.expect_status(200);
    assert!(r.text().contains("Directory entry saved."), "{}", r.text());
    assert!(r.text().contains("CN=Alice Two"), "{}", r.text());
    let e = entry_of(&s, ALICE);
    assert_eq!(entry_field(&e, "name"), "Alice Example");
    assert_eq!(entry_field(&e, "title"), "Acheteuse");
    assert_eq!(entry_field(&e, "mobile_phone"), "+33 6 12 34 56 78");
    assert_eq!(e.photo, Some(3000));
    assert_eq!(e.certificates.len(), 2);
    // The same audited operation as `easd user set`, by the web's admin.
    let audit = audit_json(&s);
    let set = audit
        .iter()
        .find(|a| a.action == "user_set")
        .expect("user_set audited");
    assert!(set.actor.contains(ADMIN), "{set:?}");
    assert!(set.detail.contains("alice@example.com"), "{set:?}");

    // A DER file adds one more; the photo and the old certificates can go.
    let r = b.post_multipart(
        "/admin/accounts/entry",
        &[
            ("csrf", &csrf),
            ("account", ALICE),
            ("photo_remove", "on"),
            ("certificates_clear", "on"),
        ],
        &[(
            "certificate",
            "new.der",
            test_certificate("Alice Three").der(),
        )],
    );
    r.expect_status(200);
    let e = entry_of(&s, ALICE);
    assert_eq!(e.photo, None);
    assert_eq!(e.certificates.len(), 1);
    assert!(e.certificates[0].subject.contains("Alice Three"));
    assert_eq!(
        entry_field(&e, "title"),
        "Acheteuse",
        "fields not sent stay"
    );

    // A photo that is not an image is refused with the command line's reason, and
    // nothing of that form is saved.
    let r = b.post_multipart(
        "/admin/accounts/entry",
        &[("csrf", &csrf), ("account", ALICE), ("title", "Other")],
        &[("photo", "notes.txt", b"just some text")],
    );
    r.expect_status(422);
    assert!(r.text().contains("not a JPEG"), "{}", r.text());
    let big = vec![0xFF; 100 * 1024 + 1];
    b.post_multipart(
        "/admin/accounts/entry",
        &[("csrf", &csrf), ("account", ALICE)],
        &[("photo", "big.jpg", &big)],
    )
    .expect_status(422);
    assert_eq!(entry_field(&entry_of(&s, ALICE), "title"), "Acheteuse");
    assert_eq!(entry_of(&s, ALICE).photo, None);

    // French.
    b.accept_language = Some("fr");
    b.cookies.remove("easd_lang");
    assert!(b.get(page_path).text().contains("Fiche d'annuaire"));
}

#[test]
fn the_directory_entry_form_needs_its_csrf_token_and_an_admin() {
    let s = server_with(&[ALICE, BOB]);
    add_admin(&s, ADMIN);
    let mut b = Browser::signed_in(&s, ADMIN);
    b.get("/admin/accounts/entry?account=alice%40example.com")
        .expect_status(200);
    let r = b.post_multipart(
        "/admin/accounts/entry",
        &[("account", ALICE), ("title", "Forged")],
        &[],
    );
    r.expect_status(403);
    assert_eq!(entry_field(&entry_of(&s, ALICE), "title"), "");

    // A user: refused at the page and at the form, with their own valid token.
    let mut alice = Browser::signed_in(&s, ALICE);
    alice
        .get("/admin/accounts/entry?account=bob%40example.com")
        .expect_status(403);
    let csrf = alice.csrf("/account");
    alice
        .post_multipart(
            "/admin/accounts/entry",
            &[("csrf", &csrf), ("account", BOB), ("title", "Mallory")],
            &[],
        )
        .expect_status(403);
    assert_eq!(entry_field(&entry_of(&s, BOB), "title"), "");
    // An unknown account is not found.
    b.get("/admin/accounts/entry?account=nobody%40example.com")
        .expect_status(404);
}
