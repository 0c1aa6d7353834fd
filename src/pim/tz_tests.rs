//! Tests of `pim::tz`: DST changes of the zones the issue names (local wall time ↔ UTC
//! around each change), blob round trips, blob → IANA for the blobs real clients send
//! (Z-Push's knownMSTZS table, pim-notes §1), and the fallbacks.

use super::*;
use jiff::civil::date;

fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap()
}

fn utc(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// Local wall time → UTC with RFC 5545's rule (a time in a gap moves forward, a time in
/// a fold is the first one), and UTC → local.
fn local_to_utc(tz: &TimeZone, y: i16, mo: i8, d: i8, h: i8, mi: i8) -> Timestamp {
    tz.to_timestamp(date(y, mo, d).at(h, mi, 0, 0)).unwrap()
}

fn utc_to_local(tz: &TimeZone, ts: &str) -> String {
    tz.to_datetime(utc(ts)).to_string()
}

fn rule(month: u8, week: u8, hour: u8) -> ChangeDate {
    ChangeDate::Rule {
        month,
        week,
        weekday: 0,
        time: TimeOfDay {
            hour,
            minute: 0,
            second: 0,
            millis: 0,
        },
    }
}

/// A blob in Z-Push's notation: bias/daylight bias/std month/wDay/dow/hour/dst
/// month/wDay/dow/hour.
#[allow(clippy::too_many_arguments)]
fn blob(bias: i32, dbias: i32, sm: u8, sw: u8, sh: u8, dm: u8, dw: u8, dh: u8) -> TimeZoneInfo {
    let date = |m, w, h| {
        if m == 0 {
            ChangeDate::None
        } else {
            rule(m, w, h)
        }
    };
    TimeZoneInfo {
        bias,
        standard_name: String::new(),
        standard_date: date(sm, sw, sh),
        standard_bias: 0,
        daylight_name: String::new(),
        daylight_date: date(dm, dw, dh),
        daylight_bias: dbias,
    }
}

/// `got` has the same offset changes as the named zone in each of `years`.
fn assert_same_rules(got: &TimeZone, name: &str, years: &[i16]) {
    let want = zone(name);
    for &y in years {
        assert_eq!(
            zone_changes(got, y),
            zone_changes(&want, y),
            "{:?} vs {name} in {y}",
            got.iana_name()
        );
    }
}

#[test]
fn paris_dst_changes() {
    let paris = zone("Europe/Paris");
    // 2026-03-29: 02:00 CET → 03:00 CEST (01:00 UTC).
    assert_eq!(
        local_to_utc(&paris, 2026, 3, 29, 1, 59),
        utc("2026-03-29T00:59:00Z")
    );
    assert_eq!(
        local_to_utc(&paris, 2026, 3, 29, 3, 0),
        utc("2026-03-29T01:00:00Z")
    );
    // 02:30 does not exist: it moves past the gap.
    assert_eq!(
        local_to_utc(&paris, 2026, 3, 29, 2, 30),
        utc("2026-03-29T01:30:00Z")
    );
    assert_eq!(
        utc_to_local(&paris, "2026-03-29T00:59:59Z"),
        "2026-03-29T01:59:59"
    );
    assert_eq!(
        utc_to_local(&paris, "2026-03-29T01:00:00Z"),
        "2026-03-29T03:00:00"
    );
    // 2026-10-25: 03:00 CEST → 02:00 CET (01:00 UTC); 02:30 happens twice, the first wins.
    assert_eq!(
        local_to_utc(&paris, 2026, 10, 25, 2, 30),
        utc("2026-10-25T00:30:00Z")
    );
    assert_eq!(
        local_to_utc(&paris, 2026, 10, 25, 3, 0),
        utc("2026-10-25T02:00:00Z")
    );
    assert_eq!(
        utc_to_local(&paris, "2026-10-25T00:59:00Z"),
        "2026-10-25T02:59:00"
    );
    assert_eq!(
        utc_to_local(&paris, "2026-10-25T01:00:00Z"),
        "2026-10-25T02:00:00"
    );

    let info = blob_for(&paris, utc("2026-07-01T00:00:00Z"));
    assert_eq!(info, blob(-60, -60, 10, 5, 3, 3, 5, 2));
    assert_same_rules(&zone_for(&info, 2026), "Europe/Paris", &[2026]);
}

#[test]
fn new_york_dst_changes() {
    let ny = zone("America/New_York");
    // 2026-03-08: 02:00 EST → 03:00 EDT (07:00 UTC).
    assert_eq!(
        local_to_utc(&ny, 2026, 3, 8, 1, 59),
        utc("2026-03-08T06:59:00Z")
    );
    assert_eq!(
        local_to_utc(&ny, 2026, 3, 8, 2, 30),
        utc("2026-03-08T07:30:00Z")
    );
    assert_eq!(
        local_to_utc(&ny, 2026, 3, 8, 3, 0),
        utc("2026-03-08T07:00:00Z")
    );
    // 2026-11-01: 02:00 EDT → 01:00 EST (06:00 UTC); 01:30 is first taken as EDT.
    assert_eq!(
        local_to_utc(&ny, 2026, 11, 1, 1, 30),
        utc("2026-11-01T05:30:00Z")
    );
    assert_eq!(
        utc_to_local(&ny, "2026-11-01T06:30:00Z"),
        "2026-11-01T01:30:00"
    );
    assert_eq!(
        local_to_utc(&ny, 2026, 11, 1, 2, 0),
        utc("2026-11-01T07:00:00Z")
    );

    let info = blob_for(&ny, utc("2026-01-15T12:00:00Z"));
    assert_eq!(info, blob(300, -60, 11, 1, 2, 3, 2, 2));
    let back = zone_for(&info, 2026);
    assert_eq!(back.iana_name(), Some("America/New_York"));
}

#[test]
fn sydney_dst_changes_southern_hemisphere() {
    let sydney = zone("Australia/Sydney");
    // 2026-04-05: 03:00 AEDT → 02:00 AEST (16:00 UTC the day before).
    assert_eq!(
        local_to_utc(&sydney, 2026, 4, 5, 2, 30),
        utc("2026-04-04T15:30:00Z")
    );
    assert_eq!(
        utc_to_local(&sydney, "2026-04-04T16:30:00Z"),
        "2026-04-05T02:30:00"
    );
    assert_eq!(
        local_to_utc(&sydney, 2026, 4, 5, 3, 0),
        utc("2026-04-04T17:00:00Z")
    );
    // 2026-10-04: 02:00 AEST → 03:00 AEDT (16:00 UTC the day before).
    assert_eq!(
        local_to_utc(&sydney, 2026, 10, 4, 1, 59),
        utc("2026-10-03T15:59:00Z")
    );
    assert_eq!(
        local_to_utc(&sydney, 2026, 10, 4, 2, 30),
        utc("2026-10-03T16:30:00Z")
    );
    assert_eq!(
        utc_to_local(&sydney, "2026-10-03T16:00:00Z"),
        "2026-10-04T03:00:00"
    );

    // DST is in force at New Year: StandardDate's month comes before DaylightDate's.
    let info = blob_for(&sydney, utc("2026-12-25T00:00:00Z"));
    assert_eq!(info, blob(-600, -60, 4, 1, 3, 10, 1, 2));
    assert_eq!(zone_for(&info, 2026).iana_name(), Some("Australia/Sydney"));
}

#[test]
fn kolkata_half_hour_offset_without_dst() {
    let kolkata = zone("Asia/Kolkata");
    assert_eq!(
        local_to_utc(&kolkata, 2026, 3, 29, 2, 30),
        utc("2026-03-28T21:00:00Z")
    );
    assert_eq!(
        utc_to_local(&kolkata, "2026-10-25T01:00:00Z"),
        "2026-10-25T06:30:00"
    );
    let info = blob_for(&kolkata, utc("2026-06-01T00:00:00Z"));
    assert_eq!(info, TimeZoneInfo::fixed(-330));
    assert!(!info.has_dst());
    assert_eq!(zone_for(&info, 2026).iana_name(), Some("Asia/Kolkata"));
}

/// The blobs clients send (pim-notes §1, Z-Push knownMSTZS), each mapped to a zone with
/// the same changes in the event's year.
#[test]
fn real_client_blobs_map_to_zones_with_identical_rules() {
    let cases = [
        (blob(-60, -60, 10, 5, 3, 3, 5, 2), "Europe/Berlin"),
        (blob(300, -60, 11, 1, 2, 3, 2, 2), "America/New_York"),
        (blob(-600, -60, 4, 1, 3, 10, 1, 2), "Australia/Sydney"),
        // Kolkata and Brisbane: no DST, DaylightBias still -60.
        (blob(-330, -60, 0, 0, 0, 0, 0, 0), "Asia/Kolkata"),
        (blob(-600, -60, 0, 0, 0, 0, 0, 0), "Australia/Brisbane"),
    ];
    for (info, name) in cases {
        for year in [2025, 2026, 2027] {
            let got = zone_for(&info, year);
            assert_eq!(got.iana_name(), Some(name), "{info:?} in {year}");
        }
        // Paris has Berlin's rules: either is a right answer, and the rules are what count.
        if name == "Europe/Berlin" {
            assert_same_rules(&zone_for(&info, 2026), "Europe/Paris", &[2026]);
        }
        // The blob read back from the zone describes the same changes.
        let again = blob_for(&zone(name), utc("2026-06-01T00:00:00Z"));
        assert_eq!(
            blob_changes(&again, 2026),
            blob_changes(&info, 2026),
            "{name}"
        );
    }
}

/// Berlin sent with wDay 4 for October: in 2026 the 4th Sunday is the last (25th); in
/// 2027 October has five Sundays, and the client still meant the last one.
#[test]
fn week_four_that_means_last_is_tolerated() {
    let info = blob(-60, -60, 10, 4, 3, 3, 5, 2);
    assert_eq!(zone_for(&info, 2026).iana_name(), Some("Europe/Berlin"));
    assert_eq!(zone_for(&info, 2027).iana_name(), Some("Europe/Berlin"));
    // Week 3 is not "last" in any month: no zone matches, the blob's own rules are used.
    let third = blob(-60, -60, 10, 3, 3, 3, 5, 2);
    assert_eq!(zone_for(&third, 2027).iana_name(), None);
}

#[test]
fn other_half_hour_zones() {
    // Adelaide +09:30 / +10:30, southern; St John's -03:30 / -02:30; Kathmandu +05:45.
    let adelaide = blob(-570, -60, 4, 1, 3, 10, 1, 2);
    assert_eq!(
        zone_for(&adelaide, 2026).iana_name(),
        Some("Australia/Adelaide")
    );
    let st_johns = blob_for(&zone("America/St_Johns"), utc("2026-06-01T00:00:00Z"));
    assert_eq!(st_johns, blob(210, -60, 11, 1, 2, 3, 2, 2));
    assert_eq!(
        zone_for(&st_johns, 2026).iana_name(),
        Some("America/St_Johns")
    );
    let kathmandu = TimeZoneInfo::fixed(-345);
    assert_eq!(
        zone_for(&kathmandu, 2026).iana_name(),
        Some("Asia/Kathmandu")
    );
}

#[test]
fn utc_is_the_all_zero_blob() {
    let info = blob_for(&TimeZone::UTC, utc("2026-06-01T00:00:00Z"));
    assert_eq!(info.to_bytes(), [0u8; crate::proto::timezone::BLOB_LEN]);
    let back = zone_for(&TimeZoneInfo::utc(), 2026);
    assert_eq!(back.to_offset(utc("2026-06-01T00:00:00Z")), Offset::UTC);
    assert_eq!(back.iana_name(), Some("UTC"));
    // A zone at UTC+0 with DST is not UTC.
    assert_eq!(
        zone_for(&blob(0, -60, 10, 5, 2, 3, 5, 1), 2026).iana_name(),
        Some("Europe/London")
    );
}

/// Dublin's tz rules flag winter as "negative DST"; the blob has the usual sense.
#[test]
fn negative_dst_is_written_the_windows_way() {
    let dublin = blob_for(&zone("Europe/Dublin"), utc("2026-06-01T00:00:00Z"));
    assert_eq!(dublin, blob(0, -60, 10, 5, 2, 3, 5, 1));
}

#[test]
fn unknown_rules_fall_back_to_the_blobs_own_rules() {
    // +01:00 with DST from the 2nd Sunday of May to the 1st Sunday of September.
    let info = blob(-60, -60, 9, 1, 3, 5, 2, 2);
    let got = zone_for(&info, 2026);
    assert_eq!(got.iana_name(), None);
    // 2026-05-10 02:00 local (01:00 UTC) the offset becomes +02:00.
    assert_eq!(
        got.to_offset(utc("2026-05-10T00:59:00Z")),
        Offset::constant(1)
    );
    assert_eq!(
        got.to_offset(utc("2026-05-10T01:00:00Z")),
        Offset::constant(2)
    );
    // 2026-09-06 03:00 local DST (01:00 UTC) back to +01:00.
    assert_eq!(
        got.to_offset(utc("2026-09-06T00:59:00Z")),
        Offset::constant(2)
    );
    assert_eq!(
        got.to_offset(utc("2026-09-06T01:00:00Z")),
        Offset::constant(1)
    );
    assert_eq!(
        blob_changes(&blob_for(&got, utc("2026-06-01T00:00:00Z")), 2026),
        blob_changes(&info, 2026)
    );

    // A fixed offset no zone uses.
    let odd = TimeZoneInfo::fixed(-197);
    let got = zone_for(&odd, 2026);
    assert_eq!(got.iana_name(), None);
    assert_eq!(
        got.to_offset(utc("2026-01-01T00:00:00Z")).seconds(),
        197 * 60
    );
}

/// A box without tzdata: no IANA names, but each blob still gets its own exact rules.
#[test]
fn without_a_zone_database_blobs_keep_their_own_rules() {
    let none = TimeZoneDatabase::none();
    let cases = [
        (blob(-60, -60, 10, 5, 3, 3, 5, 2), "Europe/Paris"),
        (blob(300, -60, 11, 1, 2, 3, 2, 2), "America/New_York"),
        (blob(-600, -60, 4, 1, 3, 10, 1, 2), "Australia/Sydney"),
        (blob(-330, -60, 0, 0, 0, 0, 0, 0), "Asia/Kolkata"),
    ];
    for (info, name) in cases {
        let got = zone_in(&none, &info, 2026);
        assert_eq!(got.iana_name(), None, "{name}");
        assert_same_rules(&got, name, &[2026, 2027]);
        // The system's database (the tests need tzdata) names it.
        assert!(zone_in(jiff::tz::db(), &info, 2026).iana_name().is_some());
    }
    assert!(!database_missing());
}

#[test]
fn absolute_change_dates_are_honoured() {
    let mut info = blob(-60, -60, 10, 5, 3, 3, 5, 2);
    info.daylight_date = ChangeDate::Absolute {
        year: 2026,
        month: 3,
        day: 29,
        weekday: 0,
        time: TimeOfDay {
            hour: 2,
            minute: 0,
            second: 0,
            millis: 0,
        },
    };
    // The same instant as the EU rule in 2026.
    assert_eq!(zone_for(&info, 2026).iana_name(), Some("Europe/Berlin"));
    // Moved a week earlier no zone has it; the POSIX fallback still changes then.
    if let ChangeDate::Absolute { day, .. } = &mut info.daylight_date {
        *day = 22;
    }
    let got = zone_for(&info, 2026);
    assert_eq!(got.iana_name(), None);
    assert_eq!(
        got.to_offset(utc("2026-03-22T01:00:00Z")),
        Offset::constant(2)
    );
    assert_eq!(
        got.to_offset(utc("2026-03-22T00:59:00Z")),
        Offset::constant(1)
    );
}

#[test]
fn all_day_events_start_at_local_midnight() {
    let paris = zone("Europe/Paris");
    assert_eq!(
        start_of_day(date(2026, 7, 14), &paris),
        Some(utc("2026-07-13T22:00:00Z"))
    );
    // São Paulo began DST at midnight on 2018-11-04: that day started at 01:00 local.
    let sao_paulo = zone("America/Sao_Paulo");
    assert_eq!(
        start_of_day(date(2018, 11, 4), &sao_paulo),
        Some(utc("2018-11-04T03:00:00Z"))
    );
}

#[test]
fn every_blob_round_trips_through_its_zone() {
    // blob → zone → blob keeps the changes, for each of the zones and years.
    for name in [
        "Europe/Paris",
        "America/New_York",
        "Australia/Sydney",
        "Asia/Kolkata",
    ] {
        for year in [2024i16, 2026, 2030] {
            let at = TimeZone::UTC
                .to_timestamp(date(year, 6, 1).at(0, 0, 0, 0))
                .unwrap();
            let info = blob_for(&zone(name), at);
            let parsed = TimeZoneInfo::from_base64(&info.to_base64()).unwrap();
            assert_eq!(parsed, info);
            let mapped = zone_for(&parsed, year);
            assert_same_rules(&mapped, name, &[year]);
            assert_eq!(blob_for(&mapped, at), info, "{name} {year}");
        }
    }
}
