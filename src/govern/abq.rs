//! Allow / Block / Quarantine rules, evaluated once for a new device.
//!
//! The first match wins, in this order: the account's user rule, its domain's rule, the
//! server rules on the device's OS, then on its Model, then on its DeviceType, and last the
//! global rule (default Allow). Disabled rules are ignored.
//!
//! Server rules match by prefix, case-sensitively: the device's value is shortened step by
//! step ("Android", "Androi", … "A") and each prefix is compared with the rules' values, so
//! a rule matches when its value is a prefix of the device's value ("iOS" matches
//! "iOS 17.4") and the longest matching rule wins. Equal values: the older rule wins.
//!
//! Any rule may carry new-device settings: the device it admits starts with a copy of them,
//! or of the global rule's when the deciding rule has none, or else the built-in defaults.
//! Later edits of a template leave admitted devices as they are.

use super::GovernError;
use crate::store::StoreError;
use crate::store::governance;
use crate::store::model::Access;
use crate::store::model::DeviceSettings;
pub use crate::store::model::{AbqParam as Param, AbqRule as Rule, AbqRules as Rules};
use crate::store::{Reader, WriteCtx};

/// The outcome of the rules for a new device.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub access: Access,
    /// What decided it: "user rule for …", "rule 3", "global rule", …
    pub reason: String,
    /// The settings the device starts with.
    pub settings: DeviceSettings,
}

/// What the rules are matched against.
#[derive(Debug, Clone, Default)]
pub struct Facts<'a> {
    pub email: &'a str,
    pub domain: &'a str,
    pub os: Option<&'a str>,
    pub model: Option<&'a str>,
    pub device_type: &'a str,
}

impl Facts<'_> {
    fn value(&self, p: Param) -> Option<&str> {
        match p {
            Param::Os => self.os,
            Param::Model => self.model,
            Param::Type => Some(self.device_type),
        }
    }
}

impl Rules {
    pub fn load(tx: &impl Reader) -> Result<Rules, StoreError> {
        tx.abq_rules()
    }

    /// Stores the rules; the template of a user or domain rule that is gone goes with it.
    pub fn save(&mut self, w: &WriteCtx) -> Result<(), StoreError> {
        let (users, domains) = (&self.users, &self.domains);
        self.user_settings.retain(|k, _| users.contains_key(k));
        self.domain_settings.retain(|k, _| domains.contains_key(k));
        governance::put_abq_rules(w, self)
    }

    /// What the rules decide for a new device.
    pub fn evaluate(&self, f: &Facts<'_>) -> Decision {
        let decided = |access: Access, reason: String, own: Option<&DeviceSettings>| Decision {
            access,
            reason,
            settings: own
                .or(self.global_settings.as_ref())
                .cloned()
                .unwrap_or_default(),
        };
        if let Some(a) = self.users.get(f.email) {
            let reason = format!("user rule for {}", f.email);
            return decided(*a, reason, self.user_settings.get(f.email));
        }
        if let Some(a) = self.domains.get(f.domain) {
            let reason = format!("domain rule for {}", f.domain);
            return decided(*a, reason, self.domain_settings.get(f.domain));
        }
        for p in Param::ORDER {
            if let Some(r) = f.value(p).and_then(|v| self.longest_match(p, v)) {
                return decided(r.action, format!("rule {}", r.id), r.settings.as_ref());
            }
        }
        decided(self.global, "global rule".into(), None)
    }

    /// The enabled rule on `param` with the longest value that is a prefix of `value`.
    fn longest_match(&self, param: Param, value: &str) -> Option<&Rule> {
        self.server
            .iter()
            .filter(|r| r.enabled && r.param == param && !r.value.is_empty())
            .filter(|r| value.starts_with(r.value.as_str()))
            .min_by_key(|r| (std::cmp::Reverse(r.value.len()), r.id))
    }

    pub fn rule_mut(&mut self, id: u64) -> Result<&mut Rule, GovernError> {
        self.server
            .iter_mut()
            .find(|r| r.id == id)
            .ok_or_else(|| GovernError::NotFound(format!("no rule {id}")))
    }

    /// Adds a server rule; returns its id.
    pub fn add(&mut self, mut rule: Rule) -> Result<u64, GovernError> {
        if rule.value.is_empty() {
            return Err(GovernError::Invalid(
                "a rule needs a non-empty value".into(),
            ));
        }
        rule.id = self.next_id;
        self.next_id += 1;
        self.server.push(rule);
        Ok(self.next_id - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: u64, param: Param, value: &str, action: Access) -> Rule {
        Rule {
            id,
            param,
            value: value.into(),
            action,
            description: String::new(),
            enabled: true,
            settings: None,
        }
    }

    fn facts<'a>(os: &'a str, model: &'a str) -> Facts<'a> {
        Facts {
            email: "a@x.org",
            domain: "x.org",
            os: Some(os),
            model: Some(model),
            device_type: "iPhone",
        }
    }

    #[test]
    fn longest_prefix_wins_and_case_matters() {
        let mut r = Rules {
            server: vec![
                rule(1, Param::Os, "A", Access::Block),
                rule(2, Param::Os, "Andro", Access::Quarantine),
                rule(3, Param::Os, "android", Access::Allow),
            ],
            ..Rules::default()
        };
        assert_eq!(
            r.evaluate(&facts("Android 14", "m")).access,
            Access::Quarantine
        );
        assert_eq!(r.evaluate(&facts("Ax", "m")).access, Access::Block);
        r.server[1].enabled = false;
        assert_eq!(r.evaluate(&facts("Android 14", "m")).access, Access::Block);
        let d = r.evaluate(&facts("iOS", "m"));
        assert_eq!(
            (d.access, d.reason.as_str()),
            (Access::Allow, "global rule")
        );
    }

    #[test]
    fn order_user_domain_os_model_type_global() {
        let mut r = Rules {
            global: Access::Quarantine,
            ..Rules::default()
        };
        r.server = vec![
            rule(1, Param::Type, "iPhone", Access::Block),
            rule(2, Param::Model, "m", Access::Allow),
            rule(3, Param::Os, "iOS", Access::Quarantine),
        ];
        assert_eq!(r.evaluate(&facts("iOS 17", "m1")).reason, "rule 3");
        assert_eq!(r.evaluate(&facts("X", "m1")).reason, "rule 2");
        assert_eq!(r.evaluate(&facts("X", "z")).reason, "rule 1");
        r.domains.insert("x.org".into(), Access::Allow);
        assert_eq!(r.evaluate(&facts("iOS", "m")).access, Access::Allow);
        r.users.insert("a@x.org".into(), Access::Block);
        assert_eq!(r.evaluate(&facts("iOS", "m")).access, Access::Block);
    }

    #[test]
    fn the_deciding_rule_gives_its_template_else_the_global_one() {
        use crate::store::model::MailFolders;
        let template = |mail_folders| DeviceSettings {
            mail_folders,
            ..DeviceSettings::default()
        };
        let mut r = Rules {
            server: vec![Rule {
                settings: Some(template(MailFolders::Default)),
                ..rule(1, Param::Os, "iOS", Access::Allow)
            }],
            ..Rules::default()
        };
        assert_eq!(
            r.evaluate(&facts("iOS 17", "m")).settings.mail_folders,
            MailFolders::Default
        );
        // No template anywhere else: the built-in defaults, then the global rule's.
        assert_eq!(
            r.evaluate(&facts("X", "m")).settings,
            DeviceSettings::default()
        );
        r.global_settings = Some(DeviceSettings {
            archive: true,
            ..DeviceSettings::default()
        });
        assert!(r.evaluate(&facts("X", "m")).settings.archive);
        r.users.insert("a@x.org".into(), Access::Allow);
        assert!(r.evaluate(&facts("iOS 17", "m")).settings.archive);
        r.user_settings
            .insert("a@x.org".into(), template(MailFolders::Default));
        let d = r.evaluate(&facts("iOS 17", "m"));
        assert_eq!(
            (d.settings.mail_folders, d.settings.archive),
            (MailFolders::Default, false)
        );
    }
}
