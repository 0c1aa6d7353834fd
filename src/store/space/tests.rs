use std::time::{Duration, Instant};

use super::super::model::{Flags, MessageMeta};
use super::super::{BlobId, Store, StoreError, items, ops};
use super::{AutoCompact, StoreSizes};
use crate::store::items::ItemReads;

/// Runs `f` to completion on a runtime of its own (the store tests' async calls).
pub(in crate::store) fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Delivers `n` messages of a few KiB of metadata and index terms each to a new account's
/// Inbox; answers the account and the ids.
fn fill(store: &Store, email: &'static str, n: u64) -> (u64, Vec<u64>) {
    let a = store
        .write_blocking(move |ctx| ops::create_account(ctx, email, "T", "h", false))
        .unwrap();
    (a.id, deliver(store, a.id, 0, n))
}

fn deliver(store: &Store, account: u64, from: u64, n: u64) -> Vec<u64> {
    let mut ids = Vec::new();
    for batch in (from..from + n).collect::<Vec<_>>().chunks(100) {
        let batch = batch.to_vec();
        ids.extend(
            store
                .write_blocking(move |ctx| {
                    let mut ids = Vec::new();
                    for &i in &batch {
                        let meta = meta(i);
                        let blob = BlobId::of(format!("message {i}").as_bytes());
                        ids.push(items::insert(ctx, account, 1, blob, meta, Flags::default())?.id);
                    }
                    Ok(ids)
                })
                .unwrap(),
        );
    }
    ids
}

fn meta(i: u64) -> MessageMeta {
    MessageMeta {
        received: 1_000_000 + i as i64,
        subject: format!("Report number {i} on the quarterly figures"),
        preview: format!("{i} ").repeat(60),
        search_terms: (0..40).map(|w| format!("w{}x{}", i % 500, w)).collect(),
        ..MessageMeta::default()
    }
}

/// Deletes the messages `ids` of the Inbox of `account`, 100 per transaction.
pub(in crate::store) fn delete(store: &Store, account: u64, ids: &[u64]) {
    for batch in ids.chunks(100) {
        let batch = batch.to_vec();
        store
            .write_blocking(move |ctx| {
                for &id in &batch {
                    items::delete(ctx, account, 1, id)?;
                }
                Ok(())
            })
            .unwrap();
    }
}

fn file(store: &Store) -> u64 {
    store.database_bytes().unwrap()
}

#[test]
fn sizes_report_the_file_its_free_space_the_index_and_the_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (account, ids) = fill(&store, "sizes@example.com", 500);
    // Two small bodies packed into the segment the 500 messages went to, one large body
    // in a file of its own.
    store.blobs().put(b"one").unwrap();
    store.blobs().put(&[7u8; 5000]).unwrap();
    let large: Vec<u8> = (0..40_000u32).map(|i| (i * 7919 % 251) as u8).collect();
    store.blobs().put(&large).unwrap();
    // Being written, not stored: not counted.
    std::fs::write(dir.path().join("blobs/tmp/partial"), b"xx").unwrap();
    let full: StoreSizes = block_on(store.sizes()).unwrap();
    assert_eq!(full.database_file, file(&store));
    // On disk: the pages written, not the length redb extended the file to ahead of use.
    assert!(
        full.database_disk > 0 && full.database_disk <= full.database_file,
        "{full:?}"
    );
    assert!(full.database_live > 500 * 300, "{full:?}");
    assert!(
        full.search_index > 0 && full.search_index < full.database_live + full.database_metadata,
        "{full:?}"
    );
    assert!(
        full.database_live + full.database_metadata + full.database_free <= full.database_file,
        "{full:?}"
    );
    assert_eq!(full.blob_files, 2, "{full:?}");
    assert!(full.blob_bytes > 40_000, "{full:?}");
    assert!(full.blob_disk >= 2 * 4096);
    assert_eq!(full.total_disk(), full.database_disk + full.blob_disk);
    // Kept for a while: deleting does not show until it is measured again.
    delete(&store, account, &ids);
    assert_eq!(block_on(store.sizes()).unwrap(), full);
    // Compacting measures afresh.
    block_on(store.compact()).unwrap();
    let after = block_on(store.sizes()).unwrap();
    assert!(
        after.database_live < full.database_live && after.database_file < full.database_file,
        "{full:?} then {after:?}"
    );
    assert_eq!(after.database_file, file(&store));
}

#[test]
fn space_freed_by_deleting_is_reused_by_the_next_deliveries() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (account, ids) = fill(&store, "reuse@example.com", 1500);
    let full = file(&store);
    delete(&store, account, &ids);
    // Everything deleted: redb gives the free end of the file back.
    assert!(file(&store) < full);
    let ids = deliver(&store, account, 1500, 1500);
    let again = file(&store);
    // Refilled, it grows again by redb's own steps, to a bounded size...
    assert!(again <= full * 3 / 2, "{full} then {again}");
    // ...which later cycles of the same amount reuse: the file does not grow any more.
    let mut ids = ids;
    for from in [3000, 4500] {
        delete(&store, account, &ids);
        ids = deliver(&store, account, from, 1500);
        let now = file(&store);
        assert!(now <= again + again / 20, "{again} then {now}");
    }
}

#[test]
fn compacting_after_mass_deletion_shrinks_the_file_and_keeps_every_item() {
    let dir = tempfile::tempdir().unwrap();
    let (account, kept, before) = {
        let store = Store::open(dir.path()).unwrap();
        let (account, ids) = fill(&store, "compact@example.com", 2000);
        let (kept, gone): (Vec<u64>, Vec<u64>) = ids.iter().partition(|&&id| id % 10 == 0);
        delete(&store, account, &gone);
        let before = file(&store);
        let done = block_on(store.compact()).unwrap();
        assert_eq!((done.before, done.after), (before, file(&store)));
        // Nine messages in ten gone: the file gives back at least half.
        assert!(done.after <= before / 2, "{done:?}");
        (account, kept, before)
    };
    // Reopened, every remaining message reads as delivered, and the file stays small on
    // disk (the first commit after compaction may extend its length, doubling a small
    // file: redb's growth step, a sparse extension until pages are written there).
    let store = Store::open(dir.path()).unwrap();
    let on_disk = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(dir.path().join("easd.redb"))
            .unwrap()
            .blocks()
            * 512
    };
    assert!(on_disk <= before / 2, "{on_disk} of {before}");
    let snap = store.sync_snapshot().unwrap();
    for id in &kept {
        let item = snap.item(account, 1, *id).unwrap().expect("kept item");
        let delivered = meta(item.meta.received as u64 - 1_000_000);
        assert_eq!(
            (&item.meta.subject, &item.meta.preview),
            (&delivered.subject, &delivered.preview)
        );
    }
    assert_eq!(snap.folder_items(account, 1).unwrap().len(), kept.len());
}

#[test]
fn compaction_is_refused_while_a_snapshot_is_held_and_runs_after() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    fill(&store, "busy@example.com", 10);
    let held = store.sync_snapshot().unwrap();
    let started = Instant::now();
    let err = block_on(store.compact()).unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    assert!(err.to_string().contains("snapshot"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    // Writes go on meanwhile and after.
    fill(&store, "after@example.com", 1);
    drop(held);
    block_on(store.compact()).unwrap();
}

#[test]
fn the_writer_compacts_on_its_own_once_idle() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (account, ids) = fill(&store, "idle@example.com", 2000);
    let policy = AutoCompact {
        idle: Duration::from_millis(100),
        min_free: 1024 * 1024,
        min_free_percent: 25,
    };
    store.auto_compact(Some(policy)).unwrap();
    let full = file(&store);
    delete(&store, account, &ids[..1900]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while file(&store) > full / 2 {
        assert!(Instant::now() < deadline, "not compacted: {}", file(&store));
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        store
            .sync_snapshot()
            .unwrap()
            .folder_items(account, 1)
            .unwrap()
            .len(),
        100
    );
}

#[test]
fn compaction_when_idle_pays_only_past_both_thresholds() {
    let policy = AutoCompact {
        idle: Duration::from_secs(600),
        min_free: 16 << 20,
        min_free_percent: 25,
    };
    let space = |file: u64, free: u64| super::DbSpace {
        file,
        disk: file,
        live: file - free,
        metadata: 0,
        free,
        search_index: 0,
    };
    assert!(policy.pays(&space(100 << 20, 30 << 20)));
    // A quarter free but under 16 MiB: not worth a compaction.
    assert!(!policy.pays(&space(40 << 20, 12 << 20)));
    // 16 MiB free of a large file: under a quarter.
    assert!(!policy.pays(&space(1 << 30, 20 << 20)));
}
