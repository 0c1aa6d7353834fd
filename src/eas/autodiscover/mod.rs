//! Autodiscover ([MS-ASCMD] 2.2.1.1, [MS-OXDSCLI] 3.2.5): a phone given only an address
//! and a password POSTs to `https://<domain or autodiscover.domain>/autodiscover/autodiscover.xml`
//! and learns the ActiveSync URL. `request` reads the body, `response` writes the answer;
//! this file is the I/O between them: method, login (the EAS authenticator and its
//! throttle), body, and which account the answer may describe.

pub mod request;
pub mod response;

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hyper::{HeaderMap, Method, Request, Response, StatusCode, header};
use sha2::{Digest, Sha256};

use super::EAS_PATH;
use super::front::login_without_device;
use crate::app::App;
use crate::auth::login_address;
use crate::config::Config;
use crate::http_body::{Body, BodyError, BodyLimits, IncomingBody, busy, plain, read_body};
use crate::store::model::Account;
use request::{FrameworkError, Rejection, Schema};
use response::{ErrorStamp, User};

/// The path clients POST to ([MS-OXDSCLI] 3.1.5.1); matched without regard to case,
/// since clients vary it.
pub const PATH: &str = "/autodiscover/autodiscover.xml";

/// A request is a few hundred bytes; anything much larger is not one.
const MAX_BODY: usize = 16 * 1024;

const XML_CONTENT_TYPE: &str = "text/xml; charset=utf-8";

pub async fn handle(
    app: &App,
    req: Request<impl IncomingBody>,
    peer: SocketAddr,
    secure: bool,
) -> Response<Body> {
    let method = req.method().clone();
    if method != Method::POST && method != Method::GET {
        tracing::info!("{peer}: Autodiscover: method {method} not allowed");
        let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "only GET and POST\n");
        r.headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("GET,POST"));
        return r;
    }
    let account = match login_without_device(app, req.headers(), peer).await {
        Ok(a) => a,
        Err(refused) => return refused,
    };
    let url = eas_url(&app.settings.current().cfg, req.headers(), secure);
    let stamp = stamp(&app.cfg.hostname);
    if method == Method::GET {
        // A browser or a probing client: the answer a POST for this account would get.
        return settings(Schema::MobileSync, &account, &url);
    }
    let limits = BodyLimits {
        max: MAX_BODY,
        spool_over: MAX_BODY,
        budget: &app.budget,
        spool: &app.spool,
    };
    let body = match read_body(req.into_body(), &limits).await {
        Ok(b) => b,
        Err(BodyError::TooLarge(max)) => {
            tracing::info!(
                "{peer} {}: Autodiscover request over {max} bytes",
                account.email
            );
            return xml(response::framework_error(
                Schema::MobileSync,
                FrameworkError::InvalidRequest,
                stamp,
            ));
        }
        Err(BodyError::Busy { .. }) => return busy(),
        Err(e) => {
            tracing::info!("{peer} {}: Autodiscover: {e}", account.email);
            return plain(StatusCode::BAD_REQUEST, "unreadable request body\n");
        }
    };
    match request::parse(&body.bytes) {
        Ok(asked) => {
            // Only the authenticated account is described: another address, even one
            // that exists, gets the same answer as one that does not.
            if login_address(&asked.email) == account.email {
                settings(asked.answer, &account, &url)
            } else {
                tracing::warn!(
                    "{peer}: Autodiscover by {} for another address {:?}",
                    account.email,
                    asked.email
                );
                xml(response::address_not_found(
                    asked.answer,
                    &asked.email,
                    stamp,
                ))
            }
        }
        Err(Rejection {
            schema,
            code,
            reason,
        }) => {
            tracing::info!(
                "{peer} {}: Autodiscover request refused ({}): {reason}",
                account.email,
                code.code()
            );
            xml(response::framework_error(schema, code, stamp))
        }
    }
}

fn settings(schema: Schema, account: &Account, url: &str) -> Response<Body> {
    let user = User {
        display_name: &account.display_name,
        email: &account.email,
    };
    xml(response::settings(schema, &user, url))
}

fn xml(text: String) -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, XML_CONTENT_TYPE)
        .header(header::CACHE_CONTROL, "private")
        .body(Body::new(Bytes::from(text)))
        .expect("static response")
}

/// The ActiveSync URL an answer gives: under `public_url` when it is set (a box behind NAT
/// or a proxy is reached under another name than the one it sees), else from the request's
/// Host and whether it came over TLS; without a usable Host, from `hostname`.
pub fn eas_url(cfg: &Config, headers: &HeaderMap, secure: bool) -> String {
    if let Some(base) = &cfg.public_url {
        return format!("{}{EAS_PATH}", base.trim_end_matches('/'));
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| h.parse::<hyper::http::uri::Authority>().ok())
        .filter(|a| !a.as_str().contains('@'))
        .map_or_else(|| cfg.hostname.clone(), |a| a.as_str().to_owned());
    let scheme = if secure { "https" } else { "http" };
    format!("{scheme}://{host}{EAS_PATH}")
}

/// The Time and Id of an error answer: now, and a number derived from the host name.
fn stamp(hostname: &str) -> ErrorStamp {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let digest = Sha256::digest(hostname.as_bytes());
    ErrorStamp {
        millis_of_day: u32::try_from(now.as_millis() % 86_400_000).unwrap_or(0),
        server_id: u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(h: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(header::HOST, h.parse().unwrap());
        m
    }

    #[test]
    fn the_url_comes_from_public_url_else_the_host_else_hostname() {
        let mut cfg = Config {
            hostname: "box.lan".into(),
            ..Config::default()
        };
        assert_eq!(
            eas_url(&cfg, &host("autodiscover.example.com"), true),
            "https://autodiscover.example.com/Microsoft-Server-ActiveSync"
        );
        assert_eq!(
            eas_url(&cfg, &host("example.com:8443"), false),
            "http://example.com:8443/Microsoft-Server-ActiveSync"
        );
        // No Host, or one that is not a host: the configured name.
        for headers in [HeaderMap::new(), host("a b"), host("user@evil")] {
            assert_eq!(
                eas_url(&cfg, &headers, true),
                "https://box.lan/Microsoft-Server-ActiveSync"
            );
        }
        cfg.public_url = Some("https://mail.example.com/".into());
        assert_eq!(
            eas_url(&cfg, &host("10.0.0.5:8443"), true),
            "https://mail.example.com/Microsoft-Server-ActiveSync"
        );
    }
}
