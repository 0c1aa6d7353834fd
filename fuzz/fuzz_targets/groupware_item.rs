#![no_main]
//! Fuzzes the reading of a client's groupware ApplicationData into its typed record
//! ([MS-ASCAL], [MS-ASCNTC], [MS-ASTASK], [MS-ASNOTE]): the first byte picks the class,
//! the rest is WBXML. Nothing may panic; an accepted item renders for every protocol
//! version, its newest form reads again, and an upgrade's lenient reading (which keeps
//! what it cannot read) accepts whatever decodes.

use easd::eas::class::groupware::Class;
use easd::eas::class::parse_groupware;
use easd::proto::version::ProtocolVersion;
use easd::store::model::pim::{Mode, Record};
use easd::wbxml::{Limits, decode};
use libfuzzer_sys::fuzz_target;

const CLASSES: [Class; 4] = [Class::Calendar, Class::Contacts, Class::Tasks, Class::Notes];

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let class = CLASSES[usize::from(which) % CLASSES.len()];
    let Ok(tree) = decode(rest, &Limits::default()) else {
        return;
    };
    Record::parse(class.kind(), &tree, Mode::Keep).expect("the lenient reading keeps, never refuses");
    let Ok((record, _)) = parse_groupware(class, &tree) else {
        return;
    };
    for version in ProtocolVersion::ALL {
        let _ = record.render(version);
    }
    let newest = record.render(ProtocolVersion::V16_1);
    Record::parse(class.kind(), &newest, Mode::Strict).expect("a rendered item reads again");
});
