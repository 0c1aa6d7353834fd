//! Notes ([MS-ASNOTE]): what the server reads of a note, and the note as a calendar event
//! ([MS-ASCAL]) or a task ([MS-ASTASK]) for devices that get notes that way (`notes_as`).

use super::calendar::{AllDay, DAY, midnight};
use crate::store::model::pim::{Event, Note, Task};
use crate::store::model::{GroupwareItem, NoteSummary};

pub fn summary(note: &Note) -> NoteSummary {
    NoteSummary {
        subject: note.subject.clone().unwrap_or_default(),
        last_modified: note.last_modified_date.map(|s| s.0),
    }
}

/// The note as an all-day event on the day it was last modified (or stored): Subject,
/// Body and Categories carried over.
pub fn as_event(item: &GroupwareItem, note: &Note, summary: &NoteSummary) -> Event {
    let first = midnight(summary.last_modified.unwrap_or(item.created));
    AllDay {
        item,
        first,
        after: first + DAY,
        subject: &summary.subject,
        body: note.body.as_ref(),
        categories: &note.categories,
        reminder: None,
        sensitivity: None,
    }
    .event()
}

/// The note as an open task without dates: Subject, Body and Categories carried over.
pub fn as_task(note: &Note, summary: &NoteSummary) -> Task {
    Task {
        body: note.body.clone(),
        categories: note.categories.clone(),
        complete: Some(false),
        subject: Some(summary.subject.clone()),
        ..Task::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::version::ProtocolVersion;
    use crate::store::model::pim::{Record, Stamp};
    use crate::wbxml::Element;
    use crate::wbxml::tag::{calendar as cal, tasks as t};

    #[test]
    fn a_note_becomes_an_event_on_its_day_or_an_open_task() {
        let note = Note {
            subject: Some("Groceries".into()),
            last_modified_date: crate::proto::datetime::parse_datetime("2026-03-10T15:00:00.000Z")
                .map(Stamp),
            categories: vec!["Home".into()],
            ..Note::default()
        };
        let s = summary(&note);
        let item = GroupwareItem {
            id: 4,
            folder: 10,
            record: Record::Note(Box::new(note.clone())),
            summary: crate::store::model::Summary::Note(s.clone()),
            created: 0,
            modified: None,
            modseq: 1,
        };
        let e = as_event(&item, &note, &s).render(ProtocolVersion::V14_1);
        assert_eq!(e.text_of(cal::SUBJECT), Some("Groceries"));
        assert_eq!(e.text_of(cal::START_TIME), Some("2026-03-10T00:00:00.000Z"));
        assert_eq!(e.text_of(cal::END_TIME), Some("2026-03-11T00:00:00.000Z"));
        let task = as_task(&note, &s).render(ProtocolVersion::V14_1);
        assert_eq!(task.text_of(t::SUBJECT), Some("Groceries"));
        assert_eq!(task.text_of(t::COMPLETE), Some("0"));
        assert_eq!(
            task.find_path(&[t::CATEGORIES, t::CATEGORY])
                .and_then(Element::text),
            Some("Home")
        );
    }
}
