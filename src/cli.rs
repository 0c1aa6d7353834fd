//! The `easd` command line: `serve`, and admin commands that go through the running
//! daemon's control socket or, when it is not running, straight to the store.

use std::io::{IsTerminal, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::admin::audit::Actor;
use crate::admin::control;
use crate::admin::ops::Request;
use crate::admin::reply::Reply;
use crate::auth::password;
use crate::config::Config;
use crate::store::space::{StoreSizes, mib};
use crate::store::{Store, StoreError};

mod cert;
mod govern;
mod settings;
mod share;

#[derive(Parser)]
#[command(
    name = "easd",
    version,
    about = "A lean Exchange ActiveSync server for mail appliances"
)]
struct Cli {
    /// Data directory (store, blobs, TLS material, logs, control socket).
    #[arg(long, global = true, env = "EASD_DATA", value_name = "DIR")]
    data: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (HTTPS on 127.0.0.1:8443 by default, self-signed certificate on first start).
    Serve(ServeArgs),
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCmd),
    /// Switch or read the per-device protocol log.
    #[command(subcommand)]
    Log(LogCmd),
    /// Convert between WBXML and its XML view.
    #[command(subcommand)]
    Wbxml(WbxmlCmd),
    /// Tell the running server that an account (or one of its folders) changed, so that
    /// waiting devices look again: sends `v1 EMAIL [FOLDER]` to the notify listener.
    Notify {
        email: String,
        /// Folder: INBOX, a folder id or a display name (default: every folder).
        folder: Option<String>,
        /// The listener's address.
        #[arg(long, default_value = "127.0.0.1:32002", value_name = "ADDR")]
        to: SocketAddr,
    },
    /// The device registry: list, show, allow, block, delete, remote wipe.
    #[command(subcommand)]
    Device(govern::DeviceCmd),
    /// Allow / Block / Quarantine rules for new devices.
    #[command(subcommand)]
    Rule(govern::RuleCmd),
    /// Security policies with inheritance (server, domain, user, device).
    #[command(subcommand)]
    Policy(govern::PolicyCmd),
    /// Groups of accounts, to share folders with.
    #[command(subcommand)]
    Group(share::GroupCmd),
    /// Share a folder with accounts or groups, end a share, list them.
    #[command(subcommand)]
    Folder(share::FolderCmd),
    /// Folders every account sees (owned by a public or group account).
    #[command(subcommand)]
    PublicFolder(share::PublicFolderCmd),
    /// The HTTPS certificate: show it, install one.
    #[command(subcommand)]
    Cert(cert::CertCmd),
    /// Server settings saved over the configuration file's (heartbeat bounds, versions on
    /// offer, public_url, relay, listeners): show, set, back to the file's value.
    #[command(subcommand)]
    Settings(settings::SettingsCmd),
    /// Show the running server's state: waiting requests, notify listener counters.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Import an .eml file, an mbox file or a Maildir directory into a mail folder (created
    /// under the root when missing), an .ics file into a calendar folder or a .vcf file
    /// into a contacts folder; messages, and events and contacts whose UID is there,
    /// imported before are skipped.
    Import {
        #[arg(long, value_name = "EMAIL")]
        user: String,
        /// Folder name (case-insensitive); INBOX is the Inbox.
        #[arg(long, value_name = "NAME")]
        folder: String,
        file: PathBuf,
    },
    /// Write a calendar folder as an iCalendar file or a contacts folder as a vCard file,
    /// to stdout or to --out FILE.
    Export {
        #[arg(long, value_name = "EMAIL")]
        user: String,
        #[arg(long, value_name = "NAME")]
        folder: String,
        #[arg(long, value_enum, default_value = "ics")]
        format: ExportFormat,
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Write a consistent backup of the store (database and message blobs) to FILE, through
    /// the running server or directly when none runs.
    Backup { file: PathBuf },
    /// Sync state maintenance.
    #[command(subcommand)]
    SyncState(SyncStateCmd),
    /// The store's file: compact it.
    #[command(subcommand)]
    Store(StoreCmd),
    /// The audit log: admin actions (web pages and command line), newest first.
    Audit {
        #[arg(long)]
        json: bool,
        /// How many entries, newest first.
        #[arg(long, default_value_t = 100, value_name = "N")]
        limit: usize,
    },
    /// Restore a backup into the data directory; the server must not be running there.
    Restore {
        file: PathBuf,
        /// Restore into a non-empty directory, moving its contents aside to
        /// DIR.before-restore-<time>.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Args)]
pub struct ServeArgs {
    /// TOML configuration file; flags override it, built-in defaults fill the rest.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// HTTPS listen address (default 127.0.0.1:8443).
    #[arg(long, value_name = "ADDR")]
    https: Option<SocketAddr>,
    /// Plain-HTTP listen address, off unless given: for a TLS-terminating reverse proxy or tests.
    #[arg(long, value_name = "ADDR")]
    http: Option<SocketAddr>,
    /// LMTP listener for deliveries from the MTA: ADDR, a unix socket path, or `off`
    /// (default 127.0.0.1:2424).
    #[arg(long, value_name = "ADDR")]
    lmtp: Option<String>,
    /// UDP change-notification listener: ADDR or `off` (default 127.0.0.1:32002).
    #[arg(long, value_name = "ADDR")]
    notify: Option<String>,
    /// Host name for the self-signed certificate's SANs and autodiscover.
    #[arg(long, value_name = "NAME")]
    hostname: Option<String>,
    /// PEM certificate chain to serve instead of the self-signed one (needs --key).
    #[arg(long, value_name = "PEM", requires = "key")]
    cert: Option<PathBuf>,
    /// PEM private key for --cert.
    #[arg(long, value_name = "PEM", requires = "cert")]
    key: Option<PathBuf>,
}

#[derive(Subcommand)]
enum UserCmd {
    /// Create an account; without --password-stdin a random password is generated and printed.
    Add {
        email: String,
        #[arg(long)]
        name: Option<String>,
        /// May use the web admin.
        #[arg(long)]
        admin: bool,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List accounts.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Set a new password, read from standard input.
    Passwd {
        email: String,
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Refuse the account's logins (HTTP 403) while keeping its data.
    Disable {
        email: String,
    },
    Enable {
        email: String,
    },
    /// Delete the account and everything it owns.
    Del {
        email: String,
    },
    /// Change the account's directory entry (what the GAL shows): KEY=VALUE for name,
    /// first_name, last_name, alias, title, company, office, phone, home_phone,
    /// mobile_phone (empty clears); photo=@FILE.jpg (photo= removes it); cert=@FILE.der
    /// adds an S/MIME certificate; cert-clear removes them all.
    Set {
        email: String,
        #[arg(required = true, value_name = "KEY=VALUE")]
        changes: Vec<String>,
    },
    /// Show the account's directory entry.
    Show {
        email: String,
        #[arg(long)]
        json: bool,
    },
    /// Let the account use ActiveSync, or not (its phones get 403; its web pages work).
    Activesync {
        email: String,
        #[arg(value_enum)]
        state: OnOff,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

#[derive(Subcommand)]
enum SyncStateCmd {
    /// Reset the ActiveSync database: drop every device's sync state (or one account's
    /// devices'), keeping mail, accounts and the devices' governance; each device syncs
    /// everything again.
    Reset {
        #[arg(long, value_name = "EMAIL")]
        user: Option<String>,
    },
}

#[derive(Subcommand)]
enum LogCmd {
    /// Start logging: TARGET is EMAIL (all its devices), EMAIL/DEVICEID or DEVICEID.
    On { target: String },
    /// Stop logging for TARGET.
    Off { target: String },
    /// Print a device's protocol log.
    Show { device_id: String },
}

#[derive(Subcommand)]
enum StoreCmd {
    /// Give the database file's free space back to the file system (through the running
    /// server, or directly when none runs); prints its size before and after.
    Compact,
}

#[derive(Subcommand)]
enum WbxmlCmd {
    /// WBXML (file or stdin) to the XML view on stdout.
    Decode { file: Option<PathBuf> },
    /// The XML view (file or stdin) to WBXML on stdout.
    Encode { file: Option<PathBuf> },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::logging::init();
    let data = cli.data.clone();
    let result = match cli.command {
        Command::Serve(args) => serve(data, args),
        Command::User(cmd) => user(&data_dir(data), cmd),
        Command::Log(cmd) => log(&data_dir(data), cmd),
        Command::Wbxml(cmd) => wbxml(cmd),
        Command::Notify { email, folder, to } => {
            crate::push::notify::send(to, &email, folder.as_deref())
                .map_err(|e| format!("sending to {to}: {e}"))
        }
        Command::Status { json } => status(&data_dir(data), json),
        Command::Cert(cmd) => cert::cert(&data_dir(data), cmd),
        Command::Settings(cmd) => settings::settings(&data_dir(data), cmd),
        Command::Device(cmd) => govern::device(&data_dir(data), cmd),
        Command::Rule(cmd) => govern::rule(&data_dir(data), cmd),
        Command::Policy(cmd) => govern::policy(&data_dir(data), cmd),
        Command::Group(cmd) => share::group(&data_dir(data), cmd),
        Command::Folder(cmd) => share::folder(&data_dir(data), cmd),
        Command::PublicFolder(cmd) => share::public_folder(&data_dir(data), cmd),
        Command::Backup { file } => backup(&data_dir(data), &file),
        Command::Import { user, folder, file } => import(&data_dir(data), user, folder, &file),
        Command::Export {
            user,
            folder,
            format,
            out,
        } => export(&data_dir(data), user, folder, format, out.as_deref()),
        Command::Restore { file, force } => restore(&data_dir(data), &file, force),
        Command::SyncState(SyncStateCmd::Reset { user }) => {
            admin(&data_dir(data), Request::SyncStateReset { user })
                .and_then(|reply| print_reply(reply, false))
        }
        Command::Store(StoreCmd::Compact) => admin(&data_dir(data), Request::StoreCompact)
            .and_then(|reply| print_reply(reply, false)),
        Command::Audit { json, limit } => admin(&data_dir(data), Request::AuditList { limit })
            .and_then(|reply| print_reply(reply, json)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("easd: {e}");
            ExitCode::FAILURE
        }
    }
}

fn data_dir(flag: Option<PathBuf>) -> PathBuf {
    flag.unwrap_or_else(|| Config::default().data)
}

fn serve(data: Option<PathBuf>, args: ServeArgs) -> Result<(), String> {
    let mut cfg = match &args.config {
        Some(path) => Config::load(path).map_err(|e| e.to_string())?,
        None => Config::default(),
    };
    if let Some(d) = data {
        cfg.data = d;
    }
    if let Some(a) = args.https {
        cfg.https = Some(a);
    }
    if let Some(a) = args.http {
        cfg.http = Some(a);
    }
    if let Some(l) = args.lmtp {
        cfg.lmtp = l;
    }
    if let Some(n) = args.notify {
        cfg.notify.listen = n;
    }
    if let Some(h) = args.hostname {
        cfg.hostname = h;
    }
    if let (Some(c), Some(k)) = (args.cert, args.key) {
        cfg.cert = Some(c);
        cfg.key = Some(k);
    }
    crate::server::run(cfg).map_err(|e| e.to_string())
}

fn read_password() -> Result<String, String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| format!("reading the password from stdin: {e}"))?;
    let pw = line.trim_end_matches(['\r', '\n']).to_owned();
    if pw.is_empty() {
        return Err("no password on standard input".into());
    }
    Ok(pw)
}

/// Sends `req` to the running daemon, or runs it on the store directly when none runs.
fn admin(data: &Path, req: Request) -> Result<Reply, String> {
    if let Some(reply) = via_daemon(data, &req)? {
        return Ok(reply);
    }
    let auth = Config::default().auth;
    on_store(data, async move |store| {
        req.execute(&store, &auth, &Actor::command_line()).await
    })
}

/// Sends `req` to the running daemon; `None` when none runs.
fn via_daemon(data: &Path, req: &Request) -> Result<Option<Reply>, String> {
    control::call(data, req).map_err(|e| {
        format!(
            "control socket {}: {e}",
            control::socket_path(data).display()
        )
    })
}

/// Runs `run` on the store itself, which no daemon holds.
fn on_store<F: std::future::Future<Output = Reply>>(
    data: &Path,
    run: impl FnOnce(Store) -> F,
) -> Result<Reply, String> {
    let store = Store::open(data).map_err(|e| match e {
        StoreError::Locked { .. } => format!(
            "{e}; its control socket {} does not answer",
            control::socket_path(data).display()
        ),
        other => other.to_string(),
    })?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        // Deliveries acknowledged before a crash go in before the command runs.
        crate::mail::deliver::replay(&store)
            .await
            .map_err(|e| format!("applying the delivery journal: {e}"))?;
        Ok(run(store).await)
    })
}

fn print_reply(reply: Reply, json: bool) -> Result<(), String> {
    match reply {
        Reply::Done { message } => {
            eprintln!("{message}");
            Ok(())
        }
        Reply::Users { users } if json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&users).map_err(|e| e.to_string())?
            );
            Ok(())
        }
        Reply::Users { users } => {
            for u in users {
                let flags = match (u.admin, u.enabled) {
                    (true, true) => " admin",
                    (true, false) => " admin disabled",
                    (false, false) => " disabled",
                    (false, true) => "",
                };
                println!("{}\t{}{flags}", u.email, u.name);
            }
            Ok(())
        }
        Reply::Status { status } => {
            println!("{status}");
            Ok(())
        }
        Reply::Audit { entries } if json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&entries).map_err(|e| e.to_string())?
            );
            Ok(())
        }
        Reply::Audit { entries } => {
            for e in entries {
                let at =
                    jiff::Timestamp::from_second(e.at).map_or(e.at.to_string(), |t| t.to_string());
                let outcome = e.error.map_or("ok".into(), |m| format!("refused: {m}"));
                println!(
                    "{at}\t{}\t{}\t{} {}\t{outcome}",
                    e.actor, e.origin, e.action, e.detail
                );
            }
            Ok(())
        }
        Reply::Directory { entry } if json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&entry).map_err(|e| e.to_string())?
            );
            Ok(())
        }
        Reply::Directory { entry } => {
            println!("email\t{}", entry.email);
            for (key, value) in &entry.fields {
                println!("{key}\t{value}");
            }
            match entry.photo {
                Some(size) => println!("photo\t{size} bytes"),
                None => println!("photo\t"),
            }
            for c in &entry.certificates {
                let until = jiff::Timestamp::from_second(c.not_after)
                    .map_or(c.not_after.to_string(), |t| t.to_string());
                println!("cert\t{}\tuntil {until}\t{}", c.subject, c.sha256);
            }
            Ok(())
        }
        Reply::Error { message } => Err(message),
        Reply::Govern(_) => Err("unexpected device governance reply".into()),
        Reply::Share(r) => share::print(r, json),
        Reply::Progress(_) => Err("unexpected progress reply".into()),
        Reply::Cert { .. } => Err("unexpected certificate reply".into()),
        Reply::Settings { settings } if json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&settings).map_err(|e| e.to_string())?
            );
            Ok(())
        }
        Reply::Settings { settings } => {
            print!("{}", settings::describe(&settings));
            Ok(())
        }
    }
}

fn user(data: &Path, cmd: UserCmd) -> Result<(), String> {
    let mut json = false;
    let mut generated = None;
    let req = match cmd {
        UserCmd::Add {
            email,
            name,
            admin,
            password_stdin,
        } => {
            let password = if password_stdin {
                read_password()?
            } else {
                let pw = password::random();
                generated = Some(pw.clone());
                pw
            };
            Request::UserAdd {
                email,
                name,
                admin,
                password,
            }
        }
        UserCmd::List { json: j } => {
            json = j;
            Request::UserList
        }
        UserCmd::Passwd { email, .. } => Request::UserPasswd {
            email,
            password: read_password()?,
        },
        UserCmd::Disable { email } => Request::UserSetEnabled {
            email,
            enabled: false,
        },
        UserCmd::Enable { email } => Request::UserSetEnabled {
            email,
            enabled: true,
        },
        UserCmd::Del { email } => Request::UserDel { email },
        UserCmd::Set { email, changes } => Request::UserSet {
            email,
            changes: crate::directory::entry::parse_args(&changes, |path| {
                std::fs::read(path).map_err(|e| format!("{path}: {e}"))
            })?,
        },
        UserCmd::Show { email, json: j } => {
            json = j;
            Request::UserShow { email }
        }
        UserCmd::Activesync { email, state } => Request::UserSetActiveSync {
            email,
            on: state == OnOff::On,
        },
    };
    print_reply(admin(data, req)?, json)?;
    if let Some(pw) = generated {
        println!("{pw}");
    }
    Ok(())
}

/// Through the running daemon (which reads the file itself and streams its progress over
/// the control socket) or directly on the store; either way a progress line shows when
/// stderr is a terminal.
fn import(data: &Path, email: String, folder: String, file: &Path) -> Result<(), String> {
    use crate::mail::import::ProgressBar;
    let path = std::path::absolute(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let mut bar = ProgressBar::on_terminal();
    let req = Request::Import {
        email,
        folder,
        path,
        progress: true,
        stream_progress: bar.is_on(),
    };
    let reply = match control::call_with_progress(data, &req, &mut |p| bar.show(p)) {
        Ok(Some(reply)) => {
            bar.finish();
            reply
        }
        Ok(None) => admin(data, req)?,
        Err(e) => {
            bar.finish();
            return Err(format!(
                "control socket {}: {e}",
                control::socket_path(data).display()
            ));
        }
    };
    match reply {
        Reply::Done { message } => {
            println!("{message}");
            Ok(())
        }
        other => print_reply(other, false),
    }
}

/// The file formats `easd export` writes.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ExportFormat {
    /// iCalendar (RFC 5545), from a calendar folder.
    Ics,
    /// vCard 3.0 (RFC 2426), from a contacts folder: what phones' address books read best.
    Vcf,
    /// vCard 4.0 (RFC 6350), from a contacts folder.
    Vcf4,
}

fn export(
    data: &Path,
    email: String,
    folder: String,
    format: ExportFormat,
    out: Option<&Path>,
) -> Result<(), String> {
    use crate::admin::pim_file::Format;
    let format = match format {
        ExportFormat::Ics => Format::Ics,
        ExportFormat::Vcf => Format::Vcf,
        ExportFormat::Vcf4 => Format::Vcf4,
    };
    let req = Request::Export {
        email,
        folder,
        format,
    };
    let text = match admin(data, req)? {
        Reply::Done { message } => message,
        other => return print_reply(other, false),
    };
    match out {
        Some(path) => std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display())),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

fn backup(data: &Path, file: &Path) -> Result<(), String> {
    let path = std::path::absolute(file).map_err(|e| format!("{}: {e}", file.display()))?;
    print_reply(admin(data, Request::Backup { path })?, false)
}

fn restore(data: &Path, file: &Path, force: bool) -> Result<(), String> {
    // A daemon would keep serving (and writing) the files being replaced.
    if let Ok(Some(_)) = control::call(data, &Request::Status) {
        return Err(format!(
            "easd is running on {} (its control socket answers); stop it before restoring",
            data.display()
        ));
    }
    let summary = crate::store::backup::restore(file, data, force).map_err(|e| e.to_string())?;
    println!("{summary}");
    Ok(())
}

fn status(data: &Path, json: bool) -> Result<(), String> {
    match control::call(data, &Request::Status) {
        Ok(Some(Reply::Status { status })) if json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&status).map_err(|e| e.to_string())?
            );
            Ok(())
        }
        Ok(Some(Reply::Status { status })) => {
            for (k, v) in status.as_object().into_iter().flatten() {
                match serde_json::from_value::<StoreSizes>(v.clone()) {
                    Ok(sizes) if k == "store" => print!("{}", describe_sizes(&sizes)),
                    _ => println!("{k}: {v}"),
                }
            }
            Ok(())
        }
        Ok(Some(Reply::Error { message })) => Err(message),
        Ok(Some(_)) => Err("unexpected reply to a status request".into()),
        Ok(None) => Err(format!(
            "easd is not running (no control socket in {})",
            data.display()
        )),
        Err(e) => Err(format!("control socket: {e}")),
    }
}

/// The store's sizes as `easd status` prints them, one line each.
fn describe_sizes(s: &StoreSizes) -> String {
    format!(
        "store database: {} on disk, {} long (live {}, metadata {}, free {}; search index {})\n\
         store blobs: {} files, {} ({} on disk)\n\
         store on disk: {}\n",
        mib(s.database_disk),
        mib(s.database_file),
        mib(s.database_live),
        mib(s.database_metadata),
        mib(s.database_free),
        mib(s.search_index),
        s.blob_files,
        mib(s.blob_bytes),
        mib(s.blob_disk),
        mib(s.total_disk()),
    )
}

fn log(data: &Path, cmd: LogCmd) -> Result<(), String> {
    match cmd {
        LogCmd::On { target } => {
            print_reply(admin(data, Request::LogSet { target, on: true })?, false)
        }
        LogCmd::Off { target } => {
            print_reply(admin(data, Request::LogSet { target, on: false })?, false)
        }
        LogCmd::Show { device_id } => {
            let text = crate::protolog::ProtocolLog::read(data, &device_id)
                .map_err(|e| format!("no protocol log for {device_id}: {e}"))?;
            print!("{text}");
            Ok(())
        }
    }
}

fn read_input(file: Option<PathBuf>) -> Result<Vec<u8>, String> {
    match file {
        Some(p) => std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display())),
        None => {
            let mut buf = Vec::new();
            if std::io::stdin().is_terminal() {
                eprintln!("easd: reading from standard input");
            }
            std::io::stdin()
                .read_to_end(&mut buf)
                .map_err(|e| e.to_string())?;
            Ok(buf)
        }
    }
}

fn wbxml(cmd: WbxmlCmd) -> Result<(), String> {
    use crate::wbxml;
    use std::io::Write;
    match cmd {
        WbxmlCmd::Decode { file } => {
            let bytes = read_input(file)?;
            let root =
                wbxml::decode(&bytes, &wbxml::Limits::default()).map_err(|e| e.to_string())?;
            print!("{}", wbxml::to_xml(&root));
            Ok(())
        }
        WbxmlCmd::Encode { file } => {
            let bytes = read_input(file)?;
            let text = String::from_utf8(bytes).map_err(|_| "the XML is not UTF-8".to_string())?;
            let root = wbxml::from_xml(&text).map_err(|e| e.to_string())?;
            std::io::stdout()
                .write_all(&wbxml::encode(&root))
                .map_err(|e| e.to_string())
        }
    }
}
