//! Properties against simple models: the histogram against a sorted list, the profiler against
//! per-name sums, the instrumented time split against its definition.

#![cfg(feature = "enabled")]

use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use asyncperf_profiler::histogram::RELATIVE_ERROR;
use asyncperf_profiler::{Histogram, Profiler};
use proptest::prelude::*;

/// Values spread over every scale the histogram covers (1 ns to ~4.9 h).
fn value() -> impl Strategy<Value = u64> {
    (0u32..44, any::<u64>()).prop_map(|(exp, bits)| {
        let top = 1u64 << exp;
        top | (bits & (top - 1))
    })
}

/// The exact `q`-quantile as the histogram defines it: rank `ceil(q * n)`, at least 1.
fn exact_quantile(sorted: &[u64], q: f64) -> u64 {
    let n = sorted.len();
    let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
    sorted[rank - 1]
}

fn close(got: u64, exact: u64) -> bool {
    (got as f64 - exact as f64).abs() <= exact as f64 * RELATIVE_ERROR
}

const QUANTILES: [f64; 7] = [0.0, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn quantiles_are_within_the_stated_error(mut values in prop::collection::vec(value(), 1..400)) {
        let mut h = Histogram::new();
        for &v in &values {
            h.record(v);
        }
        values.sort_unstable();
        prop_assert_eq!(h.count(), values.len() as u64);
        for q in QUANTILES {
            let exact = exact_quantile(&values, q);
            let got = h.quantile(q).unwrap();
            prop_assert!(close(got, exact), "q={} got {} exact {}", q, got, exact);
        }
    }

    #[test]
    fn merge_is_recording_both(a in prop::collection::vec(value(), 0..100), b in prop::collection::vec(value(), 0..100)) {
        let record = |vs: &[u64]| {
            let mut h = Histogram::new();
            vs.iter().for_each(|&v| h.record(v));
            h
        };
        let (ha, hb) = (record(&a), record(&b));
        let mut merged = ha.clone();
        merged.merge(&hb);
        let both: Vec<u64> = a.iter().chain(&b).copied().collect();
        prop_assert_eq!(&merged, &record(&both));
        prop_assert_eq!(merged.since(&ha), hb);
    }

    #[test]
    fn profiler_matches_per_name_sums(
        ops in prop::collection::vec((0usize..4, 0u64..10_000_000, 0usize..3), 1..300)
    ) {
        const NAMES: [&str; 4] = ["a", "b", "c", "d"];
        let prof = Profiler::new();
        // Records from up to three threads, so the report merges shards.
        let mut per_thread: Vec<Vec<(usize, u64)>> = vec![Vec::new(); 3];
        for &(name, ns, thread) in &ops {
            per_thread[thread].push((name, ns));
        }
        std::thread::scope(|s| {
            for work in &per_thread {
                let prof = prof.clone();
                s.spawn(move || {
                    for &(name, ns) in work {
                        prof.record(NAMES[name], Duration::from_nanos(ns));
                    }
                });
            }
        });
        let report = prof.report();
        for (i, name) in NAMES.iter().enumerate() {
            let mut model: Vec<u64> = ops.iter().filter(|o| o.0 == i).map(|o| o.1).collect();
            let Some(e) = report.get(name) else {
                prop_assert!(model.is_empty());
                continue;
            };
            model.sort_unstable();
            prop_assert_eq!(e.count, model.len() as u64);
            prop_assert_eq!(e.total_ns, model.iter().sum::<u64>());
            prop_assert_eq!(e.min_ns, model[0]);
            prop_assert_eq!(e.max_ns, *model.last().unwrap());
            for (q, got) in [(0.5, e.p50_ns), (0.9, e.p90_ns), (0.99, e.p99_ns), (0.999, e.p999_ns)] {
                let exact = exact_quantile(&model, q);
                prop_assert!(close(got, exact), "{} q={} got {} exact {}", name, q, got, exact);
            }
        }
    }
}

/// Follows a script: `true` = wake itself and stay pending, `false` = stay pending without
/// a wake; ready when the script ends.
struct Scripted(Vec<bool>);

impl Future for Scripted {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.0.pop() {
            None => Poll::Ready(()),
            Some(wake) => {
                if wake {
                    cx.waker().wake_by_ref();
                }
                Poll::Pending
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn wall_is_busy_plus_scheduled_plus_idle(script in prop::collection::vec(any::<bool>(), 0..50)) {
        let prof = Profiler::new();
        let polls = script.len() as u64 + 1;
        let mut cx = Context::from_waker(Waker::noop());
        let mut fut = pin!(prof.instrument("scripted", Scripted(script)));
        while fut.as_mut().poll(&mut cx).is_pending() {}
        let e = prof.report().get("scripted").cloned().unwrap();
        let f = e.futures.unwrap();
        prop_assert_eq!(f.polls, polls);
        prop_assert_eq!(f.wall_ns, f.busy_ns + f.scheduled_ns + f.idle_ns);
        prop_assert_eq!(e.total_ns, f.wall_ns);
        prop_assert!(f.max_poll_ns <= f.busy_ns);
    }
}
