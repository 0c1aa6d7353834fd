#![no_main]
//! Fuzzes the LMTP session (RFC 2033): arbitrary bytes, split at arbitrary points, must
//! never panic, and the replies must stay a well-formed stream of complete lines.
//!
//! Input layout: byte 0 seeds the chunk sizes, byte 1 says which deliveries fail, the
//! rest is what the client sends.

use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use easd::mail::lmtp::{LmtpConfig, Mailboxes, NotDelivered, Received, Session, Step};
use easd::store::blob::BlobWriter;
use libfuzzer_sys::fuzz_target;

/// Knows every address whose local part does not start with `x`; delivery always works
/// (failures are injected by the driver).
struct FuzzMailboxes;

impl Mailboxes for FuzzMailboxes {
    async fn resolve(&self, address: &str) -> Option<u64> {
        (!address.starts_with('x')).then_some(address.len() as u64 % 3)
    }

    /// Messages here stay under [`easd::mail::lmtp::SPILL_AT`], so none is spooled.
    fn spool(&self) -> std::io::Result<BlobWriter> {
        Err(std::io::Error::other("no spool in the fuzzer"))
    }

    async fn deliver(
        &self,
        _sender: &str,
        _accounts: &[u64],
        _raw: Received,
    ) -> Result<(), NotDelivered> {
        Ok(())
    }
}

const MAX_MESSAGE_SIZE: usize = 200;

fuzz_target!(|data: &[u8]| {
    let [seed, failures, input @ ..] = data else {
        return;
    };
    let cfg = LmtpConfig {
        hostname: "fuzz.test".to_owned(),
        max_message_size: MAX_MESSAGE_SIZE,
        max_recipients: 4,
        idle_timeout: Duration::from_secs(1),
        ..LmtpConfig::default()
    };
    let mut session = Session::new(&cfg);
    let mut deliveries = 0u32;
    for mut chunk in chunks(input, *seed) {
        let closed = loop {
            match session.feed(&mut chunk) {
                Step::NeedInput => {
                    assert!(chunk.is_empty(), "NeedInput with input left");
                    break false;
                }
                Step::Resolve { address } => session.resolved(now(FuzzMailboxes.resolve(&address))),
                Step::Deliver(delivery) => {
                    assert!(delivery.message.len() <= MAX_MESSAGE_SIZE);
                    assert!(!delivery.accounts.is_empty());
                    let result = now(FuzzMailboxes.deliver(
                        delivery.pending.sender(),
                        &delivery.accounts,
                        delivery.message.into(),
                    ));
                    let outcome = match failures.rotate_left(deliveries) & 3 {
                        1 => Err(NotDelivered::Failed("no".into())),
                        2 => Err(NotDelivered::Busy),
                        _ => result,
                    };
                    deliveries += 1;
                    session.delivered(delivery.pending, outcome);
                }
                Step::Spill { .. } => unreachable!("messages stay under SPILL_AT"),
                Step::Close => break true,
            }
        };
        check_replies(&session.take_output());
        if closed {
            break;
        }
    }
});

/// Splits `input` into chunks of 1..=64 bytes, sizes drawn from a generator seeded by `seed`.
fn chunks(input: &[u8], seed: u8) -> impl Iterator<Item = &[u8]> {
    let mut state = u32::from(seed) | 1;
    let mut rest = input;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let len = ((state >> 16) as usize % 64 + 1).min(rest.len());
        let (chunk, tail) = rest.split_at(len);
        rest = tail;
        Some(chunk)
    })
}

/// Every reply is a whole CRLF line starting with a three-digit code (RFC 5321 4.2).
fn check_replies(out: &[u8]) {
    for line in out.split_inclusive(|&b| b == b'\n') {
        let well_formed = line.ends_with(b"\r\n")
            && line.len() >= 4
            && line[..3].iter().all(u8::is_ascii_digit)
            && matches!(line[3], b' ' | b'-');
        assert!(well_formed, "{:?}", String::from_utf8_lossy(line));
    }
}

/// Runs a future that never waits (the fake mailboxes).
fn now<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => unreachable!("FuzzMailboxes never waits"),
    }
}
