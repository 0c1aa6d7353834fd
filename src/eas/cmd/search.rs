//! Search ([MS-ASCMD] 2.2.1.16) of the mailbox: FreeText words (prefix matches, all of
//! them) over subject, addresses and body text, answered from the word index that delivery
//! keeps up to date — never a scan of the blobs; and of the GAL, answered from the
//! in-memory list (`directory::gal`).

use std::collections::{BTreeMap, BTreeSet};

use super::directory::{GAL_PICTURE, Pictures, gal_properties};
use super::{Ctx, Reply, status_reply};
use crate::bounded::distinct_at_most;
use crate::directory::fold::query_words;
use crate::directory::gal::Scope;
use crate::eas::class::{BODY_PLAIN, BodyOptions, BodyPreference, MailOptions, full_data};
use crate::govern::foreign;
use crate::govern::settings::Sight;
use crate::proto::datetime::parse_datetime;
use crate::proto::filter::FilterType;
use crate::proto::ids::ItemRef;
use crate::proto::status::command_status;
use crate::refusal::Limit;
use crate::store::StoreError;
use crate::store::items::ItemReads;
use crate::store::model::{AccountId, FolderId, MailItem};
use crate::store::ops::Reads;
use crate::store::search_index;
use crate::store::share::ShareReads;
use crate::wbxml::{Element, tag::airsync, tag::email, tag::search as s};

command_status! {
    /// Search Status values ([MS-ASCMD] 2.2.3.177.13).
    enum Status {
        Ok = 1,
        InvalidRequest = 2,
        TooComplex = 8,
        FolderSyncRequired = 11,
        /// A Range past what the store returns ([MS-ASCMD] 2.2.3.177.13).
        EndOfRange = 12,
    }
}

/// Most words one query may hold, and most results one answer may list.
const MAX_TERMS: usize = 16;
const MAX_RANGE: usize = 100;

/// What a Mailbox query asks (Search's, and Find's MailBoxSearchCriterion).
#[derive(Debug, Default)]
pub(super) struct Query {
    pub words: Vec<String>,
    pub folders: Vec<String>,
    pub after: Option<i64>,
    pub before: Option<i64>,
    /// Folders below the named ones too.
    pub deep: bool,
}

/// Why a mailbox query finds nothing to answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unanswered {
    /// A named folder is not one the device is shown.
    UnknownFolder,
}

/// The messages matching `query` in the folders the device is shown (only those whose
/// contents it is sent), newest first: how many there are, and those at positions
/// `first..=last`, all read from one snapshot of the word index.
///
/// Without a named folder the account's own folders are searched; a folder of another
/// account (shared or public) only when the query names it by the device's id for it, and
/// its messages are answered under that id, never the owner's.
pub(super) async fn mailbox_hits(
    ctx: &Ctx<'_>,
    query: Query,
    first: usize,
    last: usize,
) -> Result<Result<(usize, Vec<MailItem>), Unanswered>, StoreError> {
    let account = ctx.account.id;
    // Only the folders the device is shown may be named, and only those whose contents it
    // is sent are searched (none while it is quarantined: no hits).
    let sight = Sight::of(&ctx.device);
    (ctx.app.store)
        .view(move |tx| {
            let folders = sight.hierarchy(tx.folders(account)?);
            let named_ok: BTreeSet<FolderId> = folders.iter().map(|f| f.id).collect();
            let searched: BTreeSet<FolderId> = folders
                .iter()
                .filter(|_| sight.serves_contents())
                .map(|f| f.id)
                .collect();
            let mut children: BTreeMap<FolderId, Vec<FolderId>> = BTreeMap::new();
            if query.deep {
                for f in &folders {
                    children.entry(f.parent).or_default().push(f.id);
                }
            }
            let mut scope: Option<BTreeSet<FolderId>> = None;
            // Foreign folders named: owner → (owner's folder id → the device's id).
            let mut foreign: BTreeMap<AccountId, BTreeMap<FolderId, FolderId>> = BTreeMap::new();
            for id in &query.folders {
                let set = scope.get_or_insert_with(BTreeSet::new);
                let Some(root) = id.parse::<FolderId>().ok() else {
                    return Ok(Err(Unanswered::UnknownFolder));
                };
                if !named_ok.contains(&root) {
                    // Not one of its own: a foreign folder it reaches (none while
                    // quarantined: `Sight::reach`), or none.
                    let Some(reached) = foreign::folder(tx, account, root, sight.reach())? else {
                        return Ok(Err(Unanswered::UnknownFolder));
                    };
                    let (owner, home) = (reached.at.owner, reached.at.folder);
                    let shown = foreign.entry(owner).or_default();
                    shown.insert(home, root);
                    if query.deep {
                        shown.extend(foreign_below(tx, account, sight, owner, home)?);
                    }
                    continue;
                }
                // Every folder below `root` (with DeepTraversal), each visited once.
                let mut frontier = vec![root];
                while let Some(parent) = frontier.pop() {
                    if set.insert(parent) {
                        frontier.extend(children.get(&parent).into_iter().flatten());
                    }
                }
            }
            // The index carries each hit's folder and DateReceived, newest first: only the page
            // shown is read.
            let dated = |p: &search_index::Posting| {
                query.after.is_none_or(|a| p.received > a)
                    && query.before.is_none_or(|b| p.received < b)
            };
            let mut hits: Vec<(AccountId, FolderId, search_index::Posting)> = Vec::new();
            if scope.as_ref().is_none_or(|s| !s.is_empty()) {
                let own = search_index::search(tx, account, &query.words, |p| {
                    searched.contains(&p.folder)
                        && scope.as_ref().is_none_or(|s| s.contains(&p.folder))
                        && dated(p)
                })?;
                hits.extend(own.into_iter().map(|p| (account, p.folder, p)));
            }
            for (owner, shown) in &foreign {
                let theirs = search_index::search(tx, *owner, &query.words, |p| {
                    shown.contains_key(&p.folder) && dated(p)
                })?;
                hits.extend(theirs.into_iter().map(|p| (*owner, shown[&p.folder], p)));
            }
            if !foreign.is_empty() {
                hits.sort_by(|a, b| {
                    b.2.received
                        .cmp(&a.2.received)
                        .then(b.2.item.cmp(&a.2.item))
                });
            }
            let mut shown = Vec::new();
            for (owner, as_shown, p) in hits.iter().skip(first).take(last - first + 1) {
                if let Some(mut item) = tx.item(*owner, p.folder, p.item)? {
                    item.folder = *as_shown;
                    shown.push(item);
                }
            }
            Ok::<_, StoreError>(Ok((hits.len(), shown)))
        })
        .await
}

/// The folders of `owner` below its folder `home` that the device reaches too (DeepTraversal
/// of a foreign folder), as the owner's id → the device's id.
fn foreign_below(
    tx: &(impl Reads + ShareReads),
    account: AccountId,
    sight: Sight,
    owner: AccountId,
    home: FolderId,
) -> Result<Vec<(FolderId, FolderId)>, StoreError> {
    let reached = tx.reachable_foreign(account, sight.reach())?;
    let theirs = tx.folders(owner)?;
    let mut out = Vec::new();
    let mut frontier = vec![home];
    while let Some(parent) = frontier.pop() {
        for f in theirs.iter().filter(|f| f.parent == parent) {
            if !reached.contains_key(&(owner, f.id)) {
                continue;
            }
            if let Some(id) = tx.foreign_id_of(account, owner, f.id)? {
                out.push((f.id, id));
                frontier.push(f.id);
            }
        }
    }
    Ok(out)
}

pub async fn handle(ctx: &mut Ctx<'_>, body: Option<Element>) -> Result<Reply, StoreError> {
    let Some(store) = body
        .filter(|b| b.tag == s::SEARCH)
        .and_then(|b| b.find(s::STORE).cloned())
    else {
        return Ok(status_reply(s::SEARCH, s::STATUS, Status::InvalidRequest));
    };
    let answer = match store.text_of(s::NAME) {
        Some(n) if n.eq_ignore_ascii_case("Mailbox") => mailbox(ctx, &store).await?,
        Some(n) if n.eq_ignore_ascii_case("GAL") => gal(ctx, &store).await?,
        _ => store_answer(Status::InvalidRequest),
    };
    Ok(Reply::Wbxml(
        Element::new(s::SEARCH)
            .text_child(s::STATUS, Status::Ok.to_string())
            .child(Element::new(s::RESPONSE).child(answer)),
    ))
}

fn store_answer(status: Status) -> Element {
    Element::new(s::STORE).text_child(s::STATUS, status.to_string())
}

fn parse_query(q: &Element, out: &mut Query) -> Result<(), Status> {
    for e in q.elements() {
        if e.tag == s::AND {
            parse_query(e, out)?;
        } else if e.tag == s::FREE_TEXT {
            out.words
                .extend(search_index::query_terms(e.text().unwrap_or_default()));
        } else if e.tag == airsync::COLLECTION_ID {
            out.folders.push(e.text().unwrap_or_default().to_owned());
        } else if e.tag == s::GREATER_THAN || e.tag == s::LESS_THAN {
            // Only DateReceived comparisons exist for mail ([MS-ASCMD] 2.2.3.79).
            if e.find(email::DATE_RECEIVED).is_none() {
                return Err(Status::InvalidRequest);
            }
            let when = e
                .text_of(s::VALUE)
                .and_then(parse_datetime)
                .ok_or(Status::InvalidRequest)?;
            if e.tag == s::GREATER_THAN {
                out.after = Some(when);
            } else {
                out.before = Some(when);
            }
        } else if e.tag == airsync::CLASS {
            // Mail is the only class a mailbox search returns.
        } else {
            return Err(Status::TooComplex);
        }
    }
    Ok(())
}

/// `m-n` (inclusive, 0-based, [MS-ASCMD] 2.2.3.143.3), cut to at most [`MAX_RANGE`]
/// results (the answer's Range says which were returned); `None` when it is not a range
/// of result positions (both numbers at most `u32::MAX`, `a <= b`).
fn parse_range(text: Option<&str>) -> Option<(usize, usize)> {
    let Some(text) = text else {
        return Some((0, MAX_RANGE - 1));
    };
    let (a, b) = text.split_once('-')?;
    let (a, b): (u32, u32) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    let (a, b) = (usize::try_from(a).ok()?, usize::try_from(b).ok()?);
    (a <= b).then(|| (a, b.min(a.saturating_add(MAX_RANGE - 1))))
}

/// The Range an Options element asks for, or `None` (logged as `what`'s refusal) when it
/// is malformed: the caller answers Status 2.
fn requested_range(ctx: &Ctx<'_>, options: Option<&Element>, what: &str) -> Option<(usize, usize)> {
    let range = options.and_then(|o| o.text_of(s::RANGE));
    let parsed = parse_range(range);
    if parsed.is_none() {
        ctx.refuse(
            Limit::SearchRange,
            format_args!("{what} Range {:?} out of bounds", range.unwrap_or_default()),
        );
    }
    parsed
}

/// A GAL search ([MS-ASCMD] 2.2.3.142.2 Query, 2.2.3.143.3 Range): the entries whose
/// words the query's words are prefixes of, sorted by display name, within the account's
/// GAL scope. Range is at most 0-99: a first position past 99 is Status 12.
async fn gal(ctx: &Ctx<'_>, store: &Element) -> Result<Element, StoreError> {
    let words = query_words(store.text_of(s::QUERY).unwrap_or_default());
    if words.is_empty() {
        return Ok(store_answer(Status::InvalidRequest));
    }
    if words.len() > MAX_TERMS {
        return Ok(store_answer(Status::TooComplex));
    }
    let options = store.find(s::OPTIONS);
    let Some((first, last)) = requested_range(ctx, options, "GAL Search") else {
        return Ok(store_answer(Status::InvalidRequest));
    };
    if first >= MAX_RANGE {
        return Ok(store_answer(Status::EndOfRange));
    }
    let last = last.min(MAX_RANGE - 1);
    let mut pictures = match options.and_then(|o| o.find(s::PICTURE)) {
        None => None,
        Some(p) => match Pictures::parse(
            p,
            s::MAX_SIZE,
            s::MAX_PICTURES,
            ctx.app.cfg.limits.max_response,
        ) {
            Some(p) => Some(p),
            None => return Ok(store_answer(Status::InvalidRequest)),
        },
    };
    let index = ctx.app.gal.current(&ctx.app.store).await?;
    let scope = Scope::of(ctx.app.cfg.directory.gal_scope, ctx.account);
    let mut total = 0;
    let mut answer = store_answer(Status::Ok);
    let mut shown = 0;
    for entry in index.search(&words, scope) {
        if (first..=last).contains(&total) {
            let mut props = Element::new(s::PROPERTIES);
            gal_properties(entry)
                .into_iter()
                .for_each(|p| props.push(p));
            if let Some(pictures) = &mut pictures {
                props.push(pictures.picture(&ctx.app.store, entry.photo(), GAL_PICTURE)?);
            }
            answer.push(Element::new(s::RESULT).child(props));
            shown += 1;
        }
        total += 1;
    }
    if shown > 0 {
        answer.push_text(s::RANGE, format!("{first}-{}", first + shown - 1));
    }
    answer.push_text(s::TOTAL, total.to_string());
    Ok(answer)
}

async fn mailbox(ctx: &Ctx<'_>, store: &Element) -> Result<Element, StoreError> {
    let mut query = Query::default();
    if let Err(status) = store
        .find(s::QUERY)
        .ok_or(Status::InvalidRequest)
        .and_then(|q| parse_query(q, &mut query))
    {
        return Ok(store_answer(status));
    }
    if query.words.is_empty() {
        return Ok(store_answer(Status::InvalidRequest));
    }
    if query.words.len() > MAX_TERMS {
        return Ok(store_answer(Status::TooComplex));
    }
    let max_folders = ctx.app.cfg.limits.max_collections;
    let Ok(named) = distinct_at_most(query.folders.iter().cloned(), max_folders) else {
        ctx.refuse(
            Limit::SearchRange,
            format_args!("Search naming more than max_collections {max_folders} folders"),
        );
        return Ok(store_answer(Status::TooComplex));
    };
    let options = store.find(s::OPTIONS);
    let Some((first, last)) = requested_range(ctx, options, "Search") else {
        return Ok(store_answer(Status::InvalidRequest));
    };
    query.deep = options.is_some_and(|o| o.find(s::DEEP_TRAVERSAL).is_some());
    query.folders = named;
    let body = match options.map(BodyOptions::parse).transpose() {
        Ok(Some(b)) if !b.preferences.is_empty() => b,
        // Other options (a BodyPartPreference) are kept.
        Ok(b) => BodyOptions {
            // A result list needs a glimpse of each message, not all of it.
            preferences: vec![BodyPreference {
                kind: BODY_PLAIN,
                truncation_size: Some(512),
                all_or_none: false,
                preview: None,
            }],
            ..b.unwrap_or_default()
        },
        Err(_) => return Ok(store_answer(Status::InvalidRequest)),
    };
    let body = ctx
        .mail_policy()
        .enforce(MailOptions {
            filter: FilterType::All,
            body,
        })
        .body;
    let found = mailbox_hits(ctx, query, first, last).await?;
    let (total, shown) = match found {
        Ok(found) => found,
        Err(Unanswered::UnknownFolder) => return Ok(store_answer(Status::FolderSyncRequired)),
    };
    let mut answer = store_answer(Status::Ok);
    // The results stop before one that could take the response past `[limits]
    // max_response`; the response's Range then says which came ([MS-ASCMD] 2.2.3.143.3:
    // the number of matching entries being returned), and the client asks for the rest.
    let mut left = ctx.app.cfg.limits.max_response;
    let wanted = shown.len();
    let mut shown_len = 0;
    for item in shown {
        let bound = body.bound(item.meta.size);
        if bound > left {
            ctx.app.refusals.record(
                Limit::ResponseSize,
                &ctx.who(),
                format_args!(
                    "Search: {} of {wanted} results left out: over max_response {}",
                    wanted - shown_len,
                    ctx.app.cfg.limits.max_response
                ),
            );
            break;
        }
        let mut props = full_data(&ctx.app.store, &item, &body, ctx.req.version)?;
        left = left.saturating_sub(props.content_len());
        shown_len += 1;
        props.tag = s::PROPERTIES;
        answer.push(
            Element::new(s::RESULT)
                .text_child(airsync::CLASS, "Email")
                .text_child(s::LONG_ID, ItemRef::new(item.folder, item.id).to_string())
                .text_child(airsync::COLLECTION_ID, item.folder.to_string())
                .child(props),
        );
    }
    if shown_len > 0 {
        answer.push_text(s::RANGE, format!("{first}-{}", first + shown_len - 1));
    }
    answer.push_text(s::TOTAL, total.to_string());
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_bounded() {
        assert_eq!(parse_range(None), Some((0, 99)));
        assert_eq!(parse_range(Some("0-9")), Some((0, 9)));
        assert_eq!(parse_range(Some("10-5000")), Some((10, 109)));
        assert_eq!(parse_range(Some("5-1")), None);
        assert_eq!(parse_range(Some("x")), None);
        // Positions beyond u32 are no result positions (and once overflowed the sum).
        let max = u32::MAX as usize;
        assert_eq!(parse_range(Some(&format!("{max}-{max}"))), Some((max, max)));
        assert_eq!(
            parse_range(Some("18446744073709551615-18446744073709551615")),
            None
        );
        assert_eq!(parse_range(Some("0-4294967296")), None);
    }
}
