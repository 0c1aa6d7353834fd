//! Provision ([MS-ASPROV] 3.2.5.1): the two-phase handshake that hands a device its policy.
//!
//! Phase 1 (no PolicyKey in the request) returns the EASProvisionDoc with a temporary key;
//! phase 2 (the client acknowledges that key) returns the final key, which every later
//! request carries in X-MS-PolicyKey.

use super::settings::{device_information, parse_device_information};
use super::{Ctx, Reply, body_with_root, status_reply};
use crate::govern::{device, policy, wipe};
use crate::store::StoreError;
use crate::store::model::Wipe;
use crate::wbxml::{Element, tag::provision as pv, tag::settings as st};

/// Provision Status ([MS-ASPROV] 2.2.2.54.2) and Policy Status (2.2.2.54.1) values.
const OK: u8 = 1;
const PROTOCOL_ERROR: u8 = 2;
const UNKNOWN_POLICY_TYPE: u8 = 3;
const WRONG_POLICY_KEY: u8 = 5;

pub async fn handle(ctx: &mut Ctx<'_>, body: Option<Element>) -> Result<Reply, StoreError> {
    let Some(req) = body_with_root(body, pv::PROVISION) else {
        return Ok(status_reply(pv::PROVISION, pv::STATUS, PROTOCOL_ERROR));
    };
    let mut out = Element::new(pv::PROVISION);
    // 14.1+ introduces the device inside the first Provision ([MS-ASPROV] 2.2.2.52).
    if let Some(info) = req.find(st::DEVICE_INFORMATION) {
        if parse_device_information(info).is_some() {
            out.push(device_information(ctx, info).await?);
        } else {
            out.push(
                Element::new(st::DEVICE_INFORMATION)
                    .text_child(st::STATUS, PROTOCOL_ERROR.to_string()),
            );
        }
    }
    if let Wipe::Pending { soft } = ctx.device.wipe {
        return wipe(ctx, &req, soft, out).await;
    }
    let Some(policy) = req.find(pv::POLICIES).and_then(|p| p.find(pv::POLICY)) else {
        // A wipe acknowledgement without a pending wipe, or nothing at all.
        return Ok(status_reply(pv::PROVISION, pv::STATUS, PROTOCOL_ERROR));
    };
    out.push_text(pv::STATUS, OK.to_string());
    let policy_type = policy.text_of(pv::POLICY_TYPE).unwrap_or_default();
    let answer = if policy_type != policy::POLICY_TYPE {
        tracing::info!(
            "{}: unknown PolicyType {policy_type:?}",
            ctx.device.device_id
        );
        policy_element(UNKNOWN_POLICY_TYPE)
    } else {
        match policy.text_of(pv::POLICY_KEY) {
            None => phase_one(ctx).await?,
            Some(key) => phase_two(ctx, key, policy.text_of(pv::STATUS)).await?,
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
    out.push_text(pv::STATUS, OK.to_string());
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

fn policy_element(status: u8) -> Element {
    Element::new(pv::POLICY)
        .text_child(pv::POLICY_TYPE, policy::POLICY_TYPE)
        .text_child(pv::STATUS, status.to_string())
}

/// The device's effective policy (default → server → domain → user → device).
fn effective(ctx: &Ctx<'_>) -> Result<policy::Policy, StoreError> {
    policy::effective(&ctx.app.store.read()?, ctx.account, &ctx.device.device_id)
}

fn new_key() -> u32 {
    // 0 means "no key" on the wire; never hand it out.
    rand::random::<u32>().max(1)
}

async fn phase_one(ctx: &mut Ctx<'_>) -> Result<Element, StoreError> {
    let temporary = new_key();
    ctx.device = device::update(&ctx.app.store, &ctx.device, move |d| {
        d.pending_policy_key = Some(temporary);
    })
    .await?;
    let doc = effective(ctx)?.provision_doc(ctx.req.version);
    Ok(policy_element(OK)
        .text_child(pv::POLICY_KEY, temporary.to_string())
        .child(Element::new(pv::DATA).child(doc)))
}

async fn phase_two(
    ctx: &mut Ctx<'_>,
    key: &str,
    client_status: Option<&str>,
) -> Result<Element, StoreError> {
    let sent = key.trim().parse::<u32>().ok();
    let d = &ctx.device;
    // A resent acknowledgement whose answer was lost gets the same final key again.
    if let (Some(s), None, Some(final_key)) = (sent, d.pending_policy_key, d.policy_key)
        && (Some(s) == d.acked_policy_key || s == final_key)
    {
        return Ok(policy_element(OK).text_child(pv::POLICY_KEY, final_key.to_string()));
    }
    if sent.is_none() || sent != d.pending_policy_key {
        tracing::info!(
            "{}: acknowledged policy key {key:?} is not the one handed out",
            d.device_id
        );
        return Ok(policy_element(WRONG_POLICY_KEY));
    }
    if client_status != Some("1") {
        // The neutral default policy admits devices that could not apply everything; the
        // governance rules decide this once policies can require something.
        tracing::info!(
            "{}: device reports policy status {client_status:?}",
            d.device_id
        );
    }
    let final_key = new_key();
    let hash = effective(ctx)?.hash(ctx.req.version);
    ctx.device = device::update(&ctx.app.store, &ctx.device, move |d| {
        d.acked_policy_key = d.pending_policy_key.take();
        d.policy_key = Some(final_key);
        d.policy_hash = Some(hash);
    })
    .await?;
    Ok(policy_element(OK).text_child(pv::POLICY_KEY, final_key.to_string()))
}
