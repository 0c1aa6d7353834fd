//! systemd socket activation with real inherited descriptors (sd_listen_fds(3)): the test
//! binds HTTPS, LMTP and the UDP notify socket itself, hands them to `easd serve` as fds
//! 3, 4 and 5 with LISTEN_FDS/LISTEN_FDNAMES/LISTEN_PID, and points the configured
//! addresses somewhere unbindable — so the server can only work through what it inherited.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{EasClient, HttpClient, PASSWORD};

/// An address no interface here has: binding it fails, so using it would be noticed.
const UNBINDABLE: &str = "192.0.2.1:9";

#[test]
fn inherited_tcp_and_udp_sockets_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let https = TcpListener::bind("127.0.0.1:0").unwrap();
    let lmtp = TcpListener::bind("127.0.0.1:0").unwrap();
    let notify = UdpSocket::bind("127.0.0.1:0").unwrap();
    let https_addr = https.local_addr().unwrap();
    let lmtp_addr = lmtp.local_addr().unwrap();
    let notify_addr = notify.local_addr().unwrap();
    let fds = [https.as_raw_fd(), lmtp.as_raw_fd(), notify.as_raw_fd()];

    let mut cmd = Command::new("sh");
    // `exec` keeps the shell's pid, so $$ is the pid easd will run as (LISTEN_PID).
    cmd.args(["-c", "LISTEN_PID=$$ exec \"$0\" \"$@\""])
        .arg(crate::support::cli_path())
        .args(["serve", "--data"])
        .arg(dir.path())
        .args([
            "--https", UNBINDABLE, "--lmtp", UNBINDABLE, "--notify", UNBINDABLE,
        ])
        .env("LISTEN_FDS", "3")
        .env("LISTEN_FDNAMES", "https:lmtp:notify")
        .env("EASD_ADMIN_PASSWORD", PASSWORD)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: between fork and exec only async-signal-safe calls (dup2, fcntl) are made.
    unsafe {
        cmd.pre_exec(move || {
            // Move the sockets out of the way first: one of them may already sit on 3..5.
            let mut high = [0; 3];
            for (i, fd) in fds.iter().enumerate() {
                high[i] = libc::fcntl(*fd, libc::F_DUPFD, 100);
                if high[i] < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            for (i, fd) in high.iter().enumerate() {
                if libc::dup2(*fd, 3 + i as i32) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn easd");
    drop((https, lmtp, notify));

    // HTTPS answers on the inherited socket once the certificate exists.
    let cert = dir.path().join("tls/cert.pem");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cert.exists() || TcpStream::connect(https_addr).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            let _ = std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err);
            panic!("easd exited with {status}: {err}");
        }
        assert!(Instant::now() < deadline, "easd did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    let eas = EasClient::new(
        HttpClient::https_to(https_addr, &cert),
        "admin@localhost",
        PASSWORD,
        "ACTIVATED1",
    );
    let options = eas.options();
    assert_eq!(options.status, 200);
    assert!(options.header("MS-ASProtocolVersions").is_some());

    // LMTP greets on the inherited socket.
    let mut lmtp = BufReader::new(TcpStream::connect(lmtp_addr).unwrap());
    let mut greeting = String::new();
    lmtp.read_line(&mut greeting).unwrap();
    assert!(greeting.starts_with("220 "), "{greeting}");
    lmtp.get_mut().write_all(b"QUIT\r\n").unwrap();

    // A datagram to the inherited UDP socket is received and counted.
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    sender
        .send_to(b"v1 admin@localhost INBOX\n", notify_addr)
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = Command::new(crate::support::cli_path())
            .args(["status", "--json", "--data"])
            .arg(dir.path())
            .output()
            .unwrap();
        let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        if status["notify"]["accepted"].as_u64() == Some(1) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the datagram was not counted: {status}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // SIGTERM: a clean exit.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status {status}");
}
