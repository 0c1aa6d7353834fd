//! Server memory benchmark: starts the release `easd` binary, then prints its resident
//! memory after start, after the first 100 authenticated FolderSyncs and after 1,000, and
//! the request rate. Target: ≤ 6 MiB idle on x86_64, no growth after the first hundred.
//!
//! Loopback only, bounded: 1,000 requests over one keep-alive-free client each.

#[path = "../tests/support/mod.rs"]
mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let password = "bench-password";
    let mut server = Command::new(env!("CARGO_BIN_EXE_easd"))
        .args([
            "serve",
            "--https",
            &format!("127.0.0.1:{port}"),
            "--lmtp",
            "off",
            "--notify",
            "off",
        ])
        .arg("--data")
        .arg(dir.path())
        .env("EASD_ADMIN_PASSWORD", password)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start easd");
    let pid = server.id();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "easd did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let idle = rss_kib(pid);

    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let client = support::HttpClient::https_to(addr, &dir.path().join("tls/cert.pem"));
    let mut eas = support::EasClient::new(client, "admin@localhost", password, "BENCHDEVICE1");
    eas.provision();
    let (sync_key, _) = eas.folder_sync_ok("0");

    let mut after_100 = 0;
    let start = Instant::now();
    for i in 1..=1000 {
        let (key, _) = eas.folder_sync_ok(&sync_key);
        assert_eq!(key, sync_key, "nothing changed, so the key stays");
        if i == 100 {
            after_100 = rss_kib(pid);
        }
    }
    let elapsed = start.elapsed();
    let after_1000 = rss_kib(pid);
    let _ = Command::new("kill").arg(pid.to_string()).status();
    let _ = server.wait();

    println!(
        "server RSS idle after start: {:.2} MiB (target <= 6 MiB)",
        idle as f64 / 1024.0
    );
    println!(
        "server RSS after 100 FolderSyncs: {:.2} MiB",
        after_100 as f64 / 1024.0
    );
    println!(
        "server RSS after 1000 FolderSyncs: {:.2} MiB",
        after_1000 as f64 / 1024.0
    );
    println!(
        "growth from request 100 to 1000: {} KiB",
        after_1000 as i64 - after_100 as i64
    );
    println!(
        "authenticated FolderSync over a new TLS connection each: {:.0} requests/s",
        1000.0 / elapsed.as_secs_f64()
    );
}
