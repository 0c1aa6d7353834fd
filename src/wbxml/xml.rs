//! Textual XML view of a document, for logs and tools.
//!
//! The format is the one used in the [MS-ASCMD] examples: the root declares
//! its page as the default namespace (`xmlns="AirSync:"`), every other page
//! in use is declared on the root as `xmlns:<lowercase namespace>` and used as
//! an element prefix. Opaque content is written as base64 inside an element
//! marked `opaque="base64"`. For trees in normal form (see [`Element`]),
//! `from_xml(&to_xml(e)) == Ok(e)`.
//!
//! XML written by other tools has no such attribute, so [`from_xml`] also takes the
//! text of an element the code-page table marks opaque ([`Tag::is_opaque`]: a byte
//! array, [MS-ASDTYPE] 2.7.1) as base64 of its bytes, and the encoder sends OPAQUE as
//! libwbxml does. The rare client that sends such an element as a string is shown with
//! `opaque="no"`, which keeps it a string.

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use thiserror::Error;

use super::tree::{MixedContent, append_opaque, append_text};
use super::{Element, Node, PAGES, Tag, lookup, page_by_namespace};

const DECLARATION: &str = r#"<?xml version="1.0" encoding="utf-8"?>"#;
const OPAQUE_ATTRIBUTE: &str = "opaque";
const OPAQUE_BASE64: &str = "base64";
/// On an element the table marks opaque: this one holds a string all the same.
const OPAQUE_NO: &str = "no";

/// Why [`from_xml`] rejected a document.
#[derive(Debug, Error)]
pub enum XmlError {
    /// Malformed XML.
    #[error("XML syntax error at byte {position}: {source}")]
    Syntax {
        position: u64,
        source: quick_xml::Error,
    },
    /// An element without a namespace.
    #[error("element <{0}> has no namespace")]
    MissingNamespace(String),
    /// A namespace that is not an EAS code page.
    #[error("unknown namespace {0:?}")]
    UnknownNamespace(String),
    /// A prefix with no `xmlns:` declaration.
    #[error("undeclared namespace prefix {0:?}")]
    UnknownPrefix(String),
    /// An element name the namespace's code page does not define.
    #[error("unknown element <{name}> in namespace {namespace:?}")]
    UnknownElement { namespace: String, name: String },
    /// An attribute other than namespace declarations, `opaque="base64"` and
    /// `opaque="no"`.
    #[error("unexpected attribute {attribute:?} on <{element}>")]
    UnexpectedAttribute { element: Tag, attribute: String },
    /// Content of an `opaque="base64"` element, or of an element the table marks
    /// opaque, that is not base64.
    #[error("invalid base64 in <{0}>, which holds binary data (WBXML opaque) written as base64")]
    InvalidBase64(Tag),
    /// An element mixing child elements, text and opaque data.
    #[error("<{0}> mixes child elements, text and opaque data")]
    MixedContent(Tag),
    /// Non-whitespace text outside the root element.
    #[error("text outside the root element")]
    TextOutsideRoot,
    /// A second root element.
    #[error("more than one root element")]
    MultipleRoots,
    /// No root element at all.
    #[error("no root element")]
    NoRoot,
    /// The document ended inside an element.
    #[error("document ends inside <{0}>")]
    Unclosed(Tag),
    /// DOCTYPE or processing instructions, which EAS never uses.
    #[error("unsupported XML construct: {0}")]
    Unsupported(&'static str),
}

/// Renders `root` as indented XML (see the module docs for the format).
pub fn to_xml(root: &Element) -> String {
    let mut pages = 0u32;
    collect_pages(root, &mut pages);
    let default_page = root.tag.page();
    let mut out = String::from(DECLARATION);
    out.push('\n');
    let mut writer = XmlWriter { out, default_page };
    writer.open_tag(root);
    writer.declare_namespaces(pages);
    writer.content(root, 0);
    writer.out
}

/// Sets bit `page` for every code page used in the tree.
fn collect_pages(element: &Element, pages: &mut u32) {
    *pages |= 1u32.checked_shl(u32::from(element.tag.page())).unwrap_or(0);
    for child in element.elements() {
        collect_pages(child, pages);
    }
}

fn namespace_name(page: u8) -> &'static str {
    PAGES.get(usize::from(page)).map_or("", |p| p.namespace)
}

/// Element prefix for a non-default page: the lowercase namespace.
fn prefix(page: u8) -> String {
    namespace_name(page).to_lowercase()
}

struct XmlWriter {
    out: String,
    default_page: u8,
}

impl XmlWriter {
    fn element(&mut self, element: &Element, depth: usize) {
        self.indent(depth);
        self.open_tag(element);
        self.content(element, depth);
    }

    /// Writes `<name` (without the closing `>`).
    fn open_tag(&mut self, element: &Element) {
        self.out.push('<');
        self.qualified_name(element.tag);
    }

    fn declare_namespaces(&mut self, pages: u32) {
        let default = self.default_page;
        // Infallible: `fmt::Write` for `String` never fails.
        let _ = write!(self.out, r#" xmlns="{}:""#, namespace_name(default));
        for page in PAGES.iter().filter(|p| p.index != default) {
            if pages & (1u32 << page.index) != 0 {
                let prefix = prefix(page.index);
                let _ = write!(self.out, r#" xmlns:{prefix}="{}:""#, page.namespace);
            }
        }
    }

    /// Writes the rest of the start tag, the content and the end tag.
    fn content(&mut self, element: &Element, depth: usize) {
        let leaf = element.elements().next().is_none();
        match (&element.children[..], leaf) {
            ([], _) => self.out.push_str("/>\n"),
            ([Node::Opaque(bytes)], _) => {
                let _ = write!(self.out, r#" {OPAQUE_ATTRIBUTE}="{OPAQUE_BASE64}">"#);
                self.out.push_str(&BASE64.encode(bytes));
                self.close_tag(element.tag);
            }
            (children, true) => {
                if element.tag.is_opaque() {
                    let _ = write!(self.out, r#" {OPAQUE_ATTRIBUTE}="{OPAQUE_NO}""#);
                }
                self.out.push('>');
                for child in children {
                    self.leaf_node(child);
                }
                self.close_tag(element.tag);
            }
            (children, false) => {
                self.out.push_str(">\n");
                for child in children {
                    match child {
                        Node::Element(child) => self.element(child, depth + 1),
                        // Mixed content is not in normal form and does not
                        // round-trip; it is still shown for logging.
                        leaf => {
                            self.indent(depth + 1);
                            self.leaf_node(leaf);
                            self.out.push('\n');
                        }
                    }
                }
                self.indent(depth);
                self.close_tag(element.tag);
            }
        }
    }

    fn leaf_node(&mut self, node: &Node) {
        match node {
            Node::Text(text) => escape_into(&mut self.out, text),
            Node::Opaque(bytes) => self.out.push_str(&BASE64.encode(bytes)),
            Node::Element(_) => {}
        }
    }

    fn close_tag(&mut self, tag: Tag) {
        self.out.push_str("</");
        self.qualified_name(tag);
        self.out.push_str(">\n");
    }

    fn qualified_name(&mut self, tag: Tag) {
        if tag.page() != self.default_page {
            self.out.push_str(&prefix(tag.page()));
            self.out.push(':');
        }
        self.out.push_str(tag.name());
    }

    fn indent(&mut self, depth: usize) {
        for _ in 0..depth {
            self.out.push_str("  ");
        }
    }
}

/// Escapes markup characters, and CR so that XML end-of-line normalisation
/// cannot turn CRLF into LF.
fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

/// Parses the XML produced by [`to_xml`] back into a tree.
///
/// Namespaces may be bound by default `xmlns` or by prefix, anywhere in the
/// document; a trailing colon on the namespace is optional (the
/// [MS-ASWBXML] section 4 example omits it). Whitespace-only text next to
/// child elements is treated as indentation.
pub fn from_xml(xml: &str) -> Result<Element, XmlError> {
    let mut reader = NsReader::from_str(xml);
    let mut parser = XmlParser::default();
    loop {
        let position = reader.buffer_position();
        let syntax = |source| XmlError::Syntax { position, source };
        let (namespace, event) = reader.read_resolved_event().map_err(syntax)?;
        match event {
            Event::Start(start) => {
                let open = parser.start(namespace, &start, position)?;
                parser.open.push(open);
            }
            Event::Empty(start) => {
                let open = parser.start(namespace, &start, position)?;
                parser.close(open)?;
            }
            Event::End(_) => {
                // quick-xml checks that end tags match, so an element is open.
                if let Some(open) = parser.open.pop() {
                    parser.close(open)?;
                }
            }
            Event::Text(text) => parser.text(&text.unescape().map_err(syntax)?)?,
            Event::CData(data) => {
                let data = data.decode().map_err(|e| syntax(e.into()))?;
                parser.text(&data)?;
            }
            Event::Decl(_) | Event::Comment(_) => {}
            Event::PI(_) => return Err(XmlError::Unsupported("processing instruction")),
            Event::DocType(_) => return Err(XmlError::Unsupported("DOCTYPE")),
            Event::Eof => return parser.finish(),
        }
    }
}

/// An element whose end tag has not been read yet.
struct Open {
    element: Element,
    /// Marked `opaque="base64"`: text is collected here and decoded at the end.
    base64: Option<String>,
    /// Marked `opaque="no"`: a string even though the table marks the element opaque.
    string: bool,
}

#[derive(Default)]
struct XmlParser {
    open: Vec<Open>,
    root: Option<Element>,
}

impl XmlParser {
    /// Resolves a start tag; `position` is its byte offset, for errors.
    fn start(
        &self,
        namespace: ResolveResult,
        start: &BytesStart,
        position: u64,
    ) -> Result<Open, XmlError> {
        let syntax = |source| XmlError::Syntax { position, source };
        let tag = resolve_tag(namespace, start)?;
        let mut base64 = None;
        let mut string = false;
        for attribute in start.attributes() {
            let attribute = attribute.map_err(|e| syntax(e.into()))?;
            if attribute.key.as_namespace_binding().is_some() {
                continue;
            }
            let value = attribute.unescape_value().map_err(syntax)?;
            let key = String::from_utf8_lossy(attribute.key.as_ref());
            match (key == OPAQUE_ATTRIBUTE, value.as_ref()) {
                (true, OPAQUE_BASE64) => base64 = Some(String::new()),
                (true, OPAQUE_NO) if tag.is_opaque() => string = true,
                _ => {
                    let attribute = format!("{key}={value:?}");
                    return Err(XmlError::UnexpectedAttribute {
                        element: tag,
                        attribute,
                    });
                }
            }
        }
        Ok(Open {
            element: Element::new(tag),
            base64,
            string,
        })
    }

    fn text(&mut self, text: &str) -> Result<(), XmlError> {
        match self.open.last_mut() {
            Some(Open {
                base64: Some(base64),
                ..
            }) => base64.push_str(text),
            Some(open) => append_text(&mut open.element.children, text),
            None if text.trim().is_empty() => {}
            None => return Err(XmlError::TextOutsideRoot),
        }
        Ok(())
    }

    fn close(&mut self, open: Open) -> Result<(), XmlError> {
        let Open {
            mut element,
            base64,
            string,
        } = open;
        let tag = element.tag;
        if let Some(base64) = base64 {
            append_opaque(&mut element.children, decode_base64(tag, &base64)?);
        }
        element
            .normalize()
            .map_err(|MixedContent| XmlError::MixedContent(tag))?;
        if tag.is_opaque()
            && !string
            && let [Node::Text(text)] = &element.children[..]
        {
            let bytes = decode_base64(tag, text)?;
            element.children.clear();
            append_opaque(&mut element.children, bytes);
        }
        match self.open.last_mut() {
            Some(parent) if parent.base64.is_some() => {
                Err(XmlError::MixedContent(parent.element.tag))
            }
            Some(parent) => {
                parent.element.push(element);
                Ok(())
            }
            None if self.root.is_some() => Err(XmlError::MultipleRoots),
            None => {
                self.root = Some(element);
                Ok(())
            }
        }
    }

    fn finish(self) -> Result<Element, XmlError> {
        if let Some(open) = self.open.last() {
            return Err(XmlError::Unclosed(open.element.tag));
        }
        self.root.ok_or(XmlError::NoRoot)
    }
}

/// The bytes of base64 `text`; line breaks and other whitespace (as in base64 copied
/// from a log or written by other tools) are ignored.
fn decode_base64(tag: Tag, text: &str) -> Result<Vec<u8>, XmlError> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    BASE64
        .decode(compact)
        .map_err(|_| XmlError::InvalidBase64(tag))
}

fn resolve_tag(namespace: ResolveResult, start: &BytesStart) -> Result<Tag, XmlError> {
    let local = String::from_utf8_lossy(start.local_name().into_inner()).into_owned();
    let namespace = match namespace {
        ResolveResult::Bound(ns) => String::from_utf8_lossy(ns.into_inner()).into_owned(),
        ResolveResult::Unbound => return Err(XmlError::MissingNamespace(local)),
        ResolveResult::Unknown(prefix) => {
            return Err(XmlError::UnknownPrefix(
                String::from_utf8_lossy(&prefix).into_owned(),
            ));
        }
    };
    let name = namespace.strip_suffix(':').unwrap_or(&namespace);
    if page_by_namespace(name).is_none() {
        return Err(XmlError::UnknownNamespace(namespace));
    }
    lookup(name, &local).ok_or(XmlError::UnknownElement {
        namespace,
        name: local,
    })
}
