//! Behaviour of the public API: what gets recorded, where, and what a report shows.

#![cfg(feature = "enabled")]

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use asyncperf_profiler::{
    NAME_CAPACITY, OVERFLOW_NAME, Profiler, ProfilerError, SortBy, report::ReportKind,
};

const MS: Duration = Duration::from_millis(1);

#[test]
fn record_and_span_aggregate_per_name() {
    let prof = Profiler::new();
    for ms in [1, 2, 3, 4] {
        prof.record("db", MS * ms);
    }
    prof.record("cache", MS * 10);
    {
        let _span = prof.span("parse");
    }
    let r = prof.report();
    assert_eq!(r.kind, ReportKind::Cumulative);
    let db = r.get("db").unwrap();
    assert_eq!(db.count, 4);
    assert_eq!(db.total(), MS * 10);
    assert_eq!(db.mean(), Duration::from_micros(2500));
    assert_eq!(db.min_ns, 1_000_000);
    assert_eq!(db.max(), MS * 4);
    assert!(db.futures.is_none());
    assert_eq!(r.get("parse").unwrap().count, 1);
    // Sorted by total, largest first; ties by name.
    let names: Vec<&str> = r.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(&names[..2], &["cache", "db"]);
    assert!(r.get(OVERFLOW_NAME).is_none(), "unused names are left out");
}

#[test]
fn sort_orders() {
    let prof = Profiler::new();
    prof.record("a", MS * 5);
    for _ in 0..3 {
        prof.record("b", MS);
    }
    prof.record("c", MS * 2);
    let names = |key| {
        prof.report()
            .sorted(key)
            .entries
            .iter()
            .map(|e| e.name.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(SortBy::Total), ["a", "b", "c"]);
    assert_eq!(names(SortBy::Count), ["b", "a", "c"]);
    assert_eq!(names(SortBy::Max), ["a", "c", "b"]);
    assert_eq!(names(SortBy::Name), ["a", "b", "c"]);
    assert_eq!(names(SortBy::Mean), ["a", "c", "b"]);
}

#[test]
fn probes_share_entries_with_static_names() {
    let prof = Profiler::new();
    let dynamic = String::from("fetch");
    prof.probe(&dynamic).record(MS);
    prof.record("fetch", MS);
    let p = prof.probe("fetch");
    assert_eq!(&*p.name(), "fetch");
    {
        let _s = p.span();
    }
    assert_eq!(prof.report().get("fetch").unwrap().count, 3);
}

#[test]
fn clones_and_threads_record_into_one_profiler() {
    let prof = Profiler::new();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let prof = prof.clone();
            std::thread::spawn(move || {
                for _ in 0..1000 {
                    prof.record("shared", MS);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let e = prof.report().get("shared").cloned().unwrap();
    assert_eq!(e.count, 4000);
    assert_eq!(e.total(), MS * 4000);
    assert_eq!(e.histogram.count(), 4000);
}

#[test]
fn separate_profilers_do_not_mix() {
    let a = Profiler::new();
    let b = Profiler::new();
    a.record("x", MS);
    b.record("x", MS);
    b.record("x", MS);
    assert_eq!(a.report().get("x").unwrap().count, 1);
    assert_eq!(b.report().get("x").unwrap().count, 2);
}

#[test]
fn runtime_switch_stops_and_resumes_recording() {
    let prof = Profiler::new();
    prof.set_enabled(false);
    assert!(!prof.is_enabled());
    prof.record("off", MS);
    let span = prof.span("off");
    prof.set_enabled(true);
    drop(span); // started while off: not recorded
    assert!(prof.report().get("off").is_none());
    prof.record("on", MS);
    assert_eq!(prof.report().get("on").unwrap().count, 1);

    let off = Profiler::builder().enabled(false).build();
    off.record("x", MS);
    assert!(off.report().entries.is_empty());
}

#[test]
fn span_finish_and_discard() {
    let prof = Profiler::new();
    let took = prof.span("f").finish().unwrap();
    prof.span("d").discard();
    let r = prof.report();
    assert_eq!(r.get("f").unwrap().total(), took);
    assert!(r.get("d").is_none());
}

#[test]
fn too_many_names_is_a_typed_error_and_overflow_collects_them() {
    let prof = Profiler::new();
    // The overflow entry takes one of the ids.
    for i in 0..NAME_CAPACITY - 1 {
        prof.try_probe(&format!("n{i}")).unwrap();
    }
    assert_eq!(
        prof.try_probe("one more").unwrap_err(),
        ProfilerError::TooManyNames {
            capacity: NAME_CAPACITY
        }
    );
    // Existing names still resolve; new ones go to the overflow entry.
    prof.try_probe("n0").unwrap().record(MS);
    prof.probe("one more").record(MS);
    prof.record("static one more", MS);
    let r = prof.report();
    assert_eq!(r.get("n0").unwrap().count, 1);
    assert_eq!(r.get(OVERFLOW_NAME).unwrap().count, 2);
}

#[test]
fn delta_reports_intervals() {
    let prof = Profiler::new();
    prof.record("x", MS);
    prof.record("x", MS * 3);
    let first = prof.delta();
    assert_eq!(first.kind, ReportKind::Delta);
    assert_eq!(first.get("x").unwrap().count, 2);
    assert!(prof.delta().entries.is_empty(), "nothing new");
    prof.record("x", MS * 2);
    let third = prof.delta();
    let x = third.get("x").unwrap();
    assert_eq!(x.count, 1);
    assert_eq!(x.total(), MS * 2);
    // Interval min/max come from the histogram, within its error.
    let err = asyncperf_profiler::histogram::RELATIVE_ERROR * 2.0;
    for v in [x.min_ns, x.max_ns] {
        assert!((v as f64 - 2e6).abs() <= 2e6 * err, "{v}");
    }
    // The cumulative report is unaffected.
    assert_eq!(prof.report().get("x").unwrap().count, 3);
}

#[test]
fn timed_line_matches_the_reference() {
    assert_eq!(
        asyncperf_profiler::timed_line("fetch_all", Duration::from_millis(123)),
        "fetch_all: 0.123s"
    );
    assert_eq!(
        asyncperf_profiler::timed_line("x", Duration::from_micros(1_999_600)),
        "x: 2.000s"
    );
}

#[tokio::test]
async fn global_functions_record_into_the_global_profiler() {
    let v = asyncperf_profiler::time("global.time", async { 1 }).await;
    let w = asyncperf_profiler::instrument("global.instrument", async { 2 }).await;
    let x = asyncperf_profiler::timed("global.timed", async { 3 }).await;
    {
        let _s = asyncperf_profiler::span("global.span");
    }
    assert_eq!((v, w, x), (1, 2, 3));
    let r = asyncperf_profiler::report();
    for name in [
        "global.time",
        "global.instrument",
        "global.timed",
        "global.span",
    ] {
        assert_eq!(r.get(name).map(|e| e.count), Some(1), "{name}");
    }
    assert!(std::ptr::eq(
        asyncperf_profiler::global(),
        asyncperf_profiler::global()
    ));
}

/// Pending until `ready` is set; keeps the last waker so the test can wake it.
#[derive(Default)]
struct Gate {
    ready: std::sync::atomic::AtomicBool,
    waker: std::sync::Mutex<Option<Waker>>,
}

impl Gate {
    fn open(&self) {
        self.ready.store(true, Ordering::SeqCst);
        if let Some(w) = self.waker.lock().unwrap().take() {
            w.wake();
        }
    }
}

struct WaitGate(Arc<Gate>);

impl Future for WaitGate {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0.ready.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        *self.0.waker.lock().unwrap() = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// Counts wakes of the task.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn instrument_splits_idle_scheduled_busy() {
    let prof = Profiler::new();
    let gate = Arc::new(Gate::default());
    let task = Arc::new(CountingWaker::default());
    let waker = Waker::from(Arc::clone(&task));
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(prof.instrument("gate", WaitGate(Arc::clone(&gate))));

    assert!(fut.as_mut().poll(&mut cx).is_pending());
    std::thread::sleep(MS * 20); // idle: pending, not woken
    gate.open(); // the wrapped waker notes the time and wakes the task
    assert_eq!(
        task.0.load(Ordering::SeqCst),
        1,
        "the task's waker is woken"
    );
    std::thread::sleep(MS * 20); // scheduled: woken, not polled
    assert!(fut.as_mut().poll(&mut cx).is_ready());

    let r = prof.report();
    let e = r.get("gate").unwrap();
    let f = e.futures.unwrap();
    assert_eq!(e.count, 1);
    assert_eq!(f.completed, 1);
    assert_eq!(f.polls, 2);
    assert!(f.idle() >= MS * 20, "{f:?}");
    assert!(f.scheduled() >= MS * 20, "{f:?}");
    assert_eq!(f.wall_ns, f.busy_ns + f.scheduled_ns + f.idle_ns);
    assert_eq!(e.total_ns, f.wall_ns);
    assert!(f.max_poll_ns <= f.busy_ns);
    assert_eq!(e.cancelled.count, 0);
}

#[test]
fn a_poll_without_a_wake_counts_the_gap_as_idle() {
    let prof = Profiler::new();
    let gate = Arc::new(Gate::default());
    let mut cx = Context::from_waker(Waker::noop());
    let mut fut = pin!(prof.instrument("spurious", WaitGate(Arc::clone(&gate))));
    assert!(fut.as_mut().poll(&mut cx).is_pending());
    std::thread::sleep(MS * 10);
    gate.ready.store(true, Ordering::SeqCst); // ready, but nobody woke the future
    assert!(fut.as_mut().poll(&mut cx).is_ready());
    let f = prof.report().get("spurious").unwrap().futures.unwrap();
    assert_eq!(f.scheduled_ns, 0);
    assert!(f.idle() >= MS * 10);
}

#[test]
fn slow_polls_use_the_threshold() {
    let prof = Profiler::builder().slow_poll_threshold(MS * 5).build();
    let mut cx = Context::from_waker(Waker::noop());
    let mut n = 0;
    let mut fut = pin!(prof.instrument(
        "slow",
        std::future::poll_fn(move |cx| {
            n += 1;
            if n == 2 {
                std::thread::sleep(MS * 6);
            }
            if n == 3 {
                Poll::Ready(())
            } else {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        })
    ));
    while fut.as_mut().poll(&mut cx).is_pending() {}
    let f = prof.report().get("slow").unwrap().futures.unwrap();
    assert_eq!(f.polls, 3);
    assert!(f.slow_polls >= 1, "{f:?}");
    assert!(f.max_poll() >= MS * 6);
}

#[test]
fn dropped_futures_count_as_cancelled_not_completed() {
    let prof = Profiler::new();
    let gate = Arc::new(Gate::default());
    let mut cx = Context::from_waker(Waker::noop());
    {
        let mut fut = Box::pin(prof.instrument("cancel", WaitGate(Arc::clone(&gate))));
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        std::thread::sleep(MS * 5);
    }
    drop(prof.instrument("cancel", WaitGate(Arc::clone(&gate)))); // never polled
    {
        let mut fut = Box::pin(prof.time("cancel", WaitGate(Arc::clone(&gate))));
        assert!(fut.as_mut().poll(&mut cx).is_pending());
    }
    // The kept waker outlives the dropped future; waking it is harmless.
    gate.open();

    let r = prof.report();
    let e = r.get("cancel").unwrap();
    assert_eq!(e.count, 0);
    assert!(e.futures.is_none());
    assert_eq!(e.cancelled.count, 3);
    assert!(e.cancelled.wall_ns >= 5_000_000);
    assert!(e.histogram.is_empty());
}

#[test]
fn waker_changes_are_followed() {
    // A future moved between tasks (a different waker each poll) still wakes the right one.
    let prof = Profiler::new();
    let gate = Arc::new(Gate::default());
    let (a, b) = (
        Arc::new(CountingWaker::default()),
        Arc::new(CountingWaker::default()),
    );
    let (wa, wb) = (Waker::from(Arc::clone(&a)), Waker::from(Arc::clone(&b)));
    let mut fut = pin!(prof.instrument("moved", WaitGate(Arc::clone(&gate))));
    assert!(
        fut.as_mut()
            .poll(&mut Context::from_waker(&wa))
            .is_pending()
    );
    assert!(
        fut.as_mut()
            .poll(&mut Context::from_waker(&wb))
            .is_pending()
    );
    gate.open();
    assert_eq!(a.0.load(Ordering::SeqCst), 0);
    assert_eq!(b.0.load(Ordering::SeqCst), 1);
    assert!(fut.as_mut().poll(&mut Context::from_waker(&wb)).is_ready());
    assert_eq!(
        prof.report().get("moved").unwrap().futures.unwrap().polls,
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instrumented_tasks_on_a_multi_thread_runtime() {
    let prof = Profiler::new();
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let prof = prof.clone();
            tokio::spawn(prof.clone().instrument("task", async move {
                for _ in 0..i % 5 {
                    tokio::task::yield_now().await;
                }
                prof.record("inner", MS);
            }))
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let r = prof.report();
    let task = r.get("task").unwrap();
    assert_eq!(task.count, 50);
    let f = task.futures.unwrap();
    assert_eq!(f.completed, 50);
    // Each task polls once more than it yields: 50 + (0+1+2+3+4) * 10.
    assert_eq!(f.polls, 150);
    assert_eq!(f.wall_ns, f.busy_ns + f.scheduled_ns + f.idle_ns);
    assert_eq!(r.get("inner").unwrap().count, 50);
}

#[test]
fn the_task_waker_is_released_when_the_future_ends() {
    // The wrapped waker's cell goes back to a per-thread pool; it must not keep the task's
    // waker (and so the task) alive.
    let prof = Profiler::new();
    let task = Arc::new(CountingWaker::default());
    let waker = Waker::from(Arc::clone(&task));
    let mut cx = Context::from_waker(&waker);
    let gate = Arc::new(Gate::default());
    {
        let mut fut = pin!(prof.instrument("released", WaitGate(Arc::clone(&gate))));
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        gate.open(); // drops the clone the gate kept
        assert!(fut.as_mut().poll(&mut cx).is_ready());
    }
    {
        // Cancelled after one poll, its waker still held by the gate.
        let gate = Arc::new(Gate::default());
        let mut fut = pin!(prof.instrument("released", WaitGate(Arc::clone(&gate))));
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        drop(gate);
    }
    drop(waker);
    assert_eq!(Arc::strong_count(&task), 1);
}

#[test]
fn reports_taken_while_recording_never_go_backwards_and_miss_nothing() {
    const RECORDS: u64 = 200_000;
    let prof = Profiler::new();
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let recorders: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    for _ in 0..RECORDS {
                        prof.record("busy", Duration::from_nanos(100));
                    }
                })
            })
            .collect();
        s.spawn(|| {
            let mut last = 0;
            while !done.load(Ordering::SeqCst) {
                let count = prof.report().get("busy").map_or(0, |e| e.count);
                assert!(count >= last, "{count} < {last}");
                last = count;
            }
        });
        for r in recorders {
            r.join().unwrap();
        }
        done.store(true, Ordering::SeqCst);
    });
    let e = prof.report().get("busy").cloned().unwrap();
    assert_eq!(e.count, 2 * RECORDS);
    assert_eq!(e.histogram.count(), 2 * RECORDS);
    assert_eq!(e.total_ns, 2 * RECORDS * 100);
}

#[test]
fn entries_from_a_histogram_built_elsewhere() {
    use asyncperf_profiler::Histogram;
    use asyncperf_profiler::report::Entry;

    let mut h = Histogram::new();
    for ns in [1_000u64, 2_000, 3_000, 1_000_000] {
        h.record(ns);
    }
    let e = Entry::from_histogram("imported", h);
    assert_eq!(e.count, 4);
    assert!(e.min_ns <= 1_000 && e.max_ns >= 1_000_000, "{e:?}");
    assert!(e.futures.is_none());

    // Counts come from the caller: huge ones saturate instead of overflowing.
    let mut huge = Histogram::new();
    huge.record_n(10, u64::MAX);
    huge.record_n(1_000, u64::MAX);
    let e = Entry::from_histogram("huge", huge);
    assert_eq!(e.count, u64::MAX);
    assert_eq!(e.total_ns, u64::MAX);
}
