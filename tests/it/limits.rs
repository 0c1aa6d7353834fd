//! Requests sized to cost the server far more than they cost the client, over real HTTPS:
//! each is refused early with its status, logged, and counted in `easd status`.

use std::time::{Duration, Instant};

use crate::support::*;
use easd::wbxml::tag::{airsync as air, composemail as cm, itemoperations as io, ping as p};
use easd::wbxml::{self, Element};

const ALICE: &str = "alice@example.com";
/// The Inbox folder type ([MS-ASCMD] 2.2.3.186.3).
const INBOX: u8 = 2;

fn ping_named(ids: impl Iterator<Item = String>) -> Element {
    let folders = ids.fold(Element::new(p::FOLDERS), |list, id| {
        list.child(
            Element::new(p::FOLDER)
                .text_child(p::ID, id)
                .text_child(p::CLASS, "Email"),
        )
    });
    Element::new(p::PING)
        .text_child(p::HEARTBEAT_INTERVAL, "300")
        .child(folders)
}

/// The Ping of 66,000 folders (1.4 MB) took 6.5 s of the only thread; it is
/// refused with Status 6 as soon as the folder over `max_folders` is read.
#[test]
fn a_ping_naming_66000_folders_is_status_6_at_once() {
    let s = server_with(&[ALICE]);
    let a = s.device(ALICE, "pinger");
    let body = ping_named((0..66_000).map(|i| i.to_string()));
    assert!(wbxml::encode(&body).len() > 1_000_000);
    let start = Instant::now();
    let r = a.post("Ping", Some(&body));
    let took = start.elapsed();
    r.expect_status(200);
    let answer = r.wbxml();
    assert_eq!(text(&answer, p::STATUS), "6", "{answer:?}");
    assert_eq!(text(&answer, p::MAX_FOLDERS), "300");
    // Decoding 1.4 MB of WBXML in a debug build is most of this.
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert_eq!(s.refused("ping_folders"), 1);
    // One folder named 66,000 times is one folder: answered at once (Status 2, the device
    // never synced it), not refused.
    let inbox = std::iter::repeat_n(a.folder_of_type(INBOX), 66_000);
    let r = a.post("Ping", Some(&ping_named(inbox)));
    r.expect_status(200);
    assert_eq!(text(&r.wbxml(), p::STATUS), "2");
    assert_eq!(s.refused("ping_folders"), 1);
}

/// WBXML 1.3 with a string table of `entry` bytes referenced `references` times, each in
/// its own SyncKey of a Sync.
fn string_table_bomb(entry: usize, references: usize) -> Vec<u8> {
    let mut out = vec![0x03, 0x01, 0x6A];
    let len = entry + 1;
    let mut groups = vec![(len & 0x7F) as u8];
    let mut rest = len >> 7;
    while rest > 0 {
        groups.push((rest & 0x7F) as u8 | 0x80);
        rest >>= 7;
    }
    out.extend(groups.iter().rev());
    out.extend(std::iter::repeat_n(b'a', entry));
    out.extend([0x00, 0x45]);
    for _ in 0..references {
        out.extend([0x4B, 0x83, 0x00, 0x01]);
    }
    out.push(0x01);
    out
}

/// 1 MiB referenced 256 times would decode to 256 MiB of text: refused with 400 once the
/// total passes `wbxml_max_decoded` (twice `max_body`), and counted.
#[test]
fn a_string_table_bomb_is_400_and_counted() {
    let s = server_with(&[ALICE]);
    let a = s.device(ALICE, "bomber");
    let bomb = string_table_bomb(1 << 20, 256);
    let r = a.post_raw(&a.query("Sync", None), &[], bomb);
    r.expect_status(400);
    assert_eq!(s.refused("wbxml_decoded"), 1);
    // Nesting past the bound is a shape refusal, counted apart.
    let mut deep = vec![0x03, 0x01, 0x6A, 0x00];
    deep.extend([0x45; 100]);
    let r = a.post_raw(&a.query("Sync", None), &[], deep);
    r.expect_status(400);
    assert_eq!(s.refused("wbxml_shape"), 1);
    // Malformed WBXML is no resource refusal.
    let r = a.post_raw(
        &a.query("Sync", None),
        &[],
        vec![0x03, 0x01, 0x6A, 0x00, 0x45],
    );
    r.expect_status(400);
    assert_eq!(s.refused("wbxml_decoded") + s.refused("wbxml_shape"), 2);
    // The device still syncs.
    a.sync_init(&a.folder_of_type(INBOX));
}

#[test]
fn a_body_over_max_body_is_413_and_counted() {
    let s = start_server(|c| c.limits.max_body = 64 * 1024);
    s.add_user(ALICE);
    let a = s.device(ALICE, "bigbody");
    let r = a.post_raw(&a.query("Sync", None), &[], vec![0; 100 * 1024]);
    r.expect_status(413);
    assert_eq!(s.refused("body_size"), 1);
}

fn sync_of(collections: Vec<Element>) -> Element {
    Element::new(air::SYNC).child(
        collections
            .into_iter()
            .fold(Element::new(air::COLLECTIONS), Element::child),
    )
}

#[test]
fn too_many_collections_or_commands_are_refused_and_counted() {
    let s = start_server(|c| {
        c.limits.max_collections = 5;
        c.limits.max_commands = 10;
    });
    s.add_user(ALICE);
    let a = s.device(ALICE, "syncer");
    let inbox = a.folder_of_type(INBOX);
    let key = a.sync_init(&inbox);

    // Sync: Status 15 with the Limit ([MS-ASCMD] 2.2.3.97).
    let six = (1..=6)
        .map(|i| SyncColl::new(&i.to_string(), "1").element())
        .collect();
    let r = a.call("Sync", &sync_of(six));
    assert_eq!(text(&r, air::STATUS), "15", "{r:?}");
    assert_eq!(text(&r, air::LIMIT), "5");
    assert_eq!(s.refused("sync_collections"), 1);

    // One collection with more commands than max_commands: Status 4.
    let mut coll = SyncColl::new(&inbox, &key);
    coll.commands = (0..11)
        .map(|i| Element::new(air::FETCH).text_child(air::SERVER_ID, format!("{inbox}:{i}")))
        .collect();
    let r = a.call("Sync", &sync_of(vec![coll.element()]));
    assert_eq!(text(&r, air::STATUS), "4", "{r:?}");
    assert_eq!(s.refused("commands"), 1);

    // ItemOperations: Status 2 (protocol error).
    let fetches = (0..11).fold(Element::new(io::ITEM_OPERATIONS), |e, i| {
        e.child(
            Element::new(io::FETCH)
                .text_child(io::STORE, "Mailbox")
                .text_child(air::COLLECTION_ID, inbox.as_str())
                .text_child(air::SERVER_ID, format!("{inbox}:{i}")),
        )
    });
    let r = a.call("ItemOperations", &fetches);
    assert_eq!(text(&r, io::STATUS), "2", "{r:?}");
    assert_eq!(s.refused("commands"), 2);

    // Within the bounds, all is as before.
    let r = a.call(
        "Sync",
        &sync_of(vec![SyncColl::new(&inbox, &key).element()]),
    );
    let c = r
        .find_path(&[air::COLLECTIONS, air::COLLECTION])
        .unwrap_or_else(|| panic!("no Collection in {r:?}"));
    assert_eq!(text(c, air::STATUS), "1");
    assert_eq!(s.refused("sync_collections") + s.refused("commands"), 3);
}

#[test]
fn too_many_recipients_is_status_115_and_counted() {
    let s = start_server(|c| c.limits.max_recipients = 3);
    s.add_user(ALICE);
    let a = s.device(ALICE, "sender");
    let to: Vec<String> = (0..4).map(|i| format!("r{i}@remote.test")).collect();
    let mime = format!(
        "From: <{ALICE}>\r\nTo: {}\r\nSubject: many\r\n\r\nHello\r\n",
        to.join(", ")
    );
    let body = Element::new(cm::SEND_MAIL)
        .text_child(cm::CLIENT_ID, unique_token())
        .opaque_child(cm::MIME, mime.into_bytes());
    let r = a.call("SendMail", &body);
    assert_eq!(r.tag, cm::SEND_MAIL);
    assert_eq!(text(&r, cm::STATUS), "115", "{r:?}");
    assert_eq!(s.refused("recipients"), 1);
}
