//! The certificate the HTTPS listener serves, and how it changes while easd runs.
//!
//! One [`Certs`] per daemon holds the served certificate in a cell its rustls resolver
//! reads at every handshake, so installing a certificate (`easd cert install`, the web
//! page) or receiving one from ACME swaps it for new connections while established ones
//! (a waiting Ping) keep theirs. Where it comes from, by precedence:
//! an ACME certificate (`[acme] enabled`), one installed with `easd cert install`, the
//! configured `cert`/`key` files, else a self-signed one made at first start.

pub mod acme;
mod files;
mod pem;
mod served;
pub mod x509;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The ALPN protocol of ACME TLS-ALPN-01 handshakes (RFC 8737 6.2).
pub const ACME_ALPN: &[u8] = b"acme-tls/1";

pub use served::Certs;

use crate::store::model::AcmeRecord;
use x509::CertInfo;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Pem(String),
    #[error("{0}: no certificate found in the PEM")]
    NoCert(String),
    #[error("{0}: no private key found in the PEM")]
    NoKey(String),
    #[error("the private key does not belong to the certificate (its public key differs)")]
    KeyMismatch,
    #[error("{which} ({subject}) expired on {when}")]
    Expired {
        which: String,
        subject: String,
        when: String,
    },
    #[error("{which} ({subject}) is not valid before {when}")]
    NotYetValid {
        which: String,
        subject: String,
        when: String,
    },
    #[error("{which}: {source}")]
    Unreadable {
        which: String,
        source: x509::NotACertificate,
    },
    #[error("certificate generation: {0}")]
    Generate(String),
    #[error(
        "ACME is enabled in [acme]: its certificates replace installed ones; turn it off to install one by hand"
    )]
    AcmeManaged,
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Where the served certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Source {
    /// Made by easd at first start: phones warn about it, Outlook refuses it.
    SelfSigned,
    /// The `cert`/`key` files of the configuration.
    Configured { cert: PathBuf },
    /// Installed with `easd cert install` or the web page.
    Installed,
    /// Issued by the ACME CA of `[acme] directory`.
    Acme,
}

/// What the dashboard and `easd cert show` say about the served certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertState {
    pub source: Source,
    /// The end-entity certificate.
    pub leaf: CertInfo,
    /// How many certificates the chain holds, the leaf included.
    pub chain_len: usize,
    /// ACME's progress, when `[acme]` is enabled.
    pub acme: Option<AcmeState>,
}

/// ACME as configured and as it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcmeState {
    pub directory: String,
    pub domains: Vec<String>,
    #[serde(flatten)]
    pub record: AcmeRecord,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::SelfSigned => f.write_str("self-signed (made by easd)"),
            Source::Configured { cert } => write!(f, "configured ({})", cert.display()),
            Source::Installed => f.write_str("installed (easd cert install)"),
            Source::Acme => f.write_str("ACME"),
        }
    }
}

/// Unix seconds now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Unix seconds as an RFC 3339 UTC date, for messages.
pub fn show_time(secs: i64) -> String {
    jiff::Timestamp::from_second(secs).map_or_else(|_| secs.to_string(), |t| t.to_string())
}
