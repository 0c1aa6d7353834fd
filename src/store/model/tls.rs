//! What easd remembers of its ACME certificate requests (kept as `DATA/tls/acme/state.json`
//! by `tls::acme`, not in the database: it must be readable before the store opens and
//! while another process holds it).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcmeRecord {
    /// Unix seconds of the last issuance attempt, successful or not.
    pub last_attempt: Option<i64>,
    /// Unix seconds of the last certificate received.
    pub last_success: Option<i64>,
    /// Why the last attempt failed; `None` after a success.
    pub last_error: Option<String>,
    /// Expiry of the certificate last received (unix seconds).
    pub not_after: Option<i64>,
}
