//! Tasks ([MS-ASTASK]): what the server reads of a task, and the task as a calendar event
//! ([MS-ASCAL]) for devices that get tasks in their calendar (`tasks_as_events`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use super::format_datetime;
use super::groupware::{Class, GroupwareItem, Malformed, datetime, flag};
use crate::wbxml::Element;
use crate::wbxml::tag::{airsync, airsyncbase, calendar as cal, tasks as t};

const DAY: i64 = 86_400;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub subject: String,
    /// StartDate, else UtcStartDate (Unix seconds).
    pub start: Option<i64>,
    /// DueDate, else UtcDueDate.
    pub due: Option<i64>,
    pub complete: bool,
}

pub fn summary(data: &Element) -> Result<Summary, Malformed> {
    let class = Class::Tasks;
    // StartDate and DueDate are the user's local dates, which is what a day on a calendar
    // is; the Utc* forms are the fallback.
    let either = |local, utc| -> Result<Option<i64>, Malformed> {
        Ok(datetime(class, data, local)?.or(datetime(class, data, utc)?))
    };
    Ok(Summary {
        subject: data.text_of(t::SUBJECT).unwrap_or_default().to_owned(),
        start: either(t::START_DATE, t::UTC_START_DATE)?,
        due: either(t::DUE_DATE, t::UTC_DUE_DATE)?,
        complete: flag(class, data, t::COMPLETE)?,
    })
}

/// The calendar days `[first, after)` a task covers as an all-day event: from its start
/// date (or due date, or, lacking both, the day it was created) to the day after its due
/// date (or one day).
fn days(summary: &Summary, created: i64) -> (i64, i64) {
    let midnight = |t: i64| t.div_euclid(DAY) * DAY;
    let first = midnight(summary.start.or(summary.due).unwrap_or(created));
    let after = summary
        .due
        .map(|d| midnight(d) + DAY)
        .filter(|a| *a > first)
        .unwrap_or(first + DAY);
    (first, after)
}

/// [MS-ASCAL] Timezone of UTC: a TIME_ZONE_INFORMATION of zero bias and no daylight rule
/// (172 zero bytes, base64). The event's days are the task's dates as the client sent them.
fn utc_timezone() -> String {
    BASE64.encode([0u8; 172])
}

/// The task as the ApplicationData of an all-day calendar event: Subject, Body, Reminder,
/// Sensitivity and Categories carried over; shown as free time (a task blocks nothing).
pub fn as_event(item: &GroupwareItem, task: &Element, summary: &Summary) -> Element {
    let (first, after) = days(summary, item.created);
    let mut e = Element::new(airsync::APPLICATION_DATA)
        .text_child(cal::TIMEZONE, utc_timezone())
        .text_child(cal::ALL_DAY_EVENT, "1");
    if let Some(body) = task.find(airsyncbase::BODY) {
        e.push(body.clone());
    }
    // [MS-ASCAL] BusyStatus 0: free.
    e.push_text(cal::BUSY_STATUS, "0");
    if let Some(categories) = task.find(t::CATEGORIES) {
        let mut c = Element::new(cal::CATEGORIES);
        for category in categories.find_all(t::CATEGORY) {
            c.push_text(cal::CATEGORY, category.text().unwrap_or_default());
        }
        e.push(c);
    }
    e.push_text(cal::DT_STAMP, format_datetime(item.created));
    e.push_text(cal::END_TIME, format_datetime(after));
    // [MS-ASCAL] MeetingStatus 0: an appointment, not a meeting.
    e.push_text(cal::MEETING_STATUS, "0");
    // [MS-ASTASK] ReminderTime is a point in time; [MS-ASCAL] Reminder is minutes before
    // the start.
    let reminder = task
        .text_of(t::REMINDER_SET)
        .is_some_and(|r| r.trim() == "1")
        .then(|| {
            task.text_of(t::REMINDER_TIME)
                .and_then(super::parse_datetime)
        })
        .flatten();
    if let Some(at) = reminder {
        e.push_text(cal::REMINDER, ((first - at).max(0) / 60).to_string());
    }
    if let Some(s) = task.text_of(t::SENSITIVITY) {
        e.push_text(cal::SENSITIVITY, s);
    }
    e.push_text(cal::SUBJECT, summary.subject.as_str());
    e.push_text(cal::START_TIME, format_datetime(first));
    e.push_text(cal::UID, format!("easd-task-{}-{}", item.folder, item.id));
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_covers_its_start_to_its_due_day() {
        let s = |start, due| Summary {
            start,
            due,
            ..Summary::default()
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
            summary: super::super::groupware::Summary::Task(summary.clone()),
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
