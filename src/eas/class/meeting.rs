//! `email:MeetingRequest` ([MS-ASEMAIL] 2.2.2.48) of a meeting message, from the data
//! delivery stored (`store::model::MeetingMeta`), per the reader's protocol version.
//!
//! Children in the order of 2.2.2.48. By version:
//! - Location: email:Location up to 14.1, airsyncbase:Location (its DisplayName) from
//!   16.0 ([MS-ASEMAIL] 2.2.2.46, [MS-ASAIRS] 2.2.2.28).
//! - GlobalObjId up to 14.1, calendar:UID from 16.0 (2.2.2.37; [MS-ASCAL] 2.2.2.46).
//! - DisallowNewTimeProposal from 14.0 (2.2.2.28); email2:MeetingMessageType from 14.1
//!   (2.2.2.47).
//! - In Recurrence: email2:CalendarType and email2:IsLeapMonth from 14.0,
//!   email2:FirstDayOfWeek from 14.1 (2.2.2.60).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::pim::goid::{self, InstanceDate};
use crate::proto::datetime::format_datetime;
use crate::proto::version::ProtocolVersion;
use crate::store::model::{MeetingMeta, MeetingRecurrence};
use crate::wbxml::Element;
use crate::wbxml::tag::{airsyncbase, calendar, email, email2};

/// The MeetingRequest element for a reader speaking `version`.
pub fn meeting_request(m: &MeetingMeta, version: ProtocolVersion) -> Element {
    let flag = |b: bool| if b { "1" } else { "0" };
    let mut e = Element::new(email::MEETING_REQUEST)
        .text_child(email::ALL_DAY_EVENT, flag(m.all_day))
        .text_child(email::START_TIME, format_datetime(m.start))
        .text_child(email::DT_STAMP, format_datetime(m.dtstamp))
        .text_child(email::END_TIME, format_datetime(m.end))
        .text_child(email::INSTANCE_TYPE, m.instance_type.number().to_string());
    if let Some(location) = &m.location {
        if version >= ProtocolVersion::V16_0 {
            e.push(
                Element::new(airsyncbase::LOCATION)
                    .text_child(airsyncbase::DISPLAY_NAME, location.as_str()),
            );
        } else {
            e.push_text(email::LOCATION, location.as_str());
        }
    }
    if let Some(organizer) = &m.organizer {
        e.push_text(email::ORGANIZER, organizer.as_str());
    }
    if let Some(id) = m.recurrence_id {
        e.push_text(email::RECURRENCE_ID, format_datetime(id));
    }
    if let Some(seconds) = m.reminder {
        e.push_text(email::REMINDER, seconds.to_string());
    }
    e.push_text(email::RESPONSE_REQUESTED, flag(m.response_requested));
    if let Some(r) = &m.recurrence {
        e.push(Element::new(email::RECURRENCES).child(recurrence(r, version)));
    }
    e.push_text(email::SENSITIVITY, m.sensitivity.number().to_string());
    e.push_text(email::BUSY_STATUS, m.busy_status.number().to_string());
    e.push_text(email::TIME_ZONE, m.time_zone.to_base64());
    if version >= ProtocolVersion::V16_0 {
        e.push_text(calendar::UID, m.uid.as_str());
    } else {
        let instance = m.recurrence_id.map(instance_date);
        e.push_text(
            email::GLOBAL_OBJ_ID,
            BASE64.encode(goid::from_uid(&m.uid, instance)),
        );
    }
    if version >= ProtocolVersion::V14_0 {
        e.push_text(
            email::DISALLOW_NEW_TIME_PROPOSAL,
            flag(m.disallow_new_time_proposal),
        );
    }
    if version >= ProtocolVersion::V14_1 {
        e.push_text(
            email2::MEETING_MESSAGE_TYPE,
            m.message_type.number().to_string(),
        );
    }
    e
}

/// The (UTC) date of the occurrence a message is about, for GlobalObjId's instance date.
fn instance_date(at: i64) -> InstanceDate {
    let date = jiff::Timestamp::from_second(at)
        .map(|t| jiff::tz::TimeZone::UTC.to_datetime(t).date())
        .unwrap_or_default();
    InstanceDate {
        year: date.year().try_into().unwrap_or(0),
        month: date.month().try_into().unwrap_or(0),
        day: date.day().try_into().unwrap_or(0),
    }
}

/// `email:Recurrence` ([MS-ASEMAIL] 2.2.2.60); Until is a dateTime (2.2.2.79).
fn recurrence(r: &MeetingRecurrence, version: ProtocolVersion) -> Element {
    let mut e = Element::new(email::RECURRENCE)
        .text_child(email::TYPE, r.kind.to_string())
        .text_child(email::INTERVAL, r.interval.to_string());
    if let Some(until) = r.until {
        e.push_text(email::UNTIL, format_datetime(until));
    }
    let numbers = [
        (email::OCCURRENCES, r.occurrences),
        (email::WEEK_OF_MONTH, r.week_of_month),
        (email::DAY_OF_MONTH, r.day_of_month),
        (email::DAY_OF_WEEK, r.day_of_week),
        (email::MONTH_OF_YEAR, r.month_of_year),
    ];
    for (tag, value) in numbers {
        if let Some(n) = value {
            e.push_text(tag, n.to_string());
        }
    }
    if version >= ProtocolVersion::V14_0 {
        for (tag, value) in [
            (email2::CALENDAR_TYPE, r.calendar_type),
            (email2::IS_LEAP_MONTH, r.is_leap_month),
        ] {
            if let Some(n) = value {
                e.push_text(tag, n.to_string());
            }
        }
    }
    if version >= ProtocolVersion::V14_1
        && let Some(day) = r.first_day_of_week
    {
        e.push_text(email2::FIRST_DAY_OF_WEEK, day.to_string());
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::timezone::TimeZoneInfo;
    use crate::store::model::{
        BusyStatus, InstanceType, MeetingMessageType, MeetingRecurrence, Sensitivity,
    };

    fn meeting() -> MeetingMeta {
        MeetingMeta {
            uid: "m-1".into(),
            sequence: 0,
            dtstamp: 1_795_161_600,
            start: 1_796_115_600,
            end: 1_796_119_200,
            all_day: false,
            instance_type: InstanceType::Master,
            recurrence_id: None,
            location: Some("Room 1".into()),
            organizer: Some("olga@example.com".into()),
            reminder: Some(900),
            response_requested: true,
            recurrence: Some(MeetingRecurrence {
                kind: 1,
                interval: 2,
                occurrences: Some(10),
                day_of_week: Some(2),
                first_day_of_week: Some(0),
                calendar_type: Some(0),
                is_leap_month: Some(0),
                ..MeetingRecurrence::default()
            }),
            sensitivity: Sensitivity::Normal,
            busy_status: BusyStatus::Busy,
            time_zone: TimeZoneInfo::utc(),
            disallow_new_time_proposal: false,
            message_type: MeetingMessageType::Initial,
        }
    }

    fn names(e: &Element) -> Vec<&'static str> {
        e.elements().map(|c| c.tag.name()).collect()
    }

    #[test]
    fn children_per_version() {
        let m = meeting();
        let common_head = [
            "AllDayEvent",
            "StartTime",
            "DtStamp",
            "EndTime",
            "InstanceType",
        ];
        let v12 = meeting_request(&m, ProtocolVersion::V12_1);
        let mut want: Vec<&str> = common_head.to_vec();
        want.extend([
            "Location",
            "Organizer",
            "Reminder",
            "ResponseRequested",
            "Recurrences",
            "Sensitivity",
            "BusyStatus",
            "TimeZone",
            "GlobalObjId",
        ]);
        assert_eq!(names(&v12), want);
        let v14 = meeting_request(&m, ProtocolVersion::V14_1);
        want.extend(["DisallowNewTimeProposal", "MeetingMessageType"]);
        assert_eq!(names(&v14), want);
        let v16 = meeting_request(&m, ProtocolVersion::V16_1);
        let uid_at = want.iter().position(|n| *n == "GlobalObjId").unwrap();
        want[uid_at] = "UID";
        assert_eq!(names(&v16), want);
        assert_eq!(v16.find(calendar::UID).and_then(Element::text), Some("m-1"));
        let location = v16.find(airsyncbase::LOCATION).expect("16.x location");
        assert_eq!(
            location
                .find(airsyncbase::DISPLAY_NAME)
                .and_then(Element::text),
            Some("Room 1")
        );
        // Recurrence children by version.
        let rec = |e: &Element| {
            names(
                e.find(email::RECURRENCES)
                    .unwrap()
                    .find(email::RECURRENCE)
                    .unwrap(),
            )
        };
        let base = ["Type", "Interval", "Occurrences", "DayOfWeek"];
        assert_eq!(rec(&v12), base);
        assert_eq!(
            rec(&meeting_request(&m, ProtocolVersion::V14_0))[4..],
            ["CalendarType", "IsLeapMonth"]
        );
        assert_eq!(
            rec(&v14)[4..],
            ["CalendarType", "IsLeapMonth", "FirstDayOfWeek"]
        );
    }

    #[test]
    fn values() {
        let mut m = meeting();
        m.recurrence_id = Some(1_796_115_600);
        m.instance_type = InstanceType::Exception;
        m.message_type = MeetingMessageType::FullUpdate;
        let e = meeting_request(&m, ProtocolVersion::V14_1);
        let text = |tag| e.find(tag).and_then(Element::text);
        assert_eq!(text(email::START_TIME), Some("2026-12-01T09:00:00.000Z"));
        assert_eq!(text(email::RECURRENCE_ID), Some("2026-12-01T09:00:00.000Z"));
        assert_eq!(text(email::INSTANCE_TYPE), Some("3"));
        assert_eq!(text(email::REMINDER), Some("900"));
        assert_eq!(text(email2::MEETING_MESSAGE_TYPE), Some("2"));
        assert_eq!(
            text(email::TIME_ZONE),
            Some(TimeZoneInfo::utc().to_base64().as_str())
        );
        let goid = BASE64.decode(text(email::GLOBAL_OBJ_ID).unwrap()).unwrap();
        assert_eq!(goid::to_uid(&goid), "m-1");
        assert_eq!(&goid[16..20], &[0x07, 0xEA, 12, 1], "the occurrence's date");
    }
}
