//! Redis GET/SET (50/50 over 10 000 keys, 32-byte values) at concurrency 1/16/64/256:
//! `asyncperf` (`redis_pool` + `RedisPool::query`, which sends plain commands over its shared
//! lanes) beside deadpool-redis, bb8-redis and one shared redis `ConnectionManager`. Every
//! pool holds at most 16 connections; the peers run with their defaults (both `PING` a
//! connection at every checkout). Skipped when Redis does not answer.

mod support;

use std::sync::Arc;

use asyncperf_pools::{PoolConfig, PoolKind, redis_pool};
use asyncperf_testkit::bench::{OURS, note, skip};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use redis::AsyncCommands;
use support::spread;

const POOL_SIZE: usize = 16;
const KEYS: usize = 10_000;
const CONCURRENCY: [usize; 4] = [1, 16, 64, 256];

fn key(prefix: &str, i: usize) -> String {
    format!("{prefix}{}", i % KEYS)
}

fn bench(c: &mut Criterion) {
    let Some(url) = asyncperf_testkit::redis_url() else {
        skip("redis_get_set: Redis does not answer");
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let prefix: Arc<str> = format!("asyncperf-pools-bench:{}:", std::process::id()).into();
    let value = Arc::new(vec![b'x'; 32]);

    let ours = rt.block_on(async {
        let config = PoolConfig::for_kind(PoolKind::Redis)
            .min_idle(POOL_SIZE)
            .max_open(POOL_SIZE);
        redis_pool(&url, config).await.expect("asyncperf pool")
    });
    let deadpool = deadpool_redis::Config::from_url(url.clone())
        .builder()
        .expect("deadpool config")
        .max_size(POOL_SIZE)
        .runtime(deadpool_redis::Runtime::Tokio1)
        .build()
        .expect("deadpool pool");
    let bb8 = rt.block_on(async {
        let manager = bb8_redis::RedisConnectionManager::new(url.clone()).expect("bb8 manager");
        bb8::Pool::builder()
            .max_size(u32::try_from(POOL_SIZE).unwrap_or(u32::MAX))
            .build(manager)
            .await
            .expect("bb8 pool")
    });
    let manager = rt.block_on(async {
        redis::Client::open(url.clone())
            .expect("client")
            .get_connection_manager()
            .await
            .expect("connection manager")
    });

    let mut group = c.benchmark_group("redis_get_set");
    group.throughput(Throughput::Elements(1));
    for concurrency in CONCURRENCY {
        group.bench_with_input(
            BenchmarkId::new(OURS, concurrency),
            &concurrency,
            |b, &n| {
                b.to_async(&rt).iter_custom(|iters| {
                    let (pool, prefix, value) = (ours.clone(), prefix.clone(), value.clone());
                    spread(iters, n, move |i| {
                        let (pool, k, value) = (pool.clone(), key(&prefix, i), value.clone());
                        async move {
                            if i.is_multiple_of(2) {
                                let mut cmd = redis::cmd("SET");
                                cmd.arg(k).arg(value.as_slice());
                                let () = pool.query(&cmd).await.expect("SET");
                            } else {
                                let mut cmd = redis::cmd("GET");
                                cmd.arg(k);
                                let v: Option<Vec<u8>> = pool.query(&cmd).await.expect("GET");
                                std::hint::black_box(v);
                            }
                        }
                    })
                });
            },
        );
        group.bench_with_input(
            BenchmarkId::new("deadpool-redis", concurrency),
            &concurrency,
            |b, &n| {
                b.to_async(&rt).iter_custom(|iters| {
                    let (pool, prefix, value) = (deadpool.clone(), prefix.clone(), value.clone());
                    spread(iters, n, move |i| {
                        let (pool, k, value) = (pool.clone(), key(&prefix, i), value.clone());
                        async move {
                            let mut conn = pool.get().await.expect("deadpool get");
                            get_or_set(&mut conn, i, k, &value).await;
                        }
                    })
                });
            },
        );
        group.bench_with_input(
            BenchmarkId::new("bb8-redis", concurrency),
            &concurrency,
            |b, &n| {
                b.to_async(&rt).iter_custom(|iters| {
                    let (pool, prefix, value) = (bb8.clone(), prefix.clone(), value.clone());
                    spread(iters, n, move |i| {
                        let (pool, k, value) = (pool.clone(), key(&prefix, i), value.clone());
                        async move {
                            let mut conn = pool.get().await.expect("bb8 get");
                            get_or_set(&mut *conn, i, k, &value).await;
                        }
                    })
                });
            },
        );
        group.bench_with_input(
            BenchmarkId::new("redis-connection-manager", concurrency),
            &concurrency,
            |b, &n| {
                b.to_async(&rt).iter_custom(|iters| {
                    let (manager, prefix, value) = (manager.clone(), prefix.clone(), value.clone());
                    spread(iters, n, move |i| {
                        let (mut conn, k, value) =
                            (manager.clone(), key(&prefix, i), value.clone());
                        async move { get_or_set(&mut conn, i, k, &value).await }
                    })
                });
            },
        );
    }
    group.finish();

    let m = ours.metrics();
    note(format!(
        "redis_get_set: asyncperf sent GET/SET over its shared lanes ({} lane checkouts, {} connections opened, {} errors); deadpool-redis and bb8-redis check a connection out per command and PING it by default; redis-connection-manager is one multiplexed connection",
        m.checkouts, m.connections_created, m.errors
    ));
    rt.block_on(async {
        let mut conn = manager.clone();
        let keys: Vec<String> = (0..KEYS).map(|i| key(&prefix, i)).collect();
        for chunk in keys.chunks(1000) {
            let _: Result<i64, _> = conn.del(chunk).await;
        }
    });
    rt.block_on(async move { drop((ours, deadpool, bb8, manager)) });
}

async fn get_or_set<C: redis::aio::ConnectionLike + Send + Sync>(
    conn: &mut C,
    i: usize,
    key: String,
    value: &[u8],
) {
    if i.is_multiple_of(2) {
        let () = conn.set(key, value).await.expect("SET");
    } else {
        let v: Option<Vec<u8>> = conn.get(key).await.expect("GET");
        std::hint::black_box(v);
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
