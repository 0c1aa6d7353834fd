//! A draft as a device sends it in a Sync Add or Change of the Drafts folder (protocol
//! 16.0+): the `ApplicationData` read into a [`draft::Edit`], and the attachments the
//! server answers with.
//!
//! [MS-ASEMAIL] 16.0 lets a client set email:To, email:Cc, email2:Bcc, email:Subject,
//! airsyncbase:Body, email:Importance and airsyncbase:Attachments on a draft; other
//! elements (the flags excepted, which [`super::email::parse_change`] reads) are the
//! server's and are ignored. Attachments are added with airsyncbase:Add ([MS-ASAIRS]
//! 2.2.2.2: ClientId, Content, DisplayName and Method required; ContentType, ContentId,
//! ContentLocation and IsInline optional) and removed with airsyncbase:Delete naming a
//! FileReference ([MS-ASAIRS] 2.2.2.21).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::{BODY_HTML, BODY_PLAIN};
use crate::mail::draft::{self, Attachment, Edit};
use crate::mail::mime::BodyKind;
use crate::proto::ids::{FileRef, ItemRef};
use crate::store::model::FolderId;
use crate::wbxml::tag::{airsync, airsyncbase as asb, email, email2};
use crate::wbxml::{Element, Tag};

/// [MS-ASAIRS] 2.2.2.31.1 Method values a client may add: 1 a normal attachment,
/// 5 an embedded message, 6 an OLE object.
const METHOD_NORMAL: &str = "1";
const METHOD_EMBEDDED_MESSAGE: &str = "5";
const METHOD_OLE: &str = "6";

/// Why a draft's ApplicationData is refused: Sync answers Status 6 ([MS-ASCMD]
/// 2.2.3.177.17, "the client has sent a malformed or invalid item").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("{element}: {why}")]
    Element { element: &'static str, why: String },
    #[error("attachment Add without {0}")]
    Missing(&'static str),
    #[error("FileReference {0:?} does not name an attachment of this draft")]
    ForeignReference(String),
}

fn bad(element: &'static str, why: impl Into<String>) -> Malformed {
    Malformed::Element {
        element,
        why: why.into(),
    }
}

/// Reads the draft fields of `data`, the ApplicationData of a Sync Add or Change of draft
/// `(folder, item)` (`None` for an Add, whose attachments cannot be deleted yet).
pub fn parse(data: &Element, target: Option<(FolderId, u64)>) -> Result<Edit, Malformed> {
    let mailboxes = |tag: Tag, name: &'static str| {
        data.find(tag)
            .map(|e| draft::parse_mailboxes(e.text().unwrap_or_default()).map_err(|w| bad(name, w)))
            .transpose()
    };
    let mut edit = Edit {
        to: mailboxes(email::TO, "To")?,
        cc: mailboxes(email::CC, "Cc")?,
        bcc: mailboxes(email2::BCC, "Bcc")?,
        subject: data
            .find(email::SUBJECT)
            .map(|e| e.text().unwrap_or_default().replace(['\r', '\n'], " ")),
        body: data.find(asb::BODY).map(body).transpose()?,
        importance: data
            .find(email::IMPORTANCE)
            .map(|e| match e.text().map(str::trim) {
                Some(v @ ("0" | "1" | "2")) => Ok(v.as_bytes()[0] - b'0'),
                other => Err(bad("Importance", format!("{other:?}"))),
            })
            .transpose()?,
        ..Edit::default()
    };
    if let Some(list) = data.find(asb::ATTACHMENTS) {
        for child in list.elements() {
            if child.tag == asb::ADD {
                edit.add.push(attachment(child)?);
            } else if child.tag == asb::DELETE {
                let reference = child
                    .text_of(asb::FILE_REFERENCE)
                    .ok_or_else(|| bad("Attachments/Delete", "without FileReference"))?;
                edit.delete.push(own_part(reference, target)?);
            } else {
                return Err(bad("Attachments", "holds neither Add nor Delete"));
            }
        }
    }
    Ok(edit)
}

/// The MIME part a FileReference names, when it names one of `target`'s attachments: a
/// FileReference of another item (or another account's) is refused here, before any
/// lookup.
fn own_part(reference: &str, target: Option<(FolderId, u64)>) -> Result<u32, Malformed> {
    match (FileRef::parse(reference), target) {
        (Some(FileRef { item, part }), Some((folder, id))) if item == ItemRef::new(folder, id) => {
            Ok(part)
        }
        _ => Err(Malformed::ForeignReference(reference.to_owned())),
    }
}

/// [MS-ASAIRS] 2.2.2.9 Body of a request: Type 1 (plain) or 2 (HTML) and its Data.
fn body(element: &Element) -> Result<(BodyKind, String), Malformed> {
    let kind = match element.text_of(asb::TYPE).map(str::trim) {
        Some(t) if t == BODY_PLAIN.to_string() => BodyKind::Plain,
        Some(t) if t == BODY_HTML.to_string() => BodyKind::Html,
        other => return Err(bad("Body/Type", format!("{other:?} is not 1 or 2"))),
    };
    Ok((
        kind,
        element.text_of(asb::DATA).unwrap_or_default().to_owned(),
    ))
}

/// One airsyncbase:Add: (its ClientId, the attachment).
fn attachment(add: &Element) -> Result<(String, Attachment), Malformed> {
    let required = |tag: Tag, name: &'static str| {
        add.text_of(tag)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or(Malformed::Missing(name))
    };
    let client_id = required(asb::CLIENT_ID, "ClientId")?.to_owned();
    let name = required(asb::DISPLAY_NAME, "DisplayName")?.replace(['\r', '\n'], " ");
    let method = required(asb::METHOD, "Method")?;
    if ![METHOD_NORMAL, METHOD_EMBEDDED_MESSAGE, METHOD_OLE].contains(&method) {
        return Err(bad("Method", format!("{method:?}")));
    }
    let content = add
        .find(asb::CONTENT)
        .ok_or(Malformed::Missing("Content"))?;
    let data = content_bytes(content)?;
    let content_type = match add.text_of(asb::CONTENT_TYPE).map(str::trim) {
        Some(ct) if is_media_type(ct) => ct.to_ascii_lowercase(),
        Some(ct) => return Err(bad("ContentType", format!("{ct:?}"))),
        None if method == METHOD_EMBEDDED_MESSAGE => "message/rfc822".to_owned(),
        None => "application/octet-stream".to_owned(),
    };
    let inline = match add.text_of(asb::IS_INLINE).map(str::trim) {
        None | Some("0") => false,
        Some("1") => true,
        Some(other) => return Err(bad("IsInline", format!("{other:?}"))),
    };
    Ok((
        client_id,
        Attachment {
            name,
            content_type,
            data,
            content_id: header_token(add, asb::CONTENT_ID, "ContentId")?
                .map(|c| c.trim_matches(['<', '>']).to_owned()),
            content_location: header_token(add, asb::CONTENT_LOCATION, "ContentLocation")?,
            inline,
        },
    ))
}

/// [MS-ASAIRS] 2.2.2.15 Content is a byte array, OPAQUE in WBXML ([MS-ASDTYPE] 2.7.1);
/// base64 text is taken too (some clients send it so), anything else is malformed.
fn content_bytes(content: &Element) -> Result<Vec<u8>, Malformed> {
    if let Some(bytes) = content.opaque() {
        return Ok(bytes.to_vec());
    }
    let text: String = content
        .text()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    BASE64
        .decode(text)
        .map_err(|e| bad("Content", format!("neither OPAQUE nor base64: {e}")))
}

/// `type/subtype` with RFC 2045 token characters only.
fn is_media_type(value: &str) -> bool {
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    matches!(value.split_once('/'), Some((t, s)) if token(t) && token(s))
}

/// An optional element that becomes a header value: printable ASCII without spaces.
fn header_token(
    parent: &Element,
    tag: Tag,
    name: &'static str,
) -> Result<Option<String>, Malformed> {
    match parent.text_of(tag).map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) if v.bytes().all(|b| b.is_ascii_graphic()) => Ok(Some(v.to_owned())),
        Some(v) => Err(bad(name, format!("{v:?}"))),
    }
}

/// The ApplicationData of a Responses Add or Change that added attachments: each one's
/// ClientId and the FileReference the server gave it ([MS-ASAIRS] 2.2.2.7, 2.2.2.14,
/// 2.2.2.24.1: the client records it to delete the attachment later).
pub fn attached(folder: FolderId, item: u64, attached: &[(String, u32)]) -> Element {
    let list = attached
        .iter()
        .fold(Element::new(asb::ATTACHMENTS), |list, (client_id, part)| {
            list.child(
                Element::new(asb::ATTACHMENT)
                    .text_child(asb::CLIENT_ID, client_id.as_str())
                    .text_child(
                        asb::FILE_REFERENCE,
                        FileRef::new(ItemRef::new(folder, item), *part).to_string(),
                    ),
            )
        });
    Element::new(airsync::APPLICATION_DATA).child(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(content: Element) -> Element {
        Element::new(asb::ADD)
            .text_child(asb::CLIENT_ID, "a1")
            .child(content)
            .text_child(asb::DISPLAY_NAME, "x.pdf")
            .text_child(asb::METHOD, "1")
    }

    fn with_attachment(a: Element) -> Element {
        Element::new(airsync::APPLICATION_DATA).child(Element::new(asb::ATTACHMENTS).child(a))
    }

    #[test]
    fn fields_and_attachments_are_read() {
        let data = with_attachment(add(Element::with_opaque(asb::CONTENT, b"%PDF".to_vec())))
            .text_child(email::TO, "bob@example.org")
            .text_child(email::SUBJECT, "s")
            .text_child(email::IMPORTANCE, "2")
            .child(
                Element::new(asb::BODY)
                    .text_child(asb::TYPE, "2")
                    .text_child(asb::DATA, "<b>x</b>"),
            );
        let edit = parse(&data, None).unwrap();
        assert_eq!(edit.to.unwrap()[0].address, "bob@example.org");
        assert_eq!(edit.importance, Some(2));
        assert_eq!(edit.body, Some((BodyKind::Html, "<b>x</b>".into())));
        assert_eq!(edit.add[0].0, "a1");
        assert_eq!(edit.add[0].1.data, b"%PDF");
        assert_eq!(edit.add[0].1.content_type, "application/octet-stream");
        assert!(edit.cc.is_none() && edit.subject.as_deref() == Some("s"));
    }

    #[test]
    fn content_is_opaque_or_base64_and_nothing_else() {
        let text = |t: &str| {
            parse(
                &with_attachment(add(Element::with_text(asb::CONTENT, t))),
                None,
            )
            .map(|e| e.add[0].1.data.clone())
        };
        assert_eq!(text("JVBE\r\nRg=="), Ok(b"%PDF".to_vec()));
        assert!(matches!(
            text("not base64!"),
            Err(Malformed::Element { .. })
        ));
        let no_content = with_attachment(
            Element::new(asb::ADD)
                .text_child(asb::CLIENT_ID, "a1")
                .text_child(asb::DISPLAY_NAME, "x")
                .text_child(asb::METHOD, "1"),
        );
        assert_eq!(parse(&no_content, None), Err(Malformed::Missing("Content")));
    }

    #[test]
    fn a_delete_must_name_an_attachment_of_the_draft_itself() {
        let delete =
            |r: &str| with_attachment(Element::new(asb::DELETE).text_child(asb::FILE_REFERENCE, r));
        assert_eq!(parse(&delete("7:9:2"), Some((7, 9))).unwrap().delete, [2]);
        for foreign in ["7:10:2", "8:9:2", "junk"] {
            assert!(
                matches!(
                    parse(&delete(foreign), Some((7, 9))),
                    Err(Malformed::ForeignReference(_))
                ),
                "{foreign}"
            );
        }
        assert!(parse(&delete("7:9:2"), None).is_err());
    }

    #[test]
    fn bad_values_are_refused() {
        let data = |tag, v: &str| Element::new(airsync::APPLICATION_DATA).text_child(tag, v);
        assert!(parse(&data(email::IMPORTANCE, "3"), None).is_err());
        assert!(parse(&data(email::TO, "nobody"), None).is_err());
        let rtf = Element::new(airsync::APPLICATION_DATA)
            .child(Element::new(asb::BODY).text_child(asb::TYPE, "3"));
        assert!(parse(&rtf, None).is_err());
    }
}
