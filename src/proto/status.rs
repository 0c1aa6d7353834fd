//! Status codes shared by all commands ([MS-ASCMD] 2.2.2) and the minimal response that
//! carries one.

use super::command::Command;
use crate::wbxml::{Element, Tag, tag};

/// Global status values ([MS-ASCMD] 2.2.2) that easd answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GlobalStatus {
    /// The body of a SendMail (or its Mime) is not a message.
    InvalidContent = 101,
    /// The Mime of a SmartReply/SmartForward is not a message.
    InvalidMime = 107,
    ServerError = 110,
    /// Not sent now: the client keeps the message and sends it again.
    ServerErrorRetryLater = 111,
    /// Not sent, and sending it again will not help.
    SendQuotaExceeded = 115,
    MessageHasNoRecipient = 119,
    /// The message a SmartReply/SmartForward names does not exist.
    ItemNotFound = 150,
    /// ABQ block ([MS-ASCMD] 2.2.2: DeviceIsBlockedForThisUser).
    DeviceBlocked = 129,
    RemoteWipeRequested = 140,
    DeviceNotProvisioned = 142,
    PolicyRefresh = 143,
    InvalidPolicyKey = 144,
    MaximumDevicesReached = 177,
}

impl GlobalStatus {
    /// The number on the wire.
    pub fn code(self) -> u16 {
        self as u16
    }
}

/// The root element of `command`'s response and its top-level Status element.
pub fn response_root(command: Command) -> Option<(Tag, Tag)> {
    use Command::*;
    use tag::*;
    Some(match command {
        Sync => (airsync::SYNC, airsync::STATUS),
        SendMail => (composemail::SEND_MAIL, composemail::STATUS),
        SmartForward => (composemail::SMART_FORWARD, composemail::STATUS),
        SmartReply => (composemail::SMART_REPLY, composemail::STATUS),
        FolderSync => (folderhierarchy::FOLDER_SYNC, folderhierarchy::STATUS),
        FolderCreate => (folderhierarchy::FOLDER_CREATE, folderhierarchy::STATUS),
        FolderDelete => (folderhierarchy::FOLDER_DELETE, folderhierarchy::STATUS),
        FolderUpdate => (folderhierarchy::FOLDER_UPDATE, folderhierarchy::STATUS),
        MoveItems => (r#move::MOVE_ITEMS, r#move::STATUS),
        GetItemEstimate => (getitemestimate::GET_ITEM_ESTIMATE, getitemestimate::STATUS),
        MeetingResponse => (meetingresponse::MEETING_RESPONSE, meetingresponse::STATUS),
        Search => (search::SEARCH, search::STATUS),
        Settings => (settings::SETTINGS, settings::STATUS),
        Ping => (ping::PING, ping::STATUS),
        ItemOperations => (itemoperations::ITEM_OPERATIONS, itemoperations::STATUS),
        Provision => (provision::PROVISION, provision::STATUS),
        ResolveRecipients => (
            resolverecipients::RESOLVE_RECIPIENTS,
            resolverecipients::STATUS,
        ),
        ValidateCert => (validatecert::VALIDATE_CERT, validatecert::STATUS),
        Find => (find::FIND, find::STATUS),
        // 12.x only, answered with HTTP statuses.
        GetAttachment => return None,
    })
}

/// `<Root><Status>code</Status></Root>` in the command's own namespace.
pub fn status_only(command: Command, code: GlobalStatus) -> Option<Element> {
    response_root(command)
        .map(|(root, status)| Element::new(root).text_child(status, code.code().to_string()))
}

/// Declares one command's Status enum: its values as the spec numbers them, each
/// variant's `code()` and, as `Display`, the decimal text the Status element carries.
macro_rules! command_status {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $code:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis enum $name {
            $($(#[$vmeta])* $variant = $code,)+
        }

        impl $name {
            /// The number on the wire.
            pub fn code(self) -> u8 {
                self as u8
            }

            /// The status a number stands for, if it is one of this command's.
            #[allow(dead_code)]
            pub fn from_code(code: u8) -> Option<Self> {
                [$($name::$variant),+].into_iter().find(|s| s.code() == code)
            }
        }

        impl From<$name> for u8 {
            fn from(status: $name) -> u8 {
                status.code()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}", self.code())
            }
        }
    };
}

pub(crate) use command_status;
