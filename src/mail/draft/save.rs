//! A device's draft Add or Change applied inside a store write, and the Send after the
//! write committed.
//!
//! The new message is built and its blob written (fsynced) inside the write job, before
//! the commit that references it: a job run twice writes the same content-addressed blob,
//! and a rolled-back one leaves at worst an orphan file. Sending leaves the store (the
//! relay), so it runs after the commit, through [`submit`], under a key made from the
//! draft's item id: a resent Sync cannot send a draft twice.

use super::{Draft, Edit, EditError, Mailbox, attachment_parts};
use crate::config::Config;
use crate::mail::mime;
use crate::mail::submit::{self, Submission, SubmitError};
use crate::store::Reader;
use crate::store::items::{self, ItemReads};
use crate::store::model::{Account, AccountId, FolderId};
use crate::store::model::{Flags, MailItem, MessageMeta};
use crate::store::{BlobId, BlobStore, Store, StoreError, WriteCtx, now};

/// Who writes the draft: its From, and the host its Message-ID names.
#[derive(Debug, Clone)]
pub struct Author {
    pub mailbox: Mailbox,
    pub hostname: String,
}

/// A draft written: the item, and the MIME part (FileReference) of each attachment the
/// edit added, by the device's ClientId for it.
#[derive(Debug)]
pub struct Saved {
    pub item: MailItem,
    pub attached: Vec<(String, u32)>,
}

/// What became of an edit.
#[derive(Debug)]
pub enum Outcome {
    /// Boxed: a message's metadata dwarfs the other variants.
    Saved(Box<Saved>),
    /// The draft does not exist.
    NotFound,
    Refused(EditError),
}

/// The submission key of draft `item` in the account's sent-ClientId table. A device's
/// own ClientIds come from WBXML strings, which cannot hold NUL, so they never collide.
pub fn sent_key(item: u64) -> String {
    format!("\0draft:{item}")
}

/// Whether draft `item` of `account` was sent (and so left Drafts).
pub fn was_sent(tx: &impl Reader, account: AccountId, item: u64) -> Result<bool, StoreError> {
    tx.was_submitted(account, &sent_key(item))
}

/// Flags of a draft: read (it is the user's own), marked as a draft.
fn draft_flags(mut flags: Flags) -> Flags {
    flags.read = true;
    flags.draft = true;
    flags
}

/// Writes `draft`'s message durably; its blob and metadata.
fn write(
    blobs: &BlobStore,
    draft: &Draft,
    author: &Author,
    received: i64,
) -> Result<(BlobId, MessageMeta), StoreError> {
    let raw = draft.build(&author.mailbox);
    let blob = blobs.put(&raw)?;
    Ok((blob, mime::parse(&raw, received)))
}

/// The (ClientId, part) of the attachments `edit` appended: the last ones of `parts`.
fn appended(client_ids: &[String], parts: &[u32]) -> Vec<(String, u32)> {
    let first = parts.len().saturating_sub(client_ids.len());
    client_ids
        .iter()
        .cloned()
        .zip(parts[first..].iter().copied())
        .collect()
}

/// A new draft in `folder` from `edit`.
pub fn create(
    w: &mut WriteCtx,
    blobs: &BlobStore,
    account: AccountId,
    folder: FolderId,
    author: &Author,
    edit: Edit,
) -> Result<Outcome, StoreError> {
    let client_ids: Vec<String> = edit.add.iter().map(|(c, _)| c.clone()).collect();
    let mut draft = Draft::new(&author.hostname);
    if let Err(e) = draft.apply(edit, &[]) {
        return Ok(Outcome::Refused(e));
    }
    let (blob, meta) = write(blobs, &draft, author, now())?;
    let parts = attachment_parts(&meta);
    let item = items::insert(
        w,
        account,
        folder,
        blob,
        meta,
        draft_flags(Flags::default()),
    )?;
    Ok(Outcome::Saved(Box::new(Saved {
        attached: appended(&client_ids, &parts),
        item,
    })))
}

/// Applies `edit` to draft `id` of `folder`: the message is rebuilt (and so dated now)
/// even when the edit is empty, which is what a Send of it wants.
pub fn update(
    w: &mut WriteCtx,
    blobs: &BlobStore,
    (account, folder, id): (AccountId, FolderId, u64),
    author: &Author,
    edit: Edit,
) -> Result<Outcome, StoreError> {
    let Some(current) = w.item(account, folder, id)? else {
        return Ok(Outcome::NotFound);
    };
    let raw = blobs.read(&current.blob)?;
    let mut draft = Draft::read(&raw, &current.meta, &author.hostname);
    let client_ids: Vec<String> = edit.add.iter().map(|(c, _)| c.clone()).collect();
    if let Err(e) = draft.apply(edit, &attachment_parts(&current.meta)) {
        return Ok(Outcome::Refused(e));
    }
    let (blob, meta) = write(blobs, &draft, author, current.meta.received)?;
    let parts = attachment_parts(&meta);
    let flags = draft_flags(current.flags);
    let Some(item) = items::replace_message(w, account, folder, id, blob, meta, flags)? else {
        return Ok(Outcome::NotFound);
    };
    Ok(Outcome::Saved(Box::new(Saved {
        attached: appended(&client_ids, &parts),
        item,
    })))
}

/// Sends draft `id` of `folder` as it is stored: relayed and delivered like a SendMail,
/// its copy filed in Sent Items, and the draft removed from Drafts in the same commit.
/// A draft already sent (a resent Sync) is not sent again.
pub async fn send(
    store: &Store,
    cfg: &Config,
    account: &Account,
    folder: FolderId,
    id: u64,
) -> Result<(), SubmitError> {
    let owner = account.id;
    // The draft's blob, or whether it is gone because it was sent.
    let found = store
        .view(move |tx| match tx.item(owner, folder, id)? {
            Some(item) => Ok(Ok(item.blob)),
            None => was_sent(tx, owner, id).map(Err),
        })
        .await?;
    let blob = match found {
        Ok(blob) => blob,
        Err(true) => return Ok(()),
        Err(false) => return Err(SubmitError::SourceNotFound),
    };
    let raw = store.blobs().read(&blob).map_err(StoreError::from)?;
    let sub = Submission {
        raw,
        save_in_sent: true,
        client_id: Some(sent_key(id)),
        source: None,
        draft: Some((folder, id)),
    };
    submit::submit(store, cfg, account, sub).await
}
