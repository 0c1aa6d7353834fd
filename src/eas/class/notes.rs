//! Notes ([MS-ASNOTE]): what the server reads of a note, and the note as a calendar event
//! ([MS-ASCAL]) or a task ([MS-ASTASK]) for devices that get notes that way (`notes_as`).

use super::calendar::{AllDay, DAY, midnight};
use super::groupware::{Class, Malformed, datetime};
use crate::store::model::{GroupwareItem, NoteSummary};
use crate::wbxml::Element;
use crate::wbxml::tag::{airsync, airsyncbase, notes as n, tasks as t};

pub fn summary(data: &Element) -> Result<NoteSummary, Malformed> {
    Ok(NoteSummary {
        subject: data.text_of(n::SUBJECT).unwrap_or_default().to_owned(),
        last_modified: datetime(Class::Notes, data, n::LAST_MODIFIED_DATE)?,
    })
}

/// The note as an all-day event on the day it was last modified (or stored): Subject,
/// Body and Categories carried over.
pub fn as_event(item: &GroupwareItem, note: &Element, summary: &NoteSummary) -> Element {
    let first = midnight(summary.last_modified.unwrap_or(item.created));
    AllDay {
        item,
        first,
        after: first + DAY,
        subject: &summary.subject,
        source: note,
        categories: (n::CATEGORIES, n::CATEGORY),
        reminder: None,
        sensitivity: None,
    }
    .application_data()
}

/// The note as an open task without dates: Subject, Body and Categories carried over.
pub fn as_task(note: &Element, summary: &NoteSummary) -> Element {
    let mut e = Element::new(airsync::APPLICATION_DATA);
    if let Some(body) = note.find(airsyncbase::BODY) {
        e.push(body.clone());
    }
    if let Some(categories) = note.find(n::CATEGORIES) {
        let mut c = Element::new(t::CATEGORIES);
        for category in categories.find_all(n::CATEGORY) {
            c.push_text(t::CATEGORY, category.text().unwrap_or_default());
        }
        e.push(c);
    }
    e.push_text(t::COMPLETE, "0");
    e.push_text(t::SUBJECT, summary.subject.as_str());
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wbxml::tag::calendar as cal;

    #[test]
    fn a_note_becomes_an_event_on_its_day_or_an_open_task() {
        let note = Element::new(airsync::APPLICATION_DATA)
            .text_child(n::SUBJECT, "Groceries")
            .text_child(n::LAST_MODIFIED_DATE, "2026-03-10T15:00:00.000Z")
            .child(Element::new(n::CATEGORIES).text_child(n::CATEGORY, "Home"));
        let s = summary(&note).expect("valid");
        let item = GroupwareItem {
            id: 4,
            folder: 10,
            data: Vec::new(),
            summary: crate::store::model::Summary::Note(s.clone()),
            created: 0,
            modseq: 1,
        };
        let e = as_event(&item, &note, &s);
        assert_eq!(e.text_of(cal::SUBJECT), Some("Groceries"));
        assert_eq!(e.text_of(cal::START_TIME), Some("2026-03-10T00:00:00.000Z"));
        assert_eq!(e.text_of(cal::END_TIME), Some("2026-03-11T00:00:00.000Z"));
        let task = as_task(&note, &s);
        assert_eq!(task.text_of(t::SUBJECT), Some("Groceries"));
        assert_eq!(task.text_of(t::COMPLETE), Some("0"));
        assert_eq!(
            task.find_path(&[t::CATEGORIES, t::CATEGORY])
                .and_then(Element::text),
            Some("Home")
        );
    }
}
