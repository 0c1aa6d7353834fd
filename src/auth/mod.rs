//! HTTP Basic authentication of EAS requests.
//!
//! Phones send credentials with every request, so a verified credential is cached: the key
//! is SHA-256 over a per-process secret, the account and the password (the plain password
//! is never kept), and the entry remembers a fingerprint of the stored hash so that a
//! password change or reset invalidates it at once.

pub mod password;
pub mod session;
pub mod throttle;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::IpAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::config::AuthConfig;
use crate::refusal::{Limit, Refusals};
use crate::store::model::Account;
use crate::store::ops::Reads;
use crate::store::{Store, StoreError};
use throttle::{Attempt, Lock, Penalty, Throttle};

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no credentials")]
    Missing,
    #[error("malformed Authorization header")]
    Malformed,
    #[error("wrong user name or password for {user:?}")]
    BadCredentials { user: String, delay: Duration },
    #[error("account {0} is disabled")]
    Disabled(String),
    #[error("too many failed logins; retry in {0:?}")]
    Throttled(Duration),
    #[error(transparent)]
    Store(#[from] StoreError),
}

struct CacheEntry {
    account: u64,
    fingerprint: [u8; 8],
    expires: Instant,
}

pub struct Authenticator {
    cfg: AuthConfig,
    /// Domain for a bare user name (`admin` → `admin@<hostname>`).
    default_domain: String,
    secret: [u8; 32],
    cache: RefCell<HashMap<[u8; 32], CacheEntry>>,
    throttle: RefCell<Throttle>,
    /// argon2 runs needing memory at once: a login storm must not multiply the work area.
    hashing: tokio::sync::Semaphore,
    /// What an unknown account's password is checked against (see [`password::decoy`]).
    decoy: String,
    /// Where a lock is logged and counted, once, when it starts.
    refusals: Rc<Refusals>,
    /// Logins answered 429 because a lock was in force (`easd status`: each lock is
    /// logged and counted once under `refused`; this counts the attempts it turned away).
    throttled: Cell<u64>,
}
/// Splits `Basic base64(user:password)`.
pub fn parse_basic(header: &str) -> Result<(String, String), AuthError> {
    let (scheme, rest) = header.trim().split_once(' ').ok_or(AuthError::Malformed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(AuthError::Malformed);
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .map_err(|_| AuthError::Malformed)?;
    let text = String::from_utf8(raw).map_err(|_| AuthError::Malformed)?;
    let (user, pass) = text.split_once(':').ok_or(AuthError::Malformed)?;
    Ok((user.to_owned(), pass.to_owned()))
}

/// Turns the forms phones send (`user@domain`, `DOMAIN\user`, `DOMAIN\user@domain`) into
/// the address to look up.
pub fn login_address(user: &str) -> String {
    let user = user.trim();
    match user.split_once('\\') {
        Some((_, u)) if u.contains('@') => u.to_ascii_lowercase(),
        Some((domain, u)) => format!("{u}@{domain}").to_ascii_lowercase(),
        None => user.to_ascii_lowercase(),
    }
}

/// A short digest of a stored password hash: what a cached credential or a web session
/// remembers, so that a password change ends it.
pub fn fingerprint(hash: &str) -> [u8; 8] {
    let d = Sha256::digest(hash.as_bytes());
    let mut f = [0; 8];
    f.copy_from_slice(&d[..8]);
    f
}

impl Authenticator {
    pub fn new(cfg: AuthConfig, default_domain: String, refusals: Rc<Refusals>) -> Self {
        let secret: [u8; 32] = rand::random();
        let decoy = password::decoy(&cfg).unwrap_or_else(|e| {
            // New passwords cannot be hashed either; say so once, loudly.
            tracing::error!("[auth] argon2 cost: {e}; unknown accounts answer faster");
            String::new()
        });
        Self {
            default_domain,
            throttle: RefCell::new(Throttle::new(cfg.clone())),
            hashing: tokio::sync::Semaphore::new(cfg.max_concurrent_hashes.max(1)),
            cfg,
            secret,
            cache: RefCell::new(HashMap::new()),
            decoy,
            refusals,
            throttled: Cell::new(0),
        }
    }

    fn cache_key(&self, address: &str, password: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.secret);
        h.update(address.as_bytes());
        h.update([0]);
        h.update(password.as_bytes());
        h.finalize().into()
    }

    /// Logins refused by a throttle lock so far.
    pub fn throttled(&self) -> u64 {
        self.throttled.get()
    }

    /// Authenticates a request. `header` is the Authorization header value, `device` the
    /// DeviceId its query names, if any (a known device keeps working while its account is
    /// locked for unfamiliar sources; see `throttle`).
    pub async fn authenticate(
        &self,
        store: &Store,
        header: Option<&str>,
        peer: IpAddr,
        device: Option<&str>,
    ) -> Result<Account, AuthError> {
        if let Some(wait) = self.throttle.borrow().source_locked(peer, Instant::now()) {
            return Err(self.refuse(wait));
        }
        let (user, password) = parse_basic(header.ok_or(AuthError::Missing)?)?;
        self.check_login(store, &user, &password, peer, device)
            .await
    }

    /// Checks a user name and password typed into a form (the web pages' login), with
    /// the same throttle as a request's Basic credentials.
    pub async fn login(
        &self,
        store: &Store,
        user: &str,
        password: &str,
        peer: IpAddr,
    ) -> Result<Account, AuthError> {
        if let Some(wait) = self.throttle.borrow().source_locked(peer, Instant::now()) {
            return Err(self.refuse(wait));
        }
        self.check_login(store, user, password, peer, None).await
    }

    async fn check_login(
        &self,
        store: &Store,
        user: &str,
        password: &str,
        peer: IpAddr,
        device: Option<&str>,
    ) -> Result<Account, AuthError> {
        let mut address = login_address(user);
        if !address.contains('@') {
            address = format!("{address}@{}", self.default_domain.to_ascii_lowercase());
        }
        let attempt = Attempt {
            account: &address,
            source: peer,
            device,
        };
        if let Some(wait) = self.throttle.borrow().locked(&attempt, Instant::now()) {
            return Err(self.refuse(wait));
        }
        let email = address.clone();
        let account = store.view(move |tx| tx.account_by_email(&email)).await?;
        let verified = match &account {
            Some(a) => self.verify(a, &address, password).await,
            None => {
                // The same argon2 work, through the same queue, as a wrong password for an
                // account that exists: the answer's timing does not tell them apart.
                self.check(password, &self.decoy).await;
                false
            }
        };
        let account = match account {
            Some(a) if verified => a,
            _ => return Err(self.failed(&attempt)),
        };
        self.throttle.borrow_mut().succeed(&attempt, Instant::now());
        if !account.enabled {
            return Err(AuthError::Disabled(account.email));
        }
        Ok(account)
    }

    async fn verify(&self, account: &Account, address: &str, password: &str) -> bool {
        let key = self.cache_key(address, password);
        let fp = fingerprint(&account.password_hash);
        let now = Instant::now();
        if let Some(e) = self.cache.borrow().get(&key)
            && e.account == account.id
            && e.fingerprint == fp
            && e.expires > now
        {
            return true;
        }
        let ok = self.check(password, &account.password_hash).await;
        if ok {
            self.remember(key, account.id, fp, now);
        }
        ok
    }

    /// One argon2 verification, queued behind `max_concurrent_hashes`.
    async fn check(&self, password: &str, hash: &str) -> bool {
        let (pw, hash) = (password.to_owned(), hash.to_owned());
        let Ok(_permit) = self.hashing.acquire().await else {
            return false;
        };
        // argon2 takes tens of milliseconds: keep it off the event loop.
        tokio::task::spawn_blocking(move || password::verify(&pw, &hash))
            .await
            .unwrap_or(false)
    }

    fn remember(&self, key: [u8; 32], account: u64, fingerprint: [u8; 8], now: Instant) {
        let mut cache = self.cache.borrow_mut();
        if cache.len() >= self.cfg.cache_entries {
            cache.retain(|_, e| e.expires > now);
            if cache.len() >= self.cfg.cache_entries
                && let Some(k) = cache.keys().next().copied()
            {
                cache.remove(&k);
            }
        }
        cache.insert(
            key,
            CacheEntry {
                account,
                fingerprint,
                expires: now + Duration::from_secs(self.cfg.cache_seconds),
            },
        );
    }

    fn refuse(&self, wait: Duration) -> AuthError {
        self.throttled.set(self.throttled.get().saturating_add(1));
        AuthError::Throttled(wait)
    }

    fn failed(&self, attempt: &Attempt<'_>) -> AuthError {
        let failure = self.throttle.borrow_mut().fail(attempt, Instant::now());
        for lock in failure.locks {
            self.log_lock(lock, attempt);
        }
        match failure.penalty {
            Penalty::Locked(wait) => self.refuse(wait),
            Penalty::Delay(delay) => AuthError::BadCredentials {
                user: attempt.account.to_owned(),
                delay,
            },
        }
    }

    /// Logs and counts a lock as it starts; the attempts it refuses later are not logged.
    fn log_lock(&self, lock: Lock, a: &Attempt<'_>) {
        let c = &self.cfg;
        let (account, source) = (a.account, a.source);
        let device = a.device.unwrap_or("-");
        let who = format!("{source} {account:?}");
        let r = &self.refusals;
        let limit = Limit::LoginThrottle;
        let (n, secs, window) = (c.lockout_after, c.lockout_seconds, c.window_seconds);
        match lock {
            Lock::Source => r.record(
                limit,
                &source,
                format_args!(
                    "{} failed logins from {source} within {window}s (source_lockout_after): \
                     every login from it refused for {secs}s (last for {account:?})",
                    c.source_lockout_after
                ),
            ),
            Lock::Unfamiliar => r.record(
                limit,
                &who,
                format_args!(
                    "{n} failed logins to {account:?} within {window}s from sources and devices \
                     it never logged in from (lockout_after): those refused for {secs}s; its \
                     familiar sources and devices keep working"
                ),
            ),
            Lock::FamiliarSource => r.record(
                limit,
                &who,
                format_args!(
                    "{n} failed logins to {account:?} within {window}s from {source}, a source \
                     it logged in from (lockout_after): refused from there for {secs}s"
                ),
            ),
            Lock::FamiliarDevice => r.record(
                limit,
                &who,
                format_args!(
                    "{n} failed logins to {account:?} within {window}s with DeviceId {device}, \
                     a device it logged in with (lockout_after): refused for {secs}s"
                ),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_forms() {
        assert_eq!(login_address("Alice@Example.com"), "alice@example.com");
        assert_eq!(login_address("example.com\\alice"), "alice@example.com");
        assert_eq!(
            login_address("EXAMPLE\\alice@example.com"),
            "alice@example.com"
        );
    }

    #[test]
    fn basic_header() {
        let h = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("a@b.c:p:w")
        );
        assert_eq!(parse_basic(&h).unwrap(), ("a@b.c".into(), "p:w".into()));
        assert!(matches!(parse_basic("Bearer x"), Err(AuthError::Malformed)));
        assert!(matches!(
            parse_basic("Basic !!!"),
            Err(AuthError::Malformed)
        ));
    }
}
