//! What the dashboard and `easd cert show` say about a certificate: subject, issuer,
//! validity and fingerprint, read from its DER (RFC 5280 4.1) with yasna, which rcgen
//! already brings in. Nothing here decides trust: rustls does that.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use yasna::Tag;
use yasna::models::ObjectIdentifier;

/// The facts of one certificate a person needs to recognise it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertInfo {
    /// The subject's distinguished name, as `CN=…, O=…` (the attributes people read).
    pub subject: String,
    pub issuer: String,
    /// Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
    /// SHA-256 of the DER, as colon-separated hex (what browsers show).
    pub sha256: String,
}

/// Why a certificate could not be read.
#[derive(Debug, thiserror::Error)]
#[error("not an X.509 certificate: {0}")]
pub struct NotACertificate(String);

/// Reads the subject, issuer and validity of a DER certificate.
pub fn info(der: &[u8]) -> Result<CertInfo, NotACertificate> {
    let (issuer, not_before, not_after, subject) = yasna::parse_der(der, |r| {
        r.read_sequence(|r| {
            let tbs = r.next().read_sequence(|r| {
                // version [0] EXPLICIT, serialNumber, signature AlgorithmIdentifier
                r.read_optional(|r| r.read_tagged(Tag::context(0), |r| r.read_der()))?;
                r.next().read_der()?;
                r.next().read_der()?;
                let issuer = name(r.next())?;
                let (not_before, not_after) = r
                    .next()
                    .read_sequence(|r| Ok((time(r.next())?, time(r.next())?)))?;
                let subject = name(r.next())?;
                // subjectPublicKeyInfo, then the optional unique ids and extensions.
                r.next().read_der()?;
                while r.read_optional(|r| r.read_der())?.is_some() {}
                Ok((issuer, not_before, not_after, subject))
            })?;
            r.next().read_der()?; // signatureAlgorithm
            r.next().read_der()?; // signatureValue
            Ok(tbs)
        })
    })
    .map_err(|e| NotACertificate(e.to_string()))?;
    Ok(CertInfo {
        subject,
        issuer,
        not_before,
        not_after,
        sha256: fingerprint(der),
    })
}

/// SHA-256 of `der` as `AB:CD:…`.
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A Time (RFC 5280 4.1.2.5): UTCTime or GeneralizedTime, as unix seconds.
fn time(r: yasna::BERReader) -> yasna::ASN1Result<i64> {
    if r.lookahead_tag()? == yasna::tags::TAG_UTCTIME {
        Ok(r.read_utctime()?.datetime().unix_timestamp())
    } else {
        Ok(r.read_generalized_time()?.datetime().unix_timestamp())
    }
}

/// The attribute types shown of a Name, with their usual short names.
const SHOWN: &[(&[u64], &str)] = &[
    (&[2, 5, 4, 3], "CN"),
    (&[2, 5, 4, 11], "OU"),
    (&[2, 5, 4, 10], "O"),
    (&[2, 5, 4, 6], "C"),
];

/// A Name (RFC 5280 4.1.2.4) as `CN=…, O=…`: the shown attributes in their order.
fn name(r: yasna::BERReader) -> yasna::ASN1Result<String> {
    let mut parts = Vec::new();
    r.read_sequence_of(|r| {
        r.read_set_of(|r| {
            r.read_sequence(|r| {
                let oid: ObjectIdentifier = r.next().read_oid()?;
                let value = r.next().read_tagged_der()?;
                if let Some((_, short)) = SHOWN.iter().find(|(c, _)| oid.components() == *c) {
                    parts.push(format!(
                        "{short}={}",
                        String::from_utf8_lossy(value.value())
                    ));
                }
                Ok(())
            })
        })
    })?;
    Ok(parts.join(", "))
}
