//! The admin's policies page (`/admin/policies?level=LEVEL`): one policy level (server,
//! `domain:D`, `user:EMAIL`, `device:EMAIL/ID`), saying where its values come from ("own
//! settings" / "inherited from domain example.com"), in the guide's four groups plus
//! easd's own keys, each value editable; saving sets the values changed (the level then
//! holds its own settings) and "inherit" makes it follow the level above again. Both are
//! `admin::govern` requests.

use hyper::{Response, StatusCode};
use maud::html;

use super::Visit;
use super::form::Form;
use super::page::{self, AdminTab};
use crate::admin::govern::GovRequest;
use crate::admin::ops::Request as AdminRequest;
use crate::admin::reply::{GovReply, Reply};
use crate::govern::policy::{Value, value_text};
use crate::http_body::Body;
use crate::proto::query::percent_encode;

/// The guide's groups of policy settings, and easd's own keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group {
    Security,
    Synchronisation,
    Device,
    Applications,
    Server,
}

impl Group {
    const ALL: [Group; 5] = [
        Group::Security,
        Group::Synchronisation,
        Group::Device,
        Group::Applications,
        Group::Server,
    ];

    /// The group of an EASProvisionDoc element ([MS-ASPROV] 2.2.2.27) or an easd key.
    fn of(name: &str) -> Group {
        const SYNC: [&str; 8] = [
            "AttachmentsEnabled",
            "MaxAttachmentSize",
            "MaxCalendarAgeFilter",
            "MaxEmailAgeFilter",
            "MaxEmailBodyTruncationSize",
            "MaxEmailHTMLBodyTruncationSize",
            "AllowHTMLEmail",
            "RequireManualSyncWhenRoaming",
        ];
        const APPS: [&str; 6] = [
            "AllowBrowser",
            "AllowConsumerEmail",
            "AllowUnsignedApplications",
            "AllowUnsignedInstallationPackages",
            "UnapprovedInROMApplicationList",
            "ApprovedApplicationList",
        ];
        const SERVER: [&str; 5] = [
            crate::govern::own::ALLOW_NON_PROVISIONABLE,
            crate::govern::own::REFRESH_HOURS,
            crate::govern::own::MAX_DEVICES,
            crate::govern::own::MAX_VERSION,
            crate::govern::own::BLUETOOTH_LEVEL,
        ];
        if SYNC.contains(&name) {
            Group::Synchronisation
        } else if APPS.contains(&name) {
            Group::Applications
        } else if SERVER.contains(&name) {
            Group::Server
        } else if name.contains("Password")
            || name.contains("Encryption")
            || name.contains("SMIME")
            || name == "MaxInactivityTimeDeviceLock"
        {
            Group::Security
        } else {
            // Storage card, camera, Wi-Fi, text messages, POP/IMAP, Bluetooth, IrDA,
            // desktop sync, remote desktop, Internet sharing.
            Group::Device
        }
    }

    fn label(self, t: &super::i18n::Text) -> &'static str {
        match self {
            Group::Security => t.policy_security,
            Group::Synchronisation => t.policy_sync,
            Group::Device => t.policy_device,
            Group::Applications => t.policy_apps,
            Group::Server => t.policy_server,
        }
    }
}

/// The level a query names; the server's by default.
fn level_of(q: &Form) -> String {
    Some(q.text("level").trim().to_owned())
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| "server".into())
}

/// A level's effective values and where they come from.
async fn show(visit: &Visit<'_>, level: &str) -> Result<(String, Vec<(String, Value)>), Reply> {
    match visit
        .run(AdminRequest::Govern(GovRequest::PolicyShow {
            level: level.to_owned(),
        }))
        .await
    {
        Reply::Govern(GovReply::Policy { source, values, .. }) => Ok((source, values)),
        other => Err(other),
    }
}

pub async fn get(visit: &Visit<'_>) -> Response<Body> {
    let q = Form::parse(&visit.query).unwrap_or_default();
    page(visit, &level_of(&q), None).await
}

async fn page(visit: &Visit<'_>, level: &str, outcome: Option<(&str, bool)>) -> Response<Body> {
    let t = visit.text();
    let (source, values) = match show(visit, level).await {
        Ok(v) => v,
        Err(Reply::Error { message }) => {
            return visit.message(StatusCode::UNPROCESSABLE_ENTITY, &message);
        }
        Err(other) => {
            tracing::error!("{}: web: policy {level}: {other:?}", visit.peer);
            return visit.server_error();
        }
    };
    let csrf = visit.csrf();
    let body = html! {
        @if let Some((text, error)) = outcome { (page::notice(text, error)) }
        form.box method="get" action="/admin/policies" {
            label for="level" { (t.policy_level) }
            input #level type="text" name="level" value=(level);
            p { button type="submit" { (t.show) } }
        }
        p { strong { (source) } }
        @if level != "server" {
            form method="post" action="/admin/policies/inherit" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="level" value=(level);
                button.plain type="submit" { (t.inherit) }
            }
        }
        form method="post" action="/admin/policies" {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="level" value=(level);
            @for g in Group::ALL {
                section {
                    h2 { (g.label(t)) }
                    @for (name, value) in values.iter().filter(|(n, _)| Group::of(n) == g) {
                        label for=(name) { (name) }
                        input id=(name) type="text" name=(name) value=(value_text(value));
                    }
                }
            }
            p { button type="submit" { (t.save) } }
        }
    };
    visit.admin_page(
        AdminTab::Policies,
        t.nav_policies,
        outcome.is_some_and(|(_, e)| e),
        body,
    )
}

/// Saves the values that differ from the level's effective ones; the level then holds
/// its own settings.
pub async fn save(visit: &Visit<'_>, form: &Form) -> Response<Body> {
    let t = visit.text();
    let level = level_of(form);
    let (_, current) = match show(visit, &level).await {
        Ok(v) => v,
        Err(Reply::Error { message }) => {
            return visit.message(StatusCode::UNPROCESSABLE_ENTITY, &message);
        }
        Err(other) => {
            tracing::error!("{}: web: policy {level}: {other:?}", visit.peer);
            return visit.server_error();
        }
    };
    let changed: Vec<(String, String)> = current
        .iter()
        .filter_map(|(name, value)| {
            let sent = form.get(name)?.trim();
            (sent != value_text(value)).then(|| (name.clone(), sent.to_owned()))
        })
        .collect();
    if changed.is_empty() {
        return page(visit, &level, Some((t.nothing_changed, false))).await;
    }
    let req = GovRequest::PolicySet {
        level: level.clone(),
        values: changed,
    };
    match visit.run(AdminRequest::Govern(req)).await {
        Reply::Error { message } => page(visit, &level, Some((&message, true))).await,
        _ => page::redirect(&format!("/admin/policies?level={}", percent_encode(&level))),
    }
}

pub async fn inherit(visit: &Visit<'_>, form: &Form) -> Response<Body> {
    let level = level_of(form);
    let req = GovRequest::PolicyInherit {
        level: level.clone(),
    };
    match visit.run(AdminRequest::Govern(req)).await {
        Reply::Error { message } => page(visit, &level, Some((&message, true))).await,
        _ => page::redirect(&format!("/admin/policies?level={}", percent_encode(&level))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_has_its_group() {
        assert_eq!(Group::of("DevicePasswordEnabled"), Group::Security);
        assert_eq!(Group::of("RequireDeviceEncryption"), Group::Security);
        assert_eq!(Group::of("MaxInactivityTimeDeviceLock"), Group::Security);
        assert_eq!(Group::of("MaxEmailAgeFilter"), Group::Synchronisation);
        assert_eq!(Group::of("AllowCamera"), Group::Device);
        assert_eq!(Group::of("AllowBrowser"), Group::Applications);
        assert_eq!(Group::of("MaxDevicesPerUser"), Group::Server);
        // Every group holds some setting of the model.
        for g in Group::ALL {
            assert!(
                crate::govern::policy::SETTINGS
                    .iter()
                    .map(|s| s.name)
                    .chain(crate::govern::own::KEYS.iter().map(|k| k.name))
                    .any(|n| Group::of(n) == g),
                "{g:?}"
            );
        }
    }

    #[test]
    fn the_policy_form_is_readable() {
        // Every value (BluetoothLevel beside AllowBluetooth), the CSRF token and the level.
        let fields = crate::govern::policy::SETTINGS.len() + crate::govern::own::KEYS.len() + 3;
        assert!(fields <= super::super::form::MAX_FIELDS, "{fields} fields");
    }
}
