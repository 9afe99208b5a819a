//! Cost of one measurement, ours beside hdrhistogram, tokio-metrics, `tracing` spans with a
//! timing layer and `metrics` histograms.
//!
//! - `record`: a duration already measured goes into a histogram (no clock read).
//! - `guard`: a scope guard: two clock reads and a record.
//! - `poll`: one poll of a self-waking future through each wrapper (the shape of
//!   tokio-metrics' own `benches/poll_overhead.rs`); `baseline-uninstrumented` is the bare poll, so a
//!   wrapper's per-poll overhead is its time minus that one.
//! - `contended/2-threads`: two threads record into the same name at once; time per record.

use std::cell::RefCell;
use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::sync::{Arc, Barrier};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use asyncperf_profiler::Profiler;
use asyncperf_testkit::bench::OURS;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use metrics_util::storage::AtomicBucket;
use tracing_subscriber::layer::SubscriberExt as _;

const SAMPLE: Duration = Duration::from_nanos(12_345);

fn hdr() -> hdrhistogram::Histogram<u64> {
    hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid bounds")
}

fn record(c: &mut Criterion) {
    let mut g = c.benchmark_group("record");
    g.throughput(Throughput::Elements(1));

    let prof = Profiler::new();
    let probe = prof.probe("record");
    g.bench_function(OURS, |b| b.iter(|| probe.record(black_box(SAMPLE))));

    let mut h = hdr();
    g.bench_function("hdrhistogram", |b| {
        b.iter(|| h.saturating_record(black_box(SAMPLE).as_nanos() as u64));
    });

    let bucket = Arc::new(AtomicBucket::<f64>::new());
    let m = metrics::Histogram::from_arc(Arc::clone(&bucket));
    g.bench_function("metrics", |b| {
        b.iter_custom(|iters| {
            // The exporter drains the bucket at each scrape; do the same between samples so
            // memory stays bounded.
            bucket.clear();
            let start = Instant::now();
            for _ in 0..iters {
                m.record(black_box(SAMPLE).as_secs_f64());
            }
            start.elapsed()
        });
    });
    g.finish();
}

/// A minimal timing layer: span creation to close, into a thread-local hdrhistogram.
struct TimingLayer;

struct Started(Instant);

thread_local! {
    static SPAN_TIMES: RefCell<hdrhistogram::Histogram<u64>> = RefCell::new(hdr());
}

impl<S> tracing_subscriber::Layer<S> for TimingLayer
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        _: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Started(Instant::now()));
        }
    }

    fn on_close(&self, id: tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
        if let Some(span) = ctx.span(&id)
            && let Some(started) = span.extensions().get::<Started>()
        {
            let ns = started.0.elapsed().as_nanos() as u64;
            SPAN_TIMES.with(|h| h.borrow_mut().saturating_record(ns));
        }
    }
}

/// A timing layer for busy time: enter to exit of every poll, into a thread-local histogram.
struct PollTimingLayer;

struct Entered(Option<Instant>);

impl<S> tracing_subscriber::Layer<S> for PollTimingLayer
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        _: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Entered(None));
        }
    }

    fn on_enter(&self, id: &tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(e) = span.extensions_mut().get_mut::<Entered>()
        {
            e.0 = Some(Instant::now());
        }
    }

    fn on_exit(&self, id: &tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(e) = span.extensions_mut().get_mut::<Entered>()
            && let Some(at) = e.0.take()
        {
            let ns = at.elapsed().as_nanos() as u64;
            SPAN_TIMES.with(|h| h.borrow_mut().saturating_record(ns));
        }
    }
}

fn guard(c: &mut Criterion) {
    let mut g = c.benchmark_group("guard");
    g.throughput(Throughput::Elements(1));

    let prof = Profiler::new();
    g.bench_function(OURS, |b| {
        b.iter(|| {
            let _span = black_box(prof.span("guard"));
        });
    });

    let mut h = hdr();
    g.bench_function("hdrhistogram", |b| {
        b.iter(|| {
            let start = black_box(Instant::now());
            h.saturating_record(start.elapsed().as_nanos() as u64);
        });
    });

    let bucket = Arc::new(AtomicBucket::<f64>::new());
    let m = metrics::Histogram::from_arc(Arc::clone(&bucket));
    g.bench_function("metrics", |b| {
        b.iter_custom(|iters| {
            bucket.clear();
            let begin = Instant::now();
            for _ in 0..iters {
                let start = black_box(Instant::now());
                m.record(start.elapsed().as_secs_f64());
            }
            begin.elapsed()
        });
    });

    let subscriber = tracing_subscriber::registry().with(TimingLayer);
    tracing::subscriber::with_default(subscriber, || {
        g.bench_function("tracing", |b| {
            b.iter(|| {
                let _span = black_box(tracing::info_span!("guard").entered());
            });
        });
    });
    g.finish();
}

/// Wakes itself and stays pending: every poll is a full round through the wrapper.
struct SelfWaking;

impl Future for SelfWaking {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

fn poll_n<F: Future>(fut: F, iters: u64) -> Duration {
    let mut cx = Context::from_waker(Waker::noop());
    let mut fut = std::pin::pin!(fut);
    let start = Instant::now();
    for _ in 0..iters {
        let _ = black_box(fut.as_mut().poll(&mut cx));
    }
    start.elapsed()
}

fn poll(c: &mut Criterion) {
    let mut g = c.benchmark_group("poll");
    g.throughput(Throughput::Elements(1));

    let prof = Profiler::new();
    g.bench_function(OURS, |b| {
        b.iter_custom(|iters| poll_n(prof.instrument("poll", SelfWaking), iters));
    });

    let monitor = tokio_metrics::TaskMonitor::new();
    g.bench_function("tokio-metrics", |b| {
        b.iter_custom(|iters| poll_n(monitor.instrument(SelfWaking), iters));
    });

    let subscriber = tracing_subscriber::registry().with(PollTimingLayer);
    tracing::subscriber::with_default(subscriber, || {
        g.bench_function("tracing", |b| {
            b.iter_custom(|iters| {
                // Fully qualified: `tracing::Instrument` is implemented for every type, so as
                // a method it would shadow the inherent `instrument` of our profiler.
                let fut = tracing::Instrument::instrument(SelfWaking, tracing::info_span!("poll"));
                poll_n(fut, iters)
            });
        });
    });

    g.bench_function("baseline-uninstrumented", |b| {
        b.iter_custom(|iters| poll_n(SelfWaking, iters));
    });
    g.finish();
}

/// Runs `per_thread(iters)` on two threads started together; the mean of their times.
fn two_threads<S: Send + 'static>(
    iters: u64,
    setup: impl Fn() -> S,
    per_thread: fn(&S, u64),
) -> Duration {
    let barrier = Arc::new(Barrier::new(2));
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let state = setup();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                let start = Instant::now();
                per_thread(&state, iters);
                start.elapsed()
            })
        })
        .collect();
    let total: Duration = handles
        .into_iter()
        .map(|h| h.join().expect("bench thread"))
        .sum();
    total / 2
}

fn contended(c: &mut Criterion) {
    let mut g = c.benchmark_group("contended/2-threads");
    g.throughput(Throughput::Elements(1));

    let prof = Profiler::new();
    let probe = prof.probe("contended");
    g.bench_function(OURS, |b| {
        b.iter_custom(|iters| {
            two_threads(
                iters,
                || probe.clone(),
                |p, n| {
                    for _ in 0..n {
                        p.record(black_box(SAMPLE));
                    }
                },
            )
        });
    });

    let mut shared = hdr().into_sync();
    g.bench_function("hdrhistogram", |b| {
        b.iter_custom(|iters| {
            let took = two_threads(
                iters,
                || shared.recorder(),
                |r, n| {
                    // A `Recorder` needs `&mut`; the closure gets `&`, so each thread clones its
                    // own (what `SyncHistogram` users do: one recorder per thread).
                    let mut r = r.clone();
                    for _ in 0..n {
                        r.saturating_record(black_box(SAMPLE).as_nanos() as u64);
                    }
                },
            );
            shared.refresh();
            took
        });
    });

    let bucket = Arc::new(AtomicBucket::<f64>::new());
    g.bench_function("metrics", |b| {
        b.iter_custom(|iters| {
            bucket.clear();
            two_threads(
                iters,
                || metrics::Histogram::from_arc(Arc::clone(&bucket)),
                |m, n| {
                    for _ in 0..n {
                        m.record(black_box(SAMPLE).as_secs_f64());
                    }
                },
            )
        });
    });
    g.finish();
}

criterion_group!(benches, record, guard, poll, contended);
criterion_main!(benches);
