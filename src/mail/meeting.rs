//! Meeting messages: the iCalendar part of a delivered message read as iTIP
//! (`pim::itip`) and turned into what the mail item keeps, its MessageClass and its
//! `email:MeetingRequest` data (`store::model::MeetingMeta`).
//!
//! MessageClass by method ([MS-ASEMAIL] 2.2.2.49; pim-notes §3, as Z-Push and SOGo map
//! it): REQUEST (and ADD, which adds occurrences) → IPM.Schedule.Meeting.Request;
//! CANCEL → IPM.Schedule.Meeting.Canceled; REPLY by the replying attendee's PARTSTAT →
//! IPM.Schedule.Meeting.Resp.Pos / .Neg / .Tent; COUNTER → .Resp.Tent. Other methods
//! (PUBLISH, REFRESH, DECLINECOUNTER) and calendars without a method stay plain mail.

use jiff::Timestamp;

use crate::pim::itip::{self, Busy, Class, Event, Itip, ItipError, Method, PartStat};
use crate::pim::tz;
use crate::proto::timezone::TimeZoneInfo;
use crate::store::model::{
    BusyStatus, InstanceType, MeetingMessageType, MeetingMeta, MeetingRecurrence, Sensitivity,
};

/// A message read as a meeting message.
#[derive(Debug, Clone, PartialEq)]
pub struct Meeting {
    pub class: &'static str,
    pub meta: MeetingMeta,
}

/// Reads the text of a message's `text/calendar` part. `method_param` is the part's
/// Content-Type `method=` parameter, which names the method when present (RFC 6047 2.4);
/// else the calendar's METHOD property does. `Ok(None)`: a calendar, but not a meeting
/// message (no method, or one without a meeting class).
pub fn read(calendar: &str, method_param: Option<&str>) -> Result<Option<Meeting>, ItipError> {
    let itip = itip::parse(calendar)?;
    let method = method_param.and_then(Method::parse).or(itip.method);
    let Some(method) = method else {
        return Ok(None);
    };
    let Some(event) = itip.main_event() else {
        return Ok(None);
    };
    let class = match method {
        Method::Request | Method::Add => "IPM.Schedule.Meeting.Request",
        Method::Cancel => "IPM.Schedule.Meeting.Canceled",
        Method::Reply => reply_class(event),
        Method::Counter => "IPM.Schedule.Meeting.Resp.Tent",
        Method::Publish | Method::Refresh | Method::DeclineCounter => return Ok(None),
    };
    Ok(Some(Meeting {
        class,
        meta: meta(&itip, event, method),
    }))
}

/// A REPLY carries one ATTENDEE, the one answering (RFC 5546 3.2.3).
fn reply_class(event: &Event) -> &'static str {
    match event.attendees.first().map(|a| a.partstat) {
        Some(PartStat::Accepted) => "IPM.Schedule.Meeting.Resp.Pos",
        Some(PartStat::Declined) => "IPM.Schedule.Meeting.Resp.Neg",
        _ => "IPM.Schedule.Meeting.Resp.Tent",
    }
}

fn meta(itip: &Itip, event: &Event, method: Method) -> MeetingMeta {
    let is_request = matches!(method, Method::Request | Method::Add);
    let instance_type = if event.recurrence_id.is_some() {
        InstanceType::Exception
    } else if event.recurrence.is_some() {
        InstanceType::Master
    } else {
        InstanceType::Single
    };
    // An all-day event without a zone (VALUE=DATE) is at midnight UTC: UTC's blob.
    let time_zone = Timestamp::from_second(event.start)
        .map(|at| tz::blob_for(&event.zone, at))
        .unwrap_or_else(|_| TimeZoneInfo::utc());
    MeetingMeta {
        uid: event.uid.clone(),
        sequence: event.sequence,
        // DTSTAMP is required in iTIP (RFC 5546 3.2.2); without one, the latest of the
        // object's stamps, else the start, so that the element is always there.
        dtstamp: event
            .dtstamp
            .or_else(|| itip.events.iter().filter_map(|e| e.dtstamp).max())
            .unwrap_or(event.start),
        start: event.start,
        end: event.end,
        all_day: event.all_day,
        instance_type,
        recurrence_id: event.recurrence_id,
        location: event.location.clone(),
        organizer: event.organizer.as_ref().map(|o| match &o.name {
            Some(name) => format!("\"{}\" <{}>", super::address::quote(name), o.address),
            None => o.address.clone(),
        }),
        reminder: event.reminder.and_then(|s| u32::try_from(s).ok()),
        // Outlook's "request responses" is per meeting: RSVP on the attendees.
        response_requested: is_request && event.attendees.iter().any(|a| a.rsvp),
        recurrence: event.recurrence.as_ref().map(|r| {
            let f = r.to_fields();
            MeetingRecurrence {
                kind: f.kind.unwrap_or_default(),
                interval: f.interval.unwrap_or(1),
                until: f.until,
                occurrences: f.occurrences,
                day_of_week: f.day_of_week,
                day_of_month: f.day_of_month,
                week_of_month: f.week_of_month,
                month_of_year: f.month_of_year,
                first_day_of_week: f.first_day_of_week,
                calendar_type: f.calendar_type,
                is_leap_month: f.is_leap_month,
            }
        }),
        sensitivity: match event.class {
            Class::Public => Sensitivity::Normal,
            Class::Private => Sensitivity::Private,
            Class::Confidential => Sensitivity::Confidential,
        },
        // [MS-ASEMAIL] 2.2.2.14: busy unless the invitation says otherwise.
        busy_status: match event.busy {
            Some(Busy::Free) => BusyStatus::Free,
            Some(Busy::Tentative) => BusyStatus::Tentative,
            Some(Busy::OutOfOffice) => BusyStatus::OutOfOffice,
            Some(Busy::Busy) | None => BusyStatus::Busy,
        },
        time_zone,
        disallow_new_time_proposal: event.disallow_counter,
        // iTIP counts revisions from SEQUENCE 0 (RFC 5546 2.1.4): a request with a higher
        // one updates a meeting sent before.
        message_type: match (is_request, event.sequence) {
            (false, _) => MeetingMessageType::Unspecified,
            (true, 0) => MeetingMessageType::Initial,
            (true, _) => MeetingMessageType::FullUpdate,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: &str = "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:m-1\r\n\
        SEQUENCE:0\r\nDTSTAMP:20261120T080000Z\r\nDTSTART;TZID=Europe/Paris:20261201T100000\r\n\
        DTEND;TZID=Europe/Paris:20261201T110000\r\nSUMMARY:Plan\r\nLOCATION:Room 1\r\n\
        ORGANIZER;CN=Olga \"O\" Org:mailto:olga@example.com\r\n\
        ATTENDEE;RSVP=TRUE:mailto:bob@example.org\r\nCLASS:CONFIDENTIAL\r\n\
        BEGIN:VALARM\r\nTRIGGER:-PT10M\r\nACTION:DISPLAY\r\nEND:VALARM\r\n\
        END:VEVENT\r\nEND:VCALENDAR\r\n";

    #[test]
    fn a_request_and_its_update() {
        let m = read(REQUEST, None).expect("reads").expect("a meeting");
        assert_eq!(m.class, "IPM.Schedule.Meeting.Request");
        let meta = &m.meta;
        assert_eq!(meta.uid, "m-1");
        assert_eq!((meta.start, meta.end), (1_796_115_600, 1_796_119_200));
        assert_eq!(meta.dtstamp, 1_795_161_600);
        assert_eq!(meta.location.as_deref(), Some("Room 1"));
        assert_eq!(
            meta.organizer.as_deref(),
            Some(r#""Olga \"O\" Org" <olga@example.com>"#)
        );
        assert_eq!(meta.reminder, Some(600));
        assert!(meta.response_requested);
        assert_eq!(meta.sensitivity, Sensitivity::Confidential);
        assert_eq!(meta.busy_status, BusyStatus::Busy);
        assert_eq!(meta.instance_type, InstanceType::Single);
        assert_eq!(meta.message_type, MeetingMessageType::Initial);
        assert_eq!(meta.time_zone.standard_offset_minutes(), 60);
        assert_eq!(meta.time_zone.daylight_offset_minutes(), Some(120));
        let update = REQUEST.replace("SEQUENCE:0", "SEQUENCE:3");
        let m = read(&update, None).expect("reads").expect("a meeting");
        assert_eq!(m.meta.message_type, MeetingMessageType::FullUpdate);
    }

    #[test]
    fn classes_by_method() {
        let with = |method: &str| REQUEST.replace("METHOD:REQUEST", method);
        let class = |text: &str, param: Option<&str>| read(text, param).unwrap().map(|m| m.class);
        assert_eq!(
            class(&with("METHOD:CANCEL"), None),
            Some("IPM.Schedule.Meeting.Canceled")
        );
        // The Content-Type parameter names the method when present.
        assert_eq!(
            class(REQUEST, Some("cancel")),
            Some("IPM.Schedule.Meeting.Canceled")
        );
        for (partstat, expected) in [
            ("ACCEPTED", "IPM.Schedule.Meeting.Resp.Pos"),
            ("DECLINED", "IPM.Schedule.Meeting.Resp.Neg"),
            ("TENTATIVE", "IPM.Schedule.Meeting.Resp.Tent"),
        ] {
            let reply = with("METHOD:REPLY").replace(
                "ATTENDEE;RSVP=TRUE",
                &format!("ATTENDEE;PARTSTAT={partstat}"),
            );
            let m = read(&reply, None).unwrap().expect("a meeting");
            assert_eq!(m.class, expected);
            assert!(!m.meta.response_requested);
            assert_eq!(m.meta.message_type, MeetingMessageType::Unspecified);
        }
        assert_eq!(
            class(&with("METHOD:COUNTER"), None),
            Some("IPM.Schedule.Meeting.Resp.Tent")
        );
        assert_eq!(class(&with("METHOD:PUBLISH"), None), None);
        assert_eq!(
            class(&REQUEST.replace("METHOD:REQUEST\r\n", ""), None),
            None
        );
        assert!(read("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", None).is_err());
    }
}
