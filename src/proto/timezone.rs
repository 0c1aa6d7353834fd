//! The TIME_ZONE_INFORMATION blob of `calendar:Timezone` and `email:TimeZone`: 172 bytes,
//! little-endian, carried as base64 text ([MS-ASDTYPE] 2.7.6; [MS-ASCAL] 2.2.2.44).
//!
//! This module only turns the bytes into typed values and back; which IANA zone a blob
//! stands for is `pim::tz`'s job. Parsing never panics: every bad length, base64 text or
//! field value is a [`TimeZoneError`].

use base64::Engine;
use serde::{Deserialize, Serialize};

/// The length of the decoded blob ([MS-ASDTYPE] 2.7.6).
pub const BLOB_LEN: usize = 172;
/// UTF-16 code units of each name field (64 bytes).
const NAME_UNITS: usize = 32;
/// The largest |offset| from UTC a blob may describe, in minutes. UTC+14:00 is the
/// furthest any zone has been; 18 h leaves room for odd clients without letting
/// nonsense through.
const MAX_OFFSET_MINUTES: i32 = 18 * 60;

/// A decoded TIME_ZONE_INFORMATION. Offsets are in minutes with Windows' sign: UTC =
/// local time + bias, so UTC+01:00 has `bias` -60 and New York has 300.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeZoneInfo {
    pub bias: i32,
    /// The standard-time name; clients may leave it empty (and easd writes it empty,
    /// see `pim::tz`).
    pub standard_name: String,
    /// When daylight saving time ends (local daylight time).
    pub standard_date: ChangeDate,
    /// Added to `bias` during standard time, normally 0.
    pub standard_bias: i32,
    pub daylight_name: String,
    /// When daylight saving time starts (local standard time).
    pub daylight_date: ChangeDate,
    /// Added to `bias` during daylight saving time, normally -60.
    pub daylight_bias: i32,
}

/// The time of day of a change, local wall time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeOfDay {
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub millis: u16,
}

/// A SYSTEMTIME in a TIME_ZONE_INFORMATION (Win32 TIME_ZONE_INFORMATION; [MS-DTYP]
/// 2.3.13 SYSTEMTIME: wYear, wMonth, wDayOfWeek, wDay, wHour, wMinute, wSecond,
/// wMilliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChangeDate {
    /// wMonth 0: the zone has no daylight saving time.
    None,
    /// wYear 0, the yearly rule form: the `week`-th `weekday` of `month` (1..=5, where
    /// 5 means the last one, even in a month that has only four).
    Rule {
        month: u8,
        week: u8,
        /// 0 = Sunday … 6 = Saturday.
        weekday: u8,
        time: TimeOfDay,
    },
    /// wYear ≠ 0: a one-time change on this date. wDayOfWeek is kept only so that the
    /// blob is written back as it came.
    Absolute {
        year: u16,
        month: u8,
        day: u8,
        weekday: u8,
        time: TimeOfDay,
    },
}

/// Which field of the blob an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Bias,
    StandardName,
    StandardDate,
    StandardBias,
    DaylightName,
    DaylightDate,
    DaylightBias,
}

/// Why a blob was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeZoneError {
    #[error("the time zone is not valid base64")]
    Base64,
    #[error("the time zone is {0} bytes long, not {BLOB_LEN}")]
    Length(usize),
    #[error("{0:?} puts the zone more than 18 hours from UTC")]
    Offset(Field),
    #[error("{0:?} is not a valid UTF-16 name")]
    Name(Field),
    #[error("{0:?} is not a valid change date")]
    Date(Field),
    #[error("only one of StandardDate and DaylightDate is set")]
    HalfDst,
}

impl TimeZoneInfo {
    /// UTC: the all-zero blob.
    pub fn utc() -> Self {
        Self::fixed(0)
    }

    /// A zone without daylight saving time, `bias` minutes west of UTC.
    pub fn fixed(bias: i32) -> Self {
        TimeZoneInfo {
            bias,
            standard_name: String::new(),
            standard_date: ChangeDate::None,
            standard_bias: 0,
            daylight_name: String::new(),
            daylight_date: ChangeDate::None,
            daylight_bias: 0,
        }
    }

    /// Whether the zone observes daylight saving time. A blob with both dates unset has
    /// none whatever DaylightBias says (clients send -60 there for zones without DST).
    pub fn has_dst(&self) -> bool {
        self.daylight_date != ChangeDate::None
    }

    /// Standard time's offset east of UTC, in minutes (the negated Windows bias).
    pub fn standard_offset_minutes(&self) -> i32 {
        -(self.bias
            + if self.has_dst() {
                self.standard_bias
            } else {
                0
            })
    }

    /// Daylight time's offset east of UTC in minutes; `None` without DST.
    pub fn daylight_offset_minutes(&self) -> Option<i32> {
        self.has_dst().then(|| -(self.bias + self.daylight_bias))
    }

    /// Parses the base64 text of an EAS Timezone element. Surrounding white space is
    /// ignored (XML clients indent).
    pub fn from_base64(text: &str) -> Result<Self, TimeZoneError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| TimeZoneError::Base64)?;
        Self::from_bytes(&bytes)
    }

    /// Parses the 172 decoded bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TimeZoneError> {
        let bytes: &[u8; BLOB_LEN] = bytes
            .try_into()
            .map_err(|_| TimeZoneError::Length(bytes.len()))?;
        let i32_at = |at: usize| {
            i32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        let info = TimeZoneInfo {
            bias: i32_at(0),
            standard_name: name_at(bytes, 4, Field::StandardName)?,
            standard_date: date_at(bytes, 68, Field::StandardDate)?,
            standard_bias: i32_at(84),
            daylight_name: name_at(bytes, 88, Field::DaylightName)?,
            daylight_date: date_at(bytes, 152, Field::DaylightDate)?,
            daylight_bias: i32_at(168),
        };
        info.validate()?;
        Ok(info)
    }

    /// Checks what the layout alone does not: offsets in range and DST either fully
    /// described or absent (Win32 TIME_ZONE_INFORMATION: "If this date is specified, the
    /// DaylightDate member of this structure must also be specified").
    fn validate(&self) -> Result<(), TimeZoneError> {
        let in_range = |minutes: i32| {
            minutes
                .checked_abs()
                .is_some_and(|m| m <= MAX_OFFSET_MINUTES)
        };
        if !in_range(self.bias) {
            return Err(TimeZoneError::Offset(Field::Bias));
        }
        match (self.standard_date, self.daylight_date) {
            (ChangeDate::None, ChangeDate::None) => return Ok(()),
            (ChangeDate::None, _) | (_, ChangeDate::None) => return Err(TimeZoneError::HalfDst),
            _ => {}
        }
        if !self
            .bias
            .checked_add(self.standard_bias)
            .is_some_and(in_range)
        {
            return Err(TimeZoneError::Offset(Field::StandardBias));
        }
        if !self
            .bias
            .checked_add(self.daylight_bias)
            .is_some_and(in_range)
        {
            return Err(TimeZoneError::Offset(Field::DaylightBias));
        }
        Ok(())
    }

    /// The 172 bytes. Names longer than 31 UTF-16 units are cut so that a terminating
    /// 0x0000 always remains.
    pub fn to_bytes(&self) -> [u8; BLOB_LEN] {
        let mut out = [0u8; BLOB_LEN];
        out[0..4].copy_from_slice(&self.bias.to_le_bytes());
        put_name(&mut out[4..68], &self.standard_name);
        put_date(&mut out[68..84], self.standard_date);
        out[84..88].copy_from_slice(&self.standard_bias.to_le_bytes());
        put_name(&mut out[88..152], &self.daylight_name);
        put_date(&mut out[152..168], self.daylight_date);
        out[168..172].copy_from_slice(&self.daylight_bias.to_le_bytes());
        out
    }

    /// The base64 text for a Timezone element.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.to_bytes())
    }
}

/// A name field: UTF-16LE up to the first 0x0000 (the units after it MUST be zero,
/// [MS-ASDTYPE] 2.7.6, but garbage there does not change the name, so it is ignored). The
/// field is a null-terminated WCHAR[32] (Win32 TIME_ZONE_INFORMATION), so a name is at
/// most 31 units: a 32nd unit where the terminator belongs is not part of it.
fn name_at(bytes: &[u8; BLOB_LEN], at: usize, field: Field) -> Result<String, TimeZoneError> {
    let units: Vec<u16> = bytes[at..at + 2 * NAME_UNITS]
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take(NAME_UNITS - 1)
        .take_while(|&u| u != 0)
        .collect();
    String::from_utf16(&units).map_err(|_| TimeZoneError::Name(field))
}

/// Writes `name` as the field's UTF-16LE, cut to whole characters within 31 units so the
/// terminator fits and no surrogate pair is split.
fn put_name(out: &mut [u8], name: &str) {
    let mut units = Vec::with_capacity(NAME_UNITS - 1);
    for c in name.chars() {
        let mut buf = [0u16; 2];
        let encoded = c.encode_utf16(&mut buf);
        if units.len() + encoded.len() > NAME_UNITS - 1 {
            break;
        }
        units.extend_from_slice(encoded);
    }
    for (slot, unit) in out.chunks_exact_mut(2).zip(units) {
        slot.copy_from_slice(&unit.to_le_bytes());
    }
}

/// A SYSTEMTIME field, checked for its form (rule or absolute).
fn date_at(bytes: &[u8; BLOB_LEN], at: usize, field: Field) -> Result<ChangeDate, TimeZoneError> {
    let w = |i: usize| u16::from_le_bytes([bytes[at + 2 * i], bytes[at + 2 * i + 1]]);
    let [year, month, weekday, day, hour, minute, second, millis] = std::array::from_fn(w);
    if month == 0 {
        return Ok(ChangeDate::None);
    }
    let bad = || TimeZoneError::Date(field);
    // Hour 24 never appears: a change "at the end of the day" is written as 23:59:59.999.
    if month > 12 || weekday > 6 || hour > 23 || minute > 59 || second > 59 || millis > 999 {
        return Err(bad());
    }
    let time = TimeOfDay {
        hour: hour as u8,
        minute: minute as u8,
        second: second as u8,
        millis,
    };
    let (month, weekday) = (month as u8, weekday as u8);
    if year == 0 {
        if !(1..=5).contains(&day) {
            return Err(bad());
        }
        return Ok(ChangeDate::Rule {
            month,
            week: day as u8,
            weekday,
            time,
        });
    }
    let valid_day = i16::try_from(year)
        .ok()
        .and_then(|y| jiff::civil::Date::new(y, month as i8, i8::try_from(day).ok()?).ok())
        .is_some();
    if !valid_day {
        return Err(bad());
    }
    Ok(ChangeDate::Absolute {
        year,
        month,
        day: day as u8,
        weekday,
        time,
    })
}

fn put_date(out: &mut [u8], date: ChangeDate) {
    let words: [u16; 8] = match date {
        ChangeDate::None => [0; 8],
        ChangeDate::Rule {
            month,
            week,
            weekday,
            time,
        } => [
            0,
            month.into(),
            weekday.into(),
            week.into(),
            time.hour.into(),
            time.minute.into(),
            time.second.into(),
            time.millis,
        ],
        ChangeDate::Absolute {
            year,
            month,
            day,
            weekday,
            time,
        } => [
            year,
            month.into(),
            weekday.into(),
            day.into(),
            time.hour.into(),
            time.minute.into(),
            time.second.into(),
            time.millis,
        ],
    };
    for (slot, word) in out.chunks_exact_mut(2).zip(words) {
        slot.copy_from_slice(&word.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_filling_the_whole_field_reads_as_31_units_and_writes_back_the_same() {
        // Found by fuzzing: 32 units with no terminator, then a name cut at a surrogate.
        let mut blob = TimeZoneInfo::fixed(0).to_bytes();
        for (i, slot) in blob[88..152].chunks_exact_mut(2).enumerate() {
            slot.copy_from_slice(&(0xAFAF_u16 + i as u16 % 2).to_le_bytes());
        }
        let read = TimeZoneInfo::from_bytes(&blob).expect("a full name field reads");
        assert_eq!(read.daylight_name.encode_utf16().count(), 31);
        let again = TimeZoneInfo::from_bytes(&read.to_bytes()).expect("written back reads");
        assert_eq!(again, read);
        let mut long = read.clone();
        long.standard_name = format!("{}\u{1F600}", "x".repeat(30));
        let cut = TimeZoneInfo::from_bytes(&long.to_bytes()).expect("a cut name reads");
        assert_eq!(cut.standard_name, "x".repeat(30));
    }

    fn at(hour: u8) -> TimeOfDay {
        TimeOfDay {
            hour,
            minute: 0,
            second: 0,
            millis: 0,
        }
    }

    fn rule(month: u8, week: u8, hour: u8) -> ChangeDate {
        ChangeDate::Rule {
            month,
            week,
            weekday: 0,
            time: at(hour),
        }
    }

    /// Berlin as clients send it (Z-Push's knownMSTZS: -60/-60/10/5/0/3/3/5/0/2).
    fn berlin() -> TimeZoneInfo {
        TimeZoneInfo {
            bias: -60,
            standard_name: String::new(),
            standard_date: rule(10, 5, 3),
            standard_bias: 0,
            daylight_name: String::new(),
            daylight_date: rule(3, 5, 2),
            daylight_bias: -60,
        }
    }

    fn set_u16(b: &mut [u8], at: usize, v: u16) {
        b[at..at + 2].copy_from_slice(&v.to_le_bytes());
    }

    #[test]
    fn layout_matches_the_spec_offsets() {
        let mut info = berlin();
        info.standard_name = "W. Europe Standard Time".into();
        info.daylight_name = "W. Europe Daylight Time".into();
        let b = info.to_bytes();
        assert_eq!(i32::from_le_bytes(b[0..4].try_into().unwrap()), -60);
        assert_eq!(&b[4..6], &[b'W', 0]);
        // StandardDate at 68: wYear 0, wMonth 10, wDayOfWeek 0, wDay 5, wHour 3.
        assert_eq!(&b[68..78], &[0, 0, 10, 0, 0, 0, 5, 0, 3, 0]);
        assert_eq!(i32::from_le_bytes(b[84..88].try_into().unwrap()), 0);
        assert_eq!(&b[88..90], &[b'W', 0]);
        assert_eq!(&b[152..162], &[0, 0, 3, 0, 0, 0, 5, 0, 2, 0]);
        assert_eq!(i32::from_le_bytes(b[168..172].try_into().unwrap()), -60);
        assert_eq!(TimeZoneInfo::from_bytes(&b).unwrap(), info);
    }

    #[test]
    fn base64_round_trip() {
        for info in [berlin(), TimeZoneInfo::utc(), TimeZoneInfo::fixed(-330)] {
            let text = info.to_base64();
            assert_eq!(text.len(), 232, "172 bytes are 232 base64 characters");
            assert_eq!(TimeZoneInfo::from_base64(&text).unwrap(), info);
            assert_eq!(
                TimeZoneInfo::from_base64(&format!("\n  {text}\n")).unwrap(),
                info
            );
        }
    }

    #[test]
    fn utc_is_all_zero() {
        assert_eq!(TimeZoneInfo::utc().to_bytes(), [0u8; BLOB_LEN]);
        let utc = TimeZoneInfo::from_bytes(&[0u8; BLOB_LEN]).unwrap();
        assert!(!utc.has_dst());
        assert_eq!(utc.standard_offset_minutes(), 0);
    }

    /// A real client blob (Outlook/iOS style, names set) for Eastern time.
    #[test]
    fn client_blob_with_names() {
        let mut b = [0u8; BLOB_LEN];
        b[0..4].copy_from_slice(&300i32.to_le_bytes());
        for (i, u) in "Eastern Standard Time".encode_utf16().enumerate() {
            set_u16(&mut b, 4 + 2 * i, u);
        }
        for (i, w) in [0u16, 11, 0, 1, 2].into_iter().enumerate() {
            set_u16(&mut b, 68 + 2 * i, w);
        }
        for (i, u) in "Eastern Daylight Time".encode_utf16().enumerate() {
            set_u16(&mut b, 88 + 2 * i, u);
        }
        for (i, w) in [0u16, 3, 0, 2, 2].into_iter().enumerate() {
            set_u16(&mut b, 152 + 2 * i, w);
        }
        b[168..172].copy_from_slice(&(-60i32).to_le_bytes());
        let info = TimeZoneInfo::from_bytes(&b).unwrap();
        assert_eq!(info.standard_name, "Eastern Standard Time");
        assert_eq!(info.daylight_name, "Eastern Daylight Time");
        assert_eq!(info.standard_date, rule(11, 1, 2));
        assert_eq!(info.daylight_date, rule(3, 2, 2));
        assert_eq!(info.standard_offset_minutes(), -300);
        assert_eq!(info.daylight_offset_minutes(), Some(-240));
        assert_eq!(info.to_bytes(), b);
    }

    #[test]
    fn no_dst_ignores_daylight_bias() {
        // Kolkata as clients send it: months 0 but DaylightBias -60.
        let mut info = TimeZoneInfo::fixed(-330);
        info.daylight_bias = -60;
        let parsed = TimeZoneInfo::from_bytes(&info.to_bytes()).unwrap();
        assert!(!parsed.has_dst());
        assert_eq!(parsed.standard_offset_minutes(), 330);
        assert_eq!(parsed.daylight_offset_minutes(), None);
    }

    #[test]
    fn absolute_dates_are_kept() {
        let mut info = berlin();
        info.daylight_date = ChangeDate::Absolute {
            year: 2026,
            month: 3,
            day: 29,
            weekday: 0,
            time: at(2),
        };
        let b = info.to_bytes();
        assert_eq!(&b[152..160], &[0xEA, 0x07, 3, 0, 0, 0, 29, 0]);
        assert_eq!(TimeZoneInfo::from_bytes(&b).unwrap(), info);
    }

    #[test]
    fn long_names_are_cut_and_terminated() {
        let mut info = TimeZoneInfo::utc();
        info.standard_name = "x".repeat(40);
        let b = info.to_bytes();
        assert_eq!(&b[66..68], &[0, 0]);
        let parsed = TimeZoneInfo::from_bytes(&b).unwrap();
        assert_eq!(parsed.standard_name, "x".repeat(31));
    }

    #[test]
    fn bad_input_is_an_error() {
        assert_eq!(
            TimeZoneInfo::from_base64("not base64!"),
            Err(TimeZoneError::Base64)
        );
        assert_eq!(
            TimeZoneInfo::from_base64("AAAA"),
            Err(TimeZoneError::Length(3))
        );
        assert_eq!(
            TimeZoneInfo::from_bytes(&[0u8; 173]),
            Err(TimeZoneError::Length(173))
        );
        let good = berlin().to_bytes();
        let broken = |edit: &dyn Fn(&mut [u8; BLOB_LEN])| {
            let mut b = good;
            edit(&mut b);
            TimeZoneInfo::from_bytes(&b)
        };
        use TimeZoneError as E;
        // wDay 6 in rule form, wMonth 13, wDayOfWeek 7, wHour 24, Feb 30.
        assert_eq!(
            broken(&|b| set_u16(b, 74, 6)),
            Err(E::Date(Field::StandardDate))
        );
        assert_eq!(
            broken(&|b| set_u16(b, 154, 13)),
            Err(E::Date(Field::DaylightDate))
        );
        assert_eq!(
            broken(&|b| set_u16(b, 156, 7)),
            Err(E::Date(Field::DaylightDate))
        );
        assert_eq!(
            broken(&|b| set_u16(b, 76, 24)),
            Err(E::Date(Field::StandardDate))
        );
        assert_eq!(
            broken(&|b| {
                set_u16(b, 68, 2026);
                set_u16(b, 70, 2);
                set_u16(b, 74, 30);
            }),
            Err(E::Date(Field::StandardDate))
        );
        // DST that ends but never starts.
        assert_eq!(broken(&|b| set_u16(b, 154, 0)), Err(E::HalfDst));
        assert_eq!(
            broken(&|b| b[0..4].copy_from_slice(&i32::MIN.to_le_bytes())),
            Err(E::Offset(Field::Bias))
        );
        assert_eq!(
            broken(&|b| b[168..172].copy_from_slice(&i32::MAX.to_le_bytes())),
            Err(E::Offset(Field::DaylightBias))
        );
        // An unpaired surrogate in a name.
        assert_eq!(
            broken(&|b| set_u16(b, 4, 0xD800)),
            Err(E::Name(Field::StandardName))
        );
    }

    #[test]
    fn garbage_after_the_name_terminator_is_ignored() {
        let mut b = berlin().to_bytes();
        set_u16(&mut b, 4, u16::from(b'A'));
        set_u16(&mut b, 10, u16::from(b'Z'));
        assert_eq!(TimeZoneInfo::from_bytes(&b).unwrap().standard_name, "A");
    }
}
