//! Administrative operations, one set for every front end: the CLI (directly on the store
//! when the daemon is down), the control socket (while it runs) and the web pages. Each
//! change they make is recorded in the audit log (`audit`).

pub mod audit;
pub mod cert;
pub mod control;
mod error;
pub mod govern;
pub mod ops;
pub mod pim_file;
pub mod reply;
pub mod settings;
pub mod share;

pub use error::AdminError;
