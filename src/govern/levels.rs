//! Policy levels: default → server → domain → user → device. A level either inherits from
//! the level above or holds its own complete settings; the effective policy of a level is
//! the nearest level up (itself included) that holds its own.

use std::collections::BTreeMap;

use super::policy::{Policy, SETTINGS, Value};
use crate::store::StoreError;
use crate::store::model::Account;
use crate::store::ops::{self, Tx};
use crate::store::tables::{self, GOVERNANCE};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Level {
    Default,
    Server,
    Domain(String),
    User(String),
    /// `EMAIL/DEVICEID`.
    Device(String, String),
}

impl Level {
    /// `server`, `domain:D`, `user:EMAIL` or `device:EMAIL/DEVICEID`; the default level is
    /// built in and read-only, so it is not named here.
    pub fn parse(text: &str) -> Result<Level, StoreError> {
        let bad = || {
            StoreError::Invalid(format!(
                "{text:?}: a level is server, domain:D, user:EMAIL or device:EMAIL/DEVICEID"
            ))
        };
        match text.split_once(':') {
            None if text == "server" => Ok(Level::Server),
            Some(("domain", d)) if !d.is_empty() && !d.contains(['@', '/']) => {
                Ok(Level::Domain(d.to_ascii_lowercase()))
            }
            Some(("user", e)) => Ok(Level::User(ops::normalize_email(e)?)),
            Some(("device", name)) => {
                let (e, id) = name
                    .split_once('/')
                    .filter(|(_, id)| !id.is_empty())
                    .ok_or_else(bad)?;
                Ok(Level::Device(ops::normalize_email(e)?, id.to_owned()))
            }
            _ => Err(bad()),
        }
    }

    fn key(&self) -> Option<String> {
        match self {
            Level::Default => None,
            Level::Server => Some("policy:server".into()),
            Level::Domain(d) => Some(format!("policy:domain:{d}")),
            Level::User(e) => Some(format!("policy:user:{e}")),
            Level::Device(e, id) => Some(format!("policy:device:{e}/{id}")),
        }
    }

    /// The level this one inherits from.
    fn parent(&self) -> Option<Level> {
        match self {
            Level::Default => None,
            Level::Server => Some(Level::Default),
            Level::Domain(_) => Some(Level::Server),
            Level::User(e) => Some(Level::Domain(
                e.rsplit_once('@').map_or("", |(_, d)| d).to_owned(),
            )),
            Level::Device(e, _) => Some(Level::User(e.clone())),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Level::Default => "the built-in default".into(),
            Level::Server => "server".into(),
            Level::Domain(d) => format!("domain {d}"),
            Level::User(e) => format!("user {e}"),
            Level::Device(e, id) => format!("device {e}/{id}"),
        }
    }
}

/// The level's own settings, if it holds them.
fn own(tx: &impl Tx, level: &Level) -> Result<Option<Policy>, StoreError> {
    let Some(key) = level.key() else {
        return Ok(Some(Policy::default()));
    };
    let stored: Option<BTreeMap<String, Value>> =
        tables::get(&tx.table(GOVERNANCE)?, "governance", key.as_str())?;
    let Some(values) = stored else {
        return Ok(None);
    };
    let mut p = Policy::default();
    for (name, value) in values {
        // An element a later easd no longer knows is dropped, not fatal.
        let _ = p.set(&name, value);
    }
    Ok(Some(p))
}

/// The effective policy of `level` and where it comes from: "own settings" or "inherited
/// from …".
pub fn resolve_level(tx: &impl Tx, level: &Level) -> Result<(Policy, String), StoreError> {
    let mut current = Some(level.clone());
    while let Some(l) = current {
        if let Some(p) = own(tx, &l)? {
            let source = if &l == level {
                "own settings".to_owned()
            } else {
                format!("inherited from {}", l.describe())
            };
            return Ok((p, source));
        }
        current = l.parent();
    }
    Ok((
        Policy::default(),
        "inherited from the built-in default".into(),
    ))
}

/// The effective policy of one device.
pub fn resolve(
    tx: &impl Tx,
    account: &Account,
    device_id: &str,
) -> Result<(Policy, String), StoreError> {
    resolve_level(
        tx,
        &Level::Device(account.email.clone(), device_id.to_owned()),
    )
}

/// Sets values on a level; a level that inherited first takes a copy of what it inherited,
/// so it then holds its own complete settings.
pub fn set(
    tx: &redb::WriteTransaction,
    level: &Level,
    values: &[(String, String)],
) -> Result<(), StoreError> {
    let key = level
        .key()
        .ok_or_else(|| StoreError::Invalid("the default level is read-only".into()))?;
    let (mut policy, _) = resolve_level(tx, level)?;
    for (name, text) in values {
        let value = Policy::parse_value(name, text).map_err(StoreError::Invalid)?;
        policy.set(name, value).map_err(StoreError::Invalid)?;
    }
    let stored: BTreeMap<&str, &Value> = policy.overrides().collect();
    tx.open_table(GOVERNANCE)?
        .insert(key.as_str(), tables::encode(&stored).as_slice())?;
    Ok(())
}

/// Makes a level inherit from the level above again.
pub fn inherit(tx: &redb::WriteTransaction, level: &Level) -> Result<(), StoreError> {
    let key = level
        .key()
        .ok_or_else(|| StoreError::Invalid("the default level is read-only".into()))?;
    tx.open_table(GOVERNANCE)?.remove(key.as_str())?;
    Ok(())
}

/// Every element's value in `policy`, by name, in EASProvisionDoc order.
pub fn all_values(policy: &Policy) -> Vec<(String, Value)> {
    SETTINGS
        .iter()
        .filter_map(|s| Some((s.name.to_owned(), policy.get(s.name)?)))
        .collect()
}
