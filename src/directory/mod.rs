//! The company directory: the accounts' entries as admins edit them (`entry`), and the
//! global address list built from them (`gal`), which GAL Search, ResolveRecipients and
//! Find search; case and accent folding for matching (`fold`).

pub mod availability;
pub mod certcheck;
pub mod contacts;
pub mod entry;
pub mod fold;
pub mod gal;
