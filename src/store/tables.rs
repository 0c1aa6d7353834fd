//! redb table definitions. Private to `store`: nothing outside it names a table.
//!
//! Records are JSON so that adding a field (with a serde default) needs no migration;
//! keys are native redb types so that range scans per account are cheap. A record
//! table's value type is [`Json<T>`] (or [`Compact<T>`]), so the table itself says which
//! record it holds and how it is encoded, and no reader decodes by a table name.
//!
//! The one exception is [`ITEMS`], a row per message: there the JSON field names alone
//! were a third of the record, and the table the largest part of the database file
//! (issue 17), so its rows are [`Compact<T>`] — postcard: no field names, integers as
//! varints, less than half the size — and a new field in [`MailItem`] needs a schema step
//! that rewrites the rows (the format byte [`COMPACT_V1`] says which layout a row has;
//! `tests::the_compact_item_layout_is_pinned` fails when the layout changes).

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use redb::{ReadableTable, TableDefinition, TableHandle, TypeName};
use serde::{Serialize, de::DeserializeOwned};

use super::StoreError;
use super::model::*;

/// How a record table encodes its rows.
pub trait Format: 'static {
    fn encode<T: Serialize>(value: &T) -> Vec<u8>;
    fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError>;
}

/// Rows as JSON objects: self-describing, so a field added with a serde default reads
/// from the rows written before it.
pub enum AsJson {}

/// Rows as [`COMPACT_V1`] then the record in postcard (fields in declaration order,
/// integers as varints, no names): not self-describing, see the module's comment.
pub enum AsCompact {}

/// The first byte of a [`AsCompact`] row: the layout of the record after it.
pub const COMPACT_V1: u8 = 1;

impl Format for AsJson {
    fn encode<T: Serialize>(value: &T) -> Vec<u8> {
        encode(value)
    }

    fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
        decode(bytes)
    }
}

impl Format for AsCompact {
    fn encode<T: Serialize>(value: &T) -> Vec<u8> {
        // Our plain structs serialise to postcard without fail (no maps, no
        // `skip_serializing_if`, which postcard could not read back).
        postcard::to_extend(value, vec![COMPACT_V1]).expect("record serialises")
    }

    fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
        match decode_compact(bytes)? {
            (value, []) => Ok(value),
            (_, extra) => Err(StoreError::Corrupt {
                what: std::any::type_name::<T>(),
                detail: format!("{} bytes after the record", extra.len()),
            }),
        }
    }
}

/// A compact row's record (or the leading fields `T` names) and the bytes after it.
fn decode_compact<T: DeserializeOwned>(bytes: &[u8]) -> Result<(T, &[u8]), StoreError> {
    let corrupt = |detail: String| StoreError::Corrupt {
        what: std::any::type_name::<T>(),
        detail,
    };
    match bytes.split_first() {
        Some((&COMPACT_V1, rest)) => {
            postcard::take_from_bytes(rest).map_err(|e| corrupt(e.to_string()))
        }
        // A JSON row, as schema 14 and older wrote them: read by the schema steps that
        // run before the one converting them (`items::migrate_items_to_compact`).
        Some((b'{', _)) => Ok((decode(bytes)?, &[])),
        Some((b, _)) => Err(corrupt(format!("unknown record format {b}"))),
        None => Err(corrupt("an empty record".into())),
    }
}

/// The value type of a table of `T` records encoded as `F` says.
///
/// On disk it is the same as a `&[u8]` value (its [`redb::Value::type_name`] is that of
/// `&[u8]`), so tables written before the records were typed open unchanged, and a
/// schema step can reread a table's rows as bytes to convert them.
pub struct Stored<T, F = AsJson>(PhantomData<fn() -> (T, F)>);

/// A table of JSON records.
pub type Json<T> = Stored<T, AsJson>;

/// A table of compact records.
pub type Compact<T> = Stored<T, AsCompact>;

impl<T, F> fmt::Debug for Stored<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Stored<{}, {}>",
            std::any::type_name::<T>(),
            std::any::type_name::<F>()
        )
    }
}

/// One stored `T`: its bytes, decoded on demand (a scan that only counts or skips rows
/// never decodes them).
pub struct Record<'a, T, F = AsJson> {
    bytes: Cow<'a, [u8]>,
    _t: PhantomData<fn() -> (T, F)>,
}

impl<T, F> fmt::Debug for Record<'_, T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Record<{}>({} bytes)",
            std::any::type_name::<T>(),
            self.bytes.len()
        )
    }
}

impl<T: Serialize, F: Format> Record<'static, T, F> {
    pub fn of(value: &T) -> Self {
        Record {
            bytes: Cow::Owned(F::encode(value)),
            _t: PhantomData,
        }
    }
}

impl<T, F> Record<'_, T, F> {
    /// The record as stored.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl<T: DeserializeOwned, F: Format> Record<'_, T, F> {
    pub fn decode(&self) -> Result<T, StoreError> {
        F::decode(&self.bytes)
    }
}

impl<T> Record<'_, T, AsJson> {
    /// Decodes only the fields of the record that `U` names (the others are skipped
    /// over, not built).
    pub fn decode_part<U: DeserializeOwned>(&self) -> Result<U, StoreError> {
        decode(&self.bytes)
    }
}

impl<T> Record<'_, T, AsCompact> {
    /// Decodes only the leading fields of the record: `U` names the first fields of `T`,
    /// in their order (a compact row has no names to skip others by), and the rest is
    /// not read.
    pub fn decode_leading<U: DeserializeOwned>(&self) -> Result<U, StoreError> {
        decode_compact(&self.bytes).map(|(leading, _)| leading)
    }
}

impl<T: 'static, F: Format> redb::Value for Stored<T, F> {
    type SelfType<'a>
        = Record<'a, T, F>
    where
        Self: 'a;
    type AsBytes<'a>
        = &'a [u8]
    where
        Self: 'a;

    fn fixed_width() -> Option<usize> {
        None
    }

    fn from_bytes<'a>(data: &'a [u8]) -> Record<'a, T, F>
    where
        Self: 'a,
    {
        Record {
            bytes: Cow::Borrowed(data),
            _t: PhantomData,
        }
    }

    fn as_bytes<'a, 'b: 'a>(value: &'a Record<'b, T, F>) -> &'a [u8]
    where
        Self: 'b,
    {
        &value.bytes
    }

    fn type_name() -> TypeName {
        <&[u8] as redb::Value>::type_name()
    }
}

pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
pub const ACCOUNTS: TableDefinition<AccountId, Json<Account>> = TableDefinition::new("accounts");
pub const ACCOUNT_BY_EMAIL: TableDefinition<&str, AccountId> =
    TableDefinition::new("account_by_email");
pub const DOMAINS: TableDefinition<&str, &[u8]> = TableDefinition::new("domains");
pub const FOLDERS: TableDefinition<(AccountId, FolderId), Json<Folder>> =
    TableDefinition::new("folders");
pub const DEVICES: TableDefinition<(AccountId, &str), Json<Device>> =
    TableDefinition::new("devices");
pub const HIERARCHY: TableDefinition<(AccountId, &str), Json<HierarchyState>> =
    TableDefinition::new("device_hierarchy");

/// Messages (and later other items): (account, folder, item id) → `MailItem` JSON.
pub const ITEMS: TableDefinition<(AccountId, FolderId, u64), Compact<MailItem>> =
    TableDefinition::new("items");
/// Calendar, contact, task and note items: (account, folder, item id) →
/// `GroupwareItem` JSON. Their ids come from the same per-account counter as messages,
/// and their changes go into the same `FOLDER_LOG`, so sync, estimates and Ping read one
/// log for every folder.
pub const GROUPWARE_ITEMS: TableDefinition<(AccountId, FolderId, u64), Json<GroupwareItem>> =
    TableDefinition::new("groupware_items");
/// Per-folder change log: (account, folder, modseq) → (item id, kind). Each live item has
/// exactly one entry, at the modseq of its last change; a deleted item leaves a tombstone.
pub const FOLDER_LOG: TableDefinition<(AccountId, FolderId, u64), (u64, u8)> =
    TableDefinition::new("folder_log");
/// Per-device collection sync state: (account, device, folder) → `CollectionState` JSON.
pub const SYNC_STATE: TableDefinition<(AccountId, &str, FolderId), Json<CollectionState>> =
    TableDefinition::new("sync_state");
/// The items a device holds in a collection, packed: (account, device, folder, generation)
/// → 16 bytes per item (id, received). Generation 0 is current, 1 the previous state.
pub const SYNC_HELD: TableDefinition<(AccountId, &str, FolderId, u8), &[u8]> =
    TableDefinition::new("sync_held");

/// The last Sync request's parameters per device, for empty and Partial Syncs.
pub const SYNC_CACHE: TableDefinition<(AccountId, &str), Json<SyncCache>> =
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
pub const PING_PARAMS: TableDefinition<(AccountId, &str), Json<PingParams>> =
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

/// The word index behind Search (`search_index`): (account, term, first document of the
/// block) → the block's document numbers, delta- and varint-encoded. What was indexed
/// before schema 14 (and by the legacy conversions); merges write runs since.
pub const RUNS: TableDefinition<(AccountId, &str, u64), &[u8]> =
    TableDefinition::new("search_runs");
/// The word index's runs (`search_index::runs`): (account, run) → (level, lowest and
/// highest document, documents, documents deleted since). Each run is a table of its
/// own, [`search_run`].
pub const SEARCH_RUN_LIST: TableDefinition<(AccountId, u32), RunRow> =
    TableDefinition::new("search_run_list");

/// A row of [`SEARCH_RUN_LIST`]: level, lowest and highest document, documents, deleted.
pub type RunRow = (u8, u64, u64, u64, u64);

/// The name of run `n` of `account`'s word index.
pub fn search_run_name(account: AccountId, n: u32) -> String {
    format!("search_run.{account}.{n}")
}

/// A run of the word index: (first term of a chunk, 0) → the chunk: consecutive terms
/// with their documents (`search_index::codec::chunk_push`), about 3.6 KB, so that each
/// fills a page. Named by [`search_run_name`].
pub fn search_run(name: &str) -> TableDefinition<'_, (&'static str, u64), &'static [u8]> {
    TableDefinition::new(name)
}
/// (account, document) → where the indexed message is now (`search_index::Location`);
/// a document without one is dead.
pub const DOCS: TableDefinition<(AccountId, u64), &[u8]> = TableDefinition::new("search_docs");
/// (account, item) → its document, for an item whose document number is not its id.
pub const ITEM_DOCS: TableDefinition<(AccountId, u64), u64> =
    TableDefinition::new("search_item_docs");

/// Postings not yet in `RUNS`: (account, document) → the document's distinct terms
/// (front-coded, `search_index` codec). A delivery writes one row here, at the end of the
/// account's range, instead of touching a block per term; the rows are merged into the
/// blocks once enough wait (`search_index::postings::MERGE_DOCS`), and queries read them
/// too.
pub const PENDING: TableDefinition<(AccountId, u64), &[u8]> =
    TableDefinition::new("search_pending");

/// The audit log of admin actions: sequence number → `AuditEntry` JSON, oldest first;
/// bounded by `audit::KEEP`.
pub const AUDIT: TableDefinition<u64, Json<AuditEntry>> = TableDefinition::new("audit");

/// The server settings saved over the configuration file's: one row, [`SERVER_SETTINGS_ROW`].
pub const SERVER_SETTINGS: TableDefinition<&str, Json<ServerSettings>> =
    TableDefinition::new("server_settings");
pub const SERVER_SETTINGS_ROW: &str = "server";
/// The company directory: account → its `DirectoryEntry` (names, phones, photo and
/// certificates by blob). Accounts without one have none here.
pub const DIRECTORY: TableDefinition<AccountId, Json<DirectoryEntry>> =
    TableDefinition::new("directory");
/// Contacts folders in the GAL: (owner, folder) → `GalSource` JSON (schema 10).
pub const GAL_SOURCES: TableDefinition<(AccountId, FolderId), Json<GalSource>> =
    TableDefinition::new("gal_sources");
/// Groups of accounts: id → `Group` JSON.
pub const GROUPS: TableDefinition<GroupId, Json<Group>> = TableDefinition::new("groups");
/// Folders shared: (owner, folder, grantee kind, grantee id) → `Share` JSON (see
/// `Grantee::key`). An office has tens of shares: readers scan the whole table.
pub const SHARES: TableDefinition<(AccountId, FolderId, u8, u64), Json<Share>> =
    TableDefinition::new("shares");
/// Public folders: (owner, folder) → `PublicFolder` JSON.
pub const PUBLIC_FOLDERS: TableDefinition<(AccountId, FolderId), Json<PublicFolder>> =
    TableDefinition::new("public_folders");
/// The ids under which a reader sees other accounts' folders: (reader, its id) →
/// `ForeignFolder` JSON, and back: (reader, owner, folder) → the reader's id.
pub const FOREIGN_FOLDERS: TableDefinition<(AccountId, FolderId), Json<ForeignFolder>> =
    TableDefinition::new("foreign_folders");
pub const FOREIGN_IDS: TableDefinition<(AccountId, AccountId, FolderId), FolderId> =
    TableDefinition::new("foreign_ids");

/// Packed small blobs (`blob::pack`): SHA-256 of the content → `PackedBody::to_row`
/// (segment, offset, stored length, flags).
pub const PACKED: TableDefinition<&[u8], (u32, u64, u32, u8)> =
    TableDefinition::new("packed_blobs");
/// Per packed segment: how far its records are in [`PACKED`] (the rest is read back at
/// open).
pub const PACK_MARKS: TableDefinition<u32, u64> = TableDefinition::new("pack_marks");

/// A record per packed segment: how far its journal records (`store::journal`) are
/// applied (the deliveries past it are applied again at open). Kept apart from
/// [`PACK_MARKS`], which the index of bodies moves on, in batches of its own.
pub const JOURNAL_MARKS: TableDefinition<u32, u64> = TableDefinition::new("journal_marks");

/// The tables that describe this data directory's segment files, which a backup does not
/// hold (it holds blobs as files): not copied into one.
pub const LOCAL_TO_THE_DATA_DIRECTORY: [&str; 3] = ["packed_blobs", "pack_marks", "journal_marks"];

/// The names of the search index's run tables, as `list` ([`SEARCH_RUN_LIST`]) lists them.
pub fn search_run_names(
    list: &impl ReadableTable<(AccountId, u32), RunRow>,
) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::new();
    for row in list.iter()? {
        let (account, n) = row?.0.value();
        out.push(search_run_name(account, n));
    }
    Ok(out)
}

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
    v.visit(RUNS)?;
    v.visit(SEARCH_RUN_LIST)?;
    v.visit(DOCS)?;
    v.visit(ITEM_DOCS)?;
    v.visit(PENDING)?;
    v.visit(AUDIT)?;
    v.visit(SERVER_SETTINGS)?;
    v.visit(DIRECTORY)?;
    v.visit(GROUPS)?;
    v.visit(SHARES)?;
    v.visit(PUBLIC_FOLDERS)?;
    v.visit(FOREIGN_FOLDERS)?;
    v.visit(FOREIGN_IDS)?;
    v.visit(PACKED)?;
    v.visit(PACK_MARKS)?;
    v.visit(JOURNAL_MARKS)?;
    v.visit(GAL_SOURCES)?;
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

/// Decodes a JSON record; one that does not decode is reported with its type.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        what: std::any::type_name::<T>(),
        detail: e.to_string(),
    })
}

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising our own plain structs to JSON cannot fail (no maps with non-string keys
    // other than integer ones, which serde_json renders as strings).
    serde_json::to_vec(value).expect("record serialises")
}

/// Reads one record of a record table.
pub fn get<'k, K, T, F, Tb>(
    table: &Tb,
    key: impl std::borrow::Borrow<K::SelfType<'k>>,
) -> Result<Option<T>, StoreError>
where
    K: redb::Key + 'static,
    T: DeserializeOwned + 'static,
    F: Format,
    Tb: ReadableTable<K, Stored<T, F>>,
{
    match table.get(key)? {
        Some(v) => v.value().decode().map(Some),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(blob: BlobId) -> MailItem {
        MailItem {
            id: 7,
            folder: 2,
            blob,
            meta: MessageMeta {
                size: 3000,
                received: 1_700_000_000,
                subject: "Budget for the next quarter".into(),
                from: "\"Ann\" <ann@example.com>".into(),
                preview: "Please find the figures attached".into(),
                conversation_id: vec![9; 16],
                ..MessageMeta::default()
            },
            flags: Flags {
                read: true,
                categories: vec!["Red".into()],
                last_verb: Some((1, 1_700_000_100)),
                ..Flags::default()
            },
            modseq: 12,
        }
    }

    #[test]
    fn a_compact_item_reads_back_whole_at_under_half_its_json_size() {
        let it = item(BlobId::of(b"body"));
        let bytes = AsCompact::encode(&it);
        assert_eq!(bytes[0], COMPACT_V1);
        assert_eq!(AsCompact::decode::<MailItem>(&bytes).unwrap(), it);
        assert!(bytes.len() * 2 < encode(&it).len(), "{} bytes", bytes.len());
        // The digest is stored as its 32 bytes, not as 64 hex digits.
        assert!(
            !bytes
                .windows(8)
                .any(|w| w == &it.blob.as_str().as_bytes()[..8])
        );
        // An id that is not a digest (from a row older than the checks) keeps its text.
        let odd = item(serde_json::from_str::<BlobId>("\"not-a-digest\"").unwrap());
        assert_eq!(
            AsCompact::decode::<MailItem>(&AsCompact::encode(&odd)).unwrap(),
            odd
        );
    }

    /// Every field of a stored item set, once: its compact bytes are pinned below.
    fn full_item() -> MailItem {
        use crate::proto::timezone::{ChangeDate, TimeOfDay, TimeZoneInfo};
        let rule = |month, hour| ChangeDate::Rule {
            month,
            week: 5,
            weekday: 0,
            time: TimeOfDay {
                hour,
                minute: 0,
                second: 0,
                millis: 0,
            },
        };
        let meeting = MeetingMeta {
            uid: "uid-1".into(),
            sequence: 3,
            dtstamp: 1_700_000_000,
            start: 1_700_003_600,
            end: 1_700_007_200,
            all_day: false,
            instance_type: InstanceType::Exception,
            recurrence_id: Some(1_700_003_600),
            location: Some("Room 2".into()),
            organizer: Some("boss@example.com".into()),
            reminder: Some(15),
            response_requested: true,
            recurrence: Some(MeetingRecurrence {
                kind: 1,
                interval: 2,
                until: Some(1_800_000_000),
                occurrences: Some(10),
                day_of_week: Some(2),
                day_of_month: Some(3),
                week_of_month: Some(4),
                month_of_year: Some(5),
                first_day_of_week: Some(1),
                calendar_type: Some(0),
                is_leap_month: Some(0),
            }),
            sensitivity: Sensitivity::Private,
            busy_status: BusyStatus::OutOfOffice,
            time_zone: TimeZoneInfo {
                bias: -60,
                standard_name: "W".into(),
                standard_date: rule(10, 3),
                standard_bias: 0,
                daylight_name: "S".into(),
                daylight_date: rule(3, 2),
                daylight_bias: -60,
            },
            disallow_new_time_proposal: true,
            message_type: MeetingMessageType::FullUpdate,
        };
        let mut it = item(BlobId::of(b"full"));
        it.meta = MessageMeta {
            date: Some(1_699_999_000),
            to: "b@example.com".into(),
            cc: "c@example.com".into(),
            bcc: "d@example.com".into(),
            reply_to: "e@example.com".into(),
            display_to: "B".into(),
            thread_topic: "Budget".into(),
            message_id: Some("m@x".into()),
            in_reply_to: Some("p@x".into()),
            references: vec!["p@x".into()],
            importance: 2,
            message_class: "IPM.Schedule.Meeting.Request".into(),
            native_body: 2,
            has_text: true,
            has_html: true,
            internet_cpid: 65001,
            attachments: vec![AttachmentMeta {
                part: 3,
                name: "a.pdf".into(),
                content_type: "application/pdf".into(),
                size: 1234,
                content_id: Some("cid1".into()),
                inline: true,
            }],
            conversation_index: vec![1, 2, 3],
            search_terms: vec!["budget".into()],
            meeting: Some(Box::new(meeting)),
            ..it.meta
        };
        it.flags.flag = Some(FollowUp {
            status: 2,
            flag_type: "Follow up".into(),
            start: Some(1),
            due: Some(2),
            completed: Some(3),
        });
        it.flags.draft = true;
        it
    }

    /// The stored layout of an item, byte for byte. Postcard rows carry no field names:
    /// a field added, removed, reordered or retyped anywhere in `MailItem` (and the types
    /// it holds) would make every stored item unreadable, or read wrong. Should this
    /// fail, do not update the bytes: add a `COMPACT_V2` that reads `COMPACT_V1` rows, and a
    /// schema step that rewrites them.
    #[test]
    fn the_compact_item_layout_is_pinned() {
        let bytes = AsCompact::encode(&full_item());
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, PINNED_ITEM, "the compact layout of MailItem changed");
        assert_eq!(AsCompact::decode::<MailItem>(&bytes).unwrap(), full_item());
    }

    const PINNED_ITEM: &str = concat!(
        "01070220a18b869b2e81c0c529552a3c4fa5c92ed08b98a4e146aed778d71d27517f83acb81780c4",
        "9fd50c01b0b49fd50c1722416e6e22203c616e6e406578616d706c652e636f6d3e0d62406578616d",
        "706c652e636f6d0d63406578616d706c652e636f6d0d64406578616d706c652e636f6d0d65406578",
        "616d706c652e636f6d01421b42756467657420666f7220746865206e657874207175617274657206",
        "42756467657401036d407801037040780103704078021c49504d2e5363686564756c652e4d656574",
        "696e672e52657175657374020101e9fb03010305612e7064660f6170706c69636174696f6e2f7064",
        "66d2090104636964310120506c656173652066696e64207468652066696775726573206174746163",
        "686564100909090909090909090909090909090903010203010662756467657401057569642d3103",
        "80c49fd50ca0fc9fd50cc0b4a0d50c000201a0fc9fd50c0106526f6f6d20320110626f7373406578",
        "616d706c652e636f6d010f010101020180c8ceb40d010a0102010301040105010101000100020377",
        "0157010a050003000000000153010305000200000077010201010209466f6c6c6f77207570010201",
        "04010601035265640101c8c59fd50c010c",
    );

    #[test]
    fn a_json_row_of_an_older_schema_still_reads() {
        let it = item(BlobId::of(b"body"));
        assert_eq!(AsCompact::decode::<MailItem>(&encode(&it)).unwrap(), it);
    }

    #[test]
    fn the_leading_fields_of_a_compact_or_json_row_decode_alone() {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct Leading {
            id: u64,
            folder: u64,
            blob: BlobId,
        }
        let it = item(BlobId::of(b"body"));
        let want = Leading {
            id: 7,
            folder: 2,
            blob: it.blob.clone(),
        };
        for bytes in [AsCompact::encode(&it), encode(&it)] {
            let record = Record::<MailItem, AsCompact> {
                bytes: Cow::Borrowed(&bytes),
                _t: PhantomData,
            };
            assert_eq!(record.decode_leading::<Leading>().unwrap(), want);
        }
        // Cut inside the leading fields: an error.
        let bytes = AsCompact::encode(&it);
        let record = Record::<MailItem, AsCompact> {
            bytes: Cow::Borrowed(&bytes[..12]),
            _t: PhantomData,
        };
        assert!(record.decode_leading::<Leading>().is_err());
    }

    #[test]
    fn a_damaged_compact_record_is_an_error_not_a_panic() {
        let bytes = AsCompact::encode(&item(BlobId::of(b"x")));
        for cut in 0..bytes.len() {
            assert!(
                AsCompact::decode::<MailItem>(&bytes[..cut]).is_err(),
                "{cut}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        let err = AsCompact::decode::<MailItem>(&longer).unwrap_err();
        assert!(err.to_string().contains("after the record"), "{err}");
        let mut other = bytes.clone();
        other[0] = 0xff;
        let err = AsCompact::decode::<MailItem>(&other).unwrap_err();
        assert!(err.to_string().contains("record format"), "{err}");
    }
}
