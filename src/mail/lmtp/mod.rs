//! LMTP ingress (RFC 2033): the local MTA hands easd the messages for its accounts.
//!
//! [`bind`] opens a TCP or unix-socket listener, [`serve`] accepts connections until told
//! to stop, and each connection runs a [`Session`] (the protocol, free of I/O) against the
//! socket. A recipient is answered `250` only after [`Mailboxes::deliver`] has made the
//! message durable.

mod session;
mod types;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;

use std::ffi::CString;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::timeout;

pub use session::{Closing, Delivery, MAX_LINE, Pending, SPILL_AT, Session, Step};
pub use types::{LmtpConfig, Mailboxes, NotDelivered, Received};

use crate::store::blob::BlobWriter;

/// Who may connect to a unix socket easd binds itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketAccess {
    /// The socket's group; None: [`PREFERRED_GROUP`] when it exists, else the process's.
    pub group: Option<String>,
    /// Permission bits.
    pub mode: u32,
}

/// The group Postfix's delivery agents run as (its `mail_owner`); the socket is given to
/// it by default so that `lmtp:unix:` works without further set-up.
pub const PREFERRED_GROUP: &str = "postfix";

impl Default for SocketAccess {
    fn default() -> Self {
        Self {
            group: None,
            mode: 0o660,
        }
    }
}

pub enum Listener {
    Tcp(TcpListener),
    /// A unix socket, with its file when easd bound it (removed when the listener is
    /// dropped); a socket systemd handed over is systemd's to remove.
    Unix(UnixListener, Option<SocketFile>),
}

/// A socket file easd created; removed on drop unless another file took its place.
pub struct SocketFile {
    path: PathBuf,
    id: (u64, u64),
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        let ours =
            std::fs::symlink_metadata(&self.path).is_ok_and(|m| (m.dev(), m.ino()) == self.id);
        if ours && let Err(e) = std::fs::remove_file(&self.path) {
            tracing::warn!("removing {}: {e}", self.path.display());
        }
    }
}

/// An accepted connection, with the peer's name for the log.
enum Connection {
    Tcp(TcpStream, String),
    Unix(UnixStream),
}

impl Listener {
    async fn accept(&self) -> io::Result<Connection> {
        match self {
            Listener::Tcp(listener) => {
                let (stream, peer) = listener.accept().await?;
                Ok(Connection::Tcp(stream, peer.to_string()))
            }
            Listener::Unix(listener, _) => Ok(Connection::Unix(listener.accept().await?.0)),
        }
    }
}

/// Binds `addr`: a path starting with `/` or `unix:` is a unix socket (given `access`'s
/// group and mode; a stale socket file is replaced, and the file is removed when the
/// listener is dropped), anything else a TCP address such as `127.0.0.1:2424`.
pub async fn bind(addr: &str, access: &SocketAccess) -> io::Result<Listener> {
    let path = addr
        .strip_prefix("unix:")
        .or_else(|| addr.starts_with('/').then_some(addr));
    match path {
        Some(path) => bind_unix(Path::new(path), access).await,
        None => TcpListener::bind(addr).await.map(Listener::Tcp),
    }
}

async fn bind_unix(path: &Path, access: &SocketAccess) -> io::Result<Listener> {
    remove_stale_socket(path).await?;
    let listener = UnixListener::bind(path)?;
    let metadata = tokio::fs::symlink_metadata(path).await?;
    // From here on the file goes when the listener does, also if the set-up fails.
    let file = SocketFile {
        path: path.to_owned(),
        id: (metadata.dev(), metadata.ino()),
    };
    set_group(path, access.group.as_deref())?;
    tokio::fs::set_permissions(path, std::fs::Permissions::from_mode(access.mode)).await?;
    Ok(Listener::Unix(listener, Some(file)))
}

/// Gives the socket its group. A configured group must exist and be granted; the
/// preferred one is given when it exists and the process may (root, or a member).
fn set_group(path: &Path, group: Option<&str>) -> io::Result<()> {
    let (name, required) = match group {
        Some(name) => (name, true),
        None => (PREFERRED_GROUP, false),
    };
    let gid = match group_id(name)? {
        Some(gid) => gid,
        None if required => {
            let message = format!("no group {name:?} for {}", path.display());
            return Err(io::Error::new(io::ErrorKind::NotFound, message));
        }
        None => return Ok(()),
    };
    match std::os::unix::fs::chown(path, None, Some(gid)) {
        Ok(()) => Ok(()),
        Err(e) if !required => {
            tracing::warn!(
                "{} keeps the process's group: giving it to group {name} failed ({e}); \
                 Postfix may not be able to connect (set lmtp_socket_group)",
                path.display()
            );
            Ok(())
        }
        Err(e) => Err(io::Error::new(
            e.kind(),
            format!("giving {} to group {name}: {e}", path.display()),
        )),
    }
}

/// The id of group `name` (getgrnam_r(3)); None when there is no such group.
fn group_id(name: &str) -> io::Result<Option<libc::gid_t>> {
    let name = CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "group name with a NUL"))?;
    let mut buf: Vec<libc::c_char> = vec![0; 1024];
    loop {
        // SAFETY: every pointer is valid for the call; `group` is plain data that
        // getgrnam_r fills, its strings pointing into `buf`, which outlives the use.
        let mut group: libc::group = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::group = std::ptr::null_mut();
        let rc = unsafe {
            libc::getgrnam_r(
                name.as_ptr(),
                &mut group,
                buf.as_mut_ptr(),
                buf.len(),
                &mut found,
            )
        };
        match rc {
            0 => return Ok((!found.is_null()).then_some(group.gr_gid)),
            libc::ERANGE if buf.len() < 1 << 20 => buf.resize(buf.len() * 2, 0),
            rc => return Err(io::Error::from_raw_os_error(rc)),
        }
    }
}

/// Removes a socket file left by a crash; leaves other files and live sockets alone.
async fn remove_stale_socket(path: &Path) -> io::Result<()> {
    let metadata = match tokio::fs::symlink_metadata(path).await {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        result => result?,
    };
    if !metadata.file_type().is_socket() {
        let message = format!("{} exists and is not a socket", path.display());
        return Err(io::Error::new(io::ErrorKind::AlreadyExists, message));
    }
    if UnixStream::connect(path).await.is_ok() {
        let message = format!("another process listens on {}", path.display());
        return Err(io::Error::new(io::ErrorKind::AddrInUse, message));
    }
    tokio::fs::remove_file(path).await
}

/// Accepts connections until `stop` turns true (or its sender is dropped), then waits for
/// the open sessions, which end with `421 4.3.2` once their delivery in flight is done.
pub async fn serve(
    listener: Listener,
    mailboxes: Rc<impl Mailboxes + 'static>,
    cfg: LmtpConfig,
    mut stop: watch::Receiver<bool>,
) {
    let cfg = Rc::new(cfg);
    let mut sessions = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            () = stopped(&mut stop) => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok(connection) => {
                let (mailboxes, cfg, stop) = (mailboxes.clone(), cfg.clone(), stop.clone());
                sessions.spawn_local(async move {
                    match connection {
                        Connection::Tcp(stream, peer) => {
                            converse(stream, &peer, &*mailboxes, &cfg, stop).await;
                        }
                        Connection::Unix(stream) => {
                            converse(stream, "unix", &*mailboxes, &cfg, stop).await;
                        }
                    }
                });
            }
            Err(e) => {
                tracing::warn!("lmtp accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        while sessions.try_join_next().is_some() {}
    }
    drop(listener);
    sessions.join_all().await;
}

/// Resolves once a stop is requested; a dropped sender counts as one.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|&stopping| stopping).await;
}

async fn converse<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    peer: &str,
    mailboxes: &impl Mailboxes,
    cfg: &LmtpConfig,
    mut stop: watch::Receiver<bool>,
) {
    tracing::debug!(peer, "lmtp: connected");
    let mut session = Session::new(cfg);
    match run(&mut stream, &mut session, mailboxes, cfg, &mut stop).await {
        Ok(()) => {
            let _ = timeout(cfg.idle_timeout, stream.shutdown()).await;
            tracing::debug!(peer, "lmtp: closed");
        }
        Err(e) => tracing::info!(peer, "lmtp: connection lost: {e}"),
    }
}

/// Reads, feeds the session and writes its replies until the conversation ends.
async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    session: &mut Session,
    mailboxes: &impl Mailboxes,
    cfg: &LmtpConfig,
    stop: &mut watch::Receiver<bool>,
) -> io::Result<()> {
    let mut buf = vec![0; 64 * 1024];
    // The spool of the message being received, once it outgrew memory; `Err` once writing
    // it failed (the message is then answered 451 when it ends).
    let mut spool: Option<io::Result<BlobWriter>> = None;
    loop {
        flush(stream, session, cfg.idle_timeout).await?;
        let read = tokio::select! {
            read = timeout(cfg.idle_timeout, stream.read(&mut buf)) => read,
            () = stopped(stop) => {
                session.close(Closing::Shutdown);
                return flush(stream, session, cfg.idle_timeout).await;
            }
        };
        let mut input = match read {
            Ok(Ok(0)) => return Ok(()),
            Ok(read) => &buf[..read?],
            Err(_elapsed) => {
                session.close(Closing::IdleTimeout);
                return flush(stream, session, cfg.idle_timeout).await;
            }
        };
        loop {
            match session.feed(&mut input) {
                Step::NeedInput => break,
                Step::Resolve { address } => session.resolved(mailboxes.resolve(&address).await),
                Step::Spill { chunk, first } => {
                    if first {
                        spool = Some(mailboxes.spool());
                    }
                    if let Some(Ok(writer)) = &mut spool
                        && let Err(e) = writer.write(&chunk)
                    {
                        spool = Some(Err(e));
                    }
                }
                Step::Deliver(Delivery {
                    accounts,
                    message,
                    spilled,
                    pending,
                }) => {
                    let received = match (spilled, spool.take()) {
                        (false, _) => Ok(Received::Memory(message)),
                        (true, Some(Ok(mut writer))) => {
                            writer.write(&message).map(|()| Received::Spooled(writer))
                        }
                        (true, Some(Err(e))) => Err(e),
                        (true, None) => unreachable!("a spilled message started a spool"),
                    };
                    let result = match received {
                        Ok(raw) => mailboxes.deliver(pending.sender(), &accounts, raw).await,
                        Err(e) => Err(NotDelivered::Failed(format!("spooling the message: {e}"))),
                    };
                    session.delivered(pending, result);
                }
                Step::Close => return flush(stream, session, cfg.idle_timeout).await,
            }
        }
    }
}

/// Writes the pending replies; a peer that does not read them for `limit` is dropped.
async fn flush<S: AsyncWrite + Unpin>(
    stream: &mut S,
    session: &mut Session,
    limit: Duration,
) -> io::Result<()> {
    let out = session.take_output();
    if out.is_empty() {
        return Ok(());
    }
    match timeout(limit, stream.write_all(&out)).await {
        Ok(result) => result,
        Err(_elapsed) => Err(io::ErrorKind::TimedOut.into()),
    }
}
