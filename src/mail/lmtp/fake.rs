//! A [`Mailboxes`] for tests: a fixed address book and a log of deliveries.

use std::cell::{Cell, RefCell};

use super::Mailboxes;

/// Knows `alice@example.org` (1), `bob@example.org` (2); `carol@example.org` is disabled.
#[derive(Default)]
pub struct FakeMailboxes {
    pub deliveries: RefCell<Vec<(Vec<u64>, Vec<u8>)>>,
    /// The next deliveries fail while this is set.
    pub failing: Cell<bool>,
}

impl Mailboxes for FakeMailboxes {
    fn resolve(&self, address: &str) -> Option<u64> {
        match address {
            "alice@example.org" => Some(1),
            "bob@example.org" => Some(2),
            _ => None,
        }
    }

    async fn deliver(&self, _sender: &str, accounts: &[u64], raw: Vec<u8>) -> Result<(), String> {
        if self.failing.get() {
            return Err("disk on fire".to_owned());
        }
        self.deliveries.borrow_mut().push((accounts.to_vec(), raw));
        Ok(())
    }
}
