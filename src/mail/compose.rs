//! Outgoing messages as the phone sends them, made ready to leave: recipients read from the
//! headers, Bcc stripped from what recipients see, From held to the sender's own address
//! (SmartReply/SmartForward are completed in [`super::smart`]).

use mail_parser::{Address, MessageParser};

use crate::bounded::{TooMany, distinct_at_most};
/// A message's header fields as mail-parser reads them, each as its bytes in the message
/// (name, value, folded lines and line break, kept as they are), and the body after the
/// header section.
struct Head<'a> {
    fields: Vec<(String, &'a [u8])>,
    body: &'a [u8],
}

fn head(raw: &[u8]) -> Head<'_> {
    let parsed = MessageParser::default().parse(raw);
    let Some(root) = parsed.as_ref().and_then(|m| m.parts.first()) else {
        // Nothing to parse (no bytes): no fields.
        return Head {
            fields: Vec::new(),
            body: raw,
        };
    };
    let range = |from: u32, to: u32| raw.get(from as usize..to as usize);
    Head {
        fields: root
            .headers
            .iter()
            .filter_map(|h| {
                Some((
                    h.name.as_str().to_owned(),
                    range(h.offset_field, h.offset_end)?,
                ))
            })
            .collect(),
        body: raw.get(root.offset_body as usize..).unwrap_or_default(),
    }
}

/// The header fields of `head` but those `drop` names, then `extra` fields; every field
/// ends with a line break, and the empty line is not included.
fn section(head: &Head<'_>, drop: impl Fn(&str) -> bool, extra: &[String]) -> Vec<u8> {
    let mut out = Vec::with_capacity(head.fields.iter().map(|(_, f)| f.len()).sum::<usize>() + 128);
    for (name, field) in &head.fields {
        if !drop(name) {
            out.extend_from_slice(field);
            if !field.ends_with(b"\n") {
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

/// The header section of `raw` without the fields `drop` names, plus `extra` fields
/// (see [`section`]).
pub(super) fn headers_without(
    raw: &[u8],
    drop: impl Fn(&str) -> bool,
    extra: &[String],
) -> Vec<u8> {
    section(&head(raw), drop, extra)
}

/// `raw` with the header fields `drop` names removed and `extra` ones added.
fn rewrite(raw: &[u8], drop: impl Fn(&str) -> bool, extra: &[String]) -> Vec<u8> {
    let head = head(raw);
    let mut out = section(&head, drop, extra);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(head.body);
    out
}

/// The copy recipients get: without the Bcc header. A message without one is left as it
/// is, byte for byte, so the relayed copy and the Sent Items copy are the same.
pub fn strip_bcc(raw: &[u8]) -> Vec<u8> {
    let is_bcc = |n: &str| n.eq_ignore_ascii_case("bcc");
    if !head(raw).fields.iter().any(|(n, _)| is_bcc(n)) {
        return raw.to_vec();
    }
    rewrite(raw, is_bcc, &[])
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
    rewrite(raw, |n| !own_from && n.eq_ignore_ascii_case("from"), &extra)
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
    fn fields_are_copied_as_they_are() {
        let raw = b"From: a@example.com\r\nSubject: caf\xe9\r\nTo: b@example.org,\r\n\tc@example.org\r\nBcc: d@example.org\r\n\r\nbody\r\n\r\nmore\r\n";
        let out = strip_bcc(raw);
        assert_eq!(
            out,
            b"From: a@example.com\r\nSubject: caf\xe9\r\nTo: b@example.org,\r\n\tc@example.org\r\n\r\nbody\r\n\r\nmore\r\n"
        );
        // Without a Bcc, byte for byte the same message.
        assert_eq!(strip_bcc(&out), out);
        let lf = b"From: a@example.com\nBcc: d@example.org\nSubject: s\n\nbody\n";
        assert_eq!(
            strip_bcc(lf),
            b"From: a@example.com\nSubject: s\n\r\nbody\n"
        );
    }
}
