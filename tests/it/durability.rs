//! Crash durability of LMTP delivery: the real binary is killed with SIGKILL in the middle
//! of a burst of concurrent deliveries. Every message that was acknowledged with 250 must
//! be in the Inbox after a restart, exactly once; none may be there twice.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::*;

const ALICE: &str = "alice@example.com";
const CLIENTS: usize = 4;
const PER_CLIENT: usize = 300;
/// Acknowledgements after which the server is killed.
const KILL_AFTER: usize = 250;
/// The whole test must end within this.
const BUDGET: Duration = Duration::from_secs(60);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A running `easd serve`; killed when dropped.
struct Daemon {
    child: Child,
    https: SocketAddr,
    lmtp: SocketAddr,
    log: PathBuf,
}

impl Daemon {
    fn start(data: &Path, log: PathBuf) -> Daemon {
        let https = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let lmtp = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log file");
        let child = Command::new(cli_path())
            .args(["serve", "--data"])
            .arg(data)
            .args([
                "--https",
                &https.to_string(),
                "--lmtp",
                &lmtp.to_string(),
                "--notify",
                "off",
            ])
            .env(
                "EASD_ADMIN_PASSWORD",
                "admin password for the durability test",
            )
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log file"))
            .stderr(out)
            .spawn()
            .expect("spawn easd serve");
        let mut d = Daemon {
            child,
            https,
            lmtp,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = d.child.try_wait().expect("try_wait") {
                panic!("easd exited early ({status}):\n{}", d.log_text());
            }
            let up =
                |a: &SocketAddr| TcpStream::connect_timeout(a, Duration::from_millis(200)).is_ok();
            if up(&d.https) && up(&d.lmtp) {
                return d;
            }
            assert!(
                Instant::now() < deadline,
                "easd did not listen within 30 s:\n{}",
                d.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL, and reap.
    fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn add_user(data: &Path, email: &str) {
    let mut child = Command::new(cli_path())
        .args(["user", "add", email, "--password-stdin", "--data"])
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn easd user add");
    writeln!(child.stdin.take().expect("stdin"), "{PASSWORD}").expect("password");
    let out = child.wait_with_output().expect("easd user add");
    assert!(
        out.status.success(),
        "easd user add: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn subject_number(subject: &str) -> Option<usize> {
    subject.strip_prefix("msg ")?.parse().ok()
}

#[test]
fn acknowledged_deliveries_survive_kill_9_exactly_once() {
    let started = Instant::now();
    let dir = tempfile::Builder::new()
        .prefix("easd-durability")
        .tempdir()
        .expect("temp dir");
    let data = dir.path().join("data");
    let mut daemon = Daemon::start(&data, dir.path().join("server.log"));
    add_user(&data, ALICE);

    let acked: Arc<Mutex<Vec<usize>>> = Arc::default();
    let count = Arc::new(AtomicUsize::new(0));
    let lmtp = daemon.lmtp;
    let workers: Vec<_> = (0..CLIENTS)
        .map(|t| {
            let (acked, count) = (acked.clone(), count.clone());
            std::thread::spawn(move || {
                let Ok(mut c) = LmtpClient::try_connect(lmtp) else {
                    return 0;
                };
                if c.try_command("LHLO mta.test").map(|r| r.code).ok() != Some(250) {
                    return 0;
                }
                let mut attempted = 0;
                for i in 0..PER_CLIENT {
                    let n = t + CLIENTS * i;
                    let message = text_message(
                        "sender@remote.test",
                        ALICE,
                        &format!("msg {n}"),
                        &format!("message number {n}\r\n{}", "filler ".repeat(50)),
                    );
                    attempted += 1;
                    match c.try_send("sender@remote.test", &[ALICE], &message) {
                        Ok((_, data)) if data.len() == 1 && data[0].code == 250 => {
                            acked.lock().expect("acked").push(n);
                            count.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok((rcpt, data)) => {
                            panic!("msg {n} refused while the server was up: {rcpt:?} {data:?}")
                        }
                        // The server died under us.
                        Err(_) => break,
                    }
                }
                attempted
            })
        })
        .collect();

    // Kill mid-burst.
    let kill_deadline = Instant::now() + Duration::from_secs(30);
    while count.load(Ordering::SeqCst) < KILL_AFTER && Instant::now() < kill_deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    daemon.kill9();
    let attempted: usize = workers
        .into_iter()
        .map(|w| w.join().expect("LMTP worker"))
        .sum();
    let acked = std::mem::take(&mut *acked.lock().expect("acked"));
    let total = CLIENTS * PER_CLIENT;
    assert!(
        acked.len() >= KILL_AFTER,
        "only {} acknowledged before the kill deadline:\n{}",
        acked.len(),
        daemon.log_text()
    );
    assert!(
        acked.len() < total && attempted <= total,
        "the burst ended before the kill ({} of {total} acknowledged); raise PER_CLIENT",
        acked.len()
    );
    drop(daemon);

    // Same data directory, new incarnation.
    let daemon = Daemon::start(&data, dir.path().join("server2.log"));
    let http = HttpClient::https_to(daemon.https, &data.join("tls").join("cert.pem"));
    let mut c = EasClient::new(http, ALICE, PASSWORD, "durabilitydev");
    c.provision();
    let inbox = c.folder_of_type(2);
    let key = c.sync_init(&inbox);
    let (_, adds) = c.sync_all(SyncColl::new(&inbox, &key).window(512));

    let mut seen: BTreeMap<usize, usize> = BTreeMap::new();
    for (_, d) in &adds {
        let s = d
            .text_of(easd::wbxml::tag::email::SUBJECT)
            .unwrap_or_default();
        let n = subject_number(s).unwrap_or_else(|| panic!("unexpected message {s:?}"));
        *seen.entry(n).or_default() += 1;
    }
    eprintln!(
        "kill -9 after {} acknowledged of {attempted} attempted; {} stored after restart",
        acked.len(),
        seen.len()
    );
    let twice: Vec<_> = seen.iter().filter(|(_, c)| **c > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    let lost: Vec<_> = acked.iter().filter(|n| !seen.contains_key(n)).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged messages lost after kill -9 (of {} acknowledged, {} stored): {lost:?}",
        lost.len(),
        acked.len(),
        seen.len()
    );
    assert!(
        seen.len() <= attempted,
        "more messages than were attempted: {} > {attempted}",
        seen.len()
    );

    // The restarted server takes mail again.
    let mut l = LmtpClient::connect(daemon.lmtp);
    l.lhlo();
    let (_, data) = l.send(
        "sender@remote.test",
        &[ALICE],
        &text_message("sender@remote.test", ALICE, "after restart", "x"),
    );
    assert_eq!(data[0].code, 250);
    l.quit();
    assert!(
        started.elapsed() < BUDGET,
        "took {:?}, over the {BUDGET:?} budget",
        started.elapsed()
    );
}
