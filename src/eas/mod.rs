//! Exchange ActiveSync over HTTP ([MS-ASHTTP]): request parsing, the front door that turns
//! an HTTP request into one command call, and the commands themselves.

pub mod class;
pub mod cmd;
pub mod front;
