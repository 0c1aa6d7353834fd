//! The state every request handler may need, shared by all connections; built by the
//! daemon (`server`) at start, used by the front ends (`eas`, `web`).

use std::rc::Rc;

use crate::auth::Authenticator;
use crate::auth::session::Sessions;
use crate::budget::MemoryBudget;
use crate::config::Config;
use crate::mail::oof;
use crate::metrics::Metrics;
use crate::protolog::ProtocolLog;
use crate::push::hub::Hub;
use crate::push::notify;
use crate::refusal::Refusals;
use crate::server_settings::Live;
use crate::spool::Spool;
use crate::store::Store;
use crate::tls::{Certs, acme};

/// Everything a request handler may need, shared by all connections.
pub struct App {
    /// The configuration as it was at start: the file's, with the saved server settings
    /// over it. What an admin may change while easd runs is read from `settings`.
    pub cfg: Config,
    /// The server settings in force (heartbeat bounds, versions on offer, `public_url`,
    /// the relay), changed by the admin's settings page for the next request.
    pub settings: Rc<Live>,
    pub store: Store,
    pub auth: Authenticator,
    pub protolog: ProtocolLog,
    pub hub: Rc<Hub>,
    pub notify_counters: Rc<notify::Counters>,
    /// What the out-of-office replies after deliveries came to.
    pub oof_counters: Rc<oof::Counters>,
    /// Requests, messages and logins refused for resource reasons (logged and counted).
    pub refusals: Rc<Refusals>,
    /// The memory that bodies, responses, LMTP messages and decoded WBXML may hold at once.
    pub budget: Rc<MemoryBudget>,
    /// Temporary files (DATA/tmp) for large request bodies and response parts.
    pub spool: Spool,
    /// The counters `/metrics` shows.
    pub metrics: Rc<Metrics>,
    /// The HTTPS listener's certificate (None when HTTPS is off).
    pub certs: Option<Rc<Certs>>,
    /// Open ACME HTTP-01 challenges, answered on any listener.
    pub acme_challenges: Rc<acme::Challenges>,
    /// The web pages' login sessions (in memory only).
    pub sessions: Sessions,
    /// The global address list, rebuilt when the directory changes.
    pub gal: crate::directory::gal::Gal,
    /// When the daemon started, for the dashboard's uptime.
    pub started: std::time::Instant,
}
