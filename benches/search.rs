//! Mailbox Search on a large mailbox: delivers 20,000 realistic messages (a Zipf-distributed
//! vocabulary of 8,000 words, 500 senders, 40–700-word bodies, a tenth in a subfolder of
//! the Inbox) into the store over four concurrent sessions (each message a durable blob,
//! then `items::insert` in a durable store write of its own, which the writer groups with
//! whatever else is queued; not the LMTP path, which journals deliveries and commits them
//! in larger groups: `benches/storage.rs` measures that), then starts the real `easd
//! serve` on that data directory and times Search requests over a kept-alive TLS
//! connection.
//!
//! Prints the delivery rate over the first and the last tenth of the messages, where a
//! delivery's time goes (parsing, blob, store write; inside the writer: items, index
//! postings, commit and fsync), the bytes written to disk per delivered byte
//! (`/proc/self/task/*/io`: the writer thread's are the database's, the others' the
//! blobs'), the index size on disk, Search latency p50/p99 for several queries (common
//! word, rare word, sender, two words, a prefix, a folder with DeepTraversal, a date
//! range), and the server's RSS growth during the searches. Targets: p99 < 100 ms per
//! query, RSS growth < 16 MiB, index <= 30% of the mail. (The delivery rate's and write
//! amplification's budgets are the LMTP path's, checked by `benches/storage.rs`; here they
//! show the index's share of a durable write per message.)
//!
//! `SEARCH_BENCH_MESSAGES` overrides the 20,000 messages (100,000 for the long run),
//! `SEARCH_BENCH_ROUNDS` the 60
//! requests per query. Loopback only; every loop is bounded in count and time, and the
//! server is stopped at the end (also on panic).

// The integration tests' harness; a bench uses only a part of it (items and re-exports).
#[allow(dead_code, unused_imports)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use easd::store::model::Flags;
use easd::store::model::{FolderType, ROOT_FOLDER};
use easd::store::{Store, WriterStats, folders, items, ops, search_index};
use easd::wbxml::Element;
use easd::wbxml::tag::{airsync, search as s};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use support::{
    EasClient, HttpClient, KeepAliveClient, Zipf, proc_status_kib, reset_peak_rss, vocabulary,
};

const USER: &str = "searcher@example.com";
const PASSWORD: &str = "bench-password-search";
const INBOX: u64 = 1;
const TARGET_P99: Duration = Duration::from_millis(100);
const TARGET_GROWTH_KIB: u64 = 16 * 1024;
/// The whole run is aborted (server killed) after this long.
const RUN_LIMIT: Duration = Duration::from_secs(25 * 60);
/// Each query's timing loop stops after this long even if its rounds are not done.
const QUERY_LIMIT: Duration = Duration::from_secs(40);
/// The word planted in exactly [`RARE_COUNT`] messages.
const RARE: &str = "zanzibarite";
const RARE_COUNT: usize = 5;

const COMMON: &[&str] = &[
    "the", "and", "for", "you", "with", "this", "that", "will", "have", "from", "please",
    "meeting", "thanks", "regards", "report", "project", "review", "tomorrow", "update",
    "attached", "customer", "invoice", "budget", "schedule", "office", "team", "morning",
    "contract", "delivery", "agenda", "minutes", "approval", "draft", "server", "holiday",
];
const FIRST: &[&str] = &[
    "maria", "john", "anna", "peter", "laura", "thomas", "sofia", "david", "emma", "lukas",
    "julia", "marco", "nina", "oliver", "clara", "felix", "hanna", "paul", "lea", "jonas",
];
const LAST: &[&str] = &[
    "keller",
    "smith",
    "novak",
    "rossi",
    "meyer",
    "garcia",
    "dubois",
    "jansen",
    "kowalski",
    "silva",
    "berg",
    "moreau",
    "fischer",
    "costa",
    "larsen",
    "weber",
    "romano",
    "nagy",
    "lindqvist",
    "hoffmann",
    "brown",
    "petrov",
    "martin",
    "ferrari",
    "schulz",
];
const DOMAINS: &[&str] = &[
    "northwind.example",
    "contoso.example",
    "fabrikam.example",
    "tailspin.example",
    "adatum.example",
];

struct Generator {
    rng: StdRng,
    words: Vec<String>,
    zipf: Zipf,
    senders: Zipf,
}

impl Generator {
    fn text(&mut self, n: usize) -> String {
        let mut out = String::with_capacity(n * 8);
        let mut line = 0;
        for i in 0..n {
            let w = &self.words[self.zipf.sample(&mut self.rng)];
            if i > 0 {
                if line > 68 {
                    out.push_str("\r\n");
                    line = 0;
                } else {
                    out.push(' ');
                }
            }
            out.push_str(w);
            line += w.len() + 1;
        }
        out.push_str("\r\n");
        out
    }

    fn sender(&mut self) -> (String, String) {
        let k = self.senders.sample(&mut self.rng);
        let (first, last) = (FIRST[k % FIRST.len()], LAST[k / FIRST.len() % LAST.len()]);
        let domain = DOMAINS[k % DOMAINS.len()];
        let cap = |w: &str| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        };
        (
            format!("{} {}", cap(first), cap(last)),
            format!("{first}.{last}@{domain}"),
        )
    }

    fn message(&mut self, i: usize, date: &str) -> Vec<u8> {
        let (name, address) = self.sender();
        let n = self.rng.gen_range(3..9);
        let mut subject = self.text(n).trim_end().to_owned();
        let n = self.rng.gen_range(40..700);
        let mut body = self.text(n);
        // The rare word: a few messages, spread over the mailbox.
        if i % (50_000 / RARE_COUNT) == 1234 {
            body.push_str(&format!("Code name {RARE}.\r\n"));
        }
        if i.is_multiple_of(7) {
            subject = format!("Re: {subject}");
        }
        let mut m = format!(
            "Return-Path: <{address}>\r\n\
             Received: from mx.example (mx.example [192.0.2.1]) by mail.localhost\r\n\
             \twith ESMTPS id {i:08X}; {date}\r\n\
             From: {name} <{address}>\r\nTo: Search Bench <{USER}>\r\n\
             Subject: {subject}\r\nDate: {date}\r\n\
             Message-ID: <{i}.{}@bench.example>\r\nMIME-Version: 1.0\r\n",
            self.rng.r#gen::<u32>()
        );
        if self.rng.gen_ratio(3, 10) {
            m.push_str("Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n--alt\r\n");
            m.push_str("Content-Type: text/plain; charset=utf-8\r\n\r\n");
            m.push_str(&body);
            m.push_str("--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>");
            m.push_str(&body.replace("\r\n", "<br>\r\n"));
            m.push_str("</p></body></html>\r\n--alt--\r\n");
        } else {
            m.push_str("Content-Type: text/plain; charset=utf-8\r\n\r\n");
            m.push_str(&body);
        }
        m.into_bytes()
    }
}

/// RFC 5322 date of Unix time `t` (UTC).
fn rfc5322(t: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{}, {d} {} {y} {:02}:{:02}:{:02} +0000",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

struct Seeded {
    messages: usize,
    raw_bytes: usize,
    wall: Duration,
    /// (first, last) DateReceived.
    span: (i64, i64),
    /// Messages per second over the first and the last [`window`] deliveries: flat when
    /// a delivery's cost does not grow with the mailbox.
    rate_start: f64,
    rate_end: f64,
    /// Seconds the sessions spent, summed: generating and parsing, writing the blobs
    /// durably, waiting for the store's commit.
    parse: Duration,
    blobs: Duration,
    commits: Duration,
    /// The store writer's own time, over the first and the last window.
    writer_start: WriterStats,
    writer_end: WriterStats,
    /// Bytes written to disk during the deliveries (`/proc/self/task/*/io` write_bytes):
    /// by the store's writer thread (the database file) and by the rest (blob files).
    written_db: u64,
    written_blobs: u64,
}

/// Concurrent delivery sessions, as an MTA's LMTP connections.
const SESSIONS: usize = 4;

/// Deliveries over which the start and end rates are taken: a tenth of the run.
fn window(total: usize) -> usize {
    (total / 10).max(1)
}

/// Bytes written to disk by this process so far (`write_bytes`: what reached the page
/// cache for a file, counted once), as (by the store's writer thread, by the others).
fn written_bytes() -> (u64, u64) {
    let read = |path: &Path| -> u64 {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("write_bytes:"))
                    .and_then(|v| v.trim().parse().ok())
            })
            .unwrap_or(0)
    };
    let all = read(Path::new("/proc/self/io"));
    let writer = std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
        .find(|t| {
            std::fs::read_to_string(t.path().join("comm"))
                .is_ok_and(|c| c.trim_end() == easd::store::WRITER_THREAD)
        })
        .map_or(0, |t| read(&t.path().join("io")));
    (writer, all.saturating_sub(writer))
}

/// `b - a`, phase by phase.
fn stats_between(a: &WriterStats, b: &WriterStats) -> WriterStats {
    WriterStats {
        commits: b.commits - a.commits,
        jobs: b.jobs - a.jobs,
        jobs_time: b.jobs_time - a.jobs_time,
        index_time: b.index_time - a.index_time,
        commit_time: b.commit_time - a.commit_time,
    }
}

/// What the sessions share: the message generator and what was measured.
struct Shared {
    next: usize,
    generator: Generator,
    raw_bytes: usize,
    /// When each delivery was acknowledged (its commit durable), in order.
    done: Vec<Instant>,
    /// The writer's figures when the first window ended and the last one started.
    marks: [Option<WriterStats>; 2],
    parse: Duration,
    blobs: Duration,
    commits: Duration,
}

/// Creates the account and delivers `total` messages into its Inbox and a subfolder over
/// [`SESSIONS`] concurrent sessions, each message its own durable blob and store write.
fn seed(data: &Path, total: usize, deadline: Instant) -> (Seeded, u64) {
    let store = Store::open(data).expect("open store");
    let hash = easd::auth::password::hash(PASSWORD, &easd::config::AuthConfig::default())
        .expect("password hash");
    let (account, sub) = store
        .write_blocking(move |w| {
            let a = ops::create_account(w, USER, "Search Bench", &hash, false)?;
            let f = folders::create(w, a.id, INBOX, "Projects", FolderType::UserMail)
                .map_err(|e| easd::store::StoreError::Invalid(e.to_string()))?;
            Ok((a.id, f.id))
        })
        .expect("account");
    let _ = ROOT_FOLDER;
    let mut rng = StdRng::seed_from_u64(20_261_125);
    let words = vocabulary(&mut rng, COMMON, 8_000, RARE);
    let shared = Mutex::new(Shared {
        next: 0,
        generator: Generator {
            zipf: Zipf::new(words.len()),
            senders: Zipf::new(FIRST.len() * LAST.len()),
            words,
            rng,
        },
        raw_bytes: 0,
        done: Vec::with_capacity(total),
        marks: [None, None],
        parse: Duration::ZERO,
        blobs: Duration::ZERO,
        commits: Duration::ZERO,
    });
    // One message every 10 minutes, the newest now.
    let now = easd::store::now();
    let first = now - total as i64 * 600;
    let w = window(total);
    let written_before = written_bytes();
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..SESSIONS {
            scope.spawn(|| {
                loop {
                    let t = Instant::now();
                    let (i, raw) = {
                        let mut s = shared.lock().expect("bench lock");
                        if s.next >= total || Instant::now() > deadline {
                            return;
                        }
                        let i = s.next;
                        s.next += 1;
                        let raw = s.generator.message(i, &rfc5322(first + i as i64 * 600));
                        s.raw_bytes += raw.len();
                        (i, raw)
                    };
                    let received = first + i as i64 * 600;
                    let meta = easd::mail::mime::parse(&raw, received);
                    let parsed = Instant::now();
                    let blob = store.blobs().put(&raw).expect("blob");
                    let stored = Instant::now();
                    let folder = if i % 10 == 3 { sub } else { INBOX };
                    store
                        .write_blocking(move |w| {
                            items::insert(
                                w,
                                account,
                                folder,
                                blob.clone(),
                                meta.clone(),
                                Flags::default(),
                            )
                        })
                        .expect("deliver");
                    let mut s = shared.lock().expect("bench lock");
                    s.parse += parsed - t;
                    s.blobs += stored - parsed;
                    s.commits += stored.elapsed();
                    s.done.push(Instant::now());
                    let n = s.done.len();
                    if n == w {
                        s.marks[0] = Some(store.writer_stats());
                    }
                    if n == total.saturating_sub(w) {
                        s.marks[1] = Some(store.writer_stats());
                    }
                }
            });
        }
    });
    let (db_after, blobs_after) = written_bytes();
    let wall = start.elapsed();
    let end_stats = store.writer_stats();
    let s = shared.into_inner().expect("bench lock");
    let done = s.done.len();
    let rate =
        |from: Instant, to: Instant, n: usize| n as f64 / (to - from).as_secs_f64().max(1e-9);
    let (rate_start, rate_end) = match (s.done.get(w - 1), s.done.len().checked_sub(w + 1)) {
        (Some(&end_first), Some(before_last)) => (
            rate(start, end_first, w),
            rate(s.done[before_last], s.done[done - 1], w),
        ),
        _ => (0.0, 0.0),
    };
    let zero = WriterStats::default();
    let [mark_start, mark_end] = s.marks;
    (
        Seeded {
            messages: done,
            raw_bytes: s.raw_bytes,
            wall,
            span: (first, first + done as i64 * 600),
            rate_start,
            rate_end,
            parse: s.parse,
            blobs: s.blobs,
            commits: s.commits,
            writer_start: stats_between(&zero, &mark_start.unwrap_or_default()),
            writer_end: stats_between(&mark_end.unwrap_or_default(), &end_stats),
            written_db: db_after.saturating_sub(written_before.0),
            written_blobs: blobs_after.saturating_sub(written_before.1),
        },
        sub,
    )
}

/// Bytes of the index tables (stored + metadata + fragmented) and of the whole file.
fn index_size(data: &Path) -> (u64, u64, u64) {
    let store = Store::open(data).expect("open store");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let size = rt.block_on(store.view(search_index::size));
    let (postings, locations) = size.expect("index size");
    drop(store);
    let file = std::fs::metadata(data.join("easd.redb")).map_or(0, |m| m.len());
    (postings, locations, file)
}

/// `easd serve` on an already seeded data directory; killed on drop.
struct Daemon {
    child: std::process::Child,
    https: SocketAddr,
    data: PathBuf,
}

impl Daemon {
    fn start(root: &Path, data: &Path) -> Self {
        let cfg = root.join("easd.toml");
        std::fs::write(&cfg, "").expect("config");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let https = SocketAddr::from(([127, 0, 0, 1], port));
        let child = std::process::Command::new(support::cli_path())
            .arg("serve")
            .arg("--config")
            .arg(&cfg)
            .arg("--data")
            .arg(data)
            .args([
                "--https",
                &https.to_string(),
                "--notify",
                "off",
                "--lmtp",
                "off",
            ])
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("start easd");
        let d = Daemon {
            child,
            https,
            data: data.to_owned(),
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while std::net::TcpStream::connect(https).is_err()
            || !matches!(
                easd::admin::control::call(data, &easd::admin::ops::Request::Status),
                Ok(Some(_))
            )
        {
            assert!(Instant::now() < deadline, "easd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        d
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: signals the child this bench started.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One query of the bench.
struct Query {
    label: &'static str,
    words: String,
    folder: Option<u64>,
    deep: bool,
    /// DateReceived after this (Unix seconds).
    after: Option<i64>,
}

fn iso(t: i64) -> String {
    // Search Value dates are the AirSyncBase form: 2026-01-02T03:04:05.000Z.
    let d = rfc5322(t);
    let parts: Vec<&str> = d.split([' ', ',']).filter(|p| !p.is_empty()).collect();
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == parts[2])
    .unwrap_or(0)
        + 1;
    format!(
        "{}-{month:02}-{:02}T{}.000Z",
        parts[3],
        parts[1].parse::<u32>().unwrap_or(1),
        parts[4]
    )
}

fn request(q: &Query, range: &str) -> Element {
    let mut and = Element::new(s::AND)
        .text_child(airsync::CLASS, "Email")
        .text_child(s::FREE_TEXT, q.words.as_str());
    if let Some(f) = q.folder {
        and.push_text(airsync::COLLECTION_ID, f.to_string());
    }
    if let Some(t) = q.after {
        and.push(
            Element::new(s::GREATER_THAN)
                .child(Element::new(easd::wbxml::tag::email::DATE_RECEIVED))
                .text_child(s::VALUE, iso(t)),
        );
    }
    let mut options = Element::new(s::OPTIONS).text_child(s::RANGE, range);
    if q.deep {
        options.push(Element::new(s::DEEP_TRAVERSAL));
    }
    Element::new(s::SEARCH).child(
        Element::new(s::STORE)
            .text_child(s::NAME, "Mailbox")
            .child(Element::new(s::QUERY).child(and))
            .child(options),
    )
}

struct Answer {
    total: usize,
    results: usize,
}

fn answer(root: &Element) -> Answer {
    let store = root
        .find_path(&[s::RESPONSE, s::STORE])
        .expect("Response/Store");
    assert_eq!(store.text_of(s::STATUS), Some("1"), "Search Store status");
    let results: Vec<&Element> = store.find_all(s::RESULT).collect();
    for r in &results {
        assert!(r.text_of(s::LONG_ID).is_some(), "a Result without LongId");
    }
    Answer {
        total: store
            .text_of(s::TOTAL)
            .and_then(|t| t.parse().ok())
            .unwrap_or(0),
        results: results.len(),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "MISS" }
}

fn main() {
    let env = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let total = env("SEARCH_BENCH_MESSAGES", 20_000);
    let rounds = env("SEARCH_BENCH_ROUNDS", 60).max(1);
    let run_deadline = Instant::now() + RUN_LIMIT;
    std::thread::spawn(|| {
        std::thread::sleep(RUN_LIMIT + Duration::from_secs(60));
        eprintln!("search bench: run limit exceeded");
        std::process::exit(2);
    });

    let root = tempfile::Builder::new()
        .prefix("easd-search-bench")
        .tempdir()
        .expect("temp dir");
    let data = root.path().join("data");

    // ---- seed ----------------------------------------------------------------------------
    let (seeded, sub) = seed(&data, total, run_deadline);
    let per = |d: Duration| d.as_secs_f64() * 1e3 / seeded.messages.max(1) as f64;
    println!(
        "delivered {} messages ({:.1} MiB, avg {:.1} KB; Inbox and a subfolder) over {SESSIONS} \
         sessions in {:.1} s ({:.0} messages/s); per message, summed over the sessions: \
         generate + parse {:.3} ms, blob written durably {:.3} ms, store write awaited {:.3} ms",
        seeded.messages,
        seeded.raw_bytes as f64 / 1048576.0,
        seeded.raw_bytes as f64 / seeded.messages.max(1) as f64 / 1000.0,
        seeded.wall.as_secs_f64(),
        seeded.messages as f64 / seeded.wall.as_secs_f64().max(1e-9),
        per(seeded.parse),
        per(seeded.blobs),
        per(seeded.commits),
    );
    let w = window(seeded.messages);
    for (label, s) in [
        ("first", &seeded.writer_start),
        ("last", &seeded.writer_end),
    ] {
        let per_job = |d: Duration| d.as_secs_f64() * 1e3 / s.jobs.max(1) as f64;
        println!(
            "store writer, {label} {w} deliveries: {:.2} jobs per commit; per delivery: items \
             {:.3} ms, index postings {:.3} ms, commit + fsync {:.3} ms",
            s.jobs as f64 / s.commits.max(1) as f64,
            per_job(s.jobs_time),
            per_job(s.index_time),
            per_job(s.commit_time),
        );
    }
    let (postings, locations, file) = index_size(&data);
    println!(
        "on disk: easd.redb {:.1} MiB; index {:.1} MiB (postings {:.1} MiB, message \
         locations {:.1} MiB) = {:.0} bytes per message",
        file as f64 / 1048576.0,
        (postings + locations) as f64 / 1048576.0,
        postings as f64 / 1048576.0,
        locations as f64 / 1048576.0,
        (postings + locations) as f64 / seeded.messages.max(1) as f64
    );
    let index_share = (postings + locations) as f64 / seeded.raw_bytes.max(1) as f64;
    println!(
        "target index <= 30% of the indexed mail: {} ({:.1}%)",
        verdict(index_share <= 0.30),
        index_share * 100.0
    );
    let flat = seeded.rate_end / seeded.rate_start.max(1e-12);
    println!(
        "delivery rate (a durable store write each, not the LMTP path): first {w} {:.0} \
         messages/s, last {w} {:.0} messages/s ({:.0}% at the end)",
        seeded.rate_start,
        seeded.rate_end,
        flat * 100.0
    );
    let written = seeded.written_db + seeded.written_blobs;
    let amplification = written as f64 / seeded.raw_bytes.max(1) as f64;
    println!(
        "written to disk during the deliveries: {:.1} MiB for {:.1} MiB of mail (database \
         {:.2}x, blobs {:.2}x): {amplification:.2}x",
        written as f64 / 1048576.0,
        seeded.raw_bytes as f64 / 1048576.0,
        seeded.written_db as f64 / seeded.raw_bytes.max(1) as f64,
        seeded.written_blobs as f64 / seeded.raw_bytes.max(1) as f64,
    );

    // ---- search through the daemon ---------------------------------------------------------
    let daemon = Daemon::start(root.path(), &data);
    let pid = daemon.pid();
    let idle_kib = proc_status_kib(pid, "VmRSS");
    let cert = daemon.data.join("tls").join("cert.pem");
    let mut eas = EasClient::new(
        HttpClient::https_to(daemon.https, &cert),
        USER,
        PASSWORD,
        "BENCHSEARCH",
    );
    eas.provision();
    let _ = eas.folder_sync_ok("0");
    let mut conn = KeepAliveClient::new(daemon.https, &cert);
    let (span_start, span_end) = seeded.span;
    let queries = [
        Query {
            label: "common word",
            words: "meeting".into(),
            folder: None,
            deep: false,
            after: None,
        },
        Query {
            label: "most common word",
            words: "the".into(),
            folder: None,
            deep: false,
            after: None,
        },
        Query {
            label: "rare word",
            words: RARE.into(),
            folder: None,
            deep: false,
            after: None,
        },
        Query {
            label: "sender",
            words: "keller".into(),
            folder: None,
            deep: false,
            after: None,
        },
        Query {
            label: "sender address",
            words: "maria.keller@northwind.example".into(),
            folder: None,
            deep: false,
            after: None,
        },
        Query {
            label: "two words",
            words: "budget invoice".into(),
            folder: None,
            deep: false,
            after: None,
        },
        Query {
            label: "prefix",
            words: "sched".into(),
            folder: None,
            deep: false,
            after: None,
        },
        Query {
            label: "Inbox + DeepTraversal",
            words: "project".into(),
            folder: Some(INBOX),
            deep: true,
            after: None,
        },
        Query {
            label: "subfolder only",
            words: "project".into(),
            folder: Some(sub),
            deep: false,
            after: None,
        },
        Query {
            label: "common word, last 30 days",
            words: "report".into(),
            folder: None,
            deep: false,
            after: Some(span_end.max(span_start) - 30 * 86_400),
        },
    ];
    // Warm up: every query once (and the auth cache), then measure from a settled RSS.
    for q in &queries {
        let r = eas.post_on(&mut conn, "Search", Some(&request(q, "0-49")));
        r.expect_status(200);
        answer(&r.wbxml());
    }
    std::thread::sleep(Duration::from_millis(300));
    let before_kib = proc_status_kib(pid, "VmRSS");
    reset_peak_rss(pid);
    let mut worst_p99 = Duration::ZERO;
    println!(
        "Search (Range 0-49, default body: plain text truncated at 512), {rounds} requests per query:"
    );
    for q in &queries {
        assert!(Instant::now() < run_deadline, "run limit");
        let mut times = Vec::with_capacity(rounds);
        let mut last = None;
        let limit = Instant::now() + QUERY_LIMIT;
        for _ in 0..rounds {
            if Instant::now() > limit {
                break;
            }
            let body = request(q, "0-49");
            let t = Instant::now();
            let r = eas.post_on(&mut conn, "Search", Some(&body));
            let elapsed = t.elapsed();
            r.expect_status(200);
            last = Some(answer(&r.wbxml()));
            times.push(elapsed);
        }
        times.sort();
        let (p50, p99) = (percentile(&times, 0.50), percentile(&times, 0.99));
        worst_p99 = worst_p99.max(p99);
        let a = last.expect("at least one round");
        println!(
            "  {:<26} {:>6} hits ({:>2} shown): p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
            format!("{} {:?}:", q.label, q.words),
            a.total,
            a.results,
            ms(p50),
            ms(p99),
            ms(*times.last().unwrap_or(&Duration::ZERO))
        );
        if q.label == "rare word" {
            let planted = (0..seeded.messages)
                .filter(|i| i % (50_000 / RARE_COUNT) == 1234)
                .count();
            assert_eq!(a.total, planted, "the rare word's messages");
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    let peak_kib = proc_status_kib(pid, "VmHWM");
    let after_kib = proc_status_kib(pid, "VmRSS");
    let growth = peak_kib.saturating_sub(before_kib);
    println!(
        "server RSS: idle after start {:.2} MiB, before the timed searches {:.2} MiB, peak during \
         them {:.2} MiB (+{:.2} MiB), after {:.2} MiB",
        mib(idle_kib),
        mib(before_kib),
        mib(peak_kib),
        mib(growth),
        mib(after_kib)
    );
    println!(
        "target Search p99 < {} ms for every query: {} (worst p99 {:.2} ms)",
        TARGET_P99.as_millis(),
        verdict(worst_p99 < TARGET_P99),
        ms(worst_p99)
    );
    println!(
        "target server memory growth during searches < {} MiB: {} (+{:.2} MiB)",
        TARGET_GROWTH_KIB / 1024,
        verdict(growth < TARGET_GROWTH_KIB),
        mib(growth)
    );
    drop(conn);
    drop(daemon);
}
