//! The admin's accounts page (`/admin/accounts`): the accounts, [`PAGE`] at a time, and
//! the actions on the one chosen — disable/enable, ActiveSync off/on (its phones get
//! 403, its web pages work), a new password, delete (after a confirmation page) — and a
//! form to add one. Each action is an `admin::ops` request. Each row links to the
//! account's directory entry page (`web::entry`).

use hyper::{Response, StatusCode};
use maud::html;

use super::Visit;
use super::form::Form;
use super::page::{self, AdminTab};
use crate::admin::ops::Request as AdminRequest;
use crate::admin::reply::{Reply, UserSummary};
use crate::http_body::Body;

/// Accounts per page: 50 rows keep the page well under 50 KB.
pub const PAGE: usize = 50;

/// What an admin can do to the chosen account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Disable,
    Enable,
    ActiveSyncOff,
    ActiveSyncOn,
    /// Sets the password typed in the form's password field.
    Password,
    Delete,
}

impl Action {
    const ALL: [Action; 6] = [
        Action::Disable,
        Action::Enable,
        Action::ActiveSyncOff,
        Action::ActiveSyncOn,
        Action::Password,
        Action::Delete,
    ];

    fn name(self) -> &'static str {
        match self {
            Action::Disable => "disable",
            Action::Enable => "enable",
            Action::ActiveSyncOff => "activesync-off",
            Action::ActiveSyncOn => "activesync-on",
            Action::Password => "password",
            Action::Delete => "delete",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Action::ALL.into_iter().find(|a| a.name() == s)
    }

    fn label(self, t: &super::i18n::Text) -> &'static str {
        match self {
            Action::Disable => t.disable,
            Action::Enable => t.enable,
            Action::ActiveSyncOff => t.activesync_off,
            Action::ActiveSyncOn => t.activesync_on,
            Action::Password => t.set_password,
            Action::Delete => t.delete,
        }
    }

    fn request(self, email: String, form: &Form) -> AdminRequest {
        match self {
            Action::Disable | Action::Enable => AdminRequest::UserSetEnabled {
                email,
                enabled: self == Action::Enable,
            },
            Action::ActiveSyncOff | Action::ActiveSyncOn => AdminRequest::UserSetActiveSync {
                email,
                on: self == Action::ActiveSyncOn,
            },
            Action::Password => AdminRequest::UserPasswd {
                email,
                password: form.text("password").to_owned(),
            },
            Action::Delete => AdminRequest::UserDel { email },
        }
    }
}

pub async fn get(visit: &Visit<'_>) -> Response<Body> {
    let page_no = Form::parse(&visit.query)
        .ok()
        .and_then(|q| q.text("page").parse().ok())
        .unwrap_or(0);
    list(visit, page_no, None).await
}

pub async fn post(visit: &Visit<'_>, form: &Form) -> Response<Body> {
    let t = visit.text();
    let req = if visit.path == "/admin/accounts/add" {
        AdminRequest::UserAdd {
            email: form.text("email").trim().to_owned(),
            name: Some(form.text("name").trim().to_owned()).filter(|n| !n.is_empty()),
            admin: form.checked("admin"),
            password: form.text("password").to_owned(),
        }
    } else {
        let Some(action) = Action::parse(form.text("action")) else {
            return list(
                visit,
                0,
                Some(Reply::Error {
                    message: t.choose_action.into(),
                }),
            )
            .await;
        };
        let email = form.text("account");
        if email.is_empty() {
            return list(
                visit,
                0,
                Some(Reply::Error {
                    message: t.choose_account.into(),
                }),
            )
            .await;
        }
        if action == Action::Delete && form.text("confirm") != "1" {
            return confirm_delete(visit, email);
        }
        action.request(email.to_owned(), form)
    };
    let reply = visit.run(req).await;
    list(visit, 0, Some(reply)).await
}

async fn list(visit: &Visit<'_>, page_no: usize, outcome: Option<Reply>) -> Response<Body> {
    let t = visit.text();
    let csrf = visit.csrf();
    let users = match visit.run(AdminRequest::UserList).await {
        Reply::Users { users } => users,
        other => {
            tracing::error!("{}: web: listing accounts: {other:?}", visit.peer);
            return visit.server_error();
        }
    };
    let (status, notice) = match &outcome {
        Some(Reply::Done { message }) => (StatusCode::OK, Some((message.as_str(), false))),
        Some(Reply::Error { message }) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some((message.as_str(), true)),
        ),
        _ => (StatusCode::OK, None),
    };
    let pages = users.len().div_ceil(PAGE).max(1);
    let page_no = page_no.min(pages - 1);
    let start = (page_no * PAGE).min(users.len());
    let shown = &users[start..(start + PAGE).min(users.len())];
    let body = html! {
        @if let Some((text, error)) = notice { (page::notice(text, error)) }
        form method="post" action="/admin/accounts" {
            input type="hidden" name="csrf" value=(csrf);
            div.table { table {
                thead { tr {
                    th {} th { (t.address) } th { (t.name) } th { (t.role) } th { (t.state) }
                    th { "ActiveSync" } th { (t.entry_heading) }
                } }
                tbody { @for u in shown { (row(t, u)) } }
            } }
            label for="newpw" { (t.new_password) " (" (t.set_password) ")" }
            input #newpw type="password" name="password" autocomplete="new-password";
            p {
                @for a in Action::ALL {
                    button.plain type="submit" name="action" value=(a.name()) { (a.label(t)) } " "
                }
            }
        }
        @if pages > 1 {
            nav aria-label=(t.pages) {
                @if page_no > 0 {
                    a href={ "/admin/accounts?page=" (page_no - 1) } { "← " (t.previous) }
                }
                " " (page_no + 1) " / " (pages) " "
                @if page_no + 1 < pages {
                    a href={ "/admin/accounts?page=" (page_no + 1) } { (t.next) " →" }
                }
            }
        }
        h2 { (t.add_account) }
        form.box method="post" action="/admin/accounts/add" {
            input type="hidden" name="csrf" value=(csrf);
            label for="email" { (t.address) }
            input #email type="email" name="email" required;
            label for="name" { (t.name) }
            input #name type="text" name="name";
            label for="password" { (t.password) }
            input #password type="password" name="password" autocomplete="new-password" required;
            label { input type="checkbox" name="admin"; " " (t.admin) }
            p { button type="submit" { (t.add) } }
        }
    };
    visit.admin_page(
        AdminTab::Accounts,
        t.nav_accounts,
        status != StatusCode::OK,
        body,
    )
}

fn row(t: &super::i18n::Text, u: &UserSummary) -> maud::Markup {
    html! {
        tr {
            td { input type="radio" name="account" value=(u.email) aria-label=(u.email); }
            td { (u.email) }
            td { (u.name) }
            td { (if u.admin { t.admin } else { t.user }) }
            td { (if u.enabled { t.enabled } else { t.disabled }) }
            td { (if u.activesync { t.on } else { t.off }) }
            td { a href=(super::entry::href(&u.email)) { (t.entry_heading) } }
        }
    }
}

fn confirm_delete(visit: &Visit<'_>, email: &str) -> Response<Body> {
    let t = visit.text();
    let ask = page::Confirmation {
        question: t.delete_account_question,
        subject: Some(email),
        action: "/admin/accounts",
        fields: &[("account", email), ("action", Action::Delete.name())],
        button: t.delete,
        back: "/admin/accounts",
    };
    let body = ask.form(visit.csrf(), t.cancel);
    visit.admin_page(AdminTab::Accounts, t.nav_accounts, false, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_name_their_requests() {
        for a in Action::ALL {
            assert_eq!(Action::parse(a.name()), Some(a));
        }
        let form = Form::parse("password=n3w+secret").unwrap();
        assert_eq!(
            Action::Password.request("a@b.c".into(), &form),
            AdminRequest::UserPasswd {
                email: "a@b.c".into(),
                password: "n3w secret".into()
            }
        );
        assert_eq!(
            Action::ActiveSyncOff.request("a@b.c".into(), &form),
            AdminRequest::UserSetActiveSync {
                email: "a@b.c".into(),
                on: false
            }
        );
    }
}
