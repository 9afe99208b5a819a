//! `RateLimiter` beside `governor` and `leaky-bucket`.
//!
//! - `rate_try_acquire`: the cost of one admission check that succeeds (a limiter so generous
//!   it never refuses), 1000 per iteration: ours `try_acquire`, governor's `check`,
//!   leaky-bucket's `try_acquire(1)`.
//! - `rate_paced_makespan` (simulated time): 1000 sequential `acquire`s at 1000/s with a burst of
//!   10, on a paused tokio clock. Each iteration returns, through `iter_custom`, the *virtual*
//!   time the 1000 grants took, so the reported time is the pacing itself (ideal: 990 ms, the
//!   first 10 being the burst). governor waits on `futures-timer` (real time), which a paused
//!   tokio clock does not drive, so it is not in this group.

use std::hint::black_box;
use std::num::NonZeroU32;
use std::time::Duration;

use asyncperf_limiter::RateLimiter;
use asyncperf_testkit::bench::{OURS, note};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use governor::Quota;

const CHECKS: usize = 1_000;
const PACED: u32 = 1_000;

fn try_acquire(c: &mut Criterion) {
    let mut group = c.benchmark_group("rate_try_acquire");
    group.throughput(Throughput::Elements(CHECKS as u64));
    let ours = RateLimiter::per_second(u32::MAX);
    group.bench_function(OURS, |b| {
        b.iter(|| {
            for _ in 0..CHECKS {
                black_box(ours.try_acquire()).expect("never limited");
            }
        })
    });
    let governor = governor::RateLimiter::direct(Quota::per_second(NonZeroU32::MAX));
    group.bench_function("governor", |b| {
        b.iter(|| {
            for _ in 0..CHECKS {
                black_box(governor.check()).expect("never limited");
            }
        })
    });
    let leaky = leaky_bucket::RateLimiter::builder()
        .initial(usize::MAX / 4)
        .max(usize::MAX / 4)
        .refill(usize::MAX / 4)
        .interval(Duration::from_millis(1))
        .build();
    group.bench_function("leaky-bucket", |b| {
        b.iter(|| {
            for _ in 0..CHECKS {
                assert!(black_box(leaky.try_acquire(1)));
            }
        })
    });
    group.finish();
}

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime")
}

/// Virtual time taken by `PACED` sequential acquires from a limiter made by `make`.
fn simulate<F: Future<Output = ()>>(job: impl FnOnce() -> F) -> Duration {
    paused_runtime().block_on(async {
        let start = tokio::time::Instant::now();
        job().await;
        start.elapsed()
    })
}

fn ours_paced() -> Duration {
    simulate(|| async {
        let rate = RateLimiter::per_second(PACED).burst(10);
        for _ in 0..PACED {
            rate.acquire().await.expect("valid");
        }
    })
}

fn leaky_paced() -> Duration {
    simulate(|| async {
        let rate = leaky_bucket::RateLimiter::builder()
            .initial(10)
            .max(10)
            .refill(1)
            .interval(Duration::from_millis(1))
            .build();
        for _ in 0..PACED {
            rate.acquire_one().await;
        }
    })
}

fn paced(c: &mut Criterion) {
    note(format_args!(
        "rate_paced_makespan: simulated time of {PACED} grants at {PACED}/s, burst 10 \
         (ideal 990 ms): asyncperf {:?}, leaky-bucket {:?}",
        ours_paced(),
        leaky_paced()
    ));
    let mut group = c.benchmark_group("rate_paced_makespan");
    group.throughput(Throughput::Elements(u64::from(PACED)));
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.bench_function(OURS, |b| {
        b.iter_custom(|iters| (0..iters).map(|_| ours_paced()).sum())
    });
    group.bench_function("leaky-bucket", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| leaky_paced()).sum())
    });
    group.finish();
}

criterion_group!(benches, try_acquire, paced);
criterion_main!(benches);
