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

/// The account an operation names by address, or the refusal naming it.
pub(super) fn find_account(
    tx: &impl crate::store::ops::Reads,
    email: &str,
) -> Result<crate::store::model::Account, AdminError> {
    tx.account_by_email(email)?
        .ok_or_else(|| AdminError::NotFound(format!("no account {email}")))
}
