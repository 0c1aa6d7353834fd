//! Local delivery: one message into the Inbox of one or more accounts, durably (or, for a
//! conversation moved with MoveAlways, into the folder it was moved to).
//!
//! The raw bytes are moved (never copied) into a blocking task that parses them and writes
//! the blob file with fsync; only then does one store transaction add the message to every
//! recipient's Inbox. The caller may acknowledge (LMTP 250) once this returns Ok.

use crate::mail::lmtp::Received;
use crate::mail::{import, invite, mime};
use crate::store::marks;
use crate::store::model::Flags;
use crate::store::model::{AccountId, FolderType};
use crate::store::ops::{self, Reads};
use crate::store::{Store, StoreError, now};
use crate::store::{conversations, items};

/// Finds the account an address delivers to: plus-addressing (`alice+lists@x`) goes to
/// `alice@x`; unknown and disabled accounts get nothing.
pub async fn resolve(store: &Store, address: &str) -> Result<Option<AccountId>, StoreError> {
    let address = address.trim().trim_start_matches('<').trim_end_matches('>');
    let Ok(email) = ops::normalize_email(address) else {
        return Ok(None);
    };
    let (local, domain) = email
        .split_once('@')
        .expect("normalized addresses have an @");
    let base = match local.split_once('+') {
        Some((base, _)) if !base.is_empty() => format!("{base}@{domain}"),
        _ => email.clone(),
    };
    let found = store.view(move |tx| tx.account_by_email(&base)).await?;
    Ok(found.filter(|a| a.enabled).map(|a| a.id))
}

/// Stores `raw` in the Inbox of each account (once per account, however often named), or
/// in the folder its conversation was moved to with MoveAlways.
/// Returns the new item ids.
pub async fn deliver(
    store: &Store,
    accounts: &[AccountId],
    raw: impl Into<Received>,
) -> Result<Vec<(AccountId, u64)>, StoreError> {
    let raw = raw.into();
    let mut accounts = accounts.to_vec();
    accounts.sort_unstable();
    accounts.dedup();
    if accounts.is_empty() {
        return Ok(Vec::new());
    }
    let received = now();
    let blobs = store.blobs().clone();
    let (blob, meta, key, scheduling) =
        tokio::task::spawn_blocking(move || -> Result<_, StoreError> {
            let scheduling = invite::of_message;
            let (meta, blob, scheduling) = match raw {
                Received::Memory(raw) => {
                    let meta = mime::parse(&raw, received);
                    let s = scheduling(&meta, &raw);
                    (meta, blobs.put(&raw)?, s)
                }
                // Parsed from the spool file's pages; the file itself becomes the blob.
                Received::Spooled(spool) => {
                    let map = spool.map()?;
                    let meta = mime::parse_reading(&map, received, &mut |read| map.release(read));
                    let s = scheduling(&meta, &map);
                    drop(map);
                    (meta, spool.commit()?, s)
                }
            };
            // Recorded so that importing the same message into the Inbox later skips it.
            let key = import::dedup_key(meta.message_id.as_deref(), &blob);
            Ok((blob, meta, key, scheduling))
        })
        .await
        .map_err(|e| {
            StoreError::Io(std::io::Error::other(format!("delivery task failed: {e}")))
        })??;
    store
        .write(move |ctx| {
            let mut out = Vec::with_capacity(accounts.len());
            for &account in &accounts {
                let inbox = ctx
                    .folders(account)?
                    .into_iter()
                    .find(|f| f.kind == FolderType::Inbox)
                    .ok_or_else(|| StoreError::NotFound(format!("Inbox of account {account}")))?;
                // [MS-ASCON] 2.2.2.8: later messages of a conversation moved with
                // MoveAlways go where it was moved.
                let folder = conversations::delivery_folder(ctx, account, &meta.conversation_id)?
                    .unwrap_or(inbox.id);
                let item = items::insert(
                    ctx,
                    account,
                    folder,
                    blob.clone(),
                    meta.clone(),
                    Flags::default(),
                )?;
                marks::mark_imported(ctx, account, folder, &key, item.id)?;
                // In the same transaction: the message and its calendar change commit
                // together or not at all.
                if let Some(s) = &scheduling {
                    invite::apply(ctx, account, s)?;
                }
                out.push((account, item.id));
            }
            Ok(out)
        })
        .await
}
