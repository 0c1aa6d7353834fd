//! The records easd keeps, independent of how they are stored.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::govern::settings::DeviceSettings;

pub type AccountId = u64;
pub type FolderId = u64;

/// The parent id of top-level folders; FolderSync sends it as ParentId "0".
pub const ROOT_FOLDER: FolderId = 0;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Account {
    pub id: AccountId,
    /// Primary address, lower-cased: `local@domain`.
    pub email: String,
    pub display_name: String,
    pub admin: bool,
    pub enabled: bool,
    /// PHC string of an argon2id hash.
    pub password_hash: String,
    pub created: i64,
    /// Next folder id to hand out; ids are never reused so a stale ServerId cannot alias.
    pub next_folder_id: FolderId,
    /// Next item id; item ids are unique per account and never reused.
    #[serde(default = "first_id")]
    pub next_item_id: u64,
    #[serde(default)]
    pub protocol_log: bool,
    #[serde(default)]
    pub oof: Oof,
}

fn first_id() -> u64 {
    1
}

impl Account {
    pub fn domain(&self) -> &str {
        self.email.rsplit_once('@').map_or("", |(_, d)| d)
    }
}

/// Out-of-office settings as set by Settings Oof ([MS-ASCMD] 2.2.3.119).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Oof {
    /// 0 disabled, 1 global, 2 time-based.
    pub state: u8,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub internal: Option<OofMessage>,
    pub external_known: Option<OofMessage>,
    pub external_unknown: Option<OofMessage>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct OofMessage {
    pub enabled: bool,
    pub reply: String,
    /// "Text" or "HTML".
    pub body_type: String,
}

/// Folder types of [MS-ASCMD] 2.2.3.186.3 (FolderSync Type).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(into = "u8", try_from = "u8")]
pub enum FolderType {
    UserGeneric = 1,
    Inbox = 2,
    Drafts = 3,
    DeletedItems = 4,
    SentItems = 5,
    Outbox = 6,
    Tasks = 7,
    Calendar = 8,
    Contacts = 9,
    Notes = 10,
    Journal = 11,
    UserMail = 12,
    UserCalendar = 13,
    UserContacts = 14,
    UserTasks = 15,
    UserJournal = 16,
    UserNotes = 17,
    Unknown = 18,
    RecipientCache = 19,
}

impl From<FolderType> for u8 {
    fn from(t: FolderType) -> u8 {
        t as u8
    }
}

impl TryFrom<u8> for FolderType {
    type Error = u8;
    fn try_from(v: u8) -> Result<Self, u8> {
        use FolderType::*;
        Ok(match v {
            1 => UserGeneric,
            2 => Inbox,
            3 => Drafts,
            4 => DeletedItems,
            5 => SentItems,
            6 => Outbox,
            7 => Tasks,
            8 => Calendar,
            9 => Contacts,
            10 => Notes,
            11 => Journal,
            12 => UserMail,
            13 => UserCalendar,
            14 => UserContacts,
            15 => UserTasks,
            16 => UserJournal,
            17 => UserNotes,
            18 => Unknown,
            19 => RecipientCache,
            other => return Err(other),
        })
    }
}

impl FolderType {
    /// Types a client may create with FolderCreate: only the user-created kinds.
    pub fn is_user_creatable(self) -> bool {
        matches!(
            self,
            FolderType::UserGeneric
                | FolderType::UserMail
                | FolderType::UserCalendar
                | FolderType::UserContacts
                | FolderType::UserTasks
                | FolderType::UserJournal
                | FolderType::UserNotes
        )
    }
}

/// The folders every account starts with, with fixed ids 1..=10.
pub const DEFAULT_FOLDERS: [(&str, FolderType); 10] = [
    ("Inbox", FolderType::Inbox),
    ("Drafts", FolderType::Drafts),
    ("Deleted Items", FolderType::DeletedItems),
    ("Sent Items", FolderType::SentItems),
    ("Outbox", FolderType::Outbox),
    ("Tasks", FolderType::Tasks),
    ("Calendar", FolderType::Calendar),
    ("Contacts", FolderType::Contacts),
    ("Notes", FolderType::Notes),
    // Junk has no type of its own in EAS; it is a user-created mail folder to the client.
    ("Junk E-Mail", FolderType::UserMail),
];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Folder {
    pub id: FolderId,
    pub parent: FolderId,
    pub name: String,
    pub kind: FolderType,
    /// A default folder: it cannot be renamed, moved or deleted.
    pub special: bool,
    /// Bumped by every change to the folder's contents.
    pub modseq: u64,
}

impl Folder {
    pub fn view(&self) -> FolderView {
        FolderView {
            parent: self.parent,
            name: self.name.clone(),
            kind: self.kind,
        }
    }
}

/// What a device was told about one folder: enough to see if it changed since.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FolderView {
    pub parent: FolderId,
    pub name: String,
    pub kind: FolderType,
}

pub type HierarchySnapshot = BTreeMap<FolderId, FolderView>;

/// Per-device FolderSync state. The previous generation is kept so that a client whose
/// answer was lost can send its older key again and get the same changes again.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct HierarchyState {
    pub key: u64,
    pub folders: HierarchySnapshot,
    pub previous: Option<(u64, HierarchySnapshot)>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DeviceInfo {
    pub model: Option<String>,
    pub imei: Option<String>,
    pub friendly_name: Option<String>,
    pub os: Option<String>,
    pub os_language: Option<String>,
    pub phone_number: Option<String>,
    pub mobile_operator: Option<String>,
    pub user_agent: Option<String>,
    pub enable_outbound_sms: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Device {
    pub account: AccountId,
    pub device_id: String,
    pub device_type: String,
    pub info: DeviceInfo,
    /// Last protocol version the device spoke.
    pub protocol: String,
    pub first_seen: i64,
    pub last_seen: i64,
    /// The final key of the completed Provision handshake.
    pub policy_key: Option<u32>,
    /// The temporary key handed out in Provision's first phase, awaiting acknowledgement.
    pub pending_policy_key: Option<u32>,
    /// The temporary key of the last completed handshake: a resent acknowledgement (its
    /// answer was lost) gets the same final key again.
    #[serde(default)]
    pub acked_policy_key: Option<u32>,
    /// The HTTP User-Agent of the device's latest request (DeviceInformation may name
    /// another in `info`).
    #[serde(default)]
    pub http_user_agent: Option<String>,
    /// Hash of the policy the final key stands for; a different effective policy makes the
    /// key stale.
    pub policy_hash: Option<u64>,
    pub recovery_password: Option<String>,
    #[serde(default)]
    pub protocol_log: bool,
    /// The ABQ state the rules gave the device when it was first admitted; `None` until
    /// then.
    #[serde(default)]
    pub abq: Option<Access>,
    /// What decided `abq` ("rule 3", "global rule", ...), for `easd device show`.
    #[serde(default)]
    pub abq_reason: Option<String>,
    /// An admin's direct allow/block of this device: overrides the rules.
    #[serde(default)]
    pub abq_direct: Option<Access>,
    /// The quarantine notice went to the user's Inbox.
    #[serde(default)]
    pub quarantine_mailed: bool,
    #[serde(default)]
    pub wipe: Wipe,
    /// Folder and sync settings: the admitting rule's template, copied at admission, or
    /// what an admin set. `None` (a device not admitted yet, or one from before settings
    /// existed): the built-in defaults; see `govern::settings::of`.
    #[serde(default)]
    pub settings: Option<DeviceSettings>,
}

/// Allow / Block / Quarantine: what a device may do.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    Allow,
    Block,
    Quarantine,
}

/// Remote wipe of one device ([MS-ASPROV] 3.1.5.2). A wiped device is barred until an
/// admin clears it — a state of its own, not an ABQ block.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Wipe {
    #[default]
    None,
    /// Sent at the device's next request; `soft` is AccountOnlyRemoteWipe (16.1).
    Pending { soft: bool },
    /// Acknowledged by the device.
    Done,
}
