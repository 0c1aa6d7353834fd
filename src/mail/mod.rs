//! Mail: parsing messages, delivering them (LMTP), and sending them.

pub mod deliver;
pub mod lmtp;
pub mod meta;
pub mod mime;
