//! A note ([MS-ASNOTE] 2.2.2, 14.0+).

use serde::{Deserialize, Serialize};

use super::{
    BadValue, Body, Extra, Mode, Stamp, read_body, read_children, read_list, record,
    write_body_and_extra, write_list, write_scalars,
};
use crate::proto::version::ProtocolVersion;
use crate::wbxml::Element;
use crate::wbxml::tag::{airsync, airsyncbase, notes as n};

record! {
    /// A note: every element of [MS-ASNOTE] 2.2.2.
    pub struct Note {
        subject: String = n::SUBJECT;
        /// "IPM.StickyNote" or a class under it ([MS-ASNOTE] 2.2.2.5).
        message_class: String = n::MESSAGE_CLASS;
        last_modified_date: Stamp = n::LAST_MODIFIED_DATE;
        -- pub categories: Vec<String>,
        -- pub body: Option<Body>,
        -- pub extra: Extra,
    }
}

impl Note {
    pub fn parse(data: &Element, mode: Mode) -> Result<Note, BadValue> {
        let mut note = Note::default();
        let kept = read_children(&mut note, data, mode, |r, e| {
            match e.tag {
                n::CATEGORIES => r.categories = read_list(e, n::CATEGORY),
                airsyncbase::BODY => r.body = Some(read_body(e)?),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        note.extra = Extra::of(kept);
        Ok(note)
    }

    pub fn render(&self, version: ProtocolVersion) -> Element {
        let mut out = Element::new(airsync::APPLICATION_DATA);
        write_scalars(self, &mut out, version);
        write_list(&mut out, n::CATEGORIES, n::CATEGORY, &self.categories);
        write_body_and_extra(&mut out, self.body.as_ref(), &self.extra);
        out
    }
}
