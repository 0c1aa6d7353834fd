//! The store's file through the real CLI: `easd store compact` reaches a serving easd
//! (and works on a store no daemon holds), `easd status` reports the sizes, and a kill -9
//! in the middle of a compaction loses nothing.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::*;
use easd::store::items::ItemReads;
use easd::store::model::MessageMeta;
use easd::store::{Store, ops};

const ALICE: &str = "alice@example.com";

#[test]
fn store_compact_reaches_the_serving_easd_and_status_shows_the_sizes() {
    let s = server_with(&[ALICE]);
    for i in 0..5 {
        s.deliver_text(
            ALICE,
            &format!("note {i}"),
            &"words of a message ".repeat(50),
        );
    }
    let status = s.status_json();
    let store = &status["store"];
    let file = store["database_file"].as_u64().expect("database_file");
    assert!(
        file > 0 && store["database_live"].as_u64().unwrap() > 0,
        "{store}"
    );
    assert!(store["database_free"].as_u64().is_some(), "{store}");
    assert!(store["search_index"].as_u64().unwrap() > 0, "{store}");
    // The five small messages packed into one segment.
    assert!(store["blob_files"].as_u64().unwrap() >= 1, "{store}");
    assert!(store["blob_disk"].as_u64().unwrap() >= store["blob_bytes"].as_u64().unwrap());

    let out = run_cli(s.data_dir(), &["store", "compact"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("store compacted:") && said.contains("MiB →"),
        "{said}"
    );
    // The daemon keeps serving: a delivery after the compaction is stored.
    s.deliver_text(ALICE, "after", "still here");
    let text = run_cli(s.data_dir(), &["status"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("store database: ") && text.contains("store blobs: "),
        "{text}"
    );
    // Audited as the command line's.
    let audit = run_cli(s.data_dir(), &["audit"]);
    assert!(String::from_utf8_lossy(&audit.stdout).contains("store_compact"));
}

/// A store of `n` messages with nine in ten deleted, made through the library, no daemon.
fn store_with_deletions(data: &Path, n: u64) -> (u64, Vec<u64>) {
    let store = Store::open(data).unwrap();
    let a = store
        .write_blocking(|ctx| ops::create_account(ctx, ALICE, "A", "h", false))
        .unwrap();
    let account = a.id;
    let ids = insert_messages(&store, account, 0, n, 200, |i| MessageMeta {
        subject: format!("message {i}"),
        preview: "text of the message ".repeat(12),
        search_terms: (0..30).map(|w| format!("t{}w{w}", i % 50)).collect(),
        ..MessageMeta::default()
    });
    let (kept, gone): (Vec<u64>, Vec<u64>) = ids.into_iter().partition(|id| id % 10 == 0);
    delete_messages(&store, account, &gone, 200);
    (account, kept)
}

fn all_there(data: &Path, account: u64, kept: &[u64]) {
    let store = Store::open(data).expect("the store opens after the kill");
    let kept = kept.to_vec();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(store.view(move |snap| {
        assert_eq!(snap.folder_items(account, 1)?.len(), kept.len());
        for id in &kept {
            let item = snap.item(account, 1, *id)?.expect("kept message");
            assert!(item.meta.subject.starts_with("message "));
        }
        Ok::<_, easd::store::StoreError>(())
    }))
    .unwrap();
}

#[test]
fn a_kill_during_compaction_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (account, kept) = store_with_deletions(&data, 4000);
    let before = std::fs::metadata(data.join("easd.redb")).unwrap().len();
    // No daemon: the command compacts the file itself. Killed once it says it started.
    let mut child = Command::new(cli_path())
        .arg("--data")
        .arg(&data)
        .args(["store", "compact"])
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let started = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l.contains("compacting"));
    assert!(started, "easd store compact never said it started");
    child.kill().unwrap();
    child.wait().unwrap();
    all_there(&data, account, &kept);
    // And a compaction run to the end after it shrinks the file.
    let out = run_cli(&data, &["store", "compact"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = std::fs::metadata(data.join("easd.redb")).unwrap().len();
    assert!(after < before, "{before} → {after}");
    all_there(&data, account, &kept);
}

/// The blob files (bodies of 32 KiB and more, a file each) in `data`.
fn blob_files(data: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for dir in std::fs::read_dir(data.join("blobs")).unwrap() {
        let dir = dir.unwrap();
        if dir.file_name().len() == 2 {
            files.extend(
                std::fs::read_dir(dir.path())
                    .unwrap()
                    .map(|f| f.unwrap().path()),
            );
        }
    }
    files.sort();
    files
}

/// A message a phone deleted gives its room back: its blob file goes at the first
/// `easd store compact` once the hour a blob is always kept has passed (the test ages the
/// files instead of waiting), and the message kept is still read whole.
#[test]
fn a_message_deleted_on_the_phone_gives_its_room_back_at_the_next_compaction() {
    use easd::wbxml::tag::airsyncbase as asb;
    let s = server_with(&[ALICE]);
    let attachment = |seed: u32| -> Vec<u8> {
        (0..60_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 13) as u8)
            .collect()
    };
    for (subject, seed) in [("keep", 1), ("drop", 2)] {
        let m = message_with_attachment(ALICE, subject, "scan.pdf", &attachment(seed));
        s.deliver(&[ALICE], &m);
    }
    let mut c = s.eas(ALICE, "gc121").with_version("12.1");
    c.provision();
    let inbox = c.folder_of_type(2);
    let key = c.sync_init(&inbox);
    let (key, adds) = c.sync_all(SyncColl::new(&inbox, &key).window(50));
    let id_of = |subject: &str| {
        let (id, _) = adds
            .iter()
            .find(|(_, e)| text(e, easd::wbxml::tag::email::SUBJECT) == subject)
            .unwrap_or_else(|| panic!("{subject} not synced"));
        id.clone()
    };
    let out = c.sync1(
        &SyncColl::new(&inbox, &key)
            .deletes_as_moves(false)
            .delete(&id_of("drop")),
    );
    out.ok_key();
    let before = blob_files(s.data_dir());
    assert_eq!(before.len(), 2, "{before:?}");

    // Within the hour nothing goes: a put of the same content may be waiting for its commit.
    let out = run_cli(s.data_dir(), &["store", "compact"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("0 files removed"), "{said}");
    assert_eq!(blob_files(s.data_dir()), before);

    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3700);
    for f in &before {
        let f = std::fs::File::options().write(true).open(f).unwrap();
        f.set_modified(hour_ago).unwrap();
    }
    let out = run_cli(s.data_dir(), &["store", "compact"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("1 files removed"), "{said}");
    assert_eq!(blob_files(s.data_dir()).len(), 1);

    // The message kept is read whole, attachment and all.
    let kept = adds
        .iter()
        .find(|(id, _)| *id == id_of("keep"))
        .map(|(_, e)| e)
        .unwrap();
    let file_ref = text(
        kept.find(asb::ATTACHMENTS)
            .and_then(|a| a.find(asb::ATTACHMENT))
            .expect("Attachment"),
        asb::FILE_REFERENCE,
    )
    .to_owned();
    let r = get_attachment(&c, &file_ref);
    r.expect_status(200);
    assert_eq!(&r.body[..], &attachment(1)[..]);
}
