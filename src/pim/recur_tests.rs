//! Tests of `pim::recur`: validation of the wire fields, expansion of every pattern type
//! (in the series' zone, across DST), the limits, and the RRULE forms of the worked
//! examples in pim-notes §2.

use super::*;
use jiff::civil::date;

fn fields(kind: u32) -> RecurrenceFields {
    RecurrenceFields {
        kind: Some(kind),
        ..RecurrenceFields::default()
    }
}

fn rec(pattern: Pattern, interval: u16, end: End) -> Recurrence {
    Recurrence {
        pattern,
        interval,
        end,
        first_day_of_week: None,
        calendar_type: CalendarType::Default,
        is_leap_month: false,
    }
}

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap()
}

/// The local start dates and times of the occurrences in [from, to).
fn local(
    r: &Recurrence,
    start: DateTime,
    tz: &str,
    from: &str,
    to: &str,
    deleted: &[Timestamp],
) -> Vec<String> {
    let tz = zone(tz);
    let series = Series {
        recurrence: r,
        start,
        zone: &tz,
        duration: SignedDuration::from_hours(1),
        deleted,
    };
    let got = series.expand(ts(from), ts(to), 1_000).unwrap();
    assert!(got.complete);
    got.starts
        .iter()
        .map(|t| tz.to_datetime(*t).to_string())
        .collect()
}

fn days(list: &[DayOfWeek]) -> DaySet {
    DaySet::of(list).unwrap()
}

use DayOfWeek::*;

#[test]
fn fields_of_every_type_are_read_and_written_back() {
    let cases = [
        (
            RecurrenceFields {
                interval: Some(2),
                ..fields(0)
            },
            Pattern::Daily { days: None },
        ),
        (
            RecurrenceFields {
                day_of_week: Some(62),
                ..fields(0)
            },
            Pattern::Daily {
                days: Some(DaySet::WEEKDAYS),
            },
        ),
        (
            RecurrenceFields {
                day_of_week: Some(10),
                first_day_of_week: Some(1),
                ..fields(1)
            },
            Pattern::Weekly {
                days: days(&[Monday, Wednesday]),
            },
        ),
        (
            RecurrenceFields {
                day_of_month: Some(31),
                ..fields(2)
            },
            Pattern::Monthly { day: 31 },
        ),
        (
            RecurrenceFields {
                day_of_week: Some(32),
                week_of_month: Some(5),
                ..fields(3)
            },
            Pattern::MonthlyNth {
                week: WeekOfMonth::Last,
                days: days(&[Friday]),
            },
        ),
        (
            RecurrenceFields {
                month_of_year: Some(2),
                day_of_month: Some(29),
                ..fields(5)
            },
            Pattern::Yearly { month: 2, day: 29 },
        ),
        (
            RecurrenceFields {
                month_of_year: Some(11),
                day_of_week: Some(16),
                week_of_month: Some(4),
                ..fields(6)
            },
            Pattern::YearlyNth {
                month: 11,
                week: WeekOfMonth::Fourth,
                days: days(&[Thursday]),
            },
        ),
    ];
    for (f, pattern) in cases {
        let r = Recurrence::from_fields(&f).unwrap();
        assert_eq!(r.pattern, pattern);
        let back = Recurrence::from_fields(&r.to_fields()).unwrap();
        assert_eq!(back, r);
        assert_eq!(r.to_fields().kind, f.kind);
    }
}

#[test]
fn interval_occurrences_until_and_calendar_fields() {
    let base = RecurrenceFields {
        day_of_week: Some(2),
        ..fields(1)
    };
    // Interval 0 is read as 1; absent too.
    let r = Recurrence::from_fields(&RecurrenceFields {
        interval: Some(0),
        ..base.clone()
    })
    .unwrap();
    assert_eq!(r.interval, 1);
    assert_eq!(r.end, End::Never);
    // Occurrences wins over Until ([MS-ASCAL] 3.2.5.3).
    let r = Recurrence::from_fields(&RecurrenceFields {
        occurrences: Some(10),
        until: Some(1_800_000_000),
        ..base.clone()
    })
    .unwrap();
    assert_eq!(r.end, End::Count(10));
    let r = Recurrence::from_fields(&RecurrenceFields {
        until: Some(1_800_000_000),
        calendar_type: Some(15),
        is_leap_month: Some(1),
        ..base.clone()
    })
    .unwrap();
    assert_eq!(r.end, End::Until(1_800_000_000));
    assert_eq!(r.calendar_type, CalendarType::ChineseLunar);
    assert!(r.is_leap_month);
    assert_eq!(r.to_fields().calendar_type, Some(15));
    assert_eq!(
        Recurrence::from_fields(&RecurrenceFields {
            calendar_type: Some(20),
            ..base
        })
        .unwrap()
        .calendar_type,
        CalendarType::KoreanLunar
    );
}

#[test]
fn impossible_combinations_are_refused() {
    use RecurError::*;
    let check = |f: RecurrenceFields, want: RecurError| {
        assert_eq!(Recurrence::from_fields(&f), Err(want), "{f:?}");
    };
    check(RecurrenceFields::default(), NoType);
    check(fields(4), OutOfRange("Type"));
    check(fields(7), OutOfRange("Type"));
    check(fields(1), Missing("DayOfWeek"));
    check(fields(2), Missing("DayOfMonth"));
    check(
        RecurrenceFields {
            day_of_week: Some(2),
            ..fields(3)
        },
        Missing("WeekOfMonth"),
    );
    check(
        RecurrenceFields {
            day_of_month: Some(3),
            ..fields(5)
        },
        Missing("MonthOfYear"),
    );
    // Children under the wrong Type (Status 6, [MS-ASCAL] 3.2.5.3).
    check(
        RecurrenceFields {
            day_of_month: Some(3),
            ..fields(0)
        },
        NotAllowed("DayOfMonth"),
    );
    check(
        RecurrenceFields {
            day_of_week: Some(2),
            day_of_month: Some(3),
            ..fields(2)
        },
        NotAllowed("DayOfWeek"),
    );
    check(
        RecurrenceFields {
            day_of_week: Some(2),
            month_of_year: Some(3),
            ..fields(1)
        },
        NotAllowed("MonthOfYear"),
    );
    check(
        RecurrenceFields {
            day_of_month: Some(3),
            week_of_month: Some(1),
            ..fields(2)
        },
        NotAllowed("WeekOfMonth"),
    );
    // Ranges.
    for (f, name) in [
        (
            RecurrenceFields {
                day_of_week: Some(0),
                ..fields(1)
            },
            "DayOfWeek",
        ),
        (
            RecurrenceFields {
                day_of_week: Some(128),
                ..fields(1)
            },
            "DayOfWeek",
        ),
        (
            RecurrenceFields {
                day_of_month: Some(32),
                ..fields(2)
            },
            "DayOfMonth",
        ),
        (
            RecurrenceFields {
                day_of_week: Some(2),
                week_of_month: Some(6),
                ..fields(3)
            },
            "WeekOfMonth",
        ),
        (
            RecurrenceFields {
                month_of_year: Some(13),
                day_of_month: Some(1),
                ..fields(5)
            },
            "MonthOfYear",
        ),
        // February 30 and April 31 never happen.
        (
            RecurrenceFields {
                month_of_year: Some(2),
                day_of_month: Some(30),
                ..fields(5)
            },
            "DayOfMonth",
        ),
        (
            RecurrenceFields {
                month_of_year: Some(4),
                day_of_month: Some(31),
                ..fields(5)
            },
            "DayOfMonth",
        ),
        (
            RecurrenceFields {
                interval: Some(1000),
                ..fields(0)
            },
            "Interval",
        ),
        (
            RecurrenceFields {
                occurrences: Some(0),
                ..fields(0)
            },
            "Occurrences",
        ),
        (
            RecurrenceFields {
                occurrences: Some(1000),
                ..fields(0)
            },
            "Occurrences",
        ),
        (
            RecurrenceFields {
                first_day_of_week: Some(7),
                ..fields(0)
            },
            "FirstDayOfWeek",
        ),
        (
            RecurrenceFields {
                calendar_type: Some(13),
                ..fields(0)
            },
            "CalendarType",
        ),
        (
            RecurrenceFields {
                calendar_type: Some(21),
                ..fields(0)
            },
            "CalendarType",
        ),
        (
            RecurrenceFields {
                is_leap_month: Some(2),
                ..fields(0)
            },
            "IsLeapMonth",
        ),
    ] {
        check(f, OutOfRange(name));
    }
}

#[test]
fn daily_with_interval_and_count() {
    let r = rec(Pattern::Daily { days: None }, 2, End::Count(4));
    let got = local(
        &r,
        date(2026, 1, 30).at(8, 0, 0, 0),
        "Europe/Paris",
        "2026-01-01T00:00:00Z",
        "2027-01-01T00:00:00Z",
        &[],
    );
    assert_eq!(
        got,
        [
            "2026-01-30T08:00:00",
            "2026-02-01T08:00:00",
            "2026-02-03T08:00:00",
            "2026-02-05T08:00:00"
        ]
    );
}

#[test]
fn daily_on_weekdays() {
    let r = rec(
        Pattern::Daily {
            days: Some(DaySet::WEEKDAYS),
        },
        1,
        End::Count(6),
    );
    // Starts on a Thursday: Thu, Fri, Mon, Tue, Wed, Thu.
    let got = local(
        &r,
        date(2026, 1, 1).at(9, 0, 0, 0),
        "UTC",
        "2026-01-01T00:00:00Z",
        "2026-02-01T00:00:00Z",
        &[],
    );
    assert_eq!(
        got,
        [
            "2026-01-01T09:00:00",
            "2026-01-02T09:00:00",
            "2026-01-05T09:00:00",
            "2026-01-06T09:00:00",
            "2026-01-07T09:00:00",
            "2026-01-08T09:00:00"
        ]
    );
}

/// pim-notes' worked example: every 2nd week on Monday and Wednesday.
#[test]
fn weekly_every_second_week_with_week_start() {
    let mut r = rec(
        Pattern::Weekly {
            days: days(&[Monday, Wednesday]),
        },
        2,
        End::Never,
    );
    r.first_day_of_week = Some(Monday);
    let got = local(
        &r,
        date(2026, 1, 5).at(10, 0, 0, 0),
        "UTC",
        "2026-01-01T00:00:00Z",
        "2026-02-01T00:00:00Z",
        &[],
    );
    assert_eq!(
        got,
        [
            "2026-01-05T10:00:00",
            "2026-01-07T10:00:00",
            "2026-01-19T10:00:00",
            "2026-01-21T10:00:00"
        ]
    );
    // With the week starting on Wednesday the start (Monday) closes its week: the next
    // period starts two weeks after the Wednesday before it.
    r.first_day_of_week = Some(Wednesday);
    let got = local(
        &r,
        date(2026, 1, 5).at(10, 0, 0, 0),
        "UTC",
        "2026-01-01T00:00:00Z",
        "2026-01-25T00:00:00Z",
        &[],
    );
    assert_eq!(
        got,
        [
            "2026-01-05T10:00:00",
            "2026-01-14T10:00:00",
            "2026-01-19T10:00:00"
        ]
    );
}

/// A weekly 09:00 meeting in Paris keeps 09:00 local across the March change, so its UTC
/// time moves from 08:00 to 07:00.
#[test]
fn weekly_series_keeps_local_time_across_dst() {
    let r = rec(
        Pattern::Weekly {
            days: days(&[Monday]),
        },
        1,
        End::Never,
    );
    let paris = zone("Europe/Paris");
    let series = Series {
        recurrence: &r,
        start: date(2026, 3, 16).at(9, 0, 0, 0),
        zone: &paris,
        duration: SignedDuration::from_mins(30),
        deleted: &[],
    };
    let got = series
        .expand(ts("2026-03-01T00:00:00Z"), ts("2026-04-10T00:00:00Z"), 100)
        .unwrap();
    assert_eq!(
        got.starts,
        [
            ts("2026-03-16T08:00:00Z"),
            ts("2026-03-23T08:00:00Z"),
            ts("2026-03-30T07:00:00Z"),
            ts("2026-04-06T07:00:00Z")
        ]
    );
    // And back in October.
    let got = series
        .expand(ts("2026-10-15T00:00:00Z"), ts("2026-11-03T00:00:00Z"), 100)
        .unwrap();
    assert_eq!(
        got.starts,
        [
            ts("2026-10-19T07:00:00Z"),
            ts("2026-10-26T08:00:00Z"),
            ts("2026-11-02T08:00:00Z")
        ]
    );
}

#[test]
fn monthly_on_the_31st_takes_the_last_day_of_short_months() {
    let r = rec(Pattern::Monthly { day: 31 }, 1, End::Count(5));
    let got = local(
        &r,
        date(2026, 1, 31).at(12, 0, 0, 0),
        "UTC",
        "2026-01-01T00:00:00Z",
        "2027-01-01T00:00:00Z",
        &[],
    );
    assert_eq!(
        got,
        [
            "2026-01-31T12:00:00",
            "2026-02-28T12:00:00",
            "2026-03-31T12:00:00",
            "2026-04-30T12:00:00",
            "2026-05-31T12:00:00"
        ]
    );
}

#[test]
fn monthly_nth_patterns() {
    let start = |d| date(2026, 1, d).at(15, 0, 0, 0);
    let window = ("2026-01-01T00:00:00Z", "2026-05-01T00:00:00Z");
    let run = |pattern, first: i8| {
        local(
            &rec(pattern, 1, End::Never),
            start(first),
            "America/New_York",
            window.0,
            window.1,
            &[],
        )
    };
    // Last Friday (WeekOfMonth 5 even in a month with four).
    assert_eq!(
        run(
            Pattern::MonthlyNth {
                week: WeekOfMonth::Last,
                days: days(&[Friday])
            },
            30
        ),
        [
            "2026-01-30T15:00:00",
            "2026-02-27T15:00:00",
            "2026-03-27T15:00:00",
            "2026-04-24T15:00:00"
        ]
    );
    // The 2nd weekday of the month.
    assert_eq!(
        run(
            Pattern::MonthlyNth {
                week: WeekOfMonth::Second,
                days: DaySet::WEEKDAYS
            },
            2
        ),
        [
            "2026-01-02T15:00:00",
            "2026-02-03T15:00:00",
            "2026-03-03T15:00:00",
            "2026-04-02T15:00:00"
        ]
    );
    // The last day of the month (127 with week 5).
    assert_eq!(
        run(
            Pattern::MonthlyNth {
                week: WeekOfMonth::Last,
                days: DaySet::ANY
            },
            31
        ),
        [
            "2026-01-31T15:00:00",
            "2026-02-28T15:00:00",
            "2026-03-31T15:00:00",
            "2026-04-30T15:00:00"
        ]
    );
    // The first weekend day.
    assert_eq!(
        run(
            Pattern::MonthlyNth {
                week: WeekOfMonth::First,
                days: DaySet::WEEKEND
            },
            3
        ),
        [
            "2026-01-03T15:00:00",
            "2026-02-01T15:00:00",
            "2026-03-01T15:00:00",
            "2026-04-04T15:00:00"
        ]
    );
}

#[test]
fn yearly_on_february_29() {
    let r = rec(Pattern::Yearly { month: 2, day: 29 }, 1, End::Never);
    let got = local(
        &r,
        date(2024, 2, 29).at(0, 0, 0, 0),
        "Australia/Sydney",
        "2024-01-01T00:00:00Z",
        "2029-01-01T00:00:00Z",
        &[],
    );
    assert_eq!(
        got,
        [
            "2024-02-29T00:00:00",
            "2025-02-28T00:00:00",
            "2026-02-28T00:00:00",
            "2027-02-28T00:00:00",
            "2028-02-29T00:00:00"
        ]
    );
}

/// 4th Thursday of November, every 2 years.
#[test]
fn yearly_nth() {
    let r = rec(
        Pattern::YearlyNth {
            month: 11,
            week: WeekOfMonth::Fourth,
            days: days(&[Thursday]),
        },
        2,
        End::Never,
    );
    let got = local(
        &r,
        date(2026, 11, 26).at(18, 0, 0, 0),
        "America/New_York",
        "2026-01-01T00:00:00Z",
        "2031-01-01T00:00:00Z",
        &[],
    );
    assert_eq!(
        got,
        [
            "2026-11-26T18:00:00",
            "2028-11-23T18:00:00",
            "2030-11-28T18:00:00"
        ]
    );
}

#[test]
fn until_is_inclusive_and_count_includes_deleted_occurrences() {
    let weekly = Pattern::Weekly {
        days: days(&[Tuesday]),
    };
    let start = date(2026, 6, 2).at(9, 0, 0, 0);
    let window = ("2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z");
    // Until exactly the third occurrence's start (07:00 UTC in Paris summer).
    let until = ts("2026-06-16T07:00:00Z").as_second();
    let r = rec(weekly, 1, End::Until(until));
    assert_eq!(
        local(&r, start, "Europe/Paris", window.0, window.1, &[]),
        [
            "2026-06-02T09:00:00",
            "2026-06-09T09:00:00",
            "2026-06-16T09:00:00"
        ]
    );
    let r = rec(weekly, 1, End::Until(until - 1));
    assert_eq!(
        local(&r, start, "Europe/Paris", window.0, window.1, &[]).len(),
        2
    );
    // Three occurrences, the second deleted: two remain, the count is not extended.
    let r = rec(weekly, 1, End::Count(3));
    assert_eq!(
        local(
            &r,
            start,
            "Europe/Paris",
            window.0,
            window.1,
            &[ts("2026-06-09T07:00:00Z")]
        ),
        ["2026-06-02T09:00:00", "2026-06-16T09:00:00"]
    );
}

#[test]
fn window_overlap_and_skipping_ahead() {
    // A daily series started in 2000, endless: only the window's days come back, and an
    // occurrence that started before the window but is still running is included.
    let r = rec(Pattern::Daily { days: None }, 3, End::Never);
    let utc = TimeZone::UTC;
    let series = Series {
        recurrence: &r,
        start: date(2000, 1, 1).at(23, 0, 0, 0),
        zone: &utc,
        duration: SignedDuration::from_hours(2),
        deleted: &[],
    };
    // 2026-01-01 is 9497 days after 2000-01-01, 9497 = 3 × 3165 + 2: occurrences fall on
    // 2025-12-30, 2026-01-02, …
    let got = series
        .expand(ts("2025-12-31T00:30:00Z"), ts("2026-01-06T00:00:00Z"), 100)
        .unwrap();
    assert_eq!(
        got.starts,
        [
            ts("2025-12-30T23:00:00Z"),
            ts("2026-01-02T23:00:00Z"),
            ts("2026-01-05T23:00:00Z")
        ]
    );
    // The same occurrences as a walk from the start would find (COUNT forces the walk).
    let counted = rec(Pattern::Daily { days: None }, 3, End::Count(999));
    let walk = Series {
        recurrence: &counted,
        ..series
    };
    let early = walk
        .expand(ts("2000-01-01T00:00:00Z"), ts("2000-01-08T00:00:00Z"), 100)
        .unwrap();
    assert_eq!(
        early.starts,
        [
            ts("2000-01-01T23:00:00Z"),
            ts("2000-01-04T23:00:00Z"),
            ts("2000-01-07T23:00:00Z")
        ]
    );
}

#[test]
fn limits_end_every_expansion() {
    let r = rec(Pattern::Daily { days: None }, 1, End::Never);
    let utc = TimeZone::UTC;
    let series = Series {
        recurrence: &r,
        start: date(2026, 1, 1).at(8, 0, 0, 0),
        zone: &utc,
        duration: SignedDuration::ZERO,
        deleted: &[],
    };
    let got = series.expand(Timestamp::MIN, Timestamp::MAX, 3).unwrap();
    assert_eq!(got.starts.len(), 3);
    assert!(!got.complete);
    // An endless daily series over the whole date range stops at the period bound.
    let got = series
        .expand(Timestamp::MIN, Timestamp::MAX, usize::MAX)
        .unwrap();
    assert_eq!(got.starts.len(), MAX_PERIODS as usize);
    assert!(!got.complete);
    // A yearly series to the end of the date range: year 9999 is the last.
    let yearly = rec(Pattern::Yearly { month: 2, day: 29 }, 1, End::Never);
    let series = Series {
        recurrence: &yearly,
        start: date(2000, 2, 29).at(8, 0, 0, 0),
        ..series
    };
    let got = series
        .expand(Timestamp::MIN, Timestamp::MAX, usize::MAX)
        .unwrap();
    assert_eq!(got.starts.len(), 8000);
    assert!(got.complete);
    // Empty or reversed windows and a zero limit give nothing.
    assert!(
        series
            .expand(Timestamp::MAX, Timestamp::MIN, 10)
            .unwrap()
            .starts
            .is_empty()
    );
    let none = series.expand(Timestamp::MIN, Timestamp::MAX, 0).unwrap();
    assert!(none.starts.is_empty() && !none.complete);
}

#[test]
fn lunar_monthly_patterns_are_not_expanded() {
    let mut r = rec(Pattern::Monthly { day: 1 }, 1, End::Never);
    r.calendar_type = CalendarType::HebrewLunar;
    let utc = TimeZone::UTC;
    let series = Series {
        recurrence: &r,
        start: date(2026, 1, 1).at(8, 0, 0, 0),
        zone: &utc,
        duration: SignedDuration::ZERO,
        deleted: &[],
    };
    assert_eq!(
        series.expand(Timestamp::MIN, Timestamp::MAX, 10),
        Err(RecurError::LunarCalendar)
    );
    assert!(r.to_rrule().is_err());
    // A weekly pattern means the same in every calendar.
    let mut weekly = r.clone();
    weekly.pattern = Pattern::Weekly {
        days: days(&[Thursday]),
    };
    let series = Series {
        recurrence: &weekly,
        ..series
    };
    assert_eq!(
        series
            .expand(ts("2026-01-01T00:00:00Z"), ts("2026-01-09T00:00:00Z"), 10)
            .unwrap()
            .starts
            .len(),
        2
    );
}

/// pim-notes §2's table and worked examples, both ways.
#[test]
fn rrule_forms() {
    let start = date(2026, 1, 5).at(9, 0, 0, 0);
    let paris = zone("Europe/Paris");
    let with_wkst = |mut r: Recurrence| {
        r.first_day_of_week = Some(Monday);
        r
    };
    let cases = [
        (
            rec(Pattern::Daily { days: None }, 3, End::Count(10)),
            "FREQ=DAILY;INTERVAL=3;COUNT=10",
        ),
        (
            rec(
                Pattern::Weekly {
                    days: days(&[Monday, Wednesday]),
                },
                2,
                End::Never,
            ),
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE",
        ),
        (
            rec(Pattern::Monthly { day: 15 }, 1, End::Never),
            "FREQ=MONTHLY;BYMONTHDAY=15",
        ),
        (
            rec(Pattern::Monthly { day: 30 }, 1, End::Never),
            "FREQ=MONTHLY;BYMONTHDAY=28,29,30;BYSETPOS=-1",
        ),
        (
            rec(
                Pattern::MonthlyNth {
                    week: WeekOfMonth::Last,
                    days: days(&[Friday]),
                },
                1,
                End::Never,
            ),
            "FREQ=MONTHLY;BYDAY=-1FR",
        ),
        (
            rec(
                Pattern::MonthlyNth {
                    week: WeekOfMonth::Second,
                    days: DaySet::WEEKDAYS,
                },
                1,
                End::Never,
            ),
            "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=2",
        ),
        (
            rec(
                Pattern::MonthlyNth {
                    week: WeekOfMonth::Last,
                    days: DaySet::ANY,
                },
                1,
                End::Never,
            ),
            "FREQ=MONTHLY;BYMONTHDAY=-1",
        ),
        (
            rec(Pattern::Yearly { month: 7, day: 14 }, 1, End::Never),
            "FREQ=YEARLY;BYMONTH=7;BYMONTHDAY=14",
        ),
        (
            rec(Pattern::Yearly { month: 2, day: 29 }, 1, End::Never),
            "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=28,29;BYSETPOS=-1",
        ),
        (
            rec(
                Pattern::YearlyNth {
                    month: 11,
                    week: WeekOfMonth::Fourth,
                    days: days(&[Thursday]),
                },
                1,
                End::Until(ts("2030-12-31T23:59:59Z").as_second()),
            ),
            "FREQ=YEARLY;UNTIL=20301231T235959Z;BYMONTH=11;BYDAY=4TH",
        ),
    ];
    for (r, text) in cases {
        let r = with_wkst(r);
        let written = r.to_rrule().unwrap();
        assert_eq!(written, format!("{text};WKST=MO"));
        assert_eq!(
            Recurrence::from_rrule(&written, start, &paris).unwrap(),
            r,
            "{text}"
        );
        // Without WKST the RFC's Monday is meant.
        assert_eq!(
            Recurrence::from_rrule(text, start, &paris).unwrap(),
            r,
            "{text}"
        );
    }
    // Type 0 with days has no RRULE of its own: it becomes the equivalent weekly rule.
    let weekdays = rec(
        Pattern::Daily {
            days: Some(DaySet::WEEKDAYS),
        },
        1,
        End::Never,
    );
    assert_eq!(
        weekdays.to_rrule().unwrap(),
        "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"
    );
    assert_eq!(
        Recurrence::from_rrule("FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR", start, &paris)
            .unwrap()
            .pattern,
        weekdays.pattern
    );
}

#[test]
fn rrule_defaults_come_from_the_start() {
    let paris = zone("Europe/Paris");
    let start = date(2026, 3, 18).at(9, 0, 0, 0); // a Wednesday
    let read = |text| Recurrence::from_rrule(text, start, &paris).unwrap().pattern;
    assert_eq!(
        read("RRULE:FREQ=WEEKLY"),
        Pattern::Weekly {
            days: days(&[Wednesday])
        }
    );
    assert_eq!(read("freq=monthly"), Pattern::Monthly { day: 18 });
    assert_eq!(read("FREQ=YEARLY"), Pattern::Yearly { month: 3, day: 18 });
    assert_eq!(
        read("FREQ=YEARLY;BYMONTH=5"),
        Pattern::Yearly { month: 5, day: 18 }
    );
    // UNTIL as a date includes that day's occurrence; floating UNTIL is local time.
    let until = |text| match Recurrence::from_rrule(text, start, &paris).unwrap().end {
        End::Until(t) => t,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        until("FREQ=DAILY;UNTIL=20260401"),
        ts("2026-04-01T07:00:00Z").as_second()
    );
    assert_eq!(
        until("FREQ=DAILY;UNTIL=20260320T100000"),
        ts("2026-03-20T09:00:00Z").as_second()
    );
}

#[test]
fn rrules_without_an_eas_form_are_refused() {
    use RecurError::{BadRrule, NoEasForm};
    let paris = zone("Europe/Paris");
    let start = date(2026, 1, 31).at(9, 0, 0, 0);
    let read = |text| Recurrence::from_rrule(text, start, &paris);
    for text in [
        "FREQ=HOURLY",
        "FREQ=DAILY;BYHOUR=9,17",
        "FREQ=YEARLY;BYWEEKNO=20",
        "FREQ=YEARLY;BYYEARDAY=100",
        "FREQ=MONTHLY;BYDAY=MO",
        "FREQ=MONTHLY;BYDAY=5FR",
        "FREQ=MONTHLY;BYDAY=1MO,3MO",
        "FREQ=MONTHLY;BYMONTHDAY=1,15",
        // RFC 5545 skips months without a 31st: EAS cannot.
        "FREQ=MONTHLY;BYMONTHDAY=31",
        "FREQ=MONTHLY",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
        "FREQ=YEARLY;BYMONTH=1,7",
        // The first Monday of the year, the 15th of every month: no EAS pattern.
        "FREQ=YEARLY;BYDAY=1MO",
        "FREQ=YEARLY;BYMONTHDAY=15",
        "FREQ=WEEKLY;BYDAY=1MO",
        "FREQ=DAILY;INTERVAL=2;BYDAY=MO",
        "FREQ=WEEKLY;BYSETPOS=1",
        "FREQ=MONTHLY;BYDAY=MO,TU;BYSETPOS=1,2",
        "FREQ=DAILY;COUNT=1000",
        "FREQ=DAILY;INTERVAL=1000",
    ] {
        assert!(
            matches!(read(text), Err(NoEasForm(_))),
            "{text}: {:?}",
            read(text)
        );
    }
    for text in [
        "",
        "INTERVAL=2",
        "FREQ=SOMETIMES",
        "FREQ=DAILY;COUNT=3;UNTIL=20260101T000000Z",
        "FREQ=DAILY;COUNT=x",
        "FREQ=DAILY;FREQ=WEEKLY",
        "FREQ=DAILY;UNTIL=2026",
        "FREQ=DAILY;UNTIL=20261301T000000Z",
        "FREQ=DAILY;UNTIL=20260101T250000Z",
        "FREQ=WEEKLY;BYDAY=XX",
        "FREQ=WEEKLY;BYDAY=",
        "FREQ=MONTHLY;BYMONTHDAY=0",
        "FREQ=YEARLY;BYMONTH=13",
        "FREQ=DAILY;WKST=XY",
        "FREQ=DAILY;X-NAME=1",
        "FREQ=DAILY;JUNK",
        "FREQ=MONTHLY;BYMONTHDAY=28,29,30,31,32;BYSETPOS=-1",
    ] {
        assert!(
            matches!(read(text), Err(BadRrule(_))),
            "{text}: {:?}",
            read(text)
        );
    }
}
