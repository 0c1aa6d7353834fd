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

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use support::{
    DaemonProcess, EasClient, HttpClient, KeepAliveClient, LmtpClient, SyncColl, dot_stuff,
    proc_cpu_seconds, proc_status_kib, reset_peak_rss,
};

const USER: &str = "admin@localhost";
const PASSWORD: &str = "bench-password";
const LMTP_CONNECTIONS: usize = 4;
const TARGET_ITEMS_PER_S: f64 = 5000.0;
const TARGET_PEAK_KIB: u64 = 32 * 1024;
/// The whole run is aborted (server killed) after this long.
const RUN_LIMIT: Duration = Duration::from_secs(20 * 60);

const WORDS: &[&str] = &[
    "the",
    "quarterly",
    "report",
    "meeting",
    "invoice",
    "attached",
    "please",
    "review",
    "schedule",
    "office",
    "budget",
    "project",
    "customer",
    "delivery",
    "update",
    "thanks",
    "regards",
    "tomorrow",
    "morning",
    "agenda",
    "minutes",
    "approval",
    "contract",
    "draft",
    "server",
    "backup",
    "printer",
    "network",
    "holiday",
    "team",
    "lunch",
    "friday",
    "and",
    "for",
    "with",
    "about",
    "from",
    "this",
    "that",
    "will",
    "have",
    "been",
    "would",
    "could",
];

fn words(rng: &mut StdRng, bytes: usize) -> String {
    let mut out = String::with_capacity(bytes + 80);
    let mut line = 0;
    while out.len() < bytes {
        let w = WORDS[rng.gen_range(0..WORDS.len())];
        out.push_str(w);
        line += w.len() + 1;
        if line > 70 {
            out.push_str("\r\n");
            line = 0;
        } else {
            out.push(' ');
        }
        if rng.gen_ratio(1, 60) {
            out.push_str("\r\n\r\n");
            line = 0;
        }
    }
    out.push_str("\r\n");
    out
}

fn base64_lines(rng: &mut StdRng, raw: usize) -> String {
    use base64::Engine as _;
    let data: Vec<u8> = (0..raw).map(|_| rng.r#gen()).collect();
    let b = base64::engine::general_purpose::STANDARD.encode(data);
    let mut out = String::with_capacity(b.len() + b.len() / 38);
    for chunk in b.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push_str("\r\n");
    }
    out
}

/// One realistic message: Received/DKIM headers, and text/plain (55 %),
/// multipart/alternative (42 %) or multipart/mixed with a 50 KB attachment (3 %).
fn message(rng: &mut StdRng, i: usize) -> Vec<u8> {
    let from = format!(
        "Sender {} <sender{}@remote{}.example>",
        i % 97,
        i % 97,
        i % 7
    );
    let subject = words(rng, 40).replace("\r\n", " ");
    let mut m = format!(
        "Return-Path: <sender{0}@remote{1}.example>\r\n\
         Received: from mx{1}.remote.example (mx{1}.remote.example [192.0.2.{1}])\r\n\
         \tby mail.localhost (Postfix) with ESMTPS id 4F{i:06X}\r\n\
         \tfor <{USER}>; Tue, 1 Sep 2026 10:{2:02}:{3:02} +0000 (UTC)\r\n\
         Received: from [10.0.0.{1}] (client.remote.example [198.51.100.{1}])\r\n\
         \tby mx{1}.remote.example with ESMTPSA; Tue, 1 Sep 2026 10:{2:02}:{3:02} +0000\r\n\
         DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=remote{1}.example;\r\n\
         \ts=sel1; t=1788256800; h=from:to:subject:date:message-id;\r\n\
         \tbh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\r\n\
         \tb=dGhpcyBpcyBub3QgYSByZWFsIHNpZ25hdHVyZSBidXQgaXQgaGFzIHRoZSByaWdodCBzaGFwZSBm\r\n\
         \t b3IgYSBiZW5jaG1hcmsgbWVzc2FnZSBoZWFkZXIgYmxvY2sgb2YgYW4gZW1haWw=\r\n\
         From: {from}\r\nTo: Admin <{USER}>\r\nSubject: {subject}\r\n\
         Date: Tue, 1 Sep 2026 10:{2:02}:{3:02} +0000\r\n\
         Message-ID: <{i}.{4}@remote{1}.example>\r\nMIME-Version: 1.0\r\n",
        i % 97,
        i % 7,
        (i / 60) % 60,
        i % 60,
        rng.r#gen::<u32>(),
    );
    let kind = rng.gen_range(0..100);
    if kind < 3 {
        m.push_str("Content-Type: multipart/mixed; boundary=\"mix\"\r\n\r\n--mix\r\n");
        m.push_str("Content-Type: text/plain; charset=utf-8\r\n\r\n");
        let n = rng.gen_range(1500..4000);
        m.push_str(&words(rng, n));
        m.push_str("--mix\r\nContent-Type: application/pdf; name=\"report.pdf\"\r\n");
        m.push_str("Content-Disposition: attachment; filename=\"report.pdf\"\r\n");
        m.push_str("Content-Transfer-Encoding: base64\r\n\r\n");
        m.push_str(&base64_lines(rng, 50 * 1024));
        m.push_str("--mix--\r\n");
    } else if kind < 45 {
        m.push_str("Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n--alt\r\n");
        m.push_str("Content-Type: text/plain; charset=utf-8\r\n\r\n");
        let n = rng.gen_range(900..2800);
        let text = words(rng, n);
        m.push_str(&text);
        m.push_str("--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n");
        m.push_str("<html><head><meta charset=\"utf-8\"></head><body><div>");
        m.push_str(&text.replace("\r\n\r\n", "</div>\r\n<div>"));
        m.push_str("</div></body></html>\r\n--alt--\r\n");
    } else {
        m.push_str("Content-Type: text/plain; charset=utf-8\r\n\r\n");
        let n = rng.gen_range(2000..6800);
        m.push_str(&words(rng, n));
    }
    m.into_bytes()
}

/// Delivers `messages` (dot-stuffed, with terminator) on one LMTP connection, pipelining
/// MAIL, RCPT and DATA; returns the number of final 250s.
fn lmtp_worker(addr: SocketAddr, messages: &[Vec<u8>], deadline: Instant) -> usize {
    let mut c = LmtpClient::connect(addr);
    c.lhlo();
    let envelope = format!("MAIL FROM:<sender@remote.example>\r\nRCPT TO:<{USER}>\r\nDATA\r\n");
    let mut ok = 0;
    for m in messages {
        if Instant::now() > deadline {
            break;
        }
        c.write_raw(envelope.as_bytes()).expect("LMTP write");
        let (mail, rcpt, data) = (c.read_reply(), c.read_reply(), c.read_reply());
        assert!(
            mail.code == 250 && rcpt.code == 250 && data.code == 354,
            "LMTP envelope: {mail:?} {rcpt:?} {data:?}"
        );
        c.write_raw(m).expect("LMTP write");
        let done = c.read_reply();
        if done.code == 250 {
            ok += 1;
        } else {
            eprintln!("LMTP delivery: {done:?}");
        }
    }
    c.quit();
    ok
}

struct SyncFigures {
    items: usize,
    rounds: usize,
    bytes: usize,
    wall: Duration,
    client: Duration,
    cpu: f64,
    peak_kib: u64,
    after_kib: u64,
    connections: usize,
}

/// A fresh device's full initial Sync of the Inbox over one kept-alive connection.
fn initial_sync(
    addr: SocketAddr,
    cert: &Path,
    pid: u32,
    device: &str,
    window: usize,
) -> SyncFigures {
    let mut eas = EasClient::new(HttpClient::https_to(addr, cert), USER, PASSWORD, device);
    eas.provision();
    let inbox = eas.folder_of_type(2);
    let mut conn = KeepAliveClient::new(addr, cert);
    let coll = |key: &str| {
        SyncColl::new(&inbox, key)
            .window(window)
            .body(2, Some(5120))
    };
    let body_of = |c: &SyncColl| {
        easd::wbxml::Element::new(easd::wbxml::tag::airsync::SYNC).child(
            easd::wbxml::Element::new(easd::wbxml::tag::airsync::COLLECTIONS).child(c.element()),
        )
    };
    std::thread::sleep(Duration::from_millis(200));
    reset_peak_rss(pid);
    let cpu0 = proc_cpu_seconds(pid);
    let start = Instant::now();
    let mut key = "0".to_owned();
    let (mut items, mut rounds, mut bytes) = (0, 0, 0);
    let mut client = Duration::ZERO;
    let limit = Instant::now() + Duration::from_secs(600);
    loop {
        assert!(
            rounds < 100_000 && Instant::now() < limit,
            "sync did not end"
        );
        let body = body_of(&coll(&key));
        let r = eas.post_on(&mut conn, "Sync", Some(&body));
        let t = Instant::now();
        r.expect_status(200);
        bytes += r.body.len();
        let root = r.wbxml();
        let c = root
            .find_path(&[
                easd::wbxml::tag::airsync::COLLECTIONS,
                easd::wbxml::tag::airsync::COLLECTION,
            ])
            .expect("a Collection");
        let out = support::SyncOut::parse(c);
        client += t.elapsed();
        let first = key == "0";
        key = out.ok_key();
        items += out.adds.len();
        rounds += 1;
        if !first && !out.more {
            break;
        }
    }
    let wall = start.elapsed();
    let cpu = proc_cpu_seconds(pid) - cpu0;
    let peak_kib = proc_status_kib(pid, "VmHWM");
    std::thread::sleep(Duration::from_millis(200));
    SyncFigures {
        items,
        rounds,
        bytes,
        wall,
        client,
        cpu,
        peak_kib,
        after_kib: proc_status_kib(pid, "VmRSS"),
        connections: conn.connections,
    }
}

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
    let daemon = DaemonProcess::start(bin, "", &[("EASD_ADMIN_PASSWORD", PASSWORD)], true);
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
    let mut first = EasClient::new(HttpClient::https_to(addr, &cert), USER, PASSWORD, "BENCHW");
    first.provision();
    let login_hwm = proc_status_kib(pid, "VmHWM");

    // ---- seed ------------------------------------------------------------------------
    let mut rng = StdRng::seed_from_u64(20_260_901);
    let mut per_conn: Vec<Vec<Vec<u8>>> = vec![Vec::new(); LMTP_CONNECTIONS];
    let (mut raw_bytes, mut with_attachment) = (0usize, 0usize);
    for i in 0..total {
        let m = message(&mut rng, i);
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
        let f = initial_sync(addr, &cert, pid, device, window);
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
    let mut eas = EasClient::new(HttpClient::https_to(addr, &cert), USER, PASSWORD, "BENCHFS");
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
