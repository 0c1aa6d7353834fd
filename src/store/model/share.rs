//! Sharing records: groups of accounts, folders an account shares with accounts or groups,
//! public folders, and the ids under which a reader sees a folder that is not its own.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::{AccountId, FolderId};

pub type GroupId = u64;

/// A named set of accounts; a folder shared with it is shared with each member.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Group {
    pub id: GroupId,
    /// Lower-cased, unique; never contains `@`, so it cannot be taken for an address.
    pub name: String,
    pub members: BTreeSet<AccountId>,
    pub created: i64,
    /// "Put all members in the GAL": every member sees every other member's directory
    /// entry, whatever `[directory] gal_scope` says of their domains.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gal_members: bool,
}

/// Who a folder is shared with.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Grantee {
    Account(AccountId),
    Group(GroupId),
}

impl Grantee {
    /// The grantee as the last two parts of a share's key.
    pub fn key(self) -> (u8, u64) {
        match self {
            Grantee::Account(a) => (0, a),
            Grantee::Group(g) => (1, g),
        }
    }
}

/// What a reader may do in a folder that is not its own. Reading is always granted: a
/// share without it would show a folder that cannot be opened.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Rights {
    /// Add items and change them.
    pub write: bool,
    /// Delete items (and move them out).
    pub delete: bool,
    /// Create, rename and delete subfolders.
    pub create_subfolders: bool,
}

impl Rights {
    pub const READ_ONLY: Rights = Rights {
        write: false,
        delete: false,
        create_subfolders: false,
    };

    /// The union of two grants (a reader granted directly and through a group).
    pub fn union(self, other: Rights) -> Rights {
        Rights {
            write: self.write || other.write,
            delete: self.delete || other.delete,
            create_subfolders: self.create_subfolders || other.create_subfolders,
        }
    }
}

/// One folder of `owner` shared with one grantee.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Share {
    pub owner: AccountId,
    pub folder: FolderId,
    pub grantee: Grantee,
    pub rights: Rights,
    pub created: i64,
}

/// A folder of `owner` (the server's public account or a group's account) shown to every
/// account with the rights given here.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PublicFolder {
    pub owner: AccountId,
    pub folder: FolderId,
    pub rights: Rights,
    pub created: i64,
}

/// A folder of another account as one reader sees it: the reader's own id for it (taken
/// from the reader's folder id counter, so it can never be one of the reader's own
/// folders, and says nothing of the owner's ids) and where it really is.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct ForeignFolder {
    pub owner: AccountId,
    pub folder: FolderId,
}
