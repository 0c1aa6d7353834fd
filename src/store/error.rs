//! The store's error: what failed underneath (keeping its cause), a record that does not
//! decode, and the few rules the store itself enforces.

use std::any::Any;
use std::fmt;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store I/O: {0}")]
    Io(#[from] std::io::Error),
    /// redb failed; the cause is kept as the error's source (boxed: it is large, and every
    /// store call returns this error type).
    #[error("database: {0}")]
    Db(#[source] Box<redb::Error>),
    #[error("cannot open the store at {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: redb::DatabaseError,
    },
    #[error("the store at {path} is already in use by another process (is easd running?)")]
    Locked { path: PathBuf },
    #[error(
        "the store was written by a newer easd (schema {found}, this binary knows up to {known}); refusing to open it"
    )]
    NewerSchema { found: u32, known: u32 },
    /// A stored record does not decode; `what` names its type or table.
    #[error("corrupt {what}: {detail}")]
    Corrupt { what: &'static str, detail: String },
    #[error("the store writer has stopped")]
    WriterGone,
    /// A write job refused its change with an error of its own layer. Made and taken
    /// apart only by [`super::Store::write_or`]: no caller ever sees it.
    #[error("a write job refused its change")]
    Refused(Refused),
    /// A write that contradicts what is stored: an account that exists already, a
    /// device's folder hierarchy that changed under a write made against it.
    #[error("{0}")]
    Conflict(String),
    /// A record a write depends on is not there (an account's Inbox, a folder).
    #[error("{0}")]
    NotFound(String),
    /// An address the store cannot key an account by; a backup archive or restore target
    /// that cannot be used.
    #[error("{0}")]
    Invalid(String),
}

macro_rules! db_error {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self { StoreError::Db(Box::new(e.into())) }
        }
    )*};
}
db_error!(
    redb::Error,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::DatabaseError
);

/// The error a write job of [`super::Store::write_or`] raised, carried through the writer
/// thread (which knows only [`StoreError`]) back to the caller, who gets it as it was.
pub struct Refused(Box<dyn Any + Send>);

impl Refused {
    /// A job's own error on its way out of the job: a storage error stays one (the group
    /// retry treats it as such), anything else is carried.
    pub(super) fn wrap<E: Send + 'static>(e: E) -> StoreError {
        let any: Box<dyn Any + Send> = Box::new(e);
        match any.downcast::<StoreError>() {
            Ok(store) => *store,
            Err(other) => StoreError::Refused(Refused(other)),
        }
    }

    /// The job's error back: its own if it refused, else the storage error converted.
    pub(super) fn unwrap<E: From<StoreError> + 'static>(e: StoreError) -> E {
        match e {
            StoreError::Refused(Refused(any)) => match any.downcast::<E>() {
                Ok(own) => *own,
                // Only `write_or` makes a `Refused`, always of its own `E`.
                Err(_) => unreachable!("a refused job's error has its job's type"),
            },
            other => E::from(other),
        }
    }
}

impl fmt::Debug for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Refused(..)")
    }
}
