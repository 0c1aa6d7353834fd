#![no_main]
//! Fuzzes the HTTP/1.1 request-head parser of `server::conn`: it must never panic, and a
//! head it accepts lies within the bytes it was given; a head is complete or not whatever
//! follows it.

use easd::server::conn::parse_head;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((_, len))) = parse_head(data) {
        assert!(len <= data.len(), "head of {len} bytes in {} bytes", data.len());
        let mut longer = data.to_vec();
        longer.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
        match parse_head(&longer) {
            Ok(Some((_, again))) => assert_eq!(again, len, "trailing bytes changed the head"),
            Ok(None) => panic!("a complete head became partial when bytes followed it"),
            Err(e) => panic!("a complete head became an error when bytes followed it: {e:?}"),
        }
    }
});
