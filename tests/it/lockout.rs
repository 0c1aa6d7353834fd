//! Failed logins (issue 12, points 5 and 6): an unknown account costs the same as a wrong
//! password for a known one, and the login throttle locks the attacker out without
//! locking out the account's own phones ("smart lockout", README "Failed logins").
//!
//! Different sources are different loopback addresses: clients bind 127.0.0.2, .3, .4
//! (Linux routes all of 127/8 to lo) and the server sees them as distinct peers.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::support::*;

const ALICE: &str = "alice@example.com";
const BOB: &str = "bob@example.com";

fn source(last: u8) -> IpAddr {
    [127, 0, 0, last].into()
}

/// Locks logged and counted so far (`easd status`: refused.login_throttle).
fn locks(s: &TestServer) -> u64 {
    s.status_json()["refused"]["login_throttle"]
        .as_u64()
        .expect("refused.login_throttle")
}

/// Logins answered 429 so far (`easd status`: login_throttle.refused_attempts).
fn refused_attempts(s: &TestServer) -> u64 {
    s.status_json()["login_throttle"]["refused_attempts"]
        .as_u64()
        .expect("login_throttle.refused_attempts")
}

#[track_caller]
fn expect_locked(r: &Resp) {
    r.expect_status(429);
    let retry: u64 = r
        .header("Retry-After")
        .expect("Retry-After")
        .parse()
        .expect("Retry-After seconds");
    assert!(retry >= 1, "Retry-After {retry}");
}

/// A FolderSync from `c` that gets Status 1.
#[track_caller]
fn syncs(c: &EasClient, key: &str) {
    let r = c.folder_sync(key);
    assert_eq!(
        r.text_of(easd::wbxml::tag::folderhierarchy::STATUS),
        Some("1"),
        "{r:?}"
    );
}

#[test]
fn an_attacker_is_locked_out_while_the_users_own_phones_keep_working() {
    let s = start_server(|c| {
        c.auth.slow_after = 100;
        c.auth.lockout_after = 4;
        c.auth.source_lockout_after = 6;
        c.auth.lockout_seconds = 300;
    });
    s.add_user(ALICE);
    s.add_user(BOB);
    let (a, b) = (source(2), source(3));

    // Alice's provisioned phone has synced from B.
    let mut phone = s.eas(ALICE, "alicephone").connecting_from(b);
    phone.provision();
    let (key, _) = phone.folder_sync_ok("0");

    // The attacker at A guesses alice's password: 401 until lockout_after, then 429.
    let attacker = s
        .eas(ALICE, "evil")
        .connecting_from(a)
        .with_password("guess");
    for _ in 0..3 {
        attacker.options().expect_status(401);
    }
    expect_locked(&attacker.options());
    assert_eq!(locks(&s), 1, "the lock is logged when it starts");
    // Further guesses are refused unchecked, and the lock is not logged again.
    for _ in 0..3 {
        expect_locked(&attacker.options());
    }
    // Even alice's right password is refused from a source and device she never used:
    // from A, and from a new laptop at 127.0.0.4.
    let stranger = s.eas(ALICE, "evil").connecting_from(a);
    expect_locked(&stranger.post("FolderSync", None));
    let laptop = s.eas(ALICE, "laptop").connecting_from(source(4));
    expect_locked(&laptop.options());

    // Alice's phone syncs on from B (a source with a recent success) ...
    syncs(&phone, &key);
    // ... and, by its DeviceId (a device with a recent success), from A too.
    syncs(&phone.clone().connecting_from(a), &key);
    // Its OPTIONS from a new source is known by the DeviceId in the query, too.
    let options = phone.clone().connecting_from(source(4)).http.request(
        hyper::Method::OPTIONS,
        &format!("{EAS_PATH}?User={ALICE}&DeviceId=alicephone&DeviceType=TestDevice"),
        &[("Authorization", basic_auth(ALICE, PASSWORD))],
        Vec::new(),
    );
    options.expect_status(200);
    // That success did not make A familiar for the attacker behind it.
    expect_locked(&attacker.options());
    expect_locked(&stranger.post("FolderSync", None));

    // Bob from A is not affected: A has 4 failures, below source_lockout_after (6).
    let bob_at_a = s.eas(BOB, "bobphone").connecting_from(a);
    bob_at_a.options().expect_status(200);
    assert_eq!(locks(&s), 1);

    // A goes on guessing at another (unknown) account: its 6th failure locks A itself.
    let carol = s.eas("carol@example.com", "x").connecting_from(a);
    carol.options().expect_status(401);
    expect_locked(&carol.options());
    assert_eq!(locks(&s), 2, "the source lock is logged once");
    // Now every account is refused from A, with or without credentials ...
    expect_locked(&bob_at_a.options());
    expect_locked(&s.https().connecting_from(a).request(
        hyper::Method::OPTIONS,
        EAS_PATH,
        &[],
        Vec::new(),
    ));
    // ... but nobody elsewhere is: bob from B, alice's phone from B.
    s.eas(BOB, "bobphone")
        .connecting_from(b)
        .options()
        .expect_status(200);
    syncs(&phone, &key);

    assert_eq!(locks(&s), 2);
    // Every 429 above was counted as a refused attempt (1 + 3 + 2 + 2 + 1 + 2).
    assert_eq!(refused_attempts(&s), 11);
}

#[test]
fn a_lock_expires_after_lockout_seconds() {
    const LOCK: Duration = Duration::from_secs(3);
    let s = start_server(|c| {
        c.auth.slow_after = 100;
        c.auth.lockout_after = 2;
        c.auth.lockout_seconds = LOCK.as_secs();
    });
    s.add_user(ALICE);
    let a = source(2);
    let attacker = s
        .eas(ALICE, "evil")
        .connecting_from(a)
        .with_password("guess");
    let right = s.eas(ALICE, "evil").connecting_from(a);
    attacker.options().expect_status(401);
    let locked_at = Instant::now();
    expect_locked(&attacker.options());
    assert_eq!(locks(&s), 1);
    // Poll (refused attempts are not counted as failures) until the lock is gone.
    let deadline = locked_at + LOCK + Duration::from_secs(20);
    loop {
        let r = right.options();
        if r.status == 200 {
            break;
        }
        expect_locked(&r);
        assert!(Instant::now() < deadline, "still locked after {LOCK:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // The lock started after `locked_at`, so it cannot have ended sooner than LOCK later.
    assert!(
        locked_at.elapsed() >= LOCK,
        "unlocked after {:?}",
        locked_at.elapsed()
    );
    // The count started again: one more failure is a plain 401, no new lock.
    attacker.options().expect_status(401);
    assert_eq!(locks(&s), 1);
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// How long `request` takes; it must be answered 401.
fn timed(request: impl FnOnce() -> Resp) -> Duration {
    let t = Instant::now();
    request().expect_status(401);
    t.elapsed()
}

#[test]
fn an_unknown_account_answers_no_faster_than_a_wrong_password() {
    // A cost that makes argon2 clearly dominate an HTTPS round trip (tens of ms in a
    // debug build), and a throttle that neither delays nor locks these attempts.
    let s = start_server(|c| {
        c.auth.argon2_memory_kib = 2048;
        c.auth.argon2_iterations = 1;
        c.auth.slow_after = 1000;
        c.auth.lockout_after = 1000;
        c.auth.source_lockout_after = 1000;
    });
    s.add_user(ALICE);
    s.add_user(BOB);
    s.set_enabled(BOB, false);
    let known = s.eas(ALICE, "dev").with_password("wrong");
    let disabled = s.eas(BOB, "dev").with_password("wrong");
    let mut unknown = s.eas(ALICE, "dev").with_password("wrong");
    unknown.user = "nobody@example.com".into();
    let http = s.https();

    const N: usize = 9;
    let (mut k, mut d, mut u, mut none) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    // Interleaved, so that load on the machine falls on all alike.
    for _ in 0..N {
        k.push(timed(|| known.options()));
        d.push(timed(|| disabled.options()));
        u.push(timed(|| unknown.options()));
        // No credentials: answered 401 without any hashing.
        none.push(timed(|| {
            http.request(hyper::Method::OPTIONS, EAS_PATH, &[], Vec::new())
        }));
    }
    let (k, d, u, none) = (median(k), median(d), median(u), median(none));
    eprintln!("medians: known {k:?}, disabled {d:?}, unknown {u:?}, no hashing {none:?}");
    for (what, t) in [("unknown", u), ("disabled", d)] {
        let ratio = t.as_secs_f64() / k.as_secs_f64();
        assert!(
            (0.5..=2.0).contains(&ratio),
            "{what} account {t:?} vs wrong password {k:?}: ratio {ratio:.2}"
        );
    }
    // The test can fail: argon2 is most of a wrong password's answer time, so an
    // unknown account answered without it (as before the decoy hash; about `none`) would
    // be under half of it and fail the ratio above.
    assert!(
        none.as_secs_f64() < 0.5 * k.as_secs_f64(),
        "argon2 does not dominate: wrong password {k:?}, no hashing {none:?}"
    );
}
