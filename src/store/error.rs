//! The store's error: what failed underneath (keeping its cause), a record that does not
//! decode, and the few rules the store itself enforces.

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
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotFound(String),
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
