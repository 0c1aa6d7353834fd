//! A small blocking HTTP(S) client on a per-thread runtime: one connection per request,
//! or one kept alive (benches), or a raw TLS stream for requests written byte by byte.

use std::future::Future;
use std::io::BufReader;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use easd::wbxml::{self, Element};
use http_body_util::{BodyExt, Full};
use hyper::{HeaderMap, Method};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::TlsConnector;

use super::*;

/// Longest any single HTTP exchange may take before the test fails instead of hanging.
pub(super) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------

thread_local! {
    /// Each test thread drives its requests on its own small runtime.
    static CLIENT_RT: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
}

/// Runs `f` to completion on this thread's client runtime.
pub fn block_on<F: Future>(f: F) -> F::Output {
    CLIENT_RT.with(|rt| rt.block_on(f))
}

pub(super) fn tls_config(cert_pem: &Path) -> Arc<rustls::ClientConfig> {
    let file =
        std::fs::File::open(cert_pem).unwrap_or_else(|e| panic!("{}: {e}", cert_pem.display()));
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut BufReader::new(file))
        .collect::<Result<_, _>>()
        .expect("cert.pem");
    assert!(
        !certs.is_empty(),
        "no certificate in {}",
        cert_pem.display()
    );
    client_config(&certs)
}

/// A client configuration trusting exactly `roots`.
pub(super) fn client_config(roots: &[CertificateDer<'static>]) -> Arc<rustls::ClientConfig> {
    let mut store = rustls::RootCertStore::empty();
    for c in roots {
        store.add(c.clone()).expect("certificate as a trust anchor");
    }
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_root_certificates(store)
    .with_no_client_auth();
    Arc::new(cfg)
}

/// An HTTP response, fully read.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as WBXML; panics (showing the response) when it is not.
    pub fn wbxml(&self) -> Element {
        assert_eq!(
            self.header("content-type"),
            Some(easd::eas::front::WBXML_CONTENT_TYPE),
            "not a WBXML response: {self:?}"
        );
        wbxml::decode(&self.body, &wbxml::Limits::default())
            .unwrap_or_else(|e| panic!("undecodable WBXML ({e}): {self:?}"))
    }

    /// The body as text, for messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Panics unless the status is `status`.
    #[track_caller]
    pub fn expect_status(&self, status: u16) -> &Self {
        assert_eq!(
            self.status,
            status,
            "unexpected HTTP status; body {:?}, headers {:?}",
            self.text(),
            self.headers
        );
        self
    }
}

/// A blocking client of one listener of a [`TestServer`]; a new connection per request.
#[derive(Clone)]
pub struct HttpClient {
    pub(super) endpoints: Arc<Mutex<Endpoints>>,
    pub(super) tls: Option<Arc<rustls::ClientConfig>>,
    /// The local address to connect from; any when `None`.
    pub(super) source: Option<IpAddr>,
}

impl HttpClient {
    /// A client of an HTTPS server started elsewhere (a separate process), trusting `cert_pem`.
    pub fn https_to(addr: SocketAddr, cert_pem: &Path) -> Self {
        HttpClient {
            endpoints: Arc::new(Mutex::new(Endpoints {
                https: Some(addr),
                http: None,
                lmtp: None,
                notify: None,
            })),
            tls: Some(tls_config(cert_pem)),
            source: None,
        }
    }

    /// The same client, connecting from `source` (a loopback address other than 127.0.0.1,
    /// e.g. 127.0.0.2: Linux routes all of 127/8 to lo), so the server sees another peer.
    #[must_use]
    pub fn connecting_from(mut self, source: IpAddr) -> Self {
        self.source = Some(source);
        self
    }

    fn addr(&self) -> SocketAddr {
        let e = *self.endpoints.lock().expect("endpoints");
        if self.tls.is_some() { e.https } else { e.http }.expect("the listener is configured")
    }

    /// Sends one request; `path` includes the query.
    pub fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Resp {
        let addr = self.addr();
        let tls = self.tls.clone();
        let source = self.source;
        let req = build_request(addr, method, path, headers, body);
        block_on(async move {
            tokio::time::timeout(REQUEST_TIMEOUT, send(addr, source, tls, req))
                .await
                .unwrap_or_else(|_| panic!("no answer from {addr} within {REQUEST_TIMEOUT:?}"))
        })
    }
}

/// One HTTP/1.1 request to `addr` (Host names localhost, which the certificate covers).
pub(super) fn build_request(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> hyper::Request<Full<Bytes>> {
    let mut builder = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, format!("localhost:{}", addr.port()));
    for (name, value) in headers {
        builder = builder.header(*name, value.as_str());
    }
    builder.body(Full::new(Bytes::from(body))).expect("request")
}

async fn send(
    addr: SocketAddr,
    source: Option<IpAddr>,
    tls: Option<Arc<rustls::ClientConfig>>,
    req: hyper::Request<Full<Bytes>>,
) -> Resp {
    let tcp = match source {
        None => TcpStream::connect(addr).await,
        Some(ip) => {
            let socket = match ip {
                IpAddr::V4(_) => TcpSocket::new_v4(),
                IpAddr::V6(_) => TcpSocket::new_v6(),
            }
            .expect("socket");
            socket
                .bind(SocketAddr::new(ip, 0))
                .unwrap_or_else(|e| panic!("bind {ip}: {e}"));
            socket.connect(addr).await
        }
    }
    .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    match tls {
        Some(cfg) => {
            let name = ServerName::try_from("localhost").expect("server name");
            let stream = TlsConnector::from(cfg)
                .connect(name, tcp)
                .await
                .unwrap_or_else(|e| panic!("TLS handshake with {addr}: {e}"));
            exchange(TokioIo::new(stream), req).await
        }
        None => exchange(TokioIo::new(tcp), req).await,
    }
}

async fn exchange<T>(io: T, req: hyper::Request<Full<Bytes>>) -> Resp
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .expect("HTTP handshake");
    let conn = tokio::spawn(conn);
    let resp = sender.send_request(req).await.expect("HTTP exchange");
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.expect("response body").to_bytes();
    drop(sender);
    conn.abort();
    Resp {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: body.to_vec(),
    }
}

pub fn basic_auth(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// A raw blocking TLS connection to `addr`, for requests written byte by byte (a body
/// sent in part and held, as an attacker would).
pub fn raw_tls(
    addr: SocketAddr,
    cert_pem: &Path,
) -> rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream> {
    let name = ServerName::try_from("localhost").expect("server name");
    let conn = rustls::ClientConnection::new(tls_config(cert_pem), name).expect("TLS client");
    let tcp = std::net::TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(REQUEST_TIMEOUT))
        .expect("timeout");
    rustls::StreamOwned::new(conn, tcp)
}

/// Reads a response head (up to the empty line) from a raw connection.
pub fn read_raw_head(stream: &mut impl std::io::Read) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            other => panic!("response head cut short ({other:?}): {head:?}"),
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}
