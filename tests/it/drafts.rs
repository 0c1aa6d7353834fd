//! Drafts over real HTTPS ([MS-ASEMAIL] 16.0): a 16.1 device adds, changes and sends a
//! draft through Sync in its Drafts folder, with attachments added and removed; other
//! devices of the account see it (a 14.1 one as a plain message); a sent draft goes through
//! the relay (an SMTP sink) once, even when the Sync is resent, lands in Sent Items and
//! leaves Drafts.

use crate::support::*;
use easd::wbxml::Element;
use easd::wbxml::tag::{airsync as air, airsyncbase as asb, email as em, email2 as em2};

const ALICE: &str = "alice@example.com";
const BOB: &str = "bob@example.com";
const CAROL: &str = "carol@remote.test";
const DAVE: &str = "dave@remote.test";

const INBOX: u8 = 2;
const DRAFTS: u8 = 3;
const SENT_ITEMS: u8 = 5;

/// A sink and a server relaying to it, with alice and bob.
fn setup() -> (SmtpSink, TestServer) {
    relaying_server_with(&[ALICE, BOB])
}

/// An airsyncbase:Attachments/Add of `data` (OPAQUE, as [MS-ASDTYPE] 2.7.1 says).
fn attach(client_id: &str, name: &str, content_type: &str, data: &[u8]) -> Element {
    Element::new(asb::ADD)
        .text_child(asb::CLIENT_ID, client_id)
        .opaque_child(asb::CONTENT, data.to_vec())
        .text_child(asb::DISPLAY_NAME, name)
        .text_child(asb::METHOD, "1")
        .text_child(asb::CONTENT_TYPE, content_type)
}

fn detach(file_reference: &str) -> Element {
    Element::new(asb::DELETE).text_child(asb::FILE_REFERENCE, file_reference)
}

/// A Sync Add of a draft with `data`, sent at once when `send`.
fn add(client_id: &str, data: Element, send: bool) -> Element {
    let mut e = Element::new(air::ADD)
        .text_child(air::CLIENT_ID, client_id)
        .child(data);
    if send {
        e.push(Element::new(em2::SEND));
    }
    e
}

/// A Sync Change of draft `server_id` with `data`, sent when `send`.
fn change(server_id: &str, data: Element, send: bool) -> Element {
    let mut e = Element::new(air::CHANGE)
        .text_child(air::SERVER_ID, server_id)
        .child(data);
    if send {
        e.push(Element::new(em2::SEND));
    }
    e
}

fn data() -> Element {
    Element::new(air::APPLICATION_DATA)
}

fn plain(text: &str) -> Element {
    Element::new(asb::BODY)
        .text_child(asb::TYPE, "1")
        .text_child(asb::DATA, text)
}

/// The one Responses/`tag` element of a Sync answer.
#[track_caller]
fn response(out: &SyncOut, tag: easd::wbxml::Tag) -> Element {
    out.responses
        .as_ref()
        .and_then(|r| r.find(tag))
        .cloned()
        .unwrap_or_else(|| panic!("no Responses/{tag:?} in {:?}", out.raw))
}

/// (the text of `by`, FileReference) of each Attachment under an ApplicationData.
fn attachment_refs(data: &Element, by: easd::wbxml::Tag) -> Vec<(String, String)> {
    data.find(asb::ATTACHMENTS)
        .map(|l| {
            l.find_all(asb::ATTACHMENT)
                .map(|a| {
                    (
                        text(a, by).to_owned(),
                        text(a, asb::FILE_REFERENCE).to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// (ClientId, FileReference) of the attachments an answer names.
fn references(data: &Element) -> Vec<(String, String)> {
    attachment_refs(data, asb::CLIENT_ID)
}

/// (DisplayName, FileReference) of the attachments a synced message lists.
fn listed(data: &Element) -> Vec<(String, String)> {
    attachment_refs(data, asb::DISPLAY_NAME)
}

/// Every item of `folder`, from key 0.
#[track_caller]
fn all_items(c: &EasClient, folder: &str) -> Vec<(String, Element)> {
    let key = c.sync_init(folder);
    c.sync_all(SyncColl::new(folder, &key).window(512)).1
}

/// A 14.1 device of `user`, provisioned.
fn old_device(s: &TestServer, user: &str, id: &str) -> EasClient {
    let mut c = s.eas(user, id).with_version("14.1");
    c.provision();
    c
}

#[test]
fn a_draft_is_added_changed_and_sent_once_and_other_devices_follow() {
    let (sink, s) = setup();
    let phone = s.device(ALICE, "phone");
    let tablet = s.device(ALICE, "tablet");
    let old = old_device(&s, ALICE, "oldphone");
    let drafts = phone.folder_of_type(DRAFTS);
    let mut key = phone.sync_init(&drafts);
    let tablet_key = tablet.sync_init(&drafts);

    // Add: fields and one attachment.
    let fields = data()
        .text_child(em::TO, format!("\"Carol C\" <{CAROL}>"))
        .text_child(em::CC, BOB)
        .text_child(em2::BCC, DAVE)
        .text_child(em::SUBJECT, "Plan für Montag")
        .text_child(em::IMPORTANCE, "2")
        .child(plain("First words."))
        .child(Element::new(asb::ATTACHMENTS).child(attach(
            "att1",
            "plan.pdf",
            "application/pdf",
            b"%PDF-1.4 one",
        )));
    let out = phone.sync1(&SyncColl::new(&drafts, &key).command(add("d1", fields, false)));
    key = out.ok_key();
    let added = response(&out, air::ADD);
    assert_eq!(added.text_of(air::STATUS), Some("1"), "{added:?}");
    let draft = text(&added, air::SERVER_ID).to_owned();
    let refs = references(added.find(air::APPLICATION_DATA).expect("ApplicationData"));
    assert_eq!(refs.len(), 1, "{added:?}");
    assert_eq!(refs[0].0, "att1");
    let first_ref = refs[0].1.clone();

    // The tablet (16.1) sees the draft as it was written, and fetches its attachment.
    let out = tablet.sync1(&SyncColl::new(&drafts, &tablet_key));
    let tablet_key = out.ok_key();
    assert_eq!(out.add_ids(), [draft.as_str()], "{:?}", out.raw);
    let seen = &out.adds[0].1;
    assert_eq!(text(seen, em::SUBJECT), "Plan für Montag");
    assert!(text(seen, em::TO).contains(CAROL), "{seen:?}");
    assert!(text(seen, em::CC).contains(BOB), "{seen:?}");
    assert!(text(seen, em2::BCC).contains(DAVE), "{seen:?}");
    assert_eq!(text(seen, em::IMPORTANCE), "2");
    assert_eq!(text(seen, em2::IS_DRAFT), "1");
    assert!(text(seen.find(asb::BODY).unwrap(), asb::DATA).contains("First words."));
    let files = listed(seen);
    assert_eq!(files.len(), 1, "{seen:?}");
    assert_eq!(files[0], ("plan.pdf".to_owned(), first_ref.clone()));
    assert_eq!(
        tablet.fetch_attachment(&first_ref),
        ("1".to_owned(), Some(b"%PDF-1.4 one".to_vec()))
    );
    // ItemOperations shows it like any message.
    let props = tablet.fetch_item(&draft, Some(1));
    assert_eq!(text(&props, em::SUBJECT), "Plan für Montag");

    // A 14.1 device sees a plain message: no IsDraft, no Bcc.
    let items = all_items(&old, &drafts);
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(text(&items[0].1, em::SUBJECT), "Plan für Montag");
    assert!(items[0].1.find(em2::IS_DRAFT).is_none(), "{items:?}");
    assert!(items[0].1.find(em2::BCC).is_none(), "{items:?}");

    // Change: new subject and body, a second attachment in, the first one out.
    let edit = data()
        .text_child(em::SUBJECT, "Plan v2")
        .child(plain("Second words."))
        .child(
            Element::new(asb::ATTACHMENTS)
                .child(attach(
                    "att2",
                    "notes.txt",
                    "text/plain",
                    b"remember the milk",
                ))
                .child(detach(&first_ref)),
        );
    let out = phone.sync1(&SyncColl::new(&drafts, &key).command(change(&draft, edit, false)));
    key = out.ok_key();
    let changed = response(&out, air::CHANGE);
    assert_eq!(changed.text_of(air::STATUS), Some("1"), "{changed:?}");
    let refs = references(
        changed
            .find(air::APPLICATION_DATA)
            .expect("ApplicationData"),
    );
    assert_eq!(refs.len(), 1, "{changed:?}");
    assert_eq!(refs[0].0, "att2");
    let second_ref = refs[0].1.clone();
    assert_eq!(
        phone.fetch_attachment(&second_ref).1.as_deref(),
        Some(&b"remember the milk"[..])
    );
    // Removing an attachment renumbers the rest: the phone gets the draft back as it is.
    assert_eq!(out.changes.len(), 1, "{:?}", out.raw);
    assert_eq!(
        listed(&out.changes[0].1),
        [("notes.txt".to_owned(), second_ref.clone())]
    );

    // The tablet gets the whole new draft as a Change.
    let out = tablet.sync1(&SyncColl::new(&drafts, &tablet_key));
    let tablet_key = out.ok_key();
    assert_eq!(out.changes.len(), 1, "{:?}", out.raw);
    let seen = &out.changes[0].1;
    assert_eq!(text(seen, em::SUBJECT), "Plan v2");
    assert!(text(seen.find(asb::BODY).unwrap(), asb::DATA).contains("Second words."));
    assert_eq!(listed(seen), [("notes.txt".to_owned(), second_ref.clone())]);
    assert!(
        text(seen, em::TO).contains(CAROL),
        "unchanged fields stay: {seen:?}"
    );

    // Send, and the same Sync again as if its answer had been lost.
    let send = SyncColl::new(&drafts, &key).command(change(&draft, data(), true));
    let first = phone.sync1(&send);
    let again = phone.sync1(&send);
    for out in [&first, &again] {
        out.ok_key();
        if let Some(r) = &out.responses {
            assert!(
                r.find(air::CHANGE).is_none(),
                "the Send failed: {:?}",
                out.raw
            );
        }
    }

    // Through the relay once, for the remote recipients, without Bcc in the message.
    let relayed = sink.messages();
    assert_eq!(relayed.len(), 1, "{relayed:?}");
    let mut rcpt = relayed[0].recipients.clone();
    rcpt.sort();
    assert_eq!(rcpt, [CAROL, DAVE]);
    assert_eq!(relayed[0].from, ALICE);
    let mime = relayed[0].text();
    assert!(mime.contains("Subject: Plan v2"), "{mime}");
    assert!(mime.contains("remember the milk") || mime.contains("cmVtZW1iZXIgdGhlIG1pbGs"));
    assert!(!mime.to_ascii_lowercase().contains("\nbcc:"), "{mime}");

    // Bob (Cc, local) has it in his Inbox; alice's Sent Items has one copy; Drafts none.
    let bob = s.device(BOB, "bobphone");
    let inbox = all_items(&bob, &bob.folder_of_type(INBOX));
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    assert_eq!(text(&inbox[0].1, em::SUBJECT), "Plan v2");
    let sent = all_items(&tablet, &tablet.folder_of_type(SENT_ITEMS));
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(text(&sent[0].1, em::SUBJECT), "Plan v2");
    assert_eq!(text(&sent[0].1, em2::IS_DRAFT), "0");
    assert!(
        text(&sent[0].1, em2::BCC).contains(DAVE),
        "Sent Items keeps Bcc"
    );
    let out = tablet.sync1(&SyncColl::new(&drafts, &tablet_key));
    assert_eq!(out.deletes, [draft.as_str()], "{:?}", out.raw);
    assert!(all_items(&tablet, &drafts).is_empty());
}

#[test]
fn a_draft_added_with_send_goes_out_once_when_the_sync_is_resent() {
    let (sink, s) = setup();
    let phone = s.device(ALICE, "phone");
    let drafts = phone.folder_of_type(DRAFTS);
    let key = phone.sync_init(&drafts);
    let fields = data()
        .text_child(em::TO, CAROL)
        .text_child(em::SUBJECT, "straight out")
        .child(plain("Sent from a draft."));
    let sync = SyncColl::new(&drafts, &key).command(add("d9", fields, true));
    let first = phone.sync1(&sync);
    let again = phone.sync1(&sync);
    let ids: Vec<_> = [&first, &again]
        .iter()
        .map(|out| {
            out.ok_key();
            let a = response(out, air::ADD);
            assert_eq!(a.text_of(air::STATUS), Some("1"), "{a:?}");
            text(&a, air::SERVER_ID).to_owned()
        })
        .collect();
    assert_eq!(ids[0], ids[1], "the resend names the same item");
    assert_eq!(sink.messages().len(), 1, "{:?}", sink.messages());
    assert!(all_items(&phone, &drafts).is_empty());
    let sent = all_items(&phone, &phone.folder_of_type(SENT_ITEMS));
    assert_eq!(sent.len(), 1, "{sent:?}");
}

#[test]
fn a_draft_that_cannot_be_sent_stays_in_drafts_and_goes_later() {
    let (sink, s) = setup();
    let phone = s.device(ALICE, "phone");
    let drafts = phone.folder_of_type(DRAFTS);
    let mut key = phone.sync_init(&drafts);
    let out = phone.sync1(&SyncColl::new(&drafts, &key).command(add(
        "d1",
        data().text_child(em::SUBJECT, "no one yet"),
        false,
    )));
    key = out.ok_key();
    let draft = text(&response(&out, air::ADD), air::SERVER_ID).to_owned();

    // No recipients: Status 6, nothing leaves.
    let out = phone.sync1(&SyncColl::new(&drafts, &key).command(change(&draft, data(), true)));
    key = out.ok_key();
    assert_eq!(
        text(&response(&out, air::CHANGE), air::STATUS),
        "6",
        "{:?}",
        out.raw
    );

    // The relay refuses for now: Status 5, and the draft is still there.
    sink.set_mode(SinkMode::FailData);
    let to = data().text_child(em::TO, CAROL);
    let out = phone.sync1(&SyncColl::new(&drafts, &key).command(change(&draft, to, true)));
    key = out.ok_key();
    assert_eq!(
        text(&response(&out, air::CHANGE), air::STATUS),
        "5",
        "{:?}",
        out.raw
    );
    let tablet = s.device(ALICE, "tablet");
    assert_eq!(all_items(&tablet, &drafts).len(), 1);
    assert!(sink.messages().is_empty());

    // Once the relay is back, the same draft goes.
    sink.set_mode(SinkMode::Accept);
    let out = phone.sync1(&SyncColl::new(&drafts, &key).command(change(&draft, data(), true)));
    out.ok_key();
    assert!(out.responses.is_none(), "{:?}", out.raw);
    assert_eq!(sink.messages().len(), 1);
    assert_eq!(sink.messages()[0].recipients, [CAROL]);
    assert!(all_items(&tablet, &drafts).is_empty());
}

#[test]
fn email_adds_are_refused_below_16_and_outside_drafts() {
    let (_sink, s) = setup();
    let fields = || {
        data()
            .text_child(em::TO, CAROL)
            .text_child(em::SUBJECT, "x")
    };

    // 14.1: Drafts takes no Add (Status 6), as before.
    let old = old_device(&s, ALICE, "oldphone");
    let drafts = old.folder_of_type(DRAFTS);
    let key = old.sync_init(&drafts);
    let out = old.sync1(&SyncColl::new(&drafts, &key).command(add("c1", fields(), false)));
    out.ok_key();
    let a = response(&out, air::ADD);
    assert_eq!(text(&a, air::STATUS), "6", "{a:?}");
    assert!(a.find(air::SERVER_ID).is_none());

    // 16.1: an email Add into the Inbox is Status 6 too.
    let phone = s.device(ALICE, "phone");
    let inbox = phone.folder_of_type(INBOX);
    let key = phone.sync_init(&inbox);
    let out = phone.sync1(&SyncColl::new(&inbox, &key).command(add("c2", fields(), true)));
    out.ok_key();
    assert_eq!(text(&response(&out, air::ADD), air::STATUS), "6");
    assert!(all_items(&phone, &inbox).is_empty());
    assert!(all_items(&phone, &drafts).is_empty());
}

#[test]
fn malformed_drafts_are_status_6_and_store_nothing() {
    let (_sink, s) = setup();
    let phone = s.device(ALICE, "phone");
    let drafts = phone.folder_of_type(DRAFTS);
    let mut key = phone.sync_init(&drafts);
    let bad_content = Element::new(asb::ADD)
        .text_child(asb::CLIENT_ID, "a1")
        .text_child(asb::CONTENT, "this is *not* base64")
        .text_child(asb::DISPLAY_NAME, "x.bin")
        .text_child(asb::METHOD, "1");
    let cases = [
        data().child(Element::new(asb::ATTACHMENTS).child(bad_content)),
        data().child(
            Element::new(asb::ATTACHMENTS).child(
                Element::new(asb::ADD)
                    .text_child(asb::CLIENT_ID, "a1")
                    .text_child(asb::DISPLAY_NAME, "x.bin")
                    .text_child(asb::METHOD, "1"),
            ),
        ),
        data().text_child(em::TO, "not an address"),
        data().text_child(em::IMPORTANCE, "7"),
    ];
    for (i, fields) in cases.into_iter().enumerate() {
        let out = phone.sync1(&SyncColl::new(&drafts, &key).command(add(
            &format!("c{i}"),
            fields,
            false,
        )));
        key = out.ok_key();
        assert_eq!(
            text(&response(&out, air::ADD), air::STATUS),
            "6",
            "case {i}: {:?}",
            out.raw
        );
    }
    assert!(all_items(&phone, &drafts).is_empty());
}

#[test]
fn another_accounts_draft_attachment_cannot_be_deleted() {
    let (_sink, s) = setup();
    let bob = s.device(BOB, "bobphone");
    let bob_drafts = bob.folder_of_type(DRAFTS);
    let key = bob.sync_init(&bob_drafts);
    let fields = data()
        .text_child(em::SUBJECT, "bob's")
        .child(Element::new(asb::ATTACHMENTS).child(attach("b1", "b.txt", "text/plain", b"bob")));
    let out = bob.sync1(&SyncColl::new(&bob_drafts, &key).command(add("b", fields, false)));
    out.ok_key();
    let added = response(&out, air::ADD);
    let bob_ref = references(added.find(air::APPLICATION_DATA).unwrap())[0]
        .1
        .clone();

    let alice = s.device(ALICE, "phone");
    let drafts = alice.folder_of_type(DRAFTS);
    let mut key = alice.sync_init(&drafts);
    let out = alice.sync1(&SyncColl::new(&drafts, &key).command(add(
        "a",
        data().text_child(em::SUBJECT, "alice's"),
        false,
    )));
    key = out.ok_key();
    let own = text(&response(&out, air::ADD), air::SERVER_ID).to_owned();

    // Her own draft naming bob's FileReference: it resolves in her account only, where
    // her draft has no such attachment; bob's stays.
    let steal = data().child(Element::new(asb::ATTACHMENTS).child(detach(&bob_ref)));
    let out = alice.sync1(&SyncColl::new(&drafts, &key).command(change(&own, steal, false)));
    out.ok_key();
    let status = text(&response(&out, air::CHANGE), air::STATUS).to_owned();
    assert!(["6", "8"].contains(&status.as_str()), "{:?}", out.raw);
    assert_ne!(alice.fetch_attachment(&bob_ref).0, "1");
    assert_eq!(
        bob.fetch_attachment(&bob_ref),
        ("1".to_owned(), Some(b"bob".to_vec()))
    );
    let items = all_items(&s.device(BOB, "bobtablet"), &bob_drafts);
    assert_eq!(items.len(), 1);
    assert_eq!(listed(&items[0].1).len(), 1, "{items:?}");
    assert_eq!(text(&items[0].1, em::SUBJECT), "bob's");
}

#[test]
fn a_deleted_draft_leaves_the_other_devices() {
    let (_sink, s) = setup();
    let phone = s.device(ALICE, "phone");
    let tablet = s.device(ALICE, "tablet");
    let drafts = phone.folder_of_type(DRAFTS);
    let mut key = phone.sync_init(&drafts);
    let tablet_key = tablet.sync_init(&drafts);
    let out = phone.sync1(&SyncColl::new(&drafts, &key).command(add(
        "d1",
        data().text_child(em::SUBJECT, "never mind"),
        false,
    )));
    key = out.ok_key();
    let draft = text(&response(&out, air::ADD), air::SERVER_ID).to_owned();
    let out = tablet.sync1(&SyncColl::new(&drafts, &tablet_key));
    let tablet_key = out.ok_key();
    assert_eq!(out.add_ids(), [draft.as_str()]);

    let out = phone.sync1(
        &SyncColl::new(&drafts, &key)
            .deletes_as_moves(false)
            .delete(&draft),
    );
    out.ok_key();
    assert!(out.responses.is_none(), "{:?}", out.raw);
    let out = tablet.sync1(&SyncColl::new(&drafts, &tablet_key));
    assert_eq!(out.deletes, [draft.as_str()], "{:?}", out.raw);
}

/// A Responses/Change: its Status and the (ClientId, FileReference) it names.
type ChangeAnswer = (String, Option<Vec<(String, String)>>);

#[test]
fn a_resent_change_is_answered_as_the_first_and_applied_once() {
    let (_sink, s) = setup();
    let phone = s.device(ALICE, "phone");
    let drafts = phone.folder_of_type(DRAFTS);
    let key = phone.sync_init(&drafts);
    let out = phone.sync1(&SyncColl::new(&drafts, &key).command(add(
        "d1",
        data().text_child(em::SUBJECT, "once"),
        false,
    )));
    let key = out.ok_key();
    let draft = text(&response(&out, air::ADD), air::SERVER_ID).to_owned();

    // An attachment added, and one that does not exist removed: two Changes in one round.
    let more = data().child(Element::new(asb::ATTACHMENTS).child(attach(
        "att1",
        "a.txt",
        "text/plain",
        b"only once",
    )));
    let missing =
        data().child(Element::new(asb::ATTACHMENTS).child(detach(&format!("{draft}:99"))));
    let round = SyncColl::new(&drafts, &key)
        .command(change(&draft, more, false))
        .command(change(&draft, missing, false));
    let answers: Vec<Vec<ChangeAnswer>> = [phone.sync1(&round), phone.sync1(&round)]
        .iter()
        .map(|out| {
            out.ok_key();
            out.responses
                .as_ref()
                .expect("Responses")
                .find_all(air::CHANGE)
                .map(|c| {
                    (
                        text(c, air::STATUS).to_owned(),
                        c.find(air::APPLICATION_DATA).map(references),
                    )
                })
                .collect()
        })
        .collect();
    assert_eq!(
        answers[0], answers[1],
        "the resend is answered as the first"
    );
    assert_eq!(answers[0][0].0, "1");
    assert_eq!(answers[0][1].0, "8");
    let refs = answers[0][0].1.clone().expect("the added attachment");
    assert_eq!(refs.len(), 1);

    let tablet = s.device(ALICE, "tablet");
    let items = all_items(&tablet, &drafts);
    assert_eq!(items.len(), 1);
    assert_eq!(
        listed(&items[0].1),
        [("a.txt".to_owned(), refs[0].1.clone())]
    );
}
