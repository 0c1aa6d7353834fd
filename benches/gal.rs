//! The company directory's budgets (issue #16), on the library with a real store:
//!
//! - GAL search: 10,000 entries, 9,000 accounts with directory entries (names, title,
//!   company, phones; a photo on 10%) and 1,000 contacts of a public contacts folder
//!   flagged as a GAL source, searched by 1- to 4-letter prefixes of names; p50/p99
//!   against 5 ms, and the memory the in-memory list holds (live heap bytes, counted by
//!   this bench's allocator) against 8 MiB.
//! - Availability: 20 recipients whose default calendars hold 2,000 events each (1,700
//!   single, 300 daily or weekly series, some with exceptions), merged into free/busy for
//!   a week (ResolveRecipients' default window) and for 42 days (its largest), as
//!   ResolveRecipients does it: one snapshot, `directory::availability`; against 50 ms.
//!
//! `cargo bench --bench gal`. Prints figures; exits non-zero when a budget is missed.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use easd::directory::availability::calendar_free_busy;
use easd::directory::fold::query_words;
use easd::directory::gal::{Gal, Scope};
use easd::store::directory::{put_entry, set_gal_source};
use easd::store::model::pim::{Contact, Event, Exception, Record, Recurrence, Stamp};
use easd::store::model::{
    CalendarSummary, DirectoryEntry, FolderType, PublicFolder, Rights, StoredBytes, Summary,
};
use easd::store::ops::Reads;
use easd::store::{Store, items, ops, share};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Live heap bytes.
struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const ENTRIES: usize = 10_000;
/// Of the entries, the contacts of a flagged folder (the rest are accounts).
const CONTACTS: usize = 1_000;
const RECIPIENTS: usize = 20;
const EVENTS: usize = 2_000;
const SERIES: usize = 300;
const GAL_P99: Duration = Duration::from_millis(5);
const GAL_MEMORY: isize = 8 * 1024 * 1024;
const AVAILABILITY: Duration = Duration::from_millis(50);
/// 2030-01-07 00:00 UTC, a Monday: the window's start.
const MONDAY: i64 = 1_893_974_400;
const DAY: i64 = 86_400;

const FIRST: &[&str] = &[
    "maria", "john", "anna", "peter", "laura", "thomas", "sofia", "david", "emma", "lukas",
    "julia", "marco", "nina", "oliver", "clara", "félix", "hanna", "paul", "léa", "jonas",
    "élodie", "søren", "zoë", "andré", "chloé", "jürgen", "ana", "björn", "inès", "noah",
];
const LAST: &[&str] = &[
    "keller", "smith", "müller", "dubois", "rossi", "garcía", "novak", "jensen", "kowalski",
    "lefèvre", "schmidt", "martin", "bernard", "moreau", "fischer", "weber", "wagner", "costa",
    "silva", "nielsen", "bauer", "petit", "roux", "fontaine", "girard", "laurent", "simon",
];

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).expect("store");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut ok = true;
    rt.block_on(async {
        ok &= gal(&store).await;
        ok &= availability(&store).await;
    });
    if !ok {
        std::process::exit(1);
    }
}

async fn gal(store: &Store) -> bool {
    let seeded = Instant::now();
    let photo = store
        .blobs()
        .put(&[0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3])
        .unwrap();
    for batch in 0..(ENTRIES - CONTACTS) / 500 {
        let photo = photo.clone();
        store
            .write(move |w| {
                let mut rng = StdRng::seed_from_u64(batch as u64);
                for i in batch * 500..(batch + 1) * 500 {
                    let first = FIRST[rng.gen_range(0..FIRST.len())];
                    let last = LAST[rng.gen_range(0..LAST.len())];
                    let email = format!("{first}.{last}.{i}@example.com")
                        .replace(['é', 'è'], "e")
                        .replace(['ü', 'ö'], "u")
                        .replace(['ø', 'ë', 'ç', 'í', 'ñ', 'ï'], "o");
                    let email: String = email.chars().filter(char::is_ascii).collect();
                    let a = ops::create_account(
                        w,
                        &email,
                        &format!("{} {}", title(first), title(last)),
                        "x",
                        false,
                    )?;
                    let entry = DirectoryEntry {
                        first_name: title(first),
                        last_name: title(last),
                        alias: format!("{}{last}", first.chars().next().unwrap_or('x')),
                        title: "Account manager".into(),
                        company: "Example Trading".into(),
                        office: format!("Building {}", i % 7),
                        business_phone: format!("+33 1 23 45 {:02} {:02}", i % 100, i / 100 % 100),
                        mobile_phone: format!("+33 6 12 {:02} {:02} {:02}", i % 97, i % 89, i % 83),
                        photo: (i % 10 == 0).then(|| StoredBytes {
                            blob: photo.clone(),
                            size: 7,
                        }),
                        ..DirectoryEntry::default()
                    };
                    put_entry(w, a.id, &entry)?;
                }
                Ok(())
            })
            .await
            .unwrap();
    }
    // The first account's contacts folder, public and a GAL source, so the searcher (of
    // the same domain) sees it.
    let owner = store
        .write(|w| {
            let owner = w.accounts()?[0].id;
            let folder = w
                .folders(owner)?
                .into_iter()
                .find(|f| f.kind == FolderType::Contacts)
                .expect("a contacts folder")
                .id;
            set_gal_source(w, owner, folder, true)?;
            share::put_public(
                w,
                &PublicFolder {
                    owner,
                    folder,
                    rights: Rights::READ_ONLY,
                    created: 0,
                },
            )?;
            let mut rng = StdRng::seed_from_u64(99);
            for i in 0..CONTACTS {
                let first = FIRST[rng.gen_range(0..FIRST.len())];
                let last = LAST[rng.gen_range(0..LAST.len())];
                let contact = Contact {
                    first_name: Some(title(first)),
                    last_name: Some(title(last)),
                    company_name: Some("Supplier & Co".into()),
                    job_title: Some("Sales".into()),
                    business_phone_number: Some(format!(
                        "+33 4 00 00 {:02} {:02}",
                        i % 100,
                        i / 100
                    )),
                    email1_address: Some(format!("contact{i}@supplier.example")),
                    ..Contact::default()
                };
                let record = Record::Contact(Box::new(contact));
                items::put_groupware(w, owner, folder, None, record, Summary::Contact)?;
            }
            Ok(owner)
        })
        .await
        .unwrap();
    println!(
        "seeded {} accounts with entries and {CONTACTS} contacts of a GAL source in {:?}",
        ENTRIES - CONTACTS,
        seeded.elapsed()
    );

    // A first build warms the store's pages; the second is measured.
    drop(Gal::default().current(store).await.unwrap());
    let before = LIVE.load(Ordering::Relaxed);
    let built = Instant::now();
    let gal = Gal::default();
    let index = gal.current(store).await.unwrap();
    let build_time = built.elapsed();
    let memory = LIVE.load(Ordering::Relaxed) - before;
    println!(
        "GAL of {} entries built in {build_time:?}; it holds {:.2} MiB (heap_bytes says {:.2} MiB); budget {} MiB",
        index.len(),
        memory as f64 / 1048576.0,
        index.heap_bytes() as f64 / 1048576.0,
        GAL_MEMORY / 1048576,
    );

    let mut rng = StdRng::seed_from_u64(7);
    let mut times = Vec::new();
    let mut found = 0usize;
    for round in 0..2_000 {
        let word = match round % 3 {
            0 => FIRST[rng.gen_range(0..FIRST.len())],
            1 => LAST[rng.gen_range(0..LAST.len())],
            _ => "building",
        };
        let len = rng.gen_range(1..=4).min(word.chars().count());
        let prefix: String = word.chars().take(len).collect();
        let t = Instant::now();
        // As a Search does: the current list (generation check), the words, the matches
        // counted (Total) and the first 100 taken.
        let index = gal.current(store).await.unwrap();
        let words = query_words(&prefix);
        let scope = Scope {
            searcher: owner,
            domain: Some("example.com"),
        };
        let mut total = 0;
        let mut shown = Vec::new();
        for e in index.search(&words, scope) {
            if shown.len() < 100 {
                shown.push(e.display_name().len());
            }
            total += 1;
        }
        times.push(t.elapsed());
        found += total;
    }
    times.sort();
    let (p50, p99) = (percentile(&times, 0.5), percentile(&times, 0.99));
    println!(
        "GAL search over {ENTRIES} entries: p50 {p50:?}, p99 {p99:?} (budget {GAL_P99:?}); {:.0} matches per query on average",
        found as f64 / times.len() as f64
    );
    p99 <= GAL_P99 && memory <= GAL_MEMORY
}

fn title(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn event(start: i64, minutes: i64, busy: i32) -> Event {
    Event {
        start_time: Some(Stamp(start)),
        end_time: Some(Stamp(start + minutes * 60)),
        busy_status: Some(busy),
        subject: Some("Meeting".into()),
        ..Event::default()
    }
}

async fn availability(store: &Store) -> bool {
    let mut ids = Vec::new();
    for r in 0..RECIPIENTS {
        let id = store
            .write(move |w| {
                let a = ops::create_account(w, &format!("fb{r}@example.com"), "", "x", false)?;
                let calendar = w
                    .folders(a.id)?
                    .into_iter()
                    .find(|f| f.kind == FolderType::Calendar)
                    .unwrap()
                    .id;
                let mut rng = StdRng::seed_from_u64(r as u64);
                for i in 0..EVENTS {
                    // Singles over a year around the window; series starting before it.
                    let mut e = if i < EVENTS - SERIES {
                        let day = rng.gen_range(-180..180);
                        let hour = rng.gen_range(8..18);
                        event(
                            MONDAY + day * DAY + hour * 3600,
                            30 * rng.gen_range(1..5),
                            rng.gen_range(0..4),
                        )
                    } else {
                        let start =
                            MONDAY - rng.gen_range(1..200) * DAY + rng.gen_range(8..18) * 3600;
                        let mut e = event(start, 30, rng.gen_range(1..4));
                        let daily = i % 2 == 0;
                        e.recurrence = Some(Recurrence {
                            kind: Some(if daily { 0 } else { 1 }),
                            interval: Some(1),
                            day_of_week: (!daily).then_some(1 << rng.gen_range(1..6)),
                            ..Recurrence::default()
                        });
                        if i % 5 == 0 {
                            e.exceptions = vec![Exception {
                                original: Stamp(start + 7 * DAY),
                                deleted: Some(true),
                                ..Exception::default()
                            }];
                        }
                        e
                    };
                    e.uid = Some(format!("e{r}-{i}"));
                    let summary = Summary::Calendar(CalendarSummary {
                        start: e.start_time.map(|s| s.0),
                        end: e.end_time.map(|s| s.0),
                        all_day: false,
                        recurring: e.recurrence.is_some(),
                    });
                    items::put_groupware(
                        w,
                        a.id,
                        calendar,
                        None,
                        Record::Event(Box::new(e)),
                        summary,
                    )?;
                }
                Ok(a.id)
            })
            .await
            .unwrap();
        ids.push(id);
    }
    let mut ok = true;
    for (label, days) in [("a week", 7), ("42 days", 42)] {
        let mut times = Vec::new();
        for _ in 0..15 {
            let ids = ids.clone();
            let t = Instant::now();
            let merged = store
                .view(move |tx| {
                    ids.iter()
                        .map(|&id| {
                            calendar_free_busy(tx, id, MONDAY, MONDAY + days * DAY)
                                .map(|f| f.merged())
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
                .await
                .unwrap();
            times.push(t.elapsed());
            assert_eq!(merged.len(), RECIPIENTS);
        }
        times.sort();
        let (p50, max) = (percentile(&times, 0.5), *times.last().unwrap());
        println!(
            "Availability for {RECIPIENTS} recipients x {EVENTS} events ({SERIES} series), {label}: p50 {p50:?}, max {max:?} (budget {AVAILABILITY:?})"
        );
        if days == 7 {
            ok &= p50 <= AVAILABILITY;
        }
    }
    ok
}
