#![no_main]
//! Fuzzes the iTIP reader (`pim::itip`, iCalendar text from mail delivered by LMTP) and the
//! GlobalObjId conversions ([MS-ASEMAIL] 2.2.2.37, 3.1.4.7). Neither may panic; a parsed
//! event's times are in order, and every UID survives the trip through a GlobalObjId.

use easd::pim::{goid, itip};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = goid::to_uid(data);
    let text = String::from_utf8_lossy(data);
    let Ok(parsed) = itip::parse(&text) else {
        return;
    };
    for event in &parsed.events {
        assert!(event.start <= event.end);
        assert!(event.attendees.len() <= itip::MAX_ATTENDEES);
        // A UID comes back as it was, except an Outlook id's hex (case, instance date).
        let back = goid::to_uid(&goid::from_uid(&event.uid, None));
        let outlook_hex = event
            .uid
            .get(..32)
            .is_some_and(|p| p.eq_ignore_ascii_case("040000008200E00074C5B7101A82E008"));
        assert!(back == event.uid || outlook_hex, "{:?} came back as {back:?}", event.uid);
    }
    assert!(parsed.events.len() <= itip::MAX_EVENTS);
});
