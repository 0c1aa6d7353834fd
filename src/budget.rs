//! The process's memory budget: the bytes that request bodies in flight, responses being
//! built, LMTP messages being received and decoded WBXML may hold at once.
//!
//! On a 256 MiB board one client must not be able to make easd use memory out of
//! proportion to what it sent: every such buffer reserves its size here first, and what
//! does not fit waits briefly for others to finish or is refused (503 with Retry-After,
//! LMTP 452), with the refusal logged and counted (`crate::refusal`).
//!
//! Single-threaded like the rest of the event loop (`Rc`, `Cell`), and at the bottom of
//! the crate: it imports nothing from it.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use tokio::sync::Notify;

/// The shared pool. Hand out `Rc<MemoryBudget>`; reservations release on drop.
#[derive(Debug)]
pub struct MemoryBudget {
    total: usize,
    used: Cell<usize>,
    /// High-water mark of `used`, for `easd status`.
    peak: Cell<usize>,
    released: Notify,
}

impl MemoryBudget {
    pub fn new(total: usize) -> Rc<Self> {
        Rc::new(Self {
            total,
            used: Cell::new(0),
            peak: Cell::new(0),
            released: Notify::new(),
        })
    }

    pub fn total(&self) -> usize {
        self.total
    }

    pub fn in_use(&self) -> usize {
        self.used.get()
    }

    pub fn peak(&self) -> usize {
        self.peak.get()
    }

    /// An empty reservation, to grow or absorb others into.
    pub fn nothing(self: &Rc<Self>) -> Reservation {
        Reservation {
            budget: self.clone(),
            bytes: 0,
        }
    }

    /// Reserves `bytes` now, or `None` if they do not fit.
    pub fn try_reserve(self: &Rc<Self>, bytes: usize) -> Option<Reservation> {
        self.take(bytes).then(|| Reservation {
            budget: self.clone(),
            bytes,
        })
    }

    /// Reserves `bytes`, waiting up to `patience` for other reservations to be released.
    /// A request larger than the whole budget is refused at once: no release can make it fit.
    pub async fn reserve(self: &Rc<Self>, bytes: usize, patience: Duration) -> Option<Reservation> {
        if bytes > self.total {
            return None;
        }
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            // Register interest before checking, so a release between the check and the
            // wait is not missed.
            let released = self.released.notified();
            if let Some(r) = self.try_reserve(bytes) {
                return Some(r);
            }
            if tokio::time::timeout_at(deadline, released).await.is_err() {
                return None;
            }
        }
    }

    fn take(&self, bytes: usize) -> bool {
        match self.used.get().checked_add(bytes) {
            Some(after) if after <= self.total => {
                self.used.set(after);
                self.peak.set(self.peak.get().max(after));
                true
            }
            _ => false,
        }
    }

    fn give_back(&self, bytes: usize) {
        self.used.set(self.used.get() - bytes);
        if bytes > 0 {
            self.released.notify_waiters();
        }
    }

    /// `{ "total": …, "in_use": …, "peak": … }` for `easd status`.
    pub fn snapshot(&self) -> serde_json::Value {
        serde_json::json!({
            "total": self.total,
            "in_use": self.in_use(),
            "peak": self.peak(),
        })
    }
}

/// Bytes held from the budget; given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    budget: Rc<MemoryBudget>,
    bytes: usize,
}

impl Reservation {
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Grows the reservation by `more` bytes if they fit now (a buffer that grows as data
    /// arrives); on `false` nothing changed.
    pub fn grow(&mut self, more: usize) -> bool {
        let ok = self.budget.take(more);
        if ok {
            self.bytes += more;
        }
        ok
    }

    /// Takes over `other`'s bytes: one reservation for a buffer that grew in steps, some
    /// of which had to wait.
    pub fn absorb(&mut self, mut other: Reservation) {
        debug_assert!(Rc::ptr_eq(&self.budget, &other.budget));
        self.bytes += std::mem::take(&mut other.bytes);
    }

    /// Gives back what the holder no longer needs (never below zero).
    pub fn shrink_to(&mut self, bytes: usize) {
        if bytes < self.bytes {
            self.budget.give_back(self.bytes - bytes);
            self.bytes = bytes;
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.give_back(self.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_fit_the_total_and_release_on_drop() {
        let b = MemoryBudget::new(100);
        let r1 = b.try_reserve(60).unwrap();
        assert!(b.try_reserve(41).is_none());
        let mut r2 = b.try_reserve(40).unwrap();
        assert_eq!(b.in_use(), 100);
        assert!(!r2.grow(1));
        drop(r1);
        assert!(r2.grow(10));
        assert_eq!(r2.bytes(), 50);
        let r3 = b.try_reserve(5).unwrap();
        r2.absorb(r3);
        assert_eq!((r2.bytes(), b.in_use()), (55, 55));
        r2.shrink_to(5);
        assert_eq!(b.in_use(), 5);
        drop(r2);
        assert_eq!((b.in_use(), b.peak()), (0, 100));
        assert!(b.try_reserve(usize::MAX).is_none());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_waiter_gets_what_a_release_frees_and_gives_up_after_its_patience() {
        let b = MemoryBudget::new(100);
        let held = b.try_reserve(80).unwrap();
        // Larger than the whole budget: refused without waiting.
        assert!(b.reserve(101, Duration::from_secs(60)).await.is_none());
        // Nothing is released: the waiter gives up after its patience.
        let start = tokio::time::Instant::now();
        assert!(b.reserve(30, Duration::from_millis(50)).await.is_none());
        assert!(start.elapsed() >= Duration::from_millis(50));
        // A release while waiting lets it through.
        let local = tokio::task::LocalSet::new();
        let waiter = {
            let b = b.clone();
            local.spawn_local(async move { b.reserve(30, Duration::from_secs(10)).await })
        };
        local
            .run_until(async {
                tokio::task::yield_now().await;
                drop(held);
                let got = waiter.await.unwrap().expect("fits after the release");
                assert_eq!(got.bytes(), 30);
            })
            .await;
    }
}
