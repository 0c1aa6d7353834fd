#![no_main]
//! Fuzzes the Autodiscover request reader ([MS-ASCMD] 2.2.1.1): it must never panic, and
//! what it accepts is an address it would answer for.

use easd::eas::autodiscover::request::parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = parse(data) {
        assert!(req.email.contains('@'), "accepted {:?}", req.email);
        assert_eq!(req.email.trim(), req.email);
    }
});
