//! The admin's pages: the dashboard, the accounts, the audit log. Each action is an
//! `admin::ops` request run as the signed-in admin, so it is audited like the CLI's.

use std::collections::BTreeMap;

use hyper::{Response, StatusCode};
use maud::{Markup, html};

use super::Visit;
use super::form::Form;
use super::page::{self, AdminTab};
use super::{accounts, cert, devices, entry, logs, policies, rules, settings};
use crate::admin::ops::Request as AdminRequest;
use crate::admin::reply::Reply;
use crate::govern::registry;
use crate::http_body::Body;
use crate::metrics::Lmtp;
use crate::store::audit::AuditReads;
use crate::store::ops::Reads;
use crate::store::space::mib;

/// Audit entries the page shows (the newest); `easd audit --limit` reads further back.
const AUDIT_PAGE: usize = 100;

pub async fn get(visit: &Visit<'_>) -> Response<Body> {
    let shown = match visit.path {
        "/admin" => dashboard(visit).await,
        "/admin/accounts" => return accounts::get(visit).await,
        entry::PATH => return entry::get(visit).await,
        "/admin/devices" => return devices::get(visit).await,
        "/admin/devices/show" => return devices::show(visit).await,
        "/admin/policies" => return policies::get(visit).await,
        "/admin/rules" => return rules::get(visit).await,
        "/admin/rules/settings" => return rules::settings_get(visit).await,
        "/admin/certificate" => return cert::get(visit),
        "/admin/logs" => return logs::get(visit).await,
        "/admin/settings" => return settings::get(visit).await,
        "/admin/audit" => audit(visit).await,
        _ => return visit.message(StatusCode::NOT_FOUND, visit.text().not_found),
    };
    match shown {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("{}: web: {}: {e}", visit.peer, visit.path);
            visit.server_error()
        }
    }
}

pub async fn post(visit: &Visit<'_>, form: &Form) -> Response<Body> {
    match visit.path {
        "/admin/devices" => devices::post(visit, form).await,
        "/admin/devices/log" => devices::log_switch(visit, form).await,
        "/admin/policies" => policies::save(visit, form).await,
        "/admin/policies/inherit" => policies::inherit(visit, form).await,
        "/admin/rules/settings" => rules::settings_post(visit, form).await,
        p if p.starts_with("/admin/rules/") => rules::post(visit, form).await,
        "/admin/accounts" | "/admin/accounts/add" => accounts::post(visit, form).await,
        entry::PATH => entry::post(visit, form).await,
        "/admin/sync-reset" => reset_sync_state(visit, form).await,
        "/admin/certificate" => cert::install(visit, form).await,
        "/admin/logs/switch" => logs::switch(visit, form).await,
        "/admin/settings" => settings::save(visit, form).await,
        "/admin/settings/unset" => settings::unset(visit, form).await,
        _ => visit.message(StatusCode::NOT_FOUND, visit.text().not_found),
    }
}

async fn dashboard(visit: &Visit<'_>) -> Result<Response<Body>, crate::store::StoreError> {
    let (t, app) = (visit.text(), visit.app);
    let (accounts, devices) = (app.store)
        .view(|tx| Ok::<_, crate::store::StoreError>((tx.accounts()?.len(), tx.devices()?)))
        .await?;
    let mut by_state: BTreeMap<&str, usize> = BTreeMap::new();
    for d in &devices {
        *by_state
            .entry(page::access_label(t, registry::access(d)))
            .or_default() += 1;
    }
    let pending = app.settings.restart_pending();
    // A store that cannot be measured still gets its dashboard.
    let sizes = app
        .store
        .sizes()
        .await
        .inspect_err(|e| tracing::warn!("web: measuring the store: {e}"))
        .ok();
    let body = html! {
        @if !pending.is_empty() {
            p.notice.error {
                (t.settings_restart_pending) " " (pending.join(", ")) " "
                a href="/admin/settings" { (t.nav_settings) }
            }
        }
        section {
            dl {
                dt { (t.version) } dd { (env!("CARGO_PKG_VERSION")) }
                dt { (t.uptime) } dd { (duration(app.started.elapsed().as_secs())) }
                dt { (t.memory) } dd { (resident_bytes().map_or("–".into(), mib)) }
                dt { (t.store_size) } dd {
                    @match &sizes {
                        Some(s) => {
                            (mib(s.database_disk)) " · " (t.store_live) " " (mib(s.database_live))
                            " · " (t.store_free) " " (mib(s.database_free))
                            " · " (t.search_index) " " (mib(s.search_index))
                        }
                        None => "–",
                    }
                }
                dt { (t.blob_files) } dd {
                    @match &sizes {
                        Some(s) => {
                            (s.blob_files) " · " (mib(s.blob_bytes))
                            " · " (t.on_disk) " " (mib(s.blob_disk))
                        }
                        None => "–",
                    }
                }
                dt { (t.accounts) } dd { (accounts) }
                dt { (t.devices) } dd {
                    (devices.len())
                    @for (state, n) in &by_state { " · " (state) " " (n) }
                }
                dt { (t.waiting) } dd { (app.hub.waiting()) }
                dt { (t.lmtp) } dd {
                    (t.delivered) " " (app.metrics.lmtp_count(Lmtp::Delivered)) " · "
                    (t.unknown_recipients) " " (app.metrics.lmtp_count(Lmtp::UnknownRecipient)) " · "
                    (t.not_delivered) " " (app.metrics.lmtp_count(Lmtp::NotDelivered))
                }
                dt { (t.notify) } dd {
                    (t.received) " " (app.notify_counters.received.get()) " · "
                    (t.accepted) " " (app.notify_counters.accepted.get())
                }
            }
        }
        (certificate(visit))
        h2 { (t.maintenance) }
        form.box method="post" action="/admin/sync-reset" {
            input type="hidden" name="csrf" value=(visit.csrf());
            p { (t.sync_reset_explained) }
            p { button.danger type="submit" { (t.sync_reset) } }
        }
    };
    Ok(visit.admin_page(AdminTab::Dashboard, t.nav_dashboard, false, body))
}

/// "Reset the ActiveSync database", after a confirmation page.
async fn reset_sync_state(visit: &Visit<'_>, form: &Form) -> Response<Body> {
    let t = visit.text();
    if form.text("confirm") != "1" {
        let ask = page::Confirmation {
            question: t.sync_reset_question,
            subject: None,
            action: "/admin/sync-reset",
            fields: &[],
            button: t.sync_reset,
            back: "/admin",
        };
        let body = ask.form(visit.csrf(), t.cancel);
        return visit.admin_page(AdminTab::Dashboard, t.sync_reset, false, body);
    }
    let (status, text, error) = match visit.run(AdminRequest::SyncStateReset { user: None }).await {
        Reply::Done { message } => (StatusCode::OK, message, false),
        Reply::Error { message } => (StatusCode::INTERNAL_SERVER_ERROR, message, true),
        other => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{other:?}"),
            true,
        ),
    };
    let mut r = visit.admin_page(
        AdminTab::Dashboard,
        t.sync_reset,
        error,
        page::notice(&text, error),
    );
    *r.status_mut() = status;
    r
}

/// The served certificate (see `cert::summary`), linking to its page.
fn certificate(visit: &Visit<'_>) -> Markup {
    let t = visit.text();
    let Some(certs) = &visit.app.certs else {
        return html! {};
    };
    html! {
        section {
            h2 { a href="/admin/certificate" { (t.certificate) } }
            (cert::summary(visit, &certs.state()))
        }
    }
}

async fn audit(visit: &Visit<'_>) -> Result<Response<Body>, crate::store::StoreError> {
    let t = visit.text();
    let entries = (visit.app.store)
        .view(|tx| tx.audit_newest(AUDIT_PAGE))
        .await?;
    let body = html! {
        @if entries.is_empty() {
            p { (t.audit_empty) }
        } @else {
            div.table { table {
                thead { tr {
                    th { (t.when) } th { (t.who) } th { (t.from) } th { (t.action) }
                    th { (t.detail) } th { (t.outcome) }
                } }
                tbody { @for e in &entries { tr {
                    td { (page::when(e.at)) }
                    td { (e.actor) }
                    td { (e.origin) }
                    td { (e.action) }
                    td { code { (e.detail) } }
                    td { @match &e.error {
                        None => (t.ok),
                        Some(m) => span.warn { (t.refused) ": " (m) },
                    } }
                } } }
            } }
        }
    };
    Ok(visit.admin_page(AdminTab::Audit, t.audit_title, false, body))
}

/// The process's resident set (`/proc/self/statm`, in pages).
fn resident_bytes() -> std::io::Result<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| std::io::Error::other("unexpected /proc/self/statm"))?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Ok(pages * u64::try_from(page).unwrap_or(4096))
}

/// `3d 4h 05m`, `4h 05m`, `5m`.
fn duration(secs: u64) -> String {
    let (d, h, m) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60);
    match (d, h) {
        (0, 0) => format!("{m}m"),
        (0, _) => format!("{h}h {m:02}m"),
        _ => format!("{d}d {h}h {m:02}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_as_shown() {
        assert_eq!(duration(59), "0m");
        assert_eq!(duration(3 * 3600 + 5 * 60), "3h 05m");
        assert_eq!(duration(2 * 86_400 + 3600), "2d 1h 00m");
        assert_eq!(mib(3 * 1024 * 1024 / 2), "1.5 MiB");
        assert!(resident_bytes().unwrap() > 0);
    }
}
