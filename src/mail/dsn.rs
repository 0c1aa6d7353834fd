//! Delivery-status notifications (RFC 3464) for the recipients the relay refused for good,
//! put into the sender's Inbox as Exchange puts its non-delivery reports there: the phone
//! was told its message was sent, and this is how the user learns who did not get it.
//!
//! The report is `multipart/report; report-type=delivery-status` (RFC 6522): a text for
//! people, the `message/delivery-status` fields, and the original's header section. UTF-8
//! addresses or headers use the RFC 6533 forms (`message/global-delivery-status`,
//! `utf-8;` addresses, `message/global-headers`).

use mail_builder::MessageBuilder;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::{BodyPart, MimePart};
use mail_parser::{DateTime, MessageParser};

use super::mime;
use super::relay::Refusal;

/// What a report says about the attempt.
pub struct Attempt<'a> {
    /// easd's host name (Reporting-MTA).
    pub hostname: &'a str,
    /// The relay that refused (Remote-MTA).
    pub relay: &'a str,
    /// The account that sent the message, who gets the report.
    pub sender: &'a str,
    /// When the phone handed the message over (Unix seconds).
    pub arrival: i64,
}

/// The report for `refusals` of the message `original` (as it left, without Bcc).
pub fn report(attempt: &Attempt<'_>, original: &[u8], refusals: &[Refusal]) -> Vec<u8> {
    let parsed = MessageParser::default().parse_headers(original);
    let subject = parsed.as_ref().and_then(|m| m.subject()).unwrap_or("");
    let domain = attempt
        .sender
        .rsplit_once('@')
        .map_or("localhost", |(_, d)| d);
    let postmaster = format!("postmaster@{domain}");
    let mut builder = MessageBuilder::new()
        .from(("Mail Delivery System", postmaster.as_str()))
        .to(attempt.sender)
        .subject(format!("Undeliverable: {subject}"))
        .date(attempt.arrival)
        .message_id(format!(
            "{:032x}@{}",
            rand::random::<u128>(),
            attempt.hostname
        ))
        // RFC 3834 section 5: generated, so nothing (an out-of-office rule) answers it.
        .header("Auto-Submitted", Raw::new("auto-replied"));
    if let Some(id) = parsed.as_ref().and_then(|m| m.message_id()) {
        builder = builder.in_reply_to(id.to_owned()).references(id.to_owned());
    }
    let headers = &original[..mime::header_end(original)];
    let headers_type = if headers.is_ascii() {
        "text/rfc822-headers"
    } else {
        "message/global-headers"
    };
    let status_type = if refusals.iter().all(|r| r.recipient.is_ascii()) {
        "message/delivery-status"
    } else {
        "message/global-delivery-status"
    };
    let parts = vec![
        MimePart::new("text/plain", explanation(attempt, refusals)),
        verbatim(status_type, delivery_status(attempt, refusals).into_bytes()),
        verbatim(headers_type, headers.to_vec()),
    ];
    let report_type =
        ContentType::new("multipart/report").attribute("report-type", "delivery-status");
    // Writing into a Vec cannot fail.
    builder
        .body(MimePart::new(report_type, parts))
        .write_to_vec()
        .unwrap_or_default()
}

/// A part written as it is, 7bit or 8bit: mail-builder would base64 a message/* part,
/// which readers of reports (and RFC 3464 2.1's field syntax) do not expect. The report
/// is only ever stored, never relayed, so 8bit needs no SMTP extension.
fn verbatim(content_type: &'static str, bytes: Vec<u8>) -> MimePart<'static> {
    let encoding = if bytes.is_ascii() { "7bit" } else { "8bit" };
    MimePart::new(content_type, BodyPart::Binary(bytes.into())).transfer_encoding(encoding)
}

/// The part for people.
fn explanation(attempt: &Attempt<'_>, refusals: &[Refusal]) -> String {
    let mut text = format!(
        "Your message could not be delivered to the recipients below: the mail relay {} \
         refused them. It was not sent to them and will not be retried.\r\n\r\n",
        attempt.relay
    );
    for r in refusals {
        text.push_str(&format!("  {}\r\n      {}\r\n", r.recipient, diagnostic(r)));
    }
    text
}

/// The `message/delivery-status` fields (RFC 3464 2.2 and 2.3): one per-message group,
/// then one group per refused recipient.
fn delivery_status(attempt: &Attempt<'_>, refusals: &[Refusal]) -> String {
    let mut fields = format!(
        "Reporting-MTA: dns; {}\r\nArrival-Date: {}\r\n",
        attempt.hostname,
        DateTime::from_timestamp(attempt.arrival).to_rfc822()
    );
    for r in refusals {
        // RFC 6533 3: a UTF-8 address is typed utf-8, an ASCII one rfc822.
        let kind = if r.recipient.is_ascii() {
            "rfc822"
        } else {
            "utf-8"
        };
        fields.push_str(&format!(
            "\r\nFinal-Recipient: {kind}; {}\r\nAction: failed\r\nStatus: {}\r\n\
             Remote-MTA: dns; {}\r\nDiagnostic-Code: smtp; {}\r\n",
            r.recipient,
            status(r),
            attempt.relay,
            diagnostic(r)
        ));
    }
    fields
}

/// The enhanced status (RFC 3464 2.3.4): the relay's own when it gave a permanent one,
/// else 5.0.0 (permanent, undefined).
fn status(r: &Refusal) -> String {
    match r.status {
        [5, subject, detail] => format!("5.{subject}.{detail}"),
        _ => "5.0.0".to_owned(),
    }
}

/// The relay's reply on one line of printable ASCII (RFC 3464 2.3.6: a diagnostic-code
/// field holds the SMTP reply; its text comes from a remote server).
fn diagnostic(r: &Refusal) -> String {
    let text: String = r
        .text
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { ' ' })
        .collect();
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match r.status {
        [0, 0, 0] => format!("{} {text}", r.code),
        [class, subject, detail] => format!("{} {class}.{subject}.{detail} {text}", r.code),
    }
}

#[cfg(test)]
mod tests {
    use mail_parser::{MessageParser, MimeHeaders};

    use super::*;

    fn refusal(recipient: &str, status: [u8; 3]) -> Refusal {
        Refusal {
            recipient: recipient.to_owned(),
            code: 550,
            status,
            text: "no such\r\nuser \u{7}here".to_owned(),
        }
    }

    /// The content types of the report's parts (after the multipart root).
    fn part_types(m: &mail_parser::Message<'_>) -> Vec<String> {
        m.parts
            .iter()
            .skip(1)
            .map(|p| {
                let ct = p.content_type().expect("part type");
                format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or(""))
            })
            .collect()
    }

    const ATTEMPT: Attempt<'static> = Attempt {
        hostname: "mail.example.com",
        relay: "127.0.0.1",
        sender: "alice@example.com",
        arrival: 1_790_000_000,
    };

    #[test]
    fn report_is_a_multipart_report_with_a_group_per_recipient() {
        let original = b"From: alice@example.com\r\nTo: carol@remote.test, dan@remote.test\r\n\
            Subject: plans\r\nMessage-ID: <orig@example.com>\r\n\r\nsecret body\r\n";
        let refusals = [
            refusal("carol@remote.test", [5, 1, 1]),
            refusal("dan@remote.test", [0, 0, 0]),
        ];
        let raw = report(&ATTEMPT, original, &refusals);
        let m = MessageParser::default().parse(&raw).expect("parses");
        assert_eq!(m.subject(), Some("Undeliverable: plans"));
        assert_eq!(
            m.to().and_then(|a| a.first()).and_then(|a| a.address()),
            Some("alice@example.com")
        );
        assert_eq!(m.in_reply_to().as_text(), Some("orig@example.com"));
        assert_eq!(
            m.header_raw("Auto-Submitted").map(str::trim),
            Some("auto-replied")
        );
        let ct = m.content_type().expect("content type");
        assert_eq!((ct.ctype(), ct.subtype()), ("multipart", Some("report")));
        assert_eq!(ct.attribute("report-type"), Some("delivery-status"));

        let parts: Vec<_> = m.parts.iter().skip(1).collect();
        assert_eq!(
            part_types(&m),
            [
                "text/plain",
                "message/delivery-status",
                "text/rfc822-headers"
            ]
        );
        let human = String::from_utf8_lossy(parts[0].contents());
        assert!(
            human.contains("carol@remote.test") && human.contains("550 5.1.1 no such user here")
        );
        assert!(
            String::from_utf8_lossy(&raw).contains(
                "Content-Type: message/delivery-status\r\nContent-Transfer-Encoding: 7bit\r\n\r\n\
                 Reporting-MTA: dns; mail.example.com\r\n"
            ),
            "the status fields are readable as they are"
        );
        let status = String::from_utf8_lossy(parts[1].contents()).replace("\r\n", "\n");
        assert!(
            status.starts_with("Reporting-MTA: dns; mail.example.com\nArrival-Date: "),
            "{status}"
        );
        assert!(
            status.contains(
                "\n\nFinal-Recipient: rfc822; carol@remote.test\nAction: failed\nStatus: 5.1.1\n\
                 Remote-MTA: dns; 127.0.0.1\nDiagnostic-Code: smtp; 550 5.1.1 no such user here\n"
            ),
            "{status}"
        );
        assert!(
            status.contains(
                "\n\nFinal-Recipient: rfc822; dan@remote.test\nAction: failed\nStatus: 5.0.0\n"
            ),
            "{status}"
        );
        // The headers come back, the body does not.
        let headers = String::from_utf8_lossy(parts[2].contents());
        assert!(headers.contains("Subject: plans"), "{headers}");
        assert!(!String::from_utf8_lossy(&raw).contains("secret body"));
    }

    #[test]
    fn utf8_addresses_and_headers_use_the_global_forms() {
        let original =
            "From: alice@example.com\r\nTo: jörg@bücher.example\r\nSubject: Grüße\r\n\r\nx\r\n";
        let raw = report(
            &ATTEMPT,
            original.as_bytes(),
            &[refusal("jörg@bücher.example", [5, 1, 1])],
        );
        let m = MessageParser::default().parse(&raw).expect("parses");
        assert_eq!(m.subject(), Some("Undeliverable: Grüße"));
        assert_eq!(
            part_types(&m)[1..],
            ["message/global-delivery-status", "message/global-headers"]
        );
        let status = String::from_utf8_lossy(m.parts[2].contents());
        assert!(
            status.contains("Final-Recipient: utf-8; jörg@bücher.example"),
            "{status}"
        );
        assert!(String::from_utf8_lossy(m.parts[3].contents()).contains("Subject: Grüße"));
    }
}
