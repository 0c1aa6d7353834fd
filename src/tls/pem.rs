//! Reading a PEM certificate chain and key before they are served: the chain parses,
//! the key is the leaf's, and (for a new one) no certificate of the chain is outside its
//! validity.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

use super::x509::{self, CertInfo};
use super::{TlsError, show_time};

/// A chain and key that [`parse`] read, ready to serve.
#[derive(Clone)]
pub struct Checked {
    pub key: Arc<CertifiedKey>,
    pub leaf: CertInfo,
    /// Every certificate of the chain, leaf first.
    chain: Vec<CertInfo>,
    /// The PEM, key first, as it is kept on disk.
    pub pem: String,
}

/// The provider easd's TLS uses (ring).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Parses `chain_pem` (leaf first) and `key_pem` and checks that the key is the leaf's.
/// `origin` names the input in errors (a file, "the uploaded chain").
pub fn parse(chain_pem: &str, key_pem: &str, origin: &str) -> Result<Checked, TlsError> {
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut chain_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Pem(format!("{origin}: the chain is not valid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(TlsError::NoCert(origin.to_owned()));
    }
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut key_pem.as_bytes())
        .map_err(|e| TlsError::Pem(format!("{origin}: the key is not valid PEM: {e}")))?
        .ok_or_else(|| TlsError::NoKey(origin.to_owned()))?;
    let chain = certs
        .iter()
        .enumerate()
        .map(|(i, der)| {
            x509::info(der).map_err(|source| TlsError::Unreadable {
                which: which(i),
                source,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let key = CertifiedKey::from_der(certs, key, &provider()).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => TlsError::KeyMismatch,
        other => TlsError::Rustls(other),
    })?;
    let mut pem = key_pem.trim_end().to_owned();
    pem.push('\n');
    pem.push_str(chain_pem.trim_end());
    pem.push('\n');
    Ok(Checked {
        key: Arc::new(key),
        leaf: chain[0].clone(),
        chain,
        pem,
    })
}

/// "the certificate" for the leaf, "chain certificate N" for the others.
fn which(i: usize) -> String {
    if i == 0 {
        "the certificate".to_owned()
    } else {
        format!("chain certificate {}", i + 1)
    }
}

impl Checked {
    /// Whether every certificate of the chain is within its validity at `now`.
    pub fn current(&self, now: i64) -> Result<(), TlsError> {
        for (i, info) in self.chain.iter().enumerate() {
            if info.not_after < now {
                return Err(TlsError::Expired {
                    which: which(i),
                    subject: info.subject.clone(),
                    when: show_time(info.not_after),
                });
            }
            if info.not_before > now {
                return Err(TlsError::NotYetValid {
                    which: which(i),
                    subject: info.subject.clone(),
                    when: show_time(info.not_before),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(chain: &str, key: &str, origin: &str, now: i64) -> Result<Checked, TlsError> {
        let c = parse(chain, key, origin)?;
        c.current(now)?;
        Ok(c)
    }

    fn pair(names: &[&str], not_after_year: Option<i32>) -> (String, String) {
        let mut params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, names[0]);
        if let Some(y) = not_after_year {
            params.not_before = rcgen::date_time_ymd(y - 1, 1, 1);
            params.not_after = rcgen::date_time_ymd(y, 1, 1);
        }
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn a_matching_pair_is_served_and_described() {
        let (chain, key) = pair(&["mail.example.com"], None);
        let c = check(&chain, &key, "test", crate::tls::now()).unwrap();
        assert_eq!(c.leaf.subject, "CN=mail.example.com");
        assert_eq!(c.leaf.issuer, "CN=mail.example.com");
        assert!(c.leaf.not_after > crate::tls::now());
        let der = &c.key.cert[0];
        assert_eq!(c.leaf.sha256, x509::fingerprint(der));
        assert_eq!(c.leaf.sha256.len(), 32 * 3 - 1);
        assert_eq!(c.key.cert.len(), 1);
        assert!(c.pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        // What is kept on disk reads back as the same pair.
        assert!(check(&c.pem, &c.pem, "kept", crate::tls::now()).is_ok());
    }

    #[test]
    fn a_key_of_another_certificate_is_refused() {
        let (chain, _) = pair(&["a.example.com"], None);
        let (_, other_key) = pair(&["b.example.com"], None);
        let e = check(&chain, &other_key, "t", crate::tls::now())
            .err()
            .unwrap();
        assert!(matches!(e, TlsError::KeyMismatch), "{e}");
    }

    #[test]
    fn an_expired_certificate_is_refused_with_its_date() {
        let (chain, key) = pair(&["old.example.com"], Some(2020));
        let e = check(&chain, &key, "t", crate::tls::now()).err().unwrap();
        assert_eq!(
            e.to_string(),
            "the certificate (CN=old.example.com) expired on 2020-01-01T00:00:00Z"
        );
    }

    #[test]
    fn garbage_is_refused_clearly() {
        let (_, key) = pair(&["a.example.com"], None);
        let e = check("hello", &key, "upload", crate::tls::now())
            .err()
            .unwrap();
        assert_eq!(e.to_string(), "upload: no certificate found in the PEM");
        let (chain, _) = pair(&["a.example.com"], None);
        let e = check(&chain, "no key here", "upload", 0).err().unwrap();
        assert!(matches!(e, TlsError::NoKey(_)), "{e}");
        let bad = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let e = check(bad, &key, "upload", 0).err().unwrap();
        assert!(e.to_string().contains("the certificate"), "{e}");
    }
}
