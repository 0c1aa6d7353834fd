//! Drafts ([MS-ASEMAIL] 16.0): a draft is a real RFC 5322 message in the Drafts folder,
//! built here with mail-builder from the fields a device sends (To, Cc, Bcc, Subject, Body,
//! Importance, attachments), so other devices sync and fetch it like any message and Send
//! submits exactly the stored bytes.
//!
//! This module is pure (fields in, bytes out, and back); [`save`] applies a device's edit
//! in a store transaction and sends a draft after it.

pub mod save;

use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::{BodyPart, MimePart};
use mail_parser::MessageParser;

use super::mime::{self, BodyKind};
use crate::store::model::MessageMeta;

/// One recipient or the sender: an address and an optional display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub name: Option<String>,
    pub address: String,
}

/// A file attached to a draft.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub name: String,
    pub content_type: String,
    pub data: Vec<u8>,
    pub content_id: Option<String>,
    pub content_location: Option<String>,
    pub inline: bool,
}

/// Everything a draft holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    pub bcc: Vec<Mailbox>,
    pub subject: String,
    pub body_kind: BodyKind,
    pub body: String,
    /// 0 low, 1 normal, 2 high ([MS-ASEMAIL] 2.2.2.38 Importance).
    pub importance: u8,
    pub attachments: Vec<Attachment>,
    /// Kept across edits: the draft stays one message.
    pub message_id: String,
}

/// What a device changes in a draft: a field that is `Some` replaces the stored one
/// (an empty value clears it), `None` leaves it as it is ([MS-ASEMAIL] 16.0 Sync Change).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Edit {
    pub to: Option<Vec<Mailbox>>,
    pub cc: Option<Vec<Mailbox>>,
    pub bcc: Option<Vec<Mailbox>>,
    pub subject: Option<String>,
    pub body: Option<(BodyKind, String)>,
    pub importance: Option<u8>,
    /// (the device's ClientId for it, the attachment), appended in order.
    pub add: Vec<(String, Attachment)>,
    /// MIME part numbers (from FileReferences) of attachments to remove.
    pub delete: Vec<u32>,
}

impl Edit {
    /// Whether the edit touches the message itself (not only its flags).
    pub fn changes_content(&self) -> bool {
        *self != Edit::default()
    }
}

/// An edit the draft cannot take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("the draft has no attachment at part {0}")]
    NoSuchAttachment(u32),
}

impl Draft {
    /// An empty draft with a fresh Message-ID at `hostname`.
    pub fn new(hostname: &str) -> Self {
        Draft {
            to: Vec::new(),
            cc: Vec::new(),
            bcc: Vec::new(),
            subject: String::new(),
            body_kind: BodyKind::Plain,
            body: String::new(),
            importance: 1,
            attachments: Vec::new(),
            message_id: format!("{:032x}@{hostname}", rand::random::<u128>()),
        }
    }

    /// The draft a stored message holds (any message: one easd built, or one moved into
    /// Drafts), read with mail-parser; `meta` is its stored metadata.
    pub fn read(raw: &[u8], meta: &MessageMeta, hostname: &str) -> Self {
        let body_kind = if meta.native_body == 2 {
            BodyKind::Html
        } else {
            BodyKind::Plain
        };
        let attachments = meta
            .attachments
            .iter()
            .filter_map(|a| {
                let (content_type, data) = mime::attachment(raw, a.part)?;
                Some(Attachment {
                    name: a.name.clone(),
                    content_type,
                    data,
                    content_id: a.content_id.clone(),
                    content_location: None,
                    inline: a.inline,
                })
            })
            .collect();
        Draft {
            to: parse_mailboxes(&meta.to).unwrap_or_default(),
            cc: parse_mailboxes(&meta.cc).unwrap_or_default(),
            bcc: parse_mailboxes(&meta.bcc).unwrap_or_default(),
            subject: meta.subject.clone(),
            body_kind,
            body: mime::body(raw, body_kind),
            importance: meta.importance,
            attachments,
            message_id: meta
                .message_id
                .clone()
                .unwrap_or_else(|| Draft::new(hostname).message_id),
        }
    }

    /// Applies `edit`; `parts` are the MIME part numbers of the current attachments, in
    /// order (what FileReferences name). Nothing changes when it fails.
    pub fn apply(&mut self, edit: Edit, parts: &[u32]) -> Result<(), EditError> {
        let mut keep = vec![true; self.attachments.len()];
        for part in &edit.delete {
            let i = parts
                .iter()
                .position(|p| p == part)
                .filter(|&i| i < keep.len())
                .ok_or(EditError::NoSuchAttachment(*part))?;
            keep[i] = false;
        }
        let mut i = 0;
        self.attachments.retain(|_| {
            i += 1;
            keep[i - 1]
        });
        self.attachments
            .extend(edit.add.into_iter().map(|(_, attachment)| attachment));
        let replace = |field: &mut Vec<Mailbox>, new: Option<Vec<Mailbox>>| {
            if let Some(new) = new {
                *field = new;
            }
        };
        replace(&mut self.to, edit.to);
        replace(&mut self.cc, edit.cc);
        replace(&mut self.bcc, edit.bcc);
        if let Some(subject) = edit.subject {
            self.subject = subject;
        }
        if let Some((kind, body)) = edit.body {
            self.body_kind = kind;
            self.body = body;
        }
        if let Some(importance) = edit.importance {
            self.importance = importance;
        }
        Ok(())
    }

    /// The message, From `author`, dated now. Without attachments it is the body part
    /// alone; with them, multipart/mixed of the body then each attachment in order, so the
    /// attachments' part numbers (their FileReferences) stay put when one is appended.
    pub fn build(&self, author: &Mailbox) -> Vec<u8> {
        let list = |boxes: &[Mailbox]| {
            Address::new_list(
                boxes
                    .iter()
                    .map(|m| Address::new_address(m.name.clone(), m.address.clone()))
                    .collect(),
            )
        };
        let mut message = MessageBuilder::new()
            .from(Address::new_address(
                author.name.clone(),
                author.address.clone(),
            ))
            .subject(self.subject.clone())
            .message_id(self.message_id.clone());
        if !self.to.is_empty() {
            message = message.to(list(&self.to));
        }
        if !self.cc.is_empty() {
            message = message.cc(list(&self.cc));
        }
        if !self.bcc.is_empty() {
            message = message.bcc(list(&self.bcc));
        }
        // RFC 2156 Importance: what mime::parse reads back as [MS-ASEMAIL] Importance.
        match self.importance {
            0 => message = message.header("Importance", Raw::new("low")),
            2 => message = message.header("Importance", Raw::new("high")),
            _ => {}
        }
        let content_type = match self.body_kind {
            BodyKind::Plain => "text/plain",
            BodyKind::Html => "text/html",
        };
        let body = MimePart::new(content_type, BodyPart::Text(self.body.clone().into()));
        let root = if self.attachments.is_empty() {
            body
        } else {
            let mut parts = vec![body];
            parts.extend(self.attachments.iter().map(attachment_part));
            MimePart::new("multipart/mixed", BodyPart::Multipart(parts))
        };
        message
            .body(root)
            .write_to_vec()
            .expect("writing to a Vec cannot fail")
    }
}

fn attachment_part(a: &Attachment) -> MimePart<'static> {
    let content_type = ContentType::new(a.content_type.clone()).attribute("name", a.name.clone());
    let mut part = MimePart::new(content_type, BodyPart::Binary(a.data.clone().into()));
    part = if a.inline {
        part.inline()
    } else {
        part.attachment(a.name.clone())
    };
    if let Some(cid) = &a.content_id {
        part = part.cid(cid.clone());
    }
    if let Some(location) = &a.content_location {
        part = part.location(location.clone());
    }
    part
}

/// The MIME part numbers of a message's attachments, in order: what their FileReferences
/// carry ([MS-ASAIRS] 2.2.2.24).
pub fn attachment_parts(meta: &MessageMeta) -> Vec<u32> {
    meta.attachments.iter().map(|a| a.part).collect()
}

/// An address list as a device writes it ([MS-ASEMAIL] 2.2.2.79 To: comma-separated;
/// some clients use semicolons). `Err` when it names something that is not an address.
pub fn parse_mailboxes(list: &str) -> Result<Vec<Mailbox>, String> {
    let flat: String = list
        .chars()
        .map(|c| match c {
            '\r' | '\n' => ' ',
            ';' => ',',
            c => c,
        })
        .collect();
    if flat.trim().is_empty() {
        return Ok(Vec::new());
    }
    let header = format!("To: {flat}\r\n\r\n");
    let parsed = MessageParser::default()
        .parse(header.as_bytes())
        .ok_or_else(|| format!("unreadable address list {list:?}"))?;
    let mut out = Vec::new();
    for addr in parsed.to().into_iter().flat_map(|a| a.iter()) {
        let address = addr.address().map(str::trim).unwrap_or_default();
        if !address.contains('@') || address.chars().any(|c| c.is_whitespace() || c == '<') {
            return Err(format!("{address:?} in {list:?} is not an address"));
        }
        out.push(Mailbox {
            name: addr
                .name()
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_owned),
            address: address.to_owned(),
        });
    }
    if out.is_empty() {
        return Err(format!("no address in {list:?}"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn author() -> Mailbox {
        Mailbox {
            name: Some("Alice Example".into()),
            address: "alice@example.com".into(),
        }
    }

    fn pdf(name: &str, data: &[u8]) -> Attachment {
        Attachment {
            name: name.into(),
            content_type: "application/pdf".into(),
            data: data.to_vec(),
            content_id: None,
            content_location: None,
            inline: false,
        }
    }

    #[test]
    fn addresses_are_read_with_names_and_either_separator() {
        let list = parse_mailboxes("\"Bob B\" <bob@example.org>; carol@x.net").unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].name.as_deref(), Some("Bob B"));
        assert_eq!(list[1].address, "carol@x.net");
        assert_eq!(parse_mailboxes("  "), Ok(Vec::new()));
        assert!(parse_mailboxes("not an address").is_err());
    }

    #[test]
    fn a_built_draft_reads_back_the_same() {
        let mut d = Draft::new("h.example");
        d.apply(
            Edit {
                to: Some(parse_mailboxes("Bob <bob@example.org>").unwrap()),
                bcc: Some(parse_mailboxes("secret@example.org").unwrap()),
                subject: Some("Grüße".into()),
                body: Some((BodyKind::Html, "<p>Hallo</p>".into())),
                importance: Some(2),
                add: vec![("c1".into(), pdf("a.pdf", b"%PDF-1"))],
                ..Edit::default()
            },
            &[],
        )
        .unwrap();
        let raw = d.build(&author());
        let meta = mime::parse(&raw, 0);
        assert_eq!(meta.subject, "Grüße");
        assert_eq!(meta.importance, 2);
        assert_eq!(meta.bcc, "secret@example.org");
        assert_eq!(meta.native_body, 2);
        assert_eq!(meta.attachments.len(), 1);
        let back = Draft::read(&raw, &meta, "h.example");
        assert_eq!(back.to, d.to);
        assert_eq!(back.attachments, d.attachments);
        assert_eq!(back.message_id, d.message_id);
        assert!(back.body.contains("<p>Hallo</p>"));
    }

    #[test]
    fn appending_keeps_part_numbers_and_deleting_names_a_part() {
        let mut d = Draft::new("h");
        let one = Edit {
            add: vec![("c1".into(), pdf("1.pdf", b"one"))],
            ..Edit::default()
        };
        d.apply(one, &[]).unwrap();
        let first = attachment_parts(&mime::parse(&d.build(&author()), 0));
        let two = Edit {
            add: vec![("c2".into(), pdf("2.pdf", b"two"))],
            ..Edit::default()
        };
        d.apply(two, &first).unwrap();
        let both = attachment_parts(&mime::parse(&d.build(&author()), 0));
        assert_eq!(both[0], first[0]);
        let gone = Edit {
            delete: vec![both[0]],
            ..Edit::default()
        };
        d.apply(gone, &both).unwrap();
        assert_eq!(d.attachments.len(), 1);
        assert_eq!(d.attachments[0].data, b"two");
        let missing = Edit {
            delete: vec![99],
            ..Edit::default()
        };
        assert_eq!(
            d.apply(missing, &both),
            Err(EditError::NoSuchAttachment(99))
        );
        assert_eq!(d.attachments.len(), 1);
    }
}
