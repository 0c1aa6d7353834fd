//! EAS item classes: how stored items become `ApplicationData` and back. This module holds
//! what the classes share: the body options of Sync, ItemOperations and Search requests,
//! the limits a device's security policy puts on them, and the dateTime format
//! ([MS-ASDTYPE] 2.3).

pub mod calendar;
pub mod draft;
pub mod email;
pub mod groupware;
pub mod meeting;
pub mod notes;
pub mod tasks;

use crate::govern::policy::{Policy, Value};
use crate::mail::gwmail;
use crate::proto::filter::FilterType;
use crate::proto::version::ProtocolVersion;
use crate::store::model::{DeviceSettings, GroupwareItem, MailItem};
use crate::store::{Store, StoreError};
use groupware::{Class, Malformed};

use crate::proto::ids::{FileRef, ItemRef};
use crate::store::model::Summary;
use crate::store::model::pim::{Mode, Record};
use crate::wbxml::Element;
use crate::wbxml::tag::{self, airsync, airsyncbase};

/// Body type codes ([MS-ASAIRS] 2.2.2.41.4); 3 (RTF) is accepted in requests, never
/// produced: [`MailPolicy::enforce`] answers it with HTML.
pub const BODY_PLAIN: u8 = 1;
pub const BODY_HTML: u8 = 2;
pub const BODY_RTF: u8 = 3;
pub const BODY_MIME: u8 = 4;

/// One airsyncbase:BodyPreference ([MS-ASAIRS] 2.2.2.12), or BodyPartPreference
/// (2.2.2.11), which has the same children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyPreference {
    /// 1 plain text, 2 HTML, 3 RTF, 4 MIME.
    pub kind: u8,
    /// Bytes; `None` means the whole body ([MS-ASAIRS] 2.2.2.40.2).
    pub truncation_size: Option<u32>,
    /// Send nothing rather than a truncated body ([MS-ASAIRS] 2.2.2.3.2).
    pub all_or_none: bool,
    /// Characters of preview wanted, 0-255 ([MS-ASAIRS] 2.2.2.35.4).
    pub preview: Option<u32>,
}

/// The body-related parts of an airsync:Options, itemoperations:Options or search:Options
/// element.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BodyOptions {
    /// In the client's order.
    pub preferences: Vec<BodyPreference>,
    /// airsyncbase:BodyPartPreference ([MS-ASAIRS] 2.2.2.11, 14.1+): the message part
    /// wanted as an airsyncbase:BodyPart too. Its only Type is 2, HTML (2.2.2.41.3), so
    /// there is at most one.
    pub part_preference: Option<BodyPreference>,
    /// 0 never send MIME, 1 for S/MIME messages only, 2 always ([MS-ASCMD] 2.2.3.110).
    pub mime_support: u8,
    /// Bytes of MIME to send, decoded from the MIMETruncation code ([MS-ASCMD] 2.2.3.111);
    /// `None` for no truncation.
    pub mime_truncation: Option<u32>,
    /// Characters of body to send, decoded from the airsync:Truncation code
    /// ([MS-ASCMD] 2.2.3.185); `None` for no truncation.
    pub truncation: Option<u32>,
    /// What the device may download of attachments. Never asked for by a request: set by
    /// [`MailPolicy::enforce`] from the policy. Disabled: no airsyncbase:Attachments are
    /// listed; either way no MIME body carries an attachment the device may not download.
    pub attachments: AttachmentPolicy,
}

/// The attachment settings of a security policy: AttachmentsEnabled ([MS-ASPROV]
/// 2.2.2.23) and MaxAttachmentSize (2.2.2.30, bytes; `None`, empty, is no limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttachmentPolicy {
    pub enabled: bool,
    pub max_size: Option<u64>,
}

impl Default for AttachmentPolicy {
    fn default() -> Self {
        AttachmentPolicy {
            enabled: true,
            max_size: None,
        }
    }
}

impl AttachmentPolicy {
    /// Whether an attachment of `size` bytes may be downloaded.
    pub fn check(&self, size: u64) -> Result<(), AttachmentRefusal> {
        if !self.enabled {
            return Err(AttachmentRefusal::Disabled);
        }
        match self.max_size {
            Some(max) if size > max => Err(AttachmentRefusal::TooLarge),
            _ => Ok(()),
        }
    }
}

/// An Options element the server cannot accept; the command answers with its protocol
/// error status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionsError {
    #[error("{element} has the invalid value {value:?}")]
    InvalidValue {
        element: &'static str,
        value: String,
    },
    #[error("BodyPreference without a Type")]
    MissingType,
    #[error("BodyPartPreference with Type {0}: only 2 (HTML) has a message part")]
    PartType(u8),
    #[error("more than one BodyPreference with Type {0}")]
    DuplicateType(u8),
    #[error("more than one {0} element")]
    Duplicate(&'static str),
}

/// MIMETruncation codes 0-8 in bytes ([MS-ASCMD] 2.2.3.111); 8 is "do not truncate".
const MIME_TRUNCATION: [Option<u32>; 9] = [
    Some(0),
    Some(4_096),
    Some(5_120),
    Some(7_168),
    Some(10_240),
    Some(20_480),
    Some(51_200),
    Some(102_400),
    None,
];

/// Truncation codes 0-9 in characters ([MS-ASCMD] 2.2.3.185); 9 is "do not truncate".
const TRUNCATION: [Option<u32>; 10] = [
    Some(0),
    Some(512),
    Some(1_024),
    Some(2_048),
    Some(5_120),
    Some(10_240),
    Some(20_480),
    Some(51_200),
    Some(102_400),
    None,
];

impl BodyOptions {
    /// The most a message of `size` bytes can put in an ApplicationData under these
    /// options: its size, or less when every body the client accepts is truncated, plus
    /// room for the headers shown besides the body. Known before the message is read, so
    /// that a response can be kept within its cap without reading what would not fit.
    pub fn bound(&self, size: u64) -> usize {
        const OUTLINE: u64 = 64 * 1024;
        let cut = |t: Option<u32>| t.map_or(size, |t| size.min(u64::from(t)));
        let body = if self.preferences.is_empty() {
            cut(self.truncation).max(if self.mime_support > 0 {
                cut(self.mime_truncation)
            } else {
                0
            })
        } else {
            self.preferences
                .iter()
                .map(|p| cut(p.truncation_size))
                .max()
                .unwrap_or(size)
        };
        usize::try_from(body + OUTLINE.min(size)).unwrap_or(usize::MAX)
    }

    /// Reads the body options from an Options element of any command. BodyPreference
    /// children are in the AirSyncBase namespace; MIMESupport, MIMETruncation and
    /// Truncation in AirSync. Other children are left to the caller.
    pub fn parse(options: &Element) -> Result<Self, OptionsError> {
        let mut preferences: Vec<BodyPreference> = Vec::new();
        for element in options.find_all(airsyncbase::BODY_PREFERENCE) {
            let preference = parse_preference(element)?;
            // [MS-ASAIRS] 2.2.2.12: at most one BodyPreference per Type.
            if preferences.iter().any(|p| p.kind == preference.kind) {
                return Err(OptionsError::DuplicateType(preference.kind));
            }
            preferences.push(preference);
        }
        // [MS-ASAIRS] 2.2.2.41.3: only Type 2 (HTML) is meant for a BodyPartPreference,
        // and one explicit element per Type (2.2.2.11).
        let part_preference = single(options, airsyncbase::BODY_PART_PREFERENCE)?
            .map(parse_preference)
            .transpose()?;
        if let Some(part) = part_preference.as_ref().filter(|p| p.kind != BODY_HTML) {
            return Err(OptionsError::PartType(part.kind));
        }
        let mime_support = single(options, airsync::MIME_SUPPORT)?
            .map(|e| number(e, 0..=2))
            .transpose()?
            .unwrap_or(0);
        Ok(BodyOptions {
            preferences,
            part_preference,
            mime_support,
            mime_truncation: coded(options, airsync::MIME_TRUNCATION, &MIME_TRUNCATION)?,
            truncation: coded(options, airsync::TRUNCATION, &TRUNCATION)?,
            attachments: AttachmentPolicy::default(),
        })
    }
}

/// What a client asked of a mail collection or item: the FilterType window
/// ([MS-ASCMD] 2.2.3.71.2, 0 = everything) and the body options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailOptions {
    pub filter: FilterType,
    pub body: BodyOptions,
}

/// The mail settings of a device's effective security policy that easd enforces itself
/// ([MS-ASPROV] 2.2.2), not only sends to the device: a device that ignores its policy
/// (or never applied it) still gets no more than the policy allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailPolicy {
    /// MaxEmailAgeFilter ([MS-ASPROV] 2.2.2.33): the widest FilterType allowed; 0 = all.
    max_age_filter: FilterType,
    /// The same for calendar collections: MaxCalendarAgeFilter ([MS-ASPROV] 2.2.2.31),
    /// narrowed by the device's `calendar_period`.
    max_calendar_filter: FilterType,
    /// MaxEmailBodyTruncationSize ([MS-ASPROV] 2.2.2.34), in bytes; `None` = no limit.
    max_plain_body: Option<u32>,
    /// MaxEmailHTMLBodyTruncationSize ([MS-ASPROV] 2.2.2.35), in bytes.
    max_html_body: Option<u32>,
    /// AllowHTMLEmail ([MS-ASPROV] 2.2.2.7).
    html: bool,
    /// AttachmentsEnabled and MaxAttachmentSize.
    attachments: AttachmentPolicy,
}

/// Why the policy refuses an attachment download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachmentRefusal {
    /// AttachmentsEnabled is 0.
    Disabled,
    /// Larger than MaxAttachmentSize.
    TooLarge,
}

impl MailPolicy {
    /// The mail rules of a device's effective `policy` (device → user → domain → server →
    /// default, as the device gate resolved it), with the device's own mail period (`easd
    /// device settings`) as a further cap on the age window: the narrower of the two wins.
    pub fn for_device(policy: &Policy, settings: &DeviceSettings) -> Self {
        let mut p = Self::of(policy);
        p.max_age_filter = p.max_age_filter.narrower(settings.mail_filter_cap());
        p.max_calendar_filter = p
            .max_calendar_filter
            .narrower(settings.calendar_filter_cap());
        p
    }

    pub fn of(policy: &Policy) -> Self {
        let int = |name: &str| match policy.get(name) {
            Some(Value::Int(n)) => Some(n),
            _ => None,
        };
        MailPolicy {
            // 1-5 in [MS-ASPROV]; 6 and 7 (3 and 6 months) are FilterType windows too.
            max_age_filter: filter_in(int("MaxEmailAgeFilter"), 1..=7),
            // 0 and 4-7 in [MS-ASPROV].
            max_calendar_filter: filter_in(int("MaxCalendarAgeFilter"), 4..=7),
            max_plain_body: int("MaxEmailBodyTruncationSize").and_then(kilobytes),
            max_html_body: int("MaxEmailHTMLBodyTruncationSize").and_then(kilobytes),
            html: int("AllowHTMLEmail") != Some(0),
            attachments: AttachmentPolicy {
                enabled: int("AttachmentsEnabled") != Some(0),
                max_size: int("MaxAttachmentSize").and_then(|n| u64::try_from(n).ok()),
            },
        }
    }

    /// The options a request is answered with: what the client asked, within the policy.
    /// The one place Sync, GetItemEstimate, ItemOperations and Search take them from.
    /// - FilterType: a window wider than MaxEmailAgeFilter (or none: 0, and 8, which has
    ///   no date window for mail) becomes MaxEmailAgeFilter; a narrower one is kept.
    /// - RTF (Type 3), which easd does not produce, is answered with HTML, the nearest
    ///   type it does: the other rich-text form of [MS-ASAIRS] 2.2.2.41.4, so formatting
    ///   survives (dropped when the client also listed HTML, which then decides).
    /// - AllowHTMLEmail 0: an HTML BodyPreference asks for plain text instead (dropped when
    ///   the client also listed plain text), and there is no BodyPart, which is HTML only.
    ///   MIME is left as asked: S/MIME messages can only be read from it.
    /// - Every size the body is cut to is at most the policy's: the HTML limit for HTML
    ///   and the BodyPart, the plain-text limit for everything else (plain text, MIME,
    ///   legacy Truncation).
    /// - The attachment settings go along: AttachmentsEnabled 0 lists no Attachments, and
    ///   a message whose attachment the device may not download is not sent as MIME.
    pub fn enforce(&self, requested: MailOptions) -> MailOptions {
        let mut body = requested.body;
        let mut preferences: Vec<BodyPreference> = Vec::with_capacity(body.preferences.len());
        for mut p in body.preferences {
            if p.kind == BODY_RTF {
                p.kind = BODY_HTML;
            }
            if p.kind == BODY_HTML && !self.html {
                p.kind = BODY_PLAIN;
            }
            if preferences.iter().any(|q| q.kind == p.kind) {
                continue;
            }
            let max = if p.kind == BODY_HTML {
                self.max_html_body
            } else {
                self.max_plain_body
            };
            p.truncation_size = smallest(p.truncation_size, max);
            preferences.push(p);
        }
        body.preferences = preferences;
        body.part_preference = body.part_preference.filter(|_| self.html).map(|mut p| {
            p.truncation_size = smallest(p.truncation_size, self.max_html_body);
            p
        });
        body.truncation = smallest(body.truncation, self.max_plain_body);
        body.mime_truncation = smallest(body.mime_truncation, self.max_plain_body);
        body.attachments = self.attachments;
        MailOptions {
            filter: self.filter(None, requested.filter),
            body,
        }
    }

    /// The FilterType a collection of `class` (`None`: mail) is synced with, out of the
    /// one requested ([MS-ASCMD] 2.2.3.71.2): mail and calendar windows within their caps
    /// (the narrower wins); tasks keep 8 (incomplete only) or see all; contacts and notes
    /// have no filter.
    pub fn filter(&self, class: Option<groupware::Class>, requested: FilterType) -> FilterType {
        use groupware::Class;
        match class {
            None => requested.narrower(self.max_age_filter),
            Some(Class::Calendar) => requested.narrower(self.max_calendar_filter),
            Some(Class::Tasks) if requested == FilterType::IncompleteTasks => requested,
            Some(Class::Tasks | Class::Contacts | Class::Notes) => FilterType::All,
        }
    }

    /// Whether an attachment of `size` bytes may be downloaded.
    pub fn attachment(&self, size: u64) -> Result<(), AttachmentRefusal> {
        self.attachments.check(size)
    }
}

/// A policy's age filter setting: its FilterType when it is one of `allowed`, else none.
fn filter_in(setting: Option<i64>, allowed: std::ops::RangeInclusive<u8>) -> FilterType {
    setting
        .and_then(|n| u8::try_from(n).ok())
        .filter(|n| allowed.contains(n))
        .and_then(|n| FilterType::try_from(n).ok())
        .unwrap_or(FilterType::All)
}

/// A truncation policy value in bytes: -1 no truncation, 0 headers only (no body),
/// N kilobytes ([MS-ASPROV] 2.2.2.34, 2.2.2.35).
fn kilobytes(n: i64) -> Option<u32> {
    (n >= 0).then(|| u32::try_from(n.saturating_mul(1024)).unwrap_or(u32::MAX))
}

/// The smaller of two limits, `None` being no limit.
fn smallest(a: Option<u32>, b: Option<u32>) -> Option<u32> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn parse_preference(element: &Element) -> Result<BodyPreference, OptionsError> {
    let kind = single(element, airsyncbase::TYPE)?.ok_or(OptionsError::MissingType)?;
    let truncation_size = single(element, airsyncbase::TRUNCATION_SIZE)?
        .map(|e| number(e, 0..=u32::MAX))
        .transpose()?;
    let all_or_none = single(element, airsyncbase::ALL_OR_NONE)?
        .map(|e| number(e, 0..=1))
        .transpose()?
        == Some(1);
    Ok(BodyPreference {
        kind: number(kind, BODY_PLAIN..=BODY_MIME)?,
        truncation_size,
        // [MS-ASAIRS] 2.2.2.3.2: AllOrNone is ignored without a TruncationSize.
        all_or_none: all_or_none && truncation_size.is_some(),
        preview: single(element, airsyncbase::PREVIEW)?
            .map(|e| number(e, 0..=255))
            .transpose()?,
    })
}

/// The only child with `tag`; a repeated element is an error ([MS-ASCMD] 2.2.3.110,
/// 2.2.3.111: "The server MAY return a protocol status error").
fn single(parent: &Element, tag: crate::wbxml::Tag) -> Result<Option<&Element>, OptionsError> {
    let mut matches = parent.find_all(tag);
    let first = matches.next();
    match matches.next() {
        Some(_) => Err(OptionsError::Duplicate(tag.name())),
        None => Ok(first),
    }
}

/// The element's text as an integer within `range`.
fn number<T>(element: &Element, range: std::ops::RangeInclusive<T>) -> Result<T, OptionsError>
where
    T: std::str::FromStr + PartialOrd,
{
    let text = element.text().unwrap_or_default().trim();
    text.parse()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| OptionsError::InvalidValue {
            element: element.tag.name(),
            value: text.to_owned(),
        })
}

/// A size code looked up in `table`; an absent element means no truncation.
fn coded(
    options: &Element,
    tag: crate::wbxml::Tag,
    table: &[Option<u32>],
) -> Result<Option<u32>, OptionsError> {
    let Some(element) = single(options, tag)? else {
        return Ok(None);
    };
    let code: usize = number(element, 0..=table.len() - 1)?;
    Ok(table.get(code).copied().flatten())
}

/// Reads a client's groupware ApplicationData for a folder of `class` into its typed
/// record ([`groupware`]), checks it, and extracts its summary. Anything wrong is
/// [`Malformed`] (Status 6).
pub fn parse_groupware(class: Class, data: &Element) -> Result<(Record, Summary), Malformed> {
    let record = read_groupware(class, data)?;
    let summary = summarize(&record).map_err(|why| Malformed::new(class, why))?;
    Ok((record, summary))
}

/// Reads a client's groupware ApplicationData into its record, checking each value but
/// not the item as a whole (a Change may carry only some elements; [`summarize`] checks
/// the item it makes).
pub fn read_groupware(class: Class, data: &Element) -> Result<Record, Malformed> {
    if data.tag != tag::airsync::APPLICATION_DATA || data.elements().next().is_none() {
        return Err(Malformed::new(class, "no ApplicationData"));
    }
    if let Some(foreign) = data.elements().find(|e| !class.owns_page(e.tag.page())) {
        return Err(Malformed::new(
            class,
            format!("{} does not belong in this class", foreign.tag),
        ));
    }
    Record::parse(class.kind(), data, Mode::Strict).map_err(|bad| Malformed::new(class, bad.0))
}

/// The summary of a record, after the checks its class makes beyond reading the values.
pub fn summarize(record: &Record) -> Result<Summary, String> {
    Ok(match record {
        Record::Event(e) => Summary::Calendar(calendar::summary(e)?),
        Record::Contact(_) => Summary::Contact,
        Record::Task(t) => Summary::Task(tasks::summary(t)?),
        Record::Note(n) => Summary::Note(notes::summary(n)),
    })
}

/// The full ApplicationData of a message, read from its blob: what Sync sends, and what
/// Search and ItemOperations fetch.
pub fn full_data(
    store: &Store,
    item: &MailItem,
    body: &BodyOptions,
    version: ProtocolVersion,
) -> Result<Element, StoreError> {
    let raw = store.blobs().read(&item.blob)?;
    let (folder, id) = (item.folder, item.id);
    Ok(email::application_data(
        item,
        &raw,
        body,
        version,
        &|part| FileRef::new(ItemRef::new(folder, id), part).to_string(),
    ))
}

/// The full ApplicationData of the message generated for a note or task of a folder
/// shown as a mail folder (`mail::gwmail`), for the account whose address is `owner`;
/// `None` for an item that has no such message.
pub fn generated_data(
    item: &GroupwareItem,
    owner: &str,
    body: &BodyOptions,
    version: ProtocolVersion,
) -> Option<Element> {
    let g = gwmail::message(item, owner)?;
    let (folder, id) = (item.folder, item.id);
    Some(email::application_data(
        &g.item,
        &g.raw,
        body,
        version,
        &|part| FileRef::new(ItemRef::new(folder, id), part).to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wbxml::Element;

    fn preference(kind: &str) -> Element {
        Element::new(airsyncbase::BODY_PREFERENCE).text_child(airsyncbase::TYPE, kind)
    }

    #[test]
    fn parses_preferences_in_order() {
        let options = Element::new(airsync::OPTIONS)
            .text_child(airsync::FILTER_TYPE, "3")
            .child(
                preference("2")
                    .text_child(airsyncbase::TRUNCATION_SIZE, "5120")
                    .text_child(airsyncbase::ALL_OR_NONE, "1")
                    .text_child(airsyncbase::PREVIEW, "255"),
            )
            .child(preference("4"))
            .text_child(airsync::MIME_SUPPORT, "2")
            .text_child(airsync::MIME_TRUNCATION, "1");
        let parsed = BodyOptions::parse(&options).expect("valid");
        assert_eq!(
            parsed,
            BodyOptions {
                preferences: vec![
                    BodyPreference {
                        kind: 2,
                        truncation_size: Some(5120),
                        all_or_none: true,
                        preview: Some(255),
                    },
                    BodyPreference {
                        kind: 4,
                        truncation_size: None,
                        all_or_none: false,
                        preview: None,
                    },
                ],
                part_preference: None,
                mime_support: 2,
                mime_truncation: Some(4096),
                truncation: None,
                attachments: AttachmentPolicy::default(),
            }
        );
    }

    #[test]
    fn defaults_and_codes() {
        let empty = BodyOptions::parse(&Element::new(airsync::OPTIONS)).expect("valid");
        assert_eq!(empty, BodyOptions::default());
        let coded = Element::new(airsync::OPTIONS)
            .text_child(airsync::MIME_TRUNCATION, "8")
            .text_child(airsync::TRUNCATION, "1");
        let parsed = BodyOptions::parse(&coded).expect("valid");
        assert_eq!(
            (parsed.mime_truncation, parsed.truncation),
            (None, Some(512))
        );
        let all_or_none_alone = Element::new(airsync::OPTIONS)
            .child(preference("1").text_child(airsyncbase::ALL_OR_NONE, "1"));
        let parsed = BodyOptions::parse(&all_or_none_alone).expect("valid");
        assert!(
            !parsed.preferences[0].all_or_none,
            "ignored without TruncationSize"
        );
    }

    #[test]
    fn rejects_out_of_range_values() {
        let bad = [
            Element::new(airsync::OPTIONS).child(preference("5")),
            Element::new(airsync::OPTIONS).child(preference("x")),
            Element::new(airsync::OPTIONS).child(Element::new(airsyncbase::BODY_PREFERENCE)),
            Element::new(airsync::OPTIONS)
                .child(preference("1"))
                .child(preference("1")),
            Element::new(airsync::OPTIONS)
                .child(preference("1").text_child(airsyncbase::PREVIEW, "256")),
            Element::new(airsync::OPTIONS)
                .child(preference("1").text_child(airsyncbase::TRUNCATION_SIZE, "4294967296")),
            Element::new(airsync::OPTIONS)
                .child(preference("1").text_child(airsyncbase::ALL_OR_NONE, "2")),
            Element::new(airsync::OPTIONS).text_child(airsync::MIME_SUPPORT, "3"),
            Element::new(airsync::OPTIONS).text_child(airsync::MIME_TRUNCATION, "9"),
            Element::new(airsync::OPTIONS).text_child(airsync::TRUNCATION, "10"),
            Element::new(airsync::OPTIONS)
                .text_child(airsync::MIME_SUPPORT, "1")
                .text_child(airsync::MIME_SUPPORT, "1"),
        ];
        for options in bad {
            assert!(BodyOptions::parse(&options).is_err(), "{options:?}");
        }
    }

    fn policy(settings: &[(&str, Value)]) -> MailPolicy {
        let mut p = Policy::default();
        for (name, value) in settings {
            p.set(name, value.clone()).expect("a policy element");
        }
        MailPolicy::of(&p)
    }

    fn wanted(kind: u8, truncation_size: Option<u32>) -> BodyPreference {
        BodyPreference {
            kind,
            truncation_size,
            all_or_none: false,
            preview: None,
        }
    }

    #[test]
    fn the_default_policy_changes_nothing() {
        let asked = MailOptions {
            filter: FilterType::All,
            body: BodyOptions {
                preferences: vec![wanted(BODY_HTML, None), wanted(BODY_MIME, Some(9))],
                mime_support: 2,
                ..BodyOptions::default()
            },
        };
        let default = policy(&[]);
        assert_eq!(default.enforce(asked.clone()), asked);
        assert_eq!(default.attachment(u64::MAX), Ok(()));
    }

    #[test]
    fn max_email_age_filter_caps_wider_windows_only() {
        let p = policy(&[("MaxEmailAgeFilter", Value::Int(3))]);
        let filter = |f| {
            p.enforce(MailOptions {
                filter: FilterType::try_from(f).unwrap(),
                ..MailOptions::default()
            })
            .filter
            .number()
        };
        // 0 (all) and 8 (no window for mail) and 4-7 are wider than a week; 1-3 are not.
        assert_eq!(
            [0, 1, 2, 3, 4, 5, 6, 7, 8].map(filter),
            [3, 1, 2, 3, 3, 3, 3, 3, 3]
        );
    }

    #[test]
    fn truncation_limits_cap_each_body_type() {
        let p = policy(&[
            ("MaxEmailBodyTruncationSize", Value::Int(2)),
            ("MaxEmailHTMLBodyTruncationSize", Value::Int(0)),
        ]);
        let asked = BodyOptions {
            preferences: vec![
                wanted(BODY_HTML, None),
                wanted(BODY_PLAIN, Some(100)),
                wanted(BODY_MIME, Some(100_000)),
            ],
            truncation: None,
            mime_truncation: Some(4096),
            ..BodyOptions::default()
        };
        let body = p
            .enforce(MailOptions {
                filter: FilterType::All,
                body: asked,
            })
            .body;
        let limits: Vec<_> = body
            .preferences
            .iter()
            .map(|p| (p.kind, p.truncation_size))
            .collect();
        // HTML: headers only; plain keeps its smaller size; MIME gets the plain limit.
        assert_eq!(
            limits,
            [
                (BODY_HTML, Some(0)),
                (BODY_PLAIN, Some(100)),
                (BODY_MIME, Some(2048))
            ]
        );
        assert_eq!(
            (body.truncation, body.mime_truncation),
            (Some(2048), Some(2048))
        );
    }

    #[test]
    fn html_off_asks_for_plain_text_and_attachments_off_hides_them() {
        let p = policy(&[
            ("AllowHTMLEmail", Value::Int(0)),
            ("AttachmentsEnabled", Value::Int(0)),
        ]);
        let body = |preferences| {
            p.enforce(MailOptions {
                filter: FilterType::All,
                body: BodyOptions {
                    preferences,
                    ..BodyOptions::default()
                },
            })
            .body
        };
        let only_html = body(vec![wanted(BODY_HTML, Some(500))]);
        assert_eq!(only_html.preferences, [wanted(BODY_PLAIN, Some(500))]);
        assert!(!only_html.attachments.enabled);
        let both = body(vec![wanted(BODY_HTML, None), wanted(BODY_PLAIN, Some(7))]);
        assert_eq!(both.preferences, [wanted(BODY_PLAIN, None)]);
        assert_eq!(p.attachment(1), Err(AttachmentRefusal::Disabled));
    }

    #[test]
    fn body_part_preference_is_html_only() {
        let part = |kind: &str| {
            Element::new(airsync::OPTIONS).child(
                Element::new(airsyncbase::BODY_PART_PREFERENCE)
                    .text_child(airsyncbase::TYPE, kind)
                    .text_child(airsyncbase::TRUNCATION_SIZE, "100")
                    .text_child(airsyncbase::ALL_OR_NONE, "1")
                    .text_child(airsyncbase::PREVIEW, "20"),
            )
        };
        let parsed = BodyOptions::parse(&part("2")).expect("valid");
        assert_eq!(
            parsed.part_preference,
            Some(BodyPreference {
                kind: BODY_HTML,
                truncation_size: Some(100),
                all_or_none: true,
                preview: Some(20),
            })
        );
        assert!(parsed.preferences.is_empty());
        assert_eq!(
            BodyOptions::parse(&part("1")),
            Err(OptionsError::PartType(1))
        );
        assert!(BodyOptions::parse(&part("5")).is_err());
        let twice = part("2").child(
            Element::new(airsyncbase::BODY_PART_PREFERENCE).text_child(airsyncbase::TYPE, "2"),
        );
        assert!(BodyOptions::parse(&twice).is_err());
    }

    #[test]
    fn rtf_is_answered_with_html_and_the_body_part_follows_the_html_policy() {
        let asked = |preferences, part| MailOptions {
            filter: FilterType::All,
            body: BodyOptions {
                preferences,
                part_preference: part,
                ..BodyOptions::default()
            },
        };
        let open = policy(&[("MaxEmailHTMLBodyTruncationSize", Value::Int(1))]);
        let body = open
            .enforce(asked(
                vec![wanted(BODY_RTF, Some(50)), wanted(BODY_PLAIN, None)],
                Some(wanted(BODY_HTML, None)),
            ))
            .body;
        // RTF in its place as HTML, first; the HTML limit caps it and the BodyPart.
        assert_eq!(
            body.preferences,
            [wanted(BODY_HTML, Some(50)), wanted(BODY_PLAIN, None)]
        );
        assert_eq!(body.part_preference, Some(wanted(BODY_HTML, Some(1024))));
        // An explicit HTML preference listed first wins over the RTF one.
        let body = open
            .enforce(asked(
                vec![wanted(BODY_HTML, Some(7)), wanted(BODY_RTF, Some(50))],
                None,
            ))
            .body;
        assert_eq!(body.preferences, [wanted(BODY_HTML, Some(7))]);
        // HTML off: RTF becomes plain text, and no BodyPart.
        let closed = policy(&[("AllowHTMLEmail", Value::Int(0))]);
        let body = closed
            .enforce(asked(
                vec![wanted(BODY_RTF, None)],
                Some(wanted(BODY_HTML, None)),
            ))
            .body;
        assert_eq!(body.preferences, [wanted(BODY_PLAIN, None)]);
        assert_eq!(body.part_preference, None);
    }

    #[test]
    fn max_attachment_size_refuses_larger_attachments() {
        let p = policy(&[("MaxAttachmentSize", Value::Int(1000))]);
        assert_eq!(p.attachment(1000), Ok(()));
        assert_eq!(p.attachment(1001), Err(AttachmentRefusal::TooLarge));
        let unset = policy(&[("MaxAttachmentSize", Value::Unset)]);
        assert_eq!(unset.attachment(u64::MAX), Ok(()));
        // The body options carry the limit, for the MIME of messages with attachments.
        let body = p.enforce(MailOptions::default()).body;
        assert_eq!(
            body.attachments.check(1001),
            Err(AttachmentRefusal::TooLarge)
        );
    }
}
