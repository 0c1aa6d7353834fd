//! The protocol's basic values: ids, versions, commands, status codes, the request query
//! and dateTime values. Above `wbxml` only: everything that speaks EAS builds on these.

pub mod command;
pub mod datetime;
pub mod filter;
pub mod ids;
pub mod query;
pub mod status;
pub mod timezone;
pub mod version;

#[cfg(test)]
mod query_tests;
