//! GroupWare mail access (`groupware_folders=all-as-mail`): a note or a task as the
//! read-only message a mail-only client is shown in its folder.
//!
//! The message is made from the item alone, so the same item gives the same bytes every
//! time (Sync, Fetch and ItemOperations agree, and nothing is stored): Date is the item's
//! last modification, the Message-ID names the item and its version, and a single text
//! part needs no random MIME boundary. Notes and tasks carry no attachments in the
//! records easd keeps ([MS-ASNOTE] 2.2.2 and [MS-ASTASK] 2.2.2 have no Attachments
//! element), so the messages have none.

use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;
use mail_builder::headers::raw::Raw;

use super::mime;
use crate::proto::datetime::format_datetime;
use crate::store::blob::BlobId;
use crate::store::model::pim::{Body, Note, Record, Task};
use crate::store::model::{Flags, GroupwareItem, MailItem};

/// [MS-ASAIRS] 2.2.2.22.1 Body Type 2: HTML.
const BODY_HTML: u8 = 2;

/// A generated message: its bytes, and the message as Sync and Fetch describe it.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    pub item: MailItem,
    pub raw: Vec<u8>,
}

/// The message that shows groupware item `item` of the account whose address is `owner`;
/// `None` for an item that is neither a note nor a task.
///
/// - Subject: the note's or task's subject.
/// - From: the item's categories as the display name (the kind, "Note" or "Task", when it
///   has none), at the account's own address, which To names too: a reply goes nowhere
///   but back to the user.
/// - Date (and so DateReceived): when the item was last modified, so the folder sorts by
///   it: a note's LastModifiedDate, else when easd last stored it.
/// - Body: the note's body; the task's start and due dates, status and priority, then its
///   description. Plain text, or HTML when the item's body is HTML; an RTF body
///   (compressed, [MS-ASAIRS] 2.2.2.22.1 Type 3) is not decoded and left out. The other
///   form is made from it when a client asks for it, as for any message.
/// - Importance: the task's.
///
/// The message is read (flags): it is the user's own item, not news to announce.
pub fn message(item: &GroupwareItem, owner: &str) -> Option<Generated> {
    let stored = item.modified.unwrap_or(item.created);
    let (kind, subject, categories, date, body, importance) = match &item.record {
        Record::Note(n) => (
            "Note",
            n.subject.clone(),
            &n.categories,
            n.last_modified_date.map_or(stored, |d| d.0),
            note_body(n),
            None,
        ),
        Record::Task(t) => (
            "Task",
            t.subject.clone(),
            &t.categories,
            stored,
            task_body(t),
            t.importance,
        ),
        Record::Event(_) | Record::Contact(_) => return None,
    };
    let name = if categories.is_empty() {
        kind.to_owned()
    } else {
        categories.join(", ")
    };
    let domain = owner.rsplit_once('@').map_or("localhost", |(_, d)| d);
    let mut builder = MessageBuilder::new()
        .from(Address::new_address(Some(name), owner.to_owned()))
        .to(Address::new_address(None::<String>, owner.to_owned()))
        .subject(subject.unwrap_or_default())
        .date(date)
        // The item and its version: a changed item is a new message under the same
        // ServerId.
        .message_id(format!(
            "{}.{}.{}@groupware.{domain}",
            item.folder, item.id, item.modseq
        ));
    // [MS-ASTASK] 2.2.2.14 Importance: 0 low, 1 normal, 2 high (RFC 2156 Importance).
    let importance = match importance {
        Some(0) => Some("low"),
        Some(2) => Some("high"),
        _ => None,
    };
    if let Some(i) = importance {
        builder = builder.header("Importance", Raw::new(i));
    }
    builder = match body {
        Text::Plain(text) => builder.text_body(text),
        Text::Html(html) => builder.html_body(html),
    };
    // Writing into a Vec cannot fail.
    let raw = builder.write_to_vec().unwrap_or_default();
    let meta = mime::parse(&raw, date);
    let item = MailItem {
        id: item.id,
        folder: item.folder,
        blob: BlobId::of(&raw),
        meta,
        flags: Flags {
            read: true,
            categories: categories.clone(),
            ..Flags::default()
        },
        modseq: item.modseq,
    };
    Some(Generated { item, raw })
}

/// A body as the message carries it.
enum Text {
    Plain(String),
    Html(String),
}

/// The item's own body: HTML kept as HTML, plain text as text, RTF left out.
fn own_body(body: Option<&Body>) -> Text {
    match body {
        Some(b) if b.kind == BODY_HTML => Text::Html(b.data.clone()),
        Some(b) if b.kind == 1 => Text::Plain(b.data.clone()),
        _ => Text::Plain(String::new()),
    }
}

fn note_body(note: &Note) -> Text {
    own_body(note.body.as_ref())
}

/// The task's details, one per line, then its description.
fn task_body(task: &Task) -> Text {
    let day = |s: Option<crate::store::model::pim::Stamp>| {
        s.map(|s| format_datetime(s.0).chars().take(10).collect::<String>())
    };
    let mut lines = Vec::new();
    if let Some(start) = day(task.start_date.or(task.utc_start_date)) {
        lines.push(format!("Start: {start}"));
    }
    if let Some(due) = day(task.due_date.or(task.utc_due_date)) {
        lines.push(format!("Due: {due}"));
    }
    lines.push(
        match (task.complete == Some(true), day(task.date_completed)) {
            (true, Some(on)) => format!("Status: completed on {on}"),
            (true, None) => "Status: completed".to_owned(),
            (false, _) => "Status: not completed".to_owned(),
        },
    );
    lines.push(
        match task.importance {
            Some(0) => "Priority: low",
            Some(2) => "Priority: high",
            _ => "Priority: normal",
        }
        .to_owned(),
    );
    match own_body(task.body.as_ref()) {
        Text::Plain(text) if text.is_empty() => Text::Plain(lines.join("\n")),
        Text::Plain(text) => Text::Plain(format!("{}\n\n{text}", lines.join("\n"))),
        Text::Html(html) => {
            let details: Vec<String> = lines.iter().map(|l| mime::escape_html(l)).collect();
            Text::Html(format!("<p>{}</p>\n{html}", details.join("<br>\n")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::mime::BodyKind;
    use crate::proto::datetime::parse_datetime;
    use crate::store::model::pim::Stamp;
    use crate::store::model::{NoteSummary, Summary, TaskSummary};

    fn stamp(s: &str) -> Option<Stamp> {
        parse_datetime(s).map(Stamp)
    }

    fn item(record: Record, summary: Summary) -> GroupwareItem {
        GroupwareItem {
            id: 7,
            folder: 12,
            record,
            summary,
            created: 1_700_000_000,
            modified: Some(1_800_000_000),
            modseq: 3,
        }
    }

    fn task() -> GroupwareItem {
        let t = Task {
            subject: Some("File the taxes".into()),
            importance: Some(2),
            due_date: stamp("2026-04-15T00:00:00.000Z"),
            complete: Some(false),
            categories: vec!["Home".into(), "Money".into()],
            body: Some(Body {
                kind: 1,
                data: "Forms are in the drawer.".into(),
            }),
            ..Task::default()
        };
        item(
            Record::Task(Box::new(t)),
            Summary::Task(TaskSummary::default()),
        )
    }

    #[test]
    fn a_task_becomes_a_message_with_its_details_and_the_same_bytes_each_time() {
        let g = message(&task(), "alice@example.com").expect("a task");
        assert_eq!(message(&task(), "alice@example.com"), Some(g.clone()));
        let m = &g.item.meta;
        assert_eq!(m.subject, "File the taxes");
        assert_eq!(m.from, "\"Home, Money\" <alice@example.com>");
        assert_eq!(m.received, 1_800_000_000, "DateReceived: the last change");
        assert_eq!(m.importance, 2);
        assert!(g.item.flags.read);
        assert_eq!(g.item.flags.categories, ["Home", "Money"]);
        // MIME text has CRLF line ends.
        let text = mime::body(&g.raw, BodyKind::Plain).replace("\r\n", "\n");
        assert_eq!(
            text.trim_end(),
            "Due: 2026-04-15\nStatus: not completed\nPriority: high\n\nForms are in the drawer."
        );
        assert!(m.attachments.is_empty());
    }

    #[test]
    fn a_note_keeps_its_html_and_its_own_modification_date() {
        let n = Note {
            subject: Some("Ideas".into()),
            last_modified_date: stamp("2026-03-10T15:00:00.000Z"),
            body: Some(Body {
                kind: BODY_HTML,
                data: "<b>bold</b> plan".into(),
            }),
            ..Note::default()
        };
        let summary = Summary::Note(NoteSummary::default());
        let g = message(&item(Record::Note(Box::new(n)), summary), "a@b.c").expect("a note");
        assert_eq!(g.item.meta.from, "\"Note\" <a@b.c>");
        assert_eq!(
            Some(g.item.meta.received),
            parse_datetime("2026-03-10T15:00:00.000Z")
        );
        assert!(mime::body(&g.raw, BodyKind::Html).contains("<b>bold</b> plan"));
        assert_eq!(mime::body(&g.raw, BodyKind::Plain).trim(), "bold plan");
    }

    #[test]
    fn events_and_contacts_are_not_generated() {
        let e = item(
            Record::Contact(Box::default()),
            crate::store::model::Summary::Contact,
        );
        assert_eq!(message(&e, "a@b.c"), None);
    }
}
