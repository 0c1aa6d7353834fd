#![no_main]
//! Fuzzes the vCard reader (`pim::vcard`, a file given to `easd import`) and the writer
//! of what it read: neither may panic, a card read keeps its photo within the cap, and
//! every card is either read or reported.

use easd::pim::vcard;
use easd::store::model::pim::MAX_PICTURE;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = vcard::decode_file(data);
    let read = vcard::import(&text);
    for card in &read.cards {
        assert!(card.contact.picture.as_ref().is_none_or(|p| p.len() <= MAX_PICTURE));
        for version in [vcard::Version::V3, vcard::Version::V4] {
            let out = vcard::export([("fuzz", &card.contact)], version);
            let _ = vcard::import(&out);
        }
    }
    let begins = text
        .lines()
        .filter(|l| l.trim().trim_start_matches('\u{feff}').eq_ignore_ascii_case("BEGIN:VCARD"))
        .count();
    assert!(read.cards.len() <= begins);
});
