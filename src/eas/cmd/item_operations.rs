//! ItemOperations ([MS-ASCMD] 2.2.1.10): Fetch of a message or an attachment,
//! EmptyFolderContents, and Move of a conversation. Attachments go into separate parts of a multipart response when the
//! client accepts one ([MS-ASCMD] 2.2.1.10.1), so a large file is never base64 in WBXML.

use std::borrow::Cow;
use std::io::Write;

use base64::Engine;

use super::{Ctx, Reply, status_reply};
use crate::bounded::at_most;
use crate::budget::Reservation;
use crate::eas::class::groupware::{self, Class};
use crate::eas::class::{
    AttachmentRefusal, BodyOptions, MailOptions, MailPolicy, full_data, generated_data,
};
use crate::govern::foreign::Place;
use crate::govern::settings::Sight;
use crate::http_body::{BUDGET_PATIENCE, FilePart};
use crate::mail::mime;
use crate::proto::filter::FilterType;
use crate::proto::ids::{FileRef, ItemRef};
use crate::proto::status::command_status;
use crate::proto::version::ProtocolVersion;
use crate::refusal::Limit;
use crate::store::items::{self, ItemReads};
use crate::store::model::GroupwareItem;
use crate::store::model::MailItem;
use crate::store::model::{FolderId, FolderType};
use crate::store::model::{Merge, Merged};
use crate::store::ops::Reads;
use crate::store::{StoreError, WriteCtx};
use crate::store::{conversations, folders};
use crate::sync::retriable;
use crate::wbxml::{
    Element, tag::airsync, tag::airsyncbase as asb, tag::itemoperations as io, tag::search,
};

command_status! {
    /// ItemOperations Status values ([MS-ASCMD] 2.2.3.177.8).
    enum Status {
        Ok = 1,
        ProtocolError = 2,
        ServerError = 3,
        NotFound = 6,
        BadRange = 8,
        /// "The requested data size is too large": over the policy's MaxAttachmentSize, or over
        /// what one response may carry (`[limits] max_response`).
        TooLarge = 11,
        InvalidAttachment = 15,
        /// "Access to the resource is denied": the policy disables attachments; in a shared
        /// folder, an EmptyFolderContents or Move the reader has no right to.
        AccessDenied = 16,
        /// Move: "the destination folder cannot be the recipient information cache" ([MS-ASCON]
        /// 2.2.2.10).
        RecipientCache = 105,
        /// Move without MoveAlways ([MS-ASCMD] 2.2.3.118: it "MUST be included").
        MoveAlwaysMissing = 155,
        /// Move: "the destination folder MUST be of type IPF.Note" ([MS-ASCON] 2.2.2.10).
        NotAMailFolder = 156,
    }
}

pub async fn handle(ctx: &mut Ctx<'_>, body: Option<Element>) -> Result<Reply, StoreError> {
    let Some(req) = body.filter(|b| b.tag == io::ITEM_OPERATIONS) else {
        return Ok(status_reply(
            io::ITEM_OPERATIONS,
            io::STATUS,
            Status::ProtocolError,
        ));
    };
    let max = ctx.app.cfg.limits.max_commands;
    let Ok(operations) = at_most(req.elements(), max) else {
        ctx.refuse(
            Limit::Commands,
            format_args!("ItemOperations with more than max_commands {max} operations"),
        );
        return Ok(status_reply(
            io::ITEM_OPERATIONS,
            io::STATUS,
            Status::ProtocolError,
        ));
    };
    let policy = ctx.mail_policy();
    let mut out = Output {
        left: ctx.app.cfg.limits.max_response,
        over: 0,
        held: ctx.app.budget.nothing(),
        parts: Vec::new(),
    };
    let mut response = Element::new(io::RESPONSE);
    for op in operations {
        response.push(if op.tag == io::FETCH {
            match fetch(ctx, &policy, op, &mut out).await {
                Ok(e) => e,
                Err(FetchError::Store(e)) => return Err(e),
                Err(FetchError::Busy) => return Ok(Reply::Busy),
            }
        } else if op.tag == io::EMPTY_FOLDER_CONTENTS {
            empty_folder(ctx, op).await?
        } else if op.tag == io::MOVE && ctx.req.version >= ProtocolVersion::V14_0 {
            move_conversation(ctx, op).await?
        } else {
            // Move before 14.0 ([MS-ASCMD] 2.2.3.117.1), or no operation at all: refused on
            // its own.
            Element::new(op.tag).text_child(io::STATUS, Status::ProtocolError.to_string())
        });
    }
    if out.over > 0 {
        ctx.app.refusals.record(
            Limit::ResponseSize,
            &ctx.who(),
            format_args!(
                "ItemOperations: {} Fetch(es) answered Status {}: over max_response {}",
                out.over,
                Status::TooLarge,
                ctx.app.cfg.limits.max_response
            ),
        );
    }
    ctx.hold(out.held);
    let root = Element::new(io::ITEM_OPERATIONS)
        .text_child(io::STATUS, Status::Ok.to_string())
        .child(response);
    Ok(if ctx.req.accept_multipart {
        Reply::Multipart {
            root,
            parts: out.parts,
        }
    } else {
        Reply::Wbxml(root)
    })
}

/// The response as it is built: what is left of its size cap (`[limits] max_response`),
/// the memory it holds, and the binary parts of a multipart answer, in spool files until
/// the connection streams them.
struct Output {
    left: usize,
    /// Fetches refused for the cap.
    over: usize,
    /// The budget the WBXML being built holds: twice its content, since it is encoded
    /// whole before it is written.
    held: Reservation,
    parts: Vec<FilePart>,
}

impl Output {
    /// Takes `bytes` of the cap, or `false` (nothing taken) when they do not fit.
    fn take(&mut self, bytes: usize) -> bool {
        let fits = bytes <= self.left;
        if fits {
            self.left -= bytes;
        } else {
            self.over += 1;
        }
        fits
    }
}

enum FetchError {
    Store(StoreError),
    /// The memory budget had no room to produce an item.
    Busy,
}

impl From<StoreError> for FetchError {
    fn from(e: StoreError) -> Self {
        FetchError::Store(e)
    }
}

impl From<std::io::Error> for FetchError {
    fn from(e: std::io::Error) -> Self {
        FetchError::Store(e.into())
    }
}

/// Reserves the memory producing an item takes (`bytes`), waiting briefly for room. An
/// item that needs more than the whole budget could never be produced: that is Status 11
/// for the item (`Ok(None)`), not a request to retry.
async fn working_memory(ctx: &Ctx<'_>, bytes: usize) -> Result<Option<Reservation>, FetchError> {
    if bytes > ctx.app.budget.total() {
        return Ok(None);
    }
    match ctx.app.budget.reserve(bytes, BUDGET_PATIENCE).await {
        Some(r) => Ok(Some(r)),
        None => Err(FetchError::Busy),
    }
}

/// An attachment as fetched, made off the event loop.
struct Attachment {
    content_type: String,
    total: usize,
    /// The Range answered, when one was asked for.
    shown_range: Option<String>,
    payload: Payload,
}

enum Payload {
    /// A multipart answer's part, in its spool file.
    Part(FilePart),
    /// Base64 for the Data element.
    Inline(String),
}

/// Runs `f` (reading and parsing a message, which takes tens of milliseconds for a large
/// one) on a blocking thread, so that the event loop serves other clients meanwhile.
async fn off_the_loop<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        StoreError::Io(std::io::Error::other(format!(
            "ItemOperations task failed: {e}"
        )))
    })?
}

/// Keeps `bytes` of the response's content in the budget (twice: the tree, then its
/// encoding), from the working reservation `work`; growing past it is best effort, as
/// the memory is already in use.
fn keep(out: &mut Output, mut work: Reservation, bytes: usize) {
    let want = bytes.saturating_mul(2);
    if want > work.bytes() {
        work.grow(want - work.bytes());
    }
    work.shrink_to(want);
    out.held.absorb(work);
}

fn fetch_status(status: Status) -> Element {
    Element::new(io::FETCH).text_child(io::STATUS, status.to_string())
}

async fn fetch(
    ctx: &Ctx<'_>,
    policy: &MailPolicy,
    op: &Element,
    out: &mut Output,
) -> Result<Element, FetchError> {
    let options = op.find(io::OPTIONS);
    if let Some(file_ref) = op.text_of(asb::FILE_REFERENCE) {
        let range = options.and_then(|o| o.text_of(io::RANGE));
        return fetch_attachment(ctx, policy, file_ref, range, out).await;
    }
    // A search result names its message by LongId ([MS-ASCMD] 2.2.3.98.1), which easd
    // issues as the message's `folder:item` ServerId: the folder it names is the collection.
    let long_id = op.text_of(search::LONG_ID);
    let Some(server_id) = op.text_of(airsync::SERVER_ID).or(long_id) else {
        return Ok(fetch_status(Status::ProtocolError));
    };
    let named = ItemRef::parse(server_id);
    let collection = match (op.text_of(airsync::COLLECTION_ID), long_id, named) {
        (Some(c), _, _) => Cow::Borrowed(c),
        (None, Some(_), Some(r)) => Cow::Owned(r.folder.to_string()),
        // A LongId easd cannot have issued names nothing.
        (None, Some(_), None) => {
            return Ok(fetch_status(Status::NotFound).text_child(airsync::SERVER_ID, server_id));
        }
        (None, None, _) => return Ok(fetch_status(Status::ProtocolError)),
    };
    let body_opts = match options.map(BodyOptions::parse).transpose() {
        Ok(body) => {
            let body = body.unwrap_or_default();
            policy
                .enforce(MailOptions {
                    filter: FilterType::All,
                    body,
                })
                .body
        }
        Err(_) => return Ok(fetch_status(Status::ProtocolError)),
    };
    let found = match (collection.parse::<u64>().ok(), named) {
        (Some(c), Some(r)) if c == r.folder => fetch_item(ctx, r.folder, r.item).await?,
        _ => None,
    };
    let answer = |status: Status| {
        fetch_status(status)
            .text_child(airsync::COLLECTION_ID, collection.as_ref())
            .text_child(airsync::SERVER_ID, server_id)
    };
    let (mut props, class, work) = match found {
        Some(Fetched::Mail(item)) => {
            // What the item can add at most, known before its message is read: refused
            // for the cap without reading it.
            let bound = body_opts.bound(item.meta.size);
            if bound > out.left {
                out.over += 1;
                return Ok(answer(Status::TooLarge));
            }
            let size = usize::try_from(item.meta.size).unwrap_or(usize::MAX);
            let Some(work) = working_memory(ctx, size.saturating_add(bound * 2)).await? else {
                out.over += 1;
                return Ok(answer(Status::TooLarge));
            };
            let (store, version) = (ctx.app.store.clone(), ctx.req.version);
            let props = off_the_loop(move || full_data(&store, &item, &body_opts, version)).await?;
            (props, "Email", work)
        }
        // A groupware item: its record as this device's protocol version has it.
        Some(Fetched::Groupware(item, class)) => {
            let props = groupware::application_data(&item, ctx.req.version);
            let work = ctx.app.budget.nothing();
            (props, class.name(), work)
        }
        // Made from the record, as small as the note or task: no blob to read.
        Some(Fetched::Generated(item)) => {
            let owner = &ctx.account.email;
            match generated_data(&item, owner, &body_opts, ctx.req.version) {
                Some(props) => (props, "Email", ctx.app.budget.nothing()),
                None => return Ok(answer(Status::NotFound)),
            }
        }
        None => return Ok(answer(Status::NotFound)),
    };
    let len = props.content_len();
    if !out.take(len) {
        return Ok(answer(Status::TooLarge));
    }
    keep(out, work, len);
    props.tag = io::PROPERTIES;
    Ok(answer(Status::Ok)
        .text_child(airsync::CLASS, class)
        .child(props))
}

/// An item ItemOperations fetches.
enum Fetched {
    Mail(Box<MailItem>),
    /// A note or task of a folder shown as mail: its generated message.
    Generated(GroupwareItem),
    Groupware(GroupwareItem, Class),
}

/// Item `id` of `folder`, when the device is sent what the folder holds; a groupware item
/// only when the device is shown the folder as what it is (not as a mail folder).
async fn fetch_item(
    ctx: &Ctx<'_>,
    folder: FolderId,
    id: u64,
) -> Result<Option<Fetched>, StoreError> {
    let (sight, account) = (Sight::of(&ctx.device), ctx.account.id);
    (ctx.app.store)
        .view(move |tx| {
            // A folder of another account the device reaches: its owner's item, named by
            // the device's id for the folder (`store::share`).
            let Some(place) = Place::contents(tx, sight, account, folder)? else {
                return Ok(None);
            };
            let (owner, home) = place.home(account);
            let (f, foreign) = (place.folder, place.foreign.is_some());
            if let Some(mut mail) = tx.item(owner, home, id)? {
                mail.folder = folder;
                return Ok(Some(Fetched::Mail(Box::new(mail))));
            }
            let merged = if foreign {
                None
            } else {
                sight.merged_into(tx, account, &f)?
            };
            if Merged::own_as(merged.as_ref()) == Some(Merge::AsMail) {
                return Ok(tx.groupware_item(owner, home, id)?.map(|mut g| {
                    g.folder = folder;
                    Fetched::Generated(g)
                }));
            }
            let shown_as = Class::of(f.kind).filter(|_| !Merged::withholds_own(merged.as_ref()));
            let Some(class) = shown_as else {
                return Ok(None);
            };
            Ok(tx.groupware_item(owner, home, id)?.map(|mut g| {
                g.folder = folder;
                Fetched::Groupware(g, class)
            }))
        })
        .await
}

/// `first-last` of [MS-ASCMD] 2.2.3.143.2 (Range), inclusive, within `total` bytes.
fn parse_range(range: &str, total: usize) -> Option<(usize, usize)> {
    let (a, b) = range.split_once('-')?;
    let first: usize = a.trim().parse().ok()?;
    let last: usize = b.trim().parse().ok()?;
    (first <= last && first < total.max(1)).then_some((first, last.min(total.saturating_sub(1))))
}

/// Bytes of base64 for `n` bytes.
fn base64_len(n: usize) -> usize {
    n.div_ceil(3).saturating_mul(4)
}

/// An attachment by FileReference. The policy and the response's size cap are checked
/// against the size the message's outline records, before the blob is read
/// ([MS-ASPROV] 2.2.2.23 AttachmentsEnabled, 2.2.2.30 MaxAttachmentSize). One over the cap
/// is Status 11; the client can fetch it in pieces with Range ([MS-ASCMD] 2.2.3.143.2).
/// In a multipart answer the data goes to a spool file, streamed from there.
async fn fetch_attachment(
    ctx: &Ctx<'_>,
    policy: &MailPolicy,
    file_ref: &str,
    range: Option<&str>,
    out: &mut Output,
) -> Result<Element, FetchError> {
    let answer = |status: Status| fetch_status(status).text_child(asb::FILE_REFERENCE, file_ref);
    let Some(FileRef {
        item: ItemRef { folder, item: id },
        part,
    }) = FileRef::parse(file_ref)
    else {
        return Ok(answer(Status::InvalidAttachment));
    };
    let (sight, account) = (Sight::of(&ctx.device), ctx.account.id);
    // The reference names the folder by the device's id: for a shared folder, the
    // reader's id, never the owner's (`store::share`).
    let shown = (ctx.app.store)
        .view(move |tx| Place::item(tx, sight, account, folder, id))
        .await?;
    let Some(item) = shown else {
        return Ok(answer(Status::InvalidAttachment));
    };
    let Some(listed) = item.meta.attachments.iter().find(|a| a.part == part) else {
        return Ok(answer(Status::InvalidAttachment));
    };
    match policy.attachment(listed.size) {
        Ok(()) => {}
        Err(AttachmentRefusal::Disabled) => return Ok(answer(Status::AccessDenied)),
        Err(AttachmentRefusal::TooLarge) => return Ok(answer(Status::TooLarge)),
    }
    let listed_size = usize::try_from(listed.size).unwrap_or(usize::MAX);
    let wanted = match range.map(|r| parse_range(r, listed_size)) {
        None => listed_size,
        Some(Some((first, last))) => last - first + 1,
        Some(None) => return Ok(answer(Status::BadRange)),
    };
    let multipart = ctx.req.accept_multipart;
    let on_wire = if multipart {
        wanted
    } else {
        base64_len(wanted)
    };
    if !out.take(on_wire) {
        return Ok(answer(Status::TooLarge));
    }
    // The message, the decoded attachment and what goes on the wire, at once.
    let message = usize::try_from(item.meta.size).unwrap_or(usize::MAX);
    let need = message
        .saturating_add(listed_size)
        .saturating_add(if multipart { 0 } else { on_wire * 2 });
    let Some(work) = working_memory(ctx, need).await? else {
        out.left += on_wire;
        out.over += 1;
        return Ok(answer(Status::TooLarge));
    };
    let (blobs, blob) = (ctx.app.store.blobs().clone(), item.blob.clone());
    let part_file = if multipart {
        Some(ctx.app.spool.file()?)
    } else {
        None
    };
    let range = range.map(str::to_owned);
    let produced = off_the_loop(move || {
        let raw = blobs.read(&blob)?;
        let Some((content_type, data)) = mime::attachment(&raw, part) else {
            return Ok(None);
        };
        drop(raw);
        let total = data.len();
        let (data, shown_range) = match range {
            None => (&data[..], None),
            Some(r) => match parse_range(&r, total) {
                Some((first, last)) => (&data[first..=last], Some(format!("{first}-{last}"))),
                None => return Ok(Some(Err(Status::BadRange))),
            },
        };
        let payload = match part_file {
            Some(mut file) => {
                file.write_all(data)?;
                Payload::Part(FilePart {
                    file,
                    len: data.len() as u64,
                })
            }
            None => Payload::Inline(base64::engine::general_purpose::STANDARD.encode(data)),
        };
        Ok(Some(Ok(Attachment {
            content_type,
            total,
            shown_range,
            payload,
        })))
    })
    .await?;
    let a = match produced {
        None => return Ok(answer(Status::InvalidAttachment)),
        Some(Err(status)) => return Ok(answer(status)),
        Some(Ok(a)) => a,
    };
    let mut props = Element::new(io::PROPERTIES).text_child(asb::CONTENT_TYPE, a.content_type);
    if let Some(r) = a.shown_range {
        props.push_text(io::RANGE, r);
        props.push_text(io::TOTAL, a.total.to_string());
    }
    match a.payload {
        Payload::Part(file) => {
            out.parts.push(file);
            // Part 0 is the WBXML document itself.
            props.push_text(io::PART, out.parts.len().to_string());
            keep(out, work, 0);
        }
        Payload::Inline(encoded) => {
            keep(out, work, encoded.len());
            props.push_text(io::DATA, encoded);
        }
    }
    Ok(answer(Status::Ok).child(props))
}

/// EmptyFolderContents ([MS-ASCMD] 2.2.3.58): every item of the folder, and with
/// DeleteSubFolders its subfolders too. In a folder of another account it takes the right
/// to delete, and its subfolders are not the reader's to delete (Status 16, nothing
/// deleted).
async fn empty_folder(ctx: &Ctx<'_>, op: &Element) -> Result<Element, StoreError> {
    let answer = |status: Status, id: &str| {
        Element::new(io::EMPTY_FOLDER_CONTENTS)
            .text_child(io::STATUS, status.to_string())
            .text_child(airsync::COLLECTION_ID, id)
    };
    let Some(id) = op.text_of(airsync::COLLECTION_ID) else {
        return Ok(Element::new(io::EMPTY_FOLDER_CONTENTS)
            .text_child(io::STATUS, Status::ProtocolError.to_string()));
    };
    let subfolders = op
        .find(io::OPTIONS)
        .is_some_and(|o| o.find(io::DELETE_SUB_FOLDERS).is_some());
    let account = ctx.account.id;
    let (sight, name) = (Sight::of(&ctx.device), id.to_owned());
    let shown = (ctx.app.store)
        .view(move |tx| Place::find(tx, sight, account, &name))
        .await?;
    let Some(place) = shown else {
        return Ok(answer(Status::NotFound, id));
    };
    if place.foreign.is_some() && (subfolders || !place.may(|r| r.delete)) {
        tracing::info!(
            "{}: EmptyFolderContents of shared folder {id} refused: no delete right, or \
             DeleteSubFolders",
            ctx.who()
        );
        return Ok(answer(Status::AccessDenied, id));
    }
    let reach = sight.reach();
    let emptied = ctx
        .app
        .store
        .write_or(move |w: &mut WriteCtx| {
            // A share ended or changed since the look-up: refused as without the right.
            if !place.unchanged(w, account, reach)? {
                return Ok(false);
            }
            let (owner, folder) = place.home(account);
            items::empty_folder(w, owner, folder)?;
            if subfolders {
                let children: Vec<u64> = w
                    .folders(account)?
                    .iter()
                    .filter(|f| f.parent == folder)
                    .map(|f| f.id)
                    .collect();
                for child in children {
                    folders::delete(w, account, child)?;
                }
            }
            Ok(true)
        })
        .await;
    match emptied {
        Ok(true) => Ok(answer(Status::Ok, id)),
        Ok(false) => Ok(answer(Status::AccessDenied, id)),
        Err(folders::FolderError::Store(e)) => Err(e),
        // A subfolder the store will not delete: nothing was emptied (the transaction
        // rolled back), and the server says it failed ([MS-ASCMD] 2.2.3.177.8, Status 3).
        Err(refused) => {
            tracing::info!("{}: EmptyFolderContents of {id}: {refused}", ctx.who());
            Ok(answer(Status::ServerError, id))
        }
    }
}

/// Move of a conversation ([MS-ASCMD] 2.2.3.117.1, [MS-ASCON] 2.2.2.7-2.2.2.10): every
/// message of the conversation in the mail folders the device is sent the contents of,
/// except Sent Items, goes to DstFldId, and with MoveAlways (required) so do its later
/// messages, as they are delivered. The account's own folders only: a conversation does
/// not move into or out of a shared or public folder (between accounts, as MoveItems
/// refuses). Each moved message is a Delete and an Add at every
/// device's next Sync of the folders, as for MoveItems. A resend finds the messages already
/// there and answers the same.
async fn move_conversation(ctx: &Ctx<'_>, op: &Element) -> Result<Element, StoreError> {
    // Opaque in WBXML; some clients send it as base64 text.
    let conversation = op
        .find(io::CONVERSATION_ID)
        .and_then(|c| c.bytes_lenient())
        .map(|c| c.into_owned())
        .filter(|c| !c.is_empty());
    let answer = |status: Status| {
        let e = Element::new(io::MOVE).text_child(io::STATUS, status.to_string());
        match &conversation {
            Some(c) => e.opaque_child(io::CONVERSATION_ID, c.clone()),
            None => e,
        }
    };
    let (Some(id), Some(dst)) = (&conversation, op.text_of(io::DST_FLD_ID)) else {
        return Ok(answer(Status::ProtocolError));
    };
    if op
        .find(io::OPTIONS)
        .and_then(|o| o.find(io::MOVE_ALWAYS))
        .is_none()
    {
        return Ok(answer(Status::MoveAlwaysMissing));
    }
    let account = ctx.account.id;
    let (sight, dst, conversation_id) = (Sight::of(&ctx.device), dst.to_owned(), id.clone());
    // The destination and the messages to move, from one snapshot.
    let planned = (ctx.app.store)
        .view(move |tx| {
            // A folder the device does not have does not exist: 6. A conversation moves
            // within the account's own mail folders: into a folder of another account it
            // would move between accounts, which MoveItems refuses too (16).
            let Some(dst) = Place::find(tx, sight, account, &dst)? else {
                return Ok(Err(Status::NotFound));
            };
            if dst.foreign.is_some() {
                return Ok(Err(Status::AccessDenied));
            }
            let dst = dst.folder;
            match dst.kind {
                FolderType::RecipientCache => return Ok(Err(Status::RecipientCache)),
                kind if !is_mail(kind) => return Ok(Err(Status::NotAMailFolder)),
                _ => {}
            }
            // The conversation exists for the device when it has one of its messages
            // anywhere (Sent Items and the destination too); those elsewhere move.
            let mut found = false;
            let mut moving: Vec<(FolderId, u64)> = Vec::new();
            for f in tx.folders(account)? {
                if !is_mail(f.kind) || sight.contents(tx, account, f.id)?.is_none() {
                    continue;
                }
                let messages = conversations::messages_in(tx, account, f.id, &conversation_id)?;
                found |= !messages.is_empty();
                if f.id != dst.id && f.kind != FolderType::SentItems {
                    moving.extend(messages.into_iter().map(|m| (f.id, m)));
                }
            }
            Ok::<_, StoreError>(if found {
                Ok((dst, moving))
            } else {
                Err(Status::NotFound)
            })
        })
        .await?;
    let (dst, moving) = match planned {
        Ok(planned) => planned,
        Err(status) => {
            if status == Status::AccessDenied {
                tracing::info!(
                    "{}: ItemOperations Move into another account's folder refused",
                    ctx.who()
                );
            }
            return Ok(answer(status));
        }
    };
    let (to, conversation_id) = (dst.id, id.clone());
    let moved = ctx
        .app
        .store
        .write(move |w: &mut WriteCtx| {
            if w.folder(account, to)?.is_none() {
                return Ok(false);
            }
            for &(from, item) in &moving {
                // One gone meanwhile (moved or deleted by another device) stays gone.
                items::move_to(w, account, from, item, to)?;
            }
            conversations::always_move(w, account, &conversation_id, to)?;
            Ok(true)
        })
        .await;
    Ok(match moved {
        Ok(true) => answer(Status::Ok),
        Ok(false) => answer(Status::NotFound),
        Err(e) if retriable(&e) => {
            tracing::warn!("ItemOperations Move write failed: {e}");
            answer(Status::ServerError)
        }
        Err(e) => return Err(e),
    })
}

/// Mail folders ("IPF.Note", [MS-ASCON] 2.2.2.10): where a conversation can be, and go.
fn is_mail(kind: FolderType) -> bool {
    matches!(
        kind,
        FolderType::UserGeneric
            | FolderType::Inbox
            | FolderType::Drafts
            | FolderType::DeletedItems
            | FolderType::SentItems
            | FolderType::Outbox
            | FolderType::UserMail
    )
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("0-9", 100), Some((0, 9)));
        assert_eq!(parse_range("90-200", 100), Some((90, 99)));
        assert_eq!(parse_range("100-200", 100), None);
        assert_eq!(parse_range("9-0", 100), None);
        assert_eq!(parse_range("x", 100), None);
    }
}
