//! redb table definitions and typed access to JSON-encoded records.
//!
//! Records are JSON so that adding a field (with a serde default) needs no migration;
//! keys are native redb types so that range scans per account are cheap.

use redb::{ReadableTable, TableDefinition, TableHandle};
use serde::{Serialize, de::DeserializeOwned};

use super::StoreError;
use super::model::{AccountId, FolderId};

pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
pub const ACCOUNTS: TableDefinition<AccountId, &[u8]> = TableDefinition::new("accounts");
pub const ACCOUNT_BY_EMAIL: TableDefinition<&str, AccountId> =
    TableDefinition::new("account_by_email");
pub const DOMAINS: TableDefinition<&str, &[u8]> = TableDefinition::new("domains");
pub const FOLDERS: TableDefinition<(AccountId, FolderId), &[u8]> = TableDefinition::new("folders");
pub const DEVICES: TableDefinition<(AccountId, &str), &[u8]> = TableDefinition::new("devices");
pub const HIERARCHY: TableDefinition<(AccountId, &str), &[u8]> =
    TableDefinition::new("device_hierarchy");

/// Messages (and later other items): (account, folder, item id) → `MailItem` JSON.
pub const ITEMS: TableDefinition<(AccountId, FolderId, u64), &[u8]> = TableDefinition::new("items");
/// Calendar, contact, task and note items: (account, folder, item id) →
/// `GroupwareItem` JSON. Their ids come from the same per-account counter as messages,
/// and their changes go into the same `FOLDER_LOG`, so sync, estimates and Ping read one
/// log for every folder.
pub const GROUPWARE_ITEMS: TableDefinition<(AccountId, FolderId, u64), &[u8]> =
    TableDefinition::new("groupware_items");
/// Per-folder change log: (account, folder, modseq) → (item id, kind). Each live item has
/// exactly one entry, at the modseq of its last change; a deleted item leaves a tombstone.
pub const FOLDER_LOG: TableDefinition<(AccountId, FolderId, u64), (u64, u8)> =
    TableDefinition::new("folder_log");
/// Per-device collection sync state: (account, device, folder) → `CollectionState` JSON.
pub const SYNC_STATE: TableDefinition<(AccountId, &str, FolderId), &[u8]> =
    TableDefinition::new("sync_state");
/// The items a device holds in a collection, packed: (account, device, folder, generation)
/// → 16 bytes per item (id, received). Generation 0 is current, 1 the previous state.
pub const SYNC_HELD: TableDefinition<(AccountId, &str, FolderId, u8), &[u8]> =
    TableDefinition::new("sync_held");

/// The last Sync request's parameters per device, for empty and Partial Syncs.
pub const SYNC_CACHE: TableDefinition<(AccountId, &str), &[u8]> =
    TableDefinition::new("sync_cache");

/// ClientIds of messages a device sent: (account, ClientId) → when. A resent SendMail
/// with a known ClientId is not sent again.
pub const SENT_CLIENT_IDS: TableDefinition<(AccountId, &str), i64> =
    TableDefinition::new("sent_client_ids");

/// Where moved items went: (account, source folder, old item id) → (destination folder,
/// new item id). A resent MoveItems (its answer was lost) is answered from it with the same
/// new ServerId instead of "no such item".
pub const MOVED: TableDefinition<(AccountId, FolderId, u64), (FolderId, u64)> =
    TableDefinition::new("moved");

/// Conversations moved with MoveAlways: (account, ConversationId) → the folder their later
/// messages are delivered to ([MS-ASCON] 2.2.2.8).
pub const CONVERSATION_MOVES: TableDefinition<(AccountId, &[u8]), FolderId> =
    TableDefinition::new("conversation_moves");

/// The last Ping's parameters per device, reused by an empty Ping, also after a restart.
pub const PING_PARAMS: TableDefinition<(AccountId, &str), &[u8]> =
    TableDefinition::new("ping_params");

/// Device governance records by name: `abq` (the global, domain and user rules and the
/// server rules), `policy:LEVEL` (a policy level holding its own settings).
pub const GOVERNANCE: TableDefinition<&str, &[u8]> = TableDefinition::new("governance");

/// Out-of-office replies sent: (account, lower-cased sender) → when (Unix seconds). At most
/// one reply per sender per period (RFC 3834 section 2).
pub const OOF_SENT: TableDefinition<(AccountId, &str), i64> = TableDefinition::new("oof_sent");

/// Messages imported into (or delivered to) a folder: (account, folder, Message-ID and
/// SHA-256 of the raw bytes) → item id, so that a re-run of an import skips them.
pub const IMPORTED: TableDefinition<(AccountId, FolderId, &str), u64> =
    TableDefinition::new("imported");

/// The word index behind Search (`search_index`): (account, term, first item id of the
/// block) → packed postings (see `search_index::Posting`).
pub const BLOCKS: TableDefinition<(AccountId, &str, u64), &[u8]> =
    TableDefinition::new("search_blocks");
/// (account, folder, item) → the terms of the item, so removing it removes its postings.
pub const ITEM_TERMS: TableDefinition<(AccountId, FolderId, u64), &[u8]> =
    TableDefinition::new("search_item_terms");

/// Something done to every table of the store: creating it on open, copying it into a
/// backup, naming it in a test.
pub trait TableVisitor {
    fn visit<K: redb::Key + 'static, V: redb::Value + 'static>(
        &mut self,
        table: TableDefinition<'static, K, V>,
    ) -> Result<(), StoreError>;
}

/// Every table of the store, each named once. A table missing here is not created on open,
/// so its readers would fail; and a backup refuses a store holding a table not listed here
/// rather than silently leaving it out.
pub fn for_each(v: &mut impl TableVisitor) -> Result<(), StoreError> {
    v.visit(META)?;
    v.visit(ACCOUNTS)?;
    v.visit(ACCOUNT_BY_EMAIL)?;
    v.visit(DOMAINS)?;
    v.visit(FOLDERS)?;
    v.visit(DEVICES)?;
    v.visit(HIERARCHY)?;
    v.visit(ITEMS)?;
    v.visit(GROUPWARE_ITEMS)?;
    v.visit(FOLDER_LOG)?;
    v.visit(SYNC_STATE)?;
    v.visit(SYNC_HELD)?;
    v.visit(SYNC_CACHE)?;
    v.visit(SENT_CLIENT_IDS)?;
    v.visit(MOVED)?;
    v.visit(CONVERSATION_MOVES)?;
    v.visit(PING_PARAMS)?;
    v.visit(GOVERNANCE)?;
    v.visit(OOF_SENT)?;
    v.visit(IMPORTED)?;
    v.visit(BLOCKS)?;
    v.visit(ITEM_TERMS)?;
    Ok(())
}

/// The names of every table [`for_each`] visits.
pub fn names() -> Vec<String> {
    struct Names(Vec<String>);
    impl TableVisitor for Names {
        fn visit<K: redb::Key + 'static, V: redb::Value + 'static>(
            &mut self,
            table: TableDefinition<'static, K, V>,
        ) -> Result<(), StoreError> {
            self.0.push(table.name().to_owned());
            Ok(())
        }
    }
    let mut n = Names(Vec::new());
    // Naming cannot fail.
    let _ = for_each(&mut n);
    n.0
}

pub fn decode<T: DeserializeOwned>(table: &'static str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        table,
        detail: e.to_string(),
    })
}

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising our own plain structs to JSON cannot fail (no maps with non-string keys
    // other than integer ones, which serde_json renders as strings).
    serde_json::to_vec(value).expect("record serialises")
}

/// Reads one JSON record.
pub fn get<'k, K, T, Tb>(
    table: &Tb,
    name: &'static str,
    key: impl std::borrow::Borrow<K::SelfType<'k>>,
) -> Result<Option<T>, StoreError>
where
    K: redb::Key + 'static,
    T: DeserializeOwned,
    Tb: ReadableTable<K, &'static [u8]>,
{
    match table.get(key)? {
        Some(v) => decode(name, v.value()).map(Some),
        None => Ok(None),
    }
}
