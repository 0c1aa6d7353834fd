//! Items in folders and the per-folder change log that sync reads.
//!
//! Every change to a folder's contents takes the folder's next modseq. The item records
//! that modseq, and the log holds one entry per live item at that modseq (its previous entry
//! is removed), plus a tombstone per deleted item. "What changed since modseq m" is then
//! one range scan of the log.

use redb::ReadableTable;

use super::model::{AccountId, FolderId};
use super::ops::{self, Reads};
use super::search_index;
use super::tables::{self, FOLDER_LOG, GROUPWARE_ITEMS, ITEMS, MOVED};
use super::tx::Tx;
use super::{Event, StoreError, WriteCtx};
use crate::store::BlobId;
use crate::store::model::{Flags, MailItem, MessageMeta};
use crate::store::model::{GroupwareItem, Summary, pim};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogKind {
    Upsert,
    Delete,
}

impl LogKind {
    fn code(self) -> u8 {
        match self {
            LogKind::Upsert => 0,
            LogKind::Delete => 1,
        }
    }

    fn from_code(c: u8) -> Self {
        if c == 1 {
            LogKind::Delete
        } else {
            LogKind::Upsert
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogEntry {
    pub modseq: u64,
    pub item: u64,
    pub kind: LogKind,
}

/// Item reads, for any transaction.
pub trait ItemReads: Tx {
    fn item(
        &self,
        account: AccountId,
        folder: FolderId,
        id: u64,
    ) -> Result<Option<MailItem>, StoreError> {
        tables::get(&self.table(ITEMS)?, (account, folder, id))
    }

    fn groupware_item(
        &self,
        account: AccountId,
        folder: FolderId,
        id: u64,
    ) -> Result<Option<GroupwareItem>, StoreError> {
        tables::get(&self.table(GROUPWARE_ITEMS)?, (account, folder, id))
    }

    /// The events of a folder whose summary `wanted` accepts, with only what free/busy
    /// reads of them, in one scan: each item's summary is read first, and only the record
    /// of one it keeps, as far as [`pim::EventTimes`] goes (other items are skipped).
    fn event_times_where(
        &self,
        account: AccountId,
        folder: FolderId,
        mut wanted: impl FnMut(&Summary) -> bool,
    ) -> Result<Vec<pim::EventTimes>, StoreError> {
        #[derive(serde::Deserialize)]
        struct SummaryOnly {
            summary: Summary,
        }
        #[derive(serde::Deserialize)]
        struct TimesOnly {
            record: pim::EventTimesOf,
        }
        let table = self.table(GROUPWARE_ITEMS)?;
        let mut out = Vec::new();
        for row in table.range((account, folder, 0)..=(account, folder, u64::MAX))? {
            let (_, v) = row?;
            let stored = v.value();
            if wanted(&stored.decode_part::<SummaryOnly>()?.summary)
                && let Some(times) = stored.decode_part::<TimesOnly>()?.record.0
            {
                out.push(times);
            }
        }
        Ok(out)
    }

    /// Where item `id` of `folder` was moved: (destination folder, new id), if it was.
    fn moved_to(
        &self,
        account: AccountId,
        folder: FolderId,
        id: u64,
    ) -> Result<Option<(FolderId, u64)>, StoreError> {
        Ok(self
            .table(MOVED)?
            .get((account, folder, id))?
            .map(|v| v.value()))
    }

    /// Log entries after `after`, oldest first, at most `limit`.
    fn log_since(
        &self,
        account: AccountId,
        folder: FolderId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<LogEntry>, StoreError> {
        let table = self.table(FOLDER_LOG)?;
        let mut out = Vec::new();
        for row in
            table.range((account, folder, after.saturating_add(1))..=(account, folder, u64::MAX))?
        {
            if out.len() >= limit {
                break;
            }
            let (k, v) = row?;
            let (item, kind) = v.value();
            out.push(LogEntry {
                modseq: k.value().2,
                item,
                kind: LogKind::from_code(kind),
            });
        }
        Ok(out)
    }

    /// Every item of a folder.
    fn folder_items(
        &self,
        account: AccountId,
        folder: FolderId,
    ) -> Result<Vec<MailItem>, StoreError> {
        let table = self.table(ITEMS)?;
        let mut out = Vec::new();
        for row in table.range((account, folder, 0)..=(account, folder, u64::MAX))? {
            let (_, v) = row?;
            out.push(v.value().decode()?);
        }
        Ok(out)
    }

    /// Every groupware item of a folder.
    fn groupware_items(
        &self,
        account: AccountId,
        folder: FolderId,
    ) -> Result<Vec<GroupwareItem>, StoreError> {
        let table = self.table(GROUPWARE_ITEMS)?;
        let mut out = Vec::new();
        for row in table.range((account, folder, 0)..=(account, folder, u64::MAX))? {
            let (_, v) = row?;
            out.push(v.value().decode()?);
        }
        Ok(out)
    }
}

impl<T: Tx> ItemReads for T {}

/// Takes the folder's next modseq.
fn next_modseq(
    ctx: &mut WriteCtx,
    account: AccountId,
    folder: FolderId,
) -> Result<u64, StoreError> {
    let mut f = ctx
        .tx
        .folder(account, folder)?
        .ok_or_else(|| StoreError::NotFound(format!("folder {folder}")))?;
    f.modseq += 1;
    ops::put_folder(ctx, account, &f)?;
    ctx.publish(Event::Folder { account, folder });
    Ok(f.modseq)
}

/// Records `entry` in the folder's log, removing the item's previous entry (`replaces`).
fn log(
    ctx: &WriteCtx,
    folder: (AccountId, FolderId),
    entry: LogEntry,
    replaces: Option<u64>,
) -> Result<(), StoreError> {
    let (account, folder) = folder;
    let mut table = ctx.tx.open_table(FOLDER_LOG)?;
    if let Some(old) = replaces {
        table.remove((account, folder, old))?;
    }
    table.insert(
        (account, folder, entry.modseq),
        (entry.item, entry.kind.code()),
    )?;
    Ok(())
}

fn put(ctx: &WriteCtx, account: AccountId, item: &MailItem) -> Result<(), StoreError> {
    ctx.tx
        .open_table(ITEMS)?
        .insert((account, item.folder, item.id), tables::Record::of(item))?;
    Ok(())
}

/// Takes the account's next item id (messages and groupware items share the counter, so
/// an id never names two items of the account).
fn next_item_id(ctx: &WriteCtx, account: AccountId) -> Result<u64, StoreError> {
    let mut acc = ctx
        .tx
        .account(account)?
        .ok_or_else(|| StoreError::NotFound(format!("account {account}")))?;
    let id = acc.next_item_id;
    acc.next_item_id += 1;
    ops::put_account(ctx, &acc)?;
    Ok(id)
}

/// Stores a new message in `folder`, indexing its search terms (which the item record
/// itself does not keep: they would weigh on every sync read).
pub fn insert(
    ctx: &mut WriteCtx,
    account: AccountId,
    folder: FolderId,
    blob: BlobId,
    mut meta: MessageMeta,
    flags: Flags,
) -> Result<MailItem, StoreError> {
    let terms = search_index::Terms::of(&std::mem::take(&mut meta.search_terms));
    insert_indexed(ctx, account, folder, blob, meta, flags, &terms)
}

/// [`insert`] of a message whose words were taken out of its metadata and encoded
/// beforehand (a delivery waiting for the writer keeps them so).
pub fn insert_indexed(
    ctx: &mut WriteCtx,
    account: AccountId,
    folder: FolderId,
    blob: BlobId,
    meta: MessageMeta,
    flags: Flags,
    terms: &search_index::Terms,
) -> Result<MailItem, StoreError> {
    let item = store_new(ctx, account, folder, blob, meta, flags)?;
    search_index::add(ctx, account, folder, item.id, item.meta.received, terms)?;
    Ok(item)
}

/// Stores a new message in `folder` without touching the search index.
fn store_new(
    ctx: &mut WriteCtx,
    account: AccountId,
    folder: FolderId,
    blob: BlobId,
    meta: MessageMeta,
    flags: Flags,
) -> Result<MailItem, StoreError> {
    let id = next_item_id(ctx, account)?;
    let modseq = next_modseq(ctx, account, folder)?;
    let item = MailItem {
        id,
        folder,
        blob,
        meta,
        flags,
        modseq,
    };
    put(ctx, account, &item)?;
    let entry = LogEntry {
        modseq,
        item: id,
        kind: LogKind::Upsert,
    };
    log(ctx, (account, folder), entry, None)?;
    Ok(item)
}

/// Changes an item's flags. `Ok(None)`: no such item. An unchanged result writes nothing.
pub fn update_flags(
    ctx: &mut WriteCtx,
    account: AccountId,
    folder: FolderId,
    id: u64,
    change: impl FnOnce(&mut Flags),
) -> Result<Option<MailItem>, StoreError> {
    let Some(mut item) = ctx.tx.item(account, folder, id)? else {
        return Ok(None);
    };
    let before = item.flags.clone();
    change(&mut item.flags);
    if item.flags == before {
        return Ok(Some(item));
    }
    store_changed(ctx, account, &mut item)?;
    Ok(Some(item))
}

/// Stores a changed item at its folder's next modseq, its log entry moved there.
fn store_changed(
    ctx: &mut WriteCtx,
    account: AccountId,
    item: &mut MailItem,
) -> Result<(), StoreError> {
    let old = item.modseq;
    item.modseq = next_modseq(ctx, account, item.folder)?;
    put(ctx, account, item)?;
    let entry = LogEntry {
        modseq: item.modseq,
        item: item.id,
        kind: LogKind::Upsert,
    };
    log(ctx, (account, item.folder), entry, Some(old))
}

/// Replaces the message of item `id` (a draft edited by a device): the same id, a new
/// blob and metadata, `flags`, and a new modseq. `Ok(None)`: no such item.
pub fn replace_message(
    ctx: &mut WriteCtx,
    account: AccountId,
    folder: FolderId,
    id: u64,
    blob: BlobId,
    mut meta: MessageMeta,
    flags: Flags,
) -> Result<Option<MailItem>, StoreError> {
    let Some(mut item) = ctx.tx.item(account, folder, id)? else {
        return Ok(None);
    };
    let terms = search_index::Terms::of(&std::mem::take(&mut meta.search_terms));
    item.blob = blob;
    item.meta = meta;
    item.flags = flags;
    store_changed(ctx, account, &mut item)?;
    // A new document: the old one's postings (the old message's words) are dead with it.
    let doc = next_item_id(ctx, account)?;
    let at = search_index::Location {
        folder,
        item: id,
        received: item.meta.received,
    };
    search_index::readd(ctx, account, doc, at, &terms)?;
    Ok(Some(item))
}

/// Moves a message's DateReceived back by `seconds` without recording a change: as if the
/// message had been delivered that much earlier. Only tests need it (the filter window
/// moving with time, without waiting for it); the server never rewrites a date.
#[doc(hidden)]
pub fn backdate_for_tests(
    ctx: &WriteCtx,
    account: AccountId,
    folder: FolderId,
    id: u64,
    seconds: i64,
) -> Result<bool, StoreError> {
    let Some(mut item) = ctx.item(account, folder, id)? else {
        return Ok(false);
    };
    item.meta.received -= seconds;
    ctx.tx
        .open_table(ITEMS)?
        .insert((account, folder, id), tables::Record::of(&item))?;
    Ok(true)
}

/// Removes an item, leaving a tombstone, and takes it out of the search index. Returns the
/// removed item and the tombstone's modseq.
pub fn delete(
    ctx: &mut WriteCtx,
    account: AccountId,
    folder: FolderId,
    id: u64,
) -> Result<Option<(MailItem, u64)>, StoreError> {
    let removed = unlink(ctx, account, folder, id)?;
    if removed.is_some() {
        search_index::remove(ctx, account, folder, id)?;
    }
    Ok(removed)
}

/// Removes an item, leaving a tombstone, without touching the search index.
fn unlink(
    ctx: &mut WriteCtx,
    account: AccountId,
    folder: FolderId,
    id: u64,
) -> Result<Option<(MailItem, u64)>, StoreError> {
    let Some(item) = ctx.tx.item(account, folder, id)? else {
        return Ok(None);
    };
    ctx.tx.open_table(ITEMS)?.remove((account, folder, id))?;
    let modseq = tombstone(ctx, account, folder, id, item.modseq)?;
    Ok(Some((item, modseq)))
}

/// Logs the removal of item `id`, last changed at `was`; the tombstone's modseq.
fn tombstone(
    ctx: &mut WriteCtx,
    account: AccountId,
    folder: FolderId,
    id: u64,
    was: u64,
) -> Result<u64, StoreError> {
    let modseq = next_modseq(ctx, account, folder)?;
    let entry = LogEntry {
        modseq,
        item: id,
        kind: LogKind::Delete,
    };
    log(ctx, (account, folder), entry, Some(was))?;
    Ok(modseq)
}

/// Moves an item to another folder, where it gets a new id (and so a new ServerId).
/// Returns the tombstone's modseq in the source and the new item.
pub fn move_to(
    ctx: &mut WriteCtx,
    account: AccountId,
    from: FolderId,
    id: u64,
    to: FolderId,
) -> Result<Option<(u64, MailItem)>, StoreError> {
    let Some((item, tombstone)) = unlink(ctx, account, from, id)? else {
        return Ok(None);
    };
    let moved = store_new(ctx, account, to, item.blob, item.meta, item.flags)?;
    // The same indexed document, found at its new place: no word is indexed again.
    let at = search_index::Location {
        folder: to,
        item: moved.id,
        received: moved.meta.received,
    };
    search_index::relocate(ctx, account, (from, id), at)?;
    record_move(ctx, account, (from, id), (to, moved.id))?;
    Ok(Some((tombstone, moved)))
}

/// Moves groupware item `id` from `from` to `to`, where it is a new item (new id, new
/// modseq) with the same record; the source's tombstone modseq and the new item.
pub fn move_groupware(
    ctx: &mut WriteCtx,
    account: AccountId,
    from: FolderId,
    id: u64,
    to: FolderId,
) -> Result<Option<(u64, GroupwareItem)>, StoreError> {
    let Some(item) = ctx.tx.groupware_item(account, from, id)? else {
        return Ok(None);
    };
    let Some(tombstone) = delete_groupware(ctx, account, from, id)? else {
        return Ok(None);
    };
    let moved = put_groupware(ctx, account, to, None, item.record, item.summary)?
        .ok_or_else(|| StoreError::NotFound(format!("new item in folder {to}")))?;
    record_move(ctx, account, (from, id), (to, moved.id))?;
    Ok(Some((tombstone, moved)))
}

/// Remembers where a moved item went (see [`ItemReads::moved_to`]).
fn record_move(
    ctx: &WriteCtx,
    account: AccountId,
    (from, id): (FolderId, u64),
    to: (FolderId, u64),
) -> Result<(), StoreError> {
    ctx.tx.open_table(MOVED)?.insert((account, from, id), to)?;
    Ok(())
}

/// Stores a groupware item: a new one in `folder` (`id` `None`), or the new
/// record of item `id` (`Ok(None)`: no such item).
pub fn put_groupware(
    ctx: &mut WriteCtx,
    account: AccountId,
    folder: FolderId,
    id: Option<u64>,
    record: pim::Record,
    summary: Summary,
) -> Result<Option<GroupwareItem>, StoreError> {
    let (id, created, replaces) = match id {
        None => (next_item_id(ctx, account)?, super::now(), None),
        Some(id) => match ctx.tx.groupware_item(account, folder, id)? {
            Some(old) => (id, old.created, Some(old.modseq)),
            None => return Ok(None),
        },
    };
    let item = GroupwareItem {
        id,
        folder,
        record,
        summary,
        created,
        modified: Some(super::now()),
        modseq: next_modseq(ctx, account, folder)?,
    };
    ctx.tx
        .open_table(GROUPWARE_ITEMS)?
        .insert((account, folder, id), tables::Record::of(&item))?;
    super::directory::folder_contacts_changed(ctx.tx, account, folder)?;
    let entry = LogEntry {
        modseq: item.modseq,
        item: id,
        kind: LogKind::Upsert,
    };
    log(ctx, (account, folder), entry, replaces)?;
    Ok(Some(item))
}

/// Removes a groupware item, leaving a tombstone; the tombstone's modseq, or `None` when
/// there is no such item.
pub fn delete_groupware(
    ctx: &mut WriteCtx,
    account: AccountId,
    folder: FolderId,
    id: u64,
) -> Result<Option<u64>, StoreError> {
    let Some(item) = ctx.tx.groupware_item(account, folder, id)? else {
        return Ok(None);
    };
    ctx.tx
        .open_table(GROUPWARE_ITEMS)?
        .remove((account, folder, id))?;
    super::directory::folder_contacts_changed(ctx.tx, account, folder)?;
    tombstone(ctx, account, folder, id, item.modseq).map(Some)
}

/// Deletes every item of a folder, messages and groupware items, each leaving its
/// tombstone (the folder stays; devices are told of each deletion).
pub fn empty_folder(
    ctx: &mut WriteCtx,
    account: AccountId,
    folder: FolderId,
) -> Result<(), StoreError> {
    for item in ctx.tx.folder_items(account, folder)? {
        delete(ctx, account, folder, item.id)?;
    }
    let mut groupware = Vec::new();
    for row in ctx
        .tx
        .open_table(GROUPWARE_ITEMS)?
        .range((account, folder, 0)..=(account, folder, u64::MAX))?
    {
        groupware.push(row?.0.value().2);
    }
    for id in groupware {
        delete_groupware(ctx, account, folder, id)?;
    }
    Ok(())
}

/// Removes every item, log entry and search posting of a folder (the folder itself is
/// being deleted).
pub fn purge_folder(
    ctx: &WriteCtx,
    account: AccountId,
    folder: FolderId,
) -> Result<(), StoreError> {
    let mut ids = Vec::new();
    for row in ctx
        .tx
        .open_table(ITEMS)?
        .range((account, folder, 0)..=(account, folder, u64::MAX))?
    {
        ids.push(row?.0.value().2);
    }
    search_index::purge_folder(ctx, account, folder, &ids)?;
    ctx.tx.open_table(ITEMS)?.retain_in(
        (account, folder, 0)..=(account, folder, u64::MAX),
        |_, _| false,
    )?;
    ctx.tx.open_table(GROUPWARE_ITEMS)?.retain_in(
        (account, folder, 0)..=(account, folder, u64::MAX),
        |_, _| false,
    )?;
    ctx.tx.open_table(FOLDER_LOG)?.retain_in(
        (account, folder, 0)..=(account, folder, u64::MAX),
        |_, _| false,
    )?;
    ctx.tx.open_table(MOVED)?.retain_in(
        (account, folder, 0)..=(account, folder, u64::MAX),
        |_, _| false,
    )?;
    Ok(())
}

/// A groupware item as schema 5 stored it: the client's ApplicationData, WBXML, in base64.
#[derive(serde::Deserialize)]
struct Schema5Item {
    id: u64,
    folder: FolderId,
    data: String,
    summary: Summary,
    created: i64,
    modseq: u64,
}

/// Schema 15: the message items from JSON to compact records ([`tables::Compact`]; the
/// steps before it read the JSON rows through the same table type).
///
/// Copied into a scratch table, then back into a new `items`, rather than rewritten in
/// place: rows shrunk in place would leave every page of the table as full as before
/// (redb does not merge pages on update, nor compaction pages' contents), and new items
/// are only ever appended after them, so the space would never be reused. Both copies
/// stream row by row (nothing the size of the mailbox is held in memory); the step runs
/// in the opening transaction, so a kill during it leaves the store as schema 14.
pub(super) fn migrate_items_to_compact(tx: &redb::WriteTransaction) -> Result<(), StoreError> {
    use redb::TableHandle as _;
    use tables::Format as _;
    type Key = (AccountId, FolderId, u64);
    let raw: redb::TableDefinition<Key, &[u8]> = redb::TableDefinition::new(ITEMS.name());
    let scratch: redb::TableDefinition<Key, &[u8]> = redb::TableDefinition::new("items_to_compact");
    {
        let old = tx.open_table(raw)?;
        let mut out = tx.open_table(scratch)?;
        for row in old.iter()? {
            let (k, v) = row?;
            // Reads JSON (and a row already compact: the tests of older steps set the
            // version of a store this version wrote back).
            let item: MailItem = tables::AsCompact::decode(v.value())?;
            out.insert(
                k.value(),
                tables::Record::<_, tables::AsCompact>::of(&item).bytes(),
            )?;
        }
    }
    tx.delete_table(raw)?;
    {
        let from = tx.open_table(scratch)?;
        let mut items = tx.open_table(raw)?;
        for row in from.iter()? {
            let (k, v) = row?;
            items.insert(k.value(), v.value())?;
        }
    }
    tx.delete_table(scratch)?;
    Ok(())
}

/// Schema 6: every groupware item's stored ApplicationData read into its typed record.
/// Values the reading cannot take (the old server kept what a client sent) stay as they
/// were, in the record's kept elements, so the upgrade loses nothing. Row by row: the
/// keys are read first, then each row is rewritten in place.
pub(super) fn migrate_groupware_to_records(tx: &redb::WriteTransaction) -> Result<(), StoreError> {
    use base64::Engine as _;
    use redb::TableHandle as _;
    let raw: redb::TableDefinition<(AccountId, FolderId, u64), &[u8]> =
        redb::TableDefinition::new(GROUPWARE_ITEMS.name());
    let mut table = tx.open_table(raw)?;
    let keys: Vec<(AccountId, FolderId, u64)> = table
        .iter()?
        .map(|row| row.map(|(k, _)| k.value()))
        .collect::<Result<_, _>>()?;
    let corrupt = |key: (AccountId, FolderId, u64), detail: String| StoreError::Corrupt {
        what: "groupware_items",
        detail: format!("item {key:?}: {detail}"),
    };
    for key in keys {
        let Some(bytes) = table.get(key)?.map(|v| v.value().to_vec()) else {
            continue;
        };
        let old: Schema5Item = tables::decode(&bytes)?;
        let wbxml_bytes = base64::engine::general_purpose::STANDARD
            .decode(&old.data)
            .map_err(|e| corrupt(key, e.to_string()))?;
        let data = crate::wbxml::decode(&wbxml_bytes, &crate::wbxml::Limits::default())
            .map_err(|e| corrupt(key, e.to_string()))?;
        let kind = match old.summary {
            Summary::Calendar(_) => pim::Kind::Event,
            Summary::Contact => pim::Kind::Contact,
            Summary::Task(_) => pim::Kind::Task,
            Summary::Note(_) => pim::Kind::Note,
        };
        let record =
            pim::Record::parse(kind, &data, pim::Mode::Keep).map_err(|e| corrupt(key, e.0))?;
        let item = GroupwareItem {
            id: old.id,
            folder: old.folder,
            record,
            summary: old.summary,
            created: old.created,
            modified: None,
            modseq: old.modseq,
        };
        table.insert(key, tables::encode(&item).as_slice())?;
    }
    Ok(())
}
