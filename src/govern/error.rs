//! What device governance refuses: a policy value or level it does not accept, a device or
//! rule that does not exist, a change that contradicts the device's state; or the store
//! failing underneath.

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum GovernError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A value, name or combination the rules do not accept.
    #[error("{0}")]
    Invalid(String),
    /// No such device, rule or level.
    #[error("{0}")]
    NotFound(String),
    /// The change contradicts the state it would change (a wipe already done).
    #[error("{0}")]
    Conflict(String),
}
