//! The local control socket: how the CLI changes state while the daemon holds the store.
//!
//! One JSON request per line, one JSON reply per line. The socket file is 0600 and the peer
//! must be root or the daemon's own user (checked with SO_PEERCRED), so file permissions
//! are not the only guard.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader as AsyncBufReader};
use tokio::net::{UnixListener, UnixStream};

use super::audit::{self, Actor, Audited};
use super::ops::Request;
use super::reply::Reply;
use crate::config::AuthConfig;
use crate::server_settings::Live;
use crate::store::Store;
use crate::tls::Certs;

/// Longest request line accepted: 64 KiB for the fields (a password plus an address fits
/// many times over), plus a directory edit's photo and certificates as base64.
const MAX_LINE: usize = 64 * 1024 + crate::directory::entry::MAX_REQUEST_FILES.div_ceil(3) * 4;

pub fn socket_path(data: &Path) -> PathBuf {
    data.join("control.sock")
}

/// Binds the control socket, replacing a stale one left by a crash.
pub fn bind(data: &Path) -> std::io::Result<UnixListener> {
    let path = socket_path(data);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let listener = UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// The daemon's state, as `easd status` shows it.
pub type StatusFn = Rc<dyn Fn() -> serde_json::Value>;

/// Serves the control socket until the listener is dropped.
/// `certs` is the HTTPS listener's certificate, None when HTTPS is off.
pub async fn serve(
    listener: UnixListener,
    store: Store,
    auth: Rc<AuthConfig>,
    status: StatusFn,
    certs: Option<Rc<Certs>>,
    settings: Rc<Live>,
) {
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                tracing::warn!("control socket accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let (store, auth, status) = (store.clone(), auth.clone(), status.clone());
        let (certs, settings) = (certs.clone(), settings.clone());
        tokio::task::spawn_local(async move {
            let ours = Ours {
                certs: certs.as_deref(),
                settings: &settings,
            };
            if let Err(e) = handle(stream, &store, &auth, &status, ours).await {
                tracing::warn!("control socket: {e}");
            }
        });
    }
}

/// The peer's uid when it may use the socket: root or the daemon's own user.
fn allowed_peer(stream: &UnixStream) -> Option<u32> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    stream
        .peer_cred()
        .ok()
        .map(|c| c.uid())
        .filter(|&uid| uid == 0 || uid == me)
}

/// What the daemon holds that some requests run on, not the store.
struct Ours<'a> {
    /// The HTTPS listener's certificate, None when HTTPS is off.
    certs: Option<&'a Certs>,
    /// The server settings in force.
    settings: &'a Live,
}

async fn handle(
    stream: UnixStream,
    store: &Store,
    auth: &AuthConfig,
    status: &StatusFn,
    ours: Ours<'_>,
) -> std::io::Result<()> {
    let Some(uid) = allowed_peer(&stream) else {
        tracing::warn!("control socket: refused a peer that is neither root nor easd's user");
        return Ok(());
    };
    let actor = Actor::control_socket(uid);
    let (rd, mut wr) = stream.into_split();
    let mut lines = AsyncBufReader::new(rd.take(MAX_LINE as u64 + 1)).lines();
    use tokio::io::AsyncReadExt;
    while let Some(line) = lines.next_line().await? {
        let reply = match serde_json::from_str::<Request>(&line) {
            Ok(Request::Status) => Reply::Status {
                status: with_store_sizes(status(), store).await,
            },
            Ok(Request::Cert(c)) => {
                tracing::info!(op = c.op_name(), "control request");
                let reply = match ours.certs {
                    Some(certs) => c.clone().execute(certs),
                    None => Reply::Error {
                        message: "HTTPS is off: easd serves no certificate".into(),
                    },
                };
                // A certificate lives in files, not the store: its entry goes in alone.
                if let Some(entry) = audit::entry(&actor, &Request::Cert(c)) {
                    audit::record(store, audit::with_outcome(entry, &reply)).await;
                }
                reply
            }
            Ok(Request::Settings(req)) => {
                tracing::info!(op = req.op_name(), "control request");
                req.execute_live(store, ours.settings, &actor).await
            }
            Ok(req) if req.streams_progress() => {
                tracing::info!(op = req.op_name(), "control request");
                execute_streaming(req, store, auth, &actor, &mut wr).await
            }
            Ok(req) => {
                tracing::info!(op = req.op_name(), "control request");
                req.execute(store, auth, &actor).await
            }
            Err(e) => Reply::Error {
                message: format!("bad control request: {e}"),
            },
        };
        let mut out = serde_json::to_vec(&reply).unwrap_or_default();
        out.push(b'\n');
        wr.write_all(&out).await?;
    }
    Ok(())
}

/// The daemon's state with what the store occupies under `"store"` (its error instead
/// when it cannot be measured: the rest of the state is still worth showing).
async fn with_store_sizes(mut status: serde_json::Value, store: &Store) -> serde_json::Value {
    let sizes = match store.sizes().await {
        Ok(s) => serde_json::to_value(s).unwrap_or_default(),
        Err(e) => {
            tracing::warn!("status: measuring the store: {e}");
            serde_json::json!({ "error": e.to_string() })
        }
    };
    if let Some(map) = status.as_object_mut() {
        map.insert("store".into(), sizes);
    }
    status
}

/// Runs a request whose progress goes to the client as `Reply::Progress` lines before the
/// reply. A client that stops reading (Ctrl-C) does not stop the request: the rest of its
/// progress is dropped.
async fn execute_streaming(
    req: Request,
    store: &Store,
    auth: &AuthConfig,
    actor: &Actor,
    wr: &mut tokio::net::unix::OwnedWriteHalf,
) -> Reply {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let run = req.execute_streaming(store, auth, actor, Some(tx));
    tokio::pin!(run);
    let mut listening = true;
    loop {
        tokio::select! {
            reply = &mut run => return reply,
            Some(p) = rx.recv() => {
                if listening {
                    let mut line = serde_json::to_vec(&Reply::Progress(p)).unwrap_or_default();
                    line.push(b'\n');
                    listening = wr.write_all(&line).await.is_ok();
                }
            }
        }
    }
}

/// Client side: sends one request to a running daemon. `Ok(None)` means no daemon listens.
pub fn call(data: &Path, req: &Request) -> std::io::Result<Option<Reply>> {
    call_with_progress(data, req, &mut |_| {})
}

/// [`call`], handing the `Reply::Progress` lines that come before the reply to
/// `on_progress`.
pub fn call_with_progress(
    data: &Path,
    req: &Request,
    on_progress: &mut dyn FnMut(&crate::mail::import::ImportProgress),
) -> std::io::Result<Option<Reply>> {
    let stream = match std::os::unix::net::UnixStream::connect(socket_path(data)) {
        Ok(s) => s,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let mut line = serde_json::to_vec(req).map_err(std::io::Error::other)?;
    line.push(b'\n');
    (&stream).write_all(&line)?;
    let mut reader = BufReader::new(&stream);
    loop {
        let mut reply = String::new();
        reader.read_line(&mut reply)?;
        if reply.is_empty() {
            return Err(std::io::Error::other(
                "the daemon closed the control connection without a reply (permission denied?)",
            ));
        }
        match serde_json::from_str(&reply).map_err(std::io::Error::other)? {
            Reply::Progress(p) => on_progress(&p),
            other => return Ok(Some(other)),
        }
    }
}
