//! easd: a lean Exchange ActiveSync server for small-office mail appliances.
//!
//! See ARCHITECTURE.md for the map of the crate.

pub mod admin;
pub mod app;
pub mod auth;
pub mod bounded;
pub mod budget;
pub mod cli;
pub mod config;
pub mod directory;
pub mod eas;
pub mod govern;
pub mod http_body;
pub mod logging;
pub mod mail;
pub mod metrics;
pub mod pim;
pub mod proto;
pub mod protolog;
pub mod push;
pub mod refusal;
pub mod server;
pub mod server_settings;
pub mod spool;
pub mod store;
pub mod sync;
pub mod tls;
pub mod wbxml;
pub mod web;

// The layer rule (ARCHITECTURE.md), checked over the sources.
#[cfg(test)]
mod layers;
