//! What the organizer's server mails when a 16.x device adds, changes or deletes a meeting
//! the user organizes ([MS-ASCMD] 3.1.5.5: from 16.0 the server sends the meeting
//! requests; below, the client does; pim-notes §5). A pure planner: given the event before
//! and after a committed Sync command, the iTIP messages owed (RFC 5546 3.2.2 REQUEST,
//! 3.2.5 CANCEL), with the new SEQUENCE recorded on the event that stays.
//!
//! - an Add of a meeting with attendees: a REQUEST to them, SEQUENCE 0;
//! - a Change that matters to the attendees (time, all-day, location, recurrence and its
//!   exceptions, subject, who is invited): an updated REQUEST at SEQUENCE + 1, and a CANCEL
//!   to the attendees it no longer names. A re-save that changes none of these sends
//!   nothing (iPhones re-save events every few minutes:
//!   https://github.com/grommunio/grommunio-sync/issues/16);
//! - a Delete, or a Change to MeetingStatus "cancelled": a CANCEL to every attendee.

use crate::pim::ical::Scheduling;
use crate::store::model::pim::{Attendee, Event, Exception};

/// [MS-ASCAL] 2.2.2.29 MeetingStatus bits: 1 a meeting, 2 received (someone else
/// organizes it), 4 cancelled (values 9, 11, 13 and 15 add 8 and mean the same as 1, 3,
/// 5, 7).
const MEETING: i32 = 1;
const RECEIVED: i32 = 2;
const CANCELLED: i32 = 4;

/// The organizer: the account a device syncs as.
#[derive(Debug, Clone)]
pub struct Organizer {
    pub email: String,
    pub name: String,
}

/// What an iTIP message does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Request,
    Cancel,
}

/// One message owed: the event as it describes it, to whom, at which revision.
#[derive(Debug, Clone)]
pub struct Notice {
    pub method: Method,
    pub event: Event,
    pub to: Vec<Attendee>,
    pub sequence: u32,
}

impl Notice {
    /// The method as `pim::ical::scheduling` writes it.
    pub fn scheduling(&self) -> Scheduling<'_> {
        match self.method {
            Method::Request => Scheduling::Request,
            Method::Cancel => Scheduling::Cancel {
                attendees: &self.to,
            },
        }
    }
}

/// The messages owed for a command that turned `before` (`None`: an Add) into `after`
/// (`None`: a Delete). A meeting `me` organizes gets `me` as its organizer when it names
/// none (16.x clients send none, [MS-ASCAL] 2.2.2.35–36) and, when a message goes out, the
/// SEQUENCE it went out with (`Event::itip_sequence`).
pub fn plan(me: &Organizer, before: Option<&Event>, after: Option<&mut Event>) -> Vec<Notice> {
    // The meeting the attendees were told of: one the user organizes, with attendees.
    let told = before.filter(|b| organizes(me, b) && !invitees(me, b).is_empty());
    let next = |b: &Event| b.itip_sequence.map_or(0, |s| s.saturating_add(1));
    let Some(after) = after else {
        return told
            .map(|b| cancel(b, invitees(me, b), next(b)))
            .into_iter()
            .collect();
    };
    if !organizes(me, after) {
        // Cancelled on the device (MeetingStatus 5): everyone told hears of it.
        let Some(b) = told.filter(|_| cancelled(after)) else {
            return Vec::new();
        };
        let sequence = next(b);
        after.itip_sequence = Some(sequence);
        let mut to = invitees(me, b);
        for a in invitees(me, after) {
            if !to.iter().any(|t| same(t, &a)) {
                to.push(a);
            }
        }
        return vec![cancel(after, to, sequence)];
    }
    if after.organizer_email.as_deref().is_none_or(str::is_empty) {
        after.organizer_email = Some(me.email.clone());
        after.organizer_name = Some(me.name.clone()).filter(|n| !n.is_empty());
    }
    let now_invited = invitees(me, after);
    let (sequence, removed) = match told {
        None if now_invited.is_empty() => return Vec::new(),
        // The first REQUEST: SEQUENCE 0, or one past what an earlier, since emptied,
        // meeting of the same event went out with.
        None => (
            before
                .and_then(|b| b.itip_sequence)
                .map_or(0, |s| s.saturating_add(1)),
            Vec::new(),
        ),
        Some(b) if !significant(me, b, after) => return Vec::new(),
        Some(b) => {
            let removed: Vec<Attendee> = invitees(me, b)
                .into_iter()
                .filter(|a| !now_invited.iter().any(|n| same(a, n)))
                .collect();
            (next(b), removed)
        }
    };
    after.itip_sequence = Some(sequence);
    let mut out = Vec::new();
    if !now_invited.is_empty() {
        out.push(Notice {
            method: Method::Request,
            event: after.clone(),
            to: now_invited,
            sequence,
        });
    }
    if !removed.is_empty() {
        out.push(cancel(after, removed, sequence));
    }
    out
}

fn cancel(event: &Event, to: Vec<Attendee>, sequence: u32) -> Notice {
    Notice {
        method: Method::Cancel,
        event: event.clone(),
        to,
        sequence,
    }
}

/// A meeting the user organizes and has not cancelled.
fn organizes(me: &Organizer, e: &Event) -> bool {
    let status = e.meeting_status.unwrap_or(0);
    status & MEETING != 0
        && status & (RECEIVED | CANCELLED) == 0
        && e.organizer_email
            .as_deref()
            .is_none_or(|o| o.is_empty() || o.eq_ignore_ascii_case(&me.email))
}

fn cancelled(e: &Event) -> bool {
    let status = e.meeting_status.unwrap_or(0);
    status & MEETING != 0 && status & CANCELLED != 0
}

/// The attendees with an address, the organizer herself left out.
fn invitees(me: &Organizer, e: &Event) -> Vec<Attendee> {
    e.attendees
        .iter()
        .filter(|a| {
            a.email
                .as_deref()
                .is_some_and(|m| !m.is_empty() && !m.eq_ignore_ascii_case(&me.email))
        })
        .cloned()
        .collect()
}

fn same(a: &Attendee, b: &Attendee) -> bool {
    match (&a.email, &b.email) {
        (Some(x), Some(y)) => x.eq_ignore_ascii_case(y),
        _ => false,
    }
}

/// Whether the attendees must hear of the change: what an invitation says (when, where,
/// what, how it recurs, who comes). Reminders, busy status, body, categories and the
/// attendees' answers are the organizer's own or not the invitation's.
fn significant(me: &Organizer, before: &Event, after: &Event) -> bool {
    let place = |e: &Event| {
        e.location
            .as_ref()
            .and_then(|l| l.display_name.clone())
            .unwrap_or_default()
    };
    let mut was: Vec<String> = invitees(me, before)
        .iter()
        .filter_map(|a| a.email.as_deref().map(str::to_ascii_lowercase))
        .collect();
    let mut is: Vec<String> = invitees(me, after)
        .iter()
        .filter_map(|a| a.email.as_deref().map(str::to_ascii_lowercase))
        .collect();
    was.sort();
    is.sort();
    let occurrence = |x: &Exception| {
        (
            x.original,
            x.deleted == Some(true),
            x.start_time,
            x.end_time,
            x.subject.clone(),
            x.location.as_ref().and_then(|l| l.display_name.clone()),
        )
    };
    let occurrences = |e: &Event| e.exceptions.iter().map(occurrence).collect::<Vec<_>>();
    before.start_time != after.start_time
        || before.end_time != after.end_time
        || before.all_day_event.unwrap_or(false) != after.all_day_event.unwrap_or(false)
        || before.subject.as_deref().unwrap_or_default()
            != after.subject.as_deref().unwrap_or_default()
        || place(before) != place(after)
        || before.recurrence != after.recurrence
        || occurrences(before) != occurrences(after)
        || was != is
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
