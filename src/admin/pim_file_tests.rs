use super::*;
use crate::store::model::pim::Contact;

const ICS: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n\
    BEGIN:VEVENT\r\nUID:a@x\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\n\
    DTEND:20260105T110000Z\r\nSUMMARY:One\r\nEND:VEVENT\r\n\
    BEGIN:VEVENT\r\nUID:b@x\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260106T100000Z\r\n\
    DTEND:20260106T110000Z\r\nSUMMARY:Two\r\nRRULE:FREQ=DAILY;COUNT=3\r\nEND:VEVENT\r\n\
    BEGIN:VEVENT\r\nUID:c@x\r\nSUMMARY:no start\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

struct Fixture {
    _dir: tempfile::TempDir,
    files: std::path::PathBuf,
    store: Store,
    rt: tokio::runtime::Runtime,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("data")).unwrap();
        store
            .write_blocking(|w| ops::create_account(w, "pim@example.com", "", "h", false))
            .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        Fixture {
            files: dir.path().to_owned(),
            _dir: dir,
            store,
            rt,
        }
    }

    fn file(&self, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path = self.files.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// Imports; the summary and the progress reports.
    fn import(
        &self,
        folder: &str,
        path: &Path,
    ) -> Result<(Summary, Vec<ImportProgress>), ImportError> {
        let mut seen = Vec::new();
        let format = Format::of_path(path).expect("a calendar or contacts file");
        let summary = self.rt.block_on(import(
            &self.store,
            "pim@example.com",
            folder,
            path,
            format,
            &mut |p| seen.push(*p),
        ))?;
        Ok((summary, seen))
    }

    fn export(&self, folder: &str, format: Format) -> Result<String, ImportError> {
        self.rt
            .block_on(export(&self.store, "pim@example.com", folder, format))
    }
}

#[test]
fn an_ics_import_skips_what_is_there_and_export_gives_it_back() {
    let f = Fixture::new();
    let ics = f.file("cal.ics", ICS.as_bytes());
    let (first, progress) = f.import("calendar", &ics).unwrap();
    assert_eq!((first.imported, first.skipped, first.failed), (2, 0, 1));
    assert!(first.reasons[0].contains("VEVENT 3"), "{:?}", first.reasons);
    assert_eq!(progress.last().map(|p| (p.done, p.total)), Some((3, 3)));
    let (again, _) = f.import("Calendar", &ics).unwrap();
    assert_eq!((again.imported, again.skipped, again.failed), (0, 2, 1));

    let text = f.export("Calendar", Format::Ics).unwrap();
    let back = ical::import(&text);
    assert!(back.rejected.is_empty());
    let mut subjects: Vec<_> = back
        .events
        .iter()
        .filter_map(|e| e.subject.clone())
        .collect();
    subjects.sort();
    assert_eq!(subjects, ["One", "Two"]);

    let err = f.import("Inbox", &ics).unwrap_err();
    assert!(err.to_string().contains("not a calendar"), "{err}");
    let err = f.export("Contacts", Format::Ics).unwrap_err();
    assert!(err.to_string().contains("not a calendar"), "{err}");
    assert!(
        f.rt.block_on(export(
            &f.store,
            "nobody@example.com",
            "Calendar",
            Format::Ics
        ))
        .is_err()
    );
}

#[test]
fn a_vcf_import_reports_progress_warnings_and_failures_and_a_rerun_skips_all() {
    let f = Fixture::new();
    // 450 cards (three batches), one of them broken, one with a fourth e-mail address.
    let mut text = String::new();
    for i in 0..450 {
        if i == 7 {
            text.push_str(
                "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Broken\r\nno colon here\r\nEND:VCARD\r\n",
            );
            continue;
        }
        text.push_str(&format!(
            "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:card-{i}\r\nFN:Person {i}\r\nN:{i};Person;;;\r\n\
             EMAIL:p{i}@example.com\r\n{}END:VCARD\r\n",
            if i == 9 {
                "EMAIL:b@x\r\nEMAIL:c@x\r\nEMAIL:fourth@x\r\n"
            } else {
                ""
            }
        ));
    }
    let vcf = f.file("book.vcf", text.as_bytes());
    let (first, progress) = f.import("contacts", &vcf).unwrap();
    assert_eq!((first.imported, first.skipped, first.failed), (449, 0, 1));
    assert!(
        first.reasons[0].starts_with("card 8 (line 50): line 53"),
        "{:?}",
        first.reasons
    );
    assert_eq!(first.warnings.len(), 1);
    assert!(
        first.warnings[0].contains("fourth@x"),
        "{:?}",
        first.warnings
    );
    assert!(
        first.report().contains("warning: card 10"),
        "{}",
        first.report()
    );
    let done: Vec<u64> = progress.iter().map(|p| p.done).collect();
    assert_eq!(
        done,
        [201, 401, 450],
        "one report per batch, failures counted in"
    );
    assert!(progress.iter().all(|p| p.total == 450));

    let (again, _) = f.import("Contacts", &vcf).unwrap();
    assert_eq!((again.imported, again.skipped, again.failed), (0, 449, 1));

    // A contact a device made has no UID: the export gives it one, and importing the
    // export back into the folder skips everything.
    f.store
        .write_blocking(|w| {
            let account = w.account_by_email("pim@example.com")?.unwrap().id;
            let folder = (w.folders(account)?.into_iter())
                .find(|x| x.kind == FolderType::Contacts)
                .unwrap()
                .id;
            let contact = Contact {
                first_name: Some("From a phone".into()),
                ..Contact::default()
            };
            let record = Record::Contact(Box::new(contact));
            items::put_groupware(w, account, folder, None, record, model::Summary::Contact)
        })
        .unwrap();
    for format in [Format::Vcf, Format::Vcf4] {
        let out = f.export("Contacts", format).unwrap();
        let version = if format == Format::Vcf { "3.0" } else { "4.0" };
        assert_eq!(out.matches(&format!("VERSION:{version}")).count(), 450);
        assert!(out.contains("FN:From a phone"), "{out}");
        let back = f.file("back.vcf", out.as_bytes());
        let (round, _) = f.import("Contacts", &back).unwrap();
        assert_eq!((round.imported, round.skipped, round.failed), (0, 450, 0));
    }
    let err = f.import("Calendar", &vcf).unwrap_err();
    assert!(err.to_string().contains("not a contacts folder"), "{err}");
}
