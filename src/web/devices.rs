//! The admin's device list (`/admin/devices`): the registry with the guide's columns and
//! filters (account, domain, state, type, model, OS, protocol version), a page of
//! [`PAGE`] devices at a time so the page stays small whatever the registry holds, and
//! the actions on the device chosen: allow, block, delete, wipe, account-only wipe and
//! wipe-cancel. Delete and both wipes go through a confirmation page first.

use hyper::{Response, StatusCode};
use maud::{Markup, html};

use super::Visit;
use super::form::Form;
use super::page::{self, AdminTab};
use super::rules;
use crate::admin::govern::GovRequest;
use crate::admin::ops::Request as AdminRequest;
use crate::admin::reply::{GovReply, Reply};
use crate::govern::registry::{DeviceSummary, Filter};
use crate::http_body::Body;
use crate::proto::query::percent_encode;
use crate::store::model::Access;

/// Devices per page: 50 rows keep the page well under 50 KB.
pub const PAGE: usize = 50;

/// The filter fields, as the query names them, with the `Filter` field each sets.
const FILTERS: [&str; 7] = [
    "user", "domain", "status", "type", "model", "os", "protocol",
];

/// What an admin can do to the chosen device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Allow,
    Block,
    Delete,
    Wipe,
    /// [MS-ASPROV] 2.2.2.4 AccountOnlyRemoteWipe: only the account's data is erased.
    AccountOnlyWipe,
    WipeCancel,
}

impl Action {
    const ALL: [Action; 6] = [
        Action::Allow,
        Action::Block,
        Action::Delete,
        Action::Wipe,
        Action::AccountOnlyWipe,
        Action::WipeCancel,
    ];

    fn name(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Block => "block",
            Action::Delete => "delete",
            Action::Wipe => "wipe",
            Action::AccountOnlyWipe => "account-wipe",
            Action::WipeCancel => "wipe-cancel",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Action::ALL.into_iter().find(|a| a.name() == s)
    }

    /// Destroys something: asked again on a page of its own.
    fn needs_confirmation(self) -> bool {
        matches!(
            self,
            Action::Delete | Action::Wipe | Action::AccountOnlyWipe
        )
    }

    fn label(self, t: &super::i18n::Text) -> &'static str {
        match self {
            Action::Allow => t.allow,
            Action::Block => t.block,
            Action::Delete => t.delete,
            Action::Wipe => t.wipe,
            Action::AccountOnlyWipe => t.account_only_wipe,
            Action::WipeCancel => t.wipe_cancel,
        }
    }

    fn request(self, device: String) -> GovRequest {
        match self {
            Action::Allow => GovRequest::DeviceAccess {
                device,
                access: Access::Allow,
            },
            Action::Block => GovRequest::DeviceAccess {
                device,
                access: Access::Block,
            },
            Action::Delete => GovRequest::DeviceDelete { device },
            Action::Wipe => GovRequest::DeviceWipe {
                device,
                soft: false,
            },
            Action::AccountOnlyWipe => GovRequest::DeviceWipe { device, soft: true },
            Action::WipeCancel => GovRequest::DeviceWipeCancel { device },
        }
    }
}

/// The filter and page a query asks for.
fn query(q: &Form) -> (Filter, usize) {
    let field = |name: &str| Some(q.text(name).trim().to_owned()).filter(|v| !v.is_empty());
    let filter = Filter {
        user: field("user"),
        domain: field("domain"),
        status: field("status"),
        device_type: field("type"),
        model: field("model"),
        os: field("os"),
        protocol: field("protocol"),
    };
    (filter, q.text("page").parse().unwrap_or(0))
}

pub async fn get(visit: &Visit<'_>) -> Response<Body> {
    let q = Form::parse(&visit.query).unwrap_or_default();
    list(visit, &q, None).await
}

async fn list(visit: &Visit<'_>, q: &Form, outcome: Option<(&str, bool)>) -> Response<Body> {
    let t = visit.text();
    let (filter, page_no) = query(q);
    let devices = match visit
        .run(AdminRequest::Govern(GovRequest::DeviceList { filter }))
        .await
    {
        Reply::Govern(GovReply::Devices { devices }) => devices,
        other => {
            tracing::error!("{}: web: listing devices: {other:?}", visit.peer);
            return visit.server_error();
        }
    };
    let pages = devices.len().div_ceil(PAGE).max(1);
    let page_no = page_no.min(pages - 1);
    let start = (page_no * PAGE).min(devices.len());
    let shown = &devices[start..(start + PAGE).min(devices.len())];
    let csrf = visit.csrf();
    // The query of this view without its page, for the page links.
    let base: String = FILTERS
        .iter()
        .filter(|f| !q.text(f).is_empty())
        .map(|f| format!("{f}={}&", percent_encode(q.text(f))))
        .collect();
    let body = html! {
        @if let Some((text, error)) = outcome { (page::notice(text, error)) }
        form.box method="get" action="/admin/devices" {
            @for (f, label) in FILTERS.iter().zip(filter_labels(t)) {
                label for=(f) { (label) }
                input id=(f) type="text" name=(f) value=(q.text(f));
            }
            p { button type="submit" { (t.filter) } }
        }
        p { (devices.len()) " " (t.devices_found) }
        @if !shown.is_empty() {
            form method="post" action="/admin/devices" {
                input type="hidden" name="csrf" value=(csrf);
                div.table { table {
                    thead { tr {
                        th {} th { (t.address) } th { (t.device) } th { (t.device_type) }
                        th { (t.model) } th { "OS" } th { (t.protocol) } th { (t.registered) }
                        th { (t.last_sync) } th { (t.wipe_status) } th { (t.state) }
                    } }
                    tbody { @for d in shown { (row(visit, d)) } }
                } }
                p {
                    @for a in Action::ALL {
                        button.plain type="submit" name="action" value=(a.name()) { (a.label(t)) } " "
                    }
                }
                (rules::similar_fields(t, true))
            }
        }
        @if pages > 1 {
            nav aria-label=(t.pages) {
                @if page_no > 0 {
                    a href={ "/admin/devices?" (base) "page=" (page_no - 1) } { "← " (t.previous) }
                }
                " " (page_no + 1) " / " (pages) " "
                @if page_no + 1 < pages {
                    a href={ "/admin/devices?" (base) "page=" (page_no + 1) } { (t.next) " →" }
                }
            }
        }
    };
    visit.admin_page(
        AdminTab::Devices,
        t.nav_devices,
        outcome.is_some_and(|(_, e)| e),
        body,
    )
}

fn filter_labels(t: &super::i18n::Text) -> [&'static str; 7] {
    [
        t.address,
        t.domain,
        t.state,
        t.device_type,
        t.model,
        "OS",
        t.protocol,
    ]
}

fn row(visit: &Visit<'_>, d: &DeviceSummary) -> Markup {
    let t = visit.text();
    let name = format!("{}/{}", d.user, d.device_id);
    html! {
        tr {
            td { input type="radio" name="device" value=(name) aria-label=(name); }
            td { (d.user) }
            td { a href={ "/admin/devices/show?device=" (percent_encode(&name)) } {
                (d.friendly_name.as_deref().unwrap_or(&d.device_id))
            } }
            td { (d.device_type) }
            td { (d.model.as_deref().unwrap_or("–")) }
            td { (d.os.as_deref().unwrap_or("–")) }
            td { (d.protocol) }
            td { (page::when(d.first_seen)) }
            td { (page::when(d.last_sync)) }
            td { (d.wipe) }
            td { (page::access_label(t, d.abq)) }
        }
    }
}

/// Most of a protocol log the device page shows: its end, within the page budget.
const LOG_TAIL: usize = 24 * 1024;

/// The device window: every field of the registry (device information, folder and sync
/// settings, policy standing), the protocol log's latest entries with its switch, and
/// the same actions as the list.
pub async fn show(visit: &Visit<'_>) -> Response<Body> {
    let t = visit.text();
    let q = Form::parse(&visit.query).unwrap_or_default();
    let name = q.text("device").to_owned();
    let device = match visit
        .run(AdminRequest::Govern(GovRequest::DeviceShow {
            device: name.clone(),
        }))
        .await
    {
        Reply::Govern(GovReply::Devices { mut devices }) if devices.len() == 1 => devices.remove(0),
        Reply::Error { message } => return visit.message(StatusCode::NOT_FOUND, &message),
        other => {
            tracing::error!("{}: web: showing {name}: {other:?}", visit.peer);
            return visit.server_error();
        }
    };
    let log = crate::protolog::ProtocolLog::read(&visit.app.cfg.data, &device.device_id)
        .unwrap_or_default();
    let tail = tail(&log, LOG_TAIL);
    let csrf = visit.csrf();
    let body = html! {
        section { dl { @for (k, v) in device.fields() { dt { (k) } dd { (v) } } } }
        form.box method="post" action="/admin/devices" {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="device" value=(name);
            @for a in Action::ALL {
                button.plain type="submit" name="action" value=(a.name()) { (a.label(t)) } " "
            }
        }
        form.box method="post" action="/admin/rules/similar" {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="device" value=(name);
            (rules::similar_fields(t, false))
        }
        h2 { (t.protocol_log) }
        form.box method="post" action="/admin/devices/log" {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="device" value=(name);
            button.plain type="submit" name="on" value="1" { (t.log_on) } " "
            button.plain type="submit" name="on" value="0" { (t.log_off) }
        }
        @if tail.is_empty() {
            p { (t.log_empty) }
        } @else {
            @if tail.len() < log.len() { p { (t.log_tail) } }
            pre.log { (tail) }
        }
    };
    visit.admin_page(AdminTab::Devices, &name, false, body)
}

/// The end of `log`, at most `max` bytes, from a line's start.
fn tail(log: &str, max: usize) -> &str {
    if log.len() <= max {
        return log;
    }
    let mut start = log.len() - max;
    while !log.is_char_boundary(start) {
        start += 1;
    }
    let cut = &log[start..];
    cut.find('\n').map_or(cut, |nl| &cut[nl + 1..])
}

/// The protocol log switch of one device.
pub async fn log_switch(visit: &Visit<'_>, form: &Form) -> Response<Body> {
    let device = form.text("device").to_owned();
    let req = AdminRequest::LogSet {
        target: device.clone(),
        on: form.text("on") == "1",
    };
    match visit.run(req).await {
        Reply::Error { message } => visit.message(StatusCode::UNPROCESSABLE_ENTITY, &message),
        _ => page::redirect(&format!(
            "/admin/devices/show?device={}",
            percent_encode(&device)
        )),
    }
}

pub async fn post(visit: &Visit<'_>, form: &Form) -> Response<Body> {
    let t = visit.text();
    let Some(action) = Action::parse(form.text("action")) else {
        return list(visit, &Form::default(), Some((t.choose_action, true))).await;
    };
    let device = form.text("device");
    if device.is_empty() {
        return list(visit, &Form::default(), Some((t.choose_device, true))).await;
    }
    if action.needs_confirmation() && form.text("confirm") != "1" {
        return confirm(visit, action, device);
    }
    match visit
        .run(AdminRequest::Govern(action.request(device.to_owned())))
        .await
    {
        Reply::Error { message } => list(visit, &Form::default(), Some((&message, true))).await,
        Reply::Done { message } => list(visit, &Form::default(), Some((&message, false))).await,
        _ => list(visit, &Form::default(), Some((t.done, false))).await,
    }
}

fn confirm(visit: &Visit<'_>, action: Action, device: &str) -> Response<Body> {
    let t = visit.text();
    let question = match action {
        Action::Delete => t.delete_question,
        Action::AccountOnlyWipe => t.account_wipe_question,
        _ => t.wipe_question,
    };
    let ask = page::Confirmation {
        question,
        subject: Some(device),
        action: "/admin/devices",
        fields: &[("device", device), ("action", action.name())],
        button: action.label(t),
        back: "/admin/devices",
    };
    let body = ask.form(visit.csrf(), t.cancel);
    visit.admin_page(AdminTab::Devices, t.nav_devices, false, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_and_queries() {
        for a in Action::ALL {
            assert_eq!(Action::parse(a.name()), Some(a));
        }
        assert_eq!(Action::parse("format"), None);
        let (f, page) = query(&Form::parse("user=a%40b.c&status=block&model=&page=3").unwrap());
        assert_eq!(f.user.as_deref(), Some("a@b.c"));
        assert_eq!(f.status.as_deref(), Some("block"));
        assert_eq!(f.model, None);
        assert_eq!(page, 3);
        assert!(matches!(
            Action::AccountOnlyWipe.request("a@b.c/D".into()),
            GovRequest::DeviceWipe { soft: true, .. }
        ));
        assert_eq!(tail("short\nlog\n", 100), "short\nlog\n");
        assert_eq!(tail("line one\nline two\nline three\n", 14), "line three\n");
        assert_eq!(tail("ééé\nx\n", 5), "x\n");
    }
}
