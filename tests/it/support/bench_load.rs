//! What the daemon benches share: a realistic mail message, LMTP seeding, and a device's
//! timed initial Sync with the server's CPU and peak RSS over it. Compiled into the test
//! binary without being called, hence the `dead_code` allowance, as `bench`.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use rand::Rng;
use rand::rngs::StdRng;

use super::*;

/// The account the daemon benches seed and sync: the first-start admin.
pub const BENCH_USER: &str = "admin@localhost";
/// Its password (`EASD_ADMIN_PASSWORD` at the first start).
pub const BENCH_PASSWORD: &str = "bench-password";

/// The words bench mail and items are written with.
pub const WORDS: &[&str] = &[
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

pub fn words(rng: &mut StdRng, bytes: usize) -> String {
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

pub fn base64_lines(rng: &mut StdRng, raw: usize) -> String {
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

/// One realistic message to `BENCH_USER`: Received/DKIM headers, and text/plain (55 %),
/// multipart/alternative (42 %) or multipart/mixed with a 50 KB attachment (3 %).
pub fn mail_message(rng: &mut StdRng, i: usize) -> Vec<u8> {
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
         \tfor <{BENCH_USER}>; Tue, 1 Sep 2026 10:{2:02}:{3:02} +0000 (UTC)\r\n\
         Received: from [10.0.0.{1}] (client.remote.example [198.51.100.{1}])\r\n\
         \tby mx{1}.remote.example with ESMTPSA; Tue, 1 Sep 2026 10:{2:02}:{3:02} +0000\r\n\
         DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=remote{1}.example;\r\n\
         \ts=sel1; t=1788256800; h=from:to:subject:date:message-id;\r\n\
         \tbh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\r\n\
         \tb=dGhpcyBpcyBub3QgYSByZWFsIHNpZ25hdHVyZSBidXQgaXQgaGFzIHRoZSByaWdodCBzaGFwZSBm\r\n\
         \t b3IgYSBiZW5jaG1hcmsgbWVzc2FnZSBoZWFkZXIgYmxvY2sgb2YgYW4gZW1haWw=\r\n\
         From: {from}\r\nTo: Admin <{BENCH_USER}>\r\nSubject: {subject}\r\n\
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

/// Delivers `messages` (dot-stuffed, with terminator) to `BENCH_USER` on one LMTP connection,
/// pipelining MAIL, RCPT and DATA; returns the number of final 250s.
pub fn lmtp_worker(addr: SocketAddr, messages: &[Vec<u8>], deadline: Instant) -> usize {
    let mut c = LmtpClient::connect(addr);
    c.lhlo();
    let envelope =
        format!("MAIL FROM:<sender@remote.example>\r\nRCPT TO:<{BENCH_USER}>\r\nDATA\r\n");
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

/// What one initial Sync cost.
pub struct SyncFigures {
    pub items: usize,
    pub rounds: usize,
    pub bytes: usize,
    pub wall: Duration,
    pub client: Duration,
    /// Server CPU seconds (user + system) over the sync.
    pub cpu: f64,
    /// The server's VmHWM over the sync (reset before it).
    pub peak_kib: u64,
    pub after_kib: u64,
    pub connections: usize,
}

/// A fresh device's full initial Sync, as `BENCH_USER` with `BENCH_PASSWORD`, of the folder of type
/// `folder_type` (2 the Inbox, 8 the Calendar, 9 Contacts) over one kept-alive
/// connection, with `body` as its BodyPreference (Type, TruncationSize) when given; the
/// server is process `pid`.
pub fn initial_sync(
    (addr, cert, pid): (SocketAddr, &Path, u32),
    device: &str,
    folder_type: u8,
    window: usize,
    body: Option<(u8, Option<u32>)>,
) -> SyncFigures {
    let mut eas = EasClient::new(
        HttpClient::https_to(addr, cert),
        BENCH_USER,
        BENCH_PASSWORD,
        device,
    );
    eas.provision();
    let folder = eas.folder_of_type(folder_type);
    let mut conn = KeepAliveClient::new(addr, cert);
    let coll = |key: &str| {
        let c = SyncColl::new(&folder, key).window(window);
        match body {
            Some((kind, size)) => c.body(kind, size),
            None => c,
        }
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
        let out = SyncOut::parse(c);
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

/// A Zipf-like sampler over `n` ranks (weight 1/(rank+1)): word frequencies of natural text.
pub struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    pub fn new(n: usize) -> Self {
        let mut total = 0.0;
        let cumulative = (0..n)
            .map(|r| {
                total += 1.0 / (r as f64 + 1.0);
                total
            })
            .collect();
        Self { cumulative }
    }

    pub fn sample(&self, rng: &mut StdRng) -> usize {
        let x = rng.r#gen::<f64>() * self.cumulative.last().copied().unwrap_or(1.0);
        self.cumulative
            .partition_point(|c| *c < x)
            .min(self.cumulative.len() - 1)
    }
}

/// `size` words: `common` first (the most frequent ranks), then made-up words of 2–4
/// syllables, none equal to `exclude`.
pub fn vocabulary(rng: &mut StdRng, common: &[&str], size: usize, exclude: &str) -> Vec<String> {
    const ONSETS: &[&str] = &[
        "b", "c", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z", "br",
        "st", "tr", "pl", "gr", "ch", "sh",
    ];
    const VOWELS: &[&str] = &["a", "e", "i", "o", "u", "ai", "ou", "ea"];
    let mut words: Vec<String> = common.iter().map(|w| (*w).to_owned()).collect();
    let mut seen: std::collections::HashSet<String> = words.iter().cloned().collect();
    while words.len() < size {
        let syllables = rng.gen_range(2..=4);
        let mut w = String::new();
        for _ in 0..syllables {
            w.push_str(ONSETS[rng.gen_range(0..ONSETS.len())]);
            w.push_str(VOWELS[rng.gen_range(0..VOWELS.len())]);
        }
        if rng.gen_ratio(1, 3) {
            w.push_str(["n", "r", "s", "t", "x"][rng.gen_range(0..5)]);
        }
        if w != exclude && seen.insert(w.clone()) {
            words.push(w);
        }
    }
    words
}
