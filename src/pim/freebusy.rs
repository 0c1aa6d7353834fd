//! Free/busy of a calendar over a window: MergedFreeBusy ([MS-ASCMD] 2.2.3.107), one
//! digit per 30-minute slot from the window's start (the count rounded up), each the
//! highest status of the events that overlap the slot. Recurring series are expanded
//! (bounded) with [`recur::Series`]; an exception replaces or removes its occurrence.

use jiff::{SignedDuration, Timestamp};

use super::{recur, tz};
use crate::proto::timezone::TimeZoneInfo;
use crate::store::model::pim::{Event, Stamp};

/// Seconds in one MergedFreeBusy slot.
pub const SLOT: i64 = 30 * 60;

/// At most this many occurrences of one series are looked at in a window (a 42-day
/// window of a series every 30 minutes holds 2,016).
const MAX_OCCURRENCES: usize = 4_096;

/// A slot's status ([MS-ASCMD] 2.2.3.107 MergedFreeBusy); a busier one wins a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Slot {
    Free = 0,
    Tentative = 1,
    Busy = 2,
    OutOfOffice = 3,
    NoData = 4,
}

impl Slot {
    /// An event's [MS-ASCAL] 2.2.2.8 BusyStatus as a slot: 0 free, 1 tentative, 2 busy,
    /// 3 out of office; 4 (working elsewhere) says where, not that the time is taken:
    /// free. An event without one is busy (its default).
    fn of_busy_status(s: Option<i32>) -> Slot {
        match s {
            Some(0) | Some(4) => Slot::Free,
            Some(1) => Slot::Tentative,
            Some(3) => Slot::OutOfOffice,
            _ => Slot::Busy,
        }
    }

    fn digit(self) -> char {
        char::from(b'0' + self as u8)
    }
}

/// The slots of `[start, end)`; `end > start`.
#[derive(Debug, Clone)]
pub struct FreeBusy {
    start: i64,
    slots: Vec<Slot>,
}

impl FreeBusy {
    /// Every slot free.
    pub fn new(start: i64, end: i64) -> Self {
        let n = ((end - start).max(0) + SLOT - 1) / SLOT;
        let n = n as usize;
        FreeBusy {
            start,
            slots: vec![Slot::Free; n],
        }
    }

    /// Every slot "no data": a recipient whose calendar the server does not hold.
    pub fn no_data(start: i64, end: i64) -> Self {
        let mut fb = FreeBusy::new(start, end);
        fb.slots.fill(Slot::NoData);
        fb
    }

    fn end(&self) -> i64 {
        self.start + self.slots.len() as i64 * SLOT
    }

    /// Marks `[from, to)` (a zero-length event marks the slot it is in).
    fn mark(&mut self, from: i64, to: i64, status: Slot) {
        if status == Slot::Free || to < from || from >= self.end() || to <= self.start {
            return;
        }
        let first = ((from.max(self.start) - self.start) / SLOT) as usize;
        let last = if to == from {
            first + 1
        } else {
            (((to.min(self.end()) - self.start) + SLOT - 1) / SLOT) as usize
        };
        let last = last.min(self.slots.len());
        for s in &mut self.slots[first..last] {
            *s = (*s).max(status);
        }
    }

    /// Adds an event (and, for a series, its occurrences in the window). A cancelled
    /// meeting ([MS-ASCAL] 2.2.2.29 MeetingStatus 5, 7, 13, 15) blocks nothing.
    pub fn add(&mut self, event: &Event) {
        if matches!(event.meeting_status, Some(5 | 7 | 13 | 15)) {
            return;
        }
        let (Some(Stamp(start)), end) = (event.start_time, event.end_time) else {
            return;
        };
        let end = end.map_or(start, |e| e.0.max(start));
        let status = Slot::of_busy_status(event.busy_status);
        let Some(r) = &event.recurrence else {
            self.mark(start, end, status);
            return;
        };
        let Ok(rule) = recur::Recurrence::from_fields(&recur::recurrence_fields!(r)) else {
            // A series whose pattern does not read blocks its first occurrence only.
            self.mark(start, end, status);
            return;
        };
        let Ok(first) = Timestamp::from_second(start) else {
            return;
        };
        let info = event
            .timezone
            .as_deref()
            .and_then(|b| TimeZoneInfo::from_base64(b).ok())
            .unwrap_or_else(TimeZoneInfo::utc);
        // The zone is read for the year of the window: DST rules are per year.
        let year = jiff::tz::TimeZone::UTC
            .to_datetime(Timestamp::from_second(self.start).unwrap_or(first))
            .year();
        let zone = tz::zone_for(&info, year);
        // Every exception's occurrence is left out of the expansion; a changed one is
        // added with its own times and status.
        let replaced: Vec<Timestamp> = event
            .exceptions
            .iter()
            .filter_map(|x| Timestamp::from_second(x.original.0).ok())
            .collect();
        let duration = end - start;
        let series = recur::Series {
            recurrence: &rule,
            start: zone.to_datetime(first),
            zone: &zone,
            duration: SignedDuration::from_secs(duration),
            deleted: &replaced,
        };
        let (Ok(from), Ok(to)) = (
            Timestamp::from_second(self.start),
            Timestamp::from_second(self.end()),
        ) else {
            return;
        };
        if let Ok(found) = series.expand(from, to, MAX_OCCURRENCES) {
            for s in found.starts {
                self.mark(s.as_second(), s.as_second() + duration, status);
            }
        }
        for x in &event.exceptions {
            if x.deleted == Some(true) {
                continue;
            }
            let xs = x.start_time.map_or(x.original.0, |s| s.0);
            let xe = x.end_time.map_or(xs + duration, |e| e.0.max(xs));
            let xstatus = match x.busy_status {
                Some(b) => Slot::of_busy_status(Some(b)),
                None => status,
            };
            if !matches!(x.meeting_status, Some(5 | 7 | 13 | 15)) {
                self.mark(xs, xe, xstatus);
            }
        }
    }

    /// The MergedFreeBusy string.
    pub fn merged(&self) -> String {
        self.slots.iter().map(|s| s.digit()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::model::pim::{Exception, Recurrence};

    const MON: i64 = 1_767_603_600; // 2026-01-05 09:00 UTC, a Monday

    fn event(start: i64, minutes: i64, busy: Option<i32>) -> Event {
        Event {
            start_time: Some(Stamp(start)),
            end_time: Some(Stamp(start + minutes * 60)),
            busy_status: busy,
            ..Event::default()
        }
    }

    #[test]
    fn slots_take_the_busiest_overlapping_event() {
        // 09:00-12:00: six slots.
        let mut fb = FreeBusy::new(MON, MON + 3 * 3600);
        fb.add(&event(MON, 60, Some(1)));
        fb.add(&event(MON + 30 * 60, 30, Some(2)));
        // 10:45-11:15 touches two slots; an OOF wins over busy.
        fb.add(&event(MON + 105 * 60, 30, Some(3)));
        // Free and working-elsewhere block nothing, nor does a cancelled meeting.
        fb.add(&event(MON + 150 * 60, 30, Some(0)));
        fb.add(&event(MON + 150 * 60, 30, Some(4)));
        let mut cancelled = event(MON + 150 * 60, 30, Some(2));
        cancelled.meeting_status = Some(7);
        fb.add(&cancelled);
        assert_eq!(fb.merged(), "120330");
        // An event without BusyStatus is busy; one outside the window does nothing.
        fb.add(&event(MON + 150 * 60, 10, None));
        fb.add(&event(MON - 3600, 60, Some(3)));
        fb.add(&event(MON + 3 * 3600, 60, Some(3)));
        assert_eq!(fb.merged(), "120332");
        // The count is rounded up.
        assert_eq!(FreeBusy::new(MON, MON + 31 * 60).merged(), "00");
        assert_eq!(FreeBusy::no_data(MON, MON + 3600).merged(), "44");
    }

    #[test]
    fn a_series_is_expanded_with_its_exceptions() {
        // Daily at 09:00 for 30 minutes, from Monday; Tuesday's moved to 10:00 and
        // tentative, Wednesday's deleted.
        let mut daily = event(MON, 30, Some(2));
        daily.recurrence = Some(Recurrence {
            kind: Some(0),
            interval: Some(1),
            ..Recurrence::default()
        });
        daily.exceptions = vec![
            Exception {
                original: Stamp(MON + 86_400),
                start_time: Some(Stamp(MON + 86_400 + 3600)),
                end_time: Some(Stamp(MON + 86_400 + 5400)),
                busy_status: Some(1),
                ..Exception::default()
            },
            Exception {
                original: Stamp(MON + 2 * 86_400),
                deleted: Some(true),
                ..Exception::default()
            },
        ];
        // Four days, 09:00-11:00 each: read the slots of each day.
        let mut fb = FreeBusy::new(MON, MON + 4 * 86_400);
        fb.add(&daily);
        let m = fb.merged();
        let day = |d: usize| &m[d * 48..d * 48 + 4];
        assert_eq!(day(0), "2000");
        assert_eq!(day(1), "0010");
        assert_eq!(day(2), "0000");
        assert_eq!(day(3), "2000");
    }
}
