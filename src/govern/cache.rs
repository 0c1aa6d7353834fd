//! The governance records every request needs, kept in memory so that the device gate
//! reads none from the store: the ABQ rules and the policy levels (one [`View`] per
//! store) and each device's [`DeviceState`].
//!
//! Every write of those records goes through this module — [`change`] for rules and
//! levels, [`super::compliance::write`] for a device's state — which drops the cached copy once the
//! write is durable, counting a new generation. A fill notes the generation under the
//! lock, reads through [`Store::view`] (the lock is not held across it) and installs its
//! copy only if the generation is unchanged. A change that completed before the read began
//! is in what it read; one that completes after drops the copy once it is installed, or
//! has counted its drop before and the copy is not installed. So no fill installs records
//! older than a change that has completed: the first request after a change sees it.
//! Nothing else writes these records while easd runs: the store has one process, and
//! restore refuses a running server.
//!
//! The cache is per process, keyed by the store's data directory, which names one store
//! for as long as it is open (the store locks it).

use std::collections::HashMap;
use std::ffi::OsString;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use super::abq::Rules;
use super::levels::Levels;
use crate::store::governance::GovernanceReads;
use crate::store::model::{AccountId, DeviceState};
use crate::store::{Reader, Store, StoreError, WriteCtx};

/// The rules and the policy levels, as of one commit.
#[derive(Debug)]
pub struct View {
    pub rules: Rules,
    pub levels: Levels,
}

impl View {
    pub fn load(tx: &impl Reader) -> Result<View, StoreError> {
        Ok(View {
            rules: Rules::load(tx)?,
            levels: Levels::load(tx)?,
        })
    }
}

#[derive(Default)]
struct Entry {
    view: Option<Arc<View>>,
    devices: HashMap<AccountId, HashMap<String, DeviceState>>,
    /// Counts the drops: a fill that began before one does not install its copy.
    generation: u64,
}

static CACHES: LazyLock<Mutex<HashMap<OsString, Entry>>> = LazyLock::new(Default::default);

/// Runs `f` on the store's entry, under the lock.
fn with<T>(store: &Store, f: impl FnOnce(&mut Entry) -> T) -> T {
    let mut caches = CACHES.lock().unwrap_or_else(PoisonError::into_inner);
    let dir = store.data_dir().as_os_str();
    if !caches.contains_key(dir) {
        caches.insert(dir.to_owned(), Entry::default());
    }
    f(caches.get_mut(dir).expect("inserted above"))
}

/// The rules and policy levels in force.
pub async fn view(store: &Store) -> Result<Arc<View>, StoreError> {
    let generation = match with(store, |e| e.view.clone().ok_or(e.generation)) {
        Ok(v) => return Ok(v),
        Err(generation) => generation,
    };
    let v = Arc::new(store.view(View::load).await?);
    install(store, generation, |e| e.view = Some(v.clone()));
    Ok(v)
}

/// Installs what a fill read, if no drop came since it noted `generation`.
fn install(store: &Store, generation: u64, put: impl FnOnce(&mut Entry)) {
    with(store, |e| {
        if e.generation == generation {
            put(e);
        }
    });
}

/// Runs a write job that changes rules or policy levels; the cached view goes once it is
/// durable (or failed).
pub async fn change<T, E>(
    store: &Store,
    job: impl FnMut(&WriteCtx) -> Result<T, E> + Send + 'static,
) -> Result<T, E>
where
    T: Send + 'static,
    E: From<StoreError> + Send + 'static,
{
    let mut job = job;
    let out = store.write_or(move |ctx| job(ctx)).await;
    with(store, Entry::drop_view);
    out
}

/// A device's state with its policy.
pub async fn device_state(
    store: &Store,
    account: AccountId,
    device_id: &str,
) -> Result<DeviceState, StoreError> {
    let cached = with(store, |e| {
        let known = e.devices.get(&account).and_then(|d| d.get(device_id));
        known.copied().ok_or(e.generation)
    });
    let generation = match cached {
        Ok(s) => return Ok(s),
        Err(generation) => generation,
    };
    let id = device_id.to_owned();
    let s = store.view(move |tx| tx.device_state(account, &id)).await?;
    install(store, generation, |e| {
        let devices = e.devices.entry(account).or_default();
        devices.insert(device_id.to_owned(), s);
    });
    Ok(s)
}

/// Drops the cached state of a device after [`super::compliance::write`] changed it.
pub(super) fn forget_device(store: &Store, account: AccountId, device_id: &str) {
    with(store, |e| {
        e.generation += 1;
        if let Some(devices) = e.devices.get_mut(&account) {
            devices.remove(device_id);
        }
    });
}

impl Entry {
    fn drop_view(&mut self) {
        self.generation += 1;
        self.view = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::govern::levels::Level;
    use crate::govern::policy::Value;

    /// A fill whose read began before a change completed does not install what it read.
    #[test]
    fn a_fill_older_than_a_change_is_not_installed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("store");
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let generation = with(&store, |e| e.generation);
        let stale = Arc::new(rt.block_on(store.view(View::load)).expect("read"));
        rt.block_on(change(&store, |tx| {
            crate::govern::levels::set(tx, &Level::Server, &[("AllowCamera".into(), "0".into())])
        }))
        .expect("change");
        install(&store, generation, |e| e.view = Some(stale.clone()));
        let now = rt.block_on(view(&store)).expect("view");
        assert!(!Arc::ptr_eq(&now, &stale), "the stale copy was installed");
        let (server, _) = now.levels.resolve(&Level::Server);
        assert_eq!(server.policy.get("AllowCamera"), Some(Value::Int(0)));

        // The same for a device's state.
        let generation = with(&store, |e| e.generation);
        rt.block_on(crate::govern::compliance::write(&store, 1, "D", |_, s| {
            s.accepted_at = Some(7);
            Ok::<_, StoreError>(())
        }))
        .expect("write");
        install(&store, generation, |e| {
            e.devices
                .entry(1)
                .or_default()
                .insert("D".into(), DeviceState::default());
        });
        let state = rt.block_on(device_state(&store, 1, "D")).expect("state");
        assert_eq!(state.accepted_at, Some(7));
    }

    #[test]
    fn a_change_is_seen_by_the_next_read() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("store");
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let before = rt.block_on(view(&store)).expect("view");
        let again = rt.block_on(view(&store)).expect("view");
        assert!(Arc::ptr_eq(&before, &again), "cached");
        let camera_off = [("AllowCamera".to_owned(), "0".to_owned())];
        rt.block_on(change(&store, move |tx| {
            crate::govern::levels::set(tx, &Level::Server, &camera_off)
        }))
        .expect("change");
        let after = rt.block_on(view(&store)).expect("view");
        let (server, _) = after.levels.resolve(&Level::Server);
        assert_eq!(server.policy.get("AllowCamera"), Some(Value::Int(0)));

        assert_eq!(
            rt.block_on(device_state(&store, 1, "D")).expect("state"),
            DeviceState::default()
        );
        rt.block_on(crate::govern::compliance::write(&store, 1, "D", |_, s| {
            s.accepted_at = Some(5);
            Ok::<_, StoreError>(())
        }))
        .expect("write");
        assert_eq!(
            rt.block_on(device_state(&store, 1, "D"))
                .expect("state")
                .accepted_at,
            Some(5)
        );
    }
}
