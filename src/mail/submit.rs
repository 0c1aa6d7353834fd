//! Mail submission from a phone (SendMail, SmartReply, SmartForward): complete the message,
//! relay it to remote recipients, deliver it to local ones, file the Sent Items copy.
//!
//! Nothing is acknowledged before it is safe: the relay must have accepted the remote copy
//! and the local copies must be committed before the client is told Status 1; if the relay
//! is down or answers "try later" the client is told to keep the message and retry (111),
//! and a resent message with the same ClientId is not sent twice. Recipients the relay
//! refuses for good do not hold up the others: the message goes to everyone else, the
//! client is told Status 1, and a delivery-status notification naming the refused ones is
//! put into the sender's Inbox (as Exchange does with its non-delivery reports).

use super::compose;
use super::deliver;
use super::dsn::{self, Attempt};
use super::invite;
use super::mime;
use super::relay::{self, RelayError};
use super::smart::{self, Smart};
use crate::config::Config;
use crate::proto::status::GlobalStatus;
use crate::store::items::{self, ItemReads};
use crate::store::marks::{self, MarkReads};
use crate::store::model::Flags;
use crate::store::model::{Account, FolderType};
use crate::store::ops::Reads;
use crate::store::{Store, StoreError, WriteCtx, now};

/// What a Smart command answers or forwards, and how.
#[derive(Debug, Clone)]
pub struct Source {
    pub folder: u64,
    pub item: u64,
    pub kind: Smart,
    /// The client sent the whole message itself ([MS-ASCMD] 2.2.3.151 ReplaceMime).
    pub replace_mime: bool,
}

#[derive(Debug)]
pub struct Submission {
    pub raw: Vec<u8>,
    pub save_in_sent: bool,
    pub client_id: Option<String>,
    pub source: Option<Source>,
    /// (folder, item) of the draft this sends ([MS-ASEMAIL] 2.2.2.69 Send): it leaves
    /// Drafts in the commit that files the Sent Items copy.
    pub draft: Option<(u64, u64)>,
}

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("the message names no recipient")]
    NoRecipients,
    #[error("the message names more than max_recipients {max} recipients")]
    TooManyRecipients { max: usize },
    #[error("the message to reply to or forward does not exist")]
    SourceNotFound,
    #[error(transparent)]
    InvalidMime(#[from] smart::InvalidMime),
    #[error("a message with this ClientId is being sent right now")]
    InProgress,
    #[error(transparent)]
    Relay(#[from] RelayError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SubmitError {
    /// The ComposeMail status ([MS-ASCMD] 2.2.2 common status codes).
    pub fn status(&self) -> GlobalStatus {
        match self {
            SubmitError::NoRecipients => GlobalStatus::MessageHasNoRecipient,
            // [MS-ASCMD] 2.2.2 has no status for a recipient count, and this is the one
            // that says "not sent, and sending it again will not help".
            SubmitError::TooManyRecipients { .. } => GlobalStatus::SendQuotaExceeded,
            SubmitError::SourceNotFound => GlobalStatus::ItemNotFound,
            SubmitError::InvalidMime(_) => GlobalStatus::InvalidMime,
            SubmitError::Relay(_) | SubmitError::InProgress => GlobalStatus::ServerErrorRetryLater,
            SubmitError::Store(_) => GlobalStatus::ServerError,
        }
    }
}

/// Whether a message with this ClientId was already sent.
async fn already_sent(store: &Store, account: u64, client_id: &str) -> Result<bool, StoreError> {
    let client_id = client_id.to_owned();
    store
        .view(move |tx| tx.was_submitted(account, &client_id))
        .await
}

thread_local! {
    /// (account, ClientId) of submissions under way: a resend while the first is still
    /// relaying must not send the message a second time.
    static IN_FLIGHT: std::cell::RefCell<std::collections::HashSet<(u64, String)>> =
        Default::default();
}

/// Marks a ClientId as under way until dropped.
struct InFlight(Option<(u64, String)>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(key) = self.0.take() {
            IN_FLIGHT.with(|f| f.borrow_mut().remove(&key));
        }
    }
}

pub async fn submit(
    store: &Store,
    cfg: &Config,
    account: &Account,
    sub: Submission,
) -> Result<(), SubmitError> {
    let _in_flight = match &sub.client_id {
        Some(id) => {
            let key = (account.id, id.clone());
            if !IN_FLIGHT.with(|f| f.borrow_mut().insert(key.clone())) {
                // The first copy is still being sent: the client asks again later and is
                // then told it went out.
                return Err(SubmitError::InProgress);
            }
            // Marked under way before the store is asked (the read may wait): a first copy
            // that finished meanwhile recorded its ClientId before leaving the mark.
            let in_flight = InFlight(Some(key));
            if already_sent(store, account.id, id).await? {
                tracing::info!(
                    "{}: ClientId {id} was already sent; not sending again",
                    account.email
                );
                return Ok(());
            }
            in_flight
        }
        None => InFlight(None),
    };
    let mut raw = sub.raw;
    if let Some(src) = &sub.source {
        let (owner, folder, item) = (account.id, src.folder, src.item);
        let original = store
            .view(move |tx| tx.item(owner, folder, item))
            .await?
            .ok_or(SubmitError::SourceNotFound)?;
        if !src.replace_mime {
            // Reading and rebuilding a large message is work for a blocking thread.
            let (blobs, blob, kind) = (store.blobs().clone(), original.blob, src.kind);
            let client = std::mem::take(&mut raw);
            raw = tokio::task::spawn_blocking(move || -> Result<_, SubmitError> {
                let original_raw = blobs.read(&blob).map_err(StoreError::from)?;
                Ok(smart::complete(&client, &original_raw, kind)?)
            })
            .await
            .map_err(|e| {
                StoreError::Io(std::io::Error::other(format!(
                    "SmartReply/Forward task failed: {e}"
                )))
            })??;
        }
    }
    let raw = compose::as_sender(&raw, &account.email, &account.display_name, &cfg.hostname);
    let max = cfg.limits.max_recipients;
    let recipients =
        compose::recipients(&raw, max).map_err(|_| SubmitError::TooManyRecipients { max })?;
    if recipients.is_empty() {
        return Err(SubmitError::NoRecipients);
    }
    let public = compose::strip_bcc(&raw);
    let mut local = Vec::new();
    let mut remote = Vec::new();
    for r in recipients {
        match deliver::resolve(store, &r).await? {
            Some(id) => local.push(id),
            None => remote.push(r),
        }
    }
    let received = now();
    let refusals = if remote.is_empty() {
        Vec::new()
    } else {
        relay::send(&cfg.relay, &cfg.hostname, &account.email, &remote, &public).await?
    };
    let report = (!refusals.is_empty()).then(|| {
        for r in &refusals {
            tracing::info!(
                from = %account.email, to = ?r.recipient, code = r.code, reply = ?r.text,
                "relay refused a recipient for good; reporting it to the sender"
            );
        }
        let attempt = Attempt {
            hostname: &cfg.hostname,
            relay: &cfg.relay.host,
            sender: &account.email,
            arrival: received,
        };
        dsn::report(&attempt, &public, &refusals)
    });
    let blobs = store.blobs().clone();
    let save = sub.save_in_sent;
    let prepared = tokio::task::spawn_blocking(move || -> Result<_, StoreError> {
        let public_meta = mime::parse(&public, received);
        // A meeting message changes its local recipients' calendars as LMTP delivery
        // does (`invite::apply`, in the same commit as their copies).
        let scheduling = invite::of_message(&public_meta, &public);
        let public_blob = blobs.put(&public)?;
        let sent = if save {
            let meta = mime::parse(&raw, received);
            Some((blobs.put(&raw)?, meta))
        } else {
            None
        };
        let report = match report {
            Some(report) => Some((blobs.put(&report)?, mime::parse(&report, received))),
            None => None,
        };
        Ok((public_blob, public_meta, scheduling, sent, report))
    })
    .await
    .map_err(|e| {
        StoreError::Io(std::io::Error::other(format!(
            "submission task failed: {e}"
        )))
    })??;
    let (public_blob, public_meta, scheduling, sent, report) = prepared;
    local.sort_unstable();
    local.dedup();
    let (account_id, client_id, source, draft) = (account.id, sub.client_id, sub.source, sub.draft);
    store
        .write(move |w| {
            let inbox_of = |w: &WriteCtx, to: u64| {
                w.folders(to)?
                    .into_iter()
                    .find(|f| f.kind == FolderType::Inbox)
                    .ok_or_else(|| StoreError::NotFound(format!("Inbox of account {to}")))
            };
            for &to in &local {
                let inbox = inbox_of(w, to)?;
                items::insert(
                    w,
                    to,
                    inbox.id,
                    public_blob.clone(),
                    public_meta.clone(),
                    Flags::default(),
                )?;
                if let Some(s) = &scheduling {
                    invite::apply(w, to, s)?;
                }
            }
            // In the same commit as the Sent Items copy and the ClientId: a resend that
            // is answered "already sent" never makes a second report.
            if let Some((blob, meta)) = &report {
                let inbox = inbox_of(w, account_id)?;
                items::insert(
                    w,
                    account_id,
                    inbox.id,
                    blob.clone(),
                    meta.clone(),
                    Flags::default(),
                )?;
            }
            if let Some((blob, meta)) = &sent {
                let sent_folder = w
                    .folders(account_id)?
                    .into_iter()
                    .find(|f| f.kind == FolderType::SentItems)
                    .ok_or_else(|| StoreError::NotFound("Sent Items".into()))?;
                let flags = Flags {
                    read: true,
                    ..Flags::default()
                };
                items::insert(
                    w,
                    account_id,
                    sent_folder.id,
                    blob.clone(),
                    meta.clone(),
                    flags,
                )?;
            }
            if let Some(src) = &source {
                // [MS-ASEMAIL] LastVerbExecuted: 1 reply to sender, 2 reply to all, 3 forward.
                let verb = match src.kind {
                    Smart::Forward => 3,
                    Smart::Reply if public_meta.to.contains(',') || !public_meta.cc.is_empty() => 2,
                    Smart::Reply => 1,
                };
                items::update_flags(w, account_id, src.folder, src.item, |f| {
                    f.last_verb = Some((verb, received))
                })?;
            }
            if let Some((folder, item)) = draft {
                items::delete(w, account_id, folder, item)?;
            }
            if let Some(id) = &client_id {
                marks::mark_submitted(w, account_id, id, received)?;
            }
            Ok(())
        })
        .await?;
    Ok(())
}
