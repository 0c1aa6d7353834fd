//! Outgoing messages as the phone sends them, made ready to leave: recipients read from the
//! headers, Bcc stripped from what recipients see, From held to the sender's own address
//! (SmartReply/SmartForward are completed in [`super::smart`]).

use mail_parser::{Address, MessageParser};

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
pub(super) fn headers_without(
    raw: &[u8],
    drop: impl Fn(&[u8]) -> bool,
    extra: &[String],
) -> Vec<u8> {
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

/// The copy recipients get: without the Bcc header. A message without one is left as it
/// is, byte for byte, so the relayed copy and the Sent Items copy are the same.
pub fn strip_bcc(raw: &[u8]) -> Vec<u8> {
    let is_bcc = |n: &[u8]| n.eq_ignore_ascii_case(b"bcc");
    if !fields(split(raw).0)
        .into_iter()
        .any(|f| is_bcc(field_name(f)))
    {
        return raw.to_vec();
    }
    with_headers(headers_without(raw, is_bcc, &[]), raw)
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

/// Everyone the message goes to: To, Cc and Bcc, each address once.
pub fn recipients(raw: &[u8]) -> Vec<String> {
    let Some(m) = MessageParser::default().parse(raw) else {
        return Vec::new();
    };
    let mut all = addresses(m.to());
    all.extend(addresses(m.cc()));
    all.extend(addresses(m.bcc()));
    let mut seen = std::collections::HashSet::new();
    all.retain(|a| seen.insert(a.clone()));
    all
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

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"From: Alice <alice@example.com>\r\nTo: bob@example.org, Carol <carol@x.net>\r\nCc: dave@example.org\r\nBcc: secret@example.org,\r\n eve@example.org\r\nSubject: hi\r\n\r\nHello\r\n";

    #[test]
    fn recipients_come_from_to_cc_and_bcc() {
        assert_eq!(
            recipients(MSG),
            [
                "bob@example.org",
                "carol@x.net",
                "dave@example.org",
                "secret@example.org",
                "eve@example.org"
            ]
        );
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
}
