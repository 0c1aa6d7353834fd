#![no_main]
//! Fuzzes the calendar values a client or an iCalendar file hands the server: the
//! TIME_ZONE_INFORMATION blob ([MS-ASDTYPE] 2.7.6) and the RRULE reader ([MS-ASCAL]
//! 2.2.2.37ff as iCalendar, RFC 5545 3.3.10). Neither may panic; a blob that reads writes
//! back to one that reads the same, and an accepted rule expands over a year within the
//! expansion's own bounds.

use easd::pim::recur::{Recurrence, Series};
use easd::proto::timezone::TimeZoneInfo;
use jiff::civil::date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    if which % 2 == 0 {
        if let Ok(tz) = TimeZoneInfo::from_bytes(rest) {
            let again = TimeZoneInfo::from_bytes(&tz.to_bytes()).expect("a written blob reads");
            assert_eq!(again, tz);
        }
        let _ = TimeZoneInfo::from_base64(&String::from_utf8_lossy(rest));
        return;
    }
    let text = String::from_utf8_lossy(rest);
    let start = date(2026, 3, 29).at(9, 30, 0, 0);
    let zone = TimeZone::get("Europe/Paris").expect("bundled zone");
    let Ok(rule) = Recurrence::from_rrule(&text, start, &zone) else {
        return;
    };
    let _ = rule.to_rrule();
    let series = Series {
        recurrence: &rule,
        start,
        zone: &zone,
        duration: SignedDuration::from_hours(1),
        deleted: &[],
    };
    let from: Timestamp = "2026-01-01T00:00:00Z".parse().expect("timestamp");
    let to: Timestamp = "2027-01-01T00:00:00Z".parse().expect("timestamp");
    let _ = series.expand(from, to, 1_000);
});
