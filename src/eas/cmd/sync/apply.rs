//! A Sync round's client commands (Add, Change, Delete, Fetch; [MS-ASCMD] 2.2.1.21)
//! applied to the store inside the collection's write transaction: what each command
//! names, whether it conflicts, and its per-item answer.

use std::collections::HashMap;

use super::request::ClientCommand;
use super::{Conflict, ItemResponse, Job, Status, drafts};
use crate::eas::class::email;
use crate::eas::class::groupware::{self, Class};
use crate::pim::schedule::{self, Notice};
use crate::proto::ids::ItemRef;
use crate::proto::version::ProtocolVersion;
use crate::store::items::{self, ItemReads};
use crate::store::model::pim::{Event, Record, Stamp};
use crate::store::model::{CollectionState, Held};
use crate::store::model::{FolderId, FolderType};
use crate::store::ops::Reads;
use crate::store::{StoreError, WriteCtx};
use crate::sync::collection::{self as coll, SyncItem};
use crate::sync::round::{self, Log, Target};
use crate::sync::stored;
use crate::wbxml::Element;

/// What a client's Change does to an item.
enum Edit {
    /// Mail: flags, categories and the like.
    Flags(email::FlagChange),
    /// Groupware: the Change read as a record, and its ApplicationData (what it names),
    /// merged into the stored item when applied.
    Merge(Record, Element),
    /// Calendar, 16.x: one occurrence of a series changed (its original start, the
    /// Change read as an event, its ApplicationData) or deleted.
    Instance(Stamp, Record, Element),
    DeleteInstance(Stamp),
}

/// A merged item the client changed or deleted: (its folder, its id, deleted).
type Refused = (FolderId, u64, bool);

impl Job {
    /// Applies the client's commands; the per-item responses, and the merged items the
    /// client changed or deleted (refused: it gets them back as the server has them).
    pub(super) fn apply_commands(
        &self,
        w: &mut WriteCtx,
        (state, held): (&mut CollectionState, &mut Held),
        (replay, resent): (&[(String, u64)], Option<&drafts::Resent<'_>>),
        (sends, notices): (&mut Vec<u64>, &mut Vec<Notice>),
    ) -> Result<(Vec<ItemResponse>, Vec<Refused>), StoreError> {
        let mut out = Vec::new();
        let mut refused = Vec::new();
        let merged = state.merged.clone();
        let replay: HashMap<&str, u64> = replay.iter().map(|(c, id)| (c.as_str(), *id)).collect();
        // Deleted Items, looked up at the first Delete that moves there.
        let mut trash = None;
        // The folder's events by ClientUid, read at the round's first 16.x Add that
        // carries one (see `add`).
        let mut client_uids = None;
        let target = |sid: &str| round::target(sid, self.folder, merged.as_ref());
        for (pos, cmd) in (0u32..).zip(&self.commands) {
            match cmd {
                ClientCommand::Change {
                    server_id,
                    data,
                    send,
                    instance,
                } => {
                    if let (Some(d), Target::Own(id)) = (&self.drafts, target(server_id)) {
                        let answer =
                            self.change_draft(d, w, state, resent, (pos, id, data, *send), sends)?;
                        if answer.status != Status::Ok || answer.data.is_some() {
                            out.push(ItemResponse::Change {
                                server_id: server_id.clone(),
                                status: answer.status,
                                data: answer.data,
                            });
                        }
                        continue;
                    }
                    let status = match target(server_id) {
                        Target::Unknown => Status::NotFound,
                        // A merged item (a task shown as an event) is the other folder's:
                        // the calendar cannot edit it. [MS-ASCMD] 2.2.3.177.17 Status 6, and
                        // the device gets the item back as the server has it.
                        Target::Merged(f, i, _) => {
                            refused.push((f, i, false));
                            Status::ConversionError
                        }
                        // A shared folder the account may not write in: refused like a
                        // merged item (Status 6, [MS-ASCMD] 2.2.3.177.17; the protocol
                        // has no Status for a missing right), and the item is sent back.
                        Target::Own(id) if !self.may(|r| r.write) => {
                            refused.push((self.folder, id, false));
                            Status::ConversionError
                        }
                        Target::Own(id) => match self.edit(data, instance.as_deref()) {
                            // [MS-ASCMD] 2.2.3.177.17: "The client has sent a malformed or
                            // invalid item."
                            None => Status::ConversionError,
                            Some(edit) => self.change(w, state, id, &edit, notices)?,
                        },
                    };
                    // [MS-ASCMD] 2.2.3.24: a successful Change gets no response element.
                    if status != Status::Ok {
                        out.push(ItemResponse::Change {
                            server_id: server_id.clone(),
                            status,
                            data: None,
                        });
                    }
                }
                ClientCommand::Delete {
                    server_id,
                    instance: Some(at),
                } => {
                    let status = match (target(server_id), self.instance(at)) {
                        (Target::Own(id), _) if !self.may(|r| r.write) => {
                            refused.push((self.folder, id, false));
                            Status::ConversionError
                        }
                        (Target::Own(id), Some(at)) => {
                            self.change(w, state, id, &Edit::DeleteInstance(at), notices)?
                        }
                        (Target::Own(_), None) => Status::ConversionError,
                        (Target::Merged(f, i, _), _) => {
                            refused.push((f, i, false));
                            Status::ConversionError
                        }
                        (Target::Unknown, _) => Status::NotFound,
                    };
                    if status != Status::Ok {
                        out.push(ItemResponse::Delete {
                            server_id: server_id.clone(),
                            status,
                        });
                    }
                }
                ClientCommand::Delete {
                    server_id,
                    instance: None,
                } => {
                    let status = match target(server_id) {
                        Target::Unknown => Status::NotFound,
                        // Deleting the event must not delete the user's task: refused
                        // (Status 6), and the event is sent again.
                        Target::Merged(f, i, _) => {
                            refused.push((f, i, true));
                            Status::ConversionError
                        }
                        Target::Own(id) if !self.may(|r| r.delete) => {
                            refused.push((self.folder, id, true));
                            Status::ConversionError
                        }
                        Target::Own(id) => match self.delete(w, id, &mut trash, notices)? {
                            Some(tombstone) => {
                                state.own.push((id, tombstone));
                                held.0.remove(&id);
                                Status::Ok
                            }
                            // Already gone: a resend of a delete whose answer was lost.
                            None if held.0.remove(&id).is_some() => Status::Ok,
                            None => Status::NotFound,
                        },
                    };
                    if status != Status::Ok {
                        out.push(ItemResponse::Delete {
                            server_id: server_id.clone(),
                            status,
                        });
                    }
                }
                ClientCommand::Fetch { server_id } => {
                    let item = match target(server_id) {
                        _ if self.withheld => None,
                        Target::Own(i) => self
                            .log(w)
                            .item(self.folder, i, None)?
                            .filter(|i| self.class.is_some() || matches!(i, SyncItem::Mail(_))),
                        Target::Merged(f, i, what) => {
                            stored::read_item(w, self.account, f, i, Some(what))?
                        }
                        Target::Unknown => None,
                    }
                    .map(Box::new);
                    out.push(ItemResponse::Fetch {
                        server_id: server_id.clone(),
                        item,
                    });
                }
                ClientCommand::Add {
                    client_id,
                    data,
                    send,
                } => {
                    let answer = match &self.drafts {
                        // Nothing is added to a shared folder the account may not write in
                        // (Status 6 as for a Change, above).
                        _ if !self.may(|r| r.write) => drafts::Answer {
                            status: Status::ConversionError,
                            item: None,
                            data: None,
                        },
                        Some(d) => self.add_draft(
                            d,
                            w,
                            (state, held),
                            resent,
                            (pos, client_id, data.as_ref(), *send),
                            sends,
                        )?,
                        None => {
                            let added = self.add(
                                w,
                                (state, held),
                                (&replay, &mut client_uids),
                                (client_id, data.as_ref()),
                                notices,
                            )?;
                            drafts::Answer {
                                status: if added.is_some() {
                                    Status::Ok
                                } else {
                                    Status::ConversionError
                                },
                                item: added,
                                data: match added {
                                    Some(id) => self.uid_answer(w, id)?,
                                    None => None,
                                },
                            }
                        }
                    };
                    out.push(ItemResponse::Add {
                        client_id: client_id.clone(),
                        status: answer.status,
                        server_id: answer
                            .item
                            .map(|id| ItemRef::new(self.folder, id).to_string()),
                        data: answer.data,
                    });
                }
            }
        }
        Ok((out, refused))
    }

    /// An InstanceId of a calendar collection's Change or Delete: the occurrence's
    /// original start; `None` (Status 6) in another class or when it is no dateTime
    /// ([MS-ASAIRS] 2.2.2.25).
    fn instance(&self, at: &str) -> Option<Stamp> {
        let at = (self.class == Some(Class::Calendar))
            .then(|| crate::proto::datetime::parse_datetime(at))
            .flatten()
            .map(Stamp);
        if at.is_none() {
            tracing::info!("{}: InstanceId refused", self.device);
        }
        at
    }

    /// What a client's Change asks of an item of this collection; `None` when malformed.
    fn edit(&self, data: &Element, instance: Option<&str>) -> Option<Edit> {
        if let Some(at) = instance {
            let at = self.instance(at)?;
            return crate::eas::class::read_groupware(Class::Calendar, data)
                .map(|record| Edit::Instance(at, record, data.clone()))
                .inspect_err(|why| tracing::info!("{}: Sync Change refused: {why}", self.device))
                .ok();
        }
        let edit = match self.class {
            None => email::parse_change(data)
                .map(Edit::Flags)
                .map_err(|e| format!("{e:?}")),
            Some(class) => crate::eas::class::read_groupware(class, data)
                .map(|record| Edit::Merge(record, data.clone()))
                .map_err(|e| e.to_string()),
        };
        edit.inspect_err(|why| tracing::info!("{}: Sync Change refused: {why}", self.device))
            .ok()
    }

    /// A client's Add: the new item's id, or `None` (Status 6). Mail items are created by
    /// delivery and SendMail, and as drafts (`add_draft`), never by this. A resend of a round whose answer was lost
    /// gets the item that round made, not a second one; so does a 16.x event whose
    /// ClientUid an event of the folder already has (`client_uids`, read once a round).
    fn add(
        &self,
        w: &mut WriteCtx,
        (state, held): (&mut CollectionState, &mut Held),
        (replay, client_uids): (&HashMap<&str, u64>, &mut Option<HashMap<String, u64>>),
        (client_id, data): (&str, Option<&Element>),
        notices: &mut Vec<Notice>,
    ) -> Result<Option<u64>, StoreError> {
        let Some(class) = self.class else {
            tracing::info!("{}: Sync Add refused: not a groupware folder", self.device);
            return Ok(None);
        };
        if let Some(id) = replay.get(client_id) {
            return self.added_before(w, (state, held), client_id, *id);
        }
        let parsed = match data {
            Some(d) => crate::eas::class::parse_groupware(class, d),
            None => Err(groupware::Malformed::new(
                class,
                "Add without ApplicationData",
            )),
        };
        let (mut record, summary) = match parsed {
            Ok(p) => p,
            Err(why) => {
                tracing::info!("{}: Sync Add refused: {why}", self.device);
                return Ok(None);
            }
        };
        let client_uid = match &mut record {
            Record::Event(event) => {
                give_uid(event);
                self.client_uid(event)
            }
            _ => None,
        };
        if let Some(cu) = &client_uid {
            let known = match client_uids {
                Some(known) => known,
                None => client_uids.insert(self.client_uids(w)?),
            };
            if let Some(&id) = known.get(cu) {
                tracing::info!(
                    "{}: Sync Add of ClientUid {cu} answered with its event {id}",
                    self.device
                );
                return self.added_before(w, (state, held), client_id, id);
            }
        }
        // A retried Add (above) owes nothing: its REQUEST went with the first.
        if let (Record::Event(event), Some(me)) = (&mut record, &self.organizer) {
            notices.extend(schedule::plan(me, None, Some(event)));
        }
        let (account, folder) = self.home();
        let item = items::put_groupware(w, account, folder, None, record, summary)?
            .ok_or_else(|| StoreError::NotFound(format!("new item in folder {}", self.folder)))?;
        if let (Some(cu), Some(known)) = (client_uid, client_uids.as_mut()) {
            known.insert(cu, item.id);
        }
        state.own.push((item.id, item.modseq));
        state.added.push((client_id.to_owned(), item.id));
        let id = item.id;
        held.0.insert(id, SyncItem::Groupware(item).window_date());
        Ok(Some(id))
    }

    /// An Add answered with item `id`, made before (a resent round, or the same ClientUid):
    /// the device holds it now, under this ClientId.
    fn added_before(
        &self,
        w: &mut WriteCtx,
        (state, held): (&mut CollectionState, &mut Held),
        client_id: &str,
        id: u64,
    ) -> Result<Option<u64>, StoreError> {
        if let Some(item) = {
            let (account, folder) = self.home();
            w.groupware_item(account, folder, id)
        }? {
            held.0
                .insert(item.id, SyncItem::Groupware(item).window_date());
        }
        state.added.push((client_id.to_owned(), id));
        Ok(Some(id))
    }

    /// The ClientUid of a 16.x event Add: [MS-ASCAL] 2.2.2.13, a client's id for the
    /// event that stays the same when it retries the Add after a lost answer, so that the
    /// server does not make the event twice. Below 16.0 there is none.
    fn client_uid(&self, event: &Event) -> Option<String> {
        (self.version >= ProtocolVersion::V16_0)
            .then(|| event.client_uid.clone())
            .flatten()
            .filter(|cu| !cu.is_empty())
    }

    /// The folder's events that have a ClientUid, by it.
    fn client_uids(&self, w: &WriteCtx) -> Result<HashMap<String, u64>, StoreError> {
        Ok({
            let (account, folder) = self.home();
            w.groupware_items(account, folder)
        }?
        .into_iter()
        .filter_map(|item| match item.record {
            Record::Event(e) => e
                .client_uid
                .filter(|cu| !cu.is_empty())
                .map(|cu| (cu, item.id)),
            _ => None,
        })
        .collect())
    }

    /// The ApplicationData of a 16.x calendar Add's answer: the UID the server gave the
    /// event ([MS-ASCAL] 2.2.2.46: from 16.0 the client sends none, and the server returns
    /// it in the Sync Add response).
    fn uid_answer(&self, w: &mut WriteCtx, id: u64) -> Result<Option<Element>, StoreError> {
        if self.version < ProtocolVersion::V16_0 || self.class != Some(Class::Calendar) {
            return Ok(None);
        }
        let (account, folder) = self.home();
        let Some(item) = w.groupware_item(account, folder, id)? else {
            return Ok(None);
        };
        let Record::Event(event) = &item.record else {
            return Ok(None);
        };
        Ok(event.uid.as_ref().map(|uid| {
            Element::new(crate::wbxml::tag::airsync::APPLICATION_DATA)
                .text_child(crate::wbxml::tag::calendar::UID, uid.clone())
        }))
    }

    /// Applies a client's Change to item `id`; its Status. An item that changed on the
    /// server since the device's key is a conflict ([MS-ASCMD] 2.2.3.34): the server
    /// object wins (Status 7, the change is discarded and the server's version reaches the
    /// device as a Change, in this answer when it asks for changes) unless the client asked
    /// for Conflict 0. Then the change is applied and,
    /// unlike a plain change, not recorded as the device's own: the item as the server now
    /// holds it (the server's changes the client did not override included) goes back to
    /// the device as a Change, so both end up with the same object.
    fn change(
        &self,
        w: &mut WriteCtx,
        state: &mut CollectionState,
        id: u64,
        edit: &Edit,
        notices: &mut Vec<Notice>,
    ) -> Result<Status, StoreError> {
        let (account, folder) = self.home();
        let current = match edit {
            Edit::Flags(_) => w.item(account, folder, id)?.map(|i| i.modseq),
            Edit::Merge(..) | Edit::Instance(..) | Edit::DeleteInstance(_) => {
                w.groupware_item(account, folder, id)?.map(|g| g.modseq)
            }
        };
        let Some(current) = current else {
            return Ok(Status::NotFound);
        };
        let conflict = coll::changed_since_served(state, id, current);
        if conflict && self.conflict == Conflict::ServerWins {
            return Ok(Status::Conflict);
        }
        let changed = match edit {
            Edit::Flags(change) => {
                items::update_flags(w, account, folder, id, |f| change.apply(f))?.map(|i| i.modseq)
            }
            Edit::Merge(..) | Edit::Instance(..) | Edit::DeleteInstance(_) => {
                let Some(stored) = w.groupware_item(account, folder, id)? else {
                    return Ok(Status::NotFound);
                };
                let record = match edit {
                    Edit::Merge(sent, change) => {
                        let writer = groupware::Writer::for_device(
                            self.version,
                            state.supported.as_deref(),
                            &self.device_type,
                        );
                        Ok(groupware::merge(
                            &stored.record,
                            sent.clone(),
                            change,
                            writer,
                        ))
                    }
                    Edit::Instance(at, Record::Event(sent), change) => {
                        groupware::edit_instance(&stored.record, *at, Some((sent, change)))
                    }
                    Edit::DeleteInstance(at) => groupware::edit_instance(&stored.record, *at, None),
                    _ => Err("an occurrence's Change that is not an event".into()),
                };
                // The checks are made on the item as it would be: a Change may name
                // only some elements.
                let checked = record
                    .and_then(|r| crate::eas::class::summarize(&r).map(|summary| (r, summary)));
                let (mut record, summary) = match checked {
                    Ok(c) => c,
                    Err(why) => {
                        tracing::info!("{}: Sync Change refused: {why}", self.device);
                        return Ok(Status::ConversionError);
                    }
                };
                if let (Some(me), Record::Event(before), Record::Event(after)) =
                    (&self.organizer, &stored.record, &mut record)
                {
                    notices.extend(schedule::plan(me, Some(before), Some(after)));
                }
                items::put_groupware(w, account, folder, Some(id), record, summary)?
                    .map(|g| g.modseq)
            }
        };
        let Some(modseq) = changed else {
            return Ok(Status::NotFound);
        };
        if modseq != current && !conflict {
            state.own.push((id, modseq));
        }
        Ok(Status::Ok)
    }

    /// Deletes (or, for mail with DeletesAsMoves, moves to Deleted Items) one item; the tombstone's
    /// modseq in this folder, or `None` when the item does not exist. `trash` keeps the
    /// Deleted Items folder once looked up, for the round's other Deletes.
    fn delete(
        &self,
        w: &mut WriteCtx,
        id: u64,
        trash: &mut Option<Option<FolderId>>,
        notices: &mut Vec<Notice>,
    ) -> Result<Option<u64>, StoreError> {
        let (account, folder) = self.home();
        if let Some(me) = &self.organizer
            && let Some(item) = w.groupware_item(account, folder, id)?
            && let Record::Event(before) = &item.record
        {
            notices.extend(schedule::plan(me, Some(before), None));
        }
        // Groupware items are deleted outright: Deleted Items holds mail only in easd
        // (DeletesAsMoves is a request, [MS-ASCMD] 2.2.3.43).
        if self.class.is_some() {
            return items::delete_groupware(w, account, folder, id);
        }
        // A shared folder's mail is deleted outright: the account's Deleted Items is not
        // its owner's.
        let trash = if self.deletes_as_moves
            && self.kind != FolderType::DeletedItems
            && self.foreign.is_none()
        {
            if trash.is_none() {
                let found = (w.folders(self.account)?.into_iter())
                    .find(|f| f.kind == FolderType::DeletedItems)
                    .map(|f| f.id);
                *trash = Some(found);
            }
            trash.flatten()
        } else {
            None
        };
        Ok(match trash {
            Some(t) => items::move_to(w, account, folder, id, t)?.map(|(tomb, _)| tomb),
            None => items::delete(w, account, folder, id)?.map(|(_, tomb)| tomb),
        })
    }
}

/// Gives a new event the server's UID when its client sent none: from 16.0 the client MUST
/// NOT send one and the server generates it ([MS-ASCAL] 2.2.2.46); before, the server MAY
/// create one, and does, so that every reader (and a later iCalendar form) has one.
fn give_uid(event: &mut Event) {
    if event.uid.as_deref().is_none_or(str::is_empty) {
        event.uid = Some(format!("{:032X}", rand::random::<u128>()));
    }
}
