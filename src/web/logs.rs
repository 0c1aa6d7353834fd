//! The admin's protocol log page (`/admin/logs`): the decoded protocol logs searched by
//! account, device and text, newest entries first, with a bounded read of each device's
//! log (so the page stays small and fast whatever the logs hold), and the switches that
//! turn logging on or off for an account.

use hyper::{Response, StatusCode};
use maud::html;

use super::Visit;
use super::form::Form;
use super::page::{self, AdminTab};
use crate::admin::govern::GovRequest;
use crate::admin::ops::Request as AdminRequest;
use crate::admin::reply::{GovReply, Reply};
use crate::govern::registry::Filter;
use crate::http_body::Body;
use crate::proto::query::percent_encode;
use crate::protolog;

/// Devices whose logs one search reads.
const MAX_DEVICES: usize = 20;
/// Bytes read from the end of each device's log.
const READ_PER_DEVICE: u64 = 64 * 1024;
/// Bytes of entries a page shows (the page budget is 50 KB).
const SHOWN: usize = 32 * 1024;

pub async fn get(visit: &Visit<'_>) -> Response<Body> {
    let t = visit.text();
    let q = Form::parse(&visit.query).unwrap_or_default();
    let (account, device, text) = (
        q.text("account").trim(),
        q.text("device").trim(),
        q.text("q").trim(),
    );
    let mut found: Vec<(String, String, String)> = Vec::new();
    let mut notice = None;
    if !account.is_empty() || !device.is_empty() {
        let filter = Filter {
            user: (!account.is_empty()).then(|| account.to_owned()),
            ..Filter::default()
        };
        match visit
            .run(AdminRequest::Govern(GovRequest::DeviceList { filter }))
            .await
        {
            Reply::Govern(GovReply::Devices { devices }) => {
                let mut shown = 0;
                let chosen = devices
                    .iter()
                    .filter(|d| device.is_empty() || d.device_id == device)
                    .take(MAX_DEVICES);
                for d in chosen {
                    let Ok(log) =
                        protolog::read_tail(&visit.app.cfg.data, &d.device_id, READ_PER_DEVICE)
                    else {
                        continue;
                    };
                    // One device id may be registered under two accounts: their entries
                    // share the file, each header names its account.
                    let own = format!("[{}]", d.user);
                    for e in protolog::entries(&log, &d.device_id).into_iter().rev() {
                        let header = e.lines().next().unwrap_or_default();
                        if !header.contains(&own) || (!text.is_empty() && !e.contains(text)) {
                            continue;
                        }
                        if shown + e.len() > SHOWN {
                            notice = Some(t.logs_more);
                            break;
                        }
                        shown += e.len();
                        found.push((d.user.clone(), d.device_id.clone(), e.to_owned()));
                    }
                }
            }
            Reply::Error { message } => {
                return visit.admin_page(
                    AdminTab::Logs,
                    t.logs_title,
                    true,
                    page::notice(&message, true),
                );
            }
            other => {
                tracing::error!("{}: web: log search: {other:?}", visit.peer);
                return visit.server_error();
            }
        }
    }
    let csrf = visit.csrf();
    let body = html! {
        form.box method="get" action="/admin/logs" {
            label for="account" { (t.address) }
            input #account type="text" name="account" value=(account);
            label for="device" { (t.device) }
            input #device type="text" name="device" value=(device);
            label for="q" { (t.logs_text) }
            input #q type="text" name="q" value=(text);
            p { button type="submit" { (t.filter) } }
        }
        @if !account.is_empty() {
            form.box method="post" action="/admin/logs/switch" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="account" value=(account);
                p { (t.logs_switch) " " code { (account) } }
                button.plain type="submit" name="on" value="1" { (t.log_on) } " "
                button.plain type="submit" name="on" value="0" { (t.log_off) }
            }
        }
        @if let Some(n) = notice { p { (n) } }
        @if found.is_empty() {
            p { (t.log_empty) }
        }
        @for (user, device_id, entry) in &found {
            h2 { code { (user) "/" (device_id) } }
            pre.log { (entry) }
        }
    };
    visit.admin_page(AdminTab::Logs, t.logs_title, false, body)
}

/// Turns the protocol log of every device of an account on or off.
pub async fn switch(visit: &Visit<'_>, form: &Form) -> Response<Body> {
    let account = form.text("account").trim().to_owned();
    let req = AdminRequest::LogSet {
        target: account.clone(),
        on: form.text("on") == "1",
    };
    match visit.run(req).await {
        Reply::Error { message } => visit.message(StatusCode::UNPROCESSABLE_ENTITY, &message),
        _ => page::redirect(&format!("/admin/logs?account={}", percent_encode(&account))),
    }
}
