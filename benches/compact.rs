//! The store file's space on a large store: fills a store with messages (items::insert,
//! as delivery does: metadata, preview and index terms; no blobs) until the database
//! file reaches `COMPACT_BENCH_MIB` (100 by default), deletes three messages in four, and
//! prints: how long measuring the sizes takes (the walk `easd status` and the dashboard
//! cause at most once a minute), how long compaction takes and what it gives back, how
//! long a delivery submitted during the compaction waits (the worst case compaction
//! when idle can impose), and how much the file grows when as much mail as was deleted
//! is delivered again (free space reused).

use std::time::{Duration, Instant};

// The integration tests' harness; a bench uses only a part of it (items and re-exports).
#[allow(dead_code, unused_imports)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use easd::store::model::MessageMeta;
use easd::store::space::mib;
use easd::store::{Store, ops};

const BATCH: u64 = 500;

fn meta(i: u64) -> MessageMeta {
    MessageMeta {
        size: 3000,
        received: 1_700_000_000 + i as i64,
        from: format!("Sender {} <sender{}@example.com>", i % 300, i % 300),
        to: "Office <office@example.com>".into(),
        subject: format!("Quarterly report {i}: figures and the plan for next month"),
        preview: format!("Hello, here are the figures of message {i}. ").repeat(6),
        // A vocabulary of 6,000 words, 60 per message.
        search_terms: (0..60)
            .map(|w| format!("word{}", (i * 7 + w * 101) % 6000))
            .collect(),
        ..MessageMeta::default()
    }
}

fn deliver(store: &Store, account: u64, from: u64, n: u64) -> Vec<u64> {
    support::insert_messages(store, account, from, n, BATCH, meta)
}

fn delete(store: &Store, account: u64, ids: &[u64]) {
    support::delete_messages(store, account, ids, BATCH as usize);
}

fn main() {
    let target: u64 = std::env::var("COMPACT_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
        << 20;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let account = store
        .write_blocking(|ctx| ops::create_account(ctx, "bench@example.com", "B", "h", false))
        .unwrap()
        .id;
    let started = Instant::now();
    let mut ids = Vec::new();
    while store.database_bytes().unwrap() < target {
        let from = ids.len() as u64;
        ids.extend(deliver(&store, account, from, 5 * BATCH));
    }
    let delivered = ids.len() as u64;
    let full = store.database_bytes().unwrap();
    println!(
        "filled: {delivered} messages, file {} in {:.1} s",
        mib(full),
        started.elapsed().as_secs_f64()
    );
    let gone: Vec<u64> = ids.iter().copied().filter(|id| id % 4 != 0).collect();
    delete(&store, account, &gone);
    let t = Instant::now();
    let sizes = rt.block_on(store.sizes()).unwrap();
    println!(
        "measured in {:.0} ms: file {}, live {}, metadata {}, free {}, search index {}",
        t.elapsed().as_secs_f64() * 1000.0,
        mib(sizes.database_file),
        mib(sizes.database_live),
        mib(sizes.database_metadata),
        mib(sizes.database_free),
        mib(sizes.search_index)
    );
    // A delivery submitted just after the compaction: how long it waits.
    let waiter = {
        let store = store.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            let t = Instant::now();
            deliver(&store, account, 10_000_000, 1);
            t.elapsed()
        })
    };
    let done = rt.block_on(store.compact()).unwrap();
    let waited = waiter.join().unwrap();
    println!("{done}; a delivery submitted during it waited {waited:?}");
    let compacted = store.database_bytes().unwrap();
    deliver(&store, account, delivered, gone.len() as u64);
    let refilled = store.database_bytes().unwrap();
    println!(
        "{} messages delivered again: file {} → {} (+{:.1}%)",
        gone.len(),
        mib(compacted),
        mib(refilled),
        (refilled as f64 / compacted as f64 - 1.0) * 100.0
    );
    delete(
        &store,
        account,
        &deliver(&store, account, 20_000_000, gone.len() as u64),
    );
    let again = store.database_bytes().unwrap();
    println!(
        "the same again, deleted: file {} (+{:.1}% over the refilled file: freed pages reused)",
        mib(again),
        (again as f64 / refilled as f64 - 1.0) * 100.0
    );
}
