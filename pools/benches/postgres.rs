//! PostgreSQL `SELECT 1` (simple protocol, one round trip) at concurrency 16 and 64:
//! `asyncperf` (`postgres_pool`) beside deadpool-postgres and bb8-postgres with their
//! defaults, every pool holding at most 16 connections. Skipped when PostgreSQL does not
//! answer. Notes then give the ratio against deadpool-postgres over alternating pairs of short
//! runs, with its standard error (see `support::paired_ratio`), and the same ratio for the
//! floor: the driver alone, 16 clients used with no pool at all, which bounds how far ahead of
//! deadpool-postgres any pool of 16 connections could be.

mod support;

use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use asyncperf_pools::{PoolConfig, PoolKind, PostgresPool, postgres_pool};
use asyncperf_testkit::bench::{OURS, duration, note, pick, skip};
use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main,
};
use support::{paired_ratio, spread};
use tokio::runtime::Runtime;
use tokio_postgres::{Client, NoTls};

const POOL_SIZE: usize = 16;
const CONCURRENCY: [usize; 2] = [16, 64];

fn bench(c: &mut Criterion) {
    let Some(url) = asyncperf_testkit::postgres_url() else {
        skip("postgres_select_1: PostgreSQL does not answer");
        return;
    };
    // Before any pool connects: the HTTP bench that usually runs just before leaves sockets
    // for the kernel to reap (see `settle_sockets`).
    let time_wait = asyncperf_testkit::bench::settle_sockets(duration(Duration::from_secs(70)));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");

    let ours = rt.block_on(async {
        let config = PoolConfig::for_kind(PoolKind::DatabaseLight)
            .min_idle(POOL_SIZE)
            .max_open(POOL_SIZE);
        postgres_pool(&url, config).await.expect("asyncperf pool")
    });
    let pg_config = tokio_postgres::Config::from_str(&url).expect("postgres URL");
    let deadpool =
        deadpool_postgres::Pool::builder(deadpool_postgres::Manager::new(pg_config.clone(), NoTls))
            .max_size(POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .expect("deadpool pool");
    let floor = rt.block_on(unpooled_clients(&pg_config, POOL_SIZE));
    let bb8 = rt.block_on(async {
        let manager = bb8_postgres::PostgresConnectionManager::new(pg_config, NoTls);
        bb8::Pool::builder()
            .max_size(u32::try_from(POOL_SIZE).unwrap_or(u32::MAX))
            .build(manager)
            .await
            .expect("bb8 pool")
    });

    if let Some(tw) = time_wait.filter(|&tw| tw >= 1000) {
        note(format!(
            "postgres_select_1: waited for {tw} sockets in TIME_WAIT (left by the bench before) to drop below 1000 before measuring"
        ));
    }
    // Whichever pool is measured first in the process paid ~13% at concurrency 16 (swapping
    // the order moved the penalty with it), so every pool runs the same untimed load first.
    let warm_up = pick(100_000, 5_000);
    rt.block_on(async {
        let pool = ours.clone();
        spread(warm_up, POOL_SIZE, move |_| select_ours(pool.clone())).await;
        let pool = deadpool.clone();
        spread(warm_up, POOL_SIZE, move |_| select_deadpool(pool.clone())).await;
        let pool = bb8.clone();
        spread(warm_up, POOL_SIZE, move |_| select_bb8(pool.clone())).await;
        each_client(&floor, warm_up).await;
    });
    let mut group = c.benchmark_group("postgres_select_1");
    group.throughput(Throughput::Elements(1));
    for concurrency in CONCURRENCY {
        measure(&mut group, &rt, OURS, concurrency, &ours, select_ours);
        measure(
            &mut group,
            &rt,
            "deadpool-postgres",
            concurrency,
            &deadpool,
            select_deadpool,
        );
        measure(
            &mut group,
            &rt,
            "bb8-postgres",
            concurrency,
            &bb8,
            select_bb8,
        );
    }
    group.finish();

    // The same comparison against the faster peer, as alternating pairs of short runs; and
    // the floor against it: no pool at all, so what separates the floor from deadpool-postgres
    // is all of deadpool's own cost, and no pool of 16 connections can be further ahead of it
    // than the floor.
    let (rounds, iters) = pick((20, 30_000), (3, 2_000));
    let run_deadpool = |concurrency: usize| {
        let pool = deadpool.clone();
        move |iters| {
            let pool = pool.clone();
            spread(iters, concurrency, move |_| select_deadpool(pool.clone()))
        }
    };
    for concurrency in CONCURRENCY {
        let pool = ours.clone();
        let run_ours = move |iters| {
            let pool = pool.clone();
            spread(iters, concurrency, move |_| select_ours(pool.clone()))
        };
        let paired = rt.block_on(paired_ratio(
            rounds,
            iters,
            run_ours,
            run_deadpool(concurrency),
        ));
        note_paired(
            concurrency,
            "deadpool-postgres time / asyncperf time",
            rounds,
            iters,
            paired,
        );
        let run_floor = |iters| each_client(&floor, iters);
        let paired = rt.block_on(paired_ratio(
            rounds,
            iters,
            run_floor,
            run_deadpool(concurrency),
        ));
        let ratio = format!(
            "the floor, no pool ({POOL_SIZE} tasks, each with a client of its own): deadpool-postgres time / floor time"
        );
        note_paired(concurrency, &ratio, rounds, iters, paired);
    }

    let m = ours.metrics();
    note(format!(
        "postgres_select_1: asyncperf opened {} connections for {} checkouts ({} errors); deadpool-postgres checks only is_closed() (RecyclingMethod::Fast), bb8-postgres runs a query at every checkout",
        m.connections_created, m.checkouts, m.errors
    ));
    rt.block_on(async move { drop((ours, deadpool, bb8, floor)) });
}

/// Notes `paired`, the mean and standard error of `ratio` at `concurrency` over `rounds` pairs
/// of runs of `iters` queries (nothing when there were too few pairs for an error).
fn note_paired(
    concurrency: usize,
    ratio: &str,
    rounds: usize,
    iters: u64,
    paired: Option<(f64, f64)>,
) {
    if let Some((mean, standard_error)) = paired {
        note(format!(
            "postgres_select_1/{concurrency}: {ratio} over {rounds} alternating pairs of {iters} queries: {mean:.3} ± {standard_error:.3} (standard error)"
        ));
    }
}

/// `op` on clones of `pool` from `concurrency` tasks, as one benchmark of `group`.
fn measure<P, F, Fut>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &Runtime,
    name: &str,
    concurrency: usize,
    pool: &P,
    op: F,
) where
    P: Clone + Send + Sync + 'static,
    F: Fn(P) -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    group.bench_with_input(
        BenchmarkId::new(name, concurrency),
        &concurrency,
        |b, &n| {
            b.to_async(rt).iter_custom(|iters| {
                let pool = pool.clone();
                spread(iters, n, move |_| op(pool.clone()))
            });
        },
    );
}

async fn select_ours(pool: PostgresPool) {
    let mut conn = pool.get().await.expect("asyncperf get");
    let rows = conn.simple_query("SELECT 1").await.expect("SELECT 1");
    std::hint::black_box(rows);
}

async fn select_deadpool(pool: deadpool_postgres::Pool) {
    let conn = pool.get().await.expect("deadpool get");
    let rows = conn.simple_query("SELECT 1").await.expect("SELECT 1");
    std::hint::black_box(rows);
}

async fn select_bb8(pool: Bb8Pool) {
    let conn = pool.get().await.expect("bb8 get");
    let rows = conn.simple_query("SELECT 1").await.expect("SELECT 1");
    std::hint::black_box(rows);
}

/// `n` clients connected without a pool.
async fn unpooled_clients(config: &tokio_postgres::Config, n: usize) -> Vec<Arc<Client>> {
    let mut clients = Vec::with_capacity(n);
    for _ in 0..n {
        let (client, connection) = config.connect(NoTls).await.expect("unpooled client");
        tokio::spawn(connection);
        clients.push(Arc::new(client));
    }
    clients
}

/// `iters` queries shared out over one task per client, each using only its own client: the
/// driver alone, with no queue, no checkout and no bookkeeping.
async fn each_client(clients: &[Arc<Client>], iters: u64) -> Duration {
    let n = clients.len() as u64;
    let start = Instant::now();
    let tasks: Vec<_> = (0..n)
        .zip(clients)
        .map(|(k, client)| {
            // The first `iters % n` tasks take one query more.
            let share = iters / n + u64::from(k < iters % n);
            let client = Arc::clone(client);
            tokio::spawn(async move {
                for _ in 0..share {
                    let rows = client.simple_query("SELECT 1").await.expect("SELECT 1");
                    std::hint::black_box(rows);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("bench task");
    }
    start.elapsed()
}

type Bb8Pool = bb8::Pool<bb8_postgres::PostgresConnectionManager<NoTls>>;

criterion_group!(benches, bench);
criterion_main!(benches);
