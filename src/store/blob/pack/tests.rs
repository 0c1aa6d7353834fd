use super::*;
use crate::store::{BlobId, Store};

/// English-like text of about `n` bytes, different per `seed`.
fn text(seed: usize, n: usize) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "the", "meeting", "report", "budget", "please", "review", "and",
    ];
    let mut out = format!("Subject: message {seed}\r\n\r\n");
    let mut i = seed as u64;
    while out.len() < n {
        i = i
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        out.push_str(WORDS[(i >> 33) as usize % WORDS.len()]);
        out.push(' ');
    }
    out.into_bytes()
}

fn segments(data: &Path) -> Vec<PathBuf> {
    let mut s: Vec<PathBuf> = fs::read_dir(data.join("blobs/packs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    s.sort();
    s
}

fn loose_files(data: &Path) -> usize {
    fs::read_dir(data.join("blobs"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().len() == 2)
        .map(|d| fs::read_dir(d.path()).unwrap().count())
        .sum()
}

#[test]
fn small_bodies_are_packed_compressed_deduplicated_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let blobs = store.blobs().clone();
    let small = text(1, 3000);
    let big = text(2, PACK_UNDER + 10);
    let a = blobs.put(&small).unwrap();
    assert_eq!(
        blobs.put(&small).unwrap(),
        a,
        "the same content, the same blob"
    );
    let b = blobs.put(&big).unwrap();
    assert_eq!(blobs.read(&a).unwrap(), small);
    assert_eq!(blobs.read(&b).unwrap(), big);
    // Only the large one is a file; the small one is one deflated record in a segment.
    assert_eq!(loose_files(dir.path()), 1);
    let seg = segments(dir.path());
    assert_eq!(seg.len(), 1);
    let packed = fs::metadata(&seg[0]).unwrap().len() as usize;
    assert!(
        packed < HEADER + small.len() * 9 / 10,
        "{packed} bytes for {}",
        small.len()
    );
    // Also when reopened (the entry was committed, or found again in the segment's tail).
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    let (size, mut r) = store.blobs().open_blob(&a).unwrap();
    let mut back = Vec::new();
    std::io::Read::read_to_end(&mut r, &mut back).unwrap();
    assert_eq!((size as usize, back), (small.len(), small));
}

#[test]
fn without_compression_bodies_are_stored_as_they_came() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.blobs().set_compression(false);
    let small = text(3, 3000);
    let id = store.blobs().put(&small).unwrap();
    let packed = fs::metadata(&segments(dir.path())[0]).unwrap().len() as usize;
    assert_eq!(packed, HEADER + small.len());
    assert_eq!(store.blobs().read(&id).unwrap(), small);
}

#[test]
fn a_torn_record_at_the_end_is_cut_off_at_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    let bodies: Vec<Vec<u8>> = (0..5).map(|i| text(10 + i, 2000)).collect();
    let ids: Vec<BlobId> = {
        let store = Store::open(dir.path()).unwrap();
        let ids = bodies
            .iter()
            .map(|b| store.blobs().put(b).unwrap())
            .collect();
        // Commits the index entries of the first three or all: either way the marks and
        // the tail scan must agree.
        store
            .write_blocking(|_| Ok(()))
            .expect("an empty commit stages the entries");
        ids
    };
    let seg = segments(dir.path()).pop().unwrap();
    let whole = fs::metadata(&seg).unwrap().len();
    // A crash mid-append: the header and part of the next record reached the disk.
    let torn = {
        let db = redb::Database::create(dir.path().join("probe.redb")).unwrap();
        let (probe, _) = Packs::open(
            &dir.path().join("probe"),
            &Arc::new(tokio::sync::RwLock::new(db)),
        )
        .unwrap();
        probe.record(&[7; 32], &text(99, 2000))
    };
    {
        let f = File::options().append(true).open(&seg).unwrap();
        std::io::Write::write_all(&mut &f, &torn[..torn.len() / 2]).unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(
        fs::metadata(&seg).unwrap().len(),
        whole,
        "the torn tail is cut"
    );
    for (id, b) in ids.iter().zip(&bodies) {
        assert_eq!(&store.blobs().read(id).unwrap(), b);
    }
    // Appending goes on where the last whole record ended.
    let more = text(50, 2500);
    let id = store.blobs().put(&more).unwrap();
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.blobs().read(&id).unwrap(), more);
    assert_eq!(store.blobs().read(&ids[4]).unwrap(), bodies[4]);
}

#[test]
fn unsynced_batch_records_are_not_found_until_synced_and_a_record_damaged_later_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let body = text(60, 3000);
    let mut batch = store.blobs().batch();
    let id = batch.put(&body).unwrap();
    assert!(store.blobs().read(&id).is_err(), "not durable: not there");
    batch.sync().unwrap();
    assert_eq!(store.blobs().read(&id).unwrap(), body);
    store.write_blocking(|_| Ok(())).unwrap();
    // A flipped byte inside the stored bytes: a clear error, not wrong mail.
    let seg = segments(dir.path()).pop().unwrap();
    let mut bytes = fs::read(&seg).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    fs::write(&seg, &bytes).unwrap();
    let err = store.blobs().read(&id).unwrap_err();
    assert!(err.to_string().contains("packed blob"), "{err}");
}

#[test]
fn index_entries_wait_in_memory_for_a_batch_and_a_crash_loses_none() {
    let dir = tempfile::tempdir().unwrap();
    let indexed = |store: &Store| {
        let tx = store.sync_snapshot().unwrap();
        redb::ReadableTableMetadata::len(&tx.0.open_table(PACKED).unwrap()).unwrap()
    };
    let bodies: Vec<Vec<u8>> = (0..10).map(|i| text(1000 + i, 1500)).collect();
    {
        let store = Store::open(dir.path()).unwrap();
        for b in &bodies {
            store.blobs().put(b).unwrap();
        }
        // A commit of something else: the entries wait for a batch, found meanwhile.
        store.write_blocking(|_| Ok(())).unwrap();
        assert_eq!(indexed(&store), 0);
        for b in &bodies {
            assert_eq!(&store.blobs().read(&BlobId::of(b)).unwrap(), b);
        }
    }
    // Gone from memory with the process: the scan past the mark indexes them.
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(indexed(&store), 10);
    for b in &bodies {
        assert_eq!(&store.blobs().read(&BlobId::of(b)).unwrap(), b);
    }
    // A full batch goes in with the next commit.
    let more: Vec<Vec<u8>> = (0..INDEX_BATCH).map(|i| text(5000 + i, 300)).collect();
    for b in &more {
        store.blobs().put_deferred(b).unwrap();
    }
    store.write_blocking(|_| Ok(())).unwrap();
    assert_eq!(indexed(&store), 10 + INDEX_BATCH as u64);
    assert_eq!(
        store.blobs().read(&BlobId::of(&more[77])).unwrap(),
        more[77]
    );
}

/// A delivery on its way when an fdatasync starts appends first and shares it: once the
/// first sync returns, the second record is durable too (nothing left to sync).
#[test]
fn an_fdatasync_waits_for_the_delivery_on_its_way_and_covers_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let packs = store.packs().clone();
    // Long enough that only the arrival can end the wait in this test.
    packs.set_commit_delay(std::time::Duration::from_secs(30));
    let second = packs.arriving();
    store.blobs().put_deferred(&text(1, 2000)).unwrap();
    let (started_tx, started) = std::sync::mpsc::channel();
    let syncing = {
        let packs = packs.clone();
        std::thread::spawn(move || {
            started_tx.send(()).unwrap();
            packs.sync().unwrap();
        })
    };
    started.recv().unwrap();
    // The sync cannot finish before the arrival is let go.
    assert!(!syncing.is_finished());
    store.blobs().put_deferred(&text(2, 2000)).unwrap();
    drop(second);
    syncing.join().unwrap();
    assert!(packs.unsynced().is_none(), "the one fdatasync covered both");
}

/// An arrival that never appends holds an fdatasync back for the delay only.
#[test]
fn an_fdatasync_waits_no_longer_than_the_commit_delay() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let packs = store.packs().clone();
    let _stuck = packs.arriving();
    store.blobs().put_deferred(&text(3, 2000)).unwrap();
    let t = std::time::Instant::now();
    packs.sync().unwrap();
    assert!(t.elapsed() >= COMMIT_DELAY);
    assert!(packs.unsynced().is_none());
}
