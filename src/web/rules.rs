//! The admin's rules page (`/admin/rules`): the global rule, the server rules (enabled,
//! description, parameter, value, action; add, edit, enable/disable, delete) and the user
//! and domain rules (set or remove); and each rule's new-device settings
//! (`/admin/rules/settings?rule=RULE`: the folder and sync settings a device starts with
//! when that rule decides its state). Each change is an `admin::govern` request.

use clap::ValueEnum;
use hyper::Response;
use maud::{Markup, html};

use super::Visit;
use super::form::Form;
use super::i18n::Text;
use super::page::{self, AdminTab};
use crate::admin::govern::GovRequest;
use crate::admin::ops::Request as AdminRequest;
use crate::admin::reply::{GovReply, Reply};
use crate::govern::abq::Param;
use crate::http_body::Body;
use crate::proto::query::percent_encode;
use crate::store::model::Access;

const ACCESS: [Access; 3] = [Access::Allow, Access::Block, Access::Quarantine];
const PARAMS: [(Param, &str); 3] = [
    (Param::Os, "os"),
    (Param::Model, "model"),
    (Param::Type, "type"),
];

fn access_name(a: Access) -> &'static str {
    match a {
        Access::Allow => "allow",
        Access::Block => "block",
        Access::Quarantine => "quarantine",
    }
}

/// A select of the three actions, `selected` chosen.
fn choose_access(t: &Text, name: &str, selected: Option<Access>) -> Markup {
    html! {
        select name=(name) id=(name) {
            @for a in ACCESS {
                option value=(access_name(a)) selected[selected == Some(a)] { (page::access_label(t, a)) }
            }
        }
    }
}

/// The guide's "rule for similar devices": the fields of a server rule on the OS, model
/// or type of the device the form names (field `device`), with its action, posted to
/// `/admin/rules/similar`. `formaction` lets it share the device list's form.
pub fn similar_fields(t: &Text, shared_form: bool) -> Markup {
    html! {
        label for="similar_param" { (t.similar_param) }
        select #similar_param name="similar_param" {
            @for (_, n) in PARAMS { option value=(n) { (n) } }
        }
        label for="similar_action" { (t.action) }
        (choose_access(t, "similar_action", None))
        p {
            @if shared_form {
                button.plain type="submit" formaction="/admin/rules/similar" { (t.rule_for_similar) }
            } @else {
                button.plain type="submit" { (t.rule_for_similar) }
            }
        }
    }
}

fn param_name(p: Param) -> &'static str {
    PARAMS.iter().find(|(q, _)| *q == p).map_or("", |(_, n)| n)
}

pub async fn get(visit: &Visit<'_>) -> Response<Body> {
    page(visit, None).await
}

/// The link to a rule's new-device settings (`global`, a server rule's id, `user:EMAIL`,
/// `domain:DOMAIN`).
fn settings_link(t: &Text, rule: &str) -> Markup {
    html! {
        a href={ "/admin/rules/settings?rule=" (percent_encode(rule)) } { (t.rule_settings) }
    }
}

/// A rule's new-device settings as a form.
pub async fn settings_get(visit: &Visit<'_>) -> Response<Body> {
    let q = Form::parse(&visit.query).unwrap_or_default();
    settings_page(visit, q.text("rule").trim(), None).await
}

/// A rule's template: where it comes from and its values; the op's error as a message.
async fn template(
    visit: &Visit<'_>,
    rule: &str,
    values: Vec<(String, String)>,
    clear: bool,
) -> Result<(String, Vec<(&'static str, String)>), Reply> {
    let req = GovRequest::RuleSettings {
        rule: rule.to_owned(),
        values,
        clear,
    };
    match visit.run(AdminRequest::Govern(req)).await {
        Reply::Govern(GovReply::Settings {
            source, settings, ..
        }) => Ok((source, settings.pairs())),
        other => Err(other),
    }
}

async fn settings_page(
    visit: &Visit<'_>,
    rule: &str,
    outcome: Option<(&str, bool)>,
) -> Response<Body> {
    let t = visit.text();
    let (source, pairs) = match template(visit, rule, Vec::new(), false).await {
        Ok(v) => v,
        Err(Reply::Error { message }) => {
            return visit.message(hyper::StatusCode::NOT_FOUND, &message);
        }
        Err(other) => {
            tracing::error!("{}: web: rule {rule} settings: {other:?}", visit.peer);
            return visit.server_error();
        }
    };
    let body = html! {
        @if let Some((text, error)) = outcome { (page::notice(text, error)) }
        p { (t.rule_settings_intro) }
        p { (t.rule_target) ": " code { (rule) } " · " strong { (source) } }
        form.box method="post" action="/admin/rules/settings" {
            input type="hidden" name="csrf" value=(visit.csrf());
            input type="hidden" name="rule" value=(rule);
            @for (key, value) in &pairs {
                label for=(key) { (key) }
                input id=(key) type="text" name=(key) value=(value);
            }
            p {
                button type="submit" name="op" value="save" { (t.save) } " "
                button.plain type="submit" name="op" value="clear" { (t.rule_settings_clear) }
            }
        }
        p { a href="/admin/rules" { (t.nav_rules) } }
    };
    visit.admin_page(
        AdminTab::Rules,
        t.rule_settings,
        outcome.is_some_and(|(_, e)| e),
        body,
    )
}

/// Saves the values that differ from the rule's template (it then has its own), or
/// removes its own template.
pub async fn settings_post(visit: &Visit<'_>, form: &Form) -> Response<Body> {
    let t = visit.text();
    let rule = form.text("rule").trim().to_owned();
    let result = if form.text("op") == "clear" {
        template(visit, &rule, Vec::new(), true).await.map(|_| ())
    } else {
        let current = match template(visit, &rule, Vec::new(), false).await {
            Ok((_, pairs)) => pairs,
            Err(Reply::Error { message }) => {
                return settings_page(visit, &rule, Some((&message, true))).await;
            }
            Err(other) => {
                tracing::error!("{}: web: rule {rule} settings: {other:?}", visit.peer);
                return visit.server_error();
            }
        };
        let changed: Vec<(String, String)> = current
            .iter()
            .filter_map(|(key, value)| {
                let sent = form.get(key)?.trim();
                (sent != value).then(|| ((*key).to_owned(), sent.to_owned()))
            })
            .collect();
        if changed.is_empty() {
            return settings_page(visit, &rule, Some((t.nothing_changed, false))).await;
        }
        template(visit, &rule, changed, false).await.map(|_| ())
    };
    match result {
        Ok(()) => page::redirect(&format!(
            "/admin/rules/settings?rule={}",
            percent_encode(&rule)
        )),
        Err(Reply::Error { message }) => settings_page(visit, &rule, Some((&message, true))).await,
        Err(other) => {
            tracing::error!("{}: web: rule {rule} settings: {other:?}", visit.peer);
            visit.server_error()
        }
    }
}

async fn page(visit: &Visit<'_>, outcome: Option<(&str, bool)>) -> Response<Body> {
    let t = visit.text();
    let rules = match visit.run(AdminRequest::Govern(GovRequest::RuleList)).await {
        Reply::Govern(GovReply::Rules { rules }) => rules,
        other => {
            tracing::error!("{}: web: listing rules: {other:?}", visit.peer);
            return visit.server_error();
        }
    };
    let csrf = visit.csrf();
    let choose = |name: &str, selected: Option<Access>| choose_access(t, name, selected);
    let body = html! {
        @if let Some((text, error)) = outcome { (page::notice(text, error)) }
        form.box method="post" action="/admin/rules/global" {
            input type="hidden" name="csrf" value=(csrf);
            label for="global" { (t.global_rule) }
            (choose("global", Some(rules.global)))
            " " button type="submit" { (t.save) }
            " " (settings_link(t, "global"))
        }
        h2 { (t.server_rules) }
        form method="post" action="/admin/rules/server" {
            input type="hidden" name="csrf" value=(csrf);
            div.table { table {
                thead { tr {
                    th {} th { "#" } th { (t.state) } th { (t.description) } th { (t.parameter) }
                    th { (t.value) } th { (t.action) } th { (t.rule_settings) }
                } }
                tbody { @for r in &rules.server { tr {
                    td { input type="radio" name="id" value=(r.id) aria-label=(r.id); }
                    td { (r.id) }
                    td { (if r.enabled { t.enabled } else { t.disabled }) }
                    td { (r.description) }
                    td { (param_name(r.param)) }
                    td { (r.value) }
                    td { (page::access_label(t, r.action)) }
                    td { (settings_link(t, &r.id.to_string())) }
                } } }
            } }
            p {
                button.plain type="submit" name="op" value="enable" { (t.enable) } " "
                button.plain type="submit" name="op" value="disable" { (t.disable) } " "
                button.plain type="submit" name="op" value="delete" { (t.delete) }
            }
        }
        h2 { (t.add_or_edit_rule) }
        form.box method="post" action="/admin/rules/save" {
            input type="hidden" name="csrf" value=(csrf);
            label for="edit" { (t.rule_to_edit) }
            input #edit type="text" name="edit" inputmode="numeric";
            label for="param" { (t.parameter) }
            select #param name="param" {
                @for (_, n) in PARAMS { option value=(n) { (n) } }
            }
            label for="value" { (t.value) }
            input #value type="text" name="value" required;
            label for="action" { (t.action) }
            (choose("action", None))
            label for="description" { (t.description) }
            input #description type="text" name="description";
            p { button type="submit" { (t.save) } }
        }
        h2 { (t.user_domain_rules) }
        div.table { table {
            thead { tr { th { (t.rule_target) } th { (t.action) } th { (t.rule_settings) } } }
            tbody {
                @for (u, a) in &rules.users { tr {
                    td { "user:" (u) } td { (page::access_label(t, *a)) }
                    td { (settings_link(t, &format!("user:{u}"))) }
                } }
                @for (d, a) in &rules.domains { tr {
                    td { "domain:" (d) } td { (page::access_label(t, *a)) }
                    td { (settings_link(t, &format!("domain:{d}"))) }
                } }
            }
        } }
        form.box method="post" action="/admin/rules/target" {
            input type="hidden" name="csrf" value=(csrf);
            label for="target" { (t.rule_target) }
            input #target type="text" name="target" required placeholder="user:alice@example.com";
            label for="target_action" { (t.action) }
            (choose("target_action", None))
            p {
                button type="submit" name="op" value="set" { (t.save) } " "
                button.plain type="submit" name="op" value="remove" { (t.delete) }
            }
        }
    };
    visit.admin_page(
        AdminTab::Rules,
        t.nav_rules,
        outcome.is_some_and(|(_, e)| e),
        body,
    )
}

/// The request a rules form asks for, or what is wrong with it.
fn request(path: &str, f: &Form) -> Result<GovRequest, String> {
    let access = |name: &str| {
        Access::from_str(f.text(name), true)
            .map_err(|_| format!("{name}: allow, block or quarantine"))
    };
    let id = || {
        f.text("id")
            .parse::<u64>()
            .map_err(|_| "choose a rule first".to_owned())
    };
    match (path, f.text("op")) {
        ("/admin/rules/global", _) => Ok(GovRequest::RuleGlobal {
            action: access("global")?,
        }),
        ("/admin/rules/server", "enable" | "disable") => Ok(GovRequest::RuleSetEnabled {
            id: id()?,
            enabled: f.text("op") == "enable",
        }),
        ("/admin/rules/server", "delete") => Ok(GovRequest::RuleDel { id: id()? }),
        ("/admin/rules/save", _) => {
            let param = Param::from_str(f.text("param"), true)
                .map_err(|_| "parameter: os, model or type".to_owned())?;
            let value = f.text("value").trim().to_owned();
            let description = f.text("description").trim().to_owned();
            match f.text("edit").trim() {
                "" => Ok(GovRequest::RuleAdd {
                    param,
                    value: Some(value),
                    from_device: None,
                    action: access("action")?,
                    description,
                    enabled: true,
                }),
                n => Ok(GovRequest::RuleEdit {
                    id: n
                        .parse()
                        .map_err(|_| format!("{n:?} is not a rule number"))?,
                    param: Some(param),
                    value: Some(value),
                    action: Some(access("action")?),
                    description: Some(description),
                }),
            }
        }
        ("/admin/rules/similar", _) => {
            let device = f.text("device").trim();
            if device.is_empty() {
                return Err("choose a device first".into());
            }
            Ok(GovRequest::RuleAdd {
                param: Param::from_str(f.text("similar_param"), true)
                    .map_err(|_| "parameter: os, model or type".to_owned())?,
                // Taken from the device by the op (its OS, model or type).
                value: None,
                from_device: Some(device.to_owned()),
                action: access("similar_action")?,
                description: format!("like {device}"),
                enabled: true,
            })
        }
        ("/admin/rules/target", op @ ("set" | "remove")) => {
            let action = if op == "set" {
                Some(access("target_action")?)
            } else {
                None
            };
            match f.text("target").trim().split_once(':') {
                Some(("user", email)) => Ok(GovRequest::RuleUser {
                    email: email.to_owned(),
                    action,
                }),
                Some(("domain", domain)) => Ok(GovRequest::RuleDomain {
                    domain: domain.to_owned(),
                    action,
                }),
                _ => Err("name it user:EMAIL or domain:DOMAIN".into()),
            }
        }
        _ => Err("unknown rules action".into()),
    }
}

pub async fn post(visit: &Visit<'_>, form: &Form) -> Response<Body> {
    let req = match request(visit.path, form) {
        Ok(r) => r,
        Err(why) => return page(visit, Some((&why, true))).await,
    };
    match visit.run(AdminRequest::Govern(req)).await {
        Reply::Error { message } => page(visit, Some((&message, true))).await,
        _ => page::redirect("/admin/rules"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settings_form_is_readable() {
        // Every setting, the CSRF token, the rule and the button.
        assert!(crate::govern::settings::KEYS.len() + 3 <= super::super::form::MAX_FIELDS);
    }

    #[test]
    fn forms_become_requests() {
        let f = |s: &str| Form::parse(s).unwrap();
        assert_eq!(
            request("/admin/rules/global", &f("global=quarantine")),
            Ok(GovRequest::RuleGlobal {
                action: Access::Quarantine
            })
        );
        assert_eq!(
            request("/admin/rules/server", &f("op=delete&id=4")),
            Ok(GovRequest::RuleDel { id: 4 })
        );
        assert!(request("/admin/rules/server", &f("op=delete")).is_err());
        assert!(matches!(
            request(
                "/admin/rules/save",
                &f("edit=&param=os&value=iOS&action=block")
            ),
            Ok(GovRequest::RuleAdd {
                param: Param::Os,
                action: Access::Block,
                ..
            })
        ));
        assert!(matches!(
            request(
                "/admin/rules/save",
                &f("edit=3&param=model&value=x&action=allow")
            ),
            Ok(GovRequest::RuleEdit { id: 3, .. })
        ));
        assert_eq!(
            request(
                "/admin/rules/target",
                &f("op=remove&target=domain%3Aexample.com")
            ),
            Ok(GovRequest::RuleDomain {
                domain: "example.com".into(),
                action: None
            })
        );
        assert!(
            request(
                "/admin/rules/target",
                &f("op=set&target=bob&target_action=allow")
            )
            .is_err()
        );
    }
}
