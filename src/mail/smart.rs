//! SmartReply and SmartForward ([MS-ASCMD] 2.2.1.20, 2.2.1.19): the client sends only its
//! own part of the message and the server completes it with the original, as Exchange
//! does. A pure function of the two messages' bytes, so that the relayed copy and the Sent
//! Items copy are built once.
//!
//! The client's body types are kept (text, HTML or both as multipart/alternative), with its
//! own attachments and inline parts. The original follows in each of those types: in HTML
//! a header block (From, Sent, To, Cc, Subject) and the original's HTML body, its `cid:`
//! images carried as multipart/related parts; in text the same header block and the
//! original's text, quoted in a reply. A forward also carries the original's attachments;
//! a message/rfc822 one stays a message. mail-parser decodes the original's charset; the
//! result is UTF-8 throughout, written by mail-builder.

use std::collections::HashSet;

use mail_builder::headers::content_type::ContentType;
use mail_builder::mime::{BodyPart, MimePart};
use mail_parser::{Message, PartType};

use super::compose;
use super::mime;
use crate::store::model::{AttachmentMeta, MessageMeta};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Smart {
    Reply,
    Forward,
}

/// The client's Mime is not a message: not one well-formed header field.
#[derive(Debug, thiserror::Error)]
#[error("the client's Mime is not a message (no well-formed header field)")]
pub struct InvalidMime;

/// The message to send: the client's headers as sent, its body completed with the
/// original (see the module comment). A reply without In-Reply-To gets In-Reply-To and
/// References naming the original.
pub fn complete(client: &[u8], original: &[u8], kind: Smart) -> Result<Vec<u8>, InvalidMime> {
    let original_meta = mime::parse(original, 0);
    let built = mime::with_message(client, |c| {
        // Bytes without one well-formed header field (RFC 5322 2.2: printable ASCII
        // but ':') are no message, though the lenient parser reads them as one.
        let well_formed = |name: &str| {
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':')
        };
        let root = c.parts.first()?;
        if !root.headers.iter().any(|h| well_formed(h.name.as_str())) {
            return None;
        }
        let body = mime::with_message(original, |o| body(c, Some(o), &original_meta, kind))
            .unwrap_or_else(|| body(c, None, &original_meta, kind));
        let mut extra = vec!["MIME-Version: 1.0".to_owned()];
        if kind == Smart::Reply && c.header("In-Reply-To").is_none() {
            extra.extend(reply_headers(&original_meta));
        }
        Some((body, extra))
    });
    let (body, extra) = built.flatten().ok_or(InvalidMime)?;
    // The client's header fields stay as sent, less those describing its old body; the
    // new body part's own Content-Type completes the header section.
    let mut out = compose::headers_without(
        client,
        |n| {
            n.get(..8)
                .is_some_and(|p| p.eq_ignore_ascii_case("content-"))
                || n.eq_ignore_ascii_case("mime-version")
        },
        &extra,
    );
    body.write_part(&mut out);
    Ok(out)
}

/// In-Reply-To and References for a reply to `original` ([RFC 5322] 3.6.4).
fn reply_headers(original: &MessageMeta) -> Vec<String> {
    let Some(id) = &original.message_id else {
        return Vec::new();
    };
    let refs: Vec<String> = original
        .references
        .iter()
        .chain([id])
        .map(|r| format!("<{r}>"))
        .collect();
    vec![
        format!("In-Reply-To: <{id}>"),
        format!("References: {}", refs.join("\r\n ")),
    ]
}

/// The client's body types: text, HTML, or both.
struct Own {
    text: Option<String>,
    html: Option<String>,
}

impl Own {
    fn of(c: &Message<'_>) -> Self {
        let has = |ids: &[u32], html: bool| {
            ids.iter()
                .filter_map(|&id| c.part(id))
                .any(|p| match p.body {
                    PartType::Text(_) => !html,
                    PartType::Html(_) => html,
                    _ => false,
                })
        };
        let html = has(&c.html_body, true).then(|| mime::html_body(c));
        let text = (has(&c.text_body, false) || html.is_none()).then(|| mime::plain_body(c));
        Own { text, html }
    }
}

/// Where a message's attachment goes: inline (multipart/related beside the HTML) or
/// attached (multipart/mixed).
struct Placed {
    related: Vec<MimePart<'static>>,
    mixed: Vec<MimePart<'static>>,
}

/// Every attachment of `m` as a part: inline ones with a Content-ID beside the HTML when
/// there is HTML, the rest attached.
fn parts_of(m: &Message<'_>, atts: &[AttachmentMeta], html: bool) -> Placed {
    let mut placed = Placed {
        related: Vec::new(),
        mixed: Vec::new(),
    };
    for a in atts {
        let cid = a.content_id.as_deref().filter(|_| html && a.inline);
        if let Some(part) = leaf(m, a, cid) {
            match cid {
                Some(_) => placed.related.push(part),
                None => placed.mixed.push(part),
            }
        }
    }
    placed
}

/// The new body; without an original (empty bytes), the client's own.
fn body(
    c: &Message<'_>,
    o: Option<&Message<'_>>,
    original: &MessageMeta,
    kind: Smart,
) -> MimePart<'static> {
    let mut own = Own::of(c);
    let html = own.html.is_some();
    let client_atts = mime::attachments(c);
    let mut placed = parts_of(c, &client_atts, html);
    let Some(o) = o else {
        return assemble(own, placed);
    };

    // The original's inline images travel with its HTML; a forward also carries its
    // attachments (and, without HTML to show them, its inline images as attachments).
    let taken: HashSet<String> = client_atts
        .iter()
        .filter_map(|a| a.content_id.clone())
        .collect();
    let mut original_html = mime::html_body(o);
    let mut original_atts = mime::attachments(o);
    for (n, a) in original_atts.iter_mut().enumerate() {
        // A Content-ID the client's own parts use already is renamed, with its references.
        if let Some(cid) = a.content_id.as_mut().filter(|cid| taken.contains(*cid)) {
            let renamed = format!("original{n}.{cid}");
            original_html = original_html.replace(&format!("cid:{cid}"), &format!("cid:{renamed}"));
            *cid = renamed;
        }
    }
    original_atts
        .retain(|a| kind == Smart::Forward || (html && a.inline && a.content_id.is_some()));
    let from_original = parts_of(o, &original_atts, html);
    placed.related.extend(from_original.related);
    placed.mixed.extend(from_original.mixed);

    if let Some(text) = &mut own.text {
        *text = text_with_original(text, &mime::plain_body(o), original, kind);
    }
    if let Some(own_html) = &mut own.html {
        *own_html = html_with_original(own_html, &original_html, original);
    }
    assemble(own, placed)
}

/// The body parts in their multipart structure: alternative for text and HTML, related
/// for HTML and its images, mixed for attachments.
fn assemble(own: Own, placed: Placed) -> MimePart<'static> {
    let text = own
        .text
        .map(|t| MimePart::new("text/plain", BodyPart::Text(t.into())));
    let html = own.html.map(|h| {
        let h = MimePart::new("text/html", BodyPart::Text(h.into()));
        if placed.related.is_empty() {
            h
        } else {
            let mut parts = vec![h];
            parts.extend(placed.related);
            MimePart::new("multipart/related", BodyPart::Multipart(parts))
        }
    });
    let content = match (text, html) {
        (Some(t), Some(h)) => {
            MimePart::new("multipart/alternative", BodyPart::Multipart(vec![t, h]))
        }
        (Some(only), None) | (None, Some(only)) => only,
        (None, None) => MimePart::new("text/plain", BodyPart::Text("".into())),
    };
    if placed.mixed.is_empty() {
        content
    } else {
        let mut parts = vec![content];
        parts.extend(placed.mixed);
        MimePart::new("multipart/mixed", BodyPart::Multipart(parts))
    }
}

/// One attachment of `m` as a part: text decoded to UTF-8, a nested message kept as a
/// message/rfc822 part (RFC 2046 5.2.1: 7bit or 8bit, never base64), anything else as
/// its bytes. `cid` makes it inline with that Content-ID.
fn leaf(m: &Message<'_>, a: &AttachmentMeta, cid: Option<&str>) -> Option<MimePart<'static>> {
    let part = m.part(a.part)?;
    let content_type = ContentType::new(a.content_type.clone());
    let mut out = match &part.body {
        PartType::Text(t) | PartType::Html(t) => {
            MimePart::new(content_type, BodyPart::Text(t.to_string().into()))
        }
        PartType::Binary(b) | PartType::InlineBinary(b) => {
            MimePart::new(content_type, BodyPart::Binary(b.to_vec().into()))
        }
        PartType::Message(nested) => {
            let raw = nested.raw_message().to_vec();
            let encoding = if raw.is_ascii() { "7bit" } else { "8bit" };
            MimePart::new("message/rfc822", BodyPart::Binary(raw.into()))
                .transfer_encoding(encoding)
        }
        PartType::Multipart(_) => return None,
    };
    let name = a.name.clone();
    out = match cid {
        Some(cid) => out
            .header(
                "Content-Disposition",
                ContentType::new("inline").attribute("filename", name),
            )
            .cid(cid.to_owned()),
        None => out.attachment(name),
    };
    Some(out)
}

/// The "Sent" line: the original's Date, as RFC 5322 writes dates.
fn sent(original: &MessageMeta) -> String {
    original
        .date
        .map(|d| mail_parser::DateTime::from_timestamp(d).to_rfc822())
        .unwrap_or_default()
}

/// The header block's fields, those with a value.
fn header_fields(original: &MessageMeta) -> Vec<(&'static str, String)> {
    [
        ("From", original.from.clone()),
        ("Sent", sent(original)),
        ("To", original.to.clone()),
        ("Cc", original.cc.clone()),
        ("Subject", original.subject.clone()),
    ]
    .into_iter()
    .filter(|(name, value)| !value.is_empty() || *name == "Subject")
    .collect()
}

/// The client's text, then the header block and the original's text: quoted with `> `
/// in a reply, as it is in a forward.
fn text_with_original(
    own: &str,
    original_text: &str,
    original: &MessageMeta,
    kind: Smart,
) -> String {
    let mut out = format!("{}\r\n\r\n-----Original Message-----\r\n", own.trim_end());
    for (name, value) in header_fields(original) {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    for line in original_text.lines() {
        if kind == Smart::Reply {
            out.push_str("> ");
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out
}

/// The client's HTML with the header block and the original's HTML body inserted before
/// its `</body>` (or at its end), as Exchange lays out a reply or forward.
fn html_with_original(own: &str, original_html: &str, original: &MessageMeta) -> String {
    let mut block = String::from(
        "<hr style=\"display:inline-block;width:98%\" tabindex=\"-1\">\r\n\
         <div id=\"divRplyFwdMsg\" dir=\"ltr\"><font face=\"Calibri, sans-serif\" \
         style=\"font-size:11pt\" color=\"#000000\">",
    );
    let fields = header_fields(original)
        .into_iter()
        .map(|(name, value)| format!("<b>{name}:</b> {}", mime::escape_html(&value)))
        .collect::<Vec<_>>()
        .join("<br>\r\n");
    block.push_str(&fields);
    block.push_str("</font>\r\n<div>&nbsp;</div>\r\n</div>\r\n<div>");
    block.push_str(body_content(original_html));
    block.push_str("</div>\r\n");
    let lower = own.to_ascii_lowercase();
    match lower.rfind("</body") {
        Some(at) => format!("{}{block}{}", &own[..at], &own[at..]),
        None => format!("{own}\r\n{block}"),
    }
}

/// What is inside an HTML document's `<body>`, or the whole text when it has none.
/// (ASCII lowercasing keeps byte offsets, so positions found in the lowercase copy cut
/// the original at character boundaries.)
fn body_content(html: &str) -> &str {
    let lower = html.to_ascii_lowercase();
    let start = lower
        .find("<body")
        .and_then(|at| lower[at..].find('>').map(|end| at + end + 1))
        .unwrap_or(0);
    let end = lower[start..]
        .rfind("</body")
        .map_or(html.len(), |at| start + at);
    &html[start..end]
}

#[cfg(test)]
mod tests {
    use mail_parser::{MessageParser, MimeHeaders};

    use super::*;

    /// `tests/fixtures/mail/smart-original.eml`, an original in `charset` with `text` (in
    /// that charset) as its text and HTML alternatives, an inline image the HTML shows, a
    /// PDF and a forwarded message.
    fn original(charset: &str, text: &[u8]) -> Vec<u8> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/mail/smart-original.eml"
        );
        let mut raw = std::fs::read(path).expect(path);
        for (from, to) in [
            (&b"{SUBJECT}"[..], &b"plan"[..]),
            (b"{CHARSET}", charset.as_bytes()),
            (b"{TEXT}", text),
        ] {
            while let Some(at) = raw.windows(from.len()).position(|w| w == from) {
                raw.splice(at..at + from.len(), to.iter().copied());
            }
        }
        raw
    }

    const HTML_CLIENT: &[u8] = b"From: alice@example.com\r\nTo: bob@example.org\r\n\
        Subject: RE: plan\r\nMIME-Version: 1.0\r\n\
        Content-Type: multipart/alternative; boundary=\"c\"\r\n\r\n\
        --c\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSounds good.\r\n\
        --c\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
        <html><body><div dir=\"auto\"><b>Sounds good.</b></div></body></html>\r\n--c--\r\n";

    const TEXT_CLIENT: &[u8] = b"From: alice@example.com\r\nTo: bob@example.org\r\n\
        Subject: RE: plan\r\nContent-Type: text/plain\r\n\r\nSounds good.\r\n";

    fn parse(raw: &[u8]) -> Message<'_> {
        let m = MessageParser::default().parse(raw).expect("a message");
        assert!(std::str::from_utf8(raw).is_ok(), "not UTF-8");
        m
    }

    fn names(m: &Message<'_>) -> Vec<String> {
        m.attachments()
            .map(|a| a.attachment_name().unwrap_or("").to_owned())
            .collect()
    }

    #[test]
    fn an_html_reply_keeps_html_and_carries_the_inline_image() {
        let orig = original("iso-8859-1", b"Sch\xf6ne Gr\xfc\xdfe");
        let out = complete(HTML_CLIENT, &orig, Smart::Reply).unwrap();
        let m = parse(&out);
        assert_eq!(m.subject(), Some("RE: plan"));
        assert_eq!(m.in_reply_to().as_text(), Some("plan@test.example"));
        let html = m.body_html(0).unwrap();
        let own = html.find("<b>Sounds good.</b>").expect("client HTML");
        let block = html
            .find("<b>From:</b> &quot;Bob&quot; &lt;bob@example.com&gt;")
            .expect(&html);
        let quoted = html.find("<p>Schöne Grüße</p>").expect(&html);
        assert!(own < block && block < quoted, "{html}");
        assert!(html.contains("<b>Cc:</b>") && html.contains("<b>Subject:</b> plan"));
        assert_eq!(html.matches("<body").count(), 1, "{html}");
        let text = m.body_text(0).unwrap();
        assert!(text.starts_with("Sounds good."), "{text}");
        assert!(text.contains("> Schöne Grüße"), "{text}");
        // The image the HTML shows rides along, related to the HTML; nothing else does.
        assert_eq!(names(&m), ["logo.png"]);
        let img = m.attachment(0).unwrap();
        assert_eq!(img.content_id(), Some("logo@x"));
        assert_eq!(img.contents(), b"\x89PNG\r\n\x1a\n");
        let root = m.content_type().unwrap();
        assert_eq!(root.subtype(), Some("alternative"), "{root:?}");
    }

    #[test]
    fn a_forward_carries_attachments_and_a_message_stays_one() {
        let orig = original("windows-1251", b"\xcf\xf0\xe8\xe2\xe5\xf2, \xec\xe8\xf0");
        let out = complete(HTML_CLIENT, &orig, Smart::Forward).unwrap();
        let m = parse(&out);
        assert!(m.in_reply_to().is_empty(), "a forward is not a reply");
        assert!(m.body_html(0).unwrap().contains("Привет, мир"));
        let text = m.body_text(0).unwrap();
        assert!(
            text.contains("\nПривет, мир") && !text.contains("> "),
            "{text}"
        );
        assert_eq!(names(&m), ["logo.png", "plan.pdf", "earlier.eml"]);
        let pdf = m.attachment(1).unwrap();
        assert_eq!(pdf.contents(), b"%PDF-");
        let nested = m.attachment(2).unwrap();
        assert!(nested.is_message(), "{nested:?}");
        let inner = nested.message().unwrap();
        assert_eq!(inner.subject(), Some("earlier"));
        assert!(String::from_utf8_lossy(&out).contains("Content-Type: message/rfc822"));
    }

    #[test]
    fn a_text_client_gets_text_only_and_multibyte_charsets_decode() {
        for (charset, bytes, expected) in [
            (
                "shift_jis",
                &b"\x83n\x83\x8D\x81[\x81E\x83\x8F\x81[\x83\x8B\x83h"[..],
                "ハロー・ワールド",
            ),
            (
                "gb18030",
                b"\xc4\xe3\xba\xc3\xa3\xac\xca\xc0\xbd\xe7",
                "你好，世界",
            ),
            ("utf-8", "Grüße".as_bytes(), "Grüße"),
        ] {
            let out = complete(TEXT_CLIENT, &original(charset, bytes), Smart::Reply).unwrap();
            let m = parse(&out);
            assert!(
                m.html_body
                    .iter()
                    .all(|&id| !m.parts[id as usize].is_text_html())
            );
            let text = m.body_text(0).unwrap();
            assert!(text.contains(&format!("> {expected}")), "{charset}: {text}");
            assert_eq!(
                m.attachment_count(),
                0,
                "{charset}: a reply attaches nothing"
            );
        }
    }

    #[test]
    fn client_parts_stay_and_a_clashing_content_id_is_renamed() {
        let client = b"From: alice@example.com\r\nTo: bob@example.org\r\nSubject: FW: plan\r\n\
            Content-Type: multipart/mixed; boundary=\"x\"\r\n\r\n\
            --x\r\nContent-Type: multipart/related; boundary=\"y\"\r\n\r\n\
            --y\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
            <p>mine <img src=\"cid:logo@x\"></p>\r\n\
            --y\r\nContent-Type: image/gif\r\nContent-ID: <logo@x>\r\n\
            Content-Transfer-Encoding: base64\r\n\r\nR0lGODlh\r\n--y--\r\n\
            --x\r\nContent-Type: text/csv; charset=utf-8\r\n\
            Content-Disposition: attachment; filename=\"n.csv\"\r\n\r\na,b\r\n--x--\r\n";
        let out = complete(client, &original("utf-8", b"hi"), Smart::Forward).unwrap();
        let m = parse(&out);
        let html = m.body_html(0).unwrap();
        assert!(m.body_text(0).is_some());
        assert!(
            html.contains("<p>mine <img src=\"cid:logo@x\"></p>"),
            "{html}"
        );
        let atts: Vec<_> = m.attachments().collect();
        let gif = atts
            .iter()
            .find(|a| a.contents() == b"GIF89a")
            .expect("own image");
        assert_eq!(gif.content_id(), Some("logo@x"));
        let png = atts
            .iter()
            .find(|a| a.contents().starts_with(b"\x89PNG"))
            .unwrap();
        let renamed = png.content_id().unwrap();
        assert_ne!(renamed, "logo@x");
        assert!(html.contains(&format!("cid:{renamed}")), "{html}");
        assert!(atts.iter().any(|a| a.attachment_name() == Some("n.csv")));
    }

    #[test]
    fn a_mime_without_headers_is_refused() {
        let orig = original("utf-8", b"x");
        assert!(complete(b"", &orig, Smart::Reply).is_err());
        let garbage = complete(b"\x00\x01 just bytes", &orig, Smart::Reply);
        assert!(garbage.is_err(), "{:?}", garbage.map(String::from_utf8));
        assert!(complete(TEXT_CLIENT, b"", Smart::Reply).is_ok());
    }
}
