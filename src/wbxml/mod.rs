//! Exchange ActiveSync WBXML codec ([MS-ASWBXML]).
//!
//! - [`decode`] / [`encode`]: WBXML 1.3 bytes ⇄ [`Element`] tree.
//! - [`to_xml`] / [`from_xml`]: the same tree as indented XML, for logs and tools.
//! - [`tag`]: one module of [`Tag`] constants per code page, generated from
//!   `codepages.tsv` by `build.rs`, e.g. `tag::airsync::SYNC_KEY`. Constant
//!   names are the SCREAMING_SNAKE_CASE of the element name; module names are
//!   the lowercase namespace, with `tag::r#move` for the `Move` page.

mod decode;
mod encode;
mod pages;
mod tree;
mod xml;

#[cfg(test)]
mod tests;

pub use decode::{DecodeError, Limits, decode};
pub use encode::{encode, encode_into};
pub use pages::{PAGES, Page, Tag, lookup, page_by_namespace, tag};
pub use tree::{Element, Node};
pub use xml::{XmlError, from_xml, to_xml};

/// WBXML 1.3 global tokens and header values used by EAS.
mod token {
    /// Version byte for WBXML 1.3, the version EAS uses.
    pub const VERSION_1_3: u8 = 0x03;
    /// IANA MIBenum of UTF-8, the only charset EAS uses.
    pub const CHARSET_UTF8: u32 = 0x6A;

    pub const SWITCH_PAGE: u8 = 0x00;
    pub const END: u8 = 0x01;
    pub const ENTITY: u8 = 0x02;
    pub const STR_I: u8 = 0x03;
    pub const STR_T: u8 = 0x83;
    pub const OPAQUE: u8 = 0xC3;

    /// Tag bit 6: the element has content and is closed by END.
    pub const CONTENT: u8 = 0x40;
    /// Tag bit 7: the element has attributes.
    pub const ATTRIBUTES: u8 = 0x80;
    /// The tag's token without the content and attribute bits.
    pub const TOKEN_MASK: u8 = 0x3F;
}
