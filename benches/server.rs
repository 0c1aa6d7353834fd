//! Server memory benchmark: starts the release `easd` binary, then prints its resident
//! memory after start, after the first 100 authenticated FolderSyncs, after 1,000 and after
//! 2,000, and the request rate. Target: ≤ 6 MiB idle on x86_64, no growth after the first
//! hundred. Each request is a new TLS connection, so rustls's session cache (256 entries, a
//! few hundred bytes each) fills during the first few hundred: bounded, it shows as growth
//! from 100 to 1,000 and none from 1,000 to 2,000.
//!
//! `EASD_BENCH_SMAPS=1` also prints the resident KiB of each mapping, idle and at the end.
//!
//! Loopback only, bounded: 2,000 requests over one keep-alive-free client each.

// The integration tests' harness; a bench uses only a part of it (items and re-exports).
#[allow(dead_code, unused_imports)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Resident memory of a process, KiB: total, anonymous (heap, stacks) and file-backed
/// (code and read-only data, shared with the page cache).
#[derive(Clone, Copy, Default)]
struct Rss {
    total: u64,
    anon: u64,
    file: u64,
}

impl Rss {
    fn of(pid: u32) -> Rss {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        Rss {
            total: field("VmRSS:"),
            anon: field("RssAnon:"),
            file: field("RssFile:"),
        }
    }
}

impl std::fmt::Display for Rss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mib = |k: u64| k as f64 / 1024.0;
        write!(
            f,
            "{:.2} MiB (anonymous {:.2}, file-backed {:.2})",
            mib(self.total),
            mib(self.anon),
            mib(self.file)
        )
    }
}

/// With EASD_BENCH_SMAPS=1: the resident KiB of each mapping, largest first.
fn print_mappings(pid: u32, when: &str) {
    if std::env::var_os("EASD_BENCH_SMAPS").is_none() {
        return;
    }
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
    let mut per: std::collections::BTreeMap<String, u64> = Default::default();
    let mut name = String::new();
    for line in smaps.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields
            .first()
            .is_some_and(|f| f.contains('-') && !f.ends_with(':'))
        {
            name = format!("{} {}", fields.get(5).unwrap_or(&"[anon]"), fields[1]);
        } else if fields.first() == Some(&"Rss:") {
            *per.entry(name.clone()).or_default() += fields[1].parse::<u64>().unwrap_or(0);
        }
    }
    let mut rows: Vec<_> = per.into_iter().filter(|(_, k)| *k > 0).collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.1));
    println!("mappings {when}:");
    for (name, kib) in rows {
        println!("  {kib:>6} KiB  {name}");
    }
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
    let idle = Rss::of(pid);
    print_mappings(pid, "idle");

    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let client = support::HttpClient::https_to(addr, &dir.path().join("tls/cert.pem"));
    let mut eas = support::EasClient::new(client, "admin@localhost", password, "BENCHDEVICE1");
    eas.provision();
    let (sync_key, _) = eas.folder_sync_ok("0");

    let (mut after_100, mut after_1000) = (Rss::default(), Rss::default());
    // EASD_BENCH_REQUESTS=N runs longer (every 1,000th request prints the resident memory),
    // to tell a bounded cache from a leak.
    let requests: usize = std::env::var("EASD_BENCH_REQUESTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .map_or(2000, |n: usize| n.max(2000));
    let start = Instant::now();
    for i in 1..=requests {
        let (key, _) = eas.folder_sync_ok(&sync_key);
        assert_eq!(key, sync_key, "nothing changed, so the key stays");
        match i {
            100 => after_100 = Rss::of(pid),
            1000 => after_1000 = Rss::of(pid),
            _ if i % 1000 == 0 && requests > 2000 => println!("after {i}: {}", Rss::of(pid)),
            _ => {}
        }
    }
    let elapsed = start.elapsed();
    let at_end = Rss::of(pid);
    print_mappings(pid, "at the end");
    let _ = Command::new("kill").arg(pid.to_string()).status();
    let _ = server.wait();

    println!("server RSS idle after start: {idle} (target <= 6 MiB)");
    println!("server RSS after 100 FolderSyncs: {after_100}");
    println!("server RSS after 1000 FolderSyncs: {after_1000}");
    println!("server RSS after {requests} FolderSyncs: {at_end}");
    let growth = |a: Rss, b: Rss| b.total as i64 - a.total as i64;
    println!(
        "growth from request 100 to 1000: {} KiB, from 1000 to {requests}: {} KiB (target: none)",
        growth(after_100, after_1000),
        growth(after_1000, at_end)
    );
    println!(
        "authenticated FolderSync over a new TLS connection each: {:.0} requests/s",
        requests as f64 / elapsed.as_secs_f64()
    );
}
