//! Editing an account's directory entry (`easd user set EMAIL key=value…`): the keys, the
//! checks on values, photos and certificates, and the change applied to the records.
//! Reading `@file` arguments is the caller's (the command line reads its own files and
//! sends their bytes, so a daemon never opens a path an admin names).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::store::blob::BlobStore;
use crate::store::model::{Account, DirectoryEntry, StoredBytes};

/// The largest photo: what a client may ask for at most ([MS-ASCMD] 2.2.3.104 MaxSize,
/// 102400 bytes), and Active Directory's thumbnailPhoto limit.
pub const MAX_PHOTO: usize = 100 * 1024;
/// Certificates per account, and the size of one (DER).
pub const MAX_CERTIFICATES: usize = 8;
pub const MAX_CERTIFICATE: usize = 16 * 1024;
/// File bytes one edit may carry: a photo and a full set of certificates.
pub const MAX_REQUEST_FILES: usize = MAX_PHOTO + MAX_CERTIFICATES * MAX_CERTIFICATE;
/// Characters of one text value.
pub const MAX_VALUE: usize = 256;

/// A text property an admin sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// The account's display name (kept on the account record).
    Name,
    FirstName,
    LastName,
    Alias,
    Title,
    Company,
    Office,
    Phone,
    HomePhone,
    MobilePhone,
}

impl Field {
    pub const ALL: [Field; 10] = [
        Field::Name,
        Field::FirstName,
        Field::LastName,
        Field::Alias,
        Field::Title,
        Field::Company,
        Field::Office,
        Field::Phone,
        Field::HomePhone,
        Field::MobilePhone,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::FirstName => "first_name",
            Field::LastName => "last_name",
            Field::Alias => "alias",
            Field::Title => "title",
            Field::Company => "company",
            Field::Office => "office",
            Field::Phone => "phone",
            Field::HomePhone => "home_phone",
            Field::MobilePhone => "mobile_phone",
        }
    }

    /// The key as typed: `first_name` or `first-name`.
    pub fn parse(key: &str) -> Option<Field> {
        let key = key.replace('-', "_");
        Field::ALL.into_iter().find(|f| f.key() == key)
    }

    /// The value of this field in the records.
    pub fn value<'a>(self, account: &'a Account, d: &'a DirectoryEntry) -> &'a str {
        match self {
            Field::Name => &account.display_name,
            _ => self.slot(d),
        }
    }

    fn slot(self, d: &DirectoryEntry) -> &String {
        match self {
            Field::Name | Field::FirstName => &d.first_name,
            Field::LastName => &d.last_name,
            Field::Alias => &d.alias,
            Field::Title => &d.title,
            Field::Company => &d.company,
            Field::Office => &d.office,
            Field::Phone => &d.business_phone,
            Field::HomePhone => &d.home_phone,
            Field::MobilePhone => &d.mobile_phone,
        }
    }

    fn slot_mut(self, d: &mut DirectoryEntry) -> &mut String {
        match self {
            Field::Name | Field::FirstName => &mut d.first_name,
            Field::LastName => &mut d.last_name,
            Field::Alias => &mut d.alias,
            Field::Title => &mut d.title,
            Field::Company => &mut d.company,
            Field::Office => &mut d.office,
            Field::Phone => &mut d.business_phone,
            Field::HomePhone => &mut d.home_phone,
            Field::MobilePhone => &mut d.mobile_phone,
        }
    }
}

/// File content carried in a request. Serialized with its size, so that the audit log
/// (which leaves `content_base64` out) says what size of file was set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Upload {
    pub size: usize,
    pub content_base64: String,
}

impl Upload {
    pub fn of(bytes: &[u8]) -> Self {
        Upload {
            size: bytes.len(),
            content_base64: STANDARD.encode(bytes),
        }
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        STANDARD
            .decode(&self.content_base64)
            .map_err(|e| format!("file content is not base64: {e}"))
    }
}

/// One change to an entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// A text property; an empty value clears it.
    Set { field: Field, value: String },
    /// The photo, or none.
    Photo { file: Option<Upload> },
    /// One more S/MIME certificate (DER).
    AddCertificate { file: Upload },
    /// No certificates.
    ClearCertificates,
}

/// Reads `key=value` arguments: the fields, `photo=@FILE` (`photo=` removes it),
/// `cert=@FILE` (adds one) and `cert-clear`; `read` reads a named file.
pub fn parse_args(
    args: &[String],
    read: impl Fn(&str) -> Result<Vec<u8>, String>,
) -> Result<Vec<Change>, String> {
    let keys = || {
        Field::ALL
            .map(Field::key)
            .into_iter()
            .chain(["photo", "cert", "cert-clear"])
            .collect::<Vec<_>>()
            .join(", ")
    };
    args.iter()
        .map(|arg| {
            if arg == "cert-clear" {
                return Ok(Change::ClearCertificates);
            }
            let Some((key, value)) = arg.split_once('=') else {
                return Err(format!("{arg:?} is not key=value (keys: {})", keys()));
            };
            let file = |value: &str| match value.strip_prefix('@') {
                Some(path) => read(path).map(|b| Upload::of(&b)),
                None => Err(format!("{key} takes @FILE, not {value:?}")),
            };
            match key {
                "photo" if value.is_empty() => Ok(Change::Photo { file: None }),
                "photo" => Ok(Change::Photo {
                    file: Some(file(value)?),
                }),
                "cert" => Ok(Change::AddCertificate { file: file(value)? }),
                _ => match Field::parse(key) {
                    Some(field) => Ok(Change::Set {
                        field,
                        value: value.to_owned(),
                    }),
                    None => Err(format!("unknown key {key:?} (keys: {})", keys())),
                },
            }
        })
        .collect()
}

/// Changes checked, with their files decoded: what [`Checked::store_files`] writes.
#[derive(Debug)]
pub struct Checked(Vec<CheckedChange>);

#[derive(Debug)]
enum CheckedChange {
    Set(Field, String),
    Photo(Option<Vec<u8>>),
    AddCertificate(Vec<u8>),
    ClearCertificates,
}

/// Checks every change: values of at most [`MAX_VALUE`] characters without control
/// characters, a JPEG, PNG or GIF photo of at most [`MAX_PHOTO`] bytes, X.509 DER
/// certificates of at most [`MAX_CERTIFICATE`] bytes.
pub fn check(changes: &[Change]) -> Result<Checked, String> {
    let photos = changes
        .iter()
        .filter(|c| matches!(c, Change::Photo { file: Some(_) }))
        .count();
    let certificates = changes
        .iter()
        .filter(|c| matches!(c, Change::AddCertificate { .. }))
        .count();
    if photos > 1 || certificates > MAX_CERTIFICATES {
        return Err(format!(
            "one photo and {MAX_CERTIFICATES} certificates at most per edit"
        ));
    }
    let mut out = Vec::new();
    for c in changes {
        out.push(match c {
            Change::Set { field, value } => {
                let value = value.trim();
                if value.chars().count() > MAX_VALUE {
                    return Err(format!(
                        "{} is longer than {MAX_VALUE} characters",
                        field.key()
                    ));
                }
                if value.chars().any(char::is_control) {
                    return Err(format!("{} holds a control character", field.key()));
                }
                CheckedChange::Set(*field, value.to_owned())
            }
            Change::Photo { file: None } => CheckedChange::Photo(None),
            Change::Photo { file: Some(f) } => {
                let bytes = f.bytes()?;
                if bytes.len() > MAX_PHOTO {
                    return Err(format!(
                        "the photo has {} bytes; at most {MAX_PHOTO}",
                        bytes.len()
                    ));
                }
                if !is_image(&bytes) {
                    return Err("the photo is not a JPEG, PNG or GIF image".into());
                }
                CheckedChange::Photo(Some(bytes))
            }
            Change::AddCertificate { file } => {
                let bytes = file.bytes()?;
                if bytes.len() > MAX_CERTIFICATE {
                    return Err(format!(
                        "the certificate has {} bytes; at most {MAX_CERTIFICATE}",
                        bytes.len()
                    ));
                }
                crate::tls::x509::info(&bytes).map_err(|e| format!("cert: {e}"))?;
                CheckedChange::AddCertificate(bytes)
            }
            Change::ClearCertificates => CheckedChange::ClearCertificates,
        });
    }
    Ok(Checked(out))
}

fn is_image(b: &[u8]) -> bool {
    b.starts_with(&[0xFF, 0xD8, 0xFF])
        || b.starts_with(b"\x89PNG\r\n\x1a\n")
        || b.starts_with(b"GIF87a")
        || b.starts_with(b"GIF89a")
}

/// Checked changes whose files are in the blob store (written and fsynced before the
/// commit that names them): applied to the records in the write job.
#[derive(Debug, Clone)]
pub struct Ready(Vec<ReadyChange>);

#[derive(Debug, Clone)]
enum ReadyChange {
    Set(Field, String),
    Photo(Option<StoredBytes>),
    AddCertificate(StoredBytes),
    ClearCertificates,
}

impl Checked {
    /// Writes the photo and certificates as blobs (blocking file I/O).
    pub fn store_files(self, blobs: &BlobStore) -> std::io::Result<Ready> {
        let stored = |b: &[u8]| -> std::io::Result<StoredBytes> {
            Ok(StoredBytes {
                blob: blobs.put(b)?,
                size: b.len() as u32,
            })
        };
        let mut out = Vec::new();
        for c in self.0 {
            out.push(match c {
                CheckedChange::Set(f, v) => ReadyChange::Set(f, v),
                CheckedChange::Photo(p) => {
                    ReadyChange::Photo(p.as_deref().map(stored).transpose()?)
                }
                CheckedChange::AddCertificate(b) => ReadyChange::AddCertificate(stored(&b)?),
                CheckedChange::ClearCertificates => ReadyChange::ClearCertificates,
            });
        }
        Ok(Ready(out))
    }
}

impl Ready {
    /// Applies the changes, in order, to the account and its entry.
    pub fn apply(&self, account: &mut Account, d: &mut DirectoryEntry) -> Result<(), String> {
        for c in &self.0 {
            match c {
                ReadyChange::Set(Field::Name, v) => account.display_name = v.clone(),
                ReadyChange::Set(f, v) => *f.slot_mut(d) = v.clone(),
                ReadyChange::Photo(p) => d.photo = p.clone(),
                ReadyChange::AddCertificate(c) => {
                    if !d.certificates.iter().any(|x| x.blob == c.blob) {
                        if d.certificates.len() >= MAX_CERTIFICATES {
                            return Err(format!(
                                "{} has {MAX_CERTIFICATES} certificates already (cert-clear first)",
                                account.email
                            ));
                        }
                        d.certificates.push(c.clone());
                    }
                }
                ReadyChange::ClearCertificates => d.certificates.clear(),
            }
        }
        Ok(())
    }
}

/// What `easd user show` prints of an entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shown {
    pub email: String,
    /// Every field with its value ("" when not set), in [`Field::ALL`]'s order.
    pub fields: Vec<(String, String)>,
    /// The photo's size in bytes.
    pub photo: Option<u32>,
    pub certificates: Vec<crate::tls::x509::CertInfo>,
}

impl Shown {
    /// `certificates` are the entry's certificates' DER bytes, read from their blobs.
    pub fn of(account: &Account, d: &DirectoryEntry, certificates: &[Vec<u8>]) -> Self {
        Shown {
            email: account.email.clone(),
            fields: Field::ALL
                .iter()
                .map(|f| (f.key().to_owned(), f.value(account, d).to_owned()))
                .collect(),
            photo: d.photo.as_ref().map(|p| p.size),
            certificates: certificates
                .iter()
                .filter_map(|der| crate::tls::x509::info(der).ok())
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(path: &str) -> Result<Vec<u8>, String> {
        match path {
            "face.jpg" => Ok(vec![0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3]),
            "big.jpg" => {
                let mut b = vec![0xFF, 0xD8, 0xFF];
                b.resize(MAX_PHOTO + 1, 0);
                Ok(b)
            }
            "notes.txt" => Ok(b"hello".to_vec()),
            _ => Err(format!("{path}: no such file")),
        }
    }

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn arguments_become_changes() {
        let c = parse_args(
            &args(&[
                "first-name=Ann",
                "title=",
                "photo=@face.jpg",
                "photo=",
                "cert-clear",
            ]),
            read,
        )
        .unwrap();
        assert_eq!(
            c[0],
            Change::Set {
                field: Field::FirstName,
                value: "Ann".into()
            }
        );
        assert_eq!(
            c[1],
            Change::Set {
                field: Field::Title,
                value: String::new()
            }
        );
        assert!(matches!(&c[2], Change::Photo { file: Some(f) } if f.size == 7));
        assert_eq!(c[3], Change::Photo { file: None });
        assert_eq!(c[4], Change::ClearCertificates);
        for bad in ["colour=red", "title", "photo=face.jpg", "cert=@missing.der"] {
            assert!(parse_args(&args(&[bad]), read).is_err(), "{bad}");
        }
    }

    #[test]
    fn photos_and_certificates_are_checked() {
        let photo = |p: &str| parse_args(&args(&[&format!("photo=@{p}")]), read).unwrap();
        assert!(check(&photo("face.jpg")).is_ok());
        let big = check(&photo("big.jpg")).unwrap_err();
        assert!(big.contains("at most 102400"), "{big}");
        assert!(
            check(&photo("notes.txt"))
                .unwrap_err()
                .contains("not a JPEG")
        );
        let cert = parse_args(&args(&["cert=@notes.txt"]), read).unwrap();
        assert!(check(&cert).unwrap_err().contains("X.509"));
        let long = "x".repeat(MAX_VALUE + 1);
        let set = |v: &str| Change::Set {
            field: Field::Office,
            value: v.into(),
        };
        assert!(check(&[set(&long)]).is_err());
        assert!(check(&[set("a\nb")]).is_err());
        assert!(check(&[set(" Room 4 ")]).is_ok());
    }
}
