//! GetAttachment ([MS-ASCMD] 2.2.1.7) for 12.x clients: the attachment's bytes as the HTTP
//! body, HTTP 500 for a FileReference that names nothing, 403 for one the policy withholds.

use crate::support::*;
use easd::wbxml::Element;
use easd::wbxml::tag::airsyncbase as asb;

const ALICE: &str = "alice@example.com";
const INBOX: u8 = 2;

#[test]
fn get_attachment_returns_the_bytes_and_500_for_unknown_references() {
    let s = start_server(|_| {});
    s.add_user(ALICE);
    let bytes: Vec<u8> = (0..5000u32).map(|i| (i * 13 % 251) as u8).collect();
    s.deliver(
        &[ALICE],
        &message_with_attachment(ALICE, "with file", "pic.png", &bytes),
    );
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

#[test]
fn get_attachment_honours_the_attachment_policy() {
    let s = start_server(|_| {});
    s.add_user(ALICE);
    let bytes = vec![7u8; 3000];
    s.deliver(
        &[ALICE],
        &message_with_attachment(ALICE, "with file", "big.png", &bytes),
    );
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
    s.set_policy(&level, &[("MaxAttachmentSize", "1000")]);
    c.provision();
    get_attachment(&c, &file_ref).expect_status(403);

    s.set_policy(&level, &[("MaxAttachmentSize", "100000")]);
    c.provision();
    get_attachment(&c, &file_ref).expect_status(200);

    s.set_policy(&level, &[("AttachmentsEnabled", "0")]);
    c.provision();
    get_attachment(&c, &file_ref).expect_status(403);
}

/// A message larger than the LMTP listener keeps in memory is spooled to disk as it
/// arrives, parsed by its skeleton (the attachment not decoded) and becomes its blob without
/// another copy: the attachment is listed with its exact size, reads back byte for byte,
/// and no spool file is left behind.
#[test]
fn a_large_message_spooled_over_lmtp_reads_back_exactly() {
    let s = server_with(&[ALICE]);
    let bytes: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 253) as u8).collect();
    s.deliver(
        &[ALICE],
        &message_with_attachment(ALICE, "with file", "big.bin", &bytes),
    );
    let mut c = s.eas(ALICE, "spool121").with_version("12.1");
    c.provision();
    let inbox = c.folder_of_type(INBOX);
    let key = c.sync_init(&inbox);
    let (_, adds) = c.sync_all(SyncColl::new(&inbox, &key).window(50));
    assert_eq!(adds.len(), 1);
    let att = adds[0].1.find(asb::ATTACHMENTS).expect("Attachments");
    let listed = att.find(asb::ATTACHMENT).unwrap();
    // Sized without decoding it (the message was parsed by its skeleton), exactly.
    assert_eq!(
        text(listed, asb::ESTIMATED_DATA_SIZE),
        bytes.len().to_string()
    );
    let file_ref = text(listed, asb::FILE_REFERENCE).to_owned();
    let r = get_attachment(&c, &file_ref);
    r.expect_status(200);
    assert!(r.body[..] == bytes[..], "the attachment reads back exactly");
    let tmp = s.data_dir().join("blobs").join("tmp");
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .map(|d| d.collect())
        .unwrap_or_default();
    assert!(
        left.is_empty(),
        "spool files left in {}: {left:?}",
        tmp.display()
    );
}
