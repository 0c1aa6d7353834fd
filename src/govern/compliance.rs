//! A device's standing with its security policy: when it last accepted one (for
//! PolicyRefreshHours), whether it can apply the policy at all, and whether the notice of
//! its refusal went out. Kept beside the device row, in the governance table under
//! `device:ACCOUNT/DEVICEID`, read through the cache and written only by [`write`].

use std::collections::HashMap;

use redb::{ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::{cache, notice};
use crate::store::model::{Account, AccountId, Device};
use crate::store::ops::Tx;
use crate::store::tables::{self, GOVERNANCE};
use crate::store::{Store, StoreError};

/// The prefix of the device records' keys.
const PREFIX: &str = "device:";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceState {
    /// When the device last acknowledged its policy (Unix seconds).
    #[serde(default)]
    pub accepted_at: Option<i64>,
    #[serde(default)]
    pub compliance: Compliance,
    /// The owner and the admins were told the device cannot connect.
    #[serde(default)]
    pub refusal_mailed: bool,
}

/// Whether a device can apply its policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Compliance {
    /// Not provisioned yet.
    #[default]
    Unknown,
    /// Acknowledged its policy with Status 1 ([MS-ASPROV] 2.2.2.54.1).
    Compliant,
    /// Sends no X-MS-PolicyKey: it does not know provisioning ([MS-ASPROV] 3.1.5.2,
    /// Status 141).
    NotProvisionable,
    /// Acknowledged its policy with another Status: partly applied, not applied, or
    /// provisioned by a third party ([MS-ASPROV] 2.2.2.54.1, 3.1.5.2 Status 139).
    NonCompliant,
}

impl Compliance {
    /// The name `easd device list --json` shows.
    pub fn name(self) -> &'static str {
        match self {
            Compliance::Unknown => "unknown",
            Compliance::Compliant => "compliant",
            Compliance::NotProvisionable => "not-provisionable",
            Compliance::NonCompliant => "non-compliant",
        }
    }

    /// A device of this kind cannot apply the policy: AllowNonProvisionableDevices decides
    /// whether it may sync.
    pub fn cannot_apply(self) -> bool {
        matches!(
            self,
            Compliance::NotProvisionable | Compliance::NonCompliant
        )
    }

    /// What the device did, for the notice.
    fn what(self) -> &'static str {
        match self {
            Compliance::NotProvisionable => "sends no policy key: it does not support provisioning",
            _ => "reported that it could not apply the security policy",
        }
    }
}

fn key(account: AccountId, device_id: &str) -> String {
    format!("{PREFIX}{account}/{device_id}")
}

pub fn get(tx: &impl Tx, account: AccountId, device_id: &str) -> Result<DeviceState, StoreError> {
    let stored = tables::get(
        &tx.table(GOVERNANCE)?,
        "governance",
        key(account, device_id).as_str(),
    )?;
    Ok(stored.unwrap_or_default())
}

/// Every device's state, by (account, DeviceId).
pub fn all(tx: &impl Tx) -> Result<HashMap<(AccountId, String), DeviceState>, StoreError> {
    let table = tx.table(GOVERNANCE)?;
    let mut out = HashMap::new();
    // ';' follows ':', so this is every key that starts with "device:".
    for row in table.range(PREFIX.."device;")? {
        let (k, v) = row?;
        let Some((account, device_id)) = k.value()[PREFIX.len()..].split_once('/') else {
            continue;
        };
        let Ok(account) = account.parse() else {
            continue;
        };
        out.insert(
            (account, device_id.to_owned()),
            tables::decode("governance", v.value())?,
        );
    }
    Ok(out)
}

/// Runs `job` on the device's state (and whatever else it changes) in one write
/// transaction, then drops the cached copy.
pub async fn write<T: Send + 'static>(
    store: &Store,
    account: AccountId,
    device_id: &str,
    mut job: impl FnMut(&WriteTransaction, &mut DeviceState) -> Result<T, StoreError> + Send + 'static,
) -> Result<(DeviceState, T), StoreError> {
    let id = device_id.to_owned();
    let out = store
        .write(move |ctx| {
            let mut state = get(ctx.tx, account, &id)?;
            let out = job(ctx.tx, &mut state)?;
            let mut table = ctx.tx.open_table(GOVERNANCE)?;
            let k = key(account, &id);
            if state == DeviceState::default() {
                table.remove(k.as_str())?;
            } else {
                table.insert(k.as_str(), tables::encode(&state).as_slice())?;
            }
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
    let state = cache::device_state(store, account.id, &device.device_id)?;
    if state.compliance == compliance && (!refused || state.refusal_mailed) {
        return Ok(());
    }
    let (_, mail) = write(store, account.id, &device.device_id, move |_, s| {
        s.compliance = compliance;
        // Claimed in the same transaction, so concurrent requests mail only once.
        let mail = refused && !s.refusal_mailed;
        s.refusal_mailed |= mail;
        Ok(mail)
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
