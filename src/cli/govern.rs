//! `easd device …` and `easd rule …`: the device registry, ABQ rules and remote wipe.

use std::path::Path;

use clap::{Args, Subcommand};

use super::admin;
use crate::admin::govern::{self, GovRequest};
use crate::admin::ops::Request;
use crate::admin::reply::{GovReply, Reply};
use crate::govern::abq::Param;
use crate::govern::policy::value_text;
use crate::govern::registry::{DeviceSummary, Filter};
use crate::store::model::Access;
use crate::store::model::DeviceSettings;

#[derive(Subcommand)]
pub enum DeviceCmd {
    /// List devices (wiped ones only with --status wiped).
    List {
        #[command(flatten)]
        filter: FilterArgs,
        /// One JSON object per device: user, device_id, type, model, os, protocol, abq,
        /// wipe, first_seen, last_sync, …
        #[arg(long)]
        json: bool,
    },
    /// Everything known about one device, EMAIL/DEVICEID.
    Show {
        device: String,
        #[arg(long)]
        json: bool,
    },
    /// Allow the device directly, overriding the rules (clears a wiped device).
    Allow { device: String },
    /// Block the device directly, overriding the rules: HTTP 403 for every command.
    Block { device: String },
    /// Remove the device and all its sync state: its next request starts over.
    Delete { device: String },
    /// Remote-wipe the device at its next request ([MS-ASPROV] RemoteWipe).
    Wipe {
        device: String,
        /// Remove only the account's data (AccountOnlyRemoteWipe, protocol 16.1 only).
        #[arg(long)]
        soft: bool,
    },
    /// Cancel a wipe that the device has not acknowledged yet.
    WipeCancel { device: String },
    /// Show the device's folder and sync settings, or set KEY=VALUE pairs. They take
    /// effect at the device's next request (a change of tasks_* or notes_* makes it resync
    /// the folders concerned); archive, public_folders and shared_folders are kept for
    /// folders easd does not have yet.
    Settings {
        /// EMAIL/DEVICEID
        device: String,
        /// groupware_folders=default|all|all-as-mail, mail_folders=default|all,
        /// archive=on|off, public_folders=on|off, shared_folders=on|off,
        /// mail_period=none|1d|3d|1w|2w|1m|3m|6m, calendar_period=none|2w|1m|3m|6m,
        /// tasks_as_events=off|all|not-completed, tasks_calendar=default|FOLDER_ID,
        /// notes_as=notes|events|tasks|tasks-and-notes, notes_folder=default|FOLDER_ID
        #[arg(value_name = "KEY=VALUE")]
        values: Vec<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub struct FilterArgs {
    #[arg(long, value_name = "EMAIL")]
    user: Option<String>,
    #[arg(long)]
    domain: Option<String>,
    /// allow | block | quarantine | refused (cannot apply its policy and may not sync
    /// without) | wipe-pending | wiped
    #[arg(long, value_name = "S")]
    status: Option<String>,
    #[arg(long = "type", value_name = "T")]
    device_type: Option<String>,
    #[arg(long, value_name = "M")]
    model: Option<String>,
    #[arg(long, value_name = "O")]
    os: Option<String>,
    /// Protocol version, e.g. 14.1.
    #[arg(long, value_name = "V")]
    protocol: Option<String>,
}

/// ABQ rules. A new device is decided once, first match wins: the user rule, the domain
/// rule, server rules on OS, then Model, then Type (case-sensitive prefix match, the
/// longest matching value wins), then the global rule.
#[derive(Subcommand)]
pub enum RuleCmd {
    /// Show the global, domain, user and server rules.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Add a server rule; prints its id.
    Add {
        #[arg(long)]
        param: Param,
        /// The value a device's OS/Model/Type must start with (case-sensitive).
        #[arg(long, required_unless_present = "from_device")]
        value: Option<String>,
        /// A rule for similar devices: take the value from EMAIL/DEVICEID.
        #[arg(long, value_name = "EMAIL/DEVICEID", conflicts_with = "value")]
        from_device: Option<String>,
        #[arg(long)]
        action: Access,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long)]
        disabled: bool,
    },
    /// Change a server rule.
    Edit {
        id: u64,
        #[arg(long)]
        param: Option<Param>,
        #[arg(long)]
        value: Option<String>,
        #[arg(long)]
        action: Option<Access>,
        #[arg(long)]
        description: Option<String>,
    },
    Del {
        id: u64,
    },
    Enable {
        id: u64,
    },
    Disable {
        id: u64,
    },
    /// The rule for devices no other rule matches (default allow).
    Global {
        action: Access,
    },
    /// The rule for every new device of one account: ACTION or `none`.
    User {
        email: String,
        action: OptAccess,
    },
    /// The rule for every new device of a domain: ACTION or `none`.
    Domain {
        domain: String,
        action: OptAccess,
    },
    /// Show a rule's new-device settings (what a device it admits starts with), or set
    /// KEY=VALUE pairs; a rule without its own gives the global rule's.
    Settings {
        /// global, a server rule's id, user:EMAIL or domain:DOMAIN
        rule: String,
        /// The keys of `easd device settings`; tasks_calendar and notes_folder must be
        /// `default` (folder ids belong to one account).
        #[arg(value_name = "KEY=VALUE", conflicts_with = "clear")]
        values: Vec<String>,
        /// Remove the rule's own template.
        #[arg(long)]
        clear: bool,
        #[arg(long)]
        json: bool,
    },
}

/// Security policies. Levels: default (built in) → server → domain:D → user:EMAIL →
/// device:EMAIL/DEVICEID; a level inherits from the one above until it is set.
#[derive(Subcommand)]
pub enum PolicyCmd {
    /// The level's effective values and where they come from.
    Show {
        #[arg(long)]
        level: String,
        #[arg(long)]
        json: bool,
    },
    /// Set KEY=VALUE pairs. KEY is an [MS-ASPROV] EASProvisionDoc element
    /// (DevicePasswordEnabled=1 MinDevicePasswordLength=6 AllowCamera=0 …) or one of
    /// easd's own keys: AllowNonProvisionableDevices=0|1 (default 1: devices that cannot
    /// apply the policy may sync), PolicyRefreshHours=N (empty: apply once),
    /// MaxDevicesPerUser=N (empty: no limit), MaxProtocolVersion=12.0…16.1 (empty: any),
    /// BluetoothLevel=allowed|handsfree-only|disabled (AllowBluetooth 2|1|0).
    Set {
        #[arg(long)]
        level: String,
        #[arg(required = true, value_name = "KEY=VALUE")]
        values: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Inherit from the level above again.
    Inherit {
        #[arg(long)]
        level: String,
        #[arg(long)]
        json: bool,
    },
}

pub fn policy(data: &Path, cmd: PolicyCmd) -> Result<(), String> {
    let (req, json) = match cmd {
        PolicyCmd::Show { level, json } => (GovRequest::PolicyShow { level }, json),
        PolicyCmd::Set {
            level,
            values,
            json,
        } => {
            let values = pairs(&values)?;
            (GovRequest::PolicySet { level, values }, json)
        }
        PolicyCmd::Inherit { level, json } => (GovRequest::PolicyInherit { level }, json),
    };
    print(admin(data, Request::Govern(req))?, json)
}

/// `KEY=VALUE` arguments as pairs.
fn pairs(values: &[String]) -> Result<Vec<(String, String)>, String> {
    values
        .iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .ok_or_else(|| format!("{kv:?} is not KEY=VALUE"))
        })
        .collect()
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum OptAccess {
    Allow,
    Block,
    Quarantine,
    None,
}

impl OptAccess {
    fn access(self) -> Option<Access> {
        match self {
            OptAccess::Allow => Some(Access::Allow),
            OptAccess::Block => Some(Access::Block),
            OptAccess::Quarantine => Some(Access::Quarantine),
            OptAccess::None => None,
        }
    }
}

pub fn device(data: &Path, cmd: DeviceCmd) -> Result<(), String> {
    let (req, json) = match cmd {
        DeviceCmd::List { filter, json } => (
            GovRequest::DeviceList {
                filter: filter.into(),
            },
            json,
        ),
        DeviceCmd::Show { device, json } => {
            return match admin(data, Request::Govern(GovRequest::DeviceShow { device }))? {
                Reply::Govern(GovReply::Devices { devices }) if !json => {
                    devices.iter().try_for_each(print_fields)
                }
                other => print(other, true),
            };
        }
        DeviceCmd::Allow { device } => (access(device, Access::Allow), false),
        DeviceCmd::Block { device } => (access(device, Access::Block), false),
        DeviceCmd::Delete { device } => (GovRequest::DeviceDelete { device }, false),
        DeviceCmd::Wipe { device, soft } => (GovRequest::DeviceWipe { device, soft }, false),
        DeviceCmd::WipeCancel { device } => (GovRequest::DeviceWipeCancel { device }, false),
        DeviceCmd::Settings {
            device,
            values,
            json,
        } => {
            let values = pairs(&values)?;
            (GovRequest::DeviceSettings { device, values }, json)
        }
    };
    print(admin(data, Request::Govern(req))?, json)
}

fn access(device: String, access: Access) -> GovRequest {
    GovRequest::DeviceAccess { device, access }
}

impl From<FilterArgs> for Filter {
    fn from(f: FilterArgs) -> Filter {
        Filter {
            user: f.user,
            domain: f.domain,
            status: f.status,
            device_type: f.device_type,
            model: f.model,
            os: f.os,
            protocol: f.protocol,
        }
    }
}

pub fn rule(data: &Path, cmd: RuleCmd) -> Result<(), String> {
    let mut json = false;
    let req = match cmd {
        RuleCmd::List { json: j } => {
            json = j;
            GovRequest::RuleList
        }
        RuleCmd::Add {
            param,
            value,
            from_device,
            action,
            description,
            disabled,
        } => GovRequest::RuleAdd {
            param,
            value,
            from_device,
            action,
            description,
            enabled: !disabled,
        },
        RuleCmd::Edit {
            id,
            param,
            value,
            action,
            description,
        } => GovRequest::RuleEdit {
            id,
            param,
            value,
            action,
            description,
        },
        RuleCmd::Del { id } => GovRequest::RuleDel { id },
        RuleCmd::Enable { id } => GovRequest::RuleSetEnabled { id, enabled: true },
        RuleCmd::Disable { id } => GovRequest::RuleSetEnabled { id, enabled: false },
        RuleCmd::Global { action } => GovRequest::RuleGlobal { action },
        RuleCmd::User { email, action } => GovRequest::RuleUser {
            email,
            action: action.access(),
        },
        RuleCmd::Domain { domain, action } => GovRequest::RuleDomain {
            domain,
            action: action.access(),
        },
        RuleCmd::Settings {
            rule,
            values,
            clear,
            json: j,
        } => {
            json = j;
            GovRequest::RuleSettings {
                rule,
                values: pairs(&values)?,
                clear,
            }
        }
    };
    print(admin(data, Request::Govern(req))?, json)
}

/// Prints a reply: `Done` on stderr, data on stdout.
fn print(reply: Reply, json: bool) -> Result<(), String> {
    match reply {
        Reply::Govern(r) => print_govern(r, json),
        other => super::print_reply(other, json),
    }
}

fn print_govern(reply: GovReply, json: bool) -> Result<(), String> {
    match reply {
        GovReply::Created { id } => println!("{id}"),
        GovReply::Devices { devices } if json => println!("{}", pretty(&devices)?),
        GovReply::Devices { devices } => devices.iter().for_each(print_device),
        GovReply::Policy {
            level,
            source,
            values,
        } if json => {
            let values: serde_json::Map<String, serde_json::Value> = values
                .into_iter()
                .map(|(k, v)| (k, serde_json::to_value(v).unwrap_or_default()))
                .collect();
            let out = serde_json::json!({ "level": level, "source": source, "values": values });
            println!("{}", pretty(&out)?);
        }
        GovReply::Policy {
            level,
            source,
            values,
        } => {
            println!("{level}: {source}");
            for (k, v) in values {
                println!("{k}={}", value_text(&v));
            }
        }
        GovReply::Rules { rules } if json => println!("{}", pretty(&rules)?),
        GovReply::Rules { rules } => {
            let with = |t: Option<&DeviceSettings>| {
                if t.is_some() {
                    "\t+ new-device settings"
                } else {
                    ""
                }
            };
            println!(
                "global\t{}{}",
                govern::name(rules.global),
                with(rules.global_settings.as_ref())
            );
            for (d, a) in &rules.domains {
                let t = with(rules.domain_settings.get(d));
                println!("domain {d}\t{}{t}", govern::name(*a));
            }
            for (u, a) in &rules.users {
                let t = with(rules.user_settings.get(u));
                println!("user {u}\t{}{t}", govern::name(*a));
            }
            for r in &rules.server {
                let state = if r.enabled { "" } else { " (disabled)" };
                println!(
                    "{}\t{:?}\t{:?}\t{}{state}\t{}{}",
                    r.id,
                    r.param,
                    r.value,
                    govern::name(r.action),
                    r.description,
                    with(r.settings.as_ref())
                );
            }
        }
        GovReply::Settings {
            target,
            source,
            settings,
        } if json => {
            let out =
                serde_json::json!({ "target": target, "source": source, "settings": settings });
            println!("{}", pretty(&out)?);
        }
        GovReply::Settings {
            target,
            source,
            settings,
        } => {
            println!("{target}: {source}");
            for (k, v) in settings.pairs() {
                println!("{k}={v}");
            }
        }
    }
    Ok(())
}

fn print_device(d: &DeviceSummary) {
    let unknown = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let refused = if d.policy_refused { " (refused)" } else { "" };
    println!(
        "{}/{}\t{}\t{}\t{}\t{}\t{}\twipe {}\tpolicy {}{refused}",
        d.user,
        d.device_id,
        d.device_type,
        unknown(&d.model),
        unknown(&d.os),
        d.protocol,
        govern::name(d.abq),
        d.wipe,
        d.compliance
    );
}

fn pretty<T: serde::Serialize>(v: &T) -> Result<String, String> {
    serde_json::to_string_pretty(v).map_err(|e| e.to_string())
}

/// `easd device show`: every field, one per line; the settings as `settings.KEY: VALUE`.
fn print_fields(d: &DeviceSummary) -> Result<(), String> {
    for (k, v) in d.fields() {
        println!("{k}: {v}");
    }
    Ok(())
}
