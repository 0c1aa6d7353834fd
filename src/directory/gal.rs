//! The global address list: every directory entry a search can return, held in memory
//! as compact rows (text only; photos and certificates stay in the store), rebuilt from
//! one snapshot when the store's directory generation moves on.
//!
//! Matching follows ANR as [MS-ASCMD] 2.2.3.142.2 (GAL Query) describes it: each word of
//! the query is a case- and accent-insensitive prefix of a word of the display name, the
//! first or last name or the alias, or of the e-mail address ("John" finds John Frum and
//! Barry Johnson, not Littlejohn). Results come sorted by display name.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use super::fold::{fold, words};
use crate::config::GalScope;
use crate::store::directory::DirectoryReads;
use crate::store::model::{AccountId, DirectoryEntry, StoredBytes};
use crate::store::ops::Reads;
use crate::store::{Store, StoreError};

/// A GAL entry's properties, in the order they are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Property {
    DisplayName,
    FirstName,
    LastName,
    Alias,
    Title,
    Company,
    Office,
    Phone,
    HomePhone,
    MobilePhone,
    EmailAddress,
}

/// Where an entry comes from. Only accounts so far; flagged contact folders and groups
/// are further sources, searched as one list with them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Account(AccountId),
}

/// One entry: its properties as one string (`\0` between them: edits refuse control
/// characters), the folded words it is found by, and what it has in the store.
#[derive(Debug)]
pub struct GalEntry {
    pub origin: Origin,
    text: Box<str>,
    /// Folded words and the folded address, `\0`-separated.
    keys: Box<str>,
    domain: u32,
    photo: Option<Box<StoredBytes>>,
    pub certificates: u8,
}

impl GalEntry {
    /// The property's value ("" when not set).
    pub fn get(&self, p: Property) -> &str {
        self.text.split('\0').nth(p as usize).unwrap_or_default()
    }

    pub fn email(&self) -> &str {
        self.get(Property::EmailAddress)
    }

    pub fn display_name(&self) -> &str {
        self.get(Property::DisplayName)
    }

    pub fn photo(&self) -> Option<&StoredBytes> {
        self.photo.as_deref()
    }

    fn matches(&self, query: &[String]) -> bool {
        keys_match(&self.keys, query)
    }
}

/// Whether every query word is a prefix of one of `keys` (from [`match_keys`]).
pub fn keys_match(keys: &str, query: &[String]) -> bool {
    !query.is_empty()
        && query
            .iter()
            .all(|q| keys.split('\0').any(|k| k.starts_with(q.as_str())))
}

/// What a query matches of an entry: the folded words of its names, its folded address
/// whole, and the words of the address's local part ("bob.smith@" by "smith"),
/// `\0`-separated.
pub fn match_keys(names: &[&str], email: &str) -> Box<str> {
    let mut keys: Vec<String> = names.iter().flat_map(|v| words(v)).collect();
    keys.push(fold(email));
    keys.extend(words(email.split('@').next().unwrap_or_default()));
    keys.sort();
    keys.dedup();
    keys.join("\0").into()
}

/// The words of a query, folded; an address (with `@`) stays one word, matched against
/// the whole address.
pub fn query_words(query: &str) -> Vec<String> {
    let mut out = Vec::new();
    for piece in query.split_whitespace() {
        if piece.contains('@') {
            out.push(fold(piece));
        } else {
            out.extend(words(piece));
        }
    }
    out
}

/// The whole list, built from one snapshot.
#[derive(Debug, Default)]
pub struct GalIndex {
    generation: u64,
    entries: Vec<GalEntry>,
    domains: Vec<Box<str>>,
}

/// Whose entries a searcher sees ([`GalScope`] applied to the searcher's domain).
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    Domain(&'a str),
    All,
}

impl<'a> Scope<'a> {
    pub fn of(scope: GalScope, searcher_email: &'a str) -> Self {
        match scope {
            GalScope::All => Scope::All,
            GalScope::Domain => {
                Scope::Domain(searcher_email.rsplit_once('@').map_or("", |(_, d)| d))
            }
        }
    }
}

impl GalIndex {
    /// Builds the list from the store's accounts and their directory entries, sorted by
    /// display name, one entry per address (the first source that has it wins).
    pub fn build(tx: &(impl Reads + DirectoryReads)) -> Result<Self, StoreError> {
        let generation = tx.directory_generation()?;
        let mut details: HashMap<AccountId, DirectoryEntry> =
            tx.directory_entries()?.into_iter().collect();
        let mut domains: Vec<Box<str>> = Vec::new();
        let mut domain_ids: HashMap<String, u32> = HashMap::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut sorted: Vec<(String, GalEntry)> = Vec::new();
        for account in tx.accounts()? {
            if !account.enabled || !seen.insert(account.email.clone()) {
                continue;
            }
            let d = details.remove(&account.id).unwrap_or_default();
            let domain = *domain_ids
                .entry(account.domain().to_owned())
                .or_insert_with(|| {
                    domains.push(account.domain().into());
                    domains.len() as u32 - 1
                });
            let display = shown_name(&account.display_name, &d, &account.email);
            let entry = entry(
                Origin::Account(account.id),
                &display,
                &d,
                &account.email,
                domain,
            );
            sorted.push((fold(&display), entry));
        }
        sorted.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.email().cmp(b.1.email())));
        Ok(GalIndex {
            generation,
            entries: sorted.into_iter().map(|(_, e)| e).collect(),
            domains,
        })
    }

    /// The entries `query` (from [`query_words`]) matches that `scope` shows, sorted by
    /// display name. An empty query matches nothing.
    pub fn search<'s: 'q, 'q>(
        &'s self,
        query: &'q [String],
        scope: Scope<'_>,
    ) -> impl Iterator<Item = &'s GalEntry> + 'q {
        let domain = self.domain_of(scope);
        self.entries
            .iter()
            .filter(move |e| domain.is_none_or(|d| e.domain == d) && e.matches(query))
    }

    /// The entry with exactly this address, if `scope` shows it.
    pub fn by_address(&self, email: &str, scope: Scope<'_>) -> Option<&GalEntry> {
        let domain = self.domain_of(scope);
        self.entries.iter().find(|e| {
            domain.is_none_or(|d| e.domain == d) && e.email().eq_ignore_ascii_case(email.trim())
        })
    }

    /// The domain index a scope limits entries to (`None`: all).
    fn domain_of(&self, scope: Scope<'_>) -> Option<u32> {
        match scope {
            Scope::All => None,
            // A domain with no entries sees none (u32::MAX is no domain's index).
            Scope::Domain(d) => Some(
                self.domains
                    .iter()
                    .position(|x| x.eq_ignore_ascii_case(d))
                    .map_or(u32::MAX, |i| i as u32),
            ),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The heap the list holds, in bytes (the benchmark's memory figure).
    pub fn heap_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<GalEntry>()
            + self
                .entries
                .iter()
                .map(|e| {
                    e.text.len()
                        + e.keys.len()
                        + e.photo.as_ref().map_or(0, |p| {
                            std::mem::size_of::<StoredBytes>() + p.blob.as_str().len()
                        })
                })
                .sum::<usize>()
            + self.domains.iter().map(|d| d.len() + 16).sum::<usize>()
    }
}

/// The name an entry is listed under: the account's display name, else its first and
/// last names, else its address.
fn shown_name(display: &str, d: &DirectoryEntry, email: &str) -> String {
    if !display.trim().is_empty() {
        return display.trim().to_owned();
    }
    let names = format!("{} {}", d.first_name.trim(), d.last_name.trim());
    if names.trim().is_empty() {
        email.to_owned()
    } else {
        names.trim().to_owned()
    }
}

fn entry(origin: Origin, display: &str, d: &DirectoryEntry, email: &str, domain: u32) -> GalEntry {
    let values = [
        display,
        &d.first_name,
        &d.last_name,
        &d.alias,
        &d.title,
        &d.company,
        &d.office,
        &d.business_phone,
        &d.home_phone,
        &d.mobile_phone,
        email,
    ];
    // Control characters never reach an entry (edits refuse them): `\0` separates.
    let text = values
        .iter()
        .map(|v| v.replace('\0', ""))
        .collect::<Vec<_>>()
        .join("\0");
    GalEntry {
        origin,
        text: text.into(),
        keys: match_keys(&[display, &d.first_name, &d.last_name, &d.alias], email),
        domain,
        photo: d.photo.clone().map(Box::new),
        certificates: d.certificates.len().min(u8::MAX as usize) as u8,
    }
}

/// The list as the daemon holds it: built on first use, rebuilt when the store's
/// directory generation has moved on.
#[derive(Default)]
pub struct Gal {
    current: RefCell<Option<Rc<GalIndex>>>,
}

impl Gal {
    /// The list as of now: the cached one when the generation is unchanged, else one
    /// rebuilt from the same snapshot that read the generation.
    pub async fn current(&self, store: &Store) -> Result<Rc<GalIndex>, StoreError> {
        let known = self.current.borrow().as_ref().map(|g| g.generation);
        let fresh = store
            .view(move |tx| {
                if Some(tx.directory_generation()?) == known {
                    return Ok::<_, StoreError>(None);
                }
                GalIndex::build(tx).map(Some)
            })
            .await?;
        if let Some(built) = fresh {
            tracing::debug!(entries = built.len(), "GAL rebuilt");
            *self.current.borrow_mut() = Some(Rc::new(built));
        }
        Ok(self.current.borrow().clone().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::directory::put_entry;
    use crate::store::ops::{self, Reads};

    async fn add(store: &Store, email: &'static str, name: &'static str, d: DirectoryEntry) {
        store
            .write(move |w| {
                let a = ops::create_account(w, email, name, "hash", false)?;
                put_entry(w, a.id, &d)
            })
            .await
            .unwrap();
    }

    fn names<'a>(found: impl Iterator<Item = &'a GalEntry>) -> Vec<&'a str> {
        found.map(GalEntry::display_name).collect()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn prefixes_of_words_match_case_and_accent_insensitively_sorted_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        add(
            &store,
            "john@example.com",
            "John Frum",
            DirectoryEntry::default(),
        )
        .await;
        add(
            &store,
            "barry@example.com",
            "Barry Johnson",
            DirectoryEntry {
                title: "Buyer".into(),
                ..DirectoryEntry::default()
            },
        )
        .await;
        add(
            &store,
            "lj@example.com",
            "Ann Littlejohn",
            DirectoryEntry::default(),
        )
        .await;
        add(
            &store,
            "eloise.durand@example.com",
            "",
            DirectoryEntry {
                first_name: "Éloïse".into(),
                last_name: "Durand".into(),
                alias: "edu".into(),
                ..DirectoryEntry::default()
            },
        )
        .await;
        add(
            &store,
            "john@other.org",
            "John Other",
            DirectoryEntry::default(),
        )
        .await;
        let gal = Gal::default().current(&store).await.unwrap();
        let here = Scope::Domain("example.com");
        let q = |s: &str| query_words(s);
        assert_eq!(
            names(gal.search(&q("JOHN"), here)),
            ["Barry Johnson", "John Frum"]
        );
        assert_eq!(
            names(gal.search(&q("john"), Scope::All)),
            ["Barry Johnson", "John Frum", "John Other"]
        );
        // First name without accents, alias, address and its local part's words.
        for query in [
            "elo",
            "ELOÏ",
            "edu",
            "eloise.durand@ex",
            "durand",
            "dur elo",
        ] {
            assert_eq!(
                names(gal.search(&q(query), here)),
                ["Éloïse Durand"],
                "{query}"
            );
        }
        // The title is not searched; an empty query finds nothing.
        assert!(gal.search(&q("buyer"), here).next().is_none());
        assert!(gal.search(&q("  "), here).next().is_none());
        assert!(
            gal.search(&q("john"), Scope::Domain("nowhere.net"))
                .next()
                .is_none()
        );
        let barry = gal.by_address("BARRY@example.com", here).unwrap();
        assert_eq!(barry.get(Property::Title), "Buyer");
        assert_eq!(barry.get(Property::Company), "");
        assert!(gal.by_address("john@other.org", here).is_none());
        assert!(gal.by_address("john@other.org", Scope::All).is_some());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_list_follows_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        add(&store, "ann@example.com", "Ann", DirectoryEntry::default()).await;
        let gal = Gal::default();
        let first = gal.current(&store).await.unwrap();
        assert_eq!(first.len(), 1);
        // Unchanged: the same list, not a rebuild.
        assert!(Rc::ptr_eq(&first, &gal.current(&store).await.unwrap()));
        add(&store, "bob@example.com", "Bob", DirectoryEntry::default()).await;
        assert_eq!(gal.current(&store).await.unwrap().len(), 2);
        // A disabled account leaves the list.
        store
            .write(|w| {
                let mut a = w.account_by_email("bob@example.com")?.unwrap();
                a.enabled = false;
                ops::put_account(w, &a)
            })
            .await
            .unwrap();
        let now = gal.current(&store).await.unwrap();
        assert_eq!(
            names(now.search(&query_words("b"), Scope::All)),
            Vec::<&str>::new()
        );
    }
}
