//! The server settings saved from the admin's settings page or `easd settings`: each
//! overrides the configuration file's value of the same key until it is unset.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The saved settings, by key (`push.max_heartbeat`, `public_url`, …), each as the text the
/// configuration file would hold. Which keys exist and what they accept is
/// `server_settings::Key`'s business; the record only keeps them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerSettings {
    pub values: BTreeMap<String, String>,
}
