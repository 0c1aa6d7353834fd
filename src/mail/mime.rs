//! Reading RFC 5322 / MIME messages with mail-parser: the metadata easd keeps for every
//! message ([`parse`]), the body as plain text or HTML ([`body`]), and attachments
//! ([`attachment`]).
//!
//! Every function here accepts arbitrary bytes: broken MIME, undeclared 8-bit headers, or
//! no message at all give empty fields, never a panic. mail-parser decodes charsets,
//! encoded words and transfer encodings.

use std::borrow::Cow;
use std::collections::HashSet;
use std::ops::Range;

use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::{Address, Message, MessageParser, MessagePart, MimeHeaders, PartType};
use sha2::{Digest, Sha256};

use super::skeleton::{Skeleton, Text};
use super::{address, meeting};
use crate::store::model::{AttachmentMeta, MeetingMeta, MessageMeta};
use crate::store::search_index;

/// [MS-ASAIRS] 2.2.2.35: a Preview holds at most 255 characters.
const PREVIEW_CHARS: usize = 255;
/// How much body text feeds the search index.
const SEARCH_BODY_BYTES: usize = 16 * 1024;
const MAX_SEARCH_TERMS: usize = 1_000;
/// Windows code page of UTF-8, the answer when the charset is absent or unknown.
const CP_UTF8: u32 = 65001;
/// Seconds between 1601-01-01 (the FILETIME epoch) and 1970-01-01.
const FILETIME_EPOCH_OFFSET: i64 = 11_644_473_600;

/// The form of a message body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Plain,
    Html,
}

/// Everything easd stores about a message, parsed from its raw bytes. `received` is when
/// easd stored it (Unix seconds).
pub fn parse(raw: &[u8], received: i64) -> MessageMeta {
    parse_reading(raw, received, &mut |_| {})
}

/// [`parse`], telling `done` which ranges of `raw` a large message's walk has finished
/// reading (see [`Skeleton::reading`]): a caller parsing a file mapping gives those pages
/// back as it goes, so a large message never sits in memory whole.
pub fn parse_reading(raw: &[u8], received: i64, done: &mut dyn FnMut(Range<usize>)) -> MessageMeta {
    let mut meta = MessageMeta {
        size: raw.len() as u64,
        received,
        importance: 1,
        message_class: "IPM.Note".to_owned(),
        native_body: 1,
        internet_cpid: CP_UTF8,
        ..MessageMeta::default()
    };
    with_structure(raw, Text::Trim, done, |message, skeleton| {
        fill(&mut meta, message, skeleton)
    });
    meta.conversation_id = conversation_id(&meta);
    meta.conversation_index = conversation_index(&meta);
    meta
}

/// The body as plain text or HTML, converted from the other form when the message lacks
/// the one asked for; empty when the message has no text at all.
pub fn body(raw: &[u8], kind: BodyKind) -> String {
    with_structure(raw, Text::Whole, &mut |_| {}, |message, _| match kind {
        BodyKind::Plain => plain_body(message),
        BodyKind::Html => html_body(message),
    })
    .unwrap_or_default()
}

/// The content type and decoded bytes of the attachment at `part` (an
/// [`AttachmentMeta::part`]); `None` when that part is not an attachment.
pub fn attachment(raw: &[u8], part: u32) -> Option<(String, Vec<u8>)> {
    with_structure(raw, Text::Whole, &mut |_| {}, |message, skeleton| {
        if !message.attachments.contains(&part) {
            return None;
        }
        let part = message.part(part)?;
        let bytes = match skeleton.and_then(|s| s.cut_for(part)) {
            // Left out of the skeleton: decoded from its place in the message, alone.
            Some(cut) => MessageParser::default()
                .parse(&raw[cut.part.clone()])?
                .parts
                .first()?
                .contents()
                .to_vec(),
            None => part_bytes(part)?.into_owned(),
        };
        Some((content_type(part), bytes))
    })
    .flatten()
}

/// Parses `raw` for its structure, text and attachment list: a large message by its
/// [`Skeleton`] (its large attachments' bodies left out, so they are not decoded), handed
/// to `f` with it; any other message whole, as [`with_message`] does.
fn with_structure<T>(
    raw: &[u8],
    text: Text,
    done: &mut dyn FnMut(Range<usize>),
    f: impl FnOnce(&Message<'_>, Option<&Skeleton>) -> T,
) -> Option<T> {
    if let Some(skeleton) = Skeleton::reading(raw, text, done)
        && with_message(&skeleton.bytes, |m| skeleton.matches(m)) == Some(true)
    {
        return with_message(&skeleton.bytes, |m| f(m, Some(&skeleton)));
    }
    with_message(raw, |m| f(m, None))
}

/// Parses `raw` and hands the message to `f`; `None` for empty input.
///
/// Two repairs come first, the same for every caller so that part numbers agree: header
/// lines that are not UTF-8 (raw 8-bit headers, against RFC 5322) are decoded with the
/// message's declared charset, else as Windows-1252; and bytes with no header section at
/// all are read as a plain-text body.
pub(super) fn with_message<T>(raw: &[u8], f: impl FnOnce(&Message<'_>) -> T) -> Option<T> {
    if raw.is_empty() {
        return None;
    }
    let raw = transcode_headers(raw);
    let parser = MessageParser::default();
    if let Some(message) = parser.parse(raw.as_ref()) {
        return Some(f(&message));
    }
    let headerless = [&b"\r\n"[..], raw.as_ref()].concat();
    parser.parse(&headerless).map(|message| f(&message))
}

/// The header section (up to the first empty line) with non-UTF-8 lines decoded.
fn transcode_headers(raw: &[u8]) -> Cow<'_, [u8]> {
    let end = header_end(raw);
    if std::str::from_utf8(&raw[..end]).is_ok() {
        return Cow::Borrowed(raw);
    }
    let decode = declared_charset(&raw[..end])
        .and_then(|cs| charset_decoder(cs.as_bytes()))
        .or_else(|| charset_decoder(b"windows-1252"));
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 8);
    for line in raw[..end].split_inclusive(|&b| b == b'\n') {
        match (std::str::from_utf8(line), decode) {
            (Err(_), Some(decode)) => out.extend_from_slice(decode(line).as_bytes()),
            _ => out.extend_from_slice(line),
        }
    }
    out.extend_from_slice(&raw[end..]);
    Cow::Owned(out)
}

/// Offset just past the header section's terminating empty line, or the input length.
pub(crate) fn header_end(raw: &[u8]) -> usize {
    let mut offset = 0;
    for line in raw.split_inclusive(|&b| b == b'\n') {
        offset += line.len();
        if line == b"\n" || line == b"\r\n" {
            return offset;
        }
    }
    raw.len()
}

/// The first `charset=` parameter in a header section.
fn declared_charset(headers: &[u8]) -> Option<String> {
    let lower = headers.to_ascii_lowercase();
    let at = lower.windows(8).position(|w| w == b"charset=")? + 8;
    let value: String = lower[at..]
        .iter()
        .map(|&b| b as char)
        .skip_while(|&c| c == '"')
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
        .collect();
    (!value.is_empty()).then_some(value)
}

fn fill(meta: &mut MessageMeta, message: &Message<'_>, skeleton: Option<&Skeleton>) {
    meta.date = message
        .date()
        .filter(|d| d.is_valid())
        .map(|d| d.to_timestamp());
    meta.from = address_list(message.from());
    meta.to = address_list(message.to());
    meta.cc = address_list(message.cc());
    meta.bcc = address_list(message.bcc());
    meta.reply_to = address_list(message.reply_to());
    meta.display_to = display_names(message.to());
    meta.subject = message.subject().unwrap_or_default().trim().to_owned();
    meta.thread_topic = thread_topic(&meta.subject).to_owned();
    meta.message_id = message.message_id().map(strip_brackets);
    meta.in_reply_to = message
        .in_reply_to()
        .as_text_list()
        .and_then(|ids| ids.first().map(|id| strip_brackets(id)))
        .or_else(|| message.in_reply_to().as_text().map(strip_brackets));
    meta.references = references(message);
    meta.importance = importance(message);
    let (class, meeting) = classify(message);
    meta.message_class = class.to_owned();
    meta.meeting = meeting.map(Box::new);
    meta.has_text =
        body_parts(message, &message.text_body).any(|p| matches!(p.body, PartType::Text(_)));
    meta.has_html =
        body_parts(message, &message.html_body).any(|p| matches!(p.body, PartType::Html(_)));
    meta.native_body = if meta.has_html { 2 } else { 1 };
    meta.internet_cpid = internet_cpid(message);
    meta.attachments = attachments_of(message, skeleton);
    let text = plain_body(message);
    meta.preview = preview(&text);
    meta.search_terms = search_terms(meta, message, &text);
}

// ---- addresses -------------------------------------------------------------------------

fn address_list(address: Option<&Address<'_>>) -> String {
    let Some(address) = address else {
        return String::new();
    };
    address
        .iter()
        .filter_map(
            |addr| match (non_empty(addr.name()), non_empty(addr.address())) {
                (Some(name), Some(email)) => {
                    Some(format!("\"{}\" <{email}>", address::quote(name)))
                }
                (None, Some(email)) => Some(email.to_owned()),
                (Some(name), None) => Some(format!("\"{}\"", address::quote(name))),
                (None, None) => None,
            },
        )
        .collect::<Vec<_>>()
        .join(", ")
}

/// [MS-ASEMAIL] 2.2.2.29 DisplayTo: the display names of the To recipients, `; `-separated;
/// the address stands in for a recipient without a name.
fn display_names(address: Option<&Address<'_>>) -> String {
    let Some(address) = address else {
        return String::new();
    };
    address
        .iter()
        .filter_map(|addr| non_empty(addr.name()).or_else(|| non_empty(addr.address())))
        .collect::<Vec<_>>()
        .join("; ")
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

// ---- threading -------------------------------------------------------------------------

/// [MS-ASEMAIL] 2.2.2.77 ThreadTopic: the subject without any run of reply and forward
/// prefixes (`Re:`, `Fw:`, `Fwd:`, `AW:`, `WG:`, also as `Re[2]:`).
fn thread_topic(subject: &str) -> &str {
    let mut rest = subject.trim_start();
    while let Some(stripped) = strip_prefix(rest) {
        rest = stripped.trim_start();
    }
    rest.trim_end()
}

fn strip_prefix(subject: &str) -> Option<&str> {
    const PREFIXES: [&str; 5] = ["re", "fwd", "fw", "aw", "wg"];
    let word_len = subject.find(|c: char| !c.is_ascii_alphabetic())?;
    let (word, rest) = subject.split_at(word_len);
    if !PREFIXES.iter().any(|p| word.eq_ignore_ascii_case(p)) {
        return None;
    }
    let rest = rest.trim_start();
    let rest = match rest.strip_prefix('[') {
        Some(counted) => {
            let (digits, after) = counted.split_once(']')?;
            digits
                .bytes()
                .all(|b| b.is_ascii_digit())
                .then_some(after)?
        }
        None => rest,
    };
    rest.trim_start().strip_prefix(':')
}

fn strip_brackets(id: &str) -> String {
    id.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned()
}

fn references(message: &Message<'_>) -> Vec<String> {
    let value = message.references();
    let ids: Vec<String> = match value.as_text_list() {
        Some(ids) => ids.iter().map(|id| strip_brackets(id)).collect(),
        None => value.as_text().map(strip_brackets).into_iter().collect(),
    };
    ids.into_iter().filter(|id| !id.is_empty()).collect()
}

/// 16 bytes naming the thread: SHA-256 over the root's Message-ID (the first of
/// References, else In-Reply-To, else the message's own Message-ID), else the ThreadTopic.
fn conversation_id(meta: &MessageMeta) -> Vec<u8> {
    let root = meta
        .references
        .first()
        .or(meta.in_reply_to.as_ref())
        .or(meta.message_id.as_ref())
        .unwrap_or(&meta.thread_topic);
    Sha256::digest(root.as_bytes())[..16].to_vec()
}

/// [MS-ASCON] 2.2.2.4 ConversationIndex: a 22-byte header (reserved byte 0x01, five bytes
/// of FILETIME, a 16-byte GUID, here the ConversationId), then five bytes per reply level
/// (one per References entry). The child blocks are derived from the referenced IDs so the
/// value is deterministic; they do not encode time deltas as Outlook's do.
fn conversation_index(meta: &MessageMeta) -> Vec<u8> {
    let when = meta.date.unwrap_or(meta.received);
    let filetime = when
        .saturating_add(FILETIME_EPOCH_OFFSET)
        .saturating_mul(10_000_000)
        .max(0)
        .to_be_bytes();
    let mut index = Vec::with_capacity(22 + 5 * meta.references.len());
    index.push(0x01);
    index.extend_from_slice(&filetime[..5]);
    index.extend_from_slice(&meta.conversation_id);
    for reference in &meta.references {
        index.extend_from_slice(&Sha256::digest(reference.as_bytes())[..5]);
    }
    index
}

// ---- classification --------------------------------------------------------------------

/// [MS-ASEMAIL] 2.2.2.38 Importance from `Importance` (RFC 2156) or `X-Priority`.
fn importance(message: &Message<'_>) -> u8 {
    if let Some(value) = message.header_raw("Importance") {
        match value.trim().to_ascii_lowercase().as_str() {
            "high" => return 2,
            "low" => return 0,
            "normal" => return 1,
            _ => {}
        }
    }
    let priority = message
        .header_raw("X-Priority")
        .and_then(|v| v.trim().chars().next());
    match priority {
        Some('1' | '2') => 2,
        Some('4' | '5') => 0,
        _ => 1,
    }
}

/// [MS-ASEMAIL] MessageClass for the kinds of message easd tells apart and, for a
/// meeting message, its MeetingRequest: the first text/calendar part (inline or an
/// attachment) read as iTIP (`mail::meeting`). A calendar that does not read, and a TNEF
/// attachment (winmail.dat, whose Outlook invitation easd does not decode), leave the
/// message plain mail, with a log line.
/// A message's first text/calendar part (inline or an attachment): its text and its
/// Content-Type `method=` parameter.
fn calendar_part<'m>(message: &'m Message<'_>) -> Option<(&'m str, Option<&'m str>)> {
    let part = message
        .parts
        .iter()
        .find(|p| p.is_content_type("text", "calendar"))?;
    let method = part.content_type().and_then(|ct| ct.attribute("method"));
    Some((part.text_contents().unwrap_or_default(), method))
}

/// The text and `method=` parameter of the calendar part of `raw`, a message `parse` found
/// to be a meeting message (read again for what the calendar does with it).
pub fn calendar(raw: &[u8]) -> Option<(String, Option<String>)> {
    with_message(raw, |message| {
        calendar_part(message).map(|(text, method)| (text.to_owned(), method.map(str::to_owned)))
    })
    .flatten()
}

fn classify(message: &Message<'_>) -> (&'static str, Option<MeetingMeta>) {
    let root = message.root_part();
    let is_root = |kind: &str, sub: &str| root.is_content_type(kind, sub);
    if is_root("multipart", "signed") {
        return ("IPM.Note.SMIME.MultipartSigned", None);
    }
    if is_root("application", "pkcs7-mime") || is_root("application", "x-pkcs7-mime") {
        return ("IPM.Note.SMIME", None);
    }
    let message_id = message.message_id().unwrap_or_default();
    if let Some((text, method)) = calendar_part(message) {
        match meeting::read(text, method) {
            Ok(Some(m)) => return (m.class, Some(m.meta)),
            Ok(None) => {}
            Err(e) => tracing::warn!(
                message_id,
                error = %e,
                "the message's iCalendar part does not read: kept as plain mail"
            ),
        }
    } else if message.parts.iter().any(|p| {
        p.is_content_type("application", "ms-tnef")
            || p.is_content_type("application", "vnd.ms-tnef")
    }) {
        tracing::info!(
            message_id,
            "a TNEF part (winmail.dat): kept as plain mail, an invitation in it is not read"
        );
    }
    ("IPM.Note", None)
}

/// [MS-ASEMAIL] InternetCPID: the Windows code page of the main body's charset.
fn internet_cpid(message: &Message<'_>) -> u32 {
    let charset = body_parts(message, &message.text_body)
        .chain(body_parts(message, &message.html_body))
        .find_map(|p| p.content_type()?.attribute("charset"));
    charset.map_or(CP_UTF8, code_page)
}

/// Charset names to Windows code pages (the table of Outlook's `InternetCodepage`).
fn code_page(charset: &str) -> u32 {
    let charset = charset.trim().to_ascii_lowercase();
    if let Some(n) = charset.strip_prefix("windows-125")
        && let Ok(digit @ 0..=8) = n.parse::<u32>()
    {
        return 1250 + digit;
    }
    if let Some(n) = charset.strip_prefix("iso-8859-")
        && let Ok(part @ (1..=9 | 13 | 15)) = n.parse::<u32>()
    {
        return 28590 + part;
    }
    match charset.as_str() {
        "latin1" => 28591,
        "cp1252" => 1252,
        "us-ascii" | "ascii" => 20127,
        "koi8-r" => 20866,
        "koi8-u" => 21866,
        "shift_jis" | "shift-jis" | "sjis" => 932,
        "euc-jp" => 51932,
        "iso-2022-jp" => 50220,
        "gb2312" | "gbk" => 936,
        "big5" => 950,
        "ks_c_5601-1987" => 949,
        "euc-kr" => 51949,
        "utf-7" => 65000,
        _ => CP_UTF8,
    }
}

// ---- attachments -----------------------------------------------------------------------

pub(super) fn attachments(message: &Message<'_>) -> Vec<AttachmentMeta> {
    attachments_of(message, None)
}

/// The attachments; a part the skeleton left out has the size counted when it was cut.
fn attachments_of(message: &Message<'_>, skeleton: Option<&Skeleton>) -> Vec<AttachmentMeta> {
    let html = body_parts(message, &message.html_body)
        .filter_map(|p| match &p.body {
            PartType::Html(html) => Some(html.to_ascii_lowercase()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .concat();
    message
        .attachments
        .iter()
        .enumerate()
        .filter_map(|(ordinal, &id)| {
            let part = message.part(id)?;
            let size = skeleton.and_then(|s| s.cut_for(part)).map(|c| c.size);
            Some(attachment_meta(id, ordinal + 1, part, &html, size))
        })
        .collect()
}

fn attachment_meta(
    id: u32,
    ordinal: usize,
    part: &MessagePart<'_>,
    html: &str,
    size: Option<u64>,
) -> AttachmentMeta {
    let content_type = content_type(part);
    let name = non_empty(part.attachment_name()).map_or_else(
        || format!("attachment-{ordinal}.{}", extension(&content_type)),
        str::to_owned,
    );
    let content_id = part
        .content_id()
        .map(strip_brackets)
        .filter(|cid| !cid.is_empty());
    let disposition_inline = part.content_disposition().is_some_and(|d| d.is_inline());
    let referenced = content_id
        .as_ref()
        .is_some_and(|cid| html.contains(&format!("cid:{}", cid.to_ascii_lowercase())));
    AttachmentMeta {
        part: id,
        name,
        size: size.unwrap_or_else(|| part_bytes(part).map_or(0, |b| b.len() as u64)),
        inline: (disposition_inline && content_id.is_some()) || referenced,
        content_type,
        content_id,
    }
}

fn content_type(part: &MessagePart<'_>) -> String {
    match part.content_type() {
        Some(ct) => match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
            None => ct.ctype().to_ascii_lowercase(),
        },
        None if part.is_message() => "message/rfc822".to_owned(),
        None if part.is_text() => "text/plain".to_owned(),
        None => "application/octet-stream".to_owned(),
    }
}

fn extension(content_type: &str) -> &'static str {
    match content_type {
        "application/pdf" => "pdf",
        "image/jpeg" | "image/jpg" => "jpg",
        "image/png" => "png",
        "image/gif" => "gif",
        "text/plain" => "txt",
        "text/html" => "html",
        "text/calendar" => "ics",
        "message/rfc822" => "eml",
        "application/zip" => "zip",
        "application/pkcs7-signature" | "application/x-pkcs7-signature" => "p7s",
        "application/pkcs7-mime" | "application/x-pkcs7-mime" => "p7m",
        _ => "bin",
    }
}

/// The decoded content of a leaf part; a nested message is its raw RFC 5322 bytes.
fn part_bytes<'a>(part: &'a MessagePart<'_>) -> Option<Cow<'a, [u8]>> {
    match &part.body {
        PartType::Text(text) | PartType::Html(text) => Some(Cow::Borrowed(text.as_bytes())),
        PartType::Binary(bytes) | PartType::InlineBinary(bytes) => Some(Cow::Borrowed(bytes)),
        PartType::Message(nested) => Some(Cow::Borrowed(nested.raw_message())),
        PartType::Multipart(_) => None,
    }
}

// ---- bodies ----------------------------------------------------------------------------

fn body_parts<'a, 'x>(
    message: &'a Message<'x>,
    ids: &'a [u32],
) -> impl Iterator<Item = &'a MessagePart<'x>> + 'a {
    ids.iter().filter_map(|&id| message.part(id))
}

/// The text/plain alternative; else the HTML one converted to text.
pub(super) fn plain_body(message: &Message<'_>) -> String {
    body_parts(message, &message.text_body)
        .filter_map(|part| match &part.body {
            PartType::Text(text) => Some(text.to_string()),
            PartType::Html(html) => Some(html_to_text(html)),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The text/html alternative; else the plain text as a minimal HTML document.
pub(super) fn html_body(message: &Message<'_>) -> String {
    let parts: Vec<_> = body_parts(message, &message.html_body)
        .filter(|p| p.is_text())
        .collect();
    if parts.iter().any(|p| p.is_text_html()) {
        parts
            .iter()
            .filter_map(|part| match &part.body {
                PartType::Html(html) => Some(html.to_string()),
                PartType::Text(text) => Some(text_fragment_to_html(text)),
                _ => None,
            })
            .collect()
    } else {
        text_to_html(&plain_body(message))
    }
}

/// Plain text as HTML: escaped, one `<br>` per line, in a minimal document.
fn text_to_html(text: &str) -> String {
    if text.is_empty() {
        return String::new();
    }
    format!("<html><body>{}</body></html>", text_fragment_to_html(text))
}

fn text_fragment_to_html(text: &str) -> String {
    text.lines()
        .map(escape_html)
        .collect::<Vec<_>>()
        .join("<br>\n")
}

pub(super) fn escape_html(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for c in line.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// HTML as plain text: tags, comments, scripts and styles dropped, entities decoded, block
/// elements on their own lines, runs of blank lines collapsed to one.
pub(crate) fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        push_text(&mut out, &rest[..lt]);
        rest = skip_markup(&mut out, &rest[lt..]);
    }
    push_text(&mut out, rest);
    tidy_lines(&out)
}

/// Handles the markup at the start of `rest` (which begins with `<`); returns what follows.
fn skip_markup<'a>(out: &mut String, rest: &'a str) -> &'a str {
    if let Some(comment) = rest.strip_prefix("<!--") {
        return comment.find("-->").map_or("", |end| &comment[end + 3..]);
    }
    let Some(gt) = rest.find('>') else {
        return "";
    };
    let tag = &rest[1..gt];
    let after = &rest[gt + 1..];
    let closing = tag.starts_with('/');
    let name: String = tag
        .trim_start_matches('/')
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    if !closing && matches!(name.as_str(), "script" | "style" | "head" | "title") {
        return skip_element(after, &name);
    }
    out.push_str(block_break(&name));
    after
}

/// Skips to just past `</name>` (ASCII case-insensitive), or to the end.
fn skip_element<'a>(rest: &'a str, name: &str) -> &'a str {
    let close = format!("</{name}");
    let lower = rest.to_ascii_lowercase();
    lower
        .find(&close)
        .and_then(|at| rest[at..].find('>').map(|gt| &rest[at + gt + 1..]))
        .unwrap_or("")
}

/// The line break an element stands for: a blank line around paragraphs, a newline for
/// other block elements, nothing for inline ones.
fn block_break(name: &str) -> &'static str {
    match name {
        "p" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "blockquote" | "pre" | "table" | "ul"
        | "ol" | "hr" => "\n\n",
        "br" | "div" | "li" | "tr" | "dd" | "dt" | "section" | "article" | "header" | "footer" => {
            "\n"
        }
        _ => "",
    }
}

/// Appends text content: whitespace collapsed as HTML renders it, entities decoded.
fn push_text(out: &mut String, text: &str) {
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c == '&'
            && let Some((decoded, len)) = decode_entity(rest)
        {
            out.push(decoded);
            rest = &rest[len..];
            continue;
        }
        if !c.is_whitespace() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with([' ', '\n']) {
            out.push(' ');
        }
        rest = &rest[c.len_utf8()..];
    }
}

/// Decodes the entity at the start of `text`: the character and the length consumed.
fn decode_entity(text: &str) -> Option<(char, usize)> {
    let end = text.bytes().take(12).position(|b| b == b';')?;
    let name = &text[1..end];
    let decoded = if let Some(number) = name.strip_prefix('#') {
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => number.parse().ok()?,
        };
        char::from_u32(code)?
    } else {
        named_entity(name)?
    };
    Some((decoded, end + 1))
}

fn named_entity(name: &str) -> Option<char> {
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "copy" => '©',
        "reg" => '®',
        "euro" => '€',
        "hellip" => '…',
        "mdash" => '—',
        "ndash" => '–',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "auml" => 'ä',
        "ouml" => 'ö',
        "uuml" => 'ü',
        "Auml" => 'Ä',
        "Ouml" => 'Ö',
        "Uuml" => 'Ü',
        "szlig" => 'ß',
        "eacute" => 'é',
        "egrave" => 'è',
        "agrave" => 'à',
        _ => return None,
    })
}

/// Trims every line and keeps at most one blank line in a row.
fn tidy_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0;
    for line in text.lines().map(str::trim) {
        if line.is_empty() {
            blank_run += 1;
            if blank_run > 1 || out.is_empty() {
                continue;
            }
        } else {
            blank_run = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim_end().to_owned()
}

/// [MS-ASAIRS] 2.2.2.35 Preview: the start of the plain text, whitespace collapsed.
fn preview(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(PREVIEW_CHARS)
        .collect()
}

// ---- search ----------------------------------------------------------------------------

fn search_terms(meta: &MessageMeta, message: &Message<'_>, text: &str) -> Vec<String> {
    let mut terms = Terms::default();
    terms.add_words(&meta.subject);
    for address in [message.from(), message.to(), message.cc()]
        .into_iter()
        .flatten()
    {
        for addr in address.iter() {
            terms.add_words(addr.name().unwrap_or_default());
            if let Some(email) = addr.address() {
                if email
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-_+@".contains(&b))
                {
                    terms.add(email.to_lowercase());
                }
                terms.add_words(email);
            }
        }
    }
    terms.add_words(prefix_at_char_boundary(text, SEARCH_BODY_BYTES));
    terms.list
}

#[derive(Default)]
struct Terms {
    seen: HashSet<String>,
    list: Vec<String>,
}

impl Terms {
    fn add_words(&mut self, text: &str) {
        for word in search_index::words(text) {
            self.add(word);
        }
    }

    fn add(&mut self, term: String) {
        if self.list.len() < MAX_SEARCH_TERMS && self.seen.insert(term.clone()) {
            self.list.push(term);
        }
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a char boundary.
pub(crate) fn prefix_at_char_boundary(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECEIVED: i64 = 1_800_000_000;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/fixtures/mail/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn sha16(text: &str) -> Vec<u8> {
        Sha256::digest(text.as_bytes())[..16].to_vec()
    }

    fn strings(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn plain_ascii_every_field() {
        let raw = fixture("plain.eml");
        let meta = parse(&raw, RECEIVED);
        let conversation_id = sha16("plain-1@example.com");
        let mut index = vec![0x01];
        index.extend_from_slice(&conversation_index(&meta)[1..6]);
        index.extend_from_slice(&conversation_id);
        let expected = MessageMeta {
            size: raw.len() as u64,
            received: RECEIVED,
            date: Some(1_795_508_100),
            from: r#""Alice Example" <alice@example.com>"#.into(),
            to: r#""Bob Builder" <bob@example.org>, carol@example.net"#.into(),
            cc: r#""Dave, Jr." <dave@example.org>"#.into(),
            bcc: String::new(),
            reply_to: "replies@example.com".into(),
            display_to: "Bob Builder; carol@example.net".into(),
            subject: "Quarterly report".into(),
            thread_topic: "Quarterly report".into(),
            message_id: Some("plain-1@example.com".into()),
            in_reply_to: None,
            references: vec![],
            importance: 2,
            message_class: "IPM.Note".into(),
            native_body: 1,
            has_text: true,
            has_html: false,
            internet_cpid: 20127,
            attachments: vec![],
            preview: "Hello Bob, the quarterly report is attached. Regards, Alice".into(),
            conversation_id,
            conversation_index: index,
            search_terms: strings(&[
                "quarterly",
                "report",
                "alice",
                "example",
                "alice@example.com",
                "com",
                "bob",
                "builder",
                "bob@example.org",
                "org",
                "carol@example.net",
                "carol",
                "net",
                "dave",
                "jr",
                "dave@example.org",
                "hello",
                "the",
                "is",
                "attached",
                "regards",
            ]),
            meeting: None,
        };
        assert_eq!(meta, expected);
        // FILETIME of the Date header, big-endian, top five bytes.
        let filetime = (1_795_508_100 + FILETIME_EPOCH_OFFSET) * 10_000_000;
        assert_eq!(meta.conversation_index[1..6], filetime.to_be_bytes()[..5]);
    }

    #[test]
    fn reply_every_field() {
        let raw = fixture("reply.eml");
        let meta = parse(&raw, RECEIVED);
        assert_eq!(meta.size, raw.len() as u64);
        assert_eq!(meta.received, RECEIVED);
        assert_eq!(meta.date, Some(1_796_046_300));
        assert_eq!(meta.from, r#""Bob Builder" <bob@example.org>"#);
        assert_eq!(meta.to, r#""Alice Example" <alice@example.com>"#);
        assert_eq!(
            (meta.cc.as_str(), meta.bcc.as_str(), meta.reply_to.as_str()),
            ("", "", "")
        );
        assert_eq!(meta.display_to, "Alice Example");
        assert_eq!(meta.subject, "Re: AW: RE: Fwd: Quarterly report");
        assert_eq!(meta.thread_topic, "Quarterly report");
        assert_eq!(meta.message_id.as_deref(), Some("reply-3@example.org"));
        assert_eq!(meta.in_reply_to.as_deref(), Some("reply-2@example.com"));
        assert_eq!(
            meta.references,
            strings(&[
                "plain-1@example.com",
                "reply-1@example.org",
                "reply-2@example.com"
            ])
        );
        assert_eq!(meta.importance, 2, "X-Priority: 1");
        assert_eq!(meta.message_class, "IPM.Note");
        assert_eq!(
            (meta.native_body, meta.has_text, meta.has_html),
            (1, true, false)
        );
        assert_eq!(meta.internet_cpid, 20866, "koi8-r");
        assert!(meta.attachments.is_empty());
        assert_eq!(meta.preview, "Thanks, looks good.");
        // Same thread as plain.eml, the root.
        assert_eq!(meta.conversation_id, sha16("plain-1@example.com"));
        assert_eq!(
            meta.conversation_id,
            parse(&fixture("plain.eml"), 0).conversation_id
        );
        assert_eq!(meta.conversation_index.len(), 22 + 5 * 3);
        assert_eq!(meta.conversation_index[6..22], meta.conversation_id[..]);
        assert_eq!(
            meta.search_terms[..4],
            strings(&["re", "aw", "fwd", "quarterly"])[..]
        );
        assert!(meta.search_terms.contains(&"thanks".to_owned()));
    }

    #[test]
    fn mixed_with_attachments_every_field() {
        let raw = fixture("mixed.eml");
        let meta = parse(&raw, RECEIVED);
        assert_eq!(meta.date, Some(1_795_793_400));
        assert_eq!(meta.from, r#""Alice Example" <alice@example.com>"#);
        assert_eq!(meta.to, r#""Bob Builder" <bob@example.org>"#);
        assert_eq!(meta.display_to, "Bob Builder");
        assert_eq!(meta.subject, "Invoice with logo");
        assert_eq!(meta.thread_topic, "Invoice with logo");
        assert_eq!(meta.message_id.as_deref(), Some("mixed-1@example.com"));
        assert_eq!(
            (meta.importance, meta.message_class.as_str()),
            (1, "IPM.Note")
        );
        assert_eq!(
            (meta.native_body, meta.has_text, meta.has_html),
            (2, false, true)
        );
        assert_eq!(meta.internet_cpid, 65001);
        assert_eq!(meta.preview, "See the invoice.");
        assert_eq!(meta.conversation_id, sha16("mixed-1@example.com"));
        assert_eq!(meta.conversation_index.len(), 22);
        let expected = |part, name: &str, content_type: &str, size, cid: Option<&str>, inline| {
            AttachmentMeta {
                part,
                name: name.into(),
                content_type: content_type.into(),
                size,
                content_id: cid.map(str::to_owned),
                inline,
            }
        };
        assert_eq!(
            meta.attachments,
            vec![
                expected(
                    3,
                    "attachment-1.png",
                    "image/png",
                    70,
                    Some("logo@example.com"),
                    true
                ),
                expected(4, "invoice.pdf", "application/pdf", 82, None, false),
                expected(
                    5,
                    "attachment-3.bin",
                    "application/octet-stream",
                    4,
                    None,
                    false
                ),
            ]
        );
        let (content_type, pdf) = attachment(&raw, 4).expect("pdf");
        assert_eq!(content_type, "application/pdf");
        assert!(pdf.starts_with(b"%PDF-1.4"));
        assert_eq!(
            attachment(&raw, 5),
            Some(("application/octet-stream".into(), vec![0, 1, 2, 3]))
        );
        assert_eq!(
            attachment(&raw, 1),
            None,
            "the HTML body is not an attachment"
        );
        assert_eq!(attachment(&raw, 99), None);
    }

    #[test]
    fn utf8_quoted_printable() {
        let raw = fixture("utf8-qp.eml");
        let meta = parse(&raw, RECEIVED);
        assert_eq!(meta.from, "\"Jürgen Müller\" <juergen@example.de>");
        assert_eq!(meta.display_to, "Österreich");
        assert_eq!(meta.subject, "Grüße aus Köln €");
        assert_eq!(meta.date, Some(1_795_602_030));
        assert_eq!(meta.importance, 0, "X-Priority: 5");
        assert_eq!(meta.internet_cpid, 65001);
        assert_eq!(
            meta.preview,
            "Schöne Grüße – das kostet 5 €. Zweite Zeile mit 😀 Emoji."
        );
        assert!(meta.search_terms.contains(&"grüße".to_owned()));
        assert!(body(&raw, BodyKind::Plain).starts_with("Schöne Grüße"));
    }

    #[test]
    fn latin1_8bit_headers_are_decoded() {
        let raw = fixture("latin1-8bit.eml");
        let meta = parse(&raw, RECEIVED);
        assert_eq!(meta.from, "\"Jörg Sänger\" <joerg@example.de>");
        assert_eq!(meta.display_to, "Müller");
        assert_eq!(meta.subject, "Änderung der Größe");
        assert_eq!(meta.internet_cpid, 28591);
        assert_eq!(meta.preview, "Die Größe ändert sich.");
        assert!(meta.search_terms.contains(&"änderung".to_owned()));
    }

    #[test]
    fn alternative_prefers_each_form() {
        let raw = fixture("alternative.eml");
        let meta = parse(&raw, RECEIVED);
        assert_eq!(
            (meta.native_body, meta.has_text, meta.has_html),
            (2, true, true)
        );
        assert_eq!(meta.internet_cpid, 1252);
        assert_eq!(meta.preview, "Plain version of the newsletter.");
        assert_eq!(
            body(&raw, BodyKind::Plain),
            "Plain version of the newsletter."
        );
        assert!(body(&raw, BodyKind::Html).contains("<b>version</b>"));
    }

    #[test]
    fn html_only_converts_to_text() {
        let raw = fixture("html-only.eml");
        let meta = parse(&raw, RECEIVED);
        assert_eq!(
            (meta.native_body, meta.has_text, meta.has_html),
            (2, false, true)
        );
        assert_eq!(
            body(&raw, BodyKind::Plain),
            "Title\n\nFirst <para> € A\n\nSecond"
        );
        assert_eq!(meta.preview, "Title First <para> € A Second");
    }

    #[test]
    fn html_to_text_drops_scripts_styles_and_head() {
        let html = "<html><head><title>T</title><style>p {color: red}</style></head>\
                    <body><p>HTML <b>version</b> &amp; more</p><SCRIPT>alert(1)</SCRIPT>\
                    <div>Second&nbsp;block</div>&bogus; &#xZZ; <p>x</p></body></html>";
        assert_eq!(
            html_to_text(html),
            "HTML version & more\n\nSecond block\n&bogus; &#xZZ;\n\nx"
        );
        assert_eq!(html_to_text("a < b <!-- unterminated"), "a");
        assert_eq!(html_to_text("&€;&#1114112;ü"), "&€;&#1114112;ü");
    }

    #[test]
    fn plain_converts_to_escaped_html() {
        let raw = b"Subject: x\r\n\r\n1 < 2 & \"q\"\r\nnext line\r\n";
        assert_eq!(
            body(raw, BodyKind::Html),
            "<html><body>1 &lt; 2 &amp; &quot;q&quot;<br>\nnext line</body></html>"
        );
    }

    #[test]
    fn smime_classes() {
        let signed = parse(&fixture("smime-signed.eml"), RECEIVED);
        assert_eq!(signed.message_class, "IPM.Note.SMIME.MultipartSigned");
        assert_eq!(signed.preview, "This text is signed.");
        assert_eq!(signed.attachments.len(), 1);
        assert_eq!(signed.attachments[0].name, "smime.p7s");
        let enveloped = parse(&fixture("smime-enveloped.eml"), RECEIVED);
        assert_eq!(enveloped.message_class, "IPM.Note.SMIME");
        assert_eq!(enveloped.preview, "");
    }

    #[test]
    fn meeting_classes() {
        let request = parse(&fixture("meeting-request.eml"), RECEIVED);
        assert_eq!(request.message_class, "IPM.Schedule.Meeting.Request");
        assert_eq!(request.attachments[0].content_type, "text/calendar");
        assert_eq!(request.attachments[0].name, "attachment-1.ics");
        let meeting = request
            .meeting
            .expect("an inline invitation is a meeting message");
        assert_eq!(
            (meeting.uid.as_str(), meeting.start),
            ("meeting-1", 1_796_119_200)
        );
        let cancel = parse(&fixture("meeting-cancel.eml"), RECEIVED);
        assert_eq!(cancel.message_class, "IPM.Schedule.Meeting.Canceled");
        assert_eq!(cancel.thread_topic, "Canceled: Planning meeting");
        assert_eq!(
            cancel.meeting.expect("a whole-message calendar").sequence,
            1
        );
    }

    /// What `f` logs, as text.
    fn logged(f: impl FnOnce()) -> String {
        #[derive(Clone, Default)]
        struct Buffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().expect("lock").extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let bytes = buffer.0.lock().expect("lock").clone();
        String::from_utf8(bytes).expect("utf-8")
    }

    /// An iCalendar attachment that does not read and a TNEF invitation stay plain mail,
    /// their attachment listed, each with a log line.
    #[test]
    fn broken_calendar_and_tnef_stay_plain_mail() {
        for (name, attachment, log) in [
            (
                "meeting-broken.eml",
                "invite.ics",
                "an event has no DTSTART",
            ),
            ("winmail.eml", "winmail.dat", "a TNEF part (winmail.dat)"),
        ] {
            let mut meta = MessageMeta::default();
            let lines = logged(|| meta = parse(&fixture(name), RECEIVED));
            assert_eq!(meta.message_class, "IPM.Note", "{name}");
            assert!(meta.meeting.is_none(), "{name}");
            assert_eq!(meta.attachments[0].name, attachment);
            assert!(lines.contains(log), "{name}: {lines}");
            assert!(
                lines.contains(meta.message_id.as_deref().expect("id")),
                "{lines}"
            );
        }
    }

    #[test]
    fn broken_mime_keeps_what_it_can() {
        let raw = fixture("broken-boundary.eml");
        let meta = parse(&raw, RECEIVED);
        assert_eq!(meta.subject, "Broken");
        assert_eq!(meta.preview, "The body survives.");
        assert_eq!(meta.attachments.len(), 1);
        assert_eq!(meta.attachments[0].name, "cut.bin");
        assert_eq!(meta.date, None);
        assert_eq!(
            meta.conversation_id,
            sha16("Broken"),
            "no Message-ID: the topic"
        );

        let garbage = parse(&fixture("garbage-headers.eml"), RECEIVED);
        assert_eq!(garbage.date, None);
        assert_eq!(garbage.importance, 1);
        assert_eq!(garbage.conversation_index.len(), 22);
    }

    #[test]
    fn headerless_bytes_are_a_plain_body() {
        let raw = fixture("no-headers.eml");
        let meta = parse(&raw, RECEIVED);
        assert_eq!(meta.subject, "");
        assert_eq!(
            meta.preview,
            "Just some text without any header lines. Second line."
        );
        assert_eq!(body(&raw, BodyKind::Plain), String::from_utf8_lossy(&raw));
    }

    #[test]
    fn empty_input() {
        let meta = parse(b"", RECEIVED);
        assert_eq!(meta.size, 0);
        assert_eq!(meta.message_class, "IPM.Note");
        assert_eq!(
            (meta.importance, meta.native_body, meta.internet_cpid),
            (1, 1, 65001)
        );
        assert_eq!(meta.conversation_id, sha16(""));
        assert_eq!(meta.conversation_index.len(), 22);
        assert_eq!(body(b"", BodyKind::Html), "");
        assert_eq!(attachment(b"", 0), None);
    }

    #[test]
    fn no_panic_on_any_prefix_or_corruption() {
        let names = [
            "plain.eml",
            "utf8-qp.eml",
            "latin1-8bit.eml",
            "alternative.eml",
            "html-only.eml",
            "mixed.eml",
            "smime-signed.eml",
            "meeting-request.eml",
            "reply.eml",
            "garbage-headers.eml",
        ];
        for name in names {
            let raw = fixture(name);
            for end in (0..raw.len()).step_by(7) {
                let mut cut = raw[..end].to_vec();
                parse(&cut, 0);
                body(&cut, BodyKind::Html);
                if let Some(byte) = cut.get_mut(end / 2) {
                    *byte ^= 0xA5;
                }
                parse(&cut, 0);
                body(&cut, BodyKind::Plain);
                attachment(&cut, 3);
            }
        }
    }

    #[test]
    fn twenty_five_megabyte_attachment() {
        use base64::Engine as _;
        const SIZE: usize = 25 * 1024 * 1024;
        let content: Vec<u8> = (0..SIZE).map(|i| (i % 251) as u8).collect();
        let encoded = base64::engine::general_purpose::STANDARD.encode(&content);
        let mut raw = b"From: a@example.com\r\nSubject: big\r\nMIME-Version: 1.0\r\n\
            Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n\
            Content-Type: text/plain\r\n\r\nsee attached\r\n--B\r\n\
            Content-Type: application/octet-stream; name=big.bin\r\n\
            Content-Transfer-Encoding: base64\r\n\r\n"
            .to_vec();
        for line in encoded.as_bytes().chunks(76) {
            raw.extend_from_slice(line);
            raw.extend_from_slice(b"\r\n");
        }
        raw.extend_from_slice(b"--B--\r\n");

        let meta = parse(&raw, RECEIVED);
        assert_eq!(meta.attachments.len(), 1);
        assert_eq!(meta.attachments[0].name, "big.bin");
        assert_eq!(meta.attachments[0].size, SIZE as u64);
        let (_, decoded) = attachment(&raw, meta.attachments[0].part).expect("attachment");
        assert!(decoded == content);
    }

    #[test]
    fn code_pages() {
        let pages = [
            ("UTF-8", 65001),
            ("iso-8859-1", 28591),
            ("ISO-8859-15", 28605),
            ("windows-1252", 1252),
            ("windows-1251", 1251),
            ("us-ascii", 20127),
            ("koi8-r", 20866),
            ("Shift_JIS", 932),
            ("gb2312", 936),
            ("big5", 950),
            ("euc-kr", 51949),
            ("iso-2022-jp", 50220),
            ("iso-8859-10", 65001),
            ("x-unknown", 65001),
        ];
        for (charset, page) in pages {
            assert_eq!(code_page(charset), page, "{charset}");
        }
    }

    #[test]
    fn thread_topic_strips_prefix_runs() {
        assert_eq!(thread_topic("Re: Re[2]: FW: WG:  Plan "), "Plan");
        assert_eq!(thread_topic("Reply needed"), "Reply needed");
        assert_eq!(thread_topic("Re:"), "");
        assert_eq!(thread_topic("Re[x]: odd"), "Re[x]: odd");
    }

    #[test]
    fn search_terms_are_capped() {
        let words: Vec<String> = (0..3_000).map(|i| format!("w{i}")).collect();
        let raw = format!("Subject: many\r\n\r\n{}", words.join(" "));
        let meta = parse(raw.as_bytes(), 0);
        assert_eq!(meta.search_terms.len(), MAX_SEARCH_TERMS);
        assert_eq!(meta.search_terms[0], "many");
    }

    /// Messages are indexed under exactly the words a query for their text looks for, with
    /// the two-character minimum counted after lower-casing in both (U+0130 lower-cases to
    /// two characters).
    #[test]
    fn indexed_words_are_the_words_a_query_looks_for() {
        let text = "\u{130} a Bc q\u{2019}s ünïcode 42";
        let meta = parse(format!("Subject: x\r\n\r\n{text}").as_bytes(), 0);
        let mut indexed = meta.search_terms.clone();
        indexed.retain(|t| t != "x");
        indexed.sort();
        assert_eq!(indexed, search_index::query_terms(text));
        assert!(indexed.contains(&"\u{130}".to_lowercase()));
    }

    #[test]
    fn prefix_respects_char_boundaries() {
        assert_eq!(prefix_at_char_boundary("aé", 2), "a");
        assert_eq!(prefix_at_char_boundary("aé", 3), "aé");
    }
}
