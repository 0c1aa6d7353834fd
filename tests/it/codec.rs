//! The WBXML codec through the real CLI: `easd wbxml decode | easd wbxml encode` gives back
//! the bytes of every command that carries an opaque element, also when the XML lost
//! easd's own `opaque="base64"` marks (as XML from other tools or copied from logs has);
//! base64 that is not base64 in an opaque element is refused with a clear error.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use crate::support::cli_path;
use easd::wbxml::tag::{
    airsync as air, airsyncbase as asb, composemail as cm, email2, find, gal, itemoperations as io,
    resolverecipients as rr, search as sr,
};
use easd::wbxml::{Element, encode};

/// Runs `easd wbxml MODE` with `input` on stdin.
fn wbxml(mode: &str, input: &[u8]) -> Output {
    let mut child = Command::new(cli_path())
        .args(["wbxml", mode])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run easd");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input).expect("write stdin");
    drop(stdin);
    child.wait_with_output().expect("easd exits")
}

#[track_caller]
fn ok(out: Output) -> Vec<u8> {
    assert!(
        out.status.success(),
        "easd failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Some bytes that are not text, so that only OPAQUE carries them unchanged.
fn blob(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect()
}

/// One document per command whose WBXML has an element the code-page table marks opaque.
fn documents() -> Vec<(&'static str, Element)> {
    let mime = b"From: a@example.com\r\nSubject: caf\xc3\xa9\r\n\r\nbody\r\n".to_vec();
    let source = |tag| {
        Element::new(tag)
            .text_child(cm::CLIENT_ID, "c-1")
            .child(
                Element::new(cm::SOURCE)
                    .text_child(cm::FOLDER_ID, "5")
                    .text_child(cm::ITEM_ID, "5:9"),
            )
            .empty_child(cm::SAVE_IN_SENT_ITEMS)
            .opaque_child(cm::MIME, mime.clone())
    };
    let conversation = blob(16, 7);
    let photo = blob(300, 3);
    vec![
        (
            "SendMail",
            Element::new(cm::SEND_MAIL)
                .text_child(cm::CLIENT_ID, "c-0")
                .empty_child(cm::SAVE_IN_SENT_ITEMS)
                .opaque_child(cm::MIME, mime.clone()),
        ),
        ("SmartReply", source(cm::SMART_REPLY)),
        ("SmartForward", source(cm::SMART_FORWARD)),
        (
            "Sync response (Email2 ConversationId, ConversationIndex)",
            Element::new(air::SYNC).child(
                Element::new(air::COLLECTIONS).child(
                    Element::new(air::COLLECTION)
                        .text_child(air::SYNC_KEY, "2")
                        .text_child(air::COLLECTION_ID, "5")
                        .text_child(air::STATUS, "1")
                        .child(
                            Element::new(air::COMMANDS).child(
                                Element::new(air::ADD)
                                    .text_child(air::SERVER_ID, "5:9")
                                    .child(
                                        Element::new(air::APPLICATION_DATA)
                                            .opaque_child(
                                                email2::CONVERSATION_ID,
                                                conversation.clone(),
                                            )
                                            .opaque_child(email2::CONVERSATION_INDEX, blob(22, 9)),
                                    ),
                            ),
                        ),
                ),
            ),
        ),
        (
            "Sync request (a draft's attachment Content)",
            Element::new(air::SYNC).child(
                Element::new(air::COLLECTIONS).child(
                    Element::new(air::COLLECTION)
                        .text_child(air::SYNC_KEY, "3")
                        .text_child(air::COLLECTION_ID, "4")
                        .child(
                            Element::new(air::COMMANDS).child(
                                Element::new(air::CHANGE)
                                    .text_child(air::SERVER_ID, "4:2")
                                    .child(
                                        Element::new(air::APPLICATION_DATA).child(
                                            Element::new(asb::ATTACHMENTS).child(
                                                Element::new(asb::ADD)
                                                    .text_child(asb::CLIENT_ID, "a-1")
                                                    .text_child(asb::METHOD, "1")
                                                    .opaque_child(asb::CONTENT, blob(500, 1))
                                                    .text_child(asb::DISPLAY_NAME, "x.bin"),
                                            ),
                                        ),
                                    ),
                            ),
                        ),
                ),
            ),
        ),
        (
            "ItemOperations Move (ConversationId)",
            Element::new(io::ITEM_OPERATIONS).child(
                Element::new(io::MOVE)
                    .opaque_child(io::CONVERSATION_ID, conversation)
                    .text_child(io::DST_FLD_ID, "7"),
            ),
        ),
        (
            "Search GAL response (gal:Data)",
            Element::new(sr::SEARCH).text_child(sr::STATUS, "1").child(
                Element::new(sr::RESPONSE).child(
                    Element::new(sr::STORE).text_child(sr::STATUS, "1").child(
                        Element::new(sr::RESULT).child(
                            Element::new(sr::PROPERTIES)
                                .text_child(gal::DISPLAY_NAME, "Bob")
                                .child(
                                    Element::new(gal::PICTURE)
                                        .text_child(gal::STATUS, "1")
                                        .opaque_child(gal::DATA, photo.clone()),
                                ),
                        ),
                    ),
                ),
            ),
        ),
        (
            "ResolveRecipients response (Data)",
            Element::new(rr::RESOLVE_RECIPIENTS)
                .text_child(rr::STATUS, "1")
                .child(
                    Element::new(rr::RESPONSE).text_child(rr::TO, "bob").child(
                        Element::new(rr::RECIPIENT)
                            .text_child(rr::EMAIL_ADDRESS, "bob@example.com")
                            .child(
                                Element::new(rr::PICTURE)
                                    .text_child(rr::STATUS, "1")
                                    .opaque_child(rr::DATA, photo.clone()),
                            ),
                    ),
                ),
        ),
        (
            "Find response (gal:Data)",
            Element::new(find::FIND)
                .text_child(find::STATUS, "1")
                .child(
                    Element::new(find::RESPONSE).child(
                        Element::new(find::RESULT).child(
                            Element::new(find::PROPERTIES).child(
                                Element::new(gal::PICTURE)
                                    .text_child(gal::STATUS, "1")
                                    .opaque_child(gal::DATA, photo),
                            ),
                        ),
                    ),
                ),
        ),
    ]
}

#[test]
fn decode_then_encode_gives_back_every_opaque_command_byte_for_byte() {
    for (name, doc) in documents() {
        let bytes = encode(&doc);
        let xml = String::from_utf8(ok(wbxml("decode", &bytes))).expect("UTF-8 XML");
        // The decoder's view marks opaque content as it always has.
        assert!(xml.contains(r#" opaque="base64">"#), "{name}: {xml}");
        assert_eq!(ok(wbxml("encode", xml.as_bytes())), bytes, "{name}: {xml}");

        // The same XML as other tools write it, without easd's attribute: still OPAQUE.
        let plain = xml.replace(r#" opaque="base64""#, "");
        assert_eq!(
            ok(wbxml("encode", plain.as_bytes())),
            bytes,
            "{name}: {plain}"
        );
    }
}

#[test]
fn xml_without_the_attribute_encodes_opaque_not_a_string() {
    let xml = "<?xml version=\"1.0\"?>\n<SendMail xmlns=\"ComposeMail:\">\
               <ClientId>1</ClientId><Mime>\n  AAEC\n  /w==\n</Mime></SendMail>\n";
    let bytes = ok(wbxml("encode", xml.as_bytes()));
    // ... Mime with content (0x50), OPAQUE (0xC3), length 4, the bytes, END.
    assert!(
        bytes.ends_with(&[0x50, 0xC3, 0x04, 0x00, 0x01, 0x02, 0xFF, 0x01, 0x01]),
        "{bytes:02X?}"
    );
}

#[test]
fn text_that_is_not_base64_in_an_opaque_element_fails_clearly() {
    let xml = r#"<SendMail xmlns="ComposeMail:"><Mime>From: a@example.com</Mime></SendMail>"#;
    let out = wbxml("encode", xml.as_bytes());
    assert!(!out.status.success(), "encoded anyway");
    assert!(out.stdout.is_empty(), "wrote output");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid base64") && err.contains("Mime"),
        "unclear error: {err}"
    );
}
