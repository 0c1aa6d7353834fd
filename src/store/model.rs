//! The records easd keeps, independent of how they are stored.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::proto::filter::FilterType;
use crate::proto::ids::{DeviceId, DeviceType, IssuedSyncKey, PolicyKey};
use crate::proto::version::ProtocolVersion;

mod audit;
mod blob;
mod directory;
mod governance;
mod journal;
mod meeting;
pub mod pim;
mod settings;
mod share;
mod sync_state;
mod tls;

pub use audit::*;
pub use blob::*;
pub use directory::*;
pub use governance::*;
pub use journal::*;
pub use meeting::*;
pub use settings::*;
pub use share::*;
pub use sync_state::*;
pub use tls::*;

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
    /// Whether the account may use ActiveSync (its web pages work either way).
    #[serde(default = "yes")]
    pub activesync: bool,
}

fn first_id() -> u64 {
    1
}

fn yes() -> bool {
    true
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

impl Oof {
    /// Whether it is on at `now`: globally (1), or time-based (2) within its window.
    pub fn is_on(&self, now: i64) -> bool {
        use crate::proto::datetime::parse_datetime;
        match self.state {
            1 => true,
            2 => {
                let start = self.start_time.as_deref().and_then(parse_datetime);
                let end = self.end_time.as_deref().and_then(parse_datetime);
                matches!((start, end), (Some(s), Some(e)) if s <= now && now < e)
            }
            _ => false,
        }
    }
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

impl FolderType {
    /// The type another account's folder is shown with: a default folder's type belongs to
    /// the reader's own default folder, so a shared one is typed as user-created.
    pub fn as_user_created(self) -> FolderType {
        use FolderType::*;
        match self {
            Inbox | Drafts | DeletedItems | SentItems | Outbox => UserMail,
            Tasks => UserTasks,
            Calendar => UserCalendar,
            Contacts => UserContacts,
            Notes => UserNotes,
            Journal => UserJournal,
            other => other,
        }
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
    pub key: IssuedSyncKey,
    pub folders: HierarchySnapshot,
    pub previous: Option<(IssuedSyncKey, HierarchySnapshot)>,
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
    pub device_id: DeviceId,
    pub device_type: DeviceType,
    pub info: DeviceInfo,
    /// Last protocol version the device spoke.
    pub protocol: ProtocolVersion,
    pub first_seen: i64,
    pub last_seen: i64,
    /// Where the device is in the Provision handshake (stored as the three key fields
    /// `policy_key`, `pending_policy_key` and `acked_policy_key`).
    #[serde(flatten)]
    pub provision: ProvisionState,
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
    /// existed): the built-in defaults; see [`Device::settings_in_force`].
    #[serde(default)]
    pub settings: Option<DeviceSettings>,
}

impl Device {
    /// The folder and sync settings in force for the device.
    pub fn settings_in_force(&self) -> &DeviceSettings {
        self.settings.as_ref().unwrap_or(&DeviceSettings::BUILT_IN)
    }
}

/// The two-phase Provision handshake of one device ([MS-ASPROV] 3.1.5.1): which policy
/// keys it holds or was offered. Only these states exist: an acknowledged temporary key
/// belongs to a completed handshake, and an offer keeps the key in force until it is
/// acknowledged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "ProvisionRecord", into = "ProvisionRecord")]
pub enum ProvisionState {
    /// No policy accepted (never, or refused since, or wiped).
    #[default]
    NotProvisioned,
    /// Phase one handed out `temporary`, awaiting the acknowledgement. `holding`: the
    /// final key of an earlier handshake, still in force until this one completes (a
    /// policy refresh).
    Pending {
        temporary: PolicyKey,
        holding: Option<PolicyKey>,
    },
    /// The handshake completed with `final_key`. `acked`: the temporary key it
    /// acknowledged, so a resent acknowledgement (its answer was lost) gets the same
    /// final key again.
    Provisioned {
        final_key: PolicyKey,
        acked: Option<PolicyKey>,
    },
}

impl ProvisionState {
    /// The key the device's requests must carry ([MS-ASPROV] 3.1.5.1): the final key of
    /// its last completed handshake.
    pub fn final_key(self) -> Option<PolicyKey> {
        match self {
            Self::NotProvisioned => None,
            Self::Pending { holding, .. } => holding,
            Self::Provisioned { final_key, .. } => Some(final_key),
        }
    }

    /// Phase one offered `temporary`.
    pub fn offered(self, temporary: PolicyKey) -> Self {
        Self::Pending {
            temporary,
            holding: self.final_key(),
        }
    }

    /// The temporary key awaiting acknowledgement.
    pub fn offer(self) -> Option<PolicyKey> {
        match self {
            Self::Pending { temporary, .. } => Some(temporary),
            Self::NotProvisioned | Self::Provisioned { .. } => None,
        }
    }

    /// Phase two: the offer was acknowledged and `final_key` handed out.
    pub fn accepted(self, final_key: PolicyKey) -> Self {
        Self::Provisioned {
            final_key,
            acked: self.offer(),
        }
    }
}

/// How a [`ProvisionState`] is stored: the three keys the device row always had (0 was
/// never handed out and reads as no key).
#[derive(Serialize, Deserialize)]
struct ProvisionRecord {
    policy_key: Option<u32>,
    pending_policy_key: Option<u32>,
    #[serde(default)]
    acked_policy_key: Option<u32>,
}

impl From<ProvisionRecord> for ProvisionState {
    fn from(r: ProvisionRecord) -> Self {
        let key = |k: Option<u32>| k.and_then(PolicyKey::new);
        let (held, pending) = (key(r.policy_key), key(r.pending_policy_key));
        match (held, pending) {
            (holding, Some(temporary)) => Self::Pending { temporary, holding },
            (Some(final_key), None) => Self::Provisioned {
                final_key,
                acked: key(r.acked_policy_key),
            },
            // An acknowledged key without a final one is left from a refused handshake.
            (None, None) => Self::NotProvisioned,
        }
    }
}

impl From<ProvisionState> for ProvisionRecord {
    fn from(s: ProvisionState) -> Self {
        let (final_key, pending, acked) = match s {
            ProvisionState::NotProvisioned => (None, None, None),
            ProvisionState::Pending { temporary, holding } => (holding, Some(temporary), None),
            ProvisionState::Provisioned { final_key, acked } => (Some(final_key), None, acked),
        };
        ProvisionRecord {
            policy_key: final_key.map(PolicyKey::get),
            pending_policy_key: pending.map(PolicyKey::get),
            acked_policy_key: acked.map(PolicyKey::get),
        }
    }
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

/// Per-device folder and sync settings (what they mean and how they are set:
/// `govern::settings`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeviceSettings {
    pub groupware_folders: GroupwareFolders,
    pub mail_folders: MailFolders,
    /// Archive folders (none exist in easd yet).
    pub archive: bool,
    /// Public folders (`store::share`), shown in FolderSync when on.
    pub public_folders: bool,
    /// Folders other accounts share with the device's account or its groups
    /// (`store::share`), shown in FolderSync when on.
    pub shared_folders: bool,
    /// The widest FilterType of mail collections; `None`: the device's own choice.
    pub mail_period: Option<Period>,
    /// The widest FilterType of calendar collections; `None`: the device's own choice.
    pub calendar_period: Option<Period>,
    /// Tasks also synced as all-day events in a calendar (`govern::settings::Sight::merged_into`).
    pub tasks_as_events: TasksAsEvents,
    /// The calendar tasks go into as events; `None`: the default Calendar.
    pub tasks_calendar: Option<FolderId>,
    /// What notes are also synced as (`govern::settings::Sight::merged_into`).
    pub notes_as: NotesAs,
    /// The folder notes go into (of the kind `notes_as` names); `None`: the default one.
    pub notes_folder: Option<FolderId>,
}

impl DeviceSettings {
    /// What a device gets when no rule and no admin chose otherwise: what every device got
    /// before these settings existed.
    pub const BUILT_IN: DeviceSettings = DeviceSettings {
        groupware_folders: GroupwareFolders::All,
        mail_folders: MailFolders::All,
        archive: false,
        public_folders: false,
        shared_folders: false,
        mail_period: None,
        calendar_period: None,
        tasks_as_events: TasksAsEvents::Off,
        tasks_calendar: None,
        notes_as: NotesAs::Notes,
        notes_folder: None,
    };
}

impl Default for DeviceSettings {
    fn default() -> Self {
        DeviceSettings::BUILT_IN
    }
}

/// Calendar, Contacts, Tasks, Notes and Journal folders.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GroupwareFolders {
    /// Only the default ones.
    Default,
    #[default]
    All,
    /// All, announced as user-created mail folders (FolderSync Type 12), for clients that
    /// only do mail.
    AllAsMail,
}

/// Mail folders.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MailFolders {
    /// Only the default ones: Inbox, Drafts, Deleted Items, Sent Items, Outbox, Junk E-Mail.
    Default,
    #[default]
    All,
}

/// An age window, as the FilterType it stands for ([MS-ASCMD] 2.2.3.71.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Period {
    #[serde(rename = "1d")]
    OneDay,
    #[serde(rename = "3d")]
    ThreeDays,
    #[serde(rename = "1w")]
    OneWeek,
    #[serde(rename = "2w")]
    TwoWeeks,
    #[serde(rename = "1m")]
    OneMonth,
    #[serde(rename = "3m")]
    ThreeMonths,
    #[serde(rename = "6m")]
    SixMonths,
}

impl Period {
    /// The FilterType of this window.
    pub fn filter_type(self) -> FilterType {
        match self {
            Period::OneDay => FilterType::OneDay,
            Period::ThreeDays => FilterType::ThreeDays,
            Period::OneWeek => FilterType::OneWeek,
            Period::TwoWeeks => FilterType::TwoWeeks,
            Period::OneMonth => FilterType::OneMonth,
            Period::ThreeMonths => FilterType::ThreeMonths,
            Period::SixMonths => FilterType::SixMonths,
        }
    }
}

/// Tasks synced as calendar events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TasksAsEvents {
    #[default]
    Off,
    All,
    NotCompleted,
}

/// What notes are synced as.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NotesAs {
    #[default]
    Notes,
    Events,
    Tasks,
    TasksAndNotes,
}

/// What the server knows of a groupware item without decoding its ApplicationData.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Summary {
    Calendar(CalendarSummary),
    Contact,
    Task(TaskSummary),
    Note(NoteSummary),
}

/// A groupware item in a folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupwareItem {
    pub id: u64,
    pub folder: FolderId,
    /// The item, typed.
    pub record: pim::Record,
    pub summary: Summary,
    /// When easd first stored the item (Unix seconds).
    pub created: i64,
    /// When easd last stored a change of it (Unix seconds); `None` for an item stored
    /// before easd kept it (its `created` stands in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<i64>,
    /// The folder modseq of the item's last change.
    pub modseq: u64,
}

/// What the server knows of a calendar item (`eas::class::calendar` extracts it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CalendarSummary {
    /// StartTime, EndTime (Unix seconds), when the client sent them.
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub all_day: bool,
    /// Has a Recurrence: a series is never outside a date window (its next occurrence may
    /// be in it whatever the first one's dates).
    pub recurring: bool,
}

impl CalendarSummary {
    /// Until when the event matters to a FilterType window: its end (or start); `i64::MAX`
    /// for a series or an event without dates, which every window keeps.
    pub fn until(&self) -> i64 {
        if self.recurring {
            return i64::MAX;
        }
        self.end.or(self.start).unwrap_or(i64::MAX)
    }
}

/// What the server knows of a task (`eas::class::tasks` extracts it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskSummary {
    pub subject: String,
    /// StartDate, else UtcStartDate (Unix seconds).
    pub start: Option<i64>,
    /// DueDate, else UtcDueDate.
    pub due: Option<i64>,
    pub complete: bool,
}

/// What the server knows of a note (`eas::class::notes` extracts it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NoteSummary {
    pub subject: String,
    /// LastModifiedDate (Unix seconds), when sent.
    pub last_modified: Option<i64>,
}

/// JSON records keep the WBXML bytes as base64 (a JSON array of numbers would be 3-4 times
/// the size).
mod base64_bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&BASE64.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        BASE64.decode(text).map_err(serde::de::Error::custom)
    }
}

// What easd knows about a stored message without opening its blob: the metadata parsed at
// delivery, and the flags the user changes.

/// Parsed once at delivery from the raw RFC 5322 bytes (which stay in the blob).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct MessageMeta {
    /// Size of the raw message in bytes.
    pub size: u64,
    /// When easd stored the message (Unix seconds): DateReceived, and the FilterType clock.
    pub received: i64,
    /// The Date header (Unix seconds), when present and parseable.
    pub date: Option<i64>,
    /// Address lists as display strings (`"Name" <a@b>, c@d`), decoded to UTF-8.
    pub from: String,
    pub to: String,
    pub cc: String,
    /// Known only for messages the user sent or drafted.
    pub bcc: String,
    pub reply_to: String,
    /// Display names of the To recipients, `; `-separated ([MS-ASEMAIL] DisplayTo).
    pub display_to: String,
    pub subject: String,
    /// Subject without reply/forward prefixes ([MS-ASEMAIL] ThreadTopic).
    pub thread_topic: String,
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    /// 0 low, 1 normal, 2 high ([MS-ASEMAIL] Importance).
    pub importance: u8,
    /// e.g. `IPM.Note`, `IPM.Note.SMIME`, `IPM.Note.SMIME.MultipartSigned`, `IPM.Schedule.Meeting.Request`.
    pub message_class: String,
    /// 1 plain text, 2 HTML ([MS-ASAIRS] NativeBodyType).
    pub native_body: u8,
    pub has_text: bool,
    pub has_html: bool,
    /// Windows code page of the body charset as sent ([MS-ASEMAIL] InternetCPID); 65001 for UTF-8.
    pub internet_cpid: u32,
    pub attachments: Vec<AttachmentMeta>,
    /// Start of the plain-text body, at most 255 characters ([MS-ASAIRS] Preview).
    pub preview: String,
    /// 16 bytes identifying the conversation ([MS-ASEMAIL2] ConversationId).
    pub conversation_id: Vec<u8>,
    /// [MS-ASEMAIL] ConversationIndex: 22 bytes for a thread root, +5 per reply level.
    pub conversation_index: Vec<u8>,
    /// Lower-cased words of subject, addresses and body text for Search (taken out by the
    /// indexing, so empty in a stored item).
    ///
    /// This and `meeting` are always written (postcard, the items' encoding, cannot read
    /// a skipped field back); the defaults read JSON rows written before they existed.
    #[serde(default)]
    pub search_terms: Vec<String>,
    /// For a meeting message (an iCalendar part that reads): its `email:MeetingRequest`.
    /// Absent from messages stored before easd read invitations, which stay plain mail.
    #[serde(default)]
    pub meeting: Option<Box<MeetingMeta>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AttachmentMeta {
    /// Index of the MIME part in mail-parser's part list: how the attachment is found
    /// again in the blob.
    pub part: u32,
    pub name: String,
    pub content_type: String,
    /// Decoded size in bytes.
    pub size: u64,
    pub content_id: Option<String>,
    pub inline: bool,
}

/// Follow-up flag ([MS-ASEMAIL] Flag). Times are Unix seconds.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FollowUp {
    /// 0 cleared, 1 complete, 2 active.
    pub status: u8,
    pub flag_type: String,
    pub start: Option<i64>,
    pub due: Option<i64>,
    pub completed: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Flags {
    pub read: bool,
    pub flag: Option<FollowUp>,
    pub categories: Vec<String>,
    /// 1 reply to sender, 2 reply to all, 3 forward ([MS-ASEMAIL] LastVerbExecuted), and when.
    pub last_verb: Option<(u8, i64)>,
    pub draft: bool,
}

/// A message in a folder.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MailItem {
    pub id: u64,
    pub folder: u64,
    pub blob: BlobId,
    pub meta: MessageMeta,
    pub flags: Flags,
    /// The folder modseq of the item's last change.
    pub modseq: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A device row as easd wrote it before its ids, version and provisioning state were
    /// typed: it must still read, and write back byte for byte.
    const OLD_DEVICE: &str = concat!(
        r#"{"account":3,"device_id":"Appl1234ABCD","device_type":"iPhone","#,
        r#""info":{"model":"iPhone15,2","imei":null,"friendly_name":null,"os":"iOS 17.1","#,
        r#""os_language":null,"phone_number":null,"mobile_operator":null,"user_agent":null,"#,
        r#""enable_outbound_sms":null},"protocol":"16.1","first_seen":1700000000,"#,
        r#""last_seen":1700000300,"policy_key":2034202722,"pending_policy_key":null,"#,
        r#""acked_policy_key":1234,"http_user_agent":"Apple-iPhone15C2/2101.1","#,
        r#""policy_hash":99,"recovery_password":null,"protocol_log":false,"abq":"allow","#,
        r#""abq_reason":"global rule","abq_direct":null,"quarantine_mailed":false,"#,
        r#""wipe":{"pending":{"soft":true}},"settings":null}"#
    );

    #[test]
    fn old_device_row_reads_and_writes_back_identically() {
        let d: Device = serde_json::from_str(OLD_DEVICE).unwrap();
        assert_eq!(d.device_id.as_str(), "Appl1234ABCD");
        assert_eq!(d.device_type.as_str(), "iPhone");
        assert_eq!(d.protocol, ProtocolVersion::V16_1);
        assert_eq!(
            d.provision,
            ProvisionState::Provisioned {
                final_key: key(2034202722),
                acked: Some(key(1234))
            }
        );
        assert_eq!(serde_json::to_string(&d).unwrap(), OLD_DEVICE);
    }

    /// A message's metadata as easd stored it (as JSON) before meeting messages: it reads
    /// as plain mail; a meeting message's reads back whole, as JSON and as the compact
    /// record items are stored as.
    #[test]
    fn message_meta_before_meetings_reads_and_a_meeting_round_trips() {
        let old = concat!(
            r#"{"size":120,"received":1700000000,"date":null,"from":"a@b","to":"c@d","#,
            r#""cc":"","bcc":"","reply_to":"","display_to":"c","subject":"Hi","#,
            r#""thread_topic":"Hi","message_id":"x@y","in_reply_to":null,"references":[],"#,
            r#""importance":1,"message_class":"IPM.Schedule.Meeting.Request","native_body":1,"#,
            r#""has_text":true,"has_html":false,"internet_cpid":65001,"attachments":[],"#,
            r#""preview":"Hi","conversation_id":[1,2],"conversation_index":[3]}"#
        );
        let meta: MessageMeta = serde_json::from_str(old).unwrap();
        assert_eq!(meta.meeting, None);
        assert_eq!(meta.subject, "Hi");
        assert_eq!(meta.conversation_id, [1, 2]);

        let meeting = MeetingMeta {
            uid: "u".into(),
            sequence: 2,
            dtstamp: 1,
            start: 2,
            end: 3,
            all_day: false,
            instance_type: InstanceType::Master,
            recurrence_id: None,
            location: Some("Room".into()),
            organizer: None,
            reminder: Some(900),
            response_requested: true,
            recurrence: Some(MeetingRecurrence {
                kind: 1,
                interval: 1,
                day_of_week: Some(2),
                ..MeetingRecurrence::default()
            }),
            sensitivity: Sensitivity::Private,
            busy_status: BusyStatus::Tentative,
            time_zone: crate::proto::timezone::TimeZoneInfo::fixed(-60),
            disallow_new_time_proposal: true,
            message_type: MeetingMessageType::FullUpdate,
        };
        let with = MessageMeta {
            meeting: Some(Box::new(meeting)),
            ..meta.clone()
        };
        let text = serde_json::to_string(&with).unwrap();
        assert!(text.contains(r#""instance_type":"master""#), "{text}");
        assert_eq!(serde_json::from_str::<MessageMeta>(&text).unwrap(), with);
        use crate::store::tables::{AsCompact, Format};
        for m in [&meta, &with] {
            let bytes = AsCompact::encode(m);
            assert_eq!(&AsCompact::decode::<MessageMeta>(&bytes).unwrap(), m);
        }
    }

    fn key(n: u32) -> PolicyKey {
        PolicyKey::new(n).unwrap()
    }

    /// The provisioning part of a stored row, as the three fields easd always wrote.
    fn provision_of(fields: &str) -> ProvisionState {
        let row = OLD_DEVICE.replace(
            r#""policy_key":2034202722,"pending_policy_key":null,"acked_policy_key":1234,"#,
            fields,
        );
        let d: Device = serde_json::from_str(&row).unwrap();
        let back = serde_json::to_string(&d).unwrap();
        let start = back.find(r#""policy_key""#).unwrap();
        let end = back.find(r#""http_user_agent""#).unwrap();
        assert_eq!(&back[start..end], fields, "written back as read");
        d.provision
    }

    #[test]
    fn provision_states_are_stored_as_the_three_old_key_fields() {
        assert_eq!(
            provision_of(r#""policy_key":null,"pending_policy_key":null,"acked_policy_key":null,"#),
            ProvisionState::NotProvisioned
        );
        let offered =
            provision_of(r#""policy_key":null,"pending_policy_key":7,"acked_policy_key":null,"#);
        assert_eq!(
            offered,
            ProvisionState::Pending {
                temporary: key(7),
                holding: None
            }
        );
        let refresh =
            provision_of(r#""policy_key":9,"pending_policy_key":7,"acked_policy_key":null,"#);
        assert_eq!(
            refresh.final_key(),
            Some(key(9)),
            "in force until acknowledged"
        );
        assert_eq!(refresh.offer(), Some(key(7)));
        let done =
            provision_of(r#""policy_key":9,"pending_policy_key":null,"acked_policy_key":7,"#);
        assert_eq!(
            done,
            ProvisionState::NotProvisioned
                .offered(key(7))
                .accepted(key(9))
        );
    }

    #[test]
    fn old_rows_with_meaningless_combinations_read_as_the_state_they_act_as() {
        let read = |fields: &str| {
            let row = OLD_DEVICE.replace(
                r#""policy_key":2034202722,"pending_policy_key":null,"acked_policy_key":1234,"#,
                fields,
            );
            serde_json::from_str::<Device>(&row).unwrap().provision
        };
        // Rows from before acknowledged keys were kept.
        assert_eq!(
            read(r#""policy_key":5,"pending_policy_key":null,"#),
            ProvisionState::Provisioned {
                final_key: key(5),
                acked: None
            }
        );
        // Refused after an earlier handshake: the old acknowledged key answers nothing.
        assert_eq!(
            read(r#""policy_key":null,"pending_policy_key":null,"acked_policy_key":3,"#),
            ProvisionState::NotProvisioned
        );
        // An offer pending over an earlier handshake: its acknowledged key answers nothing.
        assert_eq!(
            read(r#""policy_key":9,"pending_policy_key":7,"acked_policy_key":3,"#),
            ProvisionState::Pending {
                temporary: key(7),
                holding: Some(key(9))
            }
        );
    }

    #[test]
    fn device_row_with_bad_ids_is_refused() {
        for (from, to) in [
            (r#""device_id":"Appl1234ABCD""#, r#""device_id":"a-b""#),
            (r#""device_type":"iPhone""#, r#""device_type":"i Phone""#),
            (r#""protocol":"16.1""#, r#""protocol":"2.5""#),
        ] {
            let bad = OLD_DEVICE.replace(from, to);
            assert!(serde_json::from_str::<Device>(&bad).is_err(), "{to}");
        }
    }
}
