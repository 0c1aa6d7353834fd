//! The admin operations themselves, as serialisable requests and replies.

use serde::{Deserialize, Serialize};

use super::AdminError;
use super::audit::{self, Actor};
use super::error::find_account;
use crate::auth::password;
use crate::config::AuthConfig;
use crate::directory::entry;
use crate::store::audit::AuditReads;
use crate::store::directory::{self, DirectoryReads};
use crate::store::model::Account;
use crate::store::ops::{self, Reads};
use crate::store::{Event, Store, StoreError};

use super::reply::{Reply, UserSummary};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    UserAdd {
        email: String,
        name: Option<String>,
        admin: bool,
        password: String,
    },
    UserList,
    UserPasswd {
        email: String,
        password: String,
    },
    UserSetEnabled {
        email: String,
        enabled: bool,
    },
    UserDel {
        email: String,
    },
    /// Lets the account use ActiveSync, or not (403 to its phones; its web pages work).
    UserSetActiveSync {
        email: String,
        on: bool,
    },
    /// Changes the account's directory entry (`easd user set`).
    UserSet {
        email: String,
        changes: Vec<entry::Change>,
    },
    /// The account's directory entry (`easd user show`).
    UserShow {
        email: String,
    },
    /// Switches the protocol log of an account (`EMAIL`), one device (`EMAIL/DEVICEID`) or
    /// every device with that id (`DEVICEID`).
    LogSet {
        target: String,
        on: bool,
    },
    /// The running daemon's state (answered by the control socket itself).
    Status,
    /// The served certificate (answered by the control socket with the daemon's live
    /// certificate, or by `easd cert` itself).
    Cert(super::cert::CertRequest),
    /// Device governance: devices, ABQ rules, remote wipe.
    Govern(super::govern::GovRequest),
    /// Groups, shared folders and public folders.
    Share(super::share::ShareRequest),
    /// Imports an .eml file, an mbox file or a Maildir into a folder of `email`; `path`
    /// is read by whoever executes the request, so it should be absolute.
    Import {
        email: String,
        folder: String,
        path: std::path::PathBuf,
        /// A progress line on stderr; only for a request executed by the CLI itself.
        #[serde(skip)]
        progress: bool,
        /// Over the control socket: send [`Reply::Progress`] lines before the final reply.
        /// A daemon that predates it ignores the field and sends only the reply.
        #[serde(default)]
        stream_progress: bool,
    },
    /// The calendar or contacts folder `folder` of `email` as an iCalendar or vCard file,
    /// answered as the Done message (`easd export`).
    Export {
        email: String,
        folder: String,
        /// Absent from an older CLI: iCalendar, all it could ask for.
        #[serde(default)]
        format: super::pim_file::Format,
    },
    /// Writes a backup archive of the store to `path` (absolute: the daemon's working
    /// directory is not the caller's).
    Backup {
        path: std::path::PathBuf,
    },
    /// Compacts the store's database file (`easd store compact`), answered with its size
    /// before and after.
    StoreCompact,
    /// The guide's "Reset the ActiveSync database": every device's sync state (of one
    /// account with `user`) is dropped, mail, accounts and devices' governance kept;
    /// each device syncs everything again.
    SyncStateReset {
        user: Option<String>,
    },
    /// The newest `limit` entries of the audit log, newest first.
    AuditList {
        limit: usize,
    },
    /// The server settings saved over the configuration file's (answered with that file:
    /// by the daemon, which puts a change in force, or by `easd settings` itself).
    Settings(super::settings::SettingsRequest),
}

impl audit::Audited for Request {
    /// The op's name, for log lines and the audit log; never the request itself, which
    /// may hold a password.
    fn op_name(&self) -> &'static str {
        match self {
            Request::UserAdd { .. } => "user_add",
            Request::UserList => "user_list",
            Request::UserPasswd { .. } => "user_passwd",
            Request::UserSetEnabled { .. } => "user_set_enabled",
            Request::UserDel { .. } => "user_del",
            Request::UserSetActiveSync { .. } => "user_set_activesync",
            Request::UserSet { .. } => "user_set",
            Request::UserShow { .. } => "user_show",
            Request::LogSet { .. } => "log_set",
            Request::Status => "status",
            Request::Cert(c) => c.op_name(),
            Request::Govern(g) => g.op_name(),
            Request::Share(s) => s.op_name(),
            Request::Import { .. } => "import",
            Request::Export { .. } => "export",
            Request::Backup { .. } => "backup",
            Request::StoreCompact => "store_compact",
            Request::SyncStateReset { .. } => "sync_state_reset",
            Request::AuditList { .. } => "audit_list",
            Request::Settings(s) => s.op_name(),
        }
    }

    /// Whether the request changes something (and so goes into the audit log). A backup
    /// changes nothing in the store but copies all of it out: it is logged too.
    fn changes(&self) -> bool {
        match self {
            Request::UserList
            | Request::UserShow { .. }
            | Request::Status
            | Request::AuditList { .. }
            | Request::Export { .. } => false,
            Request::Govern(g) => g.changes(),
            Request::Share(s) => s.changes(),
            Request::Cert(c) => c.changes(),
            Request::Settings(s) => s.changes(),
            Request::UserAdd { .. }
            | Request::UserPasswd { .. }
            | Request::UserSetEnabled { .. }
            | Request::UserDel { .. }
            | Request::UserSetActiveSync { .. }
            | Request::UserSet { .. }
            | Request::LogSet { .. }
            | Request::Import { .. }
            | Request::Backup { .. }
            | Request::StoreCompact
            | Request::SyncStateReset { .. } => true,
        }
    }
}

impl Request {
    /// Runs the request against the store for `actor`, recording it in the audit log when
    /// it changes something.
    pub async fn execute(self, store: &Store, auth: &AuthConfig, actor: &Actor) -> Reply {
        self.execute_streaming(store, auth, actor, None).await
    }

    /// Whether the control socket should stream this request's progress.
    pub fn streams_progress(&self) -> bool {
        matches!(
            self,
            Request::Import {
                stream_progress: true,
                ..
            }
        )
    }

    /// [`Request::execute`], handing the progress of an import to `progress` as it goes.
    pub async fn execute_streaming(
        self,
        store: &Store,
        auth: &AuthConfig,
        actor: &Actor,
        progress: Option<tokio::sync::mpsc::UnboundedSender<crate::mail::import::ImportProgress>>,
    ) -> Reply {
        // The entry goes into the same transaction as the action's first write, so a
        // crash cannot leave an action done but unlogged; see `Store::audited`.
        let entry = audit::entry(actor, &self);
        audit::logged(store, entry, async |s| {
            Reply::of(self.run(&s, auth, progress).await)
        })
        .await
    }

    async fn run(
        self,
        store: &Store,
        auth: &AuthConfig,
        stream: Option<tokio::sync::mpsc::UnboundedSender<crate::mail::import::ImportProgress>>,
    ) -> Result<Reply, AdminError> {
        match self {
            Request::UserAdd {
                email,
                name,
                admin,
                password,
            } => {
                let hash = hash_blocking(password, auth).await?;
                let name = name.unwrap_or_default();
                let a = store
                    .write(move |ctx| ops::create_account(ctx, &email, &name, &hash, admin))
                    .await?;
                Ok(done(format!("created {}", a.email)))
            }
            Request::UserList => {
                let users = store
                    .view(|tx| {
                        let accounts = tx.accounts()?;
                        Ok::<_, StoreError>(accounts.iter().map(UserSummary::from).collect())
                    })
                    .await?;
                Ok(Reply::Users { users })
            }
            Request::UserPasswd { email, password } => {
                let hash = hash_blocking(password, auth).await?;
                update_account(store, email, move |a| a.password_hash = hash.clone()).await?;
                Ok(done("password changed".into()))
            }
            Request::UserSetEnabled { email, enabled } => {
                let a = update_account(store, email, move |a| a.enabled = enabled).await?;
                let state = if enabled { "enabled" } else { "disabled" };
                Ok(done(format!("{} {state}", a.email)))
            }
            Request::UserSetActiveSync { email, on } => {
                let a = update_account(store, email, move |a| a.activesync = on).await?;
                let state = if on { "on" } else { "off" };
                Ok(done(format!("ActiveSync {state} for {}", a.email)))
            }
            Request::UserDel { email } => {
                let email = ops::normalize_email(&email)?;
                store
                    .write_or(move |ctx| {
                        let a = find_account(ctx, &email)?;
                        Ok::<_, AdminError>(ops::delete_account(ctx, &a)?)
                    })
                    .await?;
                Ok(done("account deleted".into()))
            }
            Request::UserSet { email, changes } => set_directory(store, email, changes).await,
            Request::UserShow { email } => show_directory(store, email).await,
            Request::LogSet { target, on } => set_log(store, target, on).await,
            Request::Status => Err(AdminError::Invalid("easd is not running".into())),
            Request::Cert(_) => Err(AdminError::Invalid(
                "certificate requests need the certificate store: use `easd cert`".into(),
            )),
            Request::Govern(g) => g.run(store).await,
            Request::Share(s) => s.run(store).await,
            Request::Settings(_) => Err(AdminError::Invalid(
                "settings requests need the configuration file: use `easd settings`".into(),
            )),
            Request::Export {
                email,
                folder,
                format,
            } => Ok(done(
                super::pim_file::export(store, &email, &folder, format).await?,
            )),
            Request::Import {
                email,
                folder,
                path,
                progress,
                stream_progress: _,
            } => {
                use crate::mail::import::{self, ImportProgress, ProgressBar};
                // The CLI's own bar when it runs the import, and/or the control socket's
                // stream when the daemon does.
                let mut bar = if progress {
                    ProgressBar::on_terminal()
                } else {
                    ProgressBar::off()
                };
                let mut report = |p: &ImportProgress| {
                    bar.show(p);
                    if let Some(s) = &stream {
                        let _ = s.send(*p);
                    }
                };
                // A calendar or contacts file, by its extension; else mail.
                let summary = match super::pim_file::Format::of_path(&path) {
                    Some(format) => {
                        super::pim_file::import(store, &email, &folder, &path, format, &mut report)
                            .await
                    }
                    None => import::import(store, &email, &folder, &path, &mut report).await,
                };
                bar.finish();
                Ok(done(summary?.report()))
            }
            Request::Backup { path } => backup(store, path).await,
            Request::StoreCompact => Ok(done(store.compact().await?.to_string())),
            Request::SyncStateReset { user } => reset_sync_state(store, user).await,
            Request::AuditList { limit } => Ok(Reply::Audit {
                entries: store.view(move |tx| tx.audit_newest(limit)).await?,
            }),
        }
    }
}

/// Runs the copy on a blocking thread: it reads the whole store, and the runtime thread
/// must go on serving meanwhile.
async fn backup(store: &Store, path: std::path::PathBuf) -> Result<Reply, AdminError> {
    if !path.is_absolute() {
        return Err(AdminError::Invalid(format!(
            "the backup path {} is not absolute",
            path.display()
        )));
    }
    let store = store.clone();
    let summary = tokio::task::spawn_blocking(move || store.snapshot_to(&path))
        .await
        .map_err(|e| AdminError::Invalid(format!("backup task failed: {e}")))??;
    Ok(done(summary.to_string()))
}

async fn reset_sync_state(store: &Store, user: Option<String>) -> Result<Reply, AdminError> {
    let user = user.map(|u| ops::normalize_email(&u)).transpose()?;
    let reset = store
        .write_or(move |ctx| {
            let only = user.as_deref().map(|e| find_account(ctx, e)).transpose()?;
            let devices = match &only {
                Some(a) => ctx.account_devices(a.id)?,
                None => ctx.devices()?,
            };
            for d in &devices {
                ops::drop_sync_state(ctx, d.account, d.device_id.as_str())?;
                // A waiting Ping or hanging Sync looks again, and finds its state gone.
                ctx.publish(Event::Device { account: d.account });
            }
            Ok::<_, AdminError>(devices.len())
        })
        .await?;
    Ok(done(format!(
        "sync state dropped for {reset} devices; each syncs everything again"
    )))
}

fn done(message: String) -> Reply {
    Reply::Done { message }
}

async fn hash_blocking(password: String, auth: &AuthConfig) -> Result<String, AdminError> {
    password::check_acceptable(&password).map_err(AdminError::Invalid)?;
    let cfg = auth.clone();
    tokio::task::spawn_blocking(move || password::hash(&password, &cfg))
        .await
        .map_err(|e| AdminError::Invalid(e.to_string()))?
        .map_err(AdminError::Invalid)
}

async fn update_account(
    store: &Store,
    email: String,
    change: impl Fn(&mut Account) + Send + 'static,
) -> Result<Account, AdminError> {
    let email = ops::normalize_email(&email)?;
    store
        .write_or(move |ctx| {
            let mut a = find_account(ctx, &email)?;
            change(&mut a);
            ops::put_account(ctx, &a)?;
            Ok(a)
        })
        .await
}

/// Checks the changes, writes the photo and certificates as blobs, then changes the
/// account and its entry in one transaction.
async fn set_directory(
    store: &Store,
    email: String,
    changes: Vec<entry::Change>,
) -> Result<Reply, AdminError> {
    let email = ops::normalize_email(&email)?;
    let checked = entry::check(&changes).map_err(AdminError::Invalid)?;
    let blobs = store.blobs().clone();
    let ready = tokio::task::spawn_blocking(move || checked.store_files(&blobs))
        .await
        .map_err(|e| AdminError::Invalid(format!("directory files: {e}")))?
        .map_err(|e| AdminError::Store(StoreError::from(e)))?;
    let a = store
        .write_or(move |ctx| {
            let mut a = find_account(ctx, &email)?;
            let mut d = ctx.directory_entry(a.id)?;
            ready.apply(&mut a, &mut d).map_err(AdminError::Conflict)?;
            ops::put_account(ctx, &a)?;
            directory::put_entry(ctx, a.id, &d)?;
            Ok::<_, AdminError>(a)
        })
        .await?;
    Ok(done(format!("directory entry of {} changed", a.email)))
}

async fn show_directory(store: &Store, email: String) -> Result<Reply, AdminError> {
    let email = ops::normalize_email(&email)?;
    let (a, d) = store
        .view(move |tx| {
            let a = find_account(tx, &email)?;
            let d = tx.directory_entry(a.id)?;
            Ok::<_, AdminError>((a, d))
        })
        .await?;
    let blobs = store.blobs().clone();
    let ids: Vec<_> = d.certificates.iter().map(|c| c.blob.clone()).collect();
    let certificates = tokio::task::spawn_blocking(move || {
        ids.iter()
            .map(|id| blobs.read(id))
            .collect::<std::io::Result<Vec<_>>>()
    })
    .await
    .map_err(|e| AdminError::Invalid(format!("directory files: {e}")))?
    .map_err(|e| AdminError::Store(StoreError::from(e)))?;
    Ok(Reply::Directory {
        entry: Box::new(entry::Shown::of(&a, &d, &certificates)),
    })
}

async fn set_log(store: &Store, target: String, on: bool) -> Result<Reply, AdminError> {
    let state = if on { "on" } else { "off" };
    let (email, device) = match target.split_once('/') {
        Some((e, d)) => (Some(e.to_owned()), Some(d.to_owned())),
        None if target.contains('@') => (Some(target.clone()), None),
        None => (None, Some(target.clone())),
    };
    let changed = store
        .write_or(move |ctx| {
            let mut changed = 0;
            match (&email, &device) {
                (Some(email), None) => {
                    let mut a = find_account(ctx, email)?;
                    a.protocol_log = on;
                    ops::put_account(ctx, &a)?;
                    changed += 1;
                }
                (email, Some(device_id)) => {
                    let account = email.as_deref().map(|e| find_account(ctx, e)).transpose()?;
                    for mut d in ctx.devices()? {
                        if d.device_id.as_str() == device_id
                            && account.as_ref().is_none_or(|a| a.id == d.account)
                        {
                            d.protocol_log = on;
                            ops::put_device(ctx, &d)?;
                            changed += 1;
                        }
                    }
                }
                (None, None) => {}
            }
            if changed == 0 {
                Err(AdminError::NotFound("no such account or device".into()))
            } else {
                Ok(changed)
            }
        })
        .await?;
    Ok(done(format!(
        "protocol log {state} for {target} ({changed} matched)"
    )))
}
