//! A task ([MS-ASTASK] 2.2.2).

use serde::{Deserialize, Serialize};

use super::{
    BadValue, Body, Extra, Mode, Stamp, read_body, read_children, read_list, record,
    write_body_and_extra, write_list, write_scalars,
};
use crate::proto::version::ProtocolVersion;
use crate::wbxml::Element;
use crate::wbxml::tag::{airsync, airsyncbase, tasks as t};

record! {
    /// A task: every element of [MS-ASTASK] 2.2.2.
    pub struct Task {
        subject: String = t::SUBJECT;
        importance: i32 = t::IMPORTANCE;
        /// The user's local dates ([MS-ASTASK] 2.2.2.26, 2.2.2.12) and their UTC forms.
        start_date: Stamp = t::START_DATE;
        utc_start_date: Stamp = t::UTC_START_DATE;
        due_date: Stamp = t::DUE_DATE;
        utc_due_date: Stamp = t::UTC_DUE_DATE;
        complete: bool = t::COMPLETE;
        date_completed: Stamp = t::DATE_COMPLETED;
        sensitivity: i32 = t::SENSITIVITY;
        reminder_set: bool = t::REMINDER_SET;
        reminder_time: Stamp = t::REMINDER_TIME;
        ordinal_date: Stamp = t::ORDINAL_DATE;
        sub_ordinal_date: String = t::SUB_ORDINAL_DATE;
        -- pub categories: Vec<String>,
        -- pub recurrence: Option<TaskRecurrence>,
        -- pub body: Option<Body>,
        -- pub extra: Extra,
    }
}

record! {
    /// A task's Recurrence ([MS-ASTASK] 2.2.2.18): the calendar pattern's children on the
    /// Tasks code page, plus Start, Regenerate and DeadOccur.
    pub struct TaskRecurrence {
        kind: i32 = t::TYPE;
        start: Stamp = t::START;
        until: Stamp = t::UNTIL;
        occurrences: i32 = t::OCCURRENCES;
        interval: i32 = t::INTERVAL;
        day_of_week: i32 = t::DAY_OF_WEEK;
        day_of_month: i32 = t::DAY_OF_MONTH;
        week_of_month: i32 = t::WEEK_OF_MONTH;
        month_of_year: i32 = t::MONTH_OF_YEAR;
        regenerate: bool = t::REGENERATE;
        dead_occur: bool = t::DEAD_OCCUR;
        calendar_type: i32 = t::CALENDAR_TYPE, since V14_0;
        is_leap_month: i32 = t::IS_LEAP_MONTH, since V14_0;
        first_day_of_week: i32 = t::FIRST_DAY_OF_WEEK, since V14_1;
    }
}

impl Task {
    pub fn parse(data: &Element, mode: Mode) -> Result<Task, BadValue> {
        let mut task = Task::default();
        let kept = read_children(&mut task, data, mode, |r, e| {
            match e.tag {
                t::CATEGORIES => r.categories = read_list(e, t::CATEGORY),
                t::RECURRENCE if e.elements().next().is_none() => r.recurrence = None,
                t::RECURRENCE => {
                    let mut rec = TaskRecurrence::default();
                    let unknown = read_children(&mut rec, e, mode, |_, _| Ok(false))?;
                    if let Some(u) = unknown.first()
                        && mode == Mode::Strict
                    {
                        return Err(BadValue(format!("{} does not belong in Recurrence", u.tag)));
                    }
                    r.recurrence = Some(rec);
                }
                airsyncbase::BODY => r.body = Some(read_body(e)?),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        task.extra = Extra::of(kept);
        Ok(task)
    }

    pub fn render(&self, version: ProtocolVersion) -> Element {
        let mut out = Element::new(airsync::APPLICATION_DATA);
        write_scalars(self, &mut out, version);
        write_list(&mut out, t::CATEGORIES, t::CATEGORY, &self.categories);
        if let Some(r) = &self.recurrence {
            let mut e = Element::new(t::RECURRENCE);
            write_scalars(r, &mut e, version);
            out.push(e);
        }
        write_body_and_extra(&mut out, self.body.as_ref(), &self.extra);
        out
    }
}
