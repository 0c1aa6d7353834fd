use super::*;
use crate::store::model::pim::{Place, Recurrence, Stamp};

fn me() -> Organizer {
    Organizer {
        email: "olga@example.com".into(),
        name: "Olga".into(),
    }
}

fn person(email: &str) -> Attendee {
    Attendee {
        email: Some(email.into()),
        name: Some(email.into()),
        attendee_type: Some(1),
        ..Attendee::default()
    }
}

/// A meeting as a 16.x device adds it: MeetingStatus 1, no organizer, no UID of its own
/// (the server's is given before planning).
fn meeting(attendees: &[&str]) -> Event {
    Event {
        uid: Some("SERVER-UID".into()),
        subject: Some("Review".into()),
        start_time: Some(Stamp(1_800_000_000)),
        end_time: Some(Stamp(1_800_003_600)),
        meeting_status: Some(MEETING),
        location: Some(Place {
            display_name: Some("Room 1".into()),
            ..Place::default()
        }),
        attendees: attendees.iter().map(|a| person(a)).collect(),
        ..Event::default()
    }
}

fn to(n: &Notice) -> Vec<&str> {
    n.to.iter().filter_map(|a| a.email.as_deref()).collect()
}

#[test]
fn an_added_meeting_invites_its_attendees_at_sequence_0() {
    let mut added = meeting(&["bob@example.com", "OLGA@example.com", "carol@example.net"]);
    let out = plan(&me(), None, Some(&mut added));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].method, Method::Request);
    assert_eq!(out[0].sequence, 0);
    assert_eq!(
        to(&out[0]),
        ["bob@example.com", "carol@example.net"],
        "not the organizer herself"
    );
    assert_eq!(added.itip_sequence, Some(0), "recorded on the stored event");
    assert_eq!(added.organizer_email.as_deref(), Some("olga@example.com"));
    assert_eq!(
        out[0].event.organizer_email.as_deref(),
        Some("olga@example.com")
    );
}

#[test]
fn nothing_for_appointments_received_meetings_or_no_attendees() {
    let mut plain = meeting(&["bob@example.com"]);
    plain.meeting_status = Some(0);
    assert!(plan(&me(), None, Some(&mut plain)).is_empty());
    let mut received = meeting(&["bob@example.com"]);
    received.meeting_status = Some(3);
    assert!(plan(&me(), None, Some(&mut received)).is_empty());
    let mut someone_elses = meeting(&["bob@example.com"]);
    someone_elses.organizer_email = Some("boss@example.org".into());
    assert!(plan(&me(), None, Some(&mut someone_elses)).is_empty());
    let mut alone = meeting(&[]);
    assert!(plan(&me(), None, Some(&mut alone)).is_empty());
    assert_eq!(alone.itip_sequence, None);
}

fn sent(attendees: &[&str]) -> Event {
    let mut e = meeting(attendees);
    e.organizer_email = Some("olga@example.com".into());
    e.itip_sequence = Some(0);
    e
}

#[test]
fn a_resave_that_changes_nothing_significant_sends_nothing() {
    let before = sent(&["bob@example.com"]);
    let mut after = before.clone();
    after.reminder = Some(15);
    after.busy_status = Some(2);
    after.categories = vec!["Work".into()];
    after.attendees[0].attendee_status = Some(3);
    after.attendees[0].email = Some("BOB@example.com".into());
    assert!(plan(&me(), Some(&before), Some(&mut after)).is_empty());
    assert_eq!(after.itip_sequence, Some(0), "the sequence stays");
}

#[test]
fn a_significant_change_sends_an_update_and_cancels_the_removed() {
    let before = sent(&["bob@example.com", "carol@example.net"]);
    let mut after = before.clone();
    after.start_time = Some(Stamp(1_800_086_400));
    after.end_time = Some(Stamp(1_800_090_000));
    after.attendees = vec![person("bob@example.com"), person("dave@example.org")];
    let out = plan(&me(), Some(&before), Some(&mut after));
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(out[0].method, Method::Request);
    assert_eq!(out[0].sequence, 1);
    assert_eq!(to(&out[0]), ["bob@example.com", "dave@example.org"]);
    assert_eq!(out[1].method, Method::Cancel);
    assert_eq!(out[1].sequence, 1);
    assert_eq!(to(&out[1]), ["carol@example.net"]);
    assert_eq!(after.itip_sequence, Some(1));

    for change in [
        |e: &mut Event| e.subject = Some("Other".into()),
        |e: &mut Event| e.location = None,
        |e: &mut Event| {
            e.recurrence = Some(Recurrence {
                kind: Some(0),
                ..Recurrence::default()
            })
        },
        |e: &mut Event| {
            e.exceptions.push(Exception {
                original: Stamp(1_800_000_000),
                deleted: Some(true),
                ..Exception::default()
            })
        },
        |e: &mut Event| e.all_day_event = Some(true),
    ] {
        let mut after = before.clone();
        change(&mut after);
        let out = plan(&me(), Some(&before), Some(&mut after));
        assert_eq!(out.len(), 1, "{after:?}");
        assert_eq!(out[0].sequence, 1);
    }
}

#[test]
fn a_delete_or_a_cancellation_cancels_for_everyone_once() {
    let before = sent(&["bob@example.com", "carol@example.net"]);
    let out = plan(&me(), Some(&before), None);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].method, Method::Cancel);
    assert_eq!(out[0].sequence, 1);
    assert_eq!(to(&out[0]), ["bob@example.com", "carol@example.net"]);

    let mut cancelled = before.clone();
    cancelled.meeting_status = Some(5);
    let out = plan(&me(), Some(&before), Some(&mut cancelled));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].method, Method::Cancel);
    assert_eq!(cancelled.itip_sequence, Some(1));
    // Deleted afterwards: the attendees were told already.
    assert!(plan(&me(), Some(&cancelled), None).is_empty());
    // A deleted appointment, or a meeting nobody was invited to: nothing.
    assert!(plan(&me(), Some(&meeting(&[])), None).is_empty());
}

#[test]
fn attendees_added_to_an_appointment_get_the_first_request() {
    let mut before = meeting(&[]);
    before.meeting_status = Some(0);
    let mut after = meeting(&["bob@example.com"]);
    let out = plan(&me(), Some(&before), Some(&mut after));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].method, Method::Request);
    assert_eq!(out[0].sequence, 0);
}
