//! Bounded memory whatever one client sends, over real HTTPS: request bodies draw from the
//! memory budget (a short wait, then 503 with Retry-After, counted) and large ones spool to
//! disk while they arrive; ItemOperations answers within `[limits] max_response` with
//! per-item statuses and streams its multipart parts from files.
//!
//! The server runs in the test's process, so its memory is the process's: the RSS test runs
//! again alone in a child process of the test binary and reads that process's
//! `/proc/PID/status`.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::support::*;
use base64::Engine as _;
use easd::wbxml::{
    self, Element,
    tag::{
        airsync as air, airsyncbase as asb, composemail as cm, email as em, itemoperations as io,
        search as sr,
    },
};

const ALICE: &str = "alice@example.com";
const CAROL: &str = "carol@remote.test";
const INBOX: u8 = 2;
const MIB: usize = 1024 * 1024;

// ---- helpers ----------------------------------------------------------------------------

/// ItemOperations with `n` copies of `fetch`.
fn fetches(fetch: &Element, n: usize) -> Element {
    let mut root = Element::new(io::ITEM_OPERATIONS);
    for _ in 0..n {
        root.push(fetch.clone());
    }
    root
}

fn fetch_file(file_ref: &str, range: Option<&str>) -> Element {
    let mut f = Element::new(io::FETCH)
        .text_child(io::STORE, "Mailbox")
        .text_child(asb::FILE_REFERENCE, file_ref);
    if let Some(r) = range {
        f.push(Element::new(io::OPTIONS).text_child(io::RANGE, r));
    }
    f
}

/// A Fetch of the whole message as MIME (BodyPreference Type 4).
fn fetch_mime(folder: &str, server_id: &str) -> Element {
    Element::new(io::FETCH)
        .text_child(io::STORE, "Mailbox")
        .text_child(air::COLLECTION_ID, folder)
        .text_child(air::SERVER_ID, server_id)
        .child(
            Element::new(io::OPTIONS)
                .text_child(air::MIME_SUPPORT, "2")
                .child(Element::new(asb::BODY_PREFERENCE).text_child(asb::TYPE, "4")),
        )
}

/// The Status of every Response/Fetch, in order (the global Status must be 1).
#[track_caller]
fn fetch_statuses(r: &Element) -> Vec<String> {
    assert_eq!(r.text_of(io::STATUS), Some("1"), "{r:?}");
    r.find(io::RESPONSE)
        .expect("Response")
        .find_all(io::FETCH)
        .map(|f| text(f, io::STATUS).to_owned())
        .collect()
}

/// Delivers a message with `bytes` attached to alice and syncs her Inbox: (Inbox id, the
/// message's ServerId, the attachment's FileReference).
#[track_caller]
fn large_item(s: &TestServer, a: &EasClient, bytes: &[u8]) -> (String, String, String) {
    s.deliver(
        &[ALICE],
        &message_with_attachment(ALICE, "large", "large.bin", bytes),
    );
    let inbox = a.folder_of_type(INBOX);
    let key = a.sync_init(&inbox);
    let (_, adds) = a.sync_all(SyncColl::new(&inbox, &key).window(10));
    let (id, data) = adds.first().expect("the message");
    let file_ref = data
        .find_path(&[asb::ATTACHMENTS, asb::ATTACHMENT])
        .map(|att| text(att, asb::FILE_REFERENCE).to_owned())
        .expect("an attachment");
    (inbox, id.clone(), file_ref)
}

fn refused(s: &TestServer, limit: &str) -> u64 {
    s.status_json()["refused"][limit]
        .as_u64()
        .expect("a refusal count")
}

fn budget_in_use(s: &TestServer) -> u64 {
    s.status_json()["memory_budget"]["in_use"]
        .as_u64()
        .expect("in_use")
}

/// Spool files (unlinked, still open) this process holds in `dir`.
fn open_spool_files(dir: &std::path::Path) -> usize {
    let dir = dir.to_string_lossy().into_owned();
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|p| {
            let p = p.to_string_lossy();
            p.starts_with(&dir) && p.ends_with("(deleted)")
        })
        .count()
}

/// One chunk of a chunked body.
fn chunk(stream: &mut impl Write, bytes: &[u8]) {
    stream
        .write_all(format!("{:x}\r\n", bytes.len()).as_bytes())
        .expect("chunk size");
    stream.write_all(bytes).expect("chunk");
    stream.write_all(b"\r\n").expect("chunk end");
    stream.flush().expect("flush");
}

// ---- responses ------------------------------------------------------------------------

#[test]
fn sixty_four_fetches_of_a_large_item_answer_per_item_within_max_response() {
    // It reads the peak RSS of its process, which no other test may share.
    if !alone_in_a_process(
        "memory::sixty_four_fetches_of_a_large_item_answer_per_item_within_max_response",
    ) {
        return;
    }
    let s = start_server(|c| {
        c.limits.max_response = 8 * MIB;
        c.limits.memory_budget_mib = 48;
    });
    s.add_user(ALICE);
    let a = s.device(ALICE, "bigfetch");
    let bytes = pattern(4 * MIB);
    let (inbox, id, file_ref) = large_item(&s, &a, &bytes);

    let pid = std::process::id();
    let before_kib = proc_status_kib(pid, "VmRSS");
    assert!(reset_peak_rss(pid), "cannot reset VmHWM");

    // Inline: the first 4 MiB attachment (5.3 MiB of base64) fits the 8 MiB cap, the
    // other 63 get Status 11 instead of a 340 MiB response.
    let r = a.call("ItemOperations", &fetches(&fetch_file(&file_ref, None), 64));
    let st = fetch_statuses(&r);
    assert_eq!(st.len(), 64);
    assert_eq!(st[0], "1", "{st:?}");
    assert!(st[1..].iter().all(|s| s == "11"), "{st:?}");
    let data = r
        .find_path(&[io::RESPONSE, io::FETCH, io::PROPERTIES, io::DATA])
        .and_then(Element::text)
        .expect("Data of the first Fetch");
    let got = base64::engine::general_purpose::STANDARD
        .decode(data)
        .expect("base64");
    assert!(got == bytes, "the fetched attachment differs");
    drop(r);

    // The whole message as MIME, the same way.
    let r = a.call("ItemOperations", &fetches(&fetch_mime(&inbox, &id), 64));
    let st = fetch_statuses(&r);
    assert_eq!(st[0], "1", "{st:?}");
    assert!(st[1..].iter().all(|s| s == "11"), "{st:?}");
    drop(r);

    // Multipart: two 4 MiB parts fill the cap, streamed from their spool files.
    let resp = a.post_raw(
        &a.query("ItemOperations", None),
        &[("MS-ASAcceptMultiPart", "T".to_owned())],
        wbxml::encode(&fetches(&fetch_file(&file_ref, None), 64)),
    );
    resp.expect_status(200);
    let parts = parse_multipart(&resp.body);
    assert_eq!(parts.len(), 3);
    assert!(
        parts[1] == &bytes[..] && parts[2] == &bytes[..],
        "parts differ"
    );
    let root = wbxml::decode(parts[0], &wbxml::Limits::default()).expect("part 0 is WBXML");
    let st = fetch_statuses(&root);
    assert_eq!(&st[..3], ["1", "1", "11"], "{st:?}");
    let part_numbers: Vec<&str> = root
        .find(io::RESPONSE)
        .expect("Response")
        .find_all(io::FETCH)
        .filter_map(|f| f.find(io::PROPERTIES))
        .map(|p| text(p, io::PART))
        .collect();
    assert_eq!(part_numbers, ["1", "2"]);
    drop(resp);

    // Without the cap these three requests would have built over 850 MiB.
    let peak_kib = proc_status_kib(pid, "VmHWM");
    let rise_mib = peak_kib.saturating_sub(before_kib) / 1024;
    assert!(rise_mib < 64, "RSS rose by {rise_mib} MiB");
    assert_eq!(refused(&s, "response_size"), 3);
    // Everything the responses held went back to the budget.
    wait_for("the budget is free", || budget_in_use(&s) == 0);
}

#[test]
fn a_large_attachment_comes_in_ranges_and_multipart_parts_are_byte_exact() {
    let s = start_server(|c| c.limits.max_response = MIB);
    s.add_user(ALICE);
    let a = s.device(ALICE, "ranges");
    let bytes = pattern(3 * MIB + 12_345);
    let (_, _, file_ref) = large_item(&s, &a, &bytes);

    // Whole, it is over the cap: Status 11.
    let r = a.call("ItemOperations", &fetches(&fetch_file(&file_ref, None), 1));
    assert_eq!(fetch_statuses(&r), ["11"]);

    // In 512 KiB ranges (base64 inside the 1 MiB cap) it comes back whole.
    let mut got = Vec::new();
    let step = 512 * 1024;
    while got.len() < bytes.len() {
        let range = format!("{}-{}", got.len(), got.len() + step - 1);
        let r = a.call(
            "ItemOperations",
            &fetches(&fetch_file(&file_ref, Some(&range)), 1),
        );
        assert_eq!(fetch_statuses(&r), ["1"], "{range}");
        let props = r
            .find_path(&[io::RESPONSE, io::FETCH, io::PROPERTIES])
            .expect("Properties");
        assert_eq!(text(props, io::TOTAL), bytes.len().to_string());
        let shown = text(props, io::RANGE).to_owned();
        let piece = base64::engine::general_purpose::STANDARD
            .decode(text(props, io::DATA))
            .expect("base64");
        let end = (got.len() + step).min(bytes.len());
        assert_eq!(shown, format!("{}-{}", got.len(), end - 1));
        got.extend_from_slice(&piece);
    }
    assert!(got == bytes, "the ranges do not make the attachment");

    // Multipart ranges: the parts are the exact bytes, past the stream buffer's size.
    let mut root = Element::new(io::ITEM_OPERATIONS);
    root.push(fetch_file(&file_ref, Some("0-99999")));
    root.push(fetch_file(&file_ref, Some("3000000-3158072")));
    let resp = a.post_raw(
        &a.query("ItemOperations", None),
        &[("MS-ASAcceptMultiPart", "T".to_owned())],
        wbxml::encode(&root),
    );
    resp.expect_status(200);
    let parts = parse_multipart(&resp.body);
    assert_eq!(parts.len(), 3);
    assert!(parts[1] == &bytes[..100_000], "part 1 differs");
    assert!(parts[2] == &bytes[3_000_000..=3_158_072], "part 2 differs");
}

/// One page of a Mailbox Search for `word` with MIME bodies: (Range, Total, subjects).
fn search_page(c: &EasClient, word: &str, range: &str) -> (Option<String>, String, Vec<String>) {
    let store = c.search_store(
        word,
        &[
            Element::with_text(sr::RANGE, range),
            Element::with_text(air::MIME_SUPPORT, "2"),
            Element::new(asb::BODY_PREFERENCE).text_child(asb::TYPE, "4"),
        ],
    );
    let subjects = store
        .find_all(sr::RESULT)
        .map(|res| text(res.find(sr::PROPERTIES).expect("Properties"), em::SUBJECT).to_owned())
        .collect();
    (
        store.text_of(sr::RANGE).map(str::to_owned),
        text(&store, sr::TOTAL).to_owned(),
        subjects,
    )
}

#[test]
fn search_results_stop_within_max_response_and_the_rest_comes_by_range() {
    let s = start_server(|c| c.limits.max_response = 3 * MIB);
    s.add_user(ALICE);
    let a = s.device(ALICE, "searcher");
    for i in 0..3 {
        s.deliver(
            &[ALICE],
            &message_with_attachment(ALICE, &format!("quarterly {i}"), "q.bin", &pattern(MIB)),
        );
    }
    // Three 1.4 MiB messages as MIME do not fit a 3 MiB response: fewer come, Range says
    // which, and the client pages on from there.
    let mut got = Vec::new();
    let mut pages = 0;
    while got.len() < 3 {
        let first = got.len();
        let (range, total, subjects) = search_page(&a, "quarterly", &format!("{first}-9"));
        assert_eq!(total, "3");
        assert!(!subjects.is_empty(), "page from {first} is empty");
        assert_eq!(
            range,
            Some(format!("{first}-{}", first + subjects.len() - 1))
        );
        got.extend(subjects);
        pages += 1;
    }
    assert!(pages > 1, "all three came in one response");
    got.sort();
    assert_eq!(got, ["quarterly 0", "quarterly 1", "quarterly 2"]);
    assert!(refused(&s, "response_size") >= 1);
}

// ---- request bodies ---------------------------------------------------------------------

#[test]
fn uploads_beyond_the_budget_wait_briefly_then_get_503_with_retry_after() {
    // Bodies up to 1 MiB stay in memory; the budget holds 1 MiB.
    let s = start_server(|c| {
        c.limits.memory_budget_mib = 1;
        c.limits.spool_over = MIB;
        c.limits.max_body = 4 * MIB;
    });
    s.add_user(ALICE);
    let a = s.device(ALICE, "uploader");
    let cert = s.data_dir().join("tls").join("cert.pem");
    let body = vec![b'x'; 700 * 1024];

    // One chunked upload sends 700 KiB and holds.
    let mut held = raw_tls(s.https_addr(), &cert);
    held.write_all(chunked_head(&a, "Sync").as_bytes())
        .expect("head");
    chunk(&mut held, &body);
    wait_for("the held body is in the budget", || {
        budget_in_use(&s) >= body.len() as u64
    });

    // A second chunked one does not fit: after a short wait, 503 with Retry-After.
    let mut second = raw_tls(s.https_addr(), &cert);
    second
        .write_all(chunked_head(&a, "Sync").as_bytes())
        .expect("head");
    let started = Instant::now();
    chunk(&mut second, &body);
    let head = read_raw_head(&mut second);
    assert!(head.starts_with("HTTP/1.1 503 "), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("retry-after: 10\r\n"),
        "{head}"
    );
    assert!(started.elapsed() >= Duration::from_secs(1), "no wait");

    // So does one with a Content-Length, before the client is asked for its body.
    let r = a.post_raw(&a.query("Sync", None), &[], body.clone());
    r.expect_status(503);
    assert_eq!(r.header("retry-after"), Some("10"));
    assert_eq!(refused(&s, "memory_budget"), 2);

    // The held upload ends: it is answered (not WBXML: 400) and the budget is free again.
    held.write_all(b"0\r\n\r\n").expect("last chunk");
    let head = read_raw_head(&mut held);
    assert!(head.starts_with("HTTP/1.1 400 "), "{head}");
    wait_for("the budget is free", || budget_in_use(&s) == 0);
    // And the same upload now goes through.
    a.post_raw(&a.query("Sync", None), &[], body)
        .expect_status(400);
}

#[test]
fn large_uploads_are_spooled_while_they_arrive_and_loaded_one_by_one() {
    // Four held 900 KiB uploads against a 1 MiB budget: on disk, not in memory.
    let s = start_server(|c| {
        c.limits.memory_budget_mib = 1;
        c.limits.max_body = 4 * MIB;
    });
    s.add_user(ALICE);
    let a = s.device(ALICE, "spooler");
    let cert = s.data_dir().join("tls").join("cert.pem");
    let spool_dir = s.data_dir().join("tmp");
    let body = vec![b'y'; 900 * 1024];
    let mut uploads: Vec<_> = (0..4)
        .map(|_| {
            let mut c = raw_tls(s.https_addr(), &cert);
            c.write_all(chunked_head(&a, "Sync").as_bytes())
                .expect("head");
            for piece in body.chunks(300 * 1024) {
                chunk(&mut c, piece);
            }
            c
        })
        .collect();
    wait_for("four spooled bodies", || open_spool_files(&spool_dir) == 4);
    assert_eq!(budget_in_use(&s), 0);
    // Each, once complete, is loaded within the budget and answered.
    for c in &mut uploads {
        c.write_all(b"0\r\n\r\n").expect("last chunk");
        let head = read_raw_head(c);
        assert!(head.starts_with("HTTP/1.1 400 "), "{head}");
    }
    wait_for("the spool files are gone", || {
        open_spool_files(&spool_dir) == 0
    });
    assert_eq!(refused(&s, "memory_budget"), 0);
}

#[test]
fn a_spooled_large_send_mail_sends_the_exact_bytes() {
    let sink = SmtpSink::start();
    let s = start_server(|c| sink.configure(c));
    s.add_user(ALICE);
    let a = s.device(ALICE, "sender");
    let line = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!\r\n";
    let message = format!(
        "From: Alice <{ALICE}>\r\nTo: <{CAROL}>\r\nSubject: large\r\n\
         Date: Tue, 1 Sep 2026 10:00:00 +0000\r\nMessage-ID: <{}@test.example>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n{}",
        unique_token(),
        line.repeat(2 * MIB / line.len())
    )
    .into_bytes();
    // Over spool_over (256 KiB by default): it goes to a spool file as it arrives.
    assert!(message.len() > s.config().limits.spool_over);
    let r = a.post(
        "SendMail",
        Some(
            &Element::new(cm::SEND_MAIL)
                .text_child(cm::CLIENT_ID, unique_token())
                .child(Element::with_opaque(cm::MIME, message.clone())),
        ),
    );
    r.expect_status(200);
    assert!(r.body.is_empty(), "{:?}", r.text());
    let sent = sink.messages();
    assert_eq!(sent.len(), 1);
    // Every byte as sent, and nothing more (the message's own final CRLF ends DATA).
    assert!(sent[0].data == message, "the relayed message differs");
}
