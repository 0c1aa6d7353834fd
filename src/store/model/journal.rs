/// A delivery acknowledged before it is in the database: its record in the delivery
/// journal (`store::journal`), enough to apply it again after a crash. The message itself
/// is the blob, already durable; what the delivery derives from it (headers, the
/// calendar change of an invitation) is derived again from the same bytes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct JournaledDelivery {
    /// The recipients' accounts, sorted and distinct.
    pub accounts: Vec<super::AccountId>,
    pub blob: super::BlobId,
    /// When it was received (Unix seconds): the message's DateReceived.
    pub received: i64,
}
