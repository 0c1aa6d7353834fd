//! Provision ([MS-ASPROV] 3.2.5.1): the two-phase handshake that hands a device its policy.
//!
//! Phase 1 (no PolicyKey in the request) returns the EASProvisionDoc with a temporary key;
//! phase 2 (the client acknowledges that key) returns the final key, which every later
//! request carries in X-MS-PolicyKey. The acknowledgement also says whether the device
//! applied the policy; one that did not is refused where AllowNonProvisionableDevices=0.

use hyper::StatusCode;

use super::settings::{self, device_information, parse_device_information};
use super::{Ctx, Reply, body_with_root, status_reply};
use crate::govern::compliance::{self, Compliance};
use crate::govern::{device, policy, wipe};
use crate::proto::ids::PolicyKey;
use crate::proto::status::command_status;
use crate::proto::version::ProtocolVersion;
use crate::store::model::{ProvisionState, Wipe};
use crate::store::{StoreError, now};
use crate::wbxml::{Element, tag::provision as pv, tag::settings as st};

command_status! {
    /// Provision Status ([MS-ASPROV] 2.2.2.54.2) and Policy Status (2.2.2.54.1) values.
    enum Status {
        Ok = 1,
        ProtocolError = 2,
        UnknownPolicyType = 3,
        WrongPolicyKey = 5,
        /// Provision Status 139: the client cannot fully comply with the policy and the server
        /// does not allow such clients ([MS-ASPROV] 3.1.5.2; [MS-ASCMD] 2.2.2, 14.0+).
        NotFullyProvisionable = 139,
    }
}

pub async fn handle(ctx: &mut Ctx<'_>, body: Option<Element>) -> Result<Reply, StoreError> {
    let Some(req) = body_with_root(body, pv::PROVISION) else {
        return Ok(status_reply(
            pv::PROVISION,
            pv::STATUS,
            Status::ProtocolError,
        ));
    };
    let mut out = Element::new(pv::PROVISION);
    // 14.1+ introduces the device inside the first Provision ([MS-ASPROV] 2.2.2.52).
    if let Some(info) = req.find(st::DEVICE_INFORMATION) {
        if parse_device_information(info).is_some() {
            out.push(device_information(ctx, info).await?);
        } else {
            out.push(
                Element::new(st::DEVICE_INFORMATION)
                    .text_child(st::STATUS, settings::Status::ProtocolError.to_string()),
            );
        }
    }
    if let Wipe::Pending { soft } = ctx.device.wipe {
        return wipe(ctx, &req, soft, out).await;
    }
    let Some(policy) = req.find(pv::POLICIES).and_then(|p| p.find(pv::POLICY)) else {
        // A wipe acknowledgement without a pending wipe, or nothing at all.
        return Ok(status_reply(
            pv::PROVISION,
            pv::STATUS,
            Status::ProtocolError,
        ));
    };
    out.push_text(pv::STATUS, Status::Ok.to_string());
    let policy_type = policy.text_of(pv::POLICY_TYPE).unwrap_or_default();
    let answer = if policy_type != policy::POLICY_TYPE {
        tracing::info!(
            "{}: unknown PolicyType {policy_type:?}",
            ctx.device.device_id
        );
        policy_element(Status::UnknownPolicyType)
    } else {
        match policy.text_of(pv::POLICY_KEY) {
            None => phase_one(ctx).await?,
            Some(key) => match phase_two(ctx, key, policy.text_of(pv::STATUS)).await? {
                Some(answer) => answer,
                None => return Ok(not_fully_provisionable(ctx)),
            },
        }
    };
    out.push(Element::new(pv::POLICIES).child(answer));
    Ok(Reply::Wbxml(out))
}

/// A pending remote wipe ([MS-ASPROV] 3.2.5.1.2.1): any Provision gets the directive
/// (RemoteWipe, or AccountOnlyRemoteWipe for a 16.1 soft wipe) until the device sends its
/// acknowledgement, `<RemoteWipe><Status>1</Status></RemoteWipe>`.
async fn wipe(
    ctx: &mut Ctx<'_>,
    req: &Element,
    soft: bool,
    mut out: Element,
) -> Result<Reply, StoreError> {
    let directive = if soft {
        pv::ACCOUNT_ONLY_REMOTE_WIPE
    } else {
        pv::REMOTE_WIPE
    };
    out.push_text(pv::STATUS, Status::Ok.to_string());
    match req.find(directive).map(|a| a.text_of(pv::STATUS)) {
        Some(Some("1")) => {
            ctx.device = wipe::acknowledged(&ctx.app.store, ctx.account, &ctx.device).await?;
        }
        Some(status) => {
            // Status 2: the device could not wipe; the directive stays pending.
            tracing::warn!(
                "{}: remote wipe acknowledged with status {status:?}",
                ctx.device.device_id
            );
        }
        None => out.push(Element::new(directive)),
    }
    Ok(Reply::Wbxml(out))
}

fn policy_element(status: Status) -> Element {
    Element::new(pv::POLICY)
        .text_child(pv::POLICY_TYPE, policy::POLICY_TYPE)
        .text_child(pv::STATUS, status.to_string())
}

/// The answer to an acknowledgement reporting the policy was not applied, where that is
/// not allowed: Status 139 where the version has it, else HTTP 403.
fn not_fully_provisionable(ctx: &Ctx<'_>) -> Reply {
    if ctx.req.version >= ProtocolVersion::V14_0 {
        status_reply(pv::PROVISION, pv::STATUS, Status::NotFullyProvisionable)
    } else {
        Reply::Http(StatusCode::FORBIDDEN)
    }
}

async fn phase_one(ctx: &mut Ctx<'_>) -> Result<Element, StoreError> {
    let temporary = PolicyKey::random();
    ctx.device = device::update(&ctx.app.store, &ctx.device, move |d| {
        d.provision = d.provision.offered(temporary);
    })
    .await?;
    let doc = ctx.policy.policy.provision_doc(ctx.req.version);
    Ok(policy_element(Status::Ok)
        .text_child(pv::POLICY_KEY, temporary.to_string())
        .child(Element::new(pv::DATA).child(doc)))
}

/// The acknowledgement: the final key, or `None` when the device reports it did not
/// apply the policy and AllowNonProvisionableDevices=0 (it is then refused, and its owner
/// and the admins told, once).
async fn phase_two(
    ctx: &mut Ctx<'_>,
    key: &str,
    client_status: Option<&str>,
) -> Result<Option<Element>, StoreError> {
    let sent = PolicyKey::parse(key).ok().flatten();
    let d = &ctx.device;
    // A resent acknowledgement whose answer was lost gets the same final key again.
    if let (Some(s), ProvisionState::Provisioned { final_key, acked }) = (sent, d.provision)
        && (Some(s) == acked || s == final_key)
    {
        return Ok(Some(
            policy_element(Status::Ok).text_child(pv::POLICY_KEY, final_key.to_string()),
        ));
    }
    if sent.is_none() || sent != d.provision.offer() {
        tracing::info!(
            "{}: acknowledged policy key {key:?} is not the one handed out",
            d.device_id
        );
        return Ok(Some(policy_element(Status::WrongPolicyKey)));
    }
    let store = &ctx.app.store;
    let policy = ctx.policy.clone();
    // [MS-ASPROV] 2.2.2.54.1: 1 applied; 2 partly, 3 not at all, 4 by a third party.
    let compliance = if client_status == Some("1") {
        Compliance::Compliant
    } else {
        tracing::info!(
            "{}: device reports policy status {client_status:?}",
            d.device_id
        );
        Compliance::NonCompliant
    };
    if compliance == Compliance::NonCompliant && !policy.limits.allow_non_provisionable {
        compliance::record(store, ctx.account, &ctx.device, compliance, true).await?;
        ctx.device = device::update(store, &ctx.device, |d| {
            d.provision = ProvisionState::NotProvisioned;
            d.policy_hash = None;
        })
        .await?;
        return Ok(None);
    }
    let (final_key, hash, t) = (PolicyKey::random(), policy.hash(ctx.req.version), now());
    let (account, device_id) = (ctx.account.id, ctx.device.device_id.clone());
    let (_, d) = compliance::write(store, account, &device_id.clone(), move |tx, s| {
        s.accepted_at = Some(t);
        s.compliance = compliance;
        device::change_in(tx, account, &device_id, |d| {
            d.provision = d.provision.accepted(final_key);
            d.policy_hash = Some(hash);
        })
    })
    .await?;
    ctx.device = d;
    Ok(Some(
        policy_element(Status::Ok).text_child(pv::POLICY_KEY, final_key.to_string()),
    ))
}
