//! The Sync response ([MS-ASCMD] 2.2.1.21): a collection's answer built from the outcome
//! of its round. Writes nothing; messages are read from their blobs.

use crate::eas::class::groupware;
use crate::eas::class::{BodyOptions, email, full_data, generated_data, notes, tasks};
use crate::proto::ids::IssuedSyncKey;
use crate::proto::ids::ItemRef;
use crate::proto::status::command_status;
use crate::proto::version::ProtocolVersion;
use crate::store::model::Summary;
use crate::store::model::pim::Record;
use crate::store::model::{GroupwareItem, Merge};
use crate::store::{Store, StoreError};
use crate::sync::collection::{ServerChanges, SyncItem};
use crate::wbxml::{Element, tag::airsync as a};

command_status! {
    /// Sync Status values ([MS-ASCMD] 2.2.3.177.17).
    pub(super) enum Status {
        Ok = 1,
        /// Invalid or mismatched synchronization key: the client starts the collection over.
        InvalidKey = 3,
        ProtocolError = 4,
        ServerError = 5,
        /// The client's item could not be converted (bad ApplicationData).
        ConversionError = 6,
        /// A client change conflicts with a server change; the server's wins.
        Conflict = 7,
        /// The item the client named is not there.
        NotFound = 8,
        /// The folder hierarchy changed: the client runs FolderSync first.
        HierarchyChanged = 12,
        /// An empty or Partial Sync with nothing cached to complete it.
        Incomplete = 13,
        /// Wait or HeartbeatInterval out of range.
        InvalidWait = 14,
        TooManyCollections = 15,
        /// A transient server failure: the client retries.
        Retry = 16,
    }
}

/// One item's answer in Responses.
pub(super) enum ItemResponse {
    /// `data`: the ApplicationData of the answer (a draft's added attachments, a 16.x event's UID).
    Change {
        server_id: String,
        status: Status,
        data: Option<Element>,
    },
    Delete {
        server_id: String,
        status: Status,
    },
    Add {
        client_id: String,
        status: Status,
        /// The new item's ServerId, with Status 1.
        server_id: Option<String>,
        data: Option<Element>,
    },
    Fetch {
        server_id: String,
        item: Option<Box<SyncItem>>,
    },
}

/// A collection answered with a Status alone (and the key it named, when it named one).
pub(super) fn collection_status(id: &str, key: Option<&str>, status: Status) -> Element {
    let mut e = Element::new(a::COLLECTION);
    if let Some(k) = key {
        e.push_text(a::SYNC_KEY, k);
    }
    e.text_child(a::COLLECTION_ID, id)
        .text_child(a::STATUS, status.to_string())
}

/// A collection's answer: its new key, the server's changes (Commands) and the answers
/// to the client's commands (Responses). Messages are read from their blobs as they are
/// rendered; nothing is written.
/// `owner`: the account's address, which the messages made of notes and tasks are from.
pub(super) fn render(
    (store, owner): (&Store, &str),
    version: ProtocolVersion,
    collection_id: &str,
    key: IssuedSyncKey,
    changes: &ServerChanges,
    responses: &[ItemResponse],
    body: &BodyOptions,
) -> Result<Element, StoreError> {
    let mut e = Element::new(a::COLLECTION)
        .text_child(a::SYNC_KEY, key.to_string())
        .text_child(a::COLLECTION_ID, collection_id)
        .text_child(a::STATUS, Status::Ok.to_string());
    if changes.more_available {
        e.push(Element::new(a::MORE_AVAILABLE));
    }
    if !changes.is_empty() {
        let mut cmds = Element::new(a::COMMANDS);
        for item in &changes.adds {
            cmds.push(
                Element::new(a::ADD)
                    .text_child(
                        a::SERVER_ID,
                        ItemRef::new(item.folder(), item.id()).to_string(),
                    )
                    .child(item_data((store, owner), item, body, version)?),
            );
        }
        for item in &changes.changes {
            // A message changes only in its flags, a draft as a whole ([MS-ASEMAIL] 16.0);
            // other items are sent whole.
            let data = match item {
                SyncItem::Mail(m) if !m.flags.draft => email::flags_change(m, version),
                other => item_data((store, owner), other, body, version)?,
            };
            cmds.push(
                Element::new(a::CHANGE)
                    .text_child(
                        a::SERVER_ID,
                        ItemRef::new(item.folder(), item.id()).to_string(),
                    )
                    .child(data),
            );
        }
        for (folder, id) in &changes.deletes {
            cmds.push(
                Element::new(a::DELETE)
                    .text_child(a::SERVER_ID, ItemRef::new(*folder, *id).to_string()),
            );
        }
        let folder = collection_id.parse().unwrap_or_default();
        for id in &changes.soft_deletes {
            cmds.push(
                Element::new(a::SOFT_DELETE)
                    .text_child(a::SERVER_ID, ItemRef::new(folder, *id).to_string()),
            );
        }
        e.push(cmds);
    }
    if !responses.is_empty() {
        let mut r = Element::new(a::RESPONSES);
        for resp in responses {
            r.push(match resp {
                ItemResponse::Change {
                    server_id,
                    status,
                    data,
                } => {
                    let e = Element::new(a::CHANGE)
                        .text_child(a::SERVER_ID, server_id.clone())
                        .text_child(a::STATUS, status.to_string());
                    match data {
                        Some(d) => e.child(d.clone()),
                        None => e,
                    }
                }
                ItemResponse::Delete { server_id, status } => Element::new(a::DELETE)
                    .text_child(a::SERVER_ID, server_id.clone())
                    .text_child(a::STATUS, status.to_string()),
                ItemResponse::Add {
                    client_id,
                    status,
                    server_id,
                    data,
                } => {
                    let mut e = Element::new(a::ADD).text_child(a::CLIENT_ID, client_id.clone());
                    if let Some(sid) = server_id {
                        e.push_text(a::SERVER_ID, sid.clone());
                    }
                    e.push_text(a::STATUS, status.to_string());
                    if let Some(d) = data {
                        e.push(d.clone());
                    }
                    e
                }
                ItemResponse::Fetch {
                    server_id,
                    item: None,
                } => Element::new(a::FETCH)
                    .text_child(a::SERVER_ID, server_id.clone())
                    .text_child(a::STATUS, Status::NotFound.to_string()),
                ItemResponse::Fetch {
                    server_id,
                    item: Some(item),
                } => Element::new(a::FETCH)
                    .text_child(a::SERVER_ID, server_id.clone())
                    .text_child(a::STATUS, Status::Ok.to_string())
                    .child(item_data((store, owner), item, body, version)?),
            });
        }
        e.push(r);
    }
    Ok(e)
}

/// The ApplicationData of an item as the collection carries it: a message read from its
/// blob; a groupware item's record, for this reader's version; a merged item converted.
fn item_data(
    (store, owner): (&Store, &str),
    item: &SyncItem,
    body: &BodyOptions,
    version: ProtocolVersion,
) -> Result<Element, StoreError> {
    match item {
        SyncItem::Mail(m) => full_data(store, m, body, version),
        SyncItem::Groupware(g) => Ok(groupware::application_data(g, version)),
        SyncItem::Merged(g, what) => {
            // The scan only carries items their conversion admits (tasks as tasks, notes
            // as notes), so another pairing is a record that changed class under it.
            match (what, &g.summary, &g.record) {
                (Merge::TasksAsEvents { .. }, Summary::Task(s), Record::Task(t)) => {
                    Ok(tasks::as_event(g, t, s).render(version))
                }
                (Merge::NotesAsEvents, Summary::Note(s), Record::Note(n)) => {
                    Ok(notes::as_event(g, n, s).render(version))
                }
                (Merge::NotesAsTasks, Summary::Note(s), Record::Note(n)) => {
                    Ok(notes::as_task(n, s).render(version))
                }
                // A note or task shown as mail: its generated message, whole (a changed
                // item is sent whole, as a draft is).
                (Merge::AsMail, Summary::Note(_) | Summary::Task(_), _) => {
                    generated_data(g, owner, body, version).ok_or_else(|| unconvertible(g, what))
                }
                _ => Err(unconvertible(g, what)),
            }
        }
    }
}

fn unconvertible(g: &GroupwareItem, what: &Merge) -> StoreError {
    StoreError::Corrupt {
        what: "groupware_items",
        detail: format!(
            "item {} of folder {} cannot be shown as {what:?}",
            g.id, g.folder
        ),
    }
}
