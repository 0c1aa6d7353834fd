//! Local delivery: one message into the Inbox of one or more accounts, durably (or, for a
//! conversation moved with MoveAlways, into the folder it was moved to).
//!
//! The raw bytes are moved (never copied) into a blocking task that parses them, writes the
//! body and journals the delivery (`Store::journal`: one fdatasync for both); the caller may
//! acknowledge (LMTP 250) then. The store's writer applies it, with the deliveries around
//! it, in one transaction that adds the message to every recipient's Inbox; after a crash
//! in between, [`replay`] applies it at the next start.

use crate::mail::lmtp::Received;
use crate::mail::{invite, mime};
use crate::store::model::{AccountId, BlobId, Flags, FolderType, JournaledDelivery};
use crate::store::ops::{self, Reads};
use crate::store::{Applied, Store, StoreError, WriteCtx, now};
use crate::store::{conversations, items, search_index};

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
    // Accounts are not mail: no need to wait for the deliveries in flight (see
    // `Store::view_committed`), which would cut every batch short at each RCPT.
    let found = store
        .view_committed(move |tx| tx.account_by_email(&base))
        .await?;
    Ok(found.filter(|a| a.enabled).map(|a| a.id))
}

/// A message delivered into an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    pub account: AccountId,
    pub item: u64,
    /// Whether the account's out-of-office was on when the message went in: decided in
    /// the delivery's own transaction, so in order with the changes made around it (the
    /// replies follow the commit, when the user may have changed it since).
    pub away: bool,
}

/// Stores `raw` in the Inbox of each account (once per account, however often named), or
/// in the folder its conversation was moved to with MoveAlways, and waits until it is
/// applied.
pub async fn deliver(
    store: &Store,
    accounts: &[AccountId],
    raw: impl Into<Received>,
) -> Result<Vec<Delivered>, StoreError> {
    if accounts.is_empty() {
        return Ok(Vec::new());
    }
    accept(store, accounts, raw).await?.await
}

/// [`deliver`] up to the point where the delivery is durable, which is when it may be
/// acknowledged (LMTP 250): the message and its journal record are on disk
/// (`Store::journal`); the answer is awaited for the new item ids, once the writer applied
/// it with the other deliveries of its batch.
pub async fn accept(
    store: &Store,
    accounts: &[AccountId],
    raw: impl Into<Received>,
) -> Result<Applied<Vec<Delivered>>, StoreError> {
    let raw = raw.into();
    let mut accounts = accounts.to_vec();
    accounts.sort_unstable();
    accounts.dedup();
    if accounts.is_empty() {
        return Err(StoreError::Invalid("a delivery without recipients".into()));
    }
    let received = now();
    let store = store.clone();
    // Counted from here: an fdatasync for other deliveries waits for this one to append.
    let arriving = store.arriving();
    tokio::task::spawn_blocking(move || {
        let blobs = store.blobs();
        let (parsed, blob) = match raw {
            Received::Memory(raw) => {
                let parsed = Parsed::of(&raw, received);
                // Made durable by the journal record's sync, just below.
                (parsed, blobs.put_deferred(&raw)?)
            }
            // Parsed from the spool file's pages; the file itself becomes the blob.
            Received::Spooled(spool) => {
                let map = spool.map()?;
                let meta = mime::parse_reading(&map, received, &mut |read| map.release(read));
                let scheduling = invite::of_message(&meta, &map);
                drop(map);
                (Parsed { meta, scheduling }, spool.commit()?)
            }
        };
        let record = JournaledDelivery {
            accounts: accounts.clone(),
            blob: blob.clone(),
            received,
        };
        store.journal(&record, apply(accounts, blob, parsed), arriving)
    })
    .await
    .map_err(|e| StoreError::Io(std::io::Error::other(format!("delivery task failed: {e}"))))?
}

/// Applies again the deliveries journaled but not applied when easd last stopped (a
/// crash after their 250), in their order; run when the store is opened, before anything
/// else is delivered. Returns how many there were.
pub async fn replay(store: &Store) -> Result<usize, StoreError> {
    let entries = store.take_journal();
    let mut applied = Vec::with_capacity(entries.len());
    for entry in entries {
        let job = match &entry.delivery {
            Some(d) => {
                let raw = store.blobs().read(&d.blob)?;
                let parsed = Parsed::of(&raw, d.received);
                Some(apply(d.accounts.clone(), d.blob.clone(), parsed))
            }
            None => None,
        };
        // A record that does not decode is applied as nothing (the store logged it).
        applied.push(match job {
            Some(job) => store.apply_journaled(entry, job)?,
            None => store.apply_journaled(entry, |_| Ok(Vec::new()))?,
        });
    }
    let n = applied.len();
    for a in applied {
        a.await?;
    }
    if n > 0 {
        tracing::info!(
            deliveries = n,
            "deliveries acknowledged before a crash applied again"
        );
    }
    Ok(n)
}

/// What a delivery derives from the message: its headers and any calendar change.
struct Parsed {
    meta: crate::store::model::MessageMeta,
    scheduling: Option<invite::Scheduling>,
}

impl Parsed {
    fn of(raw: &[u8], received: i64) -> Self {
        let meta = mime::parse(raw, received);
        let scheduling = invite::of_message(&meta, raw);
        Self { meta, scheduling }
    }
}

/// The write job of a delivery: the message into each account's Inbox (or the folder its
/// conversation was moved to). An account deleted since the message was accepted is
/// skipped: its mail would have gone with it.
fn apply(
    accounts: Vec<AccountId>,
    blob: BlobId,
    parsed: Parsed,
) -> impl FnMut(&mut WriteCtx) -> Result<Vec<Delivered>, StoreError> + Send + 'static {
    let Parsed {
        mut meta,
        scheduling,
    } = parsed;
    // Held until the writer applies the delivery (hundreds wait in a burst): encoded, the
    // words take a few bytes each instead of a String each.
    let terms = search_index::Terms::of(&std::mem::take(&mut meta.search_terms));
    move |ctx| {
        let mut out = Vec::with_capacity(accounts.len());
        for &account in &accounts {
            let Some(inbox) = ctx
                .folders(account)?
                .into_iter()
                .find(|f| f.kind == FolderType::Inbox)
            else {
                tracing::warn!(
                    account,
                    "delivery: the account or its Inbox is gone; skipped"
                );
                continue;
            };
            // [MS-ASCON] 2.2.2.8: later messages of a conversation moved with
            // MoveAlways go where it was moved.
            let folder = conversations::delivery_folder(ctx, account, &meta.conversation_id)?
                .unwrap_or(inbox.id);
            let item = items::insert_indexed(
                ctx,
                account,
                folder,
                blob.clone(),
                meta.clone(),
                Flags::default(),
                &terms,
            )?;
            // In the same transaction: the message and its calendar change commit
            // together or not at all.
            if let Some(s) = &scheduling {
                invite::apply(ctx, account, s)?;
            }
            let away = ctx.account(account)?.is_some_and(|a| a.oof.is_on(now()));
            out.push(Delivered {
                account,
                item: item.id,
                away,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
