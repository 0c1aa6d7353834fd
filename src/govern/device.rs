//! The device registry as seen from a request: find or register the device, and keep its
//! row current without a commit on every request.

use crate::proto::query::EasRequest;
use crate::store::model::{Account, AccountId, Device, DeviceInfo, ProvisionState, Wipe};
use crate::store::ops::{self, Reads};
use crate::store::{Store, StoreError, WriteCtx, now};

/// `last_seen` is refreshed at most this often, so a Ping storm does not become a storm
/// of fsyncs.
const LAST_SEEN_GRANULARITY: i64 = 300;

/// Returns the device row for this request, creating or refreshing it when needed.
pub async fn touch(
    store: &Store,
    account: &Account,
    req: &EasRequest,
    user_agent: Option<&str>,
) -> Result<Device, StoreError> {
    let t = now();
    let (owner, id) = (account.id, req.device_id.clone());
    let existing = store.view(move |tx| tx.device(owner, id.as_str())).await?;
    let protocol = req.version;
    let current = existing.as_ref().is_some_and(|d| {
        d.protocol == protocol
            && d.device_type == req.device_type
            && (user_agent.is_none() || d.http_user_agent.as_deref() == user_agent)
            && t - d.last_seen < LAST_SEEN_GRANULARITY
    });
    if let (true, Some(d)) = (current, existing) {
        return Ok(d);
    }
    let account_id = account.id;
    let device_id = req.device_id.clone();
    let device_type = req.device_type.clone();
    let user_agent = user_agent.map(str::to_owned);
    store
        .write(move |ctx| {
            let mut d = ctx
                .device(account_id, &device_id)?
                .unwrap_or_else(|| Device {
                    account: account_id,
                    device_id: device_id.clone(),
                    device_type: device_type.clone(),
                    info: DeviceInfo::default(),
                    protocol,
                    first_seen: t,
                    last_seen: t,
                    provision: ProvisionState::NotProvisioned,
                    http_user_agent: None,
                    policy_hash: None,
                    recovery_password: None,
                    protocol_log: false,
                    abq: None,
                    abq_reason: None,
                    abq_direct: None,
                    quarantine_mailed: false,
                    wipe: Wipe::None,
                    settings: None,
                });
            d.device_type = device_type.clone();
            d.protocol = protocol;
            d.last_seen = t;
            if user_agent.is_some() {
                d.http_user_agent = user_agent.clone();
            }
            ops::put_device(ctx, &d)?;
            Ok(d)
        })
        .await
}

/// Applies a change to the device row in one write transaction and returns the new row.
pub async fn update(
    store: &Store,
    device: &Device,
    change: impl Fn(&mut Device) + Send + 'static,
) -> Result<Device, StoreError> {
    let (account, device_id) = (device.account, device.device_id.clone());
    store
        .write(move |ctx| change_in(ctx, account, &device_id, &change))
        .await
}

/// Applies a change to the device row inside a write job and returns the new row.
pub fn change_in(
    w: &WriteCtx,
    account: AccountId,
    device_id: &str,
    change: impl FnOnce(&mut Device),
) -> Result<Device, StoreError> {
    let mut d = w
        .device(account, device_id)?
        .ok_or_else(|| StoreError::NotFound(format!("device {device_id}")))?;
    change(&mut d);
    ops::put_device(w, &d)?;
    Ok(d)
}
