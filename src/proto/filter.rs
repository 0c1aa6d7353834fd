//! FilterType: the window of items a collection is synced with ([MS-ASCMD] 2.2.3.71.2;
//! GetItemEstimate carries the same values, 2.2.3.71.1).

use serde::{Deserialize, Serialize};

/// A FilterType value. 1-7 are date windows for mail (by DateReceived) and calendar (by
/// the event's end), widening with the number; 8 is for tasks: the incomplete ones only.
/// Stored as its number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "u8", try_from = "u8")]
pub enum FilterType {
    /// No filter: every item.
    #[default]
    All = 0,
    OneDay = 1,
    ThreeDays = 2,
    OneWeek = 3,
    TwoWeeks = 4,
    OneMonth = 5,
    ThreeMonths = 6,
    SixMonths = 7,
    /// Incomplete tasks only.
    IncompleteTasks = 8,
}

impl FilterType {
    const ALL: [FilterType; 9] = [
        Self::All,
        Self::OneDay,
        Self::ThreeDays,
        Self::OneWeek,
        Self::TwoWeeks,
        Self::OneMonth,
        Self::ThreeMonths,
        Self::SixMonths,
        Self::IncompleteTasks,
    ];

    /// Reads a FilterType element's text: a number from 0 to 8, nothing else.
    pub fn parse(text: &str) -> Option<Self> {
        text.parse::<u8>().ok().and_then(|n| Self::try_from(n).ok())
    }

    pub fn number(self) -> u8 {
        self as u8
    }

    /// How many days back the window reaches; `None` for no date window (0 and 8).
    pub fn window_days(self) -> Option<i64> {
        Some(match self {
            Self::OneDay => 1,
            Self::ThreeDays => 3,
            Self::OneWeek => 7,
            Self::TwoWeeks => 14,
            Self::OneMonth => 31,
            Self::ThreeMonths => 92,
            Self::SixMonths => 183,
            Self::All | Self::IncompleteTasks => return None,
        })
    }

    /// The narrower of two filters as date windows: of two windows the shorter; 0 (all)
    /// and 8 (no date window for mail or calendar) limit nothing, so the other one wins,
    /// and of two of those `self` is kept.
    pub fn narrower(self, other: Self) -> Self {
        match (self.window_days(), other.window_days()) {
            (Some(a), Some(b)) if b < a => other,
            (Some(_), _) => self,
            (None, Some(_)) => other,
            (None, None) => self,
        }
    }
}

impl From<FilterType> for u8 {
    fn from(f: FilterType) -> u8 {
        f.number()
    }
}

impl TryFrom<u8> for FilterType {
    type Error = u8;

    fn try_from(n: u8) -> Result<Self, u8> {
        Self::ALL.get(usize::from(n)).copied().ok_or(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip_and_nothing_else_parses() {
        for f in FilterType::ALL {
            assert_eq!(FilterType::try_from(f.number()), Ok(f));
            assert_eq!(FilterType::parse(&f.number().to_string()), Some(f));
            assert_eq!(serde_json::to_string(&f).unwrap(), f.number().to_string());
        }
        for bad in ["9", "", "-1", "256", "a", " 1"] {
            assert_eq!(FilterType::parse(bad), None, "{bad:?}");
        }
        assert!(serde_json::from_str::<FilterType>("9").is_err());
    }

    #[test]
    fn the_narrower_window_wins_and_no_window_limits_nothing() {
        use FilterType::*;
        assert_eq!(OneMonth.narrower(OneWeek), OneWeek);
        assert_eq!(OneWeek.narrower(OneMonth), OneWeek);
        assert_eq!(All.narrower(ThreeDays), ThreeDays);
        assert_eq!(IncompleteTasks.narrower(SixMonths), SixMonths);
        assert_eq!(SixMonths.narrower(All), SixMonths);
        assert_eq!(All.narrower(IncompleteTasks), All);
        assert_eq!(IncompleteTasks.narrower(All), IncompleteTasks);
        assert_eq!(OneDay.window_days(), Some(1));
        assert_eq!(SixMonths.window_days(), Some(183));
    }
}
