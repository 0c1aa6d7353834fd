//! The audit log: every admin action that changes something is recorded, with who did it,
//! from where, what, and how it ended, whichever face it came through (the web pages, the
//! control socket, the command line on a stopped daemon's store).

use serde_json::Value;

use super::reply::Reply;
use crate::store::audit::Pending;
use crate::store::model::AuditEntry;
use crate::store::{Store, audit, now};

/// Who asks for an admin action, and through what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub who: String,
    pub origin: String,
}

impl Actor {
    /// An admin signed in to the web pages, from `peer`.
    pub fn web(email: &str, peer: std::net::IpAddr) -> Self {
        Self {
            who: email.to_owned(),
            origin: peer.to_canonical().to_string(),
        }
    }

    /// The command line reaching a running daemon: the peer's uid, checked by the socket.
    pub fn control_socket(uid: u32) -> Self {
        Self {
            who: format!("uid {uid}"),
            origin: "control socket".into(),
        }
    }

    /// The command line working on the store itself (no daemon runs).
    pub fn command_line() -> Self {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let uid = unsafe { libc::geteuid() };
        Self {
            who: format!("uid {uid}"),
            origin: "command line".into(),
        }
    }
}

/// Fields of a request never written to the log: secrets, and the request's framing.
/// A certificate install's PEM texts are left out too: the key is secret, the chain long
/// (the outcome names the installed certificate).
const LEFT_OUT: [&str; 8] = [
    "op",
    "gop",
    "password",
    "progress",
    "stream_progress",
    "chain_pem",
    "key_pem",
    // A directory photo's or certificate's bytes (their size stays).
    "content_base64",
];

/// What the log needs of a request (the admin operations implement it): its name, whether
/// it changes something, and its arguments, serialized.
pub trait Audited: serde::Serialize {
    fn op_name(&self) -> &'static str;
    fn changes(&self) -> bool;
}

/// What the log says a request did: its arguments as compact JSON, secrets left out.
fn detail(req: &impl Audited) -> String {
    match serde_json::to_value(req) {
        Ok(mut v @ Value::Object(_)) => {
            leave_out(&mut v);
            v.to_string()
        }
        _ => String::new(),
    }
}

/// Removes the [`LEFT_OUT`] fields at every depth (a file's bytes sit inside a list of
/// changes).
fn leave_out(v: &mut Value) {
    match v {
        Value::Object(fields) => {
            for f in LEFT_OUT {
                fields.remove(f);
            }
            fields.values_mut().for_each(leave_out);
        }
        Value::Array(items) => items.iter_mut().for_each(leave_out),
        _ => {}
    }
}

/// The entry for `req`, asked by `actor`, as it reads when the action succeeds; `None`
/// for requests that only read.
pub fn entry(actor: &Actor, req: &impl Audited) -> Option<AuditEntry> {
    if !req.changes() {
        return None;
    }
    Some(AuditEntry {
        at: now(),
        actor: actor.who.clone(),
        origin: actor.origin.clone(),
        action: req.op_name().to_owned(),
        detail: detail(req),
        error: None,
    })
}

/// `entry` with the outcome `reply`: the error, if it is one.
pub fn with_outcome(mut entry: AuditEntry, reply: &Reply) -> AuditEntry {
    if let Reply::Error { message } = reply {
        entry.error = Some(message.clone());
    }
    entry
}

/// Writes `entry` durably in a transaction of its own, for an action that wrote nothing
/// in the store (a refused one, a backup, a certificate install). A failure is logged.
pub async fn record(store: &Store, entry: AuditEntry) {
    let action = entry.action.clone();
    if let Err(e) = store.write(move |w| audit::record(w, &entry)).await {
        tracing::error!("audit log: {action} could not be recorded: {e}");
    }
}

/// Runs an admin action logged as `entry` (`None`: a read, not logged): on a
/// `Store::audited` handle, so the entry goes into the same transaction as the action's
/// first write, and settled after with the action's outcome.
pub async fn logged<F: std::future::Future<Output = Reply>>(
    store: &Store,
    entry: Option<AuditEntry>,
    run: impl FnOnce(Store) -> F,
) -> Reply {
    let Some(entry) = entry else {
        return run(store.clone()).await;
    };
    let (audited, pending) = store.audited(entry.clone());
    let reply = run(audited).await;
    settle(store, &pending, entry, &reply).await;
    reply
}

/// Finishes the log of an action run on a `Store::audited` handle: an action whose
/// writes committed has its entry already (in its first transaction); one that wrote
/// nothing is recorded now with its outcome; one that failed after a committed write
/// gets a second entry saying how it ended.
pub async fn settle(store: &Store, pending: &Pending, logged: AuditEntry, reply: &Reply) {
    match pending.unwritten() {
        Some(entry) => record(store, with_outcome(entry, reply)).await,
        None if matches!(reply, Reply::Error { .. }) => {
            record(store, with_outcome(logged, reply)).await
        }
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request as the log sees it: an op with a password among its arguments.
    #[derive(serde::Serialize)]
    struct Add {
        op: &'static str,
        email: &'static str,
        password: &'static str,
    }

    impl Audited for Add {
        fn op_name(&self) -> &'static str {
            self.op
        }
        fn changes(&self) -> bool {
            self.op != "user_list"
        }
    }

    #[test]
    fn passwords_are_left_out_and_reads_are_not_logged() {
        let actor = Actor::web("admin@example.com", "::ffff:10.0.0.7".parse().unwrap());
        assert_eq!(actor.origin, "10.0.0.7");
        let add = Add {
            op: "user_add",
            email: "bob@example.com",
            password: "s3cret-pass",
        };
        let done = Reply::Done {
            message: "created".into(),
        };
        let e = with_outcome(entry(&actor, &add).unwrap(), &done);
        assert_eq!(e.action, "user_add");
        assert!(e.detail.contains("bob@example.com"), "{}", e.detail);
        assert!(!e.detail.contains("s3cret"), "{}", e.detail);
        assert!(
            !e.detail.contains("user_add"),
            "the op is the action, not a detail"
        );
        assert_eq!(e.error, None);
        let refused = Reply::Error {
            message: "account exists".into(),
        };
        let e = with_outcome(entry(&actor, &add).unwrap(), &refused);
        assert_eq!(e.error.as_deref(), Some("account exists"));
        let list = Add {
            op: "user_list",
            ..add
        };
        assert_eq!(entry(&actor, &list), None);
    }
}
