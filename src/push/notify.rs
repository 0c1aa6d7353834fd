//! The UDP change-notification listener: other programs on the box say "this mailbox
//! changed, look again", and easd wakes the devices waiting on it.
//!
//! # Datagram format
//!
//! One datagram per notice, UTF-8, at most 512 bytes:
//!
//! ```text
//! v1 <account-address> [<folder>]
//! ```
//!
//! - Fields are separated by single spaces; one trailing `\n` is allowed.
//! - `<account-address>` is the account's e-mail address.
//! - `<folder>` is optional; without it every folder of the account is looked at again.
//!   It is everything after the second space, so it may contain spaces
//!   (`v1 alice@example.com Sent Items`). `INBOX` in any case means the Inbox; a string
//!   of digits is a folder id; anything else is matched against the folders' display
//!   names, ignoring case (see [`Notice::folder_ref`]).
//! - Control characters are not allowed anywhere.
//!
//! For example: `printf 'v1 alice@example.com INBOX\n' | nc -uq0 127.0.0.1 <port>`,
//! or `easd notify alice@example.com INBOX` (see [`send`]).
//!
//! Datagrams from other hosts are dropped unless [`NotifyConfig::allow_remote`] is set,
//! and a token bucket bounds the rate at which notices are acted upon.

use std::cell::Cell;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::rc::Rc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::store::Event;

/// The longest datagram accepted, in bytes.
pub const MAX_DATAGRAM: usize = 512;

/// The receive buffer: anything longer than [`MAX_DATAGRAM`] is noticed (and dropped)
/// because it fills the buffer past that size, even if the kernel truncates it.
const RECV_BUFFER: usize = 1024;

/// How often each kind of dropped datagram may be logged at warn level.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// A parsed datagram: look at `account` (and only `folder`, when given) again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub account: String,
    pub folder: Option<String>,
}

/// What a [`Notice`]'s folder field refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FolderRef<'a> {
    /// `INBOX`, in any case.
    Inbox,
    /// A folder id, given as digits.
    Id(u64),
    /// A display name, to be compared ignoring case.
    Name(&'a str),
}

impl Notice {
    /// How to find the folder named in the notice; `None` means all folders.
    pub fn folder_ref(&self) -> Option<FolderRef<'_>> {
        let folder = self.folder.as_deref()?;
        Some(if folder.eq_ignore_ascii_case("INBOX") {
            FolderRef::Inbox
        } else if let Ok(id) = folder.parse() {
            FolderRef::Id(id)
        } else {
            FolderRef::Name(folder)
        })
    }
}

/// Why a datagram is not a [`Notice`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Reject {
    #[error("longer than {MAX_DATAGRAM} bytes")]
    TooLong,
    #[error("not UTF-8")]
    NotUtf8,
    #[error("not a v1 notice")]
    BadVersion,
    #[error("malformed notice")]
    Syntax,
}

/// Parses one datagram (see the module documentation for the format).
pub fn parse(datagram: &[u8]) -> Result<Notice, Reject> {
    if datagram.len() > MAX_DATAGRAM {
        return Err(Reject::TooLong);
    }
    let text = std::str::from_utf8(datagram).map_err(|_| Reject::NotUtf8)?;
    let line = text.strip_suffix('\n').unwrap_or(text);
    if line.is_empty() || line.chars().any(char::is_control) {
        return Err(Reject::Syntax);
    }
    let mut fields = line.splitn(3, ' ');
    if fields.next() != Some("v1") {
        return Err(Reject::BadVersion);
    }
    let account = fields
        .next()
        .filter(|a| !a.is_empty())
        .ok_or(Reject::Syntax)?;
    let folder = match fields.next() {
        None => None,
        // Empty, or padded: not single-space separated.
        Some(f) if f.is_empty() || f.starts_with(' ') || f.ends_with(' ') => {
            return Err(Reject::Syntax);
        }
        Some(f) => Some(f.to_owned()),
    };
    Ok(Notice {
        account: account.to_owned(),
        folder,
    })
}

/// Listener settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyConfig {
    /// Accept datagrams from any address, not only from loopback.
    pub allow_remote: bool,
    /// Notices acted upon per second, sustained.
    pub rate_per_second: u32,
    /// Notices acted upon in a burst (at least 1).
    pub burst: u32,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            allow_remote: false,
            rate_per_second: 200,
            burst: 400,
        }
    }
}

/// What the listener did with the datagrams it received, for status output.
///
/// Every received datagram ends up in exactly one other counter.
#[derive(Debug, Default)]
pub struct Counters {
    pub received: Cell<u64>,
    pub accepted: Cell<u64>,
    pub malformed: Cell<u64>,
    pub oversized: Cell<u64>,
    pub unknown_account: Cell<u64>,
    pub not_loopback: Cell<u64>,
    pub rate_limited: Cell<u64>,
}

impl Counters {
    fn count(&self, outcome: Result<(), Dropped>) {
        bump(&self.received);
        bump(match outcome {
            Ok(()) => &self.accepted,
            Err(Dropped::Malformed(_)) => &self.malformed,
            Err(Dropped::Oversized) => &self.oversized,
            Err(Dropped::UnknownAccount) => &self.unknown_account,
            Err(Dropped::NotLoopback) => &self.not_loopback,
            Err(Dropped::RateLimited) => &self.rate_limited,
        });
    }
}

fn bump(counter: &Cell<u64>) {
    counter.set(counter.get().saturating_add(1));
}

/// Receives notices on `socket` until `stop` turns true (or its sender goes away).
///
/// `resolve` maps a notice to the events to publish, `None` meaning the account is
/// unknown (it reads the store, so it is awaited); `publish` hands each event to the push
/// hub. Neither may block: this loop awaits nothing but the socket, `resolve` and `stop`.
pub async fn serve(
    socket: tokio::net::UdpSocket,
    resolve: impl AsyncFn(&Notice) -> Option<Vec<Event>>,
    publish: impl Fn(Event),
    counters: Rc<Counters>,
    cfg: NotifyConfig,
    mut stop: watch::Receiver<bool>,
) {
    let stopped = stop.wait_for(|&stopping| stopping);
    tokio::pin!(stopped);
    let mut listener = Listener::new(cfg);
    let mut buf = [0; RECV_BUFFER];
    loop {
        let received = tokio::select! {
            _ = &mut stopped => return,
            received = socket.recv_from(&mut buf) => received,
        };
        let (len, from) = match received {
            Ok(received) => received,
            // For UDP this is a queued ICMP error, which reading consumed, so going on
            // cannot spin.
            Err(e) => {
                tracing::debug!("notify: receive failed: {e}");
                continue;
            }
        };
        let now = Instant::now();
        let outcome = listener
            .handle(&buf[..len], from, now, &resolve, &publish)
            .await;
        counters.count(outcome);
        if let Err(dropped) = outcome {
            listener.log_drop(dropped, from, now);
        }
    }
}

/// The listener's state between datagrams.
struct Listener {
    cfg: NotifyConfig,
    bucket: TokenBucket,
    warnings: Warnings,
}

impl Listener {
    fn new(cfg: NotifyConfig) -> Self {
        Self {
            bucket: TokenBucket::new(cfg.rate_per_second, cfg.burst, Instant::now()),
            warnings: Warnings::default(),
            cfg,
        }
    }

    /// Acts on one datagram: publishes the events for its notice, or says why not.
    async fn handle(
        &mut self,
        datagram: &[u8],
        from: SocketAddr,
        now: Instant,
        resolve: impl AsyncFn(&Notice) -> Option<Vec<Event>>,
        publish: impl Fn(Event),
    ) -> Result<(), Dropped> {
        self.admit(from, now)?;
        let notice = parse(datagram)?;
        tracing::debug!(account = %notice.account, folder = ?notice.folder, %from, "notify");
        let events = resolve(&notice).await.ok_or(Dropped::UnknownAccount)?;
        events.into_iter().for_each(publish);
        Ok(())
    }

    /// The checks made before a datagram is even parsed, cheapest first.
    fn admit(&mut self, from: SocketAddr, now: Instant) -> Result<(), Dropped> {
        // A v4-mapped 127.0.0.1 arrives on a dual-stack socket bound to `::`.
        if !self.cfg.allow_remote && !from.ip().to_canonical().is_loopback() {
            return Err(Dropped::NotLoopback);
        }
        if !self.bucket.take(now) {
            return Err(Dropped::RateLimited);
        }
        Ok(())
    }

    fn log_drop(&mut self, dropped: Dropped, from: SocketAddr, now: Instant) {
        tracing::debug!(%from, "notify: dropped: {dropped}");
        if self.warnings.due(dropped, now) {
            let quiet = WARN_EVERY.as_secs();
            tracing::warn!(
                %from,
                "notify: dropped a datagram: {dropped} (more within {quiet}s go unlogged)"
            );
        }
    }
}

/// Why a datagram was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dropped {
    Malformed(Reject),
    Oversized,
    UnknownAccount,
    NotLoopback,
    RateLimited,
}

impl Dropped {
    /// One slot per kind, for [`Warnings`].
    const KINDS: usize = 5;

    fn kind(self) -> usize {
        match self {
            Dropped::Malformed(_) => 0,
            Dropped::Oversized => 1,
            Dropped::UnknownAccount => 2,
            Dropped::NotLoopback => 3,
            Dropped::RateLimited => 4,
        }
    }
}

impl From<Reject> for Dropped {
    fn from(reject: Reject) -> Self {
        match reject {
            Reject::TooLong => Dropped::Oversized,
            other => Dropped::Malformed(other),
        }
    }
}

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dropped::Malformed(reject) => write!(f, "{reject}"),
            Dropped::Oversized => write!(f, "{}", Reject::TooLong),
            Dropped::UnknownAccount => f.write_str("unknown account"),
            Dropped::NotLoopback => f.write_str("not from loopback"),
            Dropped::RateLimited => f.write_str("rate limited"),
        }
    }
}

/// Remembers when each kind of drop was last logged at warn level, so a flood of bad
/// datagrams cannot flood the log too.
#[derive(Default)]
struct Warnings {
    last: [Option<Instant>; Dropped::KINDS],
}

impl Warnings {
    fn due(&mut self, dropped: Dropped, now: Instant) -> bool {
        let last = &mut self.last[dropped.kind()];
        if last.is_some_and(|at| now.duration_since(at) < WARN_EVERY) {
            return false;
        }
        *last = Some(now);
        true
    }
}

/// A token bucket: holds up to `burst` tokens, refilled at `rate` per second.
struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    fn new(rate: u32, burst: u32, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            rate: f64::from(rate),
            burst,
            tokens: burst,
            last: now,
        }
    }

    fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens < 1.0 {
            return false;
        }
        self.tokens -= 1.0;
        true
    }
}

/// Sends one notice to the listener at `addr`: the client side of `easd notify`.
pub fn send(addr: SocketAddr, account: &str, folder: Option<&str>) -> io::Result<()> {
    let line = match folder {
        Some(folder) => format!("v1 {account} {folder}\n"),
        None => format!("v1 {account}\n"),
    };
    // Check that the listener will read back what we mean, e.g. no space in the account.
    let parsed = parse(line.as_bytes()).map_err(|e| invalid(e.to_string()))?;
    if parsed.account != account || parsed.folder.as_deref() != folder {
        return Err(invalid("account or folder has stray spaces".to_owned()));
    }
    let socket = UdpSocket::bind(local_for(addr.ip()))?;
    let sent = socket.send_to(line.as_bytes(), addr)?;
    if sent != line.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            "notice was truncated",
        ));
    }
    Ok(())
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// An ephemeral local address that can reach `peer`: loopback for a loopback peer, so
/// the listener sees a loopback source, else any address of the same family.
fn local_for(peer: IpAddr) -> SocketAddr {
    let ip = match (peer, peer.is_loopback()) {
        (IpAddr::V4(_), true) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        (IpAddr::V4(_), false) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        (IpAddr::V6(_), true) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        (IpAddr::V6(_), false) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    SocketAddr::new(ip, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    fn notice(account: &str, folder: Option<&str>) -> Notice {
        Notice {
            account: account.to_owned(),
            folder: folder.map(str::to_owned),
        }
    }

    #[test]
    fn parses_valid_notices() {
        let a = "alice@example.com";
        assert_eq!(parse(b"v1 alice@example.com"), Ok(notice(a, None)));
        assert_eq!(parse(b"v1 alice@example.com\n"), Ok(notice(a, None)));
        assert_eq!(
            parse(b"v1 alice@example.com INBOX\n"),
            Ok(notice(a, Some("INBOX")))
        );
        assert_eq!(
            parse("v1 alice@example.com Sent Items".as_bytes()),
            Ok(notice(a, Some("Sent Items")))
        );
        assert_eq!(
            parse("v1 jörg@example.com Entwürfe".as_bytes()),
            Ok(notice("jörg@example.com", Some("Entwürfe")))
        );
    }

    #[test]
    fn rejects_bad_versions() {
        for datagram in [
            "v2 alice@example.com",
            "V1 alice@example.com",
            " v1 alice@example.com",
            "hello",
            "v1x a",
        ] {
            assert_eq!(
                parse(datagram.as_bytes()),
                Err(Reject::BadVersion),
                "{datagram:?}"
            );
        }
    }

    #[test]
    fn rejects_bad_syntax() {
        for datagram in [
            "",
            "\n",
            "v1",
            "v1\n",
            "v1 ",
            "v1  alice@example.com",
            "v1 alice@example.com ",
            "v1 alice@example.com  INBOX",
            "v1 alice@example.com INBOX ",
            "v1 alice@example.com\n\n",
            "v1 alice@example.com\r\n",
            "v1 alice@example.com\tINBOX",
            "v1 alice@example.com IN\0BOX",
        ] {
            assert_eq!(
                parse(datagram.as_bytes()),
                Err(Reject::Syntax),
                "{datagram:?}"
            );
        }
    }

    #[test]
    fn rejects_long_and_non_utf8() {
        let long = format!("v1 alice@example.com {}", "x".repeat(MAX_DATAGRAM));
        assert_eq!(parse(long.as_bytes()), Err(Reject::TooLong));
        let exact = format!("v1 a {}", "x".repeat(MAX_DATAGRAM - 5));
        assert_eq!(exact.len(), MAX_DATAGRAM);
        assert!(parse(exact.as_bytes()).is_ok());
        assert_eq!(
            parse(b"v1 alice@example.com \xff\xfe"),
            Err(Reject::NotUtf8)
        );
    }

    #[test]
    fn folder_refs() {
        let folder = |f| notice("a@b", Some(f));
        assert_eq!(folder("inbox").folder_ref(), Some(FolderRef::Inbox));
        assert_eq!(folder("InBox").folder_ref(), Some(FolderRef::Inbox));
        assert_eq!(folder("42").folder_ref(), Some(FolderRef::Id(42)));
        assert_eq!(folder("-1").folder_ref(), Some(FolderRef::Name("-1")));
        assert_eq!(
            folder("Sent Items").folder_ref(),
            Some(FolderRef::Name("Sent Items"))
        );
        assert_eq!(notice("a@b", None).folder_ref(), None);
    }

    #[test]
    fn token_bucket_refills_at_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(10, 3, start);
        assert_eq!((0..5).filter(|_| bucket.take(start)).count(), 3);
        let later = start + Duration::from_millis(250);
        assert_eq!((0..5).filter(|_| bucket.take(later)).count(), 2);
        let much_later = later + Duration::from_secs(60);
        assert_eq!((0..5).filter(|_| bucket.take(much_later)).count(), 3);
    }

    #[test]
    fn warnings_are_rate_limited_per_kind() {
        let start = Instant::now();
        let mut warnings = Warnings::default();
        assert!(warnings.due(Dropped::Oversized, start));
        assert!(!warnings.due(Dropped::Oversized, start + Duration::from_secs(9)));
        assert!(warnings.due(Dropped::RateLimited, start + Duration::from_secs(9)));
        assert!(warnings.due(Dropped::Oversized, start + Duration::from_secs(10)));
    }

    #[test]
    fn send_refuses_what_would_parse_differently() {
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        for (account, folder) in [
            ("a b@c", None),
            ("", None),
            ("a@b", Some("")),
            ("a@b", Some("x\n")),
        ] {
            let err = send(addr, account, folder).unwrap_err();
            assert_eq!(
                err.kind(),
                io::ErrorKind::InvalidInput,
                "{account:?} {folder:?}"
            );
        }
    }

    const KNOWN: &str = "alice@example.com";

    /// A listener on 127.0.0.1 with a fake store that knows [`KNOWN`] (account 1,
    /// folders 10 and 11), run until the test body finishes.
    async fn with_listener<F: Future<Output = ()>>(
        cfg: NotifyConfig,
        test: impl FnOnce(SocketAddr, Rc<Counters>, Rc<RefCell<Vec<Event>>>) -> F,
    ) {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let counters = Rc::new(Counters::default());
        let published = Rc::new(RefCell::new(Vec::new()));
        let (stop_tx, stop_rx) = watch::channel(false);
        let resolve = async |n: &Notice| {
            (n.account == KNOWN).then(|| match n.folder_ref() {
                Some(FolderRef::Inbox) => vec![Event::Folder {
                    account: 1,
                    folder: 10,
                }],
                _ => [10, 11]
                    .map(|folder| Event::Folder { account: 1, folder })
                    .to_vec(),
            })
        };
        let sink = Rc::clone(&published);
        let publish = move |e| sink.borrow_mut().push(e);
        tokio::task::LocalSet::new()
            .run_until(async {
                let listener = tokio::task::spawn_local(serve(
                    socket,
                    resolve,
                    publish,
                    Rc::clone(&counters),
                    cfg,
                    stop_rx,
                ));
                test(addr, Rc::clone(&counters), published).await;
                stop_tx.send(true).unwrap();
                tokio::time::timeout(Duration::from_secs(5), listener)
                    .await
                    .expect("stop did not end the listener")
                    .unwrap();
            })
            .await;
        let c = &counters;
        let dropped = [&c.accepted, &c.malformed, &c.oversized, &c.unknown_account]
            .into_iter()
            .chain([&c.not_loopback, &c.rate_limited])
            .map(Cell::get)
            .sum::<u64>();
        assert_eq!(c.received.get(), dropped, "counters do not add up: {c:?}");
    }

    /// Waits until `counters.received` reaches `n`.
    async fn received(counters: &Counters, n: u64) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while counters.received.get() < n {
            assert!(Instant::now() < deadline, "only {counters:?} of {n}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn publishes_resolved_events_and_counts_drops() {
        with_listener(
            NotifyConfig::default(),
            |addr, counters, published| async move {
                send(addr, KNOWN, Some("inbox")).unwrap();
                send(addr, KNOWN, None).unwrap();
                send(addr, "bob@example.com", None).unwrap();
                let client = UdpSocket::bind("127.0.0.1:0").unwrap();
                client.send_to(&[b'x'; 600], addr).unwrap();
                client.send_to(&[b'x'; 4000], addr).unwrap();
                client.send_to(b"v9 alice@example.com", addr).unwrap();
                received(&counters, 6).await;

                assert_eq!(counters.accepted.get(), 2);
                assert_eq!(counters.unknown_account.get(), 1);
                assert_eq!(counters.oversized.get(), 2);
                assert_eq!(counters.malformed.get(), 1);
                let folder = |folder| Event::Folder { account: 1, folder };
                assert_eq!(*published.borrow(), [folder(10), folder(10), folder(11)]);
            },
        )
        .await;
    }

    #[tokio::test]
    async fn rate_limits_a_flood() {
        let cfg = NotifyConfig {
            rate_per_second: 100,
            burst: 100,
            ..NotifyConfig::default()
        };
        let start = Instant::now();
        with_listener(cfg, |addr, counters, _| async move {
            let client = UdpSocket::bind("127.0.0.1:0").unwrap();
            for batch in 0..20 {
                for _ in 0..50 {
                    client.send_to(b"v1 alice@example.com INBOX", addr).unwrap();
                }
                // Let the listener drain the socket so the kernel drops nothing.
                received(&counters, (batch + 1) * 50).await;
            }
            let elapsed = start.elapsed().as_secs_f64();
            assert!(counters.rate_limited.get() > 0, "{counters:?}");
            let bound = 100.0 + 100.0 * elapsed;
            assert!(
                (counters.accepted.get() as f64) <= bound,
                "{counters:?} in {elapsed}s"
            );
        })
        .await;
    }

    #[test]
    fn drops_remote_sources_unless_allowed() {
        let cfg = NotifyConfig {
            burst: 1,
            ..NotifyConfig::default()
        };
        let now = Instant::now();
        let remote = "192.0.2.1:1234".parse().unwrap();
        let mapped = "[::ffff:127.0.0.1]:1234".parse().unwrap();
        let mut listener = Listener::new(cfg.clone());
        assert_eq!(listener.admit(remote, now), Err(Dropped::NotLoopback));
        assert_eq!(listener.admit(mapped, now), Ok(()));
        let mut listener = Listener::new(NotifyConfig {
            allow_remote: true,
            ..cfg
        });
        assert_eq!(listener.admit(remote, now), Ok(()));
        assert_eq!(listener.admit(remote, now), Err(Dropped::RateLimited));
    }

    #[tokio::test]
    async fn a_dropped_stop_sender_ends_the_loop() {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (stop_tx, stop_rx) = watch::channel(false);
        drop(stop_tx);
        let listener = serve(
            socket,
            async |_: &Notice| None,
            |_| {},
            Rc::default(),
            NotifyConfig::default(),
            stop_rx,
        );
        tokio::time::timeout(Duration::from_secs(5), listener)
            .await
            .expect("listener kept running");
    }
}
