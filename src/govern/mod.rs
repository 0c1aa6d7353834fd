//! Device governance: the device registry, the device gate, ABQ rules, remote wipe and
//! security policies.

pub mod abq;
pub mod cache;
pub mod compliance;
pub mod device;
mod error;
pub mod foreign;
pub mod levels;
pub mod notice;
pub mod own;
pub mod policy;
pub mod registry;
pub mod settings;
pub mod wipe;

use std::fmt;
use std::sync::Arc;

pub use error::GovernError;

use compliance::Compliance;
use levels::Effective;

use crate::proto::command::Command;
use crate::proto::ids::SentPolicyKey;
use crate::proto::query::EasRequest;
use crate::proto::status::GlobalStatus;
use crate::proto::version::ProtocolVersion;
use crate::store::model::{Access, Account, AccountId, Device, Wipe};
use crate::store::ops::{self, Reads};
use crate::store::{Reader, Store, StoreError, now};

/// What the device gate decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    Pass,
    /// Provisioning required: HTTP 449 (12.x) or this Status (14.0+).
    Refuse(GlobalStatus),
    /// ABQ block: HTTP 403 for every command.
    Blocked,
    /// The device acknowledged a remote wipe: barred until an admin clears it.
    Wiped,
    /// A remote wipe waits: HTTP 449 (12.x) or Status 140 (14.0+) until the device sends
    /// Provision ([MS-ASPROV] 3.2.5.1.2.1).
    WipeRequested,
    /// MaxDevicesPerUser: a new device of an account that has that many already
    /// ([MS-ASCMD] 2.2.2 Status 177, MaximumDevicesReached).
    TooManyDevices,
    /// MaxProtocolVersion: the request speaks a higher version than the device may use.
    VersionAbove(ProtocolVersion),
}

impl fmt::Display for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Gate::Pass => f.write_str("admitted"),
            Gate::Refuse(s) => write!(f, "provisioning required ({s:?}, {})", s.code()),
            Gate::Blocked => f.write_str("device blocked"),
            Gate::Wiped => f.write_str("device wiped"),
            Gate::WipeRequested => f.write_str("remote wipe pending"),
            Gate::TooManyDevices => f.write_str("MaxDevicesPerUser reached (177)"),
            Gate::VersionAbove(max) => write!(f, "above MaxProtocolVersion {max}"),
        }
    }
}

/// The commands a device may send before it holds a current policy key: the handshake
/// itself, and Settings, which 12.1+ clients send to introduce the device first.
const BEFORE_PROVISIONING: [Command; 2] = [Command::Provision, Command::Settings];

/// The gate's decision, with the device's effective policy (device → user → domain →
/// server → default) it was made under: the command runs under the same policy, so a
/// request resolves it once.
pub struct Verdict {
    pub gate: Gate,
    pub policy: Arc<Effective>,
}

/// Decides whether the request may run: wipe state, ABQ state, the protocol version and
/// device count the policy allows, then the policy key. A new device that passes is
/// admitted by the ABQ rules here, once; `device` is updated with the outcome. Rules and
/// policies come from the cache: an admitted device costs no store read.
pub async fn gate(
    store: &Store,
    account: &Account,
    device: &mut Device,
    req: &EasRequest,
) -> Result<Verdict, StoreError> {
    let view = cache::view(store).await?;
    let policy = view.levels.device(account, &device.device_id);
    let gate = decide(store, account, device, req, &view, &policy).await?;
    Ok(Verdict { gate, policy })
}

async fn decide(
    store: &Store,
    account: &Account,
    device: &mut Device,
    req: &EasRequest,
    view: &cache::View,
    policy: &Effective,
) -> Result<Gate, StoreError> {
    match device.wipe {
        Wipe::Done => return Ok(Gate::Wiped),
        Wipe::Pending { .. } if req.command == Command::Provision => return Ok(Gate::Pass),
        Wipe::Pending { .. } => return Ok(Gate::WipeRequested),
        Wipe::None => {}
    }
    if registry::access(device) == Access::Block {
        return Ok(Gate::Blocked);
    }
    if let Some(max) = policy.limits.max_version
        && req.version > max
    {
        return Ok(Gate::VersionAbove(max));
    }
    let limit = policy
        .limits
        .max_devices
        .filter(|_| registry::is_new(device));
    if let Some(limit) = limit {
        let (account_id, device_id) = (account.id, device.device_id.clone());
        let full = store
            .view(move |tx| at_limit(tx, account_id, &device_id, limit))
            .await?;
        if full {
            return Ok(Gate::TooManyDevices);
        }
    }
    if BEFORE_PROVISIONING.contains(&req.command) {
        return Ok(Gate::Pass);
    }
    if let Some(status) = policy_check(store, account, device, req, policy).await? {
        return Ok(Gate::Refuse(status));
    }
    if device.abq.is_none() {
        let Some(d) = admit(store, account, device, &view.rules, limit).await? else {
            return Ok(Gate::TooManyDevices);
        };
        *device = d;
        if registry::access(device) == Access::Block {
            return Ok(Gate::Blocked);
        }
    }
    Ok(Gate::Pass)
}

/// The `MS-ASProtocolVersions` OPTIONS offers `account`: no higher than the server's
/// `server_max` (the versions on offer) nor the MaxProtocolVersion of its user level,
/// since OPTIONS names no device.
pub async fn offered_versions(
    store: &Store,
    account: &Account,
    server_max: Option<ProtocolVersion>,
) -> Result<String, StoreError> {
    let policy_max = cache::view(store)
        .await?
        .levels
        .account(account)
        .limits
        .max_version;
    let max = match (policy_max, server_max) {
        (Some(p), Some(s)) => Some(p.min(s)),
        (p, s) => p.or(s),
    };
    Ok(own::versions_header(max))
}

/// What the rules hold for a new device of `account` whose OS, model and type are not
/// known yet (what the connectivity page tells a user before setting up a phone).
#[derive(Debug, Clone, PartialEq)]
pub struct NewDeviceOutlook {
    pub access: Access,
    /// What decided it: "user rule for …", "domain rule for …", "global rule".
    pub reason: String,
    /// Enabled server rules look at the device's OS, model and type, which are not known
    /// yet: one of them may decide instead when the device connects.
    pub server_rules_may_decide: bool,
    /// Where the account's security policy comes from ("own settings", "inherited from
    /// domain example.com", …).
    pub policy_source: String,
}

pub async fn new_device_outlook(
    store: &Store,
    account: &Account,
) -> Result<NewDeviceOutlook, StoreError> {
    let view = cache::view(store).await?;
    let facts = abq::Facts {
        email: &account.email,
        domain: account.domain(),
        ..abq::Facts::default()
    };
    let decision = view.rules.evaluate(&facts);
    let by_account = view.rules.users.contains_key(&account.email)
        || view.rules.domains.contains_key(account.domain());
    let (_, policy_source) = view
        .levels
        .describe(&levels::Level::User(account.email.clone()));
    Ok(NewDeviceOutlook {
        access: decision.access,
        reason: decision.reason,
        server_rules_may_decide: !by_account && view.rules.server.iter().any(|r| r.enabled),
        policy_source,
    })
}

/// Checks the device's policy key against its current final key and the effective policy
/// ([MS-ASPROV] 3.2.5.1; statuses from [MS-ASCMD] 2.2.2):
/// - no key (none sent, or 0): 142 DeviceNotProvisioned — except that a device sending no
///   key at all, and never provisioned, syncs without a policy where
///   AllowNonProvisionableDevices allows it;
/// - a device that could not apply its policy, where that is not allowed: 142;
/// - a key that is not the device's final key, or not a key at all (malformed): 144
///   InvalidPolicyKey;
/// - the device's key, issued for another policy than the effective one, or accepted
///   longer than PolicyRefreshHours ago: 143 PolicyRefresh.
async fn policy_check(
    store: &Store,
    account: &Account,
    device: &Device,
    req: &EasRequest,
    policy: &Effective,
) -> Result<Option<GlobalStatus>, StoreError> {
    let strict = !policy.limits.allow_non_provisionable;
    let sent = match req.policy_key {
        // Any key that is not a 32-bit unsigned decimal: "provision again" (144 here, HTTP
        // 449 below 14.0), as for a key that is not the device's, rather than a 400 the
        // device cannot recover from.
        SentPolicyKey::Malformed => return Ok(Some(GlobalStatus::InvalidPolicyKey)),
        // A device that once took a policy knows provisioning: dropping the header does
        // not take it out from under its policy.
        SentPolicyKey::Absent if device.provision.final_key().is_some() => {
            return Ok(Some(GlobalStatus::DeviceNotProvisioned));
        }
        SentPolicyKey::Absent => {
            compliance::record(store, account, device, Compliance::NotProvisionable, strict)
                .await?;
            return Ok(strict.then_some(GlobalStatus::DeviceNotProvisioned));
        }
        SentPolicyKey::Key(key) => key,
    };
    let Some(sent) = sent else {
        return Ok(Some(GlobalStatus::DeviceNotProvisioned));
    };
    let state = cache::device_state(store, account.id, &device.device_id).await?;
    if strict && state.compliance == Compliance::NonCompliant {
        compliance::record(store, account, device, Compliance::NonCompliant, true).await?;
        return Ok(Some(GlobalStatus::DeviceNotProvisioned));
    }
    if device.provision.final_key() != Some(sent) {
        return Ok(Some(GlobalStatus::InvalidPolicyKey));
    }
    let stale = device.policy_hash != Some(policy.hash(req.version))
        || policy.limits.refresh_due(state.accepted_at, now());
    Ok(stale.then_some(GlobalStatus::PolicyRefresh))
}

/// Whether the account's other devices already take `limit` places.
fn at_limit(
    tx: &impl Reader,
    account: AccountId,
    device_id: &str,
    limit: u32,
) -> Result<bool, StoreError> {
    let held = tx
        .account_devices(account)?
        .iter()
        .filter(|d| d.device_id.as_str() != device_id && registry::holds_place(d))
        .count();
    Ok(held >= limit as usize)
}

/// Evaluates the ABQ rules for a device seen for the first time, stores the outcome, and
/// mails the quarantine notice (once). `None`: the account reached `limit` meanwhile.
async fn admit(
    store: &Store,
    account: &Account,
    device: &Device,
    rules: &abq::Rules,
    limit: Option<u32>,
) -> Result<Option<Device>, StoreError> {
    let (model, os) = registry::model_os(device);
    let facts = registry::facts(account, device, model.as_deref(), os.as_deref());
    let abq::Decision {
        access: action,
        reason,
        settings,
    } = rules.evaluate(&facts);
    let (account_id, device_id) = (account.id, device.device_id.clone());
    let log_reason = reason.clone();
    let admitted = store
        .write(move |ctx| {
            let mut d = ctx
                .device(account_id, &device_id)?
                .ok_or_else(|| StoreError::NotFound(format!("device {device_id}")))?;
            if d.abq.is_none() {
                // Checked again in the transaction: two new devices at once take one place.
                if let Some(limit) = limit
                    && registry::is_new(&d)
                    && at_limit(ctx, account_id, &device_id, limit)?
                {
                    return Ok(None);
                }
                d.abq = Some(action);
                d.abq_reason = Some(reason.clone());
                // The deciding rule's new-device settings, copied (later edits of the
                // template leave this device as it is), unless an admin set the device's
                // own already.
                if d.settings.is_none() {
                    d.settings = Some(settings);
                }
            }
            // Claimed in the same transaction, so concurrent requests mail only once.
            let mail = registry::access(&d) == Access::Quarantine && !d.quarantine_mailed;
            d.quarantine_mailed |= mail;
            ops::put_device(ctx, &d)?;
            Ok(Some((d, mail)))
        })
        .await?;
    let Some((d, mail)) = admitted else {
        return Ok(None);
    };
    tracing::info!(
        "{} {}: admitted as {action:?} by the {log_reason}",
        account.email,
        device.device_id
    );
    if mail {
        notice::quarantined(store, account, &d).await?;
    }
    Ok(Some(d))
}
