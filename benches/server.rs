//! Server memory benchmark: starts the release `easd` binary, then prints its resident
//! memory after start, after the first 100 authenticated FolderSyncs, after 1,000 and after
//! 2,000, and the request rate. Target: ≤ 6 MiB idle on x86_64, no growth after the first
//! hundred. Each request is a new TLS connection, so rustls's session cache (256 entries, a
//! few hundred bytes each) fills during the first few hundred: bounded, it shows as growth
//! from 100 to 1,000 and none from 1,000 to 2,000.
//!
//! It runs twice, with `[limits] release_startup_memory` on and off, and prints what the
//! release changes. Resident memory is what `top` shows; what a board's `MemoryMax` weighs
//! is the cgroup's `memory.current`, which also counts page-cache pages the daemon faulted
//! in, mapped or not. So where a writable cgroup v2 with the memory controller is mounted
//! at /sys/fs/cgroup (root, typically), each daemon runs in a cgroup of its own, started
//! with its binary out of the page cache as on a board at boot, and `memory.current` and
//! `memory.stat`'s anon and file are printed next to the resident memory.
//!
//! `EASD_BASELINE_BIN=/path/to/easd` measures that binary too (with its defaults) and
//! prints the ratio of the idle resident memory, this build over the baseline.
//! `EASD_BENCH_SMAPS=1` also prints the resident KiB of each mapping, idle and at the end.
//!
//! Loopback only, bounded: 2,000 requests over one keep-alive-free client each.

// The integration tests' harness; a bench uses only a part of it (items and re-exports).
#[allow(dead_code, unused_imports)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use support::{DaemonProcess, proc_status_kib};

const PASSWORD: &str = "bench-password";

/// Resident memory of a process, KiB: total, anonymous (heap, stacks) and file-backed
/// (code and read-only data, shared with the page cache).
#[derive(Clone, Copy, Default)]
struct Rss {
    total: u64,
    anon: u64,
    file: u64,
}

impl Rss {
    fn of(pid: u32) -> Rss {
        Rss {
            total: proc_status_kib(pid, "VmRSS"),
            anon: proc_status_kib(pid, "RssAnon"),
            file: proc_status_kib(pid, "RssFile"),
        }
    }
}

impl std::fmt::Display for Rss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.2} MiB (anonymous {:.2}, file-backed {:.2})",
            mib(self.total),
            mib(self.anon),
            mib(self.file)
        )
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// What a cgroup v2 is charged, KiB: `memory.current`, and `memory.stat`'s anon and file.
#[derive(Clone, Copy, Default)]
struct Charge {
    current: u64,
    anon: u64,
    file: u64,
}

impl std::fmt::Display for Charge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.2} MiB (anon {:.2}, file {:.2})",
            mib(self.current),
            mib(self.anon),
            mib(self.file)
        )
    }
}

/// A cgroup v2 of its own for one daemon, removed when dropped (after the daemon).
struct Cgroup {
    dir: PathBuf,
}

impl Cgroup {
    const ROOT: &str = "/sys/fs/cgroup";

    /// A new cgroup under the root, or why there is none.
    fn new(name: &str) -> Result<Cgroup, String> {
        let enabled = std::fs::read_to_string(Path::new(Self::ROOT).join("cgroup.subtree_control"))
            .map_err(|e| {
                format!(
                    "{}/cgroup.subtree_control: {e} (no cgroup v2 there)",
                    Self::ROOT
                )
            })?;
        if !enabled.split_whitespace().any(|c| c == "memory") {
            return Err(format!(
                "the memory controller is not enabled in {}/cgroup.subtree_control",
                Self::ROOT
            ));
        }
        let dir = Path::new(Self::ROOT).join(format!("easd-bench-{}-{name}", std::process::id()));
        std::fs::create_dir(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        Ok(Cgroup { dir })
    }

    /// A script that moves itself into this cgroup, then runs `bin` with its arguments: the
    /// daemon is charged there from its first page.
    fn wrap(&self, bin: &Path, scratch: &Path) -> PathBuf {
        let script = scratch.join("in-cgroup.sh");
        let quote = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', r"'\''"));
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\necho $$ > {} || exit 1\nexec {} \"$@\"\n",
                quote(&self.dir.join("cgroup.procs")),
                quote(bin)
            ),
        )
        .expect("cgroup wrapper script");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
            .expect("cgroup wrapper mode");
        script
    }

    fn charge(&self) -> Charge {
        let read = |f: &str| std::fs::read_to_string(self.dir.join(f)).unwrap_or_default();
        let stat = read("memory.stat");
        let field = |name: &str| {
            stat.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
                .unwrap_or(0u64)
                / 1024
        };
        Charge {
            current: read("memory.current").trim().parse().unwrap_or(0u64) / 1024,
            anon: field("anon"),
            file: field("file"),
        }
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir(&self.dir) {
            eprintln!("removing {}: {e}", self.dir.display());
        }
    }
}

/// Drops `bin`'s clean, unmapped pages from the page cache, so that the next daemon faults
/// its code in and is charged for it, as on a board after boot.
fn evict_from_page_cache(bin: &Path) {
    use std::os::fd::AsRawFd;
    if let Ok(f) = std::fs::File::open(bin) {
        // SAFETY: advice on a file descriptor we hold open; it changes no data.
        unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    }
}

/// With EASD_BENCH_SMAPS=1: the resident KiB of each mapping, largest first.
fn print_mappings(pid: u32, when: &str) {
    if std::env::var_os("EASD_BENCH_SMAPS").is_none() {
        return;
    }
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
    let mut per: std::collections::BTreeMap<String, u64> = Default::default();
    let mut name = String::new();
    for line in smaps.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields
            .first()
            .is_some_and(|f| f.contains('-') && !f.ends_with(':'))
        {
            name = format!("{} {}", fields.get(5).unwrap_or(&"[anon]"), fields[1]);
        } else if fields.first() == Some(&"Rss:") {
            *per.entry(name.clone()).or_default() += fields[1].parse::<u64>().unwrap_or(0);
        }
    }
    let mut rows: Vec<_> = per.into_iter().filter(|(_, k)| *k > 0).collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.1));
    println!("mappings {when}:");
    for (name, kib) in rows {
        println!("  {kib:>6} KiB  {name}");
    }
}

/// One daemon's figures: resident memory idle, after 100 and 1,000 FolderSyncs and at the
/// end, the cgroup's charge idle and at the end (where there is a cgroup), the rate.
struct Figures {
    idle: Rss,
    after_100: Rss,
    after_1000: Rss,
    at_end: Rss,
    charged: Option<(Charge, Charge)>,
    per_second: f64,
}

/// Starts `bin serve` with `config`, measures it through `requests` FolderSyncs, stops it.
fn measure(bin: &Path, config: &str, cgroup: Option<&Cgroup>, requests: usize) -> Figures {
    let scratch = tempfile::tempdir().expect("temp dir");
    let start_bin = match cgroup {
        Some(cg) => {
            evict_from_page_cache(bin);
            cg.wrap(bin, scratch.path())
        }
        None => bin.to_owned(),
    };
    let mut daemon = DaemonProcess::start(
        &start_bin,
        config,
        &[("EASD_ADMIN_PASSWORD", PASSWORD)],
        false,
    );
    let pid = daemon.pid();
    // Start-up ends (and the release runs) right after the listeners are up.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let idle = Rss::of(pid);
    let charged_idle = cgroup.map(Cgroup::charge);
    print_mappings(pid, "idle");

    let client = support::HttpClient::https_to(daemon.https, &daemon.cert_pem());
    let mut eas = support::EasClient::new(client, "admin@localhost", PASSWORD, "BENCHDEVICE1");
    eas.provision();
    let (sync_key, _) = eas.folder_sync_ok("0");
    let (mut after_100, mut after_1000) = (Rss::default(), Rss::default());
    let start = Instant::now();
    for i in 1..=requests {
        let (key, _) = eas.folder_sync_ok(&sync_key);
        assert_eq!(key, sync_key, "nothing changed, so the key stays");
        match i {
            100 => after_100 = Rss::of(pid),
            1000 => after_1000 = Rss::of(pid),
            _ if i % 1000 == 0 && requests > 2000 => println!("after {i}: {}", Rss::of(pid)),
            _ => {}
        }
    }
    let per_second = requests as f64 / start.elapsed().as_secs_f64();
    let at_end = Rss::of(pid);
    let charged = charged_idle.zip(cgroup.map(Cgroup::charge));
    print_mappings(pid, "at the end");
    daemon.stop();
    Figures {
        idle,
        after_100,
        after_1000,
        at_end,
        charged,
        per_second,
    }
}

fn print(figures: &Figures, requests: usize) {
    let f = figures;
    println!("server RSS idle after start: {} (target <= 6 MiB)", f.idle);
    println!("server RSS after 100 FolderSyncs: {}", f.after_100);
    println!("server RSS after 1000 FolderSyncs: {}", f.after_1000);
    println!("server RSS after {requests} FolderSyncs: {}", f.at_end);
    if let Some((idle, end)) = f.charged {
        println!("cgroup memory.current idle after start: {idle}");
        println!("cgroup memory.current after {requests} FolderSyncs: {end}");
    }
    let growth = |a: Rss, b: Rss| b.total as i64 - a.total as i64;
    println!(
        "growth from request 100 to 1000: {} KiB, from 1000 to {requests}: {} KiB (target: none)",
        growth(f.after_100, f.after_1000),
        growth(f.after_1000, f.at_end)
    );
    println!(
        "authenticated FolderSync over a new TLS connection each: {:.0} requests/s",
        f.per_second
    );
}

/// The daemon's cgroup, or none (and why, once).
fn cgroup(name: &str, said: &mut bool) -> Option<Cgroup> {
    Cgroup::new(name)
        .map_err(|why| {
            if !std::mem::replace(said, true) {
                println!("cgroup memory.current: not measured: {why}");
            }
        })
        .ok()
}

fn main() {
    // EASD_BENCH_REQUESTS=N runs longer (every 1,000th request prints the resident memory),
    // to tell a bounded cache from a leak.
    let requests: usize = std::env::var("EASD_BENCH_REQUESTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .map_or(2000, |n: usize| n.max(2000));
    let bins = support::bench_bins();
    let mut said = false;
    let mut by_switch = Vec::new();
    for on in [true, false] {
        println!("--- [limits] release_startup_memory = {on}");
        let config = format!("[limits]\nrelease_startup_memory = {on}\n");
        let cg = cgroup(if on { "on" } else { "off" }, &mut said);
        let figures = measure(&bins[0], &config, cg.as_ref(), requests);
        print(&figures, requests);
        by_switch.push(figures);
    }
    let (on, off) = (&by_switch[0], &by_switch[1]);
    let less = |a: u64, b: u64| mib(b) - mib(a);
    for (when, a, b) in [
        ("idle", on.idle, off.idle),
        ("after the FolderSyncs", on.at_end, off.at_end),
    ] {
        println!(
            "release_startup_memory saves, {when}: RSS {:.2} MiB (anonymous {:.2}, file-backed {:.2})",
            less(a.total, b.total),
            less(a.anon, b.anon),
            less(a.file, b.file)
        );
    }
    if let (Some((on_idle, on_end)), Some((off_idle, off_end))) = (on.charged, off.charged) {
        for (when, a, b) in [
            ("idle", on_idle, off_idle),
            ("after the FolderSyncs", on_end, off_end),
        ] {
            println!(
                "release_startup_memory saves, {when}: memory.current {:.2} MiB (anon {:.2}, file {:.2})",
                less(a.current, b.current),
                less(a.anon, b.anon),
                less(a.file, b.file)
            );
        }
    }
    if let Some(baseline) = bins.get(1) {
        println!("--- {} (its defaults)", baseline.display());
        let cg = cgroup("baseline", &mut said);
        let base = measure(baseline, "", cg.as_ref(), requests);
        print(&base, requests);
        let ratio = |what: &str, this: Rss, base: Rss| {
            support::print_vs_baseline(what, "MiB", mib(this.total), mib(base.total));
        };
        ratio("RSS idle after start", on.idle, base.idle);
        ratio(
            &format!("RSS after {requests} FolderSyncs"),
            on.at_end,
            base.at_end,
        );
        if let (Some((this, _)), Some((base, _))) = (on.charged, base.charged) {
            support::print_vs_baseline(
                "memory.current idle after start",
                "MiB",
                mib(this.current),
                mib(base.current),
            );
        }
    }
}
