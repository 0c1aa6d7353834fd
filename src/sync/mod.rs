//! Sync state: what each device was told, and what it must be told next.
//!
//! Pure functions over store records (`collection`, `hierarchy`, `round`); the commands run
//! them inside store transactions, reading and writing the state through `stored`.

pub mod collection;
pub mod hierarchy;
pub mod round;
pub mod stored;

use crate::store::StoreError;
use crate::store::model::FolderId;

/// An item's ServerId on the wire: `folder:item`. A move gives the item a new id, so a
/// ServerId never names two items.
pub fn item_server_id(folder: FolderId, item: u64) -> String {
    format!("{folder}:{item}")
}

pub fn parse_item_server_id(s: &str) -> Option<(FolderId, u64)> {
    let (f, i) = s.split_once(':')?;
    Some((f.parse().ok()?, i.parse().ok()?))
}

/// An attachment's FileReference ([MS-ASAIRS] 2.2.2.24): `folder:item:part`.
pub fn file_reference(folder: FolderId, item: u64, part: u32) -> String {
    format!("{folder}:{item}:{part}")
}

pub fn parse_file_reference(s: &str) -> Option<(FolderId, u64, u32)> {
    let mut it = s.split(':');
    let r = (
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
    );
    it.next().is_none().then_some(r)
}

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

    #[test]
    fn ids_round_trip_and_reject_garbage() {
        assert_eq!(parse_item_server_id(&item_server_id(3, 42)), Some((3, 42)));
        assert_eq!(
            parse_file_reference(&file_reference(3, 42, 7)),
            Some((3, 42, 7))
        );
        for bad in ["", "3", "3:", ":4", "a:b", "3:4:5"] {
            assert_eq!(parse_item_server_id(bad), None, "{bad}");
        }
        assert_eq!(parse_file_reference("1:2:3:4"), None);
    }
}
