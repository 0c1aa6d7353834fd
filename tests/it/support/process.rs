//! Readings of a process from `/proc`: resident memory, its peak, CPU time; and a test
//! run in a process of its own, for tests that read them.

/// Whether the test body should run here: false after the test `name` (its path in the
/// test binary, e.g. `memory::x`) ran again alone in a child process of this binary and
/// passed there (a failure there fails the caller); true in that child. For a test that
/// measures its own process, which the other tests of the binary would share otherwise.
#[track_caller]
pub fn alone_in_a_process(name: &str) -> bool {
    const ALONE: &str = "EASD_TEST_ALONE";
    if std::env::var_os(ALONE).is_some_and(|v| v == name) {
        return true;
    }
    let out = std::process::Command::new(std::env::current_exe().expect("the test binary"))
        .args([name, "--exact", "--test-threads=1", "--nocapture"])
        .env(ALONE, name)
        .output()
        .expect("the test binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{name} alone in a process: {}\n{stdout}{stderr}",
        out.status
    );
    false
}

/// A `kB` field (`VmRSS`, `VmHWM`, ...) of `/proc/PID/status`; 0 when unreadable.
pub fn proc_status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.split(':').next() == Some(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

// Benches only (the daemon's CPU time per run).
#[allow(dead_code)]
/// User plus system CPU time of `pid` so far, in seconds (`/proc/PID/stat`).
pub fn proc_cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    // utime and stime are fields 14 and 15; `rest` starts at field 3.
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    // SAFETY: sysconf only reads a constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1);
    ticks as f64 / hz as f64
}

/// Resets `VmHWM` of `pid` to its current RSS (`clear_refs` 5); false when refused.
pub fn reset_peak_rss(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

// Benches only (memory reports).
#[allow(dead_code)]
/// `/proc/PID/smaps_rollup`, for reports.
pub fn smaps_rollup(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default()
}
