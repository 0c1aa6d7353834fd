//! EAS time zones ↔ IANA zones.
//!
//! A client describes an event's zone by a TIME_ZONE_INFORMATION blob ([MS-ASDTYPE]
//! 2.7.6, typed in `proto::timezone`): a standard offset and at most two yearly rules.
//! Names in it are optional and unreliable, so a blob is mapped by its rules:
//! [`zone_for`] looks for the IANA zone whose offset changes in the event's year happen
//! at the same instants with the same offsets (as Z-Push's CalDAV backend and Horde do),
//! and [`blob_for`] writes a zone's two changes of a year back as rules (as Z-Push's
//! `_GetTimezoneString` and Horde's `_getTransitions` do).
//!
//! Fallback when no IANA zone has the blob's rules: the blob's own rules as a POSIX TZ
//! zone (exact for the blob, but without an IANA name), or a fixed offset for a blob
//! without DST. Never "London with DST", the guess that shifted events by an hour in
//! Z-Push-contrib issues 236 and 286.
//!
//! The IANA zones are the system's (jiff reads `TZDIR`, else /usr/share/zoneinfo:
//! Debian's tzdata, which the image installs), not a copy bundled into the binary (about
//! 190 KiB of aarch64 binary). A box without one still syncs events at the right times:
//! every blob maps to its own rules, and an iCalendar zone is read from its VTIMEZONE
//! (RFC 5545 3.6.5 has one for every TZID); only the IANA names are missing then.
//! `serve` warns at start ([`database_missing`]).

use jiff::civil::{Date, Weekday};
use jiff::tz::{Offset, TimeZone, TimeZoneDatabase};
use jiff::{SignedDuration, Timestamp};

use crate::proto::timezone::{ChangeDate, TimeOfDay, TimeZoneInfo};

/// Zones tried first, so that a blob shared by many zones maps to the zone people expect
/// (Windows' own choice per zone, CLDR windowsZones territory "001"); every zone of the
/// database is tried after these. Only a tie-break: any zone with identical rules is a
/// correct answer.
const PREFERRED: &[&str] = &[
    "Europe/London",
    "Europe/Berlin",
    "Europe/Bucharest",
    "Europe/Moscow",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Halifax",
    "America/St_Johns",
    "America/Regina",
    "America/Mexico_City",
    "America/Bogota",
    "America/Sao_Paulo",
    "America/Argentina/Buenos_Aires",
    "America/Santiago",
    "Asia/Kolkata",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Asia/Singapore",
    "Asia/Dubai",
    "Asia/Karachi",
    "Asia/Dhaka",
    "Asia/Bangkok",
    "Asia/Kathmandu",
    "Asia/Tehran",
    "Asia/Jerusalem",
    "Australia/Sydney",
    "Australia/Brisbane",
    "Australia/Adelaide",
    "Australia/Darwin",
    "Australia/Perth",
    "Pacific/Auckland",
    "Africa/Johannesburg",
    "Africa/Lagos",
    "Africa/Cairo",
    "Africa/Nairobi",
];

/// The offset changes of one year: the offset in force when the year starts and each
/// change (instant, new offset) in order. Years are bounded by the UTC new year ± 18 h,
/// so every change of the local year falls inside whatever the zone's offset.
#[derive(Debug, PartialEq, Eq)]
struct YearChanges {
    initial: Offset,
    changes: Vec<(Timestamp, Offset)>,
}

/// The window [`YearChanges`] covers for `year`.
fn year_window(year: i16) -> Option<(Timestamp, Timestamp)> {
    let margin = SignedDuration::from_hours(18);
    let start = TimeZone::UTC
        .to_timestamp(Date::new(year, 1, 1).ok()?.at(0, 0, 0, 0))
        .ok()?;
    let end = TimeZone::UTC
        .to_timestamp(Date::new(year.checked_add(1)?, 1, 1).ok()?.at(0, 0, 0, 0))
        .ok()?;
    Some((
        start.checked_sub(margin).ok()?,
        end.checked_add(margin).ok()?,
    ))
}

/// A zone's offset changes in `year` (transitions that only rename are skipped).
fn zone_changes(zone: &TimeZone, year: i16) -> Option<YearChanges> {
    let (start, end) = year_window(year)?;
    let initial = zone.to_offset(start);
    let mut current = initial;
    let mut changes = Vec::new();
    for t in zone.following(start) {
        if t.timestamp() >= end {
            break;
        }
        if t.offset() != current {
            current = t.offset();
            changes.push((t.timestamp(), current));
        }
    }
    Some(YearChanges { initial, changes })
}

fn minutes(m: i32) -> Option<Offset> {
    Offset::from_seconds(m.checked_mul(60)?).ok()
}

/// The local date a change happens on in `year`. The rule form counts the `week`-th
/// `weekday` of the month, 5 = the last one; an absolute date is taken as that month and
/// day of `year` (it was meant for one year only; using it for the asked year keeps the
/// zone usable rather than inventing a rule).
fn change_day(date: ChangeDate, year: i16) -> Option<(Date, TimeOfDay)> {
    match date {
        ChangeDate::None => None,
        ChangeDate::Rule {
            month,
            week,
            weekday,
            time,
        } => {
            let first = Date::new(year, i8::try_from(month).ok()?, 1).ok()?;
            let weekday = Weekday::from_sunday_zero_offset(i8::try_from(weekday).ok()?).ok()?;
            let day = if week >= 5 {
                first.nth_weekday_of_month(-1, weekday).ok()?
            } else {
                first
                    .nth_weekday_of_month(i8::try_from(week).ok()?, weekday)
                    .ok()?
            };
            Some((day, time))
        }
        ChangeDate::Absolute {
            month, day, time, ..
        } => Some((
            Date::new(year, i8::try_from(month).ok()?, i8::try_from(day).ok()?).ok()?,
            time,
        )),
    }
}

/// The UTC instant of a change given as local wall time under the offset `before`.
fn change_instant(date: ChangeDate, year: i16, before: Offset) -> Option<Timestamp> {
    let (day, time) = change_day(date, year)?;
    let local = day.at(
        i8::try_from(time.hour).ok()?,
        i8::try_from(time.minute).ok()?,
        i8::try_from(time.second).ok()?,
        i32::from(time.millis) * 1_000_000,
    );
    before.to_timestamp(local).ok()
}

/// A blob's offset changes in `year`, or `None` if a change date does not exist there.
fn blob_changes(info: &TimeZoneInfo, year: i16) -> Option<YearChanges> {
    let standard = minutes(info.standard_offset_minutes())?;
    let Some(daylight) = info.daylight_offset_minutes() else {
        return Some(YearChanges {
            initial: standard,
            changes: Vec::new(),
        });
    };
    let daylight = minutes(daylight)?;
    if daylight == standard {
        return Some(YearChanges {
            initial: standard,
            changes: Vec::new(),
        });
    }
    let dst_starts = change_instant(info.daylight_date, year, standard)?;
    let dst_ends = change_instant(info.standard_date, year, daylight)?;
    // Southern hemisphere: DST ends before it starts again, so it is in force at New Year.
    Some(if dst_starts < dst_ends {
        YearChanges {
            initial: standard,
            changes: vec![(dst_starts, daylight), (dst_ends, standard)],
        }
    } else {
        YearChanges {
            initial: daylight,
            changes: vec![(dst_ends, standard), (dst_starts, daylight)],
        }
    })
}

/// The same blob with "week 4" read as "last week" in both rules: some clients compute
/// the week from one year's date, where the last Sunday of October was the 4th (the
/// Berlin blob seen with wDay 4, pim-notes §1).
fn with_week4_as_last(info: &TimeZoneInfo) -> Option<TimeZoneInfo> {
    let widen = |date: ChangeDate| match date {
        ChangeDate::Rule {
            month,
            week: 4,
            weekday,
            time,
        } => ChangeDate::Rule {
            month,
            week: 5,
            weekday,
            time,
        },
        other => other,
    };
    let mut wide = info.clone();
    wide.standard_date = widen(info.standard_date);
    wide.daylight_date = widen(info.daylight_date);
    (wide != *info).then_some(wide)
}

/// The candidate IANA zones in the order they are tried: [`PREFERRED`], then every
/// area/location name of the database, `Etc/…` last. Bare legacy names ("CET",
/// "EST5EDT") are left out.
fn candidates(db: &TimeZoneDatabase) -> impl Iterator<Item = String> {
    let mut rest: Vec<String> = db
        .available()
        .map(|n| n.as_str().to_owned())
        .filter(|n| n.contains('/') && !PREFERRED.contains(&n.as_str()))
        .collect();
    rest.sort_by_key(|n| (n.starts_with("Etc/"), n.clone()));
    PREFERRED.iter().map(|&n| n.to_owned()).chain(rest)
}

/// Whether the system has no time zone database for jiff to read.
pub fn database_missing() -> bool {
    jiff::tz::db().is_definitively_empty()
}

/// The zone of an event whose blob is `info`, for an event in local `year`.
///
/// UTC for the all-zero blob; else the first IANA zone whose offset changes in `year`
/// equal the blob's (also with week 4 read as "last"); else the blob's rules as an
/// unnamed zone ([`TimeZone::iana_name`] is `None` then).
pub fn zone_for(info: &TimeZoneInfo, year: i16) -> TimeZone {
    zone_in(jiff::tz::db(), info, year)
}

/// [`zone_for`] with the IANA zones of `db`: with an empty one (a box without tzdata)
/// every blob gets its own rules.
fn zone_in(db: &TimeZoneDatabase, info: &TimeZoneInfo, year: i16) -> TimeZone {
    let fixed = info.daylight_offset_minutes().is_none()
        || info.daylight_offset_minutes() == Some(info.standard_offset_minutes());
    if fixed && info.standard_offset_minutes() == 0 {
        return TimeZone::UTC;
    }
    let wanted: Vec<YearChanges> = std::iter::once(info.clone())
        .chain(with_week4_as_last(info))
        .filter_map(|i| blob_changes(&i, year))
        .collect();
    for name in candidates(db) {
        let Ok(zone) = db.get(&name) else { continue };
        if zone_changes(&zone, year).is_some_and(|got| wanted.contains(&got)) {
            return zone;
        }
    }
    rules_zone(info)
}

/// The blob's own rules as a zone: a fixed offset, or a POSIX TZ rule (whose `Mm.w.d`
/// has the blob's meaning, w = 5 being the last week, and whose change times are local
/// wall time before the change, like the blob's).
fn rules_zone(info: &TimeZoneInfo) -> TimeZone {
    let standard = info.standard_offset_minutes();
    let fixed = || minutes(standard).map_or(TimeZone::UTC, TimeZone::fixed);
    let Some(daylight) = info.daylight_offset_minutes() else {
        return fixed();
    };
    let (Some(start), Some(end)) = (
        posix_rule(info.daylight_date),
        posix_rule(info.standard_date),
    ) else {
        return fixed();
    };
    let spec = format!(
        "<{}>{}<{}>{},{start},{end}",
        posix_name(standard),
        posix_offset(-standard),
        posix_name(daylight),
        posix_offset(-daylight),
    );
    TimeZone::posix(&spec).unwrap_or_else(|_| fixed())
}

/// `+0530` for 330 minutes east of UTC.
fn posix_name(east_minutes: i32) -> String {
    let sign = if east_minutes < 0 { '-' } else { '+' };
    let m = east_minutes.unsigned_abs();
    format!("{sign}{:02}{:02}", m / 60, m % 60)
}

/// A POSIX offset: minutes *west* of UTC as `[-]hh:mm`.
fn posix_offset(west_minutes: i32) -> String {
    let sign = if west_minutes < 0 { "-" } else { "" };
    let m = west_minutes.unsigned_abs();
    format!("{sign}{}:{:02}", m / 60, m % 60)
}

/// `Mm.w.d/hh:mm:ss` for a rule, `n/hh:mm:ss` (zero-based day of the year, leap days
/// counted) for an absolute date.
fn posix_rule(date: ChangeDate) -> Option<String> {
    let clock = |t: TimeOfDay| format!("{}:{:02}:{:02}", t.hour, t.minute, t.second);
    match date {
        ChangeDate::None => None,
        ChangeDate::Rule {
            month,
            week,
            weekday,
            time,
        } => Some(format!("M{month}.{week}.{weekday}/{}", clock(time))),
        ChangeDate::Absolute {
            year,
            month,
            day,
            time,
            ..
        } => {
            let date = Date::new(
                i16::try_from(year).ok()?,
                i8::try_from(month).ok()?,
                i8::try_from(day).ok()?,
            )
            .ok()?;
            Some(format!("{}/{}", date.day_of_year() - 1, clock(time)))
        }
    }
}

/// The blob for `zone` as it is in force at `at`: the zone's two offset changes of that
/// (local) year as yearly rules, names left empty (some Android builds fall back to GMT
/// when names are present, grommunio-sync e2b984e). UTC and zones without changes that
/// year give a blob without DST (all zero for UTC). A year with another number of
/// changes (a zone changing its standard offset, Morocco's Ramadan) gives the offset in
/// force at `at` without DST: a blob cannot say more.
pub fn blob_for(zone: &TimeZone, at: Timestamp) -> TimeZoneInfo {
    let now = zone.to_offset(at);
    let fixed = TimeZoneInfo::fixed(-now.seconds() / 60);
    let year = zone.to_datetime(at).year();
    let Some(YearChanges { initial, changes }) = zone_changes(zone, year) else {
        return fixed;
    };
    let [(first_at, first), (second_at, second)] = changes[..] else {
        return fixed;
    };
    if second != initial || first == initial {
        return fixed;
    }
    // The larger offset is daylight time, whatever the database calls DST (Dublin's
    // "negative DST" has winter flagged as DST).
    let (standard, daylight) = if first > initial {
        (initial, first)
    } else {
        (first, initial)
    };
    let ((dst_at, dst_before), (std_at, std_before)) = if first == daylight {
        ((first_at, initial), (second_at, first))
    } else {
        ((second_at, first), (first_at, initial))
    };
    let (Some(daylight_date), Some(standard_date)) =
        (rule_of(dst_at, dst_before), rule_of(std_at, std_before))
    else {
        return fixed;
    };
    TimeZoneInfo {
        bias: -standard.seconds() / 60,
        standard_name: String::new(),
        standard_date,
        standard_bias: 0,
        daylight_name: String::new(),
        daylight_date,
        daylight_bias: -(daylight.seconds() - standard.seconds()) / 60,
    }
}

/// A change at `at` as a yearly rule in local wall time under `before`. A change on the
/// last such weekday of its month is written as week 5 ("last"), which is what the
/// rules of the zones that have one say (EU, Sydney, …); otherwise the week it falls in.
fn rule_of(at: Timestamp, before: Offset) -> Option<ChangeDate> {
    let local = before.to_datetime(at);
    let day = local.day();
    let week = if day + 7 > local.date().days_in_month() {
        5
    } else {
        (day - 1) / 7 + 1
    };
    Some(ChangeDate::Rule {
        month: u8::try_from(local.month()).ok()?,
        week: u8::try_from(week).ok()?,
        weekday: u8::try_from(local.weekday().to_sunday_zero_offset()).ok()?,
        time: TimeOfDay {
            hour: u8::try_from(local.hour()).ok()?,
            minute: u8::try_from(local.minute()).ok()?,
            second: u8::try_from(local.second()).ok()?,
            millis: 0,
        },
    })
}

/// The instant an all-day event on `date` starts in `zone`: local midnight, or the first
/// instant of the day where midnight does not exist (a DST change at 00:00).
pub fn start_of_day(date: Date, zone: &TimeZone) -> Option<Timestamp> {
    date.to_zoned_datetime(zone.clone())
        .ok()?
        .start_of_day()
        .ok()
        .map(|z| z.timestamp())
}

#[cfg(test)]
#[path = "tz_tests.rs"]
mod tests;
