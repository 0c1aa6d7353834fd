//! `easd import`: .eml, mbox (mboxrd) and Maildir into a folder, directly on the store and
//! through a running daemon's control socket; re-runs add nothing.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::*;
use easd::wbxml::Element;
use easd::wbxml::tag::{airsyncbase as asb, email as em};

const ALICE: &str = "alice@example.com";

fn eml(subject: &str, body: &str) -> String {
    format!(
        "From: <bob@remote.test>\r\nTo: <{ALICE}>\r\nSubject: {subject}\r\n\
         Message-ID: <{}@test.example>\r\n\r\n{body}\r\n",
        unique_token()
    )
}

/// Runs `easd --data DIR import --user ALICE --folder FOLDER FILE`.
fn import(data: &Path, folder: &str, file: &Path) -> Output {
    Command::new(cli_path())
        .arg("--data")
        .arg(data)
        .args(["import", "--user", ALICE, "--folder", folder])
        .arg(file)
        .output()
        .expect("run easd import")
}

#[track_caller]
/// `easd export` of ALICE's `folder` as `format` (with `more` arguments); its stdout.
fn export(data: &Path, folder: &str, format: &str, more: &[&str]) -> String {
    let out = Command::new(cli_path())
        .arg("--data")
        .arg(data)
        .args([
            "export", "--user", ALICE, "--folder", folder, "--format", format,
        ])
        .args(more)
        .output()
        .expect("run easd export");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

fn import_ok(data: &Path, folder: &str, file: &Path) -> String {
    let out = import(data, folder, file);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The items of the folder called `name` as (subject, read, flag status).
fn folder_items(c: &EasClient, name: &str) -> Vec<(String, String, Option<String>)> {
    let (_, fs) = c.folder_sync_ok("0");
    let folder = changes_of(&fs)
        .adds
        .into_iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no folder {name} in {fs:?}"));
    let key = c.sync_init(&folder.server_id);
    let (_, adds) = c.sync_all(SyncColl::new(&folder.server_id, &key).window(100));
    let mut items: Vec<_> = adds
        .iter()
        .map(|(_, d)| {
            let flag = d
                .find(em::FLAG)
                .and_then(|f: &Element| f.text_of(em::STATUS))
                .map(str::to_owned);
            (
                text(d, em::SUBJECT).to_owned(),
                text(d, em::READ).to_owned(),
                flag,
            )
        })
        .collect();
    items.sort();
    items
}

#[test]
fn import_eml_mbox_and_maildir_directly_and_through_the_daemon() {
    let mut s = start_server(|_| {});
    s.add_user(ALICE);
    let data = s.data_dir().to_owned();
    let files = tempfile::tempdir().expect("temp dir");
    let dir = files.path();

    let eml_path = dir.join("one.eml");
    std::fs::write(&eml_path, eml("single", "Just one.")).expect("write eml");
    let mbox_path = dir.join("three.mbox");
    let mbox = format!(
        "From bob@remote.test Tue Sep  1 10:00:00 2026\n{}\n\
         From bob@remote.test Tue Sep  1 10:01:00 2026\n{}\n\
         From bob@remote.test Tue Sep  1 10:02:00 2026\n{}\n",
        eml("mbox one", "first").replace("\r\n", "\n"),
        eml(
            "mbox two",
            "Hello\n\n>From the start, quoted.\n>>From twice."
        )
        .replace("\r\n", "\n"),
        eml("mbox three", "third").replace("\r\n", "\n"),
    );
    std::fs::write(&mbox_path, mbox).expect("write mbox");
    let maildir = dir.join("Maildir");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).expect("maildir");
    }
    std::fs::write(maildir.join("cur/1.1.host:2,S"), eml("md read", "r")).expect("write");
    std::fs::write(maildir.join("cur/2.1.host:2,F"), eml("md flagged", "f")).expect("write");
    std::fs::write(maildir.join("new/3.1.host"), eml("md new", "n")).expect("write");

    // Directly on the store.
    s.shutdown();
    let out = import_ok(&data, "INBOX", &eml_path);
    assert!(out.contains("imported 1, skipped 0"), "{out}");
    let out = import_ok(&data, "Archive", &mbox_path);
    assert!(out.contains("imported 3, skipped 0"), "{out}");
    let out = import_ok(&data, "archive", &maildir);
    assert!(out.contains("imported 3, skipped 0"), "{out}");
    // Re-runs add nothing.
    let out = import_ok(&data, "Archive", &mbox_path);
    assert!(out.contains("imported 0, skipped 3"), "{out}");
    let out = import_ok(&data, "inbox", &eml_path);
    assert!(out.contains("imported 0, skipped 1"), "{out}");

    // A missing file: a clear error.
    let out = import(&data, "Archive", &dir.join("nope.mbox"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nope.mbox") && err.contains("No such file"),
        "{err}"
    );

    s.restart();
    let mut c = s.eas(ALICE, "imp");
    c.provision();
    let archive = folder_items(&c, "Archive");
    let subjects: Vec<&str> = archive.iter().map(|(s, _, _)| s.as_str()).collect();
    assert_eq!(
        subjects,
        [
            "mbox one",
            "mbox three",
            "mbox two",
            "md flagged",
            "md new",
            "md read"
        ]
    );
    for (subject, read, flag) in &archive {
        let expect_read = if subject == "md read" { "1" } else { "0" };
        assert_eq!(read, expect_read, "{subject}");
        let expect_flag = (subject == "md flagged").then(|| "2".to_owned());
        assert_eq!(flag, &expect_flag, "{subject}");
    }
    assert_eq!(folder_items(&c, "Inbox").len(), 1);

    // The quoted From line lost one '>'.
    let (_, fs) = c.folder_sync_ok("0");
    let id = changes_of(&fs)
        .adds
        .into_iter()
        .find(|f| f.name == "Archive")
        .expect("Archive")
        .server_id;
    let key = c.sync_init(&id);
    let (_, adds) = c.sync_all(SyncColl::new(&id, &key).window(100).body(1, None));
    let two = adds
        .iter()
        .find(|(_, d)| text(d, em::SUBJECT) == "mbox two")
        .expect("mbox two");
    let body = two
        .1
        .find(asb::BODY)
        .and_then(|b| b.text_of(asb::DATA))
        .expect("Body Data");
    assert!(body.contains("\nFrom the start, quoted."), "{body}");
    assert!(body.contains("\n>From twice."), "{body}");

    // Through the running daemon: a new folder, and the re-run skips.
    let out = import_ok(&data, "Later", &mbox_path);
    assert!(out.contains("imported 3, skipped 0"), "{out}");
    let out = import_ok(&data, "Later", &mbox_path);
    assert!(out.contains("imported 0, skipped 3"), "{out}");
    assert_eq!(folder_items(&c, "Later").len(), 3);
}

/// The shape of a Google Calendar export (see `pim::ical`'s tests for more of it).
const ICS: &str = "BEGIN:VCALENDAR\r\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\r\n\
VERSION:2.0\r\nBEGIN:VEVENT\r\nDTSTART:20261102T150000Z\r\nDTEND:20261102T153000Z\r\n\
RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=5\r\nDTSTAMP:20261020T120000Z\r\nUID:s1@google.com\r\n\
SUMMARY:Stand-up\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20261225\r\n\
DTEND;VALUE=DATE:20261226\r\nDTSTAMP:20261020T120000Z\r\nUID:h1@google.com\r\n\
SUMMARY:Holiday\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:bad@google.com\r\nSUMMARY:x\r\n\
END:VEVENT\r\nEND:VCALENDAR\r\n";

#[test]
fn import_and_export_an_ics_file_through_the_daemon() {
    use easd::wbxml::tag::calendar as cal;
    let s = start_server(|_| {});
    s.add_user(ALICE);
    let data = s.data_dir().to_owned();
    let files = tempfile::tempdir().expect("temp dir");
    let ics = files.path().join("google.ics");
    std::fs::write(&ics, ICS).expect("write ics");

    let out = import_ok(&data, "Calendar", &ics);
    assert!(
        out.contains("imported 2, skipped 0 (already there), failed 1"),
        "{out}"
    );
    assert!(out.contains("VEVENT 3") && out.contains("DTSTART"), "{out}");
    let out = import_ok(&data, "calendar", &ics);
    assert!(
        out.contains("imported 0, skipped 2 (already there), failed 1"),
        "{out}"
    );
    // A calendar file into a mail folder: refused with the reason.
    let out = import(&data, "INBOX", &ics);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a calendar"));

    let mut c = s.eas(ALICE, "ics");
    c.provision();
    let mut subjects: Vec<String> = {
        let (_, fs) = c.folder_sync_ok("0");
        let folder = changes_of(&fs)
            .adds
            .into_iter()
            .find(|f| f.name == "Calendar")
            .expect("calendar folder");
        let key = c.sync_init(&folder.server_id);
        let (_, adds) = c.sync_all(SyncColl::new(&folder.server_id, &key).window(100));
        adds.iter()
            .map(|(_, d)| text(d, cal::SUBJECT).to_owned())
            .collect()
    };
    subjects.sort();
    assert_eq!(subjects, ["Holiday", "Stand-up"]);

    let out_file = files.path().join("out.ics");
    export(
        &data,
        "Calendar",
        "ics",
        &["--out", out_file.to_str().expect("path")],
    );
    let text = std::fs::read_to_string(&out_file).expect("exported file");
    assert!(text.contains("UID:s1@google.com\r\n"), "{text}");
    assert!(
        text.contains("RRULE:FREQ=WEEKLY;COUNT=5;BYDAY=MO"),
        "{text}"
    );
    assert!(text.contains("DTSTART;VALUE=DATE:20261225\r\n"), "{text}");
    // What was exported imports as what is there.
    std::fs::write(&ics, &text).expect("rewrite");
    let out = import_ok(&data, "Calendar", &ics);
    assert!(
        out.contains("imported 0, skipped 2 (already there), failed 0"),
        "{out}"
    );
}

#[test]
fn import_and_export_a_vcf_file_through_the_daemon() {
    use easd::wbxml::tag::contacts as con;
    let s = start_server(|_| {});
    s.add_user(ALICE);
    let data = s.data_dir().to_owned();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vcard");
    let apple = fixtures.join("apple-contacts-3.0.vcf");
    let out = import_ok(&data, "Contacts", &apple);
    // The second card is an Apple group, not a contact.
    assert!(
        out.contains("imported 1, skipped 0 (already there), failed 1"),
        "{out}"
    );
    assert!(out.contains("card 2 (line 47): a group card"), "{out}");
    let out = import_ok(&data, "contacts", &fixtures.join("outlook-2.1.vcf"));
    assert!(out.contains("imported 1,"), "{out}");
    assert!(
        out.contains("warning: card 1 (line 1): phone +49 30 1234569"),
        "{out}"
    );
    let out = import_ok(&data, "Contacts", &apple);
    assert!(out.contains("imported 0, skipped 1"), "{out}");
    let out = import(&data, "Calendar", &apple);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a contacts folder"));

    // A phone gets them as contacts, the photo within Picture.
    let mut c = s.eas(ALICE, "vcf");
    c.provision();
    let folder = c.folder_of_type(9);
    let key = c.sync_init(&folder);
    let (_, adds) = c.sync_all(SyncColl::new(&folder, &key).window(100));
    let mut names: Vec<(String, bool)> = adds
        .iter()
        .map(|(_, d)| {
            (
                text(d, con::FILE_AS).to_owned(),
                d.find(con::PICTURE).is_some(),
            )
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            ("Dr. Johnny Q. Appleseed Jr.".to_owned(), true),
            ("Jürgen Müller".to_owned(), true)
        ]
    );

    for (format, version) in [("vcf", "VERSION:3.0"), ("vcf4", "VERSION:4.0")] {
        let text = export(&data, "Contacts", format, &[]);
        assert_eq!(text.matches(version).count(), 2, "{text}");
        assert!(
            text.contains("UID:2E4CB084-4767-4C85-BBCA-805B1DCB1C8E\r\n"),
            "{text}"
        );
        assert!(text.contains("PHOTO"), "{text}");
        // What was exported imports as what is there.
        let back = tempfile::Builder::new()
            .suffix(".vcf")
            .tempfile()
            .expect("temp");
        std::fs::write(back.path(), &text).expect("write");
        let out = import_ok(&data, "Contacts", back.path());
        assert!(
            out.contains("imported 0, skipped 2 (already there), failed 0"),
            "{out}"
        );
    }
}
