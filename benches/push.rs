//! Direct push under load: N concurrent idle Pings over TLS (default 1,000 then 10,000;
//! `PUSH_BENCH_N` overrides, e.g. `PUSH_BENCH_N=10000`), each from its own provisioned
//! device of a few accounts, all watching their device's synced Inbox. Prints the server's
//! RSS, the RSS per idle Ping, and the wake latency from an LMTP 250 to the first Ping of
//! that account answering Status 2 (p50/p99 over `PUSH_BENCH_DELIVERIES`, default 200).
//!
//! `EASD_BASELINE_BIN=/path/to/easd` runs each N against that binary too and prints the
//! ratio of the KiB per idle Ping, this build over the baseline.
//!
//! Targets: ≤ 24 KiB per idle TLS Ping, 10,000 Pings within 256 MiB, p99 wake < 20 ms.
//!
//! One async client (tokio current-thread, tokio-rustls, hyper) holds every connection.
//! Loopback only; each run is bounded (10 minutes) and the server is stopped at the end,
//! also on panic.

// The integration tests' harness; a bench uses only a part of it (items and re-exports).
#[allow(dead_code, unused_imports)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use easd::wbxml::tag::{airsync as air, ping as p, provision as pv};
use easd::wbxml::{self, Element};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rand::Rng;
use rustls::pki_types::ServerName;
use support::{DaemonProcess, EasClient, HttpClient, LmtpClient, proc_status_kib, smaps_rollup};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

const PASSWORD: &str = "bench-password";
const HEARTBEAT: &str = "600";
const TARGET_PER_PING_KIB: f64 = 24.0;
const TARGET_TOTAL_10K_KIB: u64 = 256 * 1024;
const TARGET_P99: Duration = Duration::from_millis(20);
/// One run (setup, waiting, deliveries) is aborted after this long.
const RUN_LIMIT: Duration = Duration::from_secs(10 * 60);
const SETUP_CONCURRENCY: usize = 32;
const CONNECT_CONCURRENCY: usize = 64;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

type Sender = SendRequest<Full<Bytes>>;

struct Shared {
    addr: std::net::SocketAddr,
    tls: Arc<rustls::ClientConfig>,
    stop: AtomicBool,
    errors: AtomicUsize,
    /// Connections open (TLS and HTTP handshakes done).
    connected: AtomicUsize,
    /// `PUSH_BENCH_MODE=idle-tls`: connect and send nothing (the cost of an idle
    /// connection, to set apart from that of a waiting Ping).
    idle_only: bool,
}

/// One provisioned device with a synced Inbox.
struct Device {
    account: usize,
    eas: EasClient,
    inbox: String,
    key: String,
}

async fn connect(shared: &Shared) -> Result<Sender, String> {
    let tcp = TcpStream::connect(shared.addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let name = ServerName::try_from("localhost").expect("server name");
    let tls = TlsConnector::from(shared.tls.clone())
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS: {e}"))?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// POSTs `cmd` and decodes the WBXML answer.
async fn post(
    s: &mut Sender,
    eas: &EasClient,
    cmd: &str,
    body: &Element,
) -> Result<Element, String> {
    let mut b = hyper::Request::builder()
        .method(hyper::Method::POST)
        .uri(format!("{}?{}", support::EAS_PATH, eas.query(cmd, None)))
        .header(hyper::header::HOST, "localhost");
    for (name, value) in eas.headers() {
        b = b.header(name, value);
    }
    let req = b
        .body(Full::new(Bytes::from(wbxml::encode(body))))
        .map_err(|e| e.to_string())?;
    s.ready().await.map_err(|e| format!("{cmd}: {e}"))?;
    let resp = s
        .send_request(req)
        .await
        .map_err(|e| format!("{cmd}: {e}"))?;
    let status = resp.status();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("{cmd} body: {e}"))?
        .to_bytes();
    if status != hyper::StatusCode::OK {
        return Err(format!(
            "{cmd}: HTTP {status} {:?}",
            String::from_utf8_lossy(&bytes)
        ));
    }
    wbxml::decode(&bytes, &wbxml::Limits::default()).map_err(|e| format!("{cmd}: {e}"))
}

async fn post_timed(
    s: &mut Sender,
    eas: &EasClient,
    cmd: &str,
    body: &Element,
) -> Result<Element, String> {
    tokio::time::timeout(REQUEST_TIMEOUT, post(s, eas, cmd, body))
        .await
        .map_err(|_| format!("{cmd}: no answer within {REQUEST_TIMEOUT:?}"))?
}

fn sync_body(inbox: &str, key: &str) -> Element {
    let coll = support::SyncColl::new(inbox, key).window(100);
    Element::new(air::SYNC).child(Element::new(air::COLLECTIONS).child(coll.element()))
}

/// Status and SyncKey of the only collection of a Sync answer.
fn sync_key_of(r: &Element) -> Result<String, String> {
    let c = r
        .find_path(&[air::COLLECTIONS, air::COLLECTION])
        .ok_or_else(|| format!("no Collection in {r:?}"))?;
    match (c.text_of(air::STATUS), c.text_of(air::SYNC_KEY)) {
        (Some("1"), Some(k)) => Ok(k.to_owned()),
        _ => Err(format!("Sync answered {c:?}")),
    }
}

/// Provision (both phases), FolderSync 0, Sync key 0 and one Sync of the Inbox.
async fn set_up(shared: &Shared, account: usize, mut eas: EasClient) -> Result<Device, String> {
    let mut s = connect(shared).await?;
    let policy =
        || Element::new(pv::POLICY).text_child(pv::POLICY_TYPE, easd::govern::policy::POLICY_TYPE);
    let one = Element::new(pv::PROVISION).child(Element::new(pv::POLICIES).child(policy()));
    let r = post_timed(&mut s, &eas, "Provision", &one).await?;
    let temp = support::policy_of(&r)
        .text_of(pv::POLICY_KEY)
        .ok_or("no temporary PolicyKey")?
        .to_owned();
    let two = Element::new(pv::PROVISION).child(
        Element::new(pv::POLICIES).child(
            policy()
                .text_child(pv::POLICY_KEY, temp.as_str())
                .text_child(pv::STATUS, "1"),
        ),
    );
    let r = post_timed(&mut s, &eas, "Provision", &two).await?;
    let key = support::policy_of(&r)
        .text_of(pv::POLICY_KEY)
        .and_then(|k| k.parse().ok())
        .ok_or("no final PolicyKey")?;
    eas.policy_key = Some(key);
    let fs = Element::new(easd::wbxml::tag::folderhierarchy::FOLDER_SYNC)
        .text_child(easd::wbxml::tag::folderhierarchy::SYNC_KEY, "0");
    let r = post_timed(&mut s, &eas, "FolderSync", &fs).await?;
    let inbox = support::changes_of(&r)
        .adds
        .into_iter()
        .find(|f| f.kind == 2)
        .ok_or("no Inbox")?
        .server_id;
    let r = post_timed(&mut s, &eas, "Sync", &sync_body(&inbox, "0")).await?;
    let key = sync_key_of(&r)?;
    let r = post_timed(&mut s, &eas, "Sync", &sync_body(&inbox, &key)).await?;
    let key = sync_key_of(&r)?;
    Ok(Device {
        account,
        eas,
        inbox,
        key,
    })
}

/// What a device reports: its account, when its Ping answered, and the Ping Status.
type Report = (usize, Instant, u8);

/// Pings until stopped: after a Status 2 it syncs the Inbox and pings again.
async fn ping_loop(
    shared: Arc<Shared>,
    connecting: Arc<tokio::sync::Semaphore>,
    mut dev: Device,
    reports: mpsc::Sender<Report>,
) {
    let run = async {
        let mut s = {
            let _permit = connecting.acquire().await.map_err(|e| e.to_string())?;
            connect(&shared).await?
        };
        shared.connected.fetch_add(1, Ordering::Relaxed);
        if shared.idle_only {
            while !shared.stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            drop(s);
            return Ok(());
        }
        let body = Element::new(p::PING)
            .text_child(p::HEARTBEAT_INTERVAL, HEARTBEAT)
            .child(
                Element::new(p::FOLDERS).child(
                    Element::new(p::FOLDER)
                        .text_child(p::ID, dev.inbox.as_str())
                        .text_child(p::CLASS, "Email"),
                ),
            );
        for _ in 0..10_000 {
            if shared.stop.load(Ordering::Relaxed) {
                break;
            }
            let r = post(&mut s, &dev.eas, "Ping", &body).await?;
            let at = Instant::now();
            let status: u8 = r
                .text_of(p::STATUS)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let _ = reports.send((dev.account, at, status));
            match status {
                1 => {}
                2 => {
                    let r = post_timed(&mut s, &dev.eas, "Sync", &sync_body(&dev.inbox, &dev.key))
                        .await?;
                    dev.key = sync_key_of(&r)?;
                }
                _ => return Err(format!("Ping answered {r:?}")),
            }
        }
        Ok::<(), String>(())
    };
    if let Err(e) = run.await
        && !shared.stop.load(Ordering::Relaxed)
        && shared.errors.fetch_add(1, Ordering::Relaxed) < 5
    {
        eprintln!(
            "device {} of account {}: {e}",
            dev.eas.device_id, dev.account
        );
    }
}

fn raise_nofile() -> libc::rlim_t {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain getrlimit/setrlimit on a local struct.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
    }
    lim.rlim_cur
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "MISS" }
}

fn rollup_lines(pid: u32) -> String {
    smaps_rollup(pid)
        .lines()
        .filter(|l| {
            [
                "Rss:",
                "Anonymous:",
                "Private_Dirty:",
                "Shared_Clean:",
                "Private_Clean:",
            ]
            .iter()
            .any(|k| l.starts_with(k))
        })
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Waits (up to `limit`) until exactly `n` requests wait in the server.
fn wait_for_waiting(d: &DaemonProcess, n: u64, limit: Duration, poll: Duration) -> u64 {
    let deadline = Instant::now() + limit;
    loop {
        let now = d.waiting_requests();
        if now == n || Instant::now() > deadline {
            return now;
        }
        std::thread::sleep(poll);
    }
}

struct Latencies {
    samples: Vec<Duration>,
    /// From the end of the DATA payload written (the LMTP client's view of the whole
    /// delivery plus the wake).
    from_data: Vec<Duration>,
    missed: usize,
    early: usize,
}

/// Delivers to random accounts one at a time; the time from the LMTP 250 to the first
/// Status 2 of a Ping of that account. Waits for every Ping to wait again in between.
fn measure_wakes(
    d: &DaemonProcess,
    n: u64,
    accounts: usize,
    deliveries: usize,
    reports: &mpsc::Receiver<Report>,
    deadline: Instant,
) -> Latencies {
    let mut lmtp = LmtpClient::connect(d.lmtp.expect("LMTP"));
    lmtp.lhlo();
    let mut rng = rand::thread_rng();
    let mut out = Latencies {
        samples: Vec::new(),
        from_data: Vec::new(),
        missed: 0,
        early: 0,
    };
    for i in 0..deliveries {
        if Instant::now() > deadline {
            eprintln!("run limit: stopping after {i} deliveries");
            break;
        }
        while reports.try_recv().is_ok() {}
        let account = rng.gen_range(0..accounts);
        let to = format!("u{account}@localhost");
        let msg = support::text_message(
            "sender@remote.test",
            &to,
            &format!("push {i}"),
            &"x".repeat(2000),
        );
        let mut data = support::dot_stuff(&msg);
        data.extend_from_slice(b".\r\n");
        lmtp.write_raw(
            format!("MAIL FROM:<sender@remote.test>\r\nRCPT TO:<{to}>\r\nDATA\r\n").as_bytes(),
        )
        .expect("LMTP write");
        let codes = [
            lmtp.read_reply().code,
            lmtp.read_reply().code,
            lmtp.read_reply().code,
        ];
        assert_eq!(codes, [250, 250, 354], "LMTP envelope");
        lmtp.write_raw(&data).expect("LMTP write");
        let sent = Instant::now();
        let done = lmtp.read_reply();
        let delivered = Instant::now();
        assert_eq!(done.code, 250, "LMTP delivery: {done:?}");
        let wait_until = Instant::now() + Duration::from_secs(5);
        let mut got = None;
        while let Some(left) = wait_until.checked_duration_since(Instant::now()) {
            match reports.recv_timeout(left) {
                Ok((a, at, 2)) if a == account => {
                    got = Some(at);
                    break;
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        match got {
            Some(at) => {
                if at < delivered {
                    out.early += 1;
                }
                out.samples.push(at.saturating_duration_since(delivered));
                out.from_data.push(at.saturating_duration_since(sent));
            }
            None => out.missed += 1,
        }
        // Every woken device syncs and pings again before the next delivery.
        let now = wait_for_waiting(d, n, Duration::from_secs(30), Duration::from_millis(10));
        if now != n {
            eprintln!("after delivery {i}: {now} of {n} Pings waiting again");
        }
    }
    let _ = lmtp.try_command("QUIT");
    out
}

/// One run against `bin`: whether every target was met, and the KiB per idle Ping.
fn run(bin: &Path, n: usize, accounts: usize, deliveries: usize) -> (bool, f64) {
    let start = Instant::now();
    let deadline = start + RUN_LIMIT;
    let accounts = accounts.min(n).max(1);
    let config = format!(
        "[auth]\nargon2_memory_kib = 256\nargon2_iterations = 1\ncache_entries = {}\n\
         [push]\nmin_heartbeat = 60\nmax_heartbeat = 3540\nmax_waiting_per_account = {}\n",
        accounts * 4 + 1024,
        n + 16
    );
    let daemon = DaemonProcess::start(bin, &config, &[], true);
    let pid = daemon.pid();
    let killer_done = Arc::new(AtomicBool::new(false));
    {
        // Past the limit the server is killed and the bench exits.
        let done = killer_done.clone();
        std::thread::spawn(move || {
            let until = Instant::now() + RUN_LIMIT + Duration::from_secs(60);
            while Instant::now() < until {
                if done.load(Ordering::Relaxed) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            eprintln!("push bench: run limit exceeded, killing the server");
            // SAFETY: signals the child this bench started.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            std::process::exit(2);
        });
    }
    let idle_kib = proc_status_kib(pid, "VmRSS");
    for a in 0..accounts {
        daemon.add_user(&format!("u{a}@localhost"), PASSWORD);
    }
    let cert = daemon.cert_pem();
    let shared = Arc::new(Shared {
        addr: daemon.https,
        tls: support::client_tls_config(&cert),
        stop: AtomicBool::new(false),
        errors: AtomicUsize::new(0),
        connected: AtomicUsize::new(0),
        idle_only: std::env::var("PUSH_BENCH_MODE").is_ok_and(|m| m == "idle-tls"),
    });
    let http = HttpClient::https_to(daemon.https, &cert);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");

    // ---- provision every device and sync its Inbox ------------------------------------
    let t = Instant::now();
    let devices: Vec<Device> = rt.block_on(async {
        let permits = Arc::new(tokio::sync::Semaphore::new(SETUP_CONCURRENCY));
        let mut set = tokio::task::JoinSet::new();
        for i in 0..n {
            let account = i % accounts;
            let eas = EasClient::new(
                http.clone(),
                &format!("u{account}@localhost"),
                PASSWORD,
                &format!("BENCH{i:06}"),
            );
            let (shared, permits) = (shared.clone(), permits.clone());
            set.spawn(async move {
                let _permit = permits.acquire_owned().await.expect("semaphore");
                set_up(&shared, account, eas).await
            });
        }
        let mut out = Vec::with_capacity(n);
        while let Some(r) = set.join_next().await {
            match r.expect("setup task") {
                Ok(d) => out.push(d),
                Err(e) => panic!("device setup: {e}"),
            }
            if Instant::now() > deadline {
                panic!("run limit during setup");
            }
        }
        out
    });
    let setup_time = t.elapsed();
    std::thread::sleep(Duration::from_secs(2));
    let before_kib = proc_status_kib(pid, "VmRSS");
    let before_rollup = rollup_lines(pid);
    println!(
        "N={n}: {accounts} accounts, {n} devices provisioned+synced in {:.1} s; server RSS idle {:.2} MiB, before the Pings {:.2} MiB",
        setup_time.as_secs_f64(),
        idle_kib as f64 / 1024.0,
        before_kib as f64 / 1024.0
    );

    // ---- N idle Pings, then deliveries ---------------------------------------------------
    let (tx, rx) = mpsc::channel::<Report>();
    let connecting = Arc::new(tokio::sync::Semaphore::new(CONNECT_CONCURRENCY));
    for d in devices {
        rt.spawn(ping_loop(shared.clone(), connecting.clone(), d, tx.clone()));
    }
    drop(tx);
    let t = Instant::now();
    let result = std::thread::scope(|s| {
        let daemon = &daemon;
        let shared = &shared;
        let orchestrator = s.spawn(move || {
            if shared.idle_only {
                let until = Instant::now() + Duration::from_secs(240);
                while shared.connected.load(Ordering::Relaxed) < n && Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(100));
                }
                let open_time = t.elapsed();
                std::thread::sleep(Duration::from_secs(2));
                let empty = Latencies {
                    samples: Vec::new(),
                    from_data: Vec::new(),
                    missed: 0,
                    early: 0,
                };
                let connected = shared.connected.load(Ordering::Relaxed) as u64;
                return (
                    connected,
                    open_time,
                    proc_status_kib(pid, "VmRSS"),
                    rollup_lines(pid),
                    empty,
                );
            }
            let waiting = wait_for_waiting(
                daemon,
                n as u64,
                Duration::from_secs(240),
                Duration::from_millis(100),
            );
            let open_time = t.elapsed();
            std::thread::sleep(Duration::from_secs(2));
            let waiting = waiting.max(daemon.waiting_requests());
            let rss = proc_status_kib(pid, "VmRSS");
            let rollup = rollup_lines(pid);
            let lat = measure_wakes(daemon, n as u64, accounts, deliveries, &rx, deadline);
            (waiting, open_time, rss, rollup, lat)
        });
        rt.block_on(async {
            while !orchestrator.is_finished() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        orchestrator.join()
    });
    shared.stop.store(true, Ordering::Relaxed);
    drop(rt);
    drop(daemon);
    killer_done.store(true, Ordering::Relaxed);
    let (waiting, open_time, rss, rollup, mut lat) = match result {
        Ok(r) => r,
        Err(panic) => std::panic::resume_unwind(panic),
    };

    let per_ping = (rss as f64 - before_kib as f64) / n as f64;
    if shared.idle_only {
        println!(
            "N={n} idle-tls: {waiting} idle TLS connections (no request); server RSS {:.2} MiB; {per_ping:.2} KiB per connection",
            rss as f64 / 1024.0
        );
        println!("  smaps_rollup before: {before_rollup}");
        println!("  smaps_rollup connected: {rollup}");
        return (true, per_ping);
    }
    lat.samples.sort();
    lat.from_data.sort();
    let (p50, p99, max) = (
        percentile(&lat.samples, 0.50),
        percentile(&lat.samples, 0.99),
        lat.samples.last().copied().unwrap_or_default(),
    );
    println!(
        "N={n}: {waiting} Pings waiting (easd status) {:.1} s after the first connect; client errors {}",
        open_time.as_secs_f64(),
        shared.errors.load(Ordering::Relaxed)
    );
    println!("  smaps_rollup before: {before_rollup}");
    println!("  smaps_rollup waiting: {rollup}");
    println!(
        "  server RSS with {n} idle Pings: {:.2} MiB; per idle TLS Ping {per_ping:.2} KiB",
        rss as f64 / 1024.0
    );
    println!(
        "  wake latency over {} deliveries: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} missed, {} answered before the 250 was read)",
        lat.samples.len(),
        p50.as_secs_f64() * 1000.0,
        p99.as_secs_f64() * 1000.0,
        max.as_secs_f64() * 1000.0,
        lat.missed,
        lat.early
    );
    println!(
        "  from the end of DATA written to the Ping answer: p50 {:.2} ms, p99 {:.2} ms",
        percentile(&lat.from_data, 0.50).as_secs_f64() * 1000.0,
        percentile(&lat.from_data, 0.99).as_secs_f64() * 1000.0
    );
    let mut ok = true;
    let per_ok = per_ping <= TARGET_PER_PING_KIB;
    println!(
        "  target <= 24 KiB per idle TLS Ping: {} ({per_ping:.2} KiB)",
        verdict(per_ok)
    );
    ok &= per_ok;
    if n >= 10_000 {
        let total_ok = rss <= TARGET_TOTAL_10K_KIB;
        println!(
            "  target 10,000 Pings within 256 MiB: {} ({:.2} MiB)",
            verdict(total_ok),
            rss as f64 / 1024.0
        );
        ok &= total_ok;
    }
    let lat_ok = !lat.samples.is_empty() && lat.missed == 0 && p99 < TARGET_P99;
    println!(
        "  target p99 wake latency < 20 ms: {} ({:.2} ms)",
        verdict(lat_ok),
        p99.as_secs_f64() * 1000.0
    );
    (ok & lat_ok & (waiting == n as u64), per_ping)
}

fn main() {
    let limit = raise_nofile();
    let sizes: Vec<usize> = match std::env::var("PUSH_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        Some(n) => vec![n],
        None => vec![1_000, 10_000],
    };
    let accounts = std::env::var("PUSH_BENCH_ACCOUNTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let deliveries = std::env::var("PUSH_BENCH_DELIVERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    println!("RLIMIT_NOFILE raised to {limit} (the server inherits it)");
    for n in sizes {
        if (n + 256) as libc::rlim_t > limit {
            println!("N={n}: skipped, needs more descriptors than {limit}");
            continue;
        }
        let bins = support::bench_bins();
        let mut per_ping = Vec::new();
        for bin in &bins {
            if bins.len() > 1 {
                println!("--- {}", bin.display());
            }
            let (ok, kib) = run(bin, n, accounts, deliveries);
            per_ping.push(kib);
            println!(
                "N={n}: {}",
                if ok {
                    "all targets met"
                } else {
                    "some target missed"
                }
            );
        }
        if let [this, base] = per_ping[..] {
            support::print_vs_baseline(&format!("N={n} per idle TLS Ping"), "KiB", this, base);
        }
    }
}
