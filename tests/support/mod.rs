//! Test harness: an in-process easd on ephemeral ports with a temporary data directory,
//! and a small blocking HTTPS/HTTP client that speaks the ActiveSync front door.
//!
//! Used by `tests/*.rs` (`mod support;`) and by benches
//! (`#[path = "../tests/support/mod.rs"] mod support;`). Different binaries use different
//! parts of it, hence the module-wide `dead_code` allowance.
#![allow(dead_code)]

use std::future::Future;
use std::io::BufReader;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use easd::admin::control;
use easd::admin::ops::{Reply, Request};
use easd::config::Config;
use easd::eas::command::Command;
use easd::eas::ids::{DeviceId, DeviceType, PolicyKey};
use easd::eas::query::{EasRequest, QueryForm, encode_base64_query, encode_plain_query};
use easd::eas::version::ProtocolVersion;
use easd::wbxml::{self, Element, Tag, tag::folderhierarchy as fh, tag::provision as pv};
use http_body_util::{BodyExt, Full};
use hyper::{HeaderMap, Method};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
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
        }
    }

    /// A client of the plain-HTTP listener.
    pub fn http(&self) -> HttpClient {
        HttpClient {
            endpoints: self.endpoints.clone(),
            tls: None,
        }
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
}

impl HttpClient {
    /// A client of an HTTPS server started elsewhere (a separate process), trusting `cert_pem`.
    pub fn https_to(addr: SocketAddr, cert_pem: &Path) -> Self {
        HttpClient {
            endpoints: Arc::new(Mutex::new(Endpoints {
                https: Some(addr),
                http: None,
                lmtp: None,
            })),
            tls: Some(tls_config(cert_pem)),
        }
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
        let mut builder = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, format!("localhost:{}", addr.port()));
        for (name, value) in headers {
            builder = builder.header(*name, value.as_str());
        }
        let req = builder.body(Full::new(Bytes::from(body))).expect("request");
        block_on(async move {
            tokio::time::timeout(REQUEST_TIMEOUT, send(addr, tls, req))
                .await
                .unwrap_or_else(|_| panic!("no answer from {addr} within {REQUEST_TIMEOUT:?}"))
        })
    }
}

async fn send(
    addr: SocketAddr,
    tls: Option<Arc<rustls::ClientConfig>>,
    req: hyper::Request<Full<Bytes>>,
) -> Resp {
    let tcp = TcpStream::connect(addr)
        .await
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

    /// The query string (without `?`) of `cmd`, in this client's encoding.
    pub fn query(&self, cmd: &str, user: Option<&str>) -> String {
        let req = EasRequest {
            command: Command::from_name(cmd).unwrap_or_else(|| panic!("unknown command {cmd}")),
            version: ProtocolVersion::parse(self.version).expect("supported version"),
            user: user.map(str::to_owned),
            device_id: DeviceId::new(&self.device_id).expect("valid DeviceId"),
            device_type: DeviceType::new(&self.device_type).expect("valid DeviceType"),
            policy_key: self.policy_key.and_then(PolicyKey::new),
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
