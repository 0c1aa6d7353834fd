//! The web pages: the admin's (`/admin`) and every user's self-service (`/account`),
//! server-rendered HTML (maud) with one embedded stylesheet and no script; every action
//! is a form that works without JavaScript.
//!
//! A visit is: the language (cookie, else Accept-Language), the session (cookie), then
//! the route. Pages under `/admin` need an admin's session (others get 403), those under
//! `/account` any session; without one a browser is sent to `/login`. Every POST but the
//! login's carries the session's CSRF token and is refused (403, nothing changed)
//! without it; the login form carries a token of its own, double-submitted in a cookie.
//! The operations themselves are `admin::ops` and `admin::govern`, with the signed-in
//! account as the audit log's actor.

mod account;
mod accounts;
mod admin;
mod cert;
mod devices;
mod entry;
mod form;
mod i18n;
mod login;
mod logs;
mod page;
mod policies;
mod rules;
mod settings;

use std::net::SocketAddr;
use std::time::Instant;

use hyper::{Method, Request, Response, StatusCode, header};
use maud::html;

use crate::admin::audit::Actor;
use crate::admin::ops::Request as AdminRequest;
use crate::admin::reply::Reply;
use crate::app::App;
use crate::auth::session::{Active, same_secret};
use crate::http_body::{Body, BodyError, BodyLimits, IncomingBody, busy, read_body};
use crate::store::model::Account;
use crate::store::ops::Reads;
use form::Form;
use i18n::Lang;
use page::{Area, Shell};

/// The session cookie (a random token; the server keeps its hash).
const SESSION_COOKIE: &str = "easd_session";
/// The language the switch chose.
const LANG_COOKIE: &str = "easd_lang";

/// A form is a few fields; anything larger is not one of ours. The certificate page's
/// PEM chain and key, URL-encoded, are the largest (a few certificates of up to ~2 KiB
/// each, a third more once encoded).
const MAX_FORM: usize = 64 * 1024;
/// A multipart form (the directory entry's, with a photo and certificates): the files one
/// entry edit may carry, and room for its text fields.
const MAX_UPLOAD: usize = crate::directory::entry::MAX_REQUEST_FILES + MAX_FORM;

/// Whether `path` (without its trailing slash) is one of the web pages'.
pub fn owns(path: &str) -> bool {
    let under = |prefix: &str| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    matches!(path, "/" | "/login" | "/logout" | "/lang" | page::CSS_PATH)
        || under("/admin")
        || under("/account")
}

/// Who is visiting, in which language.
struct Visit<'a> {
    app: &'a App,
    peer: SocketAddr,
    lang: Lang,
    /// The page's path (routing form: no trailing slash).
    path: &'a str,
    /// The query string, for GET pages that take one.
    query: String,
    signed_in: Option<SignedIn>,
}

/// A live session and its account, as read at the start of this request.
struct SignedIn {
    token: String,
    session: Active,
    account: Account,
}

impl Visit<'_> {
    fn text(&self) -> &'static i18n::Text {
        self.lang.text()
    }

    fn shell(&self, area: Area) -> Shell<'_> {
        Shell {
            lang: self.lang,
            area,
            signed_in: self
                .signed_in
                .as_ref()
                .map(|s| (s.account.email.as_str(), s.session.csrf.as_str())),
            path: self.path,
        }
    }

    /// A page with only a message on it (an error, a refusal).
    fn message(&self, status: StatusCode, text: &str) -> Response<Body> {
        let area = match &self.signed_in {
            Some(s) if s.account.admin => Area::Admin(page::AdminTab::Dashboard),
            Some(_) => Area::Account,
            None => Area::Public,
        };
        let body =
            html! { (page::notice(text, status.is_client_error() || status.is_server_error())) };
        page::html(status, self.shell(area).page(text, body))
    }

    /// The session's CSRF token, for the page's forms.
    fn csrf(&self) -> &str {
        self.signed_in
            .as_ref()
            .map_or("", |s| s.session.csrf.as_str())
    }

    /// An admin page under `tab`: 422 when it reports a refused action, else 200.
    fn admin_page(
        &self,
        tab: page::AdminTab,
        title: &str,
        refused: bool,
        body: maud::Markup,
    ) -> Response<Body> {
        let status = if refused {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        };
        page::html(status, self.shell(Area::Admin(tab)).page(title, body))
    }

    fn forbidden(&self, text: &str) -> Response<Body> {
        self.message(StatusCode::FORBIDDEN, text)
    }

    fn server_error(&self) -> Response<Body> {
        self.message(StatusCode::INTERNAL_SERVER_ERROR, self.text().server_error)
    }

    /// Runs an admin operation as the signed-in account (the audit log's actor).
    async fn run(&self, req: AdminRequest) -> Reply {
        req.execute(&self.app.store, &self.app.cfg.auth, &self.actor())
            .await
    }

    /// The signed-in account, as the audit log names it.
    fn actor(&self) -> Actor {
        let who = self
            .signed_in
            .as_ref()
            .map_or("", |s| s.account.email.as_str());
        Actor::web(who, self.peer.ip())
    }
}

/// Answers a request for one of the pages. `Server-Timing` says how long the server took
/// (W3C Server Timing), which the page budget is measured by.
pub async fn handle(
    app: &App,
    req: Request<impl IncomingBody>,
    peer: SocketAddr,
    path: &str,
) -> Response<Body> {
    let started = Instant::now();
    let mut r = answer(app, req, peer, path).await;
    let took = format!("app;dur={:.3}", started.elapsed().as_secs_f64() * 1000.0);
    if let Ok(v) = header::HeaderValue::from_str(&took) {
        r.headers_mut()
            .insert(header::HeaderName::from_static("server-timing"), v);
    }
    r
}

async fn answer(
    app: &App,
    req: Request<impl IncomingBody>,
    peer: SocketAddr,
    path: &str,
) -> Response<Body> {
    let headers = req.headers();
    let cookie_header = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let lang = Lang::choose(
        form::cookie(&cookie_header, LANG_COOKIE),
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    let signed_in = match form::cookie(&cookie_header, SESSION_COOKIE) {
        Some(token) => match signed_in(app, token).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("{peer}: web: reading the session's account: {e}");
                None
            }
        },
        None => None,
    };
    let visit = Visit {
        app,
        peer,
        lang,
        path,
        query: req.uri().query().unwrap_or_default().to_owned(),
        signed_in,
    };
    let method = req.method().clone();
    if method == Method::GET || method == Method::HEAD {
        return get(&visit, &cookie_header).await;
    }
    if method != Method::POST {
        let mut r = visit.message(StatusCode::METHOD_NOT_ALLOWED, visit.text().not_found);
        r.headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("GET, POST"));
        return r;
    }
    let form = match read_form(app, req, peer).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    if path == "/login" {
        return login::submit(&visit, &cookie_header, &form).await;
    }
    // Every other form acts for a session, and carries its CSRF token.
    let Some(s) = &visit.signed_in else {
        tracing::info!("{peer}: web: POST {path} without a session");
        return visit.forbidden(visit.text().csrf_refused);
    };
    if !form
        .get("csrf")
        .is_some_and(|t| same_secret(t, &s.session.csrf))
    {
        tracing::warn!(
            "{peer}: web: POST {path} by {} without the session's CSRF token: refused",
            s.account.email
        );
        return visit.forbidden(visit.text().csrf_refused);
    }
    post(&visit, &form).await
}

async fn get(visit: &Visit<'_>, cookies: &str) -> Response<Body> {
    match visit.path {
        page::CSS_PATH => page::stylesheet(),
        "/" => page::redirect(match &visit.signed_in {
            Some(s) if s.account.admin => "/admin",
            Some(_) => "/account",
            None => "/login",
        }),
        "/login" => login::page(visit, cookies, None),
        "/lang" => switch_language(visit),
        p if p.starts_with("/admin") => match admin_refusal(visit) {
            None => admin::get(visit).await,
            Some(r) => r,
        },
        p if p.starts_with("/account") => match &visit.signed_in {
            Some(s) => account::get(visit, s).await,
            None => page::redirect("/login"),
        },
        _ => visit.message(StatusCode::NOT_FOUND, visit.text().not_found),
    }
}

async fn post(visit: &Visit<'_>, form: &Form) -> Response<Body> {
    let Some(s) = &visit.signed_in else {
        return visit.forbidden(visit.text().forbidden);
    };
    match visit.path {
        "/logout" => login::logout(visit, s),
        p if p.starts_with("/admin") => match admin_refusal(visit) {
            None => admin::post(visit, form).await,
            Some(r) => r,
        },
        p if p.starts_with("/account") => account::post(visit, s, form).await,
        _ => visit.message(StatusCode::NOT_FOUND, visit.text().not_found),
    }
}

/// Admin pages: a browser without a session goes to the login, a user's session is 403;
/// `None` for an admin.
fn admin_refusal(visit: &Visit<'_>) -> Option<Response<Body>> {
    match &visit.signed_in {
        None => Some(page::redirect("/login")),
        Some(s) if !s.account.admin => {
            tracing::warn!(
                "{}: web: {} (not an admin) refused at {}",
                visit.peer,
                s.account.email,
                visit.path
            );
            Some(visit.forbidden(visit.text().admins_only))
        }
        Some(_) => None,
    }
}

/// The session of `token`, if it is live and its account still exists, is enabled and
/// has the password it logged in with; a session failing that is ended.
async fn signed_in(app: &App, token: &str) -> Result<Option<SignedIn>, crate::store::StoreError> {
    let Some(session) = app.sessions.get(token, Instant::now()) else {
        return Ok(None);
    };
    let id = session.account;
    let account = app.store.view(move |tx| tx.account(id)).await?;
    match account {
        Some(a)
            if a.enabled && crate::auth::fingerprint(&a.password_hash) == session.fingerprint =>
        {
            Ok(Some(SignedIn {
                token: token.to_owned(),
                session,
                account: a,
            }))
        }
        _ => {
            app.sessions.close(token);
            Ok(None)
        }
    }
}

/// `/lang?l=fr&back=/admin`: remembers the choice for a year and goes back.
fn switch_language(visit: &Visit<'_>) -> Response<Body> {
    let q = Form::parse(&visit.query).unwrap_or_default();
    let lang = Lang::from_code(q.text("l")).unwrap_or(visit.lang);
    let back = form::local_path(q.text("back"));
    page::with_cookie(
        page::redirect(back),
        page::cookie(LANG_COOKIE, lang.code(), "/", Some(365 * 24 * 3600)),
    )
}

async fn read_form(
    app: &App,
    req: Request<impl IncomingBody>,
    peer: SocketAddr,
) -> Result<Form, Response<Body>> {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|ct| {
            ct.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("multipart/form-data"))
        })
        .map(str::to_owned);
    let max = if multipart.is_some() {
        MAX_UPLOAD
    } else {
        MAX_FORM
    };
    let limits = BodyLimits {
        max,
        spool_over: max,
        budget: &app.budget,
        spool: &app.spool,
    };
    let bad = |why: &dyn std::fmt::Display| {
        tracing::info!("{peer}: web: unreadable form: {why}");
        crate::http_body::plain(StatusCode::BAD_REQUEST, "unreadable form\n")
    };
    let body = match read_body(req.into_body(), &limits).await {
        Ok(b) => b,
        Err(BodyError::Busy { .. }) => return Err(busy()),
        Err(e) => return Err(bad(&e)),
    };
    if let Some(content_type) = multipart {
        return Form::parse_multipart(&content_type, &body.bytes).map_err(|e| bad(&e));
    }
    let text = std::str::from_utf8(&body.bytes).map_err(|e| bad(&e))?;
    Form::parse(text).map_err(|e| bad(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pages_own_their_paths_only() {
        for p in [
            "/",
            "/login",
            "/logout",
            "/lang",
            "/web.css",
            "/admin",
            "/admin/audit",
            "/account",
            "/account/wipe",
        ] {
            assert!(owns(p), "{p}");
        }
        for p in [
            "/administrator",
            "/accounts",
            "/metrics",
            "/Microsoft-Server-ActiveSync",
            "/x",
        ] {
            assert!(!owns(p), "{p}");
        }
    }
}
