//! ActiveSync protocol versions ([MS-ASHTTP] 2.2.1.1.2.6, 2.2.1.1.1.1).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A protocol version easd speaks. 2.5 is deliberately absent: easd starts at 12.0.
/// Stored as its name ("14.1"), as the `MS-ASProtocolVersion` header carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum ProtocolVersion {
    V12_0,
    V12_1,
    V14_0,
    V14_1,
    V16_0,
    V16_1,
}

/// A version string or byte that names no version easd speaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error("protocol version {0:?} is not one this server speaks (12.0 to 16.1)")]
    UnknownName(String),
    #[error("protocol version byte {0} is not one this server speaks (120 to 161)")]
    UnknownByte(u8),
}

impl ProtocolVersion {
    /// Every supported version, oldest first.
    pub const ALL: [ProtocolVersion; 6] = [
        Self::V12_0,
        Self::V12_1,
        Self::V14_0,
        Self::V14_1,
        Self::V16_0,
        Self::V16_1,
    ];

    /// Parses an `MS-ASProtocolVersion` header value ([MS-ASHTTP] 2.2.1.1.2.6).
    pub fn parse(value: &str) -> Result<Self, VersionError> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == value.trim())
            .ok_or_else(|| VersionError::UnknownName(value.to_owned()))
    }

    /// Parses the Protocol version byte of a base64 query: the version times ten,
    /// e.g. 141 for 14.1 ([MS-ASHTTP] 2.2.1.1.1.1).
    pub fn from_base64_byte(byte: u8) -> Result<Self, VersionError> {
        Self::ALL
            .into_iter()
            .find(|v| v.base64_byte() == byte)
            .ok_or(VersionError::UnknownByte(byte))
    }

    /// The Protocol version byte of a base64 query.
    pub fn base64_byte(self) -> u8 {
        match self {
            Self::V12_0 => 120,
            Self::V12_1 => 121,
            Self::V14_0 => 140,
            Self::V14_1 => 141,
            Self::V16_0 => 160,
            Self::V16_1 => 161,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::V12_0 => "12.0",
            Self::V12_1 => "12.1",
            Self::V14_0 => "14.0",
            Self::V14_1 => "14.1",
            Self::V16_0 => "16.0",
            Self::V16_1 => "16.1",
        }
    }

    /// The `MS-ASProtocolVersions` header value ([MS-ASHTTP] 2.2.4.1.2.2).
    pub fn header_list() -> &'static str {
        "12.0,12.1,14.0,14.1,16.0,16.1"
    }

    /// Whether a client may use the base64 query: 12.1 and later only
    /// ([MS-ASHTTP] 2.2.1.1.1.1, NOTE).
    pub fn supports_base64_query(self) -> bool {
        self >= Self::V12_1
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for ProtocolVersion {
    type Error = VersionError;

    fn try_from(s: String) -> Result<Self, VersionError> {
        Self::parse(&s)
    }
}

impl From<ProtocolVersion> for &'static str {
    fn from(v: ProtocolVersion) -> &'static str {
        v.as_str()
    }
}

impl std::str::FromStr for ProtocolVersion {
    type Err = VersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_bytes_round_trip() {
        for v in ProtocolVersion::ALL {
            assert_eq!(ProtocolVersion::parse(v.as_str()), Ok(v));
            assert_eq!(ProtocolVersion::from_base64_byte(v.base64_byte()), Ok(v));
            assert_eq!(v.to_string(), v.as_str());
        }
    }

    #[test]
    fn header_list_matches_all() {
        let joined: Vec<_> = ProtocolVersion::ALL.iter().map(|v| v.as_str()).collect();
        assert_eq!(ProtocolVersion::header_list(), joined.join(","));
    }

    #[test]
    fn unknown_versions_are_typed_errors() {
        assert_eq!(
            ProtocolVersion::parse("2.5"),
            Err(VersionError::UnknownName("2.5".into()))
        );
        assert!(ProtocolVersion::parse("").is_err());
        assert!(ProtocolVersion::parse("14").is_err());
        assert_eq!(
            ProtocolVersion::from_base64_byte(25),
            Err(VersionError::UnknownByte(25))
        );
        assert!(ProtocolVersion::from_base64_byte(162).is_err());
    }

    #[test]
    fn base64_query_needs_12_1() {
        assert!(!ProtocolVersion::V12_0.supports_base64_query());
        assert!(ProtocolVersion::V12_1.supports_base64_query());
        assert!(ProtocolVersion::V16_1.supports_base64_query());
    }
}
