//! asyncperf-batcher beside `dataloader` 0.18, async-graphql's `DataLoader` 7.2 and
//! `ultra-batch` 0.3: same batch function, same runtime, same settings where they exist.
//!
//! Every implementation gets `max_batch_size` 100 and no batching window: `max_delay(ZERO)`
//! for ours, `delay(ZERO)` for async-graphql, `delay_duration(ZERO)` for ultra-batch;
//! `dataloader` has no window (it yields 10 times). Zero is each peer's best setting here:
//! with async-graphql's default 1 ms, its `overhead` run is slower still, because the ragged
//! end of every run (the last few tasks' loads) waits out a window per round.
//! Loaders are built fresh for each iteration, as a GraphQL server builds one per request.
//! Peers run in their cheapest mode: async-graphql with `NoCache`, `dataloader`'s
//! `non_cached::Loader` (its `cached::Loader` in `duplicates`, where the cache is what
//! dedups), and `ultra-batch` (always caching) fresh per iteration.
//!
//! Scenarios (group = scenario, function = implementation):
//! 1. `overhead`: 1000 tasks x 100 sequential loads of distinct keys, echo batch fn.
//! 2. `burst`: 1000 distinct keys loaded at once, the batch fn sleeps 20 ms.
//! 3. `duplicates`: 1000 callers of 10 keys while one of them is already being fetched
//!    (the batch fn sleeps 2 ms); the keys each implementation sends go to a note.
//! 4. `lone_caller`: sequential loads from one task, no window (`max_delay(ZERO)`; the
//!    peers' delay set to zero too).
//!
//! All on one multi-thread runtime with 2 workers; each iteration's work runs in a task
//! spawned on it (not in `block_on`'s thread), as a request handler would.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use asyncperf_testkit::bench::{OURS, note, pick};
use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use tokio::runtime::Runtime;
use tokio::sync::Notify;

const MAX_BATCH: usize = 100;

// ---------------------------------------------------------------------------------------
// The backend every implementation calls: echo `k -> 2k`, after an optional sleep.

#[derive(Default)]
struct Backend {
    latency: Duration,
    calls: AtomicU64,
    keys: AtomicU64,
    /// Woken when a call starts (the duplicates scenario waits for its first batch).
    started: Notify,
}

impl Backend {
    fn new(latency: Duration) -> Arc<Self> {
        Arc::new(Self {
            latency,
            ..Self::default()
        })
    }

    async fn fetch(&self, keys: &[u64]) -> HashMap<u64, u64> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.keys.fetch_add(keys.len() as u64, Ordering::Relaxed);
        self.started.notify_one();
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        keys.iter().map(|&k| (k, k * 2)).collect()
    }
}

// ---------------------------------------------------------------------------------------
// One interface over the four loaders.

trait Loader: Clone + Send + Sync + 'static {
    fn load(&self, key: u64) -> impl Future<Output = u64> + Send;
}

#[derive(Clone, Copy)]
struct Settings {
    window: Duration,
    /// `dataloader` only: its cached loader (dedup of keys already fetched).
    cached: bool,
}

#[derive(Clone)]
struct Ours(asyncperf_batcher::Batcher<u64, u64, Infallible>);

fn ours(backend: &Arc<Backend>, s: Settings) -> Ours {
    let backend = Arc::clone(backend);
    Ours(
        asyncperf_batcher::Batcher::builder()
            .max_batch_size(MAX_BATCH)
            .max_delay(s.window)
            .build(move |keys: Vec<u64>| {
                let backend = Arc::clone(&backend);
                async move { Ok(backend.fetch(&keys).await) }
            }),
    )
}

impl Loader for Ours {
    async fn load(&self, key: u64) -> u64 {
        self.0
            .load(key)
            .await
            .expect("echo backend answers every key")
    }
}

struct AgqlBackend(Arc<Backend>);

impl async_graphql::dataloader::Loader<u64> for AgqlBackend {
    type Value = u64;
    type Error = Infallible;

    async fn load(&self, keys: &[u64]) -> Result<HashMap<u64, u64>, Infallible> {
        Ok(self.0.fetch(keys).await)
    }
}

#[derive(Clone)]
struct Agql(Arc<async_graphql::dataloader::DataLoader<AgqlBackend>>);

fn agql(backend: &Arc<Backend>, s: Settings) -> Agql {
    let loader =
        async_graphql::dataloader::DataLoader::new(AgqlBackend(Arc::clone(backend)), tokio::spawn)
            .max_batch_size(MAX_BATCH)
            .delay(s.window);
    Agql(Arc::new(loader))
}

impl Loader for Agql {
    async fn load(&self, key: u64) -> u64 {
        self.0
            .load_one(key)
            .await
            .ok()
            .flatten()
            .expect("echo backend answers every key")
    }
}

#[derive(Clone)]
struct DlBackend(Arc<Backend>);

impl dataloader::BatchFn<u64, u64> for DlBackend {
    async fn load(&mut self, keys: &[u64]) -> HashMap<u64, u64> {
        self.0.fetch(keys).await
    }
}

#[derive(Clone)]
enum Dl {
    NonCached(dataloader::non_cached::Loader<u64, u64, DlBackend>),
    Cached(dataloader::cached::Loader<u64, u64, DlBackend>),
}

fn dl(backend: &Arc<Backend>, s: Settings) -> Dl {
    let f = DlBackend(Arc::clone(backend));
    if s.cached {
        Dl::Cached(dataloader::cached::Loader::new(f).with_max_batch_size(MAX_BATCH))
    } else {
        Dl::NonCached(dataloader::non_cached::Loader::new(f).with_max_batch_size(MAX_BATCH))
    }
}

impl Loader for Dl {
    async fn load(&self, key: u64) -> u64 {
        match self {
            Self::NonCached(l) => l.load(key).await,
            Self::Cached(l) => l.load(key).await,
        }
    }
}

struct UltraBackend(Arc<Backend>);

impl ultra_batch::Fetcher for UltraBackend {
    type Key = u64;
    type Value = u64;
    type Error = Infallible;

    async fn fetch(
        &self,
        keys: &[u64],
        values: &mut ultra_batch::Cache<'_, u64, u64>,
    ) -> Result<(), Infallible> {
        for (k, v) in self.0.fetch(keys).await {
            values.insert(k, v);
        }
        Ok(())
    }
}

#[derive(Clone)]
struct Ultra(ultra_batch::BatchFetcher<UltraBackend>);

/// Spawns its worker task: call inside the runtime.
fn ultra(backend: &Arc<Backend>, s: Settings) -> Ultra {
    Ultra(
        ultra_batch::BatchFetcher::build(UltraBackend(Arc::clone(backend)))
            .eager_batch_size(Some(MAX_BATCH))
            .delay_duration(s.window)
            .finish(),
    )
}

impl Loader for Ultra {
    async fn load(&self, key: u64) -> u64 {
        self.0
            .load(key)
            .await
            .expect("echo backend answers every key")
    }
}

// ---------------------------------------------------------------------------------------
// Scenarios, generic over the loader.

const OVERHEAD_TASKS: u64 = 1000;
const OVERHEAD_LOADS: u64 = 100;

async fn overhead<L: Loader>(loader: L, _: Arc<Backend>) {
    let tasks: Vec<_> = (0..OVERHEAD_TASKS)
        .map(|t| {
            let loader = loader.clone();
            tokio::spawn(async move {
                for i in 0..OVERHEAD_LOADS {
                    let key = t * OVERHEAD_LOADS + i;
                    assert_eq!(std::hint::black_box(loader.load(key).await), key * 2);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("load task");
    }
}

const BURST_KEYS: u64 = 1000;

async fn burst<L: Loader>(loader: L, _: Arc<Backend>) {
    let loads = (0..BURST_KEYS).map(|k| loader.load(k));
    let values = futures::future::join_all(loads).await;
    assert_eq!(values.len() as u64, BURST_KEYS);
}

const DUP_CALLERS: u64 = 1000;
const DUP_KEYS: u64 = 10;

async fn duplicates<L: Loader>(loader: L, backend: Arc<Backend>) {
    let first = tokio::spawn({
        let loader = loader.clone();
        async move { loader.load(0).await }
    });
    // Key 0's batch is being fetched from here on.
    backend.started.notified().await;
    let loads = (0..DUP_CALLERS).map(|i| loader.load(i % DUP_KEYS));
    let values = futures::future::join_all(loads).await;
    assert_eq!(values.len() as u64, DUP_CALLERS);
    assert_eq!(first.await.expect("first load"), 0);
}

// ---------------------------------------------------------------------------------------
// Criterion wiring.

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

type Make<L> = fn(&Arc<Backend>, Settings) -> L;

/// Times `iters` runs of `scenario`, each with a fresh backend and loader, inside a task.
fn per_iteration<L, F, Fut>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &Runtime,
    name: &str,
    make: Make<L>,
    settings: Settings,
    latency: Duration,
    scenario: F,
) where
    L: Loader,
    F: Fn(L, Arc<Backend>) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            rt.block_on(async move {
                tokio::spawn(async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let backend = Backend::new(latency);
                        let started = Instant::now();
                        let loader = make(&backend, settings);
                        scenario(loader, backend).await;
                        total += started.elapsed();
                    }
                    total
                })
                .await
                .expect("bench task")
            })
        });
    });
}

fn bench_overhead(c: &mut Criterion, rt: &Runtime) {
    let mut g = c.benchmark_group("overhead");
    g.throughput(Throughput::Elements(OVERHEAD_TASKS * OVERHEAD_LOADS));
    g.sample_size(10).sampling_mode(SamplingMode::Flat);
    let s = Settings {
        window: Duration::ZERO,
        cached: false,
    };
    per_iteration(&mut g, rt, OURS, ours, s, Duration::ZERO, overhead);
    per_iteration(
        &mut g,
        rt,
        "async-graphql",
        agql,
        s,
        Duration::ZERO,
        overhead,
    );
    per_iteration(&mut g, rt, "dataloader", dl, s, Duration::ZERO, overhead);
    per_iteration(
        &mut g,
        rt,
        "ultra-batch",
        ultra,
        s,
        Duration::ZERO,
        overhead,
    );
    g.finish();
}

fn bench_burst(c: &mut Criterion, rt: &Runtime) {
    let mut g = c.benchmark_group("burst");
    g.throughput(Throughput::Elements(BURST_KEYS));
    g.sample_size(10).sampling_mode(SamplingMode::Flat);
    let s = Settings {
        window: Duration::ZERO,
        cached: false,
    };
    let latency = Duration::from_millis(20);
    per_iteration(&mut g, rt, OURS, ours, s, latency, burst);
    per_iteration(&mut g, rt, "async-graphql", agql, s, latency, burst);
    per_iteration(&mut g, rt, "dataloader", dl, s, latency, burst);
    per_iteration(&mut g, rt, "ultra-batch", ultra, s, latency, burst);
    g.finish();
}

fn bench_duplicates(c: &mut Criterion, rt: &Runtime) {
    let mut g = c.benchmark_group("duplicates");
    g.throughput(Throughput::Elements(DUP_CALLERS));
    g.sample_size(10).sampling_mode(SamplingMode::Flat);
    let s = Settings {
        window: Duration::ZERO,
        cached: true,
    };
    let latency = Duration::from_millis(2);
    per_iteration(&mut g, rt, OURS, ours, s, latency, duplicates);
    per_iteration(&mut g, rt, "async-graphql", agql, s, latency, duplicates);
    per_iteration(&mut g, rt, "dataloader", dl, s, latency, duplicates);
    per_iteration(&mut g, rt, "ultra-batch", ultra, s, latency, duplicates);
    g.finish();
    // The behaviour criterion cannot show: keys each implementation sent for 10 distinct.
    let count = |name: &str, keys: u64, calls: u64| {
        note(format!(
            "duplicates: {name} sent {keys} keys in {calls} batch calls for {DUP_KEYS} distinct keys"
        ));
    };
    for (name, (keys, calls)) in [
        (OURS, rt.block_on(sent_keys(ours, s))),
        ("async-graphql", rt.block_on(sent_keys(agql, s))),
        ("dataloader", rt.block_on(sent_keys(dl, s))),
        ("ultra-batch", rt.block_on(sent_keys(ultra, s))),
    ] {
        count(name, keys, calls);
    }
}

/// Keys and calls the backend saw in one `duplicates` run.
async fn sent_keys<L: Loader>(make: Make<L>, s: Settings) -> (u64, u64) {
    tokio::spawn(async move {
        let backend = Backend::new(Duration::from_millis(2));
        duplicates(make(&backend, s), Arc::clone(&backend)).await;
        (
            backend.keys.load(Ordering::Relaxed),
            backend.calls.load(Ordering::Relaxed),
        )
    })
    .await
    .expect("duplicates run")
}

/// Sequential loads of ever-new keys through one loader built outside the timing.
fn lone<L: Loader>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &Runtime,
    name: &str,
    make: Make<L>,
) {
    let s = Settings {
        window: Duration::ZERO,
        cached: false,
    };
    let backend = Backend::new(Duration::ZERO);
    let loader = rt
        .block_on(async { tokio::spawn(async move { make(&backend, s) }).await })
        .expect("build loader");
    let next = Arc::new(AtomicU64::new(0));
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let loader = loader.clone();
            let next = Arc::clone(&next);
            rt.block_on(async move {
                tokio::spawn(async move {
                    let first = next.fetch_add(iters, Ordering::Relaxed);
                    let started = Instant::now();
                    for key in first..first + iters {
                        std::hint::black_box(loader.load(key).await);
                    }
                    started.elapsed()
                })
                .await
                .expect("bench task")
            })
        });
    });
}

fn bench_lone_caller(c: &mut Criterion, rt: &Runtime) {
    let mut g = c.benchmark_group("lone_caller");
    g.throughput(Throughput::Elements(1));
    // The timer-bound peers take ~1 ms a load: 100 linear samples would need ~6 s each.
    g.sample_size(pick(50, 10));
    lone(&mut g, rt, OURS, ours);
    lone(&mut g, rt, "async-graphql", agql);
    lone(&mut g, rt, "dataloader", dl);
    lone(&mut g, rt, "ultra-batch", ultra);
    g.finish();
}

fn benches(c: &mut Criterion) {
    let rt = runtime();
    bench_overhead(c, &rt);
    bench_burst(c, &rt);
    bench_duplicates(c, &rt);
    bench_lone_caller(c, &rt);
}

criterion_group!(batcher, benches);
criterion_main!(batcher);
