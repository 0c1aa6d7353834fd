//! What an admin operation answers when it cannot be done: a request it does not accept
//! (naming the flag or value at fault), something that does not exist, a change that
//! contradicts the state; or what the layers below refused.

use crate::govern::GovernError;
use crate::mail::import::ImportError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Govern(#[from] GovernError),
    #[error(transparent)]
    Import(#[from] ImportError),
    /// A request the operation does not accept.
    #[error("{0}")]
    Invalid(String),
    /// No such account, device or rule.
    #[error("{0}")]
    NotFound(String),
    /// The change contradicts what it would change.
    #[error("{0}")]
    Conflict(String),
}
