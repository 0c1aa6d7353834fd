//! What the LMTP listener ([`super::serve`]) and the protocol ([`super::Session`]) share:
//! the settings, the mailboxes a message is delivered to, and a received message.

use std::future::Future;
use std::io;
use std::rc::Rc;
use std::time::Duration;

use crate::refusal::Refusals;
use crate::store::blob::BlobWriter;

/// Implemented by the server for real delivery; tests use a fake.
pub trait Mailboxes {
    /// Resolves a recipient address, with any `+tag` already stripped (`alice+lists@x` →
    /// `alice@x`), to an account id; None = unknown or disabled account. It reads the
    /// store, so it is awaited ([`super::Step::Resolve`]).
    fn resolve(&self, address: &str) -> impl Future<Output = Option<u64>>;

    /// A new spool for a message too large to keep in memory while it arrives.
    fn spool(&self) -> io::Result<BlobWriter>;

    /// Durably stores `raw`, sent by the envelope `sender` (empty for `<>`), for every
    /// account in `accounts` (distinct ids); returns only after the commit is durable.
    fn deliver(
        &self,
        sender: &str,
        accounts: &[u64],
        raw: Received,
    ) -> impl Future<Output = Result<(), NotDelivered>>;
}

/// A complete message: small ones in memory, larger ones in the spool they were written
/// to as they arrived (`Step::Spill`).
pub enum Received {
    Memory(Vec<u8>),
    Spooled(BlobWriter),
}

impl Received {
    pub fn len(&self) -> u64 {
        match self {
            Received::Memory(raw) => raw.len() as u64,
            Received::Spooled(spool) => spool.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<Vec<u8>> for Received {
    fn from(raw: Vec<u8>) -> Self {
        Received::Memory(raw)
    }
}

/// Why a message was not delivered; every recipient gets the same temporary answer.
#[derive(Debug)]
pub enum NotDelivered {
    /// The store or the disk failed: `451 4.3.0`.
    Failed(String),
    /// The memory budget could not take the message now: `452 4.3.1` (RFC 3463: the
    /// system is short of a resource; the MTA retries later).
    Busy,
}

#[derive(Debug, Clone)]
pub struct LmtpConfig {
    /// Named in the greeting and the LHLO reply.
    pub hostname: String,
    /// Largest message accepted, in bytes (advertised as SIZE, RFC 1870).
    pub max_message_size: usize,
    /// Most accepted recipients per message.
    pub max_recipients: usize,
    /// A connection silent this long is closed with `421 4.4.2`.
    pub idle_timeout: Duration,
    /// Where messages refused for their size are logged and counted.
    pub refusals: Rc<Refusals>,
}

impl Default for LmtpConfig {
    fn default() -> Self {
        Self {
            hostname: "localhost".to_owned(),
            max_message_size: 50 * 1024 * 1024,
            max_recipients: 1000,
            idle_timeout: Duration::from_secs(300),
            refusals: Rc::default(),
        }
    }
}
