//! Every account's own page (`/account`): its devices (those it may use: not blocked or
//! quarantined), remote wipe of one of them after a confirmation step, and a password
//! change. A device is looked up among the signed-in account's own only: any other
//! DeviceId is refused (403) whether or not another account has one by that name.

use std::time::Instant;

use hyper::{Response, StatusCode};
use maud::{Markup, html};

use super::form::Form;
use super::page::{self, Area};
use super::{SESSION_COOKIE, SignedIn, Visit};
use crate::admin::govern::GovRequest;
use crate::admin::ops::Request as AdminRequest;
use crate::admin::reply::{GovReply, Reply};
use crate::govern::policy::{Value, value_text};
use crate::govern::registry::{DeviceSummary, Filter};
use crate::http_body::Body;
use crate::store::model::{Access, OofMessage};
use crate::store::ops::Reads;

/// Where a password change leads: the overview, saying so.
const PASSWORD_CHANGED: &str = "/account?changed=password";
/// Where saving the out-of-office settings leads.
const OOF_SAVED: &str = "/account?changed=oof";

pub async fn get(visit: &Visit<'_>, s: &SignedIn) -> Response<Body> {
    match visit.path {
        "/account" if visit.query == "changed=password" => {
            let notice = (StatusCode::OK, visit.text().password_changed, false);
            overview(visit, s, Some(notice)).await
        }
        "/account" if visit.query == "changed=oof" => {
            let notice = (StatusCode::OK, visit.text().oof_saved, false);
            overview(visit, s, Some(notice)).await
        }
        "/account" => overview(visit, s, None).await,
        _ => visit.message(StatusCode::NOT_FOUND, visit.text().not_found),
    }
}

pub async fn post(visit: &Visit<'_>, s: &SignedIn, form: &Form) -> Response<Body> {
    match visit.path {
        "/account/wipe" => wipe(visit, s, form).await,
        "/account/password" => change_password(visit, s, form).await,
        "/account/oof" => out_of_office(visit, s, form).await,
        _ => visit.message(StatusCode::NOT_FOUND, visit.text().not_found),
    }
}

/// The account's devices it may use. `Err` when the registry could not be read.
async fn own_devices(visit: &Visit<'_>, s: &SignedIn) -> Result<Vec<DeviceSummary>, Reply> {
    let filter = Filter {
        user: Some(s.account.email.clone()),
        ..Filter::default()
    };
    match visit
        .run(AdminRequest::Govern(GovRequest::DeviceList { filter }))
        .await
    {
        Reply::Govern(GovReply::Devices { devices }) => Ok(devices
            .into_iter()
            .filter(|d| d.user == s.account.email && d.abq == Access::Allow)
            .collect()),
        other => Err(other),
    }
}

fn account_page(visit: &Visit<'_>, status: StatusCode, body: Markup) -> Response<Body> {
    let t = visit.text();
    page::html(
        status,
        visit.shell(Area::Account).page(t.account_title, body),
    )
}

async fn overview(
    visit: &Visit<'_>,
    s: &SignedIn,
    outcome: Option<(StatusCode, &str, bool)>,
) -> Response<Body> {
    let t = visit.text();
    let devices = match own_devices(visit, s).await {
        Ok(d) => d,
        Err(other) => {
            tracing::error!("{}: web: listing devices: {other:?}", visit.peer);
            return visit.server_error();
        }
    };
    let policy = match visit
        .run(AdminRequest::Govern(GovRequest::PolicyShow {
            level: format!("user:{}", s.account.email),
        }))
        .await
    {
        Reply::Govern(GovReply::Policy { source, values, .. }) => (source, values),
        other => {
            tracing::error!("{}: web: reading the policy: {other:?}", visit.peer);
            return visit.server_error();
        }
    };
    let csrf = &s.session.csrf;
    let oof = &s.account.oof;
    let oof_text = oof.internal.as_ref().map_or("", |m| m.reply.as_str());
    let body = html! {
        @if let Some((_, text, error)) = outcome { (page::notice(text, error)) }
        h2 { (t.my_devices) }
        @if devices.is_empty() {
            p { (t.no_devices) }
        } @else {
            div.table { table {
                thead { tr {
                    th { (t.device) } th { (t.device_type) } th { (t.model) }
                    th { (t.last_sync) } th { (t.wipe_status) } th {}
                } }
                tbody { @for d in &devices { tr {
                    td { (d.friendly_name.as_deref().unwrap_or(&d.device_id)) br; small { (d.device_id) } }
                    td { (d.device_type) }
                    td { (d.model.as_deref().unwrap_or("–")) }
                    td { (page::when(d.last_sync)) }
                    td { (d.wipe) }
                    td {
                        form.inline method="post" action="/account/wipe" {
                            input type="hidden" name="csrf" value=(csrf);
                            input type="hidden" name="device" value=(d.device_id);
                            button.danger type="submit" { (t.wipe) }
                        }
                    }
                } } }
            } }
        }
        h2 { (t.my_policy) }
        section {
            p { (policy.0) }
            dl {
                @for (name, value) in policy.1.iter().filter(|(_, v)| *v != Value::Unset) {
                    dt { (name) } dd { (value_text(value)) }
                }
            }
        }
        h2 { (t.out_of_office) }
        form.box method="post" action="/account/oof" {
            input type="hidden" name="csrf" value=(csrf);
            label { input type="checkbox" name="on" checked[oof.state != 0]; " " (t.oof_on) }
            label for="reply" { (t.oof_reply) }
            textarea #reply name="reply" rows="4" cols="40" { (oof_text) }
            p { button type="submit" { (t.save) } }
        }
        h2 { (t.change_password) }
        form.box method="post" action="/account/password" {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="user" value=(s.account.email) autocomplete="username";
            label for="current" { (t.current_password) }
            input #current type="password" name="current" autocomplete="current-password" required;
            label for="new" { (t.new_password) }
            input #new type="password" name="new" autocomplete="new-password" required;
            p { button type="submit" { (t.change) } }
        }
    };
    account_page(visit, outcome.map_or(StatusCode::OK, |(st, _, _)| st), body)
}

/// First POST: the confirmation page; with `confirm=1`: the wipe.
async fn wipe(visit: &Visit<'_>, s: &SignedIn, form: &Form) -> Response<Body> {
    let t = visit.text();
    let device_id = form.text("device");
    let devices = match own_devices(visit, s).await {
        Ok(d) => d,
        Err(other) => {
            tracing::error!("{}: web: listing devices: {other:?}", visit.peer);
            return visit.server_error();
        }
    };
    let Some(device) = devices.iter().find(|d| d.device_id == device_id) else {
        tracing::warn!(
            "{}: web: {} asked to wipe device {device_id:?}, not one of theirs: refused",
            visit.peer,
            s.account.email
        );
        return visit.forbidden(t.not_your_device);
    };
    if form.text("confirm") != "1" {
        let subject = format!(
            "{} · {} · {}",
            device.friendly_name.as_deref().unwrap_or(&device.device_id),
            device.device_type,
            device.model.as_deref().unwrap_or("–")
        );
        let ask = page::Confirmation {
            question: t.wipe_question,
            subject: Some(&subject),
            action: "/account/wipe",
            fields: &[("device", &device.device_id)],
            button: t.wipe_confirm,
            back: "/account",
        };
        return account_page(visit, StatusCode::OK, ask.form(&s.session.csrf, t.cancel));
    }
    let req = GovRequest::DeviceWipe {
        device: format!("{}/{}", s.account.email, device.device_id),
        soft: false,
    };
    match visit.run(AdminRequest::Govern(req)).await {
        Reply::Error { message } => {
            overview(
                visit,
                s,
                Some((StatusCode::UNPROCESSABLE_ENTITY, &message, true)),
            )
            .await
        }
        _ => overview(visit, s, Some((StatusCode::OK, t.wipe_requested, false))).await,
    }
}

/// Checks the current password (through the login throttle), sets the new one, and
/// gives the browser a new session: the old one ends with the password it logged in with.
async fn change_password(visit: &Visit<'_>, s: &SignedIn, form: &Form) -> Response<Body> {
    let t = visit.text();
    let app = visit.app;
    let email = &s.account.email;
    let check = app
        .auth
        .login(&app.store, email, form.text("current"), visit.peer.ip());
    if let Err(e) = Box::pin(check).await {
        tracing::warn!("{}: web: {email}: password change refused: {e}", visit.peer);
        let status = match e {
            crate::auth::AuthError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            _ => StatusCode::FORBIDDEN,
        };
        return overview(visit, s, Some((status, t.wrong_password, true))).await;
    }
    let req = AdminRequest::UserPasswd {
        email: email.clone(),
        password: form.text("new").to_owned(),
    };
    if let Reply::Error { message } = visit.run(req).await {
        return overview(
            visit,
            s,
            Some((StatusCode::UNPROCESSABLE_ENTITY, &message, true)),
        )
        .await;
    }
    app.sessions.close(&s.token);
    let id = s.account.id;
    let account = match app.store.view(move |tx| tx.account(id)).await {
        Ok(Some(a)) => a,
        _ => return page::redirect("/login"),
    };
    let token = app.sessions.open(&account, Instant::now());
    // A new page, so that its forms carry the new session's CSRF token.
    page::with_cookie(
        page::redirect(PASSWORD_CHANGED),
        page::cookie(SESSION_COOKIE, &token, "/", None),
    )
}

/// Out of office on (a reply to every sender, as Settings Oof's global state, [MS-ASCMD]
/// 2.2.3.119) with the text typed, or off (the text is kept for next time).
async fn out_of_office(visit: &Visit<'_>, s: &SignedIn, form: &Form) -> Response<Body> {
    let t = visit.text();
    let on = form.checked("on");
    let reply = form.text("reply").to_owned();
    if on && reply.trim().is_empty() {
        return overview(
            visit,
            s,
            Some((StatusCode::UNPROCESSABLE_ENTITY, t.oof_needs_text, true)),
        )
        .await;
    }
    let id = s.account.id;
    let written = visit
        .app
        .store
        .write(move |w| {
            let mut a = w
                .account(id)?
                .ok_or_else(|| crate::store::StoreError::NotFound("account".into()))?;
            let message = Some(OofMessage {
                enabled: true,
                reply: reply.clone(),
                body_type: "Text".into(),
            });
            // 1: on for every sender until turned off; 0: off.
            a.oof.state = u8::from(on);
            a.oof.start_time = None;
            a.oof.end_time = None;
            a.oof.internal = message.clone();
            a.oof.external_known = message.clone();
            a.oof.external_unknown = message;
            crate::store::ops::put_account(w, &a)
        })
        .await;
    if let Err(e) = written {
        tracing::error!(
            "{}: web: {}: out of office: {e}",
            visit.peer,
            s.account.email
        );
        return visit.server_error();
    }
    tracing::info!(
        "{}: web: {} set out of office {}",
        visit.peer,
        s.account.email,
        if on { "on" } else { "off" }
    );
    page::redirect(OOF_SAVED)
}
