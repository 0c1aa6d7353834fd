//! Exchange ActiveSync over HTTP ([MS-ASHTTP]): request parsing, the front door that turns
//! an HTTP request into one command call, and the commands themselves.

pub mod autodiscover;
pub mod class;
pub mod cmd;
pub mod connectivity;
pub mod front;

/// The ActiveSync endpoint's path ([MS-ASHTTP] 2.2.1.1.1); matched without regard to case.
pub const EAS_PATH: &str = "/Microsoft-Server-ActiveSync";
