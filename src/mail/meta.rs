//! What easd knows about a stored message without opening its blob: the metadata parsed at
//! delivery, and the flags the user changes.

use serde::{Deserialize, Serialize};

use crate::store::BlobId;

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
    /// Lower-cased words of subject, addresses and body text for Search.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub search_terms: Vec<String>,
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
