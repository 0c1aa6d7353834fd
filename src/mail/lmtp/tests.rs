//! The listener and connection loop over real sockets.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::rc::Rc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpStream, UnixStream};
use tokio::sync::watch;
use tokio::task::LocalSet;

use super::fake::FakeMailboxes;
use super::*;

fn config(idle_timeout: Duration) -> LmtpConfig {
    LmtpConfig {
        hostname: "mx.test".to_owned(),
        idle_timeout,
        ..LmtpConfig::default()
    }
}

/// Reads replies until `count` final lines (`250 ...`, not `250-...`) have arrived.
async fn replies(stream: &mut BufReader<impl AsyncRead + Unpin>, count: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut finals = 0;
    while finals < count {
        let mut line = String::new();
        assert_ne!(
            stream.read_line(&mut line).await.unwrap(),
            0,
            "EOF after {lines:?}"
        );
        finals += usize::from(line.as_bytes().get(3) == Some(&b' '));
        lines.push(line.trim_end().to_owned());
    }
    lines
}

async fn at_eof(stream: &mut BufReader<impl AsyncRead + Unpin>) -> bool {
    let mut rest = String::new();
    stream.read_line(&mut rest).await.unwrap() == 0
}

/// One pipelined transaction with two recipients, then QUIT.
async fn deliver_one(stream: impl AsyncRead + AsyncWrite + Unpin) {
    let mut stream = BufReader::new(stream);
    assert!(replies(&mut stream, 1).await[0].starts_with("220 mx.test"));
    stream
        .write_all(
            b"LHLO client\r\nMAIL FROM:<s@remote.test>\r\nRCPT TO:<alice@example.org>\r\n\
              RCPT TO:<bob+x@example.org>\r\nDATA\r\n",
        )
        .await
        .unwrap();
    let lines = replies(&mut stream, 5).await;
    assert_eq!(
        lines.last().unwrap(),
        "354 go ahead, end with <CRLF>.<CRLF>"
    );
    stream
        .write_all(b"Subject: t\r\n\r\nhi\r\n.\r\nQUIT\r\n")
        .await
        .unwrap();
    let lines = replies(&mut stream, 3).await;
    assert_eq!(lines[..2], ["250 2.0.0 delivered", "250 2.0.0 delivered"]);
    assert!(lines[2].starts_with("221 2.0.0"));
    assert!(at_eof(&mut stream).await);
}

/// A TCP listener on a free loopback port, and its address.
async fn tcp_listener() -> (Listener, std::net::SocketAddr) {
    let listener = bind("127.0.0.1:0", &SocketAccess::default()).await.unwrap();
    let Listener::Tcp(tcp) = &listener else {
        panic!("not TCP")
    };
    let addr = tcp.local_addr().unwrap();
    (listener, addr)
}

/// Runs `client` against `serve` on `listener`, then stops the server.
async fn with_server<F: Future<Output = ()>>(
    listener: Listener,
    cfg: LmtpConfig,
    client: F,
) -> Rc<FakeMailboxes> {
    let mailboxes = Rc::new(FakeMailboxes::default());
    let (stop, stopped) = watch::channel(false);
    let server = tokio::task::spawn_local(serve(listener, mailboxes.clone(), cfg, stopped));
    client.await;
    stop.send(true).unwrap();
    server.await.unwrap();
    mailboxes
}

#[tokio::test(flavor = "current_thread")]
async fn tcp_conversation() {
    LocalSet::new()
        .run_until(async {
            let (listener, addr) = tcp_listener().await;
            let client = async { deliver_one(TcpStream::connect(addr).await.unwrap()).await };
            let mailboxes = with_server(listener, config(Duration::from_secs(5)), client).await;
            let message = b"Subject: t\r\n\r\nhi\r\n".to_vec();
            assert_eq!(*mailboxes.deliveries.borrow(), [(vec![1, 2], message)]);
        })
        .await;
}

/// The name of the process's own group, which it may always give its files.
fn own_group() -> String {
    let out = std::process::Command::new("id")
        .arg("-gn")
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[tokio::test(flavor = "current_thread")]
async fn unix_socket_conversation() {
    LocalSet::new()
        .run_until(async {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("lmtp.sock");
            // A socket file left by a crash is replaced.
            drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
            let access = SocketAccess {
                group: Some(own_group()),
                mode: 0o640,
            };
            let listener = bind(&format!("unix:{}", path.display()), &access)
                .await
                .unwrap();
            let metadata = std::fs::metadata(&path).unwrap();
            assert_eq!(metadata.permissions().mode() & 0o777, 0o640);
            // SAFETY: getegid cannot fail.
            assert_eq!(metadata.gid(), unsafe { libc::getegid() });
            // A live socket is not.
            let err = bind(path.to_str().unwrap(), &access).await.err().unwrap();
            assert_eq!(err.kind(), io::ErrorKind::AddrInUse);

            let client = async { deliver_one(UnixStream::connect(&path).await.unwrap()).await };
            let mailboxes = with_server(listener, config(Duration::from_secs(5)), client).await;
            assert_eq!(mailboxes.deliveries.borrow().len(), 1);
            // The server stopped: its socket file is gone.
            assert!(!path.exists(), "socket left behind");
        })
        .await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_missing_group_fails_the_bind_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lmtp.sock");
    let access = SocketAccess {
        group: Some("no-such-group-easd".to_owned()),
        mode: 0o660,
    };
    let err = bind(path.to_str().unwrap(), &access).await.err().unwrap();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    assert!(err.to_string().contains("no-such-group-easd"), "{err}");
    assert!(!path.exists());
}

#[test]
fn a_socket_file_replaced_by_another_is_not_removed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lmtp.sock");
    let first = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let metadata = std::fs::symlink_metadata(&path).unwrap();
    let file = SocketFile {
        path: path.clone(),
        id: (metadata.dev(), metadata.ino()),
    };
    // Another process took the path over.
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, "theirs").unwrap();
    drop(file);
    drop(first);
    assert_eq!(std::fs::read(&path).unwrap(), b"theirs");
}

#[tokio::test(flavor = "current_thread")]
async fn bind_leaves_other_files_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("precious");
    std::fs::write(&path, "data").unwrap();
    let err = bind(path.to_str().unwrap(), &SocketAccess::default())
        .await
        .err()
        .unwrap();
    assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
    assert_eq!(std::fs::read(&path).unwrap(), b"data");
}

#[tokio::test(flavor = "current_thread")]
async fn idle_connections_get_421() {
    LocalSet::new()
        .run_until(async {
            let (listener, addr) = tcp_listener().await;
            let client = async {
                let mut stream = BufReader::new(TcpStream::connect(addr).await.unwrap());
                let lines = replies(&mut stream, 2).await;
                assert_eq!(
                    lines[1],
                    "421 4.4.2 mx.test idle timeout, closing connection"
                );
                assert!(at_eof(&mut stream).await);
            };
            with_server(listener, config(Duration::from_millis(100)), client).await;
        })
        .await;
}

#[tokio::test(flavor = "current_thread")]
async fn shutdown_closes_open_sessions_with_421() {
    LocalSet::new()
        .run_until(async {
            let (listener, addr) = tcp_listener().await;
            let mailboxes = Rc::new(FakeMailboxes::default());
            let (stop, stopped) = watch::channel(false);
            let cfg = config(Duration::from_secs(5));
            let server = tokio::task::spawn_local(serve(listener, mailboxes, cfg, stopped));
            let mut stream = BufReader::new(TcpStream::connect(addr).await.unwrap());
            replies(&mut stream, 1).await;
            stop.send(true).unwrap();
            let lines = replies(&mut stream, 1).await;
            assert!(lines[0].starts_with("421 4.3.2"), "{lines:?}");
            assert!(at_eof(&mut stream).await);
            server.await.unwrap();
        })
        .await;
}

/// A message over [`SPILL_AT`] reaches the mailboxes as a spool holding exactly the
/// unstuffed message; a small one on the same connection stays in memory.
#[tokio::test(flavor = "current_thread")]
async fn large_messages_arrive_spooled_small_ones_in_memory() {
    LocalSet::new()
        .run_until(async {
            let (listener, addr) = tcp_listener().await;
            let big: Vec<u8> = b"..stuffed line of a large message\r\n".repeat(3 * SPILL_AT / 35);
            let client = async {
                let mut stream = BufReader::new(TcpStream::connect(addr).await.unwrap());
                replies(&mut stream, 1).await;
                stream
                    .write_all(b"LHLO c\r\nMAIL FROM:<s@r.test>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n")
                    .await
                    .unwrap();
                replies(&mut stream, 4).await;
                stream.write_all(&big).await.unwrap();
                stream
                    .write_all(b".\r\nMAIL FROM:<s@r.test>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n")
                    .await
                    .unwrap();
                let lines = replies(&mut stream, 4).await;
                assert_eq!(lines[0], "250 2.0.0 delivered");
                stream.write_all(b"small\r\n.\r\nQUIT\r\n").await.unwrap();
                let lines = replies(&mut stream, 2).await;
                assert_eq!(lines[0], "250 2.0.0 delivered");
            };
            let mailboxes = with_server(listener, config(Duration::from_secs(5)), client).await;
            let deliveries = mailboxes.deliveries.borrow();
            let unstuffed = b".stuffed line of a large message\r\n".repeat(3 * SPILL_AT / 35);
            assert!(deliveries[0].1 == unstuffed, "the spool holds the unstuffed message");
            assert_eq!(deliveries[1].1, b"small\r\n");
            assert_eq!(mailboxes.spooled.get(), 1);
        })
        .await;
}
