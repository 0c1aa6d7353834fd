//! A recipient's free/busy for ResolveRecipients' Availability: the events of the
//! account's default calendar merged by `pim::freebusy`.

use crate::pim::freebusy::FreeBusy;
use crate::store::StoreError;
use crate::store::items::ItemReads;
use crate::store::model::pim::Event;
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
    // A single event outside the window is not decoded; a series always is (its summary
    // does not say when it ends).
    let touching = |summary: &Summary| match summary {
        Summary::Calendar(s) => {
            s.recurring || (s.until() >= start && s.start.is_some_and(|t| t < end))
        }
        _ => false,
    };
    for times in tx.event_times_where(account, calendar.id, touching)? {
        fb.add(&Event::from(times));
    }
    Ok(fb)
}
