//! WBXML 1.3 decoder for EAS ([MS-ASWBXML] 2.1.2).
//!
//! Iterative (an explicit stack of open elements), so nesting depth costs
//! heap, not call stack, and is bounded by [`Limits::max_depth`]. Every length
//! read from the input is checked against the limits and the remaining input
//! before anything is allocated, and so is the running total of decoded text
//! and opaque bytes ([`Limits::max_decoded`]): a string-table entry referenced
//! many times counts each time, so a small document cannot decode to a huge tree.

use thiserror::Error;

use super::token::{ATTRIBUTES, CHARSET_UTF8, TOKEN_MASK, VERSION_1_3};
use super::token::{CONTENT, END, ENTITY, OPAQUE, STR_I, STR_T, SWITCH_PAGE};
use super::tree::{MixedContent, append_opaque, append_text};
use super::{Element, Node, PAGES, Tag};
use crate::refusal::Limit;

/// Resource limits for [`decode`]; every one is a hard error when exceeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Deepest allowed element nesting (the root is depth 1).
    pub max_depth: usize,
    /// Most elements in one document.
    pub max_elements: usize,
    /// Longest single string or opaque blob, in bytes.
    pub max_string_len: usize,
    /// Largest accepted input, in bytes; checked before anything else.
    pub max_total: usize,
    /// Most text and opaque bytes the whole document may decode to, counting
    /// each string-table reference and entity at its decoded length.
    pub max_decoded: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 32,
            max_elements: 100_000,
            max_string_len: 16 << 20,
            max_total: 64 << 20,
            max_decoded: 128 << 20,
        }
    }
}

/// Why a WBXML document was rejected. Offsets are byte positions in the input.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The input is larger than [`Limits::max_total`].
    #[error("document of {len} bytes exceeds the {max}-byte limit")]
    TooLarge { len: usize, max: usize },
    /// The input ended before the document was complete.
    #[error("document is truncated")]
    Truncated,
    /// The version byte is not 0x03 (WBXML 1.3).
    #[error("unsupported WBXML version {0:#04x}")]
    UnsupportedVersion(u8),
    /// The charset is not UTF-8 (IANA MIBenum 106).
    #[error("unsupported charset {0} (only UTF-8, 106, is allowed)")]
    UnsupportedCharset(u32),
    /// A multi-byte integer is longer than 5 bytes or exceeds `u32::MAX`.
    #[error("multi-byte integer overflows u32 at offset {offset}")]
    IntegerOverflow { offset: usize },
    /// SWITCH_PAGE to a page EAS does not define.
    #[error("unknown code page {page} at offset {offset}")]
    UnknownPage { page: u8, offset: usize },
    /// A tag token that the current page does not define.
    #[error("unknown token {token:#04x} on code page {page} at offset {offset}")]
    UnknownToken { page: u8, token: u8, offset: usize },
    /// A tag with the attribute bit set; EAS uses no attributes.
    #[error("attributes are not supported (tag byte {byte:#04x} at offset {offset})")]
    AttributesNotSupported { byte: u8, offset: usize },
    /// A global token EAS does not use (LITERAL, EXT_*, PI, ...).
    #[error("unsupported token {token:#04x} at offset {offset}")]
    UnsupportedToken { token: u8, offset: usize },
    /// END with no open element.
    #[error("END without an open element at offset {offset}")]
    UnbalancedEnd { offset: usize },
    /// Text or opaque data before the root element.
    #[error("content outside the root element at offset {offset}")]
    ContentOutsideRoot { offset: usize },
    /// Bytes after the root element closed.
    #[error("trailing data after the root element at offset {offset}")]
    TrailingData { offset: usize },
    /// An inline or string-table string is not UTF-8.
    #[error("invalid UTF-8 in string at offset {offset}")]
    InvalidUtf8 { offset: usize },
    /// ENTITY naming NUL or a value that is not a Unicode scalar.
    #[error("invalid character entity {value:#x} at offset {offset}")]
    InvalidEntity { value: u32, offset: usize },
    /// STR_T pointing outside the string table or at an unterminated string.
    #[error("bad string table reference {index} at offset {offset}")]
    BadStringReference { index: u32, offset: usize },
    /// A string or opaque blob longer than [`Limits::max_string_len`].
    #[error("string at offset {offset} exceeds the {max}-byte limit")]
    StringTooLong { offset: usize, max: usize },
    /// Nesting deeper than [`Limits::max_depth`].
    #[error("nesting exceeds depth {max} at offset {offset}")]
    TooDeep { max: usize, offset: usize },
    /// More elements than [`Limits::max_elements`].
    #[error("more than {max} elements at offset {offset}")]
    TooManyElements { max: usize, offset: usize },
    /// More decoded text and opaque bytes than [`Limits::max_decoded`].
    #[error("decodes to more than {max} bytes of text and opaque data at offset {offset}")]
    DecodedTooLarge { max: usize, offset: usize },
    /// An element mixing child elements, text and opaque data.
    #[error("element closed at offset {offset} mixes child elements, text and opaque data")]
    MixedContent { offset: usize },
}

impl DecodeError {
    /// The resource limit this error stands for, if it is one rather than malformed input:
    /// the caller records the refusal under it.
    pub fn limit(&self) -> Option<Limit> {
        match self {
            DecodeError::DecodedTooLarge { .. } | DecodeError::StringTooLong { .. } => {
                Some(Limit::WbxmlDecoded)
            }
            DecodeError::TooDeep { .. } | DecodeError::TooManyElements { .. } => {
                Some(Limit::WbxmlShape)
            }
            DecodeError::TooLarge { .. } => Some(Limit::BodySize),
            _ => None,
        }
    }
}

/// Decodes one EAS WBXML document into its root element.
pub fn decode(input: &[u8], limits: &Limits) -> Result<Element, DecodeError> {
    if input.len() > limits.max_total {
        return Err(DecodeError::TooLarge {
            len: input.len(),
            max: limits.max_total,
        });
    }
    let mut cursor = Cursor { input, pos: 0 };
    let string_table = read_header(&mut cursor)?;
    Decoder {
        cursor,
        limits,
        string_table,
        page: 0,
        open: Vec::new(),
        elements: 0,
        decoded: 0,
    }
    .body()
}

/// Reads `version publicid charset strtbl` (WBXML 1.3 section 5.4) and
/// returns the string table.
fn read_header<'a>(cursor: &mut Cursor<'a>) -> Result<&'a [u8], DecodeError> {
    let version = cursor.byte()?;
    if version != VERSION_1_3 {
        return Err(DecodeError::UnsupportedVersion(version));
    }
    // publicid = mb_u_int32 | (0 index): EAS sends 0x01 (unknown); a zero
    // is followed by a string-table index naming the DTD. Neither matters.
    if cursor.mb_u_int32()? == 0 {
        cursor.mb_u_int32()?;
    }
    let charset = cursor.mb_u_int32()?;
    if charset != CHARSET_UTF8 {
        return Err(DecodeError::UnsupportedCharset(charset));
    }
    // EAS never emits a string table, but WBXML allows one: keep it for STR_T.
    let len = cursor.length()?;
    cursor.take(len)
}

/// A bounds-checked read position in the input.
struct Cursor<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn is_at_end(&self) -> bool {
        self.pos >= self.input.len()
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        let byte = *self.input.get(self.pos).ok_or(DecodeError::Truncated)?;
        self.pos += 1;
        Ok(byte)
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(len).ok_or(DecodeError::Truncated)?;
        let bytes = self
            .input
            .get(self.pos..end)
            .ok_or(DecodeError::Truncated)?;
        self.pos = end;
        Ok(bytes)
    }

    /// WBXML multi-byte unsigned integer: big-endian 7-bit groups, high bit
    /// set on all but the last byte; at most 5 bytes for a u32 (WBXML 1.3 5.1).
    fn mb_u_int32(&mut self) -> Result<u32, DecodeError> {
        let offset = self.pos;
        let mut value: u64 = 0;
        for _ in 0..5 {
            let byte = self.byte()?;
            value = (value << 7) | u64::from(byte & 0x7F);
            if byte & 0x80 == 0 {
                return u32::try_from(value).map_err(|_| DecodeError::IntegerOverflow { offset });
            }
        }
        Err(DecodeError::IntegerOverflow { offset })
    }

    /// An mb_u_int32 used as a length or index.
    fn length(&mut self) -> Result<usize, DecodeError> {
        let offset = self.pos;
        let value = self.mb_u_int32()?;
        usize::try_from(value).map_err(|_| DecodeError::IntegerOverflow { offset })
    }

    /// A NUL-terminated string of at most `max` bytes (terminator excluded);
    /// the search never looks further than `max + 1` bytes. `offset` is the
    /// STR_I token's, for errors.
    fn c_str(&mut self, max: usize, offset: usize) -> Result<&'a [u8], DecodeError> {
        let rest = self.input.get(self.pos..).unwrap_or_default();
        let window = rest.get(..max.saturating_add(1)).unwrap_or(rest);
        match window.iter().position(|&b| b == 0) {
            Some(len) => {
                let bytes = self.take(len)?;
                self.pos += 1; // the NUL, known to be present
                Ok(bytes)
            }
            None if window.len() > max => Err(DecodeError::StringTooLong { offset, max }),
            None => Err(DecodeError::Truncated),
        }
    }
}

struct Decoder<'a, 'l> {
    cursor: Cursor<'a>,
    limits: &'l Limits,
    string_table: &'a [u8],
    /// Current code page; WBXML starts on page 0 and only SWITCH_PAGE changes it.
    page: u8,
    /// Elements opened with the content bit and not yet closed.
    open: Vec<Element>,
    elements: usize,
    /// Text and opaque bytes decoded so far (see [`Limits::max_decoded`]).
    decoded: usize,
}

impl Decoder<'_, '_> {
    fn body(mut self) -> Result<Element, DecodeError> {
        loop {
            let offset = self.cursor.pos;
            let byte = self.cursor.byte()?;
            let finished = match byte {
                SWITCH_PAGE => self.switch_page(offset)?,
                END => self.end(offset)?,
                STR_I => self.inline_string(offset)?,
                STR_T => self.table_string(offset)?,
                ENTITY => self.entity(offset)?,
                OPAQUE => self.opaque(offset)?,
                _ if byte & TOKEN_MASK >= 0x05 => self.tag(byte, offset)?,
                _ => {
                    return Err(DecodeError::UnsupportedToken {
                        token: byte,
                        offset,
                    });
                }
            };
            if let Some(root) = finished {
                return self.finish(root);
            }
        }
    }

    /// Exactly one root element: anything after it is an error.
    fn finish(&self, root: Element) -> Result<Element, DecodeError> {
        if self.cursor.is_at_end() {
            Ok(root)
        } else {
            Err(DecodeError::TrailingData {
                offset: self.cursor.pos,
            })
        }
    }

    fn switch_page(&mut self, offset: usize) -> Result<Option<Element>, DecodeError> {
        let page = self.cursor.byte()?;
        if usize::from(page) >= PAGES.len() {
            return Err(DecodeError::UnknownPage { page, offset });
        }
        self.page = page;
        Ok(None)
    }

    fn tag(&mut self, byte: u8, offset: usize) -> Result<Option<Element>, DecodeError> {
        // [MS-ASWBXML] 2.1.2.1: EAS tags carry no attributes.
        if byte & ATTRIBUTES != 0 {
            return Err(DecodeError::AttributesNotSupported { byte, offset });
        }
        let (page, token) = (self.page, byte & TOKEN_MASK);
        let tag = Tag::from_parts(page, token).ok_or(DecodeError::UnknownToken {
            page,
            token,
            offset,
        })?;
        self.elements += 1;
        if self.elements > self.limits.max_elements {
            let max = self.limits.max_elements;
            return Err(DecodeError::TooManyElements { max, offset });
        }
        if self.open.len() >= self.limits.max_depth {
            let max = self.limits.max_depth;
            return Err(DecodeError::TooDeep { max, offset });
        }
        let element = Element::new(tag);
        if byte & CONTENT != 0 {
            self.open.push(element);
            Ok(None)
        } else {
            Ok(self.attach(element))
        }
    }

    fn end(&mut self, offset: usize) -> Result<Option<Element>, DecodeError> {
        let mut element = self
            .open
            .pop()
            .ok_or(DecodeError::UnbalancedEnd { offset })?;
        element
            .normalize()
            .map_err(|MixedContent| DecodeError::MixedContent { offset })?;
        Ok(self.attach(element))
    }

    /// Adds a finished element to its parent, or returns it if it is the root.
    fn attach(&mut self, element: Element) -> Option<Element> {
        match self.open.last_mut() {
            Some(parent) => {
                parent.push(element);
                None
            }
            None => Some(element),
        }
    }

    fn inline_string(&mut self, offset: usize) -> Result<Option<Element>, DecodeError> {
        let bytes = self.cursor.c_str(self.limits.max_string_len, offset)?;
        let text = std::str::from_utf8(bytes).map_err(|_| DecodeError::InvalidUtf8 { offset })?;
        self.text(text, offset)
    }

    fn table_string(&mut self, offset: usize) -> Result<Option<Element>, DecodeError> {
        let index = self.cursor.mb_u_int32()?;
        let bad = DecodeError::BadStringReference { index, offset };
        let rest = usize::try_from(index)
            .ok()
            .and_then(|start| self.string_table.get(start..))
            .ok_or_else(|| bad.clone())?;
        let len = rest.iter().position(|&b| b == 0).ok_or(bad)?;
        let bytes = rest.get(..len).unwrap_or_default();
        let text = std::str::from_utf8(bytes).map_err(|_| DecodeError::InvalidUtf8 { offset })?;
        self.text(text, offset)
    }

    fn entity(&mut self, offset: usize) -> Result<Option<Element>, DecodeError> {
        let value = self.cursor.mb_u_int32()?;
        // NUL cannot be re-encoded in STR_I (nor written in XML), so reject it.
        let c = char::from_u32(value)
            .filter(|&c| c != '\0')
            .ok_or(DecodeError::InvalidEntity { value, offset })?;
        self.text(c.encode_utf8(&mut [0; 4]), offset)
    }

    fn text(&mut self, text: &str, offset: usize) -> Result<Option<Element>, DecodeError> {
        self.count_decoded(text.len(), offset)?;
        let parent = self
            .open
            .last_mut()
            .ok_or(DecodeError::ContentOutsideRoot { offset })?;
        append_text(&mut parent.children, text);
        self.check_merged_len(offset)
    }

    fn opaque(&mut self, offset: usize) -> Result<Option<Element>, DecodeError> {
        let len = self.cursor.length()?;
        let max = self.limits.max_string_len;
        if len > max {
            return Err(DecodeError::StringTooLong { offset, max });
        }
        // `take` checks the length against the remaining input before the
        // copy below allocates.
        let bytes = self.cursor.take(len)?;
        self.count_decoded(len, offset)?;
        let parent = self
            .open
            .last_mut()
            .ok_or(DecodeError::ContentOutsideRoot { offset })?;
        append_opaque(&mut parent.children, bytes);
        self.check_merged_len(offset)
    }

    /// Adds `len` decoded bytes to the total, before they are copied into the tree.
    fn count_decoded(&mut self, len: usize, offset: usize) -> Result<(), DecodeError> {
        self.decoded = self.decoded.saturating_add(len);
        if self.decoded > self.limits.max_decoded {
            let max = self.limits.max_decoded;
            return Err(DecodeError::DecodedTooLarge { max, offset });
        }
        Ok(())
    }

    /// Adjacent text (or opaque) tokens are merged into one node, which is
    /// re-encoded as one token: the limit applies to the merged node too, so
    /// that everything this decoder returns re-encodes within the limits.
    fn check_merged_len(&self, offset: usize) -> Result<Option<Element>, DecodeError> {
        let len = match self.open.last().and_then(|parent| parent.children.last()) {
            Some(Node::Text(text)) => text.len(),
            Some(Node::Opaque(bytes)) => bytes.len(),
            _ => 0,
        };
        let max = self.limits.max_string_len;
        if len > max {
            return Err(DecodeError::StringTooLong { offset, max });
        }
        Ok(None)
    }
}
