//! A [`Mailboxes`] for tests: a fixed address book and a log of deliveries.

use std::cell::{Cell, RefCell};

use super::{Mailboxes, NotDelivered, Received};
use crate::store::blob::{BlobStore, BlobWriter};

/// Knows `alice@example.org` (1), `bob@example.org` (2); `carol@example.org` is disabled.
pub struct FakeMailboxes {
    pub deliveries: RefCell<Vec<(Vec<u64>, Vec<u8>)>>,
    /// How many of them arrived spooled.
    pub spooled: Cell<usize>,
    /// The next deliveries fail while this is set.
    pub failing: Cell<bool>,
    /// The next deliveries find no room in the memory budget while this is set.
    pub busy: Cell<bool>,
    spools: BlobStore,
    _dir: tempfile::TempDir,
}

impl Default for FakeMailboxes {
    fn default() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Self {
            deliveries: RefCell::default(),
            spooled: Cell::default(),
            failing: Cell::default(),
            busy: Cell::default(),
            spools: BlobStore::open(dir.path()).expect("blob store"),
            _dir: dir,
        }
    }
}

impl Mailboxes for FakeMailboxes {
    async fn resolve(&self, address: &str) -> Option<u64> {
        match address {
            "alice@example.org" => Some(1),
            "bob@example.org" => Some(2),
            _ => None,
        }
    }

    fn spool(&self) -> std::io::Result<BlobWriter> {
        self.spools.writer()
    }

    async fn deliver(
        &self,
        _sender: &str,
        accounts: &[u64],
        raw: Received,
    ) -> Result<(), NotDelivered> {
        if self.failing.get() {
            return Err(NotDelivered::Failed("disk on fire".to_owned()));
        }
        if self.busy.get() {
            return Err(NotDelivered::Busy);
        }
        let raw = match raw {
            Received::Memory(raw) => raw,
            Received::Spooled(spool) => {
                self.spooled.set(self.spooled.get() + 1);
                spool.map().expect("map the spool").to_vec()
            }
        };
        self.deliveries.borrow_mut().push((accounts.to_vec(), raw));
        Ok(())
    }
}
