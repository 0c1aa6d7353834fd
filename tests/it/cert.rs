//! The HTTPS certificate: `easd cert install` swaps it in a running server (new
//! handshakes see it, a waiting Ping on an older connection completes), refuses what it
//! cannot serve and keeps the old one; ACME against a local pebble issues and renews it.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use crate::support::*;
use easd::config::AcmeChallenge;
use easd::wbxml::Element;
use easd::wbxml::tag::ping as p;
use rustls::pki_types::CertificateDer;

const ALICE: &str = "alice@example.com";
const INBOX: u8 = 2;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write PEM");
    path.display().to_string()
}

/// `easd cert install` of this chain and key (written to files first).
fn install(s: &TestServer, chain: &str, key: &str) -> std::process::Output {
    let dir = tempfile::tempdir().expect("temp dir");
    run_cli(
        s.data_dir(),
        &[
            "cert",
            "install",
            "--chain",
            &write(dir.path(), "chain.pem", chain),
            "--key",
            &write(dir.path(), "key.pem", key),
        ],
    )
}

fn self_signed(s: &TestServer) -> Vec<CertificateDer<'static>> {
    let pem = std::fs::read_to_string(s.data_dir().join("tls").join("cert.pem")).expect("cert");
    pem_certs(&pem)
}

/// The standard output of a command that must succeed.
#[track_caller]
fn succeeded(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[track_caller]
fn cert_show(s: &TestServer) -> serde_json::Value {
    let out = succeeded(&run_cli(s.data_dir(), &["cert", "show", "--json"]));
    serde_json::from_str(&out).expect("cert show --json")
}

/// Reads one response (head and Content-Length body) from a raw connection.
fn read_response(stream: &mut impl Read) -> (String, Vec<u8>) {
    let head = read_raw_head(stream);
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or_else(|| panic!("no Content-Length: {head}"));
    let mut body = vec![0; len];
    stream.read_exact(&mut body).expect("response body");
    (head, body)
}

#[test]
fn an_installed_certificate_reaches_new_connections_while_a_waiting_ping_completes() {
    let s = start_server(|c| {
        c.push.min_heartbeat = 1;
        c.push.max_heartbeat = 120;
    });
    s.add_user(ALICE);
    let a = s.device(ALICE, "phone");
    let inbox = a.folder_of_type(INBOX);
    let key = a.sync_init(&inbox);
    a.sync_all(SyncColl::new(&inbox, &key));
    let old = self_signed(&s);
    assert_eq!(
        served_chain(s.https_addr(), "localhost", &old).unwrap(),
        old
    );

    // A Ping waits on a connection made with the self-signed certificate.
    let cert_pem = s.data_dir().join("tls").join("cert.pem");
    let mut held = raw_tls(s.https_addr(), &cert_pem);
    let mut ping = Element::new(p::PING);
    ping.push_text(p::HEARTBEAT_INTERVAL, "100");
    let mut folders = Element::new(p::FOLDERS);
    folders.push(
        Element::new(p::FOLDER)
            .text_child(p::ID, inbox.as_str())
            .text_child(p::CLASS, "Email"),
    );
    ping.push(folders);
    let body = easd::wbxml::encode(&ping);
    held.write_all(chunked_head(&a, "Ping").as_bytes())
        .expect("head");
    held.write_all(format!("{:x}\r\n", body.len()).as_bytes())
        .expect("chunk size");
    held.write_all(&body).expect("chunk");
    held.write_all(b"\r\n0\r\n\r\n").expect("last chunk");
    s.wait_until_waiting(1);

    // The CLI installs a chain of another CA through the control socket.
    let ca = TestCa::new("easd test CA");
    let (chain, key) = ca.issue(&["localhost"], false);
    let shown = succeeded(&install(&s, &chain, &key));
    assert!(shown.contains("source: installed"), "{shown}");
    assert!(shown.contains("issuer: CN=easd test CA"), "{shown}");

    // A new handshake gets the new chain, which verifies against the new CA only.
    let served = served_chain(s.https_addr(), "localhost", &[ca.der()]).expect("new chain");
    assert_eq!(served, pem_certs(&chain));
    let refused = served_chain(s.https_addr(), "localhost", &old).unwrap_err();
    assert!(refused.contains("UnknownIssuer"), "{refused}");

    // The Ping on the old connection is still there, and a delivery wakes it.
    assert_eq!(s.waiting_requests(), 1);
    s.deliver_text(ALICE, "after the swap", "still here");
    let (head, body) = read_response(&mut held);
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    let answer = easd::wbxml::decode(&body, &easd::wbxml::Limits::default()).expect("WBXML");
    assert_eq!(text(&answer, p::STATUS), "2", "{answer:?}");

    let state = cert_show(&s);
    assert_eq!(state["source"]["kind"], "installed");
    assert_eq!(state["leaf"]["issuer"], "CN=easd test CA");
    assert_eq!(state["chain_len"], 2);

    // Kept durably: a restart serves it again.
    let mut s = s;
    s.restart();
    let served = served_chain(s.https_addr(), "localhost", &[ca.der()]).expect("after restart");
    assert_eq!(served, pem_certs(&chain));
}

#[test]
fn what_cannot_be_served_is_refused_clearly_and_the_old_certificate_stays() {
    let s = start_server(|_| {});
    let old = self_signed(&s);
    let ca = TestCa::new("easd test CA");
    let (chain, _) = ca.issue(&["localhost"], false);
    let (_, other_key) = ca.issue(&["localhost"], false);
    let (expired_chain, expired_key) = ca.issue(&["localhost"], true);
    let dir = tempfile::tempdir().expect("temp dir");
    let garbage = write(dir.path(), "garbage.pem", "this is not PEM\n");
    let cases = [
        (
            write(dir.path(), "c1.pem", &chain),
            write(dir.path(), "k1.pem", &other_key),
            "the private key does not belong to the certificate",
        ),
        (
            garbage.clone(),
            write(dir.path(), "k2.pem", &other_key),
            "no certificate found in the PEM",
        ),
        (
            write(dir.path(), "c3.pem", &chain),
            garbage,
            "no private key found in the PEM",
        ),
        (
            write(dir.path(), "c4.pem", &expired_chain),
            write(dir.path(), "k4.pem", &expired_key),
            "the certificate (CN=localhost) expired on 2021-01-01T00:00:00Z",
        ),
    ];
    for (chain, key, expected) in cases {
        let out = run_cli(
            s.data_dir(),
            &["cert", "install", "--chain", &chain, "--key", &key],
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "accepted {chain} {key}");
        assert!(err.contains("certificate not installed"), "{err}");
        assert!(err.contains(expected), "{err}");
        assert_eq!(
            served_chain(s.https_addr(), "localhost", &old).expect("old certificate"),
            old
        );
    }
    assert_eq!(cert_show(&s)["source"]["kind"], "self-signed");
    assert!(!s.data_dir().join("tls").join("installed.pem").exists());
}

#[test]
fn without_a_server_cert_install_writes_what_the_next_start_serves() {
    let mut s = start_server(|_| {});
    s.shutdown();
    let ca = TestCa::new("offline CA");
    let (chain, key) = ca.issue(&["localhost"], false);
    succeeded(&install(&s, &chain, &key));
    use std::os::unix::fs::PermissionsExt;
    let installed = s.data_dir().join("tls").join("installed.pem");
    let mode = std::fs::metadata(&installed)
        .expect("installed")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    s.restart();
    assert_eq!(
        served_chain(s.https_addr(), "localhost", &[ca.der()]).expect("served"),
        pem_certs(&chain)
    );
}

/// A server with ACME against `pebble`, its `http` listener on `http_port` (where pebble
/// validates HTTP-01) or none, and its `https` one on `https_port` (TLS-ALPN-01).
fn acme_server(
    pebble: &Pebble,
    http_port: Option<u16>,
    https_port: u16,
    challenge: AcmeChallenge,
) -> TestServer {
    let (directory, root) = (pebble.directory.clone(), pebble.api_root.clone());
    start_server(move |c| {
        c.http = http_port.map(|p| SocketAddr::from(([127, 0, 0, 1], p)));
        c.https = Some(SocketAddr::from(([127, 0, 0, 1], https_port)));
        c.acme.enabled = true;
        c.acme.challenge = challenge;
        c.acme.directory = directory;
        c.acme.ca_root = Some(root);
        c.acme.contact = vec!["mailto:admin@example.com".into()];
    })
}

/// The chain served for localhost once it is one pebble issued, chained to its
/// intermediate (verified against pebble's root).
fn acme_chain(s: &TestServer, pebble: &Pebble) -> Vec<CertificateDer<'static>> {
    let root = pebble.root();
    let intermediate = pebble.intermediate();
    let chain = within(
        "the ACME certificate is served",
        Duration::from_secs(60),
        || served_chain(s.https_addr(), "localhost", std::slice::from_ref(&root)).ok(),
    );
    assert_eq!(chain.len(), 2, "leaf and intermediate");
    assert_eq!(chain[1], intermediate);
    chain
}

#[test]
fn acme_issues_a_certificate_at_start_and_renews_it_when_due() {
    let (http_port, https_port) = (closed_port(), closed_port());
    let Some(pebble) = Pebble::start(http_port, https_port) else {
        return;
    };
    let mut s = acme_server(&pebble, Some(http_port), https_port, AcmeChallenge::Http01);
    let first = acme_chain(&s, &pebble);
    let state = cert_show(&s);
    assert_eq!(state["source"]["kind"], "acme");
    assert_eq!(state["acme"]["domains"][0], "localhost");
    assert!(state["acme"]["last_success"].is_i64(), "{state}");
    assert!(state["acme"]["last_error"].is_null(), "{state}");
    assert_eq!(state["acme"]["not_after"], state["leaf"]["not_after"]);
    let attempts = state["acme"]["last_attempt"].as_i64().unwrap();
    // pebble validated by fetching the challenge from easd's http listener.
    let metrics = s
        .http()
        .request(hyper::Method::GET, "/metrics", &[], Vec::new());
    assert!(
        metrics
            .text()
            .contains(r#"easd_http_requests_total{command="acme",status="200"}"#),
        "{}",
        metrics.text()
    );

    // A restart keeps the certificate and asks for nothing while it is not due.
    s.restart();
    assert_eq!(acme_chain(&s, &pebble), first);
    assert_eq!(
        cert_show(&s)["acme"]["last_attempt"].as_i64(),
        Some(attempts)
    );

    // With a threshold longer than its validity, it is due: renewed at start.
    s.restart_with(|c| c.acme.renew_before_days = 100_000);
    let renewed = within("a renewed certificate", Duration::from_secs(60), || {
        let chain = acme_chain(&s, &pebble);
        (chain[0] != first[0]).then_some(chain)
    });
    assert_eq!(renewed[1], pebble.intermediate());
    let state = cert_show(&s);
    assert_eq!(state["source"]["kind"], "acme");
    assert!(state["acme"]["last_error"].is_null(), "{state}");

    // ACME owns the certificate: an install is refused.
    let ca = TestCa::new("easd test CA");
    let (chain, key) = ca.issue(&["localhost"], false);
    let out = install(&s, &chain, &key);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ACME is enabled"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn acme_with_tls_alpn_01_needs_no_http_listener() {
    let (http_port, https_port) = (closed_port(), closed_port());
    let Some(pebble) = Pebble::start(http_port, https_port) else {
        return;
    };
    // Port 80's stand-in is closed: pebble can only validate on the TLS listener.
    let mut s = acme_server(&pebble, None, https_port, AcmeChallenge::TlsAlpn01);
    let first = acme_chain(&s, &pebble);
    let state = cert_show(&s);
    assert_eq!(state["source"]["kind"], "acme");
    assert!(state["acme"]["last_error"].is_null(), "{state}");

    s.restart_with(|c| c.acme.renew_before_days = 100_000);
    within("a renewed certificate", Duration::from_secs(60), || {
        (acme_chain(&s, &pebble)[0] != first[0]).then_some(())
    });
}

#[test]
fn a_failed_acme_attempt_is_kept_with_its_error_and_the_old_certificate_stays() {
    // A directory nobody serves: the attempt fails, the self-signed certificate stays.
    let s = start_server(|c| {
        c.acme.enabled = true;
        c.acme.directory = format!("https://127.0.0.1:{}/dir", closed_port());
    });
    let state = within("a failed attempt", Duration::from_secs(30), || {
        let state = cert_show(&s);
        state["acme"]["last_error"].is_string().then_some(state)
    });
    assert_eq!(state["source"]["kind"], "self-signed");
    assert!(state["acme"]["last_attempt"].is_i64(), "{state}");
    assert!(state["acme"]["last_success"].is_null(), "{state}");
    let old = self_signed(&s);
    assert_eq!(
        served_chain(s.https_addr(), "localhost", &old).unwrap(),
        old
    );
}
