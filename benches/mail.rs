//! Mail end to end: seeds an Inbox through LMTP with realistic messages (3–8 KB, plain or
//! multipart/alternative, a few percent with a 50 KB attachment), then runs the full
//! initial Sync of two fresh devices (WindowSize 100 and 512, BodyPreference Type 2
//! truncated at 5120 like a phone) over a kept-alive TLS connection.
//!
//! Prints LMTP deliveries/s (4 connections, pipelined MAIL/RCPT/DATA), items/s, server CPU
//! seconds and peak/after RSS of each sync, and the cost of a new TLS connection per
//! request. Targets: ≥ 5,000 items/s for the initial sync, peak RSS ≤ 32 MiB.
//!
//! `MAIL_BENCH_MESSAGES` overrides the 10,000 messages. `EASD_BASELINE_BIN=/path/to/easd`
//! runs the same against that binary too and prints the ratios, this build over the baseline.
//! Loopback only; every loop is bounded in count and time, and the server is stopped at the
//! end (also on panic).

// The integration tests' harness; a bench uses only a part of it (items and re-exports).
#[allow(dead_code, unused_imports)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use support::{
    BENCH_PASSWORD, BENCH_USER, DaemonProcess, EasClient, HttpClient, KeepAliveClient, dot_stuff,
    initial_sync, lmtp_worker, mail_message, proc_cpu_seconds, proc_status_kib, reset_peak_rss,
};

const LMTP_CONNECTIONS: usize = 4;
const TARGET_ITEMS_PER_S: f64 = 5000.0;
const TARGET_PEAK_KIB: u64 = 32 * 1024;
/// The whole run is aborted (server killed) after this long.
const RUN_LIMIT: Duration = Duration::from_secs(20 * 60);

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "MISS" }
}

fn main() {
    let total: usize = std::env::var("MAIL_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let bins = support::bench_bins();
    let mut rates = Vec::new();
    for bin in &bins {
        if bins.len() > 1 {
            println!("--- {}", bin.display());
        }
        rates.push(run(bin, total));
    }
    if let [this, base] = rates[..] {
        support::print_vs_baseline("LMTP deliveries", "/s", this.lmtp, base.lmtp);
        support::print_vs_baseline(
            "initial Sync (slower window)",
            "items/s",
            this.sync,
            base.sync,
        );
    }
}

/// The throughputs one run measured.
#[derive(Clone, Copy)]
struct Rates {
    /// LMTP deliveries per second.
    lmtp: f64,
    /// Items per second of the slower initial Sync.
    sync: f64,
}

/// Seeds and syncs against `bin serve`.
fn run(bin: &Path, total: usize) -> Rates {
    let run_deadline = Instant::now() + RUN_LIMIT;
    let daemon = DaemonProcess::start(bin, "", &[("EASD_ADMIN_PASSWORD", BENCH_PASSWORD)], true);
    let pid = daemon.pid();
    let done = Arc::new(AtomicBool::new(false));
    {
        // The run is bounded: past the limit the server is killed and the bench exits.
        let done = done.clone();
        std::thread::spawn(move || {
            let until = Instant::now() + RUN_LIMIT + Duration::from_secs(30);
            while Instant::now() < until {
                if done.load(Ordering::Relaxed) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            eprintln!("mail bench: run limit exceeded, killing the server");
            // SAFETY: signals the child this bench started.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            std::process::exit(2);
        });
    }
    let addr = daemon.https;
    let cert = daemon.cert_pem();
    let lmtp = daemon.lmtp.expect("LMTP listener");
    let idle_kib = proc_status_kib(pid, "VmRSS");

    // The admin's first login pays one full-cost argon2 run; the auth cache spares the rest.
    let mut first = EasClient::new(
        HttpClient::https_to(addr, &cert),
        BENCH_USER,
        BENCH_PASSWORD,
        "BENCHW",
    );
    first.provision();
    let login_hwm = proc_status_kib(pid, "VmHWM");

    // ---- seed ------------------------------------------------------------------------
    let mut rng = StdRng::seed_from_u64(20_260_901);
    let mut per_conn: Vec<Vec<Vec<u8>>> = vec![Vec::new(); LMTP_CONNECTIONS];
    let (mut raw_bytes, mut with_attachment) = (0usize, 0usize);
    for i in 0..total {
        let m = mail_message(&mut rng, i);
        raw_bytes += m.len();
        with_attachment += usize::from(m.len() > 40_000);
        let mut stuffed = dot_stuff(&m);
        stuffed.extend_from_slice(b".\r\n");
        per_conn[i % LMTP_CONNECTIONS].push(stuffed);
    }
    std::thread::sleep(Duration::from_millis(200));
    reset_peak_rss(pid);
    let cpu0 = proc_cpu_seconds(pid);
    let start = Instant::now();
    let delivered: usize = std::thread::scope(|s| {
        let workers: Vec<_> = per_conn
            .iter()
            .map(|msgs| s.spawn(move || lmtp_worker(lmtp, msgs, run_deadline)))
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("LMTP worker"))
            .sum()
    });
    let seed_time = start.elapsed();
    let lmtp_rate = delivered as f64 / seed_time.as_secs_f64();
    let seed_cpu = proc_cpu_seconds(pid) - cpu0;
    let seed_peak = proc_status_kib(pid, "VmHWM");
    drop(per_conn);
    std::thread::sleep(Duration::from_millis(300));
    let seeded_kib = proc_status_kib(pid, "VmRSS");

    println!(
        "seeded {delivered}/{total} messages ({:.1} MiB, avg {:.1} KB, {with_attachment} with a 50 KB attachment)",
        raw_bytes as f64 / 1048576.0,
        raw_bytes as f64 / total.max(1) as f64 / 1000.0
    );
    println!(
        "LMTP: {lmtp_rate:.0} deliveries/s over {LMTP_CONNECTIONS} connections ({:.2} s; server CPU {:.2} s; peak RSS {:.2} MiB)",
        seed_time.as_secs_f64(),
        seed_cpu,
        mib(seed_peak)
    );
    println!(
        "server RSS: idle {:.2} MiB, peak at first login (argon2 19 MiB) {:.2} MiB, after seeding {:.2} MiB",
        mib(idle_kib),
        mib(login_hwm),
        mib(seeded_kib)
    );

    let db = std::fs::metadata(daemon.data_dir().join("easd.redb")).map_or(0, |m| m.len());
    let rollup: Vec<String> = support::smaps_rollup(pid)
        .lines()
        .filter(|l| {
            ["Rss:", "Anonymous:", "Private_Clean:"]
                .iter()
                .any(|k| l.starts_with(k))
        })
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    println!(
        "after seeding: easd.redb {:.1} MiB; smaps_rollup {}",
        db as f64 / 1048576.0,
        rollup.join(", ")
    );

    // ---- initial syncs ------------------------------------------------------------------
    let mut worst_peak = seed_peak;
    let mut slowest = f64::INFINITY;
    for (device, window) in [("BENCHSYNC100", 100), ("BENCHSYNC512", 512)] {
        assert!(Instant::now() < run_deadline, "run limit");
        let f = initial_sync((addr, &cert, pid), device, 2, window, Some((2, Some(5120))));
        let rate = f.items as f64 / f.wall.as_secs_f64();
        slowest = slowest.min(rate);
        worst_peak = worst_peak.max(f.peak_kib);
        println!(
            "initial Sync WindowSize {window}: {} items in {} requests, {:.2} s -> {rate:.0} items/s \
             ({:.1} MiB WBXML; client decode {:.2} s; {} TLS connection(s))",
            f.items,
            f.rounds,
            f.wall.as_secs_f64(),
            f.bytes as f64 / 1048576.0,
            f.client.as_secs_f64(),
            f.connections
        );
        println!(
            "  server CPU {:.2} s ({:.0} items per CPU second); peak RSS {:.2} MiB, RSS after {:.2} MiB",
            f.cpu,
            f.items as f64 / f.cpu.max(1e-9),
            mib(f.peak_kib),
            mib(f.after_kib)
        );
        if f.items != delivered {
            println!("  WARNING: {} items synced, {delivered} delivered", f.items);
        }
    }

    // ---- a new TLS connection per request vs a kept-alive one ---------------------------
    let mut eas = EasClient::new(
        HttpClient::https_to(addr, &cert),
        BENCH_USER,
        BENCH_PASSWORD,
        "BENCHFS",
    );
    eas.provision();
    let (fkey, _) = eas.folder_sync_ok("0");
    let body = easd::wbxml::Element::new(easd::wbxml::tag::folderhierarchy::FOLDER_SYNC)
        .text_child(easd::wbxml::tag::folderhierarchy::SYNC_KEY, fkey.as_str());
    let n = 200;
    let t = Instant::now();
    for _ in 0..n {
        eas.post("FolderSync", Some(&body)).expect_status(200);
    }
    let fresh = t.elapsed().as_secs_f64() / n as f64;
    let mut conn = KeepAliveClient::new(addr, &cert);
    let t = Instant::now();
    for _ in 0..n {
        eas.post_on(&mut conn, "FolderSync", Some(&body))
            .expect_status(200);
    }
    let kept = t.elapsed().as_secs_f64() / n as f64;
    println!(
        "FolderSync (no changes): {:.2} ms/request on a new TLS connection each, {:.2} ms kept alive \
         -> {:.2} ms TLS connection overhead",
        fresh * 1000.0,
        kept * 1000.0,
        (fresh - kept) * 1000.0
    );
    let lifetime_hwm = proc_status_kib(pid, "VmHWM");
    println!(
        "server RSS at the end {:.2} MiB; VmHWM since the last reset {:.2} MiB",
        mib(proc_status_kib(pid, "VmRSS")),
        mib(lifetime_hwm)
    );

    println!(
        "target initial sync >= {TARGET_ITEMS_PER_S:.0} items/s: {} (slowest {slowest:.0} items/s)",
        verdict(slowest >= TARGET_ITEMS_PER_S)
    );
    println!(
        "target peak RSS <= 32 MiB while seeding and syncing: {} ({:.2} MiB; argon2 login peak {:.2} MiB not counted)",
        verdict(worst_peak <= TARGET_PEAK_KIB),
        mib(worst_peak),
        mib(login_hwm)
    );
    drop(daemon);
    done.store(true, Ordering::Relaxed);
    Rates {
        lmtp: lmtp_rate,
        sync: slowest,
    }
}
