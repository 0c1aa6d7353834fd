//! Device governance: the device registry, the provisioning gate and security policies.
//!
//! The policy model is the seam the device-governance work fills in (ABQ rules, policy
//! levels and inheritance, remote wipe); today every device gets the neutral default.

pub mod device;
pub mod policy;

use crate::eas::command::Command;
use crate::eas::query::EasRequest;
use crate::eas::status::GlobalStatus;
use crate::store::model::Device;

/// What the device gate decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    Pass,
    Refuse(GlobalStatus),
}

/// The commands a device may send before it holds a current policy key: the handshake
/// itself, and Settings, which 12.1+ clients send to introduce the device first.
const BEFORE_PROVISIONING: [Command; 2] = [Command::Provision, Command::Settings];

/// Checks the device's policy key against its current final key and the effective policy
/// ([MS-ASPROV] 3.2.5.1). `garbled_key` marks an X-MS-PolicyKey header that is not a number.
pub fn gate(device: &Device, req: &EasRequest, garbled_key: bool) -> Gate {
    if BEFORE_PROVISIONING.contains(&req.command) {
        return Gate::Pass;
    }
    let current = policy::effective().hash(req.version);
    match (req.policy_key, device.policy_key) {
        (None, _) if !garbled_key => Gate::Refuse(GlobalStatus::DeviceNotProvisioned),
        (Some(sent), Some(key)) if sent.get() == key && device.policy_hash == Some(current) => {
            Gate::Pass
        }
        _ => Gate::Refuse(GlobalStatus::InvalidPolicyKey),
    }
}
