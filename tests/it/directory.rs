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
