//! Mail: parsing messages, delivering them (LMTP), and sending them.

mod address;
pub mod compose;
pub mod deliver;
pub mod draft;
pub mod dsn;
pub mod gwmail;
pub mod imip;
pub mod import;
pub mod invite;
pub mod lmtp;
pub mod mailboxes;
pub mod meeting;
pub mod mime;
pub mod oof;
pub mod relay;
pub mod skeleton;
pub mod smart;
pub mod submit;
