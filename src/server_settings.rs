//! The server settings an admin changes while easd runs (the admin's settings page,
//! `easd settings`): heartbeat bounds, the notify and LMTP listeners, the relay, the
//! protocol versions on offer and `public_url`.
//!
//! The configuration file gives each its default; a value saved in the store
//! (`store::model::ServerSettings`) overrides it until it is unset. [`Live`] holds the
//! values in force, swapped whole when a setting is saved, so the next request reads the
//! new ones (reading them is a reference count, no allocation). The listeners' addresses
//! are bound at start: a saved change of them applies after a restart
//! ([`Live::restart_pending`]).

use std::cell::RefCell;
use std::ops::RangeInclusive;
use std::rc::Rc;

use crate::config::{Config, RelaySecurity};
use crate::proto::version::ProtocolVersion;
use crate::store::model::ServerSettings;

/// A setting the page and `easd settings` change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    MinHeartbeat,
    MaxHeartbeat,
    NotifyListen,
    Lmtp,
    RelayHost,
    RelayPort,
    RelaySecurity,
    RelayUsername,
    RelayPassword,
    MaxVersion,
    PublicUrl,
}

/// The HeartbeatInterval bounds an admin may save. [MS-ASCMD] 2.2.3.88.1 leaves Ping's
/// valid values to the server (Exchange: 60 to 3540 s); a hanging Sync's HeartbeatInterval
/// is 60 to 3540 s (2.2.3.88.2) and its Wait 1 to 59 minutes (2.2.3.198).
pub const HEARTBEAT_RANGE: RangeInclusive<u32> = 60..=3540;

impl Key {
    /// Every setting, in the page's order.
    pub const ALL: [Key; 11] = [
        Key::MinHeartbeat,
        Key::MaxHeartbeat,
        Key::MaxVersion,
        Key::PublicUrl,
        Key::RelayHost,
        Key::RelayPort,
        Key::RelaySecurity,
        Key::RelayUsername,
        Key::RelayPassword,
        Key::NotifyListen,
        Key::Lmtp,
    ];

    /// The key as the configuration file names it (section.key).
    pub fn name(self) -> &'static str {
        match self {
            Key::MinHeartbeat => "push.min_heartbeat",
            Key::MaxHeartbeat => "push.max_heartbeat",
            Key::NotifyListen => "notify.listen",
            Key::Lmtp => "lmtp",
            Key::RelayHost => "relay.host",
            Key::RelayPort => "relay.port",
            Key::RelaySecurity => "relay.security",
            Key::RelayUsername => "relay.username",
            Key::RelayPassword => "relay.password",
            Key::MaxVersion => "max_protocol_version",
            Key::PublicUrl => "public_url",
        }
    }

    pub fn from_name(name: &str) -> Option<Key> {
        Key::ALL.into_iter().find(|k| k.name() == name.trim())
    }

    /// Whether a saved value takes effect only when easd starts again (a listener's
    /// address is bound once).
    pub fn needs_restart(self) -> bool {
        matches!(self, Key::NotifyListen | Key::Lmtp)
    }

    /// Whether the value is a secret: never shown, never logged.
    pub fn secret(self) -> bool {
        self == Key::RelayPassword
    }

    /// The value in `cfg`, as the configuration file would write it ("" for none).
    pub fn get(self, cfg: &Config) -> String {
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        match self {
            Key::MinHeartbeat => cfg.push.min_heartbeat.to_string(),
            Key::MaxHeartbeat => cfg.push.max_heartbeat.to_string(),
            Key::NotifyListen => cfg.notify.listen.clone(),
            Key::Lmtp => cfg.lmtp.clone(),
            Key::RelayHost => cfg.relay.host.clone(),
            Key::RelayPort => cfg.relay.port.to_string(),
            Key::RelaySecurity => cfg.relay.security.as_str().to_owned(),
            Key::RelayUsername => opt(&cfg.relay.username),
            Key::RelayPassword => opt(&cfg.relay.password),
            Key::MaxVersion => opt(&cfg.max_protocol_version),
            Key::PublicUrl => opt(&cfg.public_url),
        }
    }

    /// Puts `text` into `cfg`, refusing a value the key does not accept.
    fn set(self, cfg: &mut Config, text: &str) -> Result<(), String> {
        let text = text.trim();
        let bad = |what: &str| Err(format!("{}: {text:?} {what}", self.name()));
        let opt = || (!text.is_empty()).then(|| text.to_owned());
        match self {
            Key::MinHeartbeat | Key::MaxHeartbeat => {
                let Some(seconds) = text.parse().ok().filter(|s| HEARTBEAT_RANGE.contains(s))
                else {
                    return bad(&format!(
                        "is not a number of seconds from {} to {} ([MS-ASCMD] 2.2.3.88)",
                        HEARTBEAT_RANGE.start(),
                        HEARTBEAT_RANGE.end()
                    ));
                };
                if self == Key::MinHeartbeat {
                    cfg.push.min_heartbeat = seconds;
                } else {
                    cfg.push.max_heartbeat = seconds;
                }
            }
            Key::NotifyListen => {
                if text != "off" && text.parse::<std::net::SocketAddr>().is_err() {
                    return bad("is not an IP address and port (127.0.0.1:32002) or off");
                }
                cfg.notify.listen = text.to_owned();
            }
            Key::Lmtp => {
                let unix = text.strip_prefix("unix:").unwrap_or(text).starts_with('/');
                if text != "off" && !unix && !is_host_port(text) {
                    return bad("is not host:port, a unix socket path or off");
                }
                cfg.lmtp = text.to_owned();
            }
            Key::RelayHost => {
                if text.is_empty() || text.contains(|c: char| c.is_whitespace() || c == '/') {
                    return bad("is not a host name or address");
                }
                cfg.relay.host = text.to_owned();
            }
            Key::RelayPort => match text.parse::<u16>() {
                Ok(port) if port > 0 => cfg.relay.port = port,
                _ => return bad("is not a port (1 to 65535)"),
            },
            Key::RelaySecurity => match RelaySecurity::ALL.into_iter().find(|s| s.as_str() == text)
            {
                Some(s) => cfg.relay.security = s,
                None => return bad("is not none, starttls or tls"),
            },
            Key::RelayUsername => cfg.relay.username = opt(),
            Key::RelayPassword => cfg.relay.password = opt(),
            Key::MaxVersion => {
                if !text.is_empty()
                    && let Err(e) = ProtocolVersion::parse(text)
                {
                    return bad(&e.to_string());
                }
                cfg.max_protocol_version = opt();
            }
            Key::PublicUrl => cfg.public_url = opt(),
        }
        Ok(())
    }
}

/// `host:port` with a port number and a host.
fn is_host_port(text: &str) -> bool {
    text.rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty() && !host.contains(char::is_whitespace) && port.parse::<u16>().is_ok()
    })
}

/// The values in force: the file's configuration with the saved settings over it.
#[derive(Debug)]
pub struct Effective {
    pub cfg: Config,
    /// `max_protocol_version`, read.
    pub max_version: Option<ProtocolVersion>,
}

impl Effective {
    /// `file` with `saved` over it, checked as a whole (a saved minimum above the file's
    /// maximum is refused as the file would be).
    pub fn of(file: &Config, saved: &ServerSettings) -> Result<Self, String> {
        let mut cfg = file.clone();
        for (name, value) in &saved.values {
            let key = Key::from_name(name).ok_or_else(|| format!("no setting {name:?}"))?;
            key.set(&mut cfg, value)?;
        }
        cfg.validate()?;
        let max_version = cfg
            .max_protocol_version
            .as_deref()
            .map(ProtocolVersion::parse)
            .transpose()
            .map_err(|e| format!("max_protocol_version: {e}"))?;
        Ok(Self { cfg, max_version })
    }
}

/// `saved` with `changes` made: a key set to a value, or unset (`None`: back to the file's
/// value). Refuses an unknown key or a value it does not accept, and a result that does
/// not hold together over `file`.
pub fn change(
    file: &Config,
    saved: &ServerSettings,
    changes: &[(String, Option<String>)],
) -> Result<ServerSettings, String> {
    let mut next = saved.clone();
    for (name, value) in changes {
        let key = Key::from_name(name).ok_or_else(|| format!("no setting {name:?}"))?;
        match value {
            Some(v) => {
                // Checked alone first, for an error that names the key.
                key.set(&mut file.clone(), v)?;
                next.values
                    .insert(key.name().to_owned(), v.trim().to_owned());
            }
            None => {
                next.values.remove(key.name());
            }
        }
    }
    Effective::of(file, &next)?;
    Ok(next)
}

/// One setting as the page and `easd settings show` list it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shown {
    pub key: String,
    /// The configuration file's value ("" for none; a secret as [`HIDDEN`] when set).
    pub file: String,
    /// The value saved here, if any (a secret as [`HIDDEN`]).
    pub saved: Option<String>,
    /// Applies only after a restart.
    pub restart: bool,
}

/// What a set secret shows instead of its value.
pub const HIDDEN: &str = "********";

/// Every setting with its file value and saved value, secrets hidden.
pub fn shown(file: &Config, saved: &ServerSettings) -> Vec<Shown> {
    Key::ALL
        .into_iter()
        .map(|k| {
            let hide = |v: String| {
                if k.secret() && !v.is_empty() {
                    HIDDEN.to_owned()
                } else {
                    v
                }
            };
            Shown {
                key: k.name().to_owned(),
                file: hide(k.get(file)),
                saved: saved.values.get(k.name()).cloned().map(hide),
                restart: k.needs_restart(),
            }
        })
        .collect()
}

/// The settings in force in the running daemon.
#[derive(Debug)]
pub struct Live {
    file: Config,
    current: RefCell<Rc<Effective>>,
    /// The listeners' addresses as bound at start.
    bound: Vec<(Key, String)>,
}

impl Live {
    /// The file's configuration with `saved` over it.
    pub fn new(file: Config, saved: &ServerSettings) -> Result<Self, String> {
        let current = Effective::of(&file, saved)?;
        let bound = Key::ALL
            .into_iter()
            .filter(|k| k.needs_restart())
            .map(|k| (k, k.get(&current.cfg)))
            .collect();
        Ok(Self {
            file,
            current: RefCell::new(Rc::new(current)),
            bound,
        })
    }

    /// The values in force now.
    pub fn current(&self) -> Rc<Effective> {
        self.current.borrow().clone()
    }

    /// The configuration file's values.
    pub fn file(&self) -> &Config {
        &self.file
    }

    /// Puts the newly saved settings in force (for the next request).
    pub fn apply(&self, saved: &ServerSettings) -> Result<(), String> {
        let next = Effective::of(&self.file, saved)?;
        *self.current.borrow_mut() = Rc::new(next);
        Ok(())
    }

    /// The settings saved since start that wait for a restart to apply.
    pub fn restart_pending(&self) -> Vec<&'static str> {
        let now = self.current();
        self.bound
            .iter()
            .filter(|(k, at_start)| k.get(&now.cfg) != *at_start)
            .map(|(k, _)| k.name())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pairs: &[(&str, &str)]) -> Vec<(String, Option<String>)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Some((*v).to_owned())))
            .collect()
    }

    #[test]
    fn saved_values_override_the_file_until_unset() {
        let file = Config::default();
        let saved = change(
            &file,
            &ServerSettings::default(),
            &set(&[
                ("push.max_heartbeat", "900"),
                ("public_url", "https://mail.example.com"),
                ("relay.security", "starttls"),
                ("max_protocol_version", "14.1"),
            ]),
        )
        .unwrap();
        let e = Effective::of(&file, &saved).unwrap();
        assert_eq!(e.cfg.push.max_heartbeat, 900);
        assert_eq!(
            e.cfg.public_url.as_deref(),
            Some("https://mail.example.com")
        );
        assert_eq!(e.cfg.relay.security, RelaySecurity::Starttls);
        assert_eq!(e.max_version, Some(ProtocolVersion::V14_1));
        let back = change(&file, &saved, &[("public_url".into(), None)]).unwrap();
        assert!(!back.values.contains_key("public_url"));
        assert_eq!(Effective::of(&file, &back).unwrap().cfg.public_url, None);
    }

    #[test]
    fn bad_values_are_refused_with_the_key_named() {
        let file = Config::default();
        let none = ServerSettings::default();
        for (key, value, says) in [
            ("push.min_heartbeat", "59", "60 to 3540"),
            ("push.max_heartbeat", "3541", "60 to 3540"),
            ("push.max_heartbeat", "soon", "push.max_heartbeat"),
            // Over the file's maximum (1800).
            ("push.min_heartbeat", "2000", "min <= max"),
            ("public_url", "mail.example.com", "public_url"),
            ("relay.port", "0", "relay.port"),
            ("relay.port", "70000", "relay.port"),
            ("relay.security", "ssl", "none, starttls or tls"),
            ("notify.listen", "localhost", "notify.listen"),
            ("lmtp", "nowhere", "lmtp"),
            ("max_protocol_version", "15.0", "max_protocol_version"),
            ("no.such", "1", "no setting"),
        ] {
            let e = change(&file, &none, &set(&[(key, value)])).unwrap_err();
            assert!(e.contains(says), "{key}={value}: {e}");
        }
        for (key, value) in [
            ("lmtp", "off"),
            ("lmtp", "unix:/run/easd/lmtp.sock"),
            ("lmtp", "localhost:24"),
            ("notify.listen", "off"),
            ("notify.listen", "[::1]:32002"),
        ] {
            assert!(change(&file, &none, &set(&[(key, value)])).is_ok(), "{key}");
        }
    }

    #[test]
    fn secrets_are_hidden_and_listeners_wait_for_a_restart() {
        let mut file = Config::default();
        file.relay.password = Some("file secret".into());
        let saved = change(
            &file,
            &ServerSettings::default(),
            &set(&[("relay.password", "saved secret")]),
        )
        .unwrap();
        let shown = shown(&file, &saved);
        let pw = shown.iter().find(|s| s.key == "relay.password").unwrap();
        assert_eq!(pw.file, HIDDEN);
        assert_eq!(pw.saved.as_deref(), Some(HIDDEN));
        assert!(!format!("{shown:?}").contains("secret"));

        let live = Live::new(file.clone(), &ServerSettings::default()).unwrap();
        assert!(live.restart_pending().is_empty());
        let moved = change(&file, &saved, &set(&[("lmtp", "127.0.0.1:2525")])).unwrap();
        live.apply(&moved).unwrap();
        assert_eq!(live.restart_pending(), ["lmtp"]);
        assert_eq!(
            live.current().cfg.relay.password.as_deref(),
            Some("saved secret")
        );
    }
}
