//! Certificates from an ACME CA (RFC 8555; Let's Encrypt), with instant-acme.
//!
//! easd answers the HTTP-01 challenge itself (RFC 8555 8.3): the CA fetches
//! `http://DOMAIN/.well-known/acme-challenge/TOKEN` from port 80, which must reach the
//! `http` listener; [`Challenges`] holds the answers while an order is open. A task
//! ([`run`]) asks for a certificate at start when there is no ACME certificate, then
//! renews it `renew_before_days` before expiry, retrying at most every `retry_minutes`.
//! What happened is kept in `DATA/tls/acme/state.json` and shown by `easd cert show`.

mod client;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Mutex;
use std::time::Duration;

use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount,
    NewOrder, OrderStatus, RetryPolicy,
};
use serde::{Deserialize, Serialize};

use super::files::{acme_dir, read_if_present, replace_private};
use super::pem::{self, Checked};
use super::{Certs, now};
use crate::config::Config;
use crate::store::model::AcmeRecord;

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

pub(super) fn cert_path(data: &Path) -> PathBuf {
    acme_dir(data).join("cert.pem")
}

fn record_path(data: &Path) -> PathBuf {
    acme_dir(data).join("state.json")
}

fn account_path(data: &Path) -> PathBuf {
    acme_dir(data).join("account.json")
}

/// What was kept of the last attempts; empty when nothing was (or it does not read).
pub(super) fn read_record(data: &Path) -> AcmeRecord {
    let path = record_path(data);
    match read_if_present(&path) {
        Ok(Some(text)) => serde_json::from_str(&text).unwrap_or_else(|e| {
            tracing::warn!("{}: {e}", path.display());
            AcmeRecord::default()
        }),
        Ok(None) => AcmeRecord::default(),
        Err(e) => {
            tracing::warn!("{e}");
            AcmeRecord::default()
        }
    }
}

fn write_record(data: &Path, record: &AcmeRecord) {
    let path = record_path(data);
    let json = serde_json::to_vec_pretty(record).unwrap_or_default();
    if let Err(e) = replace_private(&path, &json) {
        tracing::warn!("keeping the ACME state: {e}");
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
    let mut record = read_record(data);
    record.last_attempt = Some(now());
    write_record(data, &record);
    certs.set_acme_record(record.clone());
    let domains = cfg.acme_domains();
    tracing::info!(
        "ACME: asking {} for {}",
        cfg.acme.directory,
        domains.join(", ")
    );
    let outcome = match issue(cfg, &domains, data, challenges).await {
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
    write_record(data, &record);
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

/// Orders a certificate for `domains`, answering HTTP-01, and reads it back.
async fn issue(
    cfg: &Config,
    domains: &[String],
    data: &Path,
    challenges: &Challenges,
) -> Result<Checked, String> {
    let account = account(cfg, data).await?;
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
    let mut tokens = Vec::new();
    let validated = async {
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let mut authz = authz.map_err(|e| format!("authorization: {e}"))?;
            match authz.status {
                AuthorizationStatus::Pending => {}
                AuthorizationStatus::Valid => continue,
                other => return Err(format!("authorization is {other:?}")),
            }
            let mut challenge = authz
                .challenge(ChallengeType::Http01)
                .ok_or("the CA offers no HTTP-01 challenge")?;
            let token = challenge.token.clone();
            challenges.lock().insert(
                token.clone(),
                challenge.key_authorization().as_str().to_owned(),
            );
            tokens.push(token);
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
        let mut open = challenges.lock();
        for t in &tokens {
            open.remove(t);
        }
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
