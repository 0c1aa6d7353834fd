//! instant-acme's HTTP client: one HTTP/1.1 request per connection over tokio-rustls,
//! trusting the system's roots (and `[acme] ca_root`). Its own client would add HTTP/2
//! and a second TLS stack configuration for a handful of requests per renewal.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::Request;
use hyper_util::rt::TokioIo;
use instant_acme::{BodyWrapper, BytesResponse, Error, HttpClient};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Longest one ACME request may take, connection included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Client {
    tls: TlsConnector,
}

fn other(e: impl std::fmt::Display) -> Error {
    Error::Other(e.to_string().into())
}

impl Client {
    /// A client trusting the system's roots, plus `extra_root` when given.
    pub fn new(extra_root: Option<&Path>) -> Result<Client, Error> {
        let mut roots = rustls::RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        for e in &native.errors {
            tracing::debug!("system trust store: {e}");
        }
        roots.add_parsable_certificates(native.certs);
        if let Some(path) = extra_root {
            let pem = std::fs::read(path).map_err(|e| other(format!("{}: {e}", path.display())))?;
            let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut pem.as_slice())
                .collect::<Result<_, _>>()
                .map_err(|e| other(format!("{}: {e}", path.display())))?;
            if certs.is_empty() {
                return Err(other(format!("{}: no certificate", path.display())));
            }
            for c in certs {
                roots.add(c).map_err(other)?;
            }
        }
        let config = rustls::ClientConfig::builder_with_provider(super::super::pem::provider())
            .with_safe_default_protocol_versions()
            .map_err(other)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Client {
            tls: TlsConnector::from(Arc::new(config)),
        })
    }
}

impl HttpClient for Client {
    fn request(
        &self,
        req: Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, Error>> + Send>> {
        let tls = self.tls.clone();
        Box::pin(async move {
            tokio::time::timeout(REQUEST_TIMEOUT, send(tls, req))
                .await
                .map_err(|_| other("the ACME server did not answer within 30 s"))?
        })
    }
}

async fn send(
    tls: TlsConnector,
    mut req: Request<BodyWrapper<Bytes>>,
) -> Result<BytesResponse, Error> {
    let uri = req.uri().clone();
    if uri.scheme_str() != Some("https") {
        return Err(other(format!("{uri}: ACME needs an https URL")));
    }
    let host = uri.host().ok_or_else(|| other(format!("{uri}: no host")))?;
    let port = uri.port_u16().unwrap_or(443);
    let name = ServerName::try_from(host.trim_matches(['[', ']']).to_owned()).map_err(other)?;
    let tcp = TcpStream::connect((host.trim_matches(['[', ']']), port))
        .await
        .map_err(|e| other(format!("{host}:{port}: {e}")))?;
    let stream = tls
        .connect(name, tcp)
        .await
        .map_err(|e| other(format!("TLS with {host}:{port}: {e}")))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(other)?;
    // The connection is driven on its own until the response body has been read.
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!("ACME connection: {e}");
        }
    });
    // HTTP/1.1 origin-form request target with a Host header (RFC 9112 3.2).
    let authority = uri
        .authority()
        .map(|a| a.as_str().to_owned())
        .unwrap_or_default();
    *req.uri_mut() = uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse()
        .map_err(other)?;
    req.headers_mut()
        .insert(hyper::header::HOST, authority.parse().map_err(other)?);
    let rsp = sender.send_request(req).await.map_err(other)?;
    Ok(BytesResponse::from(rsp))
}
