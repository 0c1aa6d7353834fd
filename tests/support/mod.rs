//! Test harness: an in-process easd on ephemeral ports with a temporary data directory,
//! and a small blocking HTTPS/HTTP client that speaks the ActiveSync front door.
//!
//! Used by `tests/*.rs` (`mod support;`) and by benches
//! (`#[path = "../tests/support/mod.rs"] mod support;`). Different binaries use different
//! parts of it, hence the module-wide `dead_code` allowance.
#![allow(dead_code)]

use std::future::Future;
use std::io::BufReader;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use easd::admin::control;
use easd::admin::ops::Request;
use easd::admin::reply::Reply;
use easd::config::Config;
use easd::proto::command::Command;
use easd::proto::ids::{DeviceId, DeviceType, PolicyKey, SentPolicyKey};
use easd::proto::query::{EasRequest, QueryForm, encode_base64_query, encode_plain_query};
use easd::proto::version::ProtocolVersion;
use easd::wbxml::{self, Element, Tag, tag::folderhierarchy as fh, tag::provision as pv};
use http_body_util::{BodyExt, Full};
use hyper::{HeaderMap, Method};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::TlsConnector;

/// Longest any single HTTP exchange may take before the test fails instead of hanging.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The ActiveSync path, as clients send it.
pub const EAS_PATH: &str = "/Microsoft-Server-ActiveSync";

/// Password every account made by [`TestServer::add_user`] gets unless told otherwise.
pub const PASSWORD: &str = "correct horse battery staple";

// ---------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------

/// Where the current incarnation of a server listens; shared with clients so that they
/// follow a [`TestServer::restart`].
#[derive(Debug, Clone, Copy)]
struct Endpoints {
    https: Option<SocketAddr>,
    http: Option<SocketAddr>,
    lmtp: Option<SocketAddr>,
    notify: Option<SocketAddr>,
}

struct Incarnation {
    stop: tokio::sync::oneshot::Sender<()>,
    /// Ends with the result of opening the store right after `Running::shutdown` returned,
    /// still inside the server's runtime.
    thread: std::thread::JoinHandle<Result<(), String>>,
}

/// What [`TestServer::shutdown`] observed.
#[derive(Debug)]
pub struct ShutdownReport {
    /// `Store::open` on the data directory right after `Running::shutdown().await` returned,
    /// inside the server's runtime (before the runtime and its tasks were dropped).
    pub store_reopened_in_runtime: Result<(), String>,
}

/// A running easd; stopped (gracefully) when dropped.
pub struct TestServer {
    cfg: Config,
    endpoints: Arc<Mutex<Endpoints>>,
    running: Option<Incarnation>,
    /// Last so that it is removed after the server stopped.
    dir: tempfile::TempDir,
}

/// Starts easd with test defaults (HTTPS and HTTP on 127.0.0.1:0, cheap argon2), after
/// `tweak` has adjusted the configuration.
/// A server on the default configuration with these accounts.
pub fn server_with(users: &[&str]) -> TestServer {
    let s = start_server(|_| {});
    for u in users {
        s.add_user(u);
    }
    s
}

/// An SMTP sink standing in for the relay, and a server relaying to it with these accounts.
pub fn relaying_server_with(users: &[&str]) -> (SmtpSink, TestServer) {
    let sink = SmtpSink::start();
    let s = start_server(|c| sink.configure(c));
    for u in users {
        s.add_user(u);
    }
    (sink, s)
}

pub fn start_server(tweak: impl FnOnce(&mut Config)) -> TestServer {
    let dir = tempfile::Builder::new()
        .prefix("easd-test")
        .tempdir()
        .expect("temp dir");
    let mut cfg = Config {
        data: dir.path().join("data"),
        https: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        http: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        hostname: "localhost".into(),
        lmtp: "127.0.0.1:0".into(),
        ..Config::default()
    };
    cfg.notify.listen = "127.0.0.1:0".into();
    cfg.auth.argon2_memory_kib = 256;
    cfg.auth.argon2_iterations = 1;
    tweak(&mut cfg);
    let (running, endpoints) = spawn(cfg.clone());
    TestServer {
        cfg,
        endpoints: Arc::new(Mutex::new(endpoints)),
        running: Some(running),
        dir,
    }
}

fn spawn(cfg: Config) -> (Incarnation, Endpoints) {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<Endpoints, String>>();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let data = cfg.data.clone();
    let thread = std::thread::Builder::new()
        .name("easd-test-server".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("server runtime");
            let local = tokio::task::LocalSet::new();
            local.block_on(&rt, async move {
                let running = match easd::server::start(cfg).await {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return Err(format!("server did not start: {e}"));
                    }
                };
                let _ = ready_tx.send(Ok(Endpoints {
                    https: running.https,
                    http: running.http,
                    lmtp: running.lmtp,
                    notify: running.notify,
                }));
                // A dropped sender (the TestServer went away) stops the server too.
                let _ = stopped.await;
                running.shutdown().await;
                // Whether nothing of the daemon still holds the database at this point.
                easd::store::Store::open(&data)
                    .map(drop)
                    .map_err(|e| e.to_string())
            })
        })
        .expect("server thread");
    match ready_rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Ok(endpoints)) => (Incarnation { stop, thread }, endpoints),
        Ok(Err(e)) => panic!("easd did not start: {e}"),
        Err(e) => panic!("easd did not report its addresses: {e}"),
    }
}

impl TestServer {
    pub fn data_dir(&self) -> &Path {
        &self.cfg.data
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    pub fn https_addr(&self) -> SocketAddr {
        self.endpoints().https.expect("HTTPS listener")
    }

    /// The UDP change-notification listener of the current incarnation.
    pub fn notify_addr(&self) -> SocketAddr {
        self.endpoints
            .lock()
            .expect("endpoints")
            .notify
            .expect("notify listener is on")
    }

    /// The LMTP listener of the current incarnation.
    pub fn lmtp_addr(&self) -> SocketAddr {
        self.endpoints
            .lock()
            .expect("endpoints")
            .lmtp
            .expect("LMTP is on")
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.endpoints().http.expect("plain-HTTP listener")
    }

    fn endpoints(&self) -> Endpoints {
        *self.endpoints.lock().expect("endpoints")
    }

    /// Stops the server gracefully and waits for its thread (and so its runtime, tasks and
    /// store) to be gone: afterwards the data directory can be opened directly. A second
    /// call does nothing.
    pub fn shutdown(&mut self) -> ShutdownReport {
        let Some(inc) = self.running.take() else {
            return ShutdownReport {
                store_reopened_in_runtime: Ok(()),
            };
        };
        let _ = inc.stop.send(());
        match inc.thread.join() {
            Ok(r) => ShutdownReport {
                store_reopened_in_runtime: r,
            },
            Err(_) => panic!("the server thread panicked"),
        }
    }

    /// Stops the server and starts a new one on the same data directory (new ports).
    /// Clients made from this server follow it.
    pub fn restart(&mut self) {
        self.shutdown();
        let (running, endpoints) = spawn(self.cfg.clone());
        *self.endpoints.lock().expect("endpoints") = endpoints;
        self.running = Some(running);
    }

    // ---- control socket -----------------------------------------------------------

    /// Sends one request over the running daemon's control socket.
    pub fn control(&self, req: Request) -> Reply {
        match control::call(self.data_dir(), &req) {
            Ok(Some(reply)) => reply,
            Ok(None) => panic!("no daemon answers on the control socket"),
            Err(e) => panic!("control socket: {e}"),
        }
    }

    /// Like [`TestServer::control`], but panics unless the reply is `Done`.
    pub fn control_ok(&self, req: Request) -> String {
        match self.control(req.clone()) {
            Reply::Done { message } => message,
            other => panic!("control request {req:?} answered {other:?}"),
        }
    }

    /// `easd policy set --level LEVEL KEY=VALUE…`.
    #[track_caller]
    pub fn set_policy(&self, level: &str, values: &[(&str, &str)]) {
        let req = easd::admin::govern::GovRequest::PolicySet {
            level: level.into(),
            values: values
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        match self.control(Request::Govern(req)) {
            Reply::Done { .. } | Reply::Govern(_) => {}
            other => panic!("policy set answered {other:?}"),
        }
    }

    pub fn add_user(&self, email: &str) {
        self.add_user_with_password(email, PASSWORD);
    }

    pub fn add_user_with_password(&self, email: &str, password: &str) {
        self.control_ok(Request::UserAdd {
            email: email.into(),
            name: None,
            admin: false,
            password: password.into(),
        });
    }

    pub fn set_enabled(&self, email: &str, enabled: bool) {
        self.control_ok(Request::UserSetEnabled {
            email: email.into(),
            enabled,
        });
    }

    pub fn set_password(&self, email: &str, password: &str) {
        self.control_ok(Request::UserPasswd {
            email: email.into(),
            password: password.into(),
        });
    }

    pub fn set_log(&self, target: &str, on: bool) {
        self.control_ok(Request::LogSet {
            target: target.into(),
            on,
        });
    }

    // ---- clients --------------------------------------------------------------------

    /// A client of the HTTPS listener that trusts exactly `DATA/tls/cert.pem`.
    pub fn https(&self) -> HttpClient {
        HttpClient {
            endpoints: self.endpoints.clone(),
            tls: Some(tls_config(&self.cfg.data.join("tls").join("cert.pem"))),
            source: None,
        }
    }

    /// A client of the plain-HTTP listener.
    pub fn http(&self) -> HttpClient {
        HttpClient {
            endpoints: self.endpoints.clone(),
            tls: None,
            source: None,
        }
    }

    /// [`TestServer::eas`] after a completed Provision handshake.
    pub fn device(&self, user: &str, device_id: &str) -> EasClient {
        let mut c = self.eas(user, device_id);
        c.provision();
        c
    }

    /// An ActiveSync device of `user` (password [`PASSWORD`]) speaking 16.1 over HTTPS.
    pub fn eas(&self, user: &str, device_id: &str) -> EasClient {
        EasClient {
            http: self.https(),
            user: user.into(),
            password: PASSWORD.into(),
            device_id: device_id.into(),
            device_type: "TestDevice".into(),
            version: "16.1",
            policy_key: None,
            base64_query: false,
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // The server has to be gone before the temp dir is removed. Not while unwinding
        // from a server-thread panic: that would be a double panic.
        if !std::thread::panicking() {
            self.shutdown();
        }
    }
}

// ---------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------

thread_local! {
    /// Each test thread drives its requests on its own small runtime.
    static CLIENT_RT: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
}

/// Runs `f` to completion on this thread's client runtime.
pub fn block_on<F: Future>(f: F) -> F::Output {
    CLIENT_RT.with(|rt| rt.block_on(f))
}

fn tls_config(cert_pem: &Path) -> Arc<rustls::ClientConfig> {
    let file =
        std::fs::File::open(cert_pem).unwrap_or_else(|e| panic!("{}: {e}", cert_pem.display()));
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut BufReader::new(file))
        .collect::<Result<_, _>>()
        .expect("cert.pem");
    assert!(
        !certs.is_empty(),
        "no certificate in {}",
        cert_pem.display()
    );
    let mut roots = rustls::RootCertStore::empty();
    for c in certs {
        roots.add(c).expect("server certificate as a trust anchor");
    }
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    Arc::new(cfg)
}

/// An HTTP response, fully read.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as WBXML; panics (showing the response) when it is not.
    pub fn wbxml(&self) -> Element {
        assert_eq!(
            self.header("content-type"),
            Some(easd::eas::front::WBXML_CONTENT_TYPE),
            "not a WBXML response: {self:?}"
        );
        wbxml::decode(&self.body, &wbxml::Limits::default())
            .unwrap_or_else(|e| panic!("undecodable WBXML ({e}): {self:?}"))
    }

    /// The body as text, for messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Panics unless the status is `status`.
    #[track_caller]
    pub fn expect_status(&self, status: u16) -> &Self {
        assert_eq!(
            self.status,
            status,
            "unexpected HTTP status; body {:?}, headers {:?}",
            self.text(),
            self.headers
        );
        self
    }
}

/// A blocking client of one listener of a [`TestServer`]; a new connection per request.
#[derive(Clone)]
pub struct HttpClient {
    endpoints: Arc<Mutex<Endpoints>>,
    tls: Option<Arc<rustls::ClientConfig>>,
    /// The local address to connect from; any when `None`.
    source: Option<IpAddr>,
}

impl HttpClient {
    /// A client of an HTTPS server started elsewhere (a separate process), trusting `cert_pem`.
    pub fn https_to(addr: SocketAddr, cert_pem: &Path) -> Self {
        HttpClient {
            endpoints: Arc::new(Mutex::new(Endpoints {
                https: Some(addr),
                http: None,
                lmtp: None,
                notify: None,
            })),
            tls: Some(tls_config(cert_pem)),
            source: None,
        }
    }

    /// The same client, connecting from `source` (a loopback address other than 127.0.0.1,
    /// e.g. 127.0.0.2: Linux routes all of 127/8 to lo), so the server sees another peer.
    #[must_use]
    pub fn connecting_from(mut self, source: IpAddr) -> Self {
        self.source = Some(source);
        self
    }

    fn addr(&self) -> SocketAddr {
        let e = *self.endpoints.lock().expect("endpoints");
        if self.tls.is_some() { e.https } else { e.http }.expect("the listener is configured")
    }

    /// Sends one request; `path` includes the query.
    pub fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Resp {
        let addr = self.addr();
        let tls = self.tls.clone();
        let source = self.source;
        let req = build_request(addr, method, path, headers, body);
        block_on(async move {
            tokio::time::timeout(REQUEST_TIMEOUT, send(addr, source, tls, req))
                .await
                .unwrap_or_else(|_| panic!("no answer from {addr} within {REQUEST_TIMEOUT:?}"))
        })
    }
}

/// One HTTP/1.1 request to `addr` (Host names localhost, which the certificate covers).
fn build_request(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> hyper::Request<Full<Bytes>> {
    let mut builder = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, format!("localhost:{}", addr.port()));
    for (name, value) in headers {
        builder = builder.header(*name, value.as_str());
    }
    builder.body(Full::new(Bytes::from(body))).expect("request")
}

async fn send(
    addr: SocketAddr,
    source: Option<IpAddr>,
    tls: Option<Arc<rustls::ClientConfig>>,
    req: hyper::Request<Full<Bytes>>,
) -> Resp {
    let tcp = match source {
        None => TcpStream::connect(addr).await,
        Some(ip) => {
            let socket = match ip {
                IpAddr::V4(_) => TcpSocket::new_v4(),
                IpAddr::V6(_) => TcpSocket::new_v6(),
            }
            .expect("socket");
            socket
                .bind(SocketAddr::new(ip, 0))
                .unwrap_or_else(|e| panic!("bind {ip}: {e}"));
            socket.connect(addr).await
        }
    }
    .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    match tls {
        Some(cfg) => {
            let name = ServerName::try_from("localhost").expect("server name");
            let stream = TlsConnector::from(cfg)
                .connect(name, tcp)
                .await
                .unwrap_or_else(|e| panic!("TLS handshake with {addr}: {e}"));
            exchange(TokioIo::new(stream), req).await
        }
        None => exchange(TokioIo::new(tcp), req).await,
    }
}

async fn exchange<T>(io: T, req: hyper::Request<Full<Bytes>>) -> Resp
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .expect("HTTP handshake");
    let conn = tokio::spawn(conn);
    let resp = sender.send_request(req).await.expect("HTTP exchange");
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.expect("response body").to_bytes();
    drop(sender);
    conn.abort();
    Resp {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: body.to_vec(),
    }
}

pub fn basic_auth(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

// ---------------------------------------------------------------------------------------
// ActiveSync
// ---------------------------------------------------------------------------------------

/// One ActiveSync device of one user.
#[derive(Clone)]
pub struct EasClient {
    pub http: HttpClient,
    pub user: String,
    pub password: String,
    pub device_id: String,
    pub device_type: String,
    pub version: &'static str,
    /// Sent in X-MS-PolicyKey (plain query) or in the base64 query.
    pub policy_key: Option<u32>,
    pub base64_query: bool,
}

impl EasClient {
    /// A 16.1 device of `user` talking through `http`.
    pub fn new(http: HttpClient, user: &str, password: &str, device_id: &str) -> Self {
        EasClient {
            http,
            user: user.into(),
            password: password.into(),
            device_id: device_id.into(),
            device_type: "TestDevice".into(),
            version: "16.1",
            policy_key: None,
            base64_query: false,
        }
    }

    #[must_use]
    pub fn with_version(mut self, version: &'static str) -> Self {
        self.version = version;
        self
    }

    #[must_use]
    pub fn with_base64_query(mut self) -> Self {
        self.base64_query = true;
        self
    }

    #[must_use]
    pub fn with_password(mut self, password: &str) -> Self {
        self.password = password.into();
        self
    }

    #[must_use]
    pub fn with_device(mut self, device_id: &str) -> Self {
        self.device_id = device_id.into();
        self
    }

    /// The same device connecting from another local address (see
    /// [`HttpClient::connecting_from`]).
    #[must_use]
    pub fn connecting_from(mut self, source: IpAddr) -> Self {
        self.http = self.http.connecting_from(source);
        self
    }

    /// The query string (without `?`) of `cmd`, in this client's encoding.
    pub fn query(&self, cmd: &str, user: Option<&str>) -> String {
        let req = EasRequest {
            command: Command::from_name(cmd).unwrap_or_else(|| panic!("unknown command {cmd}")),
            version: ProtocolVersion::parse(self.version).expect("supported version"),
            user: user.map(str::to_owned),
            device_id: DeviceId::new(&self.device_id).expect("valid DeviceId"),
            device_type: DeviceType::new(&self.device_type).expect("valid DeviceType"),
            policy_key: match self.policy_key {
                Some(k) => SentPolicyKey::Key(PolicyKey::new(k)),
                None => SentPolicyKey::Absent,
            },
            locale: Some(0x0409),
            collection_id: None,
            item_id: None,
            attachment_name: None,
            long_id: None,
            occurrence: None,
            save_in_sent: false,
            accept_multipart: false,
            query_form: if self.base64_query {
                QueryForm::Base64
            } else {
                QueryForm::Plain
            },
            ignored_parameters: Vec::new(),
        };
        if self.base64_query {
            encode_base64_query(&req).expect("base64 query")
        } else {
            encode_plain_query(&req)
        }
    }

    /// The headers this client sends with every POST: credentials, content type, and for
    /// the plain query the version and policy key headers.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut h = vec![
            ("Authorization", basic_auth(&self.user, &self.password)),
            (
                "Content-Type",
                easd::eas::front::WBXML_CONTENT_TYPE.to_owned(),
            ),
            ("User-Agent", "easd-test/1.0".to_owned()),
        ];
        if !self.base64_query {
            h.push(("MS-ASProtocolVersion", self.version.to_owned()));
            if let Some(k) = self.policy_key {
                h.push(("X-MS-PolicyKey", k.to_string()));
            }
        }
        h
    }

    /// POSTs `cmd` with an optional WBXML body.
    pub fn post(&self, cmd: &str, body: Option<&Element>) -> Resp {
        self.post_as(cmd, None, body)
    }

    /// POSTs `cmd` with `User=` in the query.
    pub fn post_as(&self, cmd: &str, user: Option<&str>, body: Option<&Element>) -> Resp {
        let query = self.query(cmd, user);
        self.post_raw(&query, &[], body.map(wbxml::encode).unwrap_or_default())
    }

    /// POSTs to `/Microsoft-Server-ActiveSync?query` with this client's headers; `extra`
    /// headers replace same-named ones.
    pub fn post_raw(&self, query: &str, extra: &[(&str, String)], body: Vec<u8>) -> Resp {
        let mut headers: Vec<(&str, String)> = self
            .headers()
            .into_iter()
            .filter(|(n, _)| !extra.iter().any(|(e, _)| e.eq_ignore_ascii_case(n)))
            .collect();
        headers.extend(extra.iter().cloned());
        self.http
            .request(Method::POST, &format!("{EAS_PATH}?{query}"), &headers, body)
    }

    /// OPTIONS with this client's credentials.
    pub fn options(&self) -> Resp {
        self.http.request(
            Method::OPTIONS,
            EAS_PATH,
            &[("Authorization", basic_auth(&self.user, &self.password))],
            Vec::new(),
        )
    }

    /// POSTs and expects HTTP 200 with a WBXML body.
    #[track_caller]
    pub fn call(&self, cmd: &str, body: &Element) -> Element {
        let r = self.post(cmd, Some(body));
        r.expect_status(200);
        r.wbxml()
    }

    // ---- Provision ----------------------------------------------------------------

    /// Provision phase 1; `extra` (e.g. a 14.1+ DeviceInformation) goes first in the body.
    pub fn provision_phase1(&self, extra: Option<Element>) -> Element {
        let mut body = Element::new(pv::PROVISION);
        if let Some(e) = extra {
            body.push(e);
        }
        body.push(Element::new(pv::POLICIES).child(
            Element::new(pv::POLICY).text_child(pv::POLICY_TYPE, easd::govern::policy::POLICY_TYPE),
        ));
        self.call("Provision", &body)
    }

    /// Provision phase 2: acknowledges `key` with policy status `status`.
    pub fn provision_phase2(&self, key: &str, status: &str) -> Element {
        let body = Element::new(pv::PROVISION).child(
            Element::new(pv::POLICIES).child(
                Element::new(pv::POLICY)
                    .text_child(pv::POLICY_TYPE, easd::govern::policy::POLICY_TYPE)
                    .text_child(pv::POLICY_KEY, key)
                    .text_child(pv::STATUS, status),
            ),
        );
        self.call("Provision", &body)
    }

    /// Both phases; stores and returns the final key.
    pub fn provision(&mut self) -> u32 {
        let one = self.provision_phase1(None);
        assert_eq!(one.text_of(pv::STATUS), Some("1"), "phase 1: {one:?}");
        let temporary = policy_of(&one)
            .text_of(pv::POLICY_KEY)
            .expect("temporary PolicyKey")
            .to_owned();
        let two = self.provision_phase2(&temporary, "1");
        assert_eq!(two.text_of(pv::STATUS), Some("1"), "phase 2: {two:?}");
        let policy = policy_of(&two);
        assert_eq!(policy.text_of(pv::STATUS), Some("1"), "phase 2: {two:?}");
        let key: u32 = policy
            .text_of(pv::POLICY_KEY)
            .expect("final PolicyKey")
            .parse()
            .expect("numeric PolicyKey");
        self.policy_key = Some(key);
        key
    }

    // ---- folder hierarchy -----------------------------------------------------------

    pub fn folder_sync(&self, key: &str) -> Element {
        self.call(
            "FolderSync",
            &Element::new(fh::FOLDER_SYNC).text_child(fh::SYNC_KEY, key),
        )
    }

    /// FolderSync that must succeed; returns the new key and the response.
    #[track_caller]
    pub fn folder_sync_ok(&self, key: &str) -> (String, Element) {
        let r = self.folder_sync(key);
        assert_eq!(r.text_of(fh::STATUS), Some("1"), "FolderSync {key}: {r:?}");
        (r.text_of(fh::SYNC_KEY).expect("SyncKey").to_owned(), r)
    }

    pub fn folder_create(&self, key: &str, parent: &str, name: &str, kind: &str) -> Element {
        self.call(
            "FolderCreate",
            &Element::new(fh::FOLDER_CREATE)
                .text_child(fh::SYNC_KEY, key)
                .text_child(fh::PARENT_ID, parent)
                .text_child(fh::DISPLAY_NAME, name)
                .text_child(fh::TYPE, kind),
        )
    }

    pub fn folder_update(&self, key: &str, id: &str, parent: &str, name: &str) -> Element {
        self.call(
            "FolderUpdate",
            &Element::new(fh::FOLDER_UPDATE)
                .text_child(fh::SYNC_KEY, key)
                .text_child(fh::SERVER_ID, id)
                .text_child(fh::PARENT_ID, parent)
                .text_child(fh::DISPLAY_NAME, name),
        )
    }

    pub fn folder_delete(&self, key: &str, id: &str) -> Element {
        self.call(
            "FolderDelete",
            &Element::new(fh::FOLDER_DELETE)
                .text_child(fh::SYNC_KEY, key)
                .text_child(fh::SERVER_ID, id),
        )
    }
}

// ---------------------------------------------------------------------------------------
// Reading responses
// ---------------------------------------------------------------------------------------

/// `Provision/Policies/Policy` of a Provision response.
#[track_caller]
pub fn policy_of(provision: &Element) -> &Element {
    provision
        .find_path(&[pv::POLICIES, pv::POLICY])
        .unwrap_or_else(|| panic!("no Policies/Policy in {provision:?}"))
}

/// Text of the child `tag`, panicking with the element when absent.
#[track_caller]
pub fn text(e: &Element, tag: Tag) -> &str {
    e.text_of(tag)
        .unwrap_or_else(|| panic!("no {tag:?} in {e:?}"))
}

/// One folder entry of a FolderSync Changes list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderEntry {
    pub server_id: String,
    pub parent_id: String,
    pub name: String,
    pub kind: u8,
}

/// What a FolderSync response's Changes hold.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FolderChanges {
    pub count: usize,
    pub adds: Vec<FolderEntry>,
    pub updates: Vec<FolderEntry>,
    pub deletes: Vec<String>,
}

#[track_caller]
pub fn changes_of(folder_sync: &Element) -> FolderChanges {
    let changes = folder_sync
        .find(fh::CHANGES)
        .unwrap_or_else(|| panic!("no Changes in {folder_sync:?}"));
    let entry = |e: &Element| FolderEntry {
        server_id: text(e, fh::SERVER_ID).to_owned(),
        parent_id: text(e, fh::PARENT_ID).to_owned(),
        name: text(e, fh::DISPLAY_NAME).to_owned(),
        kind: text(e, fh::TYPE).parse().expect("numeric Type"),
    };
    FolderChanges {
        count: text(changes, fh::COUNT).parse().expect("numeric Count"),
        adds: changes.find_all(fh::ADD).map(entry).collect(),
        updates: changes.find_all(fh::UPDATE).map(entry).collect(),
        deletes: changes
            .find_all(fh::DELETE)
            .map(|d| text(d, fh::SERVER_ID).to_owned())
            .collect(),
    }
}

/// The path of the CLI binary under test, for tests that run it.
pub fn cli_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_easd"))
}

// ---------------------------------------------------------------------------------------
// LMTP
// ---------------------------------------------------------------------------------------

/// Longest an LMTP reply may take before the test fails instead of hanging.
const LMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// One (possibly multi-line) LMTP reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LmtpReply {
    pub code: u16,
    /// Every line's text after `NNN-` / `NNN `.
    pub lines: Vec<String>,
}

impl LmtpReply {
    /// The enhanced status code of the last line (`5.1.1`), when there is one.
    pub fn enhanced(&self) -> Option<&str> {
        let last = self.lines.last()?;
        let first = last.split_whitespace().next()?;
        let shape = first.split('.').count() == 3
            && first
                .split('.')
                .all(|p| p.chars().all(|c| c.is_ascii_digit()));
        shape.then_some(first)
    }

    /// `"550 5.1.1"`-style summary, for assertions.
    pub fn short(&self) -> String {
        match self.enhanced() {
            Some(e) => format!("{} {e}", self.code),
            None => self.code.to_string(),
        }
    }
}

/// A small blocking LMTP client (RFC 2033) over a raw TCP connection.
pub struct LmtpClient {
    reader: BufReader<std::net::TcpStream>,
    writer: std::net::TcpStream,
    /// The 220 greeting.
    pub greeting: LmtpReply,
}

/// Dot-stuffs `message` for DATA (RFC 5321 4.5.2): bare LF becomes CRLF, a line starting
/// with `.` gets another, and the message ends with CRLF. The terminator is not included.
pub fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 64 + 4);
    let mut at_line_start = true;
    let mut prev = 0u8;
    for &b in message {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        at_line_start = b == b'\n';
        prev = b;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

impl LmtpClient {
    /// Connects and reads the greeting, which must be 220.
    pub fn connect(addr: SocketAddr) -> Self {
        let stream = std::net::TcpStream::connect_timeout(&addr, LMTP_TIMEOUT)
            .unwrap_or_else(|e| panic!("LMTP connect {addr}: {e}"));
        Self::from_stream(stream)
    }

    /// Like [`LmtpClient::connect`], but an error instead of a panic (for crash tests).
    pub fn try_connect(addr: SocketAddr) -> std::io::Result<Self> {
        let stream = std::net::TcpStream::connect_timeout(&addr, LMTP_TIMEOUT)?;
        stream.set_read_timeout(Some(LMTP_TIMEOUT))?;
        let writer = stream.try_clone()?;
        let mut reader = BufReader::new(stream);
        let greeting = try_read_reply(&mut reader)?;
        if greeting.code != 220 {
            return Err(std::io::Error::other(format!("greeting {greeting:?}")));
        }
        Ok(LmtpClient {
            reader,
            writer,
            greeting,
        })
    }

    fn from_stream(stream: std::net::TcpStream) -> Self {
        stream
            .set_read_timeout(Some(LMTP_TIMEOUT))
            .expect("timeout");
        let writer = stream.try_clone().expect("clone stream");
        let mut reader = BufReader::new(stream);
        let greeting = try_read_reply(&mut reader).expect("LMTP greeting");
        assert_eq!(greeting.code, 220, "greeting {greeting:?}");
        LmtpClient {
            reader,
            writer,
            greeting,
        }
    }

    pub fn write_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        use std::io::Write as _;
        self.writer.write_all(bytes)?;
        self.writer.flush()
    }

    pub fn try_read_reply(&mut self) -> std::io::Result<LmtpReply> {
        try_read_reply(&mut self.reader)
    }

    #[track_caller]
    pub fn read_reply(&mut self) -> LmtpReply {
        self.try_read_reply().expect("LMTP reply")
    }

    /// Sends one command line (CRLF added) and reads its reply.
    pub fn try_command(&mut self, line: &str) -> std::io::Result<LmtpReply> {
        self.write_raw(format!("{line}\r\n").as_bytes())?;
        self.try_read_reply()
    }

    #[track_caller]
    pub fn command(&mut self, line: &str) -> LmtpReply {
        self.try_command(line)
            .unwrap_or_else(|e| panic!("LMTP {line:?}: {e}"))
    }

    /// LHLO, which must be answered 250.
    #[track_caller]
    pub fn lhlo(&mut self) -> LmtpReply {
        let r = self.command("LHLO mta.test");
        assert_eq!(r.code, 250, "LHLO: {r:?}");
        r
    }

    /// DATA, then the dot-stuffed message and the terminator; reads one reply per accepted
    /// recipient. DATA itself must get 354.
    pub fn try_data(&mut self, message: &[u8], accepted: usize) -> std::io::Result<Vec<LmtpReply>> {
        let go = self.try_command("DATA")?;
        if go.code != 354 {
            return Err(std::io::Error::other(format!("DATA answered {go:?}")));
        }
        let mut payload = dot_stuff(message);
        payload.extend_from_slice(b".\r\n");
        self.write_raw(&payload)?;
        (0..accepted).map(|_| self.try_read_reply()).collect()
    }

    /// One whole transaction: MAIL FROM, one RCPT per recipient, and (when any was
    /// accepted) DATA. Returns the RCPT replies and the per-recipient DATA replies; with no
    /// accepted recipient the transaction is reset and there are no DATA replies.
    pub fn try_send(
        &mut self,
        from: &str,
        recipients: &[&str],
        message: &[u8],
    ) -> std::io::Result<(Vec<LmtpReply>, Vec<LmtpReply>)> {
        let mail = self.try_command(&format!("MAIL FROM:<{from}>"))?;
        if mail.code != 250 {
            return Err(std::io::Error::other(format!("MAIL answered {mail:?}")));
        }
        let mut rcpt = Vec::new();
        for r in recipients {
            rcpt.push(self.try_command(&format!("RCPT TO:<{r}>"))?);
        }
        let accepted = rcpt.iter().filter(|r| r.code == 250).count();
        if accepted == 0 {
            let rset = self.try_command("RSET")?;
            assert_eq!(rset.code, 250, "RSET: {rset:?}");
            return Ok((rcpt, Vec::new()));
        }
        let data = self.try_data(message, accepted)?;
        Ok((rcpt, data))
    }

    #[track_caller]
    pub fn send(
        &mut self,
        from: &str,
        recipients: &[&str],
        message: &[u8],
    ) -> (Vec<LmtpReply>, Vec<LmtpReply>) {
        self.try_send(from, recipients, message)
            .unwrap_or_else(|e| panic!("LMTP transaction: {e}"))
    }

    /// QUIT, which must get 221.
    pub fn quit(mut self) {
        let r = self.command("QUIT");
        assert_eq!(r.code, 221, "QUIT: {r:?}");
    }
}

fn try_read_reply(reader: &mut impl std::io::BufRead) -> std::io::Result<LmtpReply> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let line = line.trim_end_matches(['\r', '\n']);
        let bad = || std::io::Error::other(format!("malformed LMTP reply line {line:?}"));
        let code: u16 = line.get(..3).and_then(|c| c.parse().ok()).ok_or_else(bad)?;
        let sep = line.as_bytes().get(3).copied();
        lines.push(line.get(4..).unwrap_or("").to_owned());
        match sep {
            Some(b'-') => continue,
            Some(b' ') | None => return Ok(LmtpReply { code, lines }),
            Some(_) => return Err(bad()),
        }
    }
}

/// A plain-text message with the usual headers.
pub fn text_message(from: &str, to: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Sender <{from}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n\
         Date: Tue, 1 Sep 2026 10:00:00 +0000\r\nMessage-ID: <{}@test.example>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n",
        unique_token()
    )
    .into_bytes()
}

/// [`message_with_attachment`] with `size` bytes `z` as the attachment.
pub fn attachment_message(to: &str, subject: &str, name: &str, size: usize) -> Vec<u8> {
    message_with_attachment(to, subject, name, &vec![b'z'; size])
}

/// A multipart/mixed message with a text body ("See the attachment.") and one base64
/// attachment.
pub fn message_with_attachment(to: &str, subject: &str, name: &str, bytes: &[u8]) -> Vec<u8> {
    let content_type = if name.ends_with(".png") {
        "image/png"
    } else {
        "application/octet-stream"
    };
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut wrapped = String::with_capacity(b64.len() + b64.len() / 76 * 2 + 2);
    for chunk in b64.as_bytes().chunks(76) {
        wrapped.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        wrapped.push_str("\r\n");
    }
    format!(
        "From: Sender <sender@remote.test>\r\nTo: <{to}>\r\nSubject: {subject}\r\n\
         Date: Tue, 1 Sep 2026 10:00:00 +0000\r\nMessage-ID: <{}@test.example>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b0undary\"\r\n\r\n\
         --b0undary\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee the attachment.\r\n\
         --b0undary\r\nContent-Type: {content_type}; name=\"{name}\"\r\n\
         Content-Disposition: attachment; filename=\"{name}\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{wrapped}--b0undary--\r\n",
        unique_token()
    )
    .into_bytes()
}

/// Deterministic attachment bytes covering every byte value.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 256) as u8).collect()
}

/// A process-wide unique token (for Message-IDs and names).
pub fn unique_token() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!(
        "t{}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        rand::random::<u32>()
    )
}

impl TestServer {
    /// Stores each `(raw message, age in seconds)` in the Inbox of `user` as received that
    /// long ago: delivery stamps the time of arrival, so old messages go into the stopped
    /// server's store directly; the server is started again afterwards.
    pub fn store_in_the_past(&mut self, user: &str, messages: &[(Vec<u8>, i64)]) {
        use easd::store::model::Flags;
        use easd::store::model::FolderType;
        use easd::store::ops::Reads;
        self.shutdown();
        let store = easd::store::Store::open(self.data_dir()).expect("store");
        for (raw, age) in messages {
            let meta = easd::mail::mime::parse(raw, easd::store::now() - age);
            let blob = store.blobs().put(raw).expect("blob");
            let user = user.to_owned();
            store
                .write_blocking(move |w| {
                    let account = w.tx.account_by_email(&user)?.expect("account").id;
                    let inbox =
                        w.tx.folders(account)?
                            .into_iter()
                            .find(|f| f.kind == FolderType::Inbox)
                            .expect("Inbox");
                    easd::store::items::insert(
                        w,
                        account,
                        inbox.id,
                        blob.clone(),
                        meta.clone(),
                        Flags::default(),
                    )
                })
                .expect("old message stored");
        }
        drop(store);
        self.restart();
    }
}

impl TestServer {
    /// An LMTP connection to this server, past LHLO.
    pub fn lmtp(&self) -> LmtpClient {
        let mut c = LmtpClient::connect(self.lmtp_addr());
        c.lhlo();
        c
    }

    /// Delivers `message` to `recipients` over LMTP; every recipient must get 250 twice
    /// (RCPT and after DATA).
    #[track_caller]
    pub fn deliver(&self, recipients: &[&str], message: &[u8]) {
        let mut c = self.lmtp();
        let (rcpt, data) = c.send("sender@remote.test", recipients, message);
        assert!(rcpt.iter().all(|r| r.code == 250), "RCPT: {rcpt:?}");
        assert_eq!(data.len(), recipients.len(), "DATA: {data:?}");
        assert!(data.iter().all(|r| r.code == 250), "DATA: {data:?}");
        c.quit();
    }

    /// Delivers a plain-text message with `subject` to `to`.
    #[track_caller]
    pub fn deliver_text(&self, to: &str, subject: &str, body: &str) {
        self.deliver(
            &[to],
            &text_message("sender@remote.test", to, subject, body),
        );
    }
}

// ---------------------------------------------------------------------------------------
// Sync
// ---------------------------------------------------------------------------------------

use easd::wbxml::tag::airsync as air;
use easd::wbxml::tag::airsyncbase as asb;
use easd::wbxml::tag::{getitemestimate as gie, itemoperations as io, search as sr};

/// One Collection of a Sync request, built up field by field.
#[derive(Debug, Clone, Default)]
pub struct SyncColl {
    pub id: String,
    /// `None` leaves SyncKey out (a malformed request).
    pub key: Option<String>,
    pub window: Option<usize>,
    pub get_changes: Option<bool>,
    pub deletes_as_moves: Option<bool>,
    pub filter: Option<u8>,
    /// (Type, TruncationSize) per airsyncbase:BodyPreference.
    pub body_prefs: Vec<(u8, Option<u32>)>,
    /// Further children of Options (MIMESupport, BodyPartPreference, …), after those.
    pub options: Vec<Element>,
    pub commands: Vec<Element>,
}

impl SyncColl {
    pub fn new(id: &str, key: &str) -> Self {
        SyncColl {
            id: id.into(),
            key: Some(key.into()),
            ..SyncColl::default()
        }
    }

    #[must_use]
    pub fn window(mut self, n: usize) -> Self {
        self.window = Some(n);
        self
    }

    #[must_use]
    pub fn get_changes(mut self, on: bool) -> Self {
        self.get_changes = Some(on);
        self
    }

    #[must_use]
    pub fn deletes_as_moves(mut self, on: bool) -> Self {
        self.deletes_as_moves = Some(on);
        self
    }

    #[must_use]
    pub fn filter(mut self, f: u8) -> Self {
        self.filter = Some(f);
        self
    }

    #[must_use]
    pub fn body(mut self, kind: u8, truncation: Option<u32>) -> Self {
        self.body_prefs.push((kind, truncation));
        self
    }

    /// Adds `e` to the collection's Options.
    #[must_use]
    pub fn option(mut self, e: Element) -> Self {
        self.options.push(e);
        self
    }

    #[must_use]
    pub fn command(mut self, c: Element) -> Self {
        self.commands.push(c);
        self
    }

    /// A Change setting email:Read.
    #[must_use]
    pub fn mark_read(self, server_id: &str, read: bool) -> Self {
        self.command(
            Element::new(air::CHANGE)
                .text_child(air::SERVER_ID, server_id)
                .child(
                    Element::new(air::APPLICATION_DATA)
                        .text_child(easd::wbxml::tag::email::READ, if read { "1" } else { "0" }),
                ),
        )
    }

    #[must_use]
    pub fn delete(self, server_id: &str) -> Self {
        self.command(Element::new(air::DELETE).text_child(air::SERVER_ID, server_id))
    }

    #[must_use]
    pub fn fetch(self, server_id: &str) -> Self {
        self.command(Element::new(air::FETCH).text_child(air::SERVER_ID, server_id))
    }

    pub fn element(&self) -> Element {
        let mut c = Element::new(air::COLLECTION);
        if let Some(k) = &self.key {
            c.push_text(air::SYNC_KEY, k.as_str());
        }
        c.push_text(air::COLLECTION_ID, self.id.as_str());
        if let Some(d) = self.deletes_as_moves {
            c.push_text(air::DELETES_AS_MOVES, if d { "1" } else { "0" });
        }
        if let Some(g) = self.get_changes {
            c.push_text(air::GET_CHANGES, if g { "1" } else { "0" });
        }
        if let Some(w) = self.window {
            c.push_text(air::WINDOW_SIZE, w.to_string());
        }
        if self.filter.is_some() || !self.body_prefs.is_empty() || !self.options.is_empty() {
            let mut o = Element::new(air::OPTIONS);
            if let Some(f) = self.filter {
                o.push_text(air::FILTER_TYPE, f.to_string());
            }
            for (kind, trunc) in &self.body_prefs {
                let mut p =
                    Element::new(asb::BODY_PREFERENCE).text_child(asb::TYPE, kind.to_string());
                if let Some(t) = trunc {
                    p.push_text(asb::TRUNCATION_SIZE, t.to_string());
                }
                o.push(p);
            }
            for option in &self.options {
                o.push(option.clone());
            }
            c.push(o);
        }
        if !self.commands.is_empty() {
            let mut cmds = Element::new(air::COMMANDS);
            for cmd in &self.commands {
                cmds.push(cmd.clone());
            }
            c.push(cmds);
        }
        c
    }
}

/// One Collection of a Sync response, taken apart.
#[derive(Debug, Clone)]
pub struct SyncOut {
    pub status: String,
    pub key: Option<String>,
    pub more: bool,
    /// (ServerId, ApplicationData).
    pub adds: Vec<(String, Element)>,
    pub changes: Vec<(String, Element)>,
    pub deletes: Vec<String>,
    pub soft_deletes: Vec<String>,
    pub responses: Option<Element>,
    pub raw: Element,
}

impl SyncOut {
    pub fn parse(collection: &Element) -> Self {
        let cmds = collection.find(air::COMMANDS);
        let with_data = |tag| -> Vec<(String, Element)> {
            cmds.map(|c| {
                c.find_all(tag)
                    .map(|e| {
                        (
                            text(e, air::SERVER_ID).to_owned(),
                            e.find(air::APPLICATION_DATA)
                                .cloned()
                                .unwrap_or_else(|| panic!("no ApplicationData in {e:?}")),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
        };
        let ids = |tag| -> Vec<String> {
            cmds.map(|c| {
                c.find_all(tag)
                    .map(|e| text(e, air::SERVER_ID).to_owned())
                    .collect()
            })
            .unwrap_or_default()
        };
        SyncOut {
            status: text(collection, air::STATUS).to_owned(),
            key: collection.text_of(air::SYNC_KEY).map(str::to_owned),
            more: collection.find(air::MORE_AVAILABLE).is_some(),
            adds: with_data(air::ADD),
            changes: with_data(air::CHANGE),
            deletes: ids(air::DELETE),
            soft_deletes: ids(air::SOFT_DELETE),
            responses: collection.find(air::RESPONSES).cloned(),
            raw: collection.clone(),
        }
    }

    /// The new key of a Status 1 answer.
    #[track_caller]
    pub fn ok_key(&self) -> String {
        assert_eq!(self.status, "1", "Sync status: {:?}", self.raw);
        self.key.clone().expect("SyncKey in a Status 1 answer")
    }

    /// The Responses/Fetch of a Sync that carried one Fetch command.
    #[track_caller]
    pub fn fetched(&self) -> &Element {
        self.responses
            .as_ref()
            .and_then(|r| r.find(air::FETCH))
            .unwrap_or_else(|| panic!("no Responses/Fetch in {:?}", self.raw))
    }

    pub fn add_ids(&self) -> Vec<String> {
        self.adds.iter().map(|(s, _)| s.clone()).collect()
    }

    pub fn has_commands(&self) -> bool {
        self.raw.find(air::COMMANDS).is_some()
    }
}

impl EasClient {
    /// Sync of the given collections; the whole response.
    #[track_caller]
    pub fn sync(&self, collections: &[SyncColl]) -> Element {
        let mut list = Element::new(air::COLLECTIONS);
        for c in collections {
            list.push(c.element());
        }
        self.call("Sync", &Element::new(air::SYNC).child(list))
    }

    /// Sync of one collection; its answer.
    #[track_caller]
    pub fn sync1(&self, coll: &SyncColl) -> SyncOut {
        let r = self.sync(std::slice::from_ref(coll));
        let c = r
            .find_path(&[air::COLLECTIONS, air::COLLECTION])
            .unwrap_or_else(|| panic!("no Collections/Collection in {r:?}"));
        SyncOut::parse(c)
    }

    /// ItemOperations Fetch of the item `server_id` (`folder:item`), with a BodyPreference of
    /// `body_type` when given; its Properties (the Fetch must succeed).
    #[track_caller]
    pub fn fetch_item(&self, server_id: &str, body_type: Option<u8>) -> Element {
        use easd::wbxml::tag::itemoperations as io;
        let options: Vec<Element> = body_type
            .map(|kind| Element::new(asb::BODY_PREFERENCE).text_child(asb::TYPE, kind.to_string()))
            .into_iter()
            .collect();
        let f = self.fetch_with(server_id, &options);
        assert_eq!(f.text_of(io::STATUS), Some("1"), "{f:?}");
        f.find(io::PROPERTIES).expect("Properties").clone()
    }

    /// ItemOperations Fetch of the item `server_id` (`folder:item`) with these children of
    /// Options (none: no Options); the response's Fetch element, whatever its Status.
    #[track_caller]
    pub fn fetch_with(&self, server_id: &str, options: &[Element]) -> Element {
        use easd::wbxml::tag::itemoperations as io;
        let (folder, _) = server_id.split_once(':').expect("folder:item");
        let mut fetch = Element::new(io::FETCH)
            .text_child(io::STORE, "Mailbox")
            .text_child(air::COLLECTION_ID, folder)
            .text_child(air::SERVER_ID, server_id);
        if !options.is_empty() {
            fetch.push(
                options
                    .iter()
                    .fold(Element::new(io::OPTIONS), |o, e| o.child(e.clone())),
            );
        }
        let r = self.call(
            "ItemOperations",
            &Element::new(io::ITEM_OPERATIONS).child(fetch),
        );
        assert_eq!(r.text_of(io::STATUS), Some("1"), "{r:?}");
        r.find_path(&[io::RESPONSE, io::FETCH])
            .unwrap_or_else(|| panic!("no Response/Fetch in {r:?}"))
            .clone()
    }

    /// The Properties of each result of a Mailbox Search for `word` with these children of
    /// search:Options (the Store must answer Status 1).
    #[track_caller]
    pub fn search_mailbox(&self, word: &str, options: &[Element]) -> Vec<Element> {
        self.search_store(word, options)
            .find_all(sr::RESULT)
            .map(|res| res.find(sr::PROPERTIES).expect("Properties").clone())
            .collect()
    }

    /// The Store of a Mailbox Search's answer for `word` with these children of
    /// search:Options; it must answer Status 1.
    #[track_caller]
    pub fn search_store(&self, word: &str, options: &[Element]) -> Element {
        let r = self.call(
            "Search",
            &Element::new(sr::SEARCH).child(
                Element::new(sr::STORE)
                    .text_child(sr::NAME, "Mailbox")
                    .child(
                        Element::new(sr::QUERY)
                            .child(Element::new(sr::AND).text_child(sr::FREE_TEXT, word)),
                    )
                    .child(
                        options
                            .iter()
                            .fold(Element::new(sr::OPTIONS), |o, e| o.child(e.clone())),
                    ),
            ),
        );
        let store = r
            .find_path(&[sr::RESPONSE, sr::STORE])
            .unwrap_or_else(|| panic!("no Store in {r:?}"))
            .clone();
        assert_eq!(store.text_of(sr::STATUS), Some("1"), "{r:?}");
        store
    }

    /// ItemOperations Fetch of an attachment by FileReference: the Fetch's Status and, when
    /// it was fetched, the decoded bytes.
    pub fn fetch_attachment(&self, file_ref: &str) -> (String, Option<Vec<u8>>) {
        use easd::wbxml::tag::itemoperations as io;
        let r = self.call(
            "ItemOperations",
            &Element::new(io::ITEM_OPERATIONS).child(
                Element::new(io::FETCH)
                    .text_child(io::STORE, "Mailbox")
                    .text_child(asb::FILE_REFERENCE, file_ref),
            ),
        );
        let f = r
            .find_path(&[io::RESPONSE, io::FETCH])
            .unwrap_or_else(|| panic!("no Response/Fetch in {r:?}"));
        let data = f.find_path(&[io::PROPERTIES, io::DATA]).map(|d| {
            base64::engine::general_purpose::STANDARD
                .decode(d.text().unwrap_or_default())
                .expect("base64 Data")
        });
        (f.text_of(io::STATUS).unwrap_or_default().to_owned(), data)
    }

    /// MoveItems of one item from folder `from` to `to`: the move's Status and the item's
    /// new ServerId (DstMsgId), checking that the answer names the item moved.
    #[track_caller]
    pub fn move_item(&self, item: &str, from: &str, to: &str) -> (String, Option<String>) {
        use easd::wbxml::tag::r#move as mv;
        let r = self.call(
            "MoveItems",
            &Element::new(mv::MOVE_ITEMS).child(
                Element::new(mv::MOVE)
                    .text_child(mv::SRC_MSG_ID, item)
                    .text_child(mv::SRC_FLD_ID, from)
                    .text_child(mv::DST_FLD_ID, to),
            ),
        );
        let resp = r
            .find(mv::RESPONSE)
            .unwrap_or_else(|| panic!("no Response in {r:?}"));
        assert_eq!(resp.text_of(mv::SRC_MSG_ID), Some(item), "{r:?}");
        (
            text(resp, mv::STATUS).to_owned(),
            resp.text_of(mv::DST_MSG_ID).map(str::to_owned),
        )
    }

    /// SyncKey 0 for `id`; returns the new key (checking that nothing else came back).
    #[track_caller]
    pub fn sync_init(&self, id: &str) -> String {
        let out = self.sync1(&SyncColl::new(id, "0"));
        assert!(!out.has_commands(), "key 0 brought commands: {:?}", out.raw);
        out.ok_key()
    }

    /// Syncs `coll` (its key updated each round) until no MoreAvailable; returns the last
    /// key and every Add, in order.
    #[track_caller]
    pub fn sync_all(&self, mut coll: SyncColl) -> (String, Vec<(String, Element)>) {
        let mut adds = Vec::new();
        for _ in 0..10_000 {
            let out = self.sync1(&coll);
            let key = out.ok_key();
            adds.extend(out.adds);
            coll.key = Some(key.clone());
            if !out.more {
                return (key, adds);
            }
        }
        panic!("MoreAvailable never ended");
    }

    /// The ServerId of the default folder of `kind` (2 Inbox, 4 Deleted Items, ...), from a
    /// FolderSync 0.
    #[track_caller]
    pub fn folder_of_type(&self, kind: u8) -> String {
        let (_, r) = self.folder_sync_ok("0");
        changes_of(&r)
            .adds
            .into_iter()
            .find(|f| f.kind == kind)
            .unwrap_or_else(|| panic!("no folder of type {kind}"))
            .server_id
    }
}

/// A parsed `application/vnd.ms-sync.multipart` body ([MS-ASCMD] 2.2.1.10.1.1): checks
/// that the count, offsets and lengths are consistent and cover the body exactly.
#[track_caller]
pub fn parse_multipart(body: &[u8]) -> Vec<&[u8]> {
    let u32_at = |at: usize| -> usize {
        let b: [u8; 4] = body
            .get(at..at + 4)
            .unwrap_or_else(|| panic!("multipart body too short at {at}"))
            .try_into()
            .expect("4 bytes");
        u32::from_le_bytes(b) as usize
    };
    let count = u32_at(0);
    assert!(count >= 1, "no parts");
    let header = 4 + 8 * count;
    let mut expected = header;
    let mut parts = Vec::with_capacity(count);
    for i in 0..count {
        let (offset, len) = (u32_at(4 + 8 * i), u32_at(8 + 8 * i));
        assert_eq!(offset, expected, "part {i} offset");
        let part = body
            .get(offset..offset + len)
            .unwrap_or_else(|| panic!("part {i} ({offset}+{len}) outside {} bytes", body.len()));
        parts.push(part);
        expected = offset + len;
    }
    assert_eq!(expected, body.len(), "parts do not end the body");
    parts
}

// ---------------------------------------------------------------------------------------
// SMTP sink (the outgoing relay) and push helpers
// ---------------------------------------------------------------------------------------

/// How an [`SmtpSink`] treats the next sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkMode {
    /// A normal relay: every message is accepted (250) and recorded.
    Accept,
    /// DATA gets `451` (try again later); nothing is recorded.
    FailData,
    /// Every connection gets a `421` greeting and is closed.
    Refuse,
}

/// One message an [`SmtpSink`] accepted.
#[derive(Debug, Clone)]
pub struct SmtpMessage {
    /// MAIL FROM's address (without the angle brackets).
    pub from: String,
    /// MAIL FROM's parameters after the address (`SMTPUTF8`, `BODY=8BITMIME`), as sent.
    pub from_parameters: String,
    /// RCPT TO's addresses, in order.
    pub recipients: Vec<String>,
    /// The message, un-dot-stuffed, without the terminating `.` line.
    pub data: Vec<u8>,
}

impl SmtpMessage {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }
}

struct SinkShared {
    mode: Mutex<SinkMode>,
    /// Recipients answered with a reply of their own instead of `250`.
    refused: Mutex<std::collections::HashMap<String, String>>,
    data_delay: Mutex<Duration>,
    messages: Mutex<Vec<SmtpMessage>>,
    connections: std::sync::atomic::AtomicUsize,
    stop: std::sync::atomic::AtomicBool,
}

/// A tiny SMTP server on 127.0.0.1:0 speaking just enough for mail-send's plain client:
/// greeting, EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT. Stopped when dropped.
pub struct SmtpSink {
    addr: SocketAddr,
    shared: Arc<SinkShared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SmtpSink {
    pub fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the SMTP sink");
        let addr = listener.local_addr().expect("sink address");
        let shared = Arc::new(SinkShared {
            mode: Mutex::new(SinkMode::Accept),
            refused: Mutex::new(std::collections::HashMap::new()),
            data_delay: Mutex::new(Duration::ZERO),
            messages: Mutex::new(Vec::new()),
            connections: std::sync::atomic::AtomicUsize::new(0),
            stop: std::sync::atomic::AtomicBool::new(false),
        });
        let for_thread = shared.clone();
        let thread = std::thread::Builder::new()
            .name("smtp-sink".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    if for_thread.stop.load(std::sync::atomic::Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    for_thread
                        .connections
                        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let session = for_thread.clone();
                    std::thread::spawn(move || {
                        let _ = smtp_session(conn, &session);
                    });
                }
            })
            .expect("sink thread");
        SmtpSink {
            addr,
            shared,
            thread: Some(thread),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn set_mode(&self, mode: SinkMode) {
        *self.shared.mode.lock().expect("sink mode") = mode;
    }

    /// Answers `RCPT TO:<recipient>` with `reply` (a whole reply line such as
    /// `550 5.1.1 no such user`) from now on; `None` accepts it again.
    pub fn refuse_recipient(&self, recipient: &str, reply: Option<&str>) {
        let mut refused = self.shared.refused.lock().expect("sink refusals");
        match reply {
            Some(reply) => refused.insert(recipient.to_owned(), format!("{reply}\r\n")),
            None => refused.remove(recipient),
        };
    }

    /// How long the sink sits on a received message before answering the final 250.
    pub fn set_data_delay(&self, delay: Duration) {
        *self.shared.data_delay.lock().expect("sink delay") = delay;
    }

    /// Every message accepted so far.
    pub fn messages(&self) -> Vec<SmtpMessage> {
        self.shared.messages.lock().expect("sink messages").clone()
    }

    /// Connections accepted so far (in any mode).
    pub fn connections(&self) -> usize {
        self.shared
            .connections
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Points `cfg.relay` at this sink (no TLS, short timeout).
    pub fn configure(&self, cfg: &mut Config) {
        cfg.relay.host = self.addr.ip().to_string();
        cfg.relay.port = self.addr.port();
        cfg.relay.security = easd::config::RelaySecurity::None;
        cfg.relay.username = None;
        cfg.relay.password = None;
        cfg.relay.timeout_seconds = 10;
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.shared
            .stop
            .store(true, std::sync::atomic::Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = std::net::TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The address inside `<...>` of a MAIL FROM / RCPT TO argument.
fn angle_address(arg: &str) -> String {
    match (arg.find('<'), arg.find('>')) {
        (Some(a), Some(b)) if a < b => arg[a + 1..b].to_owned(),
        _ => arg.split_whitespace().next().unwrap_or("").to_owned(),
    }
}

fn smtp_session(stream: std::net::TcpStream, shared: &SinkShared) -> std::io::Result<()> {
    use std::io::{BufRead as _, Write as _};
    stream.set_read_timeout(Some(LMTP_TIMEOUT))?;
    let mut w = stream.try_clone()?;
    let mut r = BufReader::new(stream);
    let mode = *shared.mode.lock().expect("sink mode");
    if mode == SinkMode::Refuse {
        w.write_all(b"421 4.3.2 sink.test refuses service\r\n")?;
        return w.flush();
    }
    w.write_all(b"220 sink.test ESMTP test sink\r\n")?;
    let mut from: Option<String> = None;
    let mut from_parameters = String::new();
    let mut recipients: Vec<String> = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end_matches(['\r', '\n']);
        let upper = cmd.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            b"250-sink.test greets you\r\n250 HELP\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            from = Some(angle_address(&cmd[10..]));
            from_parameters = cmd
                .split_once('>')
                .map_or("", |(_, rest)| rest)
                .trim()
                .to_owned();
            recipients.clear();
            b"250 2.1.0 ok\r\n"
        } else if upper.starts_with("RCPT TO:") {
            let recipient = angle_address(&cmd[8..]);
            let refusal = shared
                .refused
                .lock()
                .expect("sink refusals")
                .get(&recipient)
                .cloned();
            if let Some(reply) = refusal {
                w.write_all(reply.as_bytes())?;
                w.flush()?;
                continue;
            }
            recipients.push(recipient);
            b"250 2.1.5 ok\r\n"
        } else if upper == "DATA" && recipients.is_empty() {
            b"554 5.5.1 no valid recipients\r\n"
        } else if upper == "DATA" {
            if *shared.mode.lock().expect("sink mode") == SinkMode::FailData {
                b"451 4.3.0 try again later\r\n"
            } else {
                w.write_all(b"354 go ahead\r\n")?;
                w.flush()?;
                let mut data = Vec::new();
                loop {
                    let mut l = Vec::new();
                    if r.read_until(b'\n', &mut l)? == 0 {
                        return Ok(());
                    }
                    if l == b".\r\n" || l == b".\n" {
                        break;
                    }
                    let l = if l.starts_with(b".") { &l[1..] } else { &l[..] };
                    data.extend_from_slice(l);
                }
                let delay = *shared.data_delay.lock().expect("sink delay");
                if !delay.is_zero() {
                    std::thread::sleep(delay);
                }
                shared
                    .messages
                    .lock()
                    .expect("sink messages")
                    .push(SmtpMessage {
                        from: from.take().unwrap_or_default(),
                        from_parameters: std::mem::take(&mut from_parameters),
                        recipients: std::mem::take(&mut recipients),
                        data,
                    });
                b"250 2.0.0 queued\r\n"
            }
        } else if upper == "RSET" {
            from = None;
            recipients.clear();
            b"250 2.0.0 ok\r\n"
        } else if upper == "NOOP" {
            b"250 2.0.0 ok\r\n"
        } else if upper == "QUIT" {
            w.write_all(b"221 2.0.0 bye\r\n")?;
            return w.flush();
        } else {
            b"500 5.5.2 unknown command\r\n"
        };
        w.write_all(reply)?;
        w.flush()?;
    }
}

/// A loopback port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("address").port()
}

impl TestServer {
    /// What `easd status` shows (the control socket's Status reply).
    pub fn status_json(&self) -> serde_json::Value {
        match self.control(Request::Status) {
            Reply::Status { status } => status,
            other => panic!("status request answered {other:?}"),
        }
    }

    /// Refusals counted under `limit` (its `easd status` name, e.g. `ping_folders`).
    pub fn refused(&self, limit: &str) -> u64 {
        self.status_json()["refused"][limit]
            .as_u64()
            .unwrap_or_else(|| panic!("no refusal counter {limit} in easd status"))
    }

    /// Pings and hanging Syncs waiting right now.
    pub fn waiting_requests(&self) -> u64 {
        self.status_json()["waiting_requests"]
            .as_u64()
            .expect("numeric waiting_requests")
    }

    /// Waits (up to 20 s) until exactly `n` requests are waiting in the push hub.
    #[track_caller]
    pub fn wait_until_waiting(&self, n: u64) {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let now = self.waiting_requests();
            if now == n {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{now} waiting requests, never {n}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

// ---- commands that hand out contents, one request each -------------------------------------

/// GetItemEstimate for one collection; (Status, Estimate).
pub fn estimate(
    c: &EasClient,
    folder: &str,
    key: Option<&str>,
    filter: Option<u8>,
) -> (String, Option<usize>) {
    let mut coll = Element::new(gie::COLLECTION);
    if let Some(k) = key {
        coll.push_text(air::SYNC_KEY, k);
    }
    coll.push_text(gie::COLLECTION_ID, folder);
    if let Some(f) = filter {
        coll.push(Element::new(air::OPTIONS).text_child(air::FILTER_TYPE, f.to_string()));
    }
    let r = c.call(
        "GetItemEstimate",
        &Element::new(gie::GET_ITEM_ESTIMATE).child(Element::new(gie::COLLECTIONS).child(coll)),
    );
    let resp = r
        .find(gie::RESPONSE)
        .unwrap_or_else(|| panic!("no Response in {r:?}"));
    let n = resp
        .find(gie::COLLECTION)
        .and_then(|c| c.text_of(gie::ESTIMATE))
        .map(|e| e.parse().expect("numeric Estimate"));
    (text(resp, gie::STATUS).to_owned(), n)
}

/// POSTs GetAttachment with `AttachmentName` (percent-encoded) and an empty body.
pub fn get_attachment(c: &EasClient, name: &str) -> Resp {
    let encoded: String = name
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let query = format!(
        "{}&AttachmentName={encoded}",
        c.query("GetAttachment", None)
    );
    c.post_raw(&query, &[], Vec::new())
}

/// The ItemOperations Fetch Status of item `server_id` (`folder:item`).
pub fn fetch_status(c: &EasClient, server_id: &str) -> String {
    let (folder, _) = server_id.split_once(':').expect("folder:item");
    let r = c.call(
        "ItemOperations",
        &Element::new(io::ITEM_OPERATIONS).child(
            Element::new(io::FETCH)
                .text_child(io::STORE, "Mailbox")
                .text_child(air::COLLECTION_ID, folder)
                .text_child(air::SERVER_ID, server_id),
        ),
    );
    let fetch = r.find_path(&[io::RESPONSE, io::FETCH]).expect("Fetch");
    text(fetch, io::STATUS).to_owned()
}

/// The Properties of each result of a Mailbox Search for `word`, body `kind` untruncated.
pub fn search(c: &EasClient, word: &str, kind: u8) -> Vec<Element> {
    let preference = Element::new(asb::BODY_PREFERENCE).text_child(asb::TYPE, kind.to_string());
    c.search_mailbox(word, &[preference])
}

// ---------------------------------------------------------------------------------------
// Benches: a kept-alive connection, a separately running daemon, /proc readings
// ---------------------------------------------------------------------------------------

/// The rustls client configuration trusting exactly `cert_pem`.
pub fn client_tls_config(cert_pem: &Path) -> Arc<rustls::ClientConfig> {
    tls_config(cert_pem)
}

/// A raw blocking TLS connection to `addr`, for requests written byte by byte (a body
/// sent in part and held, as an attacker would).
pub fn raw_tls(
    addr: SocketAddr,
    cert_pem: &Path,
) -> rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream> {
    let name = ServerName::try_from("localhost").expect("server name");
    let conn = rustls::ClientConnection::new(tls_config(cert_pem), name).expect("TLS client");
    let tcp = std::net::TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(REQUEST_TIMEOUT))
        .expect("timeout");
    rustls::StreamOwned::new(conn, tcp)
}

/// The head of a chunked POST of `cmd` as `client`, ready for its chunks.
pub fn chunked_head(client: &EasClient, cmd: &str) -> String {
    let mut head = format!(
        "POST {EAS_PATH}?{} HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n",
        client.query(cmd, None)
    );
    for (name, value) in client.headers() {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head
}

/// Reads a response head (up to the empty line) from a raw connection.
pub fn read_raw_head(stream: &mut impl std::io::Read) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            other => panic!("response head cut short ({other:?}): {head:?}"),
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

type KeptConnection = (
    hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    tokio::task::JoinHandle<()>,
);

/// One HTTPS connection reused for sequential requests, as a phone keeps its connection
/// alive (reopened when the server closed it). Blocking, on this thread's client runtime.
pub struct KeepAliveClient {
    addr: SocketAddr,
    tls: Arc<rustls::ClientConfig>,
    conn: Option<KeptConnection>,
    /// Connections opened so far.
    pub connections: usize,
}

impl KeepAliveClient {
    pub fn new(addr: SocketAddr, cert_pem: &Path) -> Self {
        KeepAliveClient {
            addr,
            tls: tls_config(cert_pem),
            conn: None,
            connections: 0,
        }
    }

    /// Sends one request on the kept connection; `path` includes the query.
    pub fn request(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Resp {
        let addr = self.addr;
        let tls = self.tls.clone();
        let req = build_request(addr, method, path, headers, body);
        let mut slot = self.conn.take();
        let (resp, slot, opened) = block_on(async move {
            tokio::time::timeout(REQUEST_TIMEOUT, async move {
                let usable = match &mut slot {
                    Some((sender, _)) => sender.ready().await.is_ok(),
                    None => false,
                };
                let mut opened = false;
                if !usable {
                    if let Some((_, task)) = slot.take() {
                        task.abort();
                    }
                    slot = Some(open_kept(addr, tls).await);
                    opened = true;
                }
                let (sender, _) = slot.as_mut().expect("a connection");
                let resp = sender.send_request(req).await.expect("HTTP exchange");
                let (parts, body) = resp.into_parts();
                let body = body.collect().await.expect("response body").to_bytes();
                let resp = Resp {
                    status: parts.status.as_u16(),
                    headers: parts.headers,
                    body: body.to_vec(),
                };
                (resp, slot, opened)
            })
            .await
            .unwrap_or_else(|_| panic!("no answer from {addr} within {REQUEST_TIMEOUT:?}"))
        });
        self.conn = slot;
        self.connections += usize::from(opened);
        resp
    }
}

impl Drop for KeepAliveClient {
    fn drop(&mut self) {
        if let Some((_, task)) = self.conn.take() {
            task.abort();
        }
    }
}

async fn open_kept(addr: SocketAddr, tls: Arc<rustls::ClientConfig>) -> KeptConnection {
    let tcp = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let _ = tcp.set_nodelay(true);
    let name = ServerName::try_from("localhost").expect("server name");
    let stream = TlsConnector::from(tls)
        .connect(name, tcp)
        .await
        .unwrap_or_else(|e| panic!("TLS handshake with {addr}: {e}"));
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("HTTP handshake");
    let task = tokio::spawn(async move {
        let _ = conn.await;
    });
    (sender, task)
}

impl EasClient {
    /// POSTs `cmd` over a kept-alive connection.
    pub fn post_on(&self, conn: &mut KeepAliveClient, cmd: &str, body: Option<&Element>) -> Resp {
        let query = self.query(cmd, None);
        conn.request(
            Method::POST,
            &format!("{EAS_PATH}?{query}"),
            &self.headers(),
            body.map(wbxml::encode).unwrap_or_default(),
        )
    }

    /// Sync of one collection over a kept-alive connection; its answer.
    #[track_caller]
    pub fn sync1_on(&self, conn: &mut KeepAliveClient, coll: &SyncColl) -> SyncOut {
        let body =
            Element::new(air::SYNC).child(Element::new(air::COLLECTIONS).child(coll.element()));
        let r = self.post_on(conn, "Sync", Some(&body));
        r.expect_status(200);
        let r = r.wbxml();
        let c = r
            .find_path(&[air::COLLECTIONS, air::COLLECTION])
            .unwrap_or_else(|| panic!("no Collections/Collection in {r:?}"));
        SyncOut::parse(c)
    }
}

/// The release `easd serve` as a separate process on loopback (for benches): HTTPS on a
/// free port, LMTP on another (or off), notify off, data in a temporary directory. Stopped
/// (SIGTERM, then SIGKILL after 5 s) when dropped, also while unwinding from a panic.
pub struct DaemonProcess {
    child: Option<std::process::Child>,
    pub https: SocketAddr,
    pub lmtp: Option<SocketAddr>,
    /// Last so that it is removed after the daemon stopped.
    dir: tempfile::TempDir,
}

fn free_loopback_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The easd binaries a daemon bench measures: this build's, then the one it is compared
/// against when `EASD_BASELINE_BIN` names one.
pub fn bench_bins() -> Vec<PathBuf> {
    let baseline = std::env::var_os("EASD_BASELINE_BIN").map(PathBuf::from);
    std::iter::once(cli_path()).chain(baseline).collect()
}

/// Prints a bench figure of the baseline binary next to this build's, and their ratio.
pub fn print_vs_baseline(what: &str, unit: &str, this: f64, baseline: f64) {
    println!(
        "baseline: {what}: this build {this:.2} {unit}, baseline {baseline:.2} {unit}, ratio new/baseline {:.3}",
        this / baseline
    );
}

impl DaemonProcess {
    /// Starts `bin serve` (usually [`cli_path`]) with `config` (TOML, may be empty) and
    /// `env`; waits (up to 60 s) until HTTPS, LMTP and the control socket answer.
    pub fn start(bin: &Path, config: &str, env: &[(&str, &str)], with_lmtp: bool) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("easd-bench")
            .tempdir()
            .expect("temp dir");
        let cfg_path = dir.path().join("easd.toml");
        std::fs::write(&cfg_path, config).expect("config file");
        let https = SocketAddr::from(([127, 0, 0, 1], free_loopback_port()));
        let lmtp = with_lmtp.then(|| SocketAddr::from(([127, 0, 0, 1], free_loopback_port())));
        let mut cmd = std::process::Command::new(bin);
        cmd.arg("serve")
            .arg("--config")
            .arg(&cfg_path)
            .arg("--data")
            .arg(dir.path().join("data"))
            .args(["--https", &https.to_string(), "--notify", "off", "--lmtp"])
            .arg(lmtp.map_or("off".to_owned(), |a| a.to_string()))
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start easd");
        let d = DaemonProcess {
            child: Some(child),
            https,
            lmtp,
            dir,
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let up = |a: &SocketAddr| std::net::TcpStream::connect(a).is_ok();
        while !up(&d.https)
            || !d.lmtp.as_ref().is_none_or(up)
            || !matches!(control::call(&d.data_dir(), &Request::Status), Ok(Some(_)))
        {
            assert!(std::time::Instant::now() < deadline, "easd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        d
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, std::process::Child::id)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn cert_pem(&self) -> PathBuf {
        self.data_dir().join("tls").join("cert.pem")
    }

    pub fn control(&self, req: &Request) -> Reply {
        match control::call(&self.data_dir(), req) {
            Ok(Some(reply)) => reply,
            Ok(None) => panic!("no daemon answers on the control socket"),
            Err(e) => panic!("control socket: {e}"),
        }
    }

    pub fn add_user(&self, email: &str, password: &str) {
        let req = Request::UserAdd {
            email: email.into(),
            name: None,
            admin: false,
            password: password.into(),
        };
        match self.control(&req) {
            Reply::Done { .. } => {}
            other => panic!("adding {email}: {other:?}"),
        }
    }

    /// Pings and hanging Syncs waiting right now (`easd status`'s `waiting_requests`).
    pub fn waiting_requests(&self) -> u64 {
        match self.control(&Request::Status) {
            Reply::Status { status } => status["waiting_requests"].as_u64().unwrap_or(0),
            other => panic!("status answered {other:?}"),
        }
    }

    /// Stops the daemon: SIGTERM, SIGKILL after 5 s. A second call does nothing.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Ok(pid) = i32::try_from(child.id()) {
            // SAFETY: signals our own child, which has not been reaped yet.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for DaemonProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A `kB` field (`VmRSS`, `VmHWM`, ...) of `/proc/PID/status`; 0 when unreadable.
pub fn proc_status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.split(':').next() == Some(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// User plus system CPU time of `pid` so far, in seconds (`/proc/PID/stat`).
pub fn proc_cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    // utime and stime are fields 14 and 15; `rest` starts at field 3.
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    // SAFETY: sysconf only reads a constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1);
    ticks as f64 / hz as f64
}

/// Resets `VmHWM` of `pid` to its current RSS (`clear_refs` 5); false when refused.
pub fn reset_peak_rss(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// `/proc/PID/smaps_rollup`, for reports.
pub fn smaps_rollup(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default()
}
