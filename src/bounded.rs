//! Lists read from untrusted input, bounded while they are read: the one place where a
//! request's folder, collection, command or recipient list is counted and deduplicated.
//!
//! Every check here costs O(1) per entry (a hash set, never a scan of what came before), and
//! reading stops at the first entry over the bound, so a request naming a million folders
//! costs as much as one naming `max + 1`. Like `refusal`, this module imports nothing from
//! the crate.

use std::collections::HashSet;
use std::hash::Hash;

/// A list went over its bound of `max` entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("more than {max} entries")]
pub struct TooMany {
    pub max: usize,
}

/// Distinct keys seen so far, at most `max` of them.
#[derive(Debug)]
pub struct Distinct<K> {
    seen: HashSet<K>,
    max: usize,
}

impl<K: Eq + Hash> Distinct<K> {
    pub fn new(max: usize) -> Self {
        // Preallocate for what a well-behaved request names, not for `max`.
        Self {
            seen: HashSet::with_capacity(max.min(64)),
            max,
        }
    }

    /// `Ok(true)` for a key not seen before, `Ok(false)` for a repeat; `Err` when the key
    /// would be the `max + 1`-th distinct one (it is not recorded).
    pub fn admit(&mut self, key: K) -> Result<bool, TooMany> {
        if self.seen.contains(&key) {
            return Ok(false);
        }
        if self.seen.len() >= self.max {
            return Err(TooMany { max: self.max });
        }
        Ok(self.seen.insert(key))
    }
}

/// The entries of `items` in order, or `Err` as soon as the `max + 1`-th is reached (the
/// rest are not pulled from the iterator).
pub fn at_most<I: IntoIterator>(items: I, max: usize) -> Result<Vec<I::Item>, TooMany> {
    let mut out = Vec::new();
    for item in items {
        if out.len() >= max {
            return Err(TooMany { max });
        }
        out.push(item);
    }
    Ok(out)
}

/// The distinct entries of `items`, first occurrence first, or `Err` as soon as the
/// `max + 1`-th distinct one is reached (the rest are not pulled from the iterator).
pub fn distinct_at_most<T, I>(items: I, max: usize) -> Result<Vec<T>, TooMany>
where
    T: Eq + Hash + Clone,
    I: IntoIterator<Item = T>,
{
    let mut seen = Distinct::new(max);
    let mut out = Vec::new();
    for item in items {
        if seen.admit(item.clone())? {
            out.push(item);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn keeps_order_drops_repeats_and_bounds_distinct_entries() {
        assert_eq!(
            distinct_at_most(["a", "b", "a", "c"], 3),
            Ok(vec!["a", "b", "c"])
        );
        assert_eq!(
            distinct_at_most(["a", "b", "a", "c"], 2),
            Err(TooMany { max: 2 })
        );
        // Repeats of admitted entries never count against the bound.
        assert_eq!(distinct_at_most(["a"; 1000], 1), Ok(vec!["a"]));
        assert_eq!(at_most(1..=3, 3), Ok(vec![1, 2, 3]));
        assert_eq!(at_most(1..=4, 3), Err(TooMany { max: 3 }));
        assert_eq!(at_most(std::iter::empty::<u8>(), 0), Ok(vec![]));
    }

    #[test]
    fn reading_stops_at_the_first_entry_over_the_bound() {
        for max in [0, 10, 300] {
            let pulled = Cell::new(0usize);
            let items = (0..1_000_000).inspect(|_| pulled.set(pulled.get() + 1));
            assert_eq!(distinct_at_most(items, max), Err(TooMany { max }));
            assert_eq!(pulled.get(), max + 1);
            let pulled = Cell::new(0usize);
            let items = (0..1_000_000).inspect(|_| pulled.set(pulled.get() + 1));
            assert_eq!(at_most(items, max), Err(TooMany { max }));
            assert_eq!(pulled.get(), max + 1);
        }
    }

    /// A key that counts how often it is hashed or compared.
    #[derive(Clone)]
    struct Counted(u64);

    thread_local! {
        static OPS: Cell<u64> = const { Cell::new(0) };
    }

    impl PartialEq for Counted {
        fn eq(&self, other: &Self) -> bool {
            OPS.with(|o| o.set(o.get() + 1));
            self.0 == other.0
        }
    }
    impl Eq for Counted {}
    impl Hash for Counted {
        fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
            OPS.with(|o| o.set(o.get() + 1));
            self.0.hash(state);
        }
    }

    /// Deduplication is linear: 10× the entries cost about 10× the work, not 100× (as a
    /// pairwise scan would). Counted in key operations, so the evidence is deterministic.
    #[test]
    fn deduplication_work_grows_linearly() {
        let ops = |n: u64| {
            OPS.with(|o| o.set(0));
            // Every key twice: the repeats are looked up too.
            let keys = (0..n).chain(0..n).map(Counted);
            assert_eq!(distinct_at_most(keys, usize::MAX).unwrap().len() as u64, n);
            OPS.with(Cell::get)
        };
        let (small, large) = (ops(6_600), ops(66_000));
        let ratio = large as f64 / small as f64;
        assert!(
            ratio < 15.0,
            "10x the entries took {ratio:.1}x the key operations"
        );
    }
}
