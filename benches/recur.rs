//! Recurrence expansion for free/busy: a year of occurrences of 2,000 recurring events.
//!
//! The events are a seeded mix of every pattern type (daily, every weekday, weekly on
//! one to three days, monthly, monthly n-th, yearly, yearly n-th) with intervals 1–3,
//! endless, counted or with an end date, started up to five years before the window, in
//! four zones (Paris, New York, Sydney, Kolkata), a fifth of them with deleted
//! occurrences. Each round expands every event over 2026 (UTC) with `Series::expand`;
//! prints the occurrence count and the best and median round. Target: ≤ 20 ms per round
//! (issue 15's budget).
//!
//! Also prints what mapping a Timezone blob to an IANA zone (`pim::tz::zone_for`) costs:
//! for a blob found among the preferred zones, and for one no zone has (the whole
//! database is scanned before the fallback).

use std::time::{Duration, Instant};

use easd::pim::recur::{
    CalendarType, DayOfWeek, DaySet, End, Pattern, Recurrence, Series, WeekOfMonth,
};
use easd::pim::tz::{blob_for, zone_for};
use jiff::civil::{DateTime, date};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const EVENTS: usize = 2_000;
const ROUNDS: usize = 30;
const TARGET: Duration = Duration::from_millis(20);
/// Far more than a year of a daily event: the limit never cuts here.
const LIMIT: usize = 1_000;

struct Event {
    recurrence: Recurrence,
    start: DateTime,
    zone: usize,
    duration: SignedDuration,
    deleted: Vec<Timestamp>,
}

fn pattern(rng: &mut StdRng, start: DateTime) -> Pattern {
    let week = || match start.day() {
        1..=7 => WeekOfMonth::First,
        8..=14 => WeekOfMonth::Second,
        15..=21 => WeekOfMonth::Third,
        _ => WeekOfMonth::Last,
    };
    let weekday = DaySet::from_mask(1 << start.weekday().to_sunday_zero_offset()).unwrap();
    match rng.gen_range(0..10) {
        0 => Pattern::Daily { days: None },
        1 => Pattern::Daily {
            days: Some(DaySet::WEEKDAYS),
        },
        2..=4 => {
            let extra = rng.gen_range(0..128u32);
            Pattern::Weekly {
                days: DaySet::from_mask(u32::from(weekday.mask()) | (extra & 0b0101010)).unwrap(),
            }
        }
        5 => Pattern::Monthly {
            day: start.day() as u8,
        },
        6 => Pattern::MonthlyNth {
            week: week(),
            days: weekday,
        },
        7 => Pattern::MonthlyNth {
            week: WeekOfMonth::Last,
            days: DaySet::WEEKDAYS,
        },
        8 => Pattern::Yearly {
            month: start.month() as u8,
            day: start.day() as u8,
        },
        _ => Pattern::YearlyNth {
            month: start.month() as u8,
            week: week(),
            days: weekday,
        },
    }
}

fn events(zones: &[TimeZone]) -> Vec<Event> {
    let mut rng = StdRng::seed_from_u64(15);
    (0..EVENTS)
        .map(|_| {
            let day = date(2021, 1, 1)
                .checked_add(jiff::Span::new().days(rng.gen_range(0..5 * 365)))
                .unwrap();
            let start = day.at(
                rng.gen_range(7..19),
                [0, 15, 30, 45][rng.gen_range(0..4)],
                0,
                0,
            );
            let zone = rng.gen_range(0..zones.len());
            let end = match rng.gen_range(0..3) {
                0 => End::Never,
                1 => End::Count(rng.gen_range(5..500)),
                _ => End::Until(
                    zones[zone]
                        .to_timestamp(start)
                        .unwrap()
                        .as_second()
                        .saturating_add(rng.gen_range(30..2_000) * 86_400),
                ),
            };
            let recurrence = Recurrence {
                pattern: pattern(&mut rng, start),
                interval: rng.gen_range(1..=3),
                end,
                first_day_of_week: Some(DayOfWeek::Monday),
                calendar_type: CalendarType::Gregorian,
                is_leap_month: false,
            };
            // Deleted occurrences: whatever the series produces early in 2026.
            let deleted = if rng.gen_range(0..5) == 0 {
                Series {
                    recurrence: &recurrence,
                    start,
                    zone: &zones[zone],
                    duration: SignedDuration::ZERO,
                    deleted: &[],
                }
                .expand(
                    "2026-01-01T00:00:00Z".parse().unwrap(),
                    "2026-03-01T00:00:00Z".parse().unwrap(),
                    3,
                )
                .unwrap()
                .starts
            } else {
                Vec::new()
            };
            Event {
                recurrence,
                start,
                zone,
                duration: SignedDuration::from_mins(rng.gen_range(1..8) * 15),
                deleted,
            }
        })
        .collect()
}

fn main() {
    let zones: Vec<TimeZone> = [
        "Europe/Paris",
        "America/New_York",
        "Australia/Sydney",
        "Asia/Kolkata",
    ]
    .iter()
    .map(|n| TimeZone::get(n).unwrap())
    .collect();
    let events = events(&zones);
    let from: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
    let to: Timestamp = "2027-01-01T00:00:00Z".parse().unwrap();
    zone_mapping(&zones);
    let mut rounds = Vec::with_capacity(ROUNDS);
    let mut occurrences = 0;
    for _ in 0..ROUNDS {
        let t = Instant::now();
        occurrences = 0;
        for e in &events {
            let got = Series {
                recurrence: &e.recurrence,
                start: e.start,
                zone: &zones[e.zone],
                duration: e.duration,
                deleted: &e.deleted,
            }
            .expand(from, to, LIMIT)
            .unwrap();
            assert!(got.complete);
            occurrences += std::hint::black_box(got.starts).len();
        }
        rounds.push(t.elapsed());
    }
    rounds.sort();
    let median = rounds[ROUNDS / 2];
    println!(
        "recur: {EVENTS} events, {occurrences} occurrences in 2026; one year expanded in {:.2} ms best, {:.2} ms median (target ≤ {} ms): {}",
        rounds[0].as_secs_f64() * 1e3,
        median.as_secs_f64() * 1e3,
        TARGET.as_millis(),
        if median <= TARGET { "OK" } else { "OVER" }
    );
}

/// The cost of `zone_for` for a common blob (Sydney's) and for rules no zone has.
fn zone_mapping(zones: &[TimeZone]) {
    let at: Timestamp = "2026-06-01T00:00:00Z".parse().unwrap();
    let common = blob_for(&zones[2], at);
    let mut unknown = blob_for(&zones[0], at);
    unknown.bias -= 7;
    for (what, blob) in [("Sydney's blob", &common), ("an unknown blob", &unknown)] {
        const N: u32 = 20;
        let t = Instant::now();
        for _ in 0..N {
            std::hint::black_box(zone_for(std::hint::black_box(blob), 2026));
        }
        println!(
            "tz: zone_for({what}) takes {:.3} ms",
            t.elapsed().as_secs_f64() * 1e3 / f64::from(N)
        );
    }
}
