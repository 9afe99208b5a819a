//! Bounded-concurrency maps, ours (`asyncperf`) beside the usual ways of writing them.
//!
//! Peers, all given the same items, the same work and the same concurrency:
//! - `futures`: `stream::iter(items).map(f).buffer_unordered(c)` / `.buffered(c)`;
//! - `futures-buffered`: `buffered_unordered(c)` / `buffered_ordered(c)`;
//! - `joinset-semaphore`: a tokio `JoinSet` with a `Semaphore` permit taken before each spawn,
//!   reaped as it goes (the bounded-spawn idiom);
//! - `chunked-gather`: the reference this crate replaces, written in Rust: a `Semaphore(c)`
//!   around each item, `join_all` over chunks of 1000, every result kept.
//!
//! Scenarios:
//! - `zero_work_*` (wall time, current-thread runtime): the per-item overhead of each
//!   implementation when the work itself costs nothing (`async move { i }`).
//! - `tail_makespan_*` (simulated time): items sleep a heavy-tailed latency on a paused tokio
//!   clock, from a fixed seed, in two workloads (rows): `pareto` (Pareto, xm = 1 ms,
//!   alpha = 1.5, capped at 5 s, concurrency 64, the research note's workload) and `tail1pct`
//!   (99% uniform in 1..5 ms and 1% at 50 ms, concurrency 100, the example). The
//!   reported time is the *virtual* makespan (tokio `Instant` after minus before on a paused
//!   runtime), returned through `iter_custom`: how long the job would take with those
//!   latencies, not the CPU spent (the `zero_work_*` groups measure that). A paused
//!   current-thread runtime with fixed latencies is deterministic (checked before the groups
//!   run: the same job twice takes the same virtual time), so each implementation is simulated
//!   once and that makespan is reported for every iteration; re-running it would only repeat
//!   the same number at the cost of the wall-time budget. Every implementation runs on the
//!   same kind of fresh paused runtime, with the same latencies in the same order. The
//!   bounded `JoinSet` is left out of these groups: like every sliding window it reaches the
//!   same makespan as `buffer_unordered` (checked when this bench was written), and the
//!   wall-time budget is better spent elsewhere; its cost per item is in `zero_work_*`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use asyncperf_testkit::bench::{OURS, note, pick};
use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group,
    criterion_main,
};
use futures::StreamExt;
use futures_buffered::BufferedStreamExt;
use tokio::runtime::Runtime;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

const CONCURRENCY: usize = 64;
const CHUNK: usize = 1000;

fn current_thread() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime")
}

fn paused_runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime")
}

// ---------------------------------------------------------------------------------------------
// The implementations, each generic over the work so both scenarios share them.

async fn ours_unordered<F, Fut>(n: usize, c: usize, work: F) -> u64
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = u64>,
{
    let mut s = asyncperf_limiter::map_unordered(0..n, c, work);
    let mut acc: u64 = 0;
    while let Some(x) = s.next().await {
        acc += x;
    }
    acc
}

async fn ours_ordered<F, Fut>(n: usize, c: usize, work: F) -> u64
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = u64>,
{
    let mut s = asyncperf_limiter::map_ordered(0..n, c, work);
    let mut acc: u64 = 0;
    while let Some(x) = s.next().await {
        acc = acc.wrapping_mul(31).wrapping_add(x);
    }
    acc
}

async fn futures_unordered<F, Fut>(n: usize, c: usize, work: F) -> u64
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = u64>,
{
    let mut s = futures::stream::iter(0..n).map(work).buffer_unordered(c);
    let mut acc: u64 = 0;
    while let Some(x) = s.next().await {
        acc += x;
    }
    acc
}

async fn futures_ordered<F, Fut>(n: usize, c: usize, work: F) -> u64
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = u64>,
{
    let mut s = futures::stream::iter(0..n).map(work).buffered(c);
    let mut acc: u64 = 0;
    while let Some(x) = s.next().await {
        acc = acc.wrapping_mul(31).wrapping_add(x);
    }
    acc
}

async fn fb_unordered<F, Fut>(n: usize, c: usize, work: F) -> u64
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = u64>,
{
    let mut s = futures::stream::iter(0..n).map(work).buffered_unordered(c);
    let mut acc: u64 = 0;
    while let Some(x) = s.next().await {
        acc += x;
    }
    acc
}

async fn fb_ordered<F, Fut>(n: usize, c: usize, work: F) -> u64
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = u64>,
{
    let mut s = futures::stream::iter(0..n).map(work).buffered_ordered(c);
    let mut acc: u64 = 0;
    while let Some(x) = s.next().await {
        acc = acc.wrapping_mul(31).wrapping_add(x);
    }
    acc
}

async fn joinset_semaphore<F, Fut>(n: usize, c: usize, mut work: F) -> u64
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = u64> + Send + 'static,
{
    let semaphore = Arc::new(Semaphore::new(c));
    let mut set = JoinSet::new();
    let mut acc: u64 = 0;
    for i in 0..n {
        let permit = Arc::clone(&semaphore)
            .acquire_owned()
            .await
            .expect("never closed");
        let fut = work(i);
        set.spawn(async move {
            let out = fut.await;
            drop(permit);
            out
        });
        while let Some(done) = set.try_join_next() {
            acc += done.expect("no panics");
        }
    }
    while let Some(done) = set.join_next().await {
        acc += done.expect("no panics");
    }
    acc
}

async fn chunked_gather<F, Fut>(n: usize, c: usize, mut work: F) -> u64
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = u64>,
{
    let semaphore = Semaphore::new(c);
    let mut results = Vec::new();
    let items: Vec<usize> = (0..n).collect();
    for chunk in items.chunks(CHUNK) {
        let batch = chunk.iter().map(|&i| {
            let fut = work(i);
            let semaphore = &semaphore;
            async move {
                let _permit = semaphore.acquire().await.expect("never closed");
                fut.await
            }
        });
        results.extend(futures::future::join_all(batch).await);
    }
    results.iter().sum()
}

// ---------------------------------------------------------------------------------------------
// Zero work: per-item overhead.

async fn zero(i: usize) -> u64 {
    black_box(i as u64)
}

fn zero_work(c: &mut Criterion) {
    let n = pick(100_000, 20_000);
    let rt = current_thread();

    let mut group = c.benchmark_group("zero_work_unordered");
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function(OURS, |b| {
        b.to_async(&rt)
            .iter(|| ours_unordered(n, CONCURRENCY, zero))
    });
    group.bench_function("futures", |b| {
        b.to_async(&rt)
            .iter(|| futures_unordered(n, CONCURRENCY, zero))
    });
    group.bench_function("futures-buffered", |b| {
        b.to_async(&rt).iter(|| fb_unordered(n, CONCURRENCY, zero))
    });
    group.bench_function("joinset-semaphore", |b| {
        b.to_async(&rt)
            .iter(|| joinset_semaphore(n, CONCURRENCY, zero))
    });
    group.bench_function("chunked-gather", |b| {
        b.to_async(&rt)
            .iter(|| chunked_gather(n, CONCURRENCY, zero))
    });
    group.finish();

    let mut group = c.benchmark_group("zero_work_ordered");
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function(OURS, |b| {
        b.to_async(&rt).iter(|| ours_ordered(n, CONCURRENCY, zero))
    });
    group.bench_function("futures", |b| {
        b.to_async(&rt)
            .iter(|| futures_ordered(n, CONCURRENCY, zero))
    });
    group.bench_function("futures-buffered", |b| {
        b.to_async(&rt).iter(|| fb_ordered(n, CONCURRENCY, zero))
    });
    group.finish();
}

// ---------------------------------------------------------------------------------------------
// Heavy-tailed latencies on paused time: simulated makespan.

/// A fixed xorshift64 sequence of uniform numbers in (0, 1].
fn uniforms(n: usize) -> impl Iterator<Item = f64> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n).map(move |_| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        ((x >> 11) + 1) as f64 / (1u64 << 53) as f64
    })
}

/// A latency workload for the makespan groups.
struct Workload {
    /// Row parameter in the report.
    name: &'static str,
    concurrency: usize,
    latencies: Arc<[Duration]>,
    about: &'static str,
}

impl Workload {
    /// Pareto(xm = 1 ms, alpha = 1.5) capped at 5 s: the research note's heavy tail.
    fn pareto(n: usize) -> Self {
        Self {
            name: "pareto",
            concurrency: 64,
            latencies: uniforms(n)
                .map(|u| Duration::from_secs_f64((0.001 / u.powf(1.0 / 1.5)).min(5.0)))
                .collect(),
            about: "Pareto(xm 1 ms, alpha 1.5, cap 5 s), concurrency 64",
        }
    }

    /// 99% uniform in 1..5 ms, 1% 50 ms, concurrency 100: the example workload.
    fn one_percent_tail(n: usize) -> Self {
        Self {
            name: "tail1pct",
            concurrency: 100,
            latencies: uniforms(n)
                .map(|u| {
                    if u < 0.01 {
                        Duration::from_millis(50)
                    } else {
                        Duration::from_secs_f64(0.001 + 0.004 * (u - 0.01) / 0.99)
                    }
                })
                .collect(),
            about: "99% uniform 1-5 ms, 1% 50 ms, concurrency 100",
        }
    }

    fn note(&self) {
        let n = self.latencies.len();
        let sum: Duration = self.latencies.iter().sum();
        let max = self.latencies.iter().max().copied().unwrap_or_default();
        let bound = (sum / self.concurrency as u32).max(max);
        note(format_args!(
            "tail_makespan/{}: {n} items, {}; latency sum {sum:.2?}, max {max:.2?}; lower bound on \
             the makespan {bound:.2?}. Times in the tail_makespan groups are simulated makespans.",
            self.name, self.about
        ));
    }
}

/// Runs `job` on a fresh paused runtime and returns the virtual time it took.
fn simulate<Fut: Future<Output = u64>>(job: impl FnOnce() -> Fut) -> Duration {
    let rt = paused_runtime();
    rt.block_on(async {
        let start = tokio::time::Instant::now();
        black_box(job().await);
        start.elapsed()
    })
}

fn makespan_group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    // One iteration is a whole simulated job; flat sampling keeps the iteration count (and so
    // the wall time spent simulating) small.
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group
}

macro_rules! bench_makespan {
    ($group:expr, $id:expr, $imp:ident, $w:expr) => {{
        let lat = Arc::clone(&$w.latencies);
        let (n, c) = (lat.len(), $w.concurrency);
        let run = move || {
            let lat = Arc::clone(&lat);
            simulate(|| {
                $imp(n, c, move |i| {
                    let d = lat[i];
                    async move {
                        tokio::time::sleep(d).await;
                        i as u64
                    }
                })
            })
        };
        // The simulation is deterministic (paused clock, one thread, fixed latencies), so it
        // runs once per implementation and every iteration reports its makespan. Criterion
        // paces warm-up and sampling by the wall time of each call, so each iteration also
        // reads the result once (a constant, negligible cost that only keeps the iteration
        // counts finite); the value reported is the makespan alone.
        let makespan = std::cell::OnceCell::new();
        $group.bench_function(BenchmarkId::new($id, $w.name), |b| {
            let makespan = *makespan.get_or_init(&run);
            b.iter_custom(|iters| {
                for _ in 0..iters {
                    black_box(makespan);
                }
                Duration::try_from_secs_f64(makespan.as_secs_f64() * iters as f64)
                    .unwrap_or(Duration::MAX)
            })
        });
    }};
}

fn tail_makespan(c: &mut Criterion) {
    let workloads = [
        Workload::pareto(pick(100_000, 10_000)),
        Workload::one_percent_tail(pick(10_000, 5_000)),
    ];
    for w in &workloads {
        w.note();
        // What makes one simulation per implementation enough: the same job, twice, takes
        // the same virtual time.
        let lat = Arc::clone(&w.latencies);
        let twice: Vec<Duration> = (0..2)
            .map(|_| {
                let lat = Arc::clone(&lat);
                simulate(|| {
                    ours_unordered(lat.len(), w.concurrency, move |i| {
                        let d = lat[i];
                        async move {
                            tokio::time::sleep(d).await;
                            i as u64
                        }
                    })
                })
            })
            .collect();
        assert_eq!(twice[0], twice[1], "simulations must be deterministic");
    }
    let mut group = makespan_group(c, "tail_makespan_unordered");
    for w in &workloads {
        group.throughput(Throughput::Elements(w.latencies.len() as u64));
        bench_makespan!(group, OURS, ours_unordered, w);
        bench_makespan!(group, "futures", futures_unordered, w);
        bench_makespan!(group, "futures-buffered", fb_unordered, w);
        bench_makespan!(group, "chunked-gather", chunked_gather, w);
    }
    group.finish();

    let mut group = makespan_group(c, "tail_makespan_ordered");
    for w in &workloads {
        group.throughput(Throughput::Elements(w.latencies.len() as u64));
        // Ours with its default reorder window, 16x concurrency.
        bench_makespan!(group, OURS, ours_ordered, w);
        bench_makespan!(group, "futures", futures_ordered, w);
        // Unbounded reorder queue: the throughput ceiling, at O(lag) memory.
        bench_makespan!(group, "futures-buffered", fb_ordered, w);
    }
    group.finish();
}

criterion_group!(benches, zero_work, tail_makespan);
criterion_main!(benches);
