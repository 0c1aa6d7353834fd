//! The connectivity page: what a browser pointed at the ActiveSync URL shows once the
//! password prompt is answered (the product guide's connectivity test). Proof that the
//! endpoint is reachable, its certificate accepted and the login good, and which protocol
//! versions the account is offered; a phone never asks for it (it only sends OPTIONS and
//! POST).

use bytes::Bytes;
use hyper::{Response, StatusCode, header};
// XML's five escapes make text safe in HTML elements and attribute values too.
use quick_xml::escape::escape as html_escape;

use crate::http_body::Body;

/// The page for `email`, offered `versions` (the MS-ASProtocolVersions list).
pub fn page(email: &str, versions: &str) -> Response<Body> {
    let email = html_escape(email);
    let versions = versions.replace(',', ", ");
    let versions = html_escape(&versions);
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>ActiveSync works</title></head><body>\
         <h1>ActiveSync works</h1>\
         <p>This Exchange ActiveSync endpoint accepts <strong>{email}</strong>.</p>\
         <p>Protocol versions offered: <span id=\"versions\">{versions}</span>.</p>\
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
        let r = page("x<y>@example.com", "14.1,16.1");
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
    }
}
