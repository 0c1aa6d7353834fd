//! Local delivery: one message into the Inbox of one or more accounts, durably (or, for a
//! conversation moved with MoveAlways, into the folder it was moved to).
//!
//! The raw bytes are moved (never copied) into a blocking task that parses them and writes
//! the blob file with fsync; only then does one store transaction add the message to every
//! recipient's Inbox. The caller may acknowledge (LMTP 250) once this returns Ok.

use std::rc::Rc;
use std::time::Duration;

use crate::budget::MemoryBudget;
use crate::config::Config;
use crate::mail::lmtp::{Mailboxes, NotDelivered, Received};
use crate::mail::{import, mime, oof};
use crate::refusal::{Limit, Refusals};
use crate::store::blob::BlobWriter;
use crate::store::model::Flags;
use crate::store::model::{AccountId, FolderType};
use crate::store::ops::{self, Reads};
use crate::store::tables::IMPORTED;
use crate::store::{Store, StoreError, now};
use crate::store::{conversations, items};

/// Finds the account an address delivers to: plus-addressing (`alice+lists@x`) goes to
/// `alice@x`; unknown and disabled accounts get nothing.
pub fn resolve(store: &Store, address: &str) -> Result<Option<AccountId>, StoreError> {
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
    Ok(store
        .read()?
        .account_by_email(&base)?
        .filter(|a| a.enabled)
        .map(|a| a.id))
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
    let (blob, meta, key) = tokio::task::spawn_blocking(move || -> Result<_, StoreError> {
        let (meta, blob) = match raw {
            Received::Memory(raw) => (mime::parse(&raw, received), blobs.put(&raw)?),
            // Parsed from the spool file's pages; the file itself becomes the blob.
            Received::Spooled(spool) => (mime::parse(&spool.map()?, received), spool.commit()?),
        };
        // Recorded so that importing the same message into the Inbox later skips it.
        let key = import::dedup_key(meta.message_id.as_deref(), &blob);
        Ok((blob, meta, key))
    })
    .await
    .map_err(|e| StoreError::Invalid(format!("delivery task failed: {e}")))??;
    store
        .write(move |ctx| {
            let mut out = Vec::with_capacity(accounts.len());
            for &account in &accounts {
                let inbox = ctx
                    .tx
                    .folders(account)?
                    .into_iter()
                    .find(|f| f.kind == FolderType::Inbox)
                    .ok_or_else(|| StoreError::NotFound(format!("Inbox of account {account}")))?;
                // [MS-ASCON] 2.2.2.8: later messages of a conversation moved with
                // MoveAlways go where it was moved.
                let folder =
                    conversations::delivery_folder(ctx.tx, account, &meta.conversation_id)?
                        .unwrap_or(inbox.id);
                let item = items::insert(
                    ctx,
                    account,
                    folder,
                    blob.clone(),
                    meta.clone(),
                    Flags::default(),
                )?;
                ctx.tx
                    .open_table(IMPORTED)?
                    .insert((account, folder, key.as_str()), item.id)?;
                out.push((account, item.id));
            }
            Ok(out)
        })
        .await
}

/// The store as the LMTP listener's view of mailboxes; a delivery may owe out-of-office
/// replies, which are sent afterwards (see [`oof`]).
pub struct StoreMailboxes {
    pub store: Store,
    pub cfg: Rc<Config>,
    pub budget: Rc<MemoryBudget>,
    pub refusals: Rc<Refusals>,
    /// How long a delivery waits for the memory budget before the MTA is told to retry.
    pub patience: Duration,
}

impl StoreMailboxes {
    /// How long a delivery waits for the memory budget by default: long enough for the
    /// requests in flight to finish, short beside the MTA's own timeouts.
    pub const PATIENCE: Duration = Duration::from_secs(5);
}

impl Mailboxes for StoreMailboxes {
    fn resolve(&self, address: &str) -> Option<u64> {
        resolve(&self.store, address).unwrap_or_else(|e| {
            tracing::error!("resolving {address}: {e}");
            None
        })
    }

    fn spool(&self) -> std::io::Result<BlobWriter> {
        self.store.blobs().writer()
    }

    async fn deliver(
        &self,
        sender: &str,
        accounts: &[u64],
        raw: Received,
    ) -> Result<(), NotDelivered> {
        // Parsing decodes the message's parts into memory: about its size at most. A
        // message larger than the whole budget (max_message may exceed it) waits until it
        // has the budget to itself rather than being refused for ever.
        let size = usize::try_from(raw.len()).unwrap_or(usize::MAX);
        let want = size.min(self.budget.total());
        let Some(_held) = self.budget.reserve(want, self.patience).await else {
            self.refusals.record(
                Limit::MemoryBudget,
                &format_args!("lmtp from <{sender}>"),
                format_args!(
                    "a {size}-byte message does not fit the memory budget ({} of {} bytes in use)",
                    self.budget.in_use(),
                    self.budget.total()
                ),
            );
            return Err(NotDelivered::Busy);
        };
        let delivered = deliver(&self.store, accounts, raw)
            .await
            .map_err(|e| NotDelivered::Failed(e.to_string()))?;
        // After the commit, in a task of its own: the 250 does not wait for the replies.
        tokio::task::spawn_local(oof::after_delivery(
            self.store.clone(),
            self.cfg.clone(),
            sender.to_owned(),
            delivered,
        ));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailboxes(budget: usize) -> (tempfile::TempDir, StoreMailboxes, AccountId) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("data")).unwrap();
        let account = store
            .write_blocking(|w| ops::create_account(w, "bud@example.com", "", "h", false))
            .unwrap();
        let mailboxes = StoreMailboxes {
            store,
            cfg: Rc::new(Config::default()),
            budget: MemoryBudget::new(budget),
            refusals: Rc::new(Refusals::default()),
            patience: Duration::from_millis(50),
        };
        (dir, mailboxes, account.id)
    }

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        tokio::task::LocalSet::new().block_on(&rt, f)
    }

    #[test]
    fn a_delivery_the_budget_cannot_take_is_busy_logged_and_counted() {
        let (_dir, m, account) = mailboxes(1000);
        let held = m.budget.try_reserve(990).unwrap();
        let raw = b"Subject: x\r\n\r\n".repeat(10);
        let out = run(m.deliver("s@r.test", &[account], raw.clone().into()));
        assert!(matches!(out, Err(NotDelivered::Busy)), "{out:?}");
        assert_eq!(m.refusals.count(Limit::MemoryBudget), 1);
        drop(held);
        // A message larger than the whole budget waits for all of it, then goes through.
        let large = [&b"Subject: y\r\n\r\n"[..], &[b'z'; 5000]].concat();
        run(m.deliver("s@r.test", &[account], large.into())).unwrap();
        run(m.deliver("s@r.test", &[account], raw.into())).unwrap();
        assert_eq!(m.budget.in_use(), 0);
        assert_eq!(m.refusals.count(Limit::MemoryBudget), 1);
    }
}
