use super::super::model::{BlobId, JournaledDelivery};
use super::super::tables::META;
use super::super::{Store, StoreError};

fn record(n: u8) -> JournaledDelivery {
    JournaledDelivery {
        accounts: vec![1],
        blob: BlobId::of(&[n]),
        received: 1_700_000_000 + i64::from(n),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn marked(store: &Store, key: &'static str) -> bool {
    let tx = store.begin_read().unwrap();
    tx.open_table(META).unwrap().get(key).unwrap().is_some()
}

/// A job that records `key` in META, as a delivery records its message.
fn mark(key: &'static str) -> impl FnMut(&mut super::super::WriteCtx) -> Result<(), StoreError> {
    move |ctx| {
        ctx.tx.open_table(META)?.insert(key, [1u8].as_slice())?;
        Ok(())
    }
}

#[test]
fn a_failed_delivery_holds_back_the_later_ones_until_the_next_start_applies_them_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    {
        let store = Store::open(dir.path()).unwrap();
        let failing = store
            .journal(
                &record(1),
                |_| -> Result<(), StoreError> {
                    Err(StoreError::Io(std::io::Error::other("disk gone")))
                },
                store.arriving(),
            )
            .unwrap();
        let next = store
            .journal(&record(2), mark("second"), store.arriving())
            .unwrap();
        // Both were acknowledged (journaled); neither is applied, and reads do not hang.
        assert!(rt.block_on(failing.into_future()).is_err());
        assert!(matches!(
            rt.block_on(next.into_future()),
            Err(StoreError::Conflict(_))
        ));
        assert!(!marked(&store, "second"));
        // Other writes still commit meanwhile, and do not mark the journal applied.
        rt.block_on(store.write(mark("other"))).unwrap();
        assert!(marked(&store, "other"));
    }
    let store = Store::open(dir.path()).unwrap();
    // New deliveries wait until the old ones are taken.
    assert!(matches!(
        store.journal(&record(3), mark("third"), store.arriving()),
        Err(StoreError::Conflict(_))
    ));
    let entries = store.take_journal();
    let found: Vec<_> = entries
        .iter()
        .map(|e| e.delivery.clone().unwrap())
        .collect();
    assert_eq!(found, vec![record(1), record(2)], "both, in their order");
    let applied: Vec<_> = entries
        .into_iter()
        .zip(["first", "second"])
        .map(|(e, key)| store.apply_journaled(e, mark(key)).unwrap())
        .collect();
    for a in applied {
        rt.block_on(a.into_future()).unwrap();
    }
    rt.block_on(
        store
            .journal(&record(3), mark("third"), store.arriving())
            .unwrap()
            .into_future(),
    )
    .unwrap();
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert!(store.take_journal().is_empty(), "applied once, never again");
    for key in ["first", "second", "third", "other"] {
        assert!(marked(&store, key), "{key}");
    }
}

#[test]
fn a_crash_before_the_commit_leaves_the_delivery_to_the_next_open_and_only_that_one() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    {
        let store = Store::open(dir.path()).unwrap();
        rt.block_on(
            store
                .journal(&record(1), mark("first"), store.arriving())
                .unwrap()
                .into_future(),
        )
        .unwrap();
        store.journal_without_applying(&record(2));
        // A later commit of something else must not mark the lost one as applied.
        rt.block_on(store.write(mark("other"))).unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    let entries = store.take_journal();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].delivery, Some(record(2)));
    let entry = entries.into_iter().next().unwrap();
    rt.block_on(
        store
            .apply_journaled(entry, mark("second"))
            .unwrap()
            .into_future(),
    )
    .unwrap();
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert!(store.take_journal().is_empty());
    assert!(marked(&store, "first") && marked(&store, "second"));
}

#[test]
fn a_delivery_waits_while_too_many_wait_for_the_writer() {
    let progress = std::sync::Arc::new(super::Progress::new());
    for _ in 0..5 {
        progress.queued();
    }
    // Five waiting, room for ten: no wait.
    progress.below_blocking(10);
    // Room for three: waits until the writer answered three of them.
    let answering = progress.clone();
    let writer = std::thread::spawn(move || {
        for _ in 0..3 {
            std::thread::sleep(std::time::Duration::from_millis(5));
            answering.answered(1);
        }
    });
    progress.below_blocking(3);
    assert!(*progress.answered_now() >= 3);
    writer.join().unwrap();
}
