//! A recipient's free/busy for ResolveRecipients' Availability: the events of the
//! account's default calendar merged by `pim::freebusy`.

use crate::pim::freebusy::FreeBusy;
use crate::store::StoreError;
use crate::store::items::ItemReads;
use crate::store::model::pim::Record;
use crate::store::model::{AccountId, FolderType, Summary};
use crate::store::ops::Reads;

/// The free/busy of an account's default calendar over `[start, end)`; "no data" in
/// every slot for an account without one.
pub fn calendar_free_busy(
    tx: &(impl Reads + ItemReads),
    account: AccountId,
    start: i64,
    end: i64,
) -> Result<FreeBusy, StoreError> {
    let Some(calendar) = tx
        .folders(account)?
        .into_iter()
        .find(|f| f.kind == FolderType::Calendar)
    else {
        return Ok(FreeBusy::no_data(start, end));
    };
    let mut fb = FreeBusy::new(start, end);
    // Each event's summary first: a single event outside the window is not decoded.
    for (id, summary) in tx.groupware_summaries(account, calendar.id)? {
        let Summary::Calendar(s) = summary else {
            continue;
        };
        if !s.recurring && (s.until() < start || s.start.is_none_or(|t| t >= end)) {
            continue;
        }
        if let Some(item) = tx.groupware_item(account, calendar.id, id)?
            && let Record::Event(event) = &item.record
        {
            fb.add(event);
        }
    }
    Ok(fb)
}
