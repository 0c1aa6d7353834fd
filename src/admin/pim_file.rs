//! A calendar or contacts folder to and from a file (`easd import`, `easd export`): the
//! store side of `pim::ical` (iCalendar, calendars) and `pim::vcard` (vCard, contacts).
//!
//! Import reads the whole file, checks each item as a device's Sync Add would be
//! (`eas::class::summarize`), and stores the items in batches of [`BATCH`], each batch
//! one transaction, durable before its progress is reported. An item whose UID is
//! already in the folder (its own, or the one an export gave an item that had none) is
//! skipped, so a re-run adds nothing. An item that does not read, or that the checks
//! refuse, is counted as failed with its reason; what an item held that its record could
//! not take is listed as a warning; the others are imported.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::eas::class::summarize;
use crate::mail::import::{ImportError, ImportProgress, Summary};
use crate::pim::{ical, vcard};
use crate::store::items::{self, ItemReads};
use crate::store::model::pim::Record;
use crate::store::model::{self, AccountId, FolderId, FolderType};
use crate::store::ops::{self, Reads};
use crate::store::{Store, now};

/// Items per transaction.
const BATCH: usize = 200;

/// The file formats, by what they hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Format {
    /// iCalendar (RFC 5545): a calendar's events.
    #[default]
    Ics,
    /// vCard 3.0 (RFC 2426) out; 2.1, 3.0 and 4.0 in: a contacts folder.
    Vcf,
    /// vCard 4.0 (RFC 6350) out.
    Vcf4,
}

impl Format {
    /// The format of a file to import, by its extension; `None`: not a calendar or
    /// contacts file.
    pub fn of_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "ics" | "ical" | "ifb" => Some(Format::Ics),
            "vcf" | "vcard" => Some(Format::Vcf),
            _ => None,
        }
    }

    /// The folder types it goes into, and what to call them in an error.
    fn folders(self) -> (&'static [FolderType], &'static str) {
        match self {
            Format::Ics => (
                &[FolderType::Calendar, FolderType::UserCalendar],
                "not a calendar: iCalendar files go into calendars",
            ),
            Format::Vcf | Format::Vcf4 => (
                &[FolderType::Contacts, FolderType::UserContacts],
                "not a contacts folder: vCard files go into contacts folders",
            ),
        }
    }
}

/// One item of a file, ready to store.
struct Ready {
    uid: Option<String>,
    record: Record,
    summary: model::Summary,
}

/// Imports the file at `path` (`format`) into the folder `folder` of `email`;
/// `on_progress` hears after each batch how many items of the file are done.
pub async fn import(
    store: &Store,
    email: &str,
    folder: &str,
    path: &Path,
    format: Format,
    on_progress: &mut dyn FnMut(&ImportProgress),
) -> Result<Summary, ImportError> {
    let (account, folder) = find_folder(store, email, folder, format).await?;
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|e| ImportError::Invalid(format!("{}: {e}", path.display())))?;
    let mut summary = Summary::default();
    let ready = match format {
        Format::Ics => {
            let text = String::from_utf8(bytes).map_err(|_| {
                ImportError::Invalid(format!("{}: not UTF-8 (RFC 5545 3.1.4)", path.display()))
            })?;
            read_ics(&text, &mut summary)
        }
        Format::Vcf | Format::Vcf4 => read_vcf(&vcard::decode_file(&bytes), &mut summary),
    };
    store_items(store, (account, folder), ready, summary, on_progress).await
}

fn read_ics(text: &str, summary: &mut Summary) -> Vec<Ready> {
    let read = ical::import(text);
    for r in &read.rejected {
        summary.fail(format!("VEVENT {}: {}", r.index, r.reason));
    }
    read.events
        .into_iter()
        .filter_map(|event| {
            let uid = event.uid.clone();
            let record = Record::Event(Box::new(event));
            checked(uid, record, summary)
        })
        .collect()
}

fn read_vcf(text: &str, summary: &mut Summary) -> Vec<Ready> {
    let read = vcard::import(text);
    for r in &read.rejected {
        summary.fail(format!("card {} (line {}): {}", r.index, r.line, r.reason));
    }
    read.cards
        .into_iter()
        .filter_map(|card| {
            for w in &card.warnings {
                summary.warn(format!("card {} (line {}): {w}", card.index, card.line));
            }
            let uid = card.contact.uid.clone();
            checked(uid, Record::Contact(Box::new(card.contact)), summary)
        })
        .collect()
}

/// An item the checks of a device's Add accept.
fn checked(uid: Option<String>, record: Record, summary: &mut Summary) -> Option<Ready> {
    match summarize(&record) {
        Ok(s) => Some(Ready {
            uid,
            record,
            summary: s,
        }),
        Err(why) => {
            summary.fail(format!("item {}: {why}", uid.as_deref().unwrap_or("")));
            None
        }
    }
}

/// Stores `ready` in batches, skipping the UIDs the folder has.
async fn store_items(
    store: &Store,
    (account, folder): (AccountId, FolderId),
    ready: Vec<Ready>,
    mut summary: Summary,
    on_progress: &mut dyn FnMut(&ImportProgress),
) -> Result<Summary, ImportError> {
    let total = (ready.len() as u64) + summary.failed;
    let mut have: HashSet<String> = store
        .view(move |snap| {
            Ok::<_, ImportError>(
                snap.groupware_items(account, folder)?
                    .into_iter()
                    .flat_map(|item| {
                        let own = match item.record {
                            Record::Event(e) => e.uid,
                            Record::Contact(c) => c.uid,
                            _ => None,
                        };
                        own.into_iter()
                            .chain([fallback_uid(account, folder, item.id)])
                    })
                    .collect(),
            )
        })
        .await?;
    let mut done = summary.failed;
    let mut ready = ready.into_iter().peekable();
    while ready.peek().is_some() {
        let batch: Vec<Ready> = ready.by_ref().take(BATCH).collect();
        done += batch.len() as u64;
        // The UIDs met so far (in the folder, or earlier in the file), then this batch's
        // new items; the job may run twice, so it only reads them.
        let mut fresh = Vec::new();
        let mut skipped = 0;
        for item in batch {
            match &item.uid {
                Some(uid) if !have.insert(uid.clone()) => skipped += 1,
                _ => fresh.push(item),
            }
        }
        let fresh = Arc::new(fresh);
        let imported = fresh.len() as u64;
        if imported > 0 {
            store
                .write_or(move |w| {
                    for item in fresh.iter() {
                        items::put_groupware(
                            w,
                            account,
                            folder,
                            None,
                            item.record.clone(),
                            item.summary.clone(),
                        )?;
                    }
                    Ok::<_, ImportError>(())
                })
                .await?;
        }
        summary.imported += imported;
        summary.skipped += skipped;
        on_progress(&summary.progress(done, total));
    }
    Ok(summary)
}

/// The UID an export gives an item that has none (a contact a device made, an event
/// stored before UIDs were given), so that importing the export back skips it.
fn fallback_uid(account: AccountId, folder: FolderId, id: u64) -> String {
    format!("easd-{account}-{folder}-{id}")
}

/// The items of the folder `folder` of `email` as one file of `format`.
pub async fn export(
    store: &Store,
    email: &str,
    folder: &str,
    format: Format,
) -> Result<String, ImportError> {
    let (account, folder) = find_folder(store, email, folder, format).await?;
    let items = store
        .view(move |snap| snap.groupware_items(account, folder))
        .await?;
    let uids: Vec<String> = (items.iter())
        .map(|item| fallback_uid(account, folder, item.id))
        .collect();
    let with_uids = items.iter().zip(&uids);
    Ok(match format {
        Format::Ics => ical::export(
            with_uids.filter_map(|(item, uid)| match &item.record {
                Record::Event(e) => Some((uid.as_str(), &**e)),
                _ => None,
            }),
            now(),
        ),
        Format::Vcf | Format::Vcf4 => vcard::export(
            with_uids.filter_map(|(item, uid)| match &item.record {
                Record::Contact(c) => Some((uid.as_str(), &**c)),
                _ => None,
            }),
            if format == Format::Vcf4 {
                vcard::Version::V4
            } else {
                vcard::Version::V3
            },
        ),
    })
}

/// The account's folder named `name` (case-insensitive), of a type `format` goes into.
async fn find_folder(
    store: &Store,
    email: &str,
    name: &str,
    format: Format,
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
            let (kinds, refusal) = format.folders();
            if !kinds.contains(&folder.kind) {
                return Err(ImportError::Invalid(format!(
                    "folder {name:?} is {refusal}"
                )));
            }
            Ok((account.id, folder.id))
        })
        .await
}

#[cfg(test)]
#[path = "pim_file_tests.rs"]
mod tests;
