//! GetAttachment ([MS-ASCMD] 2.2.1.7) for 12.x clients: the attachment's bytes as the HTTP
//! body, HTTP 500 for a FileReference that names nothing, 403 for one the policy withholds.

mod support;

use base64::Engine as _;
use easd::admin::govern::GovRequest;
use easd::admin::ops::{Reply, Request};
use easd::wbxml::Element;
use easd::wbxml::tag::airsyncbase as asb;
use support::*;

const ALICE: &str = "alice@example.com";
const INBOX: u8 = 2;

fn message_with_attachment(to: &str, name: &str, bytes: &[u8]) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    let wrapped: String = b64
        .as_bytes()
        .chunks(76)
        .map(|c| format!("{}\r\n", String::from_utf8_lossy(c)))
        .collect();
    format!(
        "From: <sender@remote.test>\r\nTo: <{to}>\r\nSubject: with file\r\n\
         Message-ID: <{}@test.example>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b0undary\"\r\n\r\n\
         --b0undary\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee the attachment.\r\n\
         --b0undary\r\nContent-Type: image/png; name=\"{name}\"\r\n\
         Content-Disposition: attachment; filename=\"{name}\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{wrapped}--b0undary--\r\n",
        unique_token()
    )
    .into_bytes()
}

#[test]
fn get_attachment_returns_the_bytes_and_500_for_unknown_references() {
    let s = start_server(|_| {});
    s.add_user(ALICE);
    let bytes: Vec<u8> = (0..5000u32).map(|i| (i * 13 % 251) as u8).collect();
    s.deliver(&[ALICE], &message_with_attachment(ALICE, "pic.png", &bytes));
    let mut c = s.eas(ALICE, "ga121").with_version("12.1");
    c.provision();
    let inbox = c.folder_of_type(INBOX);
    let key = c.sync_init(&inbox);
    let (_, adds) = c.sync_all(SyncColl::new(&inbox, &key).window(50));
    assert_eq!(adds.len(), 1);
    let atts: Vec<&Element> = adds[0]
        .1
        .find(asb::ATTACHMENTS)
        .expect("Attachments")
        .find_all(asb::ATTACHMENT)
        .collect();
    let file_ref = text(atts[0], asb::FILE_REFERENCE).to_owned();

    let r = get_attachment(&c, &file_ref);
    r.expect_status(200);
    assert_eq!(r.header("content-type"), Some("image/png"));
    assert_eq!(&r.body[..], &bytes[..]);

    for bad in ["garbage", "1:2", &format!("{inbox}:999:1"), "1:1:99"] {
        get_attachment(&c, bad).expect_status(500);
    }

    // 14.0 and later use ItemOperations instead; the query is refused there.
    let c14 = s.eas(ALICE, "ga140").with_version("14.0");
    let query = format!("{}&AttachmentName=x", c14.query("Sync", None))
        .replace("Cmd=Sync", "Cmd=GetAttachment");
    assert_ne!(c14.post_raw(&query, &[], Vec::new()).status, 200);
}

fn set_policy(s: &TestServer, level: &str, key: &str, value: &str) {
    let req = GovRequest::PolicySet {
        level: level.into(),
        values: vec![(key.to_string(), value.to_string())],
    };
    match s.control(Request::Govern(req)) {
        Reply::Done { .. } | Reply::Govern(_) => {}
        other => panic!("policy set answered {other:?}"),
    }
}

#[test]
fn get_attachment_honours_the_attachment_policy() {
    let s = start_server(|_| {});
    s.add_user(ALICE);
    let bytes = vec![7u8; 3000];
    s.deliver(&[ALICE], &message_with_attachment(ALICE, "big.png", &bytes));
    let mut c = s.eas(ALICE, "gapolicy").with_version("12.1");
    c.provision();
    let inbox = c.folder_of_type(INBOX);
    let key = c.sync_init(&inbox);
    let (_, adds) = c.sync_all(SyncColl::new(&inbox, &key).window(50));
    let file_ref = text(
        adds[0]
            .1
            .find(asb::ATTACHMENTS)
            .expect("Attachments")
            .find(asb::ATTACHMENT)
            .expect("one"),
        asb::FILE_REFERENCE,
    )
    .to_owned();
    get_attachment(&c, &file_ref).expect_status(200);

    // Each policy change makes the device provision again before the next request.
    let level = format!("user:{ALICE}");
    set_policy(&s, &level, "MaxAttachmentSize", "1000");
    c.provision();
    get_attachment(&c, &file_ref).expect_status(403);

    set_policy(&s, &level, "MaxAttachmentSize", "100000");
    c.provision();
    get_attachment(&c, &file_ref).expect_status(200);

    set_policy(&s, &level, "AttachmentsEnabled", "0");
    c.provision();
    get_attachment(&c, &file_ref).expect_status(403);
}
