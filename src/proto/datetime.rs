//! EAS dateTime values ([MS-ASDTYPE] 2.3) as Unix seconds.

/// An EAS dateTime ([MS-ASDTYPE] 2.3), e.g. `2026-11-25T10:20:30.000Z`.
pub fn format_datetime(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.000Z",
        secs / 3_600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Parses an EAS dateTime: `YYYY-MM-DDTHH:MM:SS[.fff]Z`, also the compact
/// `YYYYMMDDTHHMMSSZ` some clients send. Fractions are dropped.
pub fn parse_datetime(text: &str) -> Option<i64> {
    let text = text.trim();
    let text = text.strip_suffix('Z').unwrap_or(text);
    let text = text.split_once('.').map_or(text, |(whole, _)| whole);
    let digits: String = text.chars().filter(|c| !matches!(c, '-' | ':')).collect();
    let (date, time) = digits.split_once('T')?;
    if date.len() != 8
        || time.len() != 6
        || !date.bytes().chain(time.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let field = |s: &str, range: std::ops::Range<usize>| s.get(range)?.parse::<i64>().ok();
    let (year, month, day) = (field(date, 0..4)?, field(date, 4..6)?, field(date, 6..8)?);
    let (hour, minute, second) = (field(time, 0..2)?, field(time, 2..4)?, field(time, 4..6)?);
    let valid = (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && hour < 24
        && minute < 60
        && second < 61;
    valid.then(|| days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date of a day count since 1970-01-01 (inverse of [`days_from_civil`]).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetime_round_trip() {
        assert_eq!(format_datetime(1_795_602_030), "2026-11-25T10:20:30.000Z");
        assert_eq!(format_datetime(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_datetime(951_782_400), "2000-02-29T00:00:00.000Z");
        assert_eq!(format_datetime(-1), "1969-12-31T23:59:59.000Z");
        for unix in [0, 951_782_400, 1_795_602_030, 4_102_444_799, -86_401] {
            assert_eq!(parse_datetime(&format_datetime(unix)), Some(unix));
        }
        assert_eq!(parse_datetime("20261125T102030Z"), Some(1_795_602_030));
        assert_eq!(parse_datetime("2026-11-25T10:20:30Z"), Some(1_795_602_030));
        for bad in [
            "",
            "2026-13-01T00:00:00Z",
            "2026-11-25",
            "2026-11-25T25:00:00Z",
            "ä",
        ] {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
    }
}
