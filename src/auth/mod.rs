//! HTTP Basic authentication of EAS requests.
//!
//! Phones send credentials with every request, so a verified credential is cached: the key
//! is SHA-256 over a per-process secret, the account and the password (the plain password
//! is never kept), and the entry remembers a fingerprint of the stored hash so that a
//! password change or reset invalidates it at once.

pub mod password;
pub mod throttle;

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::config::AuthConfig;
use crate::store::model::Account;
use crate::store::ops::Reads;
use crate::store::{Store, StoreError};
use throttle::{Key, Penalty, Throttle};

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

fn fingerprint(hash: &str) -> [u8; 8] {
    let d = Sha256::digest(hash.as_bytes());
    let mut f = [0; 8];
    f.copy_from_slice(&d[..8]);
    f
}

impl Authenticator {
    pub fn new(cfg: AuthConfig, default_domain: String) -> Self {
        let secret: [u8; 32] = rand::random();
        Self {
            default_domain,
            throttle: RefCell::new(Throttle::new(cfg.clone())),
            hashing: tokio::sync::Semaphore::new(cfg.max_concurrent_hashes.max(1)),
            cfg,
            secret,
            cache: RefCell::new(HashMap::new()),
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

    /// Authenticates a request. `header` is the Authorization header value.
    pub async fn authenticate(
        &self,
        store: &Store,
        header: Option<&str>,
        peer: IpAddr,
    ) -> Result<Account, AuthError> {
        let now = Instant::now();
        if let Some(wait) = self.throttle.borrow().locked(&Key::Address(peer), now) {
            return Err(AuthError::Throttled(wait));
        }
        let (user, password) = parse_basic(header.ok_or(AuthError::Missing)?)?;
        let mut address = login_address(&user);
        if !address.contains('@') {
            address = format!("{address}@{}", self.default_domain.to_ascii_lowercase());
        }
        if let Some(wait) = self
            .throttle
            .borrow()
            .locked(&Key::Account(address.clone()), now)
        {
            return Err(AuthError::Throttled(wait));
        }
        let account = store.read()?.account_by_email(&address)?;
        let verified = match &account {
            Some(a) => self.verify(a, &address, &password).await,
            None => false,
        };
        let account = match account {
            Some(a) if verified => a,
            _ => return Err(self.failed(address, peer, now)),
        };
        {
            let mut t = self.throttle.borrow_mut();
            t.succeed(&Key::Account(address));
            t.succeed(&Key::Address(peer));
        }
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
        let (pw, hash) = (password.to_owned(), account.password_hash.clone());
        let Ok(_permit) = self.hashing.acquire().await else {
            return false;
        };
        // argon2 takes tens of milliseconds: keep it off the event loop.
        let ok = tokio::task::spawn_blocking(move || password::verify(&pw, &hash))
            .await
            .unwrap_or(false);
        if ok {
            self.remember(key, account.id, fp, now);
        }
        ok
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

    fn failed(&self, address: String, peer: IpAddr, now: Instant) -> AuthError {
        let mut t = self.throttle.borrow_mut();
        let by_account = t.fail(Key::Account(address.clone()), now);
        let by_peer = t.fail(Key::Address(peer), now);
        match (by_account, by_peer) {
            (Penalty::Locked(d), _) | (_, Penalty::Locked(d)) => AuthError::Throttled(d),
            (Penalty::Delay(a), Penalty::Delay(b)) => AuthError::BadCredentials {
                user: address,
                delay: a.max(b),
            },
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
