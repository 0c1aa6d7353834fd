//! Mail over real sockets: LMTP delivery into an in-process easd, then Sync,
//! GetItemEstimate, ItemOperations and MoveItems over HTTPS, driven like a phone would.
//!
//! Every test starts its own server with a temporary data directory.

use std::collections::{BTreeMap, BTreeSet};

use crate::support::*;
use base64::Engine as _;
use easd::proto::datetime::parse_datetime;
use easd::wbxml::tag::{
    airsync as air, airsyncbase as asb, email as em, itemoperations as io, r#move as mv,
};
use easd::wbxml::{self, Element};

const ALICE: &str = "alice@example.com";
const BOB: &str = "bob@example.com";
const CAROL: &str = "carol@example.com";

const INBOX: u8 = 2;
const DELETED_ITEMS: u8 = 4;

// ---- helpers ----------------------------------------------------------------------------

/// Subject of an ApplicationData.
fn subject(data: &Element) -> &str {
    assert!(data.find(em::SUBJECT).is_some(), "no Subject in {data:?}");
    data.text_of(em::SUBJECT).unwrap_or("")
}

/// Subjects of Adds, sorted.
fn subjects(adds: &[(String, Element)]) -> Vec<String> {
    let mut v: Vec<String> = adds.iter().map(|(_, d)| subject(d).to_owned()).collect();
    v.sort();
    v
}

/// The ServerId of the Add whose Subject is `s`.
#[track_caller]
fn id_of(adds: &[(String, Element)], s: &str) -> String {
    adds.iter()
        .find(|(_, d)| subject(d) == s)
        .unwrap_or_else(|| panic!("no Add with Subject {s:?} in {adds:?}"))
        .0
        .clone()
}

/// Syncs a folder from key 0 to the end (WindowSize 512): the key and every Add.
#[track_caller]
fn full_sync(c: &EasClient, folder: &str) -> (String, Vec<(String, Element)>) {
    let k = c.sync_init(folder);
    c.sync_all(SyncColl::new(folder, &k).window(512))
}

/// One Sync of `folder` from `key` (WindowSize 512) that must succeed.
#[track_caller]
fn sync_from(c: &EasClient, folder: &str, key: &str) -> SyncOut {
    let out = c.sync1(&SyncColl::new(folder, key).window(512));
    out.ok_key();
    out
}

fn body_of(data: &Element) -> &Element {
    data.find(asb::BODY)
        .unwrap_or_else(|| panic!("no airsyncbase:Body in {data:?}"))
}

fn io_fetch_item(folder: &str, server_id: &str, body_type: Option<u8>) -> Element {
    let mut f = Element::new(io::FETCH)
        .text_child(io::STORE, "Mailbox")
        .text_child(air::COLLECTION_ID, folder)
        .text_child(air::SERVER_ID, server_id);
    if let Some(t) = body_type {
        f.push(
            Element::new(io::OPTIONS)
                .child(Element::new(asb::BODY_PREFERENCE).text_child(asb::TYPE, t.to_string())),
        );
    }
    Element::new(io::ITEM_OPERATIONS).child(f)
}

fn io_fetch_attachment(file_ref: &str, range: Option<&str>) -> Element {
    let mut f = Element::new(io::FETCH)
        .text_child(io::STORE, "Mailbox")
        .text_child(asb::FILE_REFERENCE, file_ref);
    if let Some(r) = range {
        f.push(Element::new(io::OPTIONS).text_child(io::RANGE, r));
    }
    Element::new(io::ITEM_OPERATIONS).child(f)
}

/// The single Response/Fetch (or other operation) of an ItemOperations answer whose
/// global Status must be 1.
#[track_caller]
fn io_single(r: &Element) -> &Element {
    assert_eq!(r.text_of(io::STATUS), Some("1"), "{r:?}");
    let resp = r
        .find(io::RESPONSE)
        .unwrap_or_else(|| panic!("no Response in {r:?}"));
    let mut ops = resp.elements();
    let op = ops.next().unwrap_or_else(|| panic!("empty Response {r:?}"));
    assert!(
        ops.next().is_none(),
        "more than one operation answered: {r:?}"
    );
    op
}

// ---- LMTP -------------------------------------------------------------------------------

#[test]
fn lmtp_dialogue_recipients_plus_addressing_and_dot_stuffing() {
    let s = server_with(&[ALICE, BOB, CAROL]);
    s.set_enabled(CAROL, false);

    let mut c = LmtpClient::connect(s.lmtp_addr());
    assert!(c.greeting.lines[0].contains("LMTP"), "{:?}", c.greeting);
    let lhlo = c.lhlo();
    for ext in ["PIPELINING", "ENHANCEDSTATUSCODES", "8BITMIME"] {
        assert!(
            lhlo.lines.iter().any(|l| l == ext),
            "{ext} missing: {lhlo:?}"
        );
    }
    let size = format!("SIZE {}", s.config().limits.max_message);
    assert!(lhlo.lines.contains(&size), "{size} missing: {lhlo:?}");

    // RCPT before MAIL is out of sequence.
    assert_eq!(
        c.command("RCPT TO:<alice@example.com>").short(),
        "503 5.5.1"
    );

    let message = b"From: Sender <sender@remote.test>\r\nTo: alice@example.com\r\n\
        Subject: dotted\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
        first line\r\n.hidden line\r\n..two dots\r\n.\r\nlast line\r\n";
    let (rcpt, data) = c.send(
        "sender@remote.test",
        &[
            ALICE,
            "nobody@example.com",
            "alice+lists@example.com",
            BOB,
            CAROL,
            "not-an-address",
        ],
        message,
    );
    let rcpt: Vec<String> = rcpt.iter().map(LmtpReply::short).collect();
    assert_eq!(
        rcpt[..5],
        [
            "250 2.1.5",
            "550 5.1.1",
            "250 2.1.5",
            "250 2.1.5",
            "550 5.1.1"
        ]
    );
    assert!(
        rcpt[5].starts_with('5'),
        "a malformed address is refused: {rcpt:?}"
    );
    // One reply per accepted recipient (RFC 2033 4.2), in RCPT order.
    let data: Vec<String> = data.iter().map(LmtpReply::short).collect();
    assert_eq!(data, ["250 2.0.0", "250 2.0.0", "250 2.0.0"]);

    // Plus-addressing alone reaches alice too.
    let (rcpt, data) = c.send(
        "sender@remote.test",
        &["alice+lists@example.com"],
        &text_message(
            "sender@remote.test",
            "alice+lists@example.com",
            "tagged",
            "hi",
        ),
    );
    assert_eq!(rcpt[0].code, 250);
    assert_eq!(data.len(), 1);
    assert_eq!(data[0].short(), "250 2.0.0");
    // Only refused recipients: DATA is refused (503) and nothing is stored.
    let (rcpt, data) = c.send(
        "sender@remote.test",
        &["ghost@example.com"],
        b"Subject: x\r\n\r\ny\r\n",
    );
    assert_eq!(rcpt[0].short(), "550 5.1.1");
    assert!(data.is_empty());
    assert_eq!(c.command("DATA").code, 503);
    c.quit();

    // Alice got the first message once (alice and alice+lists are one account) and the
    // tagged one; the dot-stuffing was undone.
    let a = s.device(ALICE, "alicedev");
    let inbox = a.folder_of_type(INBOX);
    let (_, adds) = full_sync(&a, &inbox);
    assert_eq!(subjects(&adds), ["dotted", "tagged"]);
    let a1 = a.sync1(
        &SyncColl::new(&inbox, &a.sync_init(&inbox))
            .window(512)
            .body(1, None),
    );
    let dotted = &a1
        .adds
        .iter()
        .find(|(_, d)| subject(d) == "dotted")
        .expect("dotted")
        .1;
    let body = text(body_of(dotted), asb::DATA).replace("\r\n", "\n");
    assert!(
        body.contains("first line\n.hidden line\n..two dots\n.\nlast line"),
        "dot-unstuffed body expected, got {body:?}"
    );

    let b = s.device(BOB, "bobdev");
    let (_, adds) = full_sync(&b, &b.folder_of_type(INBOX));
    assert_eq!(subjects(&adds), ["dotted"]);

    // A disabled account is refused; enabled again it receives mail.
    let mut c = s.lmtp();
    c.command("MAIL FROM:<sender@remote.test>");
    assert_eq!(
        c.command("RCPT TO:<carol@example.com>").short(),
        "550 5.1.1"
    );
    c.command("RSET");
    s.set_enabled(CAROL, true);
    let (rcpt, data) = c.send(
        "sender@remote.test",
        &[CAROL],
        &text_message("sender@remote.test", CAROL, "welcome back", "hi"),
    );
    assert_eq!(rcpt[0].code, 250);
    assert_eq!(data[0].code, 250);
    c.quit();
    let cd = s.device(CAROL, "caroldev");
    let (_, adds) = full_sync(&cd, &cd.folder_of_type(INBOX));
    assert_eq!(subjects(&adds), ["welcome back"]);
}

#[test]
fn lmtp_size_limit_gets_552() {
    let s = start_server(|cfg| cfg.limits.max_message = 2048);
    s.add_user(ALICE);
    s.add_user(BOB);
    let mut c = s.lmtp();
    // Declared too big (RFC 1870).
    assert_eq!(
        c.command("MAIL FROM:<sender@remote.test> SIZE=4096")
            .short(),
        "552 5.3.4"
    );
    assert_eq!(
        c.command("MAIL FROM:<sender@remote.test> SIZE=1000").code,
        250
    );
    c.command("RSET");
    // Too big in fact: one 552 per accepted recipient, the session goes on.
    let big = text_message("sender@remote.test", ALICE, "big", &"x".repeat(4000));
    let (rcpt, data) = c.send("sender@remote.test", &[ALICE, BOB], &big);
    assert!(rcpt.iter().all(|r| r.code == 250), "{rcpt:?}");
    let data: Vec<String> = data.iter().map(LmtpReply::short).collect();
    assert_eq!(data, ["552 5.3.4", "552 5.3.4"]);
    let small = text_message("sender@remote.test", ALICE, "small", "fits");
    let (_, data) = c.send("sender@remote.test", &[ALICE], &small);
    assert_eq!(data[0].short(), "250 2.0.0");
    c.quit();

    let a = s.device(ALICE, "alicedev");
    let (_, adds) = full_sync(&a, &a.folder_of_type(INBOX));
    assert_eq!(subjects(&adds), ["small"]);
    let b = s.device(BOB, "bobdev");
    let (_, adds) = full_sync(&b, &b.folder_of_type(INBOX));
    assert!(adds.is_empty(), "{adds:?}");
}

/// What Postfix hands over for `sendmail` with an accented Subject or a UTF-8 address
/// (RFC 6531): SMTPUTF8 is offered, and the raw UTF-8 headers reach the phone as text.
#[test]
fn lmtp_smtputf8_message_arrives_with_its_utf8_headers() {
    let s = server_with(&[ALICE]);
    let mut c = s.lmtp();
    assert!(c.lhlo().lines.iter().any(|l| l == "SMTPUTF8"));
    assert_eq!(
        c.command("MAIL FROM:<jörg@bücher.example> SMTPUTF8 BODY=8BITMIME")
            .short(),
        "250 2.1.0"
    );
    assert_eq!(
        c.command("RCPT TO:<alice@example.com>").short(),
        "250 2.1.5"
    );
    let message = "From: Jörg Sänger <jörg@bücher.example>\r\nTo: alice@example.com\r\n\
        Subject: Grüße aus Köln\r\nMIME-Version: 1.0\r\n\
        Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
        Schöne Grüße\r\n";
    let data = c.try_data(message.as_bytes(), 1).expect("DATA");
    assert_eq!(data[0].short(), "250 2.0.0");
    // Without SMTPUTF8 a UTF-8 address is refused (RFC 6531 3.5).
    assert_eq!(
        c.command("MAIL FROM:<jörg@bücher.example>").short(),
        "553 5.6.7"
    );
    c.quit();

    let a = s.device(ALICE, "alicedev");
    let (_, adds) = full_sync(&a, &a.folder_of_type(INBOX));
    assert_eq!(subjects(&adds), ["Grüße aus Köln"]);
    assert_eq!(
        text(&adds[0].1, em::FROM),
        "\"Jörg Sänger\" <jörg@bücher.example>"
    );
}

// ---- Sync -------------------------------------------------------------------------------

#[test]
fn inbox_sync_in_windows_with_application_data() {
    let s = server_with(&[ALICE]);
    let before = easd::store::now();
    for i in 1..=5 {
        s.deliver_text(ALICE, &format!("message {i}"), &format!("body number {i}"));
    }
    let a = s.device(ALICE, "alicedev");
    let inbox = a.folder_of_type(INBOX);

    let k0 = a.sync1(&SyncColl::new(&inbox, "0"));
    let k1 = k0.ok_key();
    assert!(!k0.has_commands() && !k0.more, "{:?}", k0.raw);
    assert_ne!(k1, "0");

    let mut keys = vec![k1.clone()];
    let mut seen = Vec::new();
    for (want, more) in [(2, true), (2, true), (1, false)] {
        let out = a.sync1(
            &SyncColl::new(&inbox, keys.last().unwrap())
                .window(2)
                .body(1, None),
        );
        let k = out.ok_key();
        assert_eq!(out.adds.len(), want, "{:?}", out.raw);
        assert_eq!(out.more, more, "MoreAvailable: {:?}", out.raw);
        assert!(out.changes.is_empty() && out.deletes.is_empty());
        assert!(
            !keys.contains(&k),
            "a new key each round: {k} after {keys:?}"
        );
        keys.push(k);
        seen.extend(out.adds);
    }
    assert_eq!(
        subjects(&seen),
        (1..=5).map(|i| format!("message {i}")).collect::<Vec<_>>()
    );
    let ids: BTreeSet<&String> = seen.iter().map(|(id, _)| id).collect();
    assert_eq!(ids.len(), 5, "distinct ServerIds");
    for (id, data) in &seen {
        assert!(
            id.starts_with(&format!("{inbox}:")),
            "ServerId {id} in {inbox}"
        );
        assert_eq!(text(data, em::FROM), "\"Sender\" <sender@remote.test>");
        assert_eq!(text(data, em::READ), "0");
        let received = parse_datetime(text(data, em::DATE_RECEIVED))
            .unwrap_or_else(|| panic!("DateReceived: {data:?}"));
        assert!(
            (before - 5..=easd::store::now() + 5).contains(&received),
            "DateReceived {received} is delivery time"
        );
        let body = body_of(data);
        assert_eq!(text(body, asb::TYPE), "1");
        let n = subject(data).trim_start_matches("message ");
        assert!(
            text(body, asb::DATA).contains(&format!("body number {n}")),
            "{body:?}"
        );
    }

    // Nothing new: the same key, no Commands.
    let last = keys.last().unwrap().clone();
    let quiet = a.sync1(&SyncColl::new(&inbox, &last).window(2));
    assert_eq!(quiet.ok_key(), last);
    assert!(!quiet.has_commands() && !quiet.more, "{:?}", quiet.raw);

    // A new message arrives as one Add.
    s.deliver_text(ALICE, "message 6", "late");
    let out = a.sync1(&SyncColl::new(&inbox, &last).window(2));
    assert_ne!(out.ok_key(), last);
    assert_eq!(subjects(&out.adds), ["message 6"]);
}

#[test]
fn body_preferences_truncate_and_convert() {
    let s = server_with(&[ALICE]);
    let body = "The quick brown fox jumps over the lazy dog, twice: the quick brown fox.";
    s.deliver_text(ALICE, "fox", body);
    let sync_with = |dev: &str, kind: u8, trunc: Option<u32>| -> Element {
        let c = s.device(ALICE, dev);
        let inbox = c.folder_of_type(INBOX);
        let k = c.sync_init(&inbox);
        let out = c.sync1(&SyncColl::new(&inbox, &k).window(10).body(kind, trunc));
        out.ok_key();
        assert_eq!(out.adds.len(), 1, "{:?}", out.raw);
        body_of(&out.adds[0].1).clone()
    };

    let full = sync_with("fulldev", 1, None);
    let full_data = text(&full, asb::DATA).to_owned();
    assert!(full_data.contains(body), "{full:?}");
    assert_eq!(full.text_of(asb::TRUNCATED).unwrap_or("0"), "0");
    assert_eq!(
        text(&full, asb::ESTIMATED_DATA_SIZE),
        full_data.len().to_string()
    );

    let cut = sync_with("cutdev", 1, Some(10));
    assert_eq!(text(&cut, asb::TYPE), "1");
    assert_eq!(text(&cut, asb::TRUNCATED), "1", "{cut:?}");
    assert_eq!(text(&cut, asb::DATA), &full_data[..10]);
    assert_eq!(
        text(&cut, asb::ESTIMATED_DATA_SIZE),
        full_data.len().to_string(),
        "EstimatedDataSize is the full size"
    );

    let html = sync_with("htmldev", 2, None);
    assert_eq!(text(&html, asb::TYPE), "2", "{html:?}");
    let h = text(&html, asb::DATA);
    assert!(
        h.contains('<') && h.contains("quick brown fox"),
        "HTML body: {h:?}"
    );
}

#[test]
fn a_resent_sync_key_gets_the_same_items_and_no_duplicates_follow() {
    let s = server_with(&[ALICE]);
    for i in 1..=3 {
        s.deliver_text(ALICE, &format!("resend {i}"), "x");
    }
    let a = s.device(ALICE, "alicedev");
    let inbox = a.folder_of_type(INBOX);
    let k1 = a.sync_init(&inbox);
    let first = sync_from(&a, &inbox, &k1);
    let k2 = first.ok_key();
    assert_eq!(first.adds.len(), 3);

    // The answer was lost: the same request again.
    let again = sync_from(&a, &inbox, &k1);
    let k3 = again.ok_key();
    assert_ne!(k3, k2, "a resend gets a new key");
    assert_ne!(k3, k1);
    let ids = |o: &SyncOut| o.add_ids().into_iter().collect::<BTreeSet<_>>();
    assert_eq!(ids(&again), ids(&first), "the same items again");

    // Going on from the resend's key: nothing is added twice.
    let next = sync_from(&a, &inbox, &k3);
    assert!(next.adds.is_empty(), "re-added: {:?}", next.raw);
    assert_eq!(next.ok_key(), k3);
    s.deliver_text(ALICE, "resend 4", "x");
    let next = sync_from(&a, &inbox, &k3);
    assert_eq!(subjects(&next.adds), ["resend 4"]);

    // Keys the server never issued (or not for this device) are refused.
    for bad in ["4242424242", "abc", "-1", "18446744073709551616"] {
        let out = a.sync1(&SyncColl::new(&inbox, bad));
        assert_eq!(out.status, "3", "key {bad}: {:?}", out.raw);
    }
    let other = s.device(ALICE, "otherdev");
    let out = other.sync1(&SyncColl::new(&inbox, &next.ok_key()));
    assert_eq!(out.status, "3", "another device's key: {:?}", out.raw);
}

#[test]
fn a_read_flag_reaches_the_other_device_and_is_not_echoed() {
    let s = server_with(&[ALICE]);
    s.deliver_text(ALICE, "one", "x");
    s.deliver_text(ALICE, "two", "y");
    let a = s.device(ALICE, "deva");
    let b = s.device(ALICE, "devb");
    let inbox = a.folder_of_type(INBOX);
    let (ka, adds) = full_sync(&a, &inbox);
    let (kb, _) = full_sync(&b, &inbox);
    let one = id_of(&adds, "one");

    let out = a.sync1(&SyncColl::new(&inbox, &ka).mark_read(&one, true));
    let ka = out.ok_key();
    assert!(
        out.responses.is_none(),
        "a successful Change has no response: {:?}",
        out.raw
    );
    assert!(
        !out.has_commands(),
        "own change echoed at once: {:?}",
        out.raw
    );

    let ob = sync_from(&b, &inbox, &kb);
    assert_eq!(ob.changes.len(), 1, "{:?}", ob.raw);
    assert_eq!(ob.changes[0].0, one);
    assert_eq!(text(&ob.changes[0].1, em::READ), "1");
    assert!(ob.adds.is_empty() && ob.deletes.is_empty());

    let oa = sync_from(&a, &inbox, &ka);
    assert!(!oa.has_commands(), "A's own change echoed: {:?}", oa.raw);
    assert_eq!(oa.ok_key(), ka);

    // And back: B marks it unread, A hears of it.
    let ob = b.sync1(&SyncColl::new(&inbox, &ob.ok_key()).mark_read(&one, false));
    ob.ok_key();
    let oa = sync_from(&a, &inbox, &ka);
    assert_eq!(oa.changes.len(), 1, "{:?}", oa.raw);
    assert_eq!(text(&oa.changes[0].1, em::READ), "0");

    // A Change of an unknown item is answered with Status 8.
    let out =
        a.sync1(&SyncColl::new(&inbox, &oa.ok_key()).mark_read(&format!("{inbox}:999999"), true));
    out.ok_key();
    let r = out.responses.expect("Responses");
    let change = r.find(air::CHANGE).expect("Responses/Change");
    assert_eq!(change.text_of(air::STATUS), Some("8"), "{r:?}");
}

/// One Sync of `coll` (which has no Options of its own) with Options/Conflict set
/// ([MS-ASCMD] 2.2.3.34); its answer.
fn sync_with_conflict(c: &EasClient, coll: &SyncColl, conflict: &str) -> SyncOut {
    let e = coll
        .element()
        .child(Element::new(air::OPTIONS).text_child(air::CONFLICT, conflict));
    let r = c.call(
        "Sync",
        &Element::new(air::SYNC).child(Element::new(air::COLLECTIONS).child(e)),
    );
    SyncOut::parse(
        r.find_path(&[air::COLLECTIONS, air::COLLECTION])
            .unwrap_or_else(|| panic!("no Collection in {r:?}")),
    )
}

/// The Status of each Responses/Change, by ServerId.
fn change_statuses(out: &SyncOut) -> Vec<(String, String)> {
    out.responses
        .iter()
        .flat_map(|r| r.find_all(air::CHANGE))
        .map(|c| {
            (
                text(c, air::SERVER_ID).to_owned(),
                text(c, air::STATUS).to_owned(),
            )
        })
        .collect()
}

/// Two devices that hold the same item, and a change B made to it that A was not told of.
struct Conflicting {
    a: EasClient,
    b: EasClient,
    inbox: String,
    /// A's key, from before B's change.
    ka: String,
    kb: String,
    /// The item: B marked it read.
    item: String,
}

fn conflicting(s: &TestServer) -> Conflicting {
    s.deliver_text(ALICE, "both", "x");
    s.deliver_text(ALICE, "other", "y");
    let a = s.device(ALICE, "deva");
    let b = s.device(ALICE, "devb");
    let inbox = a.folder_of_type(INBOX);
    let (ka, adds) = full_sync(&a, &inbox);
    let (kb, _) = full_sync(&b, &inbox);
    let item = id_of(&adds, "both");
    let kb = b
        .sync1(&SyncColl::new(&inbox, &kb).mark_read(&item, true))
        .ok_key();
    Conflicting {
        a,
        b,
        inbox,
        ka,
        kb,
        item,
    }
}

#[test]
fn sync_conflict_server_wins_with_status_7_and_the_server_object() {
    // Conflict 1, and no Conflict at all: the server object wins by default.
    for conflict in [Some("1"), None] {
        let s = server_with(&[ALICE]);
        let Conflicting {
            a,
            b,
            inbox,
            ka,
            kb,
            item,
        } = conflicting(&s);
        let coll = SyncColl::new(&inbox, &ka).mark_read(&item, false);
        let out = match conflict {
            Some(c) => sync_with_conflict(&a, &coll, c),
            None => a.sync1(&coll),
        };
        let ka = out.ok_key();
        assert_eq!(
            change_statuses(&out),
            [(item.clone(), "7".to_owned())],
            "{conflict:?}: {:?}",
            out.raw
        );
        // The server's object replaces the client's, in the same answer.
        assert_eq!(out.changes.len(), 1, "{:?}", out.raw);
        assert_eq!(out.changes[0].0, item);
        assert_eq!(text(&out.changes[0].1, em::READ), "1");
        // The discarded change reached nobody: B hears nothing, a new device sees it read.
        let ob = sync_from(&b, &inbox, &kb);
        assert!(!ob.has_commands(), "{:?}", ob.raw);
        let (_, adds) = full_sync(&s.device(ALICE, "devc"), &inbox);
        let (_, data) = adds.iter().find(|(id, _)| *id == item).expect("the item");
        assert_eq!(text(data, em::READ), "1");
        // A now holds the server's object: its next change is no conflict.
        let out = a.sync1(&SyncColl::new(&inbox, &ka).mark_read(&item, false));
        out.ok_key();
        assert!(out.responses.is_none(), "{:?}", out.raw);
        assert!(!out.has_commands(), "{:?}", out.raw);
    }
}

#[test]
fn sync_conflict_client_wins_with_conflict_0() {
    let s = server_with(&[ALICE]);
    let Conflicting {
        a,
        b,
        inbox,
        ka,
        kb,
        item,
    } = conflicting(&s);
    let out = sync_with_conflict(&a, &SyncColl::new(&inbox, &ka).mark_read(&item, false), "0");
    out.ok_key();
    assert!(change_statuses(&out).is_empty(), "{:?}", out.raw);
    // The object as the server now holds it — the client's change — goes back to A.
    assert_eq!(out.changes.len(), 1, "{:?}", out.raw);
    assert_eq!(text(&out.changes[0].1, em::READ), "0");
    // B is told the client's object replaced its own change.
    let ob = sync_from(&b, &inbox, &kb);
    assert_eq!(ob.changes.len(), 1, "{:?}", ob.raw);
    assert_eq!(ob.changes[0].0, item);
    assert_eq!(text(&ob.changes[0].1, em::READ), "0");
}

#[test]
fn malformed_changes_and_adds_get_status_6() {
    let s = server_with(&[ALICE]);
    s.deliver_text(ALICE, "target", "x");
    let a = s.device(ALICE, "deva");
    let inbox = a.folder_of_type(INBOX);
    let (k, adds) = full_sync(&a, &inbox);
    let target = id_of(&adds, "target");
    let bad_read = Element::new(air::CHANGE)
        .text_child(air::SERVER_ID, target.as_str())
        .child(Element::new(air::APPLICATION_DATA).text_child(em::READ, "yes"));
    let add = Element::new(air::ADD)
        .text_child(air::CLIENT_ID, "c1")
        .child(Element::new(air::APPLICATION_DATA).text_child(em::SUBJECT, "new"));
    let out = a.sync1(&SyncColl::new(&inbox, &k).command(bad_read).command(add));
    out.ok_key();
    assert_eq!(
        change_statuses(&out),
        [(target.clone(), "6".to_owned())],
        "{:?}",
        out.raw
    );
    let r = out.responses.clone().expect("Responses");
    let added = r.find(air::ADD).expect("Responses/Add");
    assert_eq!(
        (added.text_of(air::CLIENT_ID), added.text_of(air::STATUS)),
        (Some("c1"), Some("6"))
    );
    // The item is unchanged.
    let (_, adds) = full_sync(&s.device(ALICE, "devb"), &inbox);
    assert_eq!(text(&adds[0].1, em::READ), "0");
}

#[test]
fn deletes_move_to_deleted_items_or_are_hard() {
    let s = server_with(&[ALICE]);
    for n in ["m1", "m2", "m3"] {
        s.deliver_text(ALICE, n, "x");
    }
    let a = s.device(ALICE, "deva");
    let b = s.device(ALICE, "devb");
    let inbox = a.folder_of_type(INBOX);
    let trash = a.folder_of_type(DELETED_ITEMS);
    let (ka, adds) = full_sync(&a, &inbox);
    let (kb, _) = full_sync(&b, &inbox);
    let (kt, t) = full_sync(&a, &trash);
    assert!(t.is_empty());
    let (m1, m2) = (id_of(&adds, "m1"), id_of(&adds, "m2"));

    // Default DeletesAsMoves: to Deleted Items.
    let out = a.sync1(&SyncColl::new(&inbox, &ka).delete(&m1));
    let ka = out.ok_key();
    assert!(out.responses.is_none(), "{:?}", out.raw);
    let ob = sync_from(&b, &inbox, &kb);
    assert_eq!(ob.deletes, std::slice::from_ref(&m1), "{:?}", ob.raw);
    let kb = ob.ok_key();
    let ot = sync_from(&a, &trash, &kt);
    assert_eq!(subjects(&ot.adds), ["m1"]);
    assert!(ot.adds[0].0.starts_with(&format!("{trash}:")));
    let kt = ot.ok_key();

    // DeletesAsMoves=0: gone for good.
    let out = a.sync1(
        &SyncColl::new(&inbox, &ka)
            .deletes_as_moves(false)
            .delete(&m2),
    );
    let ka = out.ok_key();
    assert!(out.responses.is_none(), "{:?}", out.raw);
    let ob = sync_from(&b, &inbox, &kb);
    assert_eq!(ob.deletes, std::slice::from_ref(&m2), "{:?}", ob.raw);
    let ot = sync_from(&a, &trash, &kt);
    assert!(
        !ot.has_commands(),
        "hard delete reached Deleted Items: {:?}",
        ot.raw
    );

    // Deleting what is not there: Status 8; A is not told of its own deletes.
    let out = a.sync1(
        &SyncColl::new(&inbox, &ka)
            .delete(&format!("{inbox}:987654"))
            .delete("garbage"),
    );
    out.ok_key();
    let r = out.responses.clone().expect("Responses");
    let st: Vec<_> = r
        .find_all(air::DELETE)
        .map(|d| text(d, air::STATUS).to_owned())
        .collect();
    assert_eq!(st, ["8", "8"], "{r:?}");
    assert!(out.deletes.is_empty(), "own deletes echoed: {:?}", out.raw);
    let (_, left) = full_sync(&s.device(ALICE, "devc"), &inbox);
    assert_eq!(subjects(&left), ["m3"]);
}

#[test]
fn fetch_inside_sync() {
    let s = server_with(&[ALICE]);
    s.deliver_text(ALICE, "fetch me", "the fetched body");
    let a = s.device(ALICE, "deva");
    let inbox = a.folder_of_type(INBOX);
    let (k, adds) = full_sync(&a, &inbox);
    let id = id_of(&adds, "fetch me");
    let out = a.sync1(
        &SyncColl::new(&inbox, &k)
            .body(1, None)
            .fetch(&id)
            .fetch(&format!("{inbox}:424242")),
    );
    out.ok_key();
    let r = out.responses.clone().expect("Responses");
    let fetches: Vec<&Element> = r.find_all(air::FETCH).collect();
    assert_eq!(fetches.len(), 2, "{r:?}");
    assert_eq!(fetches[0].text_of(air::SERVER_ID), Some(id.as_str()));
    assert_eq!(fetches[0].text_of(air::STATUS), Some("1"));
    let data = fetches[0]
        .find(air::APPLICATION_DATA)
        .expect("ApplicationData");
    assert_eq!(subject(data), "fetch me");
    assert!(text(body_of(data), asb::DATA).contains("the fetched body"));
    assert_eq!(fetches[1].text_of(air::STATUS), Some("8"), "{r:?}");
    assert!(fetches[1].find(air::APPLICATION_DATA).is_none());
}

/// Moves `meta.received` of alice's Inbox item with `subject` back by `seconds`, in a
/// stopped server's store, without a change to sync (as if time had passed).
fn backdate(s: &mut TestServer, subject: &str, seconds: i64) {
    use easd::store::items::{self, ItemReads};
    use easd::store::model::FolderType;
    use easd::store::ops::Reads;
    s.shutdown();
    let store = easd::store::Store::open(s.data_dir()).expect("store");
    let subject = subject.to_owned();
    let changed = store
        .write_blocking(move |w| {
            let account = w.account_by_email(ALICE)?.expect("alice").id;
            let inbox = (w.folders(account)?.into_iter())
                .find(|f| f.kind == FolderType::Inbox)
                .expect("Inbox");
            let mut n = 0;
            for item in w.folder_items(account, inbox.id)? {
                if item.meta.subject == subject {
                    items::backdate_for_tests(w, account, inbox.id, item.id, seconds)?;
                    n += 1;
                }
            }
            Ok(n)
        })
        .expect("backdating write");
    assert_eq!(changed, 1);
    drop(store);
    s.restart();
}

#[test]
fn filter_type_windows_after_backdating() {
    const DAY: i64 = 86_400;
    let mut s = server_with(&[ALICE]);
    for n in ["old", "new1", "new2"] {
        s.deliver_text(ALICE, n, "x");
    }
    let a = s.device(ALICE, "deva");
    let inbox = a.folder_of_type(INBOX);
    // FilterType 1 (one day) sees all fresh items.
    let k = a.sync_init(&inbox);
    let (ka, adds) = a.sync_all(SyncColl::new(&inbox, &k).window(512).filter(1));
    assert_eq!(subjects(&adds), ["new1", "new2", "old"]);
    let old = id_of(&adds, "old");

    // An hour past three days, so the item is outside a three-day window whatever second
    // the sync runs in.
    backdate(&mut s, "old", 3 * DAY + 3600);

    // Same filter: the log is not rescanned, so nothing happens yet.
    let out = a.sync1(&SyncColl::new(&inbox, &ka).window(512).filter(1));
    let ka = out.ok_key();
    // A filter change (to 3 days, then back to 1 day): the old item leaves the window.
    let out = a.sync1(&SyncColl::new(&inbox, &ka).window(512).filter(2));
    let ka = out.ok_key();
    assert_eq!(
        out.soft_deletes,
        std::slice::from_ref(&old),
        "{:?}",
        out.raw
    );
    assert!(out.adds.is_empty() && out.deletes.is_empty() && out.changes.is_empty());
    let out = a.sync1(&SyncColl::new(&inbox, &ka).window(512).filter(2));
    assert!(!out.has_commands(), "{:?}", out.raw);
    // Everything (FilterType 0): the old item comes back as an Add.
    let out = a.sync1(&SyncColl::new(&inbox, &out.ok_key()).window(512).filter(0));
    assert_eq!(subjects(&out.adds), ["old"], "{:?}", out.raw);
    assert!(out.soft_deletes.is_empty() && out.changes.is_empty());

    // A new device with FilterType 1 never sees the old item; the estimate agrees.
    let b = s.device(ALICE, "devb");
    let kb = b.sync1(&SyncColl::new(&inbox, "0").filter(1)).ok_key();
    assert_eq!(
        estimate(&b, &inbox, Some(&kb), Some(1)),
        ("1".into(), Some(2))
    );
    let (kb, adds) = b.sync_all(SyncColl::new(&inbox, &kb).window(512).filter(1));
    assert_eq!(subjects(&adds), ["new1", "new2"]);
    assert_eq!(
        estimate(&b, &inbox, Some(&kb), Some(0)),
        ("1".into(), Some(1))
    );
}

#[test]
fn concurrent_double_sync_key_zero_gets_one_key() {
    let s = server_with(&[ALICE]);
    s.deliver_text(ALICE, "ios", "x");
    s.deliver_text(ALICE, "ios2", "x");
    let a = s.device(ALICE, "iphone");
    let inbox = a.folder_of_type(INBOX);
    for round in 0..3 {
        // A fresh device state each round: a new device id.
        let mut d = a.clone().with_device(&format!("iphone{round}"));
        d.provision();
        let barrier = std::sync::Barrier::new(2);
        let keys: Vec<String> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..2)
                .map(|_| {
                    let (d, inbox, barrier) = (&d, &inbox, &barrier);
                    scope.spawn(move || {
                        barrier.wait();
                        d.sync1(&SyncColl::new(inbox, "0")).ok_key()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("sync thread"))
                .collect()
        });
        assert_eq!(keys[0], keys[1], "round {round}");
        let out = sync_from(&d, &inbox, &keys[0]);
        assert_eq!(subjects(&out.adds), ["ios", "ios2"]);
    }
}

#[test]
fn get_item_estimate_matches_what_sync_delivers() {
    let s = server_with(&[ALICE]);
    for i in 0..4 {
        s.deliver_text(ALICE, &format!("est {i}"), "x");
    }
    let a = s.device(ALICE, "deva");
    let b = s.device(ALICE, "devb");
    let inbox = a.folder_of_type(INBOX);
    // Not primed yet: Status 3 (no state); then an invalid key: 4; unknown folder: 2.
    assert_eq!(estimate(&a, &inbox, Some("0"), None).0, "3");
    let ka = a.sync_init(&inbox);
    assert_eq!(estimate(&a, &inbox, Some("999"), None).0, "4");
    assert_eq!(estimate(&a, "987654", Some(&ka), None).0, "2");

    let (st, n) = estimate(&a, &inbox, Some(&ka), None);
    assert_eq!(st, "1");
    let out = sync_from(&a, &inbox, &ka);
    assert_eq!(n, Some(out.adds.len()));
    assert_eq!(out.adds.len(), 4);
    let ka = out.ok_key();
    assert_eq!(estimate(&a, &inbox, Some(&ka), None), ("1".into(), Some(0)));

    let (kb, adds) = full_sync(&b, &inbox);
    let target = id_of(&adds, "est 2");
    b.sync1(&SyncColl::new(&inbox, &kb).mark_read(&target, true))
        .ok_key();
    assert_eq!(estimate(&a, &inbox, Some(&ka), None), ("1".into(), Some(1)));
    let out = sync_from(&a, &inbox, &ka);
    assert_eq!(out.changes.len(), 1);
    assert_eq!(
        estimate(&a, &inbox, Some(&out.ok_key()), None),
        ("1".into(), Some(0))
    );
    // The estimate for B after its own change: nothing (its change is not echoed).
    let kb2 = b.sync1(&SyncColl::new(&inbox, &kb).get_changes(false));
    assert_eq!(kb2.status, "1");
}

#[test]
fn move_items_seen_by_the_mover_too_and_a_resend_answers_the_same() {
    let s = server_with(&[ALICE]);
    s.deliver_text(ALICE, "keep", "x");
    s.deliver_text(ALICE, "move me", "x");
    let a = s.device(ALICE, "deva");
    let b = s.device(ALICE, "devb");
    let inbox = a.folder_of_type(INBOX);
    let (fkey, _) = a.folder_sync_ok("0");
    let created = a.folder_create(&fkey, "0", "Archive", "12");
    assert_eq!(
        created.text_of(easd::wbxml::tag::folderhierarchy::STATUS),
        Some("1")
    );
    let archive = text(&created, easd::wbxml::tag::folderhierarchy::SERVER_ID).to_owned();

    let (ka, adds) = full_sync(&a, &inbox);
    let (kaa, _) = full_sync(&a, &archive);
    let (kb, _) = full_sync(&b, &inbox);
    let (kba, _) = full_sync(&b, &archive);
    let moving = id_of(&adds, "move me");
    let keep = id_of(&adds, "keep");

    let (st, dst) = a.move_item(&moving, &inbox, &archive);
    assert_eq!(st, "3");
    let dst = dst.expect("DstMsgId");
    assert!(dst.starts_with(&format!("{archive}:")), "{dst}");
    assert_ne!(dst, moving);
    // The answer was lost and the device sends the same MoveItems again: the same answer,
    // and the message is moved once.
    assert_eq!(
        a.move_item(&moving, &inbox, &archive),
        ("3".to_owned(), Some(dst.clone())),
        "a resent MoveItems"
    );

    // [MS-ASCMD] 2.2.1.12: the mover, like every client, gets a Delete in the source and
    // an Add in the destination at its next Sync of each.
    let oi = sync_from(&a, &inbox, &ka);
    assert_eq!(oi.deletes, std::slice::from_ref(&moving), "{:?}", oi.raw);
    assert!(oi.adds.is_empty(), "{:?}", oi.raw);
    let oa = sync_from(&a, &archive, &kaa);
    assert_eq!(oa.add_ids(), std::slice::from_ref(&dst), "{:?}", oa.raw);
    assert_eq!(subject(&oa.adds[0].1), "move me");
    // And nothing more after that.
    assert!(!sync_from(&a, &inbox, &oi.ok_key()).has_commands());
    assert!(!sync_from(&a, &archive, &oa.ok_key()).has_commands());
    // The other device sees the same Delete and one Add.
    let ob = sync_from(&b, &inbox, &kb);
    assert_eq!(ob.deletes, std::slice::from_ref(&moving));
    let oba = sync_from(&b, &archive, &kba);
    assert_eq!(oba.add_ids(), std::slice::from_ref(&dst));
    assert_eq!(subject(&oba.adds[0].1), "move me");

    // Statuses. Moved on since, the old ServerId names nothing: 1.
    let deleted_items = a.folder_of_type(DELETED_ITEMS);
    assert_eq!(a.move_item(&dst, &archive, &deleted_items).0, "3");
    assert_eq!(
        a.move_item(&moving, &inbox, &archive).0,
        "1",
        "moved on since"
    );
    assert_eq!(
        a.move_item(&moving, &inbox, &deleted_items).0,
        "1",
        "a move elsewhere of an item already moved"
    );
    assert_eq!(a.move_item("nonsense", &inbox, &archive).0, "1");
    assert_eq!(
        a.move_item(&keep, "987654", &archive).0,
        "1",
        "bad source folder"
    );
    assert_eq!(
        a.move_item(&keep, &inbox, "987654").0,
        "2",
        "bad destination"
    );
    assert_eq!(a.move_item(&keep, &inbox, &inbox).0, "4", "same folder");
    // One item to two folders: 5.
    let r = a.call(
        "MoveItems",
        &Element::new(mv::MOVE_ITEMS).child(
            Element::new(mv::MOVE)
                .text_child(mv::SRC_MSG_ID, keep.as_str())
                .text_child(mv::SRC_FLD_ID, inbox.as_str())
                .text_child(mv::DST_FLD_ID, archive.as_str())
                .text_child(mv::DST_FLD_ID, a.folder_of_type(DELETED_ITEMS)),
        ),
    );
    let resp = r.find(mv::RESPONSE).expect("Response");
    assert_eq!(resp.text_of(mv::STATUS), Some("5"), "{r:?}");
    assert!(resp.find(mv::DST_MSG_ID).is_none(), "{r:?}");
    // The refused moves changed nothing.
    let (_, left) = full_sync(&s.device(ALICE, "devc"), &inbox);
    assert_eq!(subjects(&left), ["keep"]);
}

/// A search result is fetched by its LongId alone ([MS-ASCMD] 2.2.3.98.1): the answer's
/// CollectionId is the folder the LongId names. A LongId easd cannot have issued names
/// nothing (6, the id echoed); a Fetch naming no item at all is a protocol error (2).
#[test]
fn item_operations_fetch_by_long_id() {
    use easd::wbxml::tag::search as sr;
    let s = server_with(&[ALICE]);
    s.deliver_text(ALICE, "quarterly figures", "the numbers");
    let a = s.device(ALICE, "deva");
    let inbox = a.folder_of_type(INBOX);
    let store = a.search_store("quarterly", &[]);
    let result = store.find(sr::RESULT).expect("a search result");
    let long_id = text(result, sr::LONG_ID).to_owned();
    let fetch = |named: Option<&str>| {
        let mut f = Element::new(io::FETCH).text_child(io::STORE, "Mailbox");
        if let Some(id) = named {
            f.push_text(sr::LONG_ID, id);
        }
        a.call(
            "ItemOperations",
            &Element::new(io::ITEM_OPERATIONS).child(f),
        )
    };

    let r = fetch(Some(&long_id));
    let f = io_single(&r);
    assert_eq!(f.text_of(io::STATUS), Some("1"), "{r:?}");
    assert_eq!(f.text_of(air::COLLECTION_ID), Some(inbox.as_str()));
    assert_eq!(f.text_of(air::SERVER_ID), Some(long_id.as_str()));
    assert_eq!(
        subject(f.find(io::PROPERTIES).expect("Properties")),
        "quarterly figures"
    );

    let r = fetch(Some("not-an-id"));
    let f = io_single(&r);
    assert_eq!(f.text_of(io::STATUS), Some("6"), "{r:?}");
    assert_eq!(f.text_of(air::SERVER_ID), Some("not-an-id"));
    assert_eq!(f.text_of(air::COLLECTION_ID), None);

    let r = fetch(None);
    assert_eq!(io_single(&r).text_of(io::STATUS), Some("2"), "{r:?}");
}

#[test]
fn item_operations_fetch_item_attachment_multipart_and_range() {
    let s = server_with(&[ALICE]);
    let bytes = pattern(3000);
    s.deliver(
        &[ALICE],
        &message_with_attachment(ALICE, "with file", "data.bin", &bytes),
    );
    let a = s.device(ALICE, "deva");
    let inbox = a.folder_of_type(INBOX);
    let (_, adds) = full_sync(&a, &inbox);
    let (id, data) = &adds[0];
    let atts: Vec<&Element> = data
        .find(asb::ATTACHMENTS)
        .expect("Attachments")
        .find_all(asb::ATTACHMENT)
        .collect();
    assert_eq!(atts.len(), 1, "{data:?}");
    assert_eq!(text(atts[0], asb::DISPLAY_NAME), "data.bin");
    assert_eq!(text(atts[0], asb::ESTIMATED_DATA_SIZE), "3000");
    let file_ref = text(atts[0], asb::FILE_REFERENCE).to_owned();

    // By CollectionId + ServerId.
    let r = a.call("ItemOperations", &io_fetch_item(&inbox, id, Some(1)));
    let f = io_single(&r);
    assert_eq!(f.text_of(io::STATUS), Some("1"), "{r:?}");
    assert_eq!(f.text_of(air::SERVER_ID), Some(id.as_str()));
    let props = f.find(io::PROPERTIES).expect("Properties");
    assert_eq!(subject(props), "with file");
    assert!(text(body_of(props), asb::DATA).contains("See the attachment."));
    // Unknown item: 6.
    let r = a.call(
        "ItemOperations",
        &io_fetch_item(&inbox, &format!("{inbox}:999"), None),
    );
    assert_eq!(io_single(&r).text_of(io::STATUS), Some("6"), "{r:?}");

    // By FileReference, inline base64.
    let r = a.call("ItemOperations", &io_fetch_attachment(&file_ref, None));
    let f = io_single(&r);
    assert_eq!(f.text_of(io::STATUS), Some("1"), "{r:?}");
    assert_eq!(f.text_of(asb::FILE_REFERENCE), Some(file_ref.as_str()));
    let props = f.find(io::PROPERTIES).expect("Properties");
    assert_eq!(text(props, asb::CONTENT_TYPE), "application/octet-stream");
    let got = base64::engine::general_purpose::STANDARD
        .decode(text(props, io::DATA))
        .expect("base64 Data");
    assert_eq!(got, bytes);

    // A range.
    let r = a.call(
        "ItemOperations",
        &io_fetch_attachment(&file_ref, Some("10-19")),
    );
    let props = io_single(&r).find(io::PROPERTIES).expect("Properties");
    assert_eq!(text(props, io::RANGE), "10-19");
    assert_eq!(text(props, io::TOTAL), "3000");
    let got = base64::engine::general_purpose::STANDARD
        .decode(text(props, io::DATA))
        .expect("base64 Data");
    assert_eq!(got, bytes[10..20]);
    // A range past the end is refused (8).
    let r = a.call(
        "ItemOperations",
        &io_fetch_attachment(&file_ref, Some("5000-6000")),
    );
    assert_eq!(io_single(&r).text_of(io::STATUS), Some("8"), "{r:?}");

    // Multipart.
    let resp = a.post_raw(
        &a.query("ItemOperations", None),
        &[("MS-ASAcceptMultiPart", "T".to_owned())],
        wbxml::encode(&io_fetch_attachment(&file_ref, None)),
    );
    resp.expect_status(200);
    assert_eq!(
        resp.header("content-type"),
        Some(easd::eas::front::MULTIPART_CONTENT_TYPE)
    );
    let parts = parse_multipart(&resp.body);
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[1], &bytes[..]);
    let root = wbxml::decode(parts[0], &wbxml::Limits::default()).expect("part 0 is WBXML");
    let props = io_single(&root).find(io::PROPERTIES).expect("Properties");
    assert_eq!(text(props, io::PART), "1");
    assert!(
        props.find(io::DATA).is_none(),
        "Data inline in multipart: {props:?}"
    );

    // Unknown FileReferences: 15.
    for bad in [
        "garbage".to_owned(),
        format!("{inbox}:99999:1"),
        format!("{id}:999"),
    ] {
        let r = a.call("ItemOperations", &io_fetch_attachment(&bad, None));
        assert_eq!(
            io_single(&r).text_of(io::STATUS),
            Some("15"),
            "{bad}: {r:?}"
        );
    }
}

#[test]
fn empty_folder_contents_empties_deleted_items() {
    let s = server_with(&[ALICE]);
    for n in ["d1", "d2", "stay"] {
        s.deliver_text(ALICE, n, "x");
    }
    let a = s.device(ALICE, "deva");
    let inbox = a.folder_of_type(INBOX);
    let trash = a.folder_of_type(DELETED_ITEMS);
    let (k, adds) = full_sync(&a, &inbox);
    let out = a.sync1(
        &SyncColl::new(&inbox, &k)
            .delete(&id_of(&adds, "d1"))
            .delete(&id_of(&adds, "d2")),
    );
    out.ok_key();
    let (kt, in_trash) = full_sync(&a, &trash);
    assert_eq!(subjects(&in_trash), ["d1", "d2"]);

    let r = a.call(
        "ItemOperations",
        &Element::new(io::ITEM_OPERATIONS)
            .child(Element::new(io::EMPTY_FOLDER_CONTENTS).text_child(air::COLLECTION_ID, &*trash)),
    );
    let op = io_single(&r);
    assert_eq!(op.tag, io::EMPTY_FOLDER_CONTENTS);
    assert_eq!(op.text_of(io::STATUS), Some("1"), "{r:?}");

    let out = sync_from(&a, &trash, &kt);
    let gone: BTreeSet<String> = out.deletes.iter().cloned().collect();
    let had: BTreeSet<String> = in_trash.iter().map(|(i, _)| i.clone()).collect();
    assert_eq!(gone, had, "{:?}", out.raw);
    let (_, left) = full_sync(&s.device(ALICE, "devb"), &trash);
    assert!(left.is_empty());
    let (_, inbox_left) = full_sync(&s.device(ALICE, "devc"), &inbox);
    assert_eq!(subjects(&inbox_left), ["stay"]);

    let r = a.call(
        "ItemOperations",
        &Element::new(io::ITEM_OPERATIONS).child(
            Element::new(io::EMPTY_FOLDER_CONTENTS).text_child(air::COLLECTION_ID, "987654"),
        ),
    );
    assert_ne!(io_single(&r).text_of(io::STATUS), Some("1"), "{r:?}");
}

/// A message of a thread: `id` its Message-ID, `root` the thread's first message.
fn thread_message(subject: &str, id: &str, root: Option<&str>) -> Vec<u8> {
    let refs = root.map_or(String::new(), |r| {
        format!("In-Reply-To: <{r}>\r\nReferences: <{r}>\r\n")
    });
    format!(
        "From: Bob <{BOB}>\r\nTo: <{ALICE}>\r\nSubject: {subject}\r\n\
         Date: Tue, 1 Sep 2026 10:00:00 +0000\r\nMessage-ID: <{id}>\r\n{refs}\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nx\r\n"
    )
    .into_bytes()
}

/// ItemOperations Move of conversation `id` to `dst`: the Move's Status and the
/// ConversationId it echoes.
pub(crate) fn move_conversation(
    c: &EasClient,
    id: Option<&[u8]>,
    dst: &str,
    always: bool,
) -> (String, Option<Vec<u8>>) {
    let mut op = Element::new(io::MOVE);
    if let Some(id) = id {
        op.push_opaque(io::CONVERSATION_ID, id.to_vec());
    }
    op.push_text(io::DST_FLD_ID, dst);
    if always {
        op.push(Element::new(io::OPTIONS).empty_child(io::MOVE_ALWAYS));
    }
    let r = c.call(
        "ItemOperations",
        &Element::new(io::ITEM_OPERATIONS).child(op),
    );
    assert_eq!(r.text_of(io::STATUS), Some("1"), "{r:?}");
    let op = io_single(&r);
    assert_eq!(op.tag, io::MOVE, "{r:?}");
    (
        text(op, io::STATUS).to_owned(),
        op.find(io::CONVERSATION_ID)
            .and_then(|c| c.opaque())
            .map(<[u8]>::to_vec),
    )
}

#[test]
fn item_operations_move_of_a_conversation_and_its_later_messages() {
    let s = server_with(&[ALICE]);
    let t = unique_token();
    let root = format!("root-{t}@test.example");
    s.deliver(&[ALICE], &thread_message("plan", &root, None));
    s.deliver(
        &[ALICE],
        &thread_message("RE: plan", &format!("r1-{t}@x"), Some(&root)),
    );
    s.deliver(
        &[ALICE],
        &thread_message("RE: plan (sent)", &format!("r2-{t}@x"), Some(&root)),
    );
    s.deliver_text(ALICE, "other", "x");
    let a = s.device(ALICE, "deva");
    let inbox = a.folder_of_type(INBOX);
    let sent = a.folder_of_type(5);
    let (fkey, _) = a.folder_sync_ok("0");
    let created = a.folder_create(&fkey, "0", "Ignored", "12");
    let ignored = text(&created, easd::wbxml::tag::folderhierarchy::SERVER_ID).to_owned();
    let (ka, adds) = full_sync(&a, &inbox);
    let (ki, _) = full_sync(&a, &ignored);
    let conversation = adds
        .iter()
        .find(|(_, d)| subject(d) == "plan")
        .and_then(|(_, d)| d.find(easd::wbxml::tag::email2::CONVERSATION_ID))
        .and_then(Element::opaque)
        .expect("ConversationId")
        .to_vec();
    // A message of the conversation in Sent Items stays there ([MS-ASCON] 2.2.2.8).
    assert_eq!(
        a.move_item(&id_of(&adds, "RE: plan (sent)"), &inbox, &sent)
            .0,
        "3"
    );
    let ka = sync_from(&a, &inbox, &ka).ok_key();

    // Refusals, each moving nothing.
    let id = Some(conversation.as_slice());
    assert_eq!(move_conversation(&a, None, &ignored, true).0, "2");
    assert_eq!(
        move_conversation(&a, id, &ignored, false),
        ("155".into(), Some(conversation.clone())),
        "MoveAlways is required"
    );
    assert_eq!(move_conversation(&a, id, "987654", true).0, "6");
    assert_eq!(move_conversation(&a, Some(&[7; 16]), &ignored, true).0, "6");
    let calendar = a.folder_of_type(8);
    assert_eq!(move_conversation(&a, id, &calendar, true).0, "156");
    let mut old = s.eas(ALICE, "dev121").with_version("12.1");
    old.provision();
    let r = old.call(
        "ItemOperations",
        &Element::new(io::ITEM_OPERATIONS).child(
            Element::new(io::MOVE)
                .text_child(io::DST_FLD_ID, ignored.as_str())
                .child(Element::new(io::OPTIONS).empty_child(io::MOVE_ALWAYS)),
        ),
    );
    assert_eq!(io_single(&r).text_of(io::STATUS), Some("2"), "12.1: {r:?}");
    assert!(!sync_from(&a, &inbox, &ka).has_commands());

    // The move: the mover gets the Delete and the Add like any device.
    assert_eq!(
        move_conversation(&a, id, &ignored, true),
        ("1".into(), Some(conversation.clone()))
    );
    let out = sync_from(&a, &inbox, &ka);
    let mut gone = out.deletes.clone();
    gone.sort();
    let mut expected = vec![id_of(&adds, "plan"), id_of(&adds, "RE: plan")];
    expected.sort();
    assert_eq!(gone, expected, "{:?}", out.raw);
    let (_, moved) = a.sync_all(SyncColl::new(&ignored, &ki).window(512));
    assert_eq!(subjects(&moved), ["RE: plan", "plan"]);
    // A resend answers the same and moves nothing more.
    assert_eq!(move_conversation(&a, id, &ignored, true).0, "1");
    // MoveAlways: a later message of the conversation is delivered to Ignored.
    s.deliver(
        &[ALICE],
        &thread_message("RE: plan again", &format!("r3-{t}@x"), Some(&root)),
    );
    let b = s.device(ALICE, "devb");
    assert_eq!(subjects(&full_sync(&b, &inbox).1), ["other"]);
    assert_eq!(
        subjects(&full_sync(&b, &ignored).1),
        ["RE: plan", "RE: plan again", "plan"]
    );
    assert_eq!(subjects(&full_sync(&b, &sent).1), ["RE: plan (sent)"]);
}

#[test]
fn broken_mime_and_a_large_message_deliver_and_sync() {
    let s = server_with(&[ALICE]);
    let broken: Vec<(&str, Vec<u8>)> = vec![
        (
            "no headers",
            b"just a line of text\r\nand another\r\n".to_vec(),
        ),
        (
            "bad base64",
            b"Subject: bad base64\r\nContent-Type: text/plain\r\n\
              Content-Transfer-Encoding: base64\r\n\r\n!!!! not base64 ###\r\n"
                .to_vec(),
        ),
        (
            "unterminated multipart",
            b"Subject: unterminated multipart\r\nMIME-Version: 1.0\r\n\
              Content-Type: multipart/mixed; boundary=\"zz\"\r\n\r\n--zz\r\n\
              Content-Type: text/plain\r\n\r\npart one\r\n--zz\r\nContent-Type: application/pdf\r\n\
              Content-Transfer-Encoding: base64\r\n\r\nJVBERi0x\r\n"
                .to_vec(),
        ),
        ("binary junk", {
            let mut v = b"Subject: =?utf-8?B?!!!?= binary junk\r\nFrom: <<<@@@>>>\r\n\
                    Date: not a date\r\nContent-Type: text/plain; charset=x-unknown\r\n\r\n"
                .to_vec();
            v.extend((0..=255u8).cycle().take(2000));
            v.extend_from_slice(b"\r\n");
            v
        }),
        ("header only", b"Subject: header only\r\n".to_vec()),
    ];
    for (_, m) in &broken {
        s.deliver(&[ALICE], m);
    }
    let big = pattern(5 * 1024 * 1024);
    s.deliver(
        &[ALICE],
        &message_with_attachment(ALICE, "big one", "big.bin", &big),
    );

    let a = s.device(ALICE, "deva");
    let inbox = a.folder_of_type(INBOX);
    let k = a.sync_init(&inbox);
    let (_, adds) = a.sync_all(SyncColl::new(&inbox, &k).window(512).body(2, None));
    assert_eq!(adds.len(), broken.len() + 1, "{adds:?}");
    for (_, d) in &adds {
        assert!(d.find(em::SUBJECT).is_some(), "{d:?}");
        assert!(d.find(em::DATE_RECEIVED).is_some(), "{d:?}");
        body_of(d);
    }
    let big_item = adds
        .iter()
        .find(|(_, d)| subject(d) == "big one")
        .expect("big one");
    let att = big_item
        .1
        .find_path(&[asb::ATTACHMENTS, asb::ATTACHMENT])
        .expect("Attachment");
    assert_eq!(
        text(att, asb::ESTIMATED_DATA_SIZE),
        (5 * 1024 * 1024).to_string()
    );
    let resp = a.post_raw(
        &a.query("ItemOperations", None),
        &[("MS-ASAcceptMultiPart", "T".to_owned())],
        wbxml::encode(&io_fetch_attachment(text(att, asb::FILE_REFERENCE), None)),
    );
    resp.expect_status(200);
    let parts = parse_multipart(&resp.body);
    assert_eq!(parts.len(), 2);
    assert!(parts[1] == &big[..], "the 5 MB attachment differs");
    // Each broken message can also be fetched whole.
    for (id, _) in &adds {
        let r = a.call("ItemOperations", &io_fetch_item(&inbox, id, Some(1)));
        assert_eq!(io_single(&r).text_of(io::STATUS), Some("1"), "{id}: {r:?}");
    }
    let bs = subjects(&adds);
    for want in ["bad base64", "unterminated multipart", "header only"] {
        assert!(bs.iter().any(|s| s == want), "{want} missing from {bs:?}");
    }
}

// ---- Sync statuses --------------------------------------------------------------------

#[test]
fn sync_status_codes() {
    let s = server_with(&[ALICE]);
    let a = s.device(ALICE, "deva");
    let inbox = a.folder_of_type(INBOX);

    // An empty body before any Sync: 13.
    let r = a.post("Sync", None);
    r.expect_status(200);
    let root = r.wbxml();
    assert_eq!(root.tag, air::SYNC);
    assert_eq!(root.text_of(air::STATUS), Some("13"), "{root:?}");

    // Unknown collections: 12.
    for bad in ["987654", "abc", "-1"] {
        let out = a.sync1(&SyncColl::new(bad, "0"));
        assert_eq!(out.status, "12", "CollectionId {bad:?}: {:?}", out.raw);
    }
    // A Collection without SyncKey: 4 (the whole request is malformed).
    let mut no_key = SyncColl::new(&inbox, "0");
    no_key.key = None;
    let root = a.sync(&[no_key]);
    assert_eq!(root.text_of(air::STATUS), Some("4"), "{root:?}");
    // So is one with an empty CollectionId.
    let root = a.sync(&[SyncColl::new("", "0")]);
    assert_eq!(root.text_of(air::STATUS), Some("4"), "{root:?}");
    // A Sync without Collections: 13 or 4, never success.
    let root = a.call("Sync", &Element::new(air::SYNC));
    assert!(
        matches!(root.text_of(air::STATUS), Some("4" | "13")),
        "{root:?}"
    );

    // A full request, then an empty one repeats it (12.1+).
    s.deliver_text(ALICE, "first", "x");
    let k = a.sync_init(&inbox);
    let out = a.sync1(&SyncColl::new(&inbox, &k).window(5).body(1, Some(100)));
    let k = out.ok_key();
    assert_eq!(subjects(&out.adds), ["first"]);
    s.deliver_text(ALICE, "second", "y");
    let r = a.post("Sync", None);
    r.expect_status(200);
    let root = r.wbxml();
    // (Every collection named before is repeated, the unknown ones with Status 12 again.)
    let c = root
        .find(air::COLLECTIONS)
        .and_then(|l| {
            l.find_all(air::COLLECTION)
                .find(|c| c.text_of(air::COLLECTION_ID) == Some(inbox.as_str()))
        })
        .unwrap_or_else(|| panic!("the empty Sync was not completed: {root:?}"));
    let out = SyncOut::parse(c);
    assert_ne!(out.ok_key(), k);
    assert_eq!(subjects(&out.adds), ["second"]);
    // With the cached body options.
    assert_eq!(text(body_of(&out.adds[0].1), asb::TYPE), "1");
}

// ---- restart ---------------------------------------------------------------------------

#[test]
fn mail_and_sync_state_survive_a_restart() {
    let mut s = server_with(&[ALICE]);
    s.deliver_text(ALICE, "before", "x");
    let a = s.device(ALICE, "deva");
    let inbox = a.folder_of_type(INBOX);
    let (k, adds) = full_sync(&a, &inbox);
    assert_eq!(subjects(&adds), ["before"]);
    s.restart();
    s.deliver_text(ALICE, "after", "y");
    let out = sync_from(&a, &inbox, &k);
    assert_eq!(subjects(&out.adds), ["after"]);
    let mut per_subject: BTreeMap<String, usize> = BTreeMap::new();
    let (_, all) = full_sync(&s.device(ALICE, "devb"), &inbox);
    for sub in subjects(&all) {
        *per_subject.entry(sub).or_default() += 1;
    }
    assert_eq!(
        per_subject,
        BTreeMap::from([("after".into(), 1), ("before".into(), 1)])
    );
}

#[test]
fn a_resent_request_with_commands_is_applied_once_and_not_echoed() {
    let s = server_with(&[ALICE]);
    for n in ["r1", "r2", "r3"] {
        s.deliver_text(ALICE, n, "x");
    }
    let a = s.device(ALICE, "deva");
    let b = s.device(ALICE, "devb");
    let inbox = a.folder_of_type(INBOX);
    let trash = a.folder_of_type(DELETED_ITEMS);
    let (k1, adds) = full_sync(&a, &inbox);
    let (kb, _) = full_sync(&b, &inbox);
    let (r1, r2) = (id_of(&adds, "r1"), id_of(&adds, "r2"));
    let request = SyncColl::new(&inbox, &k1)
        .window(512)
        .mark_read(&r1, true)
        .delete(&r2);
    let first = a.sync1(&request);
    let k2 = first.ok_key();
    assert!(
        first.responses.is_none() && !first.has_commands(),
        "{:?}",
        first.raw
    );
    // The answer was lost: the very same request again.
    let again = a.sync1(&request);
    let k3 = again.ok_key();
    assert_ne!(k3, k2);
    assert!(
        again.responses.is_none(),
        "resent commands refused: {:?}",
        again.raw
    );
    assert!(
        !again.has_commands(),
        "own changes echoed on resend: {:?}",
        again.raw
    );
    let next = sync_from(&a, &inbox, &k3);
    assert!(!next.has_commands(), "{:?}", next.raw);

    // Applied once: one item in Deleted Items, one Change and one Delete for B.
    let (_, t) = full_sync(&a, &trash);
    assert_eq!(subjects(&t), ["r2"]);
    let ob = sync_from(&b, &inbox, &kb);
    assert_eq!(ob.deletes, std::slice::from_ref(&r2));
    assert_eq!(ob.changes.len(), 1);
    assert_eq!(ob.changes[0].0, r1);
    assert_eq!(text(&ob.changes[0].1, em::READ), "1");

    // Deleting inside Deleted Items removes for good, whatever DeletesAsMoves says.
    let kt = a.sync_init(&trash);
    let (kt, t) = a.sync_all(SyncColl::new(&trash, &kt).window(512));
    let out = a.sync1(&SyncColl::new(&trash, &kt).delete(&t[0].0));
    out.ok_key();
    assert!(out.responses.is_none(), "{:?}", out.raw);
    let (_, t) = full_sync(&s.device(ALICE, "devc"), &trash);
    assert!(t.is_empty(), "{t:?}");
}
