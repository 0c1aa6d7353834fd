//! Tests of `query`: both encodings, the spec's example, malformed input, round trips.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::proto::command::Command;
use crate::proto::ids::{
    CollectionId, DeviceId, DeviceType, IdError, PolicyKey, SentPolicyKey, ServerId,
};
use crate::proto::query::{
    Base64Field, EasRequest, MAX_QUERY_LEN, QueryError, QueryForm, device_id_hint,
    encode_base64_query, encode_plain_query, parse_request, policy_key_header,
};
use crate::proto::version::{ProtocolVersion, VersionError};

fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// A request with every parameter kind set.
fn full_request() -> EasRequest {
    EasRequest {
        command: Command::SmartReply,
        version: ProtocolVersion::V14_1,
        user: Some("CONTOSO\\j.doe+tag@contoso.com".into()),
        device_id: DeviceId::new("ApplF17XK0ABCDEF").unwrap(),
        device_type: DeviceType::new("iPhone").unwrap(),
        policy_key: SentPolicyKey::Key(PolicyKey::new(2034202722)),
        locale: None,
        collection_id: Some(CollectionId::new("5").unwrap()),
        item_id: Some(ServerId::new("5:12").unwrap()),
        attachment_name: Some("5:12:1 r\u{e9}sum\u{e9}.pdf".into()),
        long_id: Some("RgAAAAD%2fx&=".into()),
        occurrence: Some("2009-03-12T20:00:00.000Z".into()),
        save_in_sent: true,
        accept_multipart: false,
        query_form: QueryForm::Plain,
        ignored_parameters: Vec::new(),
    }
}

fn parse_plain_of(req: &EasRequest) -> Result<EasRequest, QueryError> {
    let policy = policy_key_header(req);
    parse_request(
        &encode_plain_query(req),
        Some(req.version.as_str()),
        policy.as_deref(),
    )
}

fn parse_base64_of(req: &EasRequest) -> Result<EasRequest, QueryError> {
    parse_request(&encode_base64_query(req).unwrap(), None, None)
}

/// A small valid base64 header: 14.1 Sync, DeviceId "dev1", no key, type "iPhone".
fn header_bytes() -> Vec<u8> {
    let mut bytes = vec![141, 0, 0x09, 0x04, 4];
    bytes.extend(b"dev1");
    bytes.push(0);
    bytes.push(6);
    bytes.extend(b"iPhone");
    bytes
}

fn parse_bytes(bytes: &[u8]) -> Result<EasRequest, QueryError> {
    parse_request(&b64(bytes), None, None)
}

// ---- the spec's examples ----

#[test]
fn spec_base64_example_decodes_field_by_field() {
    // [MS-ASHTTP] 2.2.1.1.1 and 2.2.1.1.1.1.
    let req = parse_request("jAAJBAp2MTQwRGV2aWNlAApTbWFydFBob25l", None, None).unwrap();
    assert_eq!(req.version, ProtocolVersion::V14_0); // 0x8C = 140
    assert_eq!(req.command, Command::Sync); // 0x00
    assert_eq!(req.locale, Some(0x0409)); // 09 04 little-endian: en-US
    assert_eq!(req.device_id.as_str(), "v140Device"); // length 0x0A
    assert_eq!(req.policy_key, SentPolicyKey::Absent); // length 0x00
    assert_eq!(req.device_type.as_str(), "SmartPhone"); // length 0x0A
    assert_eq!(req.user, None); // no parameters follow
    assert_eq!(req.query_form, QueryForm::Base64);
    assert!(req.ignored_parameters.is_empty());
    assert_eq!(
        encode_base64_query(&req).unwrap(),
        "jAAJBAp2MTQwRGV2aWNlAApTbWFydFBob25l"
    );
}

#[test]
fn spec_plain_example_matches_the_base64_one() {
    // 2.2.1.1.1 calls the two "equivalent"; the base64 one carries no User and the
    // plain one no locale.
    let plain = parse_request(
        "Cmd=Sync&User=rmjones&DeviceId=v140Device&DeviceType=SmartPhone",
        Some("14.0"),
        None,
    )
    .unwrap();
    let base64 = parse_request("jAAJBAp2MTQwRGV2aWNlAApTbWFydFBob25l", None, None).unwrap();
    assert_eq!(plain.user.as_deref(), Some("rmjones"));
    assert_eq!(
        EasRequest {
            user: None,
            locale: Some(0x0409),
            query_form: QueryForm::Base64,
            ..plain
        },
        base64
    );
}

// ---- both forms ----

#[test]
fn both_forms_parse_to_the_same_request() {
    let req = full_request();
    let plain = parse_plain_of(&req).unwrap();
    let base64 = parse_base64_of(&req).unwrap();
    assert_eq!(plain, req);
    assert_eq!(
        base64,
        EasRequest {
            query_form: QueryForm::Base64,
            ..req
        }
    );
}

#[test]
fn base64_carries_locale_and_multipart() {
    let req = EasRequest {
        command: Command::ItemOperations,
        locale: Some(1031),
        save_in_sent: false,
        accept_multipart: true,
        query_form: QueryForm::Base64,
        ..full_request()
    };
    assert_eq!(parse_base64_of(&req).unwrap(), req);
}

#[test]
fn encoded_base64_escapes_url_syntax() {
    let query = encode_base64_query(&full_request()).unwrap();
    assert!(!query.contains(['+', '/', '=', '&']), "{query}");
}

#[test]
fn over_long_values_do_not_encode_as_base64() {
    let req = EasRequest {
        user: Some("u".repeat(256)),
        ..full_request()
    };
    assert!(encode_base64_query(&req).is_err());
    assert_eq!(parse_plain_of(&req).unwrap(), req);
}

// ---- plain form details ----

#[test]
fn plain_keys_ignore_case_and_values_are_percent_decoded() {
    let req = parse_request(
        "cmd=foldersync&user=DOMAIN%5Cjoe&deviceid=ABC123&DEVICETYPE=SP&x=1",
        Some("12.0"),
        Some("0"),
    )
    .unwrap();
    assert_eq!(req.command, Command::FolderSync);
    assert_eq!(req.user.as_deref(), Some("DOMAIN\\joe"));
    assert_eq!(req.policy_key, SentPolicyKey::Key(None));
    assert_eq!(req.ignored_parameters, ["x"]);
}

#[test]
fn plain_plus_stays_a_plus_and_at_may_be_escaped() {
    let q = "Cmd=Ping&User=a+b%40example.com&DeviceId=D1&DeviceType=Android";
    let req = parse_request(q, Some("16.1"), None).unwrap();
    assert_eq!(req.user.as_deref(), Some("a+b@example.com"));
}

#[test]
fn plain_unknown_parameters_are_recorded_escaped() {
    let q = "Cmd=Sync&DeviceId=D1&DeviceType=T&Foo=1&Bar%0A=2&&Baz";
    let req = parse_request(q, Some("14.1"), None).unwrap();
    assert_eq!(req.ignored_parameters, ["Foo", "Bar\\n", "Baz"]);
}

#[test]
fn plain_missing_required_parameters() {
    let cases = [
        ("User=a&DeviceId=D1&DeviceType=T", "Cmd"),
        ("Cmd=Sync&DeviceType=T", "DeviceId"),
        ("Cmd=Sync&DeviceId=D1", "DeviceType"),
    ];
    for (query, missing) in cases {
        assert_eq!(
            parse_request(query, Some("14.1"), None),
            Err(QueryError::MissingParameter(missing)),
            "{query}"
        );
    }
}

#[test]
fn plain_errors() {
    let ok = "Cmd=Sync&DeviceId=D1&DeviceType=T";
    let cases = [
        (
            "Cmd=Frobnicate&DeviceId=D1&DeviceType=T",
            Some("14.1"),
            QueryError::UnknownCommand("Frobnicate".into()),
        ),
        (ok, None, QueryError::MissingVersion),
        (
            ok,
            Some("2.5"),
            QueryError::UnsupportedVersion(VersionError::UnknownName("2.5".into())),
        ),
        (
            "Cmd=Sync&DeviceId=abc-def&DeviceType=T",
            Some("14.1"),
            QueryError::DeviceId(IdError::BadChar('-')),
        ),
        (
            "Cmd=Sync&DeviceId=&DeviceType=T",
            Some("14.1"),
            QueryError::DeviceId(IdError::Empty),
        ),
        (
            "Cmd=Sync&Cmd=Ping&DeviceId=D1&DeviceType=T",
            Some("14.1"),
            QueryError::DuplicateParameter("Cmd"),
        ),
        (
            "Cmd=Sync&DeviceId=D1&DeviceType=T&user=a&User=b",
            Some("14.1"),
            QueryError::DuplicateParameter("User"),
        ),
        (
            "Cmd=Sync&DeviceId=D1%2&DeviceType=T",
            Some("14.1"),
            QueryError::BadPercentEncoding,
        ),
        (
            "Cmd=SendMail&DeviceId=D1&DeviceType=T&SaveInSent=yes",
            Some("14.1"),
            QueryError::InvalidSaveInSent("yes".into()),
        ),
        (
            "Cmd=Sync&DeviceId=D1&DeviceType=T&User=a%00b",
            Some("14.1"),
            QueryError::ControlCharacter { field: "User" },
        ),
        (
            "Cmd=Sync&DeviceId=D1&DeviceType=T&User=%FF",
            Some("14.1"),
            QueryError::NotUtf8 { field: "User" },
        ),
        (
            "Cmd=Sync&DeviceId=D1&DeviceType=T&ItemId=a%20b",
            Some("14.1"),
            QueryError::ItemId(IdError::BadChar(' ')),
        ),
    ];
    for (query, version, error) in cases {
        assert_eq!(parse_request(query, version, None), Err(error), "{query}");
    }
}

#[test]
fn plain_33_char_device_id_is_rejected() {
    let q = format!("Cmd=Sync&DeviceId={}&DeviceType=T", "A".repeat(33));
    assert_eq!(
        parse_request(&q, Some("14.1"), None),
        Err(QueryError::DeviceId(IdError::TooLong { len: 33, max: 32 }))
    );
}

#[test]
fn policy_key_header_values() {
    let q = "Cmd=Sync&DeviceId=D1&DeviceType=T";
    let req = parse_request(q, Some("14.0"), Some("2401271238")).unwrap();
    assert_eq!(req.policy_key.key().map(PolicyKey::get), Some(2401271238));
    // A malformed key is the gate's to answer, in both forms; the query stands.
    for bad in ["+5", "-1", "abc", "99999999999", "", "  "] {
        let req = parse_request(q, Some("14.0"), Some(bad)).unwrap();
        assert_eq!(req.policy_key, SentPolicyKey::Malformed, "{bad:?}");
        let req = parse_request(&b64(&header_bytes()), None, Some(bad)).unwrap();
        assert_eq!(req.policy_key, SentPolicyKey::Malformed, "{bad:?}");
    }
}

#[test]
fn commands_missing_from_a_version_are_rejected() {
    let find = "Cmd=Find&DeviceId=D1&DeviceType=T";
    assert_eq!(
        parse_request(find, Some("16.0"), None),
        Err(QueryError::CommandUnavailable {
            command: Command::Find,
            version: ProtocolVersion::V16_0,
        })
    );
    assert!(parse_request(find, Some("16.1"), None).is_ok());
    let attachment = "Cmd=GetAttachment&DeviceId=D1&DeviceType=T&AttachmentName=1:2";
    assert!(parse_request(attachment, Some("12.1"), None).is_ok());
    assert!(parse_request(attachment, Some("14.0"), None).is_err());
}

// ---- base64 form details ----

#[test]
fn base64_truncated_after_each_field() {
    let bytes = header_bytes();
    let expected = |i: usize| match i {
        0 => None,
        1 => Some(Base64Field::CommandCode),
        2 | 3 => Some(Base64Field::Locale),
        4 => Some(Base64Field::DeviceIdLength),
        5..=8 => Some(Base64Field::DeviceId),
        9 => Some(Base64Field::PolicyKeyLength),
        10 => Some(Base64Field::DeviceTypeLength),
        _ => Some(Base64Field::DeviceType),
    };
    for cut in 0..bytes.len() {
        let result = parse_bytes(&bytes[..cut]);
        match expected(cut) {
            Some(field) => assert_eq!(result, Err(QueryError::Truncated(field)), "cut {cut}"),
            None => assert_eq!(result, Err(QueryError::Empty)),
        }
    }
    assert!(parse_bytes(&bytes).is_ok());
}

#[test]
fn base64_truncated_policy_key_and_parameters() {
    let mut with_key = vec![141, 0, 0, 0, 1, b'd', 4, 1, 2];
    assert_eq!(
        parse_bytes(&with_key),
        Err(QueryError::Truncated(Base64Field::PolicyKey))
    );
    with_key.extend([3, 4, 1, b'T']);
    assert!(parse_bytes(&with_key).is_ok());

    let mut bytes = header_bytes();
    bytes.push(8); // User tag without a length
    assert_eq!(
        parse_bytes(&bytes),
        Err(QueryError::Truncated(Base64Field::ParameterLength))
    );
    bytes.extend([5, b'a', b'b']); // length 5, two bytes of value
    assert_eq!(
        parse_bytes(&bytes),
        Err(QueryError::Truncated(Base64Field::ParameterValue))
    );
}

#[test]
fn base64_device_id_longer_than_the_buffer() {
    assert_eq!(
        parse_bytes(&[141, 0, 9, 4, 200, b'a', b'b']),
        Err(QueryError::Truncated(Base64Field::DeviceId))
    );
}

#[test]
fn base64_device_id_rules() {
    let with_id = |id: &[u8]| {
        let mut bytes = vec![141, 0, 0, 0, u8::try_from(id.len()).unwrap()];
        bytes.extend(id);
        bytes.extend([0, 1, b'T']);
        parse_bytes(&bytes)
    };
    assert_eq!(
        with_id(b"ab-cd"),
        Err(QueryError::DeviceId(IdError::BadChar('-')))
    );
    assert_eq!(
        with_id(&[b'A'; 33]),
        Err(QueryError::DeviceId(IdError::TooLong { len: 33, max: 32 }))
    );
    assert_eq!(with_id(b""), Err(QueryError::DeviceId(IdError::Empty)));
    assert_eq!(
        with_id(&[0xFF, 0xFE]),
        Err(QueryError::NotUtf8 { field: "DeviceId" })
    );
    // A binary GUID becomes 32 hex digits.
    let guid = [
        0x6F, 0x24, 0xCA, 0xD5, 0x99, 0xA6, 0x4C, 0x9D, 0x9A, 0x2B, 0x00, 0x01, 0xFE, 0xED, 0x10,
        0x20,
    ];
    assert_eq!(
        with_id(&guid).unwrap().device_id.as_str(),
        "6F24CAD599A64C9D9A2B0001FEED1020"
    );
}

#[test]
fn base64_bad_alphabet_is_rejected() {
    for query in [
        "jAAJBAp2MTQwRGV2aWNl_ApTbWFydFBob25l",
        "jAAJBAp2MTQwRGV2aWNl-ApTbWFydFBob25l",
        "jAAJBAp2MTQw RGV2aWNlAApTbWFydFBob25l",
        "jAAJBAp2MTQwRGV2aWNlAApTbWFydFBob25l%",
    ] {
        let err = parse_request(query, None, None).unwrap_err();
        assert!(
            matches!(err, QueryError::Base64(_) | QueryError::BadPercentEncoding),
            "{query}: {err}"
        );
    }
}

#[test]
fn base64_padding_may_be_escaped_or_missing() {
    let padded = b64(&header_bytes());
    assert!(padded.ends_with('='));
    let expected = parse_request(&padded, None, None).unwrap();
    let escaped = padded.replace('=', "%3D");
    assert_eq!(parse_request(&escaped, None, None), Ok(expected.clone()));
    let bare = padded.trim_end_matches('=');
    assert_eq!(parse_request(bare, None, None), Ok(expected));
}

#[test]
fn base64_policy_key_length_must_be_0_or_4() {
    let bytes = [141, 0, 0, 0, 1, b'd', 3, 1, 2, 3, 1, b'T'];
    assert_eq!(parse_bytes(&bytes), Err(QueryError::PolicyKeyLength(3)));
}

#[test]
fn base64_policy_key_is_little_endian_and_header_is_a_fallback() {
    let bytes = [141, 0, 0, 0, 1, b'd', 4, 0x78, 0x56, 0x34, 0x12, 1, b'T'];
    let req = parse_request(&b64(&bytes), None, Some("99")).unwrap();
    assert_eq!(req.policy_key.key().map(PolicyKey::get), Some(0x1234_5678));
    let req = parse_request(&b64(&header_bytes()), None, Some("99")).unwrap();
    assert_eq!(req.policy_key.key().map(PolicyKey::get), Some(99));
}

#[test]
fn base64_version_and_command_codes() {
    let with = |version: u8, code: u8| {
        let mut bytes = header_bytes();
        bytes[0] = version;
        bytes[1] = code;
        parse_bytes(&bytes)
    };
    assert_eq!(with(141, 99), Err(QueryError::UnknownCommandCode(99)));
    for legacy in 5..=8 {
        assert_eq!(
            with(141, legacy),
            Err(QueryError::UnknownCommandCode(legacy))
        );
    }
    assert_eq!(
        with(99, 0),
        Err(QueryError::UnsupportedVersion(VersionError::UnknownByte(
            99
        )))
    );
    assert_eq!(
        with(120, 0),
        Err(QueryError::Base64NotAllowed(ProtocolVersion::V12_0))
    );
    assert_eq!(with(161, 23).unwrap().command, Command::Find);
    assert_eq!(
        with(141, 23),
        Err(QueryError::CommandUnavailable {
            command: Command::Find,
            version: ProtocolVersion::V14_1,
        })
    );
}

#[test]
fn base64_version_byte_wins_over_the_header() {
    let req = parse_request(&b64(&header_bytes()), Some("12.0"), None).unwrap();
    assert_eq!(req.version, ProtocolVersion::V14_1);
}

#[test]
fn base64_unknown_tags_are_skipped_and_recorded() {
    let mut bytes = header_bytes();
    bytes.extend([
        2, 1, b'x', 5, 0, 200, 2, b'y', b'z', 8, 3, b'j', b'o', b'e', 7, 1, 0x85,
    ]);
    let req = parse_bytes(&bytes).unwrap();
    assert_eq!(req.user.as_deref(), Some("joe"));
    assert!(req.save_in_sent);
    assert!(!req.accept_multipart);
    assert_eq!(
        req.ignored_parameters,
        ["tag 2", "tag 5", "tag 200", "Options bits 0x84"]
    );
}

#[test]
fn base64_parameter_errors() {
    let with_params = |params: &[u8]| {
        let mut bytes = header_bytes();
        bytes.extend(params);
        parse_bytes(&bytes)
    };
    assert_eq!(
        with_params(&[7, 2, 1, 1]),
        Err(QueryError::OptionsLength(2))
    );
    assert_eq!(
        with_params(&[7, 1, 1, 7, 1, 2]),
        Err(QueryError::DuplicateParameter("Options"))
    );
    assert_eq!(
        with_params(&[1, 1, b'5', 1, 1, b'6']),
        Err(QueryError::DuplicateParameter("CollectionId"))
    );
    assert_eq!(
        with_params(&[8, 2, b'a', 0x1B]),
        Err(QueryError::ControlCharacter { field: "User" })
    );
    assert_eq!(
        with_params(&[0, 1, 0xC3]),
        Err(QueryError::NotUtf8 {
            field: "AttachmentName"
        })
    );
    // An empty value is the same as no value.
    assert_eq!(with_params(&[8, 0]).unwrap().user, None);
}

// ---- limits and robustness ----

#[test]
fn empty_and_over_long_queries() {
    assert_eq!(
        parse_request("", Some("14.1"), None),
        Err(QueryError::Empty)
    );
    let long = format!(
        "Cmd=Sync&DeviceId=D1&DeviceType=T&x={}",
        "a".repeat(MAX_QUERY_LEN)
    );
    assert_eq!(
        parse_request(&long, Some("14.1"), None),
        Err(QueryError::TooLong {
            len: long.len(),
            max: MAX_QUERY_LEN
        })
    );
}

#[test]
fn errors_read_as_sentences() {
    let err = parse_request("Cmd=Sync&DeviceId=D1&DeviceType=T", None, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "The request names no protocol version (no MS-ASProtocolVersion header)."
    );
    assert_eq!(
        QueryError::DeviceId(IdError::TooLong { len: 33, max: 32 }).to_string(),
        "The DeviceId is invalid: it is 33 characters long; at most 32 are allowed."
    );
}

#[test]
fn no_prefix_or_byte_flip_panics() {
    let bytes = STANDARD
        .decode(
            encode_base64_query(&full_request())
                .unwrap()
                .replace("%2B", "+")
                .replace("%2F", "/")
                .replace("%3D", "="),
        )
        .unwrap();
    for cut in 0..=bytes.len() {
        let _ = parse_bytes(&bytes[..cut]);
    }
    for i in 0..bytes.len() {
        for value in 0..=u8::MAX {
            let mut mutated = bytes.clone();
            mutated[i] = value;
            let _ = parse_bytes(&mutated);
        }
    }
}

// ---- round trips over generated requests ----

/// xorshift64: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }

    fn coin(&mut self) -> bool {
        self.next() & 1 == 1
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    fn string(&mut self, alphabet: &[char], max: usize) -> String {
        let len = 1 + self.below(max);
        (0..len).map(|_| self.pick(alphabet)).collect()
    }
}

const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const VCHAR_EXTRA: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
const TEXT_EXTRA: &str = " é✓€\u{1F600}";

fn generate(rng: &mut Rng, versions: &[ProtocolVersion]) -> EasRequest {
    let alnum: Vec<char> = ALNUM.chars().collect();
    let vchar: Vec<char> = ALNUM.chars().chain(VCHAR_EXTRA.chars()).collect();
    let text: Vec<char> = vchar.iter().copied().chain(TEXT_EXTRA.chars()).collect();
    let version = rng.pick(versions);
    let commands: Vec<Command> = Command::ALL
        .into_iter()
        .filter(|c| c.available_in(version))
        .collect();
    let opt_text = |rng: &mut Rng| rng.coin().then(|| rng.string(&text, 40));
    EasRequest {
        command: rng.pick(&commands),
        version,
        user: opt_text(rng),
        device_id: DeviceId::new(&rng.string(&alnum, DeviceId::MAX_LEN)).unwrap(),
        device_type: DeviceType::new(&rng.string(&vchar, DeviceType::MAX_LEN)).unwrap(),
        policy_key: match rng.next() % 4 {
            0 => SentPolicyKey::Absent,
            1 => SentPolicyKey::Malformed,
            _ => SentPolicyKey::Key(PolicyKey::new(u32::try_from(rng.next() >> 32).unwrap())),
        },
        locale: None,
        collection_id: rng
            .coin()
            .then(|| CollectionId::new(&rng.string(&vchar, 64)).unwrap()),
        item_id: rng
            .coin()
            .then(|| ServerId::new(&rng.string(&vchar, 64)).unwrap()),
        attachment_name: opt_text(rng),
        long_id: opt_text(rng),
        occurrence: opt_text(rng),
        save_in_sent: rng.coin(),
        accept_multipart: false,
        query_form: QueryForm::Plain,
        ignored_parameters: Vec::new(),
    }
}

#[test]
fn generated_requests_round_trip_through_both_forms() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let base64_versions = &ProtocolVersion::ALL[1..];
    for _ in 0..500 {
        let req = generate(&mut rng, base64_versions);
        assert_eq!(parse_plain_of(&req).as_ref(), Ok(&req));
        // The base64 form carries a key or nothing.
        let base64 = EasRequest {
            policy_key: req
                .policy_key
                .key()
                .map_or(SentPolicyKey::Absent, |k| SentPolicyKey::Key(Some(k))),
            locale: u16::try_from(rng.next() >> 48).ok().filter(|&l| l != 0),
            accept_multipart: rng.coin(),
            query_form: QueryForm::Base64,
            ..req
        };
        assert_eq!(parse_base64_of(&base64).as_ref(), Ok(&base64));
    }
}

#[test]
fn generated_12_0_requests_round_trip_through_the_plain_form() {
    let mut rng = Rng(42);
    for _ in 0..100 {
        let req = generate(&mut rng, &[ProtocolVersion::V12_0]);
        assert_eq!(parse_plain_of(&req).as_ref(), Ok(&req));
        let bytes = encode_base64_query(&req).unwrap();
        assert_eq!(
            parse_request(&bytes, None, None),
            Err(QueryError::Base64NotAllowed(ProtocolVersion::V12_0))
        );
    }
}

#[test]
fn an_options_query_hints_its_device_id() {
    let hint = |q: &str| device_id_hint(q).map(|d| d.as_str().to_owned());
    assert_eq!(
        hint("User=alice&DeviceId=Appl123&DeviceType=iPhone").as_deref(),
        Some("Appl123")
    );
    assert_eq!(hint("deviceid=%41bc&User=x").as_deref(), Some("Abc"));
    assert_eq!(hint("User=alice&DeviceType=iPhone"), None);
    assert_eq!(hint("DeviceId=not-alnum&User=x"), None);
    assert_eq!(hint(&"DeviceId=a&".repeat(MAX_QUERY_LEN)), None);
    assert_eq!(hint(&b64(b"\x09\x01")), None);
    assert_eq!(hint(""), None);
}
