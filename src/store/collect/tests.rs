use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::super::model::{DirectoryEntry, Flags, JournaledDelivery, MessageMeta, StoredBytes};
use super::super::{BlobId, Store, StoreError, directory, items, ops};
use super::GRACE;
use crate::store::space::tests::{block_on, delete};

/// `len` bytes that do not compress (stored as they are), different for each `seed`.
fn body(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A store whose segments close past 64 KiB, with an account.
fn open_store(dir: &Path) -> (Store, u64) {
    let store = Store::open(dir).unwrap();
    store.blobs().packs().unwrap().set_segment_max(64 * 1024);
    let a = store
        .write_blocking(|ctx| ops::create_account(ctx, "gc@example.com", "T", "h", false))
        .unwrap();
    (store, a.id)
}

/// Stores `bodies` as blobs and a message naming each in the Inbox; answers the ids.
fn deliver(store: &Store, account: u64, bodies: &[Vec<u8>]) -> Vec<(u64, BlobId)> {
    let blobs: Vec<BlobId> = bodies
        .iter()
        .map(|b| store.blobs().put(b).unwrap())
        .collect();
    commit(store, account, blobs)
}

/// The job of a delivery whose bodies were put before: a message naming each blob.
fn commit(store: &Store, account: u64, blobs: Vec<BlobId>) -> Vec<(u64, BlobId)> {
    store
        .write_blocking(move |ctx| {
            blobs
                .iter()
                .map(|blob| {
                    let meta = MessageMeta {
                        received: 1_000_000,
                        ..MessageMeta::default()
                    };
                    let it = items::insert(ctx, account, 1, blob.clone(), meta, Flags::default())?;
                    Ok((it.id, blob.clone()))
                })
                .collect::<Result<Vec<_>, StoreError>>()
        })
        .unwrap()
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut s: Vec<PathBuf> = fs::read_dir(dir.join("blobs/packs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    s.sort();
    s
}

fn bytes_of(files: &[PathBuf]) -> u64 {
    files.iter().map(|f| fs::metadata(f).unwrap().len()).sum()
}

/// Makes every segment and blob file look closed or written `GRACE` and a minute ago.
fn age(dir: &Path) {
    let then = SystemTime::now() - GRACE - Duration::from_secs(60);
    let mut dirs = vec![dir.join("blobs")];
    while let Some(d) = dirs.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                fs::File::options()
                    .write(true)
                    .open(&path)
                    .unwrap()
                    .set_modified(then)
                    .unwrap();
            }
        }
    }
}

fn item_count(store: &Store, account: u64) -> usize {
    use crate::store::items::ItemReads;
    let snapshot = store.sync_snapshot().unwrap();
    snapshot.folder_items(account, 1).unwrap().len()
}

#[test]
fn deleted_messages_bodies_are_collected_and_the_kept_ones_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let (store, account) = open_store(dir.path());
    let bodies: Vec<Vec<u8>> = (0..240).map(|i| body(i, 2000 + i as usize * 7)).collect();
    let delivered = deliver(&store, account, &bodies);
    // Three of every four deleted.
    let (kept, gone): (Vec<_>, Vec<_>) = delivered
        .iter()
        .zip(&bodies)
        .enumerate()
        .partition(|(i, _)| i % 4 == 0);
    delete(
        &store,
        account,
        &gone.iter().map(|(_, ((id, _), _))| *id).collect::<Vec<_>>(),
    );
    let before = segments(dir.path());
    let packs = store.blobs().packs().unwrap().clone();
    let segment_of = |blob: &BlobId| {
        let hash = blob.digest().unwrap();
        packs.find(&hash).unwrap().map(|at| at.segment)
    };
    // The bodies in closed segments, which a pass collects (the active one is left).
    let active = before.len() as u32;
    let collectable: Vec<BlobId> = gone
        .iter()
        .map(|(_, ((_, blob), _))| blob.clone())
        .filter(|blob| segment_of(blob) != Some(active))
        .collect();
    assert!(
        collectable.len() > gone.len() * 3 / 4,
        "{}",
        collectable.len()
    );
    assert!(before.len() >= 6, "{before:?}");
    let before_bytes = bytes_of(&before);
    age(dir.path());

    let c = block_on(store.compact()).unwrap();
    let b = c.blobs;
    // Every closed segment is three quarters dead: each is rewritten.
    assert_eq!(b.segments_seen, before.len() as u64 - 1, "{b:?}");
    assert_eq!(b.segments_removed, b.segments_seen, "{b:?}");
    assert!(b.records_copied >= 40 && b.records_copied <= 60, "{b:?}");
    let after = segments(dir.path());
    assert!(
        bytes_of(&after) * 100 < before_bytes * 45,
        "{before_bytes} → {} bytes",
        bytes_of(&after)
    );
    assert_eq!(
        b.bytes_freed,
        before_bytes - bytes_of(&after),
        "the figure says what the disk gave back"
    );
    assert!(c.to_string().contains("records copied"), "{c}");
    for (_, ((_, blob), original)) in &kept {
        assert_eq!(&store.blobs().read(blob).unwrap(), *original);
    }
    for blob in &collectable {
        assert!(store.blobs().read(blob).is_err(), "a deleted body is gone");
        assert_eq!(segment_of(blob), None, "and its index entry");
    }
    drop(packs);

    // After a restart: the same, and no journal record of a removed segment comes back.
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(item_count(&store, account), kept.len());
    for (_, ((_, blob), original)) in &kept {
        assert_eq!(&store.blobs().read(blob).unwrap(), *original);
    }
    // A second pass has nothing left to do (the copies' segment is still active or young).
    let again = block_on(store.compact()).unwrap().blobs;
    assert_eq!(
        (again.segments_removed, again.bytes_freed),
        (0, 0),
        "{again:?}"
    );
}

#[test]
fn segments_closed_within_the_grace_and_mostly_live_ones_are_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (store, account) = open_store(dir.path());
    let bodies: Vec<Vec<u8>> = (0..120).map(|i| body(i, 2500)).collect();
    let delivered = deliver(&store, account, &bodies);
    delete(
        &store,
        account,
        &delivered.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
    );
    let before = segments(dir.path());
    // Not aged: closed just now.
    let b = block_on(store.compact()).unwrap().blobs;
    assert_eq!((b.segments_seen, b.segments_removed), (0, 0), "{b:?}");
    assert_eq!(segments(dir.path()), before);
    assert!(store.blobs().read(&delivered[0].1).is_ok());

    // Aged, but three of four live: not worth rewriting.
    let dir = tempfile::tempdir().unwrap();
    let (store, account) = open_store(dir.path());
    let delivered = deliver(&store, account, &bodies);
    let some: Vec<u64> = delivered.iter().step_by(4).map(|(id, _)| *id).collect();
    delete(&store, account, &some);
    let before = segments(dir.path());
    age(dir.path());
    let b = block_on(store.compact()).unwrap().blobs;
    assert!(b.segments_seen > 0, "{b:?}");
    assert_eq!((b.segments_removed, b.records_copied), (0, 0), "{b:?}");
    assert_eq!(segments(dir.path()), before);
}

/// A store (segments of 64 KiB) whose messages of 3,000 bytes were all deleted an hour
/// ago: their bodies, and the segments, are the collection's to take.
struct AllDeleted {
    dir: tempfile::TempDir,
    store: Store,
    account: u64,
    bodies: Vec<Vec<u8>>,
    /// The messages' ids and blobs.
    delivered: Vec<(u64, BlobId)>,
}

fn all_deleted(n: u64) -> AllDeleted {
    let dir = tempfile::tempdir().unwrap();
    let (store, account) = open_store(dir.path());
    let bodies: Vec<Vec<u8>> = (0..n).map(|i| body(i, 3000)).collect();
    let delivered = deliver(&store, account, &bodies);
    let ids: Vec<u64> = delivered.iter().map(|(id, _)| *id).collect();
    delete(&store, account, &ids);
    age(dir.path());
    AllDeleted {
        dir,
        store,
        account,
        bodies,
        delivered,
    }
}

/// The hazard of content addressing: a put of a body an old, unreferenced record holds
/// must not lean on it, or the collection running before its job commits removes it.
#[test]
fn a_put_of_a_body_a_closed_segment_holds_writes_its_own_copy_which_outlives_a_collection() {
    let AllDeleted {
        dir,
        store,
        account,
        bodies,
        delivered,
    } = all_deleted(100);
    // The same content arrives again; its job is not committed yet when the collection runs.
    let again = store.blobs().put(&bodies[0]).unwrap();
    assert_eq!(again, delivered[0].1);
    let b = block_on(store.compact()).unwrap().blobs;
    assert!(b.segments_removed > 0, "{b:?}");
    commit(&store, account, vec![again.clone()]);
    assert_eq!(store.blobs().read(&again).unwrap(), bodies[0]);
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.blobs().read(&again).unwrap(), bodies[0]);
}

#[test]
fn copies_made_before_a_crash_are_found_at_the_next_open_and_the_old_segment_goes_later() {
    let dir = tempfile::tempdir().unwrap();
    let (store, account) = open_store(dir.path());
    let bodies: Vec<Vec<u8>> = (0..60).map(|i| body(i, 3000)).collect();
    let delivered = deliver(&store, account, &bodies);
    age(dir.path());
    // A pass that copied the first segment's records, then died before its commit.
    let first = segments(dir.path())[0].clone();
    let packs = store.blobs().packs().unwrap().clone();
    let in_first: Vec<_> = delivered
        .iter()
        .filter_map(|(_, blob)| {
            let hash = blob.digest().unwrap();
            let at = packs.find(&hash).unwrap().unwrap();
            (at.segment == 1).then_some((hash, at))
        })
        .collect();
    assert!(!in_first.is_empty());
    packs.copy(&in_first).unwrap();
    drop(packs);
    drop(store);

    let store = Store::open(dir.path()).unwrap();
    assert_eq!(item_count(&store, account), bodies.len());
    for ((_, blob), original) in delivered.iter().zip(&bodies) {
        assert_eq!(&store.blobs().read(blob).unwrap(), original);
    }
    // Every record of the first segment is now a copy's elder: the segment is dead.
    age(dir.path());

    let b = block_on(store.compact()).unwrap().blobs;
    assert!(b.segments_removed >= 1, "{b:?}");
    assert!(!first.exists());
    for ((_, blob), original) in delivered.iter().zip(&bodies) {
        assert_eq!(&store.blobs().read(blob).unwrap(), original);
    }
}

#[test]
fn blob_files_nothing_names_are_removed_and_a_photo_or_a_reused_file_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (store, account) = open_store(dir.path());
    let large: Vec<Vec<u8>> = (0..3).map(|i| body(i, 40_000)).collect();
    let delivered = deliver(&store, account, &large);
    delete(&store, account, &[delivered[1].0, delivered[2].0]);
    // A directory photo, as `easd directory set` keeps it.
    let photo = body(99, 50_000);
    let stored = StoredBytes {
        blob: store.blobs().put(&photo).unwrap(),
        size: photo.len() as u32,
    };
    store
        .write_blocking(move |ctx| {
            let entry = DirectoryEntry {
                photo: Some(stored.clone()),
                ..DirectoryEntry::default()
            };
            directory::put_entry(ctx, account, &entry)
        })
        .unwrap();
    // A spool a crash left two days ago.
    let spool = dir.path().join("blobs/tmp/spool.1.1");
    fs::write(&spool, b"half a message").unwrap();
    age(dir.path());
    fs::File::options()
        .write(true)
        .open(&spool)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(2 * 24 * 3600))
        .unwrap();
    // Delivered again, its job not committed yet: the put found the file and touched it.
    assert_eq!(store.blobs().put(&large[2]).unwrap(), delivered[2].1);

    let b = block_on(store.compact()).unwrap().blobs;
    commit(&store, account, vec![delivered[2].1.clone()]);
    assert_eq!(b.files_removed, 2, "{b:?}");
    assert!(store.blobs().read(&delivered[1].1).is_err());
    assert_eq!(store.blobs().read(&delivered[0].1).unwrap(), large[0]);
    assert_eq!(store.blobs().read(&delivered[2].1).unwrap(), large[2]);
    assert_eq!(store.blobs().read(&BlobId::of(&photo)).unwrap(), photo);
    assert!(!spool.exists());
}

#[test]
fn no_blob_is_collected_while_a_backup_runs() {
    let AllDeleted {
        dir: _dir,
        store,
        delivered,
        ..
    } = all_deleted(60);
    let hold = store.blobs().hold();
    match block_on(store.compact()) {
        Err(StoreError::Conflict(why)) => assert!(why.contains("backup"), "{why}"),
        other => panic!("collected during a backup: {other:?}"),
    }
    assert!(store.blobs().read(&delivered[0].1).is_ok());
    drop(hold);
    let b = block_on(store.compact()).unwrap().blobs;
    assert!(b.segments_removed > 0, "{b:?}");
}

#[test]
fn a_delivery_found_in_the_journal_keeps_its_body_until_it_is_applied_again() {
    let dir = tempfile::tempdir().unwrap();
    let (store, account) = open_store(dir.path());
    let lost = body(7, 3000);
    let blob = store.blobs().put_deferred(&lost).unwrap();
    // Other deliveries' bodies in between (they run concurrently) close its segment...
    let others: Vec<Vec<u8>> = (0..60).map(|i| body(100 + i, 3000)).collect();
    let others = deliver(&store, account, &others);
    delete(
        &store,
        account,
        &others.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
    );
    // ...then it is acknowledged to the MTA, and easd crashes before its commit.
    store.journal_without_applying(&JournaledDelivery {
        accounts: vec![account],
        blob: blob.clone(),
        received: 1_700_000_000,
    });
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    age(dir.path());
    match block_on(store.compact()) {
        Err(StoreError::Conflict(why)) => assert!(why.contains("journal"), "{why}"),
        other => panic!("collected before the journal was applied: {other:?}"),
    }
    let entry = store.take_journal().into_iter().next().unwrap();
    let named = blob.clone();
    let applied = store
        .apply_journaled(entry, move |ctx| {
            let meta = MessageMeta::default();
            items::insert(ctx, account, 1, named.clone(), meta, Flags::default()).map(|_| ())
        })
        .unwrap();
    block_on(applied.into_future()).unwrap();
    block_on(store.compact()).unwrap();
    assert_eq!(store.blobs().read(&blob).unwrap(), lost);
}

#[test]
fn the_writer_collects_blobs_on_its_own_once_idle() {
    let AllDeleted {
        dir,
        store,
        delivered,
        ..
    } = all_deleted(100);
    let first = segments(dir.path())[0].clone();
    // The file itself is never worth compacting here: only the blobs are collected.
    let policy = crate::store::space::AutoCompact {
        idle: Duration::from_millis(100),
        min_free: u64::MAX,
        min_free_percent: 100,
    };
    store.auto_compact(Some(policy)).unwrap();
    // A write, then the idle period.
    store
        .write_blocking(|ctx| ops::create_account(ctx, "later@example.com", "L", "h", false))
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while first.exists() {
        assert!(std::time::Instant::now() < deadline, "not collected");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(store.blobs().read(&delivered[0].1).is_err());
}
