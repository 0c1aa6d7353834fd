//! The daemon: listeners, TLS, connection tasks, first-start set-up and graceful shutdown.
//!
//! Everything runs on one `current_thread` runtime inside a `LocalSet`, so connection tasks
//! share state through `Rc` without locks; only argon2 and the store writer use other threads.

pub mod http;
pub mod tls;

use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::rc::Rc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::admin::control;
use crate::auth::{Authenticator, password};
use crate::config::Config;
use crate::mail::deliver::StoreMailboxes;
use crate::mail::lmtp;
use crate::protolog::ProtocolLog;
use crate::store::ops::{self, Reads};
use crate::store::{Store, StoreError};

/// Everything a request handler may need, shared by all connections.
pub struct App {
    pub cfg: Config,
    pub store: Store,
    pub auth: Authenticator,
    pub protolog: ProtocolLog,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Setup(String),
}

/// A started server; dropping it without [`Running::shutdown`] aborts its tasks.
pub struct Running {
    pub https: Option<SocketAddr>,
    pub http: Option<SocketAddr>,
    /// The LMTP listener's TCP address (None when off or on a unix socket).
    pub lmtp: Option<SocketAddr>,
    pub app: Rc<App>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Runs the daemon until SIGTERM or SIGINT.
pub fn run(cfg: Config) -> Result<(), ServeError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ServeError::Setup(format!("runtime: {e}")))?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        let running = start(cfg).await?;
        wait_for_signal().await;
        tracing::info!("shutting down");
        running.shutdown().await;
        Ok(())
    })
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            // Without signal handlers there is nothing to wait for but the process's end.
            std::future::pending::<()>().await
        }
    }
}

/// Starts every listener; must be called inside a `LocalSet`.
pub async fn start(cfg: Config) -> Result<Running, ServeError> {
    let store = Store::open(&cfg.data)?;
    first_start(&store, &cfg).await?;
    let tls = match &cfg.https {
        Some(_) => {
            let (cert, key) = match (&cfg.cert, &cfg.key) {
                (Some(c), Some(k)) => (c.clone(), k.clone()),
                _ => tls::ensure_self_signed(&cfg.data, &cfg.hostname)?,
            };
            Some(TlsAcceptor::from(tls::server_config(&cert, &key)?))
        }
        None => None,
    };
    let https = bind(cfg.https).await?;
    let http = bind(cfg.http).await?;
    let lmtp = match cfg.lmtp.as_str() {
        "" | "off" => None,
        addr => Some(lmtp::bind(addr).await.map_err(|source| ServeError::Bind {
            addr: addr.to_owned(),
            source,
        })?),
    };
    let control = control::bind(&cfg.data).map_err(|source| ServeError::Bind {
        addr: control::socket_path(&cfg.data).display().to_string(),
        source,
    })?;
    let app = Rc::new(App {
        auth: Authenticator::new(cfg.auth.clone(), cfg.hostname.clone()),
        protolog: ProtocolLog::new(&cfg.data, cfg.protocol_log.max_bytes_per_device),
        store: store.clone(),
        cfg,
    });
    let (stop, stopped) = watch::channel(false);
    let mut running = Running {
        https: None,
        http: None,
        lmtp: None,
        app: app.clone(),
        stop,
        tasks: Vec::new(),
    };
    if let (Some(listener), Some(tls)) = (https, tls) {
        running.https = listener.local_addr().ok();
        tracing::info!(
            "HTTPS on {}",
            listener
                .local_addr()
                .map_err(|e| ServeError::Setup(e.to_string()))?
        );
        running.tasks.push(tokio::task::spawn_local(accept_loop(
            listener,
            Some(tls),
            app.clone(),
            stopped.clone(),
        )));
    }
    if let Some(listener) = http {
        running.http = listener.local_addr().ok();
        tracing::info!(
            "plain HTTP on {}",
            listener
                .local_addr()
                .map_err(|e| ServeError::Setup(e.to_string()))?
        );
        running.tasks.push(tokio::task::spawn_local(accept_loop(
            listener,
            None,
            app.clone(),
            stopped.clone(),
        )));
    }
    if let Some(listener) = lmtp {
        if let lmtp::Listener::Tcp(l) = &listener {
            running.lmtp = l.local_addr().ok();
        }
        tracing::info!("LMTP on {}", app.cfg.lmtp);
        let cfg = lmtp::LmtpConfig {
            hostname: app.cfg.hostname.clone(),
            max_message_size: app.cfg.limits.max_message,
            ..lmtp::LmtpConfig::default()
        };
        let mailboxes = Rc::new(StoreMailboxes(store.clone()));
        running.tasks.push(tokio::task::spawn_local(lmtp::serve(
            listener,
            mailboxes,
            cfg,
            stopped.clone(),
        )));
    }
    running.tasks.push(tokio::task::spawn_local(control::serve(
        control,
        store,
        Rc::new(app.cfg.auth.clone()),
    )));
    Ok(running)
}

async fn bind(addr: Option<SocketAddr>) -> Result<Option<TcpListener>, ServeError> {
    match addr {
        Some(a) => TcpListener::bind(a)
            .await
            .map(Some)
            .map_err(|source| ServeError::Bind {
                addr: a.to_string(),
                source,
            }),
        None => Ok(None),
    }
}

/// On an empty store: create the `admin` account and say its password once.
async fn first_start(store: &Store, cfg: &Config) -> Result<(), ServeError> {
    if !store.read()?.accounts()?.is_empty() {
        return Ok(());
    }
    let (password, announce) = match std::env::var("EASD_ADMIN_PASSWORD") {
        Ok(p) if !p.is_empty() => (p, false),
        _ => (crate::cli::random_password(), true),
    };
    let auth = cfg.auth.clone();
    let pw = password.clone();
    let hash = tokio::task::spawn_blocking(move || password::hash(&pw, &auth))
        .await
        .map_err(|e| ServeError::Setup(e.to_string()))?
        .map_err(ServeError::Setup)?;
    let email = format!("admin@{}", cfg.hostname);
    store
        .write(move |ctx| ops::create_account(ctx, &email, "Administrator", &hash, true))
        .await?;
    if announce {
        let path = cfg.data.join("initial-admin-password");
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| ServeError::Setup(format!("{}: {e}", path.display())))?;
        std::io::Write::write_all(&mut f, format!("{password}\n").as_bytes())
            .map_err(|e| ServeError::Setup(format!("{}: {e}", path.display())))?;
        eprintln!(
            "easd: first start: created account 'admin' (admin@{}) with password {password}\neasd: (also written to {})",
            cfg.hostname,
            path.display()
        );
    }
    Ok(())
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Rc<App>,
    mut stopped: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(pair) => pair,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped.changed() => break,
        };
        let _ = tcp.set_nodelay(true);
        let (app, tls, watcher) = (app.clone(), tls.clone(), graceful.watcher());
        tokio::task::spawn_local(async move {
            let secure = tls.is_some();
            let service =
                hyper::service::service_fn(move |req| http::handle(app.clone(), req, peer, secure));
            let builder = {
                let mut b = hyper::server::conn::http1::Builder::new();
                b.timer(TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(30))
                    .keep_alive(true);
                b
            };
            let result = match tls {
                Some(acceptor) => {
                    match tokio::time::timeout(Duration::from_secs(15), acceptor.accept(tcp)).await
                    {
                        Ok(Ok(stream)) => {
                            watcher
                                .watch(builder.serve_connection(TokioIo::new(stream), service))
                                .await
                        }
                        Ok(Err(e)) => {
                            tracing::debug!("TLS handshake with {peer}: {e}");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!("TLS handshake with {peer} timed out");
                            return;
                        }
                    }
                }
                None => {
                    watcher
                        .watch(builder.serve_connection(TokioIo::new(tcp), service))
                        .await
                }
            };
            if let Err(e) = result {
                tracing::debug!("connection with {peer}: {e}");
            }
        });
    }
    // In-flight requests finish; idle keep-alive connections close.
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(10), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("some connections did not finish within 10 s");
    }
}

impl Running {
    /// Stops accepting, lets in-flight requests finish, and closes the store.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let Running { tasks, app, .. } = self;
        // The control task never ends by itself; the accept loops end on the signal.
        let mut tasks = tasks;
        let control = tasks.pop();
        for t in tasks {
            let _ = t.await;
        }
        if let Some(c) = control {
            c.abort();
            // The task holds a Store clone; the store is closed only once it is gone.
            let _ = c.await;
        }
        let _ = std::fs::remove_file(control::socket_path(&app.cfg.data));
        drop(app);
    }
}
