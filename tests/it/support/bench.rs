//! What only benches use: the release `easd serve` as a separate process, and one HTTPS
//! connection kept alive across requests. The test binary compiles this module without
//! calling it, hence its `dead_code` allowance (benches include the whole harness by
//! path and allow dead code there for what each of them does not use).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use easd::admin::control;
use easd::admin::ops::Request;
use easd::admin::reply::Reply;
use easd::wbxml::{self, Element};
use http_body_util::{BodyExt, Full};
use hyper::Method;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::http::{REQUEST_TIMEOUT, build_request, tls_config};
use super::*;

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
        let https = SocketAddr::from(([127, 0, 0, 1], closed_port()));
        let lmtp = with_lmtp.then(|| SocketAddr::from(([127, 0, 0, 1], closed_port())));
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

/// The rustls client configuration trusting exactly `cert_pem`.
pub fn client_tls_config(cert_pem: &Path) -> Arc<rustls::ClientConfig> {
    tls_config(cert_pem)
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
}
