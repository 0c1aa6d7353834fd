//! vCard files of a contacts folder: contact records read from vCard 2.1, 3.0 and 4.0
//! ([`import`]) and written as vCard 3.0 or 4.0 ([`export`]), with calcard's vCard parser
//! and writer; this module only maps properties to the record's fields and back.
//!
//! The mapping ([MS-ASCNTC] 2.2.2 on one side, RFC 6350 / RFC 2426 on the other):
//! N ↔ LastName;FirstName;MiddleName;Title;Suffix, FN ↔ FileAs (an import without
//! X-EVOLUTION-FILE-AS files the contact under its FN, as Outlook needs a FileAs),
//! NICKNAME, ORG ↔ CompanyName;Department, TITLE ↔ JobTitle, TEL ↔ the thirteen phone
//! slots by TYPE (and Apple's `itemN.X-ABLabel`), EMAIL ↔ Email1..3Address, IMPP (and the
//! older X-AIM, X-JABBER, …) ↔ IMAddress1..3, ADR ↔ the business, home and other
//! addresses, URL ↔ WebPage, BDAY / ANNIVERSARY (X-ANNIVERSARY in 3.0) ↔ Birthday /
//! Anniversary as dates, CATEGORIES, NOTE ↔ the plain-text Body, PHOTO ↔ Picture, the
//! spouse, children, assistant and manager as RELATED (4.0) or Apple's
//! X-ABRELATEDNAMES (3.0), and the phonetic names as X-PHONETIC-*. What has no vCard
//! property goes into `X-EAS-*` properties (office location, customer and government id,
//! account name, the recipient cache's alias and rank, an HTML or RTF body, the elements
//! easd keeps unread), so a contact written and read back is the same record.
//!
//! A phone, e-mail, IM address, address or web page for which the record has no free
//! slot, a photo over [`MAX_PICTURE`] or given by URL, a date that does not read: the
//! value is left out with a warning and the contact is imported. A card that does not
//! parse is rejected with its number and line; the others are read. Pure, no I/O.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use calcard::common::{Data, IanaParse, IanaString, PartialDateTime};
use calcard::vcard::{
    VCard, VCardEntry, VCardParameter, VCardParameterName, VCardParameterValue, VCardProperty,
    VCardType, VCardValue, VCardValueType, VCardVersion,
};
use calcard::{Entry, Parser};

use crate::store::model::pim::{Body, Contact, Extra, MAX_PICTURE, Stamp};

/// The vCard version an export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// RFC 2426: what iOS, Android and Google Contacts read best (PHOTO;ENCODING=b).
    V3,
    /// RFC 6350 (PHOTO as a data: URI, RELATED, ANNIVERSARY).
    V4,
}

/// A card read: its place in the file and what did not fit the record.
#[derive(Debug)]
pub struct Card {
    /// 1-based position of the card in the file, and its BEGIN line.
    pub index: usize,
    pub line: usize,
    pub contact: Contact,
    pub warnings: Vec<String>,
}

/// A card that did not read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub index: usize,
    pub line: usize,
    pub reason: String,
}

/// What a file held.
#[derive(Debug, Default)]
pub struct Imported {
    pub cards: Vec<Card>,
    pub rejected: Vec<Rejected>,
}

/// [MS-ASAIRS] 2.2.2.41.1 Body Type values.
const BODY_PLAIN: u8 = 1;
const BODY_HTML: u8 = 2;

/// The year Apple Contacts stores for a birthday without one (`X-APPLE-OMIT-YEAR=1604`);
/// EAS dates have a year, so a vCard `--MMDD` is kept as that year and written back as
/// `--MMDD`.
const NO_YEAR: u16 = 1604;

/// The phone slots of a contact ([MS-ASCNTC] 2.2.2: the *PhoneNumber, *FaxNumber,
/// PagerNumber elements, Contacts2 CompanyMainPhone and MMS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phone {
    Business,
    Business2,
    BusinessFax,
    Home,
    Home2,
    HomeFax,
    Mobile,
    Car,
    Pager,
    Radio,
    Assistant,
    CompanyMain,
    Mms,
}

impl Phone {
    /// In the order an export writes them (a second business or home number after the
    /// first, so that an import puts them back in the same slots).
    const ALL: [Phone; 13] = [
        Phone::Mobile,
        Phone::Business,
        Phone::Business2,
        Phone::Home,
        Phone::Home2,
        Phone::BusinessFax,
        Phone::HomeFax,
        Phone::Pager,
        Phone::Car,
        Phone::Radio,
        Phone::Assistant,
        Phone::CompanyMain,
        Phone::Mms,
    ];

    fn field(self, c: &mut Contact) -> &mut Option<String> {
        match self {
            Phone::Business => &mut c.business_phone_number,
            Phone::Business2 => &mut c.business2_phone_number,
            Phone::BusinessFax => &mut c.business_fax_number,
            Phone::Home => &mut c.home_phone_number,
            Phone::Home2 => &mut c.home2_phone_number,
            Phone::HomeFax => &mut c.home_fax_number,
            Phone::Mobile => &mut c.mobile_phone_number,
            Phone::Car => &mut c.car_phone_number,
            Phone::Pager => &mut c.pager_number,
            Phone::Radio => &mut c.radio_phone_number,
            Phone::Assistant => &mut c.assistant_phone_number,
            Phone::CompanyMain => &mut c.company_main_phone,
            Phone::Mms => &mut c.mms,
        }
    }

    /// The TEL TYPEs written for the slot. RFC 6350 6.4.1 and RFC 7852 (main-number)
    /// have no car, radio, assistant or MMS type: x-names there; RFC 2426 3.3.1 has car.
    fn types(self, version: Version) -> &'static [&'static str] {
        match (self, version) {
            (Phone::Business | Phone::Business2, _) => &["work", "voice"],
            (Phone::BusinessFax, _) => &["work", "fax"],
            (Phone::Home | Phone::Home2, _) => &["home", "voice"],
            (Phone::HomeFax, _) => &["home", "fax"],
            (Phone::Mobile, _) => &["cell", "voice"],
            (Phone::Pager, _) => &["pager"],
            (Phone::Car, Version::V3) => &["car"],
            (Phone::Car, Version::V4) => &["x-car"],
            (Phone::Radio, _) => &["x-radio"],
            (Phone::Assistant, _) => &["x-assistant"],
            (Phone::CompanyMain, _) => &["work", "main-number"],
            (Phone::Mms, _) => &["x-mms"],
        }
    }

    /// The slots a TEL of these types (lowercased, Apple's label among them) may fill, in
    /// order of preference; empty for one without a specific type (see `import_card`).
    fn slots_for(types: &[String]) -> &'static [Phone] {
        let has = |t: &str| types.iter().any(|x| x == t);
        if has("fax") || has("homefax") || has("workfax") {
            if has("home") || has("homefax") {
                &[Phone::HomeFax]
            } else {
                &[Phone::BusinessFax]
            }
        } else if has("pager") {
            &[Phone::Pager]
        } else if has("car") || has("x-car") {
            &[Phone::Car]
        } else if has("x-radio") || has("radio") {
            &[Phone::Radio]
        } else if has("x-assistant") || has("assistant") {
            &[Phone::Assistant]
        } else if has("main-number") || has("main") || has("company") {
            &[Phone::CompanyMain]
        } else if has("x-mms") || has("mms") {
            &[Phone::Mms]
        } else if has("cell") || has("mobile") || has("iphone") {
            &[Phone::Mobile]
        } else if has("work") {
            &[Phone::Business, Phone::Business2]
        } else if has("home") {
            &[Phone::Home, Phone::Home2]
        } else {
            &[]
        }
    }
}

/// Where a TEL without a specific type goes (RFC 6350 6.4.1: the default is voice).
const UNTYPED_PHONE: [Phone; 6] = [
    Phone::Mobile,
    Phone::Home,
    Phone::Business,
    Phone::Home2,
    Phone::Business2,
    Phone::Radio,
];

/// The three addresses of a contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Address {
    Business,
    Home,
    Other,
}

impl Address {
    const ALL: [Address; 3] = [Address::Business, Address::Home, Address::Other];

    /// Street, city, state, postal code, country.
    fn fields(self, c: &mut Contact) -> [&mut Option<String>; 5] {
        match self {
            Address::Business => [
                &mut c.business_address_street,
                &mut c.business_address_city,
                &mut c.business_address_state,
                &mut c.business_address_postal_code,
                &mut c.business_address_country,
            ],
            Address::Home => [
                &mut c.home_address_street,
                &mut c.home_address_city,
                &mut c.home_address_state,
                &mut c.home_address_postal_code,
                &mut c.home_address_country,
            ],
            Address::Other => [
                &mut c.other_address_street,
                &mut c.other_address_city,
                &mut c.other_address_state,
                &mut c.other_address_postal_code,
                &mut c.other_address_country,
            ],
        }
    }

    fn vcard_type(self) -> Option<&'static str> {
        match self {
            Address::Business => Some("work"),
            Address::Home => Some("home"),
            Address::Other => None,
        }
    }
}

/// The people a contact names: Spouse, Children, AssistantName, ManagerName.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Related {
    Spouse,
    Child,
    Assistant,
    Manager,
}

impl Related {
    /// The RELATED TYPE (RFC 6350 6.6.6; no assistant or manager there: x-names).
    fn type_v4(self) -> &'static str {
        match self {
            Related::Spouse => "spouse",
            Related::Child => "child",
            Related::Assistant => "x-assistant",
            Related::Manager => "x-manager",
        }
    }

    /// Apple Contacts' X-ABLabel of its X-ABRELATEDNAMES.
    fn apple_label(self) -> &'static str {
        match self {
            Related::Spouse => "_$!<Spouse>!$_",
            Related::Child => "_$!<Child>!$_",
            Related::Assistant => "_$!<Assistant>!$_",
            Related::Manager => "_$!<Manager>!$_",
        }
    }

    /// From a RELATED TYPE, an Apple label (without its `_$!< >!$_`) or a single X-
    /// property's name (Outlook's X-MS-*, Evolution's X-EVOLUTION-*, KDE's X-*).
    fn of(word: &str) -> Option<Related> {
        let w = word.to_ascii_lowercase();
        let w = w
            .trim_start_matches("x-evolution-")
            .trim_start_matches("x-ms-")
            .trim_start_matches("x-");
        match w {
            "spouse" | "partner" => Some(Related::Spouse),
            "child" | "children" => Some(Related::Child),
            "assistant" => Some(Related::Assistant),
            "manager" => Some(Related::Manager),
            _ => None,
        }
    }
}

/// The X- properties that carry an IM address before IMPP (RFC 4770).
const IM_PROPERTIES: [&str; 11] = [
    "X-MS-IMADDRESS",
    "X-AIM",
    "X-JABBER",
    "X-MSN",
    "X-YAHOO",
    "X-SKYPE",
    "X-SKYPE-USERNAME",
    "X-ICQ",
    "X-GOOGLE-TALK",
    "X-GADUGADU",
    "X-QQ",
];

/// easd's own properties, for what a vCard has no property for.
const X_OFFICE: &str = "X-EAS-OFFICE-LOCATION";
const X_CUSTOMER_ID: &str = "X-EAS-CUSTOMER-ID";
const X_GOVERNMENT_ID: &str = "X-EAS-GOVERNMENT-ID";
const X_ACCOUNT_NAME: &str = "X-EAS-ACCOUNT-NAME";
const X_ALIAS: &str = "X-EAS-ALIAS";
const X_WEIGHTED_RANK: &str = "X-EAS-WEIGHTED-RANK";
/// An HTML or RTF Body as it is, its Type in the X-EAS-TYPE parameter.
const X_BODY: &str = "X-EAS-BODY";
const X_BODY_TYPE: &str = "X-EAS-TYPE";
/// The elements a contact keeps unread (`Extra`): their WBXML, base64.
const X_EXTRA: &str = "X-EAS-EXTRA";
const X_PHONETIC_FIRST: &str = "X-PHONETIC-FIRST-NAME";
const X_PHONETIC_LAST: &str = "X-PHONETIC-LAST-NAME";
const X_PHONETIC_ORG: &str = "X-PHONETIC-ORG";

// ---- import -----------------------------------------------------------------------------

/// Reads a vCard file into contact records (see the module comment).
pub fn import(text: &str) -> Imported {
    let mut out = Imported::default();
    for block in blocks(text) {
        match block {
            Block::Card { index, line, text } => match parse_card(text, line) {
                Ok(vcard) => match import_card(&vcard) {
                    Ok((contact, warnings)) => out.cards.push(Card {
                        index,
                        line,
                        contact,
                        warnings,
                    }),
                    Err(reason) => out.rejected.push(Rejected {
                        index,
                        line,
                        reason,
                    }),
                },
                Err(reason) => out.rejected.push(Rejected {
                    index,
                    line,
                    reason,
                }),
            },
            Block::Broken {
                index,
                line,
                reason,
            } => out.rejected.push(Rejected {
                index,
                line,
                reason,
            }),
        }
    }
    out
}

/// A piece of the file: a card's text from BEGIN:VCARD to END:VCARD, or what is wrong.
enum Block<'a> {
    Card {
        index: usize,
        line: usize,
        text: &'a str,
    },
    Broken {
        index: usize,
        line: usize,
        reason: String,
    },
}

/// The cards of `text`, each as it stands. A card without END:VCARD (the file ends, or
/// the next BEGIN:VCARD comes first) and text outside the cards are reported.
fn blocks(text: &str) -> Vec<Block<'_>> {
    let mut out = Vec::new();
    let mut open: Option<(usize, usize)> = None;
    let mut at = 0;
    let mut index = 0;
    for (n, raw) in text.split_inclusive('\n').enumerate() {
        let line = n + 1;
        let trimmed = raw.trim().trim_start_matches('\u{feff}');
        if trimmed.eq_ignore_ascii_case("BEGIN:VCARD") {
            if let Some((start_line, _)) = open {
                out.push(Block::Broken {
                    index,
                    line: start_line,
                    reason: format!("no END:VCARD before the next card (line {line})"),
                });
            }
            index += 1;
            open = Some((line, at));
        } else if trimmed.eq_ignore_ascii_case("END:VCARD") {
            match open.take() {
                Some((start_line, start)) => out.push(Block::Card {
                    index,
                    line: start_line,
                    text: &text[start..at + raw.len()],
                }),
                None => out.push(Block::Broken {
                    index: index + 1,
                    line,
                    reason: "END:VCARD without BEGIN:VCARD".into(),
                }),
            }
        } else if open.is_none() && !trimmed.is_empty() {
            out.push(Block::Broken {
                index: index + 1,
                line,
                reason: format!("text outside a vCard: {}", clip(trimmed)),
            });
        }
        at += raw.len();
    }
    if let Some((start_line, _)) = open {
        out.push(Block::Broken {
            index,
            line: start_line,
            reason: "the file ends before END:VCARD".into(),
        });
    }
    out
}

/// One card's text through calcard's parser (strict: a line that is not a property is
/// an error, named by its line in the file).
fn parse_card(text: &str, first_line: usize) -> Result<VCard, String> {
    match Parser::new(text).strict().entry() {
        Entry::VCard(card) => Ok(card),
        Entry::InvalidLine(bad) => {
            let bad = bad.trim();
            let line = text
                .lines()
                .position(|l| !bad.is_empty() && l.trim_start().starts_with(bad))
                .map_or(first_line, |n| first_line + n);
            Err(format!("line {line}: not a vCard property: {}", clip(bad)))
        }
        other => Err(format!("not a vCard: {other:?}")),
    }
}

fn clip(s: &str) -> String {
    match s.char_indices().nth(60) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}

/// A card as a contact, and what it held that the record could not take.
fn import_card(card: &VCard) -> Result<(Contact, Vec<String>), String> {
    let kind = card
        .property(&VCardProperty::Kind)
        .and_then(text)
        .or_else(|| other(card, "X-ADDRESSBOOKSERVER-KIND").and_then(text));
    if let Some(k) = kind
        && !k.eq_ignore_ascii_case("individual")
    {
        return Err(format!("a {k} card, not a contact"));
    }
    let mut c = Contact::default();
    let mut warn = Vec::new();
    let labels = apple_labels(card);
    let label = |e: &VCardEntry| e.group.as_ref().and_then(|g| labels.get(g).cloned());

    c.uid = card.uid().map(str::to_owned).filter(|u| !u.is_empty());
    if let Some(n) = card.property(&VCardProperty::N) {
        let parts = components(n);
        let part = |i: usize| parts.get(i).cloned().filter(|s| !s.is_empty());
        c.last_name = part(0);
        c.first_name = part(1);
        c.middle_name = part(2);
        c.title = part(3);
        c.suffix = part(4);
    }
    c.file_as = other(card, "X-EVOLUTION-FILE-AS")
        .and_then(text)
        .or_else(|| card.property(&VCardProperty::Fn).and_then(text));
    c.nick_name = card
        .property(&VCardProperty::Nickname)
        .map(|e| components(e).join(", "))
        .filter(|s| !s.is_empty());
    if let Some(org) = card.property(&VCardProperty::Org) {
        let parts = components(org);
        c.company_name = parts.first().cloned().filter(|s| !s.is_empty());
        c.department =
            Some(parts.get(1..).unwrap_or_default().join(", ")).filter(|s| !s.is_empty());
    }
    c.job_title = card.property(&VCardProperty::Title).and_then(text);
    c.yomi_first_name = other(card, X_PHONETIC_FIRST).and_then(text);
    c.yomi_last_name = other(card, X_PHONETIC_LAST).and_then(text);
    c.yomi_company_name = other(card, X_PHONETIC_ORG).and_then(text);
    c.office_location = other(card, X_OFFICE).and_then(text);
    c.customer_id = other(card, X_CUSTOMER_ID).and_then(text);
    c.government_id = other(card, X_GOVERNMENT_ID).and_then(text);
    c.account_name = other(card, X_ACCOUNT_NAME).and_then(text);
    c.alias = other(card, X_ALIAS).and_then(text);
    if let Some(rank) = other(card, X_WEIGHTED_RANK).and_then(text) {
        match rank.trim().parse() {
            Ok(r) => c.weighted_rank = Some(r),
            Err(_) => warn.push(format!("{X_WEIGHTED_RANK} {rank:?} is not a number")),
        }
    }

    // Phones: those with a specific type first, then the others where there is room.
    let mut untyped = Vec::new();
    for e in card.properties(&VCardProperty::Tel) {
        let Some(number) = text(e) else { continue };
        let number = number
            .strip_prefix("tel:")
            .map(str::to_owned)
            .unwrap_or(number);
        let mut types = types(e);
        types.extend(label(e));
        let slots = Phone::slots_for(&types);
        if slots.is_empty() {
            untyped.push(number);
        } else {
            place(&mut c, slots, number, &mut warn);
        }
    }
    for number in untyped {
        place(&mut c, &UNTYPED_PHONE, number, &mut warn);
    }

    let emails: Vec<String> = card
        .properties(&VCardProperty::Email)
        .filter_map(text)
        .collect();
    fill(
        [
            &mut c.email1_address,
            &mut c.email2_address,
            &mut c.email3_address,
        ],
        emails,
        "e-mail address",
        &mut warn,
    );
    let mut ims: Vec<String> = card
        .properties(&VCardProperty::Impp)
        .filter_map(text)
        .collect();
    for name in IM_PROPERTIES {
        for e in card.entries.iter().filter(|e| is_other(e, name)) {
            if let Some(v) = text(e)
                && !ims.contains(&v)
            {
                ims.push(v);
            }
        }
    }
    fill(
        [&mut c.im_address, &mut c.im_address2, &mut c.im_address3],
        ims,
        "IM address",
        &mut warn,
    );

    for e in card.properties(&VCardProperty::Adr) {
        let parts = components(e);
        let part = |i: usize| parts.get(i).map(String::as_str).unwrap_or_default();
        // RFC 6350 6.3.1: post office box; extended address; street; locality; region;
        // postal code; country. EAS has one street field: the first three go there.
        let street: Vec<&str> = (0..3).map(part).filter(|s| !s.is_empty()).collect();
        let values = [
            street.join("\n"),
            part(3).to_owned(),
            part(4).to_owned(),
            part(5).to_owned(),
            part(6).to_owned(),
        ];
        if values.iter().all(String::is_empty) {
            continue;
        }
        let mut types = types(e);
        types.extend(label(e));
        let wanted = if types.iter().any(|t| t == "work") {
            Address::Business
        } else if types.iter().any(|t| t == "home") {
            Address::Home
        } else {
            Address::Other
        };
        let free = |c: &mut Contact, a: Address| a.fields(c).iter().all(|f| f.is_none());
        let slot = [wanted, Address::Other]
            .into_iter()
            .find(|a| free(&mut c, *a));
        match slot {
            Some(a) => {
                for (field, v) in a.fields(&mut c).into_iter().zip(values) {
                    *field = Some(v).filter(|v| !v.is_empty());
                }
            }
            None => warn.push(format!(
                "address {} not imported: the contact has no free address of its kind",
                clip(&values.join(", "))
            )),
        }
    }

    let urls: Vec<String> = card
        .properties(&VCardProperty::Url)
        .filter_map(text)
        .collect();
    fill([&mut c.web_page], urls, "web page", &mut warn);

    c.birthday = date_of(card.property(&VCardProperty::Bday), "BDAY", &mut warn);
    let anniversary = card.property(&VCardProperty::Anniversary).or_else(|| {
        [
            "X-ANNIVERSARY",
            "X-EVOLUTION-ANNIVERSARY",
            "X-MS-ANNIVERSARY",
        ]
        .into_iter()
        .find_map(|n| other(card, n))
        .or_else(|| {
            card.entries.iter().find(|e| {
                is_other(e, "X-ABDATE")
                    && label(e).is_some_and(|l| l.eq_ignore_ascii_case("anniversary"))
            })
        })
    });
    c.anniversary = date_of(anniversary, "ANNIVERSARY", &mut warn);

    for e in &card.entries {
        let who = match &e.name {
            VCardProperty::Related => types(e).iter().find_map(|t| Related::of(t)),
            VCardProperty::Other(n) if n.eq_ignore_ascii_case("X-ABRELATEDNAMES") => {
                label(e).and_then(|l| Related::of(&l))
            }
            VCardProperty::Other(n) if n.to_ascii_uppercase().starts_with("X-") => {
                Related::of(n).filter(|_| !n.eq_ignore_ascii_case("X-ABLABEL"))
            }
            _ => None,
        };
        let (Some(who), Some(name)) = (who, text(e)) else {
            continue;
        };
        match who {
            Related::Child => c.children.push(name),
            Related::Spouse => set_once(&mut c.spouse, name, "spouse", &mut warn),
            Related::Assistant => set_once(&mut c.assistant_name, name, "assistant", &mut warn),
            Related::Manager => set_once(&mut c.manager_name, name, "manager", &mut warn),
        }
    }

    for e in card.properties(&VCardProperty::Categories) {
        for v in components(e) {
            if !v.is_empty() && !c.categories.contains(&v) {
                c.categories.push(v);
            }
        }
    }
    c.body = body_of(card).or_else(|| {
        card.property(&VCardProperty::Note)
            .and_then(text)
            .map(|data| Body {
                kind: BODY_PLAIN,
                data,
            })
    });
    c.picture = card
        .property(&VCardProperty::Photo)
        .and_then(|e| photo_of(e, &mut warn));
    if let Some(extra) = other(card, X_EXTRA).and_then(text) {
        match B64
            .decode(extra.trim())
            .ok()
            .filter(|b| crate::wbxml::decode(b, &crate::wbxml::Limits::default()).is_ok())
        {
            Some(bytes) => c.extra = Extra(bytes),
            None => warn.push(format!("{X_EXTRA} is not base64 WBXML: left out")),
        }
    }
    Ok((c, warn))
}

/// Apple Contacts' labels by group: `item1.X-ABLabel:_$!<Spouse>!$_` → "spouse".
fn apple_labels(card: &VCard) -> std::collections::HashMap<String, String> {
    card.entries
        .iter()
        .filter(|e| is_other(e, "X-ABLABEL"))
        .filter_map(|e| {
            let label = text(e)?;
            let label = label
                .trim_start_matches("_$!<")
                .trim_end_matches(">!$_")
                .to_ascii_lowercase();
            Some((e.group.clone()?, label))
        })
        .collect()
}

fn is_other(e: &VCardEntry, name: &str) -> bool {
    matches!(&e.name, VCardProperty::Other(n) if n.eq_ignore_ascii_case(name))
}

fn other<'a>(card: &'a VCard, name: &str) -> Option<&'a VCardEntry> {
    card.entries.iter().find(|e| is_other(e, name))
}

/// A property's value as one text (a structured one's parts joined by ", "); `None` when
/// empty.
fn text(e: &VCardEntry) -> Option<String> {
    let joined = components(e).join(", ");
    let joined = joined.trim();
    (!joined.is_empty()).then(|| joined.to_owned())
}

/// A property's values as texts, each list value's items joined by a comma.
fn components(e: &VCardEntry) -> Vec<String> {
    e.values
        .iter()
        .map(|v| match v {
            VCardValue::Text(t) => t.clone(),
            VCardValue::Component(items) => items.join(","),
            VCardValue::Integer(n) => n.to_string(),
            VCardValue::Float(n) => n.to_string(),
            VCardValue::Boolean(b) => b.to_string(),
            VCardValue::Binary(d) => match &d.content_type {
                Some(t) => format!("data:{t};base64,{}", B64.encode(&d.data)),
                None => String::from_utf8_lossy(&d.data).into_owned(),
            },
            VCardValue::PartialDateTime(_)
            | VCardValue::Sex(_)
            | VCardValue::GramGender(_)
            | VCardValue::Kind(_) => String::new(),
        })
        .collect()
}

/// A property's TYPE values, lowercased (RFC 6350 `TYPE=work,voice`, RFC 2426
/// `TYPE=WORK;TYPE=VOICE` and vCard 2.1's bare `WORK;VOICE`).
fn types(e: &VCardEntry) -> Vec<String> {
    let mut out = Vec::new();
    for p in &e.params {
        match (&p.name, &p.value) {
            (VCardParameterName::Type, VCardParameterValue::Type(t)) => {
                out.push(t.as_str().to_ascii_lowercase());
            }
            (VCardParameterName::Type, VCardParameterValue::Text(t)) => {
                out.extend(t.split(',').map(|t| t.trim().to_ascii_lowercase()));
            }
            (VCardParameterName::Other(name), VCardParameterValue::Null) => {
                out.push(name.to_ascii_lowercase());
            }
            _ => {}
        }
    }
    out
}

/// `number` into the first free slot of `slots`, or a warning.
fn place(c: &mut Contact, slots: &[Phone], number: String, warn: &mut Vec<String>) {
    match slots.iter().find(|s| s.field(c).is_none()) {
        Some(s) => *s.field(c) = Some(number),
        None => warn.push(format!(
            "phone {number} not imported: the contact has no free slot of its kind"
        )),
    }
}

/// `values` into `fields` in order; those left over are warned of.
fn fill<const N: usize>(
    fields: [&mut Option<String>; N],
    values: Vec<String>,
    what: &str,
    warn: &mut Vec<String>,
) {
    let mut values = values.into_iter();
    for (field, v) in fields.into_iter().zip(values.by_ref()) {
        *field = Some(v);
    }
    for v in values {
        warn.push(format!(
            "{what} {} not imported: a contact has {N}",
            clip(&v)
        ));
    }
}

fn set_once(field: &mut Option<String>, name: String, what: &str, warn: &mut Vec<String>) {
    match field {
        None => *field = Some(name),
        Some(_) => warn.push(format!("a second {what} ({name}) not imported")),
    }
}

/// A date property as the record's date: [MS-ASCNTC] 2.2.2.3 and 2.2.2.6 say the time of
/// Anniversary and Birthday "might be 11:59 and SHOULD be ignored", so the date is kept at
/// 11:59 UTC, as Exchange does; a date without a year gets [`NO_YEAR`].
fn date_of(e: Option<&VCardEntry>, what: &str, warn: &mut Vec<String>) -> Option<Stamp> {
    let e = e?;
    let parsed = match e.values.first()? {
        VCardValue::PartialDateTime(d) => Some(d.clone()),
        VCardValue::Text(t) => {
            // RFC 2426's YYYY-MM-DD, else RFC 6350's YYYYMMDD or --MMDD.
            let mut d = PartialDateTime::default();
            if d.parse_vcard_date_legacy(&mut t.trim().as_bytes().iter().peekable()) {
                Some(d)
            } else {
                let mut d = PartialDateTime::default();
                d.parse_vcard_date(&mut t.trim().as_bytes().iter().peekable());
                (!d.is_null()).then_some(d)
            }
        }
        _ => None,
    };
    let stamp = parsed.and_then(|d| {
        let date = jiff::civil::Date::new(
            i16::try_from(d.year.unwrap_or(NO_YEAR)).ok()?,
            i8::try_from(d.month?).ok()?,
            i8::try_from(d.day?).ok()?,
        )
        .ok()?;
        let at = jiff::tz::TimeZone::UTC
            .to_timestamp(date.at(11, 59, 0, 0))
            .ok()?;
        Some(Stamp(at.as_second()))
    });
    if stamp.is_none() {
        warn.push(format!(
            "{what} {:?} is not a date: left out",
            components(e).join("")
        ));
    }
    stamp
}

/// An HTML or RTF body an export wrote (`X-EAS-BODY`).
fn body_of(card: &VCard) -> Option<Body> {
    let e = other(card, X_BODY)?;
    let kind = e.params.iter().find_map(|p| match &p.name {
        VCardParameterName::Other(n) if n.eq_ignore_ascii_case(X_BODY_TYPE) => {
            p.value.as_text()?.parse::<u8>().ok()
        }
        _ => None,
    })?;
    (1..=3).contains(&kind).then(|| Body {
        kind,
        data: components(e).join(""),
    })
}

/// A PHOTO as the record's base64 Picture: inline (2.1/3.0 ENCODING=b, or a 4.0 data:
/// URI); one by URL, or over [`MAX_PICTURE`] ([MS-ASCNTC] 2.2.2.58), is left out.
fn photo_of(e: &VCardEntry, warn: &mut Vec<String>) -> Option<String> {
    let bytes = match e.values.first()? {
        VCardValue::Binary(Data { data, .. }) => data.clone(),
        VCardValue::Text(t) if t.trim().is_empty() => return None,
        VCardValue::Text(t) => {
            warn.push(format!("photo by reference ({}) not fetched", clip(t)));
            return None;
        }
        _ => return None,
    };
    let encoded = B64.encode(&bytes);
    if encoded.len() > MAX_PICTURE {
        warn.push(format!(
            "photo of {} bytes not imported: over the {MAX_PICTURE} bytes of base64 a contact may carry",
            bytes.len()
        ));
        return None;
    }
    Some(encoded)
}

// ---- export -----------------------------------------------------------------------------

/// Writes `contacts` as one vCard file. Each comes with the UID to use when the record
/// has none (a contact a device made).
pub fn export<'a>(
    contacts: impl IntoIterator<Item = (&'a str, &'a Contact)>,
    version: Version,
) -> String {
    let mut out = String::new();
    for (fallback_uid, contact) in contacts {
        let card = card_of(contact, fallback_uid, version);
        let v = match version {
            Version::V3 => VCardVersion::V3_0,
            Version::V4 => VCardVersion::V4_0,
        };
        // Writing into a String cannot fail.
        let _ = card.write_to(&mut out, v);
    }
    out
}

fn entry(name: VCardProperty) -> VCardEntry {
    VCardEntry::new(name)
}

fn other_entry(name: &str) -> VCardEntry {
    entry(VCardProperty::Other(name.to_owned()))
}

fn typ(t: &str) -> VCardParameter {
    match VCardType::parse(t.as_bytes()) {
        Some(known) => VCardParameter::typ(known),
        None => VCardParameter::typ(t.to_owned()),
    }
}

/// One contact as a card.
fn card_of(c: &Contact, fallback_uid: &str, version: Version) -> VCard {
    let mut e: Vec<VCardEntry> = Vec::new();
    let t = |name: VCardProperty, v: &str| entry(name).with_value(v.to_owned());
    e.push(other_entry("PRODID").with_value("-//easd//easd export//EN".to_owned()));
    e.push(t(
        VCardProperty::Uid,
        c.uid.as_deref().unwrap_or(fallback_uid),
    ));
    e.push(t(VCardProperty::Fn, &display_name(c)));
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    e.push(
        entry(VCardProperty::N).with_values(
            [
                &c.last_name,
                &c.first_name,
                &c.middle_name,
                &c.title,
                &c.suffix,
            ]
            .into_iter()
            .map(|v| VCardValue::Text(s(v)))
            .collect(),
        ),
    );
    if let Some(v) = &c.nick_name {
        e.push(t(VCardProperty::Nickname, v));
    }
    if c.company_name.is_some() || c.department.is_some() {
        let mut values = vec![VCardValue::Text(s(&c.company_name))];
        if let Some(d) = &c.department {
            values.push(VCardValue::Text(d.clone()));
        }
        e.push(entry(VCardProperty::Org).with_values(values));
    }
    if let Some(v) = &c.job_title {
        e.push(t(VCardProperty::Title, v));
    }
    let mut copy = c.clone();
    for phone in Phone::ALL {
        if let Some(number) = phone.field(&mut copy).clone() {
            let mut tel = entry(VCardProperty::Tel);
            if version == Version::V4 {
                // RFC 6350 6.4.1: TEL is a URI unless said otherwise.
                tel.add_param(VCardParameter::new(
                    VCardParameterName::Value,
                    VCardValueType::Text,
                ));
            }
            for ty in phone.types(version) {
                tel.add_param(typ(ty));
            }
            e.push(tel.with_value(number));
        }
    }
    for v in [&c.email1_address, &c.email2_address, &c.email3_address]
        .into_iter()
        .flatten()
    {
        e.push(t(VCardProperty::Email, v));
    }
    for v in [&c.im_address, &c.im_address2, &c.im_address3]
        .into_iter()
        .flatten()
    {
        e.push(t(VCardProperty::Impp, v));
    }
    for a in Address::ALL {
        let fields = a.fields(&mut copy);
        if fields.iter().all(|f| f.is_none()) {
            continue;
        }
        let mut values = vec![
            VCardValue::Text(String::new()),
            VCardValue::Text(String::new()),
        ];
        values.extend(fields.into_iter().map(|f| VCardValue::Text(s(f))));
        let mut adr = entry(VCardProperty::Adr).with_values(values);
        if let Some(ty) = a.vcard_type() {
            adr.add_param(typ(ty));
        }
        e.push(adr);
    }
    if let Some(v) = &c.web_page {
        e.push(t(VCardProperty::Url, v));
    }
    if let Some(d) = c.birthday {
        e.push(date_entry(VCardProperty::Bday, d, version));
    }
    if let Some(d) = c.anniversary {
        let name = match version {
            Version::V4 => VCardProperty::Anniversary,
            Version::V3 => VCardProperty::Other("X-ANNIVERSARY".into()),
        };
        e.push(date_entry(name, d, version));
    }
    let people = [
        (Related::Spouse, c.spouse.iter().collect::<Vec<_>>()),
        (Related::Child, c.children.iter().collect()),
        (Related::Assistant, c.assistant_name.iter().collect()),
        (Related::Manager, c.manager_name.iter().collect()),
    ];
    let mut item = 0;
    for (who, names) in people {
        for name in names {
            match version {
                Version::V4 => e.push(
                    entry(VCardProperty::Related)
                        .with_param(VCardParameter::new(
                            VCardParameterName::Value,
                            VCardValueType::Text,
                        ))
                        .with_param(typ(who.type_v4()))
                        .with_value(name.clone()),
                ),
                Version::V3 => {
                    item += 1;
                    let group = Some(format!("item{item}"));
                    e.push(
                        other_entry("X-ABRELATEDNAMES")
                            .with_group(group.clone())
                            .with_value(name.clone()),
                    );
                    e.push(
                        other_entry("X-ABLabel")
                            .with_group(group)
                            .with_value(who.apple_label().to_owned()),
                    );
                }
            }
        }
    }
    if !c.categories.is_empty() {
        e.push(
            entry(VCardProperty::Categories).with_values(
                c.categories
                    .iter()
                    .map(|v| VCardValue::Text(v.clone()))
                    .collect(),
            ),
        );
    }
    if let Some(b) = &c.body {
        match b.kind {
            BODY_PLAIN => e.push(t(VCardProperty::Note, &b.data)),
            kind => {
                // A reader gets the HTML's text as NOTE; RTF (compressed, base64) has none.
                if kind == BODY_HTML {
                    e.push(t(
                        VCardProperty::Note,
                        &crate::mail::mime::html_to_text(&b.data),
                    ));
                }
                e.push(
                    other_entry(X_BODY)
                        .with_param(VCardParameter::new(
                            VCardParameterName::Other(X_BODY_TYPE.into()),
                            kind.to_string(),
                        ))
                        .with_value(b.data.clone()),
                );
            }
        }
    }
    if let Some(p) = c.picture.as_deref().and_then(|p| photo_entry(p, version)) {
        e.push(p);
    }
    for (name, value) in [
        (X_PHONETIC_FIRST, &c.yomi_first_name),
        (X_PHONETIC_LAST, &c.yomi_last_name),
        (X_PHONETIC_ORG, &c.yomi_company_name),
        (X_OFFICE, &c.office_location),
        (X_CUSTOMER_ID, &c.customer_id),
        (X_GOVERNMENT_ID, &c.government_id),
        (X_ACCOUNT_NAME, &c.account_name),
        (X_ALIAS, &c.alias),
    ] {
        if let Some(v) = value {
            e.push(other_entry(name).with_value(v.clone()));
        }
    }
    if let Some(r) = c.weighted_rank {
        e.push(other_entry(X_WEIGHTED_RANK).with_value(r.to_string()));
    }
    if !c.extra.is_empty() {
        e.push(other_entry(X_EXTRA).with_value(B64.encode(&c.extra.0)));
    }
    VCard { entries: e }
}

/// FN: the FileAs, else the name from its parts, else the company or first e-mail address
/// (RFC 6350 6.2.1: FN is required).
fn display_name(c: &Contact) -> String {
    if let Some(f) = c.file_as.as_deref().filter(|f| !f.is_empty()) {
        return f.to_owned();
    }
    let parts: Vec<&str> = [
        &c.title,
        &c.first_name,
        &c.middle_name,
        &c.last_name,
        &c.suffix,
    ]
    .into_iter()
    .filter_map(|p| p.as_deref())
    .filter(|p| !p.is_empty())
    .collect();
    if !parts.is_empty() {
        return parts.join(" ");
    }
    [&c.company_name, &c.email1_address, &c.nick_name]
        .into_iter()
        .find_map(|v| v.clone())
        .unwrap_or_default()
}

/// A date property: its UTC date ([MS-ASCNTC] 2.2.2.6: the time is ignored); a date of
/// [`NO_YEAR`] without its year (4.0 `--MMDD`, 3.0 Apple's X-APPLE-OMIT-YEAR).
fn date_entry(name: VCardProperty, d: Stamp, version: Version) -> VCardEntry {
    let date = jiff::Timestamp::from_second(d.0)
        .map(|t| jiff::tz::TimeZone::UTC.to_datetime(t).date())
        .unwrap_or_default();
    let year = u16::try_from(date.year()).unwrap_or(NO_YEAR);
    let month = u8::try_from(date.month()).unwrap_or(1);
    let day = u8::try_from(date.day()).unwrap_or(1);
    let no_year = year == NO_YEAR;
    let mut e = entry(name);
    match version {
        Version::V4 => {
            let value = PartialDateTime {
                year: (!no_year).then_some(year),
                month: Some(month),
                day: Some(day),
                ..PartialDateTime::default()
            };
            e.add_param(VCardParameter::new(
                VCardParameterName::Value,
                VCardValueType::Date,
            ));
            e.with_value(VCardValue::PartialDateTime(value))
        }
        Version::V3 => {
            if no_year {
                e.add_param(VCardParameter::new(
                    VCardParameterName::Other("X-APPLE-OMIT-YEAR".into()),
                    NO_YEAR.to_string(),
                ));
            }
            e.with_value(format!("{year:04}-{month:02}-{day:02}"))
        }
    }
}

/// PHOTO: 3.0 `ENCODING=b;TYPE=JPEG` (RFC 2426 3.1.4), 4.0 a data: URI (RFC 6350 6.2.4,
/// RFC 2397). A Picture that is not base64 is not written.
fn photo_entry(picture: &str, version: Version) -> Option<VCardEntry> {
    let compact: String = picture.split_whitespace().collect();
    let Ok(bytes) = B64.decode(&compact) else {
        tracing::warn!("a contact's Picture is not base64: not exported");
        return None;
    };
    let media = if bytes.starts_with(&[0x89, b'P', b'N', b'G']) {
        "image/png"
    } else if bytes.starts_with(b"GIF8") {
        "image/gif"
    } else {
        "image/jpeg"
    };
    let e = entry(VCardProperty::Photo);
    Some(match version {
        Version::V3 => e.with_value(VCardValue::Binary(Data {
            content_type: Some(media.to_owned()),
            data: bytes,
        })),
        // Written as text: calcard would escape the data: URI's comma.
        Version::V4 => e.with_value(format!("data:{media};base64,{compact}")),
    })
}

/// A vCard file's text: UTF-8, or else Windows-1252, what Outlook writes its 2.1 cards
/// in (RFC 2425 has no charset of its own for the file; a value's CHARSET parameter is
/// honoured by the parser for encoded values).
pub fn decode_file(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => match mail_parser::decoders::charsets::map::charset_decoder(b"windows-1252") {
            Some(decode) => decode(bytes),
            None => String::from_utf8_lossy(bytes).into_owned(),
        },
    }
}

#[cfg(test)]
#[path = "vcard_tests.rs"]
mod tests;
