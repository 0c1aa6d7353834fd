//! Server-side effects of a device's security policy ([MS-ASPROV] 2.2.2): easd itself keeps
//! to the mail age window, the body truncation sizes, HTML off, attachments off and the
//! attachment size limit, in Sync, GetItemEstimate, ItemOperations and Search alike —
//! whatever the device asks for.
//!
//! Each policy is set with the admin operations (`easd policy set`) before the device
//! provisions, on the level the test names.

use crate::support::*;
use easd::wbxml::Element;
use easd::wbxml::tag::{airsync as air, airsyncbase as asb, email as em, getitemestimate as gie};

const ALICE: &str = "alice@example.com";
const INBOX: u8 = 2;
const DAY: i64 = 86_400;

// ---- helpers ----------------------------------------------------------------------------

fn server() -> TestServer {
    let s = start_server(|_| {});
    s.add_user(ALICE);
    s
}

/// A provisioned device of alice (provisioned after the policy is set, so it holds it).
fn device(s: &TestServer, device_id: &str) -> EasClient {
    let mut c = s.eas(ALICE, device_id);
    c.provision();
    c
}

/// Every Add of the Inbox from key 0, asking for body `kind` (untruncated) and FilterType
/// `filter` when given.
fn inbox_adds(c: &EasClient, kind: u8, filter: Option<u8>) -> Vec<(String, Element)> {
    let inbox = c.folder_of_type(INBOX);
    let mut coll = SyncColl::new(&inbox, &c.sync_init(&inbox))
        .window(512)
        .body(kind, None);
    coll.filter = filter;
    c.sync_all(coll).1
}

/// The ApplicationData of the Add with `subject`.
#[track_caller]
fn data_of<'a>(adds: &'a [(String, Element)], subject: &str) -> &'a Element {
    &adds
        .iter()
        .find(|(_, d)| d.text_of(em::SUBJECT) == Some(subject))
        .unwrap_or_else(|| panic!("no {subject:?} in {adds:?}"))
        .1
}

fn subjects(adds: &[(String, Element)]) -> Vec<&str> {
    let mut v: Vec<&str> = adds.iter().map(|(_, d)| text(d, em::SUBJECT)).collect();
    v.sort_unstable();
    v
}

/// (Type, Truncated, EstimatedDataSize, Data length) of an ApplicationData's Body.
fn body(data: &Element) -> (String, String, usize, Option<usize>) {
    let b = data
        .find(asb::BODY)
        .unwrap_or_else(|| panic!("no Body in {data:?}"));
    (
        text(b, asb::TYPE).to_owned(),
        text(b, asb::TRUNCATED).to_owned(),
        text(b, asb::ESTIMATED_DATA_SIZE).parse().expect("a size"),
        b.text_of(asb::DATA).map(str::len),
    )
}

/// GetItemEstimate (14.1 form) for a collection at `key`, FilterType `filter` if given.
fn estimate(c: &EasClient, folder: &str, key: &str, filter: Option<u8>) -> usize {
    let mut coll = Element::new(gie::COLLECTION)
        .text_child(air::SYNC_KEY, key)
        .text_child(gie::COLLECTION_ID, folder);
    if let Some(f) = filter {
        coll.push(Element::new(air::OPTIONS).text_child(air::FILTER_TYPE, f.to_string()));
    }
    let r = c.call(
        "GetItemEstimate",
        &Element::new(gie::GET_ITEM_ESTIMATE).child(Element::new(gie::COLLECTIONS).child(coll)),
    );
    let resp = r.find(gie::RESPONSE).expect("Response");
    assert_eq!(resp.text_of(gie::STATUS), Some("1"), "{r:?}");
    text(
        resp.find(gie::COLLECTION).expect("Collection"),
        gie::ESTIMATE,
    )
    .parse()
    .expect("a number")
}

// ---- MaxEmailAgeFilter -----------------------------------------------------------------

#[test]
fn max_email_age_filter_caps_the_window_in_sync_and_estimate() {
    let mut s = server();
    s.deliver_text(ALICE, "today", "x");
    s.store_in_the_past(
        ALICE,
        &[
            (text_message("a@b.test", ALICE, "two days", "x"), 2 * DAY),
            (text_message("a@b.test", ALICE, "ten days", "x"), 10 * DAY),
        ],
    );
    let free = device(&s, "free");
    assert_eq!(
        subjects(&inbox_adds(&free, 1, Some(0))),
        ["ten days", "today", "two days"]
    );

    s.set_policy(&format!("user:{ALICE}"), &[("MaxEmailAgeFilter", "3")]);
    let c = device(&s, "capped");
    // All mail (FilterType 0), and no FilterType at all: the week the policy allows.
    assert_eq!(subjects(&inbox_adds(&c, 1, Some(0))), ["today", "two days"]);
    assert_eq!(subjects(&inbox_adds(&c, 1, None)), ["today", "two days"]);
    // A narrower window than the policy's is kept.
    assert_eq!(subjects(&inbox_adds(&c, 1, Some(1))), ["today"]);

    // GetItemEstimate counts in the same capped window.
    let inbox = c.folder_of_type(INBOX);
    let key = c.sync1(&SyncColl::new(&inbox, "0").filter(0)).ok_key();
    assert_eq!(estimate(&c, &inbox, &key, Some(0)), 2);
    assert_eq!(estimate(&c, &inbox, &key, Some(1)), 1);
    let out = c.sync1(&SyncColl::new(&inbox, &key).window(512).filter(0));
    assert_eq!(out.adds.len(), 2, "{:?}", out.raw);
    assert_eq!(estimate(&c, &inbox, &out.ok_key(), None), 0);
}

// ---- truncation ------------------------------------------------------------------------

#[test]
fn body_truncation_sizes_cap_what_is_sent() {
    let s = server();
    let long = "a".repeat(3000);
    s.deliver_text(ALICE, "long", &long);
    let free = device(&s, "free");
    let (kind, truncated, full, sent) = body(data_of(&inbox_adds(&free, 1, None), "long"));
    assert_eq!(
        (kind.as_str(), truncated.as_str(), sent),
        ("1", "0", Some(full))
    );
    assert!(full >= 3000);

    // 1 KB of plain text, headers only for HTML.
    s.set_policy(
        &format!("device:{ALICE}/capped"),
        &[
            ("MaxEmailBodyTruncationSize", "1"),
            ("MaxEmailHTMLBodyTruncationSize", "0"),
        ],
    );
    let c = device(&s, "capped");
    let adds = inbox_adds(&c, 1, None);
    let id = adds[0].0.clone();
    // Truncated, with the size of the whole body.
    assert_eq!(
        body(data_of(&adds, "long")),
        ("1".into(), "1".into(), full, Some(1024))
    );
    // A smaller TruncationSize than the policy's is kept.
    let inbox = c.folder_of_type(INBOX);
    let out = c.sync1(
        &SyncColl::new(&inbox, &c.sync_init(&inbox))
            .window(512)
            .body(1, Some(100)),
    );
    assert_eq!(
        body(data_of(&out.adds, "long")),
        ("1".into(), "1".into(), full, Some(100))
    );
    // HTML: headers only — no Data at all.
    let (kind, truncated, _, sent) = body(data_of(&inbox_adds(&c, 2, None), "long"));
    assert_eq!((kind.as_str(), truncated.as_str(), sent), ("2", "1", None));

    // ItemOperations and Search keep to the same limits.
    assert_eq!(
        body(&c.fetch_item(&id, Some(1))),
        ("1".into(), "1".into(), full, Some(1024))
    );
    let results = search(&c, "long", 1);
    assert_eq!(results.len(), 1);
    assert_eq!(
        body(&results[0]),
        ("1".into(), "1".into(), full, Some(1024))
    );
    // The other device is not affected.
    assert_eq!(body(&free.fetch_item(&id, Some(1))).3, Some(full));
}

// ---- AllowHTMLEmail --------------------------------------------------------------------

#[test]
fn html_off_answers_html_requests_with_plain_text() {
    let s = server();
    s.deliver_text(ALICE, "styled", "plain words");
    let free = device(&s, "free");
    let adds = inbox_adds(&free, 2, None);
    assert_eq!(body(data_of(&adds, "styled")).0, "2");
    let id = adds[0].0.clone();

    s.set_policy(&format!("user:{ALICE}"), &[("AllowHTMLEmail", "0")]);
    let c = device(&s, "plain");
    let data = data_of(&inbox_adds(&c, 2, None), "styled").clone();
    assert_eq!(body(&data).0, "1");
    let b = data.find(asb::BODY).expect("Body");
    assert_eq!(text(b, asb::DATA).trim_end(), "plain words");
    assert_eq!(body(&c.fetch_item(&id, Some(2))).0, "1");
    let results = search(&c, "styled", 2);
    assert_eq!(results.len(), 1);
    assert_eq!(body(&results[0]).0, "1");
}

// ---- AttachmentsEnabled, MaxAttachmentSize ---------------------------------------------

#[test]
fn attachments_off_hides_them_and_refuses_their_download() {
    let s = server();
    s.deliver(
        &[ALICE],
        &attachment_message(ALICE, "report", "report.bin", 300),
    );
    let free = device(&s, "free");
    let adds = inbox_adds(&free, 1, None);
    let file_ref = text(
        data_of(&adds, "report")
            .find_path(&[asb::ATTACHMENTS, asb::ATTACHMENT])
            .expect("Attachment"),
        asb::FILE_REFERENCE,
    )
    .to_owned();
    let (status, data) = free.fetch_attachment(&file_ref);
    assert_eq!((status.as_str(), data.map(|d| d.len())), ("1", Some(300)));

    s.set_policy(
        &format!("device:{ALICE}/locked"),
        &[("AttachmentsEnabled", "0")],
    );
    let c = device(&s, "locked");
    let adds = inbox_adds(&c, 1, None);
    let data = data_of(&adds, "report");
    assert!(data.find(asb::ATTACHMENTS).is_none(), "{data:?}");
    assert!(
        c.fetch_item(&adds[0].0, Some(1))
            .find(asb::ATTACHMENTS)
            .is_none()
    );
    // [MS-ASCMD] 2.2.3.177.8 Status 16: access to the resource is denied.
    assert_eq!(c.fetch_attachment(&file_ref), ("16".into(), None));
}

#[test]
fn max_attachment_size_refuses_larger_attachments() {
    let s = server();
    s.deliver(&[ALICE], &attachment_message(ALICE, "big", "big.bin", 3000));
    s.deliver(
        &[ALICE],
        &attachment_message(ALICE, "small", "small.bin", 500),
    );
    s.set_policy(&format!("user:{ALICE}"), &[("MaxAttachmentSize", "1000")]);
    let c = device(&s, "phone");
    let adds = inbox_adds(&c, 1, None);
    let file_ref = |subject| {
        text(
            data_of(&adds, subject)
                .find_path(&[asb::ATTACHMENTS, asb::ATTACHMENT])
                .expect("both attachments are listed"),
            asb::FILE_REFERENCE,
        )
        .to_owned()
    };
    // [MS-ASCMD] 2.2.3.177.8 Status 11: the requested data size is too large.
    assert_eq!(c.fetch_attachment(&file_ref("big")), ("11".into(), None));
    let (status, data) = c.fetch_attachment(&file_ref("small"));
    assert_eq!((status.as_str(), data), ("1", Some(vec![b'z'; 500])));
}
