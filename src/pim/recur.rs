//! Recurrence patterns of calendar items ([MS-ASCAL] 2.2.2.37 and its children), their
//! bounded expansion into occurrences, and their iCalendar RRULE form (RFC 5545 3.3.10).
//!
//! [`Recurrence`] is a plain data type (serde) for the persisted event record to embed;
//! [`RecurrenceFields`] is the element's children as a client sends them, checked by
//! [`Recurrence::from_fields`] (an impossible combination is an error, which the command
//! layer answers with Status 6, [MS-ASCAL] 3.2.5.3).
//!
//! Day-of-month semantics follow Exchange: a DayOfMonth the month does not have means the
//! month's last day (EWS DayOfMonth, "the last day of the month is assumed"), so "monthly
//! on the 31st" and "yearly on February 29" occur every period. RFC 5545 skips such
//! months instead, so those patterns are written as RRULEs with BYSETPOS=-1 (see
//! [`Recurrence::to_rrule`]).

use jiff::civil::{Date, DateTime, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// A day of the week, numbered as FirstDayOfWeek and TIME_ZONE_INFORMATION do (0 =
/// Sunday, [MS-ASCAL] 2.2.2.25).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DayOfWeek {
    Sunday,
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
}

const DAYS: [DayOfWeek; 7] = [
    DayOfWeek::Sunday,
    DayOfWeek::Monday,
    DayOfWeek::Tuesday,
    DayOfWeek::Wednesday,
    DayOfWeek::Thursday,
    DayOfWeek::Friday,
    DayOfWeek::Saturday,
];

/// RFC 5545 weekday codes, Sunday first.
const CODES: [&str; 7] = ["SU", "MO", "TU", "WE", "TH", "FR", "SA"];

impl DayOfWeek {
    pub fn from_number(n: u32) -> Option<Self> {
        DAYS.get(usize::try_from(n).ok()?).copied()
    }

    pub fn number(self) -> u8 {
        self as u8
    }

    fn of(weekday: Weekday) -> Self {
        DAYS[weekday.to_sunday_zero_offset() as usize]
    }

    /// The RFC 5545 weekday code (`SU` … `SA`).
    pub fn code(self) -> &'static str {
        CODES[self as usize]
    }

    fn from_code(code: &str) -> Option<Self> {
        CODES
            .iter()
            .position(|c| c.eq_ignore_ascii_case(code))
            .map(|i| DAYS[i])
    }
}

/// The DayOfWeek bitmask ([MS-ASCAL] 2.2.2.15): 1 Sunday, 2 Monday, … 64 Saturday; 62 =
/// weekdays, 65 = weekend days, 127 = any day (with WeekOfMonth: the n-th / last day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaySet(u8);

impl DaySet {
    pub const WEEKDAYS: DaySet = DaySet(62);
    pub const WEEKEND: DaySet = DaySet(65);
    pub const ANY: DaySet = DaySet(127);

    /// A non-empty mask of at most the seven days.
    pub fn from_mask(mask: u32) -> Option<Self> {
        (1..=127).contains(&mask).then_some(DaySet(mask as u8))
    }

    pub fn mask(self) -> u8 {
        self.0
    }

    pub fn of(days: &[DayOfWeek]) -> Option<Self> {
        Self::from_mask(days.iter().fold(0, |m, d| m | 1 << d.number()))
    }

    pub fn contains(self, day: DayOfWeek) -> bool {
        self.0 & (1 << day.number()) != 0
    }

    fn has(self, weekday: Weekday) -> bool {
        self.contains(DayOfWeek::of(weekday))
    }

    /// The days in the set, Sunday first.
    fn days(self) -> impl Iterator<Item = DayOfWeek> {
        DAYS.into_iter().filter(move |&d| self.contains(d))
    }
}

/// WeekOfMonth ([MS-ASCAL] 2.2.2.48): 1–4, and 5 = the last one of the month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WeekOfMonth {
    First,
    Second,
    Third,
    Fourth,
    Last,
}

impl WeekOfMonth {
    pub fn from_number(n: u32) -> Option<Self> {
        use WeekOfMonth::*;
        Some(match n {
            1 => First,
            2 => Second,
            3 => Third,
            4 => Fourth,
            5 => Last,
            _ => return None,
        })
    }

    pub fn number(self) -> u8 {
        self as u8 + 1
    }

    /// RFC 5545's ordinal: 1…4, or -1 for the last.
    fn ordinal(self) -> i8 {
        match self {
            WeekOfMonth::Last => -1,
            other => other.number() as i8,
        }
    }

    fn from_ordinal(n: i8) -> Option<Self> {
        match n {
            -1 => Some(WeekOfMonth::Last),
            1..=4 => Self::from_number(n as u32),
            _ => None,
        }
    }
}

/// CalendarType ([MS-ASCAL] 2.2.2.10); 13, 16–19 and 21–23 are reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CalendarType {
    Default,
    Gregorian,
    GregorianUs,
    JapaneseEmperorEra,
    Taiwan,
    KoreanTangunEra,
    Hijri,
    Thai,
    HebrewLunar,
    GregorianMiddleEastFrench,
    GregorianArabic,
    GregorianTransliteratedEnglish,
    GregorianTransliteratedFrench,
    JapaneseLunar,
    ChineseLunar,
    KoreanLunar,
}

impl CalendarType {
    pub fn from_number(n: u32) -> Option<Self> {
        use CalendarType::*;
        Some(match n {
            0 => Default,
            1 => Gregorian,
            2 => GregorianUs,
            3 => JapaneseEmperorEra,
            4 => Taiwan,
            5 => KoreanTangunEra,
            6 => Hijri,
            7 => Thai,
            8 => HebrewLunar,
            9 => GregorianMiddleEastFrench,
            10 => GregorianArabic,
            11 => GregorianTransliteratedEnglish,
            12 => GregorianTransliteratedFrench,
            14 => JapaneseLunar,
            15 => ChineseLunar,
            20 => KoreanLunar,
            _ => return None,
        })
    }

    pub fn number(self) -> u8 {
        use CalendarType::*;
        match self {
            JapaneseLunar => 14,
            ChineseLunar => 15,
            KoreanLunar => 20,
            other => other as u8,
        }
    }

    /// Whether months are not the Gregorian ones. The era calendars (Japanese, Taiwan,
    /// Korean Tangun, Thai) only number years differently, so their patterns expand as
    /// Gregorian ones.
    pub fn has_lunar_months(self) -> bool {
        use CalendarType::*;
        matches!(
            self,
            Hijri | HebrewLunar | JapaneseLunar | ChineseLunar | KoreanLunar
        )
    }
}

/// The pattern, one variant per Type value ([MS-ASCAL] 2.2.2.45), with the children that
/// Type requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Pattern {
    /// Type 0: every Interval days; with `days` (Type 0 with DayOfWeek, e.g. "every
    /// weekday"), every day of those in every Interval-th week.
    Daily { days: Option<DaySet> },
    /// Type 1: those days of every Interval-th week.
    Weekly { days: DaySet },
    /// Type 2: day `day` (1–31) of every Interval-th month, or its last day if shorter.
    Monthly { day: u8 },
    /// Type 3: the `week`-th of the days in `days` of every Interval-th month.
    MonthlyNth { week: WeekOfMonth, days: DaySet },
    /// Type 5: `month` `day` every Interval years (the month's last day if shorter).
    Yearly { month: u8, day: u8 },
    /// Type 6: the `week`-th of the days in `days` of `month` every Interval years.
    YearlyNth {
        month: u8,
        week: WeekOfMonth,
        days: DaySet,
    },
}

impl Pattern {
    /// The Type value ([MS-ASCAL] 2.2.2.45).
    pub fn type_number(self) -> u8 {
        match self {
            Pattern::Daily { .. } => 0,
            Pattern::Weekly { .. } => 1,
            Pattern::Monthly { .. } => 2,
            Pattern::MonthlyNth { .. } => 3,
            Pattern::Yearly { .. } => 5,
            Pattern::YearlyNth { .. } => 6,
        }
    }
}

/// How a series ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum End {
    Never,
    /// After this many occurrences (Occurrences, 1–999), deleted ones included.
    Count(u16),
    /// No occurrence starts after this instant (Until, UTC, Unix seconds).
    Until(i64),
}

/// A recurrence as stored with its event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recurrence {
    pub pattern: Pattern,
    /// 1–999.
    pub interval: u16,
    pub end: End,
    /// Where a week starts, for weekly patterns with an interval above 1.
    pub first_day_of_week: Option<DayOfWeek>,
    pub calendar_type: CalendarType,
    pub is_leap_month: bool,
}

/// The Recurrence element's children as a client sent them ([MS-ASCAL] 2.2.2.37):
/// unchecked numbers, `None` for an absent element. Until is Unix seconds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecurrenceFields {
    pub kind: Option<u32>,
    pub interval: Option<u32>,
    pub until: Option<i64>,
    pub occurrences: Option<u32>,
    pub day_of_week: Option<u32>,
    pub day_of_month: Option<u32>,
    pub week_of_month: Option<u32>,
    pub month_of_year: Option<u32>,
    pub first_day_of_week: Option<u32>,
    pub calendar_type: Option<u32>,
    pub is_leap_month: Option<u32>,
}

/// A stored Recurrence (an event's, or a task's, whose pattern has the same children) as
/// the numbers `pim::recur` checks; a negative one is out of every range.
macro_rules! recurrence_fields {
    ($r:expr) => {{
        let r = $r;
        let n = |v: Option<i32>| v.map(|v| u32::try_from(v).unwrap_or(u32::MAX));
        $crate::pim::recur::RecurrenceFields {
            kind: n(r.kind),
            interval: n(r.interval),
            until: r.until.map(|s| s.0),
            occurrences: n(r.occurrences),
            day_of_week: n(r.day_of_week),
            day_of_month: n(r.day_of_month),
            week_of_month: n(r.week_of_month),
            month_of_year: n(r.month_of_year),
            first_day_of_week: n(r.first_day_of_week),
            calendar_type: n(r.calendar_type),
            is_leap_month: n(r.is_leap_month),
        }
    }};
}
pub(crate) use recurrence_fields;

/// Why a recurrence was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecurError {
    #[error("Recurrence has no Type")]
    NoType,
    #[error("{0} is required with this Recurrence Type")]
    Missing(&'static str),
    #[error("{0} is not allowed with this Recurrence Type")]
    NotAllowed(&'static str),
    #[error("{0} has a value out of range")]
    OutOfRange(&'static str),
    #[error("monthly and yearly patterns of lunar calendars are not expanded")]
    LunarCalendar,
    #[error("the RRULE is malformed: {0}")]
    BadRrule(&'static str),
    #[error("the RRULE has no Exchange ActiveSync form: {0}")]
    NoEasForm(&'static str),
}

/// The largest Interval and Occurrences ([MS-ASCAL] 2.2.2.24, 2.2.2.32).
const MAX_INTERVAL: u32 = 999;
const MAX_OCCURRENCES: u32 = 999;

/// The number of days every month has, so up to which DayOfMonth a pattern means the
/// same in EAS (last day if shorter) and in RFC 5545 (skip if shorter).
fn shortest_month(month: Option<u8>) -> u8 {
    match month {
        Some(2) => 28,
        Some(4 | 6 | 9 | 11) => 30,
        Some(_) => 31,
        None => 28,
    }
}

/// The most days `month` ever has (February 29).
fn longest_month(month: u8) -> u8 {
    match month {
        2 => 29,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl Recurrence {
    /// Checks a client's Recurrence ([MS-ASCAL] 3.2.5.3: Status 6 for a child the Type
    /// does not have, 2.2.2.15/.16/.29/.48 for the ranges). Interval 0 is read as 1, as
    /// Exchange 2010 SP1 and later do; with both Occurrences and Until, Occurrences wins.
    pub fn from_fields(f: &RecurrenceFields) -> Result<Self, RecurError> {
        use RecurError::*;
        let kind = f.kind.ok_or(NoType)?;
        let allowed = |name, value: Option<u32>, types: &[u32]| match value {
            Some(_) if !types.contains(&kind) => Err(NotAllowed(name)),
            _ => Ok(value),
        };
        let day_of_week = allowed("DayOfWeek", f.day_of_week, &[0, 1, 3, 6])?
            .map(|m| DaySet::from_mask(m).ok_or(OutOfRange("DayOfWeek")))
            .transpose()?;
        let day_of_month = allowed("DayOfMonth", f.day_of_month, &[2, 5])?
            .map(|d| u8::try_from(d).ok().filter(|d| (1..=31).contains(d)))
            .map(|d| d.ok_or(OutOfRange("DayOfMonth")))
            .transpose()?;
        let week = allowed("WeekOfMonth", f.week_of_month, &[3, 6])?
            .map(|w| WeekOfMonth::from_number(w).ok_or(OutOfRange("WeekOfMonth")))
            .transpose()?;
        let month = allowed("MonthOfYear", f.month_of_year, &[5, 6])?
            .map(|m| u8::try_from(m).ok().filter(|m| (1..=12).contains(m)))
            .map(|m| m.ok_or(OutOfRange("MonthOfYear")))
            .transpose()?;
        let pattern = match kind {
            0 => Pattern::Daily { days: day_of_week },
            1 => Pattern::Weekly {
                days: day_of_week.ok_or(Missing("DayOfWeek"))?,
            },
            2 => Pattern::Monthly {
                day: day_of_month.ok_or(Missing("DayOfMonth"))?,
            },
            3 => Pattern::MonthlyNth {
                week: week.ok_or(Missing("WeekOfMonth"))?,
                days: day_of_week.ok_or(Missing("DayOfWeek"))?,
            },
            5 => {
                let month = month.ok_or(Missing("MonthOfYear"))?;
                let day = day_of_month.ok_or(Missing("DayOfMonth"))?;
                // February 30 never comes: refuse it rather than expand it forever.
                if day > longest_month(month) {
                    return Err(OutOfRange("DayOfMonth"));
                }
                Pattern::Yearly { month, day }
            }
            6 => Pattern::YearlyNth {
                month: month.ok_or(Missing("MonthOfYear"))?,
                week: week.ok_or(Missing("WeekOfMonth"))?,
                days: day_of_week.ok_or(Missing("DayOfWeek"))?,
            },
            _ => return Err(OutOfRange("Type")),
        };
        let interval = match f.interval {
            None | Some(0) => 1,
            Some(n) if n <= MAX_INTERVAL => n as u16,
            Some(_) => return Err(OutOfRange("Interval")),
        };
        let end = match (f.occurrences, f.until) {
            (Some(n @ 1..=MAX_OCCURRENCES), _) => End::Count(n as u16),
            (Some(_), _) => return Err(OutOfRange("Occurrences")),
            (None, Some(until)) => End::Until(until),
            (None, None) => End::Never,
        };
        let first_day_of_week = f
            .first_day_of_week
            .map(|d| DayOfWeek::from_number(d).ok_or(OutOfRange("FirstDayOfWeek")))
            .transpose()?;
        let calendar_type = f
            .calendar_type
            .map(|c| CalendarType::from_number(c).ok_or(OutOfRange("CalendarType")))
            .transpose()?
            .unwrap_or(CalendarType::Default);
        let is_leap_month = match f.is_leap_month {
            None | Some(0) => false,
            Some(1) => true,
            Some(_) => return Err(OutOfRange("IsLeapMonth")),
        };
        Ok(Recurrence {
            pattern,
            interval,
            end,
            first_day_of_week,
            calendar_type,
            is_leap_month,
        })
    }

    /// The children to send ([MS-ASCAL] 2.2.2.37); which of them a protocol version
    /// carries is the encoder's business.
    pub fn to_fields(&self) -> RecurrenceFields {
        let mut f = RecurrenceFields {
            kind: Some(self.pattern.type_number().into()),
            interval: Some(self.interval.into()),
            first_day_of_week: self.first_day_of_week.map(|d| d.number().into()),
            calendar_type: Some(self.calendar_type.number().into()),
            is_leap_month: Some(self.is_leap_month.into()),
            ..RecurrenceFields::default()
        };
        match self.end {
            End::Never => {}
            End::Count(n) => f.occurrences = Some(n.into()),
            End::Until(t) => f.until = Some(t),
        }
        match self.pattern {
            Pattern::Daily { days } => f.day_of_week = days.map(|d| d.mask().into()),
            Pattern::Weekly { days } => f.day_of_week = Some(days.mask().into()),
            Pattern::Monthly { day } => f.day_of_month = Some(day.into()),
            Pattern::MonthlyNth { week, days } => {
                f.week_of_month = Some(week.number().into());
                f.day_of_week = Some(days.mask().into());
            }
            Pattern::Yearly { month, day } => {
                f.month_of_year = Some(month.into());
                f.day_of_month = Some(day.into());
            }
            Pattern::YearlyNth { month, week, days } => {
                f.month_of_year = Some(month.into());
                f.week_of_month = Some(week.number().into());
                f.day_of_week = Some(days.mask().into());
            }
        }
        f
    }
}

/// A recurring series to expand: its pattern, the local start of its first occurrence
/// in its zone, how long each occurrence lasts, and the original starts of the
/// occurrences deleted by exceptions (ExceptionStartTime / InstanceId).
#[derive(Debug, Clone, Copy)]
pub struct Series<'a> {
    pub recurrence: &'a Recurrence,
    pub start: DateTime,
    pub zone: &'a TimeZone,
    pub duration: SignedDuration,
    pub deleted: &'a [Timestamp],
}

/// The occurrences [`Series::expand`] found, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expansion {
    pub starts: Vec<Timestamp>,
    /// False when the limit or the scan bound was reached: more occurrences may follow.
    pub complete: bool,
}

/// At most this many periods (days, weeks, months or years) are scanned in one
/// expansion: more than 27 years of a daily series, and more than any window of the
/// date range for the others. Every period holds an occurrence, so a scan ends at the
/// window's end well before this; the bound is a second line of defence.
const MAX_PERIODS: i64 = 10_000;

impl Series<'_> {
    /// The occurrences that overlap [`from`, `to`) (start before `to`, end after
    /// `from`; a zero-length occurrence counts from its start), at most `limit` of them.
    /// Each occurrence keeps the series' local start time in its zone, so a weekly 09:00
    /// meeting stays at 09:00 across DST changes; a local time that does not exist that
    /// day moves past the gap (RFC 5545 3.3.5). The start itself is always the first
    /// occurrence (RFC 5545 3.8.5.3).
    pub fn expand(
        &self,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
    ) -> Result<Expansion, RecurError> {
        let rule = self.recurrence;
        if rule.calendar_type.has_lunar_months()
            && !matches!(rule.pattern, Pattern::Daily { .. } | Pattern::Weekly { .. })
        {
            return Err(RecurError::LunarCalendar);
        }
        let mut out = Expansion {
            starts: Vec::new(),
            complete: true,
        };
        if limit == 0 || from >= to {
            out.complete = limit > 0;
            return Ok(out);
        }
        let last_day = self
            .zone
            .to_datetime(to)
            .date()
            .tomorrow()
            .unwrap_or(Date::MAX);
        let counted = matches!(rule.end, End::Count(_));
        // Without a count, periods wholly before the window need not be walked.
        let first_period = if counted {
            0
        } else {
            let earliest = from.checked_sub(self.duration).unwrap_or(Timestamp::MIN);
            self.periods_before(self.zone.to_datetime(earliest).date())
        };
        let mut seen = 0u32;
        let mut emit = |local: DateTime, out: &mut Expansion| -> Step {
            if let End::Count(n) = rule.end
                && seen >= u32::from(n)
            {
                return Step::Done;
            }
            seen += 1;
            let Ok(start) = self.zone.to_timestamp(local) else {
                return Step::Done;
            };
            if let End::Until(until) = rule.end
                && start.as_second() > until
            {
                return Step::Done;
            }
            if start >= to {
                return Step::Done;
            }
            let ends_after_from = start
                .checked_add(self.duration)
                .is_ok_and(|end| end > from || (start >= from && self.duration.is_zero()));
            if ends_after_from && !self.deleted.contains(&start) {
                out.starts.push(start);
                if out.starts.len() >= limit {
                    out.complete = false;
                    return Step::Done;
                }
            }
            Step::More
        };
        if emit(self.start, &mut out) == Step::Done {
            return Ok(out);
        }
        let time = self.start.time();
        for period in first_period..first_period.saturating_add(MAX_PERIODS) {
            let Some(dates) = self.period_dates(period) else {
                return Ok(out);
            };
            if dates.first().is_some_and(|&d| d > last_day) {
                return Ok(out);
            }
            for date in dates {
                let local = date.to_datetime(time);
                if local <= self.start {
                    continue;
                }
                if emit(local, &mut out) == Step::Done {
                    return Ok(out);
                }
            }
        }
        out.complete = false;
        Ok(out)
    }

    /// The first period that can hold an occurrence on or after `date`, counted from the
    /// series' first (0), less one for safety.
    fn periods_before(&self, date: Date) -> i64 {
        let start = self.start.date();
        if date <= start {
            return 0;
        }
        let interval = i64::from(self.recurrence.interval.max(1));
        let months = |d: Date| i64::from(d.year()) * 12 + i64::from(d.month());
        let elapsed = match self.recurrence.pattern {
            Pattern::Daily { days: None } => days_between(start, date),
            Pattern::Daily { .. } | Pattern::Weekly { .. } => days_between(start, date) / 7,
            Pattern::Monthly { .. } | Pattern::MonthlyNth { .. } => months(date) - months(start),
            Pattern::Yearly { .. } | Pattern::YearlyNth { .. } => {
                i64::from(date.year()) - i64::from(start.year())
            }
        };
        (elapsed / interval - 1).max(0)
    }

    /// The dates of period `k` in order (the k-th day, week, month or year of the
    /// series, Interval apart); `None` past the end of the date range.
    fn period_dates(&self, k: i64) -> Option<PeriodDates> {
        let rule = self.recurrence;
        let step = k.checked_mul(i64::from(rule.interval.max(1)))?;
        let start = self.start.date();
        let month_of = |months_after: i64| -> Option<(i16, i8)> {
            let index = i64::from(start.year()) * 12 + i64::from(start.month()) - 1 + months_after;
            Some((
                i16::try_from(index.div_euclid(12)).ok()?,
                (index.rem_euclid(12) + 1) as i8,
            ))
        };
        let one = |date: Date| PeriodDates::from_slice(&[date]).ok();
        match rule.pattern {
            Pattern::Daily { days: None } => one(days_after(start, step)?),
            Pattern::Daily { days: Some(days) } | Pattern::Weekly { days } => {
                let week_start = rule.first_day_of_week.unwrap_or(DayOfWeek::Sunday).number();
                let back = (7 + start.weekday().to_sunday_zero_offset() as i64
                    - i64::from(week_start))
                    % 7;
                let first = days_after(start, step.checked_mul(7)?.checked_sub(back)?)?;
                let mut dates = PeriodDates::new();
                for offset in 0..7 {
                    let date = days_after(first, offset)?;
                    if days.has(date.weekday()) {
                        dates.push(date).ok()?;
                    }
                }
                Some(dates)
            }
            Pattern::Monthly { day } => {
                let (y, m) = month_of(step)?;
                one(clamped(y, m, day)?)
            }
            Pattern::MonthlyNth { week, days } => {
                let (y, m) = month_of(step)?;
                one(nth_day(y, m, week, days)?)
            }
            Pattern::Yearly { month, day } => {
                let y = i16::try_from(i64::from(start.year()).checked_add(step)?).ok()?;
                one(clamped(y, month as i8, day)?)
            }
            Pattern::YearlyNth { month, week, days } => {
                let y = i16::try_from(i64::from(start.year()).checked_add(step)?).ok()?;
                one(nth_day(y, month as i8, week, days)?)
            }
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Step {
    More,
    Done,
}

/// The dates of one period: at most a week's seven, kept off the heap (expansion is on
/// the free/busy path).
type PeriodDates = heapless::Vec<Date, 7>;

/// Whole days from `from` to `to`.
fn days_between(from: Date, to: Date) -> i64 {
    to.duration_since(from).as_secs().div_euclid(86_400)
}

/// `date` + `n` days; `None` outside the date range.
fn days_after(date: Date, n: i64) -> Option<Date> {
    date.checked_add(SignedDuration::from_secs(n.checked_mul(86_400)?))
        .ok()
}

/// Day `day` of the month, or its last day if the month is shorter (EWS DayOfMonth).
fn clamped(year: i16, month: i8, day: u8) -> Option<Date> {
    let first = Date::new(year, month, 1).ok()?;
    let day = i8::try_from(day).ok()?.min(first.days_in_month());
    Date::new(year, month, day).ok()
}

/// The `week`-th (or last) day of the month among `days`: with one day that is the n-th
/// such weekday; with 62 the n-th weekday, 65 the n-th weekend day, 127 day n.
fn nth_day(year: i16, month: i8, week: WeekOfMonth, days: DaySet) -> Option<Date> {
    let first = Date::new(year, month, 1).ok()?;
    let mut matching = (1..=first.days_in_month())
        .filter_map(|d| Date::new(year, month, d).ok())
        .filter(|d| days.has(d.weekday()));
    match week {
        WeekOfMonth::Last => matching.next_back(),
        other => matching.nth(usize::from(other.number() - 1)),
    }
}

impl Recurrence {
    /// The RRULE value (RFC 5545 3.3.10) of this pattern. Day-of-month values that some
    /// months lack are written "last of these days" (BYMONTHDAY=28,…,d;BYSETPOS=-1), which
    /// is Exchange's meaning. Lunar calendars have no RRULE form here (RFC 7529's RSCALE
    /// is not supported).
    pub fn to_rrule(&self) -> Result<String, RecurError> {
        if self.calendar_type.has_lunar_months() {
            return Err(RecurError::NoEasForm("lunar calendar"));
        }
        let mut parts: Vec<String> = Vec::new();
        let by_days = |days: DaySet| {
            days.days()
                .map(DayOfWeek::code)
                .collect::<Vec<_>>()
                .join(",")
        };
        let nth = |week: WeekOfMonth, days: DaySet| match (days.days().count(), days) {
            (1, _) => format!("BYDAY={}{}", week.ordinal(), by_days(days)),
            (_, DaySet::ANY) => format!("BYMONTHDAY={}", week.ordinal()),
            _ => format!("BYDAY={};BYSETPOS={}", by_days(days), week.ordinal()),
        };
        let month_day = |month: Option<u8>, day: u8| {
            let shortest = shortest_month(month);
            if day <= shortest {
                format!("BYMONTHDAY={day}")
            } else {
                let list: Vec<String> = (shortest..=day).map(|d| d.to_string()).collect();
                format!("BYMONTHDAY={};BYSETPOS=-1", list.join(","))
            }
        };
        let (freq, rest) = match self.pattern {
            Pattern::Daily { days: None } => ("DAILY", None),
            Pattern::Daily { days: Some(days) } | Pattern::Weekly { days } => {
                ("WEEKLY", Some(format!("BYDAY={}", by_days(days))))
            }
            Pattern::Monthly { day } => ("MONTHLY", Some(month_day(None, day))),
            Pattern::MonthlyNth { week, days } => ("MONTHLY", Some(nth(week, days))),
            Pattern::Yearly { month, day } => (
                "YEARLY",
                Some(format!("BYMONTH={month};{}", month_day(Some(month), day))),
            ),
            Pattern::YearlyNth { month, week, days } => (
                "YEARLY",
                Some(format!("BYMONTH={month};{}", nth(week, days))),
            ),
        };
        parts.push(format!("FREQ={freq}"));
        if self.interval > 1 {
            parts.push(format!("INTERVAL={}", self.interval));
        }
        match self.end {
            End::Never => {}
            End::Count(n) => parts.push(format!("COUNT={n}")),
            End::Until(t) => {
                let t = Timestamp::from_second(t).map_err(|_| RecurError::OutOfRange("Until"))?;
                let dt = TimeZone::UTC.to_datetime(t);
                parts.push(format!(
                    "UNTIL={:04}{:02}{:02}T{:02}{:02}{:02}Z",
                    dt.year(),
                    dt.month(),
                    dt.day(),
                    dt.hour(),
                    dt.minute(),
                    dt.second()
                ));
            }
        }
        parts.extend(rest);
        if let Some(day) = self.first_day_of_week {
            parts.push(format!("WKST={}", day.code()));
        }
        Ok(parts.join(";"))
    }

    /// Reads an RRULE value for a series starting at local `start` in `zone` (the start
    /// supplies what the rule leaves out: the weekday of a weekly rule, the day and month
    /// of monthly and yearly ones; `zone` places a floating or date-only UNTIL). A rule
    /// EAS cannot express exactly is an error, never an approximation.
    pub fn from_rrule(text: &str, start: DateTime, zone: &TimeZone) -> Result<Self, RecurError> {
        use RecurError::{BadRrule, NoEasForm};
        let rule = RruleParts::parse(text)?;
        let interval = match rule.interval {
            None => 1,
            Some(n @ 1..=MAX_INTERVAL) => n as u16,
            Some(_) => return Err(NoEasForm("INTERVAL above 999")),
        };
        let end = match (rule.count, rule.until.as_deref()) {
            (Some(_), Some(_)) => return Err(BadRrule("COUNT and UNTIL together")),
            (Some(n @ 1..=MAX_OCCURRENCES), None) => End::Count(n as u16),
            (Some(_), None) => return Err(NoEasForm("COUNT above 999")),
            (None, Some(until)) => End::Until(parse_until(until, start, zone)?),
            (None, None) => End::Never,
        };
        let plain_days = |byday: &[(Option<i8>, DayOfWeek)]| -> Result<DaySet, RecurError> {
            if byday.iter().any(|(n, _)| n.is_some()) {
                return Err(NoEasForm("BYDAY with an ordinal here"));
            }
            let days: Vec<DayOfWeek> = byday.iter().map(|&(_, d)| d).collect();
            DaySet::of(&days).ok_or(BadRrule("empty BYDAY"))
        };
        let start_day = DayOfWeek::of(start.weekday());
        let month = match rule.bymonth.as_slice() {
            [] => None,
            [m @ 1..=12] => Some(*m),
            [_] => return Err(BadRrule("BYMONTH out of range")),
            _ => return Err(NoEasForm("more than one BYMONTH")),
        };
        let pattern = match rule.freq.as_str() {
            "DAILY" | "WEEKLY" if month.is_some() || !rule.bymonthday.is_empty() => {
                return Err(NoEasForm("BYMONTH or BYMONTHDAY in a daily or weekly rule"));
            }
            "DAILY" | "WEEKLY" if rule.bysetpos.is_some() => {
                return Err(NoEasForm("BYSETPOS in a daily or weekly rule"));
            }
            "DAILY" if rule.byday.is_empty() => Pattern::Daily { days: None },
            // Every day of some weekdays is a weekly pattern: only without an interval
            // is it the same rule.
            "DAILY" if interval == 1 => Pattern::Daily {
                days: Some(plain_days(&rule.byday)?),
            },
            "DAILY" => return Err(NoEasForm("BYDAY in a daily rule with INTERVAL")),
            "WEEKLY" if rule.byday.is_empty() => Pattern::Weekly {
                days: DaySet::of(&[start_day]).ok_or(BadRrule("no weekday"))?,
            },
            "WEEKLY" => Pattern::Weekly {
                days: plain_days(&rule.byday)?,
            },
            "MONTHLY" if month.is_some() => return Err(NoEasForm("BYMONTH in a monthly rule")),
            "MONTHLY" => match month_part(&rule, None, start)? {
                DayRule::Day(day) => Pattern::Monthly { day },
                DayRule::Nth(week, days) => Pattern::MonthlyNth { week, days },
            },
            // Without BYMONTH, RFC 5545 applies BYDAY ordinals and BYSETPOS to the whole
            // year and BYMONTHDAY to every month: no yearly EAS pattern means that.
            "YEARLY"
                if month.is_none()
                    && !(rule.byday.is_empty()
                        && rule.bymonthday.is_empty()
                        && rule.bysetpos.is_none()) =>
            {
                return Err(NoEasForm(
                    "BYDAY, BYMONTHDAY or BYSETPOS in a yearly rule without BYMONTH",
                ));
            }
            "YEARLY" => {
                let month = month.unwrap_or(start.month() as u8);
                match month_part(&rule, Some(month), start)? {
                    DayRule::Day(day) => Pattern::Yearly { month, day },
                    DayRule::Nth(week, days) => Pattern::YearlyNth { month, week, days },
                }
            }
            "SECONDLY" | "MINUTELY" | "HOURLY" => return Err(NoEasForm("sub-daily FREQ")),
            _ => return Err(BadRrule("unknown FREQ")),
        };
        Ok(Recurrence {
            pattern,
            interval,
            end,
            // RFC 5545's default week start is Monday; EAS's is the client's, so say it.
            first_day_of_week: Some(rule.wkst.unwrap_or(DayOfWeek::Monday)),
            calendar_type: CalendarType::Default,
            is_leap_month: false,
        })
    }
}

/// The day part of a monthly or yearly rule.
enum DayRule {
    Day(u8),
    Nth(WeekOfMonth, DaySet),
}

/// BYDAY / BYMONTHDAY / BYSETPOS of a monthly rule (or of `month` in a yearly one).
fn month_part(
    rule: &RruleParts,
    month: Option<u8>,
    start: DateTime,
) -> Result<DayRule, RecurError> {
    use RecurError::{BadRrule, NoEasForm};
    let shortest = shortest_month(month);
    let setpos = rule
        .bysetpos
        .map(|p| WeekOfMonth::from_ordinal(p).ok_or(NoEasForm("BYSETPOS")));
    let exact_day = |day: i8| -> Result<DayRule, RecurError> {
        match u8::try_from(day) {
            Ok(d) if d >= 1 && d <= shortest => Ok(DayRule::Day(d)),
            // RFC 5545 skips months without that day; EAS takes their last day.
            Ok(d) if d <= 31 => Err(NoEasForm("BYMONTHDAY that some months lack")),
            _ => Err(BadRrule("BYMONTHDAY out of range")),
        }
    };
    match (&rule.byday[..], &rule.bymonthday[..], setpos) {
        ([], [], None) => exact_day(start.day()),
        ([], [-1], None) => Ok(DayRule::Nth(WeekOfMonth::Last, DaySet::ANY)),
        ([], [day], None) => exact_day(*day),
        // The "last of these days" form `to_rrule` writes for days some months lack.
        ([], days, Some(Ok(WeekOfMonth::Last)))
            if days.first() == Some(&(shortest as i8))
                && days.windows(2).all(|w| w[1] == w[0] + 1)
                && days.len() > 1 =>
        {
            let last = *days.last().unwrap_or(&0) as u8;
            if month.is_some_and(|m| last > longest_month(m)) || last > 31 {
                return Err(BadRrule("BYMONTHDAY out of range"));
            }
            Ok(DayRule::Day(last))
        }
        ([(Some(n), day)], [], None) => {
            let week = WeekOfMonth::from_ordinal(*n).ok_or(NoEasForm("BYDAY ordinal"))?;
            Ok(DayRule::Nth(
                week,
                DaySet::of(&[*day]).ok_or(BadRrule("BYDAY"))?,
            ))
        }
        (days, [], Some(week)) if !days.is_empty() && days.iter().all(|(n, _)| n.is_none()) => {
            let set: Vec<DayOfWeek> = days.iter().map(|&(_, d)| d).collect();
            Ok(DayRule::Nth(
                week?,
                DaySet::of(&set).ok_or(BadRrule("BYDAY"))?,
            ))
        }
        _ => Err(NoEasForm("this BYDAY/BYMONTHDAY/BYSETPOS combination")),
    }
}

/// UNTIL as UTC (`…Z`), floating local time, or a date (inclusive: that day's
/// occurrence at the series' start time still counts).
fn parse_until(text: &str, start: DateTime, zone: &TimeZone) -> Result<i64, RecurError> {
    let bad = RecurError::BadRrule("UNTIL");
    let (body, utc) = match text.strip_suffix(['Z', 'z']) {
        Some(body) => (body, true),
        None => (text, false),
    };
    let num = |s: Option<&str>| -> Result<i64, RecurError> {
        let s = s.ok_or(bad.clone())?;
        if s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse().map_err(|_| bad.clone())
        } else {
            Err(bad.clone())
        }
    };
    let date = Date::new(
        i16::try_from(num(body.get(0..4))?).map_err(|_| bad.clone())?,
        num(body.get(4..6))? as i8,
        num(body.get(6..8))? as i8,
    )
    .map_err(|_| bad.clone())?;
    let local = match body.len() {
        8 if !utc => date.to_datetime(start.time()),
        15 if body.as_bytes()[8].eq_ignore_ascii_case(&b'T') => {
            let time = jiff::civil::Time::new(
                num(body.get(9..11))? as i8,
                num(body.get(11..13))? as i8,
                num(body.get(13..15))? as i8,
                0,
            )
            .map_err(|_| bad.clone())?;
            date.to_datetime(time)
        }
        _ => return Err(bad),
    };
    let instant = if utc {
        TimeZone::UTC.to_timestamp(local)
    } else {
        zone.to_timestamp(local)
    };
    instant.map(|t| t.as_second()).map_err(|_| bad)
}

/// An RRULE's parts, split and typed but not yet interpreted.
#[derive(Default)]
struct RruleParts {
    freq: String,
    interval: Option<u32>,
    count: Option<u32>,
    until: Option<String>,
    byday: Vec<(Option<i8>, DayOfWeek)>,
    bymonthday: Vec<i8>,
    bymonth: Vec<u8>,
    bysetpos: Option<i8>,
    wkst: Option<DayOfWeek>,
}

impl RruleParts {
    fn parse(text: &str) -> Result<Self, RecurError> {
        use RecurError::{BadRrule, NoEasForm};
        let text = text.trim();
        let text = text
            .get(..6)
            .filter(|p| p.eq_ignore_ascii_case("RRULE:"))
            .map_or(text, |_| &text[6..]);
        let mut rule = RruleParts::default();
        let mut seen = Vec::new();
        for part in text.split(';').filter(|p| !p.is_empty()) {
            let (name, value) = part.split_once('=').ok_or(BadRrule("a part without '='"))?;
            let name = name.trim().to_ascii_uppercase();
            if seen.contains(&name) {
                return Err(BadRrule("a part given twice"));
            }
            let number = |v: &str| v.trim().parse::<i64>().map_err(|_| BadRrule("a number"));
            let list =
                |v: &str| -> Result<Vec<i64>, RecurError> { v.split(',').map(number).collect() };
            match name.as_str() {
                "FREQ" => rule.freq = value.trim().to_ascii_uppercase(),
                "INTERVAL" => {
                    rule.interval =
                        Some(u32::try_from(number(value)?).map_err(|_| BadRrule("INTERVAL"))?)
                }
                "COUNT" => {
                    rule.count = Some(u32::try_from(number(value)?).map_err(|_| BadRrule("COUNT"))?)
                }
                "UNTIL" => rule.until = Some(value.trim().to_owned()),
                "BYDAY" => {
                    rule.byday = value
                        .split(',')
                        .map(parse_byday)
                        .collect::<Option<_>>()
                        .ok_or(BadRrule("BYDAY"))?
                }
                "BYMONTHDAY" => {
                    rule.bymonthday = list(value)?
                        .into_iter()
                        .map(|d| {
                            i8::try_from(d)
                                .ok()
                                .filter(|d| *d != 0 && (-31..=31).contains(d))
                        })
                        .collect::<Option<_>>()
                        .ok_or(BadRrule("BYMONTHDAY"))?
                }
                "BYMONTH" => {
                    rule.bymonth = list(value)?
                        .into_iter()
                        .map(|m| u8::try_from(m).ok())
                        .collect::<Option<_>>()
                        .ok_or(BadRrule("BYMONTH"))?
                }
                "BYSETPOS" => {
                    let all = list(value)?;
                    let [pos] = all[..] else {
                        return Err(NoEasForm("more than one BYSETPOS"));
                    };
                    rule.bysetpos = Some(i8::try_from(pos).map_err(|_| BadRrule("BYSETPOS"))?);
                }
                "WKST" => {
                    rule.wkst = Some(DayOfWeek::from_code(value.trim()).ok_or(BadRrule("WKST"))?)
                }
                "BYSECOND" | "BYMINUTE" | "BYHOUR" | "BYYEARDAY" | "BYWEEKNO" | "RSCALE"
                | "SKIP" => {
                    return Err(NoEasForm(
                        "BYSECOND/BYMINUTE/BYHOUR/BYYEARDAY/BYWEEKNO/RSCALE",
                    ));
                }
                _ => return Err(BadRrule("an unknown part")),
            }
            seen.push(name);
        }
        if rule.freq.is_empty() {
            return Err(BadRrule("no FREQ"));
        }
        Ok(rule)
    }
}

/// `MO`, `2TU`, `-1FR`, `+1SU`.
fn parse_byday(item: &str) -> Option<(Option<i8>, DayOfWeek)> {
    let item = item.trim();
    let split = item.len().checked_sub(2)?;
    let day = DayOfWeek::from_code(item.get(split..)?)?;
    let ordinal = item.get(..split)?;
    if ordinal.is_empty() {
        return Some((None, day));
    }
    let n: i8 = ordinal.strip_prefix('+').unwrap_or(ordinal).parse().ok()?;
    (n != 0 && (-5..=5).contains(&n)).then_some((Some(n), day))
}

#[cfg(test)]
#[path = "recur_tests.rs"]
mod tests;
