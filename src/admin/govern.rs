//! Device governance admin operations: the device registry, ABQ rules, security policies
//! and remote wipe. A device is named `EMAIL/DEVICEID` (the same DeviceId may exist under
//! two accounts). Rules and policies change through the governance cache, so the next
//! request sees the change.

use serde::{Deserialize, Serialize};

use super::AdminError;
use super::reply::{GovReply, Reply};
use crate::govern::abq::{Param, Rule, Rules};
use crate::govern::cache::{self, View};
use crate::govern::compliance::{self, DeviceState};
use crate::govern::levels::{self, Level};
use crate::govern::registry::{self, DeviceSummary, Filter};
use crate::govern::wipe;
use crate::store::model::DeviceSettings;
use crate::store::model::{Access, Account, Device, Wipe};
use crate::store::ops::{self, Reads};
use crate::store::{Event, Store, StoreError};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "gop", rename_all = "snake_case")]
pub enum GovRequest {
    DeviceList {
        filter: Filter,
    },
    DeviceShow {
        device: String,
    },
    /// A direct allow or block of one device: overrides the rules. Allowing a wiped device
    /// clears it.
    DeviceAccess {
        device: String,
        access: Access,
    },
    DeviceDelete {
        device: String,
    },
    DeviceWipe {
        device: String,
        soft: bool,
    },
    DeviceWipeCancel {
        device: String,
    },
    /// A device's folder and sync settings; with `KEY=VALUE` pairs, changes them first.
    DeviceSettings {
        device: String,
        values: Vec<(String, String)>,
    },
    RuleList,
    /// A server rule; the value is given, or taken from `from_device` ("for similar
    /// devices").
    RuleAdd {
        param: Param,
        value: Option<String>,
        from_device: Option<String>,
        action: Access,
        description: String,
        enabled: bool,
    },
    RuleEdit {
        id: u64,
        param: Option<Param>,
        value: Option<String>,
        action: Option<Access>,
        description: Option<String>,
    },
    RuleDel {
        id: u64,
    },
    RuleSetEnabled {
        id: u64,
        enabled: bool,
    },
    RuleGlobal {
        action: Access,
    },
    /// `None` removes the account's rule.
    RuleUser {
        email: String,
        action: Option<Access>,
    },
    RuleDomain {
        domain: String,
        action: Option<Access>,
    },
    /// The new-device settings of a rule (`global`, a server rule's id, `user:EMAIL`,
    /// `domain:DOMAIN`); with `KEY=VALUE` pairs, changes them first; `clear` removes them.
    RuleSettings {
        rule: String,
        values: Vec<(String, String)>,
        clear: bool,
    },
    /// A policy level's effective values and where they come from.
    PolicyShow {
        level: String,
    },
    /// `KEY=VALUE` pairs; the level then holds its own settings.
    PolicySet {
        level: String,
        values: Vec<(String, String)>,
    },
    /// The level inherits from the level above again.
    PolicyInherit {
        level: String,
    },
}

impl GovRequest {
    /// The op's name for the control socket's log line.
    pub fn op_name(&self) -> &'static str {
        match self {
            GovRequest::DeviceList { .. } => "device_list",
            GovRequest::DeviceShow { .. } => "device_show",
            GovRequest::DeviceAccess { .. } => "device_access",
            GovRequest::DeviceDelete { .. } => "device_delete",
            GovRequest::DeviceWipe { .. } => "device_wipe",
            GovRequest::DeviceWipeCancel { .. } => "device_wipe_cancel",
            GovRequest::DeviceSettings { .. } => "device_settings",
            GovRequest::RuleList => "rule_list",
            GovRequest::RuleAdd { .. } => "rule_add",
            GovRequest::RuleEdit { .. } => "rule_edit",
            GovRequest::RuleDel { .. } => "rule_del",
            GovRequest::RuleSetEnabled { .. } => "rule_set_enabled",
            GovRequest::RuleGlobal { .. } => "rule_global",
            GovRequest::RuleUser { .. } => "rule_user",
            GovRequest::RuleDomain { .. } => "rule_domain",
            GovRequest::RuleSettings { .. } => "rule_settings",
            GovRequest::PolicyShow { .. } => "policy_show",
            GovRequest::PolicySet { .. } => "policy_set",
            GovRequest::PolicyInherit { .. } => "policy_inherit",
        }
    }

    /// Whether the request changes something (see `Request::changes`): a settings request
    /// without values only shows them.
    pub fn changes(&self) -> bool {
        match self {
            GovRequest::DeviceList { .. }
            | GovRequest::DeviceShow { .. }
            | GovRequest::RuleList
            | GovRequest::PolicyShow { .. } => false,
            GovRequest::DeviceSettings { values, .. } => !values.is_empty(),
            GovRequest::RuleSettings { values, clear, .. } => !values.is_empty() || *clear,
            GovRequest::DeviceAccess { .. }
            | GovRequest::DeviceDelete { .. }
            | GovRequest::DeviceWipe { .. }
            | GovRequest::DeviceWipeCancel { .. }
            | GovRequest::RuleAdd { .. }
            | GovRequest::RuleEdit { .. }
            | GovRequest::RuleDel { .. }
            | GovRequest::RuleSetEnabled { .. }
            | GovRequest::RuleGlobal { .. }
            | GovRequest::RuleUser { .. }
            | GovRequest::RuleDomain { .. }
            | GovRequest::PolicySet { .. }
            | GovRequest::PolicyInherit { .. } => true,
        }
    }

    pub async fn run(self, store: &Store) -> Result<Reply, AdminError> {
        match self {
            GovRequest::DeviceList { filter } => list(store, &filter).await,
            GovRequest::DeviceShow { device } => {
                let (a, d, state) = store
                    .view(move |tx| {
                        let (a, d) = find_device(tx, &device)?;
                        let state = compliance::get(tx, a.id, &d.device_id)?;
                        Ok::<_, AdminError>((a, d, state))
                    })
                    .await?;
                let view = cache::view(store).await?;
                Ok(devices(vec![summary(&view, &a, &d, &state)]))
            }
            GovRequest::DeviceAccess { device, access } => set_access(store, device, access).await,
            GovRequest::DeviceDelete { device } => {
                let (a, d) = device_named(store, &device).await?;
                let id = d.device_id.clone();
                compliance::write(store, a.id, &d.device_id, move |tx, state| {
                    *state = DeviceState::default();
                    ops::delete_device(tx, a.id, &id)
                })
                .await?;
                Ok(done(format!("{device} deleted with its sync state")))
            }
            GovRequest::DeviceWipe { device, soft } => {
                change_device(store, &device, move |d| {
                    wipe::check(d, soft)?;
                    d.wipe = Wipe::Pending { soft };
                    Ok(())
                })
                .await?;
                let kind = if soft { "soft wipe" } else { "wipe" };
                Ok(done(format!("{kind} of {device} pending")))
            }
            GovRequest::DeviceWipeCancel { device } => {
                change_device(store, &device, |d| match d.wipe {
                    Wipe::Pending { .. } => {
                        d.wipe = Wipe::None;
                        Ok(())
                    }
                    Wipe::Done => Err(AdminError::Conflict(
                        "the device is already wiped; `easd device allow` clears it".into(),
                    )),
                    Wipe::None => Err(AdminError::Conflict("no wipe is pending".into())),
                })
                .await?;
                Ok(done(format!("wipe of {device} cancelled")))
            }
            GovRequest::DeviceSettings { device, values } => {
                device_settings(store, device, values).await
            }
            GovRequest::RuleSettings {
                rule,
                values,
                clear,
            } => rule_settings(store, &rule, values, clear).await,
            GovRequest::RuleList => Ok(GovReply::Rules {
                rules: store.view(Rules::load).await?,
            }
            .into()),
            GovRequest::RuleAdd {
                param,
                value,
                from_device,
                action,
                description,
                enabled,
            } => {
                let value = rule_value(store, param, value, from_device).await?;
                let rule = Rule {
                    id: 0,
                    param,
                    value,
                    action,
                    description,
                    enabled,
                    settings: None,
                };
                let id = change_rules(store, move |r| Ok(r.add(rule.clone())?)).await?;
                Ok(GovReply::Created { id }.into())
            }
            GovRequest::RuleEdit {
                id,
                param,
                value,
                action,
                description,
            } => {
                if value.as_deref() == Some("") {
                    return Err(AdminError::Invalid("a rule needs a non-empty value".into()));
                }
                change_rules(store, move |r| {
                    let rule = r.rule_mut(id)?;
                    rule.param = param.unwrap_or(rule.param);
                    rule.value = value.clone().unwrap_or(rule.value.clone());
                    rule.action = action.unwrap_or(rule.action);
                    rule.description = description.clone().unwrap_or(rule.description.clone());
                    Ok(())
                })
                .await?;
                Ok(done(format!("rule {id} changed")))
            }
            GovRequest::RuleDel { id } => {
                change_rules(store, move |r| {
                    r.rule_mut(id)?;
                    r.server.retain(|x| x.id != id);
                    Ok(())
                })
                .await?;
                Ok(done(format!("rule {id} deleted")))
            }
            GovRequest::RuleSetEnabled { id, enabled } => {
                change_rules(store, move |r| {
                    r.rule_mut(id)?.enabled = enabled;
                    Ok(())
                })
                .await?;
                let state = if enabled { "enabled" } else { "disabled" };
                Ok(done(format!("rule {id} {state}")))
            }
            GovRequest::RuleGlobal { action } => {
                change_rules(store, move |r| {
                    r.global = action;
                    Ok(())
                })
                .await?;
                Ok(done(format!("global rule: {}", name(action))))
            }
            GovRequest::RuleUser { email, action } => {
                let email = ops::normalize_email(&email)?;
                let e = email.clone();
                if store
                    .view(move |tx| tx.account_by_email(&e))
                    .await?
                    .is_none()
                {
                    return Err(AdminError::NotFound(format!("no account {email}")));
                }
                set_keyed(store, email, action, |r| &mut r.users).await
            }
            GovRequest::RuleDomain { domain, action } => {
                let domain = domain.trim().to_ascii_lowercase();
                if domain.is_empty() || domain.contains(['@', '/']) {
                    return Err(AdminError::Invalid(format!("not a domain: {domain:?}")));
                }
                set_keyed(store, domain, action, |r| &mut r.domains).await
            }
            GovRequest::PolicyShow { level } => policy_show(store, &level).await,
            GovRequest::PolicySet { level, values } => {
                let l = Level::parse(&level)?;
                if values.is_empty() {
                    return Err(AdminError::Invalid("nothing to set: give KEY=VALUE".into()));
                }
                cache::change(store, move |tx| levels::set(tx, &l, &values)).await?;
                policy_show(store, &level).await
            }
            GovRequest::PolicyInherit { level } => {
                let l = Level::parse(&level)?;
                cache::change(store, move |tx| levels::inherit(tx, &l)).await?;
                policy_show(store, &level).await
            }
        }
    }
}

impl From<GovReply> for Reply {
    fn from(r: GovReply) -> Reply {
        Reply::Govern(r)
    }
}

async fn policy_show(store: &Store, level: &str) -> Result<Reply, AdminError> {
    let l = Level::parse(level)?;
    let (effective, source) = cache::view(store).await?.levels.describe(&l);
    Ok(GovReply::Policy {
        level: l.describe(),
        source,
        values: effective.policy.values(),
    }
    .into())
}

/// One device as listed, with its standing under its effective policy.
fn summary(view: &View, a: &Account, d: &Device, state: &DeviceState) -> DeviceSummary {
    let limits = view.levels.device(a, &d.device_id).limits;
    DeviceSummary::new(a, d, state, &limits)
}

fn done(message: String) -> Reply {
    Reply::Done { message }
}

fn devices(devices: Vec<DeviceSummary>) -> Reply {
    GovReply::Devices { devices }.into()
}

/// allow | block | quarantine.
pub fn name(a: Access) -> &'static str {
    match a {
        Access::Allow => "allow",
        Access::Block => "block",
        Access::Quarantine => "quarantine",
    }
}

async fn list(store: &Store, filter: &Filter) -> Result<Reply, AdminError> {
    let view = cache::view(store).await?;
    let (accounts, mut states, all) = store
        .view(|tx| {
            let accounts: std::collections::HashMap<u64, Account> =
                tx.accounts()?.into_iter().map(|a| (a.id, a)).collect();
            Ok::<_, StoreError>((accounts, compliance::all(tx)?, tx.devices()?))
        })
        .await?;
    let list = all
        .iter()
        .filter_map(|d| {
            let state = states
                .remove(&(d.account, d.device_id.to_string()))
                .unwrap_or_default();
            Some(summary(&view, accounts.get(&d.account)?, d, &state))
        })
        .filter(|s| filter.matches(s))
        .collect();
    Ok(devices(list))
}

/// `EMAIL/DEVICEID` → the account and the device, as stored now.
async fn device_named(store: &Store, name: &str) -> Result<(Account, Device), AdminError> {
    let name = name.to_owned();
    store.view(move |tx| find_device(tx, &name)).await
}

/// `EMAIL/DEVICEID` → the account and the device.
fn find_device(tx: &impl Reads, name: &str) -> Result<(Account, Device), AdminError> {
    let Some((email, device_id)) = name.split_once('/') else {
        return Err(AdminError::Invalid(format!(
            "{name:?}: name a device as EMAIL/DEVICEID"
        )));
    };
    let email = ops::normalize_email(email)?;
    let account = tx
        .account_by_email(&email)?
        .ok_or_else(|| AdminError::NotFound(format!("no account {email}")))?;
    let device = tx
        .device(account.id, device_id)?
        .ok_or_else(|| AdminError::NotFound(format!("no device {device_id} of {email}")))?;
    Ok((account, device))
}

/// Changes one device row in a write transaction; `change` may refuse. The device's
/// waiting request (Ping, hanging Sync) is woken to look again under the new row: an allow
/// out of quarantine has the phone sync at once.
async fn change_device(
    store: &Store,
    name: &str,
    change: impl Fn(&mut Device) -> Result<(), AdminError> + Send + 'static,
) -> Result<Device, AdminError> {
    let name = name.to_owned();
    store
        .write_or(move |ctx| {
            let (_, mut d) = find_device(ctx, &name)?;
            change(&mut d)?;
            ops::put_device(ctx, &d)?;
            ctx.publish(Event::Device { account: d.account });
            Ok(d)
        })
        .await
}

/// A direct allow/block; allowing a wiped device clears it: it starts over with a new
/// Provision and a full resync.
async fn set_access(store: &Store, device: String, access: Access) -> Result<Reply, AdminError> {
    if access == Access::Quarantine {
        return Err(AdminError::Invalid(
            "a device is allowed or blocked directly; quarantine comes from the rules".into(),
        ));
    }
    change_device(store, &device, move |d| {
        d.abq_direct = Some(access);
        if access == Access::Allow && d.wipe == Wipe::Done {
            d.wipe = Wipe::None;
        }
        Ok(())
    })
    .await?;
    Ok(done(format!("{device}: {}", name(access))))
}

/// The value of a rule "for similar devices": the device's OS, Model or Type.
async fn rule_value(
    store: &Store,
    param: Param,
    value: Option<String>,
    from_device: Option<String>,
) -> Result<String, AdminError> {
    let Some(from) = from_device else {
        return value.ok_or_else(|| AdminError::Invalid("--value or --from-device".into()));
    };
    let (_, d) = device_named(store, &from).await?;
    let (model, os) = registry::model_os(&d);
    match param {
        Param::Os => os,
        Param::Model => model,
        Param::Type => Some(d.device_type.into()),
    }
    .ok_or_else(|| AdminError::NotFound(format!("{from} reports no {param:?}")))
}

async fn change_rules<T: Send + 'static>(
    store: &Store,
    change: impl Fn(&mut Rules) -> Result<T, AdminError> + Send + 'static,
) -> Result<T, AdminError> {
    cache::change(store, move |tx| {
        let mut rules = Rules::load(tx)?;
        let out = change(&mut rules)?;
        rules.save(tx)?;
        Ok::<_, AdminError>(out)
    })
    .await
}

/// Sets or (with `None`) removes a user or domain rule.
async fn set_keyed(
    store: &Store,
    key: String,
    action: Option<Access>,
    map: fn(&mut Rules) -> &mut std::collections::BTreeMap<String, Access>,
) -> Result<Reply, AdminError> {
    let k = key.clone();
    change_rules(store, move |r| {
        match action {
            Some(a) => map(r).insert(k.clone(), a),
            None => map(r).remove(&k),
        };
        Ok(())
    })
    .await?;
    Ok(done(format!(
        "rule for {key}: {}",
        action.map_or("none", name)
    )))
}

/// Shows a device's settings, or changes them: every pair is checked (keys, values, and the
/// folders they name against the device's account) before anything is written, in the
/// write job itself, so a refused change leaves the row as it was.
async fn device_settings(
    store: &Store,
    device: String,
    values: Vec<(String, String)>,
) -> Result<Reply, AdminError> {
    let d = if values.is_empty() {
        device_named(store, &device).await?.1
    } else {
        let name = device.clone();
        store
            .write_or(move |ctx| {
                let (a, mut d) = find_device(ctx, &name)?;
                let mut s = *d.settings_in_force();
                s.apply(&values)?;
                s.check_folders(&ctx.folders(a.id)?)?;
                // Set by an admin: admission, if still to come, keeps them.
                d.settings = Some(s);
                ops::put_device(ctx, &d)?;
                Ok::<_, AdminError>(d)
            })
            .await?
    };
    Ok(GovReply::Settings {
        target: device,
        source: "device".into(),
        settings: *d.settings_in_force(),
    }
    .into())
}

/// Shows a rule's new-device settings, or changes them. A rule without a template of its
/// own shows (and a change starts from) what it gives a device now: the global rule's
/// template, else the built-in defaults.
async fn rule_settings(
    store: &Store,
    rule: &str,
    values: Vec<(String, String)>,
    clear: bool,
) -> Result<Reply, AdminError> {
    let target = Template::parse(rule)?;
    if clear && !values.is_empty() {
        return Err(AdminError::Invalid(
            "--clear removes the template: give no KEY=VALUE with it".into(),
        ));
    }
    if clear || !values.is_empty() {
        let t = target.clone();
        change_rules(store, move |r| {
            let new = if clear {
                t.get(r)?;
                None
            } else {
                let mut s = t.effective(r)?.1;
                s.apply(&values)?;
                s.check_template()?;
                Some(s)
            };
            t.put(r, new)
        })
        .await?;
    }
    let (source, settings) = target.effective(&cache::view(store).await?.rules)?;
    Ok(GovReply::Settings {
        target: rule.to_owned(),
        source: source.into(),
        settings,
    }
    .into())
}

/// The rule whose new-device settings `easd rule settings` names.
#[derive(Debug, Clone)]
enum Template {
    Global,
    Server(u64),
    User(String),
    Domain(String),
}

impl Template {
    fn parse(text: &str) -> Result<Template, AdminError> {
        let bad = || {
            AdminError::Invalid(format!(
                "{text:?}: a rule is global, a rule id, user:EMAIL or domain:DOMAIN"
            ))
        };
        match text.split_once(':') {
            None if text == "global" => Ok(Template::Global),
            None => text.parse().map(Template::Server).map_err(|_| bad()),
            Some(("user", e)) => Ok(Template::User(ops::normalize_email(e)?)),
            Some(("domain", d)) => Ok(Template::Domain(d.trim().to_ascii_lowercase())),
            Some(_) => Err(bad()),
        }
    }

    /// The rule's own template; an error when there is no such rule.
    fn get(&self, r: &Rules) -> Result<Option<DeviceSettings>, AdminError> {
        Ok(match self {
            Template::Global => r.global_settings,
            Template::Server(id) => {
                r.server
                    .iter()
                    .find(|x| x.id == *id)
                    .ok_or_else(|| AdminError::NotFound(format!("no rule {id}")))?
                    .settings
            }
            Template::User(e) => keyed(&r.users, &r.user_settings, e, "user")?,
            Template::Domain(d) => keyed(&r.domains, &r.domain_settings, d, "domain")?,
        })
    }

    fn put(&self, r: &mut Rules, template: Option<DeviceSettings>) -> Result<(), AdminError> {
        let map = match self {
            Template::Global => {
                r.global_settings = template;
                return Ok(());
            }
            Template::Server(id) => {
                r.rule_mut(*id)?.settings = template;
                return Ok(());
            }
            Template::User(e) => (&mut r.user_settings, e),
            Template::Domain(d) => (&mut r.domain_settings, d),
        };
        match template {
            Some(t) => map.0.insert(map.1.clone(), t),
            None => map.0.remove(map.1),
        };
        Ok(())
    }

    /// What a device this rule admits starts with, and where that comes from.
    fn effective(&self, r: &Rules) -> Result<(&'static str, DeviceSettings), AdminError> {
        Ok(match (self.get(r)?, &r.global_settings) {
            (Some(own), _) => ("own template", own),
            (None, Some(global)) => ("no template of its own: the global rule's", *global),
            (None, None) => (
                "no template: the built-in defaults",
                DeviceSettings::default(),
            ),
        })
    }
}

/// The template of the user or domain rule for `key`; an error when there is no such rule.
fn keyed(
    rules: &std::collections::BTreeMap<String, Access>,
    templates: &std::collections::BTreeMap<String, DeviceSettings>,
    key: &str,
    kind: &str,
) -> Result<Option<DeviceSettings>, AdminError> {
    if !rules.contains_key(key) {
        return Err(AdminError::NotFound(format!(
            "no {kind} rule for {key}: add one with `easd rule {kind}` first"
        )));
    }
    Ok(templates.get(key).cloned())
}
