//! What mail costs on disk: delivers N natural-text messages (1.5–4 KB bodies of words
//! drawn from a Zipf-distributed English-like vocabulary, generated deterministically) over
//! LMTP on four sessions into one mailbox of the real `easd serve`, then measures the data
//! directory.
//!
//! Prints the bodies' bytes; the data directory's allocated size (blocks, like `du`) split
//! into loose blob files, packed segments, the database file and the rest, and its ratio
//! to the bodies; the search index's share of the bodies; the delivery rate over the first
//! and the last tenth of the messages; the server's write amplification (`write_bytes` of
//! `/proc/PID/io` per delivered byte) and CPU per message. Targets (issue 17): data
//! directory <= 1.3x the bodies, index <= 30%, rate at the end >= 90% of the start, write
//! amplification <= 3x.
//!
//! `STORAGE_BENCH_MESSAGES` overrides the 20,000 messages. `EASD_BASELINE_BIN=/path/to/easd`
//! runs the same against that binary too and prints the ratios, this build over the
//! baseline. Loopback only; every loop is bounded in count and time, and the server is
//! stopped at the end (also on panic).

// The integration tests' harness; a bench uses only a part of it (items and re-exports).
#[allow(dead_code, unused_imports)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

use easd::store::blob::pack;
use easd::store::{Store, search_index};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use support::{
    BENCH_PASSWORD, BENCH_USER, DaemonProcess, Zipf, dot_stuff, lmtp_worker, proc_cpu_seconds,
    vocabulary,
};

const LMTP_CONNECTIONS: usize = 4;
/// The deliveries are timed in this many equal slices (the first and last give the rates).
const SLICES: usize = 10;
/// The whole run is aborted (server killed) after this long.
const RUN_LIMIT: Duration = Duration::from_secs(30 * 60);
const TARGET_DISK_RATIO: f64 = 1.3;
const TARGET_INDEX_SHARE: f64 = 0.30;
const TARGET_FLAT: f64 = 0.9;
const TARGET_WA: f64 = 3.0;

/// The most frequent English words, in rough frequency order: the head of the Zipf ranks.
const ENGLISH: &[&str] = &[
    "the", "of", "and", "to", "a", "in", "is", "you", "that", "it", "he", "was", "for", "on",
    "are", "as", "with", "his", "they", "I", "at", "be", "this", "have", "from", "or", "one",
    "had", "by", "word", "but", "not", "what", "all", "were", "we", "when", "your", "can", "said",
    "there", "use", "an", "each", "which", "she", "do", "how", "their", "if", "will", "up",
    "other", "about", "out", "many", "then", "them", "these", "so", "some", "her", "would", "make",
    "like", "him", "into", "time", "has", "look", "two", "more", "write", "go", "see", "number",
    "no", "way", "could", "people", "my", "than", "first", "been", "call", "who", "its", "now",
    "find", "long", "down", "day", "did", "get", "come", "made", "may", "part", "meeting",
    "report", "please", "thanks", "project", "customer", "invoice", "budget", "schedule", "office",
    "team", "contract", "delivery", "agenda", "review",
];

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "MISS" }
}

fn mib(b: u64) -> f64 {
    b as f64 / 1_048_576.0
}

/// One message: a few realistic headers and a text/plain body of `1500..4000` bytes.
fn message(rng: &mut StdRng, words: &[String], zipf: &Zipf, i: usize) -> Vec<u8> {
    let text = |rng: &mut StdRng, bytes: usize| {
        let mut out = String::with_capacity(bytes + 80);
        let mut line = 0;
        let mut sentence_start = true;
        while out.len() < bytes {
            let w = &words[zipf.sample(rng)];
            if sentence_start {
                let mut c = w.chars();
                out.extend(c.next().into_iter().flat_map(char::to_uppercase).chain(c));
            } else {
                out.push_str(w);
            }
            line += w.len() + 1;
            sentence_start = rng.gen_ratio(1, 12);
            if sentence_start {
                out.push('.');
            } else if rng.gen_ratio(1, 20) {
                out.push(',');
            }
            if line > 70 {
                out.push_str("\r\n");
                line = 0;
            } else {
                out.push(' ');
            }
            if sentence_start && rng.gen_ratio(1, 5) {
                out.push_str("\r\n\r\n");
                line = 0;
            }
        }
        out.push_str("\r\n");
        out
    };
    let subject = text(rng, 30).replace("\r\n", " ");
    let n = rng.gen_range(1500..4000);
    let body = text(rng, n);
    let sender = i % 211;
    format!(
        "Return-Path: <user{sender}@remote{0}.example>\r\n\
         Received: from mx{0}.remote.example (mx{0}.remote.example [192.0.2.{0}])\r\n\
         \tby mail.localhost (Postfix) with ESMTPS id 4F{i:06X}\r\n\
         \tfor <{BENCH_USER}>; Tue, 1 Sep 2026 10:{1:02}:{2:02} +0000 (UTC)\r\n\
         From: User {sender} <user{sender}@remote{0}.example>\r\nTo: <{BENCH_USER}>\r\n\
         Subject: {subject}\r\nDate: Tue, 1 Sep 2026 10:{1:02}:{2:02} +0000\r\n\
         Message-ID: <{i}.{3}@remote{0}.example>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}",
        i % 7,
        (i / 60) % 60,
        i % 60,
        rng.r#gen::<u32>(),
    )
    .into_bytes()
}

/// `write_bytes` of `/proc/PID/io`: bytes the process caused to be written to storage.
fn write_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/io"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("write_bytes:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Allocated bytes (blocks, like `du`) of a data directory, by kind of file.
#[derive(Default, Clone, Copy)]
struct Disk {
    /// One file per blob (today's layout, and large bodies after packing).
    loose: u64,
    loose_files: u64,
    /// Packed segment files (`blobs/packs`).
    packs: u64,
    database: u64,
    other: u64,
}

impl Disk {
    fn total(&self) -> u64 {
        self.loose + self.packs + self.database + self.other
    }

    fn measure(data: &Path) -> Self {
        let mut d = Disk::default();
        let mut stack = vec![data.to_owned()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                let Ok(m) = e.metadata() else { continue };
                let path = e.path();
                if m.is_dir() {
                    d.other += m.blocks() * 512;
                    stack.push(path);
                    continue;
                }
                let bytes = m.blocks() * 512;
                let rel = path.strip_prefix(data).unwrap_or(&path);
                if rel == Path::new("easd.redb") {
                    d.database += bytes;
                } else if rel.starts_with("blobs/packs") {
                    d.packs += bytes;
                } else if rel.starts_with("blobs") && !rel.starts_with("blobs/tmp") {
                    d.loose += bytes;
                    d.loose_files += 1;
                } else {
                    d.other += bytes;
                }
            }
        }
        d
    }
}

/// What one run measured.
#[derive(Clone, Copy)]
struct Figures {
    delivered: usize,
    bodies: u64,
    disk: Disk,
    index: u64,
    rate_first: f64,
    rate_last: f64,
    written: u64,
    cpu_per_message: f64,
}

fn main() {
    let total: usize = std::env::var("STORAGE_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
        .max(SLICES * LMTP_CONNECTIONS);
    std::thread::spawn(|| {
        std::thread::sleep(RUN_LIMIT + Duration::from_secs(60));
        eprintln!("storage bench: run limit exceeded");
        std::process::exit(2);
    });
    // The same messages for every binary.
    let mut rng = StdRng::seed_from_u64(20_261_207);
    let words = vocabulary(&mut rng, ENGLISH, 12_000, "");
    let zipf = Zipf::new(words.len());
    let messages: Vec<Vec<u8>> = (0..total)
        .map(|i| message(&mut rng, &words, &zipf, i))
        .collect();
    compression(&messages);
    let bins = support::bench_bins();
    let mut runs = Vec::new();
    for bin in &bins {
        if bins.len() > 1 {
            println!("--- {}", bin.display());
        }
        let f = run(bin, "", &messages);
        print(&f);
        runs.push(f);
    }
    println!("--- this build, [limits] compress_mail = false");
    let plain = run(&bins[0], "[limits]\ncompress_mail = false\n", &messages);
    print(&plain);
    println!(
        "compression: server CPU per message {:.3} ms with, {:.3} ms without",
        runs[0].cpu_per_message * 1e3,
        plain.cpu_per_message * 1e3
    );
    if let [this, base] = runs[..] {
        let ratio = |f: &Figures| f.disk.total() as f64 / f.bodies.max(1) as f64;
        let wa = |f: &Figures| f.written as f64 / f.bodies.max(1) as f64;
        support::print_vs_baseline("data directory / bodies", "x", ratio(&this), ratio(&base));
        support::print_vs_baseline("write amplification", "x", wa(&this), wa(&base));
        support::print_vs_baseline(
            "CPU per message",
            "ms",
            this.cpu_per_message * 1e3,
            base.cpu_per_message * 1e3,
        );
        support::print_vs_baseline(
            "delivery rate, last tenth",
            "/s",
            this.rate_last,
            base.rate_last,
        );
    }
}

/// The store's own compression of each message, timed in this process: the ratio and the
/// CPU it costs per message (deflate when stored, inflate when read).
fn compression(messages: &[Vec<u8>]) {
    let start = Instant::now();
    let packed: Vec<Option<Vec<u8>>> = messages.iter().map(|m| pack::deflated(m)).collect();
    let deflate = start.elapsed();
    let start = Instant::now();
    for (m, p) in messages.iter().zip(&packed) {
        if let Some(p) = p {
            let back = pack::original(pack::FLAG_DEFLATE, p).expect("inflates");
            assert_eq!(back.len(), m.len());
        }
    }
    let inflate = start.elapsed();
    let raw: usize = messages.iter().map(Vec::len).sum();
    let stored: usize = messages
        .iter()
        .zip(&packed)
        .map(|(m, p)| p.as_ref().map_or(m.len(), Vec::len))
        .sum();
    let n = messages.len().max(1) as f64;
    println!(
        "compression (deflate, kept where it saves >= 10%): {} of {} messages, stored {:.1}% \
         of the bodies; CPU per message: deflate {:.1} us, inflate {:.1} us",
        packed.iter().flatten().count(),
        messages.len(),
        stored as f64 * 100.0 / raw.max(1) as f64,
        deflate.as_secs_f64() * 1e6 / n,
        inflate.as_secs_f64() * 1e6 / n
    );
}

/// Delivers `messages` to a fresh `bin serve` (with `config`) and measures what they cost.
fn run(bin: &Path, config: &str, messages: &[Vec<u8>]) -> Figures {
    let deadline = Instant::now() + RUN_LIMIT;
    let mut daemon = DaemonProcess::start(
        bin,
        config,
        &[("EASD_ADMIN_PASSWORD", BENCH_PASSWORD)],
        true,
    );
    let pid = daemon.pid();
    let lmtp = daemon.lmtp.expect("LMTP listener");
    let bodies: u64 = messages.iter().map(|m| m.len() as u64).sum();
    let (written0, cpu0) = (write_bytes(pid), proc_cpu_seconds(pid));
    let slice = messages.len().div_ceil(SLICES);
    let mut rates = Vec::with_capacity(SLICES);
    let mut delivered = 0;
    for part in messages.chunks(slice) {
        let mut per_conn: Vec<Vec<Vec<u8>>> = vec![Vec::new(); LMTP_CONNECTIONS];
        for (i, m) in part.iter().enumerate() {
            let mut stuffed = dot_stuff(m);
            stuffed.extend_from_slice(b".\r\n");
            per_conn[i % LMTP_CONNECTIONS].push(stuffed);
        }
        let start = Instant::now();
        let n: usize = std::thread::scope(|s| {
            let workers: Vec<_> = per_conn
                .iter()
                .map(|msgs| s.spawn(move || lmtp_worker(lmtp, msgs, deadline)))
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().expect("LMTP worker"))
                .sum()
        });
        assert_eq!(n, part.len(), "every delivery answered 250");
        rates.push(n as f64 / start.elapsed().as_secs_f64());
        delivered += n;
    }
    let written = write_bytes(pid).saturating_sub(written0);
    let cpu = proc_cpu_seconds(pid) - cpu0;
    let data = daemon.data_dir();
    let disk = Disk::measure(&data);
    daemon.stop();
    // The index as this build reads it (after the sizes above were taken: opening a
    // baseline's store with this build converts it).
    let index = {
        let store = Store::open(&data).expect("open store");
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let (postings, locations) = rt
            .block_on(store.view(search_index::size))
            .expect("index size");
        postings + locations
    };
    Figures {
        delivered,
        bodies,
        disk,
        index,
        rate_first: rates.first().copied().unwrap_or(0.0),
        rate_last: rates.last().copied().unwrap_or(0.0),
        written,
        cpu_per_message: cpu / delivered.max(1) as f64,
    }
}

fn print(f: &Figures) {
    let d = &f.disk;
    println!(
        "delivered {} messages over LMTP ({LMTP_CONNECTIONS} sessions): bodies {:.1} MiB \
         (avg {:.0} bytes)",
        f.delivered,
        mib(f.bodies),
        f.bodies as f64 / f.delivered.max(1) as f64
    );
    println!(
        "data directory on disk {:.1} MiB: loose blob files {:.1} MiB ({} files), packed \
         segments {:.1} MiB, easd.redb {:.1} MiB, other {:.1} MiB",
        mib(d.total()),
        mib(d.loose),
        d.loose_files,
        mib(d.packs),
        mib(d.database),
        mib(d.other)
    );
    let ratio = d.total() as f64 / f.bodies.max(1) as f64;
    println!(
        "target data directory <= {TARGET_DISK_RATIO}x the bodies: {} ({ratio:.2}x)",
        verdict(ratio <= TARGET_DISK_RATIO)
    );
    let share = f.index as f64 / f.bodies.max(1) as f64;
    println!(
        "target search index <= 30% of the bodies: {} ({:.1} MiB, {:.1}%)",
        verdict(share <= TARGET_INDEX_SHARE),
        mib(f.index),
        share * 100.0
    );
    let flat = f.rate_last / f.rate_first.max(1e-9);
    println!(
        "delivery rate: first tenth {:.0}/s, last tenth {:.0}/s; target end >= 90% of the \
         start: {} ({:.0}%)",
        f.rate_first,
        f.rate_last,
        verdict(flat >= TARGET_FLAT),
        flat * 100.0
    );
    let wa = f.written as f64 / f.bodies.max(1) as f64;
    println!(
        "write amplification: {:.1} MiB written for {:.1} MiB delivered; target <= \
         {TARGET_WA}x: {} ({wa:.2}x, {:.0} bytes per message)",
        mib(f.written),
        mib(f.bodies),
        verdict(wa <= TARGET_WA),
        f.written as f64 / f.delivered.max(1) as f64
    );
    println!(
        "server CPU per message (parse, store, index, compression): {:.3} ms",
        f.cpu_per_message * 1e3
    );
}
