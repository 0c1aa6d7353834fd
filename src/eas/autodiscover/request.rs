//! Reading an Autodiscover request body ([MS-ASCMD] 2.2.1.1, [MS-OXDSCLI] 2.2.3): a pure
//! function of the bytes, so it can be fuzzed and tested without a server.
//!
//! ```xml
//! <Autodiscover xmlns="…/autodiscover/mobilesync/requestschema/2006">
//!   <Request>
//!     <EMailAddress>chris@example.com</EMailAddress>
//!     <AcceptableResponseSchema>…/mobilesync/responseschema/2006</AcceptableResponseSchema>
//!   </Request>
//! </Autodiscover>
//! ```

use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

/// The request namespace of the ActiveSync schema ([MS-ASCMD] 2.2.1.1).
pub const MOBILESYNC_REQUEST: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006";
/// Its response namespace: what AcceptableResponseSchema names to get the ActiveSync answer.
pub const MOBILESYNC_RESPONSE: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006";
/// The request namespace of Outlook's schema ([MS-OXDSCLI] 2.2.3).
pub const OUTLOOK_REQUEST: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006";
/// Its response namespace ([MS-OXDSCLI] 2.2.4).
pub const OUTLOOK_RESPONSE: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a";

/// Elements nested deeper than this are refused: the request has three levels.
const MAX_DEPTH: usize = 8;
/// The longest text kept (an address is at most 254 characters, RFC 5321 4.5.3.1.3).
const MAX_TEXT: usize = 1024;

/// The family of an Autodiscover exchange: which request namespace, which answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// ActiveSync devices ([MS-ASCMD] 2.2.1.1).
    MobileSync,
    /// Outlook's plain-old-XML schema ([MS-OXDSCLI]).
    Outlook,
}

impl Schema {
    /// The family a request namespace belongs to.
    fn of_request(namespace: &str) -> Option<Schema> {
        match namespace {
            MOBILESYNC_REQUEST => Some(Schema::MobileSync),
            OUTLOOK_REQUEST => Some(Schema::Outlook),
            _ => None,
        }
    }

    /// The family whose answer an AcceptableResponseSchema value asks for.
    fn of_response(namespace: &str) -> Option<Schema> {
        match namespace {
            MOBILESYNC_RESPONSE => Some(Schema::MobileSync),
            OUTLOOK_RESPONSE => Some(Schema::Outlook),
            _ => None,
        }
    }

    /// The namespace of this family's Response element.
    pub fn response_namespace(self) -> &'static str {
        match self {
            Schema::MobileSync => MOBILESYNC_RESPONSE,
            Schema::Outlook => OUTLOOK_RESPONSE,
        }
    }
}

/// A request understood: the answer to give (chosen by AcceptableResponseSchema, else
/// the request's own family) and the address asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutodiscoverRequest {
    pub answer: Schema,
    pub email: String,
}

/// Why a request was refused, and in which schema to say so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The family of the refused request as far as it could be told (ActiveSync when not).
    pub schema: Schema,
    pub code: FrameworkError,
    pub reason: RequestError,
}

/// The framework error codes of a Response/Error ([MS-ASCMD] 2.2.3.64).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameworkError {
    /// 600: an invalid request was sent.
    InvalidRequest,
    /// 601: no provider for the AcceptableResponseSchema asked for.
    NoProvider,
}

impl FrameworkError {
    pub fn code(self) -> u16 {
        match self {
            FrameworkError::InvalidRequest => 600,
            FrameworkError::NoProvider => 601,
        }
    }

    /// The Message of the error, as the [MS-ASCMD] 4.2.2 example words it.
    pub fn message(self) -> &'static str {
        match self {
            FrameworkError::InvalidRequest => "Invalid Request",
            FrameworkError::NoProvider => "Provider is not available",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("XML syntax error at byte {position}: {message}")]
    Syntax { position: u64, message: String },
    #[error("no root element")]
    NoRoot,
    #[error("root element <{0}> is not Autodiscover")]
    WrongRoot(String),
    #[error("unknown request namespace {0:?}")]
    UnknownNamespace(String),
    #[error("no Request element")]
    NoRequest,
    /// [MS-ASCMD] test suite: two Request elements are an invalid request (600).
    #[error("more than one Request element")]
    TwoRequests,
    #[error("no EMailAddress in the request")]
    NoAddress,
    #[error("{0:?} is not an e-mail address")]
    BadAddress(String),
    #[error("AcceptableResponseSchema {0:?} is not offered")]
    UnknownResponseSchema(String),
    #[error("elements nested deeper than {MAX_DEPTH}")]
    TooDeep,
    #[error("text longer than {MAX_TEXT} bytes")]
    TooLong,
    #[error("unsupported XML construct: {0}")]
    Unsupported(&'static str),
}

/// What the reader collected inside the one Request element.
#[derive(Default)]
struct Fields {
    email: Option<String>,
    acceptable: Option<String>,
}

/// Reads a request body.
pub fn parse(body: &[u8]) -> Result<AutodiscoverRequest, Rejection> {
    let mut schema = None;
    let collected = read(body, &mut schema);
    let schema = schema.unwrap_or(Schema::MobileSync);
    let reject = |code, reason| Rejection {
        schema,
        code,
        reason,
    };
    let fields = collected.map_err(|e| reject(FrameworkError::InvalidRequest, e))?;
    let answer = match fields.acceptable {
        None => schema,
        Some(ns) => Schema::of_response(ns.trim()).ok_or_else(|| {
            reject(
                FrameworkError::NoProvider,
                RequestError::UnknownResponseSchema(ns),
            )
        })?,
    };
    let email = fields
        .email
        .map(|e| e.trim().to_owned())
        .filter(|e| !e.is_empty())
        .ok_or_else(|| reject(FrameworkError::InvalidRequest, RequestError::NoAddress))?;
    if !is_address(&email) {
        return Err(reject(
            FrameworkError::InvalidRequest,
            RequestError::BadAddress(email),
        ));
    }
    Ok(AutodiscoverRequest { answer, email })
}

/// `local@domain` with no spaces or angle brackets: enough to tell an address from junk;
/// whether it names an account is the caller's question.
fn is_address(s: &str) -> bool {
    matches!(s.split_once('@'), Some((local, domain))
        if !local.is_empty() && !domain.is_empty() && !domain.contains('@'))
        && !s.contains(|c: char| c.is_whitespace() || c == '<' || c == '>')
}

/// Which child of Request a text belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Email,
    Acceptable,
    Other,
}

/// Walks the document, setting `schema` as soon as the root's namespace tells it.
fn read(body: &[u8], schema: &mut Option<Schema>) -> Result<Fields, RequestError> {
    let mut reader = NsReader::from_reader(body);
    let mut depth = 0usize;
    let mut requests = 0u32;
    let mut saw_root = false;
    let mut field = None;
    let mut fields = Fields::default();
    loop {
        let (ns, event) = match reader.read_resolved_event() {
            Ok((ns, event)) => (namespace(ns), event.into_owned()),
            Err(e) => {
                return Err(RequestError::Syntax {
                    position: reader.buffer_position(),
                    message: e.to_string(),
                });
            }
        };
        match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                if depth == 0 && saw_root {
                    return Err(RequestError::Syntax {
                        position: reader.buffer_position(),
                        message: "more than one root element".into(),
                    });
                }
                let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                let is_empty = matches!(event, Event::Empty(_));
                if depth == 0 {
                    saw_root = true;
                    if name != "Autodiscover" {
                        return Err(RequestError::WrongRoot(name));
                    }
                    *schema = Some(
                        Schema::of_request(&ns)
                            .ok_or_else(|| RequestError::UnknownNamespace(ns.clone()))?,
                    );
                } else if depth == 1 && name == "Request" {
                    requests += 1;
                    if requests > 1 {
                        return Err(RequestError::TwoRequests);
                    }
                } else if depth == 2 && requests == 1 {
                    field = Some(match name.as_str() {
                        "EMailAddress" => Field::Email,
                        "AcceptableResponseSchema" => Field::Acceptable,
                        // LegacyDN and the like: not needed to answer.
                        _ => Field::Other,
                    });
                }
                if !is_empty {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Err(RequestError::TooDeep);
                    }
                } else if depth == 2 {
                    field = None;
                }
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                if depth <= 2 {
                    field = None;
                }
            }
            Event::Text(text) => {
                let text = text.unescape().map_err(|e| RequestError::Syntax {
                    position: reader.buffer_position(),
                    message: e.to_string(),
                })?;
                append(&mut fields, field, depth, &text)?;
            }
            Event::CData(data) => {
                let text = String::from_utf8_lossy(&data);
                append(&mut fields, field, depth, &text)?;
            }
            Event::DocType(_) => return Err(RequestError::Unsupported("DOCTYPE")),
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
    if !saw_root {
        return Err(RequestError::NoRoot);
    }
    if depth != 0 {
        return Err(RequestError::Syntax {
            position: reader.buffer_position(),
            message: "document ends inside an element".into(),
        });
    }
    if requests == 0 {
        return Err(RequestError::NoRequest);
    }
    Ok(fields)
}

/// Adds text inside a Request child to its field.
fn append(
    fields: &mut Fields,
    field: Option<Field>,
    depth: usize,
    text: &str,
) -> Result<(), RequestError> {
    let slot = match field {
        Some(Field::Email) if depth == 3 => &mut fields.email,
        Some(Field::Acceptable) if depth == 3 => &mut fields.acceptable,
        _ => return Ok(()),
    };
    let value = slot.get_or_insert_with(String::new);
    if value.len() + text.len() > MAX_TEXT {
        return Err(RequestError::TooLong);
    }
    value.push_str(text);
    Ok(())
}

fn namespace(ns: ResolveResult<'_>) -> String {
    match ns {
        ResolveResult::Bound(ns) => String::from_utf8_lossy(ns.as_ref()).into_owned(),
        ResolveResult::Unbound | ResolveResult::Unknown(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(ns: &str, inner: &str) -> Vec<u8> {
        format!(r#"<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="{ns}">{inner}</Autodiscover>"#)
            .into_bytes()
    }

    fn request(email: &str, acceptable: &str) -> String {
        format!(
            "<Request><EMailAddress>{email}</EMailAddress>\
             <AcceptableResponseSchema>{acceptable}</AcceptableResponseSchema></Request>"
        )
    }

    #[test]
    fn each_schema_gets_its_answer() {
        let r = parse(&body(
            MOBILESYNC_REQUEST,
            &request("chris@example.com", MOBILESYNC_RESPONSE),
        ))
        .unwrap();
        assert_eq!(
            r,
            AutodiscoverRequest {
                answer: Schema::MobileSync,
                email: "chris@example.com".into()
            }
        );
        let r = parse(&body(
            OUTLOOK_REQUEST,
            &request(" chris@example.com\n", OUTLOOK_RESPONSE),
        ))
        .unwrap();
        assert_eq!(r.answer, Schema::Outlook);
        assert_eq!(r.email, "chris@example.com");
    }

    #[test]
    fn acceptable_response_schema_chooses_and_its_absence_follows_the_request() {
        let r = parse(&body(
            OUTLOOK_REQUEST,
            &request("a@b.c", MOBILESYNC_RESPONSE),
        ))
        .unwrap();
        assert_eq!(r.answer, Schema::MobileSync);
        let r = parse(&body(
            OUTLOOK_REQUEST,
            "<Request><EMailAddress>a@b.c</EMailAddress></Request>",
        ))
        .unwrap();
        assert_eq!(r.answer, Schema::Outlook);
    }

    #[test]
    fn a_prefixed_namespace_is_the_same_namespace() {
        let xml = format!(
            r#"<a:Autodiscover xmlns:a="{MOBILESYNC_REQUEST}"><a:Request><a:EMailAddress>a@b.c</a:EMailAddress></a:Request></a:Autodiscover>"#
        );
        assert_eq!(parse(xml.as_bytes()).unwrap().answer, Schema::MobileSync);
    }

    #[track_caller]
    fn rejected(body: &[u8]) -> Rejection {
        parse(body).expect_err("refused")
    }

    #[test]
    fn bad_requests_are_600_in_the_requests_schema() {
        let r = rejected(b"<Autodiscover");
        assert_eq!(r.code, FrameworkError::InvalidRequest);
        assert_eq!(r.schema, Schema::MobileSync);
        assert!(matches!(r.reason, RequestError::Syntax { .. }), "{r:?}");
        let r = rejected(&body(OUTLOOK_REQUEST, "<Request></Request>"));
        assert_eq!(
            (r.schema, r.code, r.reason),
            (
                Schema::Outlook,
                FrameworkError::InvalidRequest,
                RequestError::NoAddress
            )
        );
        let two = format!(
            "{}{}",
            request("a@b.c", MOBILESYNC_RESPONSE),
            request("a@b.c", MOBILESYNC_RESPONSE)
        );
        assert_eq!(
            rejected(&body(MOBILESYNC_REQUEST, &two)).reason,
            RequestError::TwoRequests
        );
        assert_eq!(
            rejected(&body(MOBILESYNC_REQUEST, "")).reason,
            RequestError::NoRequest
        );
        assert_eq!(rejected(b"").reason, RequestError::NoRoot);
        assert_eq!(
            rejected(b"<Other/>").reason,
            RequestError::WrongRoot("Other".into())
        );
        assert_eq!(
            rejected(&body("urn:other", "")).reason,
            RequestError::UnknownNamespace("urn:other".into())
        );
        assert_eq!(
            rejected(&body(
                MOBILESYNC_REQUEST,
                &request("not an address", MOBILESYNC_RESPONSE)
            ))
            .reason,
            RequestError::BadAddress("not an address".into())
        );
        let r = rejected(b"<!DOCTYPE x [<!ENTITY a 'b'>]><Autodiscover/>");
        assert_eq!(r.reason, RequestError::Unsupported("DOCTYPE"));
    }

    #[test]
    fn an_unknown_response_schema_is_601() {
        let r = rejected(&body(
            MOBILESYNC_REQUEST,
            &request("a@b.c", "urn:something-else"),
        ));
        assert_eq!(r.code, FrameworkError::NoProvider);
        assert_eq!(
            r.reason,
            RequestError::UnknownResponseSchema("urn:something-else".into())
        );
    }

    #[test]
    fn depth_and_text_are_bounded() {
        let deep = "<x>".repeat(20) + &"</x>".repeat(20);
        let r = rejected(&body(
            MOBILESYNC_REQUEST,
            &format!("<Request>{deep}</Request>"),
        ));
        assert_eq!(r.reason, RequestError::TooDeep);
        let long = "a".repeat(MAX_TEXT) + "@b.c";
        let r = rejected(&body(
            MOBILESYNC_REQUEST,
            &request(&long, MOBILESYNC_RESPONSE),
        ));
        assert_eq!(r.reason, RequestError::TooLong);
    }

    #[test]
    fn text_outside_the_request_fields_is_ignored() {
        let inner =
            "<Request><LegacyDN>/o=x</LegacyDN><EMailAddress>a@b.c</EMailAddress></Request>";
        assert_eq!(
            parse(&body(MOBILESYNC_REQUEST, inner)).unwrap().email,
            "a@b.c"
        );
    }
}
