//! A calendar folder to and from an iCalendar file: the store side of `pim::ical`.
//!
//! Import stores each event of the file in the folder like a device's Sync Add (the same
//! checks, `eas::class::calendar::summary`), in one transaction: durable before the
//! answer. An event whose UID is already in the folder is skipped, so a re-run adds
//! nothing; a VEVENT that does not read, or an event the checks refuse, is counted as
//! failed with its reason and the others are imported.

use crate::eas::class::calendar;
use crate::mail::import::{ImportError, Summary};
use crate::pim::ical;
use crate::store::items::{self, ItemReads};
use crate::store::model::pim::Record;
use crate::store::model::{AccountId, FolderId, FolderType};
use crate::store::ops::{self, Reads};
use crate::store::{Store, now};

/// Imports the events of iCalendar `text` into the calendar folder `folder` of `email`.
pub async fn import(
    store: &Store,
    email: &str,
    folder: &str,
    text: &str,
) -> Result<Summary, ImportError> {
    let (account, folder) = calendar_folder(store, email, folder).await?;
    let read = ical::import(text);
    let mut summary = Summary::default();
    for r in &read.rejected {
        summary.fail(format!("VEVENT {}: {}", r.index, r.reason));
    }
    let mut ready = Vec::new();
    for event in read.events {
        match calendar::summary(&event) {
            Ok(s) => ready.push((event, s)),
            Err(why) => summary.fail(format!(
                "event {}: {why}",
                event.uid.as_deref().unwrap_or("")
            )),
        }
    }
    let (imported, skipped) = store
        .write_or(move |w| {
            let mut have: Vec<String> = w
                .groupware_items(account, folder)?
                .into_iter()
                .filter_map(|item| match item.record {
                    Record::Event(e) => e.uid,
                    _ => None,
                })
                .collect();
            let (mut imported, mut skipped) = (0, 0);
            for (event, s) in &ready {
                let uid = event.uid.clone().unwrap_or_default();
                if have.contains(&uid) {
                    skipped += 1;
                    continue;
                }
                let record = Record::Event(Box::new(event.clone()));
                let summary = crate::store::model::Summary::Calendar(s.clone());
                items::put_groupware(w, account, folder, None, record, summary)?;
                have.push(uid);
                imported += 1;
            }
            Ok::<_, ImportError>((imported, skipped))
        })
        .await?;
    summary.imported = imported;
    summary.skipped = skipped;
    Ok(summary)
}

/// The events of the calendar folder `folder` of `email` as one iCalendar file.
pub async fn export(store: &Store, email: &str, folder: &str) -> Result<String, ImportError> {
    let (account, folder) = calendar_folder(store, email, folder).await?;
    let items = store
        .view(move |snap| snap.groupware_items(account, folder))
        .await?;
    let events: Vec<(String, &crate::store::model::pim::Event)> = items
        .iter()
        .filter_map(|item| match &item.record {
            Record::Event(e) => Some((format!("easd-{account}-{folder}-{}", item.id), &**e)),
            _ => None,
        })
        .collect();
    Ok(ical::export(
        events.iter().map(|(uid, e)| (uid.as_str(), *e)),
        now(),
    ))
}

/// The account's calendar folder named `name` (case-insensitive).
async fn calendar_folder(
    store: &Store,
    email: &str,
    name: &str,
) -> Result<(AccountId, FolderId), ImportError> {
    let email = ops::normalize_email(email)?;
    let name = name.trim().to_owned();
    store
        .view(move |snap| {
            let account = snap
                .account_by_email(&email)?
                .ok_or_else(|| ImportError::NotFound(format!("no account {email}")))?;
            let folder = snap
                .folders(account.id)?
                .into_iter()
                .find(|f| f.name.eq_ignore_ascii_case(&name))
                .ok_or_else(|| ImportError::NotFound(format!("no folder {name:?} for {email}")))?;
            if !matches!(folder.kind, FolderType::Calendar | FolderType::UserCalendar) {
                return Err(ImportError::Invalid(format!(
                    "folder {name:?} is not a calendar: iCalendar files go into calendars"
                )));
            }
            Ok((account.id, folder.id))
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    const ICS: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n\
        BEGIN:VEVENT\r\nUID:a@x\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\n\
        DTEND:20260105T110000Z\r\nSUMMARY:One\r\nEND:VEVENT\r\n\
        BEGIN:VEVENT\r\nUID:b@x\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260106T100000Z\r\n\
        DTEND:20260106T110000Z\r\nSUMMARY:Two\r\nRRULE:FREQ=DAILY;COUNT=3\r\nEND:VEVENT\r\n\
        BEGIN:VEVENT\r\nUID:c@x\r\nSUMMARY:no start\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    #[test]
    fn import_skips_what_is_there_and_export_gives_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("data")).unwrap();
        store
            .write_blocking(|w| ops::create_account(w, "cal@example.com", "", "h", false))
            .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let first = rt
            .block_on(import(&store, "cal@example.com", "calendar", ICS))
            .unwrap();
        assert_eq!((first.imported, first.skipped, first.failed), (2, 0, 1));
        assert!(first.reasons[0].contains("VEVENT 3"), "{:?}", first.reasons);
        let again = rt
            .block_on(import(&store, "cal@example.com", "Calendar", ICS))
            .unwrap();
        assert_eq!((again.imported, again.skipped, again.failed), (0, 2, 1));

        let text = rt
            .block_on(export(&store, "cal@example.com", "Calendar"))
            .unwrap();
        let back = ical::import(&text);
        assert!(back.rejected.is_empty());
        let mut subjects: Vec<_> = back
            .events
            .iter()
            .filter_map(|e| e.subject.clone())
            .collect();
        subjects.sort();
        assert_eq!(subjects, ["One", "Two"]);

        let err = rt
            .block_on(import(&store, "cal@example.com", "Inbox", ICS))
            .unwrap_err();
        assert!(err.to_string().contains("not a calendar"), "{err}");
        assert!(
            rt.block_on(export(&store, "nobody@example.com", "Calendar"))
                .is_err()
        );
    }
}
