//! `Limiter` as a semaphore, beside tokio's `Semaphore` (peer id `tokio`): acquire + release,
//! uncontended on a current-thread runtime, and contended by 8 tasks on 2 worker threads.

use std::hint::black_box;
use std::sync::Arc;

use asyncperf_limiter::Limiter;
use asyncperf_testkit::bench::OURS;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tokio::sync::Semaphore;

const OPS: usize = 1_000;
const TASKS: usize = 8;

fn uncontended(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("semaphore_uncontended");
    group.throughput(Throughput::Elements(OPS as u64));
    let limiter = Limiter::new(16);
    group.bench_function(OURS, |b| {
        b.to_async(&rt).iter(|| async {
            for _ in 0..OPS {
                let permit = limiter.acquire().await.expect("open");
                black_box(&permit);
            }
        })
    });
    let semaphore = Semaphore::new(16);
    group.bench_function("tokio", |b| {
        b.to_async(&rt).iter(|| async {
            for _ in 0..OPS {
                let permit = semaphore.acquire().await.expect("open");
                black_box(&permit);
            }
        })
    });
    group.finish();
}

/// 8 tasks on 2 workers share 2 permits, holding each across a yield so that waiters queue.
fn contended(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("semaphore_contended_mt");
    group.throughput(Throughput::Elements((OPS * TASKS) as u64));
    group.bench_function(OURS, |b| {
        b.to_async(&rt).iter(|| async {
            let limiter = Limiter::new(2);
            let tasks: Vec<_> = (0..TASKS)
                .map(|_| {
                    let limiter = limiter.clone();
                    tokio::spawn(async move {
                        for _ in 0..OPS {
                            let permit = limiter.acquire().await.expect("open");
                            tokio::task::yield_now().await;
                            drop(permit);
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.expect("no panic");
            }
        })
    });
    group.bench_function("tokio", |b| {
        b.to_async(&rt).iter(|| async {
            let semaphore = Arc::new(Semaphore::new(2));
            let tasks: Vec<_> = (0..TASKS)
                .map(|_| {
                    let semaphore = Arc::clone(&semaphore);
                    tokio::spawn(async move {
                        for _ in 0..OPS {
                            let permit = semaphore.acquire().await.expect("open");
                            tokio::task::yield_now().await;
                            drop(permit);
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.expect("no panic");
            }
        })
    });
    group.finish();
}

criterion_group!(benches, uncontended, contended);
criterion_main!(benches);
