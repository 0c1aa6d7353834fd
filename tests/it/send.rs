//! Mail submission over real sockets: SendMail, SmartReply and SmartForward from a device,
//! with local recipients delivered into the store and remote ones handed to an SMTP sink
//! standing in for the relay.
//!
//! Every test starts its own server (and sink) with a temporary data directory.

use std::time::Duration;

use crate::support::*;
use base64::Engine as _;
use easd::wbxml::Element;
use easd::wbxml::tag::{
    airsync as air, airsyncbase as asb, composemail as cm, email as em, email2 as em2,
};
use mail_parser::MimeHeaders as _;

const ALICE: &str = "alice@example.com";
const BOB: &str = "bob@example.com";
const CAROL: &str = "carol@remote.test";
const DAVE: &str = "dave@remote.test";
const EVE: &str = "eve@remote.test";

const INBOX: u8 = 2;
const SENT_ITEMS: u8 = 5;

// ---- helpers ----------------------------------------------------------------------------

/// A sink and a server relaying to it, with alice and bob.
fn setup() -> (SmtpSink, TestServer) {
    relaying_server_with(&[ALICE, BOB])
}

/// Every item of a folder, from key 0, with the raw MIME as the body (Type 4, MIMESupport 2).
#[track_caller]
fn items_of(c: &EasClient, folder: &str) -> Vec<(String, Element)> {
    let mut key = c.sync_init(folder);
    let mut adds = Vec::new();
    loop {
        let mut coll = SyncColl::new(folder, &key)
            .window(512)
            .body(4, None)
            .element();
        coll.find_mut(air::OPTIONS)
            .expect("Options")
            .push_text(air::MIME_SUPPORT, "2");
        let r = c.call(
            "Sync",
            &Element::new(air::SYNC).child(Element::new(air::COLLECTIONS).child(coll)),
        );
        let out = SyncOut::parse(
            r.find_path(&[air::COLLECTIONS, air::COLLECTION])
                .unwrap_or_else(|| panic!("no Collection in {r:?}")),
        );
        key = out.ok_key();
        adds.extend(out.adds);
        if !out.more {
            return adds;
        }
    }
}

/// Items of the default folder of `kind` of `c`'s account.
#[track_caller]
fn items_of_type(c: &EasClient, kind: u8) -> Vec<(String, Element)> {
    let folder = c.folder_of_type(kind);
    items_of(c, &folder)
}

fn subject(data: &Element) -> &str {
    data.text_of(em::SUBJECT).unwrap_or("")
}

/// The body text (for Type 4: the whole MIME message) of an ApplicationData.
#[track_caller]
fn body_text(data: &Element) -> String {
    let body = data
        .find(asb::BODY)
        .unwrap_or_else(|| panic!("no airsyncbase:Body in {data:?}"));
    text(body, asb::DATA).to_owned()
}

/// The item with Subject `s`.
#[track_caller]
fn with_subject<'a>(items: &'a [(String, Element)], s: &str) -> &'a (String, Element) {
    items
        .iter()
        .find(|(_, d)| subject(d) == s)
        .unwrap_or_else(|| panic!("no item with Subject {s:?} in {items:?}"))
}

/// Whether a header section names the field `name` (case-insensitively).
fn has_header(mime: &str, name: &str) -> bool {
    let head = mime
        .split("\r\n\r\n")
        .next()
        .unwrap_or(mime)
        .to_ascii_lowercase();
    let name = format!("{}:", name.to_ascii_lowercase());
    head.starts_with(&name) || head.contains(&format!("\n{name}"))
}

/// A plain-text message as a phone composes it.
fn outgoing(
    from: &str,
    to: &[&str],
    cc: &[&str],
    bcc: &[&str],
    subject: &str,
    body: &str,
) -> Vec<u8> {
    let mut m = format!("From: Somebody <{from}>\r\n");
    if !to.is_empty() {
        m.push_str(&format!("To: {}\r\n", to.join(", ")));
    }
    if !cc.is_empty() {
        m.push_str(&format!("Cc: {}\r\n", cc.join(", ")));
    }
    if !bcc.is_empty() {
        m.push_str(&format!("Bcc: {}\r\n", bcc.join(", ")));
    }
    m.push_str(&format!(
        "Subject: {subject}\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ));
    m.into_bytes()
}

/// A ComposeMail request: `root` is SendMail, SmartReply or SmartForward.
fn compose(
    root: easd::wbxml::Tag,
    client_id: Option<&str>,
    save: bool,
    source: Option<Element>,
    replace_mime: bool,
    mime: Option<&[u8]>,
) -> Element {
    let mut e = Element::new(root);
    if let Some(id) = client_id {
        e.push_text(cm::CLIENT_ID, id);
    }
    if let Some(s) = source {
        e.push(s);
    }
    if save {
        e.push(Element::new(cm::SAVE_IN_SENT_ITEMS));
    }
    if replace_mime {
        e.push(Element::new(cm::REPLACE_MIME));
    }
    if let Some(m) = mime {
        e.push_opaque(cm::MIME, m.to_vec());
    }
    e
}

fn source(folder: &str, item: &str) -> Element {
    Element::new(cm::SOURCE)
        .text_child(cm::FOLDER_ID, folder)
        .text_child(cm::ITEM_ID, item)
}

/// SendMail with a fresh ClientId, saving in Sent Items.
pub(crate) fn send_mail(c: &EasClient, mime: &[u8]) -> Resp {
    send_mail_as(c, &unique_token(), mime)
}

fn send_mail_as(c: &EasClient, client_id: &str, mime: &[u8]) -> Resp {
    c.post(
        "SendMail",
        Some(&compose(
            cm::SEND_MAIL,
            Some(client_id),
            true,
            None,
            false,
            Some(mime),
        )),
    )
}

/// Success: HTTP 200 with an empty body ([MS-ASCMD] 2.2.1.17).
#[track_caller]
fn assert_sent(r: &Resp) {
    r.expect_status(200);
    assert!(r.body.is_empty(), "success with a body: {:?}", r.wbxml());
}

/// The Status of a ComposeMail failure answer with root `root`.
#[track_caller]
fn compose_status(r: &Resp, root: easd::wbxml::Tag) -> String {
    r.expect_status(200);
    let e = r.wbxml();
    assert_eq!(e.tag, root, "{e:?}");
    text(&e, cm::STATUS).to_owned()
}

/// A multipart/mixed message with a text body and one base64 attachment.
fn message_with_attachment(
    from: &str,
    to: &str,
    subject: &str,
    name: &str,
    bytes: &[u8],
) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut wrapped = String::new();
    for chunk in b64.as_bytes().chunks(76) {
        wrapped.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        wrapped.push_str("\r\n");
    }
    format!(
        "From: Bob <{from}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n\
         Date: Tue, 1 Sep 2026 10:00:00 +0000\r\nMessage-ID: <{}@test.example>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b0undary\"\r\n\r\n\
         --b0undary\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe plan is attached.\r\n\
         --b0undary\r\nContent-Type: application/octet-stream; name=\"{name}\"\r\n\
         Content-Disposition: attachment; filename=\"{name}\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{wrapped}--b0undary--\r\n",
        unique_token()
    )
    .into_bytes()
}

/// Delivers a two-line message from bob to alice over LMTP; alice's device syncs her
/// Inbox. Returns (Inbox id, the item's ServerId).
#[track_caller]
fn original_from_bob(s: &TestServer, alice: &EasClient, subject_line: &str) -> (String, String) {
    s.deliver(
        &[ALICE],
        &text_message(BOB, ALICE, subject_line, "line one\r\nline two"),
    );
    let inbox = alice.folder_of_type(INBOX);
    let items = items_of(alice, &inbox);
    let id = with_subject(&items, subject_line).0.clone();
    (inbox, id)
}

// ---- SendMail ---------------------------------------------------------------------------

#[test]
fn send_to_a_local_account_arrives_in_its_inbox_and_sent_items() {
    let (sink, s) = setup();
    let a = s.device(ALICE, "alicephone");
    let b = s.device(BOB, "bobphone");

    let r = send_mail(
        &a,
        &outgoing(ALICE, &[BOB], &[], &[], "hello bob", "Lunch at noon?"),
    );
    assert_sent(&r);

    let inbox = items_of_type(&b, INBOX);
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    let (_, data) = &inbox[0];
    assert_eq!(subject(data), "hello bob");
    assert!(
        text(data, em::FROM).contains(ALICE),
        "From of the delivered copy: {data:?}"
    );
    assert_eq!(data.text_of(em::READ), Some("0"));
    let mime = body_text(data);
    assert!(mime.contains("Lunch at noon?"), "{mime}");
    assert!(
        has_header(&mime, "Message-ID"),
        "no Message-ID added: {mime}"
    );
    assert!(has_header(&mime, "Date"), "no Date added: {mime}");

    let sent = items_of_type(&a, SENT_ITEMS);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(subject(&sent[0].1), "hello bob");
    assert_eq!(
        sent[0].1.text_of(em::READ),
        Some("1"),
        "the Sent Items copy is read"
    );
    assert!(body_text(&sent[0].1).contains("Lunch at noon?"));
    // Nothing local reached the relay.
    assert_eq!(sink.connections(), 0, "{:?}", sink.messages());

    // Without SaveInSentItems there is no Sent Items copy.
    let r = a.post(
        "SendMail",
        Some(&compose(
            cm::SEND_MAIL,
            Some(&unique_token()),
            false,
            None,
            false,
            Some(&outgoing(ALICE, &[BOB], &[], &[], "not saved", "x")),
        )),
    );
    assert_sent(&r);
    let sent = items_of_type(&a, SENT_ITEMS);
    assert_eq!(sent.len(), 1, "a copy without SaveInSentItems: {sent:?}");
    let inbox = items_of_type(&b, INBOX);
    assert_eq!(inbox.len(), 2, "{inbox:?}");
}

#[test]
fn bcc_is_delivered_but_hidden_from_recipients_and_kept_in_sent_items() {
    let (sink, s) = setup();
    let a = s.device(ALICE, "alicephone");
    let b = s.device(BOB, "bobphone");

    let r = send_mail(
        &a,
        &outgoing(ALICE, &[CAROL], &[], &[BOB], "secret copy", "Between us."),
    );
    assert_sent(&r);

    // bob got it, and nothing in his copy names him as Bcc.
    let inbox = items_of_type(&b, INBOX);
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    let data = &inbox[0].1;
    assert_eq!(subject(data), "secret copy");
    let mime = body_text(data);
    assert!(
        !has_header(&mime, "Bcc"),
        "Bcc in the delivered copy: {mime}"
    );
    assert!(data.find(em2::BCC).is_none(), "email2:Bcc: {data:?}");

    // The relay got carol's copy, without the Bcc header; bob is local, not relayed.
    let msgs = sink.messages();
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert_eq!(msgs[0].recipients, [CAROL]);
    let relayed = msgs[0].text();
    assert!(!has_header(&relayed, "Bcc"), "Bcc relayed: {relayed}");
    assert!(
        !relayed.contains(BOB),
        "bob named in the relayed copy: {relayed}"
    );

    // The sender's own copy keeps the Bcc.
    let sent = items_of_type(&a, SENT_ITEMS);
    assert_eq!(sent.len(), 1, "{sent:?}");
    let mime = body_text(&sent[0].1);
    assert!(
        has_header(&mime, "Bcc"),
        "Sent Items copy lost its Bcc: {mime}"
    );
    assert!(mime.contains(BOB), "{mime}");
}

#[test]
fn remote_recipients_go_to_the_relay_with_the_right_envelope() {
    let (sink, s) = setup();
    let a = s.device(ALICE, "alicephone");

    let r = send_mail(
        &a,
        &outgoing(
            ALICE,
            &[&format!("Carol <{CAROL}>")],
            &[DAVE],
            &[EVE],
            "to the world",
            "Hello out there.\r\n.a line starting with a dot",
        ),
    );
    assert_sent(&r);

    let msgs = sink.messages();
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    let m = &msgs[0];
    assert_eq!(m.from, ALICE);
    let mut rcpt = m.recipients.clone();
    rcpt.sort();
    assert_eq!(rcpt, [CAROL, DAVE, EVE]);
    let data = m.text();
    assert!(data.contains("Subject: to the world"), "{data}");
    assert!(data.contains("Hello out there."), "{data}");
    assert!(
        data.contains("\r\n.a line starting with a dot"),
        "dot-stuffing not undone or body changed: {data}"
    );
    assert!(!has_header(&data, "Bcc"), "{data}");
    assert!(!data.contains(EVE), "the Bcc recipient is visible: {data}");
    assert!(data.contains(DAVE), "{data}");
    // Nobody local got anything; the sender's copy is in Sent Items.
    assert_eq!(items_of_type(&a, INBOX).len(), 0);
    assert_eq!(items_of_type(&a, SENT_ITEMS).len(), 1);
}

#[test]
fn a_from_naming_another_address_is_replaced_by_the_senders() {
    let (sink, s) = setup();
    let a = s.device(ALICE, "alicephone");
    let b = s.device(BOB, "bobphone");

    let r = send_mail(
        &a,
        &outgoing(
            "ceo@bank.test",
            &[BOB, CAROL],
            &[],
            &[],
            "wire the money",
            "Urgent.",
        ),
    );
    assert_sent(&r);

    let inbox = items_of_type(&b, INBOX);
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    let from = text(&inbox[0].1, em::FROM);
    assert!(from.contains(ALICE), "From: {from}");
    assert!(!from.contains("bank.test"), "From: {from}");
    assert!(!body_text(&inbox[0].1).contains("ceo@bank.test"));

    let msgs = sink.messages();
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert_eq!(msgs[0].from, ALICE);
    let data = msgs[0].text();
    assert!(!data.contains("ceo@bank.test"), "{data}");
    assert!(
        data.lines()
            .any(|l| l.to_ascii_lowercase().starts_with("from:") && l.contains(ALICE)),
        "{data}"
    );

    let sent = items_of_type(&a, SENT_ITEMS);
    assert!(text(&sent[0].1, em::FROM).contains(ALICE));
}

#[test]
fn relay_down_is_111_and_the_same_client_id_is_sent_once_later() {
    let (sink, s) = setup();
    let a = s.device(ALICE, "alicephone");
    let b = s.device(BOB, "bobphone");
    let msg = outgoing(ALICE, &[CAROL, BOB], &[], &[], "retry me", "Once only.");
    let cid = "client-id-retry-1";

    // Refused at the greeting, then a 451 to DATA: both are "try again later".
    for mode in [SinkMode::Refuse, SinkMode::FailData] {
        sink.set_mode(mode);
        let r = send_mail_as(&a, cid, &msg);
        assert_eq!(compose_status(&r, cm::SEND_MAIL), "111", "{mode:?}");
    }
    assert!(sink.messages().is_empty());
    assert!(sink.connections() >= 2, "the relay was never tried");
    // Nothing was filed or delivered.
    assert!(items_of_type(&a, SENT_ITEMS).is_empty());
    assert!(items_of_type(&b, INBOX).is_empty());

    // The relay is back: the same ClientId is sent, once.
    sink.set_mode(SinkMode::Accept);
    assert_sent(&send_mail_as(&a, cid, &msg));
    assert_eq!(sink.messages().len(), 1);
    // Sent again (the answer was lost): not sent twice.
    assert_sent(&send_mail_as(&a, cid, &msg));
    assert_eq!(sink.messages().len(), 1, "{:?}", sink.messages());
    assert_eq!(items_of_type(&b, INBOX).len(), 1);
    assert_eq!(items_of_type(&a, SENT_ITEMS).len(), 1);
    // The ClientId belongs to alice: bob may use the same one.
    let bob_msg = outgoing(BOB, &[CAROL], &[], &[], "bob's own", "x");
    assert_sent(&send_mail_as(&b, cid, &bob_msg));
    assert_eq!(sink.messages().len(), 2);
}

#[test]
fn relay_port_closed_is_111() {
    let s = start_server(|c| {
        c.relay.host = "127.0.0.1".into();
        c.relay.port = closed_port();
        c.relay.security = easd::config::RelaySecurity::None;
        c.relay.timeout_seconds = 5;
    });
    s.add_user(ALICE);
    s.add_user(BOB);
    let a = s.device(ALICE, "alicephone");
    let b = s.device(BOB, "bobphone");
    let r = send_mail(
        &a,
        &outgoing(ALICE, &[CAROL, BOB], &[], &[], "nowhere", "x"),
    );
    assert_eq!(compose_status(&r, cm::SEND_MAIL), "111");
    assert!(items_of_type(&a, SENT_ITEMS).is_empty());
    assert!(items_of_type(&b, INBOX).is_empty());
}

/// The delivery-status notification in `items` (Inbox items with their MIME): its
/// message/delivery-status part, after checking the report's shape.
#[track_caller]
fn delivery_status(items: &[(String, Element)], subject_line: &str) -> String {
    let (_, report) = with_subject(items, &format!("Undeliverable: {subject_line}"));
    let mime = body_text(report);
    let parsed = mail_parser::MessageParser::default()
        .parse(mime.as_bytes())
        .expect("the report parses");
    let ct = parsed.content_type().expect("Content-Type");
    assert_eq!(
        (ct.ctype(), ct.subtype(), ct.attribute("report-type")),
        ("multipart", Some("report"), Some("delivery-status")),
        "{mime}"
    );
    let status = parsed
        .parts
        .iter()
        .find(|p| {
            p.content_type()
                .is_some_and(|c| c.subtype() == Some("delivery-status"))
        })
        .unwrap_or_else(|| panic!("no message/delivery-status part: {mime}"));
    String::from_utf8_lossy(status.contents()).replace("\r\n", "\n")
}

#[test]
fn a_recipient_refused_for_good_gets_a_report_and_the_others_the_message() {
    let (sink, s) = setup();
    sink.refuse_recipient(CAROL, Some("550 5.1.1 <carol@remote.test>: no such user"));
    let a = s.device(ALICE, "alicephone");
    let b = s.device(BOB, "bobphone");
    let msg = outgoing(
        ALICE,
        &[CAROL, DAVE],
        &[BOB],
        &[],
        "partly refused",
        "Hi all.",
    );
    let cid = "client-id-refused-1";

    // Status 1: a permanent refusal is not "try again later".
    assert_sent(&send_mail_as(&a, cid, &msg));
    let relayed = sink.messages();
    assert_eq!(relayed.len(), 1, "{relayed:?}");
    assert_eq!(relayed[0].recipients, [DAVE]);
    assert_eq!(items_of_type(&b, INBOX).len(), 1);
    assert_eq!(items_of_type(&a, SENT_ITEMS).len(), 1);

    // The sender's Inbox holds the report, naming carol only.
    let inbox = items_of_type(&a, INBOX);
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    let status = delivery_status(&inbox, "partly refused");
    assert!(
        status.contains(
            "Final-Recipient: rfc822; carol@remote.test\nAction: failed\nStatus: 5.1.1\n"
        ),
        "{status}"
    );
    assert!(
        status.contains("Diagnostic-Code: smtp; 550 5.1.1 <carol@remote.test>: no such user"),
        "{status}"
    );
    assert!(!status.contains(DAVE), "{status}");

    // The phone resends (its answer was lost): nothing is sent or reported again.
    assert_sent(&send_mail_as(&a, cid, &msg));
    assert_eq!(sink.messages().len(), 1);
    assert_eq!(items_of_type(&a, INBOX).len(), 1);
}

#[test]
fn every_recipient_refused_is_reported_and_nothing_relayed() {
    let (sink, s) = setup();
    sink.refuse_recipient(CAROL, Some("550 5.1.1 no such user"));
    // A refusal without an enhanced status code.
    sink.refuse_recipient(DAVE, Some("553 mailbox name not allowed"));
    let a = s.device(ALICE, "alicephone");
    let msg = outgoing(ALICE, &[CAROL, DAVE], &[], &[], "nobody home", "x");
    assert_sent(&send_mail(&a, &msg));
    assert!(sink.messages().is_empty(), "{:?}", sink.messages());
    let status = delivery_status(&items_of_type(&a, INBOX), "nobody home");
    assert!(status.contains("rfc822; carol@remote.test\nAction: failed\nStatus: 5.1.1\n"));
    assert!(
        status.contains("rfc822; dave@remote.test\nAction: failed\nStatus: 5.0.0\n"),
        "{status}"
    );
    assert!(status.contains("Diagnostic-Code: smtp; 553 mailbox name not allowed"));
    // The message is in Sent Items as sent.
    assert_eq!(items_of_type(&a, SENT_ITEMS).len(), 1);
}

#[test]
fn a_temporary_refusal_of_one_recipient_is_111_and_sends_nothing() {
    let (sink, s) = setup();
    sink.refuse_recipient(CAROL, Some("450 4.2.1 mailbox busy, try later"));
    let a = s.device(ALICE, "alicephone");
    let msg = outgoing(ALICE, &[DAVE, CAROL], &[], &[], "busy", "x");
    let cid = "client-id-busy-1";
    let r = send_mail_as(&a, cid, &msg);
    assert_eq!(compose_status(&r, cm::SEND_MAIL), "111");
    // dave was accepted, but nothing went out: the retry must not reach him twice.
    assert!(sink.messages().is_empty(), "{:?}", sink.messages());
    assert!(items_of_type(&a, INBOX).is_empty());
    assert!(items_of_type(&a, SENT_ITEMS).is_empty());

    sink.refuse_recipient(CAROL, None);
    assert_sent(&send_mail_as(&a, cid, &msg));
    let relayed = sink.messages();
    assert_eq!(relayed.len(), 1);
    assert_eq!(relayed[0].recipients, [DAVE, CAROL]);
    assert!(items_of_type(&a, INBOX).is_empty());
}

#[test]
fn a_utf8_recipient_is_relayed_in_an_smtputf8_transaction() {
    let (sink, s) = setup();
    let a = s.device(ALICE, "alicephone");
    let jorg = "jörg@bücher.example";
    assert_sent(&send_mail(
        &a,
        &outgoing(ALICE, &[jorg, CAROL], &[], &[], "Grüße", "x"),
    ));
    let relayed = sink.messages();
    assert_eq!(relayed.len(), 1);
    // RFC 6531 3.4: the UTF-8 address travels only with MAIL ... SMTPUTF8.
    assert_eq!(relayed[0].from_parameters, "SMTPUTF8");
    assert_eq!(relayed[0].recipients, [jorg, CAROL]);
    // An all-ASCII envelope does not ask for it.
    assert_sent(&send_mail(
        &a,
        &outgoing(ALICE, &[CAROL], &[], &[], "plain", "x"),
    ));
    assert_eq!(sink.messages()[1].from_parameters, "");
}

#[test]
fn a_concurrent_resend_with_the_same_client_id_is_sent_once() {
    let (sink, s) = setup();
    let a = s.device(ALICE, "alicephone");
    // A slow relay: the phone gives up waiting and sends the message again.
    sink.set_data_delay(Duration::from_millis(1500));
    let msg = outgoing(ALICE, &[CAROL], &[], &[], "impatient", "x");
    let first = {
        let (a, msg) = (a.clone(), msg.clone());
        std::thread::spawn(move || send_mail_as(&a, "cid-concurrent", &msg))
    };
    // The second is sent while the first sits at the relay.
    wait_for("the first SendMail at the relay", || {
        sink.connections() == 1
    });
    let second = send_mail_as(&a, "cid-concurrent", &msg);
    let first = first.join().expect("first SendMail");
    first.expect_status(200);
    second.expect_status(200);
    assert_eq!(
        sink.messages().len(),
        1,
        "the same ClientId was relayed {} times",
        sink.messages().len()
    );
}

#[test]
fn no_recipients_is_119_and_a_malformed_request_is_101() {
    let (sink, s) = setup();
    let a = s.device(ALICE, "alicephone");

    let r = send_mail(&a, &outgoing(ALICE, &[], &[], &[], "to nobody", "x"));
    assert_eq!(compose_status(&r, cm::SEND_MAIL), "119");

    // No Mime.
    let r = a.post(
        "SendMail",
        Some(&compose(cm::SEND_MAIL, Some("c1"), true, None, false, None)),
    );
    assert_eq!(compose_status(&r, cm::SEND_MAIL), "101");
    // The wrong root element.
    let r = a.post(
        "SendMail",
        Some(&compose(
            cm::SMART_REPLY,
            Some("c2"),
            true,
            None,
            false,
            Some(&outgoing(ALICE, &[BOB], &[], &[], "s", "x")),
        )),
    );
    assert_eq!(compose_status(&r, cm::SEND_MAIL), "101");
    // A SmartReply without Source.
    let r = a.post(
        "SmartReply",
        Some(&compose(
            cm::SMART_REPLY,
            Some("c3"),
            true,
            None,
            false,
            Some(&outgoing(ALICE, &[BOB], &[], &[], "s", "x")),
        )),
    );
    assert_eq!(compose_status(&r, cm::SMART_REPLY), "101");

    assert!(sink.messages().is_empty());
    assert!(items_of_type(&a, SENT_ITEMS).is_empty());
}

// ---- 12.1: the raw message as the body --------------------------------------------------

/// POSTs `cmd` as a 12.1 device with `extra` query parameters and a message/rfc822 body.
fn post_mime(c: &EasClient, cmd: &str, extra: &str, mime: &[u8]) -> Resp {
    let query = format!("{}{extra}", c.query(cmd, None));
    c.post_raw(
        &query,
        &[("Content-Type", "message/rfc822".to_owned())],
        mime.to_vec(),
    )
}

#[test]
fn v12_1_send_mail_takes_the_raw_message_and_save_in_sent() {
    let (sink, s) = setup();
    let mut old = s.eas(ALICE, "oldphone").with_version("12.1");
    old.provision();
    let a = s.device(ALICE, "alicephone");
    let b = s.device(BOB, "bobphone");

    let r = post_mime(
        &old,
        "SendMail",
        "&SaveInSent=T",
        &outgoing(ALICE, &[BOB, CAROL], &[], &[], "from 12.1", "Old school."),
    );
    r.expect_status(200);
    assert!(r.body.is_empty(), "{:?}", r.text());
    let inbox = items_of_type(&b, INBOX);
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    assert_eq!(subject(&inbox[0].1), "from 12.1");
    assert_eq!(sink.messages().len(), 1);
    let sent = items_of_type(&a, SENT_ITEMS);
    assert_eq!(sent.len(), 1, "{sent:?}");

    // Without SaveInSent: delivered, not filed.
    let r = post_mime(
        &old,
        "SendMail",
        "",
        &outgoing(ALICE, &[BOB], &[], &[], "not filed", "x"),
    );
    r.expect_status(200);
    assert_eq!(items_of_type(&b, INBOX).len(), 2);
    assert_eq!(items_of_type(&a, SENT_ITEMS).len(), 1);

    // 12.x has no ComposeMail status: a relay failure is an HTTP error.
    sink.set_mode(SinkMode::FailData);
    let r = post_mime(
        &old,
        "SendMail",
        "",
        &outgoing(ALICE, &[CAROL], &[], &[], "relay down", "x"),
    );
    assert_eq!(r.status, 503, "{r:?}");
}

#[test]
fn v12_1_smart_reply_names_the_original_in_the_query() {
    let (_sink, s) = setup();
    let a = s.device(ALICE, "alicephone");
    let b = s.device(BOB, "bobphone");
    let mut old = s.eas(ALICE, "oldphone").with_version("12.1");
    old.provision();
    let (inbox, id) = original_from_bob(&s, &a, "the plan");

    let r = post_mime(
        &old,
        "SmartReply",
        &format!("&ItemId={id}&CollectionId={inbox}&SaveInSent=T"),
        &outgoing(ALICE, &[BOB], &[], &[], "RE: the plan", "Agreed."),
    );
    r.expect_status(200);
    assert!(r.body.is_empty(), "{:?}", r.text());

    let got = items_of_type(&b, INBOX);
    assert_eq!(got.len(), 1, "{got:?}");
    let mime = body_text(&got[0].1);
    assert!(mime.contains("Agreed."), "{mime}");
    assert!(mime.contains("> line one"), "original not quoted: {mime}");
    assert_eq!(items_of_type(&a, SENT_ITEMS).len(), 1);
}

// ---- SmartReply / SmartForward ------------------------------------------------------------

#[test]
fn smart_reply_quotes_the_original_and_marks_it_replied() {
    let (_sink, s) = setup();
    let a = s.device(ALICE, "alicephone");
    let b = s.device(BOB, "bobphone");
    let (inbox, id) = original_from_bob(&s, &a, "the plan");

    let r = a.post(
        "SmartReply",
        Some(&compose(
            cm::SMART_REPLY,
            Some(&unique_token()),
            true,
            Some(source(&inbox, &id)),
            false,
            Some(&outgoing(
                ALICE,
                &[BOB],
                &[],
                &[],
                "RE: the plan",
                "Sounds good.",
            )),
        )),
    );
    assert_sent(&r);

    let got = items_of_type(&b, INBOX);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(subject(&got[0].1), "RE: the plan");
    let mime = body_text(&got[0].1);
    let reply = mime.replace("\r\n", "\n");
    let own = reply
        .find("Sounds good.")
        .unwrap_or_else(|| panic!("{mime}"));
    let quoted = reply
        .find("> line one\n> line two")
        .unwrap_or_else(|| panic!("original not quoted: {mime}"));
    assert!(own < quoted, "client text after the quote: {mime}");
    let sent = items_of_type(&a, SENT_ITEMS);
    assert!(body_text(&sent[0].1).contains("> line one"));

    // The original is marked as replied to (LastVerbExecuted 1) for a full fetch and for a
    // device that syncs it for the first time.
    let props = a.fetch_item(&id, None);
    assert_eq!(
        props.text_of(em2::LAST_VERB_EXECUTED),
        Some("1"),
        "{props:?}"
    );
    assert!(
        props.find(em2::LAST_VERB_EXECUTION_TIME).is_some(),
        "{props:?}"
    );
    let fresh = s.device(ALICE, "tablet");
    let items = items_of(&fresh, &inbox);
    let (_, data) = with_subject(&items, "the plan");
    assert_eq!(data.text_of(em2::LAST_VERB_EXECUTED), Some("1"), "{data:?}");
}

#[test]
fn last_verb_executed_reaches_another_device_in_a_sync_change() {
    let (_sink, s) = setup();
    let a = s.device(ALICE, "alicephone");
    let (inbox, id) = original_from_bob(&s, &a, "the plan");
    let other = s.device(ALICE, "tablet");
    let k = other.sync_init(&inbox);
    let (k, adds) = other.sync_all(SyncColl::new(&inbox, &k).window(512));
    assert_eq!(adds.len(), 1);

    let r = a.post(
        "SmartReply",
        Some(&compose(
            cm::SMART_REPLY,
            Some(&unique_token()),
            false,
            Some(source(&inbox, &id)),
            false,
            Some(&outgoing(ALICE, &[BOB], &[], &[], "RE: the plan", "ok")),
        )),
    );
    assert_sent(&r);
    let out = other.sync1(&SyncColl::new(&inbox, &k).window(512));
    out.ok_key();
    assert_eq!(
        out.changes.len(),
        1,
        "no Change for the replied-to item: {:?}",
        out.raw
    );
    let (sid, data) = &out.changes[0];
    assert_eq!(sid, &id);
    assert_eq!(
        data.text_of(em2::LAST_VERB_EXECUTED),
        Some("1"),
        "Change without LastVerbExecuted: {data:?}"
    );
}

#[test]
fn reply_all_and_forward_set_last_verb_2_and_3() {
    let (_sink, s) = setup();
    let a = s.device(ALICE, "alicephone");
    let (inbox, first) = original_from_bob(&s, &a, "first");
    let (_, second) = original_from_bob(&s, &a, "second");

    let r = a.post(
        "SmartReply",
        Some(&compose(
            cm::SMART_REPLY,
            Some(&unique_token()),
            false,
            Some(source(&inbox, &first)),
            false,
            Some(&outgoing(
                ALICE,
                &[BOB, CAROL],
                &[],
                &[],
                "RE: first",
                "all",
            )),
        )),
    );
    assert_sent(&r);
    let r = a.post(
        "SmartForward",
        Some(&compose(
            cm::SMART_FORWARD,
            Some(&unique_token()),
            false,
            Some(source(&inbox, &second)),
            false,
            Some(&outgoing(ALICE, &[BOB], &[], &[], "FW: second", "fyi")),
        )),
    );
    assert_sent(&r);
    let verb = |id: &str| {
        a.fetch_item(id, None)
            .text_of(em2::LAST_VERB_EXECUTED)
            .map(str::to_owned)
    };
    assert_eq!(verb(&first).as_deref(), Some("2"));
    assert_eq!(verb(&second).as_deref(), Some("3"));
}

#[test]
fn smart_forward_carries_the_original_attachments() {
    let (sink, s) = setup();
    let a = s.device(ALICE, "alicephone");
    let b = s.device(BOB, "bobphone");
    let bytes: Vec<u8> = (0..2000u32).map(|i| (i * 13 % 251) as u8).collect();
    s.deliver(
        &[ALICE],
        &message_with_attachment(BOB, ALICE, "with plan", "plan.bin", &bytes),
    );
    let inbox = a.folder_of_type(INBOX);
    let items = items_of(&a, &inbox);
    let id = with_subject(&items, "with plan").0.clone();

    let r = a.post(
        "SmartForward",
        Some(&compose(
            cm::SMART_FORWARD,
            Some(&unique_token()),
            true,
            Some(source(&inbox, &id)),
            false,
            Some(&outgoing(
                ALICE,
                &[BOB, CAROL],
                &[],
                &[],
                "FW: with plan",
                "See below.",
            )),
        )),
    );
    assert_sent(&r);

    // bob's copy has the client's text, the original text and the attachment.
    let b_inbox = b.folder_of_type(INBOX);
    let k = b.sync_init(&b_inbox);
    let (_, got) = b.sync_all(SyncColl::new(&b_inbox, &k).window(512).body(1, None));
    assert_eq!(got.len(), 1, "{got:?}");
    let data = &got[0].1;
    assert_eq!(subject(data), "FW: with plan");
    let body = body_text(data);
    assert!(body.contains("See below."), "{body}");
    assert!(body.contains("The plan is attached."), "{body}");
    let atts: Vec<&Element> = data
        .find(asb::ATTACHMENTS)
        .unwrap_or_else(|| panic!("no Attachments in the forward: {data:?}"))
        .find_all(asb::ATTACHMENT)
        .collect();
    assert_eq!(atts.len(), 1, "{data:?}");
    assert_eq!(text(atts[0], asb::DISPLAY_NAME), "plan.bin");
    let file_ref = text(atts[0], asb::FILE_REFERENCE);
    assert_eq!(
        b.fetch_attachment(file_ref),
        ("1".to_owned(), Some(bytes.clone())),
        "the forwarded attachment differs"
    );

    // The relayed copy carries it too.
    let msgs = sink.messages();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].recipients, [CAROL]);
    assert!(msgs[0].text().contains("plan.bin"), "{}", msgs[0].text());
}

#[test]
fn replace_mime_sends_the_clients_message_as_is() {
    let (_sink, s) = setup();
    let a = s.device(ALICE, "alicephone");
    let b = s.device(BOB, "bobphone");
    let (inbox, id) = original_from_bob(&s, &a, "the plan");

    let r = a.post(
        "SmartReply",
        Some(&compose(
            cm::SMART_REPLY,
            Some(&unique_token()),
            false,
            Some(source(&inbox, &id)),
            true,
            Some(&outgoing(
                ALICE,
                &[BOB],
                &[],
                &[],
                "RE: the plan",
                "My own complete reply, quoting nothing.",
            )),
        )),
    );
    assert_sent(&r);
    let got = items_of_type(&b, INBOX);
    assert_eq!(got.len(), 1, "{got:?}");
    let mime = body_text(&got[0].1);
    assert!(
        mime.contains("My own complete reply, quoting nothing."),
        "{mime}"
    );
    assert!(!mime.contains("line one"), "the original was added: {mime}");
    assert!(!mime.contains("Original Message"), "{mime}");
    // Still a reply: the original is marked.
    assert_eq!(
        a.fetch_item(&id, None).text_of(em2::LAST_VERB_EXECUTED),
        Some("1")
    );
}

#[test]
fn an_unknown_source_is_150() {
    let (sink, s) = setup();
    let a = s.device(ALICE, "alicephone");
    let (inbox, _) = original_from_bob(&s, &a, "the plan");
    let msg = outgoing(ALICE, &[CAROL], &[], &[], "RE: ghost", "x");
    for (cmd, root) in [
        ("SmartReply", cm::SMART_REPLY),
        ("SmartForward", cm::SMART_FORWARD),
    ] {
        let r = a.post(
            cmd,
            Some(&compose(
                root,
                Some(&unique_token()),
                true,
                Some(source(&inbox, &format!("{inbox}:99999"))),
                false,
                Some(&msg),
            )),
        );
        assert_eq!(compose_status(&r, root), "150", "{cmd}");
    }
    // By LongId too.
    let r = a.post(
        "SmartReply",
        Some(&compose(
            cm::SMART_REPLY,
            Some(&unique_token()),
            true,
            Some(Element::new(cm::SOURCE).text_child(cm::LONG_ID, format!("{inbox}:88888"))),
            false,
            Some(&msg),
        )),
    );
    assert_eq!(compose_status(&r, cm::SMART_REPLY), "150");
    assert!(sink.messages().is_empty());
    assert!(items_of_type(&a, SENT_ITEMS).is_empty());
}

// ---- SmartReply / SmartForward keep the message as written --------------------------------

/// `tests/fixtures/mail/smart-original.eml` from bob: `text` (in `charset`) as its text
/// and HTML alternatives, an inline image the HTML shows (cid:logo@x), a PDF and a
/// forwarded message; Message-ID `<subject@test.example>`.
fn smart_original(subject: &str, charset: &str, text: &[u8]) -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/mail/smart-original.eml"
    );
    let mut raw = std::fs::read(path).expect(path);
    for (from, to) in [
        (&b"{SUBJECT}"[..], subject.as_bytes()),
        (b"{CHARSET}", charset.as_bytes()),
        (b"{TEXT}", text),
    ] {
        while let Some(at) = raw.windows(from.len()).position(|w| w == from) {
            raw.splice(at..at + from.len(), to.iter().copied());
        }
    }
    raw
}

/// Originals in several charsets: (charset, the text in it, the text decoded).
const CHARSETS: [(&str, &[u8], &str); 6] = [
    ("iso-8859-1", b"Sch\xf6ne Gr\xfc\xdfe", "Schöne Grüße"),
    ("windows-1252", b"caf\xe9 \x80 5", "café € 5"),
    (
        "windows-1251",
        b"\xcf\xf0\xe8\xe2\xe5\xf2, \xec\xe8\xf0",
        "Привет, мир",
    ),
    (
        "shift_jis",
        b"\x83n\x83\x8D\x81[\x81E\x83\x8F\x81[\x83\x8B\x83h",
        "ハロー・ワールド",
    ),
    (
        "gb18030",
        b"\xc4\xe3\xba\xc3\xa3\xac\xca\xc0\xbd\xe7",
        "你好，世界",
    ),
    ("utf-8", "Grüße 👋".as_bytes(), "Grüße 👋"),
];

/// What iOS sends for a reply: text and HTML alternatives, quoting nothing.
fn html_client(to: &[&str], subject: &str) -> Vec<u8> {
    format!(
        "From: Alice <{ALICE}>\r\nTo: {}\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/alternative; boundary=\"ios\"\r\n\r\n\
         --ios\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nAgreed, thanks.\r\n\
         --ios\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><head></head><body>\
         <div dir=\"ltr\"><b>Agreed</b>, thanks.</div><div>Sent from my iPhone</div>\
         </body></html>\r\n--ios--\r\n",
        to.join(", ")
    )
    .into_bytes()
}

/// What [`smart_in_every_charset`] sent and where it went.
struct SmartRun {
    /// Per charset: the original's Subject, the sent message's, the charset, the text.
    cases: Vec<(String, String, &'static str, &'static str)>,
    msgs: Vec<SmtpMessage>,
    /// alice's Sent Items and bob's Inbox.
    sent: Vec<(String, Element)>,
    got: Vec<(String, Element)>,
    bob: EasClient,
    _server: TestServer,
}

/// Delivers to alice one original (smart-original.eml) per charset, then answers each
/// with `cmd` from her phone as iOS writes it: to bob (local) and carol (relayed),
/// Subject `{prefix}: {original's}`, saved in Sent Items.
fn smart_in_every_charset(cmd: &str, prefix: &str) -> SmartRun {
    let (sink, s) = setup();
    let a = s.device(ALICE, "alicephone");
    let bob = s.device(BOB, "bobphone");
    for (n, (charset, bytes, _)) in CHARSETS.iter().enumerate() {
        s.deliver(
            &[ALICE],
            &smart_original(&format!("orig{n}"), charset, bytes),
        );
    }
    let inbox = a.folder_of_type(INBOX);
    let items = items_of(&a, &inbox);
    let mut cases = Vec::new();
    for (n, (charset, _, text)) in CHARSETS.into_iter().enumerate() {
        let subject = format!("orig{n}");
        let id = &with_subject(&items, &subject).0;
        let new_subject = format!("{prefix}: {subject}");
        let mime = html_client(&[BOB, CAROL], &new_subject);
        assert_sent(&smart_command(&a, cmd, &inbox, id, &mime));
        cases.push((subject, new_subject, charset, text));
    }
    let msgs = sink.messages();
    assert_eq!(msgs.len(), CHARSETS.len(), "{msgs:?}");
    SmartRun {
        cases,
        msgs,
        sent: items_of_type(&a, SENT_ITEMS),
        got: items_of_type(&bob, INBOX),
        bob,
        _server: s,
    }
}

/// A Smart command with a fresh ClientId, saving in Sent Items.
fn smart_command(c: &EasClient, cmd: &str, inbox: &str, id: &str, mime: &[u8]) -> Resp {
    let root = if cmd == "SmartReply" {
        cm::SMART_REPLY
    } else {
        cm::SMART_FORWARD
    };
    c.post(
        cmd,
        Some(&compose(
            root,
            Some(&unique_token()),
            true,
            Some(source(inbox, id)),
            false,
            Some(mime),
        )),
    )
}

/// The relayed message with Subject `subject`, parsed; and its bytes.
#[track_caller]
fn relayed<'a>(msgs: &'a [SmtpMessage], subject: &str) -> (mail_parser::Message<'a>, &'a [u8]) {
    msgs.iter()
        .find_map(|m| {
            let parsed = mail_parser::MessageParser::default().parse(&m.data)?;
            (parsed.subject() == Some(subject)).then_some((parsed, &m.data[..]))
        })
        .unwrap_or_else(|| panic!("nothing relayed with Subject {subject:?}"))
}

/// The Sent Items copy and the copy a local recipient got are the relayed message, byte
/// for byte.
#[track_caller]
fn same_everywhere(
    sent: &[(String, Element)],
    got: &[(String, Element)],
    subject: &str,
    relayed: &[u8],
) {
    let relayed = std::str::from_utf8(relayed).expect("the relayed message is UTF-8");
    assert_eq!(
        body_text(&with_subject(sent, subject).1),
        relayed,
        "Sent Items copy"
    );
    assert_eq!(
        body_text(&with_subject(got, subject).1),
        relayed,
        "bob's copy"
    );
}

#[test]
fn smart_reply_to_html_originals_in_several_charsets_keeps_html_and_inline_images() {
    let run = smart_in_every_charset("SmartReply", "RE");
    for (subject, reply, charset, text) in &run.cases {
        let (m, bytes) = relayed(&run.msgs, reply);
        let what = format!("{charset}: {}", String::from_utf8_lossy(bytes));
        assert_eq!(
            m.in_reply_to().as_text(),
            Some(format!("{subject}@test.example").as_str()),
            "{what}"
        );
        // HTML: the client's own, the original's header block, then its body.
        let html = m.body_html(0).unwrap_or_else(|| panic!("no HTML: {what}"));
        let own = html.find("<b>Agreed</b>, thanks.").expect(&what);
        let signature = html.find("Sent from my iPhone").expect(&what);
        let block = html
            .find(&format!("<b>Subject:</b> {subject}"))
            .expect(&what);
        let original = html.find(&format!("<p>{text}</p>")).expect(&what);
        assert!(
            own < signature && signature < block && block < original,
            "{what}"
        );
        assert!(
            html.contains("<b>From:</b>") && html.contains("<b>Sent:</b>"),
            "{what}"
        );
        assert!(html.contains("bob@example.com"), "{what}");
        // Text: the client's, then the quoted original.
        let plain = m.body_text(0).expect(&what);
        assert!(plain.starts_with("Agreed, thanks."), "{what}");
        assert!(plain.contains(&format!("> {text}")), "{what}");
        // The inline image the HTML shows comes along, beside the HTML; the attachments
        // of the original do not (a reply).
        let atts: Vec<_> = m.attachments().collect();
        assert_eq!(atts.len(), 1, "{what}");
        assert_eq!(atts[0].content_id(), Some("logo@x"), "{what}");
        assert_eq!(atts[0].contents(), b"\x89PNG\r\n\x1a\n", "{what}");
        assert!(html.contains("src=\"cid:logo@x\""), "{what}");
        assert!(
            String::from_utf8_lossy(bytes).contains("multipart/related"),
            "{what}"
        );
        same_everywhere(&run.sent, &run.got, reply, bytes);
    }
}

#[test]
fn smart_forward_carries_attachments_inline_images_and_a_forwarded_message() {
    let run = smart_in_every_charset("SmartForward", "FW");
    for (_, forward, charset, text) in &run.cases {
        let (m, bytes) = relayed(&run.msgs, forward);
        let what = format!("{charset}: {}", String::from_utf8_lossy(bytes));
        assert!(m.in_reply_to().is_empty(), "{what}");
        let html = m.body_html(0).expect(&what);
        assert!(html.contains(&format!("<p>{text}</p>")), "{what}");
        let plain = m.body_text(0).expect(&what);
        assert!(
            plain.contains(&format!("\n{text}")),
            "not as written: {what}"
        );
        let names: Vec<_> = m
            .attachments()
            .map(|p| p.attachment_name().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(names, ["logo.png", "plan.pdf", "earlier.eml"], "{what}");
        let pdf = m.attachment(1).expect(&what);
        assert_eq!(pdf.contents(), b"%PDF-", "{what}");
        let nested = m.attachment(2).expect(&what);
        assert!(
            nested.is_message(),
            "the forwarded message became a file: {what}"
        );
        assert_eq!(nested.message().and_then(|n| n.subject()), Some("earlier"));
        same_everywhere(&run.sent, &run.got, forward, bytes);
    }

    // bob's device sees the forward's attachments, and the PDF downloads intact.
    let (_, data) = with_subject(&run.got, "FW: orig0");
    let atts: Vec<&Element> = data
        .find(asb::ATTACHMENTS)
        .unwrap_or_else(|| panic!("no Attachments: {data:?}"))
        .find_all(asb::ATTACHMENT)
        .collect();
    let pdf = atts
        .iter()
        .find(|a| text(a, asb::DISPLAY_NAME) == "plan.pdf")
        .unwrap_or_else(|| panic!("{atts:?}"));
    assert_eq!(
        run.bob.fetch_attachment(text(pdf, asb::FILE_REFERENCE)),
        ("1".to_owned(), Some(b"%PDF-".to_vec()))
    );
}

#[test]
fn a_text_smart_reply_to_an_html_original_stays_text() {
    let (sink, s) = setup();
    let a = s.device(ALICE, "alicephone");
    let (charset, bytes, decoded) = CHARSETS[3];
    s.deliver(&[ALICE], &smart_original("orig", charset, bytes));
    let inbox = a.folder_of_type(INBOX);
    let id = with_subject(&items_of(&a, &inbox), "orig").0.clone();
    let mime = outgoing(ALICE, &[CAROL], &[], &[], "RE: plain", "Fine by me.");
    assert_sent(&smart_command(&a, "SmartReply", &inbox, &id, &mime));
    let msgs = sink.messages();
    let (m, bytes) = relayed(&msgs, "RE: plain");
    let what = String::from_utf8_lossy(bytes);
    assert!(
        m.parts.iter().all(|p| !p.is_text_html()),
        "HTML in a text reply: {what}"
    );
    assert_eq!(m.attachment_count(), 0, "{what}");
    let plain = m.body_text(0).expect("text");
    assert!(plain.starts_with("Fine by me."), "{plain}");
    assert!(plain.contains("Subject: orig"), "{plain}");
    assert!(plain.contains(&format!("> {decoded}")), "{plain}");
}

#[test]
fn a_smart_command_whose_mime_is_not_a_message_is_107() {
    let (sink, s) = setup();
    let a = s.device(ALICE, "alicephone");
    let (inbox, id) = original_from_bob(&s, &a, "the plan");
    for (cmd, root) in [
        ("SmartReply", cm::SMART_REPLY),
        ("SmartForward", cm::SMART_FORWARD),
    ] {
        for mime in [&b"\x00\x01\x02 not a message"[..], b"just words, no header"] {
            let r = smart_command(&a, cmd, &inbox, &id, mime);
            assert_eq!(compose_status(&r, root), "107", "{cmd} {mime:?}");
        }
    }
    assert!(sink.messages().is_empty());
    assert!(items_of_type(&a, SENT_ITEMS).is_empty());
}
