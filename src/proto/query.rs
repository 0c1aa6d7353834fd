//! The request URI query of an ActiveSync POST ([MS-ASHTTP] 2.2.1.1.1): the plain
//! form (2.2.1.1.1.2) and the base64 form (2.2.1.1.1.1), plus the two headers that
//! carry what the plain form cannot (2.2.1.1.2.6, 2.2.1.1.2.8).

use std::fmt;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use crate::proto::command::Command;
use crate::proto::ids::{
    CollectionId, DeviceId, DeviceType, IdError, PolicyKey, SentPolicyKey, ServerId,
};
use crate::proto::version::{ProtocolVersion, VersionError};

/// Longest query string accepted. Real ones are well under 1 KiB; the base64 form
/// cannot exceed about 2.4 KiB even with every parameter at 255 bytes.
pub const MAX_QUERY_LEN: usize = 4096;

/// RFC 2045 alphabet as [MS-ASHTTP] 2.2.1.1.1.1 requires; padding optional because
/// some clients drop it.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Options bits of the base64 form ([MS-ASHTTP] 2.2.1.1.1.1.3).
const OPTION_SAVE_IN_SENT: u8 = 0x01;
const OPTION_ACCEPT_MULTIPART: u8 = 0x02;
/// Tag of the Options parameter ([MS-ASHTTP] 2.2.1.1.1.1.3).
const TAG_OPTIONS: u8 = 7;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryForm {
    Plain,
    Base64,
}

/// What the query string (and the version and policy-key headers) of one request say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EasRequest {
    pub command: Command,
    /// From the base64 Protocol version byte, else the `MS-ASProtocolVersion` header.
    pub version: ProtocolVersion,
    /// Plain `User=` or base64 tag 8; `None` when absent or empty.
    pub user: Option<String>,
    pub device_id: DeviceId,
    pub device_type: DeviceType,
    /// Base64 Policy key field, else the `X-MS-PolicyKey` header. A malformed header is
    /// not a malformed query: the gate answers it ("provision again").
    pub policy_key: SentPolicyKey,
    /// Base64 Locale (an LCID); the plain form has none. LCID 0 is no language, so it
    /// reads as `None`.
    pub locale: Option<u16>,
    pub collection_id: Option<CollectionId>,
    pub item_id: Option<ServerId>,
    pub attachment_name: Option<String>,
    pub long_id: Option<String>,
    pub occurrence: Option<String>,
    /// Plain `SaveInSent=T`, base64 Options bit 0x01.
    pub save_in_sent: bool,
    /// Base64 Options bit 0x02. The plain form uses the `MS-ASAcceptMultiPart` header
    /// instead ([MS-ASHTTP] 2.2.1.1.2.5), which the caller reads and sets.
    pub accept_multipart: bool,
    pub query_form: QueryForm,
    /// Unknown plain keys and base64 tags, for a debug log line. Escaped for logging.
    pub ignored_parameters: Vec<String>,
}

/// A byte field of the base64 form, named in truncation errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base64Field {
    ProtocolVersion,
    CommandCode,
    Locale,
    DeviceIdLength,
    DeviceId,
    PolicyKeyLength,
    PolicyKey,
    DeviceTypeLength,
    DeviceType,
    ParameterLength,
    ParameterValue,
}

impl fmt::Display for Base64Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ProtocolVersion => "protocol version",
            Self::CommandCode => "command code",
            Self::Locale => "locale",
            Self::DeviceIdLength => "device ID length",
            Self::DeviceId => "device ID",
            Self::PolicyKeyLength => "policy key length",
            Self::PolicyKey => "policy key",
            Self::DeviceTypeLength => "device type length",
            Self::DeviceType => "device type",
            Self::ParameterLength => "parameter length",
            Self::ParameterValue => "parameter value",
        })
    }
}

/// Why a request's query cannot be used. Each message is a sentence for a log line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("The request has no query string.")]
    Empty,
    #[error("The query string is {len} bytes long; at most {max} are accepted.")]
    TooLong { len: usize, max: usize },
    #[error("The query string has a malformed percent-escape.")]
    BadPercentEncoding,
    #[error("The query string is neither a plain query nor valid base64: {0}.")]
    Base64(base64::DecodeError),
    #[error("The base64 query ends inside its {0} field.")]
    Truncated(Base64Field),
    #[error("The {field} parameter is not valid UTF-8.")]
    NotUtf8 { field: &'static str },
    #[error("The {field} parameter contains a control character.")]
    ControlCharacter { field: &'static str },
    #[error("The required {0} parameter is missing.")]
    MissingParameter(&'static str),
    #[error("The {0} parameter appears more than once.")]
    DuplicateParameter(&'static str),
    #[error("The request names no protocol version (no MS-ASProtocolVersion header).")]
    MissingVersion,
    #[error("The request's protocol version is not supported: {0}.")]
    UnsupportedVersion(#[from] VersionError),
    #[error("Protocol version {0} may not use the base64-encoded query.")]
    Base64NotAllowed(ProtocolVersion),
    #[error("The command {0:?} is not an ActiveSync command this server knows.")]
    UnknownCommand(String),
    #[error("Command code {0} is not an ActiveSync command this server knows.")]
    UnknownCommandCode(u8),
    #[error("The {command} command does not exist in protocol version {version}.")]
    CommandUnavailable {
        command: Command,
        version: ProtocolVersion,
    },
    #[error("The DeviceId is invalid: {0}.")]
    DeviceId(IdError),
    #[error("The DeviceType is invalid: {0}.")]
    DeviceType(IdError),
    #[error("The CollectionId is invalid: {0}.")]
    CollectionId(IdError),
    #[error("The ItemId is invalid: {0}.")]
    ItemId(IdError),
    #[error("The base64 policy key field is {0} bytes long; only 0 or 4 are allowed.")]
    PolicyKeyLength(u8),
    #[error("The base64 Options parameter is {0} bytes long; it must be 1.")]
    OptionsLength(u8),
    #[error("SaveInSent must be T or F, not {0:?}.")]
    InvalidSaveInSent(String),
}

/// Why a request cannot be written as a base64 query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("The {field} value is {len} bytes long; the base64 query holds at most 255.")]
    TooLong { field: &'static str, len: usize },
}

/// Parses the query string of an ActiveSync POST with its `MS-ASProtocolVersion` and
/// `X-MS-PolicyKey` header values.
///
/// A query with `&` or a `=` before trailing padding is the plain form; anything
/// else is the base64 form, percent-decoded first because clients may escape
/// `+`, `/` and `=`.
pub fn parse_request(
    query: &str,
    protocol_header: Option<&str>,
    policy_key_header: Option<&str>,
) -> Result<EasRequest, QueryError> {
    if query.is_empty() {
        return Err(QueryError::Empty);
    }
    if query.len() > MAX_QUERY_LEN {
        return Err(QueryError::TooLong {
            len: query.len(),
            max: MAX_QUERY_LEN,
        });
    }
    let head = if is_plain(query) {
        parse_plain(query, protocol_header, policy_key_header)?
    } else {
        parse_base64(query, policy_key_header)?
    };
    head.into_request()
}

/// The DeviceId of a plain-form query that [`parse_request`] refused, such as the one an
/// OPTIONS request may carry (`User`, `DeviceId`, `DeviceType`, no `Cmd`). Only a hint,
/// for the login throttle's familiar devices: `None` when absent or malformed.
pub fn device_id_hint(query: &str) -> Option<DeviceId> {
    if query.len() > MAX_QUERY_LEN || !is_plain(query) {
        return None;
    }
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        if !percent_decode(key).ok()?.eq_ignore_ascii_case(b"DeviceId") {
            return None;
        }
        plain_device_id(percent_decode(value).ok()).ok()
    })
}

/// Base64 text never holds `&`, nor `=` except as trailing padding.
fn is_plain(query: &str) -> bool {
    query.trim_end_matches('=').contains(['&', '='])
}

/// The optional string parameters both forms carry ([MS-ASHTTP] 2.2.1.1.1.1.3,
/// 2.2.1.1.1.2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Param {
    AttachmentName,
    CollectionId,
    ItemId,
    LongId,
    Occurrence,
    User,
}

impl Param {
    const ALL: [Param; 6] = [
        Self::AttachmentName,
        Self::CollectionId,
        Self::ItemId,
        Self::LongId,
        Self::Occurrence,
        Self::User,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::AttachmentName => "AttachmentName",
            Self::CollectionId => "CollectionId",
            Self::ItemId => "ItemId",
            Self::LongId => "LongId",
            Self::Occurrence => "Occurrence",
            Self::User => "User",
        }
    }

    /// [MS-ASHTTP] 2.2.1.1.1.1.3; tags 2 and 5 are unassigned.
    fn tag(self) -> u8 {
        match self {
            Self::AttachmentName => 0,
            Self::CollectionId => 1,
            Self::ItemId => 3,
            Self::LongId => 4,
            Self::Occurrence => 6,
            Self::User => 8,
        }
    }

    fn from_tag(tag: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.tag() == tag)
    }
}

/// Raw values of the optional string parameters, each allowed once.
#[derive(Debug, Default)]
struct Params([Option<Vec<u8>>; Param::ALL.len()]);

impl Params {
    fn set(&mut self, param: Param, value: Vec<u8>) -> Result<(), QueryError> {
        set_once(&mut self.0[param as usize], param.name(), value)
    }

    /// The value as text; an empty value counts as absent.
    fn text(&mut self, param: Param) -> Result<Option<String>, QueryError> {
        self.0[param as usize]
            .take()
            .filter(|v| !v.is_empty())
            .map(|v| text(param.name(), v))
            .transpose()
    }

    fn id<T>(
        &mut self,
        param: Param,
        new: impl Fn(&str) -> Result<T, IdError>,
        error: impl Fn(IdError) -> QueryError,
    ) -> Result<Option<T>, QueryError> {
        self.text(param)?
            .map(|s| new(&s).map_err(error))
            .transpose()
    }
}

fn set_once(
    slot: &mut Option<Vec<u8>>,
    name: &'static str,
    value: Vec<u8>,
) -> Result<(), QueryError> {
    match slot {
        Some(_) => Err(QueryError::DuplicateParameter(name)),
        None => {
            *slot = Some(value);
            Ok(())
        }
    }
}

/// UTF-8 without control characters, which have no place in ids and would let a
/// client forge log lines.
fn text(field: &'static str, bytes: Vec<u8>) -> Result<String, QueryError> {
    let s = String::from_utf8(bytes).map_err(|_| QueryError::NotUtf8 { field })?;
    if s.chars().any(char::is_control) {
        return Err(QueryError::ControlCharacter { field });
    }
    Ok(s)
}

/// A query of either form, its string parameters not yet validated.
#[derive(Debug)]
struct Head {
    command: Command,
    version: ProtocolVersion,
    device_id: DeviceId,
    device_type: DeviceType,
    policy_key: SentPolicyKey,
    locale: Option<u16>,
    save_in_sent: bool,
    accept_multipart: bool,
    form: QueryForm,
    params: Params,
    ignored: Vec<String>,
}

impl Head {
    fn into_request(mut self) -> Result<EasRequest, QueryError> {
        if !self.command.available_in(self.version) {
            return Err(QueryError::CommandUnavailable {
                command: self.command,
                version: self.version,
            });
        }
        let p = &mut self.params;
        Ok(EasRequest {
            user: p.text(Param::User)?,
            collection_id: p.id(
                Param::CollectionId,
                CollectionId::new,
                QueryError::CollectionId,
            )?,
            item_id: p.id(Param::ItemId, ServerId::new, QueryError::ItemId)?,
            attachment_name: p.text(Param::AttachmentName)?,
            long_id: p.text(Param::LongId)?,
            occurrence: p.text(Param::Occurrence)?,
            command: self.command,
            version: self.version,
            device_id: self.device_id,
            device_type: self.device_type,
            policy_key: self.policy_key,
            locale: self.locale,
            save_in_sent: self.save_in_sent,
            accept_multipart: self.accept_multipart,
            query_form: self.form,
            ignored_parameters: self.ignored,
        })
    }
}

// ---- plain form ([MS-ASHTTP] 2.2.1.1.1.2) ----

/// Keys the plain form knows besides the shared string parameters.
#[derive(Debug, Default)]
struct PlainFixed {
    cmd: Option<Vec<u8>>,
    device_id: Option<Vec<u8>>,
    device_type: Option<Vec<u8>>,
    save_in_sent: Option<Vec<u8>>,
}

fn parse_plain(
    query: &str,
    protocol_header: Option<&str>,
    policy_key_header: Option<&str>,
) -> Result<Head, QueryError> {
    let mut fixed = PlainFixed::default();
    let mut params = Params::default();
    let mut ignored = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode(key)?;
        let value = percent_decode(value)?;
        store_plain(&key, value, &mut fixed, &mut params, &mut ignored)?;
    }
    let command = plain_command(fixed.cmd)?;
    let version = protocol_header.ok_or(QueryError::MissingVersion)?;
    Ok(Head {
        command,
        version: ProtocolVersion::parse(version)?,
        device_id: plain_device_id(fixed.device_id)?,
        device_type: plain_device_type(fixed.device_type)?,
        policy_key: SentPolicyKey::from_header(policy_key_header),
        locale: None,
        save_in_sent: plain_save_in_sent(fixed.save_in_sent)?,
        accept_multipart: false,
        form: QueryForm::Plain,
        params,
        ignored,
    })
}

/// Files one key/value pair. Keys match ignoring ASCII case: RFC 5234 quoted strings,
/// which the 2.2.1.1.1.2 ABNF uses for `"Cmd="` etc., are case-insensitive.
fn store_plain(
    key: &[u8],
    value: Vec<u8>,
    fixed: &mut PlainFixed,
    params: &mut Params,
    ignored: &mut Vec<String>,
) -> Result<(), QueryError> {
    let is = |name: &str| key.eq_ignore_ascii_case(name.as_bytes());
    if is("Cmd") {
        set_once(&mut fixed.cmd, "Cmd", value)
    } else if is("DeviceId") {
        set_once(&mut fixed.device_id, "DeviceId", value)
    } else if is("DeviceType") {
        set_once(&mut fixed.device_type, "DeviceType", value)
    } else if is("SaveInSent") {
        set_once(&mut fixed.save_in_sent, "SaveInSent", value)
    } else if let Some(param) = Param::ALL.into_iter().find(|p| is(p.name())) {
        params.set(param, value)
    } else {
        ignored.push(String::from_utf8_lossy(key).escape_debug().to_string());
        Ok(())
    }
}

fn plain_command(cmd: Option<Vec<u8>>) -> Result<Command, QueryError> {
    let cmd = cmd.ok_or(QueryError::MissingParameter("Cmd"))?;
    let name = String::from_utf8_lossy(&cmd);
    Command::from_name(&name).ok_or_else(|| QueryError::UnknownCommand(name.into_owned()))
}

fn plain_device_id(value: Option<Vec<u8>>) -> Result<DeviceId, QueryError> {
    let value = value.ok_or(QueryError::MissingParameter("DeviceId"))?;
    DeviceId::new(&text("DeviceId", value)?).map_err(QueryError::DeviceId)
}

fn plain_device_type(value: Option<Vec<u8>>) -> Result<DeviceType, QueryError> {
    let value = value.ok_or(QueryError::MissingParameter("DeviceType"))?;
    DeviceType::new(&text("DeviceType", value)?).map_err(QueryError::DeviceType)
}

/// [MS-ASHTTP] 2.2.1.1.1.2.5: T or F, F by default.
fn plain_save_in_sent(value: Option<Vec<u8>>) -> Result<bool, QueryError> {
    match value.as_deref() {
        None | Some(b"F" | b"f") => Ok(false),
        Some(b"T" | b"t") => Ok(true),
        Some(other) => Err(QueryError::InvalidSaveInSent(
            String::from_utf8_lossy(other).into_owned(),
        )),
    }
}

/// Decodes `%XX` escapes. `+` stays `+`: the ABNF values are VCHAR, which has no
/// space, and user names such as `a+b@example.com` reach us unescaped.
pub fn percent_decode(s: &str) -> Result<Vec<u8>, QueryError> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b != b'%' {
            out.push(b);
            continue;
        }
        let hi = bytes.next().and_then(hex_digit);
        let lo = bytes.next().and_then(hex_digit);
        match (hi, lo) {
            (Some(hi), Some(lo)) => out.push((hi << 4) | lo),
            _ => return Err(QueryError::BadPercentEncoding),
        }
    }
    Ok(out)
}

fn hex_digit(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

// ---- base64 form ([MS-ASHTTP] 2.2.1.1.1.1) ----

/// Bounds-checked reads over the decoded bytes; running out is `Truncated`.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize, field: Base64Field) -> Result<&'a [u8], QueryError> {
        let (head, rest) = self
            .0
            .split_at_checked(len)
            .ok_or(QueryError::Truncated(field))?;
        self.0 = rest;
        Ok(head)
    }

    fn byte(&mut self, field: Base64Field) -> Result<u8, QueryError> {
        self.array::<1>(field).map(|[b]| b)
    }

    fn array<const N: usize>(&mut self, field: Base64Field) -> Result<[u8; N], QueryError> {
        let bytes = self.take(N, field)?;
        bytes.try_into().map_err(|_| QueryError::Truncated(field))
    }

    /// A 1-byte length followed by that many bytes.
    fn counted(
        &mut self,
        len_field: Base64Field,
        field: Base64Field,
    ) -> Result<&'a [u8], QueryError> {
        let len = self.byte(len_field)?;
        self.take(usize::from(len), field)
    }

    /// The next parameter's tag, or `None` at the end of the query.
    fn next_tag(&mut self) -> Option<u8> {
        let (&tag, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(tag)
    }
}

fn parse_base64(query: &str, policy_key_header: Option<&str>) -> Result<Head, QueryError> {
    let bytes = BASE64
        .decode(percent_decode(query)?)
        .map_err(QueryError::Base64)?;
    let mut r = Reader(&bytes);
    let version = ProtocolVersion::from_base64_byte(r.byte(Base64Field::ProtocolVersion)?)?;
    // 2.2.1.1.1.1 NOTE: 12.0 clients MUST use the plain form.
    if !version.supports_base64_query() {
        return Err(QueryError::Base64NotAllowed(version));
    }
    let code = r.byte(Base64Field::CommandCode)?;
    let command = Command::from_code(code).ok_or(QueryError::UnknownCommandCode(code))?;
    let locale = u16::from_le_bytes(r.array(Base64Field::Locale)?);
    let device_id =
        base64_device_id(r.counted(Base64Field::DeviceIdLength, Base64Field::DeviceId)?)?;
    let policy_key = base64_policy_key(&mut r, policy_key_header)?;
    let device_type = r.counted(Base64Field::DeviceTypeLength, Base64Field::DeviceType)?;
    let device_type = text("DeviceType", device_type.to_vec())?;
    let mut head = Head {
        command,
        version,
        device_id,
        device_type: DeviceType::new(&device_type).map_err(QueryError::DeviceType)?,
        policy_key,
        locale: (locale != 0).then_some(locale),
        save_in_sent: false,
        accept_multipart: false,
        form: QueryForm::Base64,
        params: Params::default(),
        ignored: Vec::new(),
    };
    read_base64_params(&mut r, &mut head)?;
    Ok(head)
}

/// "A string or a GUID" (2.2.1.1.1.1): text that meets the plain-form rule is taken
/// as is; any other 16 bytes are a binary GUID, written as hex.
fn base64_device_id(bytes: &[u8]) -> Result<DeviceId, QueryError> {
    let as_text = std::str::from_utf8(bytes).map(DeviceId::new);
    if let Ok(Ok(id)) = as_text {
        return Ok(id);
    }
    if let Ok(guid) = <[u8; 16]>::try_from(bytes) {
        return Ok(DeviceId::from_guid_bytes(guid));
    }
    match as_text {
        Ok(Err(e)) => Err(QueryError::DeviceId(e)),
        _ => Err(QueryError::NotUtf8 { field: "DeviceId" }),
    }
}

/// Policy key length is 0 or 4, the key a little-endian u32 (2.2.1.1.1.1). With no
/// key in the query (or a key of 0, read as none), fall back to the header, which such
/// clients SHOULD NOT send but may.
fn base64_policy_key(
    r: &mut Reader<'_>,
    header: Option<&str>,
) -> Result<SentPolicyKey, QueryError> {
    let key = match r.byte(Base64Field::PolicyKeyLength)? {
        0 => None,
        4 => PolicyKey::new(u32::from_le_bytes(r.array(Base64Field::PolicyKey)?)),
        n => return Err(QueryError::PolicyKeyLength(n)),
    };
    Ok(match key {
        Some(key) => SentPolicyKey::Key(Some(key)),
        None => SentPolicyKey::from_header(header),
    })
}

/// Tag, length, value triples to the end (2.2.1.1.1.1.1); unknown tags are skipped
/// and recorded.
fn read_base64_params(r: &mut Reader<'_>, head: &mut Head) -> Result<(), QueryError> {
    let mut options = None;
    while let Some(tag) = r.next_tag() {
        let value = r.counted(Base64Field::ParameterLength, Base64Field::ParameterValue)?;
        if tag == TAG_OPTIONS {
            set_once(&mut options, "Options", value.to_vec())?;
        } else if let Some(param) = Param::from_tag(tag) {
            head.params.set(param, value.to_vec())?;
        } else {
            head.ignored.push(format!("tag {tag}"));
        }
    }
    if let Some(options) = options {
        apply_options(&options, head)?;
    }
    Ok(())
}

fn apply_options(value: &[u8], head: &mut Head) -> Result<(), QueryError> {
    let [bits] = value else {
        let len = u8::try_from(value.len()).unwrap_or(u8::MAX);
        return Err(QueryError::OptionsLength(len));
    };
    head.save_in_sent = bits & OPTION_SAVE_IN_SENT != 0;
    head.accept_multipart = bits & OPTION_ACCEPT_MULTIPART != 0;
    let unknown = bits & !(OPTION_SAVE_IN_SENT | OPTION_ACCEPT_MULTIPART);
    if unknown != 0 {
        head.ignored.push(format!("Options bits {unknown:#04x}"));
    }
    Ok(())
}

// ---- encoding, for tests and easd's own test client ----

/// The optional string parameters of `req`, in tag order.
fn string_params(req: &EasRequest) -> [(Param, Option<&str>); 6] {
    [
        (Param::AttachmentName, req.attachment_name.as_deref()),
        (
            Param::CollectionId,
            req.collection_id.as_ref().map(CollectionId::as_str),
        ),
        (Param::ItemId, req.item_id.as_ref().map(ServerId::as_str)),
        (Param::LongId, req.long_id.as_deref()),
        (Param::Occurrence, req.occurrence.as_deref()),
        (Param::User, req.user.as_deref()),
    ]
}

/// Writes `req` as a base64 query, with `+`, `/` and `=` percent-escaped so that no
/// proxy reads them as form syntax. `query_form` and `ignored_parameters` are not
/// written. Fails only when a string is longer than a 1-byte length allows.
pub fn encode_base64_query(req: &EasRequest) -> Result<String, EncodeError> {
    let mut out = vec![req.version.base64_byte(), req.command.code()];
    out.extend(req.locale.unwrap_or(0).to_le_bytes());
    push_counted(&mut out, "DeviceId", req.device_id.as_str())?;
    match req.policy_key.key() {
        Some(key) => {
            out.push(4);
            out.extend(key.get().to_le_bytes());
        }
        None => out.push(0),
    }
    push_counted(&mut out, "DeviceType", req.device_type.as_str())?;
    for (param, value) in string_params(req) {
        if let Some(value) = value {
            out.push(param.tag());
            push_counted(&mut out, param.name(), value)?;
        }
    }
    let mut options = 0;
    if req.save_in_sent {
        options |= OPTION_SAVE_IN_SENT;
    }
    if req.accept_multipart {
        options |= OPTION_ACCEPT_MULTIPART;
    }
    if options != 0 {
        out.extend([TAG_OPTIONS, 1, options]);
    }
    Ok(percent_encode(&BASE64.encode(out)))
}

fn push_counted(out: &mut Vec<u8>, field: &'static str, value: &str) -> Result<(), EncodeError> {
    let len = u8::try_from(value.len()).map_err(|_| EncodeError::TooLong {
        field,
        len: value.len(),
    })?;
    out.push(len);
    out.extend_from_slice(value.as_bytes());
    Ok(())
}

/// The `X-MS-PolicyKey` header that carries `req`'s key next to a plain query (`None`:
/// no header). A malformed key is written as one that reads back as malformed.
pub fn policy_key_header(req: &EasRequest) -> Option<String> {
    match req.policy_key {
        SentPolicyKey::Absent => None,
        SentPolicyKey::Malformed => Some("-".to_owned()),
        SentPolicyKey::Key(key) => Some(key.map_or(0, PolicyKey::get).to_string()),
    }
}

/// Writes `req` as a plain query in the 2.2.1.1.1.2 order. The version, policy key,
/// locale and AcceptMultiPart travel elsewhere (headers) or nowhere, so they are not
/// written; neither are `query_form` and `ignored_parameters`.
pub fn encode_plain_query(req: &EasRequest) -> String {
    let mut pairs = vec![("Cmd", req.command.name())];
    pairs.extend(req.user.as_deref().map(|u| ("User", u)));
    pairs.push(("DeviceId", req.device_id.as_str()));
    pairs.push(("DeviceType", req.device_type.as_str()));
    for (param, value) in string_params(req) {
        if param != Param::User {
            pairs.extend(value.map(|v| (param.name(), v)));
        }
    }
    if req.save_in_sent {
        pairs.push(("SaveInSent", "T"));
    }
    let pairs: Vec<String> = pairs
        .into_iter()
        .map(|(k, v)| format!("{k}={}", percent_encode(v)))
        .collect();
    pairs.join("&")
}

/// Escapes everything but RFC 3986 unreserved characters.
pub fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
