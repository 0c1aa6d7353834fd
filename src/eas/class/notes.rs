//! Notes ([MS-ASNOTE]): what the server reads of a note.

use serde::{Deserialize, Serialize};

use super::groupware::{Class, Malformed, datetime};
use crate::wbxml::Element;
use crate::wbxml::tag::notes as n;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub subject: String,
    /// LastModifiedDate (Unix seconds), when sent.
    pub last_modified: Option<i64>,
}

pub fn summary(data: &Element) -> Result<Summary, Malformed> {
    Ok(Summary {
        subject: data.text_of(n::SUBJECT).unwrap_or_default().to_owned(),
        last_modified: datetime(Class::Notes, data, n::LAST_MODIFIED_DATE)?,
    })
}
