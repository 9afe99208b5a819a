//! Checks that every enabled feature exposes its pattern crate under the facade.

#[cfg(feature = "profiler")]
#[test]
fn profiler() {
    let prof = asyncperf::profiler::Profiler::new();
    prof.record("x", std::time::Duration::from_millis(1));
    assert_eq!(prof.report().get("x").map(|e| e.count), Some(1));
}
