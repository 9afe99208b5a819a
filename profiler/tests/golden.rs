//! The three report formats, byte for byte, against files in `tests/golden/`.
//!
//! After an intended format change, regenerate with
//! `UPDATE_GOLDEN=1 cargo test -p asyncperf-profiler --all-features --test golden` and review
//! the diff.

#![cfg(feature = "enabled")]

use std::path::PathBuf;
use std::time::Duration;

use asyncperf_profiler::report::{Cancelled, ReportKind};
use asyncperf_profiler::{FutureTiming, Profiler, Report, SortBy};

const MS: Duration = Duration::from_millis(1);
const US: Duration = Duration::from_micros(1);

/// A report with fixed content: plain timings, instrumented futures, a cancellation, and a
/// name that needs escaping in every format.
fn report() -> Report {
    let prof = Profiler::new();
    for ms in [3, 5, 8, 13, 21, 34, 55, 89, 144, 233] {
        prof.record("db.query", MS * ms);
    }
    for us in 1..=100 {
        prof.record("parse", US * us);
    }
    let fetch = prof.probe("http \"fetch\"\n\\");
    for i in 1..=4u32 {
        fetch.record_future(&FutureTiming {
            wall: MS * 10 * i,
            busy: MS * i,
            scheduled: US * 100 * i,
            idle: MS * 10 * i - MS * i - US * 100 * i,
            polls: 3 * u64::from(i),
            slow_polls: u64::from(i / 2),
            max_poll: US * 700 * i,
        });
    }
    fetch.record_cancelled(MS * 7, MS);
    prof.probe("never.completed")
        .record_cancelled(MS * 2, Duration::ZERO);
    // Fixed elapsed time (a live report's is the profiler's age).
    Report::from_entries(
        ReportKind::Cumulative,
        Duration::from_secs(12),
        prof.report().entries,
    )
}

fn check(file: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(file);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    assert!(
        expected == actual,
        "{file} differs from the golden file; got:\n{actual}"
    );
}

#[test]
fn text_table() {
    let r = report();
    check(
        "report.txt",
        &format!("{r}\nsorted by count:\n{}", r.clone().sorted(SortBy::Count)),
    );
}

#[test]
fn json() {
    check("report.json", &format!("{}\n", report().to_json()));
}

#[test]
fn prometheus() {
    check("report.prom", &report().to_prometheus());
}

#[test]
fn cancelled_only_names_are_reported() {
    let r = report();
    let e = r.get("never.completed").unwrap();
    assert_eq!(e.count, 0);
    assert_eq!(e.cancelled, Cancelled::new(1, MS * 2, Duration::ZERO));
}

#[cfg(feature = "serde")]
#[test]
fn serde_matches_to_json_and_round_trips() {
    let r = report();
    let json = r.to_json();
    assert_eq!(serde_json::to_string(&r).unwrap(), json);
    let back: Report = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r);
}

#[test]
fn json_is_valid_json_with_the_schema_version() {
    let v: serde_json::Value = serde_json::from_str(&report().to_json()).unwrap();
    assert_eq!(
        v["schema_version"],
        asyncperf_profiler::report::SCHEMA_VERSION
    );
    assert_eq!(v["entries"][0]["name"], "db.query");
    assert_eq!(v["entries"].as_array().unwrap().len(), 4);
}
