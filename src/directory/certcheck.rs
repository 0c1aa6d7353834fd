//! S/MIME certificate validation, for ValidateCert ([MS-ASCMD] 2.2.1.22): a certificate's
//! chain built and checked by webpki (the verifier rustls already links) against a trust
//! store: signatures, validity dates, CA constraints, and the emailProtection extended key
//! usage where the certificate lists extended key usages (RFC 8550 4.4.4). Revocation is not
//! checked: easd fetches no CRL. Pure: the anchors and the time are passed in; reading the
//! trust store from the system or a file is `TrustStore::load`.

use std::path::Path;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, TrustAnchor, UnixTime};
use webpki::{EndEntityCert, Error, KeyUsage};

use crate::proto::status::command_status;

command_status! {
    /// A certificate's Status in a ValidateCert response ([MS-ASCMD] 2.2.3.177.18); the
    /// response's own Status is 1, 2 for a request that cannot be read, or 17.
    pub enum CertStatus {
        Valid = 1,
        ProtocolError = 2,
        /// "The signature in the digital ID cannot be validated."
        BadSignature = 3,
        /// "The digital ID was issued by an untrusted source": the chain is whole but its
        /// root is not in the trust store.
        UntrustedRoot = 4,
        /// "The certificate chain that contains the digital ID was not created correctly":
        /// no chain to any root could be built (an intermediate is missing, or worse).
        ChainInvalid = 5,
        /// "The digital ID is not valid for signing e-mail messages": its extended key
        /// usages leave out emailProtection.
        NotForEmail = 6,
        /// "The digital ID has expired or is not yet valid" (it or a certificate of its chain).
        Expired = 7,
        /// "The validity periods of the digital IDs in the chain are not consistent."
        InconsistentValidity = 8,
        /// "A digital ID in the chain is used incorrectly" (path length or name constraints).
        UsedIncorrectly = 9,
        /// "Information associated with the digital ID is missing or incorrect."
        BadInformation = 10,
        /// "An end-entity digital ID is used as a CA, or a CA one as an end entity."
        WrongRole = 11,
        /// "The digital ID has been revoked" (only from a revocation list; easd reads none).
        Revoked = 13,
        /// "The revocation status of the digital ID cannot be determined": what a CheckCRL
        /// request gets for a certificate that is otherwise valid, since easd fetches no CRL.
        RevocationUnknown = 14,
        /// The response's Status when the server could not validate at all (its trust
        /// store unreadable): "a value of 17 indicates failure".
        ServerError = 17,
    }
}

/// emailProtection, 1.3.6.1.5.5.7.3.4 (RFC 5280 4.2.1.12), as DER OID content.
const EKU_EMAIL_PROTECTION: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x04];

/// The certificate authorities S/MIME certificates are checked against.
pub struct TrustStore {
    anchors: Vec<TrustAnchor<'static>>,
}

impl TrustStore {
    /// Anchors from certificates (DER); those webpki cannot use as anchors are skipped and
    /// counted.
    pub fn from_certificates<'a>(
        certs: impl IntoIterator<Item = CertificateDer<'a>>,
    ) -> (TrustStore, usize) {
        let mut skipped = 0;
        let anchors = certs
            .into_iter()
            .filter_map(|c| match webpki::anchor_from_trusted_cert(&c) {
                Ok(a) => Some(a.to_owned()),
                Err(_) => {
                    skipped += 1;
                    None
                }
            })
            .collect();
        (TrustStore { anchors }, skipped)
    }

    /// The system's trust store (rustls-native-certs: `SSL_CERT_FILE`, or the
    /// distribution's bundle such as /etc/ssl/certs/ca-certificates.crt), or the CAs of a
    /// PEM file instead (`[directory] smime_roots`). Reads files: call it off the serving
    /// thread.
    pub fn load(pem_file: Option<&Path>) -> Result<TrustStore, String> {
        let certs: Vec<CertificateDer<'static>> = match pem_file {
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
                rustls_pemfile::certs(&mut pem.as_slice())
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("{}: {e}", path.display()))?
            }
            None => {
                let native = rustls_native_certs::load_native_certs();
                for e in &native.errors {
                    tracing::debug!("system trust store: {e}");
                }
                native.certs
            }
        };
        let (store, skipped) = TrustStore::from_certificates(certs);
        if skipped > 0 {
            tracing::debug!("S/MIME trust store: {skipped} certificates are not usable anchors");
        }
        if store.anchors.is_empty() {
            return Err("the S/MIME trust store holds no certificate authority".into());
        }
        Ok(store)
    }
}

/// The Status of `cert` (DER) at `now` (Unix seconds), its chain built from `chain`
/// (intermediates, in any order). `check_crl`: the client asked for a revocation check.
pub fn validate(
    store: &TrustStore,
    cert: &[u8],
    chain: &[CertificateDer<'_>],
    now: i64,
    check_crl: bool,
) -> CertStatus {
    let der = CertificateDer::from(cert);
    let Ok(leaf) = EndEntityCert::try_from(&der) else {
        return CertStatus::BadInformation;
    };
    let time = UnixTime::since_unix_epoch(Duration::from_secs(now.max(0) as u64));
    let verify = |anchors: &[TrustAnchor<'_>]| {
        leaf.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            anchors,
            chain,
            time,
            KeyUsage::required_if_present(EKU_EMAIL_PROTECTION),
            None,
            None,
        )
        .map(|_| ())
    };
    match verify(&store.anchors) {
        Ok(()) if check_crl => CertStatus::RevocationUnknown,
        Ok(()) => CertStatus::Valid,
        // No path to a trusted root: a chain that is whole up to a root of its own is
        // "issued by an untrusted source"; one that is not is "not created correctly".
        Err(Error::UnknownIssuer) => {
            let (own, _) = TrustStore::from_certificates(chain.iter().cloned());
            if !own.anchors.is_empty() && verify(&own.anchors).is_ok() {
                CertStatus::UntrustedRoot
            } else {
                CertStatus::ChainInvalid
            }
        }
        Err(e) => status_of(&e),
    }
}

/// webpki's verdict as the ValidateCert Status ([MS-ASCMD] 2.2.3.177.18) that names it.
#[allow(deprecated)] // The deprecated variants are still what webpki may return.
fn status_of(e: &Error) -> CertStatus {
    use CertStatus as S;
    match e {
        Error::InvalidSignatureForPublicKey
        | Error::SignatureAlgorithmMismatch
        | Error::UnsupportedSignatureAlgorithm
        | Error::UnsupportedSignatureAlgorithmContext(_)
        | Error::UnsupportedSignatureAlgorithmForPublicKey
        | Error::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => S::BadSignature,
        Error::UnknownIssuer | Error::CertDistrusted => S::UntrustedRoot,
        Error::RequiredEkuNotFound | Error::RequiredEkuNotFoundContext(_) => S::NotForEmail,
        Error::CertExpired { .. } | Error::CertNotValidYet { .. } => S::Expired,
        Error::InvalidCertValidity => S::InconsistentValidity,
        Error::PathLenConstraintViolated
        | Error::NameConstraintViolation
        | Error::MalformedNameConstraint
        | Error::InvalidNetworkMaskConstraint => S::UsedIncorrectly,
        Error::CaUsedAsEndEntity | Error::EndEntityUsedAsCa => S::WrongRole,
        Error::BadDer
        | Error::BadDerTime
        | Error::TrailingData(_)
        | Error::EmptyEkuExtension
        | Error::ExtensionValueInvalid
        | Error::MalformedExtensions
        | Error::InvalidSerialNumber
        | Error::UnsupportedCertVersion
        | Error::UnsupportedCriticalExtension => S::BadInformation,
        Error::CertRevoked => S::Revoked,
        Error::UnknownRevocationStatus => S::RevocationUnknown,
        // Path building gave up (too deep, too many signatures), or anything newer.
        _ => S::ChainInvalid,
    }
}
