//! TLS material on disk, under `DATA/tls`: the self-signed pair made on first start, the
//! installed certificate and ACME's files. Private material is written 0600 and replaced
//! atomically (temporary file, fsync, rename, directory fsync), so a crash leaves either
//! the old certificate or the new one, never half of one.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::TlsError;
use crate::store::archive::sync_parent;
use crate::store::model::AcmeRecord;

pub(super) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TlsError + '_ {
    move |source| TlsError::Io {
        path: path.to_owned(),
        source,
    }
}

fn tls_dir(data: &Path) -> PathBuf {
    data.join("tls")
}

/// Where the self-signed pair lives inside the data directory.
pub(super) fn default_paths(data: &Path) -> (PathBuf, PathBuf) {
    let dir = tls_dir(data);
    (dir.join("cert.pem"), dir.join("key.pem"))
}

/// The certificate installed with `easd cert install`: key and chain in one file, so
/// that one rename replaces both.
pub(super) fn installed_path(data: &Path) -> PathBuf {
    tls_dir(data).join("installed.pem")
}

/// ACME's account, certificate and state.
pub(super) fn acme_dir(data: &Path) -> PathBuf {
    tls_dir(data).join("acme")
}

/// Makes the self-signed pair unless it exists. SANs: localhost, 127.0.0.1 and `hostname`.
pub(super) fn ensure_self_signed(
    data: &Path,
    hostname: &str,
) -> Result<(PathBuf, PathBuf), TlsError> {
    let (cert_path, key_path) = default_paths(data);
    if cert_path.exists() && key_path.exists() {
        return Ok((cert_path, key_path));
    }
    let dir = tls_dir(data);
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    if !names.iter().any(|n| n == hostname) {
        names.push(hostname.to_owned());
    }
    let ck =
        rcgen::generate_simple_self_signed(names).map_err(|e| TlsError::Generate(e.to_string()))?;
    write_private(&key_path, ck.signing_key.serialize_pem().as_bytes())?;
    std::fs::write(&cert_path, ck.cert.pem()).map_err(io(&cert_path))?;
    tracing::info!(
        "created a self-signed certificate at {}",
        cert_path.display()
    );
    Ok((cert_path, key_path))
}

/// Writes `bytes` to `path` with mode 0600: the mode is set before any byte lands.
pub(super) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TlsError> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path))?;
    f.write_all(bytes).map_err(io(path))?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

/// Replaces `path` with `bytes` (0600) durably: the old content stays until the new one
/// is complete on disk.
pub(super) fn replace_private(path: &Path, bytes: &[u8]) -> Result<(), TlsError> {
    let dir = path.parent().expect("a file under DATA/tls");
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let tmp = path.with_extension("tmp");
    write_private(&tmp, bytes)?;
    std::fs::rename(&tmp, path).map_err(io(path))?;
    sync_parent(path).map_err(io(dir))
}

/// The file's text, `None` when it does not exist.
pub(super) fn read_if_present(path: &Path) -> Result<Option<String>, TlsError> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(path)(e)),
    }
}

pub(super) fn acme_cert_path(data: &Path) -> PathBuf {
    acme_dir(data).join("cert.pem")
}

fn record_path(data: &Path) -> PathBuf {
    acme_dir(data).join("state.json")
}

pub(super) fn account_path(data: &Path) -> PathBuf {
    acme_dir(data).join("account.json")
}

/// What was kept of the last attempts; empty when nothing was (or it does not read).
pub(super) fn read_acme_record(data: &Path) -> AcmeRecord {
    let path = record_path(data);
    match read_if_present(&path) {
        Ok(Some(text)) => serde_json::from_str(&text).unwrap_or_else(|e| {
            tracing::warn!("{}: {e}", path.display());
            AcmeRecord::default()
        }),
        Ok(None) => AcmeRecord::default(),
        Err(e) => {
            tracing::warn!("{e}");
            AcmeRecord::default()
        }
    }
}

pub(super) fn write_acme_record(data: &Path, record: &AcmeRecord) {
    let path = record_path(data);
    let json = serde_json::to_vec_pretty(record).unwrap_or_default();
    if let Err(e) = replace_private(&path, &json) {
        tracing::warn!("keeping the ACME state: {e}");
    }
}
