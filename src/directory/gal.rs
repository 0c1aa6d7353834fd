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

use super::contacts;
use super::fold::{fold, keys_match, match_keys};
use crate::config::GalScope;
use crate::store::directory::DirectoryReads;
use crate::store::items::ItemReads;
use crate::store::model::pim::{Contact, Record};
use crate::store::model::{Account, AccountId, DirectoryEntry, FolderId, Grantee, StoredBytes};
use crate::store::ops::Reads;
use crate::store::share::ShareReads;
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

/// Where an entry comes from. When several sources have the same address, a searcher
/// gets one entry for it: the account's own (when the searcher sees it) before a contact
/// of a flagged folder, since what the account says of itself is authoritative and a
/// contact card is someone's copy; the first by name among contacts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Account(AccountId),
    /// A contact of a contacts folder flagged as a GAL source.
    Contact {
        owner: AccountId,
        folder: FolderId,
        item: u64,
    },
}

impl Origin {
    /// The account an entry is, if it is one (free/busy and certificates are its own).
    pub fn account(self) -> Option<AccountId> {
        match self {
            Origin::Account(id) => Some(id),
            Origin::Contact { .. } => None,
        }
    }
}

const NO_SHADOW: u32 = u32::MAX;

/// Who sees a set of entries: the accounts of `domain` (when the searcher's scope takes
/// that domain in), and `accounts` whatever their domain (sorted).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Audience {
    domain: Option<u32>,
    accounts: Box<[AccountId]>,
}

/// One entry: its properties as one string (`\0` between them: edits refuse control
/// characters), the folded words it is found by, and what it has in the store.
#[derive(Debug)]
pub struct GalEntry {
    pub origin: Origin,
    text: Box<str>,
    /// Folded words and the folded address, `\0`-separated.
    keys: Box<str>,
    /// Index into [`GalIndex`]'s audiences.
    audience: u32,
    /// A contact's: the audience of the account entry with the same address
    /// ([`NO_SHADOW`]: none). Who sees that entry gets it, never the contact.
    shadow: u32,
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

    /// Whether a searcher who sees these audiences (by index) gets this entry: its own
    /// audience, unless it sees the account entry of the same address instead.
    fn seen(&self, audiences: &[bool]) -> bool {
        audiences[self.audience as usize]
            && (self.shadow == NO_SHADOW || !audiences[self.shadow as usize])
    }
}

/// The whole list, built from one snapshot.
#[derive(Debug, Default)]
pub struct GalIndex {
    generation: u64,
    entries: Vec<GalEntry>,
    domains: Vec<Box<str>>,
    audiences: Vec<Audience>,
}

/// Who is searching, and the domains [`GalScope`] lets them see (`None`: all).
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub searcher: AccountId,
    pub domain: Option<&'a str>,
}

impl<'a> Scope<'a> {
    pub fn of(scope: GalScope, searcher: &'a Account) -> Self {
        Scope {
            searcher: searcher.id,
            domain: match scope {
                GalScope::All => None,
                GalScope::Domain => Some(searcher.domain()),
            },
        }
    }
}

/// Interns domains and audiences while the list is built.
#[derive(Default)]
struct Builder {
    domains: Vec<Box<str>>,
    domain_ids: HashMap<String, u32>,
    audiences: Vec<Audience>,
    audience_ids: HashMap<Audience, u32>,
    sorted: Vec<(String, GalEntry)>,
}

impl Builder {
    fn domain(&mut self, domain: &str) -> u32 {
        let domains = &mut self.domains;
        *self.domain_ids.entry(domain.to_owned()).or_insert_with(|| {
            domains.push(domain.into());
            domains.len() as u32 - 1
        })
    }

    fn audience(&mut self, domain: Option<u32>, mut accounts: Vec<AccountId>) -> u32 {
        accounts.sort_unstable();
        accounts.dedup();
        let a = Audience {
            domain,
            accounts: accounts.into(),
        };
        let audiences = &mut self.audiences;
        *self.audience_ids.entry(a.clone()).or_insert_with(|| {
            audiences.push(a);
            audiences.len() as u32 - 1
        })
    }

    fn push(&mut self, entry: GalEntry) {
        self.sorted.push((fold(entry.display_name()), entry));
    }
}

impl GalIndex {
    /// Builds the list from one snapshot: the enabled accounts with their directory
    /// entries, then the contacts of the flagged contacts folders (one entry per
    /// address: a phone completes, and ResolveRecipients resolves, an address), sorted
    /// by display name. Who sees what:
    /// - an account: its domain (as `gal_scope` lets searchers see domains), and the
    ///   members of every group with `gal_members` it is a member of;
    /// - a flagged folder's contacts: whoever may read the folder anyway, its owner and
    ///   the accounts it is shared with (directly or through a group); a public folder's
    ///   also the owner's domain, like the owner's own entry (a folder never widens who
    ///   reads what).
    pub fn build(
        tx: &(impl Reads + DirectoryReads + ShareReads + ItemReads),
    ) -> Result<Self, StoreError> {
        let generation = tx.directory_generation()?;
        let mut details: HashMap<AccountId, DirectoryEntry> =
            tx.directory_entries()?.into_iter().collect();
        let groups = tx.groups()?;
        let mut b = Builder::default();
        let mut seen: HashSet<String> = HashSet::new();
        let accounts = tx.accounts()?;
        for account in &accounts {
            if !account.enabled || !seen.insert(account.email.clone()) {
                continue;
            }
            let d = details.remove(&account.id).unwrap_or_default();
            let domain = b.domain(account.domain());
            let co_members = groups
                .iter()
                .filter(|g| g.gal_members && g.members.contains(&account.id))
                .flat_map(|g| g.members.iter().copied())
                .collect();
            let audience = b.audience(Some(domain), co_members);
            let display = shown_name(&account.display_name, &d, &account.email);
            let entry = entry(
                Origin::Account(account.id),
                &display,
                &d,
                &account.email,
                audience,
            );
            b.push(entry);
        }
        let account_audiences: HashMap<String, u32> = b
            .sorted
            .iter()
            .map(|(_, e)| (e.email().to_owned(), e.audience))
            .collect();
        let shares = tx.shares()?;
        let public = tx.public_folders()?;
        for source in tx.gal_sources()? {
            let Some(owner) = accounts.iter().find(|a| a.id == source.owner) else {
                continue;
            };
            let mut readers = vec![owner.id];
            for s in shares
                .iter()
                .filter(|s| s.owner == owner.id && s.folder == source.folder)
            {
                match s.grantee {
                    Grantee::Account(a) => readers.push(a),
                    Grantee::Group(g) => readers.extend(
                        groups
                            .iter()
                            .filter(|group| group.id == g)
                            .flat_map(|group| group.members.iter().copied()),
                    ),
                }
            }
            let is_public = public
                .iter()
                .any(|p| p.owner == owner.id && p.folder == source.folder);
            let domain = is_public.then(|| b.domain(owner.domain()));
            let audience = b.audience(domain, readers);
            for item in tx.groupware_items(owner.id, source.folder)? {
                let Record::Contact(c) = &item.record else {
                    continue;
                };
                let origin = Origin::Contact {
                    owner: owner.id,
                    folder: source.folder,
                    item: item.id,
                };
                let name = contacts::shown_name(c);
                let d = contact_details(c);
                for email in contacts::addresses(c) {
                    let display = name.clone().unwrap_or_else(|| email.clone());
                    let mut e = entry(origin, &display, &d, &email, audience);
                    e.shadow = account_audiences.get(&email).copied().unwrap_or(NO_SHADOW);
                    b.push(e);
                }
            }
        }
        let Builder {
            domains,
            audiences,
            mut sorted,
            ..
        } = b;
        sorted.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.email().cmp(b.1.email())));
        Ok(GalIndex {
            generation,
            entries: sorted.into_iter().map(|(_, e)| e).collect(),
            domains,
            audiences,
        })
    }

    /// The entries `query` (from [`super::fold::query_words`]) matches that `scope` shows, sorted by
    /// display name, one per address: a contact whose address is an account the
    /// searcher sees is never listed (the account is, when it matches), and of contacts
    /// with the same address the first matching one is. An empty query matches nothing.
    pub fn search(&self, query: &[String], scope: Scope<'_>) -> Vec<&GalEntry> {
        let seen = self.seen_by(scope);
        let hits: Vec<&GalEntry> = self
            .entries
            .iter()
            .filter(|e| e.seen(&seen) && e.matches(query))
            .collect();
        one_per_address(hits)
    }

    /// The entry with exactly this address, if `scope` shows one (the account's, if it
    /// is one the searcher sees).
    pub fn by_address(&self, email: &str, scope: Scope<'_>) -> Option<&GalEntry> {
        let seen = self.seen_by(scope);
        let email = email.trim();
        self.entries
            .iter()
            .find(|e| e.seen(&seen) && e.email().eq_ignore_ascii_case(email))
    }

    /// Which audiences include the searcher, by index.
    fn seen_by(&self, scope: Scope<'_>) -> Vec<bool> {
        self.audiences
            .iter()
            .map(|a| {
                let by_domain = a.domain.is_some_and(|d| {
                    scope
                        .domain
                        .is_none_or(|s| self.domains[d as usize].eq_ignore_ascii_case(s))
                });
                by_domain || a.accounts.binary_search(&scope.searcher).is_ok()
            })
            .collect()
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
            + self
                .audiences
                .iter()
                .map(|a| std::mem::size_of::<Audience>() + a.accounts.len() * 8)
                .sum::<usize>()
    }
}

/// Keeps the first of the hits with the same address. Only contacts can share one (of
/// two folders): an account's address is unique among accounts, and a contact with it is
/// seen only by who does not see the account ([`GalEntry::seen`]); so only contacts are
/// hashed.
fn one_per_address(hits: Vec<&GalEntry>) -> Vec<&GalEntry> {
    let is_contact = |e: &GalEntry| matches!(e.origin, Origin::Contact { .. });
    let mut addresses: HashSet<&str> = HashSet::new();
    let unique = hits
        .iter()
        .filter(|e| is_contact(e))
        .all(|e| addresses.insert(e.email()));
    if unique {
        return hits;
    }
    addresses.clear();
    hits.into_iter()
        .filter(|e| !is_contact(e) || addresses.insert(e.email()))
        .collect()
}

/// A contact's GAL properties in the directory's terms ([MS-ASCMD] 2.2.3.142.2 from
/// [MS-ASCNTC] 2.2.2: JobTitle as Title, OfficeLocation as Office, BusinessPhoneNumber as
/// Phone). Contact photos are not served from the GAL (the entry has none).
fn contact_details(c: &Contact) -> DirectoryEntry {
    let text = |v: &Option<String>| v.as_deref().unwrap_or_default().trim().to_owned();
    DirectoryEntry {
        first_name: text(&c.first_name),
        last_name: text(&c.last_name),
        alias: text(&c.alias),
        title: text(&c.job_title),
        company: text(&c.company_name),
        office: text(&c.office_location),
        business_phone: text(&c.business_phone_number),
        home_phone: text(&c.home_phone_number),
        mobile_phone: text(&c.mobile_phone_number),
        ..DirectoryEntry::default()
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

fn entry(
    origin: Origin,
    display: &str,
    d: &DirectoryEntry,
    email: &str,
    audience: u32,
) -> GalEntry {
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
        audience,
        shadow: NO_SHADOW,
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
    use crate::directory::fold::query_words;
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

    fn names(found: Vec<&GalEntry>) -> Vec<&str> {
        found.into_iter().map(GalEntry::display_name).collect()
    }

    /// A searcher that is no account, seeing `domain` (`None`: all).
    fn nobody(domain: Option<&str>) -> Scope<'_> {
        Scope {
            searcher: AccountId::MAX,
            domain,
        }
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
        let here = nobody(Some("example.com"));
        let q = |s: &str| query_words(s);
        assert_eq!(
            names(gal.search(&q("JOHN"), here)),
            ["Barry Johnson", "John Frum"]
        );
        assert_eq!(
            names(gal.search(&q("john"), nobody(None))),
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
        assert!(gal.search(&q("buyer"), here).is_empty());
        assert!(gal.search(&q("  "), here).is_empty());
        assert!(
            gal.search(&q("john"), nobody(Some("nowhere.net")))
                .is_empty()
        );
        let barry = gal.by_address("BARRY@example.com", here).unwrap();
        assert_eq!(barry.get(Property::Title), "Buyer");
        assert_eq!(barry.get(Property::Company), "");
        assert!(gal.by_address("john@other.org", here).is_none());
        assert!(gal.by_address("john@other.org", nobody(None)).is_some());
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
            names(now.search(&query_words("b"), nobody(None))),
            Vec::<&str>::new()
        );
    }
}

#[cfg(test)]
mod sources_tests {
    use super::*;
    use crate::directory::fold::query_words;
    use crate::store::blob::BlobId;
    use crate::store::directory::set_gal_source;
    use crate::store::model::{
        Flags, FolderType, MessageMeta, PublicFolder, ROOT_FOLDER, Rights, Share, Summary,
    };
    use crate::store::ops::{self, Reads};
    use crate::store::{folders, items, share};

    async fn account(store: &Store, email: &'static str, name: &'static str) -> AccountId {
        store
            .write(move |w| ops::create_account(w, email, name, "hash", false))
            .await
            .unwrap()
            .id
    }

    /// A new contacts folder of `owner`, flagged as a GAL source.
    async fn flagged_folder(store: &Store, owner: AccountId, name: &'static str) -> FolderId {
        store
            .write(move |w| {
                let f = folders::create(w, owner, ROOT_FOLDER, name, FolderType::UserContacts)
                    .map_err(|e| StoreError::Invalid(e.to_string()))?;
                assert!(set_gal_source(w, owner, f.id, true)?);
                assert!(!set_gal_source(w, owner, f.id, true)?, "already flagged");
                Ok(f.id)
            })
            .await
            .unwrap()
    }

    fn contact(first: &str, last: &str, emails: &[&str]) -> Contact {
        let email = |i: usize| emails.get(i).map(|e| (*e).to_owned());
        Contact {
            first_name: Some(first.into()),
            last_name: Some(last.into()),
            job_title: Some("Supplier".into()),
            mobile_phone_number: Some("+33 6 00".into()),
            email1_address: email(0),
            email2_address: email(1),
            email3_address: email(2),
            ..Contact::default()
        }
    }

    async fn put(
        store: &Store,
        owner: AccountId,
        folder: FolderId,
        id: Option<u64>,
        c: Contact,
    ) -> u64 {
        store
            .write(move |w| {
                let record = Record::Contact(Box::new(c.clone()));
                items::put_groupware(w, owner, folder, id, record, Summary::Contact)
            })
            .await
            .unwrap()
            .unwrap()
            .id
    }

    async fn generation(store: &Store) -> u64 {
        store.view(|tx| tx.directory_generation()).await.unwrap()
    }

    fn emails(found: Vec<&GalEntry>) -> Vec<(&str, &str)> {
        found
            .into_iter()
            .map(|e| (e.display_name(), e.email()))
            .collect()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn flagged_folders_and_groups_are_searched_with_the_directory_each_by_its_readers() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let alice = account(&store, "alice@example.com", "Alice Martin").await;
        let bob = account(&store, "bob@example.com", "Bob Stone").await;
        let carol = account(&store, "carol@example.com", "Carol Dupont").await;
        let public = account(&store, "public@example.com", "Public").await;
        let olga = account(&store, "olga@other.org", "Olga Mars").await;
        // Alice's folder, shared with Bob only; a public folder of the public account.
        let alices = flagged_folder(&store, alice, "Suppliers").await;
        let publics = flagged_folder(&store, public, "Office").await;
        store
            .write(move |w| {
                share::put_share(
                    w,
                    &Share {
                        owner: alice,
                        folder: alices,
                        grantee: Grantee::Account(bob),
                        rights: Rights::READ_ONLY,
                        created: 0,
                    },
                )?;
                share::put_public(
                    w,
                    &PublicFolder {
                        owner: public,
                        folder: publics,
                        rights: Rights::READ_ONLY,
                        created: 0,
                    },
                )
            })
            .await
            .unwrap();
        // Two addresses: two entries. A card with Bob's address: Bob's own entry wins.
        let max = put(
            &store,
            alice,
            alices,
            None,
            contact(
                "Max",
                "Muller",
                &["\"Max\" <Max@Supply.example>", "max@home.example"],
            ),
        )
        .await;
        put(
            &store,
            alice,
            alices,
            None,
            contact("Robert", "S", &["bob@example.com"]),
        )
        .await;
        put(
            &store,
            public,
            publics,
            None,
            contact("Plumber", "Joe", &["joe@plumb.example"]),
        )
        .await;

        let gal = Gal::default();
        let index = gal.current(&store).await.unwrap();
        let scope = |who: AccountId, domain| Scope {
            searcher: who,
            domain,
        };
        let here = Some("example.com");
        let m = query_words("m");
        assert_eq!(
            emails(index.search(&m, scope(bob, here))),
            [
                ("Alice Martin", "alice@example.com"),
                ("Max Muller", "max@home.example"),
                ("Max Muller", "max@supply.example"),
            ]
        );
        let max_entry = index
            .by_address("MAX@supply.example", scope(alice, here))
            .unwrap();
        assert_eq!(max_entry.get(Property::Title), "Supplier");
        assert_eq!(max_entry.get(Property::MobilePhone), "+33 6 00");
        assert_eq!(max_entry.origin.account(), None);
        // Carol reads neither Alice's folder nor is it public: she does not see it.
        assert!(
            index
                .by_address("max@supply.example", scope(carol, here))
                .is_none()
        );
        assert!(
            index
                .search(&query_words("muller"), scope(carol, None))
                .is_empty()
        );
        // Bob's address is one entry, his account's, for a reader of the folder too.
        let bobs = index.search(&query_words("bob@example.com"), scope(alice, here));
        assert_eq!(bobs.len(), 1);
        assert_eq!(bobs[0].origin, Origin::Account(bob));
        assert_eq!(
            index
                .by_address("bob@example.com", scope(alice, here))
                .unwrap()
                .origin,
            Origin::Account(bob)
        );
        // The card is never listed where Bob's own entry is seen, even when only it matches.
        assert!(
            index
                .search(&query_words("robert"), scope(alice, here))
                .is_empty()
        );
        // The public folder: the owner's domain; another domain only when the scope is all.
        let joe = query_words("plumber");
        assert_eq!(index.search(&joe, scope(carol, here)).len(), 1);
        assert!(
            index
                .search(&joe, scope(olga, Some("other.org")))
                .is_empty()
        );
        assert_eq!(index.search(&joe, scope(olga, None)).len(), 1);

        // A group spanning two domains with gal_members: Olga and Carol see each other.
        assert!(
            index
                .by_address("olga@other.org", scope(carol, here))
                .is_none()
        );
        let before = generation(&store).await;
        store
            .write(move |w| {
                let mut g = share::create_group(w, "partners")?;
                g.members.extend([carol, olga]);
                g.gal_members = true;
                share::put_group(w, &g)
            })
            .await
            .unwrap();
        assert!(generation(&store).await > before);
        let index = gal.current(&store).await.unwrap();
        assert!(
            index
                .by_address("olga@other.org", scope(carol, here))
                .is_some()
        );
        assert!(
            index
                .by_address("carol@example.com", scope(olga, Some("other.org")))
                .is_some()
        );
        assert!(
            index
                .by_address("olga@other.org", scope(bob, here))
                .is_none()
        );

        // A contact's edit shows after the rebuild; a delivered message moves nothing.
        put(
            &store,
            alice,
            alices,
            Some(max),
            contact("Maxime", "Muller", &["max@supply.example"]),
        )
        .await;
        let index = gal.current(&store).await.unwrap();
        assert_eq!(
            emails(index.search(&query_words("muller"), scope(alice, here))),
            [("Maxime Muller", "max@supply.example")]
        );
        let before = generation(&store).await;
        store
            .write(move |w| {
                items::insert(
                    w,
                    alice,
                    1,
                    BlobId::of(b"mail"),
                    MessageMeta::default(),
                    Flags::default(),
                )?;
                // Contacts of a folder that is no source move nothing either.
                let plain = w
                    .folders(bob)?
                    .into_iter()
                    .find(|f| f.kind == FolderType::Contacts)
                    .unwrap()
                    .id;
                let record = Record::Contact(Box::new(contact("A", "B", &["a@b.example"])));
                items::put_groupware(w, bob, plain, None, record, Summary::Contact)?;
                Ok(())
            })
            .await
            .unwrap();
        assert_eq!(generation(&store).await, before);
        assert!(Rc::ptr_eq(&index, &gal.current(&store).await.unwrap()));

        // Unflagged: its contacts leave the list.
        store
            .write(move |w| set_gal_source(w, alice, alices, false))
            .await
            .unwrap();
        let index = gal.current(&store).await.unwrap();
        assert!(
            index
                .search(&query_words("muller"), scope(alice, here))
                .is_empty()
        );
        assert_eq!(index.search(&joe, scope(carol, here)).len(), 1);
    }
}
