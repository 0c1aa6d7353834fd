//! Counters for `/metrics`, in the Prometheus text exposition format (version 0.0.4):
//! incremented where the events happen, rendered on demand. A leaf: every layer that
//! counts something may use it. All on the one runtime thread, so `Cell`s, no atomics.
//!
//! Labels come from fixed sets (command names, HTTP statuses, a few outcomes), so the
//! number of series stays bounded whatever clients send.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// Upper bounds (seconds) of the latency histogram's buckets; `+Inf` follows.
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct Histogram {
    /// Observations at or below each bound (not cumulative here; summed when rendered).
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        if let Some(i) = BUCKETS.iter().position(|&b| seconds <= b) {
            self.buckets[i] += 1;
        }
        self.count += 1;
        self.sum += seconds;
    }
}

/// What a TLS handshake came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Handshake {
    Completed,
    Failed,
    TimedOut,
}

impl Handshake {
    fn label(self) -> &'static str {
        match self {
            Handshake::Completed => "completed",
            Handshake::Failed => "failed",
            Handshake::TimedOut => "timed_out",
        }
    }
}

/// What one LMTP recipient or message came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Lmtp {
    /// A message stored for its recipients (counted once per message).
    Delivered,
    /// A recipient refused: no such account.
    UnknownRecipient,
    /// A message refused (temporarily or not): memory budget, store failure.
    NotDelivered,
}

impl Lmtp {
    fn label(self) -> &'static str {
        match self {
            Lmtp::Delivered => "delivered",
            Lmtp::UnknownRecipient => "unknown_recipient",
            Lmtp::NotDelivered => "not_delivered",
        }
    }
}

/// The daemon's counters.
#[derive(Default)]
pub struct Metrics {
    /// HTTP requests by (command or route, status).
    requests: RefCell<BTreeMap<(&'static str, u16), u64>>,
    /// Time to the response head, by command or route.
    latency: RefCell<BTreeMap<&'static str, Histogram>>,
    auth_failures: Cell<u64>,
    handshakes: RefCell<BTreeMap<Handshake, u64>>,
    lmtp: RefCell<BTreeMap<Lmtp, u64>>,
}

/// Values read at scrape time rather than counted.
pub struct Gauges {
    /// Pings and hanging Syncs waiting now.
    pub waiting: usize,
    /// The database file's size, when it could be read.
    pub store_bytes: Option<u64>,
}

impl Metrics {
    /// One HTTP request answered: `what` is its EAS command, or its route.
    pub fn request(&self, what: &'static str, status: u16, took: Duration) {
        *self
            .requests
            .borrow_mut()
            .entry((what, status))
            .or_default() += 1;
        self.latency
            .borrow_mut()
            .entry(what)
            .or_default()
            .observe(took.as_secs_f64());
    }

    /// A login refused for wrong credentials.
    pub fn auth_failure(&self) {
        self.auth_failures.set(self.auth_failures.get() + 1);
    }

    pub fn handshake(&self, outcome: Handshake) {
        *self.handshakes.borrow_mut().entry(outcome).or_default() += 1;
    }

    pub fn lmtp(&self, outcome: Lmtp) {
        *self.lmtp.borrow_mut().entry(outcome).or_default() += 1;
    }

    /// LMTP messages that came to `outcome` so far (the dashboard).
    pub fn lmtp_count(&self, outcome: Lmtp) -> u64 {
        self.lmtp.borrow().get(&outcome).copied().unwrap_or(0)
    }

    /// Everything, in the Prometheus text format.
    pub fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::with_capacity(4096);
        // Infallible: `fmt::Write` for `String` never fails.
        let _ = self.write(&mut out, gauges);
        out
    }

    fn write(&self, out: &mut String, gauges: &Gauges) -> std::fmt::Result {
        header(
            out,
            "easd_http_requests_total",
            "counter",
            "HTTP requests answered, by EAS command (or route) and status.",
        )?;
        for ((what, status), n) in self.requests.borrow().iter() {
            writeln!(
                out,
                "easd_http_requests_total{{command=\"{what}\",status=\"{status}\"}} {n}"
            )?;
        }
        header(
            out,
            "easd_http_request_duration_seconds",
            "histogram",
            "Time from a request's head to its response's, by EAS command (or route); Ping and hanging Sync include their wait.",
        )?;
        for (what, h) in self.latency.borrow().iter() {
            let name = "easd_http_request_duration_seconds";
            let mut cumulative = 0;
            for (bound, n) in BUCKETS.iter().zip(h.buckets) {
                cumulative += n;
                writeln!(
                    out,
                    "{name}_bucket{{command=\"{what}\",le=\"{bound}\"}} {cumulative}"
                )?;
            }
            writeln!(
                out,
                "{name}_bucket{{command=\"{what}\",le=\"+Inf\"}} {}",
                h.count
            )?;
            writeln!(out, "{name}_sum{{command=\"{what}\"}} {}", h.sum)?;
            writeln!(out, "{name}_count{{command=\"{what}\"}} {}", h.count)?;
        }
        header(
            out,
            "easd_auth_failures_total",
            "counter",
            "Logins refused for a wrong user name or password.",
        )?;
        writeln!(out, "easd_auth_failures_total {}", self.auth_failures.get())?;
        header(
            out,
            "easd_tls_handshakes_total",
            "counter",
            "TLS handshakes on the HTTPS listener, by outcome.",
        )?;
        for outcome in [Handshake::Completed, Handshake::Failed, Handshake::TimedOut] {
            let n = self.handshakes.borrow().get(&outcome).copied().unwrap_or(0);
            writeln!(
                out,
                "easd_tls_handshakes_total{{outcome=\"{}\"}} {n}",
                outcome.label()
            )?;
        }
        header(
            out,
            "easd_lmtp_total",
            "counter",
            "LMTP messages delivered, recipients unknown, messages not delivered.",
        )?;
        for outcome in [Lmtp::Delivered, Lmtp::UnknownRecipient, Lmtp::NotDelivered] {
            let n = self.lmtp.borrow().get(&outcome).copied().unwrap_or(0);
            writeln!(
                out,
                "easd_lmtp_total{{outcome=\"{}\"}} {n}",
                outcome.label()
            )?;
        }
        header(
            out,
            "easd_waiting_requests",
            "gauge",
            "Pings and hanging Syncs waiting for a change.",
        )?;
        writeln!(out, "easd_waiting_requests {}", gauges.waiting)?;
        if let Some(bytes) = gauges.store_bytes {
            header(
                out,
                "easd_store_bytes",
                "gauge",
                "Size of the database file (blobs not included).",
            )?;
            writeln!(out, "easd_store_bytes {bytes}")?;
        }
        Ok(())
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) -> std::fmt::Result {
    writeln!(out, "# HELP {name} {help}")?;
    writeln!(out, "# TYPE {name} {kind}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_a_cumulative_histogram() {
        let m = Metrics::default();
        m.request("Sync", 200, Duration::from_millis(3));
        m.request("Sync", 200, Duration::from_millis(300));
        m.request("Sync", 200, Duration::from_secs(60));
        m.request("OPTIONS", 401, Duration::from_millis(1));
        m.auth_failure();
        m.handshake(Handshake::Completed);
        m.lmtp(Lmtp::Delivered);
        let text = m.render(&Gauges {
            waiting: 2,
            store_bytes: Some(4096),
        });
        for line in [
            "easd_http_requests_total{command=\"Sync\",status=\"200\"} 3",
            "easd_http_requests_total{command=\"OPTIONS\",status=\"401\"} 1",
            "easd_http_request_duration_seconds_bucket{command=\"Sync\",le=\"0.005\"} 1",
            "easd_http_request_duration_seconds_bucket{command=\"Sync\",le=\"0.25\"} 1",
            "easd_http_request_duration_seconds_bucket{command=\"Sync\",le=\"0.5\"} 2",
            "easd_http_request_duration_seconds_bucket{command=\"Sync\",le=\"10\"} 2",
            "easd_http_request_duration_seconds_bucket{command=\"Sync\",le=\"+Inf\"} 3",
            "easd_http_request_duration_seconds_count{command=\"Sync\"} 3",
            "easd_auth_failures_total 1",
            "easd_tls_handshakes_total{outcome=\"completed\"} 1",
            "easd_tls_handshakes_total{outcome=\"failed\"} 0",
            "easd_lmtp_total{outcome=\"delivered\"} 1",
            "easd_waiting_requests 2",
            "easd_store_bytes 4096",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
    }
}
