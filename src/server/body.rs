//! The bodies of HTTP requests and responses, and the small vocabulary of responses shared
//! by the front ends; below both the connection (`server::conn`) and the front ends.

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode, header};

/// A response body: always whole (the connection writes it with its Content-Length).
pub type Body = Full<Bytes>;

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
