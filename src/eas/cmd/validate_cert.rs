//! ValidateCert ([MS-ASCMD] 2.2.1.22): each certificate of Certificates validated, its
//! chain built from CertificateChain, by `directory::certcheck` against the S/MIME trust
//! store; one Status per certificate, in the request's order.

use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rustls::pki_types::CertificateDer;

use super::{Ctx, Reply, body_with_root, status_reply};
use crate::directory::certcheck::{self, CertStatus, TrustStore};
use crate::store::StoreError;
use crate::wbxml::{Element, tag::validatecert as vc};

/// Certificates validated by one request at most, chain included: each costs signature
/// checks, and a phone sends one sender's certificate with its chain.
const MAX_CERTIFICATES: usize = 100;

#[derive(Debug)]
struct Request {
    certificates: Vec<Vec<u8>>,
    chain: Vec<Vec<u8>>,
    check_crl: bool,
}

/// The DER of each Certificate under `list`: OPAQUE bytes, or base64 text ([MS-ASCMD]
/// 2.2.3.19.3: "a Base64-encoded X.509 certificate").
fn der_list(list: Option<&Element>) -> Result<Vec<Vec<u8>>, String> {
    let Some(list) = list else {
        return Ok(Vec::new());
    };
    list.find_all(vc::CERTIFICATE)
        .enumerate()
        .map(|(i, c)| {
            let der = match (c.opaque(), c.text()) {
                (Some(bytes), _) => Cow::Borrowed(bytes),
                (None, Some(text)) => {
                    let compact: String = text.split_whitespace().collect();
                    Cow::Owned(
                        STANDARD
                            .decode(compact)
                            .map_err(|e| format!("certificate {} is not base64: {e}", i + 1))?,
                    )
                }
                (None, None) => return Err(format!("certificate {} is empty", i + 1)),
            };
            // A DER SEQUENCE at least; what it holds is the validator's to judge.
            if der.first() != Some(&0x30) {
                return Err(format!("certificate {} is not DER", i + 1));
            }
            Ok(der.into_owned())
        })
        .collect()
}

fn parse(req: &Element) -> Result<Request, String> {
    let certificates = der_list(req.find(vc::CERTIFICATES))?;
    if certificates.is_empty() {
        return Err("no Certificates".into());
    }
    let chain =
        der_list(req.find(vc::CERTIFICATE_CHAIN)).map_err(|e| format!("CertificateChain: {e}"))?;
    if certificates.len() + chain.len() > MAX_CERTIFICATES {
        return Err(format!(
            "{} certificates (at most {MAX_CERTIFICATES})",
            certificates.len() + chain.len()
        ));
    }
    // CheckCrl: 0 or 1 ([MS-ASCMD] 2.2.3.26), absent means 0.
    let check_crl = match req.text_of(vc::CHECK_CRL).map(str::trim) {
        None | Some("0") => false,
        Some("1") => true,
        Some(other) => return Err(format!("CheckCRL {other:?}")),
    };
    Ok(Request {
        certificates,
        chain,
        check_crl,
    })
}

pub async fn handle(ctx: &mut Ctx<'_>, body: Option<Element>) -> Result<Reply, StoreError> {
    let parsed = body_with_root(body, vc::VALIDATE_CERT)
        .ok_or_else(|| "not a ValidateCert request".to_owned())
        .and_then(|b| parse(&b));
    let request = match parsed {
        Ok(r) => r,
        Err(why) => {
            tracing::info!(who = %ctx.who(), "ValidateCert refused: {why}");
            return Ok(protocol_error());
        }
    };
    let roots = ctx.app.cfg.directory.smime_roots.clone();
    // Reading the trust store and checking signatures is blocking work.
    let statuses = tokio::task::spawn_blocking(move || {
        let store = TrustStore::load(roots.as_deref())?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let chain: Vec<CertificateDer<'_>> = request
            .chain
            .iter()
            .map(|c| CertificateDer::from(c.as_slice()))
            .collect();
        Ok::<_, String>(
            request
                .certificates
                .iter()
                .map(|c| certcheck::validate(&store, c, &chain, now, request.check_crl))
                .collect::<Vec<_>>(),
        )
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r);
    let statuses = match statuses {
        Ok(s) => s,
        Err(why) => {
            tracing::error!(who = %ctx.who(), "ValidateCert: {why}");
            return Ok(status_reply(
                vc::VALIDATE_CERT,
                vc::STATUS,
                CertStatus::ServerError,
            ));
        }
    };
    tracing::debug!(who = %ctx.who(), ?statuses, "ValidateCert");
    let mut root = Element::new(vc::VALIDATE_CERT).text_child(vc::STATUS, "1");
    for s in statuses {
        root.push(Element::new(vc::CERTIFICATE).text_child(vc::STATUS, s.code().to_string()));
    }
    Ok(Reply::Wbxml(root))
}

fn protocol_error() -> Reply {
    status_reply(vc::VALIDATE_CERT, vc::STATUS, CertStatus::ProtocolError)
}
