//! What an admin checks about the served certificate: its SHA-256 fingerprint (printed at
//! first start, to compare with what the browser shows), its issuer and its expiry (the
//! dashboard). A small DER reader of the few X.509 fields needed (RFC 5280 4.1), bounds
//! checked: a malformed certificate is an error, never a panic.

use std::path::Path;

use sha2::{Digest, Sha256};

/// The served chain's first (leaf) certificate, as shown to the admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// SHA-256 of the DER, as `AB:CD:…` (how browsers show it).
    pub fingerprint: String,
    /// The issuer's common name and organisation (`CN=…, O=…`), else its whole DER name
    /// in hex.
    pub issuer: String,
    /// notAfter, in Unix seconds.
    pub not_after: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("no certificate in the PEM file")]
    Empty,
    #[error("malformed certificate: {0}")]
    Malformed(&'static str),
}

/// Reads the first certificate of a PEM file.
pub fn read(path: &Path) -> Result<CertInfo, CertError> {
    let file = std::fs::File::open(path)?;
    let der = rustls_pemfile::certs(&mut std::io::BufReader::new(file))
        .next()
        .ok_or(CertError::Empty)??;
    parse(&der)
}

/// Reads a DER certificate.
pub fn parse(der: &[u8]) -> Result<CertInfo, CertError> {
    let fingerprint = Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    let (cert, _) = tlv(der, SEQUENCE)?;
    let (mut tbs, _) = tlv(cert, SEQUENCE)?;
    // [0] EXPLICIT version, absent in v1 certificates.
    if tbs.first() == Some(&0xA0) {
        tbs = tlv(tbs, 0xA0)?.1;
    }
    let (_serial, rest) = tlv(tbs, INTEGER)?;
    let (_algorithm, rest) = tlv(rest, SEQUENCE)?;
    let (issuer, rest) = tlv(rest, SEQUENCE)?;
    let (validity, _) = tlv(rest, SEQUENCE)?;
    let (_not_before, rest) = any_time(validity)?;
    let (not_after, _) = any_time(rest)?;
    Ok(CertInfo {
        fingerprint,
        issuer: name(issuer)?,
        not_after,
    })
}

const INTEGER: u8 = 0x02;
const OID: u8 = 0x06;
const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;

/// One TLV of tag `tag` at the start of `input`: (its contents, what follows).
fn tlv(input: &[u8], tag: u8) -> Result<(&[u8], &[u8]), CertError> {
    let (&t, _) = input
        .split_first()
        .ok_or(CertError::Malformed("truncated"))?;
    if t != tag {
        return Err(CertError::Malformed("unexpected tag"));
    }
    any_tlv(input).map(|(_, c, r)| (c, r))
}

/// One TLV whatever its tag: (tag, contents, what follows).
fn any_tlv(input: &[u8]) -> Result<(u8, &[u8], &[u8]), CertError> {
    let short = CertError::Malformed("truncated");
    let (&tag, rest) = input.split_first().ok_or(short)?;
    let (&first, mut rest) = rest
        .split_first()
        .ok_or(CertError::Malformed("truncated"))?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        // Long form: the low bits say how many length bytes follow (at most 4 here).
        let n = usize::from(first & 0x7F);
        if n == 0 || n > 4 || rest.len() < n {
            return Err(CertError::Malformed("bad length"));
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |l, &b| (l << 8) | usize::from(b));
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return Err(CertError::Malformed("truncated"));
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

/// A UTCTime or GeneralizedTime in Unix seconds, and what follows.
fn any_time(input: &[u8]) -> Result<(i64, &[u8]), CertError> {
    let (tag, contents, rest) = any_tlv(input)?;
    let text = std::str::from_utf8(contents).map_err(|_| CertError::Malformed("time"))?;
    let full = match tag {
        // RFC 5280 4.1.2.5.1: YY of 50 and above is 19YY, else 20YY.
        UTC_TIME if text.len() == 13 => {
            let century = if text[..2] >= *"50" { "19" } else { "20" };
            format!("{century}{text}")
        }
        GENERALIZED_TIME if text.len() == 15 => text.to_owned(),
        _ => return Err(CertError::Malformed("time")),
    };
    // YYYYMMDDHHMMSSZ: read by hand (jiff's strptime would add its whole formatter).
    let bad = CertError::Malformed("time");
    let digits = full
        .strip_suffix('Z')
        .filter(|d| d.len() == 14 && d.bytes().all(|b| b.is_ascii_digit()));
    let Some(d) = digits else {
        return Err(bad);
    };
    let n = |r: std::ops::Range<usize>| {
        d[r].parse::<i16>()
            .map_err(|_| CertError::Malformed("time"))
    };
    let dt = jiff::civil::DateTime::new(
        n(0..4)?,
        n(4..6)? as i8,
        n(6..8)? as i8,
        n(8..10)? as i8,
        n(10..12)? as i8,
        n(12..14)? as i8,
        0,
    )
    .map_err(|_| CertError::Malformed("time"))?;
    let at = jiff::tz::TimeZone::UTC
        .to_timestamp(dt)
        .map_err(|_| CertError::Malformed("time"))?;
    Ok((at.as_second(), rest))
}

/// A Name as `CN=…, O=…` (the attributes an admin recognises), else hex.
fn name(mut rdns: &[u8]) -> Result<String, CertError> {
    const CN: &[u8] = &[0x55, 0x04, 0x03];
    const O: &[u8] = &[0x55, 0x04, 0x0A];
    let mut parts = Vec::new();
    let whole = rdns;
    while !rdns.is_empty() {
        let (set, rest) = tlv(rdns, SET)?;
        rdns = rest;
        let (attr, _) = tlv(set, SEQUENCE)?;
        let (oid, value) = tlv(attr, OID)?;
        let (_, text, _) = any_tlv(value)?;
        let label = match oid {
            CN => "CN",
            O => "O",
            _ => continue,
        };
        parts.push(format!("{label}={}", String::from_utf8_lossy(text)));
    }
    if parts.is_empty() {
        return Ok(whole.iter().map(|b| format!("{b:02x}")).collect());
    }
    Ok(parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_generated_certificate_and_refuses_garbage() {
        let mut params = rcgen::CertificateParams::new(vec!["mail.example.com".into()]).unwrap();
        params.not_after = rcgen::date_time_ymd(2031, 5, 17);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "easd test CA");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Example");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let info = parse(cert.der()).unwrap();
        assert_eq!(info.issuer, "CN=easd test CA, O=Example");
        assert_eq!(
            info.not_after,
            jiff::tz::TimeZone::UTC
                .to_timestamp(jiff::civil::date(2031, 5, 17).at(0, 0, 0, 0))
                .unwrap()
                .as_second()
        );
        assert_eq!(info.fingerprint.len(), 32 * 3 - 1);
        assert!(info.fingerprint.split(':').all(|b| b.len() == 2));

        let der = cert.der().to_vec();
        for cut in [0, 1, 10, der.len() / 2, der.len() - 1] {
            // Truncated: an error whatever the cut (the outer length no longer fits).
            assert!(parse(&der[..cut]).is_err(), "cut at {cut}");
        }
        assert!(parse(b"\x30\x85\xff\xff\xff\xff\xff").is_err());
    }
}
