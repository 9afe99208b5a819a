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
