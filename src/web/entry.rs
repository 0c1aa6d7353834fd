//! The admin's page of one account's directory entry (`/admin/accounts/entry?account=…`):
//! what the GAL shows of it — names, alias, title, company, office, phones, photo and
//! S/MIME certificates — edited with one multipart form (the photo and certificates are
//! file uploads). Saving is `admin::ops`'s `UserSet`, the audited operation behind
//! `easd user set`, with the same checks and limits.

use hyper::{Response, StatusCode};
use maud::html;
use rustls::pki_types::CertificateDer;

use super::Visit;
use super::form::Form;
use super::i18n::Text;
use super::page::{self, AdminTab};
use crate::admin::ops::Request as AdminRequest;
use crate::admin::reply::Reply;
use crate::directory::entry::{Change, Field, Shown, Upload};
use crate::http_body::Body;
use crate::proto::query::percent_encode;

pub const PATH: &str = "/admin/accounts/entry";

/// The page's address for `email`.
pub fn href(email: &str) -> String {
    format!("{PATH}?account={}", percent_encode(email))
}

fn label(t: &Text, f: Field) -> &'static str {
    match f {
        Field::Name => t.entry_name,
        Field::FirstName => t.entry_first_name,
        Field::LastName => t.entry_last_name,
        Field::Alias => t.entry_alias,
        Field::Title => t.entry_title,
        Field::Company => t.entry_company,
        Field::Office => t.entry_office,
        Field::Phone => t.entry_phone,
        Field::HomePhone => t.entry_home_phone,
        Field::MobilePhone => t.entry_mobile_phone,
    }
}

pub async fn get(visit: &Visit<'_>) -> Response<Body> {
    let query = Form::parse(&visit.query).unwrap_or_default();
    show(visit, query.text("account"), None).await
}

pub async fn post(visit: &Visit<'_>, form: &Form) -> Response<Body> {
    let t = visit.text();
    let email = form.text("account");
    let current = match entry(visit, email).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let changes = match changes(&current, form) {
        Ok(c) => c,
        Err(message) => return show(visit, email, Some(Reply::Error { message })).await,
    };
    if changes.is_empty() {
        let nothing = Reply::Done {
            message: t.entry_unchanged.into(),
        };
        return show(visit, email, Some(nothing)).await;
    }
    let reply = visit
        .run(AdminRequest::UserSet {
            email: email.to_owned(),
            changes,
        })
        .await;
    let outcome = match reply {
        Reply::Error { message } => Reply::Error { message },
        _ => Reply::Done {
            message: t.entry_saved.into(),
        },
    };
    show(visit, email, Some(outcome)).await
}

/// The form's edit as `UserSet` changes: the fields whose value changed, the photo
/// removed or replaced, the certificates cleared, then those uploaded added (a DER file,
/// or a PEM file of one or more).
fn changes(current: &Shown, form: &Form) -> Result<Vec<Change>, String> {
    let mut out: Vec<Change> = Field::ALL
        .into_iter()
        .filter_map(|field| {
            let typed = form.get(field.key())?;
            let now = current
                .fields
                .iter()
                .find(|(k, _)| k == field.key())
                .map_or("", |(_, v)| v.as_str());
            (typed != now).then(|| Change::Set {
                field,
                value: typed.to_owned(),
            })
        })
        .collect();
    if let Some(photo) = form.file("photo") {
        out.push(Change::Photo {
            file: Some(Upload::of(photo)),
        });
    } else if form.checked("photo_remove") {
        out.push(Change::Photo { file: None });
    }
    if form.checked("certificates_clear") {
        out.push(Change::ClearCertificates);
    }
    if let Some(file) = form.file("certificate") {
        for der in certificate_ders(file)? {
            out.push(Change::AddCertificate {
                file: Upload::of(&der),
            });
        }
    }
    Ok(out)
}

/// The certificates of an uploaded file: PEM (one or more), else the file as DER (its
/// checks are `entry::check`'s).
fn certificate_ders(file: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    if !file.starts_with(b"-----BEGIN") {
        return Ok(vec![file.to_vec()]);
    }
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut &file[..])
        .collect::<Result<_, _>>()
        .map_err(|e| format!("the certificate file does not read as PEM: {e}"))?;
    if certs.is_empty() {
        return Err("the PEM file holds no CERTIFICATE".into());
    }
    Ok(certs.into_iter().map(|c| c.to_vec()).collect())
}

/// The entry of `email`, or the page answering why there is none.
async fn entry(visit: &Visit<'_>, email: &str) -> Result<Shown, Response<Body>> {
    let t = visit.text();
    if email.is_empty() {
        return Err(visit.message(StatusCode::NOT_FOUND, t.choose_account));
    }
    match visit
        .run(AdminRequest::UserShow {
            email: email.to_owned(),
        })
        .await
    {
        Reply::Directory { entry } => Ok(*entry),
        Reply::Error { message } => Err(visit.message(StatusCode::NOT_FOUND, &message)),
        other => {
            tracing::error!(
                "{}: web: reading the entry of {email}: {other:?}",
                visit.peer
            );
            Err(visit.server_error())
        }
    }
}

async fn show(visit: &Visit<'_>, email: &str, outcome: Option<Reply>) -> Response<Body> {
    let t = visit.text();
    let e = match entry(visit, email).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let (refused, notice) = match &outcome {
        Some(Reply::Error { message }) => (true, Some((message.as_str(), true))),
        Some(Reply::Done { message }) => (false, Some((message.as_str(), false))),
        _ => (false, None),
    };
    let value = |f: Field| {
        e.fields
            .iter()
            .find(|(k, _)| k == f.key())
            .map_or("", |(_, v)| v.as_str())
    };
    let body = html! {
        @if let Some((text, error)) = notice { (page::notice(text, error)) }
        p { (t.entry_intro) " " strong { (e.email) } }
        form.box method="post" action=(PATH) enctype="multipart/form-data" {
            input type="hidden" name="csrf" value=(visit.csrf());
            input type="hidden" name="account" value=(e.email);
            @for f in Field::ALL {
                label for={ "f-" (f.key()) } { (label(t, f)) }
                input id={ "f-" (f.key()) } type="text" name=(f.key()) value=(value(f))
                    maxlength="256";
            }
            h2 { (t.entry_photo) }
            p {
                @match e.photo {
                    Some(size) => { (t.entry_photo_size) " " (size) " B" }
                    None => { (t.entry_no_photo) }
                }
            }
            label for="photo" { (t.entry_photo_upload) }
            input #photo type="file" name="photo" accept="image/jpeg,image/png,image/gif";
            @if e.photo.is_some() {
                label { input type="checkbox" name="photo_remove"; " " (t.entry_photo_remove) }
            }
            h2 { (t.entry_certificates) }
            @if e.certificates.is_empty() {
                p { (t.entry_no_certificates) }
            } @else {
                div.table { table {
                    thead { tr { th { (t.entry_subject) } th { (t.expires) } th { (t.fingerprint) } } }
                    tbody { @for c in &e.certificates {
                        tr {
                            td { (c.subject) }
                            td { (page::when(c.not_after)) }
                            td { code { (c.sha256) } }
                        }
                    } }
                } }
                label {
                    input type="checkbox" name="certificates_clear";
                    " " (t.entry_certificates_clear)
                }
            }
            label for="certificate" { (t.entry_certificate_upload) }
            input #certificate type="file" name="certificate"
                accept=".der,.cer,.crt,.pem,application/pkix-cert";
            p { button type="submit" { (t.save) } }
        }
        p { a href="/admin/accounts" { "← " (t.nav_accounts) } }
    };
    visit.admin_page(AdminTab::Accounts, t.entry_heading, refused, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(title: &str) -> Shown {
        Shown {
            email: "a@b.c".into(),
            fields: Field::ALL
                .iter()
                .map(|f| {
                    let v = if *f == Field::Title { title } else { "" };
                    (f.key().to_owned(), v.to_owned())
                })
                .collect(),
            photo: None,
            certificates: Vec::new(),
        }
    }

    #[test]
    fn only_what_changed_is_sent() {
        let form = Form::parse("title=Buyer&office=R%C3%A9ception&alias=").unwrap();
        assert_eq!(
            changes(&shown("Buyer"), &form).unwrap(),
            vec![Change::Set {
                field: Field::Office,
                value: "Réception".into()
            }]
        );
        assert!(
            changes(&shown("Buyer"), &Form::default())
                .unwrap()
                .is_empty()
        );
        let form = Form::parse("title=&photo_remove=on&certificates_clear=on").unwrap();
        assert_eq!(
            changes(&shown("Buyer"), &form).unwrap(),
            vec![
                Change::Set {
                    field: Field::Title,
                    value: String::new()
                },
                Change::Photo { file: None },
                Change::ClearCertificates,
            ]
        );
    }

    #[test]
    fn certificate_files_are_der_or_pem() {
        assert_eq!(certificate_ders(b"\x30\x03\x02\x01\x01").unwrap().len(), 1);
        let pem = b"-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n\
-----BEGIN CERTIFICATE-----\nMAMCAQI=\n-----END CERTIFICATE-----\n";
        assert_eq!(
            certificate_ders(pem).unwrap(),
            vec![vec![0x30, 3, 2, 1, 1], vec![0x30, 3, 2, 1, 2]]
        );
        assert!(
            certificate_ders(b"-----BEGIN PRIVATE KEY-----\nMAMCAQE=\n-----END PRIVATE KEY-----\n")
                .is_err()
        );
    }
}
