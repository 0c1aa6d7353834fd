//! The answers of admin operations (`admin::ops`, `admin::govern`), as the control socket
//! carries them to the CLI.

use serde::{Deserialize, Serialize};

use super::AdminError;
use crate::govern::abq::Rules;
use crate::govern::policy::Value;
use crate::govern::registry::DeviceSummary;
use crate::store::model::{Account, AuditEntry, DeviceSettings};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UserSummary {
    pub email: String,
    pub name: String,
    pub admin: bool,
    pub enabled: bool,
    pub created: i64,
    /// May use ActiveSync (older daemons do not say: on).
    #[serde(default = "yes")]
    pub activesync: bool,
}

fn yes() -> bool {
    true
}

impl From<&Account> for UserSummary {
    fn from(a: &Account) -> Self {
        Self {
            email: a.email.clone(),
            name: a.display_name.clone(),
            admin: a.admin,
            enabled: a.enabled,
            created: a.created,
            activesync: a.activesync,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    Done {
        message: String,
    },
    Users {
        users: Vec<UserSummary>,
    },
    Status {
        status: serde_json::Value,
    },
    Error {
        message: String,
    },
    Govern(GovReply),
    /// Groups, shares and public folders (`admin::share`).
    Share(ShareReply),
    /// The served certificate (after `cert show`, or a successful `cert install`).
    Cert {
        state: Box<crate::tls::CertState>,
    },
    /// Every server setting: the file's value, the one saved over it.
    Settings {
        settings: Vec<crate::server_settings::Shown>,
    },
    /// An account's directory entry.
    Directory {
        entry: Box<crate::directory::entry::Shown>,
    },
    /// Audit log entries, newest first.
    Audit {
        entries: Vec<AuditEntry>,
    },
    /// An interim line of a streamed import (see `Request::Import::stream_progress`); the
    /// final reply follows.
    Progress(crate::mail::import::ImportProgress),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GovReply {
    Devices {
        devices: Vec<DeviceSummary>,
    },
    Rules {
        rules: Rules,
    },
    Created {
        id: u64,
    },
    Policy {
        level: String,
        /// "own settings" or "inherited from …".
        source: String,
        values: Vec<(String, Value)>,
    },
    /// Folder and sync settings of a device, or a rule's new-device settings.
    Settings {
        target: String,
        /// Where they come from: "device", or for a rule "own template", "no template of
        /// its own: the global rule's", "no template: the built-in defaults".
        source: String,
        settings: DeviceSettings,
    },
}

impl Reply {
    /// An operation's outcome as the answer the CLI prints: its refusal as an error line.
    pub(super) fn of(result: Result<Reply, AdminError>) -> Reply {
        result.unwrap_or_else(|e| Reply::Error {
            message: e.to_string(),
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GroupSummary {
    pub name: String,
    /// The members' addresses.
    pub members: Vec<String>,
    /// "Put all members in the GAL".
    #[serde(default)]
    pub gal_members: bool,
}

/// A contacts folder flagged as a GAL source, as `easd folder gal-sources` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GalSourceSummary {
    pub owner: String,
    pub folder: String,
}

/// One share or public folder as the lists show it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ShareSummary {
    pub owner: String,
    pub folder: String,
    /// An address, `group NAME`, or `everyone` for a public folder.
    pub grantee: String,
    /// `read`, `read,write`, …
    pub rights: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ShareReply {
    Groups { groups: Vec<GroupSummary> },
    Shares { shares: Vec<ShareSummary> },
    GalSources { sources: Vec<GalSourceSummary> },
}
