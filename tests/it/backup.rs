//! Backup and restore through the real CLI: `easd backup` of a serving easd while a
//! delivery is under way, `easd restore` into a new data directory, and a new easd on it
//! that the old devices and new ones find unchanged.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::support::*;
use easd::admin::ops::Request;
use easd::admin::reply::Reply;
use easd::wbxml::Element;
use easd::wbxml::tag::{airsyncbase as asb, email as em, folderhierarchy as fh};

const ALICE: &str = "alice@example.com";
const BOB: &str = "bob@example.com";
const INBOX: u8 = 2;
/// Deliveries made while the backup runs.
const DURING: usize = 40;

// ---- helpers ----------------------------------------------------------------------------

/// Runs the real binary on `data`.
fn easd(data: &Path, args: &[&str]) -> Output {
    run_cli(data, args)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[track_caller]
fn succeeded(out: &Output) -> String {
    assert!(out.status.success(), "easd failed: {}", stderr(out));
    format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(out))
}

#[track_caller]
fn refused(out: &Output, expected: &str) {
    assert!(!out.status.success(), "easd did not refuse");
    assert!(stderr(out).contains(expected), "{}", stderr(out));
}

fn account_count(s: &TestServer) -> usize {
    match s.control(Request::UserList) {
        Reply::Users { users } => users.len(),
        other => panic!("user list answered {other:?}"),
    }
}

fn subject(data: &Element) -> String {
    data.text_of(em::SUBJECT).unwrap_or("").to_owned()
}

fn body_text(data: &Element) -> String {
    data.find(asb::BODY)
        .and_then(|b| b.text_of(asb::DATA))
        .unwrap_or_else(|| panic!("no Body/Data in {data:?}"))
        .to_owned()
}

/// Syncs a folder from key 0 to the end with plain-text bodies: the key and every Add.
fn full_sync(c: &EasClient, folder: &str) -> (String, Vec<(String, Element)>) {
    let k = c.sync_init(folder);
    c.sync_all(SyncColl::new(folder, &k).window(512).body(1, None))
}

/// Delivers "during N" messages to alice one after another on another thread; returns the
/// thread and a counter of deliveries done.
fn deliver_in_background(
    lmtp: std::net::SocketAddr,
) -> (std::thread::JoinHandle<()>, Arc<AtomicUsize>) {
    let done = Arc::new(AtomicUsize::new(0));
    let counter = done.clone();
    let thread = std::thread::spawn(move || {
        for n in 0..DURING {
            let mut c = LmtpClient::connect(lmtp);
            c.lhlo();
            let msg = text_message("s@remote.test", ALICE, &format!("during {n}"), "later");
            let (rcpt, data) = c.send("s@remote.test", &[ALICE], &msg);
            assert!(rcpt.iter().chain(&data).all(|r| r.code == 250), "{data:?}");
            c.quit();
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    (thread, done)
}

// ---- tests ------------------------------------------------------------------------------

#[test]
fn a_backup_of_a_serving_easd_restores_into_a_server_devices_find_unchanged() {
    let s = start_server(|_| {});
    s.add_user(ALICE);
    s.add_user(BOB);
    for n in 0..5 {
        s.deliver_text(ALICE, &format!("before {n}"), &format!("body before {n}"));
    }
    let attachment = pattern(3000);
    s.deliver(
        &[ALICE],
        &message_with_attachment(ALICE, "with file", "data.bin", &attachment),
    );
    s.deliver_text(BOB, "for bob", "body for bob");

    // A provisioned device with a created folder and a synced Inbox.
    let mut old = s.eas(ALICE, "olddevice");
    let policy_key = old.provision();
    let inbox = old.folder_of_type(INBOX);
    let (key, _) = old.folder_sync_ok("0");
    let created = old.folder_create(&key, "0", "Projects", "12");
    assert_eq!(created.text_of(fh::STATUS), Some("1"), "{created:?}");
    let folder_key = text(&created, fh::SYNC_KEY).to_owned();
    let (inbox_key, adds) = full_sync(&old, &inbox);
    assert_eq!(adds.len(), 6);

    // The backup, through the control socket, while deliveries go on.
    let work = tempfile::tempdir().expect("temp dir");
    let archive = work.path().join("easd.backup");
    let (deliveries, delivered) = deliver_in_background(s.lmtp_addr());
    wait_for("three deliveries before the backup", || {
        delivered.load(Ordering::SeqCst) >= 3
    });
    let started = std::time::Instant::now();
    let said = succeeded(&easd(
        s.data_dir(),
        &["backup", archive.to_str().expect("UTF-8 path")],
    ));
    println!("{said} (CLI wall time {:?})", started.elapsed());
    deliveries.join().expect("deliveries");
    let accounts = format!("{} accounts", account_count(&s));
    assert!(said.contains(&accounts), "{said}");
    assert!(!Path::new(&format!("{}.tmp", archive.display())).exists());

    let data = work.path().join("restored");
    let said = succeeded(&easd(
        &data,
        &["restore", archive.to_str().expect("UTF-8 path")],
    ));
    assert!(said.contains(&accounts), "{said}");
    let s2 = start_server(|c| c.data = data.clone());

    // The old device: its policy key, hierarchy key and Inbox key still hold.
    let mut old2 = s2.eas(ALICE, "olddevice");
    old2.policy_key = Some(policy_key);
    let (_, r) = old2.folder_sync_ok(&folder_key);
    assert_eq!(changes_of(&r).count, 0, "{r:?}");
    let out = old2.sync1(&SyncColl::new(&inbox, &inbox_key).window(512));
    out.ok_key();
    let since: BTreeSet<String> = out.adds.iter().map(|(_, d)| subject(d)).collect();

    // A new device sees what the backup held: everything from before, and the deliveries
    // made during it up to some point, in order, each whole.
    let mut fresh = s2.eas(ALICE, "freshdevice");
    fresh.provision();
    let (_, r) = fresh.folder_sync_ok("0");
    assert!(changes_of(&r).adds.iter().any(|f| f.name == "Projects"));
    let (_, all) = full_sync(&fresh, &inbox);
    let subjects: BTreeSet<String> = all.iter().map(|(_, d)| subject(d)).collect();
    assert_eq!(subjects.len(), all.len(), "duplicates: {subjects:?}");
    let during = subjects.iter().filter(|s| s.starts_with("during")).count();
    assert!(during >= 3, "{subjects:?}");
    let expected: BTreeSet<String> = (0..5)
        .map(|n| format!("before {n}"))
        .chain(["with file".to_owned()])
        .chain((0..during).map(|n| format!("during {n}")))
        .collect();
    assert_eq!(subjects, expected);
    assert_eq!(since, (0..during).map(|n| format!("during {n}")).collect());
    for (_, d) in &all {
        let subject = subject(d);
        if let Some(n) = subject.strip_prefix("before ") {
            assert!(body_text(d).contains(&format!("body before {n}")), "{d:?}");
        } else if subject.starts_with("during") {
            assert!(body_text(d).contains("later"), "{d:?}");
        }
    }
    let (_, with_file) = all
        .iter()
        .find(|(_, d)| subject(d) == "with file")
        .expect("the message with the attachment");
    let file_ref = text(
        with_file
            .find_path(&[asb::ATTACHMENTS, asb::ATTACHMENT])
            .expect("an attachment"),
        asb::FILE_REFERENCE,
    );
    assert_eq!(
        fresh.fetch_attachment(file_ref),
        ("1".to_owned(), Some(attachment.clone()))
    );

    let mut bob = s2.eas(BOB, "bobdevice");
    bob.provision();
    let bob_inbox = bob.folder_of_type(INBOX);
    let (_, bobs) = full_sync(&bob, &bob_inbox);
    assert_eq!(bobs.len(), 1);
    assert_eq!(subject(&bobs[0].1), "for bob");
    assert!(body_text(&bobs[0].1).contains("body for bob"));
}

#[test]
fn restore_refuses_a_running_server_a_busy_directory_and_a_damaged_archive() {
    let s = start_server(|_| {});
    s.add_user(ALICE);
    s.deliver_text(ALICE, "kept", "body");
    let work = tempfile::tempdir().expect("temp dir");
    // A relative FILE is the caller's, not the daemon's.
    let out = Command::new(cli_path())
        .current_dir(work.path())
        .arg("--data")
        .arg(s.data_dir())
        .args(["backup", "rel.backup"])
        .env_remove("EASD_DATA")
        .output()
        .expect("run easd");
    succeeded(&out);
    let archive = work.path().join("rel.backup");
    let file = archive.to_str().expect("UTF-8 path");

    refused(
        &easd(s.data_dir(), &["restore", file, "--force"]),
        "is running",
    );

    let busy = work.path().join("busy");
    std::fs::create_dir(&busy).expect("mkdir");
    std::fs::write(busy.join("old.txt"), "old").expect("write");
    refused(&easd(&busy, &["restore", file]), "--force");
    assert!(busy.join("old.txt").exists());
    let said = succeeded(&easd(&busy, &["restore", file, "--force"]));
    let accounts = format!("{} accounts, 1 items", account_count(&s));
    assert!(
        said.contains(&accounts) && said.contains("before-restore"),
        "{said}"
    );
    assert!(busy.join("easd.redb").exists() && !busy.join("old.txt").exists());

    let mut bytes = std::fs::read(&archive).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    let damaged = work.path().join("damaged.backup");
    std::fs::write(&damaged, &bytes).expect("write");
    let fresh = work.path().join("fresh");
    refused(
        &easd(&fresh, &["restore", damaged.to_str().expect("UTF-8")]),
        "checksum mismatch",
    );
    assert!(!fresh.exists());
}
