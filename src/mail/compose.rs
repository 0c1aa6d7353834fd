//! Outgoing messages as the phone sends them, made ready to leave: recipients read from the
//! headers, Bcc stripped from what recipients see, From held to the sender's own address,
//! and SmartReply/SmartForward completed with the original message ([MS-ASCMD] 2.2.1.19,
//! 2.2.1.20: the server adds the original's body and, for a forward, its attachments).

use mail_builder::mime::{BodyPart, MimePart};
use mail_parser::{Address, MessageParser};

use super::mime::{self, BodyKind};
use crate::bounded::{TooMany, distinct_at_most};

/// The header section (without the empty line) and the body of a raw message.
fn split(raw: &[u8]) -> (&[u8], &[u8]) {
    let mut i = 0;
    while i < raw.len() {
        let end = raw[i..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(raw.len(), |p| i + p + 1);
        if matches!(&raw[i..end], b"\n" | b"\r\n") {
            return (&raw[..i], &raw[end..]);
        }
        i = end;
    }
    (raw, &[])
}

/// Header fields (each with its folded continuation lines), in order.
fn fields(head: &[u8]) -> Vec<&[u8]> {
    let mut out: Vec<&[u8]> = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < head.len() {
        let end = head[i..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(head.len(), |p| i + p + 1);
        let continues = matches!(head.get(end), Some(b' ' | b'\t'));
        if !continues {
            if end > start {
                out.push(&head[start..end]);
            }
            start = end;
        }
        i = end;
    }
    out
}

fn field_name(field: &[u8]) -> &[u8] {
    let colon = field.iter().position(|b| *b == b':').unwrap_or(field.len());
    field[..colon].trim_ascii()
}

/// The header section of `raw` without the fields `drop` matches, plus `extra` fields;
/// every field ends with a line break, and the empty line is not included.
fn headers_without(raw: &[u8], drop: impl Fn(&[u8]) -> bool, extra: &[String]) -> Vec<u8> {
    let (head, _) = split(raw);
    let mut out = Vec::with_capacity(head.len() + 128);
    for f in fields(head) {
        if !drop(field_name(f)) {
            out.extend_from_slice(f);
            if !f.ends_with(b"\n") {
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    for e in extra {
        out.extend_from_slice(e.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// `raw` with its header section replaced by `headers` (from [`headers_without`]).
fn with_headers(headers: Vec<u8>, raw: &[u8]) -> Vec<u8> {
    let mut out = headers;
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(split(raw).1);
    out
}

/// The copy recipients get: without the Bcc header.
pub fn strip_bcc(raw: &[u8]) -> Vec<u8> {
    with_headers(
        headers_without(raw, |n| n.eq_ignore_ascii_case(b"bcc"), &[]),
        raw,
    )
}

fn addresses(a: Option<&Address>) -> Vec<String> {
    a.map(|a| {
        a.iter()
            .filter_map(|addr| addr.address())
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| s.contains('@'))
            .collect()
    })
    .unwrap_or_default()
}

/// Everyone the message goes to: To, Cc and Bcc, each address once; `Err` past `max`
/// distinct addresses (counting stops there).
pub fn recipients(raw: &[u8], max: usize) -> Result<Vec<String>, TooMany> {
    let Some(m) = MessageParser::default().parse(raw) else {
        return Ok(Vec::new());
    };
    let all = [m.to(), m.cc(), m.bcc()].into_iter().flat_map(addresses);
    distinct_at_most(all, max)
}

/// Makes the sender `address` (a phone may not send as someone else): a From naming
/// another address is replaced; Date and Message-ID are added when missing.
pub fn as_sender(raw: &[u8], address: &str, display_name: &str, hostname: &str) -> Vec<u8> {
    let parsed = MessageParser::default().parse(raw);
    let from = parsed
        .as_ref()
        .map(|m| addresses(m.from()))
        .unwrap_or_default();
    let own_from = from.len() == 1 && from[0] == address.to_ascii_lowercase();
    let mut extra = Vec::new();
    if !own_from {
        let name = display_name.replace(['"', '\\', '\r', '\n'], "");
        extra.push(if name.is_empty() {
            format!("From: <{address}>")
        } else {
            format!("From: \"{name}\" <{address}>")
        });
    }
    let has = |n: &str| parsed.as_ref().is_some_and(|m| m.header(n).is_some());
    if !has("Date") {
        extra.push(format!("Date: {}", rfc2822_now()));
    }
    if !has("Message-ID") {
        extra.push(format!(
            "Message-ID: <{:032x}@{hostname}>",
            rand::random::<u128>()
        ));
    }
    let headers = headers_without(
        raw,
        |n| !own_from && n.eq_ignore_ascii_case(b"from"),
        &extra,
    );
    with_headers(headers, raw)
}

fn rfc2822_now() -> String {
    let d = mail_parser::DateTime::from_timestamp(crate::store::now());
    d.to_rfc822()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Smart {
    Reply,
    Forward,
}

/// Completes a SmartReply/SmartForward: the client's headers stay as sent; the body becomes
/// the client's text followed by the quoted original, and a forward carries the original's
/// attachments.
pub fn smart(client: &[u8], original: &[u8], kind: Smart) -> Vec<u8> {
    let client_text = mime::body(client, BodyKind::Plain);
    let original_meta = mime::parse(original, 0);
    let original_text = mime::body(original, BodyKind::Plain);
    let header = format!(
        "-----Original Message-----\r\nFrom: {}\r\nSent: {}\r\nTo: {}\r\nSubject: {}\r\n\r\n",
        original_meta.from,
        original_meta
            .date
            .map(|d| mail_parser::DateTime::from_timestamp(d).to_rfc822())
            .unwrap_or_default(),
        original_meta.to,
        original_meta.subject
    );
    let quoted = match kind {
        Smart::Reply => original_text
            .lines()
            .map(|l| format!("> {l}"))
            .collect::<Vec<_>>()
            .join("\r\n"),
        Smart::Forward => original_text.replace("\r\n", "\n").replace('\n', "\r\n"),
    };
    let text = format!("{}\r\n\r\n{header}{quoted}\r\n", client_text.trim_end());
    let mut parts = vec![MimePart::new("text/plain", BodyPart::Text(text.into()))];
    // The client's own attachments, then (forward) the original's.
    let mut sources: Vec<&[u8]> = vec![client];
    if kind == Smart::Forward {
        sources.push(original);
    }
    for raw in sources {
        for a in mime::parse(raw, 0).attachments {
            if let Some((content_type, data)) = mime::attachment(raw, a.part) {
                parts.push(
                    MimePart::new(content_type, BodyPart::Binary(data.into())).attachment(a.name),
                );
            }
        }
    }
    let body = if parts.len() == 1 {
        parts.pop().expect("one part")
    } else {
        MimePart::new("multipart/mixed", BodyPart::Multipart(parts))
    };
    let mut out = headers_without(
        client,
        |n| {
            n.eq_ignore_ascii_case(b"content-type")
                || n.eq_ignore_ascii_case(b"content-transfer-encoding")
                || n.eq_ignore_ascii_case(b"mime-version")
        },
        &["MIME-Version: 1.0".to_owned()],
    );
    // The new body part's own headers (Content-Type…) complete the message's header section.
    if body.write_part(&mut out).is_err() {
        // Writing to a Vec cannot fail; keep the client's message rather than nothing.
        return client.to_vec();
    }
    out
}

/// The original message's id headers, for a reply that lacks them.
pub fn reply_headers(original: &[u8]) -> Option<(String, Vec<String>)> {
    let m = MessageParser::default().parse(original)?;
    let id = m.message_id()?.to_owned();
    let mut refs: Vec<String> = m
        .references()
        .as_text_list()
        .map(|l| l.iter().map(|s| s.to_string()).collect())
        .unwrap_or_default();
    refs.push(id.clone());
    Some((id, refs))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"From: Alice <alice@example.com>\r\nTo: bob@example.org, Carol <carol@x.net>\r\nCc: dave@example.org\r\nBcc: secret@example.org,\r\n eve@example.org\r\nSubject: hi\r\n\r\nHello\r\n";

    #[test]
    fn recipients_come_from_to_cc_and_bcc() {
        assert_eq!(
            recipients(MSG, 5).unwrap(),
            [
                "bob@example.org",
                "carol@x.net",
                "dave@example.org",
                "secret@example.org",
                "eve@example.org"
            ]
        );
        assert_eq!(recipients(MSG, 4), Err(TooMany { max: 4 }));
    }

    #[test]
    fn repeated_recipients_count_once() {
        let to: Vec<String> = (0..2000)
            .map(|i| format!("r{}@example.org", i % 10))
            .collect();
        let msg = format!("To: {}\r\nCc: R1@example.org\r\n\r\nHi\r\n", to.join(", "));
        assert_eq!(recipients(msg.as_bytes(), 10).unwrap().len(), 10);
        assert_eq!(recipients(msg.as_bytes(), 9), Err(TooMany { max: 9 }));
    }

    #[test]
    fn bcc_is_stripped_with_its_continuation_lines() {
        let out = strip_bcc(MSG);
        let text = String::from_utf8(out).unwrap();
        assert!(
            !text.contains("secret@") && !text.contains("eve@"),
            "{text}"
        );
        assert!(text.contains("Subject: hi\r\n\r\nHello"));
    }

    #[test]
    fn a_foreign_from_is_replaced() {
        let out = as_sender(MSG, "mallory@example.com", "Mallory", "mail.example.com");
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("From: \"Mallory\" <mallory@example.com>"),
            "{text}"
        );
        assert!(!text.contains("alice@example.com"));
        assert!(text.contains("Message-ID: <"));
        let own = as_sender(MSG, "alice@example.com", "Alice", "h");
        assert!(
            String::from_utf8(own)
                .unwrap()
                .contains("From: Alice <alice@example.com>")
        );
    }

    #[test]
    fn smart_reply_quotes_and_forward_attaches() {
        let original = b"From: bob@example.org\r\nTo: alice@example.com\r\nSubject: plan\r\nMessage-ID: <orig@x>\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nline one\r\nline two\r\n--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=plan.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--b--\r\n";
        let client = b"From: alice@example.com\r\nTo: bob@example.org\r\nSubject: RE: plan\r\nContent-Type: text/plain\r\n\r\nSounds good.\r\n";
        let reply = smart(client, original, Smart::Reply);
        let body = mime::body(&reply, BodyKind::Plain);
        assert!(
            body.contains("Sounds good.") && body.contains("> line one"),
            "{body}"
        );
        assert!(mime::parse(&reply, 0).attachments.is_empty());
        assert_eq!(mime::parse(&reply, 0).subject, "RE: plan");
        let fwd = smart(client, original, Smart::Forward);
        let meta = mime::parse(&fwd, 0);
        assert_eq!(meta.attachments.len(), 1);
        assert_eq!(meta.attachments[0].name, "plan.pdf");
        let (_, data) = mime::attachment(&fwd, meta.attachments[0].part).unwrap();
        assert_eq!(data, b"%PDF-");
        assert_eq!(reply_headers(original).unwrap().0, "orig@x");
    }
}
