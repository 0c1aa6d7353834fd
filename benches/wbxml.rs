//! WBXML codec throughput: `cargo bench --bench wbxml`.
//!
//! A plain `harness = false` binary (no criterion): builds a realistic corpus
//! of EAS responses, then reports decode, encode and XML-rendering
//! throughput, each measured for about one second.

use std::hint::black_box;
use std::time::{Duration, Instant};

use easd::wbxml::tag::{airsync, airsyncbase, email, email2, folderhierarchy, ping, provision};
use easd::wbxml::{Element, Limits, decode, encode, encode_into, to_xml};

const RUN_FOR: Duration = Duration::from_secs(1);

fn main() {
    let trees = [
        sync_response(100),
        folder_sync_response(40),
        provision_response(),
        ping_response(),
    ];
    let corpus: Vec<Vec<u8>> = trees.iter().map(encode).collect();
    let size: usize = corpus.iter().map(Vec::len).sum();
    let limits = Limits::default();

    report("decode", size, || {
        for doc in &corpus {
            black_box(decode(black_box(doc), &limits).is_ok());
        }
    });
    let mut out = Vec::with_capacity(size);
    report("encode", size, || {
        for tree in &trees {
            out.clear();
            encode_into(black_box(tree), &mut out);
            black_box(out.len());
        }
    });
    report("to_xml", size, || {
        for tree in &trees {
            black_box(to_xml(black_box(tree)).len());
        }
    });
}

/// Runs `pass` (one pass over `size` bytes of WBXML) for about [`RUN_FOR`].
fn report(name: &str, size: usize, mut pass: impl FnMut()) {
    pass(); // warm-up
    let start = Instant::now();
    let mut passes: u32 = 0;
    while start.elapsed() < RUN_FOR {
        pass();
        passes += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    let mb = size as f64 * f64::from(passes) / 1e6;
    println!(
        "wbxml {name}: {:.1} MB/s (corpus {} KiB, {passes} passes)",
        mb / secs,
        size / 1024
    );
}

fn sync_response(items: usize) -> Element {
    let mut commands = Element::new(airsync::COMMANDS);
    for i in 0..items {
        commands.push(
            Element::new(airsync::ADD)
                .text_child(airsync::SERVER_ID, format!("5:{i}"))
                .child(email_item(i)),
        );
    }
    let collection = Element::new(airsync::COLLECTION)
        .text_child(airsync::SYNC_KEY, "1234567890")
        .text_child(airsync::COLLECTION_ID, "5")
        .text_child(airsync::STATUS, "1")
        .child(commands)
        .empty_child(airsync::MORE_AVAILABLE);
    Element::new(airsync::SYNC).child(Element::new(airsync::COLLECTIONS).child(collection))
}

fn email_item(i: usize) -> Element {
    let html = format!(
        "<html><body><p>Hello team,</p>{}<p>Regards, sender {i}</p></body></html>",
        "<p>Quarterly figures &amp; notes for the review, see the attached sheet. </p>".repeat(40)
    );
    let body = Element::new(airsyncbase::BODY)
        .text_child(airsyncbase::TYPE, "2")
        .text_child(airsyncbase::ESTIMATED_DATA_SIZE, html.len().to_string())
        .text_child(airsyncbase::DATA, html);
    Element::new(airsync::APPLICATION_DATA)
        .text_child(email::TO, "\"Team\" <team@example.com>")
        .text_child(
            email::FROM,
            format!("\"Sender {i}\" <sender{i}@example.com>"),
        )
        .text_child(email::SUBJECT, format!("Quarterly review #{i}"))
        .text_child(email::DATE_RECEIVED, "2025-03-01T10:15:00.000Z")
        .text_child(email::DISPLAY_TO, "Team")
        .text_child(email::THREAD_TOPIC, "Quarterly review")
        .text_child(email::IMPORTANCE, "1")
        .text_child(email::READ, (i % 2).to_string())
        .child(body)
        .text_child(email::MESSAGE_CLASS, "IPM.Note")
        .text_child(email::INTERNET_CPID, "65001")
        .empty_child(email::FLAG)
        .text_child(airsyncbase::NATIVE_BODY_TYPE, "2")
        .opaque_child(
            email2::CONVERSATION_ID,
            (0..16).map(|b| b ^ i as u8).collect(),
        )
        .opaque_child(
            email2::CONVERSATION_INDEX,
            vec![0xCA, 0xFE, 0x00, 0x01, i as u8],
        )
}

fn folder_sync_response(folders: usize) -> Element {
    let mut changes = Element::new(folderhierarchy::CHANGES)
        .text_child(folderhierarchy::COUNT, folders.to_string());
    for i in 0..folders {
        changes.push(
            Element::new(folderhierarchy::ADD)
                .text_child(folderhierarchy::SERVER_ID, i.to_string())
                .text_child(folderhierarchy::PARENT_ID, "0")
                .text_child(folderhierarchy::DISPLAY_NAME, format!("Folder {i}"))
                .text_child(folderhierarchy::TYPE, "12"),
        );
    }
    Element::new(folderhierarchy::FOLDER_SYNC)
        .text_child(folderhierarchy::STATUS, "1")
        .text_child(folderhierarchy::SYNC_KEY, "1")
        .child(changes)
}

fn provision_response() -> Element {
    let doc = Element::new(provision::EAS_PROVISION_DOC)
        .text_child(provision::DEVICE_PASSWORD_ENABLED, "1")
        .text_child(provision::ALPHANUMERIC_DEVICE_PASSWORD_REQUIRED, "0")
        .text_child(provision::MIN_DEVICE_PASSWORD_LENGTH, "6")
        .text_child(provision::MAX_INACTIVITY_TIME_DEVICE_LOCK, "900")
        .text_child(provision::MAX_DEVICE_PASSWORD_FAILED_ATTEMPTS, "8")
        .empty_child(provision::MAX_ATTACHMENT_SIZE)
        .text_child(provision::ALLOW_SIMPLE_DEVICE_PASSWORD, "1")
        .text_child(provision::REQUIRE_DEVICE_ENCRYPTION, "0")
        .text_child(provision::ALLOW_HTML_EMAIL, "1");
    let policy = Element::new(provision::POLICY)
        .text_child(provision::POLICY_TYPE, "MS-EAS-Provisioning-WBXML")
        .text_child(provision::STATUS, "1")
        .text_child(provision::POLICY_KEY, "3942919513")
        .child(Element::new(provision::DATA).child(doc));
    Element::new(provision::PROVISION)
        .text_child(provision::STATUS, "1")
        .child(Element::new(provision::POLICIES).child(policy))
}

fn ping_response() -> Element {
    Element::new(ping::PING)
        .text_child(ping::STATUS, "2")
        .child(
            Element::new(ping::FOLDERS)
                .text_child(ping::FOLDER, "5")
                .text_child(ping::FOLDER, "6"),
        )
}
