//! An account's entry in the company directory (the global address list).

use serde::{Deserialize, Serialize};

use super::{AccountId, FolderId};
use crate::store::blob::BlobId;

/// What the directory says of an account beyond its address and display name (both kept
/// on [`super::Account`]): the properties a GAL search returns ([MS-ASCMD] 2.2.3.142.2,
/// the `gal:` code page), a photo and the account's S/MIME certificates. Empty strings are
/// "not set" and are never sent.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DirectoryEntry {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub first_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub last_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub alias: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub company: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub office: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub business_phone: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub home_phone: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mobile_phone: String,
    /// A JPEG (or other image) kept as a blob: the directory index holds only its size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo: Option<StoredBytes>,
    /// DER X.509 certificates, each a blob.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<StoredBytes>,
}

/// Bytes kept in the blob store, with their length (known without reading them).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StoredBytes {
    pub blob: BlobId,
    pub size: u32,
}

/// A contacts folder whose contacts are in the global address list (schema 10): the
/// owner's own, one it shares, a public folder or a group account's. Who sees them is
/// decided when the list is built (`directory::gal`), from the folder's shares.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GalSource {
    pub owner: AccountId,
    pub folder: FolderId,
    pub created: i64,
}
