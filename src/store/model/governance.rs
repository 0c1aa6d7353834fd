//! Device-governance records: the Allow/Block/Quarantine rules, the policy levels' own
//! settings, and each device's standing with its policy. What they mean is `govern`'s.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Access, DeviceSettings};

/// The device property a server rule looks at.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum AbqParam {
    Os,
    Model,
    Type,
}

impl AbqParam {
    /// Evaluation order of the server rules.
    pub const ORDER: [AbqParam; 3] = [AbqParam::Os, AbqParam::Model, AbqParam::Type];
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AbqRule {
    pub id: u64,
    pub param: AbqParam,
    pub value: String,
    pub action: Access,
    #[serde(default)]
    pub description: String,
    pub enabled: bool,
    /// New-device settings of the devices this rule admits.
    #[serde(default)]
    pub settings: Option<DeviceSettings>,
}

/// Every ABQ rule of the server, stored as one record: rules change rarely and are read
/// only when a new device is admitted.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AbqRules {
    pub global: Access,
    /// New-device settings of the global rule: also those of devices admitted by a rule
    /// that has none.
    #[serde(default)]
    pub global_settings: Option<DeviceSettings>,
    /// Account address → action.
    #[serde(default)]
    pub users: BTreeMap<String, Access>,
    /// Domain → action.
    #[serde(default)]
    pub domains: BTreeMap<String, Access>,
    /// New-device settings of user rules, by account address; only for addresses that
    /// have a rule (kept apart from `users` so that older records still load).
    #[serde(default)]
    pub user_settings: BTreeMap<String, DeviceSettings>,
    /// New-device settings of domain rules, by domain; only for domains that have a rule.
    #[serde(default)]
    pub domain_settings: BTreeMap<String, DeviceSettings>,
    #[serde(default)]
    pub server: Vec<AbqRule>,
    #[serde(default = "first_id")]
    pub next_id: u64,
}

fn first_id() -> u64 {
    1
}

impl Default for AbqRules {
    fn default() -> Self {
        AbqRules {
            global: Access::Allow,
            global_settings: None,
            users: BTreeMap::new(),
            domains: BTreeMap::new(),
            user_settings: BTreeMap::new(),
            domain_settings: BTreeMap::new(),
            server: Vec::new(),
            next_id: 1,
        }
    }
}

/// One setting of a policy level, as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum PolicyValue {
    Int(i64),
    /// No value: an empty element (e.g. MaxAttachmentSize without a limit).
    Unset,
    /// Application lists: a container of `ApplicationName`/`Hash` children.
    List(Vec<String>),
    /// A name: easd's MaxProtocolVersion, BluetoothLevel as shown.
    Text(String),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceState {
    /// When the device last acknowledged its policy (Unix seconds).
    #[serde(default)]
    pub accepted_at: Option<i64>,
    #[serde(default)]
    pub compliance: Compliance,
    /// The owner and the admins were told the device cannot connect.
    #[serde(default)]
    pub refusal_mailed: bool,
}

/// Whether a device can apply its policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Compliance {
    /// Not provisioned yet.
    #[default]
    Unknown,
    /// Acknowledged its policy with Status 1 ([MS-ASPROV] 2.2.2.54.1).
    Compliant,
    /// Sends no X-MS-PolicyKey: it does not know provisioning ([MS-ASPROV] 3.1.5.2,
    /// Status 141).
    NotProvisionable,
    /// Acknowledged its policy with another Status: partly applied, not applied, or
    /// provisioned by a third party ([MS-ASPROV] 2.2.2.54.1, 3.1.5.2 Status 139).
    NonCompliant,
}

impl Compliance {
    /// The name `easd device list --json` shows.
    pub fn name(self) -> &'static str {
        match self {
            Compliance::Unknown => "unknown",
            Compliance::Compliant => "compliant",
            Compliance::NotProvisionable => "not-provisionable",
            Compliance::NonCompliant => "non-compliant",
        }
    }

    /// A device of this kind cannot apply the policy: AllowNonProvisionableDevices decides
    /// whether it may sync.
    pub fn cannot_apply(self) -> bool {
        matches!(
            self,
            Compliance::NotProvisionable | Compliance::NonCompliant
        )
    }
}
