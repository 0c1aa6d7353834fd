//! `/metrics` (issue 14, point 5): the Prometheus text format, parsed here by a parser of
//! that format; counters move where the events happen.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use hyper::Method;

use crate::support::*;
use easd::wbxml::Element;
use easd::wbxml::tag::ping as p;

const ALICE: &str = "alice@example.com";

/// One sample: metric name and labels → value.
type Samples = BTreeMap<(String, BTreeMap<String, String>), f64>;

/// Parses the text exposition format (0.0.4): `# HELP`/`# TYPE` lines, then samples
/// `name{label="value",…} number`. Panics on anything else, on a sample whose family has
/// no TYPE, and on a histogram whose buckets are not cumulative or whose `+Inf` bucket is
/// not its count.
fn parse(text: &str) -> Samples {
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut samples = Samples::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(
                ["counter", "gauge", "histogram"].contains(&kind),
                "type {kind}"
            );
            assert!(
                types.insert(name.into(), kind.into()).is_none(),
                "two TYPEs for {name}"
            );
            continue;
        }
        if line.starts_with("# HELP ") || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("sample: series value");
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("value in {line:?}"));
        let (name, labels) = match series.split_once('{') {
            None => (series.to_owned(), BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').expect("labels end with }");
                let labels = body
                    .split(',')
                    .map(|pair| {
                        let (k, v) = pair.split_once('=').expect("label=value");
                        let v = v
                            .strip_prefix('"')
                            .and_then(|v| v.strip_suffix('"'))
                            .expect("quoted label value");
                        (k.to_owned(), v.to_owned())
                    })
                    .collect();
                (name.to_owned(), labels)
            }
        };
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "metric name {name}"
        );
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| types.get(*f).is_some_and(|t| t == "histogram"))
            })
            .unwrap_or(&name);
        assert!(types.contains_key(family), "no TYPE for {name}");
        assert!(
            samples.insert((name.clone(), labels), value).is_none(),
            "duplicate series {line}"
        );
    }
    for (family, _) in types.iter().filter(|(_, t)| *t == "histogram") {
        let bucket = format!("{family}_bucket");
        let mut by_series: BTreeMap<BTreeMap<String, String>, Vec<(f64, f64)>> = BTreeMap::new();
        for ((name, labels), v) in &samples {
            if *name == bucket {
                let mut rest = labels.clone();
                let le = rest.remove("le").expect("le label");
                let le = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().expect("le")
                };
                by_series.entry(rest).or_default().push((le, *v));
            }
        }
        for (labels, mut buckets) in by_series {
            buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
            assert!(
                buckets.windows(2).all(|w| w[0].1 <= w[1].1),
                "not cumulative: {buckets:?}"
            );
            let count = samples[&(format!("{family}_count"), labels.clone())];
            assert_eq!(
                buckets.last().expect("buckets").1,
                count,
                "+Inf vs count {labels:?}"
            );
        }
    }
    samples
}

fn scrape(s: &TestServer) -> Samples {
    let r = s.https().request(Method::GET, "/metrics", &[], Vec::new());
    r.expect_status(200);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    parse(&r.text())
}

fn value(m: &Samples, name: &str, labels: &[(&str, &str)]) -> f64 {
    let labels = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    m.get(&(name.to_owned(), labels)).copied().unwrap_or(0.0)
}

#[test]
fn counters_move_where_the_events_happen() {
    let s = server_with(&[ALICE]);
    let before = scrape(&s);
    let requests = |m: &Samples, cmd: &str, status: &str| {
        value(
            m,
            "easd_http_requests_total",
            &[("command", cmd), ("status", status)],
        )
    };

    // An EAS command, a wrong password, an Autodiscover answer.
    let mut c = s.eas(ALICE, "metricsdev");
    c.provision();
    c.folder_sync_ok("0");
    let wrong = [("Authorization", basic_auth(ALICE, "wrong"))];
    s.https()
        .request(Method::OPTIONS, EAS_PATH, &wrong, Vec::new())
        .expect_status(401);
    let auth = [("Authorization", basic_auth(ALICE, PASSWORD))];
    s.https()
        .request(
            Method::GET,
            "/autodiscover/autodiscover.xml",
            &auth,
            Vec::new(),
        )
        .expect_status(200);
    // An LMTP delivery and an unknown recipient.
    s.deliver_text(ALICE, "counted", "hello");
    let mut lmtp = s.lmtp();
    let (rcpt, _) = lmtp.send(
        "x@remote.test",
        &["nobody@example.com"],
        b"Subject: x\r\n\r\nx\r\n",
    );
    assert_ne!(rcpt[0].code, 250);
    // A TLS handshake that fails: not TLS at all.
    let mut raw = std::net::TcpStream::connect(s.https_addr()).expect("connect");
    raw.write_all(b"GET / HTTP/1.1\r\n\r\n").expect("write");
    let _ = raw.read(&mut [0; 64]);

    let after = scrape(&s);
    assert_eq!(
        requests(&after, "FolderSync", "200") - requests(&before, "FolderSync", "200"),
        1.0
    );
    assert_eq!(
        requests(&after, "Provision", "200") - requests(&before, "Provision", "200"),
        2.0
    );
    assert_eq!(
        requests(&after, "OPTIONS", "401") - requests(&before, "OPTIONS", "401"),
        1.0
    );
    assert_eq!(requests(&after, "Autodiscover", "200"), 1.0);
    assert_eq!(value(&after, "easd_auth_failures_total", &[]), 1.0);
    let latency = |m: &Samples| {
        value(
            m,
            "easd_http_request_duration_seconds_count",
            &[("command", "FolderSync")],
        )
    };
    assert_eq!(latency(&after) - latency(&before), 1.0);
    assert_eq!(
        value(&after, "easd_lmtp_total", &[("outcome", "delivered")]),
        1.0
    );
    assert_eq!(
        value(
            &after,
            "easd_lmtp_total",
            &[("outcome", "unknown_recipient")]
        ),
        1.0
    );
    wait_for("the failed handshake counted", || {
        value(
            &scrape(&s),
            "easd_tls_handshakes_total",
            &[("outcome", "failed")],
        ) >= 1.0
    });
    // Every scrape is itself a completed handshake and a counted request.
    assert!(
        value(
            &after,
            "easd_tls_handshakes_total",
            &[("outcome", "completed")]
        ) >= 5.0
    );
    assert!(requests(&after, "metrics", "200") >= 1.0);
    assert!(value(&after, "easd_store_bytes", &[]) > 0.0);
    assert_eq!(value(&after, "easd_waiting_requests", &[]), 0.0);
}

#[test]
fn a_waiting_ping_shows_and_metrics_can_be_turned_off() {
    let s = server_with(&[ALICE]);
    let mut c = s.eas(ALICE, "pingdev");
    c.provision();
    let inbox = c.folder_of_type(2);
    c.sync_init(&inbox);
    let ping = Element::new(p::PING)
        .text_child(p::HEARTBEAT_INTERVAL, "120")
        .child(
            Element::new(p::FOLDERS).child(
                Element::new(p::FOLDER)
                    .text_child(p::ID, inbox.as_str())
                    .text_child(p::CLASS, "Email"),
            ),
        );
    let pinger = c.clone();
    let waiting = std::thread::spawn(move || pinger.post("Ping", Some(&ping)));
    s.wait_until_waiting(1);
    assert_eq!(value(&scrape(&s), "easd_waiting_requests", &[]), 1.0);
    s.deliver_text(ALICE, "wake", "up");
    waiting.join().expect("ping").expect_status(200);
    assert_eq!(value(&scrape(&s), "easd_waiting_requests", &[]), 0.0);

    s.https()
        .request(Method::POST, "/metrics", &[], Vec::new())
        .expect_status(405);
    let off = start_server(|c| c.metrics.access = easd::config::MetricsAccess::Off);
    off.https()
        .request(Method::GET, "/metrics", &[], Vec::new())
        .expect_status(404);
}
