//! A device's sync state per collection, and the parameters an empty Sync or Ping repeats.
//!
//! The rules over these records are in `sync::collection` (and the front door's Sync and
//! Ping); here are only their stored shapes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::FolderId;
use crate::proto::filter::FilterType;
use crate::proto::ids::IssuedSyncKey;
use crate::store::StoreError;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CollectionState {
    pub key: IssuedSyncKey,
    /// Every log entry up to here has been dealt with for this device.
    pub modseq: u64,
    /// FilterType in force.
    pub filter: FilterType,
    /// After a filter change the log is scanned again from 0; entries up to here were
    /// already served, so an item the device holds is not sent again as a Change.
    #[serde(default)]
    pub rescan_until: u64,
    /// (item, modseq) of changes this device made itself: not sent back to it.
    #[serde(default)]
    pub own: Vec<(u64, u64)>,
    pub previous: Option<Previous>,
    /// Other folders whose items this collection carries, and the positions in their logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged: Option<Merged>,
    /// (ClientId, item) of the items the device added in the round that made `key`: a
    /// resend of that round (the previous key) is answered with the same items.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub added: Vec<(String, u64)>,
    /// (position of the command in that round, ClientId, MIME part) of the attachments
    /// the device added to drafts: a resend gets the same FileReferences.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attached: Vec<(u32, String, u32)>,
    /// (position of the command, Status) of the draft Changes that round refused: a
    /// resend gets them again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<(u32, u8)>,
    /// The elements the device's initial Sync of a contacts or calendar folder listed in
    /// Supported ([MS-ASCMD] 2.2.3.179), as code page << 8 | token; `None`: it sent no
    /// Supported. Every other element that can be ghosted is, for this device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported: Option<Vec<u16>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Previous {
    pub key: IssuedSyncKey,
    pub modseq: u64,
    pub filter: FilterType,
    #[serde(default)]
    pub rescan_until: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged: Option<Merged>,
}

/// What a collection carries other than its folder's own items: from other folders, each
/// source folder, its conversion, and how far into its log the device has been served; or
/// none of its own groupware items (a groupware folder shown as a mail folder, a notes
/// folder whose notes the device gets as events or tasks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Merged {
    pub sources: Vec<Source>,
    /// The folder's own calendar, contact, task or note items are not carried (nor can the
    /// device add any): it is shown as a mail folder (`groupware_folders=all-as-mail`, for
    /// clients that only do mail), or it is a notes folder whose notes the device gets
    /// elsewhere, as events or tasks (`notes_as=events|tasks`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub withholds_own: bool,
    /// The folder's own groupware items are carried converted instead
    /// (`groupware_folders=all-as-mail`: notes and tasks as generated messages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub own_as: Option<Merge>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub folder: FolderId,
    pub what: Merge,
    pub at: u64,
}

/// A conversion of other folders' items into a collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Merge {
    /// Tasks as all-day events in a calendar; with `not_completed`, only the open ones.
    TasksAsEvents { not_completed: bool },
    /// Notes as all-day events in a calendar.
    NotesAsEvents,
    /// Notes as tasks in a task folder.
    NotesAsTasks,
    /// A notes or tasks folder's own items as generated read-only messages, in that folder
    /// shown as a mail folder (`groupware_folders=all-as-mail`).
    AsMail,
}

/// Items the device holds: id → DateReceived (for the filter window's moving edge).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Held(pub BTreeMap<u64, i64>);

impl Held {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.0.len() * 16);
        for (id, received) in &self.0 {
            out.extend_from_slice(&id.to_le_bytes());
            out.extend_from_slice(&received.to_le_bytes());
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StoreError> {
        if !bytes.len().is_multiple_of(16) {
            return Err(StoreError::Corrupt {
                what: "sync_held",
                detail: format!("{} bytes is not a multiple of 16", bytes.len()),
            });
        }
        Ok(Held(
            bytes
                .chunks_exact(16)
                .map(|c| {
                    let (id, received) = c.split_at(8);
                    (
                        u64::from_le_bytes(id.try_into().expect("8 bytes")),
                        i64::from_le_bytes(received.try_into().expect("8 bytes")),
                    )
                })
                .collect(),
        ))
    }
}

/// What a device's last Sync asked for: an empty Sync or a Partial one is completed from it
/// ([MS-ASCMD] 2.2.3.131 Partial; 3.1.5.3 empty Sync).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SyncCache {
    pub collections: Vec<CachedCollection>,
    /// The last hanging-Sync wait, repeated by an empty Sync.
    #[serde(default)]
    pub hang: Option<HangRequest>,
}

/// One collection of the last Sync, without its SyncKey and commands.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CachedCollection {
    pub id: String,
    pub window: Option<usize>,
    pub deletes_as_moves: bool,
    pub get_changes: Option<bool>,
    /// The Options element, WBXML-encoded, so a later request without Options reuses it.
    pub options: Option<Vec<u8>>,
}

/// How long a hanging Sync may wait, as the client asked.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub enum HangRequest {
    WaitMinutes(u32),
    HeartbeatSeconds(u32),
}

/// What an empty Ping repeats: stored per device so it survives a restart.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PingParams {
    pub heartbeat: Option<u32>,
    pub folders: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_round_trips_and_rejects_garbage() {
        let h = Held([(1, 100), (u64::MAX, -5)].into_iter().collect());
        assert_eq!(Held::from_bytes(&h.to_bytes()).unwrap(), h);
        assert!(Held::from_bytes(&[0; 15]).is_err());
    }
}
