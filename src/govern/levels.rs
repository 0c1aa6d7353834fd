//! Policy levels: default → server → domain → user → device. A level either inherits from
//! the level above or holds its own complete settings; the effective policy of a level is
//! the nearest level up (itself included) that holds its own.
//!
//! The levels holding their own settings are `policy:LEVEL` records of the governance
//! table. A write job reads them in its transaction; requests read them all at once
//! ([`Levels`]), through the cache.

use super::GovernError;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use super::own::Limits;
use super::policy::{Policy, Value};
use crate::proto::version::ProtocolVersion;
use crate::store::StoreError;
use crate::store::governance::{self, PolicyValues};
use crate::store::model::Account;
use crate::store::ops::{self};
use crate::store::{Reader, WriteCtx};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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
    pub fn parse(text: &str) -> Result<Level, GovernError> {
        let bad = || {
            GovernError::Invalid(format!(
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
            Level::Server => Some("server".into()),
            Level::Domain(d) => Some(format!("domain:{d}")),
            Level::User(e) => Some(format!("user:{e}")),
            Level::Device(e, id) => Some(format!("device:{e}/{id}")),
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

/// A stored level's settings: unknown names (from a later easd) are dropped, not fatal.
fn decode(values: BTreeMap<String, Value>) -> Policy {
    let mut p = Policy::default();
    for (name, value) in values {
        let _ = p.set(&name, value);
    }
    p
}

/// The nearest level up from `level` (itself included) whose own settings `own` finds,
/// and that level; `default` (the built-in level) when none holds its own.
fn nearest<T, E>(
    level: &Level,
    default: T,
    mut own: impl FnMut(&Level) -> Result<Option<T>, E>,
) -> Result<(T, Option<Level>), E> {
    let mut current = Some(level.clone());
    while let Some(l) = current {
        if let Some(p) = own(&l)? {
            return Ok((p, Some(l)));
        }
        current = l.parent();
    }
    Ok((default, None))
}

/// Where the values of `level` come from, its settings being those of `found`.
fn source(level: &Level, found: Option<&Level>) -> String {
    match found {
        Some(l) if l == level => "own settings".to_owned(),
        Some(l) => format!("inherited from {}", l.describe()),
        None => "inherited from the built-in default".to_owned(),
    }
}

/// The level's own settings, if it holds them.
fn own(tx: &impl Reader, level: &Level) -> Result<Option<Policy>, StoreError> {
    let Some(key) = level.key() else {
        return Ok(None);
    };
    Ok(tx.policy_level(&key)?.map(decode))
}

/// The effective policy of `level`, read in `tx`.
pub fn resolve_level(tx: &impl Reader, level: &Level) -> Result<Policy, StoreError> {
    Ok(nearest(level, Policy::default(), |l| own(tx, l))?.0)
}

/// Sets values on a level; a level that inherited first takes a copy of what it inherited,
/// so it then holds its own complete settings.
pub fn set(w: &WriteCtx, level: &Level, values: &[(String, String)]) -> Result<(), GovernError> {
    let key = level
        .key()
        .ok_or_else(|| GovernError::Invalid("the default level is read-only".into()))?;
    let mut policy = resolve_level(w, level)?;
    for (name, text) in values {
        let (name, value) = Policy::parse_value(name, text).map_err(GovernError::Invalid)?;
        policy.set(name, value).map_err(GovernError::Invalid)?;
    }
    let stored: PolicyValues = policy
        .overrides()
        .map(|(name, value)| (name.to_owned(), value.clone()))
        .collect();
    Ok(governance::put_policy_level(w, &key, &stored)?)
}

/// Makes a level inherit from the level above again.
pub fn inherit(w: &WriteCtx, level: &Level) -> Result<(), GovernError> {
    let key = level
        .key()
        .ok_or_else(|| GovernError::Invalid("the default level is read-only".into()))?;
    Ok(governance::remove_policy_level(w, &key)?)
}

/// A policy ready for the device gate: its settings, its hash per protocol version
/// (computed at first use) and easd's own limits.
#[derive(Debug)]
pub struct Effective {
    pub policy: Policy,
    hashes: [OnceLock<u64>; ProtocolVersion::ALL.len()],
    pub limits: Limits,
}

impl Effective {
    fn new(policy: Policy) -> Effective {
        Effective {
            hashes: Default::default(),
            limits: policy.limits(),
            policy,
        }
    }

    /// [`Policy::hash`] for `version`, computed once.
    pub fn hash(&self, version: ProtocolVersion) -> u64 {
        let i = ProtocolVersion::ALL.iter().position(|v| *v == version);
        *self.hashes[i.unwrap_or_default()].get_or_init(|| self.policy.hash(version))
    }
}

/// Every level that holds its own settings, read at once.
#[derive(Debug)]
pub struct Levels {
    own: HashMap<Level, Arc<Effective>>,
    default: Arc<Effective>,
}

impl Levels {
    pub fn load(tx: &impl Reader) -> Result<Levels, StoreError> {
        let mut own = HashMap::new();
        for (name, values) in tx.policy_levels()? {
            let Ok(level) = Level::parse(&name) else {
                tracing::warn!("governance: ignoring the settings of policy level {name:?}");
                continue;
            };
            own.insert(level, Arc::new(Effective::new(decode(values))));
        }
        Ok(Levels {
            own,
            default: Arc::new(Effective::new(Policy::default())),
        })
    }

    /// The effective policy of `level` and the level it comes from (`None`: the built-in
    /// default).
    pub fn resolve(&self, level: &Level) -> (Arc<Effective>, Option<Level>) {
        let Ok(found) = nearest(level, self.default.clone(), |l| {
            Ok::<_, std::convert::Infallible>(self.own.get(l).cloned())
        });
        found
    }

    /// [`Levels::resolve`] with the source as `policy show` says it.
    pub fn describe(&self, level: &Level) -> (Arc<Effective>, String) {
        let (effective, found) = self.resolve(level);
        (effective, source(level, found.as_ref()))
    }

    /// The effective policy of one device.
    pub fn device(&self, account: &Account, device_id: &str) -> Arc<Effective> {
        self.resolve(&Level::Device(account.email.clone(), device_id.to_owned()))
            .0
    }

    /// The effective policy of an account (its user level): what OPTIONS offers before a
    /// device is known.
    pub fn account(&self, account: &Account) -> Arc<Effective> {
        self.resolve(&Level::User(account.email.clone())).0
    }
}
