//! HTTP routing: which front end answers a request; every answer is counted.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

use hyper::{Request, Response, StatusCode};

use super::App;
use super::conn::RequestBody;
use super::scrape;
use crate::eas::{EAS_PATH, autodiscover, front};
use crate::http_body::{Body, plain};
use crate::tls::acme;
use crate::web;

/// Each request's future lives as long as its answer takes, a waiting Ping's for up to an
/// hour, and is as large as its largest arm: so the front ends other than EAS (the web
/// pages' is several KiB) are boxed, and an idle Ping carries only a pointer for them.
pub async fn handle(
    app: Rc<App>,
    req: Request<RequestBody>,
    peer: SocketAddr,
    secure: bool,
) -> Response<Body> {
    let started = Instant::now();
    let path = route_path(req.uri().path());
    let (what, response) = if path.eq_ignore_ascii_case(EAS_PATH) {
        let what = front::command_label(&req);
        (what, front::handle(&app, req, peer, secure).await)
    } else if path.eq_ignore_ascii_case(autodiscover::PATH) {
        // Whatever the Host (`autodiscover.<domain>` or the bare domain): the path decides.
        let answer = Box::pin(autodiscover::handle(&app, req, peer, secure)).await;
        ("Autodiscover", answer)
    } else if let Some(token) = path.strip_prefix(acme::CHALLENGE_PREFIX) {
        ("acme", acme_challenge(&app, &req, token))
    } else if path == scrape::PATH {
        ("metrics", Box::pin(scrape::handle(&app, &req, peer)).await)
    } else if web::owns(path) {
        // The path borrows the request, which the pages consume.
        let path = path.to_owned();
        ("web", Box::pin(web::handle(&app, req, peer, &path)).await)
    } else {
        tracing::debug!("{peer}: no route for {path}");
        ("none", plain(StatusCode::NOT_FOUND, "not found\n"))
    };
    app.metrics
        .request(what, response.status().as_u16(), started.elapsed());
    response
}

/// The answer to an ACME HTTP-01 challenge (RFC 8555 8.3): the key authorization of an
/// open challenge, as `application/octet-stream`; anything else is 404.
fn acme_challenge(app: &App, req: &Request<RequestBody>, token: &str) -> Response<Body> {
    match app.acme_challenges.answer(token) {
        Some(answer) if req.method() == hyper::Method::GET => {
            tracing::info!("ACME: answered the HTTP-01 challenge {token}");
            let mut rsp = Response::new(Body::new(answer));
            rsp.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("application/octet-stream"),
            );
            rsp
        }
        _ => {
            tracing::debug!("ACME: no open challenge {token}");
            plain(StatusCode::NOT_FOUND, "not found\n")
        }
    }
}

/// The path a route is matched on: one trailing slash is the same route (a browser
/// pointed at `…/Microsoft-Server-ActiveSync/` reaches the endpoint).
fn route_path(path: &str) -> &str {
    match path.strip_suffix('/') {
        Some(p) if !p.is_empty() => p,
        _ => path,
    }
}

#[cfg(test)]
mod tests {
    use super::route_path;

    #[test]
    fn one_trailing_slash_is_the_same_route() {
        assert_eq!(
            route_path("/Microsoft-Server-ActiveSync/"),
            "/Microsoft-Server-ActiveSync"
        );
        assert_eq!(
            route_path("/Microsoft-Server-ActiveSync"),
            "/Microsoft-Server-ActiveSync"
        );
        assert_eq!(route_path("/x//"), "/x/");
        assert_eq!(route_path("/"), "/");
    }
}
