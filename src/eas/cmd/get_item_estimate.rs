//! GetItemEstimate ([MS-ASCMD] 2.2.1.9): how many changes the next Syncs of a collection
//! will bring, computed by the same code that produces them, so the two always agree.

use super::{Ctx, Reply, status_reply};
use crate::bounded::at_most;
use crate::eas::class::groupware::Class;
use crate::govern::foreign;
use crate::govern::settings::Sight;
use crate::proto::filter::FilterType;
use crate::proto::ids::SyncKey;
use crate::proto::status::command_status;
use crate::proto::version::ProtocolVersion;
use crate::refusal::Limit;
use crate::store::StoreError;
use crate::store::model::Merged;
use crate::store::sync_state::{Generation, StateKey, SyncReads};
use crate::sync::collection::{self as coll, KeyMatch};
use crate::sync::stored::{self};
use crate::wbxml::{Element, tag::airsync, tag::getitemestimate as gie};

command_status! {
    /// GetItemEstimate Status values ([MS-ASCMD] 2.2.3.177.8).
    enum Status {
        Ok = 1,
        InvalidCollection = 2,
        NotPrimed = 3,
        InvalidKey = 4,
    }
}

pub async fn handle(ctx: &mut Ctx<'_>, body: Option<Element>) -> Result<Reply, StoreError> {
    let Some(list) = body
        .filter(|b| b.tag == gie::GET_ITEM_ESTIMATE)
        .and_then(|b| b.find(gie::COLLECTIONS).cloned())
    else {
        return Ok(status_reply(
            gie::GET_ITEM_ESTIMATE,
            gie::STATUS,
            Status::InvalidCollection,
        ));
    };
    let max = ctx.app.cfg.limits.max_collections;
    let Ok(collections) = at_most(list.find_all(gie::COLLECTION), max) else {
        ctx.refuse(
            Limit::SyncCollections,
            format_args!("GetItemEstimate naming more than max_collections {max} collections"),
        );
        // The protocol has no Status for it: answered as for an unusable collection list.
        return Ok(status_reply(
            gie::GET_ITEM_ESTIMATE,
            gie::STATUS,
            Status::InvalidCollection,
        ));
    };
    let mut out = Element::new(gie::GET_ITEM_ESTIMATE);
    for c in collections {
        out.push(estimate_one(ctx, c).await?);
    }
    Ok(Reply::Wbxml(out))
}

fn response(status: Status, id: Option<&str>, estimate: Option<usize>) -> Element {
    let mut r = Element::new(gie::RESPONSE).text_child(gie::STATUS, status.to_string());
    if let Some(id) = id {
        let mut c = Element::new(gie::COLLECTION).text_child(gie::COLLECTION_ID, id);
        if let Some(n) = estimate {
            c.push_text(gie::ESTIMATE, n.to_string());
        }
        r.push(c);
    }
    r
}

async fn estimate_one(ctx: &Ctx<'_>, c: &Element) -> Result<Element, StoreError> {
    let Some(id) = c.text_of(gie::COLLECTION_ID) else {
        return Ok(response(Status::InvalidCollection, None, None));
    };
    // 14.0+ puts SyncKey and Options/FilterType here; 12.x has FilterType directly
    // under Collection and no key (all in the AirSync namespace).
    let key = c.text_of(airsync::SYNC_KEY).map(SyncKey::parse);
    let filter_text = c
        .find(airsync::OPTIONS)
        .and_then(|o| o.text_of(airsync::FILTER_TYPE))
        .or_else(|| c.text_of(airsync::FILTER_TYPE));
    let filter = match filter_text.map(FilterType::parse) {
        Some(None) => return Ok(response(Status::InvalidCollection, Some(id), None)),
        Some(Some(f)) => Some(f),
        None => None,
    };
    // One snapshot for the folder, its state and the estimate.
    let (sight, account, device) = (
        Sight::of(&ctx.device),
        ctx.account.id,
        ctx.device.device_id.clone(),
    );
    let (id, version, mail_policy) = (id.to_owned(), ctx.req.version, ctx.mail_policy());
    (ctx.app.store)
        .view(move |tx| {
            // A folder the device is not shown is one it does not have: Status 2, "one of the
            // specified collection IDs was invalid" ([MS-ASCMD] 2.2.3.177.8).
            // A folder of another account the device reaches is estimated from its
            // owner's log (`store::share`).
            let (folder, at) = match sight.folder_named(tx, account, &id)? {
                Some(f) => (f, None),
                None => match foreign::folder_named(tx, account, &id, sight.reach())? {
                    Some(r) => (r.folder, Some(r.at)),
                    None => return Ok(response(Status::InvalidCollection, Some(&id), None)),
                },
            };
            let sk = StateKey {
                account,
                device: &device,
                folder: folder.id,
            };
            let Some(state) = tx.sync_state(sk)? else {
                return Ok(response(Status::NotPrimed, Some(&id), None));
            };
            let (state, generation) = match key {
                Some(SyncKey::Initial) => return Ok(response(Status::NotPrimed, Some(&id), None)),
                Some(SyncKey::Issued(k)) => match coll::match_key(Some(&state), k) {
                    KeyMatch::Current => (state, Generation::Current),
                    KeyMatch::Previous => (
                        coll::rewind(&state).expect("previous state"),
                        Generation::Previous,
                    ),
                    KeyMatch::Unknown => return Ok(response(Status::InvalidKey, Some(&id), None)),
                },
                Some(SyncKey::Unknown) => return Ok(response(Status::InvalidKey, Some(&id), None)),
                // 12.x: the device's current state.
                None if version < ProtocolVersion::V14_0 => (state, Generation::Current),
                None => return Ok(response(Status::InvalidKey, Some(&id), None)),
            };
            // A state made under other settings (tasks as events) is one the next Sync refuses.
            let merged = match at {
                Some(_) => None,
                None => sight.merged_into(tx, account, &folder)?,
            };
            if !Merged::same(state.merged.as_ref(), merged.as_ref()) {
                return Ok(response(Status::InvalidKey, Some(&id), None));
            }
            // The window the next Sync works in: the one asked for (or kept), as the policy allows.
            let filter = mail_policy.filter(
                Class::of(folder.kind).filter(|_| !Merged::withholds_own(merged.as_ref())),
                filter.unwrap_or(state.filter),
            );
            let held = tx.held(sk, generation)?;
            // A quarantined device's Syncs bring nothing ([`Sight::serves_contents`]).
            let n = if sight.serves_contents() {
                stored::estimate(tx, sk, at, state, held, filter, crate::store::now())?
            } else {
                0
            };
            Ok(response(Status::Ok, Some(&id), Some(n)))
        })
        .await
}
