//! The certificate operations: show what is served, install a PEM chain and key. The
//! daemon runs them on its live [`Certs`] (a new certificate reaches new connections at
//! once); `easd cert` runs them on the data directory when no daemon runs.

use serde::{Deserialize, Serialize};

use super::reply::Reply;
use crate::tls::Certs;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "cert", rename_all = "snake_case")]
pub enum CertRequest {
    Show,
    /// The PEM texts themselves: the daemon may not read the caller's files.
    Install {
        chain_pem: String,
        key_pem: String,
    },
}

impl CertRequest {
    pub fn op_name(&self) -> &'static str {
        match self {
            CertRequest::Show => "cert_show",
            CertRequest::Install { .. } => "cert_install",
        }
    }

    /// Whether it changes something (and so goes into the audit log).
    pub fn changes(&self) -> bool {
        matches!(self, CertRequest::Install { .. })
    }

    pub fn execute(self, certs: &Certs) -> Reply {
        match self {
            CertRequest::Show => Reply::Cert {
                state: Box::new(certs.state()),
            },
            CertRequest::Install { chain_pem, key_pem } => {
                match certs.install(&chain_pem, &key_pem) {
                    Ok(state) => Reply::Cert {
                        state: Box::new(state),
                    },
                    Err(e) => {
                        tracing::warn!("certificate install refused: {e}");
                        Reply::Error {
                            message: format!("certificate not installed: {e}"),
                        }
                    }
                }
            }
        }
    }
}
