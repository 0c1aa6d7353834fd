//! What one hostile authenticated client can make easd use: starts the release daemon with
//! the 256 MiB board profile (board/generic-armv7-256m/easd.toml, on ephemeral ports with a
//! temporary data directory), then replays, one by one and then all at once, the attacks of
//! issue 12:
//!
//! - one ItemOperations with 64 Fetches of the same 4 MiB attachment, inline and multipart;
//! - a 1 MiB WBXML body whose string table is referenced 256 times (~256 MiB of text);
//! - four chunked uploads held just under `max_body`;
//! - a Ping naming 66,000 folders;
//! - a 49 MiB message over LMTP.
//!
//! Meanwhile another client runs a FolderSync every ~20 ms on its kept-alive connection.
//! For each attack it prints the daemon's peak RSS above the RSS before it (VmHWM after
//! `clear_refs`) and the other client's slowest FolderSync ("stall"). Budgets: ≤ 64 MiB
//! above idle, FolderSync within 100 ms.
//!
//! `EASD_ATTACK_RUNS=after|before|both` (default both): "after" is the board profile as
//! it is; "before" the same with the memory budget, body spooling and response cap
//! effectively off, as a baseline. The baseline still streams multipart parts from files
//! (there is no switch for that): the code before it built a 256 MiB multipart body in
//! memory. About half a minute per run.

// The integration tests' harness; a bench uses only a part of it (items and re-exports).
#[allow(dead_code, unused_imports)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use easd::wbxml::tag::{
    airsyncbase as asb, folderhierarchy as fh, itemoperations as io, ping as p,
};
use easd::wbxml::{self, Element};
use support::{
    DaemonProcess, EasClient, HttpClient, KeepAliveClient, LmtpClient, chunked_head,
    message_with_attachment, pattern, proc_status_kib, raw_tls, reset_peak_rss,
};

const ALICE: &str = "alice@example.com";
const PASSWORD: &str = "bench-password";
const MIB: u64 = 1024 * 1024;
const BOARD: &str = include_str!("../board/generic-armv7-256m/easd.toml");
const TARGET_RISE_MIB: u64 = 64;
const TARGET_STALL: Duration = Duration::from_millis(100);

/// The board profile, with `[limits]` keys replaced for the baseline.
fn config(baseline: bool) -> String {
    if !baseline {
        return BOARD.to_owned();
    }
    BOARD
        .lines()
        .map(|l| {
            let key = l.split('=').next().unwrap_or("").trim();
            match key {
                "memory_budget_mib" => "memory_budget_mib = 1048576".to_owned(),
                "spool_over" => "spool_over = 1099511627776".to_owned(),
                "max_response" => "max_response = 1099511627776".to_owned(),
                _ => l.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `max_body` of the board profile.
fn max_body() -> u64 {
    BOARD
        .lines()
        .find_map(|l| l.strip_prefix("max_body = "))
        .and_then(|v| v.trim().parse().ok())
        .expect("max_body in the board profile")
}

/// Everything an attack needs.
struct Target {
    addr: std::net::SocketAddr,
    lmtp: std::net::SocketAddr,
    cert: PathBuf,
    file_ref: String,
}

impl Target {
    fn attacker(&self, device: &str) -> EasClient {
        let mut c = EasClient::new(
            HttpClient::https_to(self.addr, &self.cert),
            ALICE,
            PASSWORD,
            device,
        );
        c.provision();
        c
    }
}

fn mb_u32(out: &mut Vec<u8>, mut n: u32) {
    let mut groups = vec![(n & 0x7f) as u8];
    n >>= 7;
    while n > 0 {
        groups.push((n & 0x7f) as u8 | 0x80);
        n >>= 7;
    }
    out.extend(groups.iter().rev());
}

/// A 1 MiB WBXML Sync whose one string-table entry is referenced 256 times.
fn string_table_bomb() -> Vec<u8> {
    let string = (MIB - 4096) as usize;
    let mut b = vec![0x03, 0x01, 0x6a];
    mb_u32(&mut b, string as u32 + 1);
    b.resize(b.len() + string, b'A');
    b.push(0);
    b.push(0x45); // <Sync> with content (AirSync page 0)
    for _ in 0..256 {
        b.extend_from_slice(&[0x4b, 0x83, 0x00, 0x01]); // <SyncKey>STR_T 0</SyncKey>
    }
    b.push(0x01);
    b
}

type Outcome = String;

fn item_operations(t: &Target, multipart: bool) -> Outcome {
    let c = t.attacker(if multipart { "ATTACKMP" } else { "ATTACKIO" });
    let mut root = Element::new(io::ITEM_OPERATIONS);
    for _ in 0..64 {
        root.push(
            Element::new(io::FETCH)
                .text_child(io::STORE, "Mailbox")
                .text_child(asb::FILE_REFERENCE, t.file_ref.as_str()),
        );
    }
    let extra = if multipart {
        vec![("MS-ASAcceptMultiPart", "T".to_owned())]
    } else {
        Vec::new()
    };
    let r = c.post_raw(
        &c.query("ItemOperations", None),
        &extra,
        wbxml::encode(&root),
    );
    let size = r.body.len();
    let wbxml_part = if multipart && r.status == 200 {
        support::parse_multipart(&r.body)[0].to_vec()
    } else {
        r.body.clone()
    };
    let statuses = match wbxml::decode(&wbxml_part, &wbxml::Limits::default()) {
        Ok(e) => e
            .find(io::RESPONSE)
            .map(|resp| {
                let all: Vec<&str> = resp
                    .find_all(io::FETCH)
                    .filter_map(|f| f.text_of(io::STATUS))
                    .collect();
                let ok = all.iter().filter(|s| **s == "1").count();
                let big = all.iter().filter(|s| **s == "11").count();
                format!("{ok}× Status 1, {big}× Status 11")
            })
            .unwrap_or_default(),
        Err(_) => String::new(),
    };
    format!(
        "HTTP {}, {:.1} MiB answer {statuses}",
        r.status,
        size as f64 / MIB as f64
    )
}

fn wbxml_bomb(t: &Target) -> Outcome {
    let c = t.attacker("ATTACKWB");
    let r = c.post_raw(&c.query("Sync", None), &[], string_table_bomb());
    format!("HTTP {}", r.status)
}

fn chunked_uploads(t: &Target) -> Outcome {
    let c = t.attacker("ATTACKUP");
    let size = max_body() - 64 * 1024;
    let piece = vec![b'z'; MIB as usize];
    let mut conns: Vec<_> = (0..4)
        .map(|_| {
            let mut s = raw_tls(t.addr, &t.cert);
            s.write_all(chunked_head(&c, "Sync").as_bytes())
                .expect("head");
            s
        })
        .collect();
    let mut sent = 0;
    while sent < size {
        let n = piece.len().min((size - sent) as usize);
        for s in &mut conns {
            let ok = s
                .write_all(format!("{n:x}\r\n").as_bytes())
                .and_then(|()| s.write_all(&piece[..n]))
                .and_then(|()| s.write_all(b"\r\n"))
                .and_then(|()| s.flush());
            if ok.is_err() {
                return format!("a connection closed after {sent} bytes");
            }
        }
        sent += n as u64;
    }
    // Held: the server has what was sent, and waits for the rest.
    std::thread::sleep(Duration::from_secs(1));
    drop(conns);
    format!(
        "4 × {:.1} MiB held for 1 s, then dropped",
        size as f64 / MIB as f64
    )
}

fn ping_66000(t: &Target) -> Outcome {
    let c = t.attacker("ATTACKPG");
    let mut folders = Element::new(p::FOLDERS);
    for i in 0..66_000 {
        folders.push(
            Element::new(p::FOLDER)
                .text_child(p::ID, format!("{}", 1_000_000 + i))
                .text_child(p::CLASS, "Email"),
        );
    }
    let body = Element::new(p::PING)
        .text_child(p::HEARTBEAT_INTERVAL, "60")
        .child(folders);
    let bytes = wbxml::encode(&body);
    let started = Instant::now();
    let r = c.post_raw(&c.query("Ping", None), &[], bytes.clone());
    let status = wbxml::decode(&r.body, &wbxml::Limits::default())
        .ok()
        .and_then(|e| e.text_of(p::STATUS).map(str::to_owned))
        .unwrap_or_default();
    format!(
        "{:.1} MB body: HTTP {} Status {status} in {} ms",
        bytes.len() as f64 / 1e6,
        r.status,
        started.elapsed().as_millis()
    )
}

fn lmtp_49mib(t: &Target) -> Outcome {
    let line = "the quick brown fox jumps over the lazy dog 0123456789 ABCDEFGHIJKLMNOPQRSTUV\r\n";
    let mut m = format!(
        "From: <sender@remote.test>\r\nTo: <{ALICE}>\r\nSubject: 49 MiB\r\n\
         Message-ID: <{}@bench>\r\n\r\n",
        support::unique_token()
    )
    .into_bytes();
    while m.len() < 49 * MIB as usize {
        m.extend_from_slice(line.as_bytes());
    }
    let started = Instant::now();
    let mut c = LmtpClient::connect(t.lmtp);
    c.lhlo();
    match c.try_send("sender@remote.test", &[ALICE], &m) {
        Ok((_, data)) => format!(
            "DATA {} in {} ms",
            data.iter()
                .map(|r| r.code.to_string())
                .collect::<Vec<_>>()
                .join(","),
            started.elapsed().as_millis()
        ),
        Err(e) => format!("LMTP failed: {e}"),
    }
}

/// The other client: a FolderSync every ~20 ms on one kept-alive connection; the slowest
/// since the last `take` in microseconds.
struct Observer {
    slowest_us: Arc<AtomicU64>,
    /// FolderSyncs answered so far.
    done: Arc<AtomicU64>,
    errors: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Observer {
    fn start(t: &Target) -> Self {
        let slowest_us = Arc::new(AtomicU64::new(0));
        let done = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let mut eas = EasClient::new(
            HttpClient::https_to(t.addr, &t.cert),
            ALICE,
            PASSWORD,
            "OBSERVER",
        );
        eas.provision();
        let (key, _) = eas.folder_sync_ok("0");
        let mut conn = KeepAliveClient::new(t.addr, &t.cert);
        let body = Element::new(fh::FOLDER_SYNC).text_child(fh::SYNC_KEY, key);
        let thread = {
            let (slowest_us, errors, stop) = (slowest_us.clone(), errors.clone(), stop.clone());
            let done = done.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let r = eas.post_on(&mut conn, "FolderSync", Some(&body));
                    let took = started.elapsed().as_micros() as u64;
                    if r.status != 200 {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                    slowest_us.fetch_max(took, Ordering::Relaxed);
                    done.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };
        Observer {
            slowest_us,
            done,
            errors,
            stop,
            thread: Some(thread),
        }
    }

    /// The slowest FolderSync and the failed ones since the last call, once one more
    /// FolderSync than the one in flight has been answered (so that a FolderSync the
    /// attack held up counts for the attack).
    fn take(&self) -> (Duration, u64) {
        let until = self.done.load(Ordering::Relaxed) + 2;
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.done.load(Ordering::Relaxed) < until && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        (
            Duration::from_micros(self.slowest_us.swap(0, Ordering::Relaxed)),
            self.errors.swap(0, Ordering::Relaxed),
        )
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Row {
    name: &'static str,
    rise_mib: f64,
    stall: Duration,
    errors: u64,
    outcome: String,
}

type Attack = fn(&Target) -> Outcome;

const ATTACKS: [(&str, Attack); 6] = [
    ("ItemOperations 64×4 MiB inline", |t| {
        item_operations(t, false)
    }),
    ("ItemOperations 64×4 MiB multipart", |t| {
        item_operations(t, true)
    }),
    ("WBXML string-table bomb", wbxml_bomb),
    ("4 chunked uploads held", chunked_uploads),
    ("Ping of 66,000 folders", ping_66000),
    ("LMTP 49 MiB message", lmtp_49mib),
];

/// Runs `f` and measures the daemon's peak RSS above what it was before, and the stall.
fn measure(pid: u32, observer: &Observer, name: &'static str, f: impl FnOnce() -> String) -> Row {
    std::thread::sleep(Duration::from_millis(300));
    let before = proc_status_kib(pid, "VmRSS");
    assert!(reset_peak_rss(pid), "cannot reset the daemon's VmHWM");
    observer.take();
    let outcome = f();
    let peak = proc_status_kib(pid, "VmHWM");
    let (stall, errors) = observer.take();
    Row {
        name,
        rise_mib: peak.saturating_sub(before) as f64 / 1024.0,
        stall,
        errors,
        outcome,
    }
}

fn run(baseline: bool) -> Vec<Row> {
    let daemon = DaemonProcess::start(&support::cli_path(), &config(baseline), &[], true);
    let pid = daemon.pid();
    daemon.add_user(ALICE, PASSWORD);
    let lmtp = daemon.lmtp.expect("LMTP is on");
    let mut seed = LmtpClient::connect(lmtp);
    seed.lhlo();
    let (_, data) = seed.send(
        "sender@remote.test",
        &[ALICE],
        &message_with_attachment(ALICE, "4 MiB", "big.bin", &pattern(4 * MIB as usize)),
    );
    assert!(data.iter().all(|r| r.code == 250), "seeding: {data:?}");
    let mut t = Target {
        addr: daemon.https,
        lmtp,
        cert: daemon.cert_pem(),
        file_ref: String::new(),
    };
    // The attachment's FileReference, as a phone learns it from a Sync.
    let c = t.attacker("SEEDER");
    let inbox = c.folder_of_type(2);
    let key = c.sync_init(&inbox);
    let (_, adds) = c.sync_all(support::SyncColl::new(&inbox, &key).window(10));
    t.file_ref = adds
        .iter()
        .find_map(|(_, d)| d.find_path(&[asb::ATTACHMENTS, asb::ATTACHMENT]))
        .and_then(|a| a.text_of(asb::FILE_REFERENCE))
        .unwrap_or_else(|| panic!("no attachment in {adds:?}"))
        .to_owned();
    let observer = Observer::start(&t);
    std::thread::sleep(Duration::from_millis(500));
    let idle = proc_status_kib(pid, "VmRSS");
    println!(
        "\n== {} == idle RSS {:.1} MiB",
        if baseline {
            "BEFORE (budget, spooling and response cap off)"
        } else {
            "AFTER (board profile generic-armv7-256m)"
        },
        idle as f64 / 1024.0
    );
    let mut rows = Vec::new();
    for (name, attack) in ATTACKS {
        let row = measure(pid, &observer, name, || attack(&t));
        print_row(&row);
        rows.push(row);
    }
    let row = measure(pid, &observer, "all at once", || {
        std::thread::scope(|s| {
            let handles: Vec<_> = ATTACKS
                .iter()
                .map(|(name, attack)| {
                    let t = &t;
                    s.spawn(move || format!("{name}: {}", attack(t)))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| "panicked".into()))
                .collect::<Vec<_>>()
                .join("; ")
        })
    });
    print_row(&row);
    rows.push(row);
    let after_all = proc_status_kib(pid, "VmRSS");
    println!(
        "RSS at the end {:.1} MiB ({:+.1} MiB over idle)",
        after_all as f64 / 1024.0,
        (after_all as f64 - idle as f64) / 1024.0
    );
    drop(observer);
    rows
}

fn print_row(r: &Row) {
    println!(
        "{:<36} peak RSS +{:>6.1} MiB {}  FolderSync max {:>5} ms {}{}  | {}",
        r.name,
        r.rise_mib,
        if r.rise_mib <= TARGET_RISE_MIB as f64 {
            "ok  "
        } else {
            "OVER"
        },
        r.stall.as_millis(),
        if r.stall <= TARGET_STALL {
            "ok  "
        } else {
            "OVER"
        },
        if r.errors > 0 {
            format!(" ({} failed)", r.errors)
        } else {
            String::new()
        },
        r.outcome
    );
}

fn main() {
    let runs = std::env::var("EASD_ATTACK_RUNS").unwrap_or_else(|_| "both".into());
    let after = matches!(runs.as_str(), "after" | "both").then(|| run(false));
    let before = matches!(runs.as_str(), "before" | "both").then(|| run(true));
    if let (Some(after), Some(before)) = (after, before) {
        println!(
            "\n== BEFORE → AFTER (peak RSS above the RSS before the attack; slowest FolderSync) =="
        );
        for (a, b) in after.iter().zip(&before) {
            println!(
                "{:<36} +{:>6.1} → +{:>6.1} MiB   {:>5} → {:>5} ms",
                a.name,
                b.rise_mib,
                a.rise_mib,
                b.stall.as_millis(),
                a.stall.as_millis()
            );
        }
    }
    println!(
        "targets: peak RSS ≤ {TARGET_RISE_MIB} MiB above idle, FolderSync ≤ {} ms",
        TARGET_STALL.as_millis()
    );
}
