//! A device's standing with its security policy: when it last accepted one (for
//! PolicyRefreshHours), whether it can apply the policy at all, and whether the notice of
//! its refusal went out. Kept beside the device row, in the governance table under
//! `device:ACCOUNT/DEVICEID`, read through the cache and written only by [`write`].

use std::collections::HashMap;

use super::{cache, notice};
use crate::store::governance::{self, GovernanceReads};
use crate::store::model::{Account, AccountId, Device};
use crate::store::{Reader, Store, StoreError, WriteCtx};

pub use crate::store::model::{Compliance, DeviceState};

impl Compliance {
    /// What the device did, for the notice.
    fn what(self) -> &'static str {
        match self {
            Compliance::NotProvisionable => "sends no policy key: it does not support provisioning",
            _ => "reported that it could not apply the security policy",
        }
    }
}

pub fn get(
    tx: &impl Reader,
    account: AccountId,
    device_id: &str,
) -> Result<DeviceState, StoreError> {
    tx.device_state(account, device_id)
}

/// Every device's state, by (account, DeviceId).
pub fn all(tx: &impl Reader) -> Result<HashMap<(AccountId, String), DeviceState>, StoreError> {
    tx.device_states()
}

/// Runs `job` on the device's state (and whatever else it changes) in one write
/// transaction, then drops the cached copy.
pub async fn write<T, E>(
    store: &Store,
    account: AccountId,
    device_id: &str,
    mut job: impl FnMut(&WriteCtx, &mut DeviceState) -> Result<T, E> + Send + 'static,
) -> Result<(DeviceState, T), E>
where
    T: Send + 'static,
    E: From<StoreError> + Send + 'static,
{
    let id = device_id.to_owned();
    let out = store
        .write_or(move |ctx| {
            let mut state = ctx.device_state(account, &id)?;
            let out = job(ctx, &mut state)?;
            governance::put_device_state(ctx, account, &id, &state)?;
            Ok((state, out))
        })
        .await;
    cache::forget_device(store, account, device_id);
    out
}

/// Records how the device stands with its policy. A device `refused` for it gets its
/// owner and the admins mailed, once.
pub async fn record(
    store: &Store,
    account: &Account,
    device: &Device,
    compliance: Compliance,
    refused: bool,
) -> Result<(), StoreError> {
    let state = cache::device_state(store, account.id, &device.device_id).await?;
    if state.compliance == compliance && (!refused || state.refusal_mailed) {
        return Ok(());
    }
    let (_, mail) = write(store, account.id, &device.device_id, move |_, s| {
        s.compliance = compliance;
        // Claimed in the same transaction, so concurrent requests mail only once.
        let mail = refused && !s.refusal_mailed;
        s.refusal_mailed |= mail;
        Ok::<_, StoreError>(mail)
    })
    .await?;
    if mail {
        tracing::warn!(
            "{} {}: refused, it {}",
            account.email,
            device.device_id,
            compliance.what()
        );
        notice::non_compliant(store, account, device, compliance.what()).await?;
    }
    Ok(())
}
