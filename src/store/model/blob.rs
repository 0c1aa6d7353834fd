use sha2::{Digest, Sha256};

/// A stored blob's name: the SHA-256 of its content, as 64 lower-case hex digits (content
/// addressing: the same bytes are stored once).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct BlobId(String);

impl BlobId {
    pub fn of(bytes: &[u8]) -> Self {
        Self::of_digest(&Sha256::digest(bytes))
    }

    /// The id of content whose SHA-256 was computed as it streamed by.
    pub fn of_digest(digest: &[u8]) -> Self {
        BlobId(digest.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// Validates an id read back from a record before it becomes a path.
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
        .then(|| BlobId(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a packed blob's record is (`store::blob::pack`): its segment, the record's
/// offset in it, the stored (maybe deflated) length, and whether it is deflated. Stored as
/// a native redb tuple (`PackedBody::to_row`), not JSON: there is one per small message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackedBody {
    pub segment: u32,
    pub offset: u64,
    pub stored_len: u32,
    pub deflated: bool,
}

impl PackedBody {
    pub fn to_row(self) -> (u32, u64, u32, u8) {
        (
            self.segment,
            self.offset,
            self.stored_len,
            u8::from(self.deflated),
        )
    }

    pub fn from_row((segment, offset, stored_len, flags): (u32, u64, u32, u8)) -> Self {
        Self {
            segment,
            offset,
            stored_len,
            deflated: flags & 1 != 0,
        }
    }
}
