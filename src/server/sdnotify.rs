//! Readiness and watchdog notifications to systemd, implemented by hand after sd_notify(3).
//!
//! Under `Type=notify` systemd puts the path of a unix datagram socket in
//! `NOTIFY_SOCKET` (a leading `@` means a socket in the abstract namespace) and reads
//! newline-separated `KEY=value` assignments from it, one datagram per notification.
//! Outside systemd the variable is unset and every call here is a cheap no-op.
//! (`vsock:` addresses, used by VMs, are not supported: easd runs on the host.)

use std::ffi::OsStr;
use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// Sends `state` to systemd; `Ok(false)` when not started by systemd with a notify socket.
pub fn notify(state: &str) -> io::Result<bool> {
    match std::env::var_os("NOTIFY_SOCKET") {
        Some(socket) => notify_to(&socket, state).map(|()| true),
        None => Ok(false),
    }
}

/// Sends `state` as one datagram to the notify socket `socket` (a path, or `@name`).
pub fn notify_to(socket: &OsStr, state: &str) -> io::Result<()> {
    let addr = address(socket.as_bytes())?;
    let sender = UnixDatagram::unbound()?;
    // systemd drains its socket promptly; if its queue is ever full, failing is better
    // than stalling the single-threaded runtime that calls us.
    sender.set_nonblocking(true)?;
    let sent = sender.send_to_addr(state.as_bytes(), &addr)?;
    if sent != state.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            "notification was truncated",
        ));
    }
    Ok(())
}

/// Startup is complete (`READY=1`): systemd starts units ordered after easd.
pub fn ready() -> io::Result<bool> {
    notify("READY=1")
}

/// A one-line status for `systemctl status` (`STATUS=...`).
pub fn status(msg: &str) -> io::Result<bool> {
    // A newline would start a new assignment, so it must not come from the message.
    notify(&format!("STATUS={}", msg.replace('\n', " ")))
}

/// Shutdown has begun (`STOPPING=1`).
pub fn stopping() -> io::Result<bool> {
    notify("STOPPING=1")
}

/// Keep-alive for `WatchdogSec=` (`WATCHDOG=1`).
pub fn watchdog() -> io::Result<bool> {
    notify("WATCHDOG=1")
}

/// How often to call [`watchdog`]: half of `WATCHDOG_USEC`, as sd_watchdog_enabled(3)
/// recommends, or `None` when the watchdog is off or meant for another process.
pub fn watchdog_interval() -> Option<Duration> {
    let var = |name| std::env::var(name).ok();
    watchdog_period(
        std::process::id(),
        var("WATCHDOG_USEC").as_deref(),
        var("WATCHDOG_PID").as_deref(),
    )
}

/// The pure part of [`watchdog_interval`]; malformed values count as "no watchdog",
/// as in sd_watchdog_enabled(3).
fn watchdog_period(pid: u32, usec: Option<&str>, watchdog_pid: Option<&str>) -> Option<Duration> {
    let usec: u64 = usec?.parse().ok().filter(|&usec| usec > 0)?;
    // The watchdog may be meant for the main process of a forking service.
    let target = watchdog_pid.map(str::parse::<u32>);
    if target.is_some_and(|target| target != Ok(pid)) {
        return None;
    }
    Some(Duration::from_micros(usec / 2))
}

fn address(socket: &[u8]) -> io::Result<SocketAddr> {
    match socket {
        [b'@', name @ ..] => SocketAddr::from_abstract_name(name),
        [b'/', ..] => SocketAddr::from_pathname(OsStr::from_bytes(socket)),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "NOTIFY_SOCKET is neither an absolute path nor an abstract socket name",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received(socket: &UnixDatagram) -> String {
        let mut buf = [0; 256];
        let n = socket.recv(&mut buf).unwrap();
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    #[test]
    fn sends_to_a_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let systemd = UnixDatagram::bind(&path).unwrap();
        notify_to(path.as_os_str(), "READY=1").unwrap();
        assert_eq!(received(&systemd), "READY=1");
        notify_to(path.as_os_str(), "STATUS=serving\nWATCHDOG=1").unwrap();
        assert_eq!(received(&systemd), "STATUS=serving\nWATCHDOG=1");
    }

    #[test]
    fn sends_to_an_abstract_socket() {
        let name = format!("easd-sdnotify-test-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let systemd = UnixDatagram::bind_addr(&addr).unwrap();
        notify_to(OsStr::new(&format!("@{name}")), "STOPPING=1").unwrap();
        assert_eq!(received(&systemd), "STOPPING=1");
    }

    #[test]
    fn rejects_relative_and_empty_addresses() {
        for socket in ["", "notify", "vsock:2:1234"] {
            let err = notify_to(OsStr::new(socket), "READY=1").unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{socket:?}");
        }
    }

    #[test]
    fn missing_socket_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gone");
        assert!(notify_to(path.as_os_str(), "READY=1").is_err());
    }

    #[test]
    fn watchdog_period_is_half_the_timeout() {
        let half = Some(Duration::from_secs(15));
        assert_eq!(watchdog_period(7, Some("30000000"), None), half);
        assert_eq!(watchdog_period(7, Some("30000000"), Some("7")), half);
        assert_eq!(watchdog_period(7, Some("30000000"), Some("8")), None);
        assert_eq!(watchdog_period(7, Some("30000000"), Some("x")), None);
        assert_eq!(watchdog_period(7, Some("0"), None), None);
        assert_eq!(watchdog_period(7, Some("soon"), None), None);
        assert_eq!(watchdog_period(7, None, Some("7")), None);
    }
}
