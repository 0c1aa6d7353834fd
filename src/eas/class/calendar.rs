//! Calendar items ([MS-ASCAL]): the checks of a client's event beyond its record's own,
//! what the server reads of an event for the FilterType window of calendar collections
//! ([MS-ASCMD] 2.2.3.71.2), and the all-day events other items are shown as (tasks and
//! notes in a calendar).

use crate::pim::recur;
use crate::proto::timezone::TimeZoneInfo;
use crate::store::model::pim::{Body, Event, Stamp};
use crate::store::model::{CalendarSummary, GroupwareItem};

/// Checks what reading the values does not, and extracts the summary: a Timezone that is
/// a TIME_ZONE_INFORMATION ([MS-ASCAL] 2.2.2.44), an EndTime only with a StartTime
/// (3.2.5.3), a Recurrence whose Type has the children it needs (2.2.2.37, 3.2.5.3).
/// Each failure is Status 6.
pub fn summary(event: &Event) -> Result<CalendarSummary, String> {
    if let Some(blob) = &event.timezone {
        TimeZoneInfo::from_base64(blob).map_err(|e| format!("Timezone: {e}"))?;
    }
    if event.end_time.is_some() && event.start_time.is_none() {
        return Err("EndTime without StartTime".into());
    }
    if let Some(r) = &event.recurrence {
        recur::Recurrence::from_fields(&recurrence_fields!(r))
            .map_err(|e| format!("Recurrence: {e}"))?;
    }
    Ok(CalendarSummary {
        start: event.start_time.map(|s| s.0),
        end: event.end_time.map(|s| s.0),
        all_day: event.all_day_event == Some(true),
        recurring: event.recurrence.is_some(),
    })
}

pub(super) use crate::pim::recur::recurrence_fields;

/// An all-day event made from another item: the days `[first, after)` (midnights, UTC),
/// what it carries over, shown as free time (it blocks nothing).
pub struct AllDay<'a> {
    pub item: &'a GroupwareItem,
    pub first: i64,
    pub after: i64,
    pub subject: &'a str,
    pub body: Option<&'a Body>,
    pub categories: &'a [String],
    /// Minutes before the start.
    pub reminder: Option<i64>,
    pub sensitivity: Option<i32>,
}

impl AllDay<'_> {
    pub fn event(&self) -> Event {
        Event {
            // [MS-ASCAL] Timezone: a TIME_ZONE_INFORMATION of zero bias and no daylight
            // rule, UTC; the event's days are the source's dates as sent. (A 16.x reader
            // gets no Timezone for an all-day event.)
            timezone: Some(TimeZoneInfo::utc().to_base64()),
            all_day_event: Some(true),
            body: self.body.cloned(),
            // [MS-ASCAL] BusyStatus 0: free.
            busy_status: Some(0),
            categories: self.categories.to_vec(),
            dt_stamp: Some(Stamp(self.item.created)),
            end_time: Some(Stamp(self.after)),
            // [MS-ASCAL] MeetingStatus 0: an appointment, not a meeting.
            meeting_status: Some(0),
            reminder: self.reminder.map(|m| i32::try_from(m).unwrap_or(i32::MAX)),
            sensitivity: self.sensitivity,
            subject: Some(self.subject.to_owned()),
            start_time: Some(Stamp(self.first)),
            uid: Some(format!("easd-{}-{}", self.item.folder, self.item.id)),
            ..Event::default()
        }
    }
}

/// Midnight (UTC) of the day of `t`.
pub fn midnight(t: i64) -> i64 {
    t.div_euclid(DAY) * DAY
}

pub const DAY: i64 = 86_400;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::model::pim::Recurrence;

    #[test]
    fn a_series_is_in_every_window_and_a_bad_event_is_refused() {
        let event = Event {
            start_time: Some(Stamp(1_767_261_600)),
            end_time: Some(Stamp(1_767_265_200)),
            ..Event::default()
        };
        let s = summary(&event).expect("valid");
        assert_eq!(s.until(), 1_767_265_200);
        let series = Event {
            recurrence: Some(Recurrence {
                kind: Some(0),
                ..Recurrence::default()
            }),
            ..event.clone()
        };
        assert_eq!(summary(&series).expect("valid").until(), i64::MAX);
        let weekly_without_days = Event {
            recurrence: Some(Recurrence {
                kind: Some(1),
                ..Recurrence::default()
            }),
            ..event.clone()
        };
        assert!(summary(&weekly_without_days).is_err());
        let bad_zone = Event {
            timezone: Some("AAAA".into()),
            ..event.clone()
        };
        assert!(summary(&bad_zone).is_err());
        let end_only = Event {
            start_time: None,
            ..event
        };
        assert!(summary(&end_only).is_err());
    }
}
