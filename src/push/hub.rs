//! The push hub: requests waiting for changes (Ping, hanging Sync), woken by the store's
//! change events.
//!
//! A waiter is a few dozen bytes plus its folder list: no thread, no copy of the request.
//! Each request sleeps on its own `Notify` with one timer; the hub's single task turns
//! store events into wake-ups. No polling anywhere.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use std::time::Duration;

use tokio::sync::{Notify, broadcast};

use crate::store::Event;
use crate::store::model::{AccountId, FolderId, ForeignFolder};

/// Why a waiting request was woken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wake {
    /// Something changed in these watched folders (it may be the device's own change: the
    /// caller checks), or an admin changed a device row of the account (the caller re-reads
    /// its own: [`crate::eas::cmd::Ctx::reload_device`]).
    Changed(Vec<FolderId>),
    /// Another program said these folders changed (a UDP notice): the device is told to
    /// look again without a check against the store, which may not know the change.
    Notified(Vec<FolderId>),
    /// The account's folder list changed.
    Hierarchy,
    /// A newer Ping or Sync from the same device took over.
    Superseded,
    /// The server is shutting down.
    Shutdown,
    /// The heartbeat ran out.
    Timeout,
}

fn merge(have: &mut Vec<FolderId>, more: Vec<FolderId>) {
    for f in more {
        if !have.contains(&f) {
            have.push(f);
        }
    }
}

pub struct Waiter {
    folders: Vec<FolderId>,
    /// Folders of other accounts it watches: the waiter's account's id for each, and the
    /// owner's folder (`store::share`), whose changes are published under the owner.
    foreign: Vec<(FolderId, ForeignFolder)>,
    wake: RefCell<Option<Wake>>,
    notify: Notify,
}

impl Waiter {
    fn wake(&self, why: Wake) {
        let mut w = self.wake.borrow_mut();
        match (&mut *w, why) {
            // Later changes add to the earlier ones until the request runs again.
            (Some(Wake::Changed(have) | Wake::Notified(have)), Wake::Changed(more)) => {
                merge(have, more)
            }
            (Some(Wake::Notified(have)), Wake::Notified(more)) => merge(have, more),
            (Some(w @ Wake::Changed(_)), Wake::Notified(mut more)) => {
                if let Wake::Changed(have) = std::mem::replace(w, Wake::Timeout) {
                    merge(&mut more, have);
                }
                *w = Wake::Notified(more);
            }
            // An ending (supersede, shutdown) wins over a change; a change does not undo it.
            (Some(Wake::Superseded | Wake::Shutdown), _) => {}
            (slot, why) => *slot = Some(why),
        }
        self.notify.notify_one();
    }

    /// Sleeps until woken or until `timeout`.
    pub async fn wait(&self, timeout: Duration) -> Wake {
        if let Some(w) = self.wake.borrow_mut().take() {
            return w;
        }
        match tokio::time::timeout(timeout, self.notify.notified()).await {
            Ok(()) => self.wake.borrow_mut().take().unwrap_or(Wake::Timeout),
            Err(_) => Wake::Timeout,
        }
    }
}

type Waiters = Vec<Weak<Waiter>>;

#[derive(Default)]
pub struct Hub {
    by_account: RefCell<HashMap<AccountId, Vec<Weak<Waiter>>>>,
    by_device: RefCell<HashMap<(AccountId, String), Weak<Waiter>>>,
    /// Waiters watching a folder of another account, by the owner's folder. Empty while
    /// nobody waits on a shared folder, so an event then costs one look at an empty map.
    by_foreign: RefCell<HashMap<(AccountId, FolderId), Waiters>>,
    shutting_down: Cell<bool>,
}

/// Too many requests of one account are waiting already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

impl Hub {
    /// Registers a waiter for `folders` of `account` on behalf of `device` (and for the
    /// `foreign` folders of other accounts it reaches: a change there wakes it with its id
    /// for the folder), ending the device's older one. At most `per_account` waiters per
    /// account.
    pub fn register(
        &self,
        account: AccountId,
        device: &str,
        (folders, foreign): (Vec<FolderId>, Vec<(FolderId, ForeignFolder)>),
        per_account: usize,
    ) -> Result<Rc<Waiter>, Busy> {
        self.supersede(account, device);
        let mut by_account = self.by_account.borrow_mut();
        let list = by_account.entry(account).or_default();
        list.retain(|w| w.strong_count() > 0);
        if list.len() >= per_account {
            return Err(Busy);
        }
        let waiter = Rc::new(Waiter {
            folders,
            foreign,
            wake: RefCell::new(self.shutting_down.get().then_some(Wake::Shutdown)),
            notify: Notify::new(),
        });
        list.push(Rc::downgrade(&waiter));
        let mut by_foreign = self.by_foreign.borrow_mut();
        for (_, at) in &waiter.foreign {
            let list = by_foreign.entry((at.owner, at.folder)).or_default();
            list.retain(|w| w.strong_count() > 0);
            list.push(Rc::downgrade(&waiter));
        }
        self.by_device
            .borrow_mut()
            .insert((account, device.to_owned()), Rc::downgrade(&waiter));
        Ok(waiter)
    }

    /// Ends the device's waiting request, if any: a newer Ping or Sync takes over.
    pub fn supersede(&self, account: AccountId, device: &str) {
        let old = self
            .by_device
            .borrow_mut()
            .remove(&(account, device.to_owned()))
            .and_then(|w| w.upgrade());
        if let Some(w) = old {
            w.wake(Wake::Superseded);
        }
    }

    /// Turns one store event into wake-ups.
    pub fn publish(&self, event: Event) {
        self.wake_watchers(event, Wake::Changed);
    }

    /// A change notice from another program (UDP): the watchers are told to look again.
    pub fn poke(&self, event: Event) {
        self.wake_watchers(event, Wake::Notified);
    }

    fn wake_watchers(&self, event: Event, folder_wake: fn(Vec<FolderId>) -> Wake) {
        let account = match event {
            Event::Hierarchy { account }
            | Event::Folder { account, .. }
            | Event::Device { account } => account,
        };
        let waiters: Vec<Rc<Waiter>> = match self.by_account.borrow_mut().get_mut(&account) {
            Some(list) => {
                list.retain(|w| w.strong_count() > 0);
                list.iter().filter_map(Weak::upgrade).collect()
            }
            None => Vec::new(),
        };
        for w in waiters {
            match event {
                Event::Hierarchy { .. } => w.wake(Wake::Hierarchy),
                Event::Folder { folder, .. } if w.folders.contains(&folder) => {
                    w.wake(folder_wake(vec![folder]));
                }
                Event::Folder { .. } => {}
                // The waiting request re-reads its device row when woken, and with it
                // re-checks everything it watches.
                Event::Device { .. } => w.wake(Wake::Changed(w.folders.clone())),
            }
        }
        if let Event::Folder { account, folder } = event {
            self.wake_foreign(account, folder, folder_wake);
        }
    }

    /// Wakes the waiters of other accounts that watch `owner`'s `folder`, each with its own
    /// id for it.
    fn wake_foreign(
        &self,
        owner: AccountId,
        folder: FolderId,
        folder_wake: fn(Vec<FolderId>) -> Wake,
    ) {
        let mut by_foreign = self.by_foreign.borrow_mut();
        let Some(list) = by_foreign.get_mut(&(owner, folder)) else {
            return;
        };
        list.retain(|w| w.strong_count() > 0);
        let waiters: Vec<Rc<Waiter>> = list.iter().filter_map(Weak::upgrade).collect();
        if waiters.is_empty() {
            by_foreign.remove(&(owner, folder));
        }
        drop(by_foreign);
        let at = ForeignFolder { owner, folder };
        for w in waiters {
            let ids: Vec<FolderId> = (w.foreign.iter())
                .filter(|(_, f)| *f == at)
                .map(|(id, _)| *id)
                .collect();
            w.wake(folder_wake(ids));
        }
    }

    /// Every live waiter.
    fn all(&self) -> Vec<Rc<Waiter>> {
        self.by_account
            .borrow()
            .values()
            .flatten()
            .filter_map(Weak::upgrade)
            .collect()
    }

    /// Wakes every waiter to re-check everything it watches (events were missed).
    fn wake_all(&self) {
        for w in self.all() {
            let mut folders = w.folders.clone();
            folders.extend(w.foreign.iter().map(|(id, _)| *id));
            w.wake(Wake::Changed(folders));
        }
    }

    /// Answers every waiting request (Ping Status 1) and refuses new waits: the server stops.
    pub fn shutdown(&self) {
        self.shutting_down.set(true);
        for w in self.all() {
            w.wake(Wake::Shutdown);
        }
    }

    /// Waiting requests right now (for status output and the memory benchmark).
    pub fn waiting(&self) -> usize {
        self.by_account
            .borrow()
            .values()
            .flatten()
            .filter(|w| w.strong_count() > 0)
            .count()
    }

    /// Dispatches store events until the store is closed.
    pub async fn run(self: Rc<Self>, mut events: broadcast::Receiver<Event>) {
        loop {
            match events.recv().await {
                Ok(e) => self.publish(e),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(
                        "push hub missed {n} change events; waking every waiter to re-check"
                    );
                    self.wake_all();
                }
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn a_folder_event_wakes_only_its_watchers() {
        let hub = Hub::default();
        let a = hub
            .register(1, "DEV1", (vec![10, 11], Vec::new()), 8)
            .unwrap();
        let b = hub.register(1, "DEV2", (vec![12], Vec::new()), 8).unwrap();
        let c = hub.register(2, "DEV3", (vec![10], Vec::new()), 8).unwrap();
        hub.publish(Event::Folder {
            account: 1,
            folder: 11,
        });
        assert_eq!(
            a.wait(Duration::from_millis(10)).await,
            Wake::Changed(vec![11])
        );
        assert_eq!(b.wait(Duration::from_millis(10)).await, Wake::Timeout);
        assert_eq!(c.wait(Duration::from_millis(10)).await, Wake::Timeout);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_change_in_a_shared_folder_wakes_the_readers_waiting_on_it_under_their_ids() {
        let hub = Hub::default();
        let alices = ForeignFolder {
            owner: 1,
            folder: 7,
        };
        let owner = hub.register(1, "DEV1", (vec![7], Vec::new()), 8).unwrap();
        let bob = hub
            .register(2, "DEV2", (vec![5], vec![(40, alices)]), 8)
            .unwrap();
        let carol = hub
            .register(
                3,
                "DEV3",
                (
                    vec![7],
                    vec![(
                        41,
                        ForeignFolder {
                            owner: 1,
                            folder: 8,
                        },
                    )],
                ),
                8,
            )
            .unwrap();
        hub.publish(Event::Folder {
            account: 1,
            folder: 7,
        });
        assert_eq!(
            owner.wait(Duration::from_millis(10)).await,
            Wake::Changed(vec![7])
        );
        assert_eq!(
            bob.wait(Duration::from_millis(10)).await,
            Wake::Changed(vec![40])
        );
        // Carol's own folder 7 and her share of another of Alice's folders: not woken.
        assert_eq!(carol.wait(Duration::from_millis(10)).await, Wake::Timeout);
        // Bob's own folder 7 (his id space, not Alice's) is not hers.
        let bob = hub.register(2, "DEV2", (vec![7], Vec::new()), 8).unwrap();
        hub.publish(Event::Folder {
            account: 1,
            folder: 7,
        });
        assert_eq!(bob.wait(Duration::from_millis(10)).await, Wake::Timeout);
        // Also when the owner never waited.
        let dans = ForeignFolder {
            owner: 9,
            folder: 7,
        };
        let bob = hub
            .register(2, "DEV2", (Vec::new(), vec![(40, dans)]), 8)
            .unwrap();
        hub.publish(Event::Folder {
            account: 9,
            folder: 7,
        });
        assert_eq!(
            bob.wait(Duration::from_millis(10)).await,
            Wake::Changed(vec![40])
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_device_change_has_the_accounts_waiters_look_at_everything() {
        let hub = Hub::default();
        let a = hub
            .register(1, "DEV1", (vec![10, 11], Vec::new()), 8)
            .unwrap();
        let other = hub.register(2, "DEV2", (vec![10], Vec::new()), 8).unwrap();
        hub.publish(Event::Device { account: 1 });
        assert_eq!(
            a.wait(Duration::from_millis(10)).await,
            Wake::Changed(vec![10, 11])
        );
        assert_eq!(other.wait(Duration::from_millis(10)).await, Wake::Timeout);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_newer_request_supersedes_and_limits_hold() {
        let hub = Hub::default();
        let old = hub.register(1, "DEV1", (vec![10], Vec::new()), 2).unwrap();
        let new = hub.register(1, "DEV1", (vec![10], Vec::new()), 2).unwrap();
        assert_eq!(old.wait(Duration::from_millis(10)).await, Wake::Superseded);
        drop(old);
        let _other = hub.register(1, "DEV2", (vec![10], Vec::new()), 2).unwrap();
        assert_eq!(
            hub.register(1, "DEV3", (vec![10], Vec::new()), 2).err(),
            Some(Busy)
        );
        hub.publish(Event::Hierarchy { account: 1 });
        assert_eq!(new.wait(Duration::from_millis(10)).await, Wake::Hierarchy);
        assert_eq!(hub.waiting(), 2);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn shutdown_answers_everyone_and_later_waits() {
        let hub = Hub::default();
        let a = hub.register(1, "DEV1", (vec![10], Vec::new()), 8).unwrap();
        hub.shutdown();
        hub.publish(Event::Folder {
            account: 1,
            folder: 10,
        });
        assert_eq!(a.wait(Duration::from_secs(5)).await, Wake::Shutdown);
        let late = hub.register(1, "DEV2", (vec![10], Vec::new()), 8).unwrap();
        assert_eq!(late.wait(Duration::from_secs(5)).await, Wake::Shutdown);
    }
}
