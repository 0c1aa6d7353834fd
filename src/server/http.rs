//! HTTP routing: which front end answers a request.

use std::net::SocketAddr;
use std::rc::Rc;

use hyper::{Request, Response, StatusCode};

use super::App;
use super::conn::RequestBody;
use crate::http_body::{Body, plain};

pub async fn handle(
    app: Rc<App>,
    req: Request<RequestBody>,
    peer: SocketAddr,
    secure: bool,
) -> Response<Body> {
    let path = req.uri().path();
    if path.eq_ignore_ascii_case("/Microsoft-Server-ActiveSync") {
        crate::eas::front::handle(&app, req, peer, secure).await
    } else {
        tracing::debug!("{peer}: no route for {path}");
        plain(StatusCode::NOT_FOUND, "not found\n")
    }
}
