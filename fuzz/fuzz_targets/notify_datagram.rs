//! Parses arbitrary datagrams as change notices: never panics, and whatever parses
//! respects the format's limits and survives being written out again.

#![no_main]

use easd::push::notify::{MAX_DATAGRAM, Notice, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(notice) = parse(data) else {
        return;
    };
    assert!(data.len() <= MAX_DATAGRAM);
    assert!(!notice.account.is_empty() && !notice.account.contains(' '));
    let line = match &notice.folder {
        Some(folder) => format!("v1 {} {folder}", notice.account),
        None => format!("v1 {}", notice.account),
    };
    let reparsed: Notice = parse(line.as_bytes()).expect("a re-encoded notice must parse");
    assert_eq!(reparsed, notice, "re-encoding changed the notice");
    let _ = notice.folder_ref();
});
