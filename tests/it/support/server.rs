//! The server under test: easd in-process on ephemeral ports with a temporary data
//! directory, its control socket, and the clients made from it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use easd::admin::control;
use easd::admin::ops::Request;
use easd::admin::reply::Reply;
use easd::config::Config;

use super::*;

// ---------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------

/// Where the current incarnation of a server listens; shared with clients so that they
/// follow a [`TestServer::restart`].
#[derive(Debug, Clone, Copy)]
pub(super) struct Endpoints {
    pub(super) https: Option<SocketAddr>,
    pub(super) http: Option<SocketAddr>,
    pub(super) lmtp: Option<SocketAddr>,
    pub(super) notify: Option<SocketAddr>,
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
    /// Held for its drop, last, so that it is removed after the server stopped.
    _dir: tempfile::TempDir,
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
        _dir: dir,
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
        self.restart_with(|_| {});
    }

    /// [`TestServer::restart`] with the configuration changed by `tweak`.
    pub fn restart_with(&mut self, tweak: impl FnOnce(&mut Config)) {
        tweak(&mut self.cfg);
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

/// The path of the CLI binary under test, for tests that run it.
pub fn cli_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_easd"))
}

/// Runs the real `easd` binary with `--data data` and `args`.
pub fn run_cli(data: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(cli_path())
        .arg("--data")
        .arg(data)
        .args(args)
        .env_remove("EASD_DATA")
        .output()
        .expect("run easd")
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
        wait_for(&format!("{n} waiting requests"), || {
            self.waiting_requests() == n
        });
    }
}

/// What `read` finds in a store the test opened itself (its server stopped), read through
/// the Store API's read entry point.
pub fn stored<T: Send + 'static>(
    store: &easd::store::Store,
    read: impl FnOnce(&easd::store::Snapshot) -> Result<T, easd::store::StoreError> + Send + 'static,
) -> T {
    block_on(store.view(read)).expect("store read")
}
