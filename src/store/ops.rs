//! Typed reads and writes of the records in [`super::model`].
//!
//! Reads are a trait implemented for both read and write transactions, so a write job can
//! check what it is about to change inside the same transaction.

use redb::{ReadableTable, WriteTransaction};

use super::model::*;
use super::tables::{self, *};
use super::tx::Tx;
use super::{Event, StoreError, WriteCtx, now};
use crate::proto::ids::DeviceId;

/// Typed reads, for any transaction.
pub trait Reads: Tx {
    /// The server settings saved over the configuration file's (none saved: empty).
    fn server_settings(&self) -> Result<ServerSettings, StoreError> {
        Ok(tables::get(&self.table(SERVER_SETTINGS)?, SERVER_SETTINGS_ROW)?.unwrap_or_default())
    }

    fn account(&self, id: AccountId) -> Result<Option<Account>, StoreError> {
        tables::get(&self.table(ACCOUNTS)?, id)
    }

    fn account_by_email(&self, email: &str) -> Result<Option<Account>, StoreError> {
        let id = self
            .table(ACCOUNT_BY_EMAIL)?
            .get(email.to_ascii_lowercase().as_str())?
            .map(|v| v.value());
        match id {
            Some(id) => self.account(id),
            None => Ok(None),
        }
    }

    fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        let table = self.table(ACCOUNTS)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            let (_, v) = row?;
            out.push(v.value().decode()?);
        }
        Ok(out)
    }

    fn folders(&self, account: AccountId) -> Result<Vec<Folder>, StoreError> {
        let table = self.table(FOLDERS)?;
        let mut out = Vec::new();
        for row in table.range((account, 0)..=(account, u64::MAX))? {
            let (_, v) = row?;
            out.push(v.value().decode()?);
        }
        Ok(out)
    }

    fn folder(&self, account: AccountId, id: FolderId) -> Result<Option<Folder>, StoreError> {
        tables::get(&self.table(FOLDERS)?, (account, id))
    }

    fn device(&self, account: AccountId, device_id: &str) -> Result<Option<Device>, StoreError> {
        tables::get(&self.table(DEVICES)?, (account, device_id))
    }

    /// The devices of one account.
    fn account_devices(&self, account: AccountId) -> Result<Vec<Device>, StoreError> {
        let table = self.table(DEVICES)?;
        let mut out = Vec::new();
        for row in table.range((account, "")..=(account, "\u{10FFFF}"))? {
            let (_, v) = row?;
            out.push(v.value().decode()?);
        }
        Ok(out)
    }

    fn devices(&self) -> Result<Vec<Device>, StoreError> {
        let table = self.table(DEVICES)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            let (_, v) = row?;
            out.push(v.value().decode()?);
        }
        Ok(out)
    }

    fn hierarchy(
        &self,
        account: AccountId,
        device_id: &str,
    ) -> Result<Option<HierarchyState>, StoreError> {
        tables::get(&self.table(HIERARCHY)?, (account, device_id))
    }
}

impl<T: Tx> Reads for T {}

/// Checks `local@domain` shape; easd's accounts are always addressed this way.
pub fn normalize_email(email: &str) -> Result<String, StoreError> {
    let email = email.trim().to_ascii_lowercase();
    let valid = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && domain.contains('.') | (domain == "localhost")
                && email.bytes().all(|b| {
                    b.is_ascii_graphic() && !matches!(b, b'/' | b'\\' | b'"' | b'<' | b'>')
                })
        }
        None => false,
    };
    if valid && email.len() <= 254 {
        Ok(email)
    } else {
        Err(StoreError::Invalid(format!(
            "not a valid address: {email:?}"
        )))
    }
}

/// Replaces the saved server settings.
pub fn put_server_settings(w: &WriteCtx, settings: &ServerSettings) -> Result<(), StoreError> {
    w.tx.open_table(SERVER_SETTINGS)?
        .insert(SERVER_SETTINGS_ROW, tables::Record::of(settings))?;
    Ok(())
}

pub fn put_account(w: &WriteCtx, account: &Account) -> Result<(), StoreError> {
    let tx = w.tx;
    super::directory::account_changing(tx, tx.account(account.id)?.as_ref(), account)?;
    tx.open_table(ACCOUNTS)?
        .insert(account.id, tables::Record::of(account))?;
    Ok(())
}

/// Creates an account with its default folders.
pub fn create_account(
    ctx: &mut WriteCtx,
    email: &str,
    display_name: &str,
    password_hash: &str,
    admin: bool,
) -> Result<Account, StoreError> {
    let email = normalize_email(email)?;
    if ctx.tx.account_by_email(&email)?.is_some() {
        return Err(StoreError::Conflict(format!(
            "account {email} already exists"
        )));
    }
    let id = next_id(ctx.tx, "next_account_id")?;
    let mut account = Account {
        id,
        email: email.clone(),
        display_name: display_name.to_owned(),
        admin,
        enabled: true,
        password_hash: password_hash.to_owned(),
        created: now(),
        next_folder_id: 1,
        next_item_id: 1,
        protocol_log: false,
        oof: Oof::default(),
        activesync: true,
    };
    {
        let mut folders = ctx.tx.open_table(FOLDERS)?;
        for (name, kind) in DEFAULT_FOLDERS {
            let folder = Folder {
                id: account.next_folder_id,
                parent: ROOT_FOLDER,
                name: name.to_owned(),
                kind,
                special: true,
                modseq: 0,
            };
            folders.insert((id, folder.id), tables::Record::of(&folder))?;
            account.next_folder_id += 1;
        }
    }
    put_account(ctx, &account)?;
    ctx.tx
        .open_table(ACCOUNT_BY_EMAIL)?
        .insert(email.as_str(), id)?;
    let domain = account.domain().to_owned();
    let mut domains = ctx.tx.open_table(DOMAINS)?;
    if domains.get(domain.as_str())?.is_none() {
        let record = serde_json::json!({ "name": domain, "created": now() });
        domains.insert(domain.as_str(), tables::encode(&record).as_slice())?;
    }
    ctx.publish(Event::Hierarchy { account: id });
    Ok(account)
}

/// Removes an account and everything it owns, and its part in sharing.
pub fn delete_account(w: &mut WriteCtx, account: &Account) -> Result<(), StoreError> {
    super::share::forget_account(w, account.id)?;
    let tx = w.tx;
    tx.open_table(ACCOUNTS)?.remove(account.id)?;
    tx.open_table(ACCOUNT_BY_EMAIL)?
        .remove(account.email.as_str())?;
    tx.open_table(FOLDERS)?
        .retain_in((account.id, 0)..=(account.id, u64::MAX), |_, _| false)?;
    let all = (account.id, 0, 0)..=(account.id, u64::MAX, u64::MAX);
    tx.open_table(ITEMS)?.retain_in(all.clone(), |_, _| false)?;
    tx.open_table(super::tables::GROUPWARE_ITEMS)?
        .retain_in(all.clone(), |_, _| false)?;
    tx.open_table(FOLDER_LOG)?
        .retain_in(all.clone(), |_, _| false)?;
    tx.open_table(super::tables::MOVED)?
        .retain_in(all, |_, _| false)?;
    tx.open_table(super::tables::CONVERSATION_MOVES)?
        .retain_in(
            (account.id, &[][..])..=(account.id, &[0xFF; 64][..]),
            |_, _| false,
        )?;
    super::search_index::delete_account(tx, account.id)?;
    super::directory::delete_entry(tx, account.id)?;
    super::directory::forget_sources(tx, account.id, None)?;
    tx.open_table(SENT_CLIENT_IDS)?
        .retain_in((account.id, "")..=(account.id, "\u{10FFFF}"), |_, _| false)?;
    tx.open_table(OOF_SENT)?
        .retain_in((account.id, "")..=(account.id, "\u{10FFFF}"), |_, _| false)?;
    tx.open_table(IMPORTED)?.retain_in(
        (account.id, 0, "")..=(account.id, u64::MAX, "\u{10FFFF}"),
        |_, _| false,
    )?;
    let device_ids: Vec<DeviceId> = tx
        .devices()?
        .into_iter()
        .filter(|d| d.account == account.id)
        .map(|d| d.device_id)
        .collect();
    for device_id in device_ids {
        delete_device(w, account.id, &device_id)?;
    }
    Ok(())
}

pub fn put_folder(w: &WriteCtx, account: AccountId, folder: &Folder) -> Result<(), StoreError> {
    let tx = w.tx;
    tx.open_table(FOLDERS)?
        .insert((account, folder.id), tables::Record::of(folder))?;
    Ok(())
}

pub fn remove_folder(w: &WriteCtx, account: AccountId, id: FolderId) -> Result<(), StoreError> {
    let tx = w.tx;
    tx.open_table(FOLDERS)?.remove((account, id))?;
    Ok(())
}

pub fn put_device(w: &WriteCtx, device: &Device) -> Result<(), StoreError> {
    let tx = w.tx;
    tx.open_table(DEVICES)?.insert(
        (device.account, device.device_id.as_str()),
        tables::Record::of(device),
    )?;
    Ok(())
}

/// Removes a device and all its sync state.
pub fn delete_device(w: &WriteCtx, account: AccountId, device_id: &str) -> Result<(), StoreError> {
    w.tx.open_table(DEVICES)?.remove((account, device_id))?;
    drop_sync_state(w, account, device_id)
}

/// Forgets what a device was sent (folder hierarchy, every collection's state, its last
/// Sync and Ping), keeping the device row and its governance: its next FolderSync or Sync
/// finds its key unknown and it syncs everything again.
pub fn drop_sync_state(
    w: &WriteCtx,
    account: AccountId,
    device_id: &str,
) -> Result<(), StoreError> {
    let tx = w.tx;
    tx.open_table(HIERARCHY)?.remove((account, device_id))?;
    tx.open_table(SYNC_STATE)?.retain_in(
        (account, device_id, 0)..=(account, device_id, u64::MAX),
        |_, _| false,
    )?;
    tx.open_table(SYNC_CACHE)?.remove((account, device_id))?;
    tx.open_table(PING_PARAMS)?.remove((account, device_id))?;
    tx.open_table(SYNC_HELD)?.retain_in(
        (account, device_id, 0, 0)..=(account, device_id, u64::MAX, u8::MAX),
        |_, _| false,
    )?;
    Ok(())
}

pub fn put_hierarchy(
    w: &WriteCtx,
    account: AccountId,
    device_id: &str,
    state: &HierarchyState,
) -> Result<(), StoreError> {
    let tx = w.tx;
    tx.open_table(HIERARCHY)?
        .insert((account, device_id), tables::Record::of(state))?;
    Ok(())
}

pub(super) fn next_id(tx: &WriteTransaction, counter: &str) -> Result<u64, StoreError> {
    let mut meta = tx.open_table(META)?;
    let current = match meta.get(counter)? {
        Some(v) => u64::from_le_bytes(v.value().try_into().map_err(|_| StoreError::Corrupt {
            what: "meta",
            detail: format!("{counter} is not 8 bytes"),
        })?),
        None => 1,
    };
    meta.insert(counter, (current + 1).to_le_bytes().as_slice())?;
    Ok(current)
}
