//! The company directory: `easd user set`/`show` (audited), and the GAL as Search
//! (Store GAL) answers it: matching, order, properties, Range, Total, photos under the
//! Picture options, and the per-domain scope.

use crate::support::*;
use easd::admin::ops::Request;
use easd::admin::reply::Reply;
use easd::config::GalScope;
use easd::directory::entry::{Change, Field, Upload};
use easd::wbxml::Element;
use easd::wbxml::tag::{gal, search as sr};

const ALICE: &str = "alice@example.com";
const BOB: &str = "bob@example.com";
const BOBBY: &str = "bobby@example.com";
const CAROL: &str = "carol@example.com";
const DAVE: &str = "dave@other.org";

/// A JPEG's first bytes, then `size - 4` more.
fn jpeg(size: usize, fill: u8) -> Vec<u8> {
    let mut b = vec![0xFF, 0xD8, 0xFF, 0xE0];
    b.resize(size, fill);
    b
}

fn certificate(name: &str) -> Vec<u8> {
    let mut params = rcgen::CertificateParams::new(vec![]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let key = rcgen::KeyPair::generate().unwrap();
    params.self_signed(&key).unwrap().der().to_vec()
}

fn set(s: &TestServer, email: &str, changes: Vec<Change>) {
    s.control_ok(Request::UserSet {
        email: email.into(),
        changes,
    });
}

fn field(field: Field, value: &str) -> Change {
    Change::Set {
        field,
        value: value.into(),
    }
}

#[test]
fn user_set_and_show_edit_the_entry_and_the_audit_log_keeps_no_file_bytes() {
    let s = server_with(&[BOB]);
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("bob.jpg");
    std::fs::write(&photo, jpeg(3000, 7)).unwrap();
    let der = dir.path().join("bob.der");
    std::fs::write(&der, certificate("Bob Example")).unwrap();
    let out = run_cli(
        s.data_dir(),
        &[
            "user",
            "set",
            BOB,
            "name=Bob Example",
            "first_name=Bob",
            "last-name=Example",
            "title=Buyer",
            "mobile_phone=+33 6 12 34 56 78",
            &format!("photo=@{}", photo.display()),
            &format!("cert=@{}", der.display()),
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let out = run_cli(s.data_dir(), &["user", "show", BOB, "--json"]);
    assert!(out.status.success(), "{out:?}");
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let fields: Vec<(String, String)> = serde_json::from_value(shown["fields"].clone()).unwrap();
    let value = |k: &str| fields.iter().find(|(f, _)| f == k).unwrap().1.clone();
    assert_eq!(value("name"), "Bob Example");
    assert_eq!(value("last_name"), "Example");
    assert_eq!(value("mobile_phone"), "+33 6 12 34 56 78");
    assert_eq!(value("company"), "");
    assert_eq!(shown["photo"], 3000);
    assert_eq!(shown["certificates"].as_array().unwrap().len(), 1);
    assert!(
        shown["certificates"][0]["subject"]
            .as_str()
            .unwrap()
            .contains("Bob Example")
    );
    // The audit log says what was set, with the file's size and without its bytes.
    let out = run_cli(s.data_dir(), &["audit", "--json"]);
    let audit = String::from_utf8(out.stdout).unwrap();
    assert!(audit.contains("user_set"), "{audit}");
    assert!(audit.contains("3000"), "{audit}");
    assert!(!audit.contains("content_base64"), "{audit}");

    // Refusals change nothing and say why.
    let refused = |args: &[&str], why: &str| {
        let out = run_cli(s.data_dir(), args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(why), "{args:?}: {err}");
    };
    let big = dir.path().join("big.jpg");
    std::fs::write(&big, jpeg(100 * 1024 + 1, 1)).unwrap();
    refused(
        &["user", "set", BOB, &format!("photo=@{}", big.display())],
        "at most 102400",
    );
    refused(
        &["user", "set", BOB, &format!("cert=@{}", photo.display())],
        "X.509",
    );
    refused(&["user", "set", BOB, "colour=red"], "unknown key");
    refused(
        &["user", "set", "nobody@example.com", "title=X"],
        "no account",
    );
    let out = run_cli(s.data_dir(), &["user", "show", BOB, "--json"]);
    let again: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(again, shown);

    // Clearing.
    set(
        &s,
        BOB,
        vec![
            Change::Photo { file: None },
            Change::ClearCertificates,
            field(Field::Title, ""),
        ],
    );
    let Reply::Directory { entry } = s.control(Request::UserShow { email: BOB.into() }) else {
        panic!("no directory reply");
    };
    assert_eq!(entry.photo, None);
    assert!(entry.certificates.is_empty());
    assert!(entry.fields.contains(&("title".into(), String::new())));
}

/// Alice, Bob (photo 3000 bytes), Bobby (photo 20000 bytes), Carol (no photo) at
/// example.com, Dave at other.org.
fn office(scope: GalScope) -> TestServer {
    let s = start_server(|c| c.directory.gal_scope = scope);
    for u in [ALICE, BOB, BOBBY, CAROL, DAVE] {
        s.add_user(u);
    }
    set(
        &s,
        BOB,
        vec![
            field(Field::Name, "Bob Example"),
            field(Field::FirstName, "Bob"),
            field(Field::LastName, "Example"),
            field(Field::Title, "Buyer"),
            field(Field::Phone, "+33 1 23 45 67 89"),
            Change::Photo {
                file: Some(Upload::of(&jpeg(3000, 2))),
            },
        ],
    );
    set(
        &s,
        BOBBY,
        vec![
            field(Field::Name, "Bobby Ärger"),
            Change::Photo {
                file: Some(Upload::of(&jpeg(20000, 3))),
            },
        ],
    );
    set(&s, CAROL, vec![field(Field::Name, "Carol Bobet")]);
    set(&s, DAVE, vec![field(Field::Name, "Dave Bobson")]);
    s
}

/// The Store of a GAL Search for `query` with these children of search:Options.
fn gal_search(c: &EasClient, query: &str, options: &[Element]) -> Element {
    let mut store = Element::new(sr::STORE)
        .text_child(sr::NAME, "GAL")
        .text_child(sr::QUERY, query);
    if !options.is_empty() {
        store.push(
            options
                .iter()
                .fold(Element::new(sr::OPTIONS), |o, e| o.child(e.clone())),
        );
    }
    let r = c.call("Search", &Element::new(sr::SEARCH).child(store));
    assert_eq!(r.text_of(sr::STATUS), Some("1"), "{r:?}");
    r.find_path(&[sr::RESPONSE, sr::STORE])
        .unwrap_or_else(|| panic!("no Store in {r:?}"))
        .clone()
}

fn results(store: &Element) -> Vec<&Element> {
    store
        .find_all(sr::RESULT)
        .map(|r| r.find(sr::PROPERTIES).expect("Properties"))
        .collect()
}

fn names(store: &Element) -> Vec<&str> {
    results(store)
        .iter()
        .map(|p| p.text_of(gal::DISPLAY_NAME).unwrap())
        .collect()
}

fn picture_status(props: &Element) -> &str {
    props
        .find(gal::PICTURE)
        .and_then(|p| p.text_of(gal::STATUS))
        .expect("Picture Status")
}

#[test]
fn gal_search_finds_colleagues_by_name_prefix_sorted_with_their_properties() {
    let s = office(GalScope::Domain);
    let c = s.device(ALICE, "GALDEV1");
    let store = gal_search(&c, "bob", &[]);
    assert_eq!(store.text_of(sr::STATUS), Some("1"));
    // Prefixes of words: Bobet and Bobby match; Dave Bobson is another domain's.
    assert_eq!(names(&store), ["Bob Example", "Bobby Ärger", "Carol Bobet"]);
    assert_eq!(store.text_of(sr::TOTAL), Some("3"));
    assert_eq!(store.text_of(sr::RANGE), Some("0-2"));
    let bob = results(&store)[0];
    assert_eq!(bob.text_of(gal::EMAIL_ADDRESS), Some(BOB));
    assert_eq!(bob.text_of(gal::TITLE), Some("Buyer"));
    assert_eq!(bob.text_of(gal::PHONE), Some("+33 1 23 45 67 89"));
    assert_eq!(bob.text_of(gal::FIRST_NAME), Some("Bob"));
    // Only properties that are set; no Picture unless asked for.
    assert!(bob.find(gal::COMPANY).is_none());
    assert!(bob.find(gal::PICTURE).is_none());
    // FirstName and LastName are always there (LastName falls back to the display name).
    let carol = results(&store)[2];
    assert!(carol.find(gal::FIRST_NAME).is_some(), "{carol:?}");
    assert_eq!(carol.text_of(gal::LAST_NAME), Some("Carol Bobet"));
    // Case and accents do not matter; a word in the middle of a name does not match.
    assert_eq!(names(&gal_search(&c, "ARGER", &[])), ["Bobby Ärger"]);
    assert!(names(&gal_search(&c, "ob", &[])).is_empty());
    assert_eq!(gal_search(&c, "ob", &[]).text_of(sr::TOTAL), Some("0"));
    // By address.
    assert_eq!(names(&gal_search(&c, "carol@ex", &[])), ["Carol Bobet"]);

    // A page: Range says what came, Total what matched.
    let page = gal_search(&c, "bob", &[Element::with_text(sr::RANGE, "1-1")]);
    assert_eq!(names(&page), ["Bobby Ärger"]);
    assert_eq!(page.text_of(sr::RANGE), Some("1-1"));
    assert_eq!(page.text_of(sr::TOTAL), Some("3"));
}

#[test]
fn gal_photos_follow_max_size_and_max_pictures() {
    let s = office(GalScope::Domain);
    let c = s.device(ALICE, "GALDEV2");
    // An empty Picture (as iOS sends it): every photo, up to the largest allowed.
    let store = gal_search(&c, "bob", &[Element::new(sr::PICTURE)]);
    let r = results(&store);
    assert_eq!(picture_status(r[0]), "1");
    assert_eq!(
        r[0].find_path(&[gal::PICTURE, gal::DATA])
            .and_then(Element::opaque),
        Some(&jpeg(3000, 2)[..])
    );
    assert_eq!(picture_status(r[1]), "1");
    assert_eq!(picture_status(r[2]), "173", "Carol has no photo");
    // MaxSize: Bobby's 20000 bytes are too many.
    let store = gal_search(
        &c,
        "bob",
        &[Element::new(sr::PICTURE).text_child(sr::MAX_SIZE, "10000")],
    );
    let r = results(&store);
    assert_eq!(picture_status(r[0]), "1");
    assert_eq!(picture_status(r[1]), "174");
    assert!(r[1].find_path(&[gal::PICTURE, gal::DATA]).is_none());
    // MaxPictures: one photo, then 175.
    let store = gal_search(
        &c,
        "bob",
        &[Element::new(sr::PICTURE).text_child(sr::MAX_PICTURES, "1")],
    );
    let r = results(&store);
    assert_eq!(picture_status(r[0]), "1");
    assert_eq!(picture_status(r[1]), "175");
    assert_eq!(picture_status(r[2]), "173");
}

#[test]
fn gal_search_errors_have_their_store_status() {
    let s = office(GalScope::Domain);
    let c = s.device(ALICE, "GALDEV3");
    let status = |query: &str, options: &[Element]| {
        gal_search(&c, query, options)
            .text_of(sr::STATUS)
            .unwrap()
            .to_owned()
    };
    // Past the 100 entries a GAL search returns: 12.
    assert_eq!(
        status("bob", &[Element::with_text(sr::RANGE, "100-109")]),
        "12"
    );
    // Not a range, an empty query, a MaxSize that is not a number: 2.
    assert_eq!(status("bob", &[Element::with_text(sr::RANGE, "5-1")]), "2");
    assert_eq!(status("  ", &[]), "2");
    assert_eq!(
        status(
            "bob",
            &[Element::new(sr::PICTURE).text_child(sr::MAX_SIZE, "big")]
        ),
        "2"
    );
    // A range that goes past 99 is cut there.
    let store = gal_search(&c, "bob", &[Element::with_text(sr::RANGE, "2-500")]);
    assert_eq!(store.text_of(sr::RANGE), Some("2-2"));
}

#[test]
fn the_gal_scope_is_the_own_domain_or_every_domain() {
    let s = office(GalScope::Domain);
    let dave = s.device(DAVE, "GALDEV4");
    // Dave's domain holds only him.
    assert_eq!(names(&gal_search(&dave, "bob", &[])), ["Dave Bobson"]);
    drop(dave);
    drop(s);
    let s = office(GalScope::All);
    let c = s.device(ALICE, "GALDEV5");
    assert_eq!(
        names(&gal_search(&c, "bob", &[])),
        ["Bob Example", "Bobby Ärger", "Carol Bobet", "Dave Bobson"]
    );
    // A change shows at the next search (the list is rebuilt when the directory changes).
    set(&s, CAROL, vec![field(Field::Name, "Caroline Smith")]);
    assert_eq!(names(&gal_search(&c, "caroline", &[])), ["Caroline Smith"]);
    assert!(!names(&gal_search(&c, "bob", &[])).contains(&"Carol Bobet"));
}

// ---- ResolveRecipients ---------------------------------------------------------------

use easd::wbxml::tag::contacts as con;
use easd::wbxml::tag::resolverecipients as rr;

/// Monday 2030-01-07 00:00 UTC: the Availability windows below start there.
const WINDOW_START: &str = "2030-01-07T00:00:00.000Z";

/// Bob's calendar (imported as an .ics): Monday 09:00-10:00 busy, a daily 14:00-14:30
/// tentative series from Monday whose Tuesday occurrence is deleted, and Wednesday all
/// day out of office.
fn bobs_calendar(s: &TestServer) {
    let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n\
BEGIN:VEVENT\r\nUID:one@test\r\nDTSTAMP:20291201T000000Z\r\nDTSTART:20300107T090000Z\r\n\
DTEND:20300107T100000Z\r\nSUMMARY:Review\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:daily@test\r\nDTSTAMP:20291201T000000Z\r\nDTSTART:20300107T140000Z\r\n\
DTEND:20300107T143000Z\r\nRRULE:FREQ=DAILY\r\nEXDATE:20300108T140000Z\r\nSUMMARY:Standup\r\n\
X-MICROSOFT-CDO-INTENDEDSTATUS:TENTATIVE\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:away@test\r\nDTSTAMP:20291201T000000Z\r\nDTSTART:20300109T000000Z\r\n\
DTEND:20300110T000000Z\r\nSUMMARY:Away\r\nX-MICROSOFT-CDO-INTENDEDSTATUS:OOF\r\nEND:VEVENT\r\n\
END:VCALENDAR\r\n";
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bob.ics");
    std::fs::write(&file, ics).unwrap();
    let out = run_cli(
        s.data_dir(),
        &[
            "import",
            "--user",
            BOB,
            "--folder",
            "Calendar",
            file.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{out:?}");
}

fn resolve(c: &EasClient, to: &[&str], options: Option<Element>) -> Element {
    let mut req = Element::new(rr::RESOLVE_RECIPIENTS);
    for t in to {
        req.push_text(rr::TO, *t);
    }
    if let Some(o) = options {
        req.push(o);
    }
    c.call("ResolveRecipients", &req)
}

fn responses(r: &Element) -> Vec<&Element> {
    assert_eq!(r.text_of(rr::STATUS), Some("1"), "{r:?}");
    r.find_all(rr::RESPONSE).collect()
}

fn recipients(response: &Element) -> Vec<(&str, &str)> {
    response
        .find_all(rr::RECIPIENT)
        .map(|r| {
            (
                r.text_of(rr::TYPE).unwrap(),
                r.text_of(rr::EMAIL_ADDRESS).unwrap(),
            )
        })
        .collect()
}

fn availability(start: &str, end: Option<&str>) -> Element {
    let mut a = Element::new(rr::AVAILABILITY).text_child(rr::START_TIME, start);
    if let Some(e) = end {
        a.push_text(rr::END_TIME, e);
    }
    Element::new(rr::OPTIONS).child(a)
}

#[test]
fn resolve_recipients_resolves_ambiguous_and_unknown_recipients_from_gal_and_contacts() {
    let s = office(GalScope::Domain);
    let c = s.device(ALICE, "RRDEV1");
    // Alice's own contact: an outside address, and Bob's (which the GAL has already).
    let folder = c.folder_of_type(9);
    let key = c.sync1(&SyncColl::new(&folder, "0")).ok_key();
    let contact = |first: &str, email: &str| {
        let mut d = Element::new(easd::wbxml::tag::airsync::APPLICATION_DATA);
        d.push_text(con::FIRST_NAME, first);
        d.push_text(con::EMAIL1_ADDRESS, email);
        d
    };
    let out = c.sync1(
        &SyncColl::new(&folder, &key)
            .command(
                Element::new(easd::wbxml::tag::airsync::ADD)
                    .text_child(easd::wbxml::tag::airsync::CLIENT_ID, "c1")
                    .child(contact("Zoe", "\"Zoe Outside\" <zoe@outside.net>")),
            )
            .command(
                Element::new(easd::wbxml::tag::airsync::ADD)
                    .text_child(easd::wbxml::tag::airsync::CLIENT_ID, "c2")
                    .child(contact("Bobby", BOB)),
            ),
    );
    out.ok_key();
    let r = resolve(&c, &[BOB, "zoe", "bob", "nobody-here", "Carol"], None);
    let rs = responses(&r);
    assert_eq!(rs.len(), 5);
    // An address: resolved (1) from the GAL (Type 1), with its display name.
    assert_eq!(rs[0].text_of(rr::TO), Some(BOB));
    assert_eq!(rs[0].text_of(rr::STATUS), Some("1"));
    assert_eq!(recipients(rs[0]), [("1", BOB)]);
    assert_eq!(
        rs[0]
            .find_path(&[rr::RECIPIENT, rr::DISPLAY_NAME])
            .and_then(Element::text),
        Some("Bob Example")
    );
    // A name only her contacts have: Type 2.
    assert_eq!(rs[1].text_of(rr::STATUS), Some("1"));
    assert_eq!(recipients(rs[1]), [("2", "zoe@outside.net")]);
    // Ambiguous (2): every suggestion; Bob comes once (the GAL's), not also as a contact.
    assert_eq!(rs[2].text_of(rr::STATUS), Some("2"));
    assert_eq!(rs[2].text_of(rr::RECIPIENT_COUNT), Some("3"));
    assert_eq!(recipients(rs[2]), [("1", BOB), ("1", BOBBY), ("1", CAROL)]);
    // Not found (4): no Recipient.
    assert_eq!(rs[3].text_of(rr::STATUS), Some("4"));
    assert!(recipients(rs[3]).is_empty());
    assert_eq!(rs[4].text_of(rr::STATUS), Some("1"));

    // MaxAmbiguousRecipients: a partial list (3), RecipientCount says how many there are.
    let r = resolve(
        &c,
        &["bob"],
        Some(Element::new(rr::OPTIONS).text_child(rr::MAX_AMBIGUOUS_RECIPIENTS, "1")),
    );
    let rs = responses(&r);
    assert_eq!(rs[0].text_of(rr::STATUS), Some("3"));
    assert_eq!(rs[0].text_of(rr::RECIPIENT_COUNT), Some("3"));
    assert_eq!(recipients(rs[0]), [("1", BOB)]);
    // Dave is another domain's: not found from here.
    let r = resolve(&c, &[DAVE], None);
    assert_eq!(responses(&r)[0].text_of(rr::STATUS), Some("4"));
}

#[test]
fn resolve_recipients_returns_certificates_and_photos_within_their_limits() {
    let s = office(GalScope::Domain);
    let bob_cert = certificate("Bob Example");
    set(
        &s,
        BOB,
        vec![Change::AddCertificate {
            file: Upload::of(&bob_cert),
        }],
    );
    set(
        &s,
        BOBBY,
        vec![Change::AddCertificate {
            file: Upload::of(&certificate("Bobby")),
        }],
    );
    let c = s.device(ALICE, "RRDEV2");
    let certs = |retrieval: &str, max: Option<&str>| {
        let mut o = Element::new(rr::OPTIONS).text_child(rr::CERTIFICATE_RETRIEVAL, retrieval);
        if let Some(m) = max {
            o.push_text(rr::MAX_CERTIFICATES, m);
        }
        resolve(&c, &[BOB, BOBBY, CAROL], Some(o))
    };
    let r = certs("2", None);
    let rs = responses(&r);
    let cert_of = |resp: &Element| {
        resp.find_path(&[rr::RECIPIENT, rr::CERTIFICATES])
            .unwrap()
            .clone()
    };
    let bob = cert_of(rs[0]);
    assert_eq!(bob.text_of(rr::STATUS), Some("1"));
    assert_eq!(bob.text_of(rr::CERTIFICATE_COUNT), Some("1"));
    use base64::Engine;
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(bob.text_of(rr::CERTIFICATE).unwrap())
            .unwrap(),
        bob_cert
    );
    // Carol has none: 7.
    assert_eq!(cert_of(rs[2]).text_of(rr::STATUS), Some("7"));
    // MaxCertificates 1: Bob's, then the limit (8) for Bobby's.
    let r = certs("2", Some("1"));
    let rs = responses(&r);
    assert_eq!(cert_of(rs[0]).text_of(rr::STATUS), Some("1"));
    assert_eq!(cert_of(rs[1]).text_of(rr::STATUS), Some("8"));
    assert!(cert_of(rs[1]).find(rr::CERTIFICATE).is_none());
    // CertificateRetrieval 1 (none): no Certificates element.
    let r = certs("1", None);
    assert!(
        responses(&r)[0]
            .find_path(&[rr::RECIPIENT, rr::CERTIFICATES])
            .is_none()
    );

    // Photos: MaxPictures 1 over Bob and Bobby, Carol has none.
    let r = resolve(
        &c,
        &[BOB, BOBBY, CAROL],
        Some(
            Element::new(rr::OPTIONS)
                .child(Element::new(rr::PICTURE).text_child(rr::MAX_PICTURES, "1")),
        ),
    );
    let status: Vec<&str> = responses(&r)
        .iter()
        .map(|resp| {
            resp.find_path(&[rr::RECIPIENT, rr::PICTURE])
                .and_then(|p| p.text_of(rr::STATUS))
                .unwrap()
        })
        .collect();
    assert_eq!(status, ["1", "175", "173"]);
}

#[test]
fn resolve_recipients_merges_free_busy_from_the_calendar_in_30_minute_slots() {
    let s = office(GalScope::Domain);
    bobs_calendar(&s);
    let c = s.device(ALICE, "RRDEV3");
    // Three days from Monday 00:00.
    let r = resolve(
        &c,
        &[BOB, "zoe-unknown@outside.net", "bob", CAROL],
        Some(availability(WINDOW_START, Some("2030-01-10T00:00:00.000Z"))),
    );
    let rs = responses(&r);
    let merged = |resp: &Element| {
        resp.find_path(&[rr::RECIPIENT, rr::AVAILABILITY]).map(|a| {
            (
                a.text_of(rr::STATUS).unwrap().to_owned(),
                a.text_of(rr::MERGED_FREE_BUSY).map(str::to_owned),
            )
        })
    };
    let (status, bob) = merged(rs[0]).unwrap();
    assert_eq!(status, "1");
    let bob = bob.unwrap();
    assert_eq!(bob.len(), 3 * 48);
    let slot = |day: usize, hour: usize, half: usize| &bob[day * 48 + hour * 2 + half..][..1];
    // Monday: busy 09:00-10:00, tentative 14:00-14:30, free otherwise.
    assert_eq!(slot(0, 8, 1), "0");
    assert_eq!(slot(0, 9, 0), "2");
    assert_eq!(slot(0, 9, 1), "2");
    assert_eq!(slot(0, 10, 0), "0");
    assert_eq!(slot(0, 14, 0), "1");
    assert_eq!(slot(0, 14, 1), "0");
    // Tuesday's occurrence is deleted; Wednesday is out of office all day, which wins
    // over the tentative series.
    assert_eq!(slot(1, 14, 0), "0");
    assert!(bob[96..].chars().all(|c| c == '3'), "{bob}");
    assert_eq!(bob.matches('2').count(), 2);
    // An unknown address is not found and gets no Availability; an ambiguous To none
    // either; Carol's empty calendar is all free.
    assert_eq!(rs[1].text_of(rr::STATUS), Some("4"));
    assert!(merged(rs[1]).is_none());
    assert_eq!(rs[2].text_of(rr::STATUS), Some("2"));
    assert!(merged(rs[2]).is_none());
    let (_, carol) = merged(rs[3]).unwrap();
    assert_eq!(carol.unwrap(), "0".repeat(144));
    // EndTime defaults to a week; the count of slots is rounded up.
    let r = resolve(&c, &[BOB], Some(availability(WINDOW_START, None)));
    let (_, week) = merged(responses(&r)[0]).unwrap();
    assert_eq!(week.unwrap().len(), 7 * 48);
    let r = resolve(
        &c,
        &[BOB],
        Some(availability(WINDOW_START, Some("2030-01-07T00:45:00.000Z"))),
    );
    let (_, short) = merged(responses(&r)[0]).unwrap();
    assert_eq!(short.unwrap(), "00");
}

#[test]
fn resolve_recipients_refuses_bad_requests_with_their_status() {
    let s = office(GalScope::Domain);
    let c = s.device(ALICE, "RRDEV4");
    let top = |r: Element| r.text_of(rr::STATUS).unwrap().to_owned();
    // A window under 30 minutes, over 42 days, an EndTime before the start: 5.
    for end in [
        "2030-01-07T00:29:00.000Z",
        "2030-02-19T00:00:01.000Z",
        "2030-01-06T00:00:00.000Z",
    ] {
        assert_eq!(
            top(resolve(
                &c,
                &[BOB],
                Some(availability(WINDOW_START, Some(end)))
            )),
            "5",
            "{end}"
        );
    }
    assert_eq!(
        top(resolve(
            &c,
            &[BOB],
            Some(Element::new(rr::OPTIONS).child(Element::new(rr::AVAILABILITY)))
        )),
        "5"
    );
    // No To, more than 100, one over 256 characters, a CertificateRetrieval of 4.
    assert_eq!(top(resolve(&c, &[], None)), "5");
    let many: Vec<String> = (0..101).map(|i| format!("u{i}@example.com")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    assert_eq!(top(resolve(&c, &many, None)), "5");
    assert_eq!(s.refused("recipients"), 1);
    assert_eq!(top(resolve(&c, &[&"x".repeat(257)], None)), "5");
    assert_eq!(
        top(resolve(
            &c,
            &[BOB],
            Some(Element::new(rr::OPTIONS).text_child(rr::CERTIFICATE_RETRIEVAL, "4"))
        )),
        "5"
    );

    // More recipients than free/busy is looked up for: the 21st gets 160.
    let users: Vec<String> = (0..21).map(|i| format!("fb{i:02}@example.com")).collect();
    for u in &users {
        s.add_user(u);
    }
    let to: Vec<&str> = users.iter().map(String::as_str).collect();
    let r = resolve(&c, &to, Some(availability(WINDOW_START, None)));
    let status: Vec<&str> = responses(&r)
        .iter()
        .map(|resp| {
            resp.find_path(&[rr::RECIPIENT, rr::AVAILABILITY])
                .and_then(|a| a.text_of(rr::STATUS))
                .unwrap()
        })
        .collect();
    assert!(status[..20].iter().all(|s| *s == "1"), "{status:?}");
    assert_eq!(status[20], "160");
}

// ---- Find (16.1) ---------------------------------------------------------------------

use easd::wbxml::tag::airsync as air;
use easd::wbxml::tag::email as em;
use easd::wbxml::tag::find as fd;
use easd::wbxml::tag::itemoperations as io;

pub(crate) fn find(c: &EasClient, search_id: Option<&str>, criterion: Element) -> Element {
    let mut req = Element::new(fd::FIND);
    if let Some(id) = search_id {
        req.push_text(fd::SEARCH_ID, id);
    }
    req.push(Element::new(fd::EXECUTE_SEARCH).child(criterion));
    c.call("Find", &req)
}

fn criterion(kind: easd::wbxml::Tag, text: &str, options: &[Element]) -> Element {
    let mut e = Element::new(kind).child(Element::new(fd::QUERY).text_child(fd::FREE_TEXT, text));
    if !options.is_empty() {
        e.push(
            options
                .iter()
                .fold(Element::new(fd::OPTIONS), |o, x| o.child(x.clone())),
        );
    }
    e
}

fn find_response(r: &Element) -> &Element {
    assert_eq!(r.text_of(fd::STATUS), Some("1"), "{r:?}");
    let resp = r.find(fd::RESPONSE).expect("Response");
    assert_eq!(resp.text_of(fd::STATUS), Some("1"), "{r:?}");
    resp
}

#[test]
fn find_searches_the_gal_and_the_mailbox() {
    let s = office(GalScope::Domain);
    s.deliver_text(
        ALICE,
        "Quarterly budget",
        "The budget plan for Bob, attached soon.",
    );
    s.deliver_text(ALICE, "Lunch", "Nothing about money here.");
    let c = s.device(ALICE, "FINDDEV1");

    // The GAL: a colleague by name prefix, with the same properties as a GAL search.
    let r = find(
        &c,
        Some("s1"),
        criterion(
            fd::GAL_SEARCH_CRITERION,
            "bob",
            &[
                Element::with_text(fd::RANGE, "0-1"),
                Element::new(fd::PICTURE).text_child(fd::MAX_PICTURES, "1"),
            ],
        ),
    );
    let resp = find_response(&r);
    assert_eq!(resp.text_of(io::STORE), Some("GAL"));
    let props: Vec<&Element> = resp
        .find_all(fd::RESULT)
        .map(|x| x.find(fd::PROPERTIES).unwrap())
        .collect();
    assert_eq!(props.len(), 2);
    assert_eq!(props[0].text_of(gal::EMAIL_ADDRESS), Some(BOB));
    assert_eq!(props[0].text_of(gal::TITLE), Some("Buyer"));
    assert_eq!(picture_status(props[0]), "1");
    assert_eq!(picture_status(props[1]), "175");
    assert_eq!(resp.text_of(fd::RANGE), Some("0-1"));
    assert_eq!(resp.text_of(fd::TOTAL), Some("3"));
    // A GAL query sent as the Query's own text (as pyactivesync does) works too.
    let r = find(
        &c,
        None,
        Element::new(fd::GAL_SEARCH_CRITERION).child(Element::with_text(fd::QUERY, "carol")),
    );
    assert_eq!(find_response(&r).text_of(fd::TOTAL), Some("1"));

    // The mailbox: the message with the word, with its summary properties.
    let inbox = c.folder_of_type(2);
    let r = find(
        &c,
        Some("s2"),
        criterion(fd::MAIL_BOX_SEARCH_CRITERION, "budg", &[]),
    );
    let resp = find_response(&r);
    assert_eq!(resp.text_of(io::STORE), Some("Mailbox"));
    let results: Vec<&Element> = resp.find_all(fd::RESULT).collect();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].text_of(air::CLASS), Some("Email"));
    assert_eq!(results[0].text_of(air::COLLECTION_ID), Some(inbox.as_str()));
    assert!(
        results[0]
            .text_of(air::SERVER_ID)
            .unwrap()
            .starts_with(&format!("{inbox}:"))
    );
    let p = results[0].find(fd::PROPERTIES).unwrap();
    assert_eq!(p.text_of(em::SUBJECT), Some("Quarterly budget"));
    assert_eq!(p.text_of(em::READ), Some("0"));
    assert_eq!(p.text_of(fd::HAS_ATTACHMENTS), Some("0"));
    assert!(p.text_of(fd::PREVIEW).unwrap().contains("budget plan"));
    assert_eq!(resp.text_of(fd::TOTAL), Some("1"));
    // A KQL property restriction searches its value; a folder by CollectionId.
    let mut scoped = criterion(fd::MAIL_BOX_SEARCH_CRITERION, "subject:lunch", &[]);
    scoped
        .find_mut(fd::QUERY)
        .unwrap()
        .push_text(air::COLLECTION_ID, inbox.clone());
    let r = find(&c, None, scoped);
    assert_eq!(find_response(&r).text_of(fd::TOTAL), Some("1"));
}

#[test]
fn find_errors_have_their_status() {
    let s = office(GalScope::Domain);
    let c = s.device(ALICE, "FINDDEV2");
    let status = |r: Element| r.text_of(fd::STATUS).unwrap().to_owned();
    let gal_with = |range: &str| {
        criterion(
            fd::GAL_SEARCH_CRITERION,
            "bob",
            &[Element::with_text(fd::RANGE, range)],
        )
    };
    // A new search (no SearchId) must start at 0: 4; paging a known one may not.
    assert_eq!(status(find(&c, None, gal_with("1-2"))), "4");
    let r = find(&c, Some("page"), gal_with("1-2"));
    assert_eq!(find_response(&r).text_of(fd::RANGE), Some("1-2"));
    // Past 999, reversed, no criterion, both criteria, no FreeText, another class: 2.
    assert_eq!(status(find(&c, None, gal_with("0-1000"))), "2");
    assert_eq!(status(find(&c, None, gal_with("3-1"))), "2");
    assert_eq!(
        status(c.call(
            "Find",
            &Element::new(fd::FIND).child(Element::new(fd::EXECUTE_SEARCH))
        )),
        "2"
    );
    assert_eq!(
        status(
            c.call(
                "Find",
                &Element::new(fd::FIND).child(
                    Element::new(fd::EXECUTE_SEARCH)
                        .child(criterion(fd::GAL_SEARCH_CRITERION, "bob", &[]))
                        .child(criterion(fd::MAIL_BOX_SEARCH_CRITERION, "bob", &[]))
                )
            )
        ),
        "2"
    );
    assert_eq!(
        status(find(
            &c,
            None,
            criterion(fd::MAIL_BOX_SEARCH_CRITERION, " ", &[])
        )),
        "2"
    );
    let mut contacts = criterion(fd::MAIL_BOX_SEARCH_CRITERION, "bob", &[]);
    contacts
        .find_mut(fd::QUERY)
        .unwrap()
        .push_text(air::CLASS, "Contacts");
    assert_eq!(status(find(&c, None, contacts)), "2");
    // A folder the device does not know: 3.
    let mut unknown = criterion(fd::MAIL_BOX_SEARCH_CRITERION, "bob", &[]);
    unknown
        .find_mut(fd::QUERY)
        .unwrap()
        .push_text(air::COLLECTION_ID, "999");
    assert_eq!(status(find(&c, None, unknown)), "3");
}

/// Adds a contact to the device's folder through Sync; the new key and its ServerId.
fn add_contact(
    c: &EasClient,
    folder: &str,
    key: &str,
    fields: &[(easd::wbxml::Tag, &str)],
) -> (String, String) {
    let data = fields
        .iter()
        .fold(Element::new(air::APPLICATION_DATA), |d, (tag, value)| {
            d.text_child(*tag, *value)
        });
    let out = c.sync1(
        &SyncColl::new(folder, key).command(
            Element::new(air::ADD)
                .text_child(air::CLIENT_ID, "new")
                .child(data),
        ),
    );
    let id = out
        .responses
        .as_ref()
        .and_then(|r| r.find(air::ADD))
        .and_then(|a| a.text_of(air::SERVER_ID))
        .unwrap_or_else(|| panic!("no ServerId for the Add in {:?}", out.raw))
        .to_owned();
    (out.ok_key(), id)
}

fn share_ok(s: &TestServer, req: easd::admin::share::ShareRequest) {
    let Reply::Done { .. } = s.control(Request::Share(req)) else {
        panic!("refused");
    };
}

/// The GAL over the directory, two flagged contacts folders (Alice's, shared with Bob;
/// Carol's, public) and a group with gal-members spanning two domains, as Search,
/// ResolveRecipients and Find answer it, each searcher seeing what it may read.
#[test]
fn the_gal_searches_flagged_folders_and_groups_with_the_directory_by_reader() {
    use easd::admin::share::{Right, ShareRequest};
    let s = office(GalScope::Domain);
    let alice = s.device(ALICE, "GALSRC1");
    let contacts = alice.folder_of_type(9);
    let key = alice.sync1(&SyncColl::new(&contacts, "0")).ok_key();
    let (key, max) = add_contact(
        &alice,
        &contacts,
        &key,
        &[
            (con::FIRST_NAME, "Max"),
            (con::LAST_NAME, "Muller"),
            (con::JOB_TITLE, "Supplier"),
            (con::EMAIL1_ADDRESS, "\"Max Muller\" <max@supply.example>"),
        ],
    );
    // A card with Bob's address: Bob's own entry is the one the GAL gives.
    let (key, _) = add_contact(
        &alice,
        &contacts,
        &key,
        &[(con::FIRST_NAME, "Robert"), (con::EMAIL1_ADDRESS, BOB)],
    );
    let carol = s.device(CAROL, "GALSRC2");
    let carols = carol.folder_of_type(9);
    let ckey = carol.sync1(&SyncColl::new(&carols, "0")).ok_key();
    add_contact(
        &carol,
        &carols,
        &ckey,
        &[
            (con::FILE_AS, "Joe Plumber"),
            (con::EMAIL1_ADDRESS, "joe@plumb.example"),
        ],
    );

    // Flagged from the command line, audited; a mail folder is refused.
    for (owner, folder) in [(ALICE, "Contacts"), (CAROL, "Contacts")] {
        let out = run_cli(s.data_dir(), &["folder", "gal-source", owner, folder, "on"]);
        assert!(out.status.success(), "{out:?}");
    }
    let out = run_cli(
        s.data_dir(),
        &["folder", "gal-source", ALICE, "Inbox", "on"],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a contacts folder"));
    let out = run_cli(s.data_dir(), &["folder", "gal-sources"]);
    let listed = String::from_utf8(out.stdout).unwrap();
    assert!(listed.contains(ALICE) && listed.contains(CAROL), "{listed}");
    let out = run_cli(s.data_dir(), &["audit", "--json"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("folder_gal_source"));
    share_ok(
        &s,
        ShareRequest::FolderShare {
            owner: ALICE.into(),
            folder: "Contacts".into(),
            to: BOB.into(),
            rights: vec![Right::Read],
        },
    );
    share_ok(
        &s,
        ShareRequest::PublicAdd {
            owner: CAROL.into(),
            folder: "Contacts".into(),
            rights: vec![Right::Read],
        },
    );
    share_ok(
        &s,
        ShareRequest::GroupAdd {
            name: "partners".into(),
        },
    );
    for email in [BOB, DAVE] {
        share_ok(
            &s,
            ShareRequest::GroupMemberAdd {
                group: "partners".into(),
                email: email.into(),
            },
        );
    }
    let out = run_cli(
        s.data_dir(),
        &["group", "set", "partners", "gal-members=on"],
    );
    assert!(out.status.success(), "{out:?}");
    let out = run_cli(s.data_dir(), &["group", "set", "partners", "colour=red"]);
    assert!(!out.status.success());

    // Bob reads Alice's folder: her contact, the public one, and Dave through the group.
    let bob = s.device(BOB, "GALSRC3");
    let muller = gal_search(&bob, "muller", &[]);
    assert_eq!(names(&muller), ["Max Muller"]);
    assert_eq!(results(&muller)[0].text_of(gal::TITLE), Some("Supplier"));
    assert_eq!(
        results(&muller)[0].text_of(gal::EMAIL_ADDRESS),
        Some("max@supply.example")
    );
    assert_eq!(names(&gal_search(&bob, "plumber", &[])), ["Joe Plumber"]);
    assert_eq!(names(&gal_search(&bob, "dave", &[])), ["Dave Bobson"]);
    // One entry for Bob's address: his own (title Buyer), not Alice's card "Robert".
    let bobs = gal_search(&bob, BOB, &[]);
    assert_eq!(names(&bobs), ["Bob Example"]);
    assert_eq!(results(&bobs)[0].text_of(gal::TITLE), Some("Buyer"));
    assert!(names(&gal_search(&alice, "robert", &[])).is_empty());

    // ResolveRecipients resolves the flagged folder's contact as a GAL recipient (Type 1).
    let r = resolve(&bob, &["max@supply.example", "muller"], None);
    let rs = responses(&r);
    assert_eq!(rs[0].text_of(rr::STATUS), Some("1"), "{r:?}");
    assert_eq!(recipients(rs[0]), [("1", "max@supply.example")]);
    assert_eq!(recipients(rs[1]), [("1", "max@supply.example")]);
    // Find's GAL part too.
    let r = find(
        &bob,
        None,
        criterion(fd::GAL_SEARCH_CRITERION, "muller", &[]),
    );
    let resp = find_response(&r);
    assert_eq!(resp.text_of(fd::TOTAL), Some("1"));

    // Carol reads neither Alice's folder nor is it public; Dave, of another domain, sees
    // neither folder, but Bob through the group.
    assert!(names(&gal_search(&carol, "muller", &[])).is_empty());
    assert!(recipients(responses(&resolve(&carol, &["max@supply.example"], None))[0]).is_empty());
    assert_eq!(names(&gal_search(&carol, "plumber", &[])), ["Joe Plumber"]);
    let dave = s.device(DAVE, "GALSRC4");
    assert!(names(&gal_search(&dave, "muller", &[])).is_empty());
    assert!(names(&gal_search(&dave, "plumber", &[])).is_empty());
    assert_eq!(
        names(&gal_search(&dave, "bob example", &[])),
        ["Bob Example"]
    );
    assert!(names(&gal_search(&dave, "carol", &[])).is_empty());

    // Alice's edit of the contact shows in Bob's next search.
    let changed = Element::new(air::APPLICATION_DATA)
        .text_child(con::FIRST_NAME, "Maxime")
        .text_child(con::LAST_NAME, "Muller")
        .text_child(con::EMAIL1_ADDRESS, "max@supply.example");
    alice
        .sync1(
            &SyncColl::new(&contacts, &key).command(
                Element::new(air::CHANGE)
                    .text_child(air::SERVER_ID, max.clone())
                    .child(changed),
            ),
        )
        .ok_key();
    assert_eq!(names(&gal_search(&bob, "muller", &[])), ["Maxime Muller"]);

    // Unflagged: the contacts leave the GAL; the other source stays.
    let out = run_cli(
        s.data_dir(),
        &["folder", "gal-source", ALICE, "Contacts", "off"],
    );
    assert!(out.status.success(), "{out:?}");
    assert!(names(&gal_search(&bob, "muller", &[])).is_empty());
    assert!(recipients(responses(&resolve(&bob, &["max@supply.example"], None))[0]).is_empty());
    assert_eq!(names(&gal_search(&bob, "plumber", &[])), ["Joe Plumber"]);
}
