//! Sync state: what each device was told, and what it must be told next.
//!
//! Pure functions over store records (`collection`, `hierarchy`, `round`); the commands run
//! them inside store transactions, reading and writing the state through `stored`.

pub mod collection;
pub mod hierarchy;
pub mod round;
pub mod stored;

use crate::store::StoreError;

/// Whether a failed store write is worth the client's retry: the write could not be made
/// durable (I/O, a transaction or commit the database refused, the writer stopping for a
/// shutdown), as opposed to a corrupt record or a change the store refuses, which a retry
/// would meet again. Sync answers the former with Status 16, MoveItems with Status 7
/// ([MS-ASCMD] 2.2.3.177.17, 2.2.3.177.9).
pub fn retriable(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Io(_) | StoreError::Db(_) | StoreError::WriterGone
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_failures_to_write_are_retriable() {
        let disk_full = std::io::Error::from(std::io::ErrorKind::StorageFull);
        assert!(retriable(&StoreError::Io(disk_full)));
        assert!(retriable(&StoreError::Io(std::io::Error::other(
            "commit failed"
        ))));
        assert!(retriable(&StoreError::WriterGone));
        for permanent in [
            StoreError::Corrupt {
                what: "items",
                detail: "bad".into(),
            },
            StoreError::Invalid("no".into()),
            StoreError::NotFound("folder 9".into()),
            StoreError::Conflict("exists".into()),
        ] {
            assert!(!retriable(&permanent), "{permanent}");
        }
    }
}
