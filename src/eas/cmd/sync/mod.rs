//! Sync ([MS-ASCMD] 2.2.1.21): client changes in, server changes out, per collection.
//!
//! Built like FolderSync: `request` reads the request into typed values, the round's
//! decisions are [`crate::sync::round`]'s (over the state of [`crate::sync::collection`]),
//! `render` builds the answer. This module runs one store transaction per collection
//! between them: it loads the state, asks the round where to start, applies the client's
//! commands (`apply`, `drafts`), asks the round what to send and what to keep, and
//! saves that. A collection with nothing to do is answered from a read transaction without
//! touching the writer.

use std::collections::HashMap;
mod apply;
mod drafts;
mod render;
mod request;

use super::{Ctx, Reply, status_reply};
use crate::eas::class::MailPolicy;
use crate::eas::class::groupware::Class;
use crate::govern::foreign;
use crate::govern::settings::Sight;
use crate::mail::imip;
use crate::pim::schedule::{Notice, Organizer};
use crate::proto::filter::FilterType;
use crate::proto::ids::{IssuedSyncKey, SyncKey};
use crate::proto::version::ProtocolVersion;
use crate::push::hub::Wake;
use crate::refusal::Limit;
use crate::store::model::{CollectionState, Held, Merged};
use crate::store::model::{FolderId, FolderType, ForeignFolder, Rights};
use crate::store::share::{Reach, ShareReads};
use crate::store::sync_state::{self, Generation, StateKey, SyncReads};
use crate::store::{Durability, Store, StoreError, WriteCtx, now};
use crate::sync::collection::ServerChanges;
use crate::sync::retriable;
use crate::sync::round::{self, Start};
use crate::sync::stored::{self, StoreLog};
use crate::wbxml::{Element, tag::airsync as a};
use render::{ItemResponse, Status, collection_status, render};
use request::{
    BadRequest, Cache, ClientCommand, CollectionRequest, Conflict, HangRequest, options, parse,
    parse_hang,
};

/// WindowSize when the client names none, and the most one response carries.
const DEFAULT_WINDOW: usize = 100;
const MAX_WINDOW: usize = 512;

pub async fn handle(ctx: &mut Ctx<'_>, body: Option<Element>) -> Result<Reply, StoreError> {
    let cache = load_cache(&ctx.app.store, ctx.account.id, &ctx.device.device_id).await?;
    let body_wait = match body
        .as_ref()
        .filter(|b| b.tag == a::SYNC)
        .map(parse_hang)
        .transpose()
    {
        Ok(w) => w.flatten().or_else(|| {
            if body.is_none() {
                cache.as_ref().and_then(|c| c.hang)
            } else {
                None
            }
        }),
        Err(why) => {
            tracing::info!("{}: malformed Sync: {why}", ctx.device.device_id);
            return Ok(status_reply(a::SYNC, a::STATUS, Status::ProtocolError));
        }
    };
    let requests = match body {
        // 12.1+: an empty body repeats the last request.
        None => match &cache {
            Some(c) if ctx.req.version >= ProtocolVersion::V12_1 && !c.collections.is_empty() => c
                .collections
                .iter()
                .cloned()
                .map(CollectionRequest::from)
                .collect(),
            _ => return Ok(status_reply(a::SYNC, a::STATUS, Status::Incomplete)),
        },
        Some(b) if b.tag == a::SYNC => match parse(&b, cache.as_ref(), &ctx.app.cfg.limits) {
            Ok(r) if !r.is_empty() => r,
            Ok(_) => return Ok(status_reply(a::SYNC, a::STATUS, Status::Incomplete)),
            Err(bad) => return Ok(refuse(ctx, bad)),
        },
        Some(_) => return Ok(status_reply(a::SYNC, a::STATUS, Status::ProtocolError)),
    };
    let hang = match hanging(ctx, body_wait) {
        Ok(h) => h,
        Err(limit) => {
            return Ok(Reply::Wbxml(
                Element::new(a::SYNC)
                    .text_child(a::STATUS, Status::InvalidWait.to_string())
                    .text_child(a::LIMIT, limit.to_string()),
            ));
        }
    };
    match remember(ctx, cache, &requests, body_wait).await {
        // [MS-ASCMD] 2.2.3.177.17: Status 16 is global; nothing was done yet.
        Err(e) if retriable(&e) => {
            tracing::warn!("Sync cache write failed, the client is told to retry: {e}");
            return Ok(status_reply(a::SYNC, a::STATUS, Status::Retry));
        }
        written => written?,
    }
    // A hanging Sync registers before it first looks, so no change slips between the two.
    let waiter = match hang {
        Some(_) => {
            let folders = watched(ctx, &requests).await?;
            let limit = ctx.app.cfg.push.max_waiting_per_account;
            match ctx
                .app
                .hub
                .register(ctx.account.id, &ctx.device.device_id, folders, limit)
            {
                Ok(w) => Some(w),
                Err(_) => {
                    ctx.refuse(
                        Limit::WaitingRequests,
                        format_args!(
                            "hanging Sync: already {limit} waiting requests for the account \
                             (max_waiting_per_account)"
                        ),
                    );
                    return Ok(Reply::Http(hyper::StatusCode::SERVICE_UNAVAILABLE));
                }
            }
        }
        None => None,
    };
    let deadline = hang.map(|h| std::time::Instant::now() + h);
    let policy = ctx.mail_policy();
    loop {
        let mut collections = Element::new(a::COLLECTIONS);
        let mut quiet = true;
        for req in &requests {
            let (element, q) = sync_collection(ctx, req.clone(), &policy).await?;
            quiet &= q;
            collections.push(element);
        }
        let (Some(waiter), Some(deadline), true) = (&waiter, deadline, quiet) else {
            return Ok(Reply::Wbxml(Element::new(a::SYNC).child(collections)));
        };
        // A hanging Sync holds no memory budget while it waits.
        ctx.held = None;
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match waiter.wait(left).await {
            // [MS-ASCMD] 2.2.1.21: a hanging Sync that saw no change ends with an empty body.
            Wake::Timeout | Wake::Superseded | Wake::Shutdown => {
                return Ok(Reply::Http(hyper::StatusCode::OK));
            }
            // An admin may have changed the device meanwhile (an allow that ends its
            // quarantine): the collections are looked at again under its current row.
            Wake::Changed(_) => ctx.reload_device().await?,
            Wake::Notified(_) | Wake::Hierarchy => {}
        }
    }
}

/// The folders whose changes wake a hanging Sync of `requests`: the collections and the
/// folders they carry items of (tasks as events), and the owners' folders behind the
/// foreign collections.
async fn watched(
    ctx: &Ctx<'_>,
    requests: &[CollectionRequest],
) -> Result<(Vec<FolderId>, Vec<(FolderId, ForeignFolder)>), StoreError> {
    let (sight, account) = (Sight::of(&ctx.device), ctx.account.id);
    let ids: Vec<FolderId> = requests.iter().filter_map(|r| r.id.parse().ok()).collect();
    (ctx.app.store)
        .view(move |tx| {
            let (mut out, mut foreign) = (Vec::new(), Vec::new());
            for id in ids {
                match sight.folder(tx, account, id)? {
                    Some(f) => {
                        out.push(id);
                        if let Some(m) = sight.merged_into(tx, account, &f)? {
                            out.extend(m.folders());
                        }
                    }
                    None => {
                        if let Some(r) = foreign::folder(tx, account, id, sight.reach())? {
                            foreign.push((id, r.at));
                        }
                    }
                }
            }
            Ok((out, foreign))
        })
        .await
}

/// The Wait (minutes, 12.1+) or HeartbeatInterval (seconds, 14.0+) of a hanging Sync;
/// `Err(limit)` when out of the configured range ([MS-ASCMD] 2.2.3.198, 2.2.3.88.2).
fn hanging(ctx: &Ctx<'_>, wait: Option<HangRequest>) -> Result<Option<std::time::Duration>, u32> {
    let (min, max) = {
        let push = &ctx.app.settings.current().cfg.push;
        (push.min_heartbeat, push.max_heartbeat)
    };
    let seconds = match wait {
        None => return Ok(None),
        Some(HangRequest::WaitMinutes(m)) => {
            let (lo, hi) = (min.div_ceil(60), max / 60);
            // Bounds that hold no whole minute refuse every Wait (HeartbeatInterval works).
            if lo > hi {
                return Err(hi.max(1));
            }
            if m < lo || m > hi {
                return Err(m.clamp(lo, hi));
            }
            m * 60
        }
        Some(HangRequest::HeartbeatSeconds(h)) => {
            if h < min || h > max {
                return Err(h.clamp(min, max));
            }
            h
        }
    };
    Ok(Some(std::time::Duration::from_secs(u64::from(seconds))))
}

/// The answer to a request refused while it was read; the limits are recorded.
fn refuse(ctx: &Ctx<'_>, refused: BadRequest) -> Reply {
    let limits = &ctx.app.cfg.limits;
    match refused {
        BadRequest::Malformed(why) => {
            tracing::info!("{}: malformed Sync: {why}", ctx.device.device_id);
            status_reply(a::SYNC, a::STATUS, Status::ProtocolError)
        }
        // [MS-ASCMD] 2.2.3.177.17 Status 15, with the most collections in Limit (2.2.3.97).
        BadRequest::TooManyCollections => {
            let max = limits.max_collections;
            ctx.refuse(
                Limit::SyncCollections,
                format_args!("Sync naming more than max_collections {max} collections"),
            );
            Reply::Wbxml(
                Element::new(a::SYNC)
                    .text_child(a::STATUS, Status::TooManyCollections.to_string())
                    .text_child(a::LIMIT, max.to_string()),
            )
        }
        // The protocol has no Status for it: a request this server will not take as sent.
        BadRequest::TooManyCommands => {
            ctx.refuse(
                Limit::Commands,
                format_args!(
                    "Sync collection with more than max_commands {} commands",
                    limits.max_commands
                ),
            );
            status_reply(a::SYNC, a::STATUS, Status::ProtocolError)
        }
    }
}

async fn load_cache(
    store: &Store,
    account: u64,
    device: &str,
) -> Result<Option<Cache>, StoreError> {
    let device = device.to_owned();
    store.view(move |tx| tx.sync_cache(account, &device)).await
}

/// Stores the request's parameters for later empty or Partial Syncs, only when they differ.
async fn remember(
    ctx: &Ctx<'_>,
    cache: Option<Cache>,
    requests: &[CollectionRequest],
    hang: Option<HangRequest>,
) -> Result<(), StoreError> {
    let mut merged = cache.unwrap_or_default();
    merged.hang = hang;
    let mut index: HashMap<String, usize> = (merged.collections.iter().enumerate())
        .map(|(i, c)| (c.id.clone(), i))
        .collect();
    for r in requests {
        let stored = r.cached();
        match index.get(&r.id) {
            Some(&i) => merged.collections[i] = stored,
            None => {
                index.insert(r.id.clone(), merged.collections.len());
                merged.collections.push(stored);
            }
        }
    }
    // A folder that is gone or hidden (answered Status 12) is not repeated by later empty
    // Syncs.
    let (sight, account, device) = (
        Sight::of(&ctx.device),
        ctx.account.id,
        ctx.device.device_id.clone(),
    );
    let id = device.clone();
    // The folders still there and the stored parameters, from one snapshot.
    let (merged, unchanged) = (ctx.app.store)
        .view(move |tx| {
            let mut live = Vec::with_capacity(merged.collections.len());
            for c in std::mem::take(&mut merged.collections) {
                if sight.folder_named(tx, account, &c.id)?.is_some()
                    || foreign::folder_named(tx, account, &c.id, sight.reach())?.is_some()
                {
                    live.push(c);
                }
            }
            merged.collections = live;
            let unchanged = Some(&merged) == tx.sync_cache(account, &id)?.as_ref();
            Ok::<_, StoreError>((merged, unchanged))
        })
        .await?;
    if unchanged {
        return Ok(());
    }
    ctx.app
        .store
        .write(move |w| sync_state::put_sync_cache(w, account, &device, &merged))
        .await
}

/// The result of one collection's transaction.
enum Outcome {
    InvalidKey,
    /// A foreign collection no longer reached (unshared meanwhile): [MS-ASCMD]
    /// 2.2.3.177.17 Status 12, as for any folder the device does not have.
    Unreachable,
    /// The store could not make the collection's changes durable, for a transient reason:
    /// Status 16 ([MS-ASCMD] 2.2.3.177.17: "Something on the server caused a retriable
    /// error"; the client resends the request). The resent key is the current one (the
    /// write was rolled back), or, had the commit happened after all, the previous one,
    /// which is answered again.
    Retry,
    Done {
        key: IssuedSyncKey,
        changes: ServerChanges,
        responses: Vec<ItemResponse>,
        /// Drafts to send now that the round committed.
        sends: Vec<u64>,
        /// Meeting messages owed to attendees for the round's committed calendar changes
        /// (16.x, `pim::schedule`).
        notices: Vec<Notice>,
    },
}

/// One collection's answer, and whether it is "quiet": same key, nothing to tell.
async fn sync_collection(
    ctx: &mut Ctx<'_>,
    req: CollectionRequest,
    policy: &MailPolicy,
) -> Result<(Element, bool), StoreError> {
    let account = ctx.account.id;
    let key_text = req.key.clone();
    // Quarantine: the device's changes are applied, nothing of the folder flows to it.
    let sight = Sight::of(&ctx.device);
    let withheld = !sight.serves_contents();
    // The folder, and what this device's collection carries from other folders (its
    // settings decide; a state made under other settings is no longer valid: Status 3, the
    // device resyncs), from one snapshot.
    // A folder of another account the device reaches is named by the account's own id for
    // it; its items are read (and, as its rights allow, written) where the owner has them,
    // while the device's sync state stays the account's.
    let name = req.id.clone();
    let shown = (ctx.app.store)
        .view(move |tx| match sight.folder_named(tx, account, &name)? {
            Some(f) => {
                let merged = sight.merged_into(tx, account, &f)?;
                Ok::<_, StoreError>(Some((f, merged, None)))
            }
            None => Ok(foreign::folder_named(tx, account, &name, sight.reach())?
                .map(|r| (r.folder, None, Some((r.at, r.rights))))),
        })
        .await?;
    let (folder, merged, foreign) = match shown {
        Some(found) => found,
        // A folder the device is not shown (quarantine, its settings) is one it does not
        // have: [MS-ASCMD] 2.2.3.177.17 Status 12, "the folder hierarchy has changed", and
        // the device's next FolderSync tells it which folders it has.
        None => {
            let e = collection_status(&req.id, key_text.as_deref(), Status::HierarchyChanged);
            return Ok((e, false));
        }
    };
    // A folder shown as a mail folder is a mail collection (it takes no Add).
    let class = Class::of(folder.kind).filter(|_| !Merged::withholds_own(merged.as_ref()));
    let opts = match options(&req, policy, class) {
        Ok(o) => o,
        Err(why) => {
            tracing::info!(
                "{}: Sync options for {}: {why}",
                ctx.device.device_id,
                req.id
            );
            let e = collection_status(&req.id, key_text.as_deref(), Status::ProtocolError);
            return Ok((e, false));
        }
    };
    let window = req.window.unwrap_or(DEFAULT_WINDOW).clamp(1, MAX_WINDOW);
    let key = match &key_text {
        Some(k) => SyncKey::parse(k),
        // A cached request continues from the device's current key.
        None => current_key(&ctx.app.store, account, &ctx.device.device_id, folder.id).await?,
    };
    let key_before = key;
    let device = ctx.device.device_id.to_string();
    let sk = StateKey {
        account,
        device: &device,
        folder: folder.id,
    };
    let mut outcome = match key {
        SyncKey::Initial => or_retry(
            initial(
                &ctx.app.store,
                account,
                device.clone(),
                folder.id,
                opts.mail.filter,
                merged,
                req.supported.clone(),
            )
            .await
            .map(|key| Outcome::Done {
                key,
                changes: ServerChanges::default(),
                responses: Vec::new(),
                sends: Vec::new(),
                notices: Vec::new(),
            }),
        )?,
        SyncKey::Unknown => Outcome::InvalidKey,
        SyncKey::Issued(k) => {
            let get_changes = req.get_changes.unwrap_or(true) && !withheld;
            let asked = Asked {
                key: k,
                filter: opts.mail.filter,
                folder_modseq: folder.modseq,
                merged: merged.clone(),
                get_changes,
            };
            match quiet(&ctx.app.store, sk, foreign.map(|f| f.0), asked, &req).await? {
                Some(o) => o,
                None => {
                    let job = Job {
                        account,
                        device: device.clone(),
                        folder: folder.id,
                        kind: folder.kind,
                        foreign,
                        reach: sight.reach(),
                        class,
                        // Drafts are the account's own (a shared folder is never its Drafts).
                        drafts: (class.is_none() && foreign.is_none())
                            .then(|| drafts::Drafting::of(ctx, &folder))
                            .flatten(),
                        merged,
                        key: k,
                        filter: opts.mail.filter,
                        window,
                        get_changes,
                        deletes_as_moves: req.deletes_as_moves,
                        withheld,
                        // A quarantined device is sent nothing, so whatever it changes
                        // cannot conflict with a server version it was never shown.
                        conflict: if withheld {
                            Conflict::ClientWins
                        } else {
                            opts.conflict
                        },
                        commands: req.commands.clone(),
                        version: ctx.req.version,
                        // [MS-ASCMD] 3.1.5.5: from 16.0 the server sends the meeting
                        // requests of what the device organizes; below, the client does.
                        // A shared calendar's meetings are its owner's: the reader sends
                        // no meeting mail in their name.
                        organizer: (ctx.req.version >= ProtocolVersion::V16_0
                            && class == Some(Class::Calendar)
                            && foreign.is_none())
                        .then(|| Organizer {
                            email: ctx.account.email.clone(),
                            name: ctx.account.display_name.clone(),
                        }),
                        device_type: ctx.device.device_type.as_str().to_owned(),
                    };
                    // A round without client commands only advances the device's own sync
                    // state, so its commit need not be fsynced before the answer. If a power
                    // cut loses it (and every later commit up to the next durable one), the
                    // store is back at an older state whose key and previous key are both
                    // lower than any key the device was given since: the device's key is
                    // Unknown, it gets Status 3 and resyncs from 0 (nothing lost, nothing
                    // doubled). Client changes keep the fsync before their Status 1.
                    let durability = if req.commands.is_empty() {
                        Durability::Relaxed
                    } else {
                        Durability::Immediate
                    };
                    let done = ctx.app.store.write_with(durability, move |w| job.run(w));
                    or_retry(done.await)?
                }
            }
        }
    };
    if let Outcome::Done {
        sends,
        responses,
        notices,
        ..
    } = &mut outcome
    {
        drafts::send_all(ctx, folder.id, sends, responses).await;
        let owed = (&notices[..], ctx.req.locale);
        imip::send_notices(&ctx.app.store, &ctx.app.cfg, ctx.account, owed, now()).await;
    }
    match outcome {
        Outcome::Unreachable => {
            let e = collection_status(&req.id, key_text.as_deref(), Status::HierarchyChanged);
            Ok((e, false))
        }
        Outcome::InvalidKey => {
            let e = collection_status(&req.id, key_text.as_deref(), Status::InvalidKey);
            Ok((e, false))
        }
        Outcome::Retry => {
            let e = collection_status(&req.id, key_text.as_deref(), Status::Retry);
            Ok((e, false))
        }
        Outcome::Done {
            key,
            changes,
            responses,
            ..
        } => {
            let quiet =
                key_before == SyncKey::Issued(key) && changes.is_empty() && responses.is_empty();
            let e = render(
                (&ctx.app.store, &ctx.account.email),
                ctx.req.version,
                &req.id,
                key,
                &changes,
                &responses,
                &opts.mail.body,
            )?;
            Ok((e, quiet))
        }
    }
}

/// A collection's write that failed for a retriable reason becomes [`Outcome::Retry`] for
/// that collection alone; other failures stay errors of the whole request (HTTP 500).
fn or_retry(written: Result<Outcome, StoreError>) -> Result<Outcome, StoreError> {
    match written {
        Err(e) if retriable(&e) => {
            tracing::warn!("Sync write failed, the client is told to retry: {e}");
            Ok(Outcome::Retry)
        }
        other => other,
    }
}

async fn current_key(
    store: &Store,
    account: u64,
    device: &str,
    folder: FolderId,
) -> Result<SyncKey, StoreError> {
    let device = device.to_owned();
    let state = store
        .view(move |tx| {
            tx.sync_state(StateKey {
                account,
                device: &device,
                folder,
            })
        })
        .await?;
    Ok(state.map_or(SyncKey::Unknown, |s| SyncKey::Issued(s.key)))
}

/// SyncKey 0: a new, empty state. A second key-0 request before any data flowed gets the
/// same key (iOS sends two concurrently; a new key for the second would invalidate the first).
async fn initial(
    store: &Store,
    account: u64,
    device: String,
    folder: FolderId,
    filter: FilterType,
    merged: Option<Merged>,
    supported: Option<Vec<u16>>,
) -> Result<IssuedSyncKey, StoreError> {
    let fresh = IssuedSyncKey::fresh();
    store
        .write(move |w| {
            let k = StateKey {
                account,
                device: &device,
                folder,
            };
            if let Some(s) = w.sync_state(k)?
                && s.modseq == 0
                && s.previous.is_none()
                && Merged::same(s.merged.as_ref(), merged.as_ref())
                && w.held(k, Generation::Current)?.0.is_empty()
            {
                return Ok(s.key);
            }
            let state = CollectionState {
                key: fresh,
                filter,
                merged: merged.clone(),
                supported: supported.clone(),
                ..CollectionState::default()
            };
            sync_state::put_sync_state(w, k, &state, &Held::default(), None)?;
            Ok(fresh)
        })
        .await
}

/// What the read-only fast path checks a collection's stored state against.
struct Asked {
    key: IssuedSyncKey,
    /// The requested FilterType.
    filter: FilterType,
    /// The folder's position when it was looked up.
    folder_modseq: u64,
    merged: Option<Merged>,
    get_changes: bool,
}

/// The read-only fast path: a current key, no client commands, and nothing to send. The
/// state and the change log are read in one snapshot.
async fn quiet(
    store: &Store,
    sk: StateKey<'_>,
    at: Option<ForeignFolder>,
    asked: Asked,
    req: &CollectionRequest,
) -> Result<Option<Outcome>, StoreError> {
    if !req.commands.is_empty() {
        return Ok(None);
    }
    let (account, device, folder) = (sk.account, sk.device.to_owned(), sk.folder);
    store
        .view(move |tx| {
            let sk = StateKey {
                account,
                device: &device,
                folder,
            };
            let Asked {
                key,
                filter,
                folder_modseq,
                merged,
                get_changes,
            } = asked;
            let Some(state) = tx.sync_state(sk)? else {
                return Ok(Some(Outcome::InvalidKey));
            };
            match round::begin(&state, key, merged.as_ref(), filter) {
                None => return Ok(Some(Outcome::InvalidKey)),
                // A resend, or a new FilterType, moves the key on: a write.
                Some(start) if start.resent || start.filter_changed => return Ok(None),
                Some(_) => {}
            }
            // The same check Ping makes: cheap when the folder has not moved since the
            // last Sync, and it reads at most one item otherwise (the write path then
            // collects the window).
            if get_changes && stored::pending(tx, sk, at, folder_modseq, merged.as_ref(), now())? {
                return Ok(None);
            }
            Ok(Some(Outcome::Done {
                key,
                changes: ServerChanges::default(),
                responses: Vec::new(),
                sends: Vec::new(),
                notices: Vec::new(),
            }))
        })
        .await
}

/// Everything one collection's write transaction needs; run again as a whole if the writer
/// retries it.
struct Job {
    account: u64,
    device: String,
    folder: FolderId,
    kind: FolderType,
    /// Set when the collection is a folder of another account: where its items are, and
    /// what the account may do there.
    foreign: Option<(ForeignFolder, Rights)>,
    /// Which foreign folders the device reaches (its settings), to check `foreign` again
    /// in the write.
    reach: Reach,
    /// The collection's item class; `None`: mail.
    class: Option<Class>,
    /// Set when the collection is a 16.0+ device's Drafts folder: it takes drafts.
    drafts: Option<drafts::Drafting>,
    /// What the collection carries from other folders, as the device's settings now say.
    merged: Option<Merged>,
    key: IssuedSyncKey,
    filter: FilterType,
    window: usize,
    get_changes: bool,
    /// Nothing of the folder is sent (a quarantined device): a Fetch finds nothing.
    withheld: bool,
    deletes_as_moves: bool,
    conflict: Conflict,
    commands: Vec<ClientCommand>,
    /// The device's protocol version: what its Changes can carry.
    version: ProtocolVersion,
    /// Set for a 16.x device's calendar: the user, who organizes the meetings it adds,
    /// changes and deletes, and whose server mails their REQUESTs and CANCELs.
    organizer: Option<Organizer>,
    /// Its DeviceType, for the clients' quirks (`groupware::Writer::for_device`).
    device_type: String,
}

impl Job {
    /// Where the collection's items are stored: the account's folder, or the owner's
    /// folder a foreign one stands for.
    fn home(&self) -> (u64, FolderId) {
        match self.foreign {
            Some((at, _)) => (at.owner, at.folder),
            None => (self.account, self.folder),
        }
    }

    /// Whether the account may do what `right` asks of its rights in the collection: in its
    /// own folders everything.
    fn may(&self, right: impl Fn(Rights) -> bool) -> bool {
        self.foreign.is_none_or(|(_, rights)| right(rights))
    }

    /// The collection's change log and items, as the device is sent them.
    fn log<'a, 'w>(&self, w: &'a WriteCtx<'w>) -> StoreLog<'a, WriteCtx<'w>> {
        StoreLog::of(w, self.account, self.folder, self.foreign.map(|f| f.0))
    }

    fn run(&self, w: &mut WriteCtx) -> Result<Outcome, StoreError> {
        let sk = StateKey {
            account: self.account,
            device: &self.device,
            folder: self.folder,
        };
        // A share may have changed since the folder was looked up: this write goes on only
        // under the access the store holds now (gone: Status 12; other rights: Status 16,
        // and the client's resend is looked up afresh).
        if let Some(seen) = self.foreign {
            match w.foreign_access(self.account, self.folder, self.reach)? {
                None => return Ok(Outcome::Unreachable),
                Some(now) if now != seen => return Ok(Outcome::Retry),
                Some(_) => {}
            }
        }
        let Some(stored) = w.sync_state(sk)? else {
            return Ok(Outcome::InvalidKey);
        };
        // The position this request is answered from, and what becomes "previous".
        let Some(start) = round::begin(&stored, self.key, self.merged.as_ref(), self.filter) else {
            return Ok(Outcome::InvalidKey);
        };
        let Start {
            mut state,
            previous,
            resent,
            filter_changed,
            ..
        } = start;
        let previous_held = w.held(sk, start.held)?;
        let mut held = previous_held.clone();
        // The Adds (and drafts' attachments) of a lost answer's round, when this is its
        // resend.
        let lost_round = resent.then(|| drafts::Resent {
            added: &stored.added,
            attached: &stored.attached,
            refused: &stored.refused,
        });
        let replay = lost_round.as_ref().map_or(&[][..], |r| r.added);
        let mut sends = Vec::new();
        let mut notices = Vec::new();
        let (responses, refused) = self.apply_commands(
            w,
            (&mut state, &mut held),
            (replay, lost_round.as_ref()),
            (&mut sends, &mut notices),
        )?;
        let log = self.log(w);
        let mut changes = if self.get_changes {
            round::serve(&log, self.folder, &mut state, &mut held, self.window, now())?
        } else {
            ServerChanges::default()
        };
        for (folder, id, deleted) in refused {
            let refused = (folder, id);
            round::resend_refused(
                &log,
                self.folder,
                &state,
                &mut held,
                refused,
                deleted,
                &mut changes,
            )?;
        }
        let moved = resent || !self.commands.is_empty() || !changes.is_empty() || filter_changed;
        let key = match round::conclude(stored.key, state, previous, moved) {
            None => stored.key,
            Some(next) => {
                sync_state::put_sync_state(w, sk, &next, &held, Some(&previous_held))?;
                next.key
            }
        };
        Ok(Outcome::Done {
            key,
            changes,
            responses,
            sends,
            notices,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retriable_write_failure_is_status_16_for_the_collection() {
        assert!(matches!(
            or_retry(Err(StoreError::WriterGone)),
            Ok(Outcome::Retry)
        ));
        assert!(matches!(
            or_retry(Err(StoreError::Io(std::io::Error::other("commit failed")))),
            Ok(Outcome::Retry)
        ));
        assert!(matches!(
            or_retry(Err(StoreError::Corrupt {
                what: "sync_state",
                detail: "bad".into()
            })),
            Err(StoreError::Corrupt { .. })
        ));
        assert!(matches!(
            or_retry(Ok(Outcome::InvalidKey)),
            Ok(Outcome::InvalidKey)
        ));
    }
}
