//! Conversations as a whole: the messages of one (by the ConversationId each message's
//! metadata carries, [MS-ASEMAIL2]), and the conversations moved with MoveAlways, whose
//! later messages are delivered to the folder they were moved to ([MS-ASCON] 2.2.2.8).

use redb::ReadableTable;

use super::items::ItemReads;
use super::model::{AccountId, FolderId};
use super::ops::Reads;
use super::tables::CONVERSATION_MOVES;
use super::tx::Tx;
use super::{StoreError, WriteCtx};

/// The ids of the messages of `folder` in conversation `conversation`. A scan of the
/// folder: a conversation move is rare enough not to pay for an index on every delivery.
pub fn messages_in(
    tx: &impl Tx,
    account: AccountId,
    folder: FolderId,
    conversation: &[u8],
) -> Result<Vec<u64>, StoreError> {
    Ok(tx
        .folder_items(account, folder)?
        .into_iter()
        .filter(|m| m.meta.conversation_id == conversation)
        .map(|m| m.id)
        .collect())
}

/// Records that the conversation's later messages go to `folder` (MoveAlways).
pub fn always_move(
    ctx: &WriteCtx,
    account: AccountId,
    conversation: &[u8],
    folder: FolderId,
) -> Result<(), StoreError> {
    ctx.tx
        .open_table(CONVERSATION_MOVES)?
        .insert((account, conversation), folder)?;
    Ok(())
}

/// The folder a new message of `conversation` is delivered to, when the conversation was
/// moved with MoveAlways and that folder still exists.
pub fn delivery_folder(
    tx: &impl Tx,
    account: AccountId,
    conversation: &[u8],
) -> Result<Option<FolderId>, StoreError> {
    let Some(folder) = tx
        .table(CONVERSATION_MOVES)?
        .get((account, conversation))?
        .map(|v| v.value())
    else {
        return Ok(None);
    };
    Ok(tx.folder(account, folder)?.map(|f| f.id))
}
