//! Signing in and out. The login form's CSRF token is double-submitted: a random value in
//! a cookie that only this site's pages can cause to be sent (SameSite=Strict) and in the
//! form; nothing is kept on the server before a login succeeds.

use std::time::Instant;

use hyper::{Response, StatusCode, header};
use maud::html;

use super::form::{self, Form};
use super::page::{self, Area};
use super::{SESSION_COOKIE, SignedIn, Visit};
use crate::auth::AuthError;
use crate::auth::session::{random_token, same_secret};
use crate::http_body::Body;

/// The login form's own CSRF cookie, sent back only to `/login`.
const LOGIN_COOKIE: &str = "easd_login";

/// The login page, with `error` above the form when a login just failed.
pub fn page(visit: &Visit<'_>, cookies: &str, error: Option<(StatusCode, &str)>) -> Response<Body> {
    if error.is_none() && visit.signed_in.is_some() {
        return page::redirect("/");
    }
    let t = visit.text();
    let token = form::cookie(cookies, LOGIN_COOKIE)
        .filter(|c| c.len() == random_token().len())
        .map_or_else(random_token, str::to_owned);
    let body = html! {
        @if let Some((_, text)) = error { (page::notice(text, true)) }
        form.box.login method="post" action="/login" {
            input type="hidden" name="csrf" value=(token);
            label for="user" { (t.address) }
            input #user type="text" name="user" autocomplete="username" required autofocus;
            label for="password" { (t.password) }
            input #password type="password" name="password" autocomplete="current-password" required;
            p { button type="submit" { (t.sign_in) } }
        }
    };
    let status = error.map_or(StatusCode::OK, |(s, _)| s);
    let shell = visit.shell(Area::Public);
    page::with_cookie(
        page::html(status, shell.page(t.sign_in_title, body)),
        page::cookie(LOGIN_COOKIE, &token, "/login", None),
    )
}

pub async fn submit(visit: &Visit<'_>, cookies: &str, form: &Form) -> Response<Body> {
    let t = visit.text();
    let peer = visit.peer;
    let expected = form::cookie(cookies, LOGIN_COOKIE).unwrap_or_default();
    let sent = form.text("csrf");
    if expected.is_empty() || !same_secret(sent, expected) {
        tracing::warn!("{peer}: web: login form without its CSRF token: refused");
        return visit.forbidden(t.csrf_refused);
    }
    let app = visit.app;
    let user = form.text("user");
    let login = app
        .auth
        .login(&app.store, user, form.text("password"), peer.ip());
    let account = match Box::pin(login).await {
        Ok(a) => a,
        Err(e) => return refused(visit, cookies, e).await,
    };
    tracing::info!("{peer}: web: {} signed in", account.email);
    let token = app.sessions.open(&account, Instant::now());
    let mut r = page::redirect("/");
    r.headers_mut().append(
        header::SET_COOKIE,
        page::cookie(SESSION_COOKIE, &token, "/", None),
    );
    page::with_cookie(r, page::cookie(LOGIN_COOKIE, "", "/login", Some(0)))
}

/// A failed login: the same answers as the EAS front door's, as a page.
async fn refused(visit: &Visit<'_>, cookies: &str, e: AuthError) -> Response<Body> {
    let (t, peer) = (visit.text(), visit.peer);
    match e {
        AuthError::BadCredentials { user, delay } => {
            visit.app.metrics.auth_failure();
            tracing::warn!("{peer}: web: failed login for {user:?}");
            tokio::time::sleep(delay).await;
            page(
                visit,
                cookies,
                Some((StatusCode::UNAUTHORIZED, t.bad_login)),
            )
        }
        AuthError::Missing | AuthError::Malformed => page(
            visit,
            cookies,
            Some((StatusCode::UNAUTHORIZED, t.bad_login)),
        ),
        AuthError::Disabled(user) => {
            tracing::warn!("{peer}: web: login to disabled account {user}");
            page(
                visit,
                cookies,
                Some((StatusCode::FORBIDDEN, t.account_disabled)),
            )
        }
        AuthError::Throttled(wait) => {
            // The lock was logged (and counted) once, when it started.
            tracing::debug!(
                "{peer}: web: login refused, locked for {}s more",
                wait.as_secs()
            );
            let mut r = page(
                visit,
                cookies,
                Some((StatusCode::TOO_MANY_REQUESTS, t.throttled)),
            );
            r.headers_mut().insert(
                header::RETRY_AFTER,
                header::HeaderValue::from(wait.as_secs().max(1)),
            );
            r
        }
        AuthError::Store(e) => {
            tracing::error!("{peer}: web: store error during login: {e}");
            visit.server_error()
        }
    }
}

/// Ends the session and goes to the login page.
pub fn logout(visit: &Visit<'_>, s: &SignedIn) -> Response<Body> {
    tracing::info!("{}: web: {} signed out", visit.peer, s.account.email);
    visit.app.sessions.close(&s.token);
    page::with_cookie(
        page::redirect("/login"),
        page::cookie(SESSION_COOKIE, "", "/", Some(0)),
    )
}
