//! Calendar items ([MS-ASCAL]): what the server reads of an event, for the FilterType
//! window of calendar collections ([MS-ASCMD] 2.2.3.71.2).

use serde::{Deserialize, Serialize};

use super::groupware::{Class, Malformed, datetime, flag};
use crate::wbxml::Element;
use crate::wbxml::tag::calendar as cal;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// StartTime, EndTime (Unix seconds), when the client sent them.
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub all_day: bool,
    /// Has a Recurrence: a series is never outside a date window (its next occurrence may
    /// be in it whatever the first one's dates).
    pub recurring: bool,
}

impl Summary {
    /// Until when the event matters to a FilterType window: its end (or start); `i64::MAX`
    /// for a series or an event without dates, which every window keeps.
    pub fn until(&self) -> i64 {
        if self.recurring {
            return i64::MAX;
        }
        self.end.or(self.start).unwrap_or(i64::MAX)
    }
}

pub fn summary(data: &Element) -> Result<Summary, Malformed> {
    let class = Class::Calendar;
    Ok(Summary {
        start: datetime(class, data, cal::START_TIME)?,
        end: datetime(class, data, cal::END_TIME)?,
        all_day: flag(class, data, cal::ALL_DAY_EVENT)?,
        recurring: data.find(cal::RECURRENCE).is_some(),
    })
}

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
