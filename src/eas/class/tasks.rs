//! Tasks ([MS-ASTASK]): what the server reads of a task, and the task as a calendar event
//! ([MS-ASCAL]) for devices that get tasks in their calendar (`tasks_as_events`).

use super::calendar::{AllDay, DAY, midnight};
use super::groupware::{Class, Malformed, datetime, flag};
use crate::store::model::{GroupwareItem, TaskSummary};
use crate::wbxml::Element;
use crate::wbxml::tag::tasks as t;

pub fn summary(data: &Element) -> Result<TaskSummary, Malformed> {
    let class = Class::Tasks;
    // StartDate and DueDate are the user's local dates, which is what a day on a calendar
    // is; the Utc* forms are the fallback.
    let either = |local, utc| -> Result<Option<i64>, Malformed> {
        Ok(datetime(class, data, local)?.or(datetime(class, data, utc)?))
    };
    Ok(TaskSummary {
        subject: data.text_of(t::SUBJECT).unwrap_or_default().to_owned(),
        start: either(t::START_DATE, t::UTC_START_DATE)?,
        due: either(t::DUE_DATE, t::UTC_DUE_DATE)?,
        complete: flag(class, data, t::COMPLETE)?,
    })
}

/// The calendar days `[first, after)` a task covers as an all-day event: from its start
/// date (or due date, or, lacking both, the day it was created) to the day after its due
/// date (or one day).
fn days(summary: &TaskSummary, created: i64) -> (i64, i64) {
    let first = midnight(summary.start.or(summary.due).unwrap_or(created));
    let after = summary
        .due
        .map(|d| midnight(d) + DAY)
        .filter(|a| *a > first)
        .unwrap_or(first + DAY);
    (first, after)
}

/// The task as the ApplicationData of an all-day calendar event: Subject, Body, Reminder,
/// Sensitivity and Categories carried over.
pub fn as_event(item: &GroupwareItem, task: &Element, summary: &TaskSummary) -> Element {
    let (first, after) = days(summary, item.created);
    // [MS-ASTASK] ReminderTime is a point in time; [MS-ASCAL] Reminder is minutes before
    // the start.
    let reminder = task
        .text_of(t::REMINDER_SET)
        .is_some_and(|r| r.trim() == "1")
        .then(|| {
            task.text_of(t::REMINDER_TIME)
                .and_then(crate::proto::datetime::parse_datetime)
        })
        .flatten()
        .map(|at| (first - at).max(0) / 60);
    AllDay {
        item,
        first,
        after,
        subject: &summary.subject,
        source: task,
        categories: (t::CATEGORIES, t::CATEGORY),
        reminder,
        sensitivity: task.text_of(t::SENSITIVITY),
    }
    .application_data()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wbxml::tag::{airsync, calendar as cal};

    #[test]
    fn a_task_covers_its_start_to_its_due_day() {
        let s = |start, due| TaskSummary {
            start,
            due,
            ..TaskSummary::default()
        };
        let day = |n: i64| n * DAY;
        assert_eq!(
            days(&s(Some(day(10) + 5), Some(day(12) + 7)), 0),
            (day(10), day(13))
        );
        assert_eq!(days(&s(None, Some(day(12) + 7)), 0), (day(12), day(13)));
        assert_eq!(days(&s(Some(day(10)), None), 0), (day(10), day(11)));
        assert_eq!(days(&s(None, None), day(3) + 9), (day(3), day(4)));
        // A due date before the start is one day.
        assert_eq!(days(&s(Some(day(10)), Some(day(8))), 0), (day(10), day(11)));
    }

    #[test]
    fn the_event_carries_the_tasks_fields() {
        let task = Element::new(airsync::APPLICATION_DATA)
            .text_child(t::SUBJECT, "File taxes")
            .text_child(t::START_DATE, "2026-03-10T00:00:00.000Z")
            .text_child(t::DUE_DATE, "2026-03-11T00:00:00.000Z")
            .text_child(t::COMPLETE, "0")
            .text_child(t::REMINDER_SET, "1")
            .text_child(t::REMINDER_TIME, "2026-03-09T23:00:00.000Z")
            .text_child(t::SENSITIVITY, "2")
            .child(Element::new(t::CATEGORIES).text_child(t::CATEGORY, "Home"));
        let summary = summary(&task).expect("valid");
        let item = GroupwareItem {
            id: 5,
            folder: 7,
            data: Vec::new(),
            summary: crate::store::model::Summary::Task(summary.clone()),
            created: 0,
            modseq: 1,
        };
        let e = as_event(&item, &task, &summary);
        assert_eq!(e.text_of(cal::SUBJECT), Some("File taxes"));
        assert_eq!(e.text_of(cal::START_TIME), Some("2026-03-10T00:00:00.000Z"));
        assert_eq!(e.text_of(cal::END_TIME), Some("2026-03-12T00:00:00.000Z"));
        assert_eq!(e.text_of(cal::ALL_DAY_EVENT), Some("1"));
        assert_eq!(e.text_of(cal::REMINDER), Some("60"));
        assert_eq!(e.text_of(cal::SENSITIVITY), Some("2"));
        assert_eq!(
            e.find_path(&[cal::CATEGORIES, cal::CATEGORY])
                .and_then(Element::text),
            Some("Home")
        );
    }
}
