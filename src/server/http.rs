//! HTTP routing and the small vocabulary of responses shared by the front ends.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::rc::Rc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode, header};

use super::App;

pub type Body = Full<Bytes>;

pub async fn handle(
    app: Rc<App>,
    req: Request<Incoming>,
    peer: SocketAddr,
    secure: bool,
) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path();
    let response = if path.eq_ignore_ascii_case("/Microsoft-Server-ActiveSync") {
        crate::eas::front::handle(&app, req, peer, secure).await
    } else {
        tracing::debug!("{peer}: no route for {path}");
        plain(StatusCode::NOT_FOUND, "not found\n")
    };
    Ok(response)
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
pub async fn read_body(body: Incoming, limit: usize) -> Result<Bytes, BodyError> {
    match Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(BodyError::TooLarge(limit))
        }
        Err(e) => Err(BodyError::Read(e.to_string())),
    }
}
