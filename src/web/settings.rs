//! The admin's server settings page (`/admin/settings`): every setting of
//! `server_settings::Key` with the value in force, whether it is the configuration file's
//! or saved here (with a button back to the file's), and which apply only after a restart.
//! Saving sends the values that differ from those in force; the relay's password is never
//! put back into the page (empty keeps it). Both are `admin::settings` requests, audited,
//! put in force by the daemon's `Live` for the next request.

use hyper::Response;
use maud::{Markup, html};

use super::Visit;
use super::form::Form;
use super::i18n::Text;
use super::page::{self, AdminTab};
use crate::admin::reply::Reply;
use crate::admin::settings::SettingsRequest;
use crate::config::RelaySecurity;
use crate::http_body::Body;
use crate::proto::version::ProtocolVersion;
use crate::server_settings::{Key, Shown};

const PATH: &str = "/admin/settings";

fn label(t: &Text, key: Key) -> &'static str {
    match key {
        Key::MinHeartbeat => t.set_min_heartbeat,
        Key::MaxHeartbeat => t.set_max_heartbeat,
        Key::MaxVersion => t.set_max_version,
        Key::PublicUrl => t.set_public_url,
        Key::RelayHost => t.set_relay_host,
        Key::RelayPort => t.set_relay_port,
        Key::RelaySecurity => t.set_relay_security,
        Key::RelayUsername => t.set_relay_username,
        Key::RelayPassword => t.set_relay_password,
        Key::NotifyListen => t.set_notify,
        Key::Lmtp => t.set_lmtp,
    }
}

pub async fn get(visit: &Visit<'_>) -> Response<Body> {
    let saved = Form::parse(&visit.query)
        .unwrap_or_default()
        .get("saved")
        .is_some();
    let t = visit.text();
    page(visit, saved.then_some((t.settings_saved, false))).await
}

async fn run(visit: &Visit<'_>, req: SettingsRequest) -> Reply {
    let app = visit.app;
    req.execute_live(&app.store, &app.settings, &visit.actor())
        .await
}

async fn page(visit: &Visit<'_>, outcome: Option<(&str, bool)>) -> Response<Body> {
    let t = visit.text();
    let shown = match run(visit, SettingsRequest::Show).await {
        Reply::Settings { settings } => settings,
        other => {
            tracing::error!("{}: web: settings: {other:?}", visit.peer);
            return visit.server_error();
        }
    };
    let pending = visit.app.settings.restart_pending();
    let body = html! {
        @if let Some((text, error)) = outcome { (page::notice(text, error)) }
        @if !pending.is_empty() {
            (page::notice(&format!("{} {}", t.settings_restart_pending, pending.join(", ")), true))
        }
        p { (t.settings_intro) }
        form.box method="post" action=(PATH) {
            input type="hidden" name="csrf" value=(visit.csrf());
            // The first submit button is the one Enter presses: Save, not a "use the
            // file's value" below.
            p { button type="submit" { (t.save) } }
            @for s in &shown {
                @if let Some(key) = Key::from_name(&s.key) { (setting(t, key, s)) }
            }
            p { button type="submit" { (t.save) } }
        }
    };
    visit.admin_page(
        AdminTab::Settings,
        t.nav_settings,
        outcome.is_some_and(|(_, e)| e),
        body,
    )
}

/// One setting: its label and field, where its value comes from, and the way back to the
/// file's value when one is saved.
fn setting(t: &Text, key: Key, s: &Shown) -> Markup {
    let value = s.saved.as_deref().unwrap_or(&s.file);
    let name = key.name();
    html! {
        label for=(name) { (label(t, key)) " " code { (name) } }
        @match key {
            Key::RelaySecurity => select #(name) name=(name) {
                @for sec in RelaySecurity::ALL {
                    option value=(sec.as_str()) selected[sec.as_str() == value] { (sec.as_str()) }
                }
            },
            Key::MaxVersion => select #(name) name=(name) {
                option value="" selected[value.is_empty()] { (t.set_all_versions) }
                @for v in ProtocolVersion::ALL {
                    option value=(v.as_str()) selected[v.as_str() == value] { (v.as_str()) }
                }
            },
            // Never echoed: empty keeps the password.
            Key::RelayPassword => input #(name) type="password" name=(name) value=""
                autocomplete="new-password";
            Key::MinHeartbeat | Key::MaxHeartbeat | Key::RelayPort => input #(name) type="text"
                name=(name) value=(value) inputmode="numeric";
            _ => input #(name) type="text" name=(name) value=(value);
        }
        p {
            @if key.secret() {
                @if value.is_empty() { (t.settings_secret_unset) } @else { (t.settings_secret_set) }
                ". " (t.settings_secret_keep) " "
            }
            @if s.saved.is_some() { (t.settings_saved_here) } @else { (t.settings_from_file) }
            @if s.restart { " · " span.warn { (t.settings_restart) } }
            @if s.saved.is_some() {
                " "
                button.plain type="submit" formaction="/admin/settings/unset" name="key" value=(name) {
                    (t.settings_use_file)
                    @if !key.secret() { " (" (s.file) ")" }
                }
            }
        }
    }
}

/// Saves the values that differ from those in force (a non-empty password too).
pub async fn save(visit: &Visit<'_>, form: &Form) -> Response<Body> {
    let t = visit.text();
    let current = visit.app.settings.current();
    let mut values = Vec::new();
    let mut password = None;
    for key in Key::ALL {
        let Some(sent) = form.get(key.name()).map(str::trim) else {
            continue;
        };
        if key.secret() {
            password = Some(sent.to_owned()).filter(|p| !p.is_empty());
        } else if sent != key.get(&current.cfg) {
            values.push((key.name().to_owned(), sent.to_owned()));
        }
    }
    drop(current);
    if values.is_empty() && password.is_none() {
        return page(visit, Some((t.nothing_changed, false))).await;
    }
    match run(visit, SettingsRequest::Set { values, password }).await {
        Reply::Error { message } => page(visit, Some((&message, true))).await,
        _ => page::redirect(&format!("{PATH}?saved=1")),
    }
}

/// Back to the configuration file's value of one setting.
pub async fn unset(visit: &Visit<'_>, form: &Form) -> Response<Body> {
    let keys = vec![form.text("key").to_owned()];
    match run(visit, SettingsRequest::Unset { keys }).await {
        Reply::Error { message } => page(visit, Some((&message, true))).await,
        _ => page::redirect(&format!("{PATH}?saved=1")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_has_a_label_in_both_languages() {
        for lang in [super::super::i18n::Lang::En, super::super::i18n::Lang::Fr] {
            for key in Key::ALL {
                assert!(!label(lang.text(), key).is_empty(), "{key:?}");
            }
        }
        // Every field, the CSRF token and the unset button's key.
        assert!(Key::ALL.len() + 2 <= super::super::form::MAX_FIELDS);
    }

    #[test]
    fn a_saved_password_is_never_put_back_into_the_page() {
        let s = Shown {
            key: Key::RelayPassword.name().into(),
            file: String::new(),
            saved: Some(crate::server_settings::HIDDEN.into()),
            restart: false,
        };
        let html =
            setting(super::super::i18n::Lang::En.text(), Key::RelayPassword, &s).into_string();
        assert!(html.contains("value=\"\""), "{html}");
        assert!(!html.contains(crate::server_settings::HIDDEN), "{html}");
    }
}
