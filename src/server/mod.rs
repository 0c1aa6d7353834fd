//! The daemon: listeners, TLS, connection tasks, first-start set-up and graceful shutdown.
//!
//! Everything runs on one `current_thread` runtime inside a `LocalSet`, so connection tasks
//! share state through `Rc` without locks; only argon2 and the store writer use other threads.

pub mod activation;
pub mod conn;
pub mod http;
mod resident;
mod scrape;
pub mod sdnotify;

use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use tokio::net::{TcpListener, UdpSocket, UnixListener};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::admin::control;
use crate::app::App;
use crate::auth::session::Sessions;
use crate::auth::{Authenticator, password};
use crate::budget::MemoryBudget;
use crate::config::Config;
use crate::mail::lmtp;
use crate::mail::mailboxes::StoreMailboxes;
use crate::metrics::Handshake;
use crate::protolog::ProtocolLog;
use crate::push::hub::Hub;
use crate::push::notify;
use crate::refusal::Refusals;
use crate::server_settings::Live;
use crate::spool::Spool;
use crate::store::Event;
use crate::store::model::{Folder, FolderType};
use crate::store::ops::{self, Reads};
use crate::store::space::AutoCompact;
use crate::store::{Store, StoreError};
use crate::tls::{self, Certs};
use activation::Inherited;

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
    /// The UDP change-notification listener's address.
    pub notify: Option<SocketAddr>,
    pub app: Rc<App>,
    stop: watch::Sender<bool>,
    /// Listener tasks: they end when `stop` turns true.
    tasks: Vec<JoinHandle<()>>,
    /// Tasks that run until aborted (hub, watchdog, control socket).
    background: Vec<JoinHandle<()>>,
    /// The control socket file was made here (not handed over by systemd): remove it on exit.
    owns_control_socket: bool,
}

/// Runs the daemon until SIGTERM or SIGINT.
pub fn run(cfg: Config) -> Result<(), ServeError> {
    tune_allocator();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ServeError::Setup(format!("runtime: {e}")))?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        // Handlers first, so a SIGTERM during the first start (argon2, certificate) is a
        // clean stop too.
        let signal = wait_for_signal();
        let release = cfg.limits.release_startup_memory;
        let running = start(cfg).await?;
        if release {
            resident::release_startup_memory();
        }
        signal.await;
        tracing::info!("shutting down");
        running.shutdown().await;
        Ok(())
    })
}

/// Installs the SIGTERM/SIGINT handlers now; the returned future ends at the first signal.
fn wait_for_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let handlers = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    );
    async move {
        match handlers {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            // Without signal handlers there is nothing to wait for but the process's end.
            _ => std::future::pending::<()>().await,
        }
    }
}

/// glibc keeps a freed argon2 work area (tens of MiB) in a per-thread arena for reuse;
/// on a small box that is memory the daemon never gets back. Large blocks are mmapped
/// (returned on free) and arenas are few.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only adjusts allocator parameters; called before other threads start.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// The sockets easd serves, inherited from systemd (by name) or bound here.
struct Listeners {
    https: Option<TcpListener>,
    http: Option<TcpListener>,
    lmtp: Option<lmtp::Listener>,
    notify: Option<UdpSocket>,
    control: UnixListener,
    owns_control_socket: bool,
}

fn bind_error(addr: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> ServeError {
    let addr = addr.to_string();
    move |source| ServeError::Bind { addr, source }
}

/// Takes each socket from systemd when it passed one with that name (sd_listen_fds(3)),
/// else binds it as configured.
async fn listeners(cfg: &Config, inherited: &mut Inherited) -> Result<Listeners, ServeError> {
    let tcp =
        |l: std::net::TcpListener| TcpListener::from_std(l).map_err(bind_error("inherited socket"));
    let https = match inherited.take_tcp("https").map_err(bind_error("https"))? {
        Some(l) => Some(tcp(l)?),
        None => bind(cfg.https).await?,
    };
    let http = match inherited.take_tcp("http").map_err(bind_error("http"))? {
        Some(l) => Some(tcp(l)?),
        None => bind(cfg.http).await?,
    };
    let lmtp = if let Some(l) = inherited.take_tcp("lmtp").map_err(bind_error("lmtp"))? {
        Some(lmtp::Listener::Tcp(tcp(l)?))
    } else if let Some(l) = inherited.take_unix("lmtp").map_err(bind_error("lmtp"))? {
        Some(lmtp::Listener::Unix(
            UnixListener::from_std(l).map_err(bind_error("lmtp"))?,
            None,
        ))
    } else {
        let access = lmtp::SocketAccess {
            group: cfg.lmtp_socket_group.clone(),
            mode: cfg.lmtp_socket_mode,
        };
        match cfg.lmtp.as_str() {
            "" | "off" => None,
            addr => Some(lmtp::bind(addr, &access).await.map_err(bind_error(addr))?),
        }
    };
    let notify = match inherited.take_udp("notify").map_err(bind_error("notify"))? {
        Some(s) => Some(UdpSocket::from_std(s).map_err(bind_error("notify"))?),
        None => match cfg.notify.listen.as_str() {
            "" | "off" => None,
            addr => Some(UdpSocket::bind(addr).await.map_err(bind_error(addr))?),
        },
    };
    let (control, owns_control_socket) = match inherited
        .take_unix("control")
        .map_err(bind_error("control"))?
    {
        Some(l) => (
            UnixListener::from_std(l).map_err(bind_error("control"))?,
            false,
        ),
        None => (
            control::bind(&cfg.data)
                .map_err(bind_error(control::socket_path(&cfg.data).display()))?,
            true,
        ),
    };
    for name in inherited.leftover() {
        tracing::warn!("systemd passed a socket named {name:?}, which easd does not use");
    }
    Ok(Listeners {
        https,
        http,
        lmtp,
        notify,
        control,
        owns_control_socket,
    })
}

/// Starts every listener; must be called inside a `LocalSet`.
pub async fn start(cfg: Config) -> Result<Running, ServeError> {
    let mut inherited = Inherited::from_env().map_err(|e| ServeError::Setup(e.to_string()))?;
    start_with(cfg, &mut inherited).await
}

/// [`start`] with the sockets systemd (or a test) handed over.
pub async fn start_with(cfg: Config, inherited: &mut Inherited) -> Result<Running, ServeError> {
    let store = Store::open_with_cache(&cfg.data, cfg.limits.store_cache_mib.max(1) * 1024 * 1024)?;
    store.blobs().set_compression(cfg.limits.compress_mail);
    store.auto_compact(auto_compact(&cfg.compaction))?;
    // Deliveries acknowledged before a crash go in before anything else does.
    crate::mail::deliver::replay(&store).await?;
    // The settings saved from the admin's page override the file's, listeners included.
    let saved = store.view(|tx| tx.server_settings()).await?;
    let settings = Rc::new(Live::new(cfg, &saved).map_err(|e| {
        ServeError::Setup(format!(
            "the server settings saved in the store do not fit the configuration file: \
                 {e} (`easd settings show`, `easd settings unset KEY --config FILE`)"
        ))
    })?);
    let cfg = settings.current().cfg.clone();
    let new_admin = first_start(&store, &cfg).await?;
    let certs = match &cfg.https {
        Some(_) => Some(Rc::new(Certs::load(&cfg)?)),
        None => None,
    };
    let tls = match &certs {
        Some(c) => Some(TlsAcceptor::from(c.server_config()?)),
        None => None,
    };
    let sockets = listeners(&cfg, inherited).await?;
    let refusals = Rc::new(Refusals::default());
    let app = Rc::new(App {
        auth: Authenticator::new(cfg.auth.clone(), cfg.hostname.clone(), refusals.clone()),
        protolog: ProtocolLog::new(&cfg.data, cfg.protocol_log.max_bytes_per_device),
        hub: Rc::new(Hub::default()),
        notify_counters: Rc::new(notify::Counters::default()),
        oof_counters: Rc::default(),
        metrics: Rc::default(),
        sessions: Sessions::new(&cfg.web),
        started: std::time::Instant::now(),
        budget: MemoryBudget::new(cfg.limits.memory_budget_mib.saturating_mul(1024 * 1024)),
        refusals,
        spool: Spool::open(&cfg.data)
            .map_err(|e| ServeError::Setup(format!("{}: {e}", cfg.data.join("tmp").display())))?,
        store: store.clone(),
        certs: certs.clone(),
        acme_challenges: Rc::default(),
        settings: settings.clone(),
        gal: Default::default(),
        cfg,
    });
    let (stop, stopped) = watch::channel(false);
    let hub_task = tokio::task::spawn_local(app.hub.clone().run(store.subscribe()));
    let mut running = Running {
        https: None,
        http: None,
        lmtp: None,
        notify: None,
        app: app.clone(),
        stop,
        tasks: Vec::new(),
        background: vec![hub_task],
        owns_control_socket: sockets.owns_control_socket,
    };
    if crate::pim::tz::database_missing() {
        tracing::warn!(
            "no time zone database (tzdata; TZDIR or /usr/share/zoneinfo): events keep their \
             devices' zone rules but lose the IANA zone names; install tzdata"
        );
    }
    let mut serving = Vec::new();
    // Plain HTTP serves without TLS; HTTPS needs its acceptor (None when HTTPS is off).
    for (listener, acceptor, name) in [
        (sockets.https, tls, "HTTPS"),
        (sockets.http, None, "plain HTTP"),
    ] {
        let Some(listener) = listener else { continue };
        if name == "HTTPS" && acceptor.is_none() {
            continue;
        }
        let addr = listener.local_addr().ok();
        if name == "HTTPS" {
            running.https = addr;
        } else {
            running.http = addr;
        }
        tracing::info!("{name} on {}", addr.map_or("?".into(), |a| a.to_string()));
        serving.push(format!(
            "{name} {}",
            addr.map_or("?".into(), |a| a.to_string())
        ));
        running.tasks.push(tokio::task::spawn_local(accept_loop(
            listener,
            acceptor,
            app.clone(),
            stopped.clone(),
        )));
    }
    if let Some(listener) = sockets.lmtp {
        if let lmtp::Listener::Tcp(l) = &listener {
            running.lmtp = l.local_addr().ok();
        }
        tracing::info!("LMTP on {}", app.cfg.lmtp);
        serving.push(format!("LMTP {}", app.cfg.lmtp));
        let cfg = lmtp::LmtpConfig {
            hostname: app.cfg.hostname.clone(),
            max_message_size: app.cfg.limits.max_message,
            refusals: app.refusals.clone(),
            ..lmtp::LmtpConfig::default()
        };
        let mailboxes = Rc::new(StoreMailboxes {
            store: store.clone(),
            settings: app.settings.clone(),
            budget: app.budget.clone(),
            refusals: app.refusals.clone(),
            oof: app.oof_counters.clone(),
            metrics: app.metrics.clone(),
            patience: StoreMailboxes::PATIENCE,
        });
        running.tasks.push(tokio::task::spawn_local(lmtp::serve(
            listener,
            mailboxes,
            cfg,
            stopped.clone(),
        )));
    }
    if let Some(socket) = sockets.notify {
        running.notify = socket.local_addr().ok();
        tracing::info!("change notifications on udp {}", app.cfg.notify.listen);
        running.tasks.push(tokio::task::spawn_local(serve_notify(
            socket,
            app.clone(),
            stopped.clone(),
        )));
    }
    running
        .background
        .push(tokio::task::spawn_local(watchdog()));
    if let (true, Some(certs)) = (app.cfg.acme.enabled, &certs) {
        if running.http.is_none() {
            tracing::warn!(
                "[acme] is enabled but no http listener runs: HTTP-01 cannot be answered"
            );
        }
        running
            .background
            .push(tokio::task::spawn_local(tls::acme::run(
                certs.clone(),
                Rc::new(app.cfg.clone()),
                app.acme_challenges.clone(),
            )));
    }
    let status_app = app.clone();
    running
        .background
        .push(tokio::task::spawn_local(control::serve(
            sockets.control,
            store,
            Rc::new(app.cfg.auth.clone()),
            Rc::new(move || status(&status_app)),
            certs,
            settings,
        )));
    if let Some(admin) = new_admin {
        announce(&admin, &running.app.cfg, &running);
    }
    let _ = sdnotify::status(&format!("serving {}", serving.join(", ")));
    let _ = sdnotify::ready();
    Ok(running)
}

/// The configured compaction when idle, as the store takes it.
fn auto_compact(c: &crate::config::CompactionConfig) -> Option<AutoCompact> {
    (c.idle_minutes > 0).then(|| AutoCompact {
        idle: std::time::Duration::from_secs(c.idle_minutes * 60),
        min_free: c.min_free_mib * 1024 * 1024,
        min_free_percent: c.min_free_percent.min(100),
    })
}

/// The state `easd status` shows.
fn status(app: &App) -> serde_json::Value {
    let c = &app.notify_counters;
    serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "waiting_requests": app.hub.waiting(),
        "notify": {
            "received": c.received.get(),
            "accepted": c.accepted.get(),
            "malformed": c.malformed.get(),
            "oversized": c.oversized.get(),
            "unknown_account": c.unknown_account.get(),
            "not_loopback": c.not_loopback.get(),
            "rate_limited": c.rate_limited.get(),
        },
        "out_of_office": {
            "decided": app.oof_counters.decided.get(),
            "sent": app.oof_counters.sent.get(),
        },
        "refused": app.refusals.snapshot(),
        "memory_budget": app.budget.snapshot(),
        "login_throttle": { "refused_attempts": app.auth.throttled() },
        "web_sessions": app.sessions.sweep(std::time::Instant::now()),
        // Saved listener addresses that apply once easd starts again.
        "restart_pending": app.settings.restart_pending(),
    })
}

/// The UDP listener, resolving notices against the store and waking the hub.
async fn serve_notify(socket: UdpSocket, app: Rc<App>, stopped: watch::Receiver<bool>) {
    let cfg = notify::NotifyConfig {
        allow_remote: app.cfg.notify.allow_remote,
        rate_per_second: app.cfg.notify.rate_per_second,
        burst: app.cfg.notify.burst,
    };
    let resolver = app.clone();
    let resolve = async move |n: &notify::Notice| match notice_events(&resolver.store, n).await {
        Ok(events) => events,
        Err(e) => {
            tracing::warn!("change notice for {}: {e}", n.account);
            None
        }
    };
    let hub = app.hub.clone();
    notify::serve(
        socket,
        resolve,
        move |e| hub.poke(e),
        app.notify_counters.clone(),
        cfg,
        stopped,
    )
    .await;
}

/// The events a notice stands for: the named folder of the account, or all its folders.
async fn notice_events(
    store: &Store,
    n: &notify::Notice,
) -> Result<Option<Vec<Event>>, StoreError> {
    let email = n.account.clone();
    let found = store
        .view(move |tx| {
            let Some(account) = tx.account_by_email(&email)? else {
                return Ok(None);
            };
            Ok::<_, StoreError>(Some((account.id, tx.folders(account.id)?)))
        })
        .await?;
    let Some((account, folders)) = found else {
        return Ok(None);
    };
    let chosen: Vec<&Folder> = match n.folder_ref() {
        None => folders.iter().collect(),
        Some(notify::FolderRef::Inbox) => folders
            .iter()
            .filter(|f| f.kind == FolderType::Inbox)
            .collect(),
        Some(notify::FolderRef::Id(id)) => folders.iter().filter(|f| f.id == id).collect(),
        Some(notify::FolderRef::Name(name)) => folders
            .iter()
            .filter(|f| f.name.eq_ignore_ascii_case(name))
            .collect(),
    };
    Ok(Some(
        chosen
            .into_iter()
            .map(|f| Event::Folder {
                account,
                folder: f.id,
            })
            .collect(),
    ))
}

/// Pings systemd's watchdog at half its interval, while the event loop is alive.
async fn watchdog() {
    let Some(period) = sdnotify::watchdog_interval() else {
        return;
    };
    loop {
        tokio::time::sleep(period).await;
        let _ = sdnotify::watchdog();
    }
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

/// The admin account made at first start, whose password is to be said once serving.
struct NewAdmin {
    email: String,
    password: String,
    /// Where the password was also written.
    file: PathBuf,
}

/// On an empty store: create the `admin` account; `Some` when its password was generated
/// (and so must be said, once the listeners are up).
async fn first_start(store: &Store, cfg: &Config) -> Result<Option<NewAdmin>, ServeError> {
    if !store.view(|tx| tx.accounts()).await?.is_empty() {
        return Ok(None);
    }
    let (password, announce) = match std::env::var("EASD_ADMIN_PASSWORD") {
        Ok(p) if !p.is_empty() => (p, false),
        _ => (crate::auth::password::random(), true),
    };
    let auth = cfg.auth.clone();
    let pw = password.clone();
    let hash = tokio::task::spawn_blocking(move || password::hash(&pw, &auth))
        .await
        .map_err(|e| ServeError::Setup(e.to_string()))?
        .map_err(ServeError::Setup)?;
    let email = format!("admin@{}", cfg.hostname);
    let stored = email.clone();
    store
        .write(move |ctx| ops::create_account(ctx, &stored, "Administrator", &hash, true))
        .await?;
    if !announce {
        return Ok(None);
    }
    let file = cfg.data.join("initial-admin-password");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&file)
        .map_err(|e| ServeError::Setup(format!("{}: {e}", file.display())))?;
    std::io::Write::write_all(&mut f, format!("{password}\n").as_bytes())
        .map_err(|e| ServeError::Setup(format!("{}: {e}", file.display())))?;
    Ok(Some(NewAdmin {
        email,
        password,
        file,
    }))
}

/// Says the new admin's password, where to use it (the admin page's URL: `public_url`,
/// else the host name and the listener's port) and the served certificate's fingerprint
/// to check the browser's warning against.
fn announce(admin: &NewAdmin, cfg: &Config, running: &Running) {
    let url = match (&cfg.public_url, running.https, running.http) {
        (Some(u), _, _) => format!("{}/admin", u.trim_end_matches('/')),
        (None, Some(a), _) => format!("https://{}:{}/admin", cfg.hostname, a.port()),
        (None, None, Some(a)) => format!("http://{}:{}/admin", cfg.hostname, a.port()),
        (None, None, None) => "(no HTTP listener)".into(),
    };
    eprintln!(
        "easd: first start: created account 'admin' ({}) with password {}\neasd: (also written to {})\neasd: sign in at {url}",
        admin.email,
        admin.password,
        admin.file.display()
    );
    if let Some(certs) = &running.app.certs {
        eprintln!(
            "easd: the certificate's SHA-256 fingerprint (check it in the browser): {}",
            certs.state().leaf.sha256
        );
    }
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Rc<App>,
    mut stopped: watch::Receiver<bool>,
) {
    let connections = Rc::new(conn::Tracker::default());
    // One descriptor held back, so that when the process runs out of them a client can
    // still be accepted and told 503 instead of waiting in the backlog for nothing.
    let mut reserve = std::fs::File::open("/dev/null").ok();
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(pair) => pair,
                Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
                    tracing::warn!("out of file descriptors: answering 503");
                    drop(reserve.take());
                    if let Ok(Ok((tcp, _))) =
                        tokio::time::timeout(Duration::from_millis(10), listener.accept()).await
                    {
                        tokio::task::spawn_local(refuse_busy(tcp, tls.clone()));
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    reserve = std::fs::File::open("/dev/null").ok();
                    continue;
                }
                Err(e) => {
                    tracing::warn!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped.changed() => break,
        };
        let _ = tcp.set_nodelay(true);
        let (app, tls, stopped) = (app.clone(), tls.clone(), stopped.clone());
        let tracked = connections.track();
        tokio::task::spawn_local(async move {
            let _tracked = tracked;
            let secure = tls.is_some();
            let io = match tls {
                Some(acceptor) => {
                    // Boxed: the handshake's state is freed once it is done, not kept in
                    // the connection's task.
                    let handshake = Box::pin(acceptor.accept(tcp));
                    match tokio::time::timeout(Duration::from_secs(15), handshake).await {
                        Ok(Ok(stream))
                            if stream.get_ref().1.alpn_protocol() == Some(tls::ACME_ALPN) =>
                        {
                            // A TLS-ALPN-01 validation: the handshake was the answer, no
                            // request follows (RFC 8737 3).
                            tracing::info!("ACME: answered a TLS-ALPN-01 validation from {peer}");
                            return;
                        }
                        Ok(Ok(stream)) => {
                            app.metrics.handshake(Handshake::Completed);
                            Box::new(conn::Io::Tls(stream))
                        }
                        Ok(Err(e)) => {
                            app.metrics.handshake(Handshake::Failed);
                            tracing::debug!("TLS handshake with {peer}: {e}");
                            return;
                        }
                        Err(_) => {
                            app.metrics.handshake(Handshake::TimedOut);
                            tracing::debug!("TLS handshake with {peer} timed out");
                            return;
                        }
                    }
                }
                None => Box::new(conn::Io::Plain(tcp)),
            };
            let handler = move |req| http::handle(app.clone(), req, peer, secure);
            if let Err(e) = conn::serve(io, stopped, handler).await {
                tracing::debug!("connection with {peer}: {e}");
            }
        });
    }
    // In-flight requests finish; idle keep-alive connections close.
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(10), connections.all_closed())
        .await
        .is_err()
    {
        tracing::warn!("some connections did not finish within 10 s");
    }
}

/// Answers a connection accepted while out of descriptors with 503 and closes it.
async fn refuse_busy(tcp: tokio::net::TcpStream, tls: Option<TlsAcceptor>) {
    use tokio::io::AsyncWriteExt;
    const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 30\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        match tls {
            Some(acceptor) => {
                if let Ok(mut s) = acceptor.accept(tcp).await {
                    let _ = s.write_all(BUSY).await;
                    let _ = s.shutdown().await;
                }
            }
            None => {
                let mut tcp = tcp;
                let _ = tcp.write_all(BUSY).await;
            }
        }
    })
    .await;
}

impl Running {
    /// Stops accepting, lets in-flight requests finish, and closes the store.
    pub async fn shutdown(self) {
        let _ = sdnotify::stopping();
        // Waiting Pings are answered (Status 1) before the listeners drain.
        self.app.hub.shutdown();
        let _ = self.stop.send(true);
        let Running {
            tasks,
            background,
            app,
            owns_control_socket,
            ..
        } = self;
        for t in tasks {
            let _ = t.await;
        }
        for t in background {
            t.abort();
            // These tasks hold Store clones; the store is closed only once they are gone.
            let _ = t.await;
        }
        if owns_control_socket {
            let _ = std::fs::remove_file(control::socket_path(&app.cfg.data));
        }
        drop(app);
    }
}
