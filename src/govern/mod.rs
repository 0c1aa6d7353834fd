//! Device governance: the device registry, the device gate, ABQ rules, remote wipe and
//! security policies.

pub mod abq;
pub mod device;
pub mod levels;
pub mod notice;
pub mod policy;
pub mod registry;
pub mod wipe;

use crate::eas::command::Command;
use crate::eas::query::EasRequest;
use crate::eas::status::GlobalStatus;
use crate::store::model::{Access, Account, Device, Wipe};
use crate::store::ops::{self, Reads};
use crate::store::{Store, StoreError};

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
}

/// The commands a device may send before it holds a current policy key: the handshake
/// itself, and Settings, which 12.1+ clients send to introduce the device first.
const BEFORE_PROVISIONING: [Command; 2] = [Command::Provision, Command::Settings];

/// Decides whether the request may run: wipe state, ABQ state, then the policy key. A new
/// device that passes the policy check is admitted by the ABQ rules here, once; `device`
/// is updated with the outcome.
pub async fn gate(
    store: &Store,
    account: &Account,
    device: &mut Device,
    req: &EasRequest,
    garbled_key: bool,
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
    if BEFORE_PROVISIONING.contains(&req.command) {
        return Ok(Gate::Pass);
    }
    let current = policy::effective(&store.read()?, account, &device.device_id)?.hash(req.version);
    if let Some(status) = policy_check(device, req, garbled_key, current) {
        return Ok(Gate::Refuse(status));
    }
    if device.abq.is_none() {
        *device = admit(store, account, device).await?;
        if registry::access(device) == Access::Block {
            return Ok(Gate::Blocked);
        }
    }
    Ok(Gate::Pass)
}

/// Checks the device's policy key against its current final key and the effective policy
/// ([MS-ASPROV] 3.2.5.1): a key issued for another policy than `current` (the hash of
/// the effective policy) is stale. `garbled_key` marks a header that is not a number.
fn policy_check(
    device: &Device,
    req: &EasRequest,
    garbled_key: bool,
    current: u64,
) -> Option<GlobalStatus> {
    match (req.policy_key, device.policy_key) {
        (None, _) if !garbled_key => Some(GlobalStatus::DeviceNotProvisioned),
        (Some(sent), Some(key)) if sent.get() == key && device.policy_hash == Some(current) => None,
        _ => Some(GlobalStatus::InvalidPolicyKey),
    }
}

/// Evaluates the ABQ rules for a device seen for the first time, stores the outcome, and
/// mails the quarantine notice (once).
async fn admit(store: &Store, account: &Account, device: &Device) -> Result<Device, StoreError> {
    let rules = abq::Rules::load(&store.read()?)?;
    let (model, os) = registry::model_os(device);
    let facts = registry::facts(account, device, model.as_deref(), os.as_deref());
    let (action, reason) = rules.evaluate(&facts);
    tracing::info!(
        "{} {}: admitted as {action:?} by the {reason}",
        account.email,
        device.device_id
    );
    let (account_id, device_id) = (account.id, device.device_id.clone());
    let (d, mail) = store
        .write(move |ctx| {
            let mut d = ctx
                .tx
                .device(account_id, &device_id)?
                .ok_or_else(|| StoreError::NotFound(format!("device {device_id}")))?;
            if d.abq.is_none() {
                d.abq = Some(action);
                d.abq_reason = Some(reason.clone());
            }
            // Claimed in the same transaction, so concurrent requests mail only once.
            let mail = registry::access(&d) == Access::Quarantine && !d.quarantine_mailed;
            d.quarantine_mailed |= mail;
            ops::put_device(ctx.tx, &d)?;
            Ok((d, mail))
        })
        .await?;
    if mail {
        notice::quarantined(store, account, &d).await?;
    }
    Ok(d)
}
