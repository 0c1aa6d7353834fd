//! Calendar, contact, task and note items as typed records ([MS-ASCAL], [MS-ASCNTC] with
//! Contacts2, [MS-ASTASK], [MS-ASNOTE]), and their wire form: the ApplicationData a client
//! sends read into a record (`parse`, pure) and a record written back as ApplicationData
//! for a reader's protocol version (`render`).
//!
//! The codec sits with the records because the store's own schema migration reads the
//! ApplicationData older stores kept into these records. What the merge of a client's
//! Change into a stored record does (ghosting, [MS-ASCMD] 2.2.3.179) is the classes'
//! logic, in `eas::class::groupware`.
//!
//! Each record declares its scalar elements once (`record!`): the field, its type and its
//! tag. That list gives the struct, and both directions of the codec walk it, so the
//! element table is not repeated. Elements a record does not model (a future element, a
//! legacy 2.5 one) are kept as they came, in `extra`, and sent back.

use serde::{Deserialize, Serialize};

use crate::proto::datetime::{format_datetime, parse_datetime};
use crate::proto::version::ProtocolVersion;
use crate::wbxml::tag::{airsync, airsyncbase};
use crate::wbxml::{self, Element, Tag};

mod contact;
mod event;
mod note;
mod task;

pub use contact::*;
pub use event::*;
pub use note::*;
pub use task::*;

/// An instant of an EAS dateTime ([MS-ASDTYPE] 2.3), Unix seconds.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Stamp(pub i64);

/// A scalar field of a record, for the codec's walk over the element table.
pub enum Slot<'a> {
    Text(&'a Option<String>),
    Int(&'a Option<i32>),
    Flag(&'a Option<bool>),
    Date(&'a Option<Stamp>),
}

/// A scalar field to fill.
pub enum SlotMut<'a> {
    Text(&'a mut Option<String>),
    Int(&'a mut Option<i32>),
    Flag(&'a mut Option<bool>),
    Date(&'a mut Option<Stamp>),
}

macro_rules! slot_from {
    ($ty:ty, $variant:ident) => {
        impl<'a> From<&'a Option<$ty>> for Slot<'a> {
            fn from(v: &'a Option<$ty>) -> Self {
                Slot::$variant(v)
            }
        }
        impl<'a> From<&'a mut Option<$ty>> for SlotMut<'a> {
            fn from(v: &'a mut Option<$ty>) -> Self {
                SlotMut::$variant(v)
            }
        }
    };
}
slot_from!(String, Text);
slot_from!(i32, Int);
slot_from!(bool, Flag);
slot_from!(Stamp, Date);

/// One entry of a record's element table.
pub struct Scalar<S> {
    pub tag: Tag,
    /// The first protocol version that has the element ([MS-ASWBXML] and the class
    /// documents' version notes); an older reader is not sent it.
    pub since: ProtocolVersion,
    pub slot: S,
}

/// A record whose scalar elements are listed by `record!`.
pub trait Scalars {
    fn scalars(&self) -> Vec<Scalar<Slot<'_>>>;
    fn scalars_mut(&mut self) -> Vec<Scalar<SlotMut<'_>>>;
}

/// Declares a record: its scalar elements (`field: Type = TAG`, optionally `since V14_0`),
/// each an `Option`, then its other fields. Gives the struct and its [`Scalars`] table.
macro_rules! record {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* $field:ident: $ty:ty = $tag:expr $(, since $since:ident)? ; )*
            $( -- $(#[$ometa:meta])* pub $ofield:ident: $oty:ty, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        pub struct $name {
            $(
                $(#[$fmeta])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
            $(
                $(#[$ometa])*
                #[serde(default)]
                pub $ofield: $oty,
            )*
        }

        impl $crate::store::model::pim::Scalars for $name {
            fn scalars(&self) -> Vec<$crate::store::model::pim::Scalar<$crate::store::model::pim::Slot<'_>>> {
                vec![$(
                    $crate::store::model::pim::Scalar {
                        tag: $tag,
                        since: record!(@since $($since)?),
                        slot: (&self.$field).into(),
                    },
                )*]
            }
            fn scalars_mut(&mut self) -> Vec<$crate::store::model::pim::Scalar<$crate::store::model::pim::SlotMut<'_>>> {
                vec![$(
                    $crate::store::model::pim::Scalar {
                        tag: $tag,
                        since: record!(@since $($since)?),
                        slot: (&mut self.$field).into(),
                    },
                )*]
            }
        }
    };
    (@since) => { $crate::proto::version::ProtocolVersion::V12_0 };
    (@since $v:ident) => { $crate::proto::version::ProtocolVersion::$v };
}
pub(crate) use record;

/// An element a client sent that is not what its class allows: the item gets Status 6
/// ([MS-ASCMD] 2.2.3.177.17, "Error in client/server conversion").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadValue(pub String);

/// How `parse` treats a value it cannot read: a client's item is refused ([`Mode::Strict`]);
/// an item a store kept from before the typed records keeps such an element as it was, in
/// `extra` ([`Mode::Keep`]), so an upgrade loses nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Strict,
    Keep,
}

/// Elements kept as they came: a record does not model them, or (an upgraded item) could
/// not read them. WBXML of an ApplicationData element holding them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Extra(#[serde(with = "super::base64_bytes")] pub Vec<u8>);

impl Extra {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The kept elements; bytes that do not decode (never written so) give none.
    pub fn elements(&self) -> Vec<Element> {
        if self.0.is_empty() {
            return Vec::new();
        }
        match wbxml::decode(&self.0, &wbxml::Limits::default()) {
            Ok(root) => root.elements().cloned().collect(),
            Err(e) => {
                tracing::warn!("kept item elements do not decode: {e}");
                Vec::new()
            }
        }
    }

    /// `sent`'s kept elements, and those of `stored` whose tag `sent_has` says a client's
    /// Change did not carry (nothing kept is dropped by an edit that did not name it).
    pub fn keep_absent(stored: &Extra, sent: &Extra, sent_has: impl Fn(Tag) -> bool) -> Extra {
        let mut out: Vec<Element> = stored
            .elements()
            .into_iter()
            .filter(|e| !sent_has(e.tag))
            .collect();
        out.extend(sent.elements());
        Extra::of(out)
    }

    fn of(elements: Vec<Element>) -> Extra {
        if elements.is_empty() {
            return Extra::default();
        }
        let mut root = Element::new(airsync::APPLICATION_DATA);
        for e in elements {
            root.push(e);
        }
        Extra(wbxml::encode(&root))
    }
}

/// An airsyncbase:Body of a groupware item ([MS-ASAIRS] 2.2.2.9): its Type and its whole
/// Data (a client sends the whole body; it is sent back whole).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Body {
    /// 1 plain text, 2 HTML, 3 RTF ([MS-ASAIRS] 2.2.2.41.1).
    pub kind: u8,
    pub data: String,
}

/// Copies into `into` the scalars of `from` with the same tag for which `pick(tag,
/// since)` holds (`since` is `into`'s): the stored values a client's Change leaves as
/// they are, or the elements a Change of one occurrence names.
pub fn copy_scalars(
    into: &mut impl Scalars,
    from: &impl Scalars,
    pick: impl Fn(Tag, ProtocolVersion) -> bool,
) {
    let from = from.scalars();
    for to in into.scalars_mut() {
        if !pick(to.tag, to.since) {
            continue;
        }
        let Some(f) = from.iter().find(|f| f.tag == to.tag) else {
            continue;
        };
        match (to.slot, &f.slot) {
            (SlotMut::Text(t), Slot::Text(f)) => t.clone_from(f),
            (SlotMut::Int(t), Slot::Int(f)) => *t = **f,
            (SlotMut::Flag(t), Slot::Flag(f)) => *t = **f,
            (SlotMut::Date(t), Slot::Date(f)) => *t = **f,
            // Records that give one tag different types share no value.
            _ => {}
        }
    }
}

/// Reads one scalar element into its slot.
fn read_scalar(slot: SlotMut<'_>, e: &Element) -> Result<(), BadValue> {
    let text = e.text().unwrap_or_default();
    let bad = |what: &str| BadValue(format!("{} {text:?} is not {what}", e.tag));
    match slot {
        SlotMut::Text(s) => *s = Some(text.to_owned()),
        SlotMut::Int(s) if text.trim().is_empty() => *s = None,
        SlotMut::Int(s) => *s = Some(text.trim().parse().map_err(|_| bad("a number"))?),
        // [MS-ASDTYPE] 2.1: a boolean is 0 or 1.
        SlotMut::Flag(s) => {
            *s = match text.trim() {
                "" => None,
                "0" => Some(false),
                "1" => Some(true),
                _ => return Err(bad("0 or 1")),
            }
        }
        SlotMut::Date(s) if text.trim().is_empty() => *s = None,
        SlotMut::Date(s) => {
            *s = Some(Stamp(
                parse_datetime(text).ok_or_else(|| bad("a dateTime"))?,
            ))
        }
    }
    Ok(())
}

/// Writes a record's scalars a reader of `version` has, in table order.
fn write_scalars(rec: &impl Scalars, out: &mut Element, version: ProtocolVersion) {
    for s in rec.scalars() {
        if version < s.since {
            continue;
        }
        let text = match s.slot {
            Slot::Text(Some(t)) => t.clone(),
            Slot::Int(Some(n)) => n.to_string(),
            Slot::Flag(Some(b)) => u8::from(*b).to_string(),
            Slot::Date(Some(d)) => format_datetime(d.0),
            _ => continue,
        };
        out.push_text(s.tag, text);
    }
}

/// Reads the children of `data` into `rec`: scalars by the table, the rest by `other`
/// (which says whether it took the element); what neither takes goes to the returned
/// list of kept elements. In [`Mode::Keep`] an unreadable element is kept too.
fn read_children<R: Scalars>(
    rec: &mut R,
    data: &Element,
    mode: Mode,
    mut other: impl FnMut(&mut R, &Element) -> Result<bool, BadValue>,
) -> Result<Vec<Element>, BadValue> {
    let mut kept = Vec::new();
    for e in data.elements() {
        let outcome = match rec
            .scalars_mut()
            .into_iter()
            .find(|s| s.tag == e.tag)
            .map(|s| s.slot)
        {
            Some(slot) => read_scalar(slot, e).map(|()| true),
            None => other(rec, e),
        };
        match outcome {
            Ok(true) => {}
            Ok(false) => kept.push(e.clone()),
            Err(bad) if mode == Mode::Keep => {
                tracing::info!("kept unreadable element as it was: {bad}");
                kept.push(e.clone());
            }
            Err(bad) => return Err(bad),
        }
    }
    Ok(kept)
}

/// An airsyncbase:Body element.
fn read_body(e: &Element) -> Result<Body, BadValue> {
    let kind = e.text_of(airsyncbase::TYPE).unwrap_or("1").trim();
    let kind = match kind.parse::<u8>() {
        Ok(k @ 1..=3) => k,
        _ => return Err(BadValue(format!("Body Type {kind:?} is not 1, 2 or 3"))),
    };
    Ok(Body {
        kind,
        data: e.text_of(airsyncbase::DATA).unwrap_or_default().to_owned(),
    })
}

/// The airsyncbase:Body of a response: Type, EstimatedDataSize and the whole Data.
fn write_body(body: &Body) -> Element {
    Element::new(airsyncbase::BODY)
        .text_child(airsyncbase::TYPE, body.kind.to_string())
        .text_child(
            airsyncbase::ESTIMATED_DATA_SIZE,
            body.data.len().to_string(),
        )
        .text_child(airsyncbase::DATA, body.data.clone())
}

/// The end of every record's ApplicationData: its Body, then the elements kept as sent.
fn write_body_and_extra(out: &mut Element, body: Option<&Body>, extra: &Extra) {
    if let Some(b) = body {
        out.push(write_body(b));
    }
    for e in extra.elements() {
        out.push(e);
    }
}

/// A list element's children's texts (Categories/Category, Children/Child).
fn read_list(e: &Element, item: Tag) -> Vec<String> {
    e.find_all(item)
        .map(|c| c.text().unwrap_or_default().to_owned())
        .collect()
}

fn write_list(out: &mut Element, list: Tag, item: Tag, values: &[String]) {
    if values.is_empty() {
        return;
    }
    let mut e = Element::new(list);
    for v in values {
        e.push_text(item, v.clone());
    }
    out.push(e);
}

/// A groupware item's record, by class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Record {
    Event(Box<Event>),
    Contact(Box<Contact>),
    Task(Box<Task>),
    Note(Box<Note>),
}

/// The item classes, as the records know them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Event,
    Contact,
    Task,
    Note,
}

impl Record {
    /// Reads a client's ApplicationData as an item of `kind`.
    pub fn parse(kind: Kind, data: &Element, mode: Mode) -> Result<Record, BadValue> {
        Ok(match kind {
            Kind::Event => Record::Event(Box::new(Event::parse(data, mode)?)),
            Kind::Contact => Record::Contact(Box::new(Contact::parse(data, mode)?)),
            Kind::Task => Record::Task(Box::new(Task::parse(data, mode)?)),
            Kind::Note => Record::Note(Box::new(Note::parse(data, mode)?)),
        })
    }

    /// The item as ApplicationData for a reader of `version`.
    pub fn render(&self, version: ProtocolVersion) -> Element {
        match self {
            Record::Event(r) => r.render(version),
            Record::Contact(r) => r.render(version),
            Record::Task(r) => r.render(version),
            Record::Note(r) => r.render(version),
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Record::Event(_) => Kind::Event,
            Record::Contact(_) => Kind::Contact,
            Record::Task(_) => Kind::Task,
            Record::Note(_) => Kind::Note,
        }
    }
}

#[cfg(test)]
mod tests;
