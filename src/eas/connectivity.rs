//! The connectivity page: what a browser pointed at the ActiveSync URL shows once the
//! password prompt is answered (the product guide's connectivity test). Proof that the
//! endpoint is reachable, its certificate accepted and the login good, and which protocol
//! versions the account is offered, and what the device rules hold for a new phone of the
//! account; a phone never asks for it (it only sends OPTIONS and POST).

use bytes::Bytes;
use hyper::{Response, StatusCode, header};
// XML's five escapes make text safe in HTML elements and attribute values too.
use quick_xml::escape::escape as html_escape;

use crate::govern::NewDeviceOutlook;
use crate::http_body::Body;
use crate::store::model::Access;

/// The page for `email`, offered `versions` (the MS-ASProtocolVersions list), with what
/// the rules hold for its next new device.
pub fn page(email: &str, versions: &str, outlook: &NewDeviceOutlook) -> Response<Body> {
    let email = html_escape(email);
    let versions = versions.replace(',', ", ");
    let versions = html_escape(&versions);
    let access = match outlook.access {
        Access::Allow => "allowed to sync",
        Access::Block => "blocked",
        Access::Quarantine => "quarantined until an administrator allows it",
    };
    let unless = if outlook.server_rules_may_decide {
        ", unless a server rule on its OS, model or type decides otherwise when it connects"
    } else {
        ""
    };
    let reason = html_escape(&outlook.reason);
    let policy = html_escape(&outlook.policy_source);
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>ActiveSync works</title></head><body>\
         <h1>ActiveSync works</h1>\
         <p>This Exchange ActiveSync endpoint accepts <strong>{email}</strong>.</p>\
         <p>Protocol versions offered: <span id=\"versions\">{versions}</span>.</p>\
         <p>A new device of this account is <strong id=\"access\">{access}</strong> \
         (<span id=\"rule\">{reason}</span>){unless}. Its security policy: \
         <span id=\"policy\">{policy}</span>.</p>\
         <p>Set up a phone with this address and password; if it asks for a server, give it \
         this page's host name.</p></body></html>\n"
    );
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::new(Bytes::from(html)))
        .expect("static response")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_account_and_versions_escaped() {
        assert_eq!(html_escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
        let outlook = NewDeviceOutlook {
            access: Access::Quarantine,
            reason: "domain rule for example.com".into(),
            server_rules_may_decide: false,
            policy_source: "inherited from the built-in default".into(),
        };
        let r = page("x<y>@example.com", "14.1,16.1", &outlook);
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
    }
}
