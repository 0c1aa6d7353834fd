//! The audit log's record: one admin action.

use serde::{Deserialize, Serialize};

/// One admin action, whichever face it came through (web page, command line, control
/// socket): who did it, when, what, from where, and how it ended.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditEntry {
    /// Unix seconds.
    pub at: i64,
    /// The admin account's address for a web action; `uid N` for the command line.
    pub actor: String,
    /// The peer address of a web action; `control socket` or `command line` otherwise.
    pub origin: String,
    /// The operation's name (`user_add`, `device_wipe`, …).
    pub action: String,
    /// Its arguments, secrets left out.
    pub detail: String,
    /// `None` when it succeeded, else the error it was refused with.
    pub error: Option<String>,
}
