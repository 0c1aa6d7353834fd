//! Contacts and calendar end to end: seeds a real daemon's Contacts with 5,000 contacts
//! (a .vcf import through the control socket: names, phones, e-mail, addresses, company,
//! birthday, a note, a photo on one in twenty) and its Calendar with 2,000 events (an .ics
//! import: one in three weekly or daily series with a count or an end, deleted and
//! changed occurrences, attendees, zones), and its Inbox with mail over LMTP as the
//! yardstick; then runs a fresh device's full initial Sync of each (WindowSize 100) over
//! a kept-alive TLS connection.
//!
//! Prints items/s, server CPU per item and the server's peak RSS (VmHWM, reset before
//! each sync) of each, against the budget of ≤ 32 MiB; the mail Inbox's figure, measured
//! in the same run with the mail bench's messages, is the yardstick.
//!
//! `PIM_BENCH_CONTACTS`, `PIM_BENCH_EVENTS` and `PIM_BENCH_MESSAGES` override the 5,000,
//! 2,000 and 2,000. Loopback only; every loop is bounded, and the server is stopped at the
//! end (also on panic).

// The integration tests' harness; a bench uses only a part of it (items and re-exports).
#[allow(dead_code, unused_imports)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use easd::admin::ops::Request;
use easd::admin::reply::Reply;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use support::{
    BENCH_PASSWORD, BENCH_USER, DaemonProcess, EasClient, HttpClient, SyncFigures, WORDS,
    dot_stuff, initial_sync, lmtp_worker, mail_message, proc_status_kib,
};

const TARGET_PEAK_KIB: u64 = 32 * 1024;
const WINDOW: usize = 100;
/// Seeding over LMTP stops after this long.
const SEED_LIMIT: Duration = Duration::from_secs(10 * 60);

const FIRST: &[&str] = &[
    "Anna", "Ben", "Chloé", "David", "Emma", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Karin",
    "Lukas", "Maria", "Nils", "Olga", "Paul", "Rosa", "Sven", "Tomás", "Ute",
];
const LAST: &[&str] = &[
    "Müller", "Schmidt", "Dubois", "Rossi", "García", "Novak", "Jensen", "Smith", "Kowalski",
    "Nakamura", "O'Brien", "Costa", "Lefèvre", "Weber", "Berg",
];
const CITIES: &[&str] = &[
    "Berlin", "Lyon", "Porto", "Gdańsk", "Leeds", "Graz", "Bergen",
];

fn pick<'a>(rng: &mut StdRng, from: &[&'a str]) -> &'a str {
    from[rng.gen_range(0..from.len())]
}

fn sentence(rng: &mut StdRng, words: usize) -> String {
    (0..words)
        .map(|_| pick(rng, WORDS))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `n` contacts as one vCard 3.0 file.
fn contacts(rng: &mut StdRng, n: usize) -> String {
    use base64::Engine as _;
    let mut out = String::new();
    for i in 0..n {
        let (first, last) = (pick(rng, FIRST), pick(rng, LAST));
        let city = pick(rng, CITIES);
        let _ = write!(
            out,
            "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:bench-contact-{i}\r\nFN:{first} {last}\r\n\
             N:{last};{first};;;\r\nORG:Firm {} GmbH;Dept {}\r\nTITLE:{}\r\n\
             EMAIL;TYPE=INTERNET;TYPE=WORK:{}.{}{i}@firm.example\r\n\
             TEL;TYPE=CELL:+49 170 {:07}\r\nTEL;TYPE=WORK:+49 30 {:07}\r\n\
             ADR;TYPE=WORK:;;Hauptstraße {};{city};;{:05};Germany\r\n\
             BDAY:{}-{:02}-{:02}\r\nNOTE:{}\r\n",
            i % 300,
            i % 12,
            sentence(rng, 2),
            first.to_lowercase(),
            last.to_lowercase(),
            rng.gen_range(0..10_000_000),
            rng.gen_range(0..10_000_000),
            rng.gen_range(1..200),
            rng.gen_range(10_000..99_999),
            rng.gen_range(1950..2005),
            rng.gen_range(1..13),
            rng.gen_range(1..29),
            sentence(rng, 12),
        );
        if i % 3 == 0 {
            let _ = write!(
                out,
                "TEL;TYPE=HOME:+49 30 {:07}\r\nEMAIL;TYPE=INTERNET;TYPE=HOME:{i}@home.example\r\n",
                rng.gen_range(0..10_000_000)
            );
        }
        if i % 20 == 0 {
            // A photo of 6-12 KB, well within the 48 KB of base64 a contact may carry.
            let mut photo = vec![0xFF, 0xD8, 0xFF, 0xE0];
            photo.extend((0..rng.gen_range(6_000..12_000)).map(|_| rng.r#gen::<u8>()));
            let b64 = base64::engine::general_purpose::STANDARD.encode(photo);
            out.push_str("PHOTO;ENCODING=b;TYPE=JPEG:");
            for (n, chunk) in b64.as_bytes().chunks(74).enumerate() {
                if n > 0 {
                    out.push_str("\r\n ");
                }
                out.push_str(std::str::from_utf8(chunk).expect("base64"));
            }
            out.push_str("\r\n");
        }
        out.push_str("END:VCARD\r\n");
    }
    out
}

/// `n` events as one iCalendar file: two in three single, the others weekly or daily
/// series, half of those with a deleted and a changed occurrence.
fn events(rng: &mut StdRng, n: usize) -> String {
    let mut out = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//easd//bench//EN\r\n");
    for i in 0..n {
        let day = rng.gen_range(0..360);
        let (month, dom) = (1 + day / 30, 1 + day % 28);
        let hour = rng.gen_range(7..18);
        let start = format!("2026{month:02}{dom:02}T{hour:02}0000");
        let end = format!("2026{month:02}{dom:02}T{:02}3000", hour + 1);
        let zone = if i % 2 == 0 {
            "Europe/Paris"
        } else {
            "America/New_York"
        };
        let _ = write!(
            out,
            "BEGIN:VEVENT\r\nUID:bench-event-{i}@easd\r\nDTSTAMP:20260101T000000Z\r\n\
             DTSTART;TZID={zone}:{start}\r\nDTEND;TZID={zone}:{end}\r\nSUMMARY:{}\r\n\
             LOCATION:Room {}\r\nDESCRIPTION:{}\r\n",
            sentence(rng, 4),
            i % 40,
            sentence(rng, 20),
        );
        if i % 4 == 0 {
            let _ = write!(
                out,
                "ORGANIZER;CN=Boss:mailto:boss@firm.example\r\n\
                 ATTENDEE;CN=Admin;PARTSTAT=ACCEPTED:mailto:{BENCH_USER}\r\n\
                 ATTENDEE;CN=Guest {i};PARTSTAT=NEEDS-ACTION:mailto:guest{i}@firm.example\r\n"
            );
        }
        let series = i % 3 == 0;
        if series {
            if i % 2 == 0 {
                out.push_str("RRULE:FREQ=WEEKLY;COUNT=20\r\n");
            } else {
                out.push_str("RRULE:FREQ=DAILY;UNTIL=20271231T235959Z\r\n");
            }
        }
        let exceptions = series && i % 6 == 0;
        if exceptions {
            // The second occurrence (a week on) is deleted.
            let _ = writeln!(
                out,
                "EXDATE;TZID={zone}:{}\r",
                shift_days(&start, if i % 2 == 0 { 7 } else { 1 })
            );
        }
        out.push_str("END:VEVENT\r\n");
        if exceptions {
            // The third occurrence moves an hour later.
            let original = shift_days(&start, if i % 2 == 0 { 14 } else { 2 });
            let _ = write!(
                out,
                "BEGIN:VEVENT\r\nUID:bench-event-{i}@easd\r\nDTSTAMP:20260101T000000Z\r\n\
                 RECURRENCE-ID;TZID={zone}:{original}\r\n\
                 DTSTART;TZID={zone}:{}\r\nDTEND;TZID={zone}:{}\r\nSUMMARY:Moved\r\nEND:VEVENT\r\n",
                shift_hours(&original, 1),
                shift_hours(&original, 2),
            );
        }
    }
    out.push_str("END:VCALENDAR\r\n");
    out
}

fn civil(stamp: &str) -> jiff::civil::DateTime {
    stamp.parse().expect("a local date-time")
}

fn shift_days(stamp: &str, days: i64) -> String {
    let t = civil(stamp) + jiff::Span::new().days(days);
    t.strftime("%Y%m%dT%H%M%S").to_string()
}

fn shift_hours(stamp: &str, hours: i64) -> String {
    let t = civil(stamp) + jiff::Span::new().hours(hours);
    t.strftime("%Y%m%dT%H%M%S").to_string()
}

/// Imports `text` as file `name` into `folder` through the daemon's control socket.
fn import(daemon: &DaemonProcess, dir: &Path, name: &str, folder: &str, text: &str) -> Duration {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write the file");
    let t = Instant::now();
    let req = Request::Import {
        email: BENCH_USER.into(),
        folder: folder.into(),
        path,
        progress: false,
        stream_progress: false,
    };
    match daemon.control(&req) {
        Reply::Done { message } => {
            println!("import {name}: {}", message.lines().next().unwrap_or(""))
        }
        other => panic!("import {name}: {other:?}"),
    }
    t.elapsed()
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn count(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn report(what: &str, f: &SyncFigures) -> bool {
    let rate = f.items as f64 / f.wall.as_secs_f64();
    let ok = f.peak_kib <= TARGET_PEAK_KIB;
    println!(
        "initial Sync of {what}, WindowSize {WINDOW}: {} items in {} requests, {:.2} s -> {rate:.0} items/s \
         ({:.1} MiB WBXML; client decode {:.2} s)",
        f.items,
        f.rounds,
        f.wall.as_secs_f64(),
        f.bytes as f64 / 1048576.0,
        f.client.as_secs_f64(),
    );
    println!(
        "  server CPU {:.2} s = {:.0} µs per item; peak RSS {:.2} MiB ({}), RSS after {:.2} MiB",
        f.cpu,
        f.cpu * 1e6 / f.items.max(1) as f64,
        mib(f.peak_kib),
        if ok {
            "PASS <= 32 MiB"
        } else {
            "MISS > 32 MiB"
        },
        mib(f.after_kib),
    );
    ok
}

fn main() {
    let (n_contacts, n_events, n_messages) = (
        count("PIM_BENCH_CONTACTS", 5_000),
        count("PIM_BENCH_EVENTS", 2_000),
        count("PIM_BENCH_MESSAGES", 2_000),
    );
    let bin = support::cli_path();
    let daemon = DaemonProcess::start(&bin, "", &[("EASD_ADMIN_PASSWORD", BENCH_PASSWORD)], true);
    let pid = daemon.pid();
    let cert = daemon.cert_pem();
    let addr = daemon.https;
    // The first login's argon2 run is not what the syncs cost.
    EasClient::new(
        HttpClient::https_to(addr, &cert),
        BENCH_USER,
        BENCH_PASSWORD,
        "BENCHPIM0",
    )
    .provision();
    let login_hwm = proc_status_kib(pid, "VmHWM");

    let files = tempfile::tempdir().expect("temp dir");
    let mut rng = StdRng::seed_from_u64(20_261_207);
    let vcf = contacts(&mut rng, n_contacts);
    let ics = events(&mut rng, n_events);
    let t = import(&daemon, files.path(), "contacts.vcf", "Contacts", &vcf);
    println!(
        "  {n_contacts} contacts ({:.1} MiB of vCard) in {:.2} s",
        vcf.len() as f64 / 1048576.0,
        t.as_secs_f64()
    );
    let t = import(&daemon, files.path(), "calendar.ics", "Calendar", &ics);
    println!(
        "  {n_events} events ({:.1} MiB of iCalendar) in {:.2} s",
        ics.len() as f64 / 1048576.0,
        t.as_secs_f64()
    );
    let lmtp = daemon.lmtp.expect("LMTP listener");
    let seeded: Vec<Vec<u8>> = (0..n_messages)
        .map(|i| {
            let mut m = dot_stuff(&mail_message(&mut rng, i));
            m.extend_from_slice(b".\r\n");
            m
        })
        .collect();
    let delivered = lmtp_worker(lmtp, &seeded, Instant::now() + SEED_LIMIT);
    println!("seeded {delivered} messages over LMTP");
    println!(
        "server RSS after seeding {:.2} MiB (argon2 login peak {:.2} MiB, not counted)",
        mib(proc_status_kib(pid, "VmRSS")),
        mib(login_hwm)
    );

    let server = (addr, cert.as_path(), pid);
    let mut all_ok = true;
    let c = initial_sync(server, "BENCHPIMCNT", 9, WINDOW, None);
    assert_eq!(c.items, n_contacts, "every contact synced");
    all_ok &= report(&format!("{n_contacts} contacts"), &c);
    let e = initial_sync(server, "BENCHPIMCAL", 8, WINDOW, None);
    assert_eq!(e.items, n_events, "every event synced");
    all_ok &= report(&format!("a calendar of {n_events} events"), &e);
    let m = initial_sync(server, "BENCHPIMMAIL", 2, WINDOW, Some((2, Some(5120))));
    report("the Inbox (yardstick, the mail bench's sync)", &m);
    let rate = |f: &SyncFigures| f.items as f64 / f.wall.as_secs_f64();
    println!(
        "relative to mail: contacts {:.2}x, events {:.2}x the Inbox's items/s",
        rate(&c) / rate(&m),
        rate(&e) / rate(&m)
    );
    println!(
        "budget peak RSS <= 32 MiB during the contacts and calendar syncs: {}",
        if all_ok { "PASS" } else { "MISS" }
    );
    drop(daemon);
}
