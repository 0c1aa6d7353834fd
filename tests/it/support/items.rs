//! Filling a store through the library as delivery does (`items::insert`: metadata,
//! preview, index terms; no blob written), and deleting from it, in batches of one
//! transaction each: the store tests and benches that need many messages fast.

use easd::store::model::{Flags, MessageMeta};
use easd::store::{BlobId, Store, StoreError, items};

/// Inserts the messages `from..from + n` (`meta(i)` each, the blob id derived from `i`)
/// into folder 1 of `account`, `batch` per transaction; answers their ids in order.
pub fn insert_messages(
    store: &Store,
    account: u64,
    from: u64,
    n: u64,
    batch: u64,
    meta: fn(u64) -> MessageMeta,
) -> Vec<u64> {
    let mut ids = Vec::new();
    for start in (from..from + n).step_by(batch as usize) {
        let end = (start + batch).min(from + n);
        ids.extend(
            store
                .write_blocking(move |ctx| {
                    (start..end)
                        .map(|i| {
                            let blob = BlobId::of(&i.to_le_bytes());
                            Ok(items::insert(ctx, account, 1, blob, meta(i), Flags::default())?.id)
                        })
                        .collect::<Result<Vec<_>, StoreError>>()
                })
                .unwrap(),
        );
    }
    ids
}

/// Deletes the messages `ids` of folder 1 of `account`, `batch` per transaction.
pub fn delete_messages(store: &Store, account: u64, ids: &[u64], batch: usize) {
    for chunk in ids.chunks(batch) {
        let chunk = chunk.to_vec();
        store
            .write_blocking(move |ctx| {
                for &id in &chunk {
                    items::delete(ctx, account, 1, id)?;
                }
                Ok(())
            })
            .unwrap();
    }
}
