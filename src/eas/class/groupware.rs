//! Calendar, contact, task and note items ([MS-ASCAL], [MS-ASCNTC], [MS-ASTASK],
//! [MS-ASNOTE]) as easd keeps them: typed records (`store::model::pim`), read from the
//! ApplicationData a client sends and written back for each reader's protocol version,
//! with a small summary for the server's own logic (the calendar filter, tasks as events).
//! This module holds what the classes share: the class of a folder, the checks of a
//! client's item beyond its record's own ([`Malformed`]: Status 6), and the item as a
//! reader gets it.

use serde::{Deserialize, Serialize};

use crate::proto::version::ProtocolVersion;
use crate::store::model::pim::{
    Contact, Event, Exception, Extra, Kind, MAX_EXCEPTIONS, Record, Stamp, Task, copy_scalars,
};
use crate::store::model::{FolderType, GroupwareItem};
use crate::wbxml::tag::{airsyncbase as base, calendar as cal, contacts as con, tasks as tk};
use crate::wbxml::{Element, Tag, tag};

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

/// Who sends a Change: what its protocol version can carry, and which elements its
/// initial Sync listed in Supported ([MS-ASCMD] 2.2.3.179; `None`: no Supported).
#[derive(Debug, Clone, Copy)]
pub struct Writer<'a> {
    pub version: ProtocolVersion,
    pub supported: Option<&'a [u16]>,
    /// The writer sends an empty contact Picture on every edit of a contact whose photo
    /// it did not take (see [`Writer::for_device`]): an empty Picture from it keeps the
    /// stored photo instead of deleting it.
    pub empty_picture_keeps: bool,
}

impl<'a> Writer<'a> {
    /// The writer a device of `device_type` is. iOS (DeviceType iPhone, iPad, iPod) from
    /// 8.2 on sends an empty contacts:Picture with every edit of a contact whose photo
    /// came from the server (pim-notes §6; Horde's QUIRK for it), which [MS-ASCNTC]
    /// 2.2.2.58 would read as "delete the photo"; older iOS is not in use any more, so
    /// every iOS device gets the quirk, and no other device does.
    pub fn for_device(
        version: ProtocolVersion,
        supported: Option<&'a [u16]>,
        device_type: &str,
    ) -> Self {
        let ios = ["iphone", "ipad", "ipod"]
            .iter()
            .any(|p| device_type.to_ascii_lowercase().starts_with(p));
        Writer {
            version,
            supported,
            empty_picture_keeps: ios,
        }
    }
}

impl Writer<'_> {
    /// Whether `tag` is ghosted for this writer ([MS-ASCMD] 2.2.3.179): with a Supported
    /// list, every element it does not name is; without one, none is.
    fn ghosts(&self, tag: Tag) -> bool {
        let code = u16::from(tag.page()) << 8 | u16::from(tag.token());
        self.supported.is_some_and(|list| !list.contains(&code))
    }
}

/// The stored item with a client's Change applied. `sent` is the Change read as a
/// record, `change` its ApplicationData (what it names). An element the Change does not
/// carry is deleted only where the class's rules say so; it is kept when it is ghosted
/// for this writer, when the writer's version does not have it (a 12.1 device cannot
/// send a 16.x element, so its Change does not erase one), when the server manages it,
/// and for Body and Exceptions, which are never deleted by omission.
pub fn merge(stored: &Record, sent: Record, change: &Element, writer: Writer<'_>) -> Record {
    let has = |tag: Tag| change.find(tag).is_some();
    match (stored, sent) {
        (Record::Contact(old), Record::Contact(new)) => {
            Record::Contact(Box::new(merge_contact(old, *new, &has, writer)))
        }
        (Record::Event(old), Record::Event(new)) => {
            Record::Event(Box::new(merge_event(old, *new, &has, writer)))
        }
        (Record::Task(old), Record::Task(new)) => {
            Record::Task(Box::new(merge_task(old, *new, &has, writer)))
        }
        // [MS-ASNOTE] 3.1.5.3: notes have no Supported; a Change carries the whole note.
        (Record::Note(_), Record::Note(new)) => Record::Note(new),
        // A Change is read as the folder's class, which is the stored item's.
        (_, sent) => sent,
    }
}

/// [MS-ASCNTC]: every contact element can be ghosted (2.2.2), Alias and WeightedRank are
/// the server's (recipient information cache, 2.2.2.2, 2.2.2.64), and a Change without
/// Body does not delete the stored notes (3.1.5.4 / 2.2.2.9).
fn merge_contact(
    old: &Contact,
    mut new: Contact,
    has: &dyn Fn(Tag) -> bool,
    w: Writer<'_>,
) -> Contact {
    copy_scalars(&mut new, old, |tag, since| {
        !has(tag)
            && (w.ghosts(tag)
                || w.version < since
                || tag == con::ALIAS
                || tag == con::WEIGHTED_RANK)
    });
    if !has(con::CATEGORIES) && w.ghosts(con::CATEGORIES) {
        new.categories.clone_from(&old.categories);
    }
    if !has(con::CHILDREN) && w.ghosts(con::CHILDREN) {
        new.children.clone_from(&old.children);
    }
    let picture_kept = if has(con::PICTURE) {
        // An empty Picture deletes the photo ([MS-ASCNTC] 2.2.2.58), except from a writer
        // that sends one with every edit.
        new.picture.is_none() && w.empty_picture_keeps
    } else {
        w.ghosts(con::PICTURE)
    };
    if picture_kept {
        new.picture.clone_from(&old.picture);
    }
    if !has(base::BODY) {
        new.body.clone_from(&old.body);
    }
    new.extra = Extra::keep_absent(&old.extra, &new.extra, has);
    // The server's own: no client sends it.
    new.uid.clone_from(&old.uid);
    new
}

/// Calendar elements the server keeps when a Change leaves them out: the UID and
/// ClientUid it holds, what a 16.x client MUST NOT send (DtStamp, OrganizerName,
/// OrganizerEmail; [MS-ASCAL] 2.2.2.18, 2.2.2.35–36), and what only responses carry
/// (AppointmentReplyTime, ResponseType, OnlineMeeting*; 2.2.2.2, 2.2.2.40, 2.2.2.33–34).
const SERVER_KEPT: [Tag; 9] = [
    cal::UID,
    cal::CLIENT_UID,
    cal::DT_STAMP,
    cal::ORGANIZER_NAME,
    cal::ORGANIZER_EMAIL,
    cal::APPOINTMENT_REPLY_TIME,
    cal::RESPONSE_TYPE,
    cal::ONLINE_MEETING_CONF_LINK,
    cal::ONLINE_MEETING_EXTERNAL_LINK,
];

/// [MS-ASCAL]: up to 14.1 the Supported rules (Location cannot be ghosted, 2.2.2.27);
/// from 16.0 every element a Change leaves out is ghosted (3.1.5.3). Exceptions left out
/// stay, and an Exception left out of the list stays (3.1.5.3.1); from 16.0 a new
/// StartTime, EndTime or Recurrence of the series deletes its exceptions (2.2.2.21).
fn merge_event(old: &Event, mut new: Event, has: &dyn Fn(Tag) -> bool, w: Writer<'_>) -> Event {
    let v16 = w.version >= ProtocolVersion::V16_0;
    let ghosts = |tag: Tag| v16 || (tag != cal::LOCATION && w.ghosts(tag));
    // The server's own: no client sends it.
    new.itip_sequence = old.itip_sequence;
    copy_scalars(&mut new, old, |tag, since| {
        !has(tag) && (ghosts(tag) || w.version < since || SERVER_KEPT.contains(&tag))
    });
    let sent_location = has(cal::LOCATION) || has(base::LOCATION);
    match (&new.location, &old.location) {
        // A 12.x/14.x device sends back the DisplayName it was given: the rest of the
        // 16.x location (address, coordinates) it cannot show is kept.
        (Some(sent), Some(kept))
            if !v16 && has(cal::LOCATION) && sent.display_name == kept.display_name =>
        {
            new.location = Some(kept.clone());
        }
        _ if !sent_location && ghosts(cal::LOCATION) => new.location.clone_from(&old.location),
        _ => {}
    }
    if has(cal::ATTENDEES) {
        // AttendeeStatus is the server's (a 16.x client MUST NOT send it, [MS-ASCAL]
        // 2.2.2.5), and an older device cannot send ProposedStartTime/EndTime (16.1): an
        // attendee sent again keeps what was recorded for that address.
        for a in &mut new.attendees {
            let Some(o) =
                (old.attendees.iter()).find(|o| eq_address(o.email.as_deref(), a.email.as_deref()))
            else {
                continue;
            };
            let keep_status = a.attendee_status.is_none();
            copy_scalars(a, o, |tag, since| {
                w.version < since || (keep_status && tag == cal::ATTENDEE_STATUS)
            });
        }
    } else if ghosts(cal::ATTENDEES) {
        new.attendees.clone_from(&old.attendees);
    }
    if !has(cal::CATEGORIES) && ghosts(cal::CATEGORIES) {
        new.categories.clone_from(&old.categories);
    }
    match (&mut new.recurrence, &old.recurrence) {
        (None, Some(_)) if !has(cal::RECURRENCE) && ghosts(cal::RECURRENCE) => {
            new.recurrence.clone_from(&old.recurrence);
        }
        // CalendarType, IsLeapMonth (14.0) and FirstDayOfWeek (14.1) an older device
        // cannot send.
        (Some(r), Some(o)) => copy_scalars(r, o, |_, since| w.version < since),
        _ => {}
    }
    if !has(base::BODY) {
        new.body.clone_from(&old.body);
    }
    let series_moved = new.start_time != old.start_time
        || new.end_time != old.end_time
        || new.recurrence != old.recurrence;
    if v16 && series_moved {
        // [MS-ASCAL] 2.2.2.21: the occurrences the exceptions named are gone.
    } else {
        let mut exceptions = old.exceptions.clone();
        for mut x in std::mem::take(&mut new.exceptions) {
            match exceptions.iter_mut().find(|o| o.original == x.original) {
                Some(o) => {
                    // What the writer's version does not have of an occurrence stays.
                    copy_scalars(&mut x, o, |_, since| w.version < since);
                    *o = x;
                }
                None => exceptions.push(x),
            }
        }
        new.exceptions = exceptions;
    }
    new.extra = Extra::keep_absent(&old.extra, &new.extra, has);
    new
}

fn eq_address(a: Option<&str>, b: Option<&str>) -> bool {
    matches!((a, b), (Some(a), Some(b)) if a.trim().eq_ignore_ascii_case(b.trim()))
}

/// [MS-ASTASK]: no Supported for tasks; a Change without Importance or ReminderSet keeps
/// the stored value (3.2.5.3.1–2), and one without Body keeps the body.
fn merge_task(old: &Task, mut new: Task, has: &dyn Fn(Tag) -> bool, w: Writer<'_>) -> Task {
    copy_scalars(&mut new, old, |tag, since| {
        !has(tag) && (tag == tk::IMPORTANCE || tag == tk::REMINDER_SET || w.version < since)
    });
    if !has(base::BODY) {
        new.body.clone_from(&old.body);
    }
    if let (Some(r), Some(o)) = (&mut new.recurrence, &old.recurrence) {
        // CalendarType, IsLeapMonth (14.0) and FirstDayOfWeek (14.1) an older device
        // cannot send.
        copy_scalars(r, o, |_, since| w.version < since);
    }
    new.extra = Extra::keep_absent(&old.extra, &new.extra, has);
    new
}

/// One occurrence of a series changed (`sent`: the Change read as an event, and its
/// ApplicationData) or deleted (`None`) by a 16.x Sync Change or Delete that carries
/// airsyncbase:InstanceId, its original start ([MS-ASCMD] 2.2.3.24, 2.2.3.42.2; [MS-ASAIRS]
/// 2.2.2.25): it becomes the series' Exception for that start, or updates it with what the
/// Change names (what it leaves out is ghosted, as for any 16.x calendar Change).
pub fn edit_instance(
    stored: &Record,
    at: Stamp,
    sent: Option<(&Event, &Element)>,
) -> Result<Record, String> {
    let Record::Event(event) = stored else {
        return Err("InstanceId names an item that is not an event".into());
    };
    if event.recurrence.is_none() {
        return Err("InstanceId names an event that is not a series".into());
    }
    let mut event = event.clone();
    let position = event.exceptions.iter().position(|x| x.original == at);
    let mut x = match position {
        Some(p) => event.exceptions[p].clone(),
        None => Exception {
            original: at,
            ..Exception::default()
        },
    };
    match sent {
        None => x.deleted = Some(true),
        Some((e, change)) => {
            let has = |tag: Tag| change.find(tag).is_some();
            copy_scalars(&mut x, e, |tag, _| has(tag));
            if has(cal::LOCATION) || has(base::LOCATION) {
                x.location = Some(e.location.clone().unwrap_or_default());
            }
            if has(cal::ATTENDEES) {
                x.attendees = Some(e.attendees.clone());
            }
            if has(cal::CATEGORIES) {
                x.categories = Some(e.categories.clone());
            }
            if has(base::BODY) {
                x.body.clone_from(&e.body);
            }
        }
    }
    match position {
        Some(p) => event.exceptions[p] = x,
        None if event.exceptions.len() >= MAX_EXCEPTIONS => {
            return Err(format!("a series has at most {MAX_EXCEPTIONS} exceptions"));
        }
        None => event.exceptions.push(x),
    }
    Ok(Record::Event(event))
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
            modified: None,
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

    #[test]
    fn a_16_change_keeps_attendee_status_and_a_moved_series_loses_its_exceptions() {
        use crate::store::model::pim::{Attendee, Exception, Mode, Recurrence, Stamp};
        let stored = Record::Event(Box::new(Event {
            start_time: Some(Stamp(1_000)),
            end_time: Some(Stamp(2_000)),
            subject: Some("Sync".into()),
            attendees: vec![Attendee {
                email: Some("Bob@Example.com".into()),
                attendee_status: Some(3),
                ..Attendee::default()
            }],
            recurrence: Some(Recurrence {
                kind: Some(0),
                interval: Some(1),
                ..Recurrence::default()
            }),
            exceptions: vec![Exception {
                original: Stamp(87_400),
                deleted: Some(true),
                ..Exception::default()
            }],
            ..Event::default()
        }));
        let writer = Writer {
            version: ProtocolVersion::V16_1,
            supported: None,
            empty_picture_keeps: false,
        };
        let change = Element::new(airsync::APPLICATION_DATA).child(
            Element::new(cal::ATTENDEES).child(
                Element::new(cal::ATTENDEE)
                    .text_child(cal::EMAIL, "bob@example.com")
                    .text_child(cal::NAME, "Bob"),
            ),
        );
        let sent = Record::parse(Kind::Event, &change, Mode::Strict).unwrap();
        let Record::Event(merged) = merge(&stored, sent, &change, writer) else {
            panic!("an event")
        };
        assert_eq!(merged.attendees[0].attendee_status, Some(3));
        assert_eq!(merged.subject.as_deref(), Some("Sync"), "ghosted at 16.x");
        assert_eq!(merged.exceptions.len(), 1);

        let moved = Element::new(airsync::APPLICATION_DATA)
            .text_child(cal::START_TIME, "1970-01-01T00:30:00.000Z");
        let sent = Record::parse(Kind::Event, &moved, Mode::Strict).unwrap();
        let Record::Event(merged) = merge(&stored, sent, &moved, writer) else {
            panic!("an event")
        };
        assert_eq!(merged.start_time, Some(Stamp(1_800)));
        assert!(merged.exceptions.is_empty(), "[MS-ASCAL] 2.2.2.21");
        // Below 16.0 the same Change keeps them.
        let older = Writer {
            version: ProtocolVersion::V14_1,
            supported: None,
            empty_picture_keeps: false,
        };
        let sent = Record::parse(Kind::Event, &moved, Mode::Strict).unwrap();
        let Record::Event(merged) = merge(&stored, sent, &moved, older) else {
            panic!("an event")
        };
        assert_eq!(merged.exceptions.len(), 1);
        assert_eq!(merged.subject, None, "no Supported: omitted is deleted");
    }

    #[test]
    fn an_older_writer_keeps_what_its_version_cannot_send() {
        use crate::store::model::pim::{Attendee, Mode, Place, Stamp};
        let stored = Record::Event(Box::new(Event {
            subject: Some("Review".into()),
            client_uid: Some("c-1".into()),
            response_requested: Some(true),
            location: Some(Place {
                display_name: Some("Room 4".into()),
                city: Some("Lyon".into()),
                ..Place::default()
            }),
            attendees: vec![Attendee {
                email: Some("bob@example.com".into()),
                proposed_start_time: Some(Stamp(7_200)),
                ..Attendee::default()
            }],
            ..Event::default()
        }));
        let change = Element::new(airsync::APPLICATION_DATA)
            .text_child(cal::SUBJECT, "Review")
            .text_child(cal::LOCATION, "Room 5")
            .child(
                Element::new(cal::ATTENDEES)
                    .child(Element::new(cal::ATTENDEE).text_child(cal::EMAIL, "bob@example.com")),
            );
        let sent = Record::parse(Kind::Event, &change, Mode::Strict).unwrap();
        let writer = Writer {
            version: ProtocolVersion::V12_1,
            supported: None,
            empty_picture_keeps: false,
        };
        let Record::Event(merged) = merge(&stored, sent, &change, writer) else {
            panic!("an event")
        };
        assert_eq!(merged.client_uid.as_deref(), Some("c-1"), "16.0+");
        assert_eq!(merged.response_requested, Some(true), "14.0+");
        assert_eq!(
            merged.attendees[0].proposed_start_time,
            Some(Stamp(7_200)),
            "16.1"
        );
        // A new location text is a new place: the old address does not describe it.
        let place = merged.location.expect("a location");
        assert_eq!(place.display_name.as_deref(), Some("Room 5"));
        assert_eq!(place.city, None);
    }
}
