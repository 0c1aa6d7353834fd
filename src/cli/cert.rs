//! `easd cert show|install`: the HTTPS certificate, through the running daemon (which
//! swaps it for new connections at once) or on the data directory when none runs.

use std::path::{Path, PathBuf};

use clap::Subcommand;

use crate::admin::cert::CertRequest;
use crate::admin::control;
use crate::admin::ops::Request;
use crate::admin::reply::Reply;
use crate::config::Config;
use crate::tls::{CertState, Certs, show_time};

#[derive(Subcommand)]
pub enum CertCmd {
    /// The served certificate: where it comes from, subject, issuer, validity, and ACME's
    /// last attempt.
    Show {
        #[arg(long)]
        json: bool,
        /// The server's configuration file, read when no server runs.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Install a PEM certificate chain (leaf first) and its private key; a running server
    /// serves it to new connections at once, open ones are kept.
    Install {
        #[arg(long, value_name = "FILE")]
        chain: PathBuf,
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The server's configuration file, read when no server runs.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

pub fn cert(data: &Path, cmd: CertCmd) -> Result<(), String> {
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()));
    let (req, json, config) = match cmd {
        CertCmd::Show { json, config } => (CertRequest::Show, json, config),
        CertCmd::Install { chain, key, config } => (
            CertRequest::Install {
                chain_pem: read(&chain)?,
                key_pem: read(&key)?,
            },
            false,
            config,
        ),
    };
    let reply = match control::call(data, &Request::Cert(req.clone())) {
        Ok(Some(reply)) => reply,
        Ok(None) => {
            let mut cfg = match config {
                Some(path) => Config::load(&path).map_err(|e| e.to_string())?,
                None => Config::default(),
            };
            cfg.data = data.to_owned();
            let certs = Certs::load(&cfg).map_err(|e| e.to_string())?;
            req.execute(&certs)
        }
        Err(e) => {
            return Err(format!(
                "control socket {}: {e}",
                control::socket_path(data).display()
            ));
        }
    };
    match reply {
        Reply::Cert { state } if json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&state).map_err(|e| e.to_string())?
            );
            Ok(())
        }
        Reply::Cert { state } => {
            print!("{}", describe(&state));
            Ok(())
        }
        Reply::Error { message } => Err(message),
        other => Err(format!("unexpected reply {other:?}")),
    }
}

/// The state as lines of `name: value`.
fn describe(s: &CertState) -> String {
    let mut out = format!(
        "source: {}\nsubject: {}\nissuer: {}\nvalid: {} to {}\nsha256: {}\nchain: {} certificate(s)\n",
        s.source,
        s.leaf.subject,
        s.leaf.issuer,
        show_time(s.leaf.not_before),
        show_time(s.leaf.not_after),
        s.leaf.sha256,
        s.chain_len
    );
    if let Some(a) = &s.acme {
        let when = |t: Option<i64>| t.map_or_else(|| "never".to_owned(), show_time);
        out.push_str(&format!(
            "acme directory: {}\nacme domains: {}\nacme last attempt: {}\nacme last success: {}\n",
            a.directory,
            a.domains.join(", "),
            when(a.record.last_attempt),
            when(a.record.last_success),
        ));
        if let Some(e) = &a.record.last_error {
            out.push_str(&format!("acme last error: {e}\n"));
        }
    }
    out
}
