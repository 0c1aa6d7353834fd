//! The integration tests, as one test binary (`cargo test --test it`): each module is
//! one topic and starts real servers in-process through [`support`]. One binary links
//! easd and the support code once instead of once per topic.
//!
//! A module or a single test is picked by its path as a filter:
//! `cargo test --test it mail::` or `cargo test --test it push::ping_`.

mod support;

/// Device governance helpers shared by several topics.
mod govern;

mod activation;
mod autodiscover;
mod backup;
mod body;
mod cert;
mod codec;
mod connectivity;
mod device_settings;
mod directory;
mod drafts;
mod durability;
mod enforce;
mod foundation;
mod get_attachment;
mod governance;
mod groupware;
mod gwmail;
mod import;
mod limits;
mod lockout;
mod mail;
mod meeting;
mod memory;
mod metrics;
mod oof;
mod pim;
mod policy;
mod push;
mod send;
mod settings;
mod share;
mod store_space;
mod validate_cert;
mod web;
