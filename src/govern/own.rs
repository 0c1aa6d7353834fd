//! easd's own policy keys: rules the server enforces itself and never sends to a device.
//! They live in the policy levels beside the EASProvisionDoc elements, with the same
//! inheritance, but stay out of the policy's hash: changing one never makes a device
//! provision again.
//!
//! - `AllowNonProvisionableDevices` (default 1): whether a device that cannot apply the
//!   policy may sync — one that sends no X-MS-PolicyKey at all, or acknowledges the policy
//!   with a Status other than 1 ([MS-ASPROV] 2.2.2.54.1, 3.1.5.2).
//! - `PolicyRefreshHours` (unset: the policy is applied once): a device whose acceptance is
//!   older is made to provision again ([MS-ASCMD] 2.2.2 Status 143, PolicyRefresh).
//! - `MaxDevicesPerUser` (unset: no limit): a new device of an account that has that many
//!   is refused ([MS-ASCMD] 2.2.2 Status 177, MaximumDevicesReached).
//! - `MaxProtocolVersion` (unset: every version): OPTIONS offers no higher version
//!   ([MS-ASHTTP] 2.2.4.1.2.2) and a request in a higher one is refused.
//! - `BluetoothLevel` (`allowed`, `handsfree-only`, `disabled`) is another name for the
//!   EASProvisionDoc element AllowBluetooth (2, 1, 0; [MS-ASPROV] 2.2.2.2), not a key of
//!   its own.

use crate::proto::version::ProtocolVersion;
use crate::store::model::PolicyValue as Value;

pub const ALLOW_NON_PROVISIONABLE: &str = "AllowNonProvisionableDevices";
pub const REFRESH_HOURS: &str = "PolicyRefreshHours";
pub const MAX_DEVICES: &str = "MaxDevicesPerUser";
pub const MAX_VERSION: &str = "MaxProtocolVersion";
pub const BLUETOOTH_LEVEL: &str = "BluetoothLevel";
/// The EASProvisionDoc element `BluetoothLevel` stands for.
pub const ALLOW_BLUETOOTH: &str = "AllowBluetooth";

pub struct OwnKey {
    pub name: &'static str,
    pub default: fn() -> Value,
    /// Parses the text of `KEY=VALUE`; the error says what is accepted instead.
    pub parse: fn(&str) -> Result<Value, String>,
}

fn allowed() -> Value {
    Value::Int(1)
}
fn unset() -> Value {
    Value::Unset
}

/// easd's own keys, in the order `policy show` lists them.
pub const KEYS: &[OwnKey] = &[
    OwnKey {
        name: ALLOW_NON_PROVISIONABLE,
        default: allowed,
        parse: flag,
    },
    OwnKey {
        name: REFRESH_HOURS,
        default: unset,
        parse: count,
    },
    OwnKey {
        name: MAX_DEVICES,
        default: unset,
        parse: count,
    },
    OwnKey {
        name: MAX_VERSION,
        default: unset,
        parse: version,
    },
];

fn flag(text: &str) -> Result<Value, String> {
    match text.trim() {
        "0" => Ok(Value::Int(0)),
        "1" => Ok(Value::Int(1)),
        _ => Err("0 or 1".into()),
    }
}

/// A positive number, or empty for none.
fn count(text: &str) -> Result<Value, String> {
    match text.trim() {
        "" => Ok(Value::Unset),
        t => t
            .parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .map(|n| Value::Int(n.into()))
            .ok_or_else(|| "a number from 1, or empty for none".into()),
    }
}

fn version(text: &str) -> Result<Value, String> {
    match text.trim() {
        "" => Ok(Value::Unset),
        t => ProtocolVersion::parse(t)
            .map(|v| Value::Text(v.as_str().to_owned()))
            .map_err(|e| e.to_string()),
    }
}

/// BluetoothLevel names and the AllowBluetooth value each stands for ([MS-ASPROV] 2.2.2.2).
const BLUETOOTH: [(&str, i64); 3] = [("disabled", 0), ("handsfree-only", 1), ("allowed", 2)];

/// The AllowBluetooth value of a `BluetoothLevel=…` text.
pub fn bluetooth_value(text: &str) -> Result<Value, String> {
    BLUETOOTH
        .iter()
        .find(|(name, _)| *name == text.trim())
        .map(|(_, v)| Value::Int(*v))
        .ok_or_else(|| "allowed, handsfree-only or disabled".into())
}

/// The BluetoothLevel an AllowBluetooth value reads as; a value outside the three levels
/// is shown as it is.
pub fn bluetooth_level(allow_bluetooth: Value) -> Value {
    BLUETOOTH
        .iter()
        .find(|(_, v)| allow_bluetooth == Value::Int(*v))
        .map_or(allow_bluetooth, |(name, _)| Value::Text((*name).to_owned()))
}

/// easd's own keys of one policy, typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub allow_non_provisionable: bool,
    pub refresh_hours: Option<u32>,
    pub max_devices: Option<u32>,
    pub max_version: Option<ProtocolVersion>,
}

impl Limits {
    /// Whether a device that accepted its policy at `accepted_at` (Unix seconds; `None`:
    /// not known) must provision again at `now`.
    pub fn refresh_due(&self, accepted_at: Option<i64>, now: i64) -> bool {
        self.refresh_hours.is_some_and(|hours| {
            accepted_at.is_none_or(|t| now.saturating_sub(t) >= i64::from(hours) * 3600)
        })
    }
}

/// The `MS-ASProtocolVersions` header value ([MS-ASHTTP] 2.2.4.1.2.2) for a device that
/// may speak versions up to `max` (`None`: every version).
pub fn versions_header(max: Option<ProtocolVersion>) -> String {
    ProtocolVersion::ALL
        .into_iter()
        .filter(|v| max.is_none_or(|max| *v <= max))
        .map(ProtocolVersion::as_str)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::govern::policy::Policy;

    #[test]
    fn parsing_and_limits() {
        let mut p = Policy::default();
        assert_eq!(
            p.limits(),
            Limits {
                allow_non_provisionable: true,
                refresh_hours: None,
                max_devices: None,
                max_version: None,
            }
        );
        assert_eq!(flag("2"), Err("0 or 1".into()));
        assert!(count("0").is_err() && count("-3").is_err());
        assert_eq!(count(" "), Ok(Value::Unset));
        assert!(version("15.0").is_err());
        p.set(MAX_VERSION, version("14.1").unwrap()).unwrap();
        p.set(REFRESH_HOURS, count("2").unwrap()).unwrap();
        p.set(ALLOW_NON_PROVISIONABLE, flag("0").unwrap()).unwrap();
        let l = p.limits();
        assert!(!l.allow_non_provisionable);
        assert_eq!(versions_header(l.max_version), "12.0,12.1,14.0,14.1");
        assert!(l.refresh_due(None, 10_000));
        assert!(!l.refresh_due(Some(3_000), 3_000 + 7_199));
        assert!(l.refresh_due(Some(3_000), 3_000 + 7_200));
        assert!(!Policy::default().limits().refresh_due(None, 10_000));
    }

    #[test]
    fn bluetooth_levels_are_allow_bluetooth_values() {
        assert_eq!(bluetooth_value("handsfree-only"), Ok(Value::Int(1)));
        assert_eq!(bluetooth_value("disabled"), Ok(Value::Int(0)));
        assert!(bluetooth_value("fully").is_err());
        assert_eq!(
            bluetooth_level(Value::Int(2)),
            Value::Text("allowed".into())
        );
        assert_eq!(bluetooth_level(Value::Int(7)), Value::Int(7));
    }
}
