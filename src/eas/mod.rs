//! Exchange ActiveSync over HTTP ([MS-ASHTTP]): request parsing, the front door that turns
//! an HTTP request into one command call, and the commands themselves.

pub mod class;
pub mod cmd;
pub mod command;
pub mod front;
pub mod ids;
pub mod query;
pub mod status;
pub mod version;

#[cfg(test)]
mod query_tests;
