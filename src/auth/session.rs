//! Login sessions of the web pages, in memory only: a restart ends them all, and while no
//! one is logged in nothing is held (the map is given back once it empties).
//!
//! The browser holds a random token; the server keeps only its SHA-256, so the map holds
//! nothing a reader of the process's memory could present as a cookie. A session ends
//! after `session_idle_seconds` unused, `session_lifetime_seconds` after its login, at
//! logout, and when its account's password changes (its hash's fingerprint is kept).
//! Each session has its own CSRF token, which every form carries back.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::config::WebConfig;
use crate::store::model::{Account, AccountId};

/// Most sessions at once (about 150 bytes each); when full, the one unused longest goes.
const MAX_SESSIONS: usize = 1024;

/// A new random token: 32 bytes, URL-safe base64.
pub fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn key(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Equal byte strings, compared in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

struct Session {
    account: AccountId,
    fingerprint: [u8; 8],
    csrf: String,
    created: Instant,
    last_used: Instant,
}

/// What a live session tells a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Active {
    pub account: AccountId,
    /// The account's password hash fingerprint at login (see [`super::fingerprint`]).
    pub fingerprint: [u8; 8],
    pub csrf: String,
}

pub struct Sessions {
    idle: Duration,
    lifetime: Duration,
    map: RefCell<HashMap<[u8; 32], Session>>,
}

impl Sessions {
    pub fn new(cfg: &WebConfig) -> Self {
        Self {
            idle: Duration::from_secs(cfg.session_idle_seconds),
            lifetime: Duration::from_secs(cfg.session_lifetime_seconds),
            map: RefCell::new(HashMap::new()),
        }
    }

    fn live(&self, s: &Session, now: Instant) -> bool {
        now.saturating_duration_since(s.last_used) < self.idle
            && now.saturating_duration_since(s.created) < self.lifetime
    }

    /// Starts a session for `account`; the token goes into the cookie.
    pub fn open(&self, account: &Account, now: Instant) -> String {
        let mut map = self.map.borrow_mut();
        map.retain(|_, s| self.live(s, now));
        if map.len() >= MAX_SESSIONS
            && let Some(oldest) = map.iter().min_by_key(|(_, s)| s.last_used).map(|(k, _)| *k)
        {
            map.remove(&oldest);
        }
        let token = random_token();
        map.insert(
            key(&token),
            Session {
                account: account.id,
                fingerprint: super::fingerprint(&account.password_hash),
                csrf: random_token(),
                created: now,
                last_used: now,
            },
        );
        token
    }

    /// The live session of `token`, marked used; an expired one is ended.
    pub fn get(&self, token: &str, now: Instant) -> Option<Active> {
        let mut map = self.map.borrow_mut();
        let k = key(token);
        let live = self.live(map.get(&k)?, now);
        if !live {
            map.remove(&k);
            Self::give_back_if_empty(&mut map);
            return None;
        }
        let s = map.get_mut(&k)?;
        s.last_used = now;
        Some(Active {
            account: s.account,
            fingerprint: s.fingerprint,
            csrf: s.csrf.clone(),
        })
    }

    /// Ends the session of `token` (logout, or an account that changed under it).
    pub fn close(&self, token: &str) {
        let mut map = self.map.borrow_mut();
        map.remove(&key(token));
        Self::give_back_if_empty(&mut map);
    }

    /// Ends the expired sessions; the number of live ones (`easd status`).
    pub fn sweep(&self, now: Instant) -> usize {
        let mut map = self.map.borrow_mut();
        map.retain(|_, s| self.live(s, now));
        Self::give_back_if_empty(&mut map);
        map.len()
    }

    /// Sessions held, live or not yet swept.
    pub fn len(&self) -> usize {
        self.map.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// No session left: the map's table is freed, not kept for the next login.
    fn give_back_if_empty(map: &mut HashMap<[u8; 32], Session>) {
        if map.is_empty() {
            *map = HashMap::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(hash: &str) -> Account {
        Account {
            id: 7,
            email: "admin@example.com".into(),
            display_name: String::new(),
            admin: true,
            enabled: true,
            password_hash: hash.into(),
            created: 0,
            next_folder_id: 1,
            next_item_id: 1,
            protocol_log: false,
            oof: Default::default(),
            activesync: true,
        }
    }

    fn sessions(idle: u64, lifetime: u64) -> Sessions {
        Sessions::new(&WebConfig {
            session_idle_seconds: idle,
            session_lifetime_seconds: lifetime,
        })
    }

    #[test]
    fn idle_timeout_and_absolute_lifetime() {
        let s = sessions(60, 300);
        let t0 = Instant::now();
        let token = s.open(&account("h1"), t0);
        let a = s.get(&token, t0 + Duration::from_secs(59)).unwrap();
        assert_eq!(a.account, 7);
        assert_eq!(a.fingerprint, crate::auth::fingerprint("h1"));
        // Used at 59 s: idle counts from there.
        assert!(s.get(&token, t0 + Duration::from_secs(110)).is_some());
        assert!(s.get(&token, t0 + Duration::from_secs(171)).is_none());
        assert!(s.is_empty(), "the expired session was dropped");

        let token = s.open(&account("h1"), t0);
        for step in 1..=5 {
            let at = t0 + Duration::from_secs(step * 50);
            assert_eq!(
                s.get(&token, at).is_some(),
                step * 50 < 300,
                "at {}s",
                step * 50
            );
        }
        assert!(s.get(&token, t0 + Duration::from_secs(300)).is_none());

        let a = s.open(&account("h1"), t0);
        let b = s.open(&account("h1"), t0 + Duration::from_secs(30));
        assert_eq!(s.sweep(t0 + Duration::from_secs(59)), 2);
        assert_eq!(s.sweep(t0 + Duration::from_secs(61)), 1);
        assert!(s.get(&a, t0 + Duration::from_secs(61)).is_none());
        assert!(s.get(&b, t0 + Duration::from_secs(61)).is_some());
        assert_eq!(s.sweep(t0 + Duration::from_secs(200)), 0);
        assert!(s.is_empty());
    }

    #[test]
    fn tokens_are_unguessable_and_logout_ends_the_session() {
        let s = sessions(60, 300);
        let now = Instant::now();
        let a = s.open(&account("h"), now);
        let b = s.open(&account("h"), now);
        assert_ne!(a, b);
        assert!(s.get("not-a-token", now).is_none());
        let (ca, cb) = (s.get(&a, now).unwrap().csrf, s.get(&b, now).unwrap().csrf);
        assert_ne!(ca, cb, "each session has its own CSRF token");
        s.close(&a);
        assert!(s.get(&a, now).is_none());
        assert!(s.get(&b, now).is_some());
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
    }

    #[test]
    fn sessions_are_bounded() {
        let s = sessions(3600, 3600);
        let t0 = Instant::now();
        let first = s.open(&account("h"), t0);
        for i in 1..=MAX_SESSIONS as u64 {
            s.open(&account("h"), t0 + Duration::from_millis(i));
        }
        assert_eq!(s.len(), MAX_SESSIONS);
        assert!(
            s.get(&first, t0 + Duration::from_secs(1)).is_none(),
            "the one unused longest went"
        );
    }
}
