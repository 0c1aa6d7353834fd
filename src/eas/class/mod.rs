//! EAS item classes: how stored items become `ApplicationData` and back. This module holds
//! what the classes share: the body options of Sync, ItemOperations and Search requests,
//! and the dateTime format ([MS-ASDTYPE] 2.3).

pub mod email;

use crate::wbxml::Element;
use crate::wbxml::tag::{airsync, airsyncbase};

/// Body type codes ([MS-ASAIRS] 2.2.2.41.4); 3 (RTF) is accepted in requests, never produced.
pub const BODY_PLAIN: u8 = 1;
pub const BODY_HTML: u8 = 2;
pub const BODY_MIME: u8 = 4;

/// One airsyncbase:BodyPreference ([MS-ASAIRS] 2.2.2.12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyPreference {
    /// 1 plain text, 2 HTML, 3 RTF, 4 MIME.
    pub kind: u8,
    /// Bytes; `None` means the whole body ([MS-ASAIRS] 2.2.2.40.2).
    pub truncation_size: Option<u32>,
    /// Send nothing rather than a truncated body ([MS-ASAIRS] 2.2.2.3.2).
    pub all_or_none: bool,
    /// Characters of preview wanted, 0-255 ([MS-ASAIRS] 2.2.2.35.4).
    pub preview: Option<u32>,
}

/// The body-related parts of an airsync:Options, itemoperations:Options or search:Options
/// element.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BodyOptions {
    /// In the client's order.
    pub preferences: Vec<BodyPreference>,
    /// 0 never send MIME, 1 for S/MIME messages only, 2 always ([MS-ASCMD] 2.2.3.110).
    pub mime_support: u8,
    /// Bytes of MIME to send, decoded from the MIMETruncation code ([MS-ASCMD] 2.2.3.111);
    /// `None` for no truncation.
    pub mime_truncation: Option<u32>,
    /// Characters of body to send, decoded from the airsync:Truncation code
    /// ([MS-ASCMD] 2.2.3.185); `None` for no truncation.
    pub truncation: Option<u32>,
}

/// An Options element the server cannot accept; the command answers with its protocol
/// error status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionsError {
    #[error("{element} has the invalid value {value:?}")]
    InvalidValue {
        element: &'static str,
        value: String,
    },
    #[error("BodyPreference without a Type")]
    MissingType,
    #[error("more than one BodyPreference with Type {0}")]
    DuplicateType(u8),
    #[error("more than one {0} element")]
    Duplicate(&'static str),
}

/// MIMETruncation codes 0-8 in bytes ([MS-ASCMD] 2.2.3.111); 8 is "do not truncate".
const MIME_TRUNCATION: [Option<u32>; 9] = [
    Some(0),
    Some(4_096),
    Some(5_120),
    Some(7_168),
    Some(10_240),
    Some(20_480),
    Some(51_200),
    Some(102_400),
    None,
];

/// Truncation codes 0-9 in characters ([MS-ASCMD] 2.2.3.185); 9 is "do not truncate".
const TRUNCATION: [Option<u32>; 10] = [
    Some(0),
    Some(512),
    Some(1_024),
    Some(2_048),
    Some(5_120),
    Some(10_240),
    Some(20_480),
    Some(51_200),
    Some(102_400),
    None,
];

impl BodyOptions {
    /// Reads the body options from an Options element of any command. BodyPreference
    /// children are in the AirSyncBase namespace; MIMESupport, MIMETruncation and
    /// Truncation in AirSync. Other children are left to the caller.
    pub fn parse(options: &Element) -> Result<Self, OptionsError> {
        let mut preferences: Vec<BodyPreference> = Vec::new();
        for element in options.find_all(airsyncbase::BODY_PREFERENCE) {
            let preference = parse_preference(element)?;
            // [MS-ASAIRS] 2.2.2.12: at most one BodyPreference per Type.
            if preferences.iter().any(|p| p.kind == preference.kind) {
                return Err(OptionsError::DuplicateType(preference.kind));
            }
            preferences.push(preference);
        }
        let mime_support = single(options, airsync::MIME_SUPPORT)?
            .map(|e| number(e, 0..=2))
            .transpose()?
            .unwrap_or(0);
        Ok(BodyOptions {
            preferences,
            mime_support,
            mime_truncation: coded(options, airsync::MIME_TRUNCATION, &MIME_TRUNCATION)?,
            truncation: coded(options, airsync::TRUNCATION, &TRUNCATION)?,
        })
    }
}

fn parse_preference(element: &Element) -> Result<BodyPreference, OptionsError> {
    let kind = single(element, airsyncbase::TYPE)?.ok_or(OptionsError::MissingType)?;
    let truncation_size = single(element, airsyncbase::TRUNCATION_SIZE)?
        .map(|e| number(e, 0..=u32::MAX))
        .transpose()?;
    let all_or_none = single(element, airsyncbase::ALL_OR_NONE)?
        .map(|e| number(e, 0..=1))
        .transpose()?
        == Some(1);
    Ok(BodyPreference {
        kind: number(kind, BODY_PLAIN..=BODY_MIME)?,
        truncation_size,
        // [MS-ASAIRS] 2.2.2.3.2: AllOrNone is ignored without a TruncationSize.
        all_or_none: all_or_none && truncation_size.is_some(),
        preview: single(element, airsyncbase::PREVIEW)?
            .map(|e| number(e, 0..=255))
            .transpose()?,
    })
}

/// The only child with `tag`; a repeated element is an error ([MS-ASCMD] 2.2.3.110,
/// 2.2.3.111: "The server MAY return a protocol status error").
fn single(parent: &Element, tag: crate::wbxml::Tag) -> Result<Option<&Element>, OptionsError> {
    let mut matches = parent.find_all(tag);
    let first = matches.next();
    match matches.next() {
        Some(_) => Err(OptionsError::Duplicate(tag.name())),
        None => Ok(first),
    }
}

/// The element's text as an integer within `range`.
fn number<T>(element: &Element, range: std::ops::RangeInclusive<T>) -> Result<T, OptionsError>
where
    T: std::str::FromStr + PartialOrd,
{
    let text = element.text().unwrap_or_default().trim();
    text.parse()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| OptionsError::InvalidValue {
            element: element.tag.name(),
            value: text.to_owned(),
        })
}

/// A size code looked up in `table`; an absent element means no truncation.
fn coded(
    options: &Element,
    tag: crate::wbxml::Tag,
    table: &[Option<u32>],
) -> Result<Option<u32>, OptionsError> {
    let Some(element) = single(options, tag)? else {
        return Ok(None);
    };
    let code: usize = number(element, 0..=table.len() - 1)?;
    Ok(table.get(code).copied().flatten())
}

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
    use crate::wbxml::Element;

    fn preference(kind: &str) -> Element {
        Element::new(airsyncbase::BODY_PREFERENCE).text_child(airsyncbase::TYPE, kind)
    }

    #[test]
    fn parses_preferences_in_order() {
        let options = Element::new(airsync::OPTIONS)
            .text_child(airsync::FILTER_TYPE, "3")
            .child(
                preference("2")
                    .text_child(airsyncbase::TRUNCATION_SIZE, "5120")
                    .text_child(airsyncbase::ALL_OR_NONE, "1")
                    .text_child(airsyncbase::PREVIEW, "255"),
            )
            .child(preference("4"))
            .text_child(airsync::MIME_SUPPORT, "2")
            .text_child(airsync::MIME_TRUNCATION, "1");
        let parsed = BodyOptions::parse(&options).expect("valid");
        assert_eq!(
            parsed,
            BodyOptions {
                preferences: vec![
                    BodyPreference {
                        kind: 2,
                        truncation_size: Some(5120),
                        all_or_none: true,
                        preview: Some(255),
                    },
                    BodyPreference {
                        kind: 4,
                        truncation_size: None,
                        all_or_none: false,
                        preview: None,
                    },
                ],
                mime_support: 2,
                mime_truncation: Some(4096),
                truncation: None,
            }
        );
    }

    #[test]
    fn defaults_and_codes() {
        let empty = BodyOptions::parse(&Element::new(airsync::OPTIONS)).expect("valid");
        assert_eq!(empty, BodyOptions::default());
        let coded = Element::new(airsync::OPTIONS)
            .text_child(airsync::MIME_TRUNCATION, "8")
            .text_child(airsync::TRUNCATION, "1");
        let parsed = BodyOptions::parse(&coded).expect("valid");
        assert_eq!(
            (parsed.mime_truncation, parsed.truncation),
            (None, Some(512))
        );
        let all_or_none_alone = Element::new(airsync::OPTIONS)
            .child(preference("1").text_child(airsyncbase::ALL_OR_NONE, "1"));
        let parsed = BodyOptions::parse(&all_or_none_alone).expect("valid");
        assert!(
            !parsed.preferences[0].all_or_none,
            "ignored without TruncationSize"
        );
    }

    #[test]
    fn rejects_out_of_range_values() {
        let bad = [
            Element::new(airsync::OPTIONS).child(preference("5")),
            Element::new(airsync::OPTIONS).child(preference("x")),
            Element::new(airsync::OPTIONS).child(Element::new(airsyncbase::BODY_PREFERENCE)),
            Element::new(airsync::OPTIONS)
                .child(preference("1"))
                .child(preference("1")),
            Element::new(airsync::OPTIONS)
                .child(preference("1").text_child(airsyncbase::PREVIEW, "256")),
            Element::new(airsync::OPTIONS)
                .child(preference("1").text_child(airsyncbase::TRUNCATION_SIZE, "4294967296")),
            Element::new(airsync::OPTIONS)
                .child(preference("1").text_child(airsyncbase::ALL_OR_NONE, "2")),
            Element::new(airsync::OPTIONS).text_child(airsync::MIME_SUPPORT, "3"),
            Element::new(airsync::OPTIONS).text_child(airsync::MIME_TRUNCATION, "9"),
            Element::new(airsync::OPTIONS).text_child(airsync::TRUNCATION, "10"),
            Element::new(airsync::OPTIONS)
                .text_child(airsync::MIME_SUPPORT, "1")
                .text_child(airsync::MIME_SUPPORT, "1"),
        ];
        for options in bad {
            assert!(BodyOptions::parse(&options).is_err(), "{options:?}");
        }
    }

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
