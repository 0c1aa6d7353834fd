//! What a meeting message shows as `email:MeetingRequest` ([MS-ASEMAIL] 2.2.2.48), read
//! once at delivery from the message's iCalendar part (`mail::meeting`) and kept with the
//! message's metadata. Not a calendar item: the event in the calendar is another record.

use serde::{Deserialize, Serialize};

use crate::proto::timezone::TimeZoneInfo;

/// The `email:MeetingRequest` of a meeting message. Times are UTC Unix seconds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MeetingMeta {
    /// The iCalendar UID: GlobalObjId (≤14.1) is derived from it, 16.x sends it as
    /// calendar:UID.
    pub uid: String,
    /// SEQUENCE: tells a full update from the initial request.
    pub sequence: u32,
    pub dtstamp: i64,
    pub start: i64,
    pub end: i64,
    pub all_day: bool,
    pub instance_type: InstanceType,
    /// The original start of the occurrence the message is about.
    pub recurrence_id: Option<i64>,
    pub location: Option<String>,
    /// The organizer as a display address (`"Name" <a@b>`).
    pub organizer: Option<String>,
    /// Seconds before the start ([MS-ASEMAIL] 2.2.2.63: seconds, unlike calendar:Reminder).
    pub reminder: Option<u32>,
    pub response_requested: bool,
    pub recurrence: Option<MeetingRecurrence>,
    pub sensitivity: Sensitivity,
    pub busy_status: BusyStatus,
    /// The zone of the start as a TIME_ZONE_INFORMATION ([MS-ASEMAIL] 2.2.2.78).
    pub time_zone: TimeZoneInfo,
    pub disallow_new_time_proposal: bool,
    pub message_type: MeetingMessageType,
}

/// [MS-ASEMAIL] 2.2.2.39 InstanceType.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstanceType {
    /// 0: a single appointment.
    Single,
    /// 1: the master of a recurring series.
    Master,
    /// 3: an exception to a recurring series (a message about one occurrence).
    Exception,
}

impl InstanceType {
    pub fn number(self) -> u8 {
        match self {
            InstanceType::Single => 0,
            InstanceType::Master => 1,
            InstanceType::Exception => 3,
        }
    }
}

/// [MS-ASEMAIL] 2.2.2.71 Sensitivity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sensitivity {
    Normal,
    Personal,
    Private,
    Confidential,
}

impl Sensitivity {
    pub fn number(self) -> u8 {
        match self {
            Sensitivity::Normal => 0,
            Sensitivity::Personal => 1,
            Sensitivity::Private => 2,
            Sensitivity::Confidential => 3,
        }
    }
}

/// [MS-ASEMAIL] 2.2.2.14 BusyStatus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BusyStatus {
    Free,
    Tentative,
    Busy,
    OutOfOffice,
}

impl BusyStatus {
    pub fn number(self) -> u8 {
        match self {
            BusyStatus::Free => 0,
            BusyStatus::Tentative => 1,
            BusyStatus::Busy => 2,
            BusyStatus::OutOfOffice => 3,
        }
    }
}

/// [MS-ASEMAIL] 2.2.2.47 email2:MeetingMessageType, the values easd tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeetingMessageType {
    /// 0: unspecified (cancellations and responses).
    Unspecified,
    /// 1: the initial meeting request.
    Initial,
    /// 2: a full update of a meeting already sent.
    FullUpdate,
}

impl MeetingMessageType {
    pub fn number(self) -> u8 {
        match self {
            MeetingMessageType::Unspecified => 0,
            MeetingMessageType::Initial => 1,
            MeetingMessageType::FullUpdate => 2,
        }
    }
}

/// `email:Recurrence` ([MS-ASEMAIL] 2.2.2.60): the children by their element names and
/// wire values, as `pim::recur::Recurrence::to_fields` gives them (the typed pattern
/// stays in `pim`, which the store may not import).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct MeetingRecurrence {
    pub kind: u32,
    pub interval: u32,
    /// Unix seconds.
    pub until: Option<i64>,
    pub occurrences: Option<u32>,
    pub day_of_week: Option<u32>,
    pub day_of_month: Option<u32>,
    pub week_of_month: Option<u32>,
    pub month_of_year: Option<u32>,
    pub first_day_of_week: Option<u32>,
    pub calendar_type: Option<u32>,
    pub is_leap_month: Option<u32>,
}
