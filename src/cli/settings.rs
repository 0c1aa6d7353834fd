//! `easd settings show|set|unset`: the server settings saved over the configuration
//! file's, through the running daemon (which puts a change in force for the next request)
//! or on the store when none runs (checked against `--config`, the file the daemon will
//! read).

use std::path::{Path, PathBuf};

use clap::Subcommand;

use super::{on_store, print_reply, via_daemon};
use crate::admin::audit::Actor;
use crate::admin::ops::Request;
use crate::admin::settings::SettingsRequest;
use crate::config::Config;
use crate::server_settings::{Key, Shown};

#[derive(Subcommand)]
pub enum SettingsCmd {
    /// Every setting: the configuration file's value and the one saved here.
    Show {
        #[arg(long)]
        json: bool,
        /// The server's configuration file, read when no server runs.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Save values over the file's: KEY=VALUE ... (keys as `show` lists them).
    Set {
        #[arg(required = true, value_name = "KEY=VALUE")]
        values: Vec<String>,
        /// The server's configuration file, read when no server runs.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Back to the configuration file's value.
    Unset {
        #[arg(required = true, value_name = "KEY")]
        keys: Vec<String>,
        /// The server's configuration file, read when no server runs.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

pub fn settings(data: &Path, cmd: SettingsCmd) -> Result<(), String> {
    let (req, json, config) = match cmd {
        SettingsCmd::Show { json, config } => (SettingsRequest::Show, json, config),
        SettingsCmd::Set { values, config } => {
            let mut pairs = Vec::new();
            let mut password = None;
            for v in values {
                let Some((k, v)) = v.split_once('=') else {
                    return Err(format!("{v:?} is not KEY=VALUE"));
                };
                if Key::from_name(k).is_some_and(Key::secret) {
                    password = Some(v.to_owned());
                } else {
                    pairs.push((k.trim().to_owned(), v.to_owned()));
                }
            }
            let req = SettingsRequest::Set {
                values: pairs,
                password,
            };
            (req, false, config)
        }
        SettingsCmd::Unset { keys, config } => (SettingsRequest::Unset { keys }, false, config),
    };
    let reply = match via_daemon(data, &Request::Settings(req.clone()))? {
        Some(reply) => reply,
        None => {
            let file = match config {
                Some(path) => Config::load(&path).map_err(|e| e.to_string())?,
                None => Config::default(),
            };
            on_store(data, async move |store| {
                req.execute(&store, &file, &Actor::command_line()).await
            })?
        }
    };
    print_reply(reply, json)
}

/// The settings as lines: key, value in force, where it comes from, restart note.
pub fn describe(settings: &[Shown]) -> String {
    let mut out = String::new();
    for s in settings {
        let (value, from) = match &s.saved {
            Some(v) => (v.as_str(), "saved"),
            None => (s.file.as_str(), "file"),
        };
        let restart = if s.restart {
            "\t(applies after restart)"
        } else {
            ""
        };
        out.push_str(&format!("{}\t{value}\t{from}{restart}\n", s.key));
    }
    out
}
