//! Instruments a small service-like workload on a multi-thread runtime and prints the report
//! in all three formats.
//!
//! `cargo run -p asyncperf-profiler --example report`

use std::time::Duration;

use asyncperf_profiler::{Profiler, SortBy};

async fn handle(prof: Profiler, id: u64) {
    // Awaiting I/O: idle time.
    prof.time(
        "db.query",
        tokio::time::sleep(Duration::from_millis(2 + id % 5)),
    )
    .await;
    // CPU work inside the poll: busy time.
    let _span = prof.span("render");
    let mut acc = 0u64;
    for i in 0..20_000 * (1 + id % 3) {
        acc = acc.wrapping_mul(31).wrapping_add(i);
    }
    std::hint::black_box(acc);
}

#[tokio::main]
async fn main() {
    let prof = Profiler::new();
    let tasks: Vec<_> = (0..200)
        .map(|id| tokio::spawn(prof.instrument("handle", handle(prof.clone(), id))))
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
    // Dropped before completion: counted as cancelled, kept out of the histogram.
    let _ = tokio::time::timeout(
        Duration::from_millis(1),
        prof.instrument("handle", tokio::time::sleep(Duration::from_secs(1))),
    )
    .await;

    let report = prof.report();
    println!("{}", report.clone().sorted(SortBy::P99));
    println!("{}\n", report.to_json());
    print!("{}", report.to_prometheus());
}
