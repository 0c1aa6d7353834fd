//! systemd socket activation, implemented by hand after sd_listen_fds(3).
//!
//! systemd passes listening sockets as file descriptors 3, 4, … and describes them in
//! three environment variables: `LISTEN_PID` (the process they are meant for),
//! `LISTEN_FDS` (how many) and `LISTEN_FDNAMES` (colon-separated names, from
//! `FileDescriptorName=` in the socket unit). easd takes its sockets by name: `https`,
//! `http`, `lmtp`, `notify` and `control`. Several sockets may share one name (a
//! socket unit with two `ListenStream=` lines); each `take_*` call takes the next one.
//!
//! The variables are left in the environment rather than removed as
//! `sd_listen_fds(unset_environment = 1)` would: removing them is `unsafe` once threads
//! may exist, and leaving them is harmless: a child process has another pid so it
//! ignores them (the `LISTEN_PID` check below), and the descriptors are marked
//! close-on-exec so no child inherits them. A process-wide flag makes sure the
//! descriptors are claimed only once even if [`Inherited::from_env`] is called again.

use std::ffi::c_int;
use std::fmt;
use std::io;
use std::net::{TcpListener, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::sync::atomic::{AtomicBool, Ordering};

/// The first passed descriptor, `SD_LISTEN_FDS_START` in sd-daemon.h.
const LISTEN_FDS_START: RawFd = 3;

/// More than this is a misconfiguration (easd listens on five sockets at most), and
/// the cap keeps a bogus count from making us claim descriptors we never got.
pub const MAX_FDS: usize = 64;

/// Set once the passed descriptors have been claimed, so they get one owner only.
static CLAIMED: AtomicBool = AtomicBool::new(false);

#[derive(Debug, thiserror::Error)]
pub enum ActivationError {
    #[error("{var} is not valid UTF-8")]
    NotUnicode { var: &'static str },
    #[error("LISTEN_PID is not a process id: {0:?}")]
    BadPid(String),
    #[error("LISTEN_FDS is not a descriptor count: {0:?}")]
    BadCount(String),
    #[error("LISTEN_FDS={0} is more than the {MAX_FDS} easd accepts")]
    TooMany(usize),
    #[error("LISTEN_FDNAMES has {names} names for {fds} descriptors")]
    NameCount { fds: usize, names: usize },
    #[error("passed descriptor {fd} is unusable: {source}")]
    Fd { fd: RawFd, source: io::Error },
}

/// Parses the activation variables the way sd_listen_fds_with_names(3) does.
///
/// Returns the passed descriptors with their names; empty when `LISTEN_PID` or
/// `LISTEN_FDS` is unset or when `LISTEN_PID` names another process. Names default to
/// `unknown`, as in systemd, when `LISTEN_FDNAMES` is unset.
pub fn parse(
    pid: u32,
    listen_pid: Option<&str>,
    listen_fds: Option<&str>,
    names: Option<&str>,
) -> Result<Vec<(RawFd, String)>, ActivationError> {
    let (Some(listen_pid), Some(listen_fds)) = (listen_pid, listen_fds) else {
        return Ok(Vec::new());
    };
    let target: u32 = listen_pid
        .parse()
        .map_err(|_| ActivationError::BadPid(listen_pid.to_owned()))?;
    if target != pid {
        return Ok(Vec::new());
    }
    let count: usize = listen_fds
        .parse()
        .map_err(|_| ActivationError::BadCount(listen_fds.to_owned()))?;
    if count > MAX_FDS {
        return Err(ActivationError::TooMany(count));
    }
    let names: Vec<String> = match names {
        None => vec!["unknown".to_owned(); count],
        // systemd splits "" into no names at all, not one empty name.
        Some("") => Vec::new(),
        Some(list) => list.split(':').map(str::to_owned).collect(),
    };
    if names.len() != count {
        return Err(ActivationError::NameCount {
            fds: count,
            names: names.len(),
        });
    }
    Ok((LISTEN_FDS_START..).zip(names).collect())
}

/// Sockets passed by the service manager, not yet taken.
#[derive(Debug, Default)]
pub struct Inherited {
    fds: Vec<(OwnedFd, String)>,
}

impl Inherited {
    /// Claims the sockets systemd passed to this process (none when not socket-activated).
    ///
    /// Only the first call claims anything; later calls return an empty set.
    pub fn from_env() -> Result<Self, ActivationError> {
        if CLAIMED.swap(true, Ordering::SeqCst) {
            return Ok(Self::default());
        }
        let passed = parse(
            std::process::id(),
            env("LISTEN_PID")?.as_deref(),
            env("LISTEN_FDS")?.as_deref(),
            env("LISTEN_FDNAMES")?.as_deref(),
        )?;
        let mut fds = Vec::with_capacity(passed.len());
        for (fd, name) in passed {
            // Like sd_listen_fds(3): our children must not inherit the listeners.
            set_cloexec(fd).map_err(|source| ActivationError::Fd { fd, source })?;
            // SAFETY: LISTEN_PID names this process, so systemd passed us `fd`, and
            // fcntl just showed it is open. CLAIMED makes this the only place that
            // takes ownership of it.
            fds.push((unsafe { OwnedFd::from_raw_fd(fd) }, name));
        }
        Ok(Self::from_fds(fds))
    }

    /// Wraps sockets obtained some other way (tests, or a test harness standing in for
    /// systemd).
    pub fn from_fds(fds: Vec<(OwnedFd, String)>) -> Self {
        Self { fds }
    }

    /// Takes the next listening TCP socket called `name`, made non-blocking for tokio.
    pub fn take_tcp(&mut self, name: &str) -> io::Result<Option<TcpListener>> {
        self.take(name, Kind::TcpListener)?
            .map(|fd| {
                let listener = TcpListener::from(fd);
                listener.set_nonblocking(true)?;
                Ok(listener)
            })
            .transpose()
    }

    /// Takes the next UDP socket called `name`, made non-blocking for tokio.
    pub fn take_udp(&mut self, name: &str) -> io::Result<Option<UdpSocket>> {
        self.take(name, Kind::Udp)?
            .map(|fd| {
                let socket = UdpSocket::from(fd);
                socket.set_nonblocking(true)?;
                Ok(socket)
            })
            .transpose()
    }

    /// Takes the next listening unix stream socket called `name`, made non-blocking
    /// for tokio.
    pub fn take_unix(&mut self, name: &str) -> io::Result<Option<UnixListener>> {
        self.take(name, Kind::UnixListener)?
            .map(|fd| {
                let listener = UnixListener::from(fd);
                listener.set_nonblocking(true)?;
                Ok(listener)
            })
            .transpose()
    }

    /// Names of the sockets nobody took, in the order systemd passed them.
    pub fn leftover(&self) -> Vec<&str> {
        self.fds.iter().map(|(_, name)| name.as_str()).collect()
    }

    /// Removes the first socket called `name` if it is of kind `want`; a socket of
    /// another kind is an error and stays in place, so it shows up in [`Self::leftover`].
    fn take(&mut self, name: &str, want: Kind) -> io::Result<Option<OwnedFd>> {
        let Some(index) = self.fds.iter().position(|(_, n)| n == name) else {
            return Ok(None);
        };
        let fd = self.fds[index].0.as_fd();
        match classify(fd) {
            Ok(found) if found == want => Ok(Some(self.fds.remove(index).0)),
            Ok(found) => Err(wrong_kind(name, fd, want, &found.to_string())),
            Err(found) => Err(wrong_kind(name, fd, want, &found)),
        }
    }
}

/// Reads an environment variable, treating non-UTF-8 as an error rather than as unset.
fn env(var: &'static str) -> Result<Option<String>, ActivationError> {
    match std::env::var(var) {
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(ActivationError::NotUnicode { var }),
    }
}

fn wrong_kind(name: &str, fd: BorrowedFd<'_>, want: Kind, found: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "socket-activated descriptor {} named {name:?} is {found}, expected {want}",
            fd.as_raw_fd()
        ),
    )
}

/// The socket kinds easd can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    TcpListener,
    Udp,
    UnixListener,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::TcpListener => "a listening TCP socket",
            Kind::Udp => "a UDP socket",
            Kind::UnixListener => "a listening unix stream socket",
        })
    }
}

/// Finds out what `fd` is, like sd_is_socket_inet(3) / sd_is_socket_unix(3); the error
/// describes a descriptor that is none of the kinds easd takes.
fn classify(fd: BorrowedFd<'_>) -> Result<Kind, String> {
    let unusable = |e: io::Error| format!("not usable as a socket ({e})");
    let ty = socket_option(fd, libc::SO_TYPE).map_err(unusable)?;
    let family = socket_family(fd).map_err(unusable)?;
    // An Accept=yes unit passes connected sockets, which look like listeners otherwise.
    let listening =
        ty == libc::SOCK_STREAM && socket_option(fd, libc::SO_ACCEPTCONN).map_err(unusable)? != 0;
    match (family, ty, listening) {
        (libc::AF_INET | libc::AF_INET6, libc::SOCK_STREAM, true) => Ok(Kind::TcpListener),
        (libc::AF_INET | libc::AF_INET6, libc::SOCK_DGRAM, _) => Ok(Kind::Udp),
        (libc::AF_UNIX, libc::SOCK_STREAM, true) => Ok(Kind::UnixListener),
        (libc::AF_INET | libc::AF_INET6, libc::SOCK_STREAM, false) => {
            Err("a connected TCP socket".to_owned())
        }
        (libc::AF_UNIX, libc::SOCK_DGRAM, _) => Err("a unix datagram socket".to_owned()),
        _ => Err(format!("a socket of family {family} and type {ty}")),
    }
}

/// An integer `SOL_SOCKET` option.
fn socket_option(fd: BorrowedFd<'_>, option: c_int) -> io::Result<c_int> {
    let mut value: c_int = 0;
    let mut len = size_of::<c_int>() as libc::socklen_t;
    // SAFETY: `value` and `len` are live locals, and `len` holds the size of `value`.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            option,
            (&raw mut value).cast(),
            &mut len,
        )
    };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(value)
}

/// The address family of the socket's local address.
fn socket_family(fd: BorrowedFd<'_>) -> io::Result<c_int> {
    // SAFETY: sockaddr_storage is plain old data, for which all zeroes is a valid value.
    let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `addr` and `len` are live locals, and `len` holds the size of `addr`, so
    // the kernel writes within it.
    let rc = unsafe { libc::getsockname(fd.as_raw_fd(), (&raw mut addr).cast(), &mut len) };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(c_int::from(addr.ss_family))
}

fn set_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: F_GETFD takes no argument and only reads the descriptor's flags; an fd
    // that is not open yields EBADF.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: F_SETFD takes an int argument and only changes the descriptor's flags.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpStream;
    use std::os::unix::net::UnixDatagram;

    const PID: u32 = 4242;

    fn names(fds: &[(RawFd, String)]) -> Vec<(RawFd, &str)> {
        fds.iter().map(|(fd, n)| (*fd, n.as_str())).collect()
    }

    #[test]
    fn parses_named_descriptors() {
        let fds = parse(PID, Some("4242"), Some("3"), Some("https:http:lmtp")).unwrap();
        assert_eq!(names(&fds), [(3, "https"), (4, "http"), (5, "lmtp")]);
    }

    #[test]
    fn missing_names_are_unknown() {
        let fds = parse(PID, Some("4242"), Some("2"), None).unwrap();
        assert_eq!(names(&fds), [(3, "unknown"), (4, "unknown")]);
    }

    #[test]
    fn not_activated_or_meant_for_another_process() {
        assert!(parse(PID, None, None, None).unwrap().is_empty());
        assert!(parse(PID, Some("4242"), None, None).unwrap().is_empty());
        assert!(parse(PID, None, Some("1"), Some("x")).unwrap().is_empty());
        assert!(
            parse(PID, Some("1"), Some("1"), Some("x"))
                .unwrap()
                .is_empty()
        );
        assert!(
            parse(PID, Some("4242"), Some("0"), Some(""))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn rejects_bad_numbers() {
        assert!(matches!(
            parse(PID, Some("12x"), Some("1"), None),
            Err(ActivationError::BadPid(p)) if p == "12x"
        ));
        assert!(matches!(
            parse(PID, Some("4242"), Some("-1"), None),
            Err(ActivationError::BadCount(_))
        ));
        assert!(matches!(
            parse(PID, Some("4242"), Some(""), None),
            Err(ActivationError::BadCount(_))
        ));
    }

    #[test]
    fn rejects_too_many() {
        assert!(matches!(
            parse(PID, Some("4242"), Some("65"), None),
            Err(ActivationError::TooMany(65))
        ));
        assert!(matches!(
            parse(PID, Some("4242"), Some("99999999999999999999999"), None),
            Err(ActivationError::BadCount(_))
        ));
    }

    #[test]
    fn rejects_name_count_mismatch() {
        assert!(matches!(
            parse(PID, Some("4242"), Some("2"), Some("https")),
            Err(ActivationError::NameCount { fds: 2, names: 1 })
        ));
        assert!(matches!(
            parse(PID, Some("4242"), Some("1"), Some("")),
            Err(ActivationError::NameCount { fds: 1, names: 0 })
        ));
    }

    fn sockets(dir: &tempfile::TempDir) -> Inherited {
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let unix = UnixListener::bind(dir.path().join("control")).unwrap();
        Inherited::from_fds(vec![
            (tcp.into(), "https".to_owned()),
            (udp.into(), "notify".to_owned()),
            (unix.into(), "control".to_owned()),
        ])
    }

    #[test]
    fn takes_each_kind_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let mut inherited = sockets(&dir);
        assert!(inherited.take_tcp("http").unwrap().is_none());

        let tcp = inherited.take_tcp("https").unwrap().unwrap();
        let err = tcp.accept().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock, "not non-blocking");
        let udp = inherited.take_udp("notify").unwrap().unwrap();
        let err = udp.recv(&mut [0; 8]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock, "not non-blocking");
        let unix = inherited.take_unix("control").unwrap().unwrap();
        let err = unix.accept().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock, "not non-blocking");

        assert!(inherited.leftover().is_empty());
        assert!(
            inherited.take_tcp("https").unwrap().is_none(),
            "taken twice"
        );
    }

    #[test]
    fn wrong_kind_is_an_error_and_stays() {
        let dir = tempfile::tempdir().unwrap();
        let mut inherited = sockets(&dir);
        for err in [
            inherited.take_udp("https").unwrap_err(),
            inherited.take_unix("https").unwrap_err(),
            inherited.take_tcp("notify").unwrap_err(),
            inherited.take_unix("notify").unwrap_err(),
            inherited.take_tcp("control").unwrap_err(),
            inherited.take_udp("control").unwrap_err(),
        ] {
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        }
        let err = inherited.take_udp("https").unwrap_err().to_string();
        assert!(err.contains("\"https\" is a listening TCP socket"), "{err}");
        assert!(err.contains("expected a UDP socket"), "{err}");
        assert_eq!(inherited.leftover(), ["https", "notify", "control"]);
    }

    #[test]
    fn rejects_connected_and_datagram_unix_sockets() {
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let stream = TcpStream::connect(server.local_addr().unwrap()).unwrap();
        let (datagram, _peer) = UnixDatagram::pair().unwrap();
        let mut inherited = Inherited::from_fds(vec![
            (stream.into(), "https".to_owned()),
            (datagram.into(), "control".to_owned()),
        ]);
        let err = inherited.take_tcp("https").unwrap_err().to_string();
        assert!(err.contains("a connected TCP socket"), "{err}");
        let err = inherited.take_unix("control").unwrap_err().to_string();
        assert!(err.contains("a unix datagram socket"), "{err}");
    }

    #[test]
    fn duplicate_names_are_taken_in_order() {
        let first = TcpListener::bind("127.0.0.1:0").unwrap();
        let second = TcpListener::bind("127.0.0.1:0").unwrap();
        let addrs = [first.local_addr().unwrap(), second.local_addr().unwrap()];
        let mut inherited = Inherited::from_fds(vec![
            (first.into(), "https".to_owned()),
            (second.into(), "https".to_owned()),
        ]);
        for addr in addrs {
            let taken = inherited.take_tcp("https").unwrap().unwrap();
            assert_eq!(taken.local_addr().unwrap(), addr);
        }
        assert!(inherited.take_tcp("https").unwrap().is_none());
    }

    #[test]
    fn not_a_socket() {
        let file = tempfile::tempfile().unwrap();
        let mut inherited = Inherited::from_fds(vec![(file.into(), "https".to_owned())]);
        let err = inherited.take_tcp("https").unwrap_err().to_string();
        assert!(err.contains("not usable as a socket"), "{err}");
    }

    #[test]
    fn from_env_outside_systemd_is_empty() {
        // The test runner is not socket-activated, so whichever call claims, it finds
        // nothing; a second call must not claim again.
        assert!(Inherited::from_env().unwrap().leftover().is_empty());
        assert!(Inherited::from_env().unwrap().leftover().is_empty());
    }
}
