//! Certificates for the tests: a test CA that issues chains, the chain a real TLS
//! handshake receives, and a local ACME CA (Debian's `pebble`).

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rustls::pki_types::{CertificateDer, ServerName};

use super::*;

/// A CA for the tests, issuing end-entity certificates chained to it.
pub struct TestCa {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    cert: rcgen::Certificate,
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let key = rcgen::KeyPair::generate().expect("CA key");
        let cert = params.self_signed(&key).expect("CA certificate");
        TestCa {
            issuer: rcgen::Issuer::new(params, key),
            cert,
        }
    }

    pub fn der(&self) -> CertificateDer<'static> {
        self.cert.der().clone()
    }

    pub fn pem(&self) -> String {
        self.cert.pem()
    }

    /// A leaf for `names` and its key, as PEM: (chain = leaf then this CA, key). With
    /// `expired`, its validity ended in 2021.
    pub fn issue(&self, names: &[&str], expired: bool) -> (String, String) {
        let mut params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .expect("leaf params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, names[0]);
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let key = rcgen::KeyPair::generate().expect("leaf key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        (format!("{}{}", cert.pem(), self.pem()), key.serialize_pem())
    }
}

/// The certificates `addr` presents in a real handshake for `name`, verified against
/// `roots` only; the handshake's error when they do not chain to them.
pub fn served_chain(
    addr: SocketAddr,
    name: &str,
    roots: &[CertificateDer<'static>],
) -> Result<Vec<CertificateDer<'static>>, String> {
    let server = ServerName::try_from(name.to_owned()).expect("server name");
    let mut conn = rustls::ClientConnection::new(client_config(roots), server).expect("TLS client");
    let mut tcp = std::net::TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(REQUEST_TIMEOUT))
        .expect("timeout");
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp).map_err(|e| e.to_string())?;
    }
    Ok(conn
        .peer_certificates()
        .expect("a certificate")
        .iter()
        .map(|c| c.clone().into_owned())
        .collect())
}

/// The DER certificates of a PEM text.
/// The facts of the first certificate of the PEM file at `path` (what the dashboard and
/// the first start show of the served one).
pub fn leaf_info(path: &std::path::Path) -> easd::tls::x509::CertInfo {
    let pem = std::fs::read_to_string(path).unwrap();
    let leaf = pem_certs(&pem).into_iter().next().expect("a certificate");
    easd::tls::x509::info(&leaf).unwrap()
}

pub fn pem_certs(pem: &str) -> Vec<CertificateDer<'static>> {
    rustls_pemfile::certs(&mut pem.as_bytes())
        .collect::<Result<_, _>>()
        .expect("PEM certificates")
}

/// A running `pebble` (RFC 8555 test CA), killed when dropped.
pub struct Pebble {
    child: Child,
    /// The directory URL.
    pub directory: String,
    /// The CA of pebble's own HTTPS (its API and management interface), as a PEM file.
    pub api_root: PathBuf,
    management: SocketAddr,
    _dir: tempfile::TempDir,
}

/// Where Debian's package puts the binary.
const PEBBLE: &str = "/usr/bin/pebble";

impl Pebble {
    /// Starts pebble validating HTTP-01 against `http_port` and TLS-ALPN-01 against
    /// `tls_port` on 127.0.0.1. `None` when
    /// pebble is not installed and this is not CI (the caller skips, saying why); under
    /// CI (`CI=true`) a missing pebble fails the test.
    pub fn start(http_port: u16, tls_port: u16) -> Option<Pebble> {
        if !Path::new(PEBBLE).exists() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{PEBBLE} is missing under CI: .ci/run installs the pebble package"
            );
            eprintln!("SKIPPED: {PEBBLE} is not installed (apt-get install pebble)");
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("easd-pebble")
            .tempdir()
            .expect("temp dir");
        let api_ca = TestCa::new("pebble API test root");
        let (chain, key) = api_ca.issue(&["localhost", "127.0.0.1"], false);
        let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&cert_path, chain).expect("pebble cert");
        std::fs::write(&key_path, key).expect("pebble key");
        let api_root = dir.path().join("api-root.pem");
        std::fs::write(&api_root, api_ca.pem()).expect("pebble root");
        let listen = SocketAddr::from(([127, 0, 0, 1], closed_port()));
        let management = SocketAddr::from(([127, 0, 0, 1], closed_port()));
        let config = serde_json::json!({ "pebble": {
            "listenAddress": listen.to_string(),
            "managementListenAddress": management.to_string(),
            "certificate": cert_path,
            "privateKey": key_path,
            "httpPort": http_port,
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
        }});
        let config_path = dir.path().join("pebble-config.json");
        std::fs::File::create(&config_path)
            .and_then(|mut f| f.write_all(config.to_string().as_bytes()))
            .expect("pebble config");
        let child = Command::new(PEBBLE)
            .arg("-config")
            .arg(&config_path)
            // No random validation delays; no nonces refused at random; every order
            // validates its challenges again (a renewal is a real HTTP-01 round).
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .env("PEBBLE_AUTHZREUSE", "0")
            .stdout(Stdio::null())
            // Its log (it reports our readiness probes as failed handshakes) stays in
            // its directory.
            .stderr(std::fs::File::create(dir.path().join("pebble.log")).expect("pebble log"))
            .spawn()
            .expect("start pebble");
        let pebble = Pebble {
            child,
            directory: format!("https://{listen}/dir"),
            api_root,
            management,
            _dir: dir,
        };
        wait_for("pebble listens", || {
            std::net::TcpStream::connect(listen).is_ok()
                && std::net::TcpStream::connect(management).is_ok()
        });
        Some(pebble)
    }

    /// GET from the management interface (PEM of `/roots/0`, `/intermediates/0`).
    fn management_get(&self, path: &str) -> String {
        let r = HttpClient::https_to(self.management, &self.api_root).request(
            hyper::Method::GET,
            path,
            &[],
            Vec::new(),
        );
        r.expect_status(200);
        r.text()
    }

    /// The root pebble issues under (made anew at each start).
    pub fn root(&self) -> CertificateDer<'static> {
        pem_certs(&self.management_get("/roots/0")).remove(0)
    }

    /// The intermediate pebble signs end-entity certificates with.
    pub fn intermediate(&self) -> CertificateDer<'static> {
        pem_certs(&self.management_get("/intermediates/0")).remove(0)
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Retries `f` for a while: pebble and the renewal timer run on their own.
pub fn within<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
