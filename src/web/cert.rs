//! The admin's certificate page (`/admin/certificate`): what is served and where it comes
//! from (self-signed, configured, installed, ACME with its last attempt, error and next
//! renewal), and a form to install a PEM chain and key on the live `tls::Certs` (new
//! connections get it at once; a refused one leaves the old certificate served). The
//! dashboard shows the same summary.

use hyper::{Response, StatusCode};
use maud::{Markup, html};

use super::form::Form;
use super::page::{self, AdminTab};
use super::{Visit, i18n::Text};
use crate::admin::audit;
use crate::admin::cert::CertRequest;
use crate::admin::ops::Request as AdminRequest;
use crate::admin::reply::Reply;
use crate::http_body::Body;
use crate::store::now;
use crate::tls::{CertState, Source};

/// The dashboard warns about a certificate that expires in fewer days than this.
const CERT_WARNING_DAYS: i64 = 14;

fn source_label(t: &Text, s: &Source) -> &'static str {
    match s {
        Source::SelfSigned => t.cert_self_signed,
        Source::Configured { .. } => t.cert_configured,
        Source::Installed => t.cert_installed,
        Source::Acme => t.cert_acme,
    }
}

/// The served certificate: source, issuer, expiry (warned about under
/// [`CERT_WARNING_DAYS`]), fingerprint, and ACME's state when it is enabled.
pub fn summary(visit: &Visit<'_>, state: &CertState) -> Markup {
    let t = visit.text();
    let info = &state.leaf;
    let left_days = (info.not_after - now()) / 86_400;
    let renew_before = i64::from(visit.app.cfg.acme.renew_before_days) * 86_400;
    html! {
        dl {
            dt { (t.cert_source) } dd { (source_label(t, &state.source)) }
            dt { (t.issuer) } dd { (info.issuer) }
            dt { (t.expires) } dd {
                (page::when(info.not_after))
                @if left_days < CERT_WARNING_DAYS {
                    " " strong.warn role="alert" { (t.expires_soon) }
                }
            }
            dt { (t.fingerprint) } dd { code { (info.sha256) } }
            @if let Some(acme) = &state.acme {
                dt { (t.acme_last_attempt) } dd {
                    @match acme.record.last_attempt {
                        Some(at) => (page::when(at)),
                        None => (t.acme_never),
                    }
                }
                @if let Some(e) = &acme.record.last_error {
                    dt { (t.acme_last_error) } dd { span.warn { (e) } }
                }
                @if state.source == Source::Acme {
                    // The renewal task renews this long before expiry (`[acme] renew_before_days`).
                    dt { (t.acme_next_renewal) } dd { (page::when(info.not_after - renew_before)) }
                }
            }
        }
    }
}

pub fn get(visit: &Visit<'_>) -> Response<Body> {
    page(visit, None)
}

fn page(visit: &Visit<'_>, outcome: Option<(&str, bool)>) -> Response<Body> {
    let t = visit.text();
    let Some(certs) = &visit.app.certs else {
        return visit.message(StatusCode::NOT_FOUND, t.cert_no_https);
    };
    let error = outcome.is_some_and(|(_, e)| e);
    let body = html! {
        @if let Some((text, error)) = outcome { (page::notice(text, error)) }
        (summary(visit, &certs.state()))
        form.box method="post" action="/admin/certificate" {
            h2 { (t.cert_install_title) }
            p { (t.cert_install_help) }
            input type="hidden" name="csrf" value=(visit.csrf());
            label for="chain_pem" { (t.cert_chain) }
            textarea id="chain_pem" name="chain_pem" rows="8" required {}
            label for="key_pem" { (t.cert_key) }
            textarea id="key_pem" name="key_pem" rows="6" required {}
            p { button type="submit" { (t.cert_install_button) } }
        }
    };
    visit.admin_page(AdminTab::Certificate, t.certificate, error, body)
}

/// Installs the posted chain and key, audited (without the PEM texts: see
/// `admin::audit`); a refused one is shown with its reason (422), the old one still served.
pub async fn install(visit: &Visit<'_>, form: &Form) -> Response<Body> {
    let t = visit.text();
    let Some(certs) = &visit.app.certs else {
        return visit.message(StatusCode::NOT_FOUND, t.cert_no_https);
    };
    let req = CertRequest::Install {
        chain_pem: form.text("chain_pem").to_owned(),
        key_pem: form.text("key_pem").to_owned(),
    };
    let logged = audit::entry(&visit.actor(), &AdminRequest::Cert(req.clone()));
    let reply = req.execute(certs);
    // A certificate lives in files, not the store: its entry goes in alone.
    if let Some(entry) = logged {
        audit::record(&visit.app.store, audit::with_outcome(entry, &reply)).await;
    }
    match reply {
        Reply::Error { message } => page(visit, Some((&message, true))),
        _ => page(visit, Some((t.cert_install_done, false))),
    }
}
