//! Refusals for resource reasons: every request, message or login that easd turns away
//! because a limit was reached is logged once (what, who, which limit) and counted, so an
//! admin sees in `easd status` which limit bites and who hits it.
//!
//! This module sits at the bottom of the crate and imports nothing from it: parsers return
//! typed errors, and the layer that knows who asked (the front door, the LMTP listener,
//! the authenticator) records the refusal here.

use std::cell::Cell;
use std::fmt;

/// The limit a refusal was made under. Each has its own counter and a stable name (the
/// `easd status` key and the `limit` field of the log line).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// A request body over `[limits] max_body`.
    BodySize,
    /// The process's memory budget could not grant what a request, response or message needed.
    MemoryBudget,
    /// A response over the per-request response-size cap.
    ResponseSize,
    /// Decoded WBXML (text, opaque bytes and string-table references) over its total bound.
    WbxmlDecoded,
    /// WBXML over its element-count or nesting bound.
    WbxmlShape,
    /// A Ping naming more folders than `[push] max_folders`.
    PingFolders,
    /// A Sync or GetItemEstimate naming more collections than `[limits] max_collections`.
    SyncCollections,
    /// A request with more item commands than `[limits] max_commands` (Sync commands of one
    /// collection, MoveItems moves, ItemOperations operations).
    Commands,
    /// A message with more recipients than allowed.
    Recipients,
    /// A Search or Find range, or result count, out of bounds; or a query naming more
    /// folders or words than allowed.
    SearchRange,
    /// An LMTP message over `[limits] max_message`.
    LmtpMessage,
    /// A login refused by the failed-login throttle.
    LoginThrottle,
    /// More waiting Pings or hanging Syncs for one account than allowed.
    WaitingRequests,
}

impl Limit {
    /// Every limit, in the order `easd status` lists them.
    pub const ALL: [Limit; 13] = [
        Limit::BodySize,
        Limit::MemoryBudget,
        Limit::ResponseSize,
        Limit::WbxmlDecoded,
        Limit::WbxmlShape,
        Limit::PingFolders,
        Limit::SyncCollections,
        Limit::Commands,
        Limit::Recipients,
        Limit::SearchRange,
        Limit::LmtpMessage,
        Limit::LoginThrottle,
        Limit::WaitingRequests,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Limit::BodySize => "body_size",
            Limit::MemoryBudget => "memory_budget",
            Limit::ResponseSize => "response_size",
            Limit::WbxmlDecoded => "wbxml_decoded",
            Limit::WbxmlShape => "wbxml_shape",
            Limit::PingFolders => "ping_folders",
            Limit::SyncCollections => "sync_collections",
            Limit::Commands => "commands",
            Limit::Recipients => "recipients",
            Limit::SearchRange => "search_range",
            Limit::LmtpMessage => "lmtp_message",
            Limit::LoginThrottle => "login_throttle",
            Limit::WaitingRequests => "waiting_requests",
        }
    }

    fn index(self) -> usize {
        Limit::ALL
            .iter()
            .position(|l| *l == self)
            .expect("every limit is in ALL")
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The refusal counters of one server. Owned by the event-loop thread (`Rc<Refusals>` in
/// the app state), hence `Cell`s.
#[derive(Debug, Default)]
pub struct Refusals {
    counts: [Cell<u64>; Limit::ALL.len()],
}

impl Refusals {
    /// Logs one refusal and counts it. `who` names the client (account, device, peer
    /// address — whatever the caller knows); `detail` says what was asked and what the
    /// limit is, e.g. `format_args!("{size} bytes over max_body {max}")`.
    pub fn record(&self, limit: Limit, who: &dyn fmt::Display, detail: fmt::Arguments<'_>) {
        tracing::warn!(limit = limit.name(), who = %who, "refused: {detail}");
        let c = &self.counts[limit.index()];
        c.set(c.get().saturating_add(1));
    }

    pub fn count(&self, limit: Limit) -> u64 {
        self.counts[limit.index()].get()
    }

    /// `{ "body_size": 0, … }` for `easd status`.
    pub fn snapshot(&self) -> serde_json::Value {
        Limit::ALL
            .iter()
            .map(|l| (l.name().to_owned(), self.count(*l).into()))
            .collect::<serde_json::Map<_, _>>()
            .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_each_limit_apart_and_lists_every_name() {
        let r = Refusals::default();
        r.record(
            Limit::PingFolders,
            &"alice@example.com/DEV1",
            format_args!("x"),
        );
        r.record(
            Limit::PingFolders,
            &"alice@example.com/DEV1",
            format_args!("x"),
        );
        r.record(Limit::BodySize, &"127.0.0.1:5000", format_args!("y"));
        assert_eq!(r.count(Limit::PingFolders), 2);
        assert_eq!(r.count(Limit::BodySize), 1);
        assert_eq!(r.count(Limit::LmtpMessage), 0);
        let snap = r.snapshot();
        assert_eq!(snap["ping_folders"], 2);
        assert_eq!(snap.as_object().unwrap().len(), Limit::ALL.len());
        for (i, l) in Limit::ALL.iter().enumerate() {
            assert_eq!(l.index(), i);
        }
    }
}
