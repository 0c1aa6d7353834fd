//! The in-memory document: an [`Element`] tree with text and opaque leaves.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::Tag;

/// An EAS element: a tag and its ordered content.
///
/// Trees produced by [`decode`](super::decode) and [`from_xml`](super::from_xml)
/// are in *normal form*: an element holds either child elements, or one text
/// node, or one opaque node, or nothing. The builder methods keep that form;
/// code that edits `children` directly should too, or the XML view may not
/// round-trip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// Element name.
    pub tag: Tag,
    /// Child nodes in document order.
    pub children: Vec<Node>,
}

/// Content of an [`Element`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A nested element.
    Element(Element),
    /// Character data (WBXML STR_I / STR_T / ENTITY).
    Text(String),
    /// Binary data (WBXML OPAQUE), e.g. ComposeMail `Mime`.
    Opaque(Vec<u8>),
}

/// The element mixes child elements, text and opaque data, which no EAS
/// schema allows ([MS-ASCMD] defines no mixed content).
#[derive(Debug)]
pub(crate) struct MixedContent;

impl Element {
    /// An element with no content, e.g. `<GetChanges/>`.
    pub fn new(tag: Tag) -> Self {
        Element {
            tag,
            children: Vec::new(),
        }
    }

    /// An element holding `text`; empty text gives an empty element.
    pub fn with_text(tag: Tag, text: impl Into<String>) -> Self {
        let mut element = Element::new(tag);
        append_text(&mut element.children, text.into());
        element
    }

    /// An element holding opaque `bytes`; no bytes gives an empty element.
    pub fn with_opaque(tag: Tag, bytes: Vec<u8>) -> Self {
        let mut element = Element::new(tag);
        append_opaque(&mut element.children, bytes);
        element
    }

    /// Builder: appends a child element.
    #[must_use]
    pub fn child(mut self, child: Element) -> Self {
        self.push(child);
        self
    }

    /// Builder: appends an empty child element, e.g. `<GetChanges/>`.
    #[must_use]
    pub fn empty_child(self, tag: Tag) -> Self {
        self.child(Element::new(tag))
    }

    /// Builder: appends a child element holding `text`.
    #[must_use]
    pub fn text_child(self, tag: Tag, text: impl Into<String>) -> Self {
        self.child(Element::with_text(tag, text))
    }

    /// Builder: appends a child element holding opaque `bytes`.
    #[must_use]
    pub fn opaque_child(self, tag: Tag, bytes: Vec<u8>) -> Self {
        self.child(Element::with_opaque(tag, bytes))
    }

    /// Appends a child element.
    pub fn push(&mut self, child: Element) {
        self.children.push(Node::Element(child));
    }

    /// Appends a child element holding `text`.
    pub fn push_text(&mut self, tag: Tag, text: impl Into<String>) {
        self.push(Element::with_text(tag, text));
    }

    /// Appends a child element holding opaque `bytes`.
    pub fn push_opaque(&mut self, tag: Tag, bytes: Vec<u8>) {
        self.push(Element::with_opaque(tag, bytes));
    }

    /// Child elements in document order.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|node| match node {
            Node::Element(element) => Some(element),
            _ => None,
        })
    }

    /// Mutable child elements in document order.
    pub fn elements_mut(&mut self) -> impl Iterator<Item = &mut Element> {
        self.children.iter_mut().filter_map(|node| match node {
            Node::Element(element) => Some(element),
            _ => None,
        })
    }

    /// First child element with `tag`.
    pub fn find(&self, tag: Tag) -> Option<&Element> {
        self.elements().find(|e| e.tag == tag)
    }

    /// First child element with `tag`, mutably.
    pub fn find_mut(&mut self, tag: Tag) -> Option<&mut Element> {
        self.elements_mut().find(|e| e.tag == tag)
    }

    /// All child elements with `tag`.
    pub fn find_all(&self, tag: Tag) -> impl Iterator<Item = &Element> {
        self.elements().filter(move |e| e.tag == tag)
    }

    /// Follows `path` through first matches, e.g. `[COLLECTIONS, COLLECTION]`.
    pub fn find_path(&self, path: &[Tag]) -> Option<&Element> {
        path.iter()
            .try_fold(self, |element, &tag| element.find(tag))
    }

    /// Text content, or `None` if the element holds no text.
    ///
    /// Adjacent text is merged on decode and by the builders, so in normal
    /// form this is the whole text; otherwise it is the first text node.
    pub fn text(&self) -> Option<&str> {
        self.children.iter().find_map(|node| match node {
            Node::Text(text) => Some(text.as_str()),
            _ => None,
        })
    }

    /// Roughly the heap this subtree holds (its text, opaque content and child elements),
    /// for the memory budget.
    pub fn content_len(&self) -> usize {
        self.children
            .iter()
            .map(|n| match n {
                Node::Element(e) => e.content_len() + std::mem::size_of::<Element>(),
                Node::Text(t) => t.len(),
                Node::Opaque(o) => o.len(),
            })
            .sum()
    }

    /// Text of the first child element with `tag`.
    pub fn text_of(&self, tag: Tag) -> Option<&str> {
        self.find(tag)?.text()
    }

    /// Opaque content, or `None` if the element holds no opaque data.
    pub fn opaque(&self) -> Option<&[u8]> {
        self.children.iter().find_map(|node| match node {
            Node::Opaque(bytes) => Some(bytes.as_slice()),
            _ => None,
        })
    }

    /// Binary content however the client sent it: opaque bytes, else the
    /// base64-decoded text, else the raw text bytes.
    ///
    /// Some clients send ResolveRecipients `Data` or `Mime` as base64 text
    /// instead of OPAQUE. Text that happens to be valid base64 is decoded.
    pub fn bytes_lenient(&self) -> Option<Cow<'_, [u8]>> {
        if let Some(bytes) = self.opaque() {
            return Some(Cow::Borrowed(bytes));
        }
        let text = self.text()?;
        Some(match BASE64.decode(text.trim()) {
            Ok(bytes) => Cow::Owned(bytes),
            Err(_) => Cow::Borrowed(text.as_bytes()),
        })
    }

    /// [`bytes_lenient`](Self::bytes_lenient), moving opaque content out of the tree
    /// instead of copying it (a large ComposeMail `Mime` is then held once, not twice).
    pub fn take_bytes_lenient(&mut self) -> Option<Vec<u8>> {
        let opaque = self.children.iter_mut().find_map(|node| match node {
            Node::Opaque(bytes) => Some(bytes),
            _ => None,
        });
        match opaque {
            Some(bytes) => Some(std::mem::take(bytes)),
            None => self.bytes_lenient().map(Cow::into_owned),
        }
    }

    /// True when the element has no content at all.
    pub fn is_empty(&self) -> bool {
        self.children.is_empty()
    }

    /// Brings finished content into normal form: whitespace-only text next to
    /// child elements is formatting (XML indentation, or a client that
    /// encoded it) and is dropped; any other mix is rejected.
    pub(crate) fn normalize(&mut self) -> Result<(), MixedContent> {
        let has_elements = self.elements().next().is_some();
        if has_elements {
            self.children
                .retain(|node| !matches!(node, Node::Text(text) if is_xml_whitespace(text)));
        }
        let has_text = self.children.iter().any(|n| matches!(n, Node::Text(_)));
        let has_opaque = self.children.iter().any(|n| matches!(n, Node::Opaque(_)));
        match u8::from(has_elements) + u8::from(has_text) + u8::from(has_opaque) {
            0 | 1 => Ok(()),
            _ => Err(MixedContent),
        }
    }
}

/// Appends text, merging it with a preceding text node; empty text adds nothing.
pub(crate) fn append_text(children: &mut Vec<Node>, text: impl Into<String> + AsRef<str>) {
    if text.as_ref().is_empty() {
        return;
    }
    match children.last_mut() {
        Some(Node::Text(last)) => last.push_str(text.as_ref()),
        _ => children.push(Node::Text(text.into())),
    }
}

/// Appends opaque bytes, merging them with a preceding opaque node; no bytes adds nothing.
pub(crate) fn append_opaque(children: &mut Vec<Node>, bytes: impl Into<Vec<u8>> + AsRef<[u8]>) {
    if bytes.as_ref().is_empty() {
        return;
    }
    match children.last_mut() {
        Some(Node::Opaque(last)) => last.extend_from_slice(bytes.as_ref()),
        _ => children.push(Node::Opaque(bytes.into())),
    }
}

fn is_xml_whitespace(text: &str) -> bool {
    text.bytes()
        .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}
