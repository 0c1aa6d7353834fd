//! Sync state: what each device was told, and what it must be told next.
//!
//! Pure functions over store records; the commands run them inside store transactions.

pub mod collection;
pub mod hierarchy;

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

#[cfg(test)]
mod tests {
    use super::*;

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
