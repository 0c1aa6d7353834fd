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
