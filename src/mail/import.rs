//! `easd import`: messages from an .eml file, an mbox file or a Maildir into one folder.
//!
//! Each message is stored like a delivery (blob durable, then the commit), in batches of
//! [`BATCH`] per transaction. A message is skipped when its key (Message-ID and the SHA-256
//! of the raw bytes, which is also its blob id) was imported into the folder before (the
//! imported marks), or is the key of a message in the folder when the import starts (a
//! delivered one: deliveries record no mark, which would cost every delivery a write at a
//! random place in a large table), so a re-run adds nothing. An mbox file is read message by message, never
//! whole.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal, Read, Write};

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use super::mime;
use crate::store::blob::{BlobBatch, BlobStore};
use crate::store::items::ItemReads;
use crate::store::marks::{self, MarkReads};
use crate::store::model::{AccountId, FolderId, FolderType, ROOT_FOLDER};
use crate::store::model::{Flags, FollowUp, MessageMeta};
use crate::store::ops::{self, Reads};
use crate::store::{BlobId, Store, StoreError, folders, items, now};

/// Why an import cannot run: no such account, a folder that cannot be made, a source
/// that cannot be read; or the store failing underneath.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Reading the source failed.
    #[error("{0}")]
    Read(#[from] std::io::Error),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
}

/// Messages per transaction.
const BATCH: usize = 100;
/// Failure reasons listed in the summary; the rest are only counted.
const MAX_REASONS: usize = 20;

/// The IMPORTED key of a message: its Message-ID and the SHA-256 of its bytes.
pub fn dedup_key(message_id: Option<&str>, blob: &BlobId) -> String {
    format!("{}|{}", message_id.unwrap_or(""), blob.as_str())
}

#[derive(Debug, Default)]
pub struct Summary {
    pub imported: u64,
    pub skipped: u64,
    pub failed: u64,
    pub reasons: Vec<String>,
    /// What was imported without all it held (a vCard's phone with no free slot, …).
    pub warnings: Vec<String>,
}

impl Summary {
    pub(crate) fn fail(&mut self, reason: String) {
        self.failed += 1;
        if self.reasons.len() < MAX_REASONS {
            self.reasons.push(reason);
        }
    }

    pub(crate) fn warn(&mut self, warning: String) {
        if self.warnings.len() < MAX_REASONS {
            self.warnings.push(warning);
        }
    }

    /// How far an import got: `done` of `total` in the source's unit, and the counts.
    pub(crate) fn progress(&self, done: u64, total: u64) -> ImportProgress {
        ImportProgress {
            done,
            total,
            imported: self.imported,
            skipped: self.skipped,
            failed: self.failed,
        }
    }

    pub fn report(&self) -> String {
        let mut out = format!(
            "imported {}, skipped {} (already there), failed {}",
            self.imported, self.skipped, self.failed
        );
        for r in &self.reasons {
            out.push_str("\n  ");
            out.push_str(r);
        }
        for w in &self.warnings {
            out.push_str("\n  warning: ");
            out.push_str(w);
        }
        out
    }
}

/// How far an import got, reported after each batch: to the CLI's progress bar directly,
/// or over the control socket when the daemon runs the import.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ImportProgress {
    /// Done and total in the source's own unit: bytes of an mbox, files of a Maildir.
    pub done: u64,
    pub total: u64,
    pub imported: u64,
    pub skipped: u64,
    pub failed: u64,
}

/// Imports `path` into the folder `folder` (by name; `INBOX` is the Inbox) of `email`,
/// creating the folder under the root when missing. `on_progress` hears how far it got
/// after each batch.
pub async fn import(
    store: &Store,
    email: &str,
    folder: &str,
    path: &Path,
    on_progress: &mut dyn FnMut(&ImportProgress),
) -> Result<Summary, ImportError> {
    let mut source = Source::open(path)?;
    let (account, folder) = find_or_create_folder(store, email, folder).await?;
    let present = std::sync::Arc::new(present_keys(store, account, folder).await?);
    let mut summary = Summary::default();
    loop {
        let (back, batch) = prepare_batch(store.blobs().clone(), source).await?;
        source = back;
        if batch.is_empty() {
            break;
        }
        commit(store, (account, folder), &present, batch, &mut summary).await?;
        let (done, total) = source.position();
        on_progress(&summary.progress(done, total));
    }
    Ok(summary)
}

/// The keys of the messages in the folder now.
async fn present_keys(
    store: &Store,
    account: AccountId,
    folder: FolderId,
) -> Result<HashSet<String>, StoreError> {
    store
        .view(move |tx| {
            Ok(tx
                .folder_items(account, folder)?
                .iter()
                .map(|i| dedup_key(i.meta.message_id.as_deref(), &i.blob))
                .collect())
        })
        .await
}

async fn find_or_create_folder(
    store: &Store,
    email: &str,
    name: &str,
) -> Result<(AccountId, FolderId), ImportError> {
    let email = ops::normalize_email(email)?;
    let name = name.trim().to_owned();
    store
        .write_or(move |w| {
            let account = w
                .account_by_email(&email)?
                .ok_or_else(|| ImportError::NotFound(format!("no account {email}")))?;
            let existing = w.folders(account.id)?.into_iter().find(|f| {
                if name.eq_ignore_ascii_case("INBOX") {
                    f.kind == FolderType::Inbox
                } else {
                    f.name.eq_ignore_ascii_case(&name)
                }
            });
            let folder = match existing {
                Some(f) => f,
                None => folders::create(w, account.id, ROOT_FOLDER, &name, FolderType::UserMail)
                    .map_err(|e| ImportError::Invalid(format!("folder {name:?}: {e}")))?,
            };
            Ok::<_, ImportError>((account.id, folder.id))
        })
        .await
}

/// One message made ready to commit: its blob is written and fsynced.
struct Prepared {
    key: String,
    blob: BlobId,
    meta: MessageMeta,
    flags: Flags,
}

enum Outcome {
    Ready(Box<Prepared>),
    Skipped,
    Failed(String),
}

/// Reads up to [`BATCH`] messages, off the async thread, writing their blobs (a message
/// imported before finds its blob there: blobs are content-addressed and kept). Whether a
/// message is new is decided by the commit's transaction, which the store answers on the
/// writer, so this task reads nothing from the store. Hands the source back for the next
/// batch.
async fn prepare_batch(
    store: BlobStore,
    mut source: Source,
) -> Result<(Source, Vec<Outcome>), ImportError> {
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        // The batch's blobs are made durable together, before the commit that uses them.
        let mut blobs = store.batch();
        while out.len() < BATCH {
            let Some(next) = source.next_message() else {
                break;
            };
            out.push(match next {
                Ok((raw, flags)) => prepare(&mut blobs, &raw, flags, &mut seen)?,
                Err(reason) => Outcome::Failed(reason),
            });
        }
        blobs.sync()?;
        Ok((source, out))
    })
    .await
    .map_err(|e| ImportError::Invalid(format!("import task failed: {e}")))?
}

fn prepare(
    blobs: &mut BlobBatch,
    raw: &[u8],
    flags: Flags,
    seen: &mut HashSet<String>,
) -> Result<Outcome, StoreError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(Outcome::Failed("an empty message".into()));
    }
    let meta = mime::parse(raw, now());
    let key = dedup_key(meta.message_id.as_deref(), &BlobId::of(raw));
    if !seen.insert(key.clone()) {
        return Ok(Outcome::Skipped);
    }
    let blob = blobs.put(raw)?;
    Ok(Outcome::Ready(Box::new(Prepared {
        key,
        blob,
        meta,
        flags,
    })))
}

/// Stores a batch in one transaction and records every message's key.
async fn commit(
    store: &Store,
    (account, folder): (AccountId, FolderId),
    present: &std::sync::Arc<HashSet<String>>,
    batch: Vec<Outcome>,
    summary: &mut Summary,
) -> Result<(), StoreError> {
    let present = present.clone();
    let mut ready = Vec::new();
    for outcome in batch {
        match outcome {
            Outcome::Ready(p) => ready.push(p),
            Outcome::Skipped => summary.skipped += 1,
            Outcome::Failed(reason) => summary.fail(reason),
        }
    }
    let (imported, skipped) = store
        .write(move |w| {
            let (mut imported, mut skipped) = (0, 0);
            for p in &ready {
                // Imported before (by an earlier batch or run, or another import
                // committed meanwhile) or there when the import started: skipped.
                if present.contains(&p.key) || w.was_imported(account, folder, &p.key)? {
                    skipped += 1;
                    continue;
                }
                let item = items::insert(
                    w,
                    account,
                    folder,
                    p.blob.clone(),
                    p.meta.clone(),
                    p.flags.clone(),
                )?;
                marks::mark_imported(w, account, folder, &p.key, item.id)?;
                imported += 1;
            }
            Ok((imported, skipped))
        })
        .await?;
    summary.imported += imported;
    summary.skipped += skipped;
    Ok(())
}

/// Where the messages come from.
enum Source {
    /// One message (.eml); taken once.
    Eml(Option<PathBuf>),
    Mbox(Mbox),
    /// Maildir message files (cur/ and new/), in name order; `done` of them read.
    Maildir {
        files: Vec<PathBuf>,
        done: usize,
    },
}

/// A message's bytes and flags, or why it could not be read.
type Next = Result<(Vec<u8>, Flags), String>;

impl Source {
    fn open(path: &Path) -> Result<Self, ImportError> {
        let shown = path.display();
        let metadata =
            std::fs::metadata(path).map_err(|e| ImportError::NotFound(format!("{shown}: {e}")))?;
        if metadata.is_dir() {
            return maildir_files(path).map(|files| Source::Maildir { files, done: 0 });
        }
        let mut file =
            File::open(path).map_err(|e| ImportError::Invalid(format!("{shown}: {e}")))?;
        let mut head = [0u8; 5];
        let n = file.read(&mut head)?;
        if &head[..n] == b"From " {
            let file = File::open(path)?;
            Ok(Source::Mbox(Mbox::new(
                BufReader::new(file),
                metadata.len(),
            )))
        } else {
            Ok(Source::Eml(Some(path.to_owned())))
        }
    }

    fn next_message(&mut self) -> Option<Next> {
        match self {
            Source::Eml(path) => path.take().map(|p| read_file(&p, Flags::default())),
            Source::Mbox(mbox) => mbox.next_message(),
            Source::Maildir { files, done } => {
                let path = files.get(*done)?;
                *done += 1;
                Some(read_file(path, maildir_flags(path)))
            }
        }
    }

    /// (done, total) in the source's own unit: bytes of an mbox, files of a Maildir.
    fn position(&self) -> (u64, u64) {
        match self {
            Source::Eml(path) => (u64::from(path.is_none()), 1),
            Source::Mbox(mbox) => (mbox.read, mbox.size),
            Source::Maildir { files, done } => (*done as u64, files.len() as u64),
        }
    }
}

fn read_file(path: &Path, flags: Flags) -> Next {
    std::fs::read(path)
        .map(|raw| (raw, flags))
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The message files of a Maildir: `cur/` and `new/` (not `tmp/`, which holds deliveries
/// in progress), sorted by name.
fn maildir_files(dir: &Path) -> Result<Vec<PathBuf>, ImportError> {
    let mut files = Vec::new();
    let mut found = false;
    for sub in ["cur", "new"] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        found = true;
        for entry in entries {
            let path = entry?.path();
            if path.is_file() {
                files.push(path);
            }
        }
    }
    if !found {
        return Err(ImportError::Invalid(format!(
            "{} is a directory but not a Maildir (no cur/ or new/)",
            dir.display()
        )));
    }
    files.sort();
    Ok(files)
}

/// Maildir info flags after `:2,` in the file name: S seen (read), F flagged.
fn maildir_flags(path: &Path) -> Flags {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let info = name.rsplit_once(":2,").map_or("", |(_, f)| f);
    Flags {
        read: info.contains('S'),
        flag: info.contains('F').then(|| FollowUp {
            status: 2,
            flag_type: "Follow up".into(),
            ..FollowUp::default()
        }),
        ..Flags::default()
    }
}

/// An mbox file read message by message. A line starting `From ` at the start of the
/// file or after an empty line separates messages; in the bodies, mboxrd quoting
/// (`>From `, `>>From `, ...) loses one `>`.
struct Mbox {
    reader: BufReader<File>,
    size: u64,
    /// Bytes read so far, for the progress line.
    read: u64,
}

impl Mbox {
    fn new(reader: BufReader<File>, size: u64) -> Self {
        Self {
            reader,
            size,
            read: 0,
        }
    }

    fn next_message(&mut self) -> Option<Next> {
        let mut message = Vec::new();
        let mut line = Vec::new();
        let mut previous_blank = true;
        loop {
            line.clear();
            match self.reader.read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(n) => self.read += n as u64,
                Err(e) => return Some(Err(format!("reading the mbox: {e}"))),
            }
            if previous_blank && line.starts_with(b"From ") {
                if !message.is_empty() {
                    return Some(Ok((finish(message), Flags::default())));
                }
                previous_blank = false;
                continue;
            }
            previous_blank = matches!(line.as_slice(), b"\n" | b"\r\n");
            message.extend_from_slice(unquote(&line));
        }
        (!message.is_empty()).then(|| Ok((finish(message), Flags::default())))
    }
}

/// mboxrd: `>From `, `>>From `, ... lose one `>`.
fn unquote(line: &[u8]) -> &[u8] {
    let quotes = line.iter().take_while(|&&b| b == b'>').count();
    if quotes > 0 && line[quotes..].starts_with(b"From ") {
        &line[1..]
    } else {
        line
    }
}

/// A message without the empty line the mbox format puts before the next `From `.
fn finish(mut message: Vec<u8>) -> Vec<u8> {
    if message.ends_with(b"\r\n\r\n") {
        message.truncate(message.len() - 2);
    } else if message.ends_with(b"\n\n") {
        message.truncate(message.len() - 1);
    }
    message
}

/// A `\r`-updated progress line on stderr, only when stderr is a terminal.
pub struct ProgressBar {
    on: bool,
    shown: bool,
}

impl ProgressBar {
    pub fn on_terminal() -> Self {
        Self {
            on: io::stderr().is_terminal(),
            shown: false,
        }
    }

    pub fn off() -> Self {
        Self {
            on: false,
            shown: false,
        }
    }

    pub fn is_on(&self) -> bool {
        self.on
    }

    pub fn show(&mut self, p: &ImportProgress) {
        if !self.on {
            return;
        }
        self.shown = true;
        let ImportProgress {
            done,
            total,
            imported,
            skipped,
            failed,
        } = *p;
        let percent = done.saturating_mul(100).checked_div(total).unwrap_or(100);
        let filled = (percent as usize).min(100) / 5;
        let mut err = io::stderr();
        let _ = write!(
            err,
            "\r[{:<20}] {percent:>3}%  {imported} imported, {skipped} skipped, {failed} failed",
            "#".repeat(filled),
        );
        let _ = err.flush();
    }

    /// Ends the line, if one was drawn.
    pub fn finish(&mut self) {
        if self.shown {
            eprintln!();
            self.shown = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_is_reported_per_batch_and_a_rerun_skips_everything() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("data")).unwrap();
        store
            .write_blocking(|w| {
                crate::store::ops::create_account(w, "imp@example.com", "", "h", false)
            })
            .unwrap();
        let mut mbox = String::new();
        for i in 0..250 {
            mbox.push_str(&format!(
                "From sender@example.com Mon Jan  1 00:00:00 2024\n\
                 Message-ID: <{i}@example.com>\nSubject: message {i}\n\nbody {i}\n\n"
            ));
        }
        let path = dir.path().join("in.mbox");
        std::fs::write(&path, &mbox).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let run = |reports: &mut Vec<ImportProgress>| {
            rt.block_on(import(
                &store,
                "imp@example.com",
                "INBOX",
                &path,
                &mut |p| reports.push(*p),
            ))
            .unwrap()
        };
        let mut reports = Vec::new();
        let summary = run(&mut reports);
        assert_eq!((summary.imported, summary.skipped), (250, 0));
        let imported: Vec<u64> = reports.iter().map(|p| p.imported).collect();
        assert_eq!(imported, [100, 200, 250]);
        assert!(reports.windows(2).all(|w| w[0].done < w[1].done));
        let last = reports.last().unwrap();
        assert_eq!(
            (last.done, last.total),
            (mbox.len() as u64, mbox.len() as u64)
        );

        let mut again = Vec::new();
        let summary = run(&mut again);
        assert_eq!((summary.imported, summary.skipped), (0, 250));
        assert_eq!(again.last().unwrap().skipped, 250);
    }

    #[test]
    fn a_message_delivered_before_is_skipped_and_a_new_one_imported() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("data")).unwrap();
        let account = store
            .write_blocking(|w| {
                crate::store::ops::create_account(w, "imp@example.com", "", "h", false)
            })
            .unwrap()
            .id;
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let delivered = b"Message-ID: <d@example.com>\r\nSubject: delivered\r\n\r\nbody\r\n";
        rt.block_on(crate::mail::deliver::deliver(
            &store,
            &[account],
            delivered.to_vec(),
        ))
        .unwrap();
        let run = |bytes: &[u8], name: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            rt.block_on(import(
                &store,
                "imp@example.com",
                "INBOX",
                &path,
                &mut |_| {},
            ))
            .unwrap()
        };
        let summary = run(delivered, "same.eml");
        assert_eq!((summary.imported, summary.skipped), (0, 1));
        // The same Message-ID with other bytes is another message.
        let other = b"Message-ID: <d@example.com>\r\nSubject: edited\r\n\r\nbody\r\n";
        let summary = run(other, "other.eml");
        assert_eq!((summary.imported, summary.skipped), (1, 0));
    }

    #[test]
    fn mboxrd_unquoting_removes_one_level() {
        assert_eq!(unquote(b">From here\n"), b"From here\n");
        assert_eq!(unquote(b">>From here\n"), b">From here\n");
        assert_eq!(unquote(b"> From here\n"), b"> From here\n");
        assert_eq!(unquote(b"From x\n"), b"From x\n");
    }

    #[test]
    fn maildir_flags_come_from_the_info_suffix() {
        let f = maildir_flags(Path::new("cur/1.2.host:2,FS"));
        assert!(f.read && f.flag.is_some());
        let f = maildir_flags(Path::new("new/1.2.host"));
        assert!(!f.read && f.flag.is_none());
    }
}
