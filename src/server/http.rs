//! HTTP routing and the small vocabulary of responses shared by the front ends.

use std::net::SocketAddr;
use std::rc::Rc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode, header};

use super::App;
pub use super::conn::RequestBody;

/// A response body: always whole (the connection writes it with its Content-Length).
pub type Body = Full<Bytes>;

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

pub fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Full::new(Bytes::from_static(text.as_bytes())))
        .expect("static response")
}

pub fn empty(status: StatusCode) -> Response<Body> {
    Response::builder()
        .status(status)
        .body(Full::new(Bytes::new()))
        .expect("static response")
}

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("request body larger than {0} bytes")]
    TooLarge(usize),
    #[error("reading the request body: {0}")]
    Read(String),
}

/// Reads the whole body, refusing more than `limit` bytes without buffering them.
/// Boxed, so that a request's future is not as large as this step for as long as it lives.
pub async fn read_body(body: RequestBody, limit: usize) -> Result<Bytes, BodyError> {
    Box::pin(body.read(limit)).await
}
