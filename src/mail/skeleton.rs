//! The structure of a large message without the contents of its large parts.
//!
//! mail-parser decodes every part as it parses, so reading the metadata of a 49 MiB message
//! with a 36 MiB attachment would allocate the attachment once more. What easd keeps per
//! message needs the header sections, the text parts and each attachment's size — not the
//! attachments' bytes. For a message over [`LARGE`], [`Skeleton::of`] walks the MIME
//! structure (mail-parser reads each header section; the delimiter lines of RFC 2046
//! 5.1.1 split a multipart) and leaves out the body of every leaf part over [`KEEP`]
//! bytes that is neither text nor a message. The skeleton parses to the same parts, those
//! bodies empty; each [`Cut`] remembers where its part lies in the message, so one
//! attachment is decoded from there alone when it is fetched.
//!
//! mail-parser is more lenient than RFC 2046 about where a delimiter may stand, so a
//! skeleton is used only after [`Skeleton::matches`] has checked that mail-parser found
//! every cut where the walk put it; otherwise the message is parsed whole, as before.

use std::ops::Range;

use mail_parser::{Message, MessageParser, MessagePart, MimeHeaders, PartType};

/// Messages at least this large are parsed by their skeleton.
pub const LARGE: usize = 1024 * 1024;
/// Leaf bodies up to this size stay in the skeleton.
const KEEP: usize = 64 * 1024;
/// Multiparts nested deeper than this are kept whole.
const MAX_DEPTH: usize = 16;
/// With [`Text::Trim`], a text part keeps this much of its body (to a line end): what
/// previews and the search index read of a message.
pub const TEXT_KEEP: usize = 1024 * 1024;

/// What becomes of large text parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Text {
    /// Kept whole (for a body asked for by a device).
    Whole,
    /// Trimmed to [`TEXT_KEEP`] (for what is stored about a message: its preview and the
    /// words the search index holds).
    Trim,
}

/// A large message with its large non-text parts' bodies left out.
pub struct Skeleton {
    pub bytes: Vec<u8>,
    cuts: Vec<Cut>,
}

/// One left-out body, or the end of one.
#[derive(Debug, Clone, PartialEq)]
pub struct Cut {
    /// Where the left-out bytes were in the skeleton: where the part's body now ends.
    at: usize,
    /// The whole body was left out (an attachment), not only its end (a trimmed text).
    whole: bool,
    /// The whole part, header section and body, in the message: parsed alone it gives the
    /// decoded body.
    pub part: Range<usize>,
    /// The decoded size, counted from the encoded bytes without decoding them.
    pub size: u64,
}

impl Skeleton {
    /// The skeleton of `raw`; None when it is small or has nothing to leave out.
    #[cfg(test)]
    fn of(raw: &[u8], text: Text) -> Option<Skeleton> {
        Self::reading(raw, text, &mut |_| {})
    }

    /// The skeleton of `raw` (None when it is small or has nothing to leave out), telling
    /// `done` each range of `raw` it has finished reading, so that a caller reading from a
    /// file mapping can give those pages back as it goes (the walk reads a part again after
    /// finding it, and reports it again then).
    pub fn reading(raw: &[u8], text: Text, done: &mut dyn FnMut(Range<usize>)) -> Option<Skeleton> {
        if raw.len() < LARGE {
            return None;
        }
        let mut found = Vec::new();
        walk(raw, 0..raw.len(), 0, text, &mut found, done);
        if found.is_empty() {
            return None;
        }
        let mut bytes = Vec::with_capacity(raw.len().min(KEEP * 4));
        let mut cuts = Vec::with_capacity(found.len());
        let mut copied = 0;
        for Found {
            part,
            left_out,
            whole,
            size,
        } in found
        {
            bytes.extend_from_slice(&raw[copied..left_out.start]);
            cuts.push(Cut {
                at: bytes.len(),
                whole,
                part,
                size,
            });
            copied = left_out.end;
        }
        bytes.extend_from_slice(&raw[copied..]);
        Some(Skeleton { bytes, cuts })
    }

    /// Whether mail-parser, reading the skeleton, found each cut as the end of a leaf where
    /// the walk left it (an empty one for a whole body) — the condition for trusting the
    /// skeleton's parts.
    pub fn matches(&self, message: &Message<'_>) -> bool {
        self.cuts.iter().all(|cut| {
            message
                .parts
                .iter()
                .filter(|p| self.cut_for(p) == Some(cut))
                .count()
                == 1
        })
    }

    /// The cut a part of the skeleton's parse stands for, if its body was left out or
    /// trimmed.
    pub fn cut_for(&self, part: &MessagePart<'_>) -> Option<&Cut> {
        let at = part.offset_end as usize;
        let cut = self
            .cuts
            .binary_search_by_key(&at, |c| c.at)
            .ok()
            .map(|i| &self.cuts[i])?;
        let leaf = !matches!(part.body, PartType::Multipart(_));
        let empty = part.offset_body == part.offset_end
            && matches!(&part.body, PartType::Binary(b) | PartType::InlineBinary(b) if b.is_empty());
        (leaf && (!cut.whole || empty)).then_some(cut)
    }
}

/// A body, or the end of one, to leave out.
struct Found {
    part: Range<usize>,
    left_out: Range<usize>,
    whole: bool,
    size: u64,
}

/// Finds what to leave out in the entity `range` of `raw`, in order.
fn walk(
    raw: &[u8],
    range: Range<usize>,
    depth: usize,
    text: Text,
    out: &mut Vec<Found>,
    done: &mut dyn FnMut(Range<usize>),
) {
    let entity = &raw[range.clone()];
    let Some(head_len) = header_len(entity) else {
        return;
    };
    let Some(head) = MessageParser::default().parse_headers(&entity[..head_len]) else {
        return;
    };
    let body = range.start + head_len..range.end;
    let content_type = head.content_type();
    let main = content_type.map(|c| c.ctype().to_ascii_lowercase());
    if main.as_deref() == Some("multipart") {
        let boundary = content_type.and_then(|c| c.attribute("boundary"));
        if let Some(boundary) = boundary.filter(|_| depth < MAX_DEPTH) {
            for part in parts(raw, body, boundary.as_bytes(), done) {
                walk(raw, part, depth + 1, text, out, done);
            }
        }
        return;
    }
    let encoding = head.content_transfer_encoding();
    let is_text = depth == 0 || matches!(main.as_deref(), Some("text") | None);
    if is_text {
        // Text is what search, previews and bodies read: kept, or trimmed to a line end.
        if text == Text::Trim && body.len() > TEXT_KEEP {
            let keep = &raw[body.start..body.start + TEXT_KEEP];
            let end = keep
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(body.start, |i| body.start + i + 1);
            let size = decoded_size(raw, body.clone(), encoding, done);
            out.push(Found {
                part: range,
                left_out: end..body.end,
                whole: false,
                size,
            });
        }
        return;
    }
    // Nested messages (parsed whole by mail-parser) and small parts stay.
    if main.as_deref() != Some("message") && body.len() > KEEP {
        let size = decoded_size(raw, body.clone(), encoding, done);
        out.push(Found {
            part: range,
            left_out: body,
            whole: true,
            size,
        });
    }
}

/// The length of the header section with the empty line that ends it; None if there is
/// no empty line (a part that is all headers has no body to leave out).
fn header_len(entity: &[u8]) -> Option<usize> {
    if entity.starts_with(b"\r\n") {
        return Some(2);
    }
    if entity.starts_with(b"\n") {
        return Some(1);
    }
    let mut at = 0;
    while let Some(i) = entity[at..].iter().position(|&b| b == b'\n') {
        let next = at + i + 1;
        match &entity[next..] {
            [b'\r', b'\n', ..] => return Some(next + 2),
            [b'\n', ..] => return Some(next + 1),
            _ => at = next,
        }
    }
    None
}

/// The body parts of a multipart whose body is `body` (RFC 2046 5.1.1): each runs from
/// after its delimiter line to the line break before the next delimiter, which belongs to
/// that delimiter. Preamble and epilogue are not parts.
fn parts(
    raw: &[u8],
    body: Range<usize>,
    boundary: &[u8],
    done: &mut dyn FnMut(Range<usize>),
) -> Vec<Range<usize>> {
    let delimiter = [b"--", boundary].concat();
    let mut out = Vec::new();
    let mut open: Option<usize> = None;
    let mut pos = body.start;
    while let Some(at) = find_reporting(raw, pos..body.end, &delimiter, done) {
        done(pos..at);
        let after = at + delimiter.len();
        // A delimiter starts a line.
        if at != body.start && raw[at - 1] != b'\n' {
            pos = after;
            continue;
        }
        let before = if at >= body.start + 2 && &raw[at - 2..at] == b"\r\n" {
            at - 2
        } else if at > body.start {
            at - 1
        } else {
            at
        };
        if let Some(start) = open.take() {
            out.push(start..before.max(start));
        }
        if raw[after..body.end].starts_with(b"--") {
            return out;
        }
        let line_end = raw[after..body.end]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(body.end, |j| after + j + 1);
        open = Some(line_end);
        pos = line_end;
    }
    done(pos..body.end);
    // No closing delimiter: the last part runs to the end.
    if let Some(start) = open {
        out.push(start..body.end);
    }
    out
}

/// Where `needle` first starts in the `range` of `raw`, read a chunk at a time: each chunk
/// read without a match is reported to `done` at once.
fn find_reporting(
    raw: &[u8],
    range: Range<usize>,
    needle: &[u8],
    done: &mut dyn FnMut(Range<usize>),
) -> Option<usize> {
    const CHUNK: usize = 1024 * 1024;
    let mut at = range.start;
    while at < range.end {
        // A match starting in this chunk ends at most needle.len() past it.
        let window = at..(at + CHUNK + needle.len()).min(range.end);
        if let Some(i) = find(&raw[window], needle) {
            return Some(at + i);
        }
        let next = (at + CHUNK).min(range.end);
        done(at..next);
        at = next;
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut at = 0;
    while let Some(i) = haystack[at..].iter().position(|&b| b == first) {
        let start = at + i;
        if haystack[start + 1..].starts_with(rest) {
            return Some(start);
        }
        at = start + 1;
    }
    None
}

/// The size of the `body` of `raw` once decoded: base64 counted by its alphabet (RFC 2045
/// 6.8), other encodings by their bytes.
fn decoded_size(
    raw: &[u8],
    body: Range<usize>,
    encoding: Option<&str>,
    done: &mut dyn FnMut(Range<usize>),
) -> u64 {
    if !encoding.is_some_and(|e| e.trim().eq_ignore_ascii_case("base64")) {
        return body.len() as u64;
    }
    const CHUNK: usize = 1024 * 1024;
    let mut symbols = 0u64;
    let mut at = body.start;
    while at < body.end {
        let end = (at + CHUNK).min(body.end);
        symbols += raw[at..end]
            .iter()
            .filter(|b| b.is_ascii_alphanumeric() || **b == b'+' || **b == b'/')
            .count() as u64;
        done(at..end);
        at = end;
    }
    symbols * 3 / 4
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn large_message(attachment: &[u8], inner_boundary_in_text: bool) -> Vec<u8> {
        let b64 = base64::engine::general_purpose::STANDARD.encode(attachment);
        let wrapped: String = b64
            .as_bytes()
            .chunks(76)
            .map(|c| format!("{}\r\n", std::str::from_utf8(c).unwrap()))
            .collect();
        let text = if inner_boundary_in_text {
            "a line quoting --outer in the middle\r\n"
        } else {
            "hello\r\n"
        };
        format!(
            "From: a@b.test\r\nSubject: big\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\npreamble\r\n\
             --outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n\
             --inner\r\nContent-Type: text/plain\r\n\r\n{text}\
             --inner\r\nContent-Type: text/html\r\n\r\n<p>hello</p>\r\n--inner--\r\n\
             --outer\r\nContent-Type: application/pdf; name=a.pdf\r\n\
             Content-Disposition: attachment; filename=a.pdf\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{wrapped}\
             --outer\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBO\r\n\
             --outer--\r\nepilogue\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn a_large_attachment_is_left_out_and_found_again() {
        let data: Vec<u8> = (0..2_000_000u32).map(|i| (i % 251) as u8).collect();
        let raw = large_message(&data, false);
        let sk = Skeleton::of(&raw, Text::Whole).expect("a skeleton");
        assert!(sk.bytes.len() < 2000, "{} bytes", sk.bytes.len());
        assert_eq!(sk.cuts.len(), 1);
        assert_eq!(sk.cuts[0].size, data.len() as u64);
        let message = MessageParser::default().parse(&sk.bytes).unwrap();
        assert!(sk.matches(&message));
        let whole = MessageParser::default().parse(&raw).unwrap();
        // The same parts, in the same order, with the same attachments.
        assert_eq!(message.parts.len(), whole.parts.len());
        assert_eq!(message.attachments, whole.attachments);
        assert_eq!(message.text_body, whole.text_body);
        let cut = &sk.cuts[0];
        let alone = MessageParser::default()
            .parse(&raw[cut.part.clone()])
            .unwrap();
        assert!(alone.parts[0].contents() == &data[..]);
    }

    #[test]
    fn small_messages_and_messages_without_large_parts_have_none() {
        assert!(Skeleton::of(&large_message(b"small", false), Text::Whole).is_none());
        let mut text = b"Subject: t\r\n\r\n".to_vec();
        text.resize(2 * LARGE, b'x');
        assert!(Skeleton::of(&text, Text::Whole).is_none());
    }

    #[test]
    fn a_skeleton_mail_parser_reads_otherwise_is_not_trusted() {
        let data = vec![7u8; 1_500_000];
        let raw = large_message(&data, true);
        let Some(sk) = Skeleton::of(&raw, Text::Whole) else {
            return;
        };
        let message = MessageParser::default().parse(&sk.bytes).unwrap();
        let whole = MessageParser::default().parse(&raw).unwrap();
        // Either the structures agree, or `matches` says they do not.
        if sk.matches(&message) {
            assert_eq!(message.parts.len(), whole.parts.len());
            assert_eq!(message.attachments, whole.attachments);
        }
    }

    #[test]
    fn a_large_text_is_trimmed_to_a_line_end_when_asked() {
        let mut raw = b"Subject: long\r\n\r\n".to_vec();
        while raw.len() < 3 * LARGE {
            raw.extend_from_slice(b"many words in a long plain text body\r\n");
        }
        let sk = Skeleton::of(&raw, Text::Trim).expect("a skeleton");
        assert!(sk.bytes.len() <= 20 + TEXT_KEEP && sk.bytes.ends_with(b"\r\n"));
        let message = MessageParser::default().parse(&sk.bytes).unwrap();
        assert!(sk.matches(&message));
        let cut = sk.cut_for(&message.parts[0]).expect("the body's cut");
        assert_eq!(
            cut.size,
            (raw.len() - b"Subject: long\r\n\r\n".len()) as u64
        );
        // Kept whole unless asked.
        assert!(Skeleton::of(&raw, Text::Whole).is_none());
    }

    #[test]
    fn delimiters_split_parts_without_their_line_breaks() {
        let raw = b"pre\r\n--b\r\none\r\n--b  \r\ntwo\n--b--\r\nafter";
        let mut read = Vec::new();
        let parts = parts(raw, 0..raw.len(), b"b", &mut |r| read.push(r));
        for p in &parts {
            assert!(
                read.iter().any(|r| r.start <= p.start && p.end <= r.end),
                "{p:?} was read and reported: {read:?}"
            );
        }
        let texts: Vec<&[u8]> = parts.iter().map(|r| &raw[r.clone()]).collect();
        assert_eq!(texts, [&b"one"[..], b"two"]);
    }
}
