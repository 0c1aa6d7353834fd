//! Reads and writes of the governance records ([`super::model::AbqRules`], the policy
//! levels' own settings, each device's [`DeviceState`]).
//!
//! They share one table of JSON records under string keys: `abq`, `policy:LEVEL` and
//! `device:ACCOUNT/DEVICEID`. The keys are this module's business; callers name a level by
//! its text (`server`, `domain:D`, …) and a device by its account and DeviceId.

use std::collections::{BTreeMap, HashMap};

use redb::ReadableTable;

use super::model::{AbqRules, AccountId, DeviceState, PolicyValue};
use super::tables::{self, GOVERNANCE};
use super::tx::Tx;
use super::{StoreError, WriteCtx};

/// A policy level's own settings, by EASProvisionDoc name.
pub type PolicyValues = BTreeMap<String, PolicyValue>;

const ABQ: &str = "abq";
const POLICY: &str = "policy:";
const DEVICE: &str = "device:";

fn level_key(level: &str) -> String {
    format!("{POLICY}{level}")
}

fn device_key(account: AccountId, device_id: &str) -> String {
    format!("{DEVICE}{account}/{device_id}")
}

/// The keys that start with `prefix`, which ends in ':' (';' is the next character).
fn prefixed(prefix: &str) -> std::ops::Range<String> {
    let end = format!("{};", &prefix[..prefix.len() - 1]);
    prefix.to_owned()..end
}

/// Typed reads of the governance records, for any transaction.
pub trait GovernanceReads: Tx {
    /// The Allow/Block/Quarantine rules; the defaults (allow everything) when none are
    /// stored.
    fn abq_rules(&self) -> Result<AbqRules, StoreError> {
        Ok(get(self, ABQ)?.unwrap_or_default())
    }

    /// The own settings of the level named `level`, if it holds them.
    fn policy_level(&self, level: &str) -> Result<Option<PolicyValues>, StoreError> {
        get(self, &level_key(level))
    }

    /// Every level that holds its own settings: (level name, settings).
    fn policy_levels(&self) -> Result<Vec<(String, PolicyValues)>, StoreError> {
        let table = self.table(GOVERNANCE)?;
        let mut out = Vec::new();
        let range = prefixed(POLICY);
        for row in table.range(range.start.as_str()..range.end.as_str())? {
            let (k, v) = row?;
            out.push((
                k.value()[POLICY.len()..].to_owned(),
                tables::decode(v.value())?,
            ));
        }
        Ok(out)
    }

    /// A device's standing with its policy (the default when nothing is recorded).
    fn device_state(&self, account: AccountId, device_id: &str) -> Result<DeviceState, StoreError> {
        Ok(get(self, &device_key(account, device_id))?.unwrap_or_default())
    }

    /// Every recorded device state, by (account, DeviceId).
    fn device_states(&self) -> Result<HashMap<(AccountId, String), DeviceState>, StoreError> {
        let table = self.table(GOVERNANCE)?;
        let mut out = HashMap::new();
        let range = prefixed(DEVICE);
        for row in table.range(range.start.as_str()..range.end.as_str())? {
            let (k, v) = row?;
            let Some((account, device_id)) = k.value()[DEVICE.len()..].split_once('/') else {
                continue;
            };
            let Ok(account) = account.parse() else {
                continue;
            };
            out.insert((account, device_id.to_owned()), tables::decode(v.value())?);
        }
        Ok(out)
    }
}

impl<T: Tx> GovernanceReads for T {}

fn get<T: serde::de::DeserializeOwned>(
    tx: &(impl Tx + ?Sized),
    key: &str,
) -> Result<Option<T>, StoreError> {
    match tx.table(GOVERNANCE)?.get(key)? {
        Some(v) => tables::decode(v.value()).map(Some),
        None => Ok(None),
    }
}

fn put<T: serde::Serialize>(w: &WriteCtx, key: &str, value: &T) -> Result<(), StoreError> {
    w.tx.open_table(GOVERNANCE)?
        .insert(key, tables::encode(value).as_slice())?;
    Ok(())
}

pub fn put_abq_rules(w: &WriteCtx, rules: &AbqRules) -> Result<(), StoreError> {
    put(w, ABQ, rules)
}

/// Gives the level named `level` its own settings.
pub fn put_policy_level(
    w: &WriteCtx,
    level: &str,
    values: &PolicyValues,
) -> Result<(), StoreError> {
    put(w, &level_key(level), values)
}

/// The level named `level` inherits again.
pub fn remove_policy_level(w: &WriteCtx, level: &str) -> Result<(), StoreError> {
    w.tx.open_table(GOVERNANCE)?
        .remove(level_key(level).as_str())?;
    Ok(())
}

/// Records a device's standing; the default standing is recorded by removing the record.
pub fn put_device_state(
    w: &WriteCtx,
    account: AccountId,
    device_id: &str,
    state: &DeviceState,
) -> Result<(), StoreError> {
    let key = device_key(account, device_id);
    if *state == DeviceState::default() {
        w.tx.open_table(GOVERNANCE)?.remove(key.as_str())?;
        Ok(())
    } else {
        put(w, &key, state)
    }
}
