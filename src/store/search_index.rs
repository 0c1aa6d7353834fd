//! The per-account word index behind Search: kept up to date as items come and go, so a
//! query reads postings instead of opening every blob.
//!
//! Postings are keys (account, term, folder, item) with no value; a word prefix is a range
//! scan. The terms of each item are kept too, so removing an item removes exactly its
//! postings.

use std::collections::BTreeSet;

use redb::{ReadableTable, TableDefinition};

use super::model::{AccountId, FolderId};
use super::ops::Tx;
use super::{StoreError, WriteCtx};

pub const POSTINGS: TableDefinition<(AccountId, &str, FolderId, u64), ()> =
    TableDefinition::new("search_postings");
pub const ITEM_TERMS: TableDefinition<(AccountId, FolderId, u64), &[u8]> =
    TableDefinition::new("search_item_terms");

/// Most postings one query term may read: bounds a query's time and memory.
pub const MAX_POSTINGS_PER_TERM: usize = 200_000;

pub fn add(
    ctx: &WriteCtx,
    account: AccountId,
    folder: FolderId,
    item: u64,
    terms: &[String],
) -> Result<(), StoreError> {
    if terms.is_empty() {
        return Ok(());
    }
    let mut postings = ctx.tx.open_table(POSTINGS)?;
    for t in terms {
        postings.insert((account, t.as_str(), folder, item), ())?;
    }
    ctx.tx
        .open_table(ITEM_TERMS)?
        .insert((account, folder, item), terms.join("\n").as_bytes())?;
    Ok(())
}

/// Removes an item's postings; returns its terms (a move indexes them again).
pub fn remove(
    ctx: &WriteCtx,
    account: AccountId,
    folder: FolderId,
    item: u64,
) -> Result<Vec<String>, StoreError> {
    let mut table = ctx.tx.open_table(ITEM_TERMS)?;
    let terms: Vec<String> = match table.remove((account, folder, item))? {
        Some(raw) => String::from_utf8_lossy(raw.value())
            .split('\n')
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect(),
        None => return Ok(Vec::new()),
    };
    drop(table);
    let mut postings = ctx.tx.open_table(POSTINGS)?;
    for t in &terms {
        postings.remove((account, t.as_str(), folder, item))?;
    }
    Ok(terms)
}

/// Removes every posting of a folder's items (the folder is being purged).
pub fn purge_folder(
    ctx: &WriteCtx,
    account: AccountId,
    folder: FolderId,
    items: &[u64],
) -> Result<(), StoreError> {
    for item in items {
        remove(ctx, account, folder, *item)?;
    }
    Ok(())
}

/// Lower-cased words of at least two characters, as the index holds them.
pub fn query_terms(text: &str) -> Vec<String> {
    let mut out: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 2)
        .map(str::to_lowercase)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Items of `account` having a word that starts with every one of `terms` (AND of prefix
/// matches), as (folder, item).
pub fn matching(
    tx: &impl Tx,
    account: AccountId,
    terms: &[String],
) -> Result<BTreeSet<(FolderId, u64)>, StoreError> {
    let table = tx.table(POSTINGS)?;
    let mut result: Option<BTreeSet<(FolderId, u64)>> = None;
    for term in terms {
        let upper = format!("{term}\u{10FFFF}");
        let mut hits = BTreeSet::new();
        for row in table
            .range((account, term.as_str(), 0, 0)..=(account, upper.as_str(), u64::MAX, u64::MAX))?
        {
            if hits.len() >= MAX_POSTINGS_PER_TERM {
                break;
            }
            let (k, _) = row?;
            let (_, _, folder, item) = k.value();
            if result.as_ref().is_none_or(|r| r.contains(&(folder, item))) {
                hits.insert((folder, item));
            }
        }
        result = Some(hits);
        if result.as_ref().is_some_and(BTreeSet::is_empty) {
            break;
        }
    }
    Ok(result.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_terms_are_words_lowercased() {
        assert_eq!(
            query_terms("Budget, Q3-plan a Über"),
            ["budget", "plan", "q3", "über"]
        );
        assert!(query_terms("a . ,").is_empty());
    }
}
