//! A calendar item ([MS-ASCAL] 2.2.2): the event, its attendees, its recurrence and its
//! exceptions, with the elements each protocol version has.

use serde::{Deserialize, Serialize};

use super::{
    BadValue, Body, Extra, Mode, Stamp, read_body, read_children, read_list, record,
    write_body_and_extra, write_list, write_scalars,
};
use crate::proto::datetime::format_datetime;
use crate::proto::timezone::TimeZoneInfo;
use crate::proto::version::ProtocolVersion;
use crate::wbxml::Element;
use crate::wbxml::tag::{airsync, airsyncbase as base, calendar as cal, meetingresponse as mr};

/// The most exceptions a series may carry ([MS-ASCAL] 2.2.2.22: 256).
pub const MAX_EXCEPTIONS: usize = 256;

record! {
    /// A calendar item: every element of [MS-ASCAL] 2.2.2 in 12.0 to 16.1.
    pub struct Event {
        /// The TIME_ZONE_INFORMATION blob, base64 as sent ([MS-ASCAL] 2.2.2.44).
        timezone: String = cal::TIMEZONE;
        all_day_event: bool = cal::ALL_DAY_EVENT;
        busy_status: i32 = cal::BUSY_STATUS;
        dt_stamp: Stamp = cal::DT_STAMP;
        end_time: Stamp = cal::END_TIME;
        meeting_status: i32 = cal::MEETING_STATUS;
        organizer_email: String = cal::ORGANIZER_EMAIL;
        organizer_name: String = cal::ORGANIZER_NAME;
        /// Minutes before the start.
        reminder: i32 = cal::REMINDER;
        sensitivity: i32 = cal::SENSITIVITY;
        subject: String = cal::SUBJECT;
        start_time: Stamp = cal::START_TIME;
        /// The item's UID: the client's up to 14.1, the server's from 16.0 ([MS-ASCAL]
        /// 2.2.2.46).
        uid: String = cal::UID;
        disallow_new_time_proposal: bool = cal::DISALLOW_NEW_TIME_PROPOSAL, since V14_0;
        response_requested: bool = cal::RESPONSE_REQUESTED, since V14_0;
        appointment_reply_time: Stamp = cal::APPOINTMENT_REPLY_TIME, since V14_0;
        response_type: i32 = cal::RESPONSE_TYPE, since V14_0;
        online_meeting_conf_link: String = cal::ONLINE_MEETING_CONF_LINK, since V14_1;
        online_meeting_external_link: String = cal::ONLINE_MEETING_EXTERNAL_LINK, since V14_1;
        /// The client's id of an Add, to spot a repeated one ([MS-ASCAL] 2.2.2.13).
        client_uid: String = cal::CLIENT_UID, since V16_0;
        /// An orphan instance's original start ([MS-ASAIRS] 2.2.2.25).
        instance_id: Stamp = base::INSTANCE_ID, since V16_0;
        -- /// calendar:Location up to 14.1 (its DisplayName), airsyncbase:Location from 16.0.
        pub location: Option<Place>,
        -- pub attendees: Vec<Attendee>,
        -- pub categories: Vec<String>,
        -- pub recurrence: Option<Recurrence>,
        -- pub exceptions: Vec<Exception>,
        -- pub body: Option<Body>,
        -- pub extra: Extra,
        -- /// The iTIP SEQUENCE of the invitation the event was placed from (RFC 5546
        /// 2.1.4): a later REQUEST updates it only with a higher one. Not an EAS element.
        pub itip_sequence: Option<u32>,
    }
}

record! {
    /// An airsyncbase:Location ([MS-ASAIRS] 2.2.2.28); a calendar:Location is its
    /// DisplayName alone. Coordinates are kept as the decimal text sent.
    pub struct Place {
        display_name: String = base::DISPLAY_NAME;
        annotation: String = base::ANNOTATION;
        street: String = base::STREET;
        city: String = base::CITY;
        state: String = base::STATE;
        country: String = base::COUNTRY;
        postal_code: String = base::POSTAL_CODE;
        latitude: String = base::LATITUDE;
        longitude: String = base::LONGITUDE;
        accuracy: String = base::ACCURACY;
        altitude: String = base::ALTITUDE;
        altitude_accuracy: String = base::ALTITUDE_ACCURACY;
        location_uri: String = base::LOCATION_URI;
    }
}

record! {
    /// An Attendee ([MS-ASCAL] 2.2.2.3).
    pub struct Attendee {
        email: String = cal::EMAIL;
        name: String = cal::NAME;
        attendee_status: i32 = cal::ATTENDEE_STATUS;
        attendee_type: i32 = cal::ATTENDEE_TYPE;
        proposed_start_time: Stamp = mr::PROPOSED_START_TIME, since V16_1;
        proposed_end_time: Stamp = mr::PROPOSED_END_TIME, since V16_1;
    }
}

record! {
    /// A Recurrence's children as sent ([MS-ASCAL] 2.2.2.37): the numbers `pim::recur`
    /// checks and expands.
    pub struct Recurrence {
        kind: i32 = cal::TYPE;
        occurrences: i32 = cal::OCCURRENCES;
        interval: i32 = cal::INTERVAL;
        week_of_month: i32 = cal::WEEK_OF_MONTH;
        day_of_week: i32 = cal::DAY_OF_WEEK;
        month_of_year: i32 = cal::MONTH_OF_YEAR;
        until: Stamp = cal::UNTIL;
        day_of_month: i32 = cal::DAY_OF_MONTH;
        calendar_type: i32 = cal::CALENDAR_TYPE, since V14_0;
        is_leap_month: i32 = cal::IS_LEAP_MONTH, since V14_0;
        first_day_of_week: i32 = cal::FIRST_DAY_OF_WEEK, since V14_1;
    }
}

record! {
    /// A changed or deleted occurrence of a series ([MS-ASCAL] 2.2.2.21). A text sent
    /// empty is kept empty: it removes the value the occurrence would inherit.
    pub struct Exception {
        deleted: bool = cal::DELETED;
        subject: String = cal::SUBJECT;
        start_time: Stamp = cal::START_TIME;
        end_time: Stamp = cal::END_TIME;
        all_day_event: bool = cal::ALL_DAY_EVENT;
        reminder: i32 = cal::REMINDER;
        sensitivity: i32 = cal::SENSITIVITY;
        busy_status: i32 = cal::BUSY_STATUS;
        dt_stamp: Stamp = cal::DT_STAMP;
        meeting_status: i32 = cal::MEETING_STATUS;
        appointment_reply_time: Stamp = cal::APPOINTMENT_REPLY_TIME, since V14_0;
        response_type: i32 = cal::RESPONSE_TYPE, since V14_0;
        online_meeting_conf_link: String = cal::ONLINE_MEETING_CONF_LINK, since V14_1;
        online_meeting_external_link: String = cal::ONLINE_MEETING_EXTERNAL_LINK, since V14_1;
        -- /// The occurrence's original start: ExceptionStartTime up to 14.1, InstanceId
        /// from 16.0 ([MS-ASCAL] 2.2.2.23; [MS-ASAIRS] 2.2.2.25).
        pub original: Stamp,
        -- pub location: Option<Place>,
        -- /// `None`: the series' attendees (Attendees in an Exception are 14.0+).
        pub attendees: Option<Vec<Attendee>>,
        -- /// `None`: the series' categories.
        pub categories: Option<Vec<String>>,
        -- pub body: Option<Body>,
        -- pub extra: Extra,
    }
}

impl Event {
    pub fn parse(data: &Element, mode: Mode) -> Result<Event, BadValue> {
        let mut event = Event::default();
        let kept = read_children(&mut event, data, mode, |r, e| {
            match e.tag {
                cal::LOCATION | base::LOCATION => r.location = read_location(e, mode)?,
                cal::ATTENDEES => r.attendees = read_attendees(e, mode)?,
                cal::CATEGORIES => r.categories = read_list(e, cal::CATEGORY),
                // [MS-ASCAL] 2.2.2.37: an empty Recurrence (16.x) makes the series a
                // single event.
                cal::RECURRENCE if e.elements().next().is_none() => r.recurrence = None,
                cal::RECURRENCE => r.recurrence = Some(read_record(e, mode)?),
                cal::EXCEPTIONS => r.exceptions = read_exceptions(e, mode)?,
                base::BODY => r.body = Some(read_body(e)?),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        event.extra = super::Extra::of(kept);
        Ok(event)
    }

    /// Whether the item's zone is UTC (no offset, no daylight time); an unreadable blob
    /// is not.
    pub fn is_utc(&self) -> bool {
        self.timezone
            .as_deref()
            .and_then(|t| TimeZoneInfo::from_base64(t).ok())
            .is_some_and(|z| z.standard_offset_minutes() == 0 && !z.has_dst())
    }

    /// The item as ApplicationData for a reader of `version`.
    pub fn render(&self, version: ProtocolVersion) -> Element {
        let v16 = version >= ProtocolVersion::V16_0;
        let mut shown = self.clone();
        // [MS-ASCAL] 2.2.2.44 and 2.2.2.1: from 16.0 an all-day item carries no Timezone,
        // and a UTC one needs none (its times are UTC already).
        if v16 && (self.all_day_event == Some(true) || self.is_utc()) {
            shown.timezone = None;
        }
        let mut out = Element::new(airsync::APPLICATION_DATA);
        write_scalars(&shown, &mut out, version);
        write_location(&mut out, self.location.as_ref(), version);
        if !self.attendees.is_empty() {
            out.push(write_attendees(&self.attendees, version));
        }
        write_list(&mut out, cal::CATEGORIES, cal::CATEGORY, &self.categories);
        if let Some(r) = &self.recurrence {
            let mut e = Element::new(cal::RECURRENCE);
            write_scalars(r, &mut e, version);
            out.push(e);
        }
        if !self.exceptions.is_empty() {
            let mut list = Element::new(cal::EXCEPTIONS);
            for x in &self.exceptions {
                list.push(x.render(version));
            }
            out.push(list);
        }
        write_body_and_extra(&mut out, self.body.as_ref(), &self.extra);
        out
    }
}

impl Exception {
    fn parse(data: &Element, mode: Mode) -> Result<Exception, BadValue> {
        let mut x = Exception::default();
        let mut original = None;
        let kept = read_children(&mut x, data, mode, |r, e| {
            match e.tag {
                cal::EXCEPTION_START_TIME | base::INSTANCE_ID => {
                    let mut at = None;
                    super::read_scalar((&mut at).into(), e)?;
                    original = at;
                }
                cal::LOCATION | base::LOCATION => {
                    r.location = Some(read_location(e, mode)?.unwrap_or_default())
                }
                cal::ATTENDEES => r.attendees = Some(read_attendees(e, mode)?),
                cal::CATEGORIES => r.categories = Some(read_list(e, cal::CATEGORY)),
                base::BODY => r.body = Some(read_body(e)?),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        x.extra = super::Extra::of(kept);
        // [MS-ASCAL] 2.2.2.23: ExceptionStartTime (InstanceId from 16.0) is required.
        x.original = original
            .ok_or_else(|| BadValue("Exception without ExceptionStartTime or InstanceId".into()))?;
        Ok(x)
    }

    fn render(&self, version: ProtocolVersion) -> Element {
        let mut out = Element::new(cal::EXCEPTION);
        if version >= ProtocolVersion::V16_0 {
            out.push_text(base::INSTANCE_ID, format_datetime(self.original.0));
        } else {
            out.push_text(cal::EXCEPTION_START_TIME, format_datetime(self.original.0));
        }
        write_scalars(self, &mut out, version);
        if let Some(place) = &self.location {
            write_location(&mut out, Some(place), version);
        }
        // [MS-ASCAL] 2.2.2.4: Attendees in an Exception from 14.0.
        if let Some(a) = &self.attendees
            && version >= ProtocolVersion::V14_0
        {
            out.push(write_attendees(a, version));
        }
        if let Some(c) = &self.categories {
            out.push(write_categories_even_empty(c));
        }
        write_body_and_extra(&mut out, self.body.as_ref(), &self.extra);
        out
    }
}

/// A record of scalars read from an element's children (Recurrence, Attendee, Place).
fn read_record<R: super::Scalars + Default>(e: &Element, mode: Mode) -> Result<R, BadValue> {
    let mut r = R::default();
    let kept = read_children(&mut r, e, mode, |_, _| Ok(false))?;
    if let Some(unknown) = kept.first() {
        if mode == Mode::Strict {
            return Err(BadValue(format!(
                "{} does not belong in {}",
                unknown.tag, e.tag
            )));
        }
        tracing::info!("dropped {} of an upgraded {}", unknown.tag, e.tag);
    }
    Ok(r)
}

/// calendar:Location (text) or airsyncbase:Location (container); empty: no location.
fn read_location(e: &Element, mode: Mode) -> Result<Option<Place>, BadValue> {
    if e.tag == cal::LOCATION {
        let text = e.text().unwrap_or_default();
        return Ok((!text.is_empty()).then(|| Place {
            display_name: Some(text.to_owned()),
            ..Place::default()
        }));
    }
    if e.elements().next().is_none() {
        return Ok(None);
    }
    read_record(e, mode).map(Some)
}

/// The location as a reader of `version` has it ([MS-ASCAL] 2.2.2.27: calendar:Location
/// up to 14.1, airsyncbase:Location from 16.0).
fn write_location(out: &mut Element, place: Option<&Place>, version: ProtocolVersion) {
    let Some(place) = place else { return };
    if version >= ProtocolVersion::V16_0 {
        let mut e = Element::new(base::LOCATION);
        write_scalars(place, &mut e, version);
        out.push(e);
    } else {
        out.push_text(
            cal::LOCATION,
            place.display_name.clone().unwrap_or_default(),
        );
    }
}

fn read_attendees(e: &Element, mode: Mode) -> Result<Vec<Attendee>, BadValue> {
    e.find_all(cal::ATTENDEE)
        .map(|a| read_record::<Attendee>(a, mode))
        .collect()
}

fn write_attendees(list: &[Attendee], version: ProtocolVersion) -> Element {
    let mut e = Element::new(cal::ATTENDEES);
    for a in list {
        let mut one = Element::new(cal::ATTENDEE);
        write_scalars(a, &mut one, version);
        e.push(one);
    }
    e
}

fn read_exceptions(e: &Element, mode: Mode) -> Result<Vec<Exception>, BadValue> {
    let list: Vec<Exception> = e
        .find_all(cal::EXCEPTION)
        .map(|x| Exception::parse(x, mode))
        .collect::<Result<_, _>>()?;
    if list.len() > MAX_EXCEPTIONS && mode == Mode::Strict {
        return Err(BadValue(format!(
            "{} exceptions, over {MAX_EXCEPTIONS}",
            list.len()
        )));
    }
    Ok(list)
}

/// An exception's own Categories: sent even empty, since an empty list there removes the
/// series' categories from the occurrence.
fn write_categories_even_empty(list: &[String]) -> Element {
    let mut e = Element::new(cal::CATEGORIES);
    for c in list {
        e.push_text(cal::CATEGORY, c.clone());
    }
    e
}

/// What free/busy reads of a stored event: its times, status, zone, recurrence and
/// exceptions. Deserialized from the event's record with its other fields (subject, body,
/// attendees, …) skipped over, not built.
#[derive(Debug, Default, Deserialize)]
pub struct EventTimes {
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    busy_status: Option<i32>,
    #[serde(default)]
    meeting_status: Option<i32>,
    #[serde(default)]
    start_time: Option<Stamp>,
    #[serde(default)]
    end_time: Option<Stamp>,
    #[serde(default)]
    recurrence: Option<Recurrence>,
    #[serde(default)]
    exceptions: Vec<Exception>,
}

impl From<EventTimes> for Event {
    fn from(t: EventTimes) -> Event {
        Event {
            timezone: t.timezone,
            busy_status: t.busy_status,
            meeting_status: t.meeting_status,
            start_time: t.start_time,
            end_time: t.end_time,
            recurrence: t.recurrence,
            exceptions: t.exceptions,
            ..Event::default()
        }
    }
}

/// A stored groupware record (`Record`, `{"Event": {…}}`) read as [`EventTimes`] when it
/// is an event; another class is skipped over (`None`).
#[derive(Debug, Default)]
pub struct EventTimesOf(pub Option<EventTimes>);

impl<'de> Deserialize<'de> for EventTimesOf {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Variant;
        impl<'de> serde::de::Visitor<'de> for Variant {
            type Value = EventTimesOf;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a groupware record")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<EventTimesOf, A::Error> {
                let mut out = EventTimesOf(None);
                while let Some(class) = map.next_key::<String>()? {
                    if class == "Event" {
                        out.0 = Some(map.next_value()?);
                    } else {
                        map.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(Variant)
    }
}
