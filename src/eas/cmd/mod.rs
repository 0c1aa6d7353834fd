//! One module per EAS command. Each takes the decoded request body and answers with a
//! WBXML tree (or an HTTP status); store failures bubble up as errors the front door maps.

mod directory;
pub mod find;
pub mod folder_ops;
pub mod folder_sync;
pub mod get_attachment;
pub mod get_item_estimate;
pub mod item_operations;
pub mod meeting_response;
pub mod move_items;
pub mod ping;
pub mod provision;
pub mod resolve_recipients;
pub mod search;
pub mod send_mail;
pub mod settings;
pub mod sync;
pub mod validate_cert;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use hyper::StatusCode;

use crate::app::App;
use crate::budget::Reservation;
use crate::eas::class::MailPolicy;
use crate::govern::levels::Effective;
use crate::http_body::FilePart;
use crate::proto::command::Command;
use crate::proto::query::EasRequest;
use crate::refusal::Limit;
use crate::store::StoreError;
use crate::store::model::{Account, Device};
use crate::store::ops::Reads;
use crate::wbxml::{Element, Tag};

/// The commands this server answers; OPTIONS advertises exactly these, others get 501.
pub const IMPLEMENTED: [Command; 20] = [
    Command::Sync,
    Command::Search,
    Command::Ping,
    Command::SendMail,
    Command::SmartReply,
    Command::SmartForward,
    Command::GetAttachment,
    Command::GetItemEstimate,
    Command::ItemOperations,
    Command::MoveItems,
    Command::MeetingResponse,
    Command::ResolveRecipients,
    Command::Find,
    Command::ValidateCert,
    Command::FolderSync,
    Command::FolderCreate,
    Command::FolderUpdate,
    Command::FolderDelete,
    Command::Provision,
    Command::Settings,
];

/// The `MS-ASProtocolCommands` header value.
pub fn implemented_header() -> String {
    IMPLEMENTED.map(|c| c.name()).join(",")
}

pub struct Ctx<'a> {
    pub app: &'a App,
    pub account: &'a Account,
    /// The device row; a command that changes it stores the new row back here.
    pub device: Device,
    pub req: &'a EasRequest,
    /// A `message/rfc822` body (12.x SendMail/SmartReply/SmartForward), not WBXML.
    pub mime_body: Option<bytes::Bytes>,
    /// The device's effective policy, as the device gate resolved it for this request.
    pub policy: Arc<Effective>,
    /// The memory budget the request holds: its body and decoded tree, then what the
    /// command adds for its response. The front door keeps it until the response is
    /// written; a command that waits (Ping, a hanging Sync) gives it back first.
    pub held: Option<Reservation>,
}

impl Ctx<'_> {
    /// The mail rules of the device's policy and settings.
    pub fn mail_policy(&self) -> MailPolicy {
        MailPolicy::for_device(&self.policy.policy, self.device.settings_in_force())
    }

    /// `account/device`, for log lines and refusals.
    pub fn who(&self) -> String {
        format!("{}/{}", self.account.email, self.device.device_id)
    }

    /// Adds `more` to what the request holds.
    pub fn hold(&mut self, more: Reservation) {
        match &mut self.held {
            Some(h) => h.absorb(more),
            None => self.held = Some(more),
        }
    }
}

impl Ctx<'_> {
    /// Re-reads the device row: a waiting request (Ping, hanging Sync) may outlive an
    /// admin's change to it, such as an allow that ends a quarantine.
    pub async fn reload_device(&mut self) -> Result<(), StoreError> {
        let (account, id) = (self.account.id, self.device.device_id.clone());
        let fresh = (self.app.store)
            .view(move |tx| tx.device(account, &id))
            .await?;
        if let Some(d) = fresh {
            self.device = d;
        }
        Ok(())
    }
}

pub enum Reply {
    Wbxml(Element),
    /// WBXML as part 0 and binary parts after it ([MS-ASCMD] 2.2.1.10.1).
    Multipart {
        root: Element,
        parts: Vec<FilePart>,
    },
    Http(StatusCode),
    /// The memory budget had no room for the response: 503 with Retry-After.
    Busy,
    /// A non-WBXML body as is (GetAttachment, [MS-ASCMD] 2.2.1.7).
    Raw {
        content_type: String,
        body: Vec<u8>,
    },
}

/// Who a refusal concerns: the account's address and the device id.
pub struct Who<'a>(pub &'a str, pub &'a str);

impl std::fmt::Display for Who<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.0, self.1)
    }
}

impl Ctx<'_> {
    /// Logs and counts a refusal of this request for resource reasons.
    pub fn refuse(&self, limit: Limit, detail: std::fmt::Arguments<'_>) {
        let who = Who(&self.account.email, self.device.device_id.as_str());
        self.app.refusals.record(limit, &who, detail);
    }
}

type CommandFuture<'a> = Pin<Box<dyn Future<Output = Result<Reply, StoreError>> + 'a>>;

/// Runs the request's command. Each command's future is boxed, so a connection holds only
/// the state of the command it runs (a waiting Ping), not room for the largest one.
pub async fn dispatch(ctx: &mut Ctx<'_>, body: Option<Element>) -> Result<Reply, StoreError> {
    let command: CommandFuture<'_> = match ctx.req.command {
        Command::Sync => Box::pin(sync::handle(ctx, body)),
        Command::Ping => Box::pin(ping::handle(ctx, body)),
        Command::Search => Box::pin(search::handle(ctx, body)),
        Command::SendMail | Command::SmartReply | Command::SmartForward => {
            Box::pin(send_mail::handle(ctx, body))
        }
        Command::GetAttachment => Box::pin(get_attachment::handle(ctx)),
        Command::GetItemEstimate => Box::pin(get_item_estimate::handle(ctx, body)),
        Command::ItemOperations => Box::pin(item_operations::handle(ctx, body)),
        Command::MoveItems => Box::pin(move_items::handle(ctx, body)),
        Command::MeetingResponse => Box::pin(meeting_response::handle(ctx, body)),
        Command::ResolveRecipients => Box::pin(resolve_recipients::handle(ctx, body)),
        Command::Find => Box::pin(find::handle(ctx, body)),
        Command::ValidateCert => Box::pin(validate_cert::handle(ctx, body)),
        Command::FolderSync => Box::pin(folder_sync::handle(ctx, body)),
        Command::FolderCreate => Box::pin(folder_ops::create(ctx, body)),
        Command::FolderUpdate => Box::pin(folder_ops::update(ctx, body)),
        Command::FolderDelete => Box::pin(folder_ops::delete(ctx, body)),
        Command::Provision => Box::pin(provision::handle(ctx, body)),
        Command::Settings => Box::pin(settings::handle(ctx, body)),
    };
    command.await
}

/// The request body when its root is `root`; `None` for an empty or foreign body.
pub fn body_with_root(body: Option<Element>, root: Tag) -> Option<Element> {
    body.filter(|b| b.tag == root)
}

/// `<root><status>code</status></root>`.
pub fn status_reply(root: Tag, status: Tag, code: impl Into<u8>) -> Reply {
    Reply::Wbxml(Element::new(root).text_child(status, code.into().to_string()))
}
