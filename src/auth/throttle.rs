//! Failed-login throttling per account and per source address.
//!
//! After `slow_after` failures within the window, each further 401 is delayed (doubling up
//! to 8 s); after `lockout_after` the key is refused with 429 for `lockout_seconds`. A
//! success clears the account's and the address's record.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::config::AuthConfig;

/// Bound on remembered keys, so a spray of random user names cannot grow memory.
const MAX_KEYS: usize = 16_384;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    Account(String),
    Address(IpAddr),
}

#[derive(Debug)]
struct Record {
    failures: u32,
    window_start: Instant,
    locked_until: Option<Instant>,
}

#[derive(Debug)]
pub struct Throttle {
    cfg: AuthConfig,
    records: HashMap<Key, Record>,
}

/// What to do with a request whose credentials failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Penalty {
    Delay(Duration),
    Locked(Duration),
}

impl Throttle {
    pub fn new(cfg: AuthConfig) -> Self {
        Self {
            cfg,
            records: HashMap::new(),
        }
    }

    /// The remaining lockout of `key`, if it is locked out now.
    pub fn locked(&self, key: &Key, now: Instant) -> Option<Duration> {
        self.records
            .get(key)
            .and_then(|r| r.locked_until)
            .and_then(|until| until.checked_duration_since(now))
            .filter(|d| !d.is_zero())
    }

    pub fn fail(&mut self, key: Key, now: Instant) -> Penalty {
        if self.records.len() >= MAX_KEYS {
            self.prune(now);
        }
        let window = Duration::from_secs(self.cfg.window_seconds);
        let r = self.records.entry(key).or_insert(Record {
            failures: 0,
            window_start: now,
            locked_until: None,
        });
        if now.duration_since(r.window_start) > window {
            r.failures = 0;
            r.window_start = now;
        }
        r.failures = r.failures.saturating_add(1);
        if r.failures >= self.cfg.lockout_after {
            let lock = Duration::from_secs(self.cfg.lockout_seconds);
            r.locked_until = Some(now + lock);
            Penalty::Locked(lock)
        } else if r.failures > self.cfg.slow_after {
            let step = (r.failures - self.cfg.slow_after - 1).min(3);
            Penalty::Delay(Duration::from_secs(1 << step))
        } else {
            Penalty::Delay(Duration::ZERO)
        }
    }

    pub fn succeed(&mut self, key: &Key) {
        self.records.remove(key);
    }

    fn prune(&mut self, now: Instant) {
        let window = Duration::from_secs(self.cfg.window_seconds);
        self.records.retain(|_, r| {
            r.locked_until.is_some_and(|u| u > now) || now.duration_since(r.window_start) <= window
        });
        if self.records.len() >= MAX_KEYS {
            // Still full of live records: forget the oldest half rather than grow.
            let mut starts: Vec<Instant> = self.records.values().map(|r| r.window_start).collect();
            starts.sort();
            let cut = starts[starts.len() / 2];
            self.records.retain(|_, r| r.window_start > cut);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> AuthConfig {
        AuthConfig {
            slow_after: 2,
            lockout_after: 5,
            lockout_seconds: 60,
            window_seconds: 600,
            ..AuthConfig::default()
        }
    }

    #[test]
    fn delays_grow_then_lock() {
        let mut t = Throttle::new(cfg());
        let k = Key::Account("a@b.c".into());
        let now = Instant::now();
        let penalties: Vec<Penalty> = (0..5).map(|_| t.fail(k.clone(), now)).collect();
        assert_eq!(
            penalties,
            [
                Penalty::Delay(Duration::ZERO),
                Penalty::Delay(Duration::ZERO),
                Penalty::Delay(Duration::from_secs(1)),
                Penalty::Delay(Duration::from_secs(2)),
                Penalty::Locked(Duration::from_secs(60)),
            ]
        );
        assert!(t.locked(&k, now).is_some());
        assert!(t.locked(&k, now + Duration::from_secs(61)).is_none());
        t.succeed(&k);
        assert_eq!(t.fail(k, now), Penalty::Delay(Duration::ZERO));
    }

    #[test]
    fn window_expiry_forgets_old_failures() {
        let mut t = Throttle::new(cfg());
        let k = Key::Address([127, 0, 0, 1].into());
        let now = Instant::now();
        for _ in 0..4 {
            t.fail(k.clone(), now);
        }
        let later = now + Duration::from_secs(601);
        assert_eq!(t.fail(k, later), Penalty::Delay(Duration::ZERO));
    }

    #[test]
    fn memory_is_bounded() {
        let mut t = Throttle::new(cfg());
        let now = Instant::now();
        for i in 0..(MAX_KEYS as u32 + 100) {
            t.fail(Key::Account(format!("u{i}@x.org")), now);
        }
        assert!(t.records.len() <= MAX_KEYS);
    }
}
