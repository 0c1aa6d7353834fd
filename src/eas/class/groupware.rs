//! Calendar, contact, task and note items ([MS-ASCAL], [MS-ASCNTC], [MS-ASTASK],
//! [MS-ASNOTE]) as easd keeps them: typed records (`store::model::pim`), read from the
//! ApplicationData a client sends and written back for each reader's protocol version,
//! with a small summary for the server's own logic (the calendar filter, tasks as events).
//! This module holds what the classes share: the class of a folder, the checks of a
//! client's item beyond its record's own ([`Malformed`]: Status 6), and the item as a
//! reader gets it.

use serde::{Deserialize, Serialize};

use crate::proto::version::ProtocolVersion;
use crate::store::model::pim::Kind;
use crate::store::model::{FolderType, GroupwareItem};
use crate::wbxml::{Element, tag};

/// The item class a groupware folder holds (the [MS-ASCMD] Class of its collection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Class {
    Calendar,
    Contacts,
    Tasks,
    Notes,
}

impl Class {
    /// The class of the items of a folder of type `kind`; `None` for mail folders (and
    /// Journal, which EAS does not sync).
    pub fn of(kind: FolderType) -> Option<Class> {
        match kind {
            FolderType::Calendar | FolderType::UserCalendar => Some(Class::Calendar),
            FolderType::Contacts | FolderType::UserContacts => Some(Class::Contacts),
            FolderType::Tasks | FolderType::UserTasks => Some(Class::Tasks),
            FolderType::Notes | FolderType::UserNotes => Some(Class::Notes),
            _ => None,
        }
    }

    /// The Class value of the item type ([MS-ASCMD] ItemOperations and Sync responses).
    pub fn name(self) -> &'static str {
        match self {
            Class::Calendar => "Calendar",
            Class::Contacts => "Contacts",
            Class::Tasks => "Tasks",
            Class::Notes => "Notes",
        }
    }

    /// The record kind of the class's items.
    pub fn kind(self) -> Kind {
        match self {
            Class::Calendar => Kind::Event,
            Class::Contacts => Kind::Contact,
            Class::Tasks => Kind::Task,
            Class::Notes => Kind::Note,
        }
    }

    /// Whether an ApplicationData child with this code page belongs to the class: its own
    /// page, AirSyncBase (Body, Attachments, …) and, for contacts, Contacts2.
    pub fn owns_page(self, page: u8) -> bool {
        let own = match self {
            Class::Calendar => tag::calendar::SUBJECT.page(),
            Class::Contacts => tag::contacts::FIRST_NAME.page(),
            Class::Tasks => tag::tasks::SUBJECT.page(),
            Class::Notes => tag::notes::SUBJECT.page(),
        };
        page == own
            || page == tag::airsyncbase::BODY.page()
            || (self == Class::Contacts && page == tag::contacts2::CUSTOMER_ID.page())
    }
}

/// ApplicationData the server cannot accept: the client gets Status 6 for the item
/// ([MS-ASCMD] 2.2.3.177.17 "Error in client/server conversion").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed {class:?} item: {why}")]
pub struct Malformed {
    pub class: Class,
    pub why: String,
}

impl Malformed {
    pub fn new(class: Class, why: impl Into<String>) -> Self {
        Malformed {
            class,
            why: why.into(),
        }
    }
}

/// The item's ApplicationData as a reader of `version` gets it.
pub fn application_data(item: &GroupwareItem, version: ProtocolVersion) -> Element {
    item.record.render(version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eas::class::parse_groupware as parse;
    use crate::store::model::Summary;
    use crate::wbxml::tag::{airsync, calendar as cal, email, tasks as t};

    #[test]
    fn parse_checks_the_class_and_keeps_the_element() {
        let data = Element::new(airsync::APPLICATION_DATA)
            .text_child(t::SUBJECT, "Call")
            .text_child(t::COMPLETE, "0");
        let (record, summary) = parse(Class::Tasks, &data).expect("a task");
        assert!(matches!(summary, Summary::Task(_)));
        let item = GroupwareItem {
            id: 1,
            folder: 2,
            record,
            summary,
            created: 0,
            modseq: 1,
        };
        let json = serde_json::to_vec(&item).expect("json");
        let back: GroupwareItem = serde_json::from_slice(&json).expect("round trip");
        assert_eq!(application_data(&back, ProtocolVersion::V14_1), data);

        assert!(
            parse(Class::Calendar, &data).is_err(),
            "a task in a calendar"
        );
        let mail = Element::new(airsync::APPLICATION_DATA).text_child(email::READ, "1");
        assert!(parse(Class::Notes, &mail).is_err());
        assert!(parse(Class::Contacts, &Element::new(airsync::APPLICATION_DATA)).is_err());
        let bad_date =
            Element::new(airsync::APPLICATION_DATA).text_child(cal::START_TIME, "yesterday");
        assert!(parse(Class::Calendar, &bad_date).is_err());
    }
}
