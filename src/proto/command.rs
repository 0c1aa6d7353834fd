//! ActiveSync commands and their base64 command codes ([MS-ASHTTP] 2.2.1.1.1.1.2,
//! [MS-ASCMD] 2.2.1).
//!
//! Codes 5 to 8 are absent from the current [MS-ASHTTP] table: they belonged to the
//! 2.5-era GetHierarchy, CreateCollection, DeleteCollection and MoveCollection, which
//! [MS-ASCMD] no longer defines. easd starts at 12.0, so they are unknown codes here.
//! Autodiscover is not here either: it has no command code and its own endpoint.

use std::fmt;

use crate::proto::version::ProtocolVersion;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Command {
    Sync,
    SendMail,
    SmartForward,
    SmartReply,
    GetAttachment,
    FolderSync,
    FolderCreate,
    FolderDelete,
    FolderUpdate,
    MoveItems,
    GetItemEstimate,
    MeetingResponse,
    Search,
    Settings,
    Ping,
    ItemOperations,
    Provision,
    ResolveRecipients,
    ValidateCert,
    Find,
}

impl Command {
    /// Every command, in command-code order.
    pub const ALL: [Command; 20] = [
        Self::Sync,
        Self::SendMail,
        Self::SmartForward,
        Self::SmartReply,
        Self::GetAttachment,
        Self::FolderSync,
        Self::FolderCreate,
        Self::FolderDelete,
        Self::FolderUpdate,
        Self::MoveItems,
        Self::GetItemEstimate,
        Self::MeetingResponse,
        Self::Search,
        Self::Settings,
        Self::Ping,
        Self::ItemOperations,
        Self::Provision,
        Self::ResolveRecipients,
        Self::ValidateCert,
        Self::Find,
    ];

    /// The `Cmd` value and the name in [MS-ASCMD].
    pub fn name(self) -> &'static str {
        match self {
            Self::Sync => "Sync",
            Self::SendMail => "SendMail",
            Self::SmartForward => "SmartForward",
            Self::SmartReply => "SmartReply",
            Self::GetAttachment => "GetAttachment",
            Self::FolderSync => "FolderSync",
            Self::FolderCreate => "FolderCreate",
            Self::FolderDelete => "FolderDelete",
            Self::FolderUpdate => "FolderUpdate",
            Self::MoveItems => "MoveItems",
            Self::GetItemEstimate => "GetItemEstimate",
            Self::MeetingResponse => "MeetingResponse",
            Self::Search => "Search",
            Self::Settings => "Settings",
            Self::Ping => "Ping",
            Self::ItemOperations => "ItemOperations",
            Self::Provision => "Provision",
            Self::ResolveRecipients => "ResolveRecipients",
            Self::ValidateCert => "ValidateCert",
            Self::Find => "Find",
        }
    }

    /// The base64 command code ([MS-ASHTTP] 2.2.1.1.1.1.2).
    pub fn code(self) -> u8 {
        match self {
            Self::Sync => 0,
            Self::SendMail => 1,
            Self::SmartForward => 2,
            Self::SmartReply => 3,
            Self::GetAttachment => 4,
            Self::FolderSync => 9,
            Self::FolderCreate => 10,
            Self::FolderDelete => 11,
            Self::FolderUpdate => 12,
            Self::MoveItems => 13,
            Self::GetItemEstimate => 14,
            Self::MeetingResponse => 15,
            Self::Search => 16,
            Self::Settings => 17,
            Self::Ping => 18,
            Self::ItemOperations => 19,
            Self::Provision => 20,
            Self::ResolveRecipients => 21,
            Self::ValidateCert => 22,
            Self::Find => 23,
        }
    }

    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }

    /// Looks up a plain-query `Cmd` value, ignoring ASCII case.
    ///
    /// [MS-ASHTTP] 2.2.1.1.1.2 makes the parameter *names* case-insensitive (RFC 5234
    /// quoted strings) and only says command-name is 1*ALPHA from the 2.2.1.1.1.1.2
    /// table. No two commands differ only in case, so accepting any case loses nothing
    /// and spares clients that lower-case their query.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(name))
    }

    /// Whether `version` defines this command ([MS-ASCMD] 2.2.1, per-command
    /// "Protocol Versions" tables). Everything else exists from 12.0 on.
    pub fn available_in(self, version: ProtocolVersion) -> bool {
        match self {
            // [MS-ASCMD] 2.2.1.7: not supported from 14.0 on; ItemOperations Fetch
            // replaces it.
            Self::GetAttachment => version <= ProtocolVersion::V12_1,
            // [MS-ASCMD] 2.2.1.2: 16.1 only.
            Self::Find => version >= ProtocolVersion::V16_1,
            _ => true,
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_the_spec_table() {
        let table: Vec<(u8, &str)> = Command::ALL.iter().map(|c| (c.code(), c.name())).collect();
        assert_eq!(
            table,
            [
                (0, "Sync"),
                (1, "SendMail"),
                (2, "SmartForward"),
                (3, "SmartReply"),
                (4, "GetAttachment"),
                (9, "FolderSync"),
                (10, "FolderCreate"),
                (11, "FolderDelete"),
                (12, "FolderUpdate"),
                (13, "MoveItems"),
                (14, "GetItemEstimate"),
                (15, "MeetingResponse"),
                (16, "Search"),
                (17, "Settings"),
                (18, "Ping"),
                (19, "ItemOperations"),
                (20, "Provision"),
                (21, "ResolveRecipients"),
                (22, "ValidateCert"),
                (23, "Find"),
            ]
        );
    }

    #[test]
    fn codes_and_names_round_trip() {
        for c in Command::ALL {
            assert_eq!(Command::from_code(c.code()), Some(c));
            assert_eq!(Command::from_name(c.name()), Some(c));
            assert_eq!(Command::from_name(&c.name().to_lowercase()), Some(c));
        }
    }

    #[test]
    fn legacy_and_unknown_codes_are_rejected() {
        for code in (5..=8).chain(24..=u8::MAX) {
            assert_eq!(Command::from_code(code), None, "code {code}");
        }
        assert_eq!(Command::from_name("GetHierarchy"), None);
        assert_eq!(Command::from_name("Autodiscover"), None);
        assert_eq!(Command::from_name(""), None);
    }

    #[test]
    fn version_availability() {
        use ProtocolVersion::*;
        assert!(Command::GetAttachment.available_in(V12_1));
        assert!(!Command::GetAttachment.available_in(V14_0));
        assert!(!Command::Find.available_in(V16_0));
        assert!(Command::Find.available_in(V16_1));
        assert!(
            ProtocolVersion::ALL
                .iter()
                .all(|&v| Command::Sync.available_in(v))
        );
    }
}
