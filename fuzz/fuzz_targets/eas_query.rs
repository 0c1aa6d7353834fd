#![no_main]
//! Fuzzes the ActiveSync query parser ([MS-ASHTTP] 2.2.1.1.1): it must never panic,
//! and whatever it accepts must come back unchanged through the encoders.

use easd::proto::ids::SentPolicyKey;
use easd::proto::query::{
    EasRequest, MAX_QUERY_LEN, QueryError, QueryForm, encode_base64_query, encode_plain_query,
    parse_request, policy_key_header,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // query NUL MS-ASProtocolVersion NUL X-MS-PolicyKey; a missing part is an absent header.
    let mut parts = data.splitn(3, |&b| b == 0).map(String::from_utf8_lossy);
    let query = parts.next().unwrap_or_default();
    let version = parts.next();
    let policy_key = parts.next();
    if let Ok(req) = parse_request(&query, version.as_deref(), policy_key.as_deref()) {
        check_plain_round_trip(&req);
        check_base64_round_trip(&req);
    }
});

/// Parses a re-encoded query unless encoding made it longer than the parser accepts.
fn reparse(
    query: &str,
    version: Option<&str>,
    policy_key: Option<&str>,
) -> Option<Result<EasRequest, QueryError>> {
    (query.len() <= MAX_QUERY_LEN).then(|| parse_request(query, version, policy_key))
}

fn check_plain_round_trip(req: &EasRequest) {
    let policy_key = policy_key_header(req);
    let query = encode_plain_query(req);
    if let Some(parsed) = reparse(&query, Some(req.version.as_str()), policy_key.as_deref()) {
        // The plain form has no locale or AcceptMultiPart flag.
        let expected = EasRequest {
            locale: None,
            accept_multipart: false,
            query_form: QueryForm::Plain,
            ignored_parameters: Vec::new(),
            ..req.clone()
        };
        assert_eq!(parsed, Ok(expected), "plain query {query:?}");
    }
}

fn check_base64_round_trip(req: &EasRequest) {
    if !req.version.supports_base64_query() {
        return;
    }
    // Encoding fails only for values over 255 bytes, which the plain form allows.
    let Ok(query) = encode_base64_query(req) else {
        return;
    };
    if let Some(parsed) = reparse(&query, None, None) {
        // The base64 form carries a key or nothing.
        let expected = EasRequest {
            policy_key: req.policy_key.key().map_or(SentPolicyKey::Absent, |k| {
                SentPolicyKey::Key(Some(k))
            }),
            query_form: QueryForm::Base64,
            ignored_parameters: Vec::new(),
            ..req.clone()
        };
        assert_eq!(parsed, Ok(expected), "base64 query {query:?}");
    }
}
