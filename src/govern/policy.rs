//! Security policies and their EASProvisionDoc ([MS-ASPROV] 2.2.2.27).
//!
//! A policy is a value per EASProvisionDoc element, by element name (the same names the
//! admin uses in `easd policy set KEY=VALUE`). Each element is sent only to protocol
//! versions that have it, and the policy's hash — which the PolicyKey stands for — covers
//! only what that version is sent, so a client of an older version is never told its
//! policy changed over an element it never saw. easd's own keys ([`super::own`]) are kept
//! in the same policy but never sent, and never hashed.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::own::{self, ALLOW_NON_PROVISIONABLE, Limits, MAX_DEVICES, MAX_VERSION, REFRESH_HOURS};
use crate::proto::version::ProtocolVersion;
use crate::wbxml::{self, Element, tag};

/// The policy type every supported version uses ([MS-ASPROV] 2.2.2.42).
pub const POLICY_TYPE: &str = "MS-EAS-Provisioning-WBXML";

pub use crate::store::model::PolicyValue as Value;

/// A value as `easd policy show` and the web pages write it (a list comma-separated,
/// unset empty).
pub fn value_text(v: &Value) -> String {
    match v {
        Value::Int(n) => n.to_string(),
        Value::Text(t) => t.clone(),
        Value::Unset => String::new(),
        Value::List(items) => items.join(","),
    }
}

pub struct Setting {
    /// The EASProvisionDoc element name.
    pub name: &'static str,
    /// The first protocol version whose EASProvisionDoc has the element.
    pub since: ProtocolVersion,
    /// The neutral default: nothing required of the device, everything allowed.
    pub default: fn() -> Value,
}

const fn s(name: &'static str, since: ProtocolVersion, default: fn() -> Value) -> Setting {
    Setting {
        name,
        since,
        default,
    }
}

fn zero() -> Value {
    Value::Int(0)
}
fn one() -> Value {
    Value::Int(1)
}
fn two() -> Value {
    Value::Int(2)
}
fn unlimited() -> Value {
    Value::Int(-1)
}
fn unset() -> Value {
    Value::Unset
}
fn no_apps() -> Value {
    Value::List(Vec::new())
}

use ProtocolVersion::{V12_0, V12_1};

/// Every EASProvisionDoc element, in token order. Version 12.0 knows the first eleven;
/// 12.1 added the rest ([MS-ASPROV] 2.2.2 element sections).
pub const SETTINGS: &[Setting] = &[
    s("DevicePasswordEnabled", V12_0, zero),
    s("AlphanumericDevicePasswordRequired", V12_0, zero),
    s("RequireStorageCardEncryption", V12_0, zero),
    s("PasswordRecoveryEnabled", V12_0, zero),
    s("AttachmentsEnabled", V12_0, one),
    s("MinDevicePasswordLength", V12_0, one),
    s("MaxInactivityTimeDeviceLock", V12_0, zero),
    s("MaxDevicePasswordFailedAttempts", V12_0, zero),
    s("MaxAttachmentSize", V12_0, unset),
    s("AllowSimpleDevicePassword", V12_0, one),
    s("DevicePasswordExpiration", V12_0, zero),
    s("DevicePasswordHistory", V12_0, zero),
    s("AllowStorageCard", V12_1, one),
    s("AllowCamera", V12_1, one),
    s("RequireDeviceEncryption", V12_1, zero),
    s("AllowUnsignedApplications", V12_1, one),
    s("AllowUnsignedInstallationPackages", V12_1, one),
    s("MinDevicePasswordComplexCharacters", V12_1, one),
    s("AllowWiFi", V12_1, one),
    s("AllowTextMessaging", V12_1, one),
    s("AllowPOPIMAPEmail", V12_1, one),
    s("AllowBluetooth", V12_1, two),
    s("AllowIrDA", V12_1, one),
    s("RequireManualSyncWhenRoaming", V12_1, zero),
    s("AllowDesktopSync", V12_1, one),
    s("MaxCalendarAgeFilter", V12_1, zero),
    s("AllowHTMLEmail", V12_1, one),
    s("MaxEmailAgeFilter", V12_1, zero),
    s("MaxEmailBodyTruncationSize", V12_1, unlimited),
    s("MaxEmailHTMLBodyTruncationSize", V12_1, unlimited),
    s("RequireSignedSMIMEMessages", V12_1, zero),
    s("RequireEncryptedSMIMEMessages", V12_1, zero),
    s("RequireSignedSMIMEAlgorithm", V12_1, zero),
    s("RequireEncryptionSMIMEAlgorithm", V12_1, zero),
    s("AllowSMIMEEncryptionAlgorithmNegotiation", V12_1, two),
    s("AllowSMIMESoftCerts", V12_1, one),
    s("AllowBrowser", V12_1, one),
    s("AllowConsumerEmail", V12_1, one),
    s("AllowRemoteDesktop", V12_1, one),
    s("AllowInternetSharing", V12_1, one),
    s("UnapprovedInROMApplicationList", V12_1, no_apps),
    s("ApprovedApplicationList", V12_1, no_apps),
];

/// A policy: values that differ from the neutral default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    overrides: BTreeMap<&'static str, Value>,
}

/// The canonical name and the default value of an EASProvisionDoc element or an own key.
fn known(name: &str) -> Option<(&'static str, Value)> {
    SETTINGS
        .iter()
        .map(|s| (s.name, s.default))
        .chain(own::KEYS.iter().map(|k| (k.name, k.default)))
        .find(|(n, _)| *n == name)
        .map(|(n, default)| (n, default()))
}

fn unknown(name: &str) -> String {
    format!(
        "{name} is neither an EASProvisionDoc element nor one of easd's keys ({}, {})",
        own::KEYS
            .iter()
            .map(|k| k.name)
            .collect::<Vec<_>>()
            .join(", "),
        own::BLUETOOTH_LEVEL
    )
}

impl Policy {
    /// easd's own keys of this policy, typed.
    pub fn limits(&self) -> Limits {
        let count = |name| match self.get(name) {
            Some(Value::Int(n)) => u32::try_from(n).ok(),
            _ => None,
        };
        Limits {
            allow_non_provisionable: self.get(ALLOW_NON_PROVISIONABLE) != Some(Value::Int(0)),
            refresh_hours: count(REFRESH_HOURS),
            max_devices: count(MAX_DEVICES),
            max_version: match self.get(MAX_VERSION) {
                Some(Value::Text(v)) => ProtocolVersion::parse(&v).ok(),
                _ => None,
            },
        }
    }

    pub fn get(&self, name: &str) -> Option<Value> {
        let (name, default) = known(name)?;
        Some(self.overrides.get(name).cloned().unwrap_or(default))
    }

    /// Sets one element's (or own key's) value; `Err` names a key that does not exist.
    pub fn set(&mut self, name: &str, value: Value) -> Result<(), String> {
        let (name, default) = known(name).ok_or_else(|| unknown(name))?;
        if value == default {
            self.overrides.remove(name);
        } else {
            self.overrides.insert(name, value);
        }
        Ok(())
    }

    fn sent_to(
        &self,
        version: ProtocolVersion,
    ) -> impl Iterator<Item = (&'static str, Value)> + '_ {
        SETTINGS
            .iter()
            .filter(move |s| s.since <= version)
            .map(|s| (s.name, self.get(s.name).unwrap_or(Value::Unset)))
    }

    /// The EASProvisionDoc for a device speaking `version`.
    pub fn provision_doc(&self, version: ProtocolVersion) -> Element {
        let mut doc = Element::new(tag::provision::EAS_PROVISION_DOC);
        for (name, value) in self.sent_to(version) {
            // Every SETTINGS name is a Provision tag; the table test proves it.
            let Some(t) = wbxml::lookup("Provision", name) else {
                continue;
            };
            doc.push(match value {
                Value::Int(n) => Element::with_text(t, n.to_string()),
                Value::Text(text) => Element::with_text(t, text),
                Value::Unset => Element::new(t),
                Value::List(items) => {
                    let item_tag = if name == "ApprovedApplicationList" {
                        tag::provision::HASH
                    } else {
                        tag::provision::APPLICATION_NAME
                    };
                    items
                        .into_iter()
                        .fold(Element::new(t), |e, i| e.text_child(item_tag, i))
                }
            });
        }
        doc
    }

    /// Identifies what `version` is sent: equal hashes mean an unchanged policy.
    pub fn hash(&self, version: ProtocolVersion) -> u64 {
        let mut h = Sha256::new();
        for (name, value) in self.sent_to(version) {
            h.update(name.as_bytes());
            h.update(format!("={value:?};").as_bytes());
        }
        let d = h.finalize();
        u64::from_le_bytes(d[..8].try_into().expect("8 bytes"))
    }
}

impl Policy {
    /// The values that differ from the default, by element name.
    pub fn overrides(&self) -> impl Iterator<Item = (&'static str, &Value)> {
        self.overrides.iter().map(|(k, v)| (*k, v))
    }

    /// Parses `KEY=VALUE`: the name the value is stored under, and the value. An
    /// EASProvisionDoc element takes a number, empty for no value, or a comma-separated
    /// list for the application lists; easd's own keys parse their own way, and
    /// BluetoothLevel sets AllowBluetooth.
    pub fn parse_value(name: &str, text: &str) -> Result<(&'static str, Value), String> {
        let invalid = |e: String| format!("{name}={text}: {e}");
        if name == own::BLUETOOTH_LEVEL {
            let value = own::bluetooth_value(text).map_err(invalid)?;
            return Ok((own::ALLOW_BLUETOOTH, value));
        }
        if let Some(key) = own::KEYS.iter().find(|k| k.name == name) {
            return Ok((key.name, (key.parse)(text).map_err(invalid)?));
        }
        let setting = SETTINGS
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| unknown(name))?;
        let value = match (setting.default)() {
            Value::List(_) => Value::List(
                text.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            ),
            _ if text.trim().is_empty() => Value::Unset,
            _ => Value::Int(
                text.trim()
                    .parse()
                    .map_err(|_| format!("{name}={text}: not a number"))?,
            ),
        };
        Ok((setting.name, value))
    }

    /// Every value, by name: the EASProvisionDoc elements in token order, then easd's own
    /// keys, then BluetoothLevel (AllowBluetooth by its level name).
    pub fn values(&self) -> Vec<(String, Value)> {
        let bluetooth = self.get(own::ALLOW_BLUETOOTH).map(own::bluetooth_level);
        SETTINGS
            .iter()
            .map(|s| s.name)
            .chain(own::KEYS.iter().map(|k| k.name))
            .filter_map(|n| Some((n.to_owned(), self.get(n)?)))
            .chain(bluetooth.map(|v| (own::BLUETOOTH_LEVEL.to_owned(), v)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_is_a_provision_tag() {
        for s in SETTINGS {
            assert!(wbxml::lookup("Provision", s.name).is_some(), "{}", s.name);
        }
    }

    #[test]
    fn version_12_0_gets_only_its_elements() {
        let p = Policy::default();
        let doc = p.provision_doc(ProtocolVersion::V12_0);
        assert_eq!(doc.elements().count(), 12);
        assert!(doc.find(tag::provision::ALLOW_CAMERA).is_none());
        let doc = p.provision_doc(ProtocolVersion::V16_1);
        assert_eq!(doc.elements().count(), SETTINGS.len());
        assert_eq!(doc.text_of(tag::provision::ALLOW_BLUETOOTH), Some("2"));
        assert!(
            doc.find(tag::provision::MAX_ATTACHMENT_SIZE)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn hash_covers_only_what_the_version_is_sent() {
        let mut p = Policy::default();
        let before = (
            p.hash(ProtocolVersion::V12_0),
            p.hash(ProtocolVersion::V14_1),
        );
        p.set("AllowCamera", Value::Int(0)).unwrap();
        assert_eq!(p.hash(ProtocolVersion::V12_0), before.0);
        assert_ne!(p.hash(ProtocolVersion::V14_1), before.1);
        assert!(p.set("NoSuchThing", Value::Int(1)).is_err());
        // easd's own keys are never sent, so they never change the hash.
        let sent = p.hash(ProtocolVersion::V16_1);
        let (name, value) = Policy::parse_value(own::MAX_DEVICES, "3").unwrap();
        p.set(name, value).unwrap();
        assert_eq!(p.hash(ProtocolVersion::V16_1), sent);
        assert_eq!(
            p.provision_doc(ProtocolVersion::V16_1).elements().count(),
            SETTINGS.len()
        );
    }

    #[test]
    fn bluetooth_level_sets_allow_bluetooth_and_reads_back() {
        let mut p = Policy::default();
        let (name, value) = Policy::parse_value(own::BLUETOOTH_LEVEL, "handsfree-only").unwrap();
        assert_eq!(name, "AllowBluetooth");
        p.set(name, value).unwrap();
        let doc = p.provision_doc(ProtocolVersion::V14_1);
        assert_eq!(doc.text_of(tag::provision::ALLOW_BLUETOOTH), Some("1"));
        let values = p.values();
        let level = values.iter().find(|(k, _)| k == own::BLUETOOTH_LEVEL);
        assert_eq!(
            level.map(|(_, v)| v),
            Some(&Value::Text("handsfree-only".into()))
        );
        assert!(
            Policy::parse_value("Nope", "1")
                .unwrap_err()
                .contains("MaxDevicesPerUser")
        );
    }
}
