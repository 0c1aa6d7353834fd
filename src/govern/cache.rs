//! The governance records every request needs, kept in memory so that the device gate
//! reads none from the store: the ABQ rules and the policy levels (one [`View`] per
//! store) and each device's [`DeviceState`].
//!
//! Every write of those records goes through this module — [`change`] for rules and
//! levels, [`super::compliance::write`] for a device's state — which drops the cached copy once the
//! write is durable. A copy is filled under the same lock, from a read transaction begun
//! under it, so no fill can install records older than a change that has completed: the
//! first request after a change sees it. Nothing else writes these records while easd
//! runs: the store has one process, and restore refuses a running server.
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
pub fn view(store: &Store) -> Result<Arc<View>, StoreError> {
    with(store, |e| match &e.view {
        Some(v) => Ok(v.clone()),
        None => {
            let v = Arc::new(View::load(&store.read()?)?);
            e.view = Some(v.clone());
            Ok(v)
        }
    })
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
    with(store, |e| e.view = None);
    out
}

/// A device's state with its policy.
pub fn device_state(
    store: &Store,
    account: AccountId,
    device_id: &str,
) -> Result<DeviceState, StoreError> {
    with(store, |e| {
        let devices = e.devices.entry(account).or_default();
        if let Some(s) = devices.get(device_id) {
            return Ok(*s);
        }
        let s = store.read()?.device_state(account, device_id)?;
        devices.insert(device_id.to_owned(), s);
        Ok(s)
    })
}

/// Drops the cached state of a device after [`super::compliance::write`] changed it.
pub(super) fn forget_device(store: &Store, account: AccountId, device_id: &str) {
    with(store, |e| {
        if let Some(devices) = e.devices.get_mut(&account) {
            devices.remove(device_id);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::govern::levels::Level;
    use crate::govern::policy::Value;

    #[test]
    fn a_change_is_seen_by_the_next_read() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("store");
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let before = view(&store).expect("view");
        assert!(Arc::ptr_eq(&before, &view(&store).expect("view")), "cached");
        let camera_off = [("AllowCamera".to_owned(), "0".to_owned())];
        rt.block_on(change(&store, move |tx| {
            crate::govern::levels::set(tx, &Level::Server, &camera_off)
        }))
        .expect("change");
        let after = view(&store).expect("view");
        let (server, _) = after.levels.resolve(&Level::Server);
        assert_eq!(server.policy.get("AllowCamera"), Some(Value::Int(0)));

        assert_eq!(
            device_state(&store, 1, "D").expect("state"),
            DeviceState::default()
        );
        rt.block_on(crate::govern::compliance::write(&store, 1, "D", |_, s| {
            s.accepted_at = Some(5);
            Ok::<_, StoreError>(())
        }))
        .expect("write");
        assert_eq!(
            device_state(&store, 1, "D").expect("state").accepted_at,
            Some(5)
        );
    }
}
