//! ResolveRecipients ([MS-ASCMD] 2.2.1.15): each To resolved against the GAL (Type 1)
//! and the account's own contacts (Type 2), with certificates, photos and free/busy
//! (Availability, from the recipient's default calendar, recurrences expanded).

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::directory::Pictures;
use super::{Ctx, Reply, body_with_root, status_reply};
use crate::directory::availability::calendar_free_busy;
use crate::directory::contacts::{self, ContactCard};
use crate::directory::fold::query_words;
use crate::directory::gal::{GalEntry, GalIndex, Scope};
use crate::pim::freebusy::FreeBusy;
use crate::proto::datetime::parse_datetime;
use crate::proto::status::command_status;
use crate::refusal::Limit;
use crate::store::StoreError;
use crate::store::directory::DirectoryReads;
use crate::store::items::ItemReads;
use crate::store::model::pim::Record;
use crate::store::model::{AccountId, FolderType};
use crate::store::ops::Reads;
use crate::wbxml::{Element, tag::resolverecipients as rr};

command_status! {
    /// The Status values of ResolveRecipients ([MS-ASCMD] 2.2.3.177.12).
    enum Status {
        Ok = 1,
        /// Top level: a protocol error (a bad parameter or range).
        ProtocolError = 5,
        /// Response: the To is ambiguous, all suggestions follow.
        Ambiguous = 2,
        /// Response: ambiguous, only some of the suggestions follow (RecipientCount says
        /// how many there are).
        AmbiguousPartial = 3,
        /// Response: nothing matches.
        NotFound = 4,
        /// Certificates: the recipient has no valid certificate.
        NoCertificate = 7,
        /// Certificates: MaxCertificates were returned already.
        CertificateLimit = 8,
        /// Availability: more recipients than free/busy is looked up for.
        TooManyForAvailability = 160,
    }
}

/// Most To elements of one request (Exchange 2010 SP2 RU6 and later refuse more with a
/// protocol error; [MS-ASCMD] 2.2.3.183.3 lets a server refuse large requests).
const MAX_TO: usize = 100;
/// Longest To ([MS-ASCMD] 2.2.3.183.3: up to 256 characters).
const MAX_TO_CHARS: usize = 256;
/// Recipients whose free/busy one request gets; later ones get Availability Status 160.
/// Each costs a read of a calendar and its recurrences expanded over the window.
const MAX_AVAILABILITY: usize = 20;
/// Suggestions listed for one ambiguous To at most (whatever MaxAmbiguousRecipients).
const MAX_SUGGESTIONS: usize = 100;
/// The largest CertificateRetrieval, MaxCertificates, MaxAmbiguousRecipients
/// ([MS-ASCMD] 2.2.3.102, 2.2.3.103: 0 to 9999).
const MAX_COUNT: u32 = 9999;
/// An Availability window: at least 30 minutes, at most 42 days; EndTime defaults to
/// StartTime + 7 days ([MS-ASCMD] 2.2.3.61.1).
const MIN_WINDOW: i64 = 30 * 60;
const MAX_WINDOW: i64 = 42 * 86_400;
const DEFAULT_WINDOW: i64 = 7 * 86_400;

/// CertificateRetrieval ([MS-ASCMD] 2.2.3.24).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Certificates {
    None,
    /// Full certificates; also what a request for mini certificates (3) gets: easd keeps
    /// no mini-certificate form, and a client can read a full one.
    Full,
}

#[derive(Debug)]
struct Request {
    to: Vec<String>,
    certificates: Certificates,
    max_certificates: Option<u32>,
    max_ambiguous: Option<u32>,
    availability: Option<(i64, i64)>,
    picture: Option<Element>,
}

/// Why a request is refused (top-level Status 5).
enum Refused {
    /// More than [`MAX_TO`] To elements: a resource bound, counted as a refusal.
    TooManyTo(usize),
    Bad(String),
}

impl From<String> for Refused {
    fn from(s: String) -> Self {
        Refused::Bad(s)
    }
}

impl From<&str> for Refused {
    fn from(s: &str) -> Self {
        Refused::Bad(s.to_owned())
    }
}

fn parse(req: &Element) -> Result<Request, Refused> {
    let to: Vec<String> = req
        .find_all(rr::TO)
        .map(|t| t.text().unwrap_or_default().trim().to_owned())
        .collect();
    if to.is_empty() {
        return Err("no To".into());
    }
    if to.len() > MAX_TO {
        return Err(Refused::TooManyTo(to.len()));
    }
    if let Some(long) = to.iter().find(|t| t.chars().count() > MAX_TO_CHARS) {
        return Err(format!("a To of {} characters", long.chars().count()).into());
    }
    let options = req.find(rr::OPTIONS);
    let number = |tag| -> Result<Option<u32>, Refused> {
        match options.and_then(|o| o.text_of(tag)) {
            None => Ok(None),
            Some(t) => match t.trim().parse::<u32>() {
                Ok(n) if n <= MAX_COUNT => Ok(Some(n)),
                _ => Err(format!("{t:?} is not a count of 0 to {MAX_COUNT}").into()),
            },
        }
    };
    let certificates = match number(rr::CERTIFICATE_RETRIEVAL)? {
        None | Some(1) => Certificates::None,
        Some(2 | 3) => Certificates::Full,
        Some(n) => return Err(format!("CertificateRetrieval {n}").into()),
    };
    let availability = match options.and_then(|o| o.find(rr::AVAILABILITY)) {
        None => None,
        Some(a) => {
            let start = a
                .text_of(rr::START_TIME)
                .and_then(parse_datetime)
                .ok_or("Availability without a StartTime")?;
            let end = match a.text_of(rr::END_TIME) {
                None => start + DEFAULT_WINDOW,
                Some(t) => parse_datetime(t).ok_or("a bad EndTime")?,
            };
            if end - start < MIN_WINDOW || end - start > MAX_WINDOW {
                return Err(
                    format!("an Availability window of {} minutes", (end - start) / 60).into(),
                );
            }
            Some((start, end))
        }
    };
    Ok(Request {
        to,
        certificates,
        max_certificates: number(rr::MAX_CERTIFICATES)?,
        max_ambiguous: number(rr::MAX_AMBIGUOUS_RECIPIENTS)?,
        availability,
        picture: options.and_then(|o| o.find(rr::PICTURE)).cloned(),
    })
}

/// One candidate for a To.
enum Found<'a> {
    Gal(&'a GalEntry),
    Contact(&'a ContactCard),
}

impl Found<'_> {
    fn email(&self) -> &str {
        match self {
            Found::Gal(e) => e.email(),
            Found::Contact(c) => &c.email,
        }
    }
}

/// The GAL's matches then the contacts' (an address the GAL has comes once, as the GAL's);
/// an address that is exactly one candidate's resolves to it alone.
fn resolve<'a>(
    to: &str,
    gal: &'a GalIndex,
    scope: Scope<'_>,
    cards: &'a [ContactCard],
) -> Vec<Found<'a>> {
    if to.contains('@') {
        if let Some(e) = gal.by_address(to, scope) {
            return vec![Found::Gal(e)];
        }
        if let Some(c) = cards.iter().find(|c| c.email.eq_ignore_ascii_case(to)) {
            return vec![Found::Contact(c)];
        }
    }
    let words = query_words(to);
    let mut found: Vec<Found<'a>> = gal
        .search(&words, scope)
        .into_iter()
        .map(Found::Gal)
        .collect();
    let known: std::collections::HashSet<String> = found
        .iter()
        .map(|f| f.email().to_ascii_lowercase())
        .collect();
    found.extend(
        cards
            .iter()
            .filter(|c| c.matches(&words) && !known.contains(&c.email))
            .map(Found::Contact),
    );
    found
}

pub async fn handle(ctx: &mut Ctx<'_>, body: Option<Element>) -> Result<Reply, StoreError> {
    let request = match body_with_root(body, rr::RESOLVE_RECIPIENTS)
        .ok_or(Refused::Bad("no ResolveRecipients".into()))
        .and_then(|r| parse(&r))
    {
        Ok(r) => r,
        Err(why) => {
            match why {
                Refused::TooManyTo(n) => ctx.refuse(
                    Limit::Recipients,
                    format_args!("ResolveRecipients with {n} To, at most {MAX_TO}"),
                ),
                Refused::Bad(why) => {
                    tracing::info!(who = %ctx.who(), "ResolveRecipients refused: {why}")
                }
            }
            return Ok(status_reply(
                rr::RESOLVE_RECIPIENTS,
                rr::STATUS,
                Status::ProtocolError,
            ));
        }
    };
    let mut pictures = match &request.picture {
        None => None,
        Some(p) => match Pictures::parse(
            p,
            rr::MAX_SIZE,
            rr::MAX_PICTURES,
            ctx.app.cfg.limits.max_response,
        ) {
            Some(p) => Some(p),
            None => {
                return Ok(status_reply(
                    rr::RESOLVE_RECIPIENTS,
                    rr::STATUS,
                    Status::ProtocolError,
                ));
            }
        },
    };
    let gal = ctx.app.gal.current(&ctx.app.store).await?;
    let scope = Scope::of(ctx.app.cfg.directory.gal_scope, ctx.account);
    let account = ctx.account.id;
    let cards = (ctx.app.store)
        .view(move |tx| {
            let mut contacts = Vec::new();
            for f in tx.folders(account)? {
                if matches!(f.kind, FolderType::Contacts | FolderType::UserContacts) {
                    for item in tx.groupware_items(account, f.id)? {
                        if let Record::Contact(c) = item.record {
                            contacts.push(*c);
                        }
                    }
                }
            }
            Ok::<_, StoreError>(contacts::cards(contacts.iter()))
        })
        .await?;
    let answers: Vec<(&str, Vec<Found<'_>>)> = request
        .to
        .iter()
        .map(|to| (to.as_str(), resolve(to, &gal, scope, &cards)))
        .collect();

    // Free/busy of the recipients resolved alone ([MS-ASCMD] 2.2.3.183.3: an ambiguous To
    // gets none), the first MAX_AVAILABILITY of them; a contact whose address is not an
    // account in the searcher's GAL has no data here.
    let mut free_busy: HashMap<String, Option<String>> = HashMap::new();
    if let Some((start, end)) = request.availability {
        let mut wanted: Vec<(String, Option<AccountId>)> = Vec::new();
        for (_, found) in &answers {
            let [one] = found.as_slice() else { continue };
            let email = one.email().to_ascii_lowercase();
            if free_busy.contains_key(&email) || wanted.iter().any(|(e, _)| *e == email) {
                continue;
            }
            if wanted.len() >= MAX_AVAILABILITY {
                free_busy.insert(email, None);
                continue;
            }
            let local = match one {
                Found::Gal(e) => Some(*e),
                Found::Contact(c) => gal.by_address(&c.email, scope),
            };
            let id = local.and_then(|e| e.origin.account());
            wanted.push((email, id));
        }
        let merged = (ctx.app.store)
            .view(move |tx| {
                let mut out = Vec::new();
                for (email, id) in wanted {
                    let fb = match id {
                        Some(id) => calendar_free_busy(tx, id, start, end)?,
                        None => FreeBusy::no_data(start, end),
                    };
                    out.push((email, fb.merged()));
                }
                Ok::<_, StoreError>(out)
            })
            .await?;
        free_busy.extend(merged.into_iter().map(|(e, m)| (e, Some(m))));
    }

    // Certificates of GAL entries, read once each.
    let mut certificates: HashMap<AccountId, Vec<Vec<u8>>> = HashMap::new();
    if request.certificates == Certificates::Full {
        let ids: Vec<AccountId> = answers
            .iter()
            .flat_map(|(_, f)| f.iter())
            .filter_map(|f| match f {
                Found::Gal(e) if e.certificates > 0 => e.origin.account(),
                _ => None,
            })
            .collect();
        let stored = (ctx.app.store)
            .view(move |tx| {
                ids.into_iter()
                    .map(|id| Ok((id, tx.directory_entry(id)?.certificates)))
                    .collect::<Result<Vec<_>, StoreError>>()
            })
            .await?;
        for (id, list) in stored {
            let mut ders = Vec::new();
            for c in list {
                ders.push(ctx.app.store.blobs().read(&c.blob)?);
            }
            certificates.insert(id, ders);
        }
    }

    let mut out =
        Element::new(rr::RESOLVE_RECIPIENTS).text_child(rr::STATUS, Status::Ok.to_string());
    let mut certificates_left = request.max_certificates;
    for (to, found) in &answers {
        let total = found.len();
        let listed = match total {
            0 | 1 => total,
            _ => total
                .min(
                    request
                        .max_ambiguous
                        .map_or(MAX_SUGGESTIONS, |m| m as usize),
                )
                .min(MAX_SUGGESTIONS),
        };
        let status = match total {
            0 => Status::NotFound,
            1 => Status::Ok,
            _ if listed < total => Status::AmbiguousPartial,
            _ => Status::Ambiguous,
        };
        let mut response = Element::new(rr::RESPONSE)
            .text_child(rr::TO, *to)
            .text_child(rr::STATUS, status.to_string())
            .text_child(rr::RECIPIENT_COUNT, total.to_string());
        for f in &found[..listed] {
            let (kind, name) = match f {
                Found::Gal(e) => ("1", e.display_name()),
                Found::Contact(c) => ("2", c.name.as_str()),
            };
            let mut recipient = Element::new(rr::RECIPIENT)
                .text_child(rr::TYPE, kind)
                .text_child(rr::DISPLAY_NAME, name)
                .text_child(rr::EMAIL_ADDRESS, f.email());
            if request.availability.is_some() && status == Status::Ok {
                let a = Element::new(rr::AVAILABILITY);
                recipient.push(match free_busy.get(&f.email().to_ascii_lowercase()) {
                    Some(Some(merged)) => a
                        .text_child(rr::STATUS, Status::Ok.to_string())
                        .text_child(rr::MERGED_FREE_BUSY, merged.clone()),
                    _ => a.text_child(rr::STATUS, Status::TooManyForAvailability.to_string()),
                });
            }
            if request.certificates == Certificates::Full {
                let ders = match f {
                    Found::Gal(e) => e.origin.account().and_then(|id| certificates.get(&id)),
                    Found::Contact(_) => None,
                };
                recipient.push(certificates_element(ders, &mut certificates_left));
            }
            if let Some(pictures) = &mut pictures {
                let photo = match f {
                    Found::Gal(e) => e.photo(),
                    Found::Contact(_) => None,
                };
                recipient.push(pictures.picture(
                    &ctx.app.store,
                    photo,
                    [rr::PICTURE, rr::STATUS, rr::DATA],
                )?);
            }
            response.push(recipient);
        }
        out.push(response);
    }
    Ok(Reply::Wbxml(out))
}

/// A recipient's Certificates ([MS-ASCMD] 2.2.3.23.1): Status 1 with its certificates
/// (base64 DER, 2.2.3.22.1), 7 without one, 8 once MaxCertificates were returned.
fn certificates_element(ders: Option<&Vec<Vec<u8>>>, left: &mut Option<u32>) -> Element {
    let e = Element::new(rr::CERTIFICATES);
    let Some(ders) = ders.filter(|d| !d.is_empty()) else {
        return e
            .text_child(rr::STATUS, Status::NoCertificate.to_string())
            .text_child(rr::CERTIFICATE_COUNT, "0");
    };
    if left.is_some_and(|l| (l as usize) < ders.len()) {
        return e
            .text_child(rr::STATUS, Status::CertificateLimit.to_string())
            .text_child(rr::CERTIFICATE_COUNT, "0");
    }
    if let Some(l) = left {
        *l -= ders.len() as u32;
    }
    let mut e = e
        .text_child(rr::STATUS, Status::Ok.to_string())
        .text_child(rr::CERTIFICATE_COUNT, ders.len().to_string());
    for der in ders {
        e.push_text(rr::CERTIFICATE, STANDARD.encode(der));
    }
    e
}
