//! Giving deleted mail's room back (issue 17): stores N realistic messages through the
//! library as delivery stores them (bodies packed and deflated into 64 MiB segments, the
//! 3 % with a 50 KB attachment a file each; metadata and index terms parsed from the
//! message), deletes three of every four (scattered: the worst case, every segment keeps a
//! quarter to copy), makes the blob directory an hour old (the grace a collection gives
//! every blob: the bench moves the files' times back instead of waiting), then runs
//! `Store::compact`, which collects the blobs first.
//!
//! Prints the blob directory and the data directory before and after, against the bodies
//! of the messages kept (the baseline: before, what a store that never collects keeps);
//! the collection's time (the writer is busy for it: the walk over every message's
//! record, copying the live records of the segments rewritten, removing files), what it
//! copied and what it gave back; the process's peak memory growth during it; and checks that
//! every kept message reads back whole. `COLLECT_BENCH_MESSAGES` overrides the 100,000
//! messages (fewer than ~60,000 close no segment, and only files are collected).

// The integration tests' harness; a bench uses only a part of it (items and re-exports).
#[allow(dead_code, unused_imports)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use easd::mail::mime;
use easd::store::model::Flags;
use easd::store::space::mib;
use easd::store::{BlobId, Store, StoreError, items, ops};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Messages stored (and blobs synced) per transaction.
const BATCH: usize = 500;

/// Bytes of the files under `dir`, as allocated on disk (like `du`).
fn disk(dir: &Path) -> u64 {
    let mut total = 0;
    let mut dirs = vec![dir.to_owned()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let meta = e.metadata().unwrap();
            if meta.is_dir() {
                dirs.push(e.path());
            } else {
                total += meta.blocks() * 512;
            }
        }
    }
    total
}

/// Moves the modification time of every file under `dir` back by `by`.
fn age(dir: &Path, by: Duration) {
    let then = SystemTime::now() - by;
    let mut dirs = vec![dir.to_owned()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                let f = std::fs::File::options().write(true).open(&path).unwrap();
                f.set_modified(then).unwrap();
            }
        }
    }
}

fn proc_status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    let n: usize = std::env::var("COLLECT_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let account = store
        .write_blocking(|ctx| ops::create_account(ctx, "bench@example.com", "B", "h", false))
        .unwrap()
        .id;
    let mut rng = StdRng::seed_from_u64(17);
    let started = Instant::now();
    // (item id, blob, body bytes) of every message, in delivery order.
    let mut stored: Vec<(u64, BlobId, usize)> = Vec::with_capacity(n);
    let mut bodies = 0u64;
    for start in (0..n).step_by(BATCH) {
        let raws: Vec<Vec<u8>> = (start..(start + BATCH).min(n))
            .map(|i| support::mail_message(&mut rng, i))
            .collect();
        let mut batch = store.blobs().batch();
        let mut parsed = Vec::with_capacity(raws.len());
        for (k, raw) in raws.iter().enumerate() {
            let received = 1_788_000_000 + (start + k) as i64;
            parsed.push((
                batch.put(raw).unwrap(),
                mime::parse(raw, received),
                raw.len(),
            ));
            bodies += raw.len() as u64;
        }
        batch.sync().unwrap();
        stored.extend(
            store
                .write_blocking(move |ctx| {
                    parsed
                        .iter()
                        .map(|(blob, meta, len)| {
                            let it = items::insert(
                                ctx,
                                account,
                                1,
                                blob.clone(),
                                meta.clone(),
                                Flags::default(),
                            )?;
                            Ok((it.id, blob.clone(), *len))
                        })
                        .collect::<Result<Vec<_>, StoreError>>()
                })
                .unwrap(),
        );
    }
    let blobs_dir = dir.path().join("blobs");
    println!(
        "stored: {n} messages, {} of bodies, in {:.1} s",
        mib(bodies),
        started.elapsed().as_secs_f64()
    );

    // Three of every four deleted, scattered.
    let (kept, gone): (Vec<_>, Vec<_>) = stored.iter().enumerate().partition(|(i, _)| i % 4 == 0);
    let kept: Vec<_> = kept.into_iter().map(|(_, s)| s.clone()).collect();
    let gone: Vec<u64> = gone.into_iter().map(|(_, s)| s.0).collect();
    support::delete_messages(&store, account, &gone, BATCH);
    let kept_bodies: u64 = kept.iter().map(|(_, _, len)| *len as u64).sum();
    age(&blobs_dir, Duration::from_secs(3700));
    let (blobs_before, data_before) = (disk(&blobs_dir), disk(dir.path()));
    println!(
        "three in four deleted: {} messages kept, {} of bodies; the blob directory {} \
         ({:.2}x the bodies kept), the data directory {} ({:.2}x)",
        kept.len(),
        mib(kept_bodies),
        mib(blobs_before),
        blobs_before as f64 / kept_bodies as f64,
        mib(data_before),
        data_before as f64 / kept_bodies as f64
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Resets the peak resident set to the current one (Linux: clear_refs 5).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let rss_before = proc_status_kib("VmRSS:");
    let done = rt.block_on(store.compact()).unwrap();
    let peak_growth = proc_status_kib("VmHWM:").saturating_sub(rss_before);
    let c = done.blobs;
    let (blobs_after, data_after) = (disk(&blobs_dir), disk(dir.path()));
    println!("{done}");
    println!(
        "collection: {} ms in all over {n} messages' records, {} of {} closed segments \
         rewritten: {} records ({}) copied, {} files removed, {} given back (copied ÷ given \
         back {:.2}); peak memory growth during it {:.1} MiB",
        c.millis,
        c.segments_removed,
        c.segments_seen,
        c.records_copied,
        mib(c.bytes_copied),
        c.files_removed,
        mib(c.bytes_freed),
        c.bytes_copied as f64 / c.bytes_freed.max(1) as f64,
        peak_growth as f64 / 1024.0
    );
    println!(
        "after: the blob directory {} ({:.2}x the bodies kept; before {:.2}x, ratio {:.2}), \
         the data directory {} ({:.2}x; before {:.2}x, ratio {:.2})",
        mib(blobs_after),
        blobs_after as f64 / kept_bodies as f64,
        blobs_before as f64 / kept_bodies as f64,
        blobs_after as f64 / blobs_before as f64,
        mib(data_after),
        data_after as f64 / kept_bodies as f64,
        data_before as f64 / kept_bodies as f64,
        data_after as f64 / data_before as f64
    );
    let t = Instant::now();
    for (_, blob, len) in &kept {
        let body = store.blobs().read(blob).unwrap();
        assert_eq!(body.len(), *len);
        assert_eq!(BlobId::of(&body), *blob, "a kept message reads back whole");
    }
    println!(
        "every kept message read back whole ({} in {:.1} s)",
        kept.len(),
        t.elapsed().as_secs_f64()
    );
}
