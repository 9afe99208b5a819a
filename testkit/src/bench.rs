//! The conventions `cargo xtask bench` reads from a bench's output.
//!
//! Criterion results are read from criterion's own files; the naming convention is
//! `benchmark_group(<scenario>)` with function id [`OURS`] for our implementation and the peer's
//! crate name for each peer (`BenchmarkId::new("moka", 16)` adds a parameter to the scenario).
//!
//! What criterion cannot carry goes to stdout as one line each:
//! - [`skip`] prints `skipped: <reason>` (a scenario that needs an absent server),
//! - [`note`] prints `asyncperf-note: <text>` (a count or a finding the report should show,
//!   e.g. connections opened), copied verbatim into the report under the crate's table.

use std::time::Duration;

/// Function id of asyncperf's own implementation in every bench group.
pub const OURS: &str = "asyncperf";

/// Set by `cargo xtask bench --quick`; benches with their own durations should shorten them.
pub const QUICK_VAR: &str = "ASYNCPERF_BENCH_QUICK";

/// True under `cargo xtask bench --quick`.
#[must_use]
pub fn quick() -> bool {
    std::env::var(QUICK_VAR).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// `full` normally, `quick` under `cargo xtask bench --quick`.
#[must_use]
pub fn pick<T>(full: T, quick: T) -> T {
    if self::quick() { quick } else { full }
}

/// A duration for bench-internal loops (e.g. a load generator): `full`, or a tenth under
/// `--quick` (at least 50 ms).
#[must_use]
pub fn duration(full: Duration) -> Duration {
    if quick() {
        (full / 10).max(Duration::from_millis(50))
    } else {
        full
    }
}

/// Prints a line `cargo xtask bench` copies into the report, under this crate's table.
#[allow(clippy::print_stdout)]
pub fn note(text: impl std::fmt::Display) {
    println!("asyncperf-note: {text}");
}

/// Prints the line that tells `cargo xtask bench` a scenario was skipped, and why.
#[allow(clippy::print_stdout)]
pub fn skip(reason: impl std::fmt::Display) {
    println!("skipped: {reason}");
}

/// TCP sockets in TIME_WAIT on this machine (Linux `/proc/net/sockstat`), if known.
#[must_use]
pub fn sockets_in_time_wait() -> Option<u64> {
    time_wait_in(&std::fs::read_to_string("/proc/net/sockstat").ok()?)
}

/// The `tw` count of the `TCP:` line of a `/proc/net/sockstat` text.
fn time_wait_in(sockstat: &str) -> Option<u64> {
    let tcp = sockstat.lines().find(|l| l.starts_with("TCP:"))?;
    let mut fields = tcp.split_whitespace();
    fields.find(|&f| f == "tw")?;
    fields.next()?.parse().ok()
}

/// Waits (at most `max`) until fewer than 1000 TCP sockets are in TIME_WAIT.
///
/// A bench that opens and closes many connections (pools' HTTP bench) leaves them behind for
/// the kernel to reap over the next minute. In our runs the bench binary started right after
/// it measured its first implementation about 20% slower than the same binary started on a
/// quiet machine; waiting for them to drain removes that penalty for whoever is measured
/// first. Returns how many there were when the wait began.
pub fn settle_sockets(max: Duration) -> Option<u64> {
    const QUIET: u64 = 1000;
    let before = sockets_in_time_wait()?;
    let until = std::time::Instant::now() + max;
    while sockets_in_time_wait().is_some_and(|tw| tw >= QUIET) && std::time::Instant::now() < until
    {
        std::thread::sleep(Duration::from_millis(500));
    }
    Some(before)
}

#[cfg(test)]
mod tests {
    use super::time_wait_in;

    #[test]
    fn reads_the_tcp_time_wait_count() {
        let stat =
            "sockets: used 120\nTCP: inuse 5 orphan 0 tw 1378 alloc 8 mem 1\nUDP: inuse 2 mem 0\n";
        assert_eq!(time_wait_in(stat), Some(1378));
        assert_eq!(time_wait_in("UDP: inuse 2 mem 0\n"), None);
        assert_eq!(time_wait_in("TCP: inuse 5 orphan 0\n"), None);
    }
}
