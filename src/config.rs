//! Configuration: embedded defaults, an optional TOML file, then command-line flags.
//!
//! easd must run with no file at all (the appliance's first boot), so every field has a
//! default and the file only overrides what it names.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Directory holding the store, blobs, TLS material and logs.
    pub data: PathBuf,
    /// HTTPS listener. `None` disables it (only sensible behind a TLS-terminating proxy).
    pub https: Option<SocketAddr>,
    /// Plain-HTTP listener, off by default: for reverse proxies and tests.
    pub http: Option<SocketAddr>,
    /// Name put into the self-signed certificate's SANs, and the default domain of a bare
    /// login name.
    pub hostname: String,
    /// The URL phones reach this server under (`https://mail.example.com`, maybe with a
    /// path prefix a proxy adds), which Autodiscover answers give. Unset: the request's
    /// Host, with https on the TLS listener and http on the plain one.
    pub public_url: Option<String>,
    /// The highest ActiveSync protocol version offered (`"14.1"`: 12.0 to 14.1); unset:
    /// every version easd speaks. A policy's MaxProtocolVersion may lower it per device.
    /// Checked by `server_settings` (the version names live above this module).
    pub max_protocol_version: Option<String>,
    /// LMTP listener for the MTA's deliveries: `host:port`, a unix socket path
    /// (`/run/easd/lmtp.sock` or `unix:PATH`), or `off`.
    pub lmtp: String,
    /// Group of the LMTP unix socket easd binds itself (not one systemd hands over).
    /// Unset: `postfix` when that group exists (Postfix's lmtp client runs as postfix),
    /// else the process's own group.
    pub lmtp_socket_group: Option<String>,
    /// Permission bits of that socket; in TOML an octal literal such as `0o660`.
    pub lmtp_socket_mode: u32,
    /// PEM certificate chain and key; when absent a self-signed pair is made in DATA/tls.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub limits: Limits,
    pub auth: AuthConfig,
    pub protocol_log: ProtocolLogConfig,
    pub relay: RelayConfig,
    pub push: PushConfig,
    pub notify: NotifyListenerConfig,
    pub metrics: MetricsConfig,
    pub acme: AcmeConfig,
    pub web: WebConfig,
    pub directory: DirectoryConfig,
    pub compaction: CompactionConfig,
}

/// When the store collects the blobs nothing references and compacts its database file on
/// its own (`easd store compact` does both on demand): once no write has come for
/// `idle_minutes`; the file only if its free space is at least `min_free_mib` and
/// `min_free_percent` of the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompactionConfig {
    /// Minutes without a write before the file is looked at; 0: never on its own.
    pub idle_minutes: u64,
    pub min_free_mib: u64,
    pub min_free_percent: u8,
}

impl Default for CompactionConfig {
    fn default() -> Self {
        Self {
            idle_minutes: 10,
            min_free_mib: 16,
            min_free_percent: 25,
        }
    }
}

/// The company directory (the global address list phones search).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DirectoryConfig {
    /// Whose entries an account finds in the GAL.
    pub gal_scope: GalScope,
    /// A PEM file of the certificate authorities ValidateCert checks S/MIME certificates
    /// against, instead of the system's trust store.
    pub smime_roots: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GalScope {
    /// The accounts of the searcher's own domain.
    #[default]
    Domain,
    /// Every account of every domain on the server.
    All,
}

/// Certificates from an ACME CA (Let's Encrypt).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AcmeConfig {
    pub enabled: bool,
    /// How the CA checks that easd answers for the domains.
    pub challenge: AcmeChallenge,
    /// The CA's directory URL.
    pub directory: String,
    /// Where the CA writes about expiry and problems: `mailto:` URLs.
    pub contact: Vec<String>,
    /// The names the certificate is for; empty: `hostname`.
    pub domains: Vec<String>,
    /// Renew when the certificate has fewer days left than this.
    pub renew_before_days: u32,
    /// Wait at least this long between two attempts (after a failure, and after a
    /// certificate that is already due, e.g. with a large `renew_before_days`).
    pub retry_minutes: u32,
    /// An extra trust anchor (PEM) for the directory's HTTPS: a private CA, or a test one.
    pub ca_root: Option<PathBuf>,
}

/// The ACME challenge easd answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum AcmeChallenge {
    /// RFC 8555 8.3: the CA fetches a token over plain HTTP on port 80, which must reach
    /// the `http` listener.
    #[default]
    #[serde(rename = "http-01")]
    Http01,
    /// RFC 8737: the CA makes a TLS handshake with ALPN `acme-tls/1` on port 443, which
    /// must reach the `https` listener; no port 80 needed.
    #[serde(rename = "tls-alpn-01")]
    TlsAlpn01,
}

/// Let's Encrypt's production directory (RFC 8555 7.1.1).
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

impl Default for AcmeConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            challenge: AcmeChallenge::Http01,
            directory: LETS_ENCRYPT.into(),
            contact: Vec::new(),
            domains: Vec::new(),
            renew_before_days: 30,
            retry_minutes: 60,
            ca_root: None,
        }
    }
}

/// The web pages (`/admin`, `/account`): their login sessions, held in memory only.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebConfig {
    /// A session unused this long ends (the next page asks for the password again).
    pub session_idle_seconds: u64,
    /// A session ends this long after its login, however busy.
    pub session_lifetime_seconds: u64,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            session_idle_seconds: 30 * 60,
            session_lifetime_seconds: 12 * 3600,
        }
    }
}

/// Who may read `/metrics`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    pub access: MetricsAccess,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MetricsAccess {
    /// Clients on the same host only (a local Prometheus or node exporter).
    #[default]
    Loopback,
    /// Loopback clients, and others with an admin account's login.
    LoopbackOrAdmin,
    /// Nobody: `/metrics` answers 404.
    Off,
}

/// The UDP change-notification listener (see `push::notify` for the datagram format).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyListenerConfig {
    /// `host:port`, or `off`. Keep it on loopback: any local program may poke it.
    pub listen: String,
    /// Accept datagrams from other hosts too.
    pub allow_remote: bool,
    pub rate_per_second: u32,
    pub burst: u32,
}

impl Default for NotifyListenerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:32002".into(),
            allow_remote: false,
            rate_per_second: 200,
            burst: 400,
        }
    }
}

/// Direct push: Ping and hanging Sync ([MS-ASCMD] 2.2.1.13, 2.2.3.88).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PushConfig {
    /// Shortest HeartbeatInterval accepted, in seconds.
    pub min_heartbeat: u32,
    /// Longest HeartbeatInterval accepted (at most 3540 s, the protocol's ceiling).
    pub max_heartbeat: u32,
    /// Most folders one Ping may watch.
    pub max_folders: usize,
    /// Most Pings and hanging Syncs one account may have waiting at once.
    pub max_waiting_per_account: usize,
}

impl Default for PushConfig {
    fn default() -> Self {
        Self {
            min_heartbeat: 60,
            max_heartbeat: 1800,
            max_folders: 300,
            max_waiting_per_account: 16,
        }
    }
}

/// Where mail for non-local recipients goes: the appliance's MTA or a smarthost.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RelayConfig {
    pub host: String,
    pub port: u16,
    /// `none`, `starttls` or `tls` (implicit TLS, e.g. port 465).
    pub security: RelaySecurity,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Accept any certificate (a smarthost on the LAN with a self-signed one).
    pub allow_invalid_certs: bool,
    pub timeout_seconds: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RelaySecurity {
    None,
    Starttls,
    Tls,
}

impl RelaySecurity {
    pub const ALL: [RelaySecurity; 3] = [Self::None, Self::Starttls, Self::Tls];

    /// The name the configuration file uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Starttls => "starttls",
            Self::Tls => "tls",
        }
    }
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 25,
            security: RelaySecurity::None,
            username: None,
            password: None,
            allow_invalid_certs: false,
            timeout_seconds: 30,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest request body accepted, in bytes ([MS-ASHTTP] sets none; 32 MiB covers a
    /// SendMail with a large attachment).
    pub max_body: usize,
    /// Largest message LMTP accepts (advertised as SIZE).
    pub max_message: usize,
    /// The memory budget in MiB: what request bodies in flight, responses being built, LMTP
    /// messages being received and decoded WBXML may hold at once (`crate::budget`).
    pub memory_budget_mib: usize,
    /// Request bodies larger than this go to a temporary file in DATA/tmp as they arrive
    /// instead of memory, and are loaded only once complete.
    pub spool_over: usize,
    /// The largest response one request may build, in bytes: an ItemOperations Fetch that
    /// would take the response past it gets Status 11 (fetch it in pieces with Range, or
    /// truncated) instead, and a Search stops its results before it.
    pub max_response: usize,
    /// The store's page cache in MiB (the OS page cache holds the rest of the file).
    pub store_cache_mib: usize,
    /// Compress small message bodies as they are stored (deflate, kept only where it saves
    /// at least a tenth; `store::blob::pack`). Off: new bodies are stored as they came.
    pub compress_mail: bool,
    /// Once listening, return the heap's free blocks and unmap the code only start-up ran
    /// (`server::resident`). Lowers the resident set; whether that lowers what the board's
    /// cgroup is charged depends on the board (its profile in `board/` says why).
    pub release_startup_memory: bool,
    pub wbxml_max_depth: usize,
    pub wbxml_max_elements: usize,
    pub wbxml_max_string: usize,
    /// Most text and opaque bytes one WBXML request may decode to, string-table references
    /// counted each time they are used; unset: twice `max_body`.
    pub wbxml_max_decoded: Option<usize>,
    /// Most collections one Sync or GetItemEstimate, or folders one Search, may name.
    pub max_collections: usize,
    /// Most item commands one request may carry: Adds, Changes, Deletes and Fetches of one
    /// Sync collection, the moves of a MoveItems, the operations of an ItemOperations.
    pub max_commands: usize,
    /// Most recipients (To, Cc and Bcc, each address once) of a message a phone sends.
    pub max_recipients: usize,
}

impl Limits {
    /// The bound on decoded WBXML: `wbxml_max_decoded`, or twice `max_body`.
    pub fn wbxml_decoded(&self) -> usize {
        self.wbxml_max_decoded
            .unwrap_or(self.max_body.saturating_mul(2))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// argon2id memory cost in KiB for new hashes (19 MiB: OWASP's minimum, fits a 256 MiB box).
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    /// Password checks running at once (each holds `argon2_memory_kib`).
    pub max_concurrent_hashes: usize,
    /// How long a verified credential is trusted without another argon2 run.
    pub cache_seconds: u64,
    pub cache_entries: usize,
    /// Failures (of one throttle counter) before answers get slower.
    pub slow_after: u32,
    /// Failures on one account counter (its unfamiliar sources, or one familiar source or
    /// device) before that counter is refused outright for `lockout_seconds`; see
    /// `auth::throttle` for the rule.
    pub lockout_after: u32,
    /// Failures from one source address, over all accounts, before every login from it
    /// is refused for `lockout_seconds`.
    pub source_lockout_after: u32,
    pub lockout_seconds: u64,
    /// Window over which failures are counted.
    pub window_seconds: u64,
    /// How long a source address or DeviceId stays familiar to an account after a
    /// successful login (kept in memory: a restart forgets it).
    pub familiar_seconds: u64,
}

/// The longest `[auth] lockout_seconds` accepted.
pub const MAX_LOCKOUT_SECONDS: u64 = 30 * 24 * 3600;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProtocolLogConfig {
    /// Size of one device's log before it is rotated (two generations are kept).
    pub max_bytes_per_device: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data: PathBuf::from("easd-data"),
            https: Some(SocketAddr::from(([127, 0, 0, 1], 8443))),
            http: None,
            hostname: "localhost".into(),
            public_url: None,
            max_protocol_version: None,
            lmtp: "127.0.0.1:2424".into(),
            lmtp_socket_group: None,
            lmtp_socket_mode: 0o660,
            cert: None,
            key: None,
            limits: Limits::default(),
            auth: AuthConfig::default(),
            protocol_log: ProtocolLogConfig::default(),
            relay: RelayConfig::default(),
            push: PushConfig::default(),
            notify: NotifyListenerConfig::default(),
            metrics: MetricsConfig::default(),
            acme: AcmeConfig::default(),
            web: WebConfig::default(),
            directory: DirectoryConfig::default(),
            compaction: CompactionConfig::default(),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body: 32 * 1024 * 1024,
            max_message: 50 * 1024 * 1024,
            memory_budget_mib: 64,
            spool_over: 256 * 1024,
            max_response: 32 * 1024 * 1024,
            store_cache_mib: 8,
            compress_mail: true,
            release_startup_memory: true,
            wbxml_max_depth: 32,
            wbxml_max_elements: 200_000,
            wbxml_max_string: 32 * 1024 * 1024,
            wbxml_max_decoded: None,
            max_collections: 300,
            max_commands: 1000,
            // Exchange's default recipient limit.
            max_recipients: 500,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            argon2_memory_kib: 19 * 1024,
            argon2_iterations: 2,
            max_concurrent_hashes: 2,
            cache_seconds: 900,
            cache_entries: 4096,
            slow_after: 3,
            lockout_after: 10,
            source_lockout_after: 30,
            lockout_seconds: 300,
            window_seconds: 900,
            familiar_seconds: 14 * 24 * 3600,
        }
    }
}

impl Default for ProtocolLogConfig {
    fn default() -> Self {
        Self {
            max_bytes_per_device: 1024 * 1024,
        }
    }
}

impl Config {
    /// Reads `path` over the embedded defaults.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let cfg: Config = toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source,
        })?;
        cfg.validate().map_err(|detail| ConfigError::Invalid {
            path: path.to_owned(),
            detail,
        })?;
        Ok(cfg)
    }

    /// Checks values that parse but make no sense together.
    pub fn validate(&self) -> Result<(), String> {
        let p = &self.push;
        if p.min_heartbeat == 0 || p.min_heartbeat > p.max_heartbeat || p.max_heartbeat > 3540 {
            return Err(format!(
                "push heartbeat bounds {}..{} s must satisfy 0 < min <= max <= 3540",
                p.min_heartbeat, p.max_heartbeat
            ));
        }
        // A lock ends at now + lockout_seconds, which must stay a representable instant.
        if self.auth.lockout_seconds > MAX_LOCKOUT_SECONDS {
            return Err(format!(
                "auth lockout_seconds {} is over {MAX_LOCKOUT_SECONDS} (30 days)",
                self.auth.lockout_seconds
            ));
        }
        if let Some(url) = &self.public_url {
            check_public_url(url)?;
        }
        if self.lmtp_socket_mode > 0o777 {
            return Err(format!(
                "lmtp_socket_mode {:o} (octal) is not a permission mode: write it as 0o660",
                self.lmtp_socket_mode
            ));
        }
        if self.acme.enabled {
            if self.https.is_none() {
                return Err("[acme] enabled needs the https listener".into());
            }
            if self.acme.challenge == AcmeChallenge::Http01 && self.http.is_none() {
                return Err(
                    "[acme] enabled with HTTP-01 needs the http listener (port 80 of each domain), or challenge = \"tls-alpn-01\""
                        .into(),
                );
            }
            if self.acme.retry_minutes == 0 {
                return Err("[acme] retry_minutes must be at least 1".into());
            }
        }
        Ok(())
    }

    /// The names an ACME certificate is for: `[acme] domains`, else `hostname`.
    pub fn acme_domains(&self) -> Vec<String> {
        if self.acme.domains.is_empty() {
            vec![self.hostname.clone()]
        } else {
            self.acme.domains.clone()
        }
    }
}

/// `public_url` is an absolute http(s) URL with a host and no query or fragment: the
/// ActiveSync path is appended to it as it is.
fn check_public_url(url: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("public_url {url:?} {why}"));
    let Ok(uri) = url.parse::<hyper::Uri>() else {
        return bad("is not a URL");
    };
    if !matches!(uri.scheme_str(), Some("https" | "http")) {
        return bad("must start with https:// (or http://)");
    }
    if uri.host().is_none_or(str::is_empty) {
        return bad("has no host");
    }
    if uri.query().is_some() || url.contains('#') {
        return bad("must not have a query or fragment");
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("invalid config file {path}: {detail}")]
    Invalid { path: PathBuf, detail: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_overrides_only_what_it_names() {
        let cfg: Config =
            toml::from_str("hostname = \"mail.example.com\"\n[limits]\nmax_body = 1024\n").unwrap();
        assert_eq!(cfg.hostname, "mail.example.com");
        assert_eq!(cfg.limits.max_body, 1024);
        assert_eq!(
            cfg.limits.wbxml_max_depth,
            Limits::default().wbxml_max_depth
        );
        assert_eq!(cfg.https, Config::default().https);
    }

    #[test]
    fn the_gal_scope_is_the_own_domain_unless_set() {
        assert_eq!(Config::default().directory.gal_scope, GalScope::Domain);
        let cfg: Config = toml::from_str("[directory]\ngal_scope = \"all\"\n").unwrap();
        assert_eq!(cfg.directory.gal_scope, GalScope::All);
        assert!(toml::from_str::<Config>("[directory]\ngal_scope = \"world\"\n").is_err());
    }

    #[test]
    fn lmtp_socket_mode_is_octal_and_checked() {
        let cfg: Config = toml::from_str("lmtp_socket_mode = 0o640\n").unwrap();
        assert_eq!(cfg.lmtp_socket_mode, 0o640);
        assert!(cfg.validate().is_ok());
        // 660 written in decimal is not 0o660.
        let cfg: Config = toml::from_str("lmtp_socket_mode = 660\n").unwrap();
        assert!(cfg.validate().unwrap_err().contains("0o660"));
    }

    #[test]
    fn startup_memory_release_is_on_unless_turned_off() {
        assert!(Config::default().limits.release_startup_memory);
        let cfg: Config = toml::from_str("[limits]\nrelease_startup_memory = false\n").unwrap();
        assert!(!cfg.limits.release_startup_memory);
        assert!(toml::from_str::<Config>("[limits]\nrelease_startup_memory = 1\n").is_err());
    }

    #[test]
    fn public_url_is_checked() {
        for good in [
            "https://mail.example.com",
            "https://x.example:8443/eas/",
            "http://box",
        ] {
            let cfg: Config = toml::from_str(&format!("public_url = {good:?}\n")).unwrap();
            assert!(cfg.validate().is_ok(), "{good}");
        }
        for bad in [
            "mail.example.com",
            "ftp://x",
            "https://x/?a=b",
            "https://x/#y",
            "https://",
        ] {
            let cfg: Config = toml::from_str(&format!("public_url = {bad:?}\n")).unwrap();
            assert!(cfg.validate().unwrap_err().contains("public_url"), "{bad}");
        }
    }

    #[test]
    fn acme_needs_both_listeners_and_defaults_to_the_hostname() {
        let cfg: Config = toml::from_str(
            "hostname = \"mail.example.com\"\n[acme]\nenabled = true\ncontact = [\"mailto:a@example.com\"]\n",
        )
        .unwrap();
        // No http listener by default: HTTP-01 could not be answered.
        assert!(cfg.validate().unwrap_err().contains("http listener"));
        let mut cfg = cfg;
        cfg.http = Some(SocketAddr::from(([0, 0, 0, 0], 80)));
        assert!(cfg.validate().is_ok());
        assert_eq!(cfg.acme_domains(), ["mail.example.com"]);
        assert_eq!(cfg.acme.directory, LETS_ENCRYPT);
        assert_eq!(cfg.acme.renew_before_days, 30);
        cfg.https = None;
        assert!(cfg.validate().unwrap_err().contains("https listener"));
        // TLS-ALPN-01 is answered on the https listener: no http one needed.
        let cfg: Config =
            toml::from_str("[acme]\nenabled = true\nchallenge = \"tls-alpn-01\"\n").unwrap();
        assert_eq!(cfg.acme.challenge, AcmeChallenge::TlsAlpn01);
        assert!(cfg.validate().is_ok());
        let cfg: Config =
            toml::from_str("[acme]\ndomains = [\"a.example\", \"b.example\"]\n").unwrap();
        assert_eq!(cfg.acme_domains(), ["a.example", "b.example"]);
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<Config>("hostnme = \"typo\"\n").is_err());
    }

    #[test]
    fn old_auth_sections_still_load_and_a_huge_lockout_is_refused() {
        let old = "[auth]\nslow_after = 3\nlockout_after = 10\nlockout_seconds = 300\n";
        let cfg: Config = toml::from_str(old).unwrap();
        assert_eq!(cfg.auth.source_lockout_after, 30);
        assert_eq!(cfg.auth.familiar_seconds, 14 * 24 * 3600);
        assert!(cfg.validate().is_ok());
        let cfg: Config =
            toml::from_str("[auth]\nlockout_seconds = 9223372036854775807\n").unwrap();
        assert!(cfg.validate().unwrap_err().contains("lockout_seconds"));
    }
}
