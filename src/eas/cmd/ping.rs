//! Ping ([MS-ASCMD] 2.2.1.13): the device names folders and a heartbeat; the answer comes
//! when one of them changes (Status 2) or the heartbeat runs out (Status 1).

use std::time::{Duration, Instant};

use hyper::StatusCode;

use super::{Ctx, Reply, status_reply};
use crate::bounded::Distinct;
use crate::govern::foreign;
use crate::govern::settings::Sight;
use crate::proto::status::command_status;
use crate::push::hub::Wake;
use crate::refusal::Limit;
use crate::store::model::{Folder, FolderId, ForeignFolder, PingParams as Params};
use crate::store::ops::Reads;
use crate::store::sync_state::{self, StateKey, SyncReads};
use crate::store::{StoreError, now};
use crate::sync::stored as coll;
use crate::wbxml::{Element, tag::ping as p};

command_status! {
    /// Ping Status values ([MS-ASCMD] 2.2.3.177.11).
    enum Status {
        Expired = 1,
        Changes = 2,
        MissingParameters = 3,
        Syntax = 4,
        BadHeartbeat = 5,
        TooManyFolders = 6,
        HierarchyStale = 7,
    }
}

fn reply(status: Status) -> Reply {
    status_reply(p::PING, p::STATUS, status)
}

pub async fn handle(ctx: &mut Ctx<'_>, body: Option<Element>) -> Result<Reply, StoreError> {
    let account = ctx.account.id;
    let device = ctx.device.device_id.clone();
    let id = device.clone();
    let stored = (ctx.app.store)
        .view(move |tx| tx.ping_params(account, &id))
        .await?;
    let limits = &ctx.app.cfg.push;
    let params = match body {
        None => stored.clone(),
        Some(b) if b.tag == p::PING => match parse(&b, stored.as_ref(), limits.max_folders) {
            Ok(p) => Some(p),
            Err(Refused::TooMany) => return Ok(too_many_folders(ctx, "over")),
            Err(Refused::Status(status)) => return Ok(reply(status)),
        },
        Some(_) => return Ok(reply(Status::Syntax)),
    };
    let Some(params) = params.filter(|p| p.heartbeat.is_some() && !p.folders.is_empty()) else {
        return Ok(reply(Status::MissingParameters));
    };
    let heartbeat = params.heartbeat.unwrap_or_default();
    // The bounds in force now (the settings page changes them for the next Ping), copied:
    // this future lives as long as the Ping waits.
    let (min, max) = {
        let push = &ctx.app.settings.current().cfg.push;
        (push.min_heartbeat, push.max_heartbeat)
    };
    if heartbeat < min || heartbeat > max {
        let allowed = heartbeat.clamp(min, max);
        return Ok(Reply::Wbxml(
            Element::new(p::PING)
                .text_child(p::STATUS, Status::BadHeartbeat.to_string())
                .text_child(p::HEARTBEAT_INTERVAL, allowed.to_string()),
        ));
    }
    // Parameters stored under a higher limit than today's.
    if params.folders.len() > limits.max_folders {
        return Ok(too_many_folders(ctx, &params.folders.len().to_string()));
    }
    let Some((folders, foreign)) = resolve(ctx, &params.folders).await? else {
        return Ok(reply(Status::HierarchyStale));
    };
    if stored.as_ref() != Some(&params) {
        let device = device.clone();
        let record = params.clone();
        ctx.app
            .store
            .write(move |w| sync_state::put_ping_params(w, account, &device, &record))
            .await?;
    }
    // A waiting Ping holds no memory budget.
    ctx.held = None;
    // Register before looking, so a change between the look and the wait is not missed.
    // A collection that carries other folders' items (tasks as events) is woken by their
    // changes too.
    let ids: Vec<FolderId> = folders.iter().map(|f| f.id).collect();
    // A folder of another account is woken by its owner's changes (`push::hub`).
    let own: Vec<Folder> = (folders.iter())
        .filter(|f| foreign.iter().all(|(id, _)| *id != f.id))
        .cloned()
        .collect();
    let sources = merged_sources(ctx, &own).await?;
    let mut watched: Vec<FolderId> = own.iter().map(|f| f.id).collect();
    watched.extend(sources.iter().flat_map(|(_, s)| s.iter().copied()));
    let Ok(waiter) = ctx.app.hub.register(
        account,
        &device,
        (watched, foreign),
        limits.max_waiting_per_account,
    ) else {
        ctx.refuse(
            Limit::WaitingRequests,
            format_args!(
                "Ping: already {} waiting requests for the account (max_waiting_per_account)",
                limits.max_waiting_per_account
            ),
        );
        return Ok(Reply::Http(StatusCode::SERVICE_UNAVAILABLE));
    };
    let changed = changed_folders(ctx, &folders).await?;
    if !changed.is_empty() {
        return Ok(changes_reply(&changed));
    }
    let deadline = Instant::now() + Duration::from_secs(u64::from(heartbeat));
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match waiter.wait(left).await {
            Wake::Timeout | Wake::Superseded | Wake::Shutdown => return Ok(reply(Status::Expired)),
            Wake::Hierarchy => {
                if resolve(ctx, &params.folders).await?.is_none() {
                    return Ok(reply(Status::HierarchyStale));
                }
            }
            // Told without a look at the store; still nothing for a device that is sent
            // nothing of its folders (quarantine).
            Wake::Notified(which) if Sight::of(&ctx.device).serves_contents() => {
                let told: Vec<FolderId> =
                    ids.iter().copied().filter(|f| which.contains(f)).collect();
                if !told.is_empty() {
                    return Ok(changes_reply(&told));
                }
            }
            Wake::Notified(_) => {}
            Wake::Changed(which) => {
                // An admin may have changed the device meanwhile: an allow that ends its
                // quarantine has it sync at once, each folder with something for it (or
                // all of them when none has: it syncs them once under its new standing).
                let was_served = Sight::of(&ctx.device).serves_contents();
                ctx.reload_device().await?;
                if !was_served && Sight::of(&ctx.device).serves_contents() {
                    let changed = changed_folders(ctx, &folders).await?;
                    return Ok(changes_reply(if changed.is_empty() {
                        &ids
                    } else {
                        &changed
                    }));
                }
                let candidates: Vec<Folder> = folders
                    .iter()
                    .filter(|f| {
                        which.contains(&f.id)
                            || sources
                                .iter()
                                .any(|(id, s)| *id == f.id && s.iter().any(|g| which.contains(g)))
                    })
                    .cloned()
                    .collect();
                let changed = changed_folders(ctx, &candidates).await?;
                if !changed.is_empty() {
                    return Ok(changes_reply(&changed));
                }
            }
        }
    }
}

/// Status 6 with the most folders a Ping may name ([MS-ASCMD] 2.2.3.177.11, 2.2.3.102).
/// `count` says how many were named ("over" when reading stopped at the first too many).
fn too_many_folders(ctx: &Ctx<'_>, count: &str) -> Reply {
    let max = ctx.app.cfg.push.max_folders;
    ctx.refuse(
        Limit::PingFolders,
        format_args!("Ping naming {count} folders, max_folders {max}"),
    );
    Reply::Wbxml(
        Element::new(p::PING)
            .text_child(p::STATUS, Status::TooManyFolders.to_string())
            .text_child(p::MAX_FOLDERS, max.to_string()),
    )
}

/// Why a Ping request is refused while it is read.
#[derive(Debug, PartialEq)]
enum Refused {
    /// More distinct folders than `max_folders`.
    TooMany,
    Status(Status),
}

fn changes_reply(changed: &[FolderId]) -> Reply {
    let list = changed.iter().fold(Element::new(p::FOLDERS), |e, id| {
        e.text_child(p::FOLDER, id.to_string())
    });
    Reply::Wbxml(
        Element::new(p::PING)
            .text_child(p::STATUS, Status::Changes.to_string())
            .child(list),
    )
}

/// Reads the request; missing parts come from the stored parameters ([MS-ASCMD] 2.2.3.73:
/// a Ping may omit what has not changed). A folder named twice is watched once; reading
/// stops at the first folder over `max_folders`.
fn parse(b: &Element, stored: Option<&Params>, max_folders: usize) -> Result<Params, Refused> {
    let heartbeat = match b.text_of(p::HEARTBEAT_INTERVAL) {
        Some(h) => Some(
            h.trim()
                .parse::<u32>()
                .map_err(|_| Refused::Status(Status::Syntax))?,
        ),
        None => stored.and_then(|s| s.heartbeat),
    };
    let folders = match b.find(p::FOLDERS) {
        Some(list) => {
            let mut seen = Distinct::new(max_folders);
            let mut ids = Vec::new();
            for f in list.find_all(p::FOLDER) {
                let id = f.text_of(p::ID).ok_or(Refused::Status(Status::Syntax))?;
                if seen.admit(id).map_err(|_| Refused::TooMany)? {
                    ids.push(id.to_owned());
                }
            }
            ids
        }
        None => stored.map(|s| s.folders.clone()).unwrap_or_default(),
    };
    Ok(Params { heartbeat, folders })
}

/// The folders behind the ids (the account's own, or other accounts' it reaches: those
/// also listed with where they are); `None` when one no longer exists or the device is not
/// shown it (the device must FolderSync first: Status 7, [MS-ASCMD] 2.2.3.177.11).
async fn resolve(ctx: &Ctx<'_>, ids: &[String]) -> Result<Option<Resolved>, StoreError> {
    let (sight, account, ids) = (Sight::of(&ctx.device), ctx.account.id, ids.to_vec());
    (ctx.app.store)
        .view(move |tx| {
            let (mut out, mut foreign) = (Vec::with_capacity(ids.len()), Vec::new());
            for id in &ids {
                if let Some(f) = sight.folder_named(tx, account, id)? {
                    out.push(f);
                } else if let Some(r) = foreign::folder_named(tx, account, id, sight.reach())? {
                    foreign.push((r.folder.id, r.at));
                    out.push(r.folder);
                } else {
                    return Ok(None);
                }
            }
            Ok(Some((out, foreign)))
        })
        .await
}

/// The folders a Ping names, and where the foreign ones among them are.
type Resolved = (Vec<Folder>, Vec<(FolderId, ForeignFolder)>);

/// The folders whose items each of `folders` carries besides its own (tasks as events).
async fn merged_sources(
    ctx: &Ctx<'_>,
    folders: &[Folder],
) -> Result<Vec<(FolderId, Vec<FolderId>)>, StoreError> {
    let (sight, account, folders) = (Sight::of(&ctx.device), ctx.account.id, folders.to_vec());
    (ctx.app.store)
        .view(move |tx| {
            let mut out = Vec::new();
            for f in &folders {
                if let Some(m) = sight.merged_into(tx, account, f)? {
                    out.push((f.id, m.folders().collect()));
                }
            }
            Ok(out)
        })
        .await
}

/// The folders among `folders` a Sync would bring the device something from: none while
/// it is sent nothing of them (quarantine), so its Ping waits for its heartbeat.
async fn changed_folders(ctx: &Ctx<'_>, folders: &[Folder]) -> Result<Vec<FolderId>, StoreError> {
    let sight = Sight::of(&ctx.device);
    if !sight.serves_contents() {
        return Ok(Vec::new());
    }
    let (account, device) = (ctx.account.id, ctx.device.device_id.clone());
    let ids: Vec<FolderId> = folders.iter().map(|f| f.id).collect();
    (ctx.app.store)
        .view(move |tx| {
            let t = now();
            let mut out = Vec::new();
            for id in ids {
                // Re-read: the folder's modseq may have moved since it was resolved. A
                // foreign folder's log is its owner's.
                let (current, at) = match tx.folder(account, id)? {
                    Some(f) => (f, None),
                    None => match foreign::folder(tx, account, id, sight.reach())? {
                        Some(r) => (r.folder, Some(r.at)),
                        None => continue,
                    },
                };
                let k = StateKey {
                    account,
                    device: &device,
                    folder: id,
                };
                let merged = match at {
                    Some(_) => None,
                    None => sight.merged_into(tx, account, &current)?,
                };
                if coll::pending(tx, k, at, current.modseq, merged.as_ref(), t)? {
                    out.push(id);
                }
            }
            Ok(out)
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ping(ids: impl Iterator<Item = String>) -> Element {
        let folders = ids.fold(Element::new(p::FOLDERS), |list, id| {
            list.child(
                Element::new(p::FOLDER)
                    .text_child(p::ID, id)
                    .text_child(p::CLASS, "Email"),
            )
        });
        Element::new(p::PING)
            .text_child(p::HEARTBEAT_INTERVAL, "300")
            .child(folders)
    }

    #[test]
    fn folders_are_deduplicated_and_bounded() {
        let b = ping(["1", "2", "1", "3"].map(str::to_owned).into_iter());
        assert_eq!(parse(&b, None, 3).unwrap().folders, ["1", "2", "3"]);
        assert_eq!(parse(&b, None, 2), Err(Refused::TooMany));
        let b = ping((0..66_000).map(|i| i.to_string()));
        assert_eq!(parse(&b, None, 300), Err(Refused::TooMany));
    }
}
