//! Writing Autodiscover answers ([MS-ASCMD] 2.2.1.1 and 4.2, [MS-OXDSCLI] 2.2.4): pure
//! functions of what to say, the XML built here and nowhere else.

use std::fmt::Write as _;

use quick_xml::escape::escape;

use super::request::{FrameworkError, Schema};

/// The namespace of the outer Autodiscover element of every answer.
pub const AUTODISCOVER_RESPONSE: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006";

const DECLARATION: &str = r#"<?xml version="1.0" encoding="utf-8"?>"#;

/// Exchange 2010 and later answer this Culture ([MS-ASCMD] 2.2.3.38, 4.2.1).
const CULTURE: &str = "en:us";

/// Who an answer is for.
pub struct User<'a> {
    pub display_name: &'a str,
    pub email: &'a str,
}

/// The settings answer in `schema`: where the ActiveSync endpoint is (`url`).
pub fn settings(schema: Schema, user: &User<'_>, url: &str) -> String {
    let name = if user.display_name.is_empty() {
        user.email
    } else {
        user.display_name
    };
    let (name, email, url) = (escape(name), escape(user.email), escape(url));
    let mut out = open(schema);
    // Infallible: `fmt::Write` for `String` never fails.
    let _ = match schema {
        // [MS-ASCMD] 2.2.3.6 Action, 2.2.3.168.1 Settings, 2.2.3.164 Server, 2.2.3.186.1
        // Type, 2.2.3.188 Url, 2.2.3.112 Name (the same URL, as Exchange sends it).
        Schema::MobileSync => write!(
            out,
            "<Culture>{CULTURE}</Culture>\
             <User><DisplayName>{name}</DisplayName><EMailAddress>{email}</EMailAddress></User>\
             <Action><Settings><Server><Type>MobileSync</Type><Url>{url}</Url>\
             <Name>{url}</Name></Server></Settings></Action>"
        ),
        // [MS-OXDSCLI] 2.2.4.1.1.2: Account with AccountType email and Action settings,
        // one Protocol per way in. easd's only way in is ActiveSync, which the POX Type
        // list (EXCH, EXPR, EXHTTP, WEB, POP3, SMTP, IMAP, DAV) has no value for: the
        // Protocol says so with the mobilesync schema's own Type, so a client that knows
        // ActiveSync finds the URL, and one that does not ignores a type it cannot use
        // rather than being sent to a protocol easd does not serve.
        Schema::Outlook => {
            let ssl = if url.starts_with("https:") {
                "on"
            } else {
                "off"
            };
            write!(
                out,
                "<User><DisplayName>{name}</DisplayName>\
                 <AutoDiscoverSMTPAddress>{email}</AutoDiscoverSMTPAddress></User>\
                 <Account><AccountType>email</AccountType><Action>settings</Action>\
                 <Protocol><Type>MobileSync</Type><Server>{url}</Server>\
                 <LoginName>{email}</LoginName><DomainRequired>off</DomainRequired>\
                 <SPA>off</SPA><SSL>{ssl}</SSL><AuthRequired>on</AuthRequired>\
                 <AuthPackage>basic</AuthPackage></Protocol></Account>"
            )
        }
    };
    close(out)
}

/// The error code for an address the server cannot configure ([MS-OXDSCLI] 2.2.4.1.1.3,
/// the ErrorCode table: 500, "the email address cannot be found").
const ADDRESS_NOT_FOUND: u16 = 500;
const ADDRESS_NOT_FOUND_MESSAGE: &str = "The e-mail address cannot be found.";
/// [MS-ASCMD] 2.2.3.177.1: the one error Status of the mobilesync schema.
const PROTOCOL_ERROR_STATUS: u8 = 2;

/// The answer for an address that is not the authenticated account's.
pub fn address_not_found(schema: Schema, email: &str, when: ErrorStamp) -> String {
    let email = escape(email);
    let mut out = open(schema);
    let _ = match schema {
        // A mailbox error is an Action/Error with a Status ([MS-ASCMD] 2.2.3.63, example
        // 4.2.2); the ErrorCode child it may carry names which error.
        Schema::MobileSync => write!(
            out,
            "<Culture>{CULTURE}</Culture><User><EMailAddress>{email}</EMailAddress></User>\
             <Action><Error><Status>{PROTOCOL_ERROR_STATUS}</Status>\
             <Message>{ADDRESS_NOT_FOUND_MESSAGE}</Message><DebugData/>\
             <ErrorCode>{ADDRESS_NOT_FOUND}</ErrorCode></Error></Action>"
        ),
        Schema::Outlook => {
            write_error(&mut out, when, ADDRESS_NOT_FOUND, ADDRESS_NOT_FOUND_MESSAGE);
            Ok(())
        }
    };
    close(out)
}

/// A framework error (600 invalid request, 601 no provider) as Response/Error
/// ([MS-ASCMD] 2.2.3.63, 2.2.3.64, example 4.2.3).
pub fn framework_error(schema: Schema, error: FrameworkError, when: ErrorStamp) -> String {
    let mut out = open(schema);
    write_error(&mut out, when, error.code(), error.message());
    close(out)
}

/// The Time and Id attributes of a Response/Error ([MS-ASCMD] 2.2.3.63).
#[derive(Debug, Clone, Copy)]
pub struct ErrorStamp {
    /// Milliseconds since midnight UTC.
    pub millis_of_day: u32,
    /// Identifies this server within its domain.
    pub server_id: u32,
}

fn write_error(out: &mut String, when: ErrorStamp, code: u16, message: &str) {
    let ms = when.millis_of_day % 86_400_000;
    let (h, m, s, frac) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    let _ = write!(
        out,
        "<Error Time=\"{h:02}:{m:02}:{s:02}.{frac:03}\" Id=\"{}\">\
         <ErrorCode>{code}</ErrorCode><Message>{message}</Message><DebugData/></Error>",
        when.server_id
    );
}

fn open(schema: Schema) -> String {
    format!(
        "{DECLARATION}\n<Autodiscover xmlns=\"{AUTODISCOVER_RESPONSE}\"><Response xmlns=\"{}\">",
        schema.response_namespace()
    )
}

fn close(mut out: String) -> String {
    out.push_str("</Response></Autodiscover>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAMP: ErrorStamp = ErrorStamp {
        millis_of_day: 16 * 3_600_000 + 56 * 60_000 + 32_616,
        server_id: 1_054_084_152,
    };

    #[test]
    fn mobilesync_settings_in_the_specs_shape() {
        let user = User {
            display_name: "Chris <Ops>",
            email: "chris@example.com",
        };
        let xml = settings(
            Schema::MobileSync,
            &user,
            "https://mail.example.com/Microsoft-Server-ActiveSync",
        );
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
             <Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006\">\
             <Response xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006\">\
             <Culture>en:us</Culture><User><DisplayName>Chris &lt;Ops&gt;</DisplayName>\
             <EMailAddress>chris@example.com</EMailAddress></User><Action><Settings><Server>\
             <Type>MobileSync</Type><Url>https://mail.example.com/Microsoft-Server-ActiveSync</Url>\
             <Name>https://mail.example.com/Microsoft-Server-ActiveSync</Name></Server></Settings>\
             </Action></Response></Autodiscover>\n"
        );
    }

    #[test]
    fn outlook_settings_name_the_account_and_its_protocol() {
        let user = User {
            display_name: "",
            email: "chris@example.com",
        };
        let xml = settings(
            Schema::Outlook,
            &user,
            "http://box/Microsoft-Server-ActiveSync",
        );
        assert!(xml.contains(
            "<Response xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a\">"
        ));
        assert!(xml.contains("<DisplayName>chris@example.com</DisplayName>"));
        assert!(xml.contains("<Account><AccountType>email</AccountType><Action>settings</Action>"));
        assert!(xml.contains("<Server>http://box/Microsoft-Server-ActiveSync</Server>"));
        assert!(xml.contains("<SSL>off</SSL>"));
    }

    #[test]
    fn errors_carry_their_codes_and_stamp() {
        let xml = framework_error(Schema::MobileSync, FrameworkError::InvalidRequest, STAMP);
        assert!(xml.contains(
            "<Error Time=\"16:56:32.616\" Id=\"1054084152\"><ErrorCode>600</ErrorCode>\
             <Message>Invalid Request</Message><DebugData/></Error>"
        ));
        let xml = framework_error(Schema::Outlook, FrameworkError::NoProvider, STAMP);
        assert!(xml.contains("outlook/responseschema/2006a"));
        assert!(xml.contains("<ErrorCode>601</ErrorCode>"));
        let xml = address_not_found(Schema::MobileSync, "x@y", STAMP);
        assert!(xml.contains("<Action><Error><Status>2</Status>"));
        assert!(xml.contains("<ErrorCode>500</ErrorCode>"));
        let xml = address_not_found(Schema::Outlook, "x@y", STAMP);
        assert!(xml.contains("<Response xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a\"><Error Time="));
        assert!(xml.contains("<ErrorCode>500</ErrorCode>"));
    }
}
