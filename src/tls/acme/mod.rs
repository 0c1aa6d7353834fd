//! Certificates from an ACME CA (RFC 8555; Let's Encrypt), with instant-acme.
//!
//! easd answers the challenge itself, as `[acme] challenge` says. HTTP-01 (RFC 8555 8.3):
//! the CA fetches `http://DOMAIN/.well-known/acme-challenge/TOKEN` from port 80, which
//! must reach the `http` listener; [`Challenges`] holds the answers while an order is
//! open. TLS-ALPN-01 (RFC 8737): the CA makes a handshake with ALPN `acme-tls/1` on port
//! 443; the certificate resolver ([`Certs`]) answers it with a self-signed certificate
//! for the domain carrying the acmeIdentifier extension, and the accept loop closes
//! such a connection after the handshake. A task
//! ([`run`]) asks for a certificate at start when there is no ACME certificate, then
//! renews it `renew_before_days` before expiry, retrying at most every `retry_minutes`.
//! What happened is kept in `DATA/tls/acme/state.json` and shown by `easd cert show`.

mod client;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount,
    NewOrder, OrderStatus, RetryPolicy,
};
use rustls::pki_types::PrivateKeyDer;
use rustls::sign::CertifiedKey;
use serde::{Deserialize, Serialize};

use super::files::{
    account_path, read_acme_record, read_if_present, replace_private, write_acme_record,
};
use super::pem::{self, Checked};
use super::{Certs, now};
use crate::config::{AcmeChallenge, Config};

/// Where HTTP-01 challenges are fetched (RFC 8555 8.3).
pub const CHALLENGE_PREFIX: &str = "/.well-known/acme-challenge/";

/// How long the CA may take to validate the challenges, and to issue.
const VALIDATION: RetryPolicy = RetryPolicy::new()
    .initial_delay(Duration::from_millis(250))
    .backoff(1.5)
    .timeout(Duration::from_secs(90));

/// The longest sleep of the renewal timer: a clock that jumps is noticed within a day.
const MAX_SLEEP: i64 = 24 * 3600;

/// The key authorizations of the open HTTP-01 challenges, by token.
#[derive(Default)]
pub struct Challenges(Mutex<HashMap<String, String>>);

impl Challenges {
    /// The answer to `GET CHALLENGE_PREFIX + token`, while its challenge is open.
    pub fn answer(&self, token: &str) -> Option<String> {
        self.lock().get(token).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The account key easd registered with a directory, kept to be reused.
#[derive(Serialize, Deserialize)]
struct KeptAccount {
    directory: String,
    credentials: AccountCredentials,
}

/// Runs the issuance and renewal timer until aborted.
pub async fn run(certs: Rc<Certs>, cfg: Rc<Config>, challenges: Rc<Challenges>) {
    let renew_before = i64::from(cfg.acme.renew_before_days) * 86_400;
    let retry = Duration::from_secs(u64::from(cfg.acme.retry_minutes) * 60);
    loop {
        let due_in = certs.acme_due_in(renew_before);
        if due_in > 0 {
            tokio::time::sleep(Duration::from_secs(due_in.min(MAX_SLEEP) as u64)).await;
            continue;
        }
        attempt(&certs, &cfg, &challenges).await;
        tokio::time::sleep(retry).await;
    }
}

/// One issuance: the record says when and how it went; a new certificate is served.
async fn attempt(certs: &Certs, cfg: &Config, challenges: &Challenges) {
    let data = certs.data();
    let mut record = read_acme_record(data);
    record.last_attempt = Some(now());
    write_acme_record(data, &record);
    certs.set_acme_record(record.clone());
    let domains = cfg.acme_domains();
    tracing::info!(
        "ACME: asking {} for {}",
        cfg.acme.directory,
        domains.join(", ")
    );
    let outcome = match issue(cfg, &domains, certs, challenges).await {
        Ok(checked) => certs.serve_acme(checked).map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    match outcome {
        Ok(state) => {
            tracing::info!(
                "ACME: serving a new certificate from {}, valid until {}",
                state.leaf.issuer,
                super::show_time(state.leaf.not_after)
            );
            record.last_success = Some(now());
            record.last_error = None;
            record.not_after = Some(state.leaf.not_after);
        }
        Err(e) => {
            tracing::warn!("ACME: no certificate: {e}");
            record.last_error = Some(e);
        }
    }
    write_acme_record(data, &record);
    certs.set_acme_record(record);
}

/// The kept account for this directory, or a new one (kept before use).
async fn account(cfg: &Config, data: &Path) -> Result<Account, String> {
    let http = || -> Result<_, String> {
        Ok(Box::new(
            client::Client::new(cfg.acme.ca_root.as_deref()).map_err(|e| e.to_string())?,
        ))
    };
    let path = account_path(data);
    if let Some(text) = read_if_present(&path).map_err(|e| e.to_string())? {
        match serde_json::from_str::<KeptAccount>(&text) {
            Ok(kept) if kept.directory == cfg.acme.directory => {
                return Account::builder_with_http(http()?)
                    .from_credentials(kept.credentials)
                    .await
                    .map_err(|e| format!("restoring the ACME account: {e}"));
            }
            Ok(_) => tracing::info!("ACME: a new directory; registering a new account"),
            Err(e) => tracing::warn!("{}: {e}; registering a new account", path.display()),
        }
    }
    let contact: Vec<&str> = cfg.acme.contact.iter().map(String::as_str).collect();
    let (account, credentials) = Account::builder_with_http(http()?)
        .create(
            &NewAccount {
                contact: &contact,
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            cfg.acme.directory.clone(),
            None,
        )
        .await
        .map_err(|e| format!("registering with {}: {e}", cfg.acme.directory))?;
    let kept = KeptAccount {
        directory: cfg.acme.directory.clone(),
        credentials,
    };
    let json = serde_json::to_vec(&kept).map_err(|e| e.to_string())?;
    replace_private(&path, &json).map_err(|e| e.to_string())?;
    Ok(account)
}

/// The challenges of an order that easd answers, closed when the order is done.
#[derive(Default)]
struct Open {
    tokens: Vec<String>,
    alpn_domains: Vec<String>,
}

/// Orders a certificate for `domains`, answering the configured challenge, and reads it
/// back.
async fn issue(
    cfg: &Config,
    domains: &[String],
    certs: &Certs,
    challenges: &Challenges,
) -> Result<Checked, String> {
    let account = account(cfg, certs.data()).await?;
    let ids: Vec<Identifier> = domains
        .iter()
        .map(|d| match d.parse::<IpAddr>() {
            Ok(ip) => Identifier::Ip(ip),
            Err(_) => Identifier::Dns(d.clone()),
        })
        .collect();
    let mut order = account
        .new_order(&NewOrder::new(&ids))
        .await
        .map_err(|e| format!("new order: {e}"))?;
    let mut open = Open::default();
    let validated = async {
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let mut authz = authz.map_err(|e| format!("authorization: {e}"))?;
            match authz.status {
                AuthorizationStatus::Pending => {}
                AuthorizationStatus::Valid => continue,
                other => return Err(format!("authorization is {other:?}")),
            }
            let kind = match cfg.acme.challenge {
                AcmeChallenge::Http01 => ChallengeType::Http01,
                AcmeChallenge::TlsAlpn01 => ChallengeType::TlsAlpn01,
            };
            let mut challenge = authz
                .challenge(kind.clone())
                .ok_or_else(|| format!("the CA offers no {kind:?} challenge"))?;
            let key_authorization = challenge.key_authorization();
            match cfg.acme.challenge {
                AcmeChallenge::Http01 => {
                    let token = challenge.token.clone();
                    challenges
                        .lock()
                        .insert(token.clone(), key_authorization.as_str().to_owned());
                    open.tokens.push(token);
                }
                AcmeChallenge::TlsAlpn01 => {
                    let domain = challenge.identifier().to_string();
                    let key = alpn_certificate(&domain, key_authorization.digest().as_ref())?;
                    certs.open_alpn_challenge(&domain, key);
                    open.alpn_domains.push(domain);
                }
            }
            challenge
                .set_ready()
                .await
                .map_err(|e| format!("challenge: {e}"))?;
        }
        match order.poll_ready(&VALIDATION).await {
            Ok(OrderStatus::Ready) => Ok(()),
            Ok(status) => Err(format!("the order is {status:?} (challenge failed?)")),
            Err(e) => Err(format!("validation: {e}")),
        }
    }
    .await;
    {
        let mut tokens = challenges.lock();
        for t in &open.tokens {
            tokens.remove(t);
        }
    }
    for d in &open.alpn_domains {
        certs.close_alpn_challenge(d);
    }
    validated?;
    let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let mut params = rcgen::CertificateParams::new(domains.to_vec()).map_err(|e| e.to_string())?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    let csr = params
        .serialize_request(&key)
        .map_err(|e| format!("certificate request: {e}"))?;
    order
        .finalize_csr(csr.der())
        .await
        .map_err(|e| format!("finalize: {e}"))?;
    let chain = order
        .poll_certificate(&VALIDATION)
        .await
        .map_err(|e| format!("certificate: {e}"))?;
    let checked = pem::parse(&chain, &key.serialize_pem(), "the CA's certificate")
        .map_err(|e| e.to_string())?;
    checked.current(now()).map_err(|e| e.to_string())?;
    Ok(checked)
}

/// The TLS-ALPN-01 validation certificate for `domain` (RFC 8737 3): self-signed, the
/// domain as its only SAN, and the critical acmeIdentifier extension holding the SHA-256
/// of the key authorization.
fn alpn_certificate(domain: &str, digest: &[u8]) -> Result<Arc<CertifiedKey>, String> {
    let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let mut params =
        rcgen::CertificateParams::new(vec![domain.to_owned()]).map_err(|e| e.to_string())?;
    params.custom_extensions = vec![rcgen::CustomExtension::new_acme_identifier(digest)];
    let cert = params
        .self_signed(&key)
        .map_err(|e| format!("TLS-ALPN-01 certificate: {e}"))?;
    let der = PrivateKeyDer::Pkcs8(key.serialize_der().into());
    // Not `CertifiedKey::from_der`: its key check parses the certificate with webpki,
    // which refuses the critical acmeIdentifier extension it does not know.
    let signer = pem::provider()
        .key_provider
        .load_private_key(der)
        .map_err(|e| format!("TLS-ALPN-01 key: {e}"))?;
    Ok(Arc::new(CertifiedKey::new(
        vec![cert.der().clone()],
        signer,
    )))
}
