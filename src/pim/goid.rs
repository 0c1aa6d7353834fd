//! GlobalObjId ([MS-ASEMAIL] 2.2.2.37): the Outlook meeting identifier an EAS 2.5–14.1
//! MeetingRequest carries instead of the iCalendar UID, and the way back (3.1.4.7,
//! examples in 4.3).
//!
//! Layout: 16 bytes class id, 4 bytes instance date (year high, year low, month, day; zero
//! for a whole series), 8 bytes creation time (FILETIME), 8 reserved, a u32 LE data length,
//! then the data. A UID from another calendar program is wrapped as data = "vCal-Uid",
//! 01 00 00 00, the UID's bytes, 00. A UID that is itself the hex form of an Outlook id
//! ([MS-OXCICAL] 2.1.3.1.1.20.26 EncodedGlobalId, beginning with the class id) is decoded
//! instead, so the id Outlook made comes back to Outlook unchanged.

/// The class id every GlobalObjId begins with.
const CLASS_ID: [u8; 16] = [
    0x04, 0x00, 0x00, 0x00, 0x82, 0x00, 0xE0, 0x00, 0x74, 0xC5, 0xB7, 0x10, 0x1A, 0x82, 0xE0, 0x08,
];
/// Bytes before the data: class id, instance date, creation time, reserved, length.
const HEADER_LEN: usize = 40;
const INSTANCE_DATE: std::ops::Range<usize> = 16..20;
const VCAL_MARK: &[u8; 8] = b"vCal-Uid";
const VCAL_VERSION: [u8; 4] = [1, 0, 0, 0];
/// "vCal-Uid", the version and the final NUL around a wrapped UID.
const VCAL_OVERHEAD: usize = 13;

/// The date of one occurrence, for the instance-date bytes of a GlobalObjId that names
/// an occurrence rather than the series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceDate {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

/// The GlobalObjId bytes for `uid` (the series when `instance` is `None`). The creation
/// time is left zero, as in [MS-ASEMAIL] 4.3 example 2, so that every message about the
/// same meeting (an update, a cancellation) carries the same id.
pub fn from_uid(uid: &str, instance: Option<InstanceDate>) -> Vec<u8> {
    let mut goid = match outlook_id(uid) {
        Some(bytes) => bytes,
        None => {
            let data_len = VCAL_OVERHEAD + uid.len();
            let mut goid = Vec::with_capacity(HEADER_LEN + data_len);
            goid.extend_from_slice(&CLASS_ID);
            goid.resize(HEADER_LEN - 4, 0);
            // A UID longer than 4 GiB cannot reach here (iTIP text is bounded).
            goid.extend_from_slice(&(data_len as u32).to_le_bytes());
            goid.extend_from_slice(VCAL_MARK);
            goid.extend_from_slice(&VCAL_VERSION);
            goid.extend_from_slice(uid.as_bytes());
            goid.push(0);
            goid
        }
    };
    let date = instance.map_or([0; 4], |d| {
        let [high, low] = d.year.to_be_bytes();
        [high, low, d.month, d.day]
    });
    goid[INSTANCE_DATE].copy_from_slice(&date);
    goid
}

/// The bytes of a UID that is the hex form of an Outlook GlobalObjId (class id first,
/// a whole header, an even number of hex digits).
fn outlook_id(uid: &str) -> Option<Vec<u8>> {
    if uid.len() < HEADER_LEN * 2 || !uid.len().is_multiple_of(2) {
        return None;
    }
    let bytes = (0..uid.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(uid.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    bytes.starts_with(&CLASS_ID).then_some(bytes)
}

/// The UID a GlobalObjId stands for ([MS-ASEMAIL] 3.1.4.7): the wrapped UID of a vCal id;
/// otherwise (an Outlook id) the uppercase hex of the whole id with its instance date
/// zeroed, so every occurrence maps to the series' UID.
pub fn to_uid(goid: &[u8]) -> String {
    let data_len = goid
        .get(HEADER_LEN - 4..HEADER_LEN)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
    let is_vcal = goid.len() >= HEADER_LEN + VCAL_OVERHEAD
        && goid.get(HEADER_LEN..HEADER_LEN + VCAL_MARK.len()) == Some(VCAL_MARK.as_slice())
        && data_len.is_some_and(|n| n >= VCAL_OVERHEAD && HEADER_LEN + n <= goid.len());
    if is_vcal && let Some(n) = data_len {
        let start = HEADER_LEN + VCAL_MARK.len() + VCAL_VERSION.len();
        let uid = &goid[start..HEADER_LEN + n - 1];
        return String::from_utf8_lossy(uid).into_owned();
    }
    goid.iter()
        .enumerate()
        .map(|(i, b)| if INSTANCE_DATE.contains(&i) { 0 } else { *b })
        .map(|b| format!("{b:02X}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    fn decode(b64: &str) -> Vec<u8> {
        STANDARD.decode(b64).expect("base64")
    }

    /// [MS-ASEMAIL] 4.3 example 1: an Outlook id; its instance date is zeroed.
    #[test]
    fn spec_example_outlook_id() {
        let goid =
            decode("BAAAAIIA4AB0xbcQGoLgCAfUCRDgQMnBJoXEAQAAAAAAAAAAEAAAAAvw7UtuTulOnjnjhns3jvM=");
        let uid = to_uid(&goid);
        assert_eq!(
            uid,
            "040000008200E00074C5B7101A82E00800000000E040C9C12685C4010000000000000000100000000BF0ED4B6E4EE94E9E39E3867B378EF3"
        );
        // And that UID ([MS-OXCICAL] EncodedGlobalId) goes back to the series' id, and
        // with the instance date to the original.
        let mut series = goid.clone();
        series[INSTANCE_DATE].fill(0);
        assert_eq!(from_uid(&uid, None), series);
        let instance = InstanceDate {
            year: 2004,
            month: 9,
            day: 16,
        };
        assert_eq!(from_uid(&uid, Some(instance)), goid);
        assert_eq!(from_uid(&uid.to_lowercase(), None), series);
    }

    /// [MS-ASEMAIL] 4.3 example 2: a vCal id, both ways byte for byte.
    #[test]
    fn spec_example_vcal_id() {
        let b64 = "BAAAAIIA4AB0xbcQGoLgCAAAAAAAAAAAAAAAAAAAAAAAAAAAMwAAAHZDYWwtVWlkAQAAAHs4MTQxMkQzQy0yQTI0LTRFOUQtQjIwRS0xMUY3QkJFOTI3OTl9AA==";
        let uid = "{81412D3C-2A24-4E9D-B20E-11F7BBE92799}";
        assert_eq!(to_uid(&decode(b64)), uid);
        assert_eq!(STANDARD.encode(from_uid(uid, None)), b64);
    }

    #[test]
    fn other_uids_round_trip_and_carry_the_instance_date() {
        for uid in ["meeting-1@example.com", "", "0400", "é€ unicode"] {
            assert_eq!(to_uid(&from_uid(uid, None)), uid);
        }
        let goid = from_uid(
            "abc",
            Some(InstanceDate {
                year: 2026,
                month: 12,
                day: 7,
            }),
        );
        assert_eq!(&goid[16..20], &[0x07, 0xEA, 12, 7]);
        assert_eq!(to_uid(&goid), "abc");
        // Hex that is not an Outlook id (wrong class id) is an ordinary UID.
        let fake = "FF".repeat(HEADER_LEN + 4);
        assert_eq!(to_uid(&from_uid(&fake, None)), fake);
    }

    /// Short, truncated or lying ids are read as Outlook ids (hex), never a panic.
    #[test]
    fn malformed_ids_are_hex() {
        assert_eq!(to_uid(&[]), "");
        assert_eq!(
            to_uid(&[0xAB; 10]),
            "AB".repeat(10),
            "too short to have an instance date"
        );
        let mut lying = from_uid("abc", None);
        lying[36] = 0xFF; // a length beyond the end
        assert!(to_uid(&lying).starts_with("040000008200E000"));
        let mut short_len = from_uid("abc", None);
        short_len[36] = 5; // less than the vCal overhead
        assert_eq!(to_uid(&short_len).len(), short_len.len() * 2);
    }
}
