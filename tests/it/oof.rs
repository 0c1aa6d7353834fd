//! Out-of-office auto-replies: Oof set through Settings, messages delivered over LMTP,
//! replies found in the local sender's Inbox or at the SMTP relay (RFC 3834 rules).

use std::time::{Duration, Instant};

use crate::support::*;
use easd::wbxml::Element;
use easd::wbxml::tag::{airsync as air, airsyncbase as asb, email as em, settings as st};

const ALICE: &str = "alice@example.com";
const BOB: &str = "bob@example.com";
const INBOX: u8 = 2;

/// Sets Alice's Oof: `state` 0/1/2 with an optional window; internal and external
/// messages differ so that the choice shows.
fn set_oof(c: &EasClient, state: u8, window: Option<(&str, &str)>) {
    let mut set = Element::new(st::SET).text_child(st::OOF_STATE, state.to_string());
    if let Some((start, end)) = window {
        set.push_text(st::START_TIME, start);
        set.push_text(st::END_TIME, end);
    }
    for (applies, reply) in [
        (st::APPLIES_TO_INTERNAL, "Away (internal)."),
        (st::APPLIES_TO_EXTERNAL_KNOWN, "Away (known)."),
        (st::APPLIES_TO_EXTERNAL_UNKNOWN, "Away (external)."),
    ] {
        set.push(
            Element::new(st::OOF_MESSAGE)
                .child(Element::new(applies))
                .text_child(st::ENABLED, "1")
                .text_child(st::REPLY_MESSAGE, reply)
                .text_child(st::BODY_TYPE, "Text"),
        );
    }
    let r = c.call(
        "Settings",
        &Element::new(st::SETTINGS).child(Element::new(st::OOF).child(set)),
    );
    assert_eq!(
        text(r.find(st::OOF).expect("Oof"), st::STATUS),
        "1",
        "{r:?}"
    );
}

/// Delivers `message` from the envelope sender `from` to Alice.
fn deliver_from(s: &TestServer, from: &str, message: &[u8]) {
    let mut c = s.lmtp();
    let (rcpt, data) = c.send(from, &[ALICE], message);
    assert!(
        rcpt.iter().chain(&data).all(|r| r.code == 250),
        "{rcpt:?} {data:?}"
    );
    c.quit();
}

/// Waits until the out-of-office replies of `n` deliveries have been decided (sent or not
/// owed), as `easd status` counts them.
fn decided(s: &TestServer, n: u64) {
    wait_for(&format!("{n} out-of-office decisions"), || {
        s.status_json()["out_of_office"]["decided"].as_u64() >= Some(n)
    });
}

/// Out-of-office replies sent so far.
fn sent(s: &TestServer) -> u64 {
    s.status_json()["out_of_office"]["sent"]
        .as_u64()
        .expect("out_of_office.sent in easd status")
}

fn message(from: &str, to: &str, extra: &str) -> Vec<u8> {
    format!(
        "From: <{from}>\r\nTo: <{to}>\r\nSubject: hello\r\n\
         Message-ID: <{}@test.example>\r\n{extra}\r\nAre you there?\r\n",
        unique_token()
    )
    .into_bytes()
}

/// Bob's Inbox messages as (subject, MIME) after waiting up to `wait` for `count` of them.
fn bob_inbox(b: &EasClient, count: usize, wait: Duration) -> Vec<(String, String)> {
    let inbox = b.folder_of_type(INBOX);
    let deadline = Instant::now() + wait;
    loop {
        let key = b.sync_init(&inbox);
        // The raw MIME as the body (Type 4, MIMESupport 2).
        let mut coll = SyncColl::new(&inbox, &key)
            .window(100)
            .body(4, None)
            .element();
        coll.find_mut(air::OPTIONS)
            .expect("Options")
            .push_text(air::MIME_SUPPORT, "2");
        let r = b.call(
            "Sync",
            &Element::new(air::SYNC).child(Element::new(air::COLLECTIONS).child(coll)),
        );
        let out = SyncOut::parse(
            r.find_path(&[air::COLLECTIONS, air::COLLECTION])
                .unwrap_or_else(|| panic!("no Collection in {r:?}")),
        );
        let got: Vec<(String, String)> = out
            .adds
            .iter()
            .map(|(_, d)| {
                let mime = d.find(asb::BODY).and_then(|b| b.text_of(asb::DATA));
                (
                    d.text_of(em::SUBJECT).unwrap_or("").to_owned(),
                    mime.unwrap_or("").to_owned(),
                )
            })
            .collect();
        if got.len() >= count || Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until the sink holds `count` messages.
#[track_caller]
fn relayed(sink: &SmtpSink, count: usize) {
    wait_for(&format!("{count} messages at the relay"), || {
        sink.messages().len() >= count
    });
}

fn setup() -> (SmtpSink, TestServer, EasClient, EasClient) {
    let sink = SmtpSink::start();
    let s = start_server(|c| sink.configure(c));
    s.add_user(ALICE);
    s.add_user(BOB);
    let mut a = s.eas(ALICE, "oofa");
    a.provision();
    let mut b = s.eas(BOB, "oofb");
    b.provision();
    (sink, s, a, b)
}

#[test]
fn a_local_sender_gets_one_internal_reply_per_week() {
    let (sink, s, a, b) = setup();
    set_oof(&a, 1, None);
    deliver_from(&s, BOB, &message(BOB, ALICE, ""));
    let inbox = bob_inbox(&b, 1, Duration::from_secs(10));
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    let (subject, mime) = &inbox[0];
    assert_eq!(subject, "Automatic reply: hello");
    assert!(mime.contains("Auto-Submitted: auto-replied"), "{mime}");
    assert!(mime.contains("In-Reply-To: <"), "{mime}");
    assert!(mime.contains("Away (internal)."), "{mime}");
    assert!(mime.contains(ALICE), "{mime}");

    // Within 7 days: no second reply.
    deliver_from(&s, BOB, &message(BOB, ALICE, ""));
    decided(&s, 2);
    assert_eq!(sent(&s), 1);
    assert_eq!(bob_inbox(&b, 2, Duration::ZERO).len(), 1);
    assert!(sink.messages().is_empty());
}

#[test]
fn automatic_list_and_blind_traffic_gets_no_reply_but_a_remote_sender_does() {
    let (sink, s, a, _b) = setup();
    set_oof(&a, 1, None);
    let cases = [
        ("list@remote.test", "List-Id: <news.remote.test>\r\n", ALICE),
        (
            "unsub@remote.test",
            "List-Unsubscribe: <mailto:u@remote.test>\r\n",
            ALICE,
        ),
        ("bulk@remote.test", "Precedence: bulk\r\n", ALICE),
        (
            "auto@remote.test",
            "Auto-Submitted: auto-generated\r\n",
            ALICE,
        ),
        ("noreply@remote.test", "", ALICE),
        ("MAILER-DAEMON@remote.test", "", ALICE),
        ("bcc@remote.test", "", "someone@remote.test"),
    ];
    for (from, extra, to) in cases {
        deliver_from(&s, from, &message(from, to, extra));
    }
    deliver_from(&s, "", &message("bounce@remote.test", ALICE, ""));

    // A plain message from a remote sender: the external reply goes to the relay.
    let carol = "carol@remote.test";
    deliver_from(&s, carol, &message(carol, ALICE, ""));
    decided(&s, cases.len() as u64 + 2);
    assert_eq!(sent(&s), 1);
    relayed(&sink, 1);
    let got = sink.messages();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].recipients, [carol]);
    assert_eq!(got[0].from, "", "null return path (RFC 3834 3.3)");
    let text = got[0].text();
    assert!(text.contains("Subject: Automatic reply: hello"), "{text}");
    assert!(text.contains("Auto-Submitted: auto-replied"), "{text}");
    assert!(text.contains("Away (external)."), "{text}");
}

#[test]
fn oof_off_or_outside_its_window_sends_nothing() {
    let (sink, s, a, _b) = setup();
    set_oof(&a, 0, None);
    deliver_from(
        &s,
        "off@remote.test",
        &message("off@remote.test", ALICE, ""),
    );
    set_oof(
        &a,
        2,
        Some(("2020-01-01T00:00:00.000Z", "2020-01-08T00:00:00.000Z")),
    );
    deliver_from(
        &s,
        "past@remote.test",
        &message("past@remote.test", ALICE, ""),
    );
    // Inside the window: a reply, which also shows the two before had their chance.
    set_oof(
        &a,
        2,
        Some(("2020-01-01T00:00:00.000Z", "2099-01-01T00:00:00.000Z")),
    );
    deliver_from(
        &s,
        "now@remote.test",
        &message("now@remote.test", ALICE, ""),
    );
    decided(&s, 3);
    assert_eq!(sent(&s), 1);
    relayed(&sink, 1);
    let got = sink.messages();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].recipients, ["now@remote.test"]);
}
