//! asyncperf-weakcache beside `moka` (`future::Cache`), `quick_cache` and a bare `DashMap` (the
//! ceiling for a hit): hits through the loading API and through plain `get`, hits from two
//! threads at once, a stampede of 1,000 callers on one missing key (also with the first caller
//! dropped), and concurrent misses on distinct keys.
//!
//! Every implementation stores `Arc<Payload>` under `u64` keys and hashes with `RandomState`.
//! Ours holds values weakly, so the bench keeps the `Arc`s of the hit scenarios alive (that is
//! the use case: values in use).

use std::convert::Infallible;
use std::future::Future;
use std::hash::RandomState;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use asyncperf_testkit::bench::{OURS, note};
use asyncperf_weakcache::WeakCache;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use dashmap::DashMap;
use futures::future::join_all;
use quick_cache::UnitWeighter;
use quick_cache::sync::DefaultLifecycle;

/// Keys prefilled for the hit scenarios.
const KEYS: u64 = 10_000;
/// Lookups per iteration in the hit scenarios.
const LOOKUPS: usize = 1_000;
/// Keys the two threads of `hit-contended` share (hot keys: their refcounts and shards are
/// contended too).
const HOT_KEYS: u64 = 64;
/// Callers per stampede.
const STAMPEDE: usize = 1_000;
/// Distinct keys loaded concurrently per iteration of `miss`.
const MISSES: u64 = 1_000;
/// Room for every peer cache, so none evicts during a hit scenario.
const CAPACITY: usize = 100_000;

/// A value with a realistic size; its bytes are written, never read.
#[derive(Debug)]
#[expect(dead_code, reason = "the bytes only give the value its size")]
struct Payload([u8; 64]);

fn payload(key: u64) -> Payload {
    let mut bytes = [0u8; 64];
    bytes[..8].copy_from_slice(&key.to_le_bytes());
    Payload(bytes)
}

type Ours = WeakCache<u64, Payload>;
type Moka = moka::future::Cache<u64, Arc<Payload>, RandomState>;
type Quick = quick_cache::sync::Cache<u64, Arc<Payload>, UnitWeighter, RandomState>;
type Dash = DashMap<u64, Arc<Payload>, RandomState>;

fn ours() -> Ours {
    WeakCache::builder().hasher(RandomState::new()).build()
}

fn moka() -> Moka {
    moka_holding(CAPACITY)
}

fn moka_holding(capacity: usize) -> Moka {
    moka::future::Cache::builder()
        .max_capacity(capacity as u64)
        .build_with_hasher(RandomState::new())
}

fn quick() -> Quick {
    quick_holding(CAPACITY)
}

fn quick_holding(capacity: usize) -> Quick {
    quick_cache::sync::Cache::with(
        capacity,
        capacity as u64,
        UnitWeighter,
        RandomState::new(),
        DefaultLifecycle::default(),
    )
}

fn dash() -> Dash {
    DashMap::with_hasher(RandomState::new())
}

/// A fixed pseudo-random sequence of `n` keys below `bound` (xorshift: no extra dependency).
fn key_sequence(n: usize, bound: u64) -> Vec<u64> {
    let mut x = 0x9E37_79B9_7F4A_7C15_u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % bound
        })
        .collect()
}

/// The four implementations, filled with `KEYS` values (ours kept alive by `_held`).
struct Filled {
    ours: Ours,
    _held: Vec<Arc<Payload>>,
    moka: Moka,
    quick: Quick,
    dash: Dash,
}

fn filled(rt: &tokio::runtime::Runtime) -> Filled {
    let (ours, moka, quick, dash) = (ours(), moka(), quick(), dash());
    let mut held = Vec::new();
    for key in 0..KEYS {
        let value = Arc::new(payload(key));
        ours.insert(key, Arc::clone(&value));
        held.push(Arc::clone(&value));
        rt.block_on(moka.insert(key, Arc::clone(&value)));
        quick.insert(key, Arc::clone(&value));
        dash.insert(key, value);
    }
    rt.block_on(moka.run_pending_tasks());
    Filled {
        ours,
        _held: held,
        moka,
        quick,
        dash,
    }
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Hits through each cache's loading API (the loader is never called).
fn hit(c: &mut Criterion) {
    let rt = current_thread();
    let f = filled(&rt);
    let keys = key_sequence(LOOKUPS, KEYS);
    let mut group = c.benchmark_group("hit");
    group.throughput(Throughput::Elements(LOOKUPS as u64));
    group.bench_function(OURS, |b| {
        b.to_async(&rt).iter(|| async {
            for &key in &keys {
                let value = f
                    .ours
                    .get_or_load(key, |k| async move { Ok::<_, Infallible>(payload(k)) })
                    .await;
                black_box(value.ok());
            }
        });
    });
    group.bench_function("moka", |b| {
        b.to_async(&rt).iter(|| async {
            for &key in &keys {
                black_box(
                    f.moka
                        .get_with(key, async move { Arc::new(payload(key)) })
                        .await,
                );
            }
        });
    });
    group.bench_function("quick_cache", |b| {
        b.to_async(&rt).iter(|| async {
            for &key in &keys {
                let value = f
                    .quick
                    .get_or_insert_async(&key, async move {
                        Ok::<_, Infallible>(Arc::new(payload(key)))
                    })
                    .await;
                black_box(value.ok());
            }
        });
    });
    group.bench_function("dashmap", |b| {
        b.to_async(&rt).iter(|| async {
            for &key in &keys {
                black_box(f.dash.get(&key).map(|v| Arc::clone(v.value())));
            }
        });
    });
    group.finish();
    note(format_args!(
        "hit: loads during the hit scenarios (asyncperf) = {} (prefilled by insert, so any load would be a miss)",
        f.ours.stats().loads
    ));
}

/// Plain lookups: no loader anywhere.
fn hit_get(c: &mut Criterion) {
    let rt = current_thread();
    let f = filled(&rt);
    let keys = key_sequence(LOOKUPS, KEYS);
    let mut group = c.benchmark_group("hit-get");
    group.throughput(Throughput::Elements(LOOKUPS as u64));
    group.bench_function(OURS, |b| {
        b.to_async(&rt).iter(|| async {
            for key in &keys {
                black_box(f.ours.get(key));
            }
        });
    });
    group.bench_function("moka", |b| {
        b.to_async(&rt).iter(|| async {
            for key in &keys {
                black_box(f.moka.get(key).await);
            }
        });
    });
    group.bench_function("quick_cache", |b| {
        b.to_async(&rt).iter(|| async {
            for key in &keys {
                black_box(f.quick.get(key));
            }
        });
    });
    group.bench_function("dashmap", |b| {
        b.to_async(&rt).iter(|| async {
            for key in &keys {
                black_box(f.dash.get(key).map(|v| Arc::clone(v.value())));
            }
        });
    });
    group.finish();
}

/// Runs `lookups(keys)` on two threads at once, `iters` times each; the elapsed wall time.
fn on_two_threads(iters: u64, keys: &[u64], lookups: impl Fn(&[u64]) + Sync) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        for offset in [0, keys.len() / 2] {
            let lookups = &lookups;
            s.spawn(move || {
                // The two threads walk the same hot keys from different points.
                let (a, b) = keys.split_at(offset);
                for _ in 0..iters {
                    lookups(b);
                    lookups(a);
                }
            });
        }
    });
    start.elapsed()
}

/// Plain lookups of a small hot set from two threads at once.
fn hit_contended(c: &mut Criterion) {
    let rt = current_thread();
    let f = filled(&rt);
    let keys = key_sequence(LOOKUPS, HOT_KEYS);
    let mut group = c.benchmark_group("hit-contended");
    group.throughput(Throughput::Elements(2 * LOOKUPS as u64));
    group.bench_function(OURS, |b| {
        b.iter_custom(|iters| {
            on_two_threads(iters, &keys, |keys| {
                for key in keys {
                    black_box(f.ours.get(key));
                }
            })
        });
    });
    group.bench_function("moka", |b| {
        b.iter_custom(|iters| {
            on_two_threads(iters, &keys, |keys| {
                futures::executor::block_on(async {
                    for key in keys {
                        black_box(f.moka.get(key).await);
                    }
                });
            })
        });
    });
    group.bench_function("quick_cache", |b| {
        b.iter_custom(|iters| {
            on_two_threads(iters, &keys, |keys| {
                for key in keys {
                    black_box(f.quick.get(key));
                }
            })
        });
    });
    group.bench_function("dashmap", |b| {
        b.iter_custom(|iters| {
            on_two_threads(iters, &keys, |keys| {
                for key in keys {
                    black_box(f.dash.get(key).map(|v| Arc::clone(v.value())));
                }
            })
        });
    });
    group.finish();
}

/// A loader body that takes a few scheduler turns (no timer: the bench measures the caches).
async fn slow_payload(key: u64, calls: &AtomicU64) -> Payload {
    calls.fetch_add(1, Relaxed);
    for _ in 0..4 {
        tokio::task::yield_now().await;
    }
    payload(key)
}

/// Loader calls and stampedes run, per implementation. `calls` is `'static` so that every
/// loader, including ours (whose future must be `'static`), reaches it by reference.
struct Tally {
    calls: &'static AtomicU64,
    stampedes: AtomicU64,
}

impl Default for Tally {
    fn default() -> Self {
        Self {
            calls: Box::leak(Box::new(AtomicU64::new(0))),
            stampedes: AtomicU64::new(0),
        }
    }
}

impl Tally {
    fn per_stampede(&self) -> f64 {
        self.calls.load(Relaxed) as f64 / self.stampedes.load(Relaxed).max(1) as f64
    }
}

/// One stampede: `STAMPEDE` concurrent calls of `call(key)` for a fresh key. With
/// `drop_first`, every call is polled once (the first starts the load, the others wait for
/// it) and then the first is dropped.
async fn stampede<F, Fut>(tally: &Tally, next_key: &AtomicU64, drop_first: bool, call: F)
where
    F: Fn(u64) -> Fut,
    Fut: Future,
{
    tally.stampedes.fetch_add(1, Relaxed);
    let key = next_key.fetch_add(1, Relaxed);
    let mut calls: Vec<_> = (0..STAMPEDE).map(|_| Box::pin(call(key))).collect();
    if drop_first {
        for call in &mut calls {
            assert!(futures::poll!(call.as_mut()).is_pending());
        }
        drop(calls.remove(0));
    }
    black_box(join_all(calls).await);
}

fn stampede_group(c: &mut Criterion, name: &str, drop_first: bool) {
    let rt = current_thread();
    let (ours, moka, quick) = (&ours(), &moka(), &quick());
    let tallies: [Tally; 3] = Default::default();
    let next_key = AtomicU64::new(0);
    let mut group = c.benchmark_group(name);
    group.sample_size(10);
    group.throughput(Throughput::Elements(STAMPEDE as u64));
    let id = |implementation| BenchmarkId::new(implementation, STAMPEDE);
    group.bench_function(id(OURS), |b| {
        let calls = tallies[0].calls;
        b.to_async(&rt).iter(|| {
            stampede(&tallies[0], &next_key, drop_first, |key| {
                ours.get_or_load(key, move |k| async move {
                    Ok::<_, Infallible>(slow_payload(k, calls).await)
                })
            })
        });
    });
    group.bench_function(id("moka"), |b| {
        let calls = tallies[1].calls;
        b.to_async(&rt).iter(|| {
            stampede(&tallies[1], &next_key, drop_first, |key| {
                moka.get_with(key, async move { Arc::new(slow_payload(key, calls).await) })
            })
        });
    });
    group.bench_function(id("quick_cache"), |b| {
        let calls = tallies[2].calls;
        b.to_async(&rt).iter(|| {
            stampede(&tallies[2], &next_key, drop_first, |key| async move {
                quick
                    .get_or_insert_async(&key, async move {
                        Ok::<_, Infallible>(Arc::new(slow_payload(key, calls).await))
                    })
                    .await
            })
        });
    });
    group.finish();
    note(format_args!(
        "{name}/{STAMPEDE}: loader calls per stampede: asyncperf {:.2}, moka {:.2}, quick_cache {:.2}",
        tallies[0].per_stampede(),
        tallies[1].per_stampede(),
        tallies[2].per_stampede(),
    ));
}

fn stampedes(c: &mut Criterion) {
    stampede_group(c, "stampede", false);
    stampede_group(c, "stampede-leader-dropped", true);
}

/// Times `MISSES` concurrent loads of distinct keys (`$load` with `$cache` and `$key` bound)
/// into a cache made fresh (untimed) by `$make()` for each of `$iters` iterations.
macro_rules! fresh_misses {
    ($iters:expr, $make:expr, |$cache:ident, $key:ident| $load:expr) => {{
        let mut total = Duration::ZERO;
        for _ in 0..$iters {
            let cache = $make();
            let $cache = &cache;
            let start = Instant::now();
            black_box(join_all((0..MISSES).map(|$key| $load)).await);
            total += start.elapsed();
        }
        total
    }};
}

fn miss(c: &mut Criterion) {
    let rt = current_thread();
    let mut group = c.benchmark_group("miss");
    group.sample_size(10);
    group.throughput(Throughput::Elements(MISSES));
    group.bench_function(OURS, |b| {
        b.to_async(&rt).iter_custom(|iters| async move {
            fresh_misses!(iters, ours, |cache, key| {
                cache.get_or_load(key, |k| async move { Ok::<_, Infallible>(payload(k)) })
            })
        });
    });
    group.bench_function("moka", |b| {
        b.to_async(&rt).iter_custom(|iters| async move {
            fresh_misses!(iters, || moka_holding(2 * MISSES as usize), |cache, key| {
                cache.get_with(key, async move { Arc::new(payload(key)) })
            })
        });
    });
    group.bench_function("quick_cache", |b| {
        b.to_async(&rt).iter_custom(|iters| async move {
            fresh_misses!(
                iters,
                || quick_holding(2 * MISSES as usize),
                |cache, key| async move {
                    cache
                        .get_or_insert_async(&key, async move {
                            Ok::<_, Infallible>(Arc::new(payload(key)))
                        })
                        .await
                }
            )
        });
    });
    group.finish();
}

/// Criterion's defaults, but under `--quick` a tenth of the bootstrap resamples: with 10 samples
/// the analysis, not the measurement, would dominate the smoke run.
fn config() -> Criterion {
    Criterion::default().nresamples(asyncperf_testkit::bench::pick(100_000, 10_000))
}

criterion_group! {
    name = benches;
    config = config();
    targets = hit, hit_get, hit_contended, stampedes, miss
}
criterion_main!(benches);
