//! Drafts in Sync (protocol 16.0+): a device's Add, Change and Send of email items in its
//! Drafts folder ([MS-ASEMAIL] 2.2.2.69 Send, [MS-ASAIRS] 2.2.2.2 and 2.2.2.21 attachment
//! Add and Delete). Below 16.0, and in any other mail folder, an email Add stays Status 6
//! ("malformed or invalid item", [MS-ASCMD] 2.2.3.177.17): [MS-ASCMD] 3.1.5.4, clients
//! MUST NOT synchronize the Drafts folder before 16.0, and a client creates email items
//! only as drafts (mail reaches other folders by delivery, SendMail and moves).
//!
//! The edit is applied in the collection's write job like any client change; the Send
//! leaves through the relay after that write committed ([`send_all`]). A resent Sync (the
//! previous key) re-applies nothing: its round committed, so its drafts exist and its
//! edits are made; it gets the same ServerIds and FileReferences again, and a Send only
//! when the draft was not sent yet.

use super::{Conflict, ItemResponse, Job, Status};
use crate::eas::class::{draft, email};
use crate::eas::cmd::Ctx;
use crate::mail::draft::save::{self, Author, Outcome};
use crate::mail::draft::{EditError, Mailbox};
use crate::mail::submit::SubmitError;
use crate::proto::ids::ItemRef;
use crate::proto::version::ProtocolVersion;
use crate::store::items::{self, ItemReads};
use crate::store::model::{CollectionState, Held};
use crate::store::model::{Folder, FolderId, FolderType};
use crate::store::{BlobStore, StoreError, WriteCtx};
use crate::wbxml::Element;

/// What a collection needs to take drafts: present for the Drafts folder of a 16.0+
/// device only.
pub(super) struct Drafting {
    author: Author,
    blobs: BlobStore,
}

impl Drafting {
    pub(super) fn of(ctx: &Ctx<'_>, folder: &Folder) -> Option<Self> {
        (ctx.req.version >= ProtocolVersion::V16_0 && folder.kind == FolderType::Drafts).then(
            || Drafting {
                author: Author {
                    mailbox: Mailbox {
                        name: Some(ctx.account.display_name.clone()).filter(|n| !n.is_empty()),
                        address: ctx.account.email.clone(),
                    },
                    hostname: ctx.app.cfg.hostname.clone(),
                },
                blobs: ctx.app.store.blobs().clone(),
            },
        )
    }
}

/// What a resent round finds of its first run: the items it added (by ClientId), and by
/// the position of the command in the round, the (ClientId, MIME part) of each attachment
/// a draft command added and the Status of each draft Change it refused.
pub(super) struct Resent<'a> {
    pub added: &'a [(String, u64)],
    pub attached: &'a [(u32, String, u32)],
    pub refused: &'a [(u32, u8)],
}

/// A draft command's answer: its Status, the item, and the ApplicationData naming the
/// attachments it added.
pub(super) struct Answer {
    pub status: Status,
    pub item: Option<u64>,
    pub data: Option<Element>,
}

impl Job {
    /// Status 1 for command `pos` on `item`, which added `attached`.
    fn answer(
        &self,
        state: &mut CollectionState,
        (pos, item): (u32, u64),
        attached: Vec<(String, u32)>,
    ) -> Answer {
        state
            .attached
            .extend(attached.iter().map(|(c, p)| (pos, c.clone(), *p)));
        Answer {
            status: Status::Ok,
            item: Some(item),
            data: (!attached.is_empty()).then(|| draft::attached(self.folder, item, &attached)),
        }
    }

    fn refused(&self, why: impl std::fmt::Display) -> Answer {
        tracing::info!("{}: draft refused: {why}", self.device);
        Answer {
            status: Status::ConversionError,
            item: None,
            data: None,
        }
    }

    /// A device's Add of an email item to its Drafts folder, sent too when `send`.
    pub(super) fn add_draft(
        &self,
        d: &Drafting,
        w: &mut WriteCtx,
        (state, held): (&mut CollectionState, &mut Held),
        resent: Option<&Resent<'_>>,
        (pos, client_id, data, send): (u32, &str, Option<&Element>, bool),
        sends: &mut Vec<u64>,
    ) -> Result<Answer, StoreError> {
        if let Some((_, id)) = resent
            .and_then(|r| r.added.iter().find(|(c, _)| c == client_id))
            .map(|(c, id)| (c, *id))
        {
            if let Some(item) = w.item(self.account, self.folder, id)? {
                held.0.insert(id, item.meta.received);
                if send {
                    sends.push(id);
                }
            }
            state.added.push((client_id.to_owned(), id));
            let attached = resent_attachments(resent, pos);
            return Ok(self.answer(state, (pos, id), attached));
        }
        let Some(data) = data else {
            return Ok(self.refused("Add without ApplicationData"));
        };
        let edit = match draft::parse(data, None) {
            Ok(e) => e,
            Err(why) => return Ok(self.refused(why)),
        };
        match save::create(w, &d.blobs, self.account, self.folder, &d.author, edit)? {
            Outcome::Saved(saved) => {
                let item = saved.item;
                state.own.push((item.id, item.modseq));
                state.added.push((client_id.to_owned(), item.id));
                held.0.insert(item.id, item.meta.received);
                if send {
                    sends.push(item.id);
                }
                Ok(self.answer(state, (pos, item.id), saved.attached))
            }
            Outcome::Refused(why) => Ok(self.refused(why)),
            Outcome::NotFound => Ok(self.refused("new draft vanished")),
        }
    }

    /// A device's Change of draft `id` (its fields, attachments and flags), sent too when
    /// `send`. A refusal is recorded so that a resend of the round gets it again.
    pub(super) fn change_draft(
        &self,
        d: &Drafting,
        w: &mut WriteCtx,
        state: &mut CollectionState,
        resent: Option<&Resent<'_>>,
        (pos, id, data, send): (u32, u64, &Element, bool),
        sends: &mut Vec<u64>,
    ) -> Result<Answer, StoreError> {
        if let Some(first) = resent {
            return self.change_again(w, state, first, (pos, id, send), sends);
        }
        let answer = self.change_once(d, w, state, (pos, id, data, send), sends)?;
        if answer.status != Status::Ok {
            // Stored as its number ([`CollectionState::refused`]).
            state.refused.push((pos, answer.status.code()));
        }
        Ok(answer)
    }

    /// The answer to a draft whose item is gone: a Send whose draft already left (the
    /// first run of a resent round, or a concurrent one) is done; otherwise the draft does
    /// not exist.
    fn gone(&self, w: &WriteCtx, id: u64, send: bool) -> Result<Answer, StoreError> {
        let sent = send && save::was_sent(w, self.account, id)?;
        Ok(Answer {
            status: if sent { Status::Ok } else { Status::NotFound },
            item: None,
            data: None,
        })
    }

    /// A Change of a resent round: its first run committed, so it is answered as then and
    /// not applied again; a draft not sent yet is sent.
    fn change_again(
        &self,
        w: &WriteCtx,
        state: &mut CollectionState,
        first: &Resent<'_>,
        (pos, id, send): (u32, u64, bool),
        sends: &mut Vec<u64>,
    ) -> Result<Answer, StoreError> {
        if let Some(&(_, code)) = first.refused.iter().find(|(p, _)| *p == pos) {
            state.refused.push((pos, code));
            return Ok(Answer {
                // Only refusals are stored; a number this binary does not know (a store
                // written by another version) is answered as a conversion error.
                status: Status::from_code(code).unwrap_or(Status::ConversionError),
                item: None,
                data: None,
            });
        }
        if w.item(self.account, self.folder, id)?.is_none() {
            return self.gone(w, id, send);
        }
        if send {
            sends.push(id);
        }
        Ok(self.answer(state, (pos, id), resent_attachments(Some(first), pos)))
    }

    fn change_once(
        &self,
        d: &Drafting,
        w: &mut WriteCtx,
        state: &mut CollectionState,
        (pos, id, data, send): (u32, u64, &Element, bool),
        sends: &mut Vec<u64>,
    ) -> Result<Answer, StoreError> {
        let Some(current) = w.item(self.account, self.folder, id)? else {
            return self.gone(w, id, send);
        };
        let edit = match draft::parse(data, Some((self.folder, id))) {
            Ok(e) => e,
            Err(why) => return Ok(self.refused(why)),
        };
        let flags = match email::parse_change(data) {
            Ok(f) => f,
            Err(why) => return Ok(self.refused(format!("{why:?}"))),
        };
        let conflict = crate::sync::collection::changed_since_served(state, id, current.modseq);
        if conflict && self.conflict == Conflict::ServerWins {
            return Ok(Answer {
                status: Status::Conflict,
                item: None,
                data: None,
            });
        }
        let renumbers = !edit.delete.is_empty();
        let mut attached = Vec::new();
        if edit.changes_content() || send {
            let key = (self.account, self.folder, id);
            match save::update(w, &d.blobs, key, &d.author, edit)? {
                Outcome::Saved(saved) => attached = saved.attached,
                Outcome::NotFound => return self.gone(w, id, send),
                Outcome::Refused(EditError::NoSuchAttachment(part)) => {
                    tracing::info!("{}: draft {id} has no attachment {part}", self.device);
                    return Ok(Answer {
                        status: Status::NotFound,
                        item: None,
                        data: None,
                    });
                }
            }
        }
        let changed = items::update_flags(w, self.account, self.folder, id, |f| flags.apply(f))?;
        // Removing an attachment renumbers the later ones: the draft then goes back to the
        // device as a Change, with the FileReferences it now has. Likewise a conflict the
        // client won ([MS-ASCMD] 2.2.3.34), as for any item.
        if let Some(item) = changed
            && item.modseq != current.modseq
            && !renumbers
            && !conflict
        {
            state.own.push((id, item.modseq));
        }
        if send {
            sends.push(id);
        }
        Ok(self.answer(state, (pos, id), attached))
    }
}

/// The (ClientId, part) of the attachments command `pos` added in the first run.
fn resent_attachments(resent: Option<&Resent<'_>>, pos: u32) -> Vec<(String, u32)> {
    resent
        .map(|r| {
            r.attached
                .iter()
                .filter(|(p, ..)| *p == pos)
                .map(|(_, c, p)| (c.clone(), *p))
                .collect()
        })
        .unwrap_or_default()
}

/// Sends the drafts a collection's committed round asked to send, in order; a draft that
/// cannot go out keeps its place in Drafts and its command's Status says why:
/// 6 without recipients, 8 when it is gone, else 5 (the relay or the store failed for
/// now; the device may send it again) ([MS-ASCMD] 2.2.3.177.17).
pub(super) async fn send_all(
    ctx: &Ctx<'_>,
    folder: FolderId,
    sends: &[u64],
    responses: &mut Vec<ItemResponse>,
) {
    for &id in sends {
        let Err(e) = save::send(
            &ctx.app.store,
            &ctx.app.settings.current().cfg,
            ctx.account,
            folder,
            id,
        )
        .await
        else {
            continue;
        };
        tracing::warn!("{}: draft {id} not sent: {e}", ctx.device.device_id);
        let status = match e {
            // Not sendable as it is: the user must change the draft.
            SubmitError::NoRecipients
            | SubmitError::TooManyRecipients { .. }
            | SubmitError::InvalidMime(_) => Status::ConversionError,
            SubmitError::SourceNotFound => Status::NotFound,
            SubmitError::InProgress | SubmitError::Relay(_) | SubmitError::Store(_) => {
                Status::ServerError
            }
        };
        let sid = ItemRef::new(folder, id).to_string();
        let named = responses.iter_mut().find_map(|r| match r {
            ItemResponse::Add {
                server_id: Some(s),
                status,
                ..
            }
            | ItemResponse::Change {
                server_id: s,
                status,
                ..
            } if *s == sid => Some(status),
            _ => None,
        });
        match named {
            Some(s) => *s = status,
            None => responses.push(ItemResponse::Change {
                server_id: sid,
                status,
                data: None,
            }),
        }
    }
}
