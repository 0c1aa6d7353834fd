//! The device registry as the admin sees it: one summary per (account, DeviceId), with
//! Model and OS from DeviceInformation ([MS-ASCMD] 2.2.3.47) or, failing that, guessed
//! from the User-Agent.

use serde::{Deserialize, Serialize};

use super::abq::Facts;
use super::compliance::DeviceState;
use super::own::Limits;
use crate::proto::ids::PolicyKey;
use crate::store::model::DeviceSettings;
use crate::store::model::{Access, Account, Device, Wipe};

/// Model and OS of a device: DeviceInformation first, else derived from the User-Agent.
pub fn model_os(d: &Device) -> (Option<String>, Option<String>) {
    let agent = d
        .info
        .user_agent
        .as_deref()
        .or(d.http_user_agent.as_deref());
    let (ua_model, ua_os) = agent.map(from_user_agent).unwrap_or_default();
    (
        d.info.model.clone().or(ua_model),
        d.info.os.clone().or(ua_os),
    )
}

/// `Apple-iPhone15C2/2104.181` → (iPhone15C2, iOS 2104.181); `Android-Mail/7.1` →
/// (Mail, Android 7.1); `Outlook-iOS/2.0` → (Outlook, iOS 2.0). Anything else: the product
/// token as the model, no OS.
pub fn from_user_agent(ua: &str) -> (Option<String>, Option<String>) {
    let first = ua.split_whitespace().next().unwrap_or_default();
    let (product, version) = first.split_once('/').unwrap_or((first, ""));
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let with_version = |os: &str| Some(format!("{os} {version}").trim_end().to_owned());
    match product.split_once('-') {
        Some(("Apple", model)) => (non_empty(model), with_version("iOS")),
        Some(("Android", model)) => (non_empty(model), with_version("Android")),
        Some((app, "iOS" | "Android")) => (non_empty(app), with_version(&product[app.len() + 1..])),
        _ => (non_empty(product), None),
    }
}

/// The ABQ state in force: the admin's direct choice, else what the rules gave it (a device
/// not yet admitted counts as allowed until the rules are evaluated).
pub fn access(d: &Device) -> Access {
    d.abq_direct.or(d.abq).unwrap_or(Access::Allow)
}

/// A device neither the ABQ rules nor an admin have decided on yet: new to its account.
pub fn is_new(d: &Device) -> bool {
    d.abq.is_none() && d.abq_direct.is_none()
}

/// A device that takes one of its account's MaxDevicesPerUser places: decided on, and not
/// wiped.
pub fn holds_place(d: &Device) -> bool {
    !is_new(d) && d.wipe != Wipe::Done
}

/// The rule inputs of a device of `account`.
pub fn facts<'a>(
    account: &'a Account,
    d: &'a Device,
    model: Option<&'a str>,
    os: Option<&'a str>,
) -> Facts<'a> {
    Facts {
        email: &account.email,
        domain: account.domain(),
        os,
        model,
        device_type: &d.device_type,
    }
}

/// Wipe status as shown: "not-supported" while a wipe waits for a device that never
/// accepted a policy.
pub fn wipe_status(d: &Device) -> &'static str {
    match d.wipe {
        Wipe::None => "none",
        Wipe::Pending { .. } if d.provision.final_key().is_none() => "not-supported",
        Wipe::Pending { .. } => "pending",
        Wipe::Done => "done",
    }
}

/// One device as `easd device list|show` prints it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeviceSummary {
    pub user: String,
    pub device_id: String,
    #[serde(rename = "type")]
    pub device_type: String,
    pub model: Option<String>,
    pub os: Option<String>,
    pub os_language: Option<String>,
    pub imei: Option<String>,
    pub friendly_name: Option<String>,
    pub phone_number: Option<String>,
    pub operator: Option<String>,
    pub user_agent: Option<String>,
    pub protocol: String,
    pub first_seen: i64,
    pub last_sync: i64,
    pub abq: Access,
    /// Where `abq` comes from: "direct", "rule 3", "global rule", "not yet evaluated".
    pub abq_source: String,
    pub wipe: String,
    pub policy_key: Option<u32>,
    /// When the device last accepted its policy (Unix seconds).
    pub policy_accepted: Option<i64>,
    /// unknown | compliant | not-provisionable | non-compliant.
    pub compliance: String,
    /// The device cannot apply its policy and AllowNonProvisionableDevices does not let
    /// it sync: it is refused.
    pub policy_refused: bool,
    /// Folder and sync settings (`easd device settings`).
    #[serde(default)]
    pub settings: DeviceSettings,
}

impl DeviceSummary {
    /// `state` and `limits`: the device's standing with its policy and the policy's own
    /// keys.
    pub fn new(account: &Account, d: &Device, state: &DeviceState, limits: &Limits) -> Self {
        let (model, os) = model_os(d);
        let abq_source = match (&d.abq_direct, &d.abq_reason) {
            (Some(_), _) => "direct".to_owned(),
            (None, Some(r)) => r.clone(),
            (None, None) => "not yet evaluated".to_owned(),
        };
        DeviceSummary {
            user: account.email.clone(),
            device_id: d.device_id.to_string(),
            device_type: d.device_type.to_string(),
            model,
            os,
            os_language: d.info.os_language.clone(),
            imei: d.info.imei.clone(),
            friendly_name: d.info.friendly_name.clone(),
            phone_number: d.info.phone_number.clone(),
            operator: d.info.mobile_operator.clone(),
            user_agent: d.info.user_agent.clone().or(d.http_user_agent.clone()),
            protocol: d.protocol.to_string(),
            first_seen: d.first_seen,
            last_sync: d.last_seen,
            abq: access(d),
            abq_source,
            wipe: wipe_status(d).to_owned(),
            policy_key: d.provision.final_key().map(PolicyKey::get),
            policy_accepted: state.accepted_at,
            compliance: state.compliance.name().to_owned(),
            policy_refused: state.compliance.cannot_apply() && !limits.allow_non_provisionable,
            settings: *d.settings_in_force(),
        }
    }
}

/// `easd device list` filters; `None` matches everything. Wiped devices are left out of
/// the list unless `status` is "wiped".
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Filter {
    pub user: Option<String>,
    pub domain: Option<String>,
    /// allow | block | quarantine | refused | wipe-pending | wiped
    pub status: Option<String>,
    #[serde(rename = "type")]
    pub device_type: Option<String>,
    pub model: Option<String>,
    pub os: Option<String>,
    pub protocol: Option<String>,
}

impl Filter {
    pub fn matches(&self, s: &DeviceSummary) -> bool {
        let eq = |want: &Option<String>, have: Option<&str>| {
            want.as_deref()
                .is_none_or(|w| have.is_some_and(|h| h.eq_ignore_ascii_case(w)))
        };
        let domain = s.user.rsplit_once('@').map(|(_, d)| d);
        eq(&self.user, Some(&s.user))
            && eq(&self.domain, domain)
            && eq(&self.device_type, Some(&s.device_type))
            && eq(&self.model, s.model.as_deref())
            && eq(&self.os, s.os.as_deref())
            && eq(&self.protocol, Some(&s.protocol))
            && self.status_matches(s)
    }

    fn status_matches(&self, s: &DeviceSummary) -> bool {
        let wiped = s.wipe == "done";
        match self.status.as_deref() {
            None => !wiped,
            Some("wiped") => wiped,
            Some("wipe-pending") => s.wipe == "pending" || s.wipe == "not-supported",
            // Refused for its policy standing (non-provisionable or non-compliant where
            // that is not allowed), whatever its ABQ state.
            Some("refused") => !wiped && s.policy_refused,
            Some(other) => !wiped && serde_json::to_value(s.abq).is_ok_and(|v| v == other),
        }
    }
}

impl DeviceSummary {
    /// Every field as (name, text), the settings as `settings.KEY`: what `easd device
    /// show` prints and the admin's device page shows.
    pub fn fields(&self) -> Vec<(String, String)> {
        let value = serde_json::to_value(self).unwrap_or_default();
        let mut out = Vec::new();
        for (k, v) in value.as_object().into_iter().flatten() {
            match v {
                _ if k == "settings" => {
                    for (key, value) in self.settings.pairs() {
                        out.push((format!("settings.{key}"), value.to_string()));
                    }
                }
                serde_json::Value::String(s) => out.push((k.clone(), s.clone())),
                serde_json::Value::Null => out.push((k.clone(), "-".into())),
                other => out.push((k.clone(), other.to_string())),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agents() {
        let s = |a: &str, b: &str| (Some(a.to_owned()), Some(b.to_owned()));
        assert_eq!(
            from_user_agent("Apple-iPhone15C2/2104.181"),
            s("iPhone15C2", "iOS 2104.181")
        );
        assert_eq!(
            from_user_agent("Android-Mail/7.1"),
            s("Mail", "Android 7.1")
        );
        assert_eq!(from_user_agent("Outlook-iOS/2.0"), s("Outlook", "iOS 2.0"));
        assert_eq!(
            from_user_agent("easd-test/1.0"),
            (Some("easd-test".into()), None)
        );
        assert_eq!(from_user_agent(""), (None, None));
    }
}
