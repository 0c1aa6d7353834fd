//! Tasks ([MS-ASTASK]): the checks of a client's task beyond its record's own, what the
//! server reads of a task, and the task as a calendar event ([MS-ASCAL]) for devices that
//! get tasks in their calendar (`tasks_as_events`).

use super::calendar::{AllDay, DAY, midnight};
use crate::pim::recur;
use crate::store::model::pim::{Event, Task};
use crate::store::model::{GroupwareItem, TaskSummary};

/// Checks a task's Recurrence ([MS-ASTASK] 3.2.5.3.3: Type and Start are required, and
/// the pattern's children are those of its Type, as for events) and extracts the summary.
pub fn summary(task: &Task) -> Result<TaskSummary, String> {
    if let Some(r) = &task.recurrence {
        if r.start.is_none() {
            return Err("Recurrence without Start".into());
        }
        recur::Recurrence::from_fields(&super::calendar::recurrence_fields!(r))
            .map_err(|e| format!("Recurrence: {e}"))?;
    }
    // StartDate and DueDate are the user's local dates, which is what a day on a calendar
    // is; the Utc* forms are the fallback.
    Ok(TaskSummary {
        subject: task.subject.clone().unwrap_or_default(),
        start: task.start_date.or(task.utc_start_date).map(|s| s.0),
        due: task.due_date.or(task.utc_due_date).map(|s| s.0),
        complete: task.complete == Some(true),
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

/// The task as an all-day calendar event: Subject, Body, Reminder, Sensitivity and
/// Categories carried over.
pub fn as_event(item: &GroupwareItem, task: &Task, summary: &TaskSummary) -> Event {
    let (first, after) = days(summary, item.created);
    // [MS-ASTASK] ReminderTime is a point in time; [MS-ASCAL] Reminder is minutes before
    // the start.
    let reminder = (task.reminder_set == Some(true))
        .then_some(task.reminder_time)
        .flatten()
        .map(|at| (first - at.0).max(0) / 60);
    AllDay {
        item,
        first,
        after,
        subject: &summary.subject,
        body: task.body.as_ref(),
        categories: &task.categories,
        reminder,
        sensitivity: task.sensitivity,
    }
    .event()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::version::ProtocolVersion;
    use crate::store::model::pim::{Body, Record, Stamp, TaskRecurrence};
    use crate::wbxml::Element;
    use crate::wbxml::tag::{airsyncbase, calendar as cal};

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
        let at = |text| Some(Stamp(crate::proto::datetime::parse_datetime(text).unwrap()));
        let task = Task {
            subject: Some("File taxes".into()),
            start_date: at("2026-03-10T00:00:00.000Z"),
            due_date: at("2026-03-11T00:00:00.000Z"),
            complete: Some(false),
            reminder_set: Some(true),
            reminder_time: at("2026-03-09T23:00:00.000Z"),
            sensitivity: Some(2),
            categories: vec!["Home".into()],
            body: Some(Body {
                kind: 1,
                data: "forms".into(),
            }),
            ..Task::default()
        };
        let summary = summary(&task).expect("valid");
        let item = GroupwareItem {
            id: 5,
            folder: 7,
            record: Record::Task(Box::new(task.clone())),
            summary: crate::store::model::Summary::Task(summary.clone()),
            created: 0,
            modified: None,
            modseq: 1,
        };
        let e = as_event(&item, &task, &summary).render(ProtocolVersion::V14_1);
        assert_eq!(e.text_of(cal::SUBJECT), Some("File taxes"));
        assert_eq!(e.text_of(cal::START_TIME), Some("2026-03-10T00:00:00.000Z"));
        assert_eq!(e.text_of(cal::END_TIME), Some("2026-03-12T00:00:00.000Z"));
        assert_eq!(e.text_of(cal::ALL_DAY_EVENT), Some("1"));
        assert_eq!(e.text_of(cal::REMINDER), Some("60"));
        assert_eq!(e.text_of(cal::SENSITIVITY), Some("2"));
        assert!(e.find(cal::TIMEZONE).is_some(), "14.1 gets the UTC zone");
        assert_eq!(
            e.find_path(&[airsyncbase::BODY, airsyncbase::DATA])
                .and_then(Element::text),
            Some("forms")
        );
        assert_eq!(
            e.find_path(&[cal::CATEGORIES, cal::CATEGORY])
                .and_then(Element::text),
            Some("Home")
        );
        let e16 = as_event(&item, &task, &summary).render(ProtocolVersion::V16_1);
        assert!(
            e16.find(cal::TIMEZONE).is_none(),
            "[MS-ASCAL] 2.2.2.1: no Timezone on a 16.x all-day event"
        );
    }

    #[test]
    fn a_recurring_task_needs_a_start() {
        let task = Task {
            recurrence: Some(TaskRecurrence {
                kind: Some(0),
                interval: Some(1),
                ..TaskRecurrence::default()
            }),
            ..Task::default()
        };
        assert!(summary(&task).is_err());
    }
}
