//! The page shell every page shares (header, navigation, language switch, stylesheet)
//! and the HTTP answers the pages give.

use bytes::Bytes;
use hyper::{Response, StatusCode, header};
use maud::{DOCTYPE, Markup, html};

use super::i18n::{Lang, Text};
use crate::http_body::Body;
use crate::store::model::Access;

/// The one stylesheet, embedded in the binary.
pub const CSS: &str = include_str!("style.css");
pub const CSS_PATH: &str = "/web.css";

/// Browsers may load only this site's stylesheet: no script, no frame, no other origin.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// Which part of the site a page belongs to, for its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    /// The login page: no navigation.
    Public,
    Admin(AdminTab),
    Account,
}

/// The admin pages' navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminTab {
    Dashboard,
    Accounts,
    Devices,
    Rules,
    Policies,
    Certificate,
    Logs,
    Settings,
    Audit,
}

/// What the shell needs to know about the visit.
pub struct Shell<'a> {
    pub lang: Lang,
    pub area: Area,
    /// The signed-in account and its CSRF token (for the logout form).
    pub signed_in: Option<(&'a str, &'a str)>,
    /// The page's own path, where the language switch comes back to.
    pub path: &'a str,
}

impl Shell<'_> {
    pub fn page(&self, title: &str, content: Markup) -> Markup {
        let t = self.lang.text();
        let other = self.lang.other();
        let switch = format!(
            "/lang?l={}&back={}",
            other.code(),
            crate::proto::query::percent_encode(self.path)
        );
        html! {
            (DOCTYPE)
            html lang=(self.lang.code()) {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) " · easd" }
                    link rel="stylesheet" href=(CSS_PATH);
                }
                body {
                    a.skip href="#main" { (title) }
                    header {
                        strong { (match self.area {
                            Area::Admin(_) => t.admin_title,
                            Area::Account => t.account_title,
                            Area::Public => "easd",
                        }) }
                        (self.nav())
                        a href=(switch) lang=(other.code()) hreflang=(other.code()) {
                            (other.text().language_name)
                        }
                        @if let Some((email, csrf)) = self.signed_in {
                            form.inline method="post" action="/logout" {
                                input type="hidden" name="csrf" value=(csrf);
                                button.plain type="submit" title=(email) { (t.sign_out) }
                            }
                        }
                    }
                    main id="main" {
                        h1 { (title) }
                        (content)
                    }
                }
            }
        }
    }

    fn nav(&self) -> Markup {
        let t = self.lang.text();
        let tabs: &[(&str, &str, Option<AdminTab>)] = match self.area {
            Area::Public => &[],
            Area::Account => &[("/account", t.nav_my_account, None)],
            Area::Admin(_) => &[
                ("/admin", t.nav_dashboard, Some(AdminTab::Dashboard)),
                ("/admin/accounts", t.nav_accounts, Some(AdminTab::Accounts)),
                ("/admin/devices", t.nav_devices, Some(AdminTab::Devices)),
                ("/admin/rules", t.nav_rules, Some(AdminTab::Rules)),
                ("/admin/policies", t.nav_policies, Some(AdminTab::Policies)),
                (
                    "/admin/certificate",
                    t.certificate,
                    Some(AdminTab::Certificate),
                ),
                ("/admin/settings", t.nav_settings, Some(AdminTab::Settings)),
                ("/admin/audit", t.nav_audit, Some(AdminTab::Audit)),
                ("/account", t.nav_my_account, None),
            ],
        };
        let current = |tab: Option<AdminTab>| match (self.area, tab) {
            (Area::Admin(now), Some(tab)) => now == tab,
            (Area::Account, None) => true,
            _ => false,
        };
        html! {
            @if !tabs.is_empty() {
                nav {
                    @for (href, label, tab) in tabs {
                        @if current(*tab) {
                            a href=(href) aria-current="page" { (label) }
                        } @else {
                            a href=(href) { (label) }
                        }
                    }
                }
            }
        }
    }
}

/// What a confirmation page asks before an action that destroys something.
pub struct Confirmation<'a> {
    pub question: &'a str,
    /// What the action is about (a device, an account), shown under the question.
    pub subject: Option<&'a str>,
    /// Where the form goes, with these fields, `confirm=1` and the CSRF token.
    pub action: &'a str,
    pub fields: &'a [(&'a str, &'a str)],
    pub button: &'a str,
    /// Where "cancel" leads.
    pub back: &'a str,
}

impl Confirmation<'_> {
    pub fn form(&self, csrf: &str, cancel: &str) -> Markup {
        html! {
            form.box method="post" action=(self.action) {
                p.warn { (self.question) }
                @if let Some(subject) = self.subject { p { code { (subject) } } }
                input type="hidden" name="csrf" value=(csrf);
                @for (name, value) in self.fields {
                    input type="hidden" name=(name) value=(value);
                }
                input type="hidden" name="confirm" value="1";
                p {
                    button.danger type="submit" { (self.button) } " "
                    a href=(self.back) { (cancel) }
                }
            }
        }
    }
}

/// A notice above a page's content: what an action came to.
pub fn notice(text: &str, error: bool) -> Markup {
    html! {
        @if error {
            p.notice.error role="alert" { (text) }
        } @else {
            p.notice role="status" { (text) }
        }
    }
}

/// An HTML page with the headers every page carries.
pub fn html(status: StatusCode, page: Markup) -> Response<Body> {
    let mut r = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .body(Body::new(Bytes::from(page.into_string())))
        .expect("static response");
    secure_headers(&mut r);
    r
}

fn secure_headers(r: &mut Response<Body>) {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
}

/// 303 See Other to `location` (after a form, or to the page a visitor belongs on).
pub fn redirect(location: &str) -> Response<Body> {
    let mut r = Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, location)
        .body(Body::new(Bytes::new()))
        .unwrap_or_else(|_| Response::new(Body::new(Bytes::new())));
    secure_headers(&mut r);
    r
}

/// The stylesheet: the same bytes for the daemon's lifetime, so browsers may keep it.
pub fn stylesheet() -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/css; charset=utf-8")
        .header(header::CACHE_CONTROL, "max-age=3600")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .body(Body::new(Bytes::from_static(CSS.as_bytes())))
        .expect("static response")
}

/// A cookie as the pages set them: never readable by scripts, never sent by another
/// site's request, only over HTTPS (the `--http` listener is for a proxy that
/// terminates TLS, so the browser still sees https). `max_age` 0 deletes it.
pub fn cookie(name: &str, value: &str, path: &str, max_age: Option<u64>) -> header::HeaderValue {
    let age = max_age
        .map(|s| format!("; Max-Age={s}"))
        .unwrap_or_default();
    let text = format!("{name}={value}; Path={path}; Secure; HttpOnly; SameSite=Strict{age}");
    // Names are constants and values our own base64url tokens or language codes.
    header::HeaderValue::from_str(&text).unwrap_or(header::HeaderValue::from_static(""))
}

/// Adds a `Set-Cookie` to a response.
pub fn with_cookie(mut r: Response<Body>, cookie: header::HeaderValue) -> Response<Body> {
    r.headers_mut().append(header::SET_COOKIE, cookie);
    r
}

/// A device's access state as the pages name it.
pub fn access_label(t: &Text, a: Access) -> &'static str {
    match a {
        Access::Allow => t.allowed,
        Access::Block => t.blocked,
        Access::Quarantine => t.quarantined,
    }
}

/// A Unix time as the pages show it (UTC, to the second).
pub fn when(secs: i64) -> String {
    match jiff::Timestamp::from_second(secs) {
        // Written by hand: jiff's strftime would add its whole formatter to the binary.
        Ok(t) => {
            let d = jiff::tz::TimeZone::UTC.to_datetime(t);
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
                d.year(),
                d.month(),
                d.day(),
                d.hour(),
                d.minute(),
                d.second()
            )
        }
        Err(_) => secs.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_as_shown() {
        assert_eq!(crate::web::page::when(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(
            crate::web::page::when(1_700_000_000),
            "2023-11-14 22:13:20 UTC"
        );
        assert_eq!(crate::web::page::when(i64::MAX), i64::MAX.to_string());
    }
}
