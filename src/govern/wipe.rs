//! Remote wipe of one device ([MS-ASPROV] 3.1.5.2, 3.2.5.1.2.1): set by the admin, sent in
//! the device's next Provision, acknowledged by the device, confirmed by mail.

use super::GovernError;
use super::{compliance, notice};
use crate::proto::version::ProtocolVersion;
use crate::store::model::{Account, Device, ProvisionState, Wipe};
use crate::store::ops::{self, Reads};
use crate::store::{Store, StoreError};

/// Checks that `device` can be sent this kind of wipe: AccountOnlyRemoteWipe exists only
/// in 16.1 ([MS-ASPROV] 2.2.2.1).
pub fn check(device: &Device, soft: bool) -> Result<(), GovernError> {
    if soft && device.protocol < ProtocolVersion::V16_1 {
        return Err(GovernError::Invalid(format!(
            "soft wipe (AccountOnlyRemoteWipe) is not supported by {}: it speaks protocol {} \
             and the account-only wipe needs 16.1; use a full wipe",
            device.device_id, device.protocol
        )));
    }
    if device.wipe == Wipe::Done {
        return Err(GovernError::Conflict(format!(
            "{} is already wiped",
            device.device_id
        )));
    }
    Ok(())
}

/// The device acknowledged the wipe: its sync state goes, the row stays, marked wiped (so
/// it is barred and out of the list), and the owner and the admins are mailed.
pub async fn acknowledged(
    store: &Store,
    account: &Account,
    device: &Device,
) -> Result<Device, StoreError> {
    let soft = matches!(device.wipe, Wipe::Pending { soft: true });
    let (account_id, device_id) = (account.id, device.device_id.clone());
    // Its standing with the policy goes too: a cleared device starts over.
    let (_, d) = compliance::write(store, account_id, &device.device_id, move |tx, state| {
        let mut d = tx
            .device(account_id, &device_id)?
            .ok_or_else(|| StoreError::NotFound(format!("device {device_id}")))?;
        ops::delete_device(tx, account_id, &device_id)?;
        d.wipe = Wipe::Done;
        d.provision = ProvisionState::NotProvisioned;
        d.policy_hash = None;
        ops::put_device(tx, &d)?;
        *state = Default::default();
        Ok::<_, StoreError>(d)
    })
    .await?;
    tracing::warn!(
        "{} {}: remote wipe acknowledged",
        account.email,
        d.device_id
    );
    notice::wiped(store, account, &d.device_id, soft).await?;
    Ok(d)
}
