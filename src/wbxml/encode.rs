//! WBXML encoder producing the canonical EAS form ([MS-ASWBXML] 2.1.2).

use super::token::{CHARSET_UTF8, CONTENT, END, OPAQUE, STR_I, SWITCH_PAGE, VERSION_1_3};
use super::{Element, Node};

/// WBXML 1.3, unknown public id (0x01), UTF-8 (0x6A), empty string table.
const HEADER: [u8; 4] = [VERSION_1_3, 0x01, CHARSET_UTF8 as u8, 0x00];

/// Encodes a document rooted at `root`.
///
/// Text is written as STR_I, which is NUL-terminated, so NUL characters in
/// text are dropped. Opaque data longer than `u32::MAX` bytes (which WBXML
/// cannot express) is cut at that length.
pub fn encode(root: &Element) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(root, &mut out);
    out
}

/// Appends the encoding of `root` to `out`; see [`encode`].
pub fn encode_into(root: &Element, out: &mut Vec<u8>) {
    out.extend_from_slice(&HEADER);
    Encoder { out, page: 0 }.element(root);
}

struct Encoder<'a> {
    out: &'a mut Vec<u8>,
    /// The decoder's current page. WBXML starts on page 0, and END does not
    /// restore the parent's page, so siblings from different pages each need
    /// a SWITCH_PAGE.
    page: u8,
}

impl Encoder<'_> {
    fn element(&mut self, element: &Element) {
        let page = element.tag.page();
        if page != self.page {
            self.out.extend_from_slice(&[SWITCH_PAGE, page]);
            self.page = page;
        }
        let token = element.tag.token();
        // Empty elements are a bare token without the content bit
        // ([MS-ASWBXML] 2.1.2.1.1, e.g. `<GetChanges/>`).
        if element.children.is_empty() {
            self.out.push(token);
            return;
        }
        self.out.push(token | CONTENT);
        for child in &element.children {
            match child {
                Node::Element(child) => self.element(child),
                Node::Text(text) => self.text(text),
                Node::Opaque(bytes) => self.opaque(bytes),
            }
        }
        self.out.push(END);
    }

    fn text(&mut self, text: &str) {
        self.out.push(STR_I);
        for part in text.split('\0') {
            self.out.extend_from_slice(part.as_bytes());
        }
        self.out.push(0);
    }

    fn opaque(&mut self, bytes: &[u8]) {
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        let bytes = bytes.get(..len as usize).unwrap_or(bytes);
        self.out.push(OPAQUE);
        self.mb_u_int32(len);
        self.out.extend_from_slice(bytes);
    }

    /// Big-endian 7-bit groups, continuation bit on all but the last, no
    /// leading zero groups (WBXML 1.3 section 5.1).
    fn mb_u_int32(&mut self, value: u32) {
        let mut started = false;
        for shift in [28, 21, 14, 7] {
            let group = ((value >> shift) & 0x7F) as u8;
            started |= group != 0;
            if started {
                self.out.push(group | 0x80);
            }
        }
        self.out.push((value & 0x7F) as u8);
    }
}
