use super::*;
use crate::store::model::pim::Scalars;

const APPLE: &str = include_str!("../../tests/fixtures/vcard/apple-contacts-3.0.vcf");
const GOOGLE: &str = include_str!("../../tests/fixtures/vcard/google-contacts-3.0.vcf");
const THUNDERBIRD: &str = include_str!("../../tests/fixtures/vcard/thunderbird-4.0.vcf");
const OUTLOOK: &[u8] = include_bytes!("../../tests/fixtures/vcard/outlook-2.1.vcf");
const MALFORMED: &str = include_str!("../../tests/fixtures/vcard/malformed.vcf");

fn s(v: &str) -> Option<String> {
    Some(v.to_owned())
}

/// The date of a stamp, as YYYY-MM-DD.
fn day(d: Option<Stamp>) -> String {
    let t = jiff::Timestamp::from_second(d.expect("a date").0).unwrap();
    jiff::tz::TimeZone::UTC.to_datetime(t).date().to_string()
}

fn only(text: &str) -> (Contact, Vec<String>) {
    let mut read = import(text);
    assert!(read.rejected.is_empty(), "{:?}", read.rejected);
    assert_eq!(read.cards.len(), 1);
    let card = read.cards.remove(0);
    (card.contact, card.warnings)
}

#[test]
fn apple_contacts_3_0_with_item_labels() {
    let read = import(APPLE);
    assert_eq!(read.rejected.len(), 1, "the group card");
    assert!(
        read.rejected[0].reason.contains("group"),
        "{:?}",
        read.rejected
    );
    assert_eq!(read.rejected[0].index, 2);
    let c = &read.cards[0].contact;
    assert!(
        read.cards[0].warnings.is_empty(),
        "{:?}",
        read.cards[0].warnings
    );
    assert_eq!(c.uid, s("2E4CB084-4767-4C85-BBCA-805B1DCB1C8E"));
    assert_eq!(
        (
            &c.last_name,
            &c.first_name,
            &c.middle_name,
            &c.title,
            &c.suffix
        ),
        (
            &s("Appleseed"),
            &s("Johnny"),
            &s("Q."),
            &s("Dr."),
            &s("Jr.")
        )
    );
    assert_eq!(c.file_as, s("Dr. Johnny Q. Appleseed Jr."));
    assert_eq!(c.nick_name, s("Jonny"));
    assert_eq!(
        (&c.company_name, &c.department),
        (&s("Apple Orchards Inc."), &s("Harvest"))
    );
    assert_eq!(c.job_title, s("Chief Picker"));
    assert_eq!(c.email1_address, s("johnny@orchards.example"));
    assert_eq!(c.email2_address, s("jq@home.example"));
    assert_eq!(c.mobile_phone_number, s("+1 408 555 0101"));
    assert_eq!(c.business_phone_number, s("+1 408 555 0102"));
    assert_eq!(c.home_phone_number, s("+1 408 555 0103"));
    assert_eq!(
        c.company_main_phone,
        s("+1 408 555 0104"),
        "item1 _$!<Main>!$_"
    );
    assert_eq!(c.home_fax_number, s("+1 408 555 0105"));
    assert_eq!(c.business_fax_number, s("+1 408 555 0106"));
    assert_eq!(c.pager_number, s("+1 408 555 0107"));
    assert_eq!(c.home_address_street, s("1 Infinite Loop"));
    assert_eq!(c.home_address_postal_code, s("95014"));
    assert_eq!(c.business_address_street, s("10 Orchard Road\nBuilding 2"));
    assert_eq!(c.business_address_city, s("Sebastopol"));
    assert_eq!(c.web_page, s("https://orchards.example/johnny"));
    assert_eq!(day(c.birthday), "1604-03-11", "no year: Apple's 1604");
    assert_eq!(day(c.anniversary), "2001-06-23");
    assert_eq!(c.spouse, s("Jane Appleseed"));
    assert_eq!(c.children, ["Jimmy Appleseed"]);
    assert_eq!(c.assistant_name, s("Pat Helper"));
    assert_eq!(c.im_address, s("xmpp:johnny@jabber.example"));
    assert_eq!(c.yomi_first_name, s("JON-ee"));
    assert_eq!(c.yomi_last_name, s("AP-ul-seed"));
    assert_eq!(
        c.body.as_ref().map(|b| (b.kind, b.data.as_str())),
        Some((1, "Likes apples.\nPrefers Fuji."))
    );
    let photo = B64.decode(c.picture.as_deref().expect("photo")).unwrap();
    assert!(photo.starts_with(&[0xFF, 0xD8]) && photo.len() == 304);
}

#[test]
fn google_contacts_3_0_with_too_many_addresses_warns() {
    let (c, warnings) = only(GOOGLE);
    assert_eq!(c.file_as, s("Grace Hopper"));
    assert_eq!(c.middle_name, s("Brewster Murray"));
    assert_eq!(
        [&c.email1_address, &c.email2_address, &c.email3_address],
        [
            &s("grace@navy.example"),
            &s("grace@home.example"),
            &s("hopper@cobol.example")
        ]
    );
    assert_eq!(c.mobile_phone_number, s("+1 202 555 0199"));
    assert_eq!(c.business_phone_number, s("+1 202 555 0198"));
    assert_eq!(
        c.home_phone_number,
        s("+1 202 555 0197"),
        "untyped: first free slot"
    );
    assert_eq!(c.business_address_city, s("Arlington"));
    assert_eq!(day(c.birthday), "1906-12-09");
    assert_eq!(c.web_page, s("https://grace.example"));
    assert_eq!(c.spouse, s("Vincent Hopper"));
    assert_eq!(c.categories, ["myContacts", "Navy"]);
    assert_eq!(c.picture, None);
    let all = warnings.join("\n");
    assert!(all.contains("fourth@extra.example"), "{all}");
    assert!(all.contains("blog.grace.example"), "{all}");
    assert!(all.contains("photo by reference"), "{all}");
    assert_eq!(warnings.len(), 3, "{all}");
}

#[test]
fn thunderbird_4_0_with_a_data_uri_photo() {
    let (c, warnings) = only(THUNDERBIRD);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(c.uid, s("6f4b8c2e-1d3a-4b5c-9e7f-0a1b2c3d4e5f"));
    assert_eq!(c.title, s("Lady"));
    assert_eq!(
        (&c.company_name, &c.department),
        (&s("Analytical Engine Society"), &s("Programming"))
    );
    assert_eq!(c.business_phone_number, s("+44 20 7946 0001"));
    assert_eq!(c.mobile_phone_number, s("+44 7700 900001"));
    assert_eq!(c.home_phone_number, s("+44 20 7946 0002"));
    assert_eq!(c.business_fax_number, s("+44 20 7946 0003"));
    assert_eq!(c.pager_number, s("+44 20 7946 0004"));
    assert_eq!(c.home_address_street, s("12 St James's Square"));
    assert_eq!(c.other_address_city, s("Ockham"));
    assert_eq!(day(c.birthday), "1815-12-10");
    assert_eq!(day(c.anniversary), "1835-07-08");
    assert_eq!(c.spouse, s("William King"));
    assert_eq!(c.children, ["Byron King", "Anne King"]);
    assert_eq!(c.im_address, s("xmpp:ada@engine.example"));
    assert_eq!(c.categories, ["Science", "History"]);
    assert_eq!(c.web_page, s("https://ada.example"));
    assert_eq!(B64.decode(c.picture.unwrap()).unwrap().len(), 304);
}

#[test]
fn outlook_2_1_in_windows_1252_with_quoted_printable() {
    let text = decode_file(OUTLOOK);
    let (c, warnings) = only(&text);
    assert_eq!((&c.last_name, &c.first_name), (&s("Müller"), &s("Jürgen")));
    assert_eq!(c.file_as, s("Jürgen Müller"));
    assert_eq!(c.company_name, s("Großhandel GmbH"));
    assert_eq!(
        c.body.map(|b| b.data),
        s(
            "Erste Zeile\r\nZweite Zeile mit Ümlaut und einer sehr langen Zeile, die weich umbrochen ist"
        )
    );
    assert_eq!(c.business_phone_number, s("+49 30 1234567"));
    assert_eq!(c.business2_phone_number, s("+49 30 1234568"));
    assert_eq!(c.car_phone_number, s("+49 171 7654321"));
    assert_eq!(c.business_fax_number, s("+49 30 1234560"));
    assert_eq!(c.business_address_street, s("Hauptstraße 1"));
    assert_eq!(c.web_page, s("http://www.grosshandel.example"));
    assert_eq!(day(c.birthday), "1970-04-12");
    assert_eq!(day(c.anniversary), "1995-05-20");
    assert_eq!(c.spouse, s("Anna Müller"));
    assert_eq!(c.manager_name, s("Klaus Schmidt"));
    assert_eq!(c.assistant_name, s("Petra Weber"));
    assert_eq!(c.email1_address, s("juergen.mueller@grosshandel.example"));
    assert_eq!(c.im_address, s("juergen@im.example"));
    assert_eq!(B64.decode(c.picture.unwrap()).unwrap().len(), 304);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("+49 30 1234569"), "{warnings:?}");
}

#[test]
fn malformed_cards_are_named_by_number_and_line_and_the_rest_read() {
    let read = import(MALFORMED);
    let good: Vec<_> = read.cards.iter().map(|c| c.contact.uid.clone()).collect();
    assert_eq!(good, [s("good-1"), s("date-1")]);
    let bad_date = &read.cards[1];
    assert_eq!(bad_date.contact.birthday, None);
    assert!(
        bad_date.warnings[0].contains("BDAY"),
        "{:?}",
        bad_date.warnings
    );
    let reasons: Vec<String> = read
        .rejected
        .iter()
        .map(|r| format!("{} {} {}", r.index, r.line, r.reason))
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons[0].starts_with("2 7 line 10:"), "{reasons:?}");
    assert!(
        reasons[1].contains("13") && reasons[1].contains("stray"),
        "{reasons:?}"
    );
    assert!(
        reasons[2].starts_with("4 20 ") && reasons[2].contains("END:VCARD"),
        "{reasons:?}"
    );
    // Not a vCard at all.
    let junk = import("\u{0}\u{1}garbage\nBEGIN:VCARD\nEND:VCARD\n");
    assert_eq!(junk.rejected.len(), 1);
    assert_eq!(junk.cards.len(), 1);
}

#[test]
fn an_oversized_photo_is_left_out_and_the_contact_read() {
    let big = B64.encode(vec![0xFFu8; MAX_PICTURE]);
    let text = format!(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Big\r\nPHOTO;ENCODING=b;TYPE=JPEG:{big}\r\nEND:VCARD\r\n"
    );
    let (c, warnings) = only(&text);
    assert_eq!(c.file_as, s("Big"));
    assert_eq!(c.picture, None);
    assert!(warnings[0].contains("photo"), "{warnings:?}");
}

/// A contact with every field the record holds.
fn everything() -> Contact {
    let mut c = Contact::default();
    for slot in c.scalars_mut() {
        match slot.slot {
            crate::store::model::pim::SlotMut::Text(t) => {
                *t = Some(format!(
                    "v{:04x}, ü; x",
                    u16::from(slot.tag.page()) << 8 | u16::from(slot.tag.token())
                ))
            }
            crate::store::model::pim::SlotMut::Int(n) => *n = Some(42),
            crate::store::model::pim::SlotMut::Date(d) => *d = Some(Stamp(-4_102_401_660)),
            crate::store::model::pim::SlotMut::Flag(f) => *f = Some(true),
        }
    }
    c.email1_address = s("one@example.com");
    c.categories = vec!["A, b".into(), "C".into()];
    c.children = vec!["Kid One".into(), "Kid Two".into()];
    c.picture = Some(B64.encode([0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3, 250]));
    c.body = Some(Body {
        kind: 1,
        data: "Line one\nLine; two, with commas".into(),
    });
    c.uid = s("uid-everything");
    c.extra = Extra(crate::wbxml::encode(
        &crate::wbxml::Element::new(crate::wbxml::tag::airsync::APPLICATION_DATA)
            .text_child(crate::wbxml::tag::contacts::COMPRESSED_RTF, "kept"),
    ));
    c
}

#[test]
fn every_field_goes_round_in_3_0_and_4_0() {
    let c = everything();
    for version in [Version::V3, Version::V4] {
        let text = export([("fallback", &c)], version);
        let (back, warnings) = only(&text);
        assert!(warnings.is_empty(), "{version:?}: {warnings:?}\n{text}");
        assert_eq!(back, c, "{version:?}\n{text}");
    }
    // The other bodies, a birthday without a year, a PNG photo.
    let mut c = everything();
    c.birthday = Some(Stamp(-11_670_004_860)); // 1600-03-11T11:59Z: a year is a year
    for (kind, data) in [(2, "<p>Hello <b>you</b></p>"), (3, "e1xydGYxfQ==")] {
        c.body = Some(Body {
            kind,
            data: data.into(),
        });
        c.anniversary = None;
        for version in [Version::V3, Version::V4] {
            let text = export([("fallback", &c)], version);
            if kind == 2 {
                assert!(text.contains("NOTE:Hello you"), "{text}");
            }
            assert_eq!(only(&text).0, c, "{version:?}\n{text}");
        }
    }
    let mut c = Contact {
        first_name: s("Nobody"),
        picture: Some(B64.encode([0x89, b'P', b'N', b'G', 0, 0xFF])),
        ..Contact::default()
    };
    let year_less = Stamp(-11_543_774_460); // 1604-03-11T11:59Z
    assert_eq!(day(Some(year_less)), "1604-03-11");
    c.birthday = Some(year_less);
    let v4 = export([("fallback", &c)], Version::V4);
    assert!(v4.contains("BDAY;VALUE=DATE:--0311"), "{v4}");
    assert!(
        v4.replace("\r\n ", "")
            .contains("PHOTO:data:image/png;base64,iVBORwD/"),
        "{v4}"
    );
    let v3 = export([("fallback", &c)], Version::V3);
    assert!(v3.contains("X-APPLE-OMIT-YEAR=1604"), "{v3}");
    assert!(v3.contains("PHOTO;ENCODING=b;TYPE=PNG:"), "{v3}");
    for text in [v3, v4] {
        let (back, _) = only(&text);
        // A contact without FileAs is filed under its FN; the rest is as it was.
        assert_eq!(back.file_as, s("Nobody"));
        assert_eq!(back.uid, s("fallback"));
        assert_eq!(
            Contact {
                file_as: None,
                uid: None,
                ..back
            },
            c,
            "{text}"
        );
    }
}
