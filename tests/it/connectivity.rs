//! The connectivity test of the product guide (issue 14, point 1): a browser opening
//! `https://<host>/Microsoft-Server-ActiveSync/` gets a password prompt, then a page
//! saying the endpoint works for that account and which versions it offers; a trailing
//! slash names the same route for every method.

use hyper::Method;

use crate::support::*;
use easd::wbxml::Element;
use easd::wbxml::tag::folderhierarchy as fh;

const ALICE: &str = "alice@example.com";

#[test]
fn a_browser_is_challenged_then_shown_the_endpoint_working_for_the_account() {
    let s = server_with(&[ALICE]);
    for path in [EAS_PATH, "/Microsoft-Server-ActiveSync/"] {
        let r = s.https().request(Method::GET, path, &[], Vec::new());
        r.expect_status(401);
        assert_eq!(
            r.header("WWW-Authenticate"),
            Some("Basic realm=\"ActiveSync\""),
            "{path}"
        );
        let wrong = [("Authorization", basic_auth(ALICE, "wrong"))];
        s.https()
            .request(Method::GET, path, &wrong, Vec::new())
            .expect_status(401);

        let auth = [("Authorization", basic_auth(ALICE, PASSWORD))];
        let page = s.https().request(Method::GET, path, &auth, Vec::new());
        page.expect_status(200);
        assert_eq!(
            page.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        let html = page.text();
        assert!(html.contains(ALICE), "{html}");
        // The versions are those OPTIONS offers the account.
        let options = s.https().request(Method::OPTIONS, path, &auth, Vec::new());
        options.expect_status(200);
        let offered = options
            .header("MS-ASProtocolVersions")
            .expect("MS-ASProtocolVersions")
            .replace(',', ", ");
        assert!(
            html.contains(&format!("<span id=\"versions\">{offered}</span>")),
            "{offered} in {html}"
        );
    }
}

#[test]
fn the_versions_shown_follow_the_accounts_policy() {
    let s = server_with(&[ALICE]);
    s.set_policy(&format!("user:{ALICE}"), &[("MaxProtocolVersion", "14.1")]);
    let auth = [("Authorization", basic_auth(ALICE, PASSWORD))];
    let html = s
        .https()
        .request(Method::GET, EAS_PATH, &auth, Vec::new())
        .text();
    assert!(html.contains("14.1"), "{html}");
    assert!(!html.contains("16.1"), "{html}");
}

#[test]
fn a_trailing_slash_reaches_the_commands_too() {
    let s = server_with(&[ALICE]);
    let mut c = s.eas(ALICE, "slashdev");
    c.provision();
    let q = c.query("FolderSync", None);
    let body = Element::new(fh::FOLDER_SYNC).text_child(fh::SYNC_KEY, "0");
    let r = s.https().request(
        Method::POST,
        &format!("{EAS_PATH}/?{q}"),
        &c.headers(),
        easd::wbxml::encode(&body),
    );
    r.expect_status(200);
    assert_eq!(r.wbxml().text_of(fh::STATUS), Some("1"));
}

#[test]
fn the_page_says_what_the_rules_hold_for_a_new_device() {
    use crate::govern::{add_rule, gov_ok};
    use easd::admin::govern::GovRequest;
    use easd::govern::abq::Param;
    use easd::store::model::Access;

    let s = server_with(&[ALICE]);
    let auth = [("Authorization", basic_auth(ALICE, PASSWORD))];
    let page = || {
        s.https()
            .request(Method::GET, EAS_PATH, &auth, Vec::new())
            .text()
    };
    let html = page();
    assert!(
        html.contains("<strong id=\"access\">allowed to sync</strong>"),
        "{html}"
    );
    assert!(
        html.contains("<span id=\"rule\">global rule</span>)."),
        "{html}"
    );
    assert!(
        html.contains("<span id=\"policy\">inherited from the built-in default</span>"),
        "{html}"
    );

    // A server rule on the OS may decide once the phone says what it runs.
    add_rule(&s, Param::Os, "Android", Access::Block, true);
    let html = page();
    assert!(html.contains("unless a server rule on its OS"), "{html}");

    // The domain rule decides for every device of the account; the user's own policy shows.
    gov_ok(
        &s,
        GovRequest::RuleDomain {
            domain: "example.com".into(),
            action: Some(Access::Quarantine),
        },
    );
    s.set_policy(&format!("user:{ALICE}"), &[("AllowCamera", "0")]);
    let html = page();
    assert!(
        html.contains(
            "<strong id=\"access\">quarantined until an administrator allows it</strong>"
        ),
        "{html}"
    );
    assert!(html.contains("domain rule"), "{html}");
    assert!(!html.contains("unless a server rule"), "{html}");
    assert!(
        html.contains("<span id=\"policy\">own settings</span>"),
        "{html}"
    );
}
