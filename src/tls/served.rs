//! The served certificate: chosen at start, swapped while running.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::files::{self, acme_cert_path, io, read_acme_record, read_if_present, replace_private};
use super::pem::{self, Checked};
use super::{ACME_ALPN, AcmeState, CertState, Source, TlsError, now};
use crate::config::Config;
use crate::store::model::AcmeRecord;

/// The cell rustls asks at every handshake; a swap affects only handshakes after it.
#[derive(Debug)]
struct Cell {
    served: RwLock<Arc<CertifiedKey>>,
    /// Open TLS-ALPN-01 challenges: the validation certificate by domain (RFC 8737 3).
    alpn_challenges: RwLock<HashMap<String, Arc<CertifiedKey>>>,
}

impl ResolvesServerCert for Cell {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        // A CA validating TLS-ALPN-01 offers only `acme-tls/1` and names the domain in SNI;
        // it gets the challenge's certificate, or no handshake at all.
        if hello
            .alpn()
            .is_some_and(|mut offered| offered.any(|p| p == ACME_ALPN))
        {
            let domain = hello.server_name()?.to_ascii_lowercase();
            return read(&self.alpn_challenges).get(&domain).cloned();
        }
        Some(read(&self.served).clone())
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

/// The daemon's certificate: what is served, where it comes from, and how to change it.
pub struct Certs {
    data: PathBuf,
    /// `[acme] enabled`: ACME owns the certificate, `install` refuses.
    acme: bool,
    /// `[acme] challenge = "tls-alpn-01"`: the listener also offers ALPN `acme-tls/1`.
    alpn_challenge: bool,
    cell: Arc<Cell>,
    state: Mutex<CertState>,
}

impl Certs {
    /// Chooses the certificate to serve (see the module documentation for the order) and
    /// makes the self-signed one if nothing else is there. A chosen certificate that has
    /// expired is still served, with a warning: better than not starting.
    pub fn load(cfg: &Config) -> Result<Certs, TlsError> {
        let data = &cfg.data;
        let (checked, source) = match Self::acme_cert(cfg)? {
            Some(c) => (c, Source::Acme),
            None => Self::fallback(cfg)?,
        };
        if let Err(e) = checked.current(now()) {
            tracing::warn!("serving a certificate that is not valid now: {e}");
        }
        tracing::info!(
            "TLS certificate: {source}, {}, issued by {}, valid until {}",
            checked.leaf.subject,
            checked.leaf.issuer,
            super::show_time(checked.leaf.not_after)
        );
        let acme = cfg.acme.enabled.then(|| AcmeState {
            directory: cfg.acme.directory.clone(),
            domains: cfg.acme_domains(),
            record: read_acme_record(data),
        });
        Ok(Certs {
            data: data.clone(),
            acme: cfg.acme.enabled,
            alpn_challenge: cfg.acme.enabled
                && cfg.acme.challenge == crate::config::AcmeChallenge::TlsAlpn01,
            state: Mutex::new(state_of(&checked, source, acme)),
            cell: Arc::new(Cell {
                served: RwLock::new(checked.key),
                alpn_challenges: RwLock::default(),
            }),
        })
    }

    /// ACME's certificate, when ACME is on and it has one that reads.
    fn acme_cert(cfg: &Config) -> Result<Option<Checked>, TlsError> {
        if !cfg.acme.enabled {
            return Ok(None);
        }
        let path = acme_cert_path(&cfg.data);
        let Some(text) = read_if_present(&path)? else {
            return Ok(None);
        };
        match pem::parse(&text, &text, &path.display().to_string()) {
            Ok(c) => Ok(Some(c)),
            Err(e) => {
                tracing::warn!("{}: {e}; ACME will ask for a new one", path.display());
                Ok(None)
            }
        }
    }

    /// The installed certificate, else the configured files, else the self-signed pair.
    fn fallback(cfg: &Config) -> Result<(Checked, Source), TlsError> {
        let installed = files::installed_path(&cfg.data);
        if let Some(text) = read_if_present(&installed)? {
            let origin = installed.display().to_string();
            return Ok((pem::parse(&text, &text, &origin)?, Source::Installed));
        }
        let (cert, key, source) = match (&cfg.cert, &cfg.key) {
            (Some(c), Some(k)) => (c.clone(), k.clone(), Source::Configured { cert: c.clone() }),
            _ => {
                let (c, k) = files::ensure_self_signed(&cfg.data, &cfg.hostname)?;
                (c, k, Source::SelfSigned)
            }
        };
        let chain = std::fs::read_to_string(&cert).map_err(io(&cert))?;
        let key_pem = std::fs::read_to_string(&key).map_err(io(&key))?;
        Ok((
            pem::parse(&chain, &key_pem, &cert.display().to_string())?,
            source,
        ))
    }

    /// The rustls configuration of the HTTPS listener, which asks this cell at every
    /// handshake.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, TlsError> {
        let mut config = ServerConfig::builder_with_provider(pem::provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(self.cell.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        if self.alpn_challenge {
            config.alpn_protocols.push(ACME_ALPN.to_vec());
        }
        Ok(Arc::new(config))
    }

    /// What is served now.
    pub fn state(&self) -> CertState {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Checks `chain_pem` and `key_pem`, keeps them durably in `DATA/tls/installed.pem`,
    /// then serves them to every new connection. On any error nothing changes.
    pub fn install(&self, chain_pem: &str, key_pem: &str) -> Result<CertState, TlsError> {
        if self.acme {
            return Err(TlsError::AcmeManaged);
        }
        let checked = pem::parse(chain_pem, key_pem, "the uploaded chain")?;
        checked.current(now())?;
        replace_private(&files::installed_path(&self.data), checked.pem.as_bytes())?;
        tracing::info!(
            "installed a certificate for {} issued by {}",
            checked.leaf.subject,
            checked.leaf.issuer
        );
        Ok(self.swap(checked, Source::Installed))
    }

    /// Keeps and serves a certificate ACME issued.
    pub(super) fn serve_acme(&self, checked: Checked) -> Result<CertState, TlsError> {
        replace_private(&acme_cert_path(&self.data), checked.pem.as_bytes())?;
        Ok(self.swap(checked, Source::Acme))
    }

    /// Seconds until an ACME certificate served now is due for renewal (`<= 0`: due, or
    /// none served).
    pub(super) fn acme_due_in(&self, renew_before: i64) -> i64 {
        let s = self.state();
        match s.source {
            Source::Acme => s.leaf.not_after - renew_before - now(),
            _ => 0,
        }
    }

    /// Answers TLS-ALPN-01 handshakes for `domain` with `key` until
    /// [`Certs::close_alpn_challenge`].
    pub(super) fn open_alpn_challenge(&self, domain: &str, key: Arc<CertifiedKey>) {
        write(&self.cell.alpn_challenges).insert(domain.to_ascii_lowercase(), key);
    }

    pub(super) fn close_alpn_challenge(&self, domain: &str) {
        write(&self.cell.alpn_challenges).remove(&domain.to_ascii_lowercase());
    }

    pub(super) fn set_acme_record(&self, record: AcmeRecord) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(a) = &mut s.acme {
            a.record = record;
        }
    }

    pub(super) fn data(&self) -> &Path {
        &self.data
    }

    fn swap(&self, checked: Checked, source: Source) -> CertState {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        *s = state_of(&checked, source, s.acme.take());
        *write(&self.cell.served) = checked.key;
        s.clone()
    }
}

fn state_of(c: &Checked, source: Source, acme: Option<AcmeState>) -> CertState {
    CertState {
        source,
        leaf: c.leaf.clone(),
        chain_len: c.key.cert.len(),
        acme,
    }
}
