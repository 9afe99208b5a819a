//! Recording allocates nothing after warm-up: 1M records through each hot path.
//!
//! Its own test binary without the libtest harness, because the counting allocator counts every
//! thread: libtest's main thread allocates when it first waits for a test's result, and under
//! load that can fall inside the measured window.

use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use asyncperf_profiler::Profiler;
use asyncperf_testkit::CountingAlloc;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc::new();

const RECORDS: u32 = 1_000_000;
/// Enough for every name of the workload to be used once (futures run `records / 100` times).
const WARM_UP: u32 = 100;

/// Pending once (waking itself), then ready.
struct PendingOnce(bool);

impl Future for PendingOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

fn run_future<F: Future>(fut: F) {
    let mut cx = Context::from_waker(Waker::noop());
    let mut fut = pin!(fut);
    while fut.as_mut().poll(&mut cx).is_pending() {}
}

fn workload(prof: &Profiler, records: u32) {
    let probe = prof.probe("probe");
    for i in 0..records {
        probe.record(Duration::from_nanos(u64::from(i)));
    }
    for _ in 0..records {
        let _span = prof.span("span");
    }
    for i in 0..records {
        prof.record("record", Duration::from_nanos(u64::from(i) * 1000));
    }
    for _ in 0..records / 100 {
        run_future(prof.instrument("instrument", PendingOnce(false)));
        run_future(prof.time("time", PendingOnce(false)));
        // Dropped after one poll: the cancellation path.
        let mut cx = Context::from_waker(Waker::noop());
        let mut fut = pin!(prof.instrument("cancelled", PendingOnce(false)));
        let _ = fut.as_mut().poll(&mut cx);
    }
}

fn main() {
    if cfg!(feature = "enabled") {
        zero_allocations_over_a_million_records_after_warm_up();
        println!("test zero_allocations_over_a_million_records_after_warm_up ... ok");
    } else {
        println!(
            "test zero_allocations_over_a_million_records_after_warm_up ... ignored (no `enabled` feature)"
        );
    }
}

fn zero_allocations_over_a_million_records_after_warm_up() {
    let prof = Profiler::new();
    // Warm-up: each name's first use on this thread creates its slot; the first `instrument`
    // fills the waker-cell pool.
    workload(&prof, WARM_UP);
    let (allocations, ()) = ALLOC.count_allocations(|| workload(&prof, RECORDS));
    assert_eq!(allocations, 0);

    let r = prof.report();
    assert_eq!(r.get("probe").unwrap().count, u64::from(RECORDS + WARM_UP));
    assert_eq!(r.get("span").unwrap().count, u64::from(RECORDS + WARM_UP));
    assert_eq!(
        r.get("instrument").unwrap().futures.unwrap().completed,
        u64::from((RECORDS + WARM_UP) / 100)
    );
    assert_eq!(
        r.get("cancelled").unwrap().cancelled.count,
        u64::from((RECORDS + WARM_UP) / 100)
    );
}
