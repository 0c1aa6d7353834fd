//! Decodes arbitrary bytes; whatever decodes must survive both round trips:
//! encode → decode gives the same tree, and to_xml → from_xml → encode gives
//! the same bytes as encoding the tree directly.

#![no_main]

use easd::wbxml::{Limits, decode, encode, from_xml, to_xml};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let Ok(tree) = decode(data, &limits) else {
        return;
    };
    let bytes = encode(&tree);
    assert_eq!(
        decode(&bytes, &limits).as_ref(),
        Ok(&tree),
        "encode → decode changed the tree"
    );
    let xml = to_xml(&tree);
    let reparsed =
        from_xml(&xml).unwrap_or_else(|e| panic!("from_xml rejected to_xml output: {e}\n{xml}"));
    assert_eq!(
        encode(&reparsed),
        bytes,
        "XML round trip changed the encoding"
    );
});
