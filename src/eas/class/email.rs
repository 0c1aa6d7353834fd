//! The Email class ([MS-ASEMAIL], with the AirSyncBase elements of [MS-ASAIRS]) for
//! protocol versions 12.0 to 16.1: a stored message as `ApplicationData`, and the flag
//! changes a client may send back.
//!
//! Elements by version (everything else is in all of 12.0-16.1):
//! - 14.0+: email:Categories, email2:ConversationId, email2:ConversationIndex,
//!   email2:LastVerbExecuted, email2:LastVerbExecutionTime, airsyncbase:Preview.
//! - 14.1+: airsyncbase:BodyPart, for a client that sent a BodyPartPreference.
//! - 16.0+: email2:Bcc, email2:IsDraft.
//!
//! A meeting message also carries email:MeetingRequest (`super::meeting`, whose children
//! vary by version too).

use std::borrow::Cow;

use super::{BODY_HTML, BODY_MIME, BODY_PLAIN, BodyOptions, BodyPreference};
use crate::mail::mime::{self, BodyKind, prefix_at_char_boundary};
use crate::proto::datetime::{format_datetime, parse_datetime};
use crate::proto::version::ProtocolVersion;
use crate::store::model::{Flags, FollowUp, MailItem, MessageMeta};
use crate::wbxml::tag::{airsync, airsyncbase, email, email2, tasks};
use crate::wbxml::{Element, Tag};

/// [MS-ASEMAIL] 2.2.2.20 ContentClass of every message easd serves.
const CONTENT_CLASS: &str = "urn:content-classes:message";
/// [MS-ASEMAIL] 2.2.2.35 FlagType sent when the stored flag has none.
const DEFAULT_FLAG_TYPE: &str = "Flag for follow up";
/// [MS-ASEMAIL] 2.2.2.17: a request SHOULD carry no more than 300 categories.
const MAX_CATEGORIES: usize = 300;
/// [MS-ASAIRS] 2.2.2.31.2 Method 1: a normal attachment.
const METHOD_NORMAL: &str = "1";

/// What a client changed on a mail item in a Sync Change: Read, Flag and Categories are
/// all a client may change ([MS-ASEMAIL] 3.1.5.3); other elements are ignored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlagChange {
    pub read: Option<bool>,
    /// `Some(None)` clears the flag (`<Flag/>` or Status 0).
    pub flag: Option<Option<FollowUp>>,
    pub categories: Option<Vec<String>>,
}

/// A Change the server refuses; Sync answers it with Status 6 (conversion error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    #[error("{element} has the invalid value {value:?}")]
    InvalidValue {
        element: &'static str,
        value: String,
    },
    /// [MS-ASEMAIL] 2.2.2.72: StartDate MUST NOT be after DueDate.
    #[error("flag StartDate is after DueDate")]
    StartAfterDue,
    #[error("{0} categories, more than the {MAX_CATEGORIES} allowed")]
    TooManyCategories(usize),
}

impl FlagChange {
    /// Applies the change to stored flags.
    pub fn apply(&self, flags: &mut Flags) {
        if let Some(read) = self.read {
            flags.read = read;
        }
        if let Some(flag) = &self.flag {
            flags.flag.clone_from(flag);
        }
        if let Some(categories) = &self.categories {
            flags.categories.clone_from(categories);
        }
    }
}

/// The whole message as an `airsync:ApplicationData` element for a Sync Add, an
/// ItemOperations Fetch or a Search result. `raw` is the stored RFC 5322 message;
/// `file_reference` names an attachment (by MIME part) for ItemOperations.
pub fn application_data(
    item: &MailItem,
    raw: &[u8],
    opts: &BodyOptions,
    version: ProtocolVersion,
    file_reference: &dyn Fn(u32) -> String,
) -> Element {
    let meta = &item.meta;
    let mut data = Element::new(airsync::APPLICATION_DATA);
    push_non_empty(&mut data, email::TO, &meta.to);
    push_non_empty(&mut data, email::CC, &meta.cc);
    push_non_empty(&mut data, email::FROM, &meta.from);
    data.push_text(email::SUBJECT, meta.subject.as_str());
    push_non_empty(&mut data, email::REPLY_TO, &meta.reply_to);
    data.push_text(email::DATE_RECEIVED, format_datetime(meta.received));
    push_non_empty(&mut data, email::DISPLAY_TO, &meta.display_to);
    push_non_empty(&mut data, email::THREAD_TOPIC, &meta.thread_topic);
    data.push_text(email::IMPORTANCE, meta.importance.to_string());
    data.push_text(email::READ, bool_text(item.flags.read));
    if !meta.attachments.is_empty() && opts.attachments.enabled {
        data.push(attachments(meta, file_reference));
    }
    data.push(body(meta, raw, opts, version));
    if let Some(preference) = &opts.part_preference
        && version >= ProtocolVersion::V14_1
    {
        data.push(body_part(meta, raw, preference));
    }
    data.push_text(email::MESSAGE_CLASS, meta.message_class.as_str());
    if let Some(meeting) = &meta.meeting {
        data.push(super::meeting::meeting_request(meeting, version));
    }
    data.push_text(email::INTERNET_CPID, meta.internet_cpid.to_string());
    data.push(flag(item.flags.flag.as_ref()));
    data.push_text(email::CONTENT_CLASS, CONTENT_CLASS);
    data.push_text(airsyncbase::NATIVE_BODY_TYPE, meta.native_body.to_string());
    if version >= ProtocolVersion::V14_0 {
        push_conversation(&mut data, meta);
        if !item.flags.categories.is_empty() {
            data.push(categories(&item.flags.categories));
        }
        push_last_verb(&mut data, &item.flags);
    }
    if version >= ProtocolVersion::V16_0 {
        push_non_empty(&mut data, email2::BCC, &meta.bcc);
        data.push_text(email2::IS_DRAFT, bool_text(item.flags.draft));
    }
    data
}

/// What a Sync Change to the client carries when only the flags changed: Read, Flag and
/// (14.0+) Categories, the last always present so that clearing them reaches the client.
pub fn flags_change(item: &MailItem, version: ProtocolVersion) -> Element {
    let mut data = Element::new(airsync::APPLICATION_DATA)
        .text_child(email::READ, bool_text(item.flags.read))
        .child(flag(item.flags.flag.as_ref()));
    if version >= ProtocolVersion::V14_0 {
        data.push(categories(&item.flags.categories));
        // A reply or forward from another device shows as such on this one too.
        push_last_verb(&mut data, &item.flags);
    }
    data
}

/// Reads the `ApplicationData` of a client's Sync Change to a mail item.
pub fn parse_change(app_data: &Element) -> Result<FlagChange, ChangeError> {
    Ok(FlagChange {
        read: app_data.find(email::READ).map(boolean).transpose()?,
        flag: app_data.find(email::FLAG).map(parse_flag).transpose()?,
        categories: app_data
            .find(email::CATEGORIES)
            .map(parse_categories)
            .transpose()?,
    })
}

// ---- ApplicationData pieces ------------------------------------------------------------

fn push_non_empty(data: &mut Element, tag: Tag, text: &str) {
    if !text.is_empty() {
        data.push_text(tag, text);
    }
}

fn bool_text(value: bool) -> &'static str {
    if value { "1" } else { "0" }
}

/// [MS-ASEMAIL] 2.2.2.21, 2.2.2.22: both are OPAQUE byte arrays.
fn push_conversation(data: &mut Element, meta: &MessageMeta) {
    data.push_opaque(email2::CONVERSATION_ID, meta.conversation_id.clone());
    data.push_opaque(email2::CONVERSATION_INDEX, meta.conversation_index.clone());
}

/// [MS-ASEMAIL] 2.2.2.44, 2.2.2.45.
fn push_last_verb(data: &mut Element, flags: &Flags) {
    if let Some((verb, when)) = flags.last_verb {
        data.push_text(email2::LAST_VERB_EXECUTED, verb.to_string());
        data.push_text(email2::LAST_VERB_EXECUTION_TIME, format_datetime(when));
    }
}

fn categories(list: &[String]) -> Element {
    list.iter()
        .fold(Element::new(email::CATEGORIES), |element, category| {
            element.text_child(email::CATEGORY, category.as_str())
        })
}

/// [MS-ASEMAIL] 2.2.2.34 Flag: `<Flag/>` when there is none, else its children in the
/// spec's order. easd keeps UTC times only, so the local and UTC forms carry the same
/// value.
fn flag(follow_up: Option<&FollowUp>) -> Element {
    let mut element = Element::new(email::FLAG);
    let Some(follow_up) = follow_up.filter(|f| f.status != 0) else {
        return element;
    };
    element.push_text(email::STATUS, follow_up.status.to_string());
    let flag_type = match follow_up.flag_type.as_str() {
        "" => DEFAULT_FLAG_TYPE,
        named => named,
    };
    element.push_text(email::FLAG_TYPE, flag_type);
    if let Some(completed) = follow_up.completed {
        element.push_text(tasks::DATE_COMPLETED, format_datetime(completed));
        element.push_text(email::COMPLETE_TIME, format_datetime(completed));
    }
    let dates = [
        (tasks::START_DATE, follow_up.start),
        (tasks::DUE_DATE, follow_up.due),
        (tasks::UTC_START_DATE, follow_up.start),
        (tasks::UTC_DUE_DATE, follow_up.due),
    ];
    for (tag, when) in dates {
        if let Some(when) = when {
            element.push_text(tag, format_datetime(when));
        }
    }
    element
}

/// [MS-ASAIRS] 2.2.2.7 Attachment: DisplayName, FileReference, Method, EstimatedDataSize,
/// ContentId, IsInline.
fn attachments(meta: &MessageMeta, file_reference: &dyn Fn(u32) -> String) -> Element {
    let mut list = Element::new(airsyncbase::ATTACHMENTS);
    for attachment in &meta.attachments {
        let mut element = Element::new(airsyncbase::ATTACHMENT)
            .text_child(airsyncbase::DISPLAY_NAME, attachment.name.as_str())
            .text_child(airsyncbase::FILE_REFERENCE, file_reference(attachment.part))
            .text_child(airsyncbase::METHOD, METHOD_NORMAL)
            .text_child(
                airsyncbase::ESTIMATED_DATA_SIZE,
                attachment.size.to_string(),
            );
        if let Some(content_id) = &attachment.content_id {
            element.push_text(airsyncbase::CONTENT_ID, content_id.as_str());
        }
        element.push_text(airsyncbase::IS_INLINE, bool_text(attachment.inline));
        list.push(element);
    }
    list
}

// ---- Body ------------------------------------------------------------------------------

/// The body form chosen for a response and the limits that apply to it.
struct Selection<'a> {
    kind: u8,
    content: Cow<'a, str>,
    /// Bytes.
    limit: Option<u32>,
    all_or_none: bool,
    /// Characters of preview asked for.
    preview: Option<u32>,
}

impl<'a> Selection<'a> {
    fn new(kind: u8, content: Cow<'a, str>, preference: &BodyPreference) -> Self {
        Selection {
            kind,
            content,
            limit: preference.truncation_size,
            all_or_none: preference.all_or_none,
            preview: preference.preview,
        }
    }

    fn too_large(&self) -> bool {
        self.limit
            .is_some_and(|limit| self.content.len() > limit as usize)
    }

    /// Whether the content is cut, and the Data sent: none at all for AllOrNone with a
    /// content over the limit ([MS-ASAIRS] 2.2.2.3.1, 2.2.2.3.2).
    fn cut(&self) -> (bool, &str) {
        let truncated = self.too_large();
        let data = match (truncated, self.limit) {
            (true, _) if self.all_or_none => "",
            (true, Some(limit)) => prefix_at_char_boundary(&self.content, limit as usize),
            _ => &self.content,
        };
        (truncated, data)
    }

    /// Type, EstimatedDataSize, Truncated and Data, the children Body and BodyPart share
    /// in that order ([MS-ASAIRS] 2.2.2.9, 2.2.2.10); Data only when there is some.
    fn describe(&self, element: &mut Element, truncated: bool, data: &str) {
        element.push_text(airsyncbase::TYPE, self.kind.to_string());
        element.push_text(
            airsyncbase::ESTIMATED_DATA_SIZE,
            self.content.len().to_string(),
        );
        element.push_text(airsyncbase::TRUNCATED, bool_text(truncated));
        if !(truncated && data.is_empty()) {
            element.push_text(airsyncbase::DATA, data);
        }
    }

    /// The message's preview, when asked for: at most the characters wanted.
    fn preview(&self, meta: &MessageMeta) -> Option<String> {
        let chars = self.preview.filter(|&n| n > 0)?;
        Some(meta.preview.chars().take(chars as usize).collect())
    }
}

/// [MS-ASAIRS] 2.2.2.9 Body: Type, EstimatedDataSize, Truncated, Data, Preview.
fn body(meta: &MessageMeta, raw: &[u8], opts: &BodyOptions, version: ProtocolVersion) -> Element {
    let selection = select(meta, raw, opts);
    let (truncated, data) = selection.cut();
    let mut element = Element::new(airsyncbase::BODY);
    selection.describe(&mut element, truncated, data);
    // [MS-ASAIRS] 2.2.2.35.1: Preview is 14.0+, at most the characters asked for, and not
    // sent alongside plain-text Data.
    let plain_data_sent = selection.kind == BODY_PLAIN && !data.is_empty();
    if let Some(preview) = selection.preview(meta)
        && version >= ProtocolVersion::V14_0
        && !plain_data_sent
    {
        element.push_text(airsyncbase::PREVIEW, preview);
    }
    element
}

/// [MS-ASAIRS] 2.2.2.37 BodyPart Status values.
const PART_OK: u8 = 1;
const PART_TOO_LARGE: u8 = 176;

/// [MS-ASAIRS] 2.2.2.10 BodyPart: Status, Type, EstimatedDataSize, Truncated, Data,
/// Preview. The message part is the message's HTML body: easd does not cut the quoted
/// earlier messages of a conversation out of it. With AllOrNone and a part over its
/// TruncationSize, Status 176 ("the message part is too large") and no Data.
fn body_part(meta: &MessageMeta, raw: &[u8], preference: &BodyPreference) -> Element {
    let selection = Selection::new(BODY_HTML, text(raw, BODY_HTML), preference);
    let (truncated, data) = selection.cut();
    let status = if truncated && selection.all_or_none {
        PART_TOO_LARGE
    } else {
        PART_OK
    };
    let mut element =
        Element::new(airsyncbase::BODY_PART).text_child(airsyncbase::STATUS, status.to_string());
    selection.describe(&mut element, truncated, data);
    if let Some(preview) = selection.preview(meta) {
        element.push_text(airsyncbase::PREVIEW, preview);
    }
    element
}

/// Chooses the body form:
/// 1. MIME (Type 4) when the client listed it and MIMESupport allows it for this message
///    ([MS-ASCMD] 2.2.3.110.3: 1 = S/MIME messages only, 2 = all): the client renders
///    anything from MIME, and S/MIME only from MIME.
/// 2. Else the first plain or HTML preference that its AllOrNone does not rule out
///    ([MS-ASAIRS] 2.2.2.3.2: "the server selects the next BodyPreference element");
///    if all are ruled out, the first of them, sent without Data.
/// 3. Else (only MIME, which MIMESupport or the attachment policy rules out) the
///    message's native form with the first preference's limits. RTF never gets here:
///    [`super::MailPolicy::enforce`] answers it with HTML.
/// 4. Without any BodyPreference: the whole plain text ([MS-ASAIRS] 2.2.2.40.2: without a
///    TruncationSize the entire content is sent), cut by a legacy airsync:Truncation if
///    the client sent one.
fn select<'a>(meta: &MessageMeta, raw: &'a [u8], opts: &BodyOptions) -> Selection<'a> {
    let mime_preference = opts.preferences.iter().find(|p| p.kind == BODY_MIME);
    let mime_ok = mime_allowed(meta, opts.mime_support) && !withholds_attachment(meta, opts);
    if let Some(preference) = mime_preference.filter(|_| mime_ok) {
        let mut selection = Selection::new(BODY_MIME, String::from_utf8_lossy(raw), preference);
        selection.limit = selection.limit.or(opts.mime_truncation);
        return selection;
    }
    let mut ruled_out = None;
    for preference in opts
        .preferences
        .iter()
        .filter(|p| matches!(p.kind, BODY_PLAIN | BODY_HTML))
    {
        let selection = Selection::new(preference.kind, text(raw, preference.kind), preference);
        if !(selection.all_or_none && selection.too_large()) {
            return selection;
        }
        ruled_out.get_or_insert(selection);
    }
    if let Some(selection) = ruled_out {
        return selection;
    }
    match opts.preferences.first() {
        Some(preference) => {
            Selection::new(meta.native_body, text(raw, meta.native_body), preference)
        }
        None => Selection {
            kind: BODY_PLAIN,
            content: text(raw, BODY_PLAIN),
            limit: opts.truncation,
            all_or_none: false,
            preview: None,
        },
    }
}

/// Whether the device may not download one of the message's attachments ([MS-ASPROV]
/// 2.2.2.23, 2.2.2.30). Its MIME would carry that attachment, so the message is sent in
/// another form: the attachment stays listed and its download is refused.
fn withholds_attachment(meta: &MessageMeta, opts: &BodyOptions) -> bool {
    meta.attachments
        .iter()
        .any(|a| opts.attachments.check(a.size).is_err())
}

fn mime_allowed(meta: &MessageMeta, mime_support: u8) -> bool {
    match mime_support {
        2 => true,
        1 => meta.message_class.starts_with("IPM.Note.SMIME"),
        _ => false,
    }
}

fn text(raw: &[u8], kind: u8) -> Cow<'static, str> {
    let kind = if kind == BODY_HTML {
        BodyKind::Html
    } else {
        BodyKind::Plain
    };
    Cow::Owned(mime::body(raw, kind))
}

// ---- reading a Change ------------------------------------------------------------------

fn invalid(element: &Element) -> ChangeError {
    ChangeError::InvalidValue {
        element: element.tag.name(),
        value: element.text().unwrap_or_default().to_owned(),
    }
}

fn boolean(element: &Element) -> Result<bool, ChangeError> {
    match element.text().map(str::trim) {
        Some("1") => Ok(true),
        Some("0") => Ok(false),
        _ => Err(invalid(element)),
    }
}

/// [MS-ASEMAIL] 2.2.2.34: an empty Flag (or Status 0) clears the flag. A Flag without a
/// Status but with other children is taken as an active flag.
fn parse_flag(element: &Element) -> Result<Option<FollowUp>, ChangeError> {
    if element.is_empty() {
        return Ok(None);
    }
    let status = match element.find(email::STATUS) {
        Some(status) => match status.text().map(str::trim) {
            Some("0") => return Ok(None),
            Some("1") => 1,
            Some("2") => 2,
            _ => return Err(invalid(status)),
        },
        None => 2,
    };
    let follow_up = FollowUp {
        status,
        flag_type: element
            .text_of(email::FLAG_TYPE)
            .unwrap_or_default()
            .to_owned(),
        start: date(element, &[tasks::UTC_START_DATE, tasks::START_DATE])?,
        due: date(element, &[tasks::UTC_DUE_DATE, tasks::DUE_DATE])?,
        completed: date(element, &[email::COMPLETE_TIME, tasks::DATE_COMPLETED])?,
    };
    match (follow_up.start, follow_up.due) {
        (Some(start), Some(due)) if start > due => Err(ChangeError::StartAfterDue),
        _ => Ok(Some(follow_up)),
    }
}

/// The first of `tags` present, as Unix seconds.
fn date(flag: &Element, tags: &[Tag]) -> Result<Option<i64>, ChangeError> {
    let Some(element) = tags.iter().find_map(|&tag| flag.find(tag)) else {
        return Ok(None);
    };
    element
        .text()
        .and_then(parse_datetime)
        .map(Some)
        .ok_or_else(|| invalid(element))
}

fn parse_categories(element: &Element) -> Result<Vec<String>, ChangeError> {
    let list: Vec<String> = element
        .find_all(email::CATEGORY)
        .filter_map(|c| c.text().map(str::to_owned))
        .collect();
    if list.len() > MAX_CATEGORIES {
        return Err(ChangeError::TooManyCategories(list.len()));
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eas::class::AttachmentPolicy;
    use crate::store::BlobId;
    use crate::wbxml::{Limits, decode, encode};

    const PLAIN: &[u8] = b"From: Alice <alice@example.com>\r\nTo: Bob <bob@example.org>\r\n\
        Subject: Hi\r\nMessage-ID: <m1@example.com>\r\nContent-Type: text/plain; charset=utf-8\r\n\
        \r\nHello world, \xc3\xa4\xc3\xb6\xc3\xbc!\r\n";

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/fixtures/mail/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn item(raw: &[u8]) -> MailItem {
        MailItem {
            id: 7,
            folder: 1,
            blob: BlobId::of(raw),
            meta: mime::parse(raw, 1_795_602_030),
            flags: Flags::default(),
            modseq: 1,
        }
    }

    fn reference(part: u32) -> String {
        format!("7:{part}")
    }

    fn render(raw: &[u8], opts: &BodyOptions, version: ProtocolVersion) -> Element {
        application_data(&item(raw), raw, opts, version, &reference)
    }

    fn preference(kind: u8) -> BodyPreference {
        BodyPreference {
            kind,
            truncation_size: None,
            all_or_none: false,
            preview: None,
        }
    }

    fn options(preferences: Vec<BodyPreference>, mime_support: u8) -> BodyOptions {
        BodyOptions {
            preferences,
            mime_support,
            ..BodyOptions::default()
        }
    }

    fn body_of(data: &Element) -> &Element {
        data.find(airsyncbase::BODY).expect("Body")
    }

    fn body_text(data: &Element, tag: Tag) -> Option<&str> {
        body_of(data).text_of(tag)
    }

    #[test]
    fn elements_per_version() {
        let raw = fixture("mixed.eml");
        let mut item = item(&raw);
        item.flags.categories = vec!["Work".into()];
        item.flags.last_verb = Some((1, 1_795_700_000));
        item.meta.bcc = "hidden@example.org".into();
        let opts = options(vec![preference(2)], 0);
        let names = |version| {
            application_data(&item, &raw, &opts, version, &reference)
                .elements()
                .map(|e| e.tag.name())
                .collect::<Vec<_>>()
        };
        let base = [
            "To",
            "From",
            "Subject",
            "DateReceived",
            "DisplayTo",
            "ThreadTopic",
            "Importance",
            "Read",
            "Attachments",
            "Body",
            "MessageClass",
            "InternetCPID",
            "Flag",
            "ContentClass",
            "NativeBodyType",
        ];
        let v14 = [
            "ConversationId",
            "ConversationIndex",
            "Categories",
            "LastVerbExecuted",
            "LastVerbExecutionTime",
        ];
        assert_eq!(names(ProtocolVersion::V12_0), base);
        assert_eq!(names(ProtocolVersion::V12_1), base);
        assert_eq!(
            names(ProtocolVersion::V14_1),
            [&base[..], &v14[..]].concat()
        );
        assert_eq!(
            names(ProtocolVersion::V16_1),
            [&base[..], &v14[..], &["Bcc", "IsDraft"][..]].concat()
        );
    }

    #[test]
    fn values_and_wbxml_round_trip() {
        let raw = fixture("mixed.eml");
        let opts = options(vec![preference(2)], 0);
        let data = render(&raw, &opts, ProtocolVersion::V16_1);
        let decoded = decode(&encode(&data), &Limits::default()).expect("decodes");
        assert_eq!(decoded, data);

        assert_eq!(
            data.text_of(email::DATE_RECEIVED),
            Some("2026-11-25T10:20:30.000Z")
        );
        assert_eq!(
            data.text_of(email::FROM),
            Some(r#""Alice Example" <alice@example.com>"#)
        );
        assert_eq!(data.text_of(email::READ), Some("0"));
        assert_eq!(data.text_of(email::CONTENT_CLASS), Some(CONTENT_CLASS));
        assert_eq!(data.text_of(email::INTERNET_CPID), Some("65001"));
        assert_eq!(data.text_of(airsyncbase::NATIVE_BODY_TYPE), Some("2"));
        assert_eq!(data.text_of(email2::IS_DRAFT), Some("0"));
        assert!(data.find(email::FLAG).expect("Flag").is_empty());
        let conversation = data.find(email2::CONVERSATION_ID).and_then(Element::opaque);
        assert_eq!(conversation.map(<[u8]>::len), Some(16));
        let index = data
            .find(email2::CONVERSATION_INDEX)
            .and_then(Element::opaque);
        assert_eq!(index.map(<[u8]>::len), Some(22));
        assert_eq!(body_text(&data, airsyncbase::TYPE), Some("2"));
        assert!(body_text(&data, airsyncbase::DATA).is_some_and(|d| d.contains("cid:logo")));
    }

    #[test]
    fn attachments_listing() {
        let raw = fixture("mixed.eml");
        let data = render(&raw, &BodyOptions::default(), ProtocolVersion::V14_0);
        let list: Vec<_> = data
            .find(airsyncbase::ATTACHMENTS)
            .expect("Attachments")
            .find_all(airsyncbase::ATTACHMENT)
            .collect();
        assert_eq!(list.len(), 3);
        fn fields(e: &Element) -> [Option<&str>; 6] {
            [
                airsyncbase::DISPLAY_NAME,
                airsyncbase::FILE_REFERENCE,
                airsyncbase::METHOD,
                airsyncbase::ESTIMATED_DATA_SIZE,
                airsyncbase::CONTENT_ID,
                airsyncbase::IS_INLINE,
            ]
            .map(|tag| e.text_of(tag))
        }
        assert_eq!(
            fields(list[0]),
            [
                Some("attachment-1.png"),
                Some("7:3"),
                Some("1"),
                Some("70"),
                Some("logo@example.com"),
                Some("1")
            ]
        );
        assert_eq!(
            fields(list[1]),
            [
                Some("invoice.pdf"),
                Some("7:4"),
                Some("1"),
                Some("82"),
                None,
                Some("0")
            ]
        );
    }

    #[test]
    fn truncation_keeps_whole_characters() {
        // "Hello world, " is 13 bytes; "ä" takes bytes 13-14, so a 14-byte cut drops it.
        let mut cut = preference(1);
        cut.truncation_size = Some(14);
        let data = render(PLAIN, &options(vec![cut], 0), ProtocolVersion::V14_1);
        assert_eq!(body_text(&data, airsyncbase::DATA), Some("Hello world, "));
        assert_eq!(body_text(&data, airsyncbase::TRUNCATED), Some("1"));
        let full = mime::body(PLAIN, BodyKind::Plain).len().to_string();
        assert_eq!(
            body_text(&data, airsyncbase::ESTIMATED_DATA_SIZE),
            Some(full.as_str())
        );

        let mut roomy = preference(1);
        roomy.truncation_size = Some(1_000);
        let data = render(PLAIN, &options(vec![roomy], 0), ProtocolVersion::V14_1);
        assert_eq!(body_text(&data, airsyncbase::TRUNCATED), Some("0"));
        assert_eq!(
            body_text(&data, airsyncbase::DATA),
            Some("Hello world, äöü!\r\n")
        );
    }

    #[test]
    fn all_or_none_withholds_data_or_falls_through() {
        let mut strict = preference(2);
        strict.truncation_size = Some(10);
        strict.all_or_none = true;
        let data = render(
            PLAIN,
            &options(vec![strict.clone()], 0),
            ProtocolVersion::V14_1,
        );
        assert_eq!(body_text(&data, airsyncbase::TYPE), Some("2"));
        assert_eq!(body_text(&data, airsyncbase::TRUNCATED), Some("1"));
        assert_eq!(body_text(&data, airsyncbase::DATA), None);

        let mut fallback = preference(1);
        fallback.truncation_size = Some(5);
        let data = render(
            PLAIN,
            &options(vec![strict, fallback], 0),
            ProtocolVersion::V14_1,
        );
        assert_eq!(body_text(&data, airsyncbase::TYPE), Some("1"));
        assert_eq!(body_text(&data, airsyncbase::DATA), Some("Hello"));
    }

    #[test]
    fn preview_is_14_0_and_later_and_bounded() {
        let mut html = preference(2);
        html.preview = Some(5);
        let opts = options(vec![html], 0);
        let data = render(PLAIN, &opts, ProtocolVersion::V14_0);
        assert_eq!(body_text(&data, airsyncbase::PREVIEW), Some("Hello"));
        let data = render(PLAIN, &opts, ProtocolVersion::V12_1);
        assert_eq!(body_text(&data, airsyncbase::PREVIEW), None);

        let mut plain = preference(1);
        plain.preview = Some(100);
        let data = render(PLAIN, &options(vec![plain], 0), ProtocolVersion::V16_1);
        assert_eq!(
            body_text(&data, airsyncbase::PREVIEW),
            None,
            "not with plain Data"
        );
    }

    #[test]
    fn mime_support_decides_type_4() {
        let signed = fixture("smime-signed.eml");
        let prefs = || vec![preference(2), preference(4)];
        let kind = |raw: &[u8], support| {
            let data = render(raw, &options(prefs(), support), ProtocolVersion::V14_1);
            body_text(&data, airsyncbase::TYPE).map(str::to_owned)
        };
        for (support, plain_kind, smime_kind) in [(0, "2", "2"), (1, "2", "4"), (2, "4", "4")] {
            assert_eq!(
                kind(PLAIN, support).as_deref(),
                Some(plain_kind),
                "plain, {support}"
            );
            assert_eq!(
                kind(&signed, support).as_deref(),
                Some(smime_kind),
                "S/MIME, {support}"
            );
        }
        let data = render(&signed, &options(prefs(), 1), ProtocolVersion::V14_1);
        assert_eq!(
            body_text(&data, airsyncbase::DATA),
            Some(String::from_utf8_lossy(&signed).as_ref())
        );
        // Only MIME asked for but MIMESupport 0: the native form instead.
        let data = render(
            PLAIN,
            &options(vec![preference(4)], 0),
            ProtocolVersion::V14_1,
        );
        assert_eq!(body_text(&data, airsyncbase::TYPE), Some("1"));
    }

    #[test]
    fn mime_truncation_applies_to_type_4() {
        let opts = BodyOptions {
            preferences: vec![preference(4)],
            mime_support: 2,
            mime_truncation: Some(20),
            ..BodyOptions::default()
        };
        let data = render(PLAIN, &opts, ProtocolVersion::V12_0);
        assert_eq!(
            body_text(&data, airsyncbase::DATA),
            Some("From: Alice <alice@e")
        );
        assert_eq!(body_text(&data, airsyncbase::TRUNCATED), Some("1"));
        let size = PLAIN.len().to_string();
        assert_eq!(
            body_text(&data, airsyncbase::ESTIMATED_DATA_SIZE),
            Some(size.as_str())
        );
    }

    #[test]
    fn html_for_a_plain_message_is_converted() {
        let data = render(
            PLAIN,
            &options(vec![preference(2)], 0),
            ProtocolVersion::V14_1,
        );
        assert_eq!(body_text(&data, airsyncbase::TYPE), Some("2"));
        assert_eq!(
            body_text(&data, airsyncbase::DATA),
            Some("<html><body>Hello world, äöü!</body></html>")
        );
        assert_eq!(data.text_of(airsyncbase::NATIVE_BODY_TYPE), Some("1"));
    }

    #[test]
    fn no_preference_sends_whole_plain_text_or_legacy_truncation() {
        let data = render(PLAIN, &BodyOptions::default(), ProtocolVersion::V12_0);
        assert_eq!(body_text(&data, airsyncbase::TYPE), Some("1"));
        assert_eq!(
            body_text(&data, airsyncbase::DATA),
            Some("Hello world, äöü!\r\n")
        );
        let legacy = BodyOptions {
            truncation: Some(0),
            ..BodyOptions::default()
        };
        let data = render(PLAIN, &legacy, ProtocolVersion::V12_0);
        assert_eq!(body_text(&data, airsyncbase::TRUNCATED), Some("1"));
        assert_eq!(body_text(&data, airsyncbase::DATA), None);
    }

    #[test]
    fn body_part_is_the_html_part_with_its_own_limits() {
        let raw = fixture("mixed.eml");
        let html = mime::body(&raw, BodyKind::Html);
        let mut part = preference(BODY_HTML);
        part.truncation_size = Some(10);
        part.preview = Some(4);
        let opts = BodyOptions {
            part_preference: Some(part.clone()),
            ..options(vec![preference(BODY_PLAIN)], 0)
        };
        let data = render(&raw, &opts, ProtocolVersion::V14_1);
        let fields = |data: &Element| {
            let part = data.find(airsyncbase::BODY_PART).expect("BodyPart");
            let names: Vec<_> = part.elements().map(|e| e.tag.name()).collect();
            (names, part.clone())
        };
        let (names, element) = fields(&data);
        assert_eq!(
            names,
            [
                "Status",
                "Type",
                "EstimatedDataSize",
                "Truncated",
                "Data",
                "Preview"
            ]
        );
        let size = html.len().to_string();
        assert_eq!(element.text_of(airsyncbase::STATUS), Some("1"));
        assert_eq!(element.text_of(airsyncbase::TYPE), Some("2"));
        assert_eq!(
            element.text_of(airsyncbase::ESTIMATED_DATA_SIZE),
            Some(size.as_str())
        );
        assert_eq!(element.text_of(airsyncbase::TRUNCATED), Some("1"));
        assert_eq!(element.text_of(airsyncbase::DATA), Some(&html[..10]));
        let preview: String = item(&raw).meta.preview.chars().take(4).collect();
        assert_eq!(
            element.text_of(airsyncbase::PREVIEW),
            Some(preview.as_str())
        );
        // The Body is still what BodyPreference asked for.
        assert_eq!(body_text(&data, airsyncbase::TYPE), Some("1"));

        // AllOrNone: Status 176, no Data.
        part.all_or_none = true;
        let opts = BodyOptions {
            part_preference: Some(part),
            ..opts
        };
        let (names, element) = fields(&render(&raw, &opts, ProtocolVersion::V16_1));
        assert_eq!(element.text_of(airsyncbase::STATUS), Some("176"));
        assert!(!names.contains(&"Data"), "{names:?}");
        // 14.0 has no BodyPart.
        let data = render(&raw, &opts, ProtocolVersion::V14_0);
        assert!(data.find(airsyncbase::BODY_PART).is_none());
    }

    #[test]
    fn an_attachment_the_policy_withholds_keeps_mime_away() {
        let raw = fixture("mixed.eml");
        let largest = item(&raw).meta.attachments.iter().map(|a| a.size).max();
        let largest = largest.expect("attachments");
        let opts = |attachments| BodyOptions {
            attachments,
            ..options(vec![preference(BODY_MIME), preference(BODY_HTML)], 2)
        };
        let kind = |attachments| {
            let data = render(&raw, &opts(attachments), ProtocolVersion::V14_1);
            let listed = data.find(airsyncbase::ATTACHMENTS).is_some();
            (
                body_text(&data, airsyncbase::TYPE).map(str::to_owned),
                listed,
            )
        };
        let within = AttachmentPolicy {
            enabled: true,
            max_size: Some(largest),
        };
        assert_eq!(kind(within), (Some("4".into()), true));
        // One attachment over MaxAttachmentSize: HTML instead, the attachments listed.
        let over = AttachmentPolicy {
            enabled: true,
            max_size: Some(largest - 1),
        };
        assert_eq!(kind(over), (Some("2".into()), true));
        // Attachments disabled: HTML, nothing listed.
        let off = AttachmentPolicy {
            enabled: false,
            max_size: None,
        };
        assert_eq!(kind(off), (Some("2".into()), false));
        // A message without attachments keeps MIME under any attachment policy.
        let data = render(PLAIN, &opts(off), ProtocolVersion::V14_1);
        assert_eq!(body_text(&data, airsyncbase::TYPE), Some("4"));
    }

    fn active_flag() -> FollowUp {
        FollowUp {
            status: 2,
            flag_type: "Follow up".into(),
            start: Some(1_795_602_030),
            due: Some(1_795_688_430),
            completed: None,
        }
    }

    #[test]
    fn flags_change_carries_only_flags() {
        let mut item = item(PLAIN);
        item.flags.read = true;
        item.flags.flag = Some(active_flag());
        let data = flags_change(&item, ProtocolVersion::V14_1);
        let names: Vec<_> = data.elements().map(|e| e.tag.name()).collect();
        assert_eq!(names, ["Read", "Flag", "Categories"]);
        assert!(data.find(email::CATEGORIES).expect("Categories").is_empty());
        let flag = data.find(email::FLAG).expect("Flag");
        let children: Vec<_> = flag.elements().map(|e| (e.tag.name(), e.text())).collect();
        assert_eq!(
            children,
            [
                ("Status", Some("2")),
                ("FlagType", Some("Follow up")),
                ("StartDate", Some("2026-11-25T10:20:30.000Z")),
                ("DueDate", Some("2026-11-26T10:20:30.000Z")),
                ("UtcStartDate", Some("2026-11-25T10:20:30.000Z")),
                ("UtcDueDate", Some("2026-11-26T10:20:30.000Z")),
            ]
        );
        let names: Vec<_> = flags_change(&item, ProtocolVersion::V12_1)
            .elements()
            .map(|e| e.tag.name())
            .collect();
        assert_eq!(names, ["Read", "Flag"]);
    }

    #[test]
    fn parse_change_round_trips_a_set_flag_and_categories() {
        let mut item = item(PLAIN);
        item.flags.read = true;
        item.flags.flag = Some(active_flag());
        item.flags.categories = vec!["Red".into(), "Blue".into()];
        let change = parse_change(&flags_change(&item, ProtocolVersion::V16_1)).expect("valid");
        assert_eq!(
            change,
            FlagChange {
                read: Some(true),
                flag: Some(Some(active_flag())),
                categories: Some(vec!["Red".into(), "Blue".into()]),
            }
        );
        let mut flags = Flags::default();
        change.apply(&mut flags);
        assert_eq!(flags, item.flags);
    }

    #[test]
    fn parse_change_clears_and_ignores() {
        let data = Element::new(airsync::APPLICATION_DATA)
            .empty_child(email::FLAG)
            .text_child(email::SUBJECT, "ignored");
        let change = parse_change(&data).expect("valid");
        assert_eq!(
            change,
            FlagChange {
                read: None,
                flag: Some(None),
                categories: None,
            }
        );
        let mut flags = Flags {
            read: true,
            flag: Some(active_flag()),
            categories: vec!["Keep".into()],
            ..Flags::default()
        };
        change.apply(&mut flags);
        assert_eq!(
            (flags.read, flags.flag, flags.categories.len()),
            (true, None, 1)
        );

        let completed = Element::new(airsync::APPLICATION_DATA).child(
            Element::new(email::FLAG)
                .text_child(email::STATUS, "1")
                .text_child(email::COMPLETE_TIME, "20261125T102030Z"),
        );
        let change = parse_change(&completed).expect("valid");
        let flag = change.flag.flatten().expect("flag");
        assert_eq!((flag.status, flag.completed), (1, Some(1_795_602_030)));

        let status_zero = Element::new(airsync::APPLICATION_DATA)
            .child(Element::new(email::FLAG).text_child(email::STATUS, "0"));
        assert_eq!(parse_change(&status_zero).expect("valid").flag, Some(None));
    }

    #[test]
    fn parse_change_rejects_bad_values() {
        let flag = |children: Vec<(Tag, &str)>| {
            let flag = children
                .into_iter()
                .fold(Element::new(email::FLAG), |f, (tag, text)| {
                    f.text_child(tag, text)
                });
            Element::new(airsync::APPLICATION_DATA).child(flag)
        };
        let start_after_due = flag(vec![
            (email::STATUS, "2"),
            (tasks::START_DATE, "2026-11-26T00:00:00.000Z"),
            (tasks::DUE_DATE, "2026-11-25T00:00:00.000Z"),
        ]);
        assert_eq!(
            parse_change(&start_after_due),
            Err(ChangeError::StartAfterDue)
        );
        assert!(parse_change(&flag(vec![(email::STATUS, "3")])).is_err());
        assert!(parse_change(&flag(vec![(tasks::DUE_DATE, "tomorrow")])).is_err());
        let read = Element::new(airsync::APPLICATION_DATA).text_child(email::READ, "yes");
        assert!(parse_change(&read).is_err());
        let many = (0..=MAX_CATEGORIES).fold(Element::new(email::CATEGORIES), |c, i| {
            c.text_child(email::CATEGORY, i.to_string())
        });
        let data = Element::new(airsync::APPLICATION_DATA).child(many);
        assert_eq!(
            parse_change(&data),
            Err(ChangeError::TooManyCategories(301))
        );
    }
}
