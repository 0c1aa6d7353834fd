//! The server settings operations: show them, save values over the configuration file's,
//! go back to the file's. They need the file's configuration (a saved value is checked
//! against it), so they are run by the daemon, which then puts a change in force
//! ([`SettingsRequest::execute_live`]), or by `easd settings` on a stopped daemon's store.

use serde::{Deserialize, Serialize};

use super::AdminError;
use super::audit::{self, Actor, Audited};
use super::reply::Reply;
use crate::config::Config;
use crate::server_settings::{self, Key, Live};
use crate::store::Store;
use crate::store::ops::{self, Reads};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "settings", rename_all = "snake_case")]
pub enum SettingsRequest {
    Show,
    /// Saves each (key, value). The relay's password travels as `password`, which the
    /// audit log leaves out, never among `values`.
    Set {
        values: Vec<(String, String)>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<String>,
    },
    /// Back to the configuration file's values.
    Unset {
        keys: Vec<String>,
    },
}

impl Audited for SettingsRequest {
    fn op_name(&self) -> &'static str {
        match self {
            SettingsRequest::Show => "settings_show",
            SettingsRequest::Set { .. } => "settings_set",
            SettingsRequest::Unset { .. } => "settings_unset",
        }
    }

    /// Whether it changes something (and so goes into the audit log).
    fn changes(&self) -> bool {
        !matches!(self, SettingsRequest::Show)
    }
}

impl SettingsRequest {
    /// Runs the request on the store over the configuration `file`, audited as `actor`'s.
    pub async fn execute(self, store: &Store, file: &Config, actor: &Actor) -> Reply {
        let entry = audit::entry(actor, &self);
        audit::logged(store, entry, async |s| Reply::of(self.run(&s, file).await)).await
    }

    /// [`Self::execute`] in the daemon: a saved change is put in force for the next request.
    pub async fn execute_live(self, store: &Store, live: &Live, actor: &Actor) -> Reply {
        let changes = self.changes();
        let reply = self.execute(store, live.file(), actor).await;
        if changes && matches!(reply, Reply::Settings { .. }) {
            let applied = match store.view(|tx| tx.server_settings()).await {
                Ok(saved) => live.apply(&saved),
                Err(e) => Err(e.to_string()),
            };
            if let Err(e) = applied {
                // Saved values were checked over the same file before the commit.
                tracing::error!("server settings saved but not put in force: {e}");
            }
        }
        reply
    }

    async fn run(self, store: &Store, file: &Config) -> Result<Reply, AdminError> {
        let changes: Vec<(String, Option<String>)> = match self {
            SettingsRequest::Show => {
                let saved = store.view(|tx| tx.server_settings()).await?;
                return Ok(Reply::Settings {
                    settings: server_settings::shown(file, &saved),
                });
            }
            SettingsRequest::Set { values, password } => {
                if let Some((k, _)) = values
                    .iter()
                    .find(|(k, _)| Key::from_name(k).is_some_and(Key::secret))
                {
                    return Err(AdminError::Invalid(format!(
                        "{k} is given as the request's password, not among its values"
                    )));
                }
                let secret = password.map(|p| (Key::RelayPassword.name().to_owned(), Some(p)));
                values
                    .into_iter()
                    .map(|(k, v)| (k, Some(v)))
                    .chain(secret)
                    .collect()
            }
            SettingsRequest::Unset { keys } => keys.into_iter().map(|k| (k, None)).collect(),
        };
        if changes.is_empty() {
            return Err(AdminError::Invalid("no setting named".into()));
        }
        let over = file.clone();
        let saved = store
            .write_or(move |ctx| {
                let saved = ctx.server_settings()?;
                let next = server_settings::change(&over, &saved, &changes)
                    .map_err(AdminError::Invalid)?;
                ops::put_server_settings(ctx, &next)?;
                Ok::<_, AdminError>(next)
            })
            .await?;
        Ok(Reply::Settings {
            settings: server_settings::shown(file, &saved),
        })
    }
}
