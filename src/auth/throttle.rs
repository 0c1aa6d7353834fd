//! Failed-login throttling, "smart lockout": an attacker guessing an account's password is
//! locked out without locking out the account's own phones.
//!
//! Every failed login counts against its source address and against one of three counters
//! of the account, chosen by how familiar the attempt is:
//! - from a source address that logged in to the account successfully within
//!   `familiar_seconds`: that (account, source) pair's own counter;
//! - else carrying a DeviceId that did: that (account, device) pair's own counter;
//! - else the account's counter for everything unfamiliar.
//!
//! A counter that reaches `lockout_after` failures within `window_seconds` locks what it
//! counts for `lockout_seconds` (429): the account-wide lock thus refuses only unfamiliar
//! attempts, while the user's phones (known address or known DeviceId) keep their own
//! allowance. A source reaching `source_lockout_after` failures (over all accounts) is
//! locked for every account. Past `slow_after` failures each 401 is delayed (doubling up
//! to 8 s). A success resets the counters of its familiar pairs, never the account-wide or
//! the source counter, so a user logging in does not give an attacker new guesses.
//!
//! A lock is reported once, by the failure that starts it; attempts refused while it lasts
//! are not counted again. All state is in memory and bounded whatever clients send:
//! names are kept as fixed-size keyed hashes, and both maps are capped (see the constants).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::config::AuthConfig;

/// Most failure counters kept (about 100 bytes each). When full, expired ones go first,
/// then the oldest half of those not locked, then the locks ending soonest: a spray of
/// random names cannot grow memory, and has to outnumber every live counter to make the
/// throttle forget a lock.
const MAX_COUNTERS: usize = 16_384;
/// Most accounts with remembered successes. Only a correct password adds one, so this is
/// reached only by that many real accounts; then the account whose last success is oldest
/// is forgotten.
const MAX_FAMILIAR_ACCOUNTS: usize = 4_096;
/// Most sources and devices remembered per account: a user flooding DeviceIds evicts only
/// their own oldest entries.
const MAX_FAMILIAR_PER_ACCOUNT: usize = 16;

/// A keyed hash of a name a client sent (account address, DeviceId): fixed size however
/// long the name, and not the name itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Name([u8; 16]);

/// What a failure counter counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Counter {
    Source(IpAddr),
    Unfamiliar(Name),
    FamiliarSource(Name, IpAddr),
    FamiliarDevice(Name, Name),
}

/// Where an account was logged in to successfully.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Source(IpAddr),
    Device(Name),
}

/// One login attempt: the account address it names, the peer address, and the DeviceId of
/// the request when it carried a well-formed one.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    pub account: &'a str,
    pub source: IpAddr,
    pub device: Option<&'a str>,
}

/// A lock that the failure just recorded started (to be logged once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    /// Every login from the attempt's source, to any account.
    Source,
    /// Logins to the account from every source and device without a recent success.
    Unfamiliar,
    /// Logins to the account from the attempt's source, which had a recent success.
    FamiliarSource,
    /// Logins to the account carrying the attempt's DeviceId, which had a recent success.
    FamiliarDevice,
}

/// What to do with a request whose credentials failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Penalty {
    Delay(Duration),
    Locked(Duration),
}

/// The outcome of one failed login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub penalty: Penalty,
    /// Locks this failure started (none, one, or the account's and the source's at once).
    pub locks: Vec<Lock>,
}

#[derive(Debug)]
struct Record {
    failures: u32,
    window_start: Instant,
    locked_until: Option<Instant>,
}

impl Record {
    fn locked(&self, now: Instant) -> Option<Duration> {
        self.locked_until
            .and_then(|until| until.checked_duration_since(now))
            .filter(|d| !d.is_zero())
    }
}

#[derive(Debug)]
pub struct Throttle {
    cfg: AuthConfig,
    secret: [u8; 32],
    counters: HashMap<Counter, Record>,
    /// Per account: the sources and devices with a success, and when the last one was.
    familiar: HashMap<Name, Vec<(Origin, Instant)>>,
}

impl Throttle {
    pub fn new(cfg: AuthConfig) -> Self {
        Self {
            cfg,
            secret: rand::random(),
            counters: HashMap::new(),
            familiar: HashMap::new(),
        }
    }

    fn name(&self, kind: u8, value: &str) -> Name {
        let mut h = Sha256::new();
        h.update(self.secret);
        h.update([kind]);
        h.update(value.as_bytes());
        let mut n = [0; 16];
        n.copy_from_slice(&h.finalize()[..16]);
        Name(n)
    }

    fn account(&self, a: &Attempt<'_>) -> Name {
        self.name(b'a', a.account)
    }

    fn device(&self, a: &Attempt<'_>) -> Option<Name> {
        a.device.map(|d| self.name(b'd', d))
    }

    fn familiar_for(&self) -> Duration {
        Duration::from_secs(self.cfg.familiar_seconds)
    }

    fn is_familiar(&self, account: Name, origin: Origin, now: Instant) -> bool {
        let fresh = self.familiar_for();
        self.familiar.get(&account).is_some_and(|seen| {
            seen.iter()
                .any(|(o, t)| *o == origin && now.duration_since(*t) <= fresh)
        })
    }

    /// The account counter the attempt is judged by (besides its source's).
    fn scope(&self, a: &Attempt<'_>, now: Instant) -> Counter {
        let account = self.account(a);
        if self.is_familiar(account, Origin::Source(a.source), now) {
            return Counter::FamiliarSource(account, a.source);
        }
        match self.device(a) {
            Some(d) if self.is_familiar(account, Origin::Device(d), now) => {
                Counter::FamiliarDevice(account, d)
            }
            _ => Counter::Unfamiliar(account),
        }
    }

    fn remaining(&self, counter: &Counter, now: Instant) -> Option<Duration> {
        self.counters.get(counter).and_then(|r| r.locked(now))
    }

    /// The remaining lock of `source`, if every login from it is refused now.
    pub fn source_locked(&self, source: IpAddr, now: Instant) -> Option<Duration> {
        self.remaining(&Counter::Source(source), now)
    }

    /// The remaining lock that refuses this attempt now, if any.
    pub fn locked(&self, a: &Attempt<'_>, now: Instant) -> Option<Duration> {
        self.source_locked(a.source, now)
            .or_else(|| self.remaining(&self.scope(a, now), now))
    }

    /// Counts a failed login.
    pub fn fail(&mut self, a: &Attempt<'_>, now: Instant) -> Failure {
        let scope = self.scope(a, now);
        let (by_account, account_lock) = self.count(scope, self.cfg.lockout_after, now);
        let (by_source, source_lock) = self.count(
            Counter::Source(a.source),
            self.cfg.source_lockout_after,
            now,
        );
        let mut locks = Vec::new();
        if account_lock {
            locks.push(match scope {
                Counter::Unfamiliar(_) => Lock::Unfamiliar,
                Counter::FamiliarSource(..) => Lock::FamiliarSource,
                Counter::FamiliarDevice(..) => Lock::FamiliarDevice,
                Counter::Source(_) => Lock::Source,
            });
        }
        if source_lock {
            locks.push(Lock::Source);
        }
        let penalty = match (by_account, by_source) {
            (Penalty::Locked(a), Penalty::Locked(b)) => Penalty::Locked(a.max(b)),
            (Penalty::Locked(d), _) | (_, Penalty::Locked(d)) => Penalty::Locked(d),
            (Penalty::Delay(a), Penalty::Delay(b)) => Penalty::Delay(a.max(b)),
        };
        Failure { penalty, locks }
    }

    /// Records a successful login: its source and device become familiar to the account,
    /// and their own counters start again. While the account is locked for unfamiliar
    /// attempts, a success that got through by its device alone does not make its source
    /// familiar: an attacker sharing that address (a NAT, a hotel network) stays locked.
    pub fn succeed(&mut self, a: &Attempt<'_>, now: Instant) {
        let account = self.account(a);
        let source = Origin::Source(a.source);
        let under_attack = self.remaining(&Counter::Unfamiliar(account), now).is_some();
        if !under_attack || self.is_familiar(account, source, now) {
            self.counters
                .remove(&Counter::FamiliarSource(account, a.source));
            self.remember(account, source, now);
        }
        if let Some(d) = self.device(a) {
            self.counters.remove(&Counter::FamiliarDevice(account, d));
            self.remember(account, Origin::Device(d), now);
        }
    }

    fn count(&mut self, key: Counter, limit: u32, now: Instant) -> (Penalty, bool) {
        if self.counters.len() >= MAX_COUNTERS && !self.counters.contains_key(&key) {
            self.prune(now);
        }
        let window = Duration::from_secs(self.cfg.window_seconds);
        let r = self.counters.entry(key).or_insert(Record {
            failures: 0,
            window_start: now,
            locked_until: None,
        });
        if let Some(left) = r.locked(now) {
            // A request that was already past the lock check when the lock started.
            return (Penalty::Locked(left), false);
        }
        if r.locked_until.take().is_some() || now.duration_since(r.window_start) > window {
            r.failures = 0;
            r.window_start = now;
        }
        r.failures = r.failures.saturating_add(1);
        if r.failures >= limit {
            let lock = Duration::from_secs(self.cfg.lockout_seconds);
            r.locked_until = Some(now + lock);
            (Penalty::Locked(lock), true)
        } else if r.failures > self.cfg.slow_after {
            let step = (r.failures - self.cfg.slow_after - 1).min(3);
            (Penalty::Delay(Duration::from_secs(1 << step)), false)
        } else {
            (Penalty::Delay(Duration::ZERO), false)
        }
    }

    fn prune(&mut self, now: Instant) {
        let window = Duration::from_secs(self.cfg.window_seconds);
        self.counters
            .retain(|_, r| r.locked(now).is_some() || now.duration_since(r.window_start) <= window);
        if self.counters.len() >= MAX_COUNTERS {
            // Still full of live counters: forget half, unlocked and oldest first.
            let mut order: Vec<(bool, Instant, Counter)> = self
                .counters
                .iter()
                .map(|(k, r)| {
                    let locked = r.locked(now).is_some();
                    (locked, r.locked_until.unwrap_or(r.window_start), *k)
                })
                .collect();
            order.sort_unstable_by_key(|(locked, at, _)| (*locked, *at));
            for (_, _, k) in order.iter().take(order.len() / 2) {
                self.counters.remove(k);
            }
        }
    }

    fn remember(&mut self, account: Name, origin: Origin, now: Instant) {
        if !self.familiar.contains_key(&account) && self.familiar.len() >= MAX_FAMILIAR_ACCOUNTS {
            let fresh = self.familiar_for();
            self.familiar.retain(|_, seen| {
                seen.retain(|(_, t)| now.duration_since(*t) <= fresh);
                !seen.is_empty()
            });
            if self.familiar.len() >= MAX_FAMILIAR_ACCOUNTS
                && let Some(oldest) = self
                    .familiar
                    .iter()
                    .min_by_key(|(_, seen)| seen.iter().map(|(_, t)| *t).max())
                    .map(|(k, _)| *k)
            {
                self.familiar.remove(&oldest);
            }
        }
        let seen = self.familiar.entry(account).or_default();
        if let Some(entry) = seen.iter_mut().find(|(o, _)| *o == origin) {
            entry.1 = now;
            return;
        }
        if seen.len() >= MAX_FAMILIAR_PER_ACCOUNT
            && let Some(oldest) = (0..seen.len()).min_by_key(|&i| seen[i].1)
        {
            seen.swap_remove(oldest);
        }
        seen.push((origin, now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: &str = "alice@example.com";
    const BOB: &str = "bob@example.com";

    fn cfg() -> AuthConfig {
        AuthConfig {
            slow_after: 2,
            lockout_after: 5,
            source_lockout_after: 8,
            lockout_seconds: 60,
            window_seconds: 600,
            familiar_seconds: 3600,
            ..AuthConfig::default()
        }
    }

    fn ip(last: u8) -> IpAddr {
        [127, 0, 0, last].into()
    }

    fn at<'a>(account: &'a str, source: u8, device: Option<&'a str>) -> Attempt<'a> {
        Attempt {
            account,
            source: ip(source),
            device,
        }
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn delays_grow_then_lock_once() {
        let mut t = Throttle::new(cfg());
        let a = at(ALICE, 2, None);
        let now = Instant::now();
        let failures: Vec<Failure> = (0..5).map(|_| t.fail(&a, now)).collect();
        let penalties: Vec<Penalty> = failures.iter().map(|f| f.penalty).collect();
        assert_eq!(
            penalties,
            [
                Penalty::Delay(Duration::ZERO),
                Penalty::Delay(Duration::ZERO),
                Penalty::Delay(secs(1)),
                Penalty::Delay(secs(2)),
                Penalty::Locked(secs(60)),
            ]
        );
        assert_eq!(failures[4].locks, [Lock::Unfamiliar]);
        assert!(failures[..4].iter().all(|f| f.locks.is_empty()));
        assert_eq!(t.locked(&a, now), Some(secs(60)));
        // A request that passed the check before the lock: refused, no second lock.
        let late = t.fail(&a, now + secs(1));
        assert_eq!(late.penalty, Penalty::Locked(secs(59)));
        assert!(late.locks.is_empty());
        // The lock expires, and the account's count starts again (seen from a source
        // whose own count is fresh; .2 is past slow_after).
        let after = now + secs(61);
        assert_eq!(t.locked(&a, after), None);
        let elsewhere = at(ALICE, 9, None);
        assert_eq!(
            t.fail(&elsewhere, after).penalty,
            Penalty::Delay(Duration::ZERO)
        );
    }

    #[test]
    fn the_account_lock_spares_familiar_sources_and_devices() {
        let mut t = Throttle::new(cfg());
        let now = Instant::now();
        // Alice's phone logged in from .3 with its DeviceId.
        t.succeed(&at(ALICE, 3, Some("PHONE")), now);
        // The attacker at .2 guesses until alice is locked for unfamiliar attempts.
        let attacker = at(ALICE, 2, None);
        let locks: Vec<Lock> = (0..5).flat_map(|_| t.fail(&attacker, now).locks).collect();
        assert_eq!(locks, [Lock::Unfamiliar]);
        assert!(t.locked(&attacker, now).is_some());
        // Another unknown device from .4, with the right password or not: locked too.
        assert!(t.locked(&at(ALICE, 4, Some("OTHER")), now).is_some());
        // Her phone from its known source, or with its DeviceId from anywhere: not locked.
        assert_eq!(t.locked(&at(ALICE, 3, Some("PHONE")), now), None);
        assert_eq!(t.locked(&at(ALICE, 3, None), now), None);
        assert_eq!(t.locked(&at(ALICE, 2, Some("PHONE")), now), None);
        // Her phone logging in through the attacker's address does not unlock it for him.
        t.succeed(&at(ALICE, 2, Some("PHONE")), now);
        assert!(t.locked(&attacker, now).is_some());
        // Bob from the attacker's source is below the source threshold (5 of 8).
        assert_eq!(t.locked(&at(BOB, 2, None), now), None);
    }

    #[test]
    fn a_familiar_source_has_its_own_allowance() {
        let mut t = Throttle::new(cfg());
        let now = Instant::now();
        let office = at(ALICE, 3, None);
        t.succeed(&office, now);
        // A wrong password from the familiar source counts on the pair, not on the account.
        for _ in 0..4 {
            assert!(t.fail(&office, now).locks.is_empty());
        }
        assert_eq!(t.locked(&at(ALICE, 2, None), now), None);
        assert_eq!(t.fail(&office, now).locks, [Lock::FamiliarSource]);
        assert!(t.locked(&office, now).is_some());
        // A device known to the account, from elsewhere, has its own allowance too.
        t.succeed(&at(ALICE, 4, Some("TABLET")), now);
        let tablet = at(ALICE, 5, Some("TABLET"));
        let locks: Vec<Lock> = (0..5).flat_map(|_| t.fail(&tablet, now).locks).collect();
        assert_eq!(locks, [Lock::FamiliarDevice]);
        assert!(t.locked(&tablet, now).is_some());
        assert_eq!(t.locked(&at(ALICE, 4, Some("TABLET")), now), None);
    }

    #[test]
    fn the_source_lock_covers_every_account_and_is_reported_once() {
        let mut t = Throttle::new(cfg());
        let now = Instant::now();
        let mut locks = Vec::new();
        // Eight guesses at eight different accounts: no account lock, one source lock.
        for i in 0..8 {
            let name = format!("u{i}@example.com");
            locks.extend(t.fail(&at(&name, 2, None), now).locks);
        }
        assert_eq!(locks, [Lock::Source]);
        assert_eq!(t.source_locked(ip(2), now), Some(secs(60)));
        assert!(t.locked(&at(BOB, 2, None), now).is_some());
        assert_eq!(t.locked(&at(BOB, 3, None), now), None);
        assert_eq!(t.source_locked(ip(2), now + secs(60)), None);
    }

    #[test]
    fn success_does_not_reset_the_account_or_source_counters() {
        let mut t = Throttle::new(cfg());
        let now = Instant::now();
        let attacker = at(ALICE, 2, None);
        for _ in 0..4 {
            t.fail(&attacker, now);
        }
        // Alice logging in from her phone gives the attacker no new guesses.
        t.succeed(&at(ALICE, 3, Some("PHONE")), now);
        assert_eq!(t.fail(&attacker, now).locks, [Lock::Unfamiliar]);
    }

    #[test]
    fn familiarity_and_failures_expire() {
        let mut t = Throttle::new(cfg());
        let now = Instant::now();
        t.succeed(&at(ALICE, 3, None), now);
        let stale = now + secs(3601);
        for _ in 0..5 {
            t.fail(&at(ALICE, 2, None), stale);
        }
        // An hour on, .3 is no longer familiar: the account lock applies to it.
        assert!(t.locked(&at(ALICE, 3, None), stale).is_some());
        // Failures older than the window are forgotten.
        let mut t = Throttle::new(cfg());
        for _ in 0..4 {
            t.fail(&at(ALICE, 2, None), now);
        }
        let later = now + secs(601);
        assert!(t.fail(&at(ALICE, 2, None), later).locks.is_empty());
    }

    #[test]
    fn memory_is_bounded_and_keeps_locks() {
        let mut t = Throttle::new(cfg());
        let now = Instant::now();
        for _ in 0..5 {
            t.fail(&at(ALICE, 2, None), now);
        }
        for i in 0..(MAX_COUNTERS as u32 + 100) {
            let name = format!("u{i}@x.org");
            let source = IpAddr::from((0x0a00_0000 + i / 4).to_be_bytes());
            t.fail(
                &Attempt {
                    account: &name,
                    source,
                    device: None,
                },
                now + Duration::from_millis(1),
            );
        }
        assert!(t.counters.len() <= MAX_COUNTERS);
        assert!(t.locked(&at(ALICE, 2, None), now).is_some(), "lock kept");
        // One account flooding DeviceIds keeps at most its own cap.
        for i in 0..100 {
            t.succeed(&at(BOB, 3, Some(&format!("D{i}"))), now + secs(i));
        }
        let bob = t.name(b'a', BOB);
        assert_eq!(t.familiar[&bob].len(), MAX_FAMILIAR_PER_ACCOUNT);
        // The newest are kept.
        assert!(t.is_familiar(bob, Origin::Device(t.name(b'd', "D99")), now + secs(99)));
    }
}
