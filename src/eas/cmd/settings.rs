//! Settings ([MS-ASCMD] 2.2.1.18): Oof Get/Set, DevicePassword Set, DeviceInformation Set,
//! UserInformation Get. Each part is answered with its own Status.

use super::{Ctx, Reply, body_with_root, status_reply};
use crate::govern::device;
use crate::proto::status::command_status;
use crate::proto::version::ProtocolVersion;
use crate::store::StoreError;
use crate::store::model::{DeviceInfo, Oof, OofMessage};
use crate::store::ops::{self, Reads};
use crate::wbxml::{Element, tag::settings as st};

command_status! {
    /// Settings Status values ([MS-ASCMD] 2.2.3.177.13); Provision's DeviceInformation
    /// answers with them too.
    pub(super) enum Status {
        Ok = 1,
        ProtocolError = 2,
        InvalidArguments = 5,
    }
}

pub async fn handle(ctx: &mut Ctx<'_>, body: Option<Element>) -> Result<Reply, StoreError> {
    let Some(req) = body_with_root(body, st::SETTINGS) else {
        return Ok(status_reply(
            st::SETTINGS,
            st::STATUS,
            Status::ProtocolError,
        ));
    };
    let mut out = Element::new(st::SETTINGS).text_child(st::STATUS, Status::Ok.to_string());
    for part in req.elements() {
        let answer = if part.tag == st::OOF {
            oof(ctx, part).await?
        } else if part.tag == st::DEVICE_PASSWORD {
            device_password(ctx, part).await?
        } else if part.tag == st::DEVICE_INFORMATION {
            device_information(ctx, part).await?
        } else if part.tag == st::USER_INFORMATION {
            user_information(ctx, part)
        } else if part.tag == st::RIGHTS_MANAGEMENT_INFORMATION {
            // No IRM templates here: an empty list, successfully.
            Element::new(st::RIGHTS_MANAGEMENT_INFORMATION)
                .text_child(st::STATUS, Status::Ok.to_string())
                .child(Element::new(st::GET))
        } else {
            return Ok(status_reply(
                st::SETTINGS,
                st::STATUS,
                Status::ProtocolError,
            ));
        };
        out.push(answer);
    }
    Ok(Reply::Wbxml(out))
}

fn with_status(tag: crate::wbxml::Tag, code: Status) -> Element {
    Element::new(tag).text_child(st::STATUS, code.to_string())
}

/// Reads DeviceInformation/Set; shared with Provision, where 14.1+ clients send it too.
pub fn parse_device_information(e: &Element) -> Option<DeviceInfo> {
    let set = e.find(st::SET)?;
    let text = |t| set.text_of(t).map(str::to_owned);
    Some(DeviceInfo {
        model: text(st::MODEL),
        imei: text(st::IMEI),
        friendly_name: text(st::FRIENDLY_NAME),
        os: text(st::OS),
        os_language: text(st::OS_LANGUAGE),
        phone_number: text(st::PHONE_NUMBER),
        mobile_operator: text(st::MOBILE_OPERATOR),
        user_agent: text(st::USER_AGENT),
        enable_outbound_sms: set.text_of(st::ENABLE_OUTBOUND_SMS).map(|v| v == "1"),
    })
}

/// Stores DeviceInformation on the device row; answers the part's element.
pub async fn device_information(ctx: &mut Ctx<'_>, part: &Element) -> Result<Element, StoreError> {
    let Some(info) = parse_device_information(part) else {
        return Ok(with_status(st::DEVICE_INFORMATION, Status::ProtocolError));
    };
    ctx.device = device::update(&ctx.app.store, &ctx.device, move |d| {
        d.info = info.clone();
    })
    .await?;
    Ok(with_status(st::DEVICE_INFORMATION, Status::Ok))
}

async fn device_password(ctx: &mut Ctx<'_>, part: &Element) -> Result<Element, StoreError> {
    let Some(password) = part.find(st::SET).and_then(|s| s.text_of(st::PASSWORD)) else {
        return Ok(with_status(st::DEVICE_PASSWORD, Status::ProtocolError));
    };
    let password = password.to_owned();
    ctx.device = device::update(&ctx.app.store, &ctx.device, move |d| {
        d.recovery_password = Some(password.clone());
    })
    .await?;
    Ok(with_status(st::DEVICE_PASSWORD, Status::Ok))
}

/// [MS-ASCMD] 2.2.3.87: 14.1+ wraps the addresses in Accounts/Account with the display
/// name and the primary address; older versions get the bare list.
fn user_information(ctx: &Ctx<'_>, part: &Element) -> Element {
    if part.find(st::GET).is_none() {
        return with_status(st::USER_INFORMATION, Status::ProtocolError);
    }
    let email = &ctx.account.email;
    let addresses = Element::new(st::EMAIL_ADDRESSES).text_child(st::SMTP_ADDRESS, email.clone());
    let get = if ctx.req.version >= ProtocolVersion::V14_1 {
        let account = Element::new(st::ACCOUNT)
            .text_child(st::USER_DISPLAY_NAME, display_name(ctx))
            .child(addresses.text_child(st::PRIMARY_SMTP_ADDRESS, email.clone()));
        Element::new(st::GET).child(Element::new(st::ACCOUNTS).child(account))
    } else {
        Element::new(st::GET).child(addresses)
    };
    with_status(st::USER_INFORMATION, Status::Ok).child(get)
}

fn display_name(ctx: &Ctx<'_>) -> String {
    if ctx.account.display_name.is_empty() {
        ctx.account.email.clone()
    } else {
        ctx.account.display_name.clone()
    }
}

async fn oof(ctx: &mut Ctx<'_>, part: &Element) -> Result<Element, StoreError> {
    if part.find(st::GET).is_some() {
        let id = ctx.account.id;
        let account = ctx.app.store.view(move |tx| tx.account(id)).await?;
        let oof = account.map(|a| a.oof).unwrap_or_default();
        return Ok(with_status(st::OOF, Status::Ok).child(oof_get(&oof)));
    }
    let Some(set) = part.find(st::SET) else {
        return Ok(with_status(st::OOF, Status::ProtocolError));
    };
    let Some(oof) = parse_oof_set(set) else {
        return Ok(with_status(st::OOF, Status::InvalidArguments));
    };
    let id = ctx.account.id;
    ctx.app
        .store
        .write(move |w| {
            let mut a = w
                .account(id)?
                .ok_or_else(|| StoreError::NotFound("account".into()))?;
            a.oof = oof.clone();
            ops::put_account(w, &a)
        })
        .await?;
    Ok(with_status(st::OOF, Status::Ok))
}

fn parse_oof_set(set: &Element) -> Option<Oof> {
    let state = match set.text_of(st::OOF_STATE) {
        Some(s) => s.parse::<u8>().ok().filter(|s| *s <= 2)?,
        None => 0,
    };
    let mut oof = Oof {
        state,
        start_time: set.text_of(st::START_TIME).map(str::to_owned),
        end_time: set.text_of(st::END_TIME).map(str::to_owned),
        ..Oof::default()
    };
    // Time-based OOF needs its window ([MS-ASCMD] 2.2.3.118).
    if state == 2 && (oof.start_time.is_none() || oof.end_time.is_none()) {
        return None;
    }
    for m in set.find_all(st::OOF_MESSAGE) {
        let msg = OofMessage {
            enabled: m.text_of(st::ENABLED) == Some("1"),
            reply: m.text_of(st::REPLY_MESSAGE).unwrap_or_default().to_owned(),
            body_type: m.text_of(st::BODY_TYPE).unwrap_or("Text").to_owned(),
        };
        if m.find(st::APPLIES_TO_INTERNAL).is_some() {
            oof.internal = Some(msg);
        } else if m.find(st::APPLIES_TO_EXTERNAL_KNOWN).is_some() {
            oof.external_known = Some(msg);
        } else if m.find(st::APPLIES_TO_EXTERNAL_UNKNOWN).is_some() {
            oof.external_unknown = Some(msg);
        } else {
            return None;
        }
    }
    Some(oof)
}

fn oof_get(oof: &Oof) -> Element {
    let mut get = Element::new(st::GET).text_child(st::OOF_STATE, oof.state.to_string());
    if let (Some(s), Some(e)) = (&oof.start_time, &oof.end_time) {
        get.push_text(st::START_TIME, s.clone());
        get.push_text(st::END_TIME, e.clone());
    }
    for (applies, msg) in [
        (st::APPLIES_TO_INTERNAL, &oof.internal),
        (st::APPLIES_TO_EXTERNAL_KNOWN, &oof.external_known),
        (st::APPLIES_TO_EXTERNAL_UNKNOWN, &oof.external_unknown),
    ] {
        let mut m = Element::new(st::OOF_MESSAGE).child(Element::new(applies));
        match msg {
            Some(msg) => {
                m.push_text(st::ENABLED, if msg.enabled { "1" } else { "0" });
                m.push_text(st::REPLY_MESSAGE, msg.reply.clone());
                m.push_text(st::BODY_TYPE, msg.body_type.clone());
            }
            None => m.push_text(st::ENABLED, "0"),
        }
        get.push(m);
    }
    get
}
