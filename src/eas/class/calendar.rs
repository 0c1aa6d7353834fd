//! Calendar items ([MS-ASCAL]): what the server reads of an event, for the FilterType
//! window of calendar collections ([MS-ASCMD] 2.2.3.71.2), and the all-day events other
//! items are shown as (tasks and notes in a calendar).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::groupware::{Class, Malformed, datetime, flag};
use crate::proto::datetime::format_datetime;
use crate::store::model::{CalendarSummary, GroupwareItem};
use crate::wbxml::tag::{airsync, airsyncbase, calendar as cal};
use crate::wbxml::{Element, Tag};

pub fn summary(data: &Element) -> Result<CalendarSummary, Malformed> {
    let class = Class::Calendar;
    Ok(CalendarSummary {
        start: datetime(class, data, cal::START_TIME)?,
        end: datetime(class, data, cal::END_TIME)?,
        all_day: flag(class, data, cal::ALL_DAY_EVENT)?,
        recurring: data.find(cal::RECURRENCE).is_some(),
    })
}

/// An all-day event made from another item: the days `[first, after)` (midnights, UTC),
/// what it carries over, shown as free time (it blocks nothing).
pub struct AllDay<'a> {
    pub item: &'a GroupwareItem,
    pub first: i64,
    pub after: i64,
    pub subject: &'a str,
    /// The source's ApplicationData, for its airsyncbase:Body and categories.
    pub source: &'a Element,
    /// The source's Categories element and its Category children.
    pub categories: (Tag, Tag),
    /// Minutes before the start.
    pub reminder: Option<i64>,
    pub sensitivity: Option<&'a str>,
}

impl AllDay<'_> {
    pub fn application_data(&self) -> Element {
        // [MS-ASCAL] Timezone: a TIME_ZONE_INFORMATION of zero bias and no daylight rule
        // (172 zero bytes), UTC; the event's days are the source's dates as sent.
        let mut e = Element::new(airsync::APPLICATION_DATA)
            .text_child(cal::TIMEZONE, BASE64.encode([0u8; 172]))
            .text_child(cal::ALL_DAY_EVENT, "1");
        if let Some(body) = self.source.find(airsyncbase::BODY) {
            e.push(body.clone());
        }
        // [MS-ASCAL] BusyStatus 0: free.
        e.push_text(cal::BUSY_STATUS, "0");
        let (list, one) = self.categories;
        if let Some(categories) = self.source.find(list) {
            let mut c = Element::new(cal::CATEGORIES);
            for category in categories.find_all(one) {
                c.push_text(cal::CATEGORY, category.text().unwrap_or_default());
            }
            e.push(c);
        }
        e.push_text(cal::DT_STAMP, format_datetime(self.item.created));
        e.push_text(cal::END_TIME, format_datetime(self.after));
        // [MS-ASCAL] MeetingStatus 0: an appointment, not a meeting.
        e.push_text(cal::MEETING_STATUS, "0");
        if let Some(minutes) = self.reminder {
            e.push_text(cal::REMINDER, minutes.to_string());
        }
        if let Some(s) = self.sensitivity {
            e.push_text(cal::SENSITIVITY, s);
        }
        e.push_text(cal::SUBJECT, self.subject);
        e.push_text(cal::START_TIME, format_datetime(self.first));
        e.push_text(
            cal::UID,
            format!("easd-{}-{}", self.item.folder, self.item.id),
        );
        e
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
    use crate::wbxml::tag::airsync;

    #[test]
    fn a_series_is_in_every_window() {
        let event = Element::new(airsync::APPLICATION_DATA)
            .text_child(cal::START_TIME, "2026-01-01T10:00:00.000Z")
            .text_child(cal::END_TIME, "2026-01-01T11:00:00.000Z");
        let s = summary(&event).expect("valid");
        assert_eq!(s.until(), 1_767_265_200);
        let series = event
            .clone()
            .child(Element::new(cal::RECURRENCE).text_child(cal::TYPE, "0"));
        assert_eq!(summary(&series).expect("valid").until(), i64::MAX);
        let bad = event.text_child(cal::ALL_DAY_EVENT, "yes");
        assert!(summary(&bad).is_err());
    }
}
