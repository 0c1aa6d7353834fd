//! Autodiscover (issue 14, point 3; [MS-ASCMD] 2.2.1.1, [MS-OXDSCLI]): a phone given an
//! address and a password learns the ActiveSync URL, in the schema it asked for; errors
//! in the spec's shape, never a 500.

use std::collections::BTreeMap;

use hyper::Method;
use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

use crate::support::*;
use easd::admin::ops::Request;

const ALICE: &str = "alice@example.com";
const BOB: &str = "bob@example.com";
const PATH: &str = "/autodiscover/autodiscover.xml";

const AUTODISCOVER_RESPONSE: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006";
const MOBILESYNC_REQUEST: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006";
const MOBILESYNC_RESPONSE: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006";
const OUTLOOK_REQUEST: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006";
const OUTLOOK_RESPONSE: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a";

/// A server with Alice (display name "Alice Martin") and Bob.
fn server(tweak: impl FnOnce(&mut easd::config::Config)) -> TestServer {
    let s = start_server(tweak);
    s.control_ok(Request::UserAdd {
        email: ALICE.into(),
        name: Some("Alice Martin".into()),
        admin: false,
        password: PASSWORD.into(),
    });
    s.add_user(BOB);
    s
}

fn body(request_ns: &str, email: &str, acceptable: &str) -> Vec<u8> {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="{request_ns}">
  <Request>
    <EMailAddress>{email}</EMailAddress>
    <AcceptableResponseSchema>{acceptable}</AcceptableResponseSchema>
  </Request>
</Autodiscover>"#
    )
    .into_bytes()
}

fn post(s: &TestServer, path: &str, user: &str, password: &str, body: Vec<u8>) -> Resp {
    s.https().request(
        Method::POST,
        path,
        &[
            ("Authorization", basic_auth(user, password)),
            ("Content-Type", "text/xml".into()),
        ],
        body,
    )
}

/// Alice's OPTIONS on the ActiveSync endpoint.
fn eas_options(s: &TestServer) -> Resp {
    let auth = [("Authorization", basic_auth(ALICE, PASSWORD))];
    s.https()
        .request(Method::OPTIONS, EAS_PATH, &auth, Vec::new())
}

/// Alice's request, on the canonical path.
fn ask(s: &TestServer, request_ns: &str, email: &str, acceptable: &str) -> Resp {
    post(
        s,
        PATH,
        ALICE,
        PASSWORD,
        body(request_ns, email, acceptable),
    )
}

/// An answer read as XML: each element's path (local names joined by `/`) → its
/// namespace and text. Panics unless it is a 200 text/xml answer of well-formed XML.
#[track_caller]
fn answer(r: &Resp) -> BTreeMap<String, (String, String)> {
    r.expect_status(200);
    assert_eq!(r.header("content-type"), Some("text/xml; charset=utf-8"));
    let mut reader = NsReader::from_reader(&r.body[..]);
    let mut path: Vec<String> = Vec::new();
    let mut out = BTreeMap::new();
    loop {
        let (ns, event) = reader.read_resolved_event().expect("well-formed XML");
        let ns = match ns {
            ResolveResult::Bound(n) => String::from_utf8(n.as_ref().to_vec()).expect("utf-8"),
            _ => String::new(),
        };
        let name = |e: &quick_xml::events::BytesStart<'_>| {
            String::from_utf8(e.local_name().as_ref().to_vec()).expect("utf-8")
        };
        match event {
            Event::Start(e) => {
                path.push(name(&e));
                out.insert(path.join("/"), (ns, String::new()));
            }
            Event::Empty(e) => {
                out.insert(
                    format!("{}/{}", path.join("/"), name(&e)),
                    (ns, String::new()),
                );
            }
            Event::Text(t) => {
                if let Some(entry) = out.get_mut(&path.join("/")) {
                    entry.1.push_str(t.unescape().expect("text").trim());
                }
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    out
}

/// The text at `path` of an answer; panics (showing the answer) when absent.
#[track_caller]
fn at<'a>(a: &'a BTreeMap<String, (String, String)>, path: &str) -> &'a str {
    &a.get(path)
        .unwrap_or_else(|| panic!("no {path} in {a:#?}"))
        .1
}

#[track_caller]
fn namespace_of<'a>(a: &'a BTreeMap<String, (String, String)>, path: &str) -> &'a str {
    &a.get(path)
        .unwrap_or_else(|| panic!("no {path} in {a:#?}"))
        .0
}

fn eas_url(s: &TestServer) -> String {
    format!(
        "https://localhost:{}/Microsoft-Server-ActiveSync",
        s.https_addr().port()
    )
}

#[test]
fn the_mobilesync_schema_gets_the_activesync_url() {
    let s = server(|_| {});
    let r = ask(&s, MOBILESYNC_REQUEST, ALICE, MOBILESYNC_RESPONSE);
    let a = answer(&r);
    assert_eq!(namespace_of(&a, "Autodiscover"), AUTODISCOVER_RESPONSE);
    assert_eq!(
        namespace_of(&a, "Autodiscover/Response"),
        MOBILESYNC_RESPONSE
    );
    let r = "Autodiscover/Response";
    assert_eq!(at(&a, &format!("{r}/Culture")), "en:us");
    assert_eq!(at(&a, &format!("{r}/User/DisplayName")), "Alice Martin");
    assert_eq!(at(&a, &format!("{r}/User/EMailAddress")), ALICE);
    let server = format!("{r}/Action/Settings/Server");
    assert_eq!(at(&a, &format!("{server}/Type")), "MobileSync");
    assert_eq!(at(&a, &format!("{server}/Url")), eas_url(&s));
    assert_eq!(at(&a, &format!("{server}/Name")), eas_url(&s));
    assert_eq!(
        namespace_of(&a, &format!("{server}/Url")),
        MOBILESYNC_RESPONSE
    );
    // The URL answered is one the client can use: OPTIONS there works for the account.
    eas_options(&s).expect_status(200);
}

#[test]
fn the_outlook_schema_gets_the_outlook_answer_and_acceptable_schema_chooses() {
    let s = server(|_| {});
    let r = ask(&s, OUTLOOK_REQUEST, ALICE, OUTLOOK_RESPONSE);
    let a = answer(&r);
    assert_eq!(namespace_of(&a, "Autodiscover"), AUTODISCOVER_RESPONSE);
    assert_eq!(namespace_of(&a, "Autodiscover/Response"), OUTLOOK_RESPONSE);
    let account = "Autodiscover/Response/Account";
    assert_eq!(at(&a, &format!("{account}/AccountType")), "email");
    assert_eq!(at(&a, &format!("{account}/Action")), "settings");
    assert_eq!(at(&a, &format!("{account}/Protocol/Server")), eas_url(&s));
    assert_eq!(at(&a, &format!("{account}/Protocol/LoginName")), ALICE);
    assert_eq!(at(&a, &format!("{account}/Protocol/SSL")), "on");
    assert_eq!(
        at(&a, "Autodiscover/Response/User/AutoDiscoverSMTPAddress"),
        ALICE
    );

    // The Outlook request asking for the mobilesync answer gets that one.
    let r = ask(&s, OUTLOOK_REQUEST, ALICE, MOBILESYNC_RESPONSE);
    let a = answer(&r);
    assert_eq!(
        namespace_of(&a, "Autodiscover/Response"),
        MOBILESYNC_RESPONSE
    );
    assert_eq!(
        at(&a, "Autodiscover/Response/Action/Settings/Server/Url"),
        eas_url(&s)
    );

    // A schema nobody offers: 601 in the request's family.
    let r = ask(&s, MOBILESYNC_REQUEST, ALICE, "urn:not-offered");
    let a = answer(&r);
    assert_eq!(
        namespace_of(&a, "Autodiscover/Response"),
        MOBILESYNC_RESPONSE
    );
    assert_eq!(at(&a, "Autodiscover/Response/Error/ErrorCode"), "601");
}

#[test]
fn the_url_is_the_configured_public_url() {
    let s = server(|c| c.public_url = Some("https://mail.example.com:8443/".into()));
    let r = ask(&s, MOBILESYNC_REQUEST, ALICE, MOBILESYNC_RESPONSE);
    assert_eq!(
        at(
            &answer(&r),
            "Autodiscover/Response/Action/Settings/Server/Url"
        ),
        "https://mail.example.com:8443/Microsoft-Server-ActiveSync"
    );
}

#[test]
fn an_address_other_than_the_logins_gets_the_specs_error() {
    let s = server(|_| {});
    // Unknown, and another account that exists: the same answer, nothing of Bob's shown.
    for other in ["nobody@example.com", BOB] {
        let r = ask(&s, MOBILESYNC_REQUEST, other, MOBILESYNC_RESPONSE);
        let a = answer(&r);
        let error = "Autodiscover/Response/Action/Error";
        assert_eq!(at(&a, &format!("{error}/Status")), "2", "{other}");
        assert_eq!(at(&a, &format!("{error}/ErrorCode")), "500", "{other}");
        assert_eq!(at(&a, "Autodiscover/Response/User/EMailAddress"), other);
        assert!(!a.contains_key("Autodiscover/Response/Action/Settings"));

        let r = ask(&s, OUTLOOK_REQUEST, other, OUTLOOK_RESPONSE);
        let a = answer(&r);
        assert_eq!(at(&a, "Autodiscover/Response/Error/ErrorCode"), "500");
        assert!(!a.contains_key("Autodiscover/Response/Account"));
    }
    // The address in another case is the same address.
    let r = ask(
        &s,
        MOBILESYNC_REQUEST,
        "Alice@Example.COM",
        MOBILESYNC_RESPONSE,
    );
    assert_eq!(
        at(&answer(&r), "Autodiscover/Response/User/EMailAddress"),
        ALICE
    );
}

#[test]
fn wrong_or_missing_credentials_are_401_and_count_toward_the_lockout() {
    let s = server(|c| {
        c.auth.slow_after = 100;
        c.auth.lockout_after = 3;
    });
    let good = body(MOBILESYNC_REQUEST, ALICE, MOBILESYNC_RESPONSE);
    let r = s.https().request(Method::POST, PATH, &[], good.clone());
    r.expect_status(401);
    assert_eq!(
        r.header("WWW-Authenticate"),
        Some("Basic realm=\"ActiveSync\"")
    );
    for _ in 0..2 {
        let r = post(&s, PATH, ALICE, "wrong", good.clone());
        r.expect_status(401);
        assert!(r.header("WWW-Authenticate").is_some());
    }
    // The third failure starts the lock (the same throttle as ActiveSync): refused from
    // then on, the right password included, on both endpoints.
    post(&s, PATH, ALICE, "wrong", good.clone()).expect_status(429);
    post(&s, PATH, ALICE, PASSWORD, good).expect_status(429);
    eas_options(&s).expect_status(429);
}

#[test]
fn malformed_or_oversized_requests_get_the_600_error() {
    let s = server(|_| {});
    let huge = body(
        MOBILESYNC_REQUEST,
        &format!("{}@example.com", "a".repeat(20_000)),
        MOBILESYNC_RESPONSE,
    );
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("not XML", b"this is not xml".to_vec()),
        ("unclosed", b"<Autodiscover xmlns=\"x\"><Request>".to_vec()),
        ("empty", Vec::new()),
        (
            "no address",
            format!(r#"<Autodiscover xmlns="{MOBILESYNC_REQUEST}"><Request/></Autodiscover>"#)
                .into_bytes(),
        ),
        ("oversized", huge),
    ];
    for (what, bytes) in cases {
        let r = post(&s, PATH, ALICE, PASSWORD, bytes);
        let a = answer(&r);
        assert_eq!(
            namespace_of(&a, "Autodiscover"),
            AUTODISCOVER_RESPONSE,
            "{what}"
        );
        assert_eq!(
            at(&a, "Autodiscover/Response/Error/ErrorCode"),
            "600",
            "{what}"
        );
        assert_eq!(
            at(&a, "Autodiscover/Response/Error/Message"),
            "Invalid Request",
            "{what}"
        );
    }
    // A malformed Outlook request is refused in the Outlook schema.
    let r = post(
        &s,
        PATH,
        ALICE,
        PASSWORD,
        format!(r#"<Autodiscover xmlns="{OUTLOOK_REQUEST}"><Request><EMailAddress>x</EMailAddress></Request></Autodiscover>"#)
            .into_bytes(),
    );
    let a = answer(&r);
    assert_eq!(namespace_of(&a, "Autodiscover/Response"), OUTLOOK_RESPONSE);
    assert_eq!(at(&a, "Autodiscover/Response/Error/ErrorCode"), "600");
    // Other methods are refused plainly.
    let r = s.https().request(
        Method::PUT,
        PATH,
        &[("Authorization", basic_auth(ALICE, PASSWORD))],
        Vec::new(),
    );
    r.expect_status(405);
    assert_eq!(r.header("Allow"), Some("GET,POST"));
}

#[test]
fn get_is_challenged_then_answered_like_a_post() {
    let s = server(|_| {});
    let r = s.https().request(Method::GET, PATH, &[], Vec::new());
    r.expect_status(401);
    assert!(r.header("WWW-Authenticate").is_some());
    let auth = [("Authorization", basic_auth(ALICE, PASSWORD))];
    let get = s.https().request(Method::GET, PATH, &auth, Vec::new());
    let posted = ask(&s, MOBILESYNC_REQUEST, ALICE, MOBILESYNC_RESPONSE);
    assert_eq!(answer(&get), answer(&posted));
}

#[test]
fn the_path_is_case_insensitive_and_takes_a_trailing_slash() {
    let s = server(|_| {});
    for path in [
        "/Autodiscover/Autodiscover.xml",
        "/AUTODISCOVER/AUTODISCOVER.XML",
        "/autodiscover/autodiscover.xml/",
    ] {
        let r = post(
            &s,
            path,
            ALICE,
            PASSWORD,
            body(MOBILESYNC_REQUEST, ALICE, MOBILESYNC_RESPONSE),
        );
        assert_eq!(
            at(&answer(&r), "Autodiscover/Response/User/EMailAddress"),
            ALICE,
            "{path}"
        );
    }
    s.https()
        .request(Method::POST, "/autodiscover/other.xml", &[], Vec::new())
        .expect_status(404);
}
