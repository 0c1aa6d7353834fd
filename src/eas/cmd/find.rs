//! Find (16.1, [MS-ASCMD] 2.2.1.2): a GAL search (GALSearchCriterion, the same list and
//! matching as Search Store=GAL) or a mailbox search (MailBoxSearchCriterion, the same
//! word index and folder rules as Search Store=Mailbox), answered with summary properties.

use super::directory::{GAL_PICTURE, Pictures, gal_properties};
use super::search::{Query, Unanswered, mailbox_hits};
use super::{Ctx, Reply, body_with_root, status_reply};
use crate::directory::fold::query_words;
use crate::directory::gal::Scope;
use crate::proto::datetime::format_datetime;
use crate::proto::ids::ItemRef;
use crate::proto::status::command_status;
use crate::refusal::Limit;
use crate::store::StoreError;
use crate::store::model::MailItem;
use crate::store::search_index;
use crate::wbxml::{
    Element, tag::airsync, tag::email, tag::email2, tag::find as f, tag::itemoperations,
};

command_status! {
    /// Find Status values ([MS-ASCMD] 2.2.3.177.2).
    enum Status {
        Ok = 1,
        InvalidRequest = 2,
        FolderSyncRequired = 3,
        /// The first request of a search must ask for a Range starting at 0.
        RangeMustStartAtZero = 4,
    }
}

/// The last position a Range may name ([MS-ASCMD] 2.2.3.143.1: 0 ≤ m ≤ n ≤ 999).
const MAX_POSITION: usize = 999;
/// Results one answer lists at most (its Range says which came).
const MAX_RESULTS: usize = 100;
/// Words of one query at most.
const MAX_TERMS: usize = 16;
/// Characters of a Preview ([MS-ASCMD] 2.2.3.137: at most 255).
const PREVIEW_CHARS: usize = 255;

enum Criterion {
    Mailbox,
    Gal,
}

pub async fn handle(ctx: &mut Ctx<'_>, body: Option<Element>) -> Result<Reply, StoreError> {
    let invalid = || status_reply(f::FIND, f::STATUS, Status::InvalidRequest);
    let Some(find) = body_with_root(body, f::FIND) else {
        return Ok(invalid());
    };
    let Some(execute) = find.find(f::EXECUTE_SEARCH) else {
        return Ok(invalid());
    };
    let (criterion, search) = match (
        execute.find(f::MAIL_BOX_SEARCH_CRITERION),
        execute.find(f::GAL_SEARCH_CRITERION),
    ) {
        (Some(m), None) => (Criterion::Mailbox, m),
        (None, Some(g)) => (Criterion::Gal, g),
        _ => return Ok(invalid()),
    };
    let Some(query) = search.find(f::QUERY) else {
        return Ok(invalid());
    };
    // The words are a FreeText child ([MS-ASCMD] 2.2.3.80.1); some clients send a GAL
    // query as the Query's own text, which is taken as well.
    let text = query
        .text_of(f::FREE_TEXT)
        .or_else(|| query.text())
        .unwrap_or_default();
    if query
        .text_of(airsync::CLASS)
        .is_some_and(|c| !c.eq_ignore_ascii_case("Email"))
    {
        // Email is the only class Find searches ([MS-ASCMD] 2.2.3.27.1).
        return Ok(invalid());
    }
    let options = search.find(f::OPTIONS);
    let range = options.and_then(|o| o.text_of(f::RANGE));
    let (first, last) = match range.map(parse_range) {
        None => (0, MAX_RESULTS - 1),
        Some(Some(r)) => r,
        Some(None) => {
            ctx.refuse(
                Limit::SearchRange,
                format_args!("Find Range {:?} out of bounds", range.unwrap_or_default()),
            );
            return Ok(invalid());
        }
    };
    // easd keeps no search between requests: a request naming no SearchId is a new
    // search, which must start at 0; one that names its SearchId pages on.
    let paging = find
        .text_of(f::SEARCH_ID)
        .is_some_and(|id| !id.trim().is_empty());
    if first > 0 && !paging {
        return Ok(status_reply(
            f::FIND,
            f::STATUS,
            Status::RangeMustStartAtZero,
        ));
    }
    let last = last.min(first + MAX_RESULTS - 1);
    let mut pictures = match options.and_then(|o| o.find(f::PICTURE)) {
        None => None,
        Some(p) => match Pictures::parse(
            p,
            f::MAX_SIZE,
            f::MAX_PICTURES,
            ctx.app.cfg.limits.max_response,
        ) {
            Some(p) => Some(p),
            None => return Ok(invalid()),
        },
    };
    let answer = match criterion {
        Criterion::Gal => {
            let words = query_words(text);
            if words.is_empty() || words.len() > MAX_TERMS {
                return Ok(invalid());
            }
            gal(ctx, &words, first, last, pictures.as_mut()).await?
        }
        Criterion::Mailbox => {
            let words = search_index::query_terms(&kql_words(text));
            if words.is_empty() || words.len() > MAX_TERMS {
                return Ok(invalid());
            }
            let query = Query {
                words,
                folders: query
                    .text_of(airsync::COLLECTION_ID)
                    .map(|c| vec![c.trim().to_owned()])
                    .unwrap_or_default(),
                deep: options.is_some_and(|o| o.find(f::DEEP_TRAVERSAL).is_some()),
                ..Query::default()
            };
            match mailbox_hits(ctx, query, first, last).await? {
                Ok((total, items)) => mailbox_answer(total, first, &items),
                Err(Unanswered::UnknownFolder) => {
                    return Ok(status_reply(f::FIND, f::STATUS, Status::FolderSyncRequired));
                }
            }
        }
    };
    Ok(Reply::Wbxml(
        Element::new(f::FIND)
            .text_child(f::STATUS, Status::Ok.to_string())
            .child(answer),
    ))
}

/// `m-n` with 0 ≤ m ≤ n ≤ 999 ([MS-ASCMD] 2.2.3.143.1).
fn parse_range(text: &str) -> Option<(usize, usize)> {
    let (a, b) = text.split_once('-')?;
    let (a, b): (usize, usize) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    (a <= b && b <= MAX_POSITION).then_some((a, b))
}

/// The words of a KQL FreeText: a property restriction (`subject:budget`) searches its
/// value among the indexed words, and the operators AND, OR and NOT are left out.
fn kql_words(text: &str) -> String {
    text.split_whitespace()
        .filter(|w| !matches!(*w, "AND" | "OR" | "NOT"))
        .map(|w| w.split_once(':').map_or(w, |(_, v)| v))
        .collect::<Vec<_>>()
        .join(" ")
}

fn response(store: &str) -> Element {
    Element::new(f::RESPONSE)
        .text_child(itemoperations::STORE, store)
        .text_child(f::STATUS, Status::Ok.to_string())
}

fn close(mut answer: Element, first: usize, shown: usize, total: usize) -> Element {
    if shown > 0 {
        answer.push_text(f::RANGE, format!("{first}-{}", first + shown - 1));
    }
    answer.push_text(f::TOTAL, total.to_string());
    answer
}

async fn gal(
    ctx: &Ctx<'_>,
    words: &[String],
    first: usize,
    last: usize,
    mut pictures: Option<&mut Pictures>,
) -> Result<Element, StoreError> {
    let index = ctx.app.gal.current(&ctx.app.store).await?;
    let scope = Scope::of(ctx.app.cfg.directory.gal_scope, ctx.account);
    let mut answer = response("GAL");
    let (mut total, mut shown) = (0, 0);
    for entry in index.search(words, scope) {
        if (first..=last).contains(&total) {
            let mut props = Element::new(f::PROPERTIES);
            gal_properties(entry)
                .into_iter()
                .for_each(|p| props.push(p));
            if let Some(p) = pictures.as_deref_mut() {
                props.push(p.picture(&ctx.app.store, entry.photo(), GAL_PICTURE)?);
            }
            answer.push(Element::new(f::RESULT).child(props));
            shown += 1;
        }
        total += 1;
    }
    Ok(close(answer, first, shown, total))
}

/// A message's summary properties ([MS-ASCMD] 2.2.3.139.1).
fn mailbox_answer(total: usize, first: usize, items: &[MailItem]) -> Element {
    let mut answer = response("Mailbox");
    for item in items {
        let m = &item.meta;
        let mut props = Element::new(f::PROPERTIES)
            .text_child(email::SUBJECT, m.subject.clone())
            .text_child(email::DATE_RECEIVED, format_datetime(m.received))
            .text_child(email::DISPLAY_TO, m.display_to.clone());
        if !m.cc.is_empty() {
            props.push_text(f::DISPLAY_CC, m.cc.clone());
        }
        if !m.bcc.is_empty() {
            props.push_text(f::DISPLAY_BCC, m.bcc.clone());
        }
        props.push_text(email::IMPORTANCE, m.importance.to_string());
        props.push_text(email::READ, u8::from(item.flags.read).to_string());
        props.push_text(email2::IS_DRAFT, u8::from(item.flags.draft).to_string());
        props.push_text(
            f::PREVIEW,
            m.preview.chars().take(PREVIEW_CHARS).collect::<String>(),
        );
        props.push_text(
            f::HAS_ATTACHMENTS,
            u8::from(m.attachments.iter().any(|a| !a.inline)).to_string(),
        );
        props.push_text(email::FROM, m.from.clone());
        answer.push(
            Element::new(f::RESULT)
                .text_child(airsync::CLASS, "Email")
                .text_child(
                    airsync::SERVER_ID,
                    ItemRef::new(item.folder, item.id).to_string(),
                )
                .text_child(airsync::COLLECTION_ID, item.folder.to_string())
                .child(props),
        );
    }
    close(answer, first, items.len(), total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_kql() {
        assert_eq!(parse_range("0-24"), Some((0, 24)));
        assert_eq!(parse_range("990-999"), Some((990, 999)));
        assert_eq!(parse_range("0-1000"), None);
        assert_eq!(parse_range("5-1"), None);
        assert_eq!(parse_range("x"), None);
        assert_eq!(
            kql_words("subject:budget AND from:bob plan"),
            "budget bob plan"
        );
    }
}
