//! Validated identifiers that arrive in ActiveSync requests.

use std::fmt;
use std::num::{NonZeroU32, NonZeroU64};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a value is not a valid identifier. Messages complete "the X is invalid: ...".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("it is empty")]
    Empty,
    #[error("it is {len} characters long; at most {max} are allowed")]
    TooLong { len: usize, max: usize },
    #[error("it contains {0:?}, which is not allowed there")]
    BadChar(char),
    #[error("it is not a decimal number from 0 to 4294967295")]
    NotU32,
}

/// Checks length (in chars) and that every char passes `allowed`.
fn check(value: &str, max: usize, allowed: impl Fn(char) -> bool) -> Result<(), IdError> {
    if value.is_empty() {
        return Err(IdError::Empty);
    }
    if let Some(bad) = value.chars().find(|&c| !allowed(c)) {
        return Err(IdError::BadChar(bad));
    }
    match value.chars().count() {
        len if len > max => Err(IdError::TooLong { len, max }),
        _ => Ok(()),
    }
}

/// VCHAR of RFC 5234: visible ASCII, no space.
fn is_vchar(c: char) -> bool {
    c.is_ascii_graphic()
}

/// Implements `as_str`, `Display` and `FromStr` for a validated `String` newtype.
macro_rules! string_id {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        /// Reads as the string it is (never writable), so a stored id serves wherever a
        /// `&str` key is wanted.
        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;

            fn try_from(s: String) -> Result<Self, IdError> {
                Self::new(&s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
    };
}

/// A device's id: 1 to 32 ASCII letters and digits ([MS-ASHTTP] 2.2.1.1.1.2,
/// `device-id = 1*32(ALPHA / DIGIT)`; 2.2.1.1.1.2.3: no commas or special characters).
///
/// Stored as its plain string; a stored id is checked again when read, as one from a
/// request is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DeviceId(String);

impl DeviceId {
    pub const MAX_LEN: usize = 32;

    pub fn new(value: &str) -> Result<Self, IdError> {
        check(value, Self::MAX_LEN, |c| c.is_ascii_alphanumeric())?;
        Ok(Self(value.to_owned()))
    }

    /// A device that sends its id as a binary GUID in the base64 query
    /// ([MS-ASHTTP] 2.2.1.1.1.1: "a string or a GUID"). Its 32 upper-case hex
    /// digits fit the plain-text rule, so both query forms name the device alike.
    pub fn from_guid_bytes(guid: [u8; 16]) -> Self {
        Self(guid.iter().map(|b| format!("{b:02X}")).collect())
    }
}

string_id!(DeviceId);

/// A device type such as `iPhone` or `SmartPhone`: visible ASCII
/// ([MS-ASHTTP] 2.2.1.1.1.2, `device-type = 1*VCHAR`). The spec sets no maximum;
/// easd caps it at 64 so it can be stored and logged safely.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DeviceType(String);

impl DeviceType {
    pub const MAX_LEN: usize = 64;

    pub fn new(value: &str) -> Result<Self, IdError> {
        check(value, Self::MAX_LEN, is_vchar)?;
        Ok(Self(value.to_owned()))
    }
}

string_id!(DeviceType);

/// A folder's server id ([MS-ASCMD] 2.2.3.30.x CollectionId: at most 64 characters).
/// easd only issues visible ASCII, so anything else cannot be one of ours.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CollectionId(String);

impl CollectionId {
    pub const MAX_LEN: usize = 64;

    pub fn new(value: &str) -> Result<Self, IdError> {
        check(value, Self::MAX_LEN, is_vchar)?;
        Ok(Self(value.to_owned()))
    }
}

string_id!(CollectionId);

/// An item's server id ([MS-ASCMD] 2.2.3.166.x ServerId: at most 64 characters).
/// easd only issues visible ASCII, so anything else cannot be one of ours.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServerId(String);

impl ServerId {
    pub const MAX_LEN: usize = 64;

    pub fn new(value: &str) -> Result<Self, IdError> {
        check(value, Self::MAX_LEN, is_vchar)?;
        Ok(Self(value.to_owned()))
    }
}

string_id!(ServerId);

/// The item an easd ServerId names: `folder:item`, both decimal numbers (well inside the
/// 64 characters of [MS-ASCMD] 2.2.3.166). A search result's LongId and a SmartReply or
/// SmartForward Source name items the same way. A move gives the item a new id, so a
/// ServerId never names two items. Parsed once where it enters; `None` for anything easd
/// cannot have issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ItemRef {
    pub folder: u64,
    pub item: u64,
}

impl ItemRef {
    pub fn new(folder: u64, item: u64) -> Self {
        Self { folder, item }
    }

    pub fn parse(s: &str) -> Option<Self> {
        let (folder, item) = s.split_once(':')?;
        Some(Self::new(number(folder)?, number(item)?))
    }
}

impl fmt::Display for ItemRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.folder, self.item)
    }
}

/// An attachment's FileReference ([MS-ASAIRS] 2.2.2.24): the item's `folder:item` and the
/// attachment's MIME part, `folder:item:part`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileRef {
    pub item: ItemRef,
    pub part: u32,
}

impl FileRef {
    pub fn new(item: ItemRef, part: u32) -> Self {
        Self { item, part }
    }

    pub fn parse(s: &str) -> Option<Self> {
        let (item, part) = s.rsplit_once(':')?;
        Some(Self::new(ItemRef::parse(item)?, number(part)?))
    }
}

impl fmt::Display for FileRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.item, self.part)
    }
}

/// A decimal number as easd writes one: digits only (no sign, no space).
fn number<T: FromStr>(s: &str) -> Option<T> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// A policy key the server issued ([MS-ASPROV] 2.2.2.42: a 32-bit unsigned integer).
/// Zero is the "no policy yet" key of the first Provision, so it is not a `PolicyKey`:
/// callers see `None` instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicyKey(NonZeroU32);

impl PolicyKey {
    /// `None` for 0.
    pub fn new(value: u32) -> Option<Self> {
        NonZeroU32::new(value).map(Self)
    }

    /// Parses a key as a client sends it (`X-MS-PolicyKey`, [MS-ASHTTP] 2.2.1.1.2.8, or
    /// the Provision acknowledgement's PolicyKey): the decimal form of a 32-bit unsigned
    /// integer ([MS-ASPROV] 2.2.2.42), digits only (no sign), surrounding whitespace
    /// ignored. 0 is `Ok(None)`, no key yet. This is the one parser of a sent key.
    pub fn parse(value: &str) -> Result<Option<Self>, IdError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(IdError::Empty);
        }
        if !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IdError::NotU32);
        }
        value.parse().map(Self::new).map_err(|_| IdError::NotU32)
    }

    pub fn get(self) -> u32 {
        self.0.get()
    }

    /// A new key to hand out: random, never 0 (which means "no key" on the wire).
    pub fn random() -> Self {
        Self(NonZeroU32::new(rand::random()).unwrap_or(NonZeroU32::MIN))
    }
}

impl fmt::Display for PolicyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What a request carried as its policy key: the base64 query's Policy key field
/// ([MS-ASHTTP] 2.2.1.1.1.1), else the `X-MS-PolicyKey` header (2.2.1.1.2.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SentPolicyKey {
    /// Nothing at all: the device does not know provisioning.
    Absent,
    /// Not a key ([`PolicyKey::parse`] refused it): the device is told to provision
    /// again, as for a key that is not its own.
    Malformed,
    /// A key; `None` for 0, a device not provisioned yet.
    Key(Option<PolicyKey>),
}

impl SentPolicyKey {
    /// Reads an `X-MS-PolicyKey` header value (`None`: no header).
    pub fn from_header(value: Option<&str>) -> Self {
        match value.map(PolicyKey::parse) {
            None => Self::Absent,
            Some(Ok(key)) => Self::Key(key),
            Some(Err(_)) => Self::Malformed,
        }
    }

    /// The key, if one (not 0) was sent.
    pub fn key(self) -> Option<PolicyKey> {
        match self {
            Self::Key(key) => key,
            Self::Absent | Self::Malformed => None,
        }
    }
}

/// A sync key easd handed out. On the wire it is its plain decimal number, never 0
/// and without leading zeros, well inside the opaque SyncKey string of [MS-ASCMD] 2.2.3.181.
/// Stored as that number too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IssuedSyncKey(NonZeroU64);

impl IssuedSyncKey {
    pub const FIRST: Self = Self(NonZeroU64::MIN);

    pub fn new(value: NonZeroU64) -> Self {
        Self(value)
    }

    /// The first key of a new sync state: random below 2^32 + 2, so a key from a
    /// forgotten state (device deleted, store restored) does not collide with a new one,
    /// and the counter has room for 2^64 - 2^32 rounds after it.
    pub fn fresh() -> Self {
        Self(NonZeroU64::MIN.saturating_add(u64::from(rand::random::<u32>())))
    }

    pub fn get(self) -> u64 {
        self.0.get()
    }

    /// The key that follows this one: the only way a key moves on. At the end of the
    /// counter (not reached in practice, see [`Self::fresh`]) it starts over at
    /// [`Self::FIRST`], which is neither this key nor the one before it, so the client's
    /// current and previous keys stay distinct; it never overflows.
    #[must_use]
    pub fn next(self) -> Self {
        self.0.checked_add(1).map_or(Self::FIRST, Self)
    }
}

/// The counter's first key (a state in a test, or filled in before its key is set).
impl Default for IssuedSyncKey {
    fn default() -> Self {
        Self::FIRST
    }
}

impl fmt::Display for IssuedSyncKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A SyncKey a client sent ([MS-ASCMD] 2.2.3.181).
///
/// Parsing never fails: a key easd cannot have issued is `Unknown`, which the command
/// answers with its "invalid sync key" status (Sync 3, FolderSync 9, GetItemEstimate
/// 4) rather than
/// failing the whole request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SyncKey {
    /// "0": the client starts over.
    Initial,
    Issued(IssuedSyncKey),
    Unknown,
}

impl SyncKey {
    pub fn parse(value: &str) -> Self {
        if value == "0" {
            return Self::Initial;
        }
        // Only the canonical form we write: a leading zero or sign is not ours.
        let canonical = value.starts_with(|c: char| matches!(c, '1'..='9'))
            && value.bytes().all(|b| b.is_ascii_digit());
        match value.parse::<NonZeroU64>() {
            Ok(n) if canonical => Self::Issued(IssuedSyncKey(n)),
            _ => Self::Unknown,
        }
    }
}

impl From<IssuedSyncKey> for SyncKey {
    fn from(key: IssuedSyncKey) -> Self {
        Self::Issued(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_id_rules() {
        assert_eq!(DeviceId::new("v140Device").unwrap().as_str(), "v140Device");
        assert!(DeviceId::new(&"A".repeat(32)).is_ok());
        assert_eq!(
            DeviceId::new(&"A".repeat(33)),
            Err(IdError::TooLong { len: 33, max: 32 })
        );
        assert_eq!(DeviceId::new(""), Err(IdError::Empty));
        assert_eq!(DeviceId::new("abc-def"), Err(IdError::BadChar('-')));
        assert_eq!(DeviceId::new("abc,def"), Err(IdError::BadChar(',')));
        assert_eq!(DeviceId::new("äbc"), Err(IdError::BadChar('ä')));
        assert_eq!("Abc123".parse::<DeviceId>().unwrap().to_string(), "Abc123");
    }

    #[test]
    fn guid_device_id_is_hex() {
        let id = DeviceId::from_guid_bytes([0xAB; 16]);
        assert_eq!(id.as_str(), "AB".repeat(16));
        assert_eq!(DeviceId::new(id.as_str()), Ok(id));
    }

    #[test]
    fn device_type_rules() {
        assert!(DeviceType::new("SmartPhone").is_ok());
        assert!(DeviceType::new("Outlook/16.0").is_ok());
        assert_eq!(DeviceType::new("a b"), Err(IdError::BadChar(' ')));
        assert_eq!(DeviceType::new(""), Err(IdError::Empty));
        assert!(DeviceType::new(&"x".repeat(65)).is_err());
    }

    #[test]
    fn opaque_id_rules() {
        assert!(CollectionId::new("5").is_ok());
        assert!(ServerId::new("5:12").is_ok());
        assert!(ServerId::new(&"x".repeat(64)).is_ok());
        assert!(ServerId::new(&"x".repeat(65)).is_err());
        assert_eq!(CollectionId::new("a\nb"), Err(IdError::BadChar('\n')));
        assert_eq!(
            CollectionId::new("a\u{7f}"),
            Err(IdError::BadChar('\u{7f}'))
        );
    }

    #[test]
    fn item_and_file_refs_round_trip_and_reject_garbage() {
        let item = ItemRef::new(3, 42);
        assert_eq!(item.to_string(), "3:42");
        assert_eq!(ItemRef::parse("3:42"), Some(item));
        let file = FileRef::new(item, 7);
        assert_eq!(file.to_string(), "3:42:7");
        assert_eq!(FileRef::parse("3:42:7"), Some(file));
        for bad in ["", "3", "3:", ":4", "a:b", "3:4:5", "+3:4", "3: 4", "-1:2"] {
            assert_eq!(ItemRef::parse(bad), None, "{bad:?}");
        }
        for bad in ["1:2:3:4", "1:2", "1:2:", "1:2:x", "1:2:4294967296"] {
            assert_eq!(FileRef::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn policy_key_parsing() {
        assert_eq!(
            PolicyKey::parse("2034202722").unwrap().unwrap().get(),
            2034202722
        );
        assert_eq!(PolicyKey::parse("0"), Ok(None));
        assert_eq!(
            PolicyKey::parse(" 7\t").unwrap().map(PolicyKey::get),
            Some(7)
        );
        assert_eq!(PolicyKey::parse(""), Err(IdError::Empty));
        assert_eq!(PolicyKey::parse("  "), Err(IdError::Empty));
        assert_eq!(PolicyKey::parse("4294967296"), Err(IdError::NotU32));
        assert_eq!(PolicyKey::parse("99999999999"), Err(IdError::NotU32));
        for bad in ["+5", "-1", "abc", "5a", "1 2"] {
            assert_eq!(PolicyKey::parse(bad), Err(IdError::NotU32), "{bad:?}");
        }
        assert_eq!(PolicyKey::new(7).unwrap().to_string(), "7");
        assert_eq!(SentPolicyKey::from_header(None), SentPolicyKey::Absent);
        assert_eq!(
            SentPolicyKey::from_header(Some("0")),
            SentPolicyKey::Key(None)
        );
        assert_eq!(
            SentPolicyKey::from_header(Some("+5")),
            SentPolicyKey::Malformed
        );
        assert_eq!(
            SentPolicyKey::from_header(Some("")),
            SentPolicyKey::Malformed
        );
    }

    #[test]
    fn sync_key_parsing() {
        assert_eq!(SyncKey::parse("0"), SyncKey::Initial);
        let key = IssuedSyncKey::FIRST.next();
        assert_eq!(SyncKey::parse(&key.to_string()), SyncKey::Issued(key));
        assert_ne!(SyncKey::parse(&u64::MAX.to_string()), SyncKey::Unknown);
        for garbled in [
            "",
            "00",
            "01",
            "+1",
            "-1",
            "{1}",
            "1a",
            "18446744073709551616",
        ] {
            assert_eq!(SyncKey::parse(garbled), SyncKey::Unknown, "{garbled:?}");
        }
        let last = IssuedSyncKey::new(NonZeroU64::MAX);
        assert_eq!(last.next(), IssuedSyncKey::FIRST);
        assert_eq!(IssuedSyncKey::FIRST.next().get(), 2);
        let fresh = IssuedSyncKey::fresh();
        assert!(fresh.get() <= u64::from(u32::MAX) + 1, "{fresh}");
        // Stored as the plain number; 0 is no key.
        assert_eq!(serde_json::to_string(&fresh).unwrap(), fresh.to_string());
        assert_eq!(serde_json::from_str::<IssuedSyncKey>("7").unwrap().get(), 7);
        assert!(serde_json::from_str::<IssuedSyncKey>("0").is_err());
    }
}
