//! Body options over real HTTPS: the message part as airsyncbase:BodyPart for a client that
//! sends a BodyPartPreference ([MS-ASAIRS] 2.2.2.10, 2.2.2.11) in Sync, ItemOperations and
//! Search; RTF answered with HTML; and a message whose attachment is over the device's
//! MaxAttachmentSize, which keeps the attachment listed, never sends it inside MIME, and
//! refuses its download.

use crate::support::*;
use easd::wbxml::Element;
use easd::wbxml::tag::{airsync as air, airsyncbase as asb, email as em, itemoperations as io};

const ALICE: &str = "alice@example.com";
const INBOX: u8 = 2;

/// The HTML part of [`html_message`], exactly as the message carries it.
const HTML: &str = "<html><body><p>Quarterly <b>figures</b> attached below, with the \
                    summary in bold.</p></body></html>";

fn html_message(subject: &str) -> Vec<u8> {
    format!(
        "From: <sender@remote.test>\r\nTo: <{ALICE}>\r\nSubject: {subject}\r\n\
         Message-ID: <{}@test.example>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n\
         --alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Quarterly figures attached below, with the summary in bold.\r\n\
         --alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{HTML}\r\n--alt--\r\n",
        unique_token()
    )
    .into_bytes()
}

/// An airsyncbase:BodyPartPreference of Type 2 (HTML).
fn part_preference(truncation: Option<u32>, all_or_none: bool, preview: Option<u32>) -> Element {
    let mut p = Element::new(asb::BODY_PART_PREFERENCE).text_child(asb::TYPE, "2");
    if let Some(t) = truncation {
        p.push_text(asb::TRUNCATION_SIZE, t.to_string());
    }
    if all_or_none {
        p.push_text(asb::ALL_OR_NONE, "1");
    }
    if let Some(n) = preview {
        p.push_text(asb::PREVIEW, n.to_string());
    }
    p
}

fn preference(kind: u8) -> Element {
    Element::new(asb::BODY_PREFERENCE).text_child(asb::TYPE, kind.to_string())
}

/// Every Add of the Inbox from key 0, with these Options children.
fn inbox_adds(c: &EasClient, options: &[Element]) -> Vec<(String, Element)> {
    let inbox = c.folder_of_type(INBOX);
    let coll = options
        .iter()
        .fold(SyncColl::new(&inbox, &c.sync_init(&inbox)), |coll, e| {
            coll.option(e.clone())
        });
    c.sync_all(coll.window(100)).1
}

#[track_caller]
fn data_of<'a>(adds: &'a [(String, Element)], subject: &str) -> &'a (String, Element) {
    adds.iter()
        .find(|(_, d)| d.text_of(em::SUBJECT) == Some(subject))
        .unwrap_or_else(|| panic!("no {subject:?} in {adds:?}"))
}

/// (Status, Type, EstimatedDataSize, Truncated, Data, Preview) of a BodyPart.
fn part_of(data: &Element) -> [Option<String>; 6] {
    let part = data
        .find(asb::BODY_PART)
        .unwrap_or_else(|| panic!("no BodyPart in {data:?}"));
    [
        asb::STATUS,
        asb::TYPE,
        asb::ESTIMATED_DATA_SIZE,
        asb::TRUNCATED,
        asb::DATA,
        asb::PREVIEW,
    ]
    .map(|tag| part.text_of(tag).map(str::to_owned))
}

fn s(text: &str) -> Option<String> {
    Some(text.to_owned())
}

#[test]
fn body_part_in_sync_item_operations_and_search() {
    let s_ = server_with(&[ALICE]);
    s_.deliver(&[ALICE], &html_message("figures"));
    let mut c = s_.eas(ALICE, "phone");
    c.provision();
    let size = HTML.len().to_string();

    // Sync: plain text as the Body, the HTML message part cut at 20 bytes, a preview.
    let adds = inbox_adds(
        &c,
        &[preference(1), part_preference(Some(20), false, Some(9))],
    );
    let (id, data) = data_of(&adds, "figures");
    assert_eq!(
        part_of(data),
        [
            s("1"),
            s("2"),
            Some(size.clone()),
            s("1"),
            s(&HTML[..20]),
            s("Quarterly")
        ]
    );
    assert_eq!(
        data.find_path(&[asb::BODY, asb::TYPE])
            .and_then(Element::text),
        Some("1")
    );

    // ItemOperations: the whole part; with AllOrNone over the limit, Status 176, no Data.
    let whole = c.fetch_with(id, &[preference(1), part_preference(None, false, None)]);
    assert_eq!(whole.text_of(io::STATUS), Some("1"), "{whole:?}");
    let props = whole.find(io::PROPERTIES).expect("Properties");
    assert_eq!(
        part_of(props),
        [s("1"), s("2"), Some(size.clone()), s("0"), s(HTML), None]
    );
    let strict = c.fetch_with(id, &[part_preference(Some(20), true, None)]);
    let props = strict.find(io::PROPERTIES).expect("Properties");
    assert_eq!(
        part_of(props),
        [s("176"), s("2"), Some(size.clone()), s("1"), None, None]
    );

    // Search: the part in each result's Properties.
    let results = c.search_mailbox("quarterly", &[part_preference(Some(6), false, None)]);
    let result = results.first().expect("a result");
    assert_eq!(
        part_of(result),
        [s("1"), s("2"), Some(size), s("1"), s("<html>"), None]
    );

    // A BodyPartPreference of another Type is a protocol error, not silently ignored.
    let bad = Element::new(asb::BODY_PART_PREFERENCE).text_child(asb::TYPE, "1");
    let refused = c.fetch_with(id, &[bad]);
    assert_eq!(refused.text_of(io::STATUS), Some("2"), "{refused:?}");
}

#[test]
fn body_part_is_for_14_1_and_later() {
    let s_ = server_with(&[ALICE]);
    s_.deliver(&[ALICE], &html_message("old"));
    let mut c = s_.eas(ALICE, "oldphone").with_version("14.0");
    c.provision();
    let adds = inbox_adds(&c, &[preference(2), part_preference(None, false, None)]);
    let (_, data) = data_of(&adds, "old");
    assert!(data.find(asb::BODY_PART).is_none(), "{data:?}");
    assert_eq!(
        data.find_path(&[asb::BODY, asb::DATA])
            .and_then(Element::text),
        Some(HTML)
    );
}

#[test]
fn rtf_is_answered_with_html() {
    let s_ = server_with(&[ALICE]);
    s_.deliver(&[ALICE], &html_message("rich"));
    s_.deliver_text(ALICE, "simple", "just words");
    let mut c = s_.eas(ALICE, "phone");
    c.provision();
    let adds = inbox_adds(&c, &[preference(3)]);
    let body = |subject| {
        let (_, data) = data_of(&adds, subject);
        let b = data.find(asb::BODY).expect("Body");
        (
            text(b, asb::TYPE).to_owned(),
            b.text_of(asb::DATA).map(str::to_owned),
        )
    };
    assert_eq!(body("rich"), ("2".into(), Some(HTML.into())));
    let (kind, data) = body("simple");
    assert_eq!(kind, "2");
    assert!(
        data.as_deref().is_some_and(|d| d.contains("just words")),
        "{data:?}"
    );
    // ItemOperations the same.
    let (id, _) = data_of(&adds, "rich");
    let props = c.fetch_item(id, Some(3));
    assert_eq!(
        props
            .find_path(&[asb::BODY, asb::TYPE])
            .and_then(Element::text),
        Some("2")
    );

    // The policy's AllowHTMLEmail=0 makes it plain text.
    s_.set_policy(&format!("device:{ALICE}/plain"), &[("AllowHTMLEmail", "0")]);
    let mut plain = s_.eas(ALICE, "plain");
    plain.provision();
    let adds = inbox_adds(&plain, &[preference(3)]);
    let (_, data) = data_of(&adds, "rich");
    assert_eq!(
        data.find_path(&[asb::BODY, asb::TYPE])
            .and_then(Element::text),
        Some("1")
    );
}

#[test]
fn an_attachment_over_max_attachment_size_is_listed_never_sent_inside_mime() {
    let s_ = server_with(&[ALICE]);
    s_.deliver(&[ALICE], &attachment_message(ALICE, "big", "big.bin", 3000));
    s_.deliver(
        &[ALICE],
        &attachment_message(ALICE, "small", "small.bin", 500),
    );
    s_.set_policy(&format!("user:{ALICE}"), &[("MaxAttachmentSize", "1000")]);
    let mut c = s_.eas(ALICE, "phone");
    c.provision();
    let mime = [
        preference(4),
        preference(1),
        Element::with_text(air::MIME_SUPPORT, "2"),
    ];
    let adds = inbox_adds(&c, &mime);
    let file_ref = |subject| {
        let (_, data) = data_of(&adds, subject);
        text(
            data.find_path(&[asb::ATTACHMENTS, asb::ATTACHMENT])
                .unwrap_or_else(|| panic!("{subject}: attachment not listed in {data:?}")),
            asb::FILE_REFERENCE,
        )
        .to_owned()
    };
    let body = |data: &Element| {
        let b = data.find(asb::BODY).expect("Body");
        (
            text(b, asb::TYPE).to_owned(),
            b.text_of(asb::DATA).unwrap_or_default().to_owned(),
        )
    };
    // The small one comes as MIME, its attachment inside.
    let (kind, data) = body(&data_of(&adds, "small").1);
    assert_eq!(kind, "4");
    assert!(data.contains("filename=\"small.bin\""), "{data}");
    // The big one: plain text instead, the attachment listed, its bytes nowhere.
    let (big_id, big) = data_of(&adds, "big");
    let (kind, data) = body(big);
    assert_eq!(kind, "1");
    assert_eq!(data.trim_end(), "See the attachment.");
    let props = c.fetch_with(big_id, &mime);
    let (kind, _) = body(props.find(io::PROPERTIES).expect("Properties"));
    assert_eq!(kind, "1", "ItemOperations gives no MIME either");
    // [MS-ASCMD] 2.2.3.177.8 Status 11: the requested data size is too large.
    assert_eq!(c.fetch_attachment(&file_ref("big")), ("11".into(), None));
    let (status, bytes) = c.fetch_attachment(&file_ref("small"));
    assert_eq!((status.as_str(), bytes), ("1", Some(vec![b'z'; 500])));
}
