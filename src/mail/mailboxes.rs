//! The store as the LMTP listener's mailboxes: a delivery waits for the memory budget,
//! goes through [`accept`](super::deliver::accept), and then owes any out-of-office
//! replies (sent afterwards by [`oof`]).

use std::rc::Rc;
use std::time::Duration;

use super::deliver::{accept, resolve};
use crate::budget::MemoryBudget;
use crate::mail::lmtp::{Mailboxes, NotDelivered, Received};
use crate::mail::oof;
use crate::metrics::{Lmtp, Metrics};
use crate::refusal::{Limit, Refusals};
use crate::server_settings::Live;
use crate::store::Store;
use crate::store::blob::BlobWriter;

/// The store as the LMTP listener's view of mailboxes; a delivery may owe out-of-office
/// replies, which are sent afterwards (see [`oof`]).
pub struct StoreMailboxes {
    pub store: Store,
    /// The settings in force (an out-of-office reply goes through the relay).
    pub settings: Rc<Live>,
    pub budget: Rc<MemoryBudget>,
    pub refusals: Rc<Refusals>,
    /// What the out-of-office replies came to.
    pub oof: Rc<oof::Counters>,
    /// Deliveries and refusals, for `/metrics`.
    pub metrics: Rc<Metrics>,
    /// How long a delivery waits for the memory budget before the MTA is told to retry.
    pub patience: Duration,
}

impl StoreMailboxes {
    /// How long a delivery waits for the memory budget by default: long enough for the
    /// requests in flight to finish, short beside the MTA's own timeouts.
    pub const PATIENCE: Duration = Duration::from_secs(5);
}

impl Mailboxes for StoreMailboxes {
    async fn resolve(&self, address: &str) -> Option<u64> {
        let found = resolve(&self.store, address).await.unwrap_or_else(|e| {
            tracing::error!("resolving {address}: {e}");
            None
        });
        if found.is_none() {
            self.metrics.lmtp(Lmtp::UnknownRecipient);
        }
        found
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
            self.metrics.lmtp(Lmtp::NotDelivered);
            return Err(NotDelivered::Busy);
        };
        let applied = accept(&self.store, accounts, raw).await.map_err(|e| {
            self.metrics.lmtp(Lmtp::NotDelivered);
            NotDelivered::Failed(e.to_string())
        })?;
        self.metrics.lmtp(Lmtp::Delivered);
        // Durable now (journaled): the 250 waits neither for the commit that applies it
        // nor for the out-of-office replies, which follow in a task of their own.
        let (store, settings, oof) = (
            self.store.clone(),
            self.settings.current(),
            self.oof.clone(),
        );
        let sender = sender.to_owned();
        tokio::task::spawn_local(async move {
            match applied.await {
                Ok(delivered) => oof::after_delivery(store, settings, oof, sender, delivered).await,
                Err(e) => tracing::error!("delivery from <{sender}> not applied yet: {e}"),
            }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::model::AccountId;
    use crate::store::ops;

    fn mailboxes(budget: usize) -> (tempfile::TempDir, StoreMailboxes, AccountId) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("data")).unwrap();
        let account = store
            .write_blocking(|w| ops::create_account(w, "bud@example.com", "", "h", false))
            .unwrap();
        let mailboxes = StoreMailboxes {
            store,
            settings: Rc::new(Live::new(Default::default(), &Default::default()).unwrap()),
            budget: MemoryBudget::new(budget),
            refusals: Rc::new(Refusals::default()),
            oof: Rc::default(),
            metrics: Rc::default(),
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
