//! Built without the `enabled` feature, every measurement is a no-op and reports are empty.
//!
//! Runs with `cargo test -p asyncperf-profiler --no-default-features` (every other test and
//! doctest of the crate also passes in that build).

#![cfg(not(feature = "enabled"))]

use std::time::Duration;

use asyncperf_profiler::Profiler;

#[test]
fn nothing_is_recorded() {
    let prof = Profiler::new();
    assert!(!prof.is_enabled());
    prof.set_enabled(true);
    assert!(!prof.is_enabled(), "the run-time switch cannot turn it on");
    prof.record("x", Duration::from_millis(1));
    prof.probe("y").record(Duration::from_millis(1));
    {
        let _span = prof.span("z");
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let v = rt.block_on(async {
        let a = prof.time("t", async { 1 }).await;
        let b = prof.instrument("i", async { 2 }).await;
        let c = asyncperf_profiler::timed("timed", async { 3 }).await;
        a + b + c
    });
    assert_eq!(v, 6);
    assert!(prof.report().entries.is_empty());
    assert!(asyncperf_profiler::report().entries.is_empty());
    assert_eq!(prof.report().to_prometheus(), "");
}
