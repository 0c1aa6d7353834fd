//! Out-of-office auto-replies ([MS-ASCMD] 2.2.3.119 Oof; RFC 3834).
//!
//! Runs after an LMTP delivery committed, in its own task, so the `250` never waits for it
//! and its failures are only logged. For each recipient account whose Oof is on, one reply
//! goes to the envelope sender, with the message that applies to the sender:
//!
//! - internal: the sender's domain is one of the server's domains;
//! - external known: the account has sent mail to the sender (approximated by the
//!   recipients of the messages in its Sent Items); falls back to the unknown message;
//! - external unknown: everyone else.
//!
//! RFC 3834 section 2 rules: no reply to a null return path or an automatic sender, to an
//! auto-submitted, bulk or list message, to a message that does not name the account in
//! To/Cc, nor twice to one sender within [`PERIOD`].

use std::cell::Cell;
use std::rc::Rc;

use mail_builder::MessageBuilder;
use mail_builder::headers::raw::Raw;
use mail_parser::{Address, Message, MessageParser};

use super::deliver::{self, Delivered};
use super::relay;
use crate::config::Config;
use crate::server_settings::Effective;
use crate::store::items::ItemReads;
use crate::store::marks::{self, MarkReads};
use crate::store::model::{Account, AccountId, FolderType, Oof, OofMessage};
use crate::store::ops::Reads;
use crate::store::{Reader, Store, StoreError, now};

/// At most one reply per (account, sender) in this many seconds (RFC 3834 section 2
/// suggests 7 days).
pub const PERIOD: i64 = 7 * 86_400;

/// What the out-of-office replies came to since start (`easd status`): deliveries whose
/// reply was decided (sent, not owed, or failed), and replies sent.
#[derive(Debug, Default)]
pub struct Counters {
    pub decided: Cell<u64>,
    pub sent: Cell<u64>,
}

/// Sends the auto-replies owed for a message the LMTP `sender` delivered as `delivered`
/// (account, Inbox item). Logs failures; counts each delivery once its reply is decided.
pub async fn after_delivery(
    store: Store,
    settings: Rc<Effective>,
    counters: Rc<Counters>,
    sender: String,
    delivered: Vec<Delivered>,
) {
    let replyable = replyable_sender(&sender);
    for Delivered {
        account,
        item,
        away,
    } in delivered
    {
        if replyable && away {
            match reply_for(&store, &settings.cfg, &sender, account, item).await {
                Ok(true) => counters.sent.set(counters.sent.get() + 1),
                Ok(false) => {}
                Err(e) => tracing::warn!("oof reply of account {account} to {sender:?}: {e}"),
            }
        }
        counters.decided.set(counters.decided.get() + 1);
    }
}

/// RFC 3834 section 2: never answer the null return path, nor senders that are machines
/// (bounces, list owners and -request addresses, no-reply addresses).
fn replyable_sender(sender: &str) -> bool {
    let sender = sender.trim().to_ascii_lowercase();
    let Some((local, domain)) = sender.rsplit_once('@') else {
        return false;
    };
    let robotic = matches!(
        local,
        "mailer-daemon" | "postmaster" | "listserv" | "majordomo"
    ) || local.starts_with("owner-")
        || local.ends_with("-request")
        || local.starts_with("bounce")
        || [
            "noreply",
            "no-reply",
            "no_reply",
            "donotreply",
            "do-not-reply",
        ]
        .iter()
        .any(|n| local.contains(n));
    !local.is_empty() && !domain.is_empty() && !robotic
}

/// RFC 3834 section 2 and RFC 2369/2919: automatic, bulk and list traffic gets no reply.
fn automated(message: &Message<'_>) -> bool {
    let raw = |name: &str| {
        message
            .header_raw(name)
            .map(|v| v.trim().to_ascii_lowercase())
    };
    let auto_submitted = raw("Auto-Submitted").is_some_and(|v| v != "no");
    let bulk = raw("Precedence").is_some_and(|v| matches!(v.as_str(), "bulk" | "list" | "junk"));
    let list = raw("List-Id").is_some() || raw("List-Unsubscribe").is_some();
    auto_submitted || bulk || list
}

fn addresses(list: Option<&Address<'_>>) -> impl Iterator<Item = String> {
    list.into_iter()
        .flat_map(|a| a.iter())
        .filter_map(|a| a.address())
        .map(|a| a.trim().to_ascii_lowercase())
}

/// Whether `email` (or a `+tag` of it) is named in To or Cc: a Bcc or a list expansion
/// gets no reply (RFC 3834 section 2).
fn addressed_to(message: &Message<'_>, email: &str) -> bool {
    let (local, domain) = email.rsplit_once('@').unwrap_or((email, ""));
    addresses(message.to())
        .chain(addresses(message.cc()))
        .any(|a| match a.rsplit_once('@') {
            Some((l, d)) => {
                d == domain && (l == local || l.split_once('+').is_some_and(|(b, _)| b == local))
            }
            None => false,
        })
}

async fn reply_for(
    store: &Store,
    cfg: &Config,
    sender: &str,
    account_id: AccountId,
    item: u64,
) -> Result<bool, StoreError> {
    let Some((account, raw)) = original(store, account_id, item).await? else {
        return Ok(false);
    };
    let Some(message) = MessageParser::default().parse(&raw) else {
        return Ok(false);
    };
    if automated(&message) || !addressed_to(&message, &account.email) {
        return Ok(false);
    }
    let sender = sender.trim().to_ascii_lowercase();
    let who = correspondent(store, account.id, &sender).await?;
    let Some(reply) = choose(&account.oof, who) else {
        return Ok(false);
    };
    if !claim(store, account.id, &sender).await? {
        return Ok(false);
    }
    let out = compose(&account, &cfg.hostname, &sender, &message, &reply);
    drop(message);
    send(store, cfg, &account.email, &sender, out).await?;
    Ok(true)
}

/// The account and the delivered message's bytes, when the account's Oof is on now.
async fn original(
    store: &Store,
    account: AccountId,
    item: u64,
) -> Result<Option<(Account, Vec<u8>)>, StoreError> {
    let found = store
        .view(move |tx| {
            let Some(account) = tx.account(account)?.filter(|a| a.oof.is_on(now())) else {
                return Ok(None);
            };
            let Some(inbox) = tx
                .folders(account.id)?
                .into_iter()
                .find(|f| f.kind == FolderType::Inbox)
            else {
                return Ok(None);
            };
            let item = tx.item(account.id, inbox.id, item)?;
            Ok::<_, StoreError>(item.map(|item| (account, item.blob)))
        })
        .await?;
    let Some((account, blob)) = found else {
        return Ok(None);
    };
    let raw = store.blobs().read(&blob)?;
    Ok(Some((account, raw.to_vec())))
}

/// Who the sender is to the account, for the choice of reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Correspondent {
    /// In a local domain.
    Internal,
    /// Outside, and sent a message from the account's Sent Items.
    Known,
    Unknown,
}

/// What the store says of `sender` (lower case) for `account`.
async fn correspondent(
    store: &Store,
    account: AccountId,
    sender: &str,
) -> Result<Correspondent, StoreError> {
    let domain = sender.rsplit_once('@').map_or("", |(_, d)| d).to_owned();
    let sender = sender.to_owned();
    store
        .view(move |tx| {
            Ok(if tx.is_local_domain(&domain)? {
                Correspondent::Internal
            } else if sent_to(tx, account, &sender)? {
                Correspondent::Known
            } else {
                Correspondent::Unknown
            })
        })
        .await
}

/// The enabled reply message for a correspondent, if any.
fn choose(oof: &Oof, who: Correspondent) -> Option<OofMessage> {
    let enabled = |m: &Option<OofMessage>| m.clone().filter(|m| m.enabled);
    match who {
        Correspondent::Internal => enabled(&oof.internal),
        Correspondent::Known => {
            enabled(&oof.external_known).or_else(|| enabled(&oof.external_unknown))
        }
        Correspondent::Unknown => enabled(&oof.external_unknown),
    }
}

/// Whether a message in the account's Sent Items went to `address`.
fn sent_to(tx: &impl Reader, account: AccountId, address: &str) -> Result<bool, StoreError> {
    let Some(sent) = tx
        .folders(account)?
        .into_iter()
        .find(|f| f.kind == FolderType::SentItems)
    else {
        return Ok(false);
    };
    let bracketed = format!("<{address}>");
    let named = |list: &str| {
        list.split(", ").any(|a| {
            let a = a.trim().to_ascii_lowercase();
            a == address || a.ends_with(&bracketed)
        })
    };
    Ok(tx
        .folder_items(account, sent.id)?
        .iter()
        .any(|i| named(&i.meta.to) || named(&i.meta.cc) || named(&i.meta.bcc)))
}

/// Records the reply unless one went to `sender` within [`PERIOD`]; false = do not send.
/// Check and record are one transaction, so concurrent deliveries send one reply.
async fn claim(store: &Store, account: AccountId, sender: &str) -> Result<bool, StoreError> {
    let sender = sender.to_owned();
    store
        .write(move |w| marks::claim_oof_reply(w, account, &sender, now(), PERIOD))
        .await
}

/// The reply (RFC 3834 section 3.1): From the account, `Automatic reply:` subject, the
/// thread headers, and `Auto-Submitted: auto-replied`.
fn compose(
    account: &Account,
    hostname: &str,
    sender: &str,
    original: &Message<'_>,
    reply: &OofMessage,
) -> Vec<u8> {
    let subject = original.subject().unwrap_or("").trim();
    let mut references: Vec<String> = original
        .references()
        .as_text_list()
        .map(|l| l.iter().map(|s| s.to_string()).collect())
        .unwrap_or_default();
    let mut builder = MessageBuilder::new()
        .from((account.display_name.as_str(), account.email.as_str()))
        .to(sender)
        .subject(format!("Automatic reply: {subject}"))
        .message_id(format!("{:032x}@{hostname}", rand::random::<u128>()))
        .header("Auto-Submitted", Raw::new("auto-replied"));
    if let Some(id) = original.message_id() {
        references.push(id.to_owned());
        builder = builder.in_reply_to(id.to_owned());
    }
    if !references.is_empty() {
        builder = builder.references(references);
    }
    builder = if reply.body_type.eq_ignore_ascii_case("HTML") {
        builder.html_body(reply.reply.clone())
    } else {
        builder.text_body(reply.reply.clone())
    };
    // Writing into a Vec cannot fail.
    builder.write_to_vec().unwrap_or_default()
}

/// Delivers the reply locally or hands it to the relay, with the null return path so that
/// nothing answers it in turn (RFC 3834 section 3.3).
async fn send(
    store: &Store,
    cfg: &Config,
    from: &str,
    to: &str,
    raw: Vec<u8>,
) -> Result<(), StoreError> {
    match deliver::resolve(store, to).await? {
        Some(local) => {
            deliver::deliver(store, &[local], raw).await?;
        }
        None => {
            let recipients = [to.to_owned()];
            // With the null return path, a refused reply is not reported to anyone
            // (RFC 3834 section 3.3): it is only logged.
            match relay::send(&cfg.relay, &cfg.hostname, "", &recipients, &raw).await {
                Ok(refused) if refused.is_empty() => {}
                Ok(refused) => {
                    tracing::warn!("oof reply from {from} to {to} refused: {refused:?}");
                    return Ok(());
                }
                Err(e) => {
                    tracing::warn!("oof reply from {from} to {to}: {e}");
                    return Ok(());
                }
            }
        }
    }
    tracing::info!("oof reply from {from} to {to}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::datetime::parse_datetime;

    fn parsed(raw: &[u8]) -> Message<'_> {
        MessageParser::default().parse(raw).expect("message")
    }

    #[test]
    fn machine_senders_get_no_reply() {
        for s in [
            "",
            "MAILER-DAEMON@x.org",
            "postmaster@x.org",
            "noreply@x.org",
            "news-no-reply@x.org",
            "owner-list@x.org",
            "list-request@x.org",
            "nodomain",
        ] {
            assert!(!replyable_sender(s), "{s}");
        }
        assert!(replyable_sender("bob@x.org"));
    }

    #[test]
    fn list_bulk_and_auto_messages_are_automated() {
        let base = "From: a@x.org\r\nTo: b@y.org\r\nSubject: s\r\n";
        for extra in [
            "Auto-Submitted: auto-generated\r\n",
            "Precedence: bulk\r\n",
            "Precedence: list\r\n",
            "List-Id: <l.x.org>\r\n",
            "List-Unsubscribe: <mailto:u@x.org>\r\n",
        ] {
            let raw = format!("{base}{extra}\r\nbody\r\n");
            assert!(automated(&parsed(raw.as_bytes())), "{extra}");
        }
        let raw = format!("{base}Auto-Submitted: no\r\n\r\nbody\r\n");
        assert!(!automated(&parsed(raw.as_bytes())));
    }

    #[test]
    fn only_to_and_cc_count() {
        let raw =
            b"From: a@x.org\r\nTo: Bob <BOB+tag@y.org>\r\nCc: c@y.org\r\nSubject: s\r\n\r\nb\r\n";
        let m = parsed(raw);
        assert!(addressed_to(&m, "bob@y.org"));
        assert!(addressed_to(&m, "c@y.org"));
        assert!(!addressed_to(&m, "d@y.org"));
    }

    #[test]
    fn time_based_oof_needs_the_window() {
        let oof = Oof {
            state: 2,
            start_time: Some("2026-01-01T00:00:00.000Z".into()),
            end_time: Some("2026-01-08T00:00:00.000Z".into()),
            ..Oof::default()
        };
        let start = parse_datetime("2026-01-01T00:00:00.000Z").expect("date");
        assert!(oof.is_on(start + 10));
        assert!(!oof.is_on(start - 10));
        assert!(!oof.is_on(start + 8 * 86_400));
        assert!(!Oof::default().is_on(start));
    }
}
