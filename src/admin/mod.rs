//! Administrative operations, one set for every front end: the CLI (directly on the store
//! when the daemon is down), the control socket (while it runs) and later the web pages.

pub mod cert;
pub mod control;
mod error;
pub mod govern;
pub mod ops;
pub mod reply;

pub use error::AdminError;
