//! The Redis-backed limiters against the real server (skipped when it does not answer).
//!
//! - `redis_semaphore_mt/64-tasks-<n>-permits`: 64 tasks on 2 worker threads share 16
//!   permits (waiters queue) or 100 (only the round trips contend), each looping acquire +
//!   release (awaited). Ours (`asyncperf`: one driver per process batching
//!   every pending acquire and release into one script, pub/sub wake-ups, and a lease passed
//!   straight to a waiting task of the process) against
//!   `zset-polling`: the usual hand-written semaphore (redis-semaphore's algorithm: a sorted
//!   set scored by client time, one acquire script per attempt, a retry every 10 ms while full,
//!   a `ZREM` to release), written below.
//! - `redis_semaphore_mt/64-tasks-16-permits-4-handles`: the same 64 tasks and 16 permits
//!   spread over 4 handles of their own (4 semaphores with one name, each with its own driver
//!   and connections: to Redis, 4 processes), 16 tasks each, so that processes wait for each
//!   other and a lease serves its process only for the pass-on window after its grant. The
//!   peer gets 4 connections, one per 16 tasks.
//! - `redis_semaphore_sequential`: one task, acquire + release, nothing contended: the
//!   latency floor of each.
//! - `redis_rate_allow_mt/64`: 64 tasks calling `allow` on 16 keys: ours (GCRA script) against
//!   `fixed-window` (an `INCR` + `PEXPIRE` script, the common hand-written limiter, which lets
//!   twice the rate through at window edges).
//!
//! The p50 and p99 of one acquire + release, over all iterations, are printed as notes.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use asyncperf_limiter::redis::aio::ConnectionManager;
use asyncperf_limiter::redis::{self, Script};
use asyncperf_limiter::{RedisRateLimiter, RedisSemaphore};
use asyncperf_testkit::bench::{OURS, note, skip};
use criterion::{BenchmarkId, Criterion, Throughput};

const TASKS: usize = 64;
const PERMITS: u32 = 16;
const POLL: Duration = Duration::from_millis(10);
const LEASE: Duration = Duration::from_secs(10);

fn main() {
    let Some(url) = asyncperf_testkit::redis_url() else {
        skip("redis benches: no Redis server answers");
        return;
    };
    let client = redis::Client::open(url).expect("valid REDIS_URL");
    let mut c = Criterion::default().configure_from_args();
    semaphore_contended(&mut c, &client);
    semaphore_sequential(&mut c, &client);
    rate_allow(&mut c, &client);
    c.final_summary();
}

fn unique(what: &str) -> String {
    format!("bench:{what}:{:016x}", rand::random::<u64>())
}

/// The semaphore a team writes by hand (redis-semaphore's algorithm, client time, polling).
#[derive(Clone)]
struct PollingSemaphore {
    conn: ConnectionManager,
    key: String,
    limit: u32,
    /// Its releases' round trips.
    releases: Arc<Tally>,
}

/// A count of operations and the time they took in all, added to from many tasks.
#[derive(Default)]
struct Tally {
    count: AtomicU64,
    nanos: AtomicU64,
}

impl Tally {
    fn add(&self, count: u64, took: Duration) {
        self.count.fetch_add(count, Ordering::Relaxed);
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// The mean time per operation in µs, if any was counted.
    fn mean_us(&self) -> Option<f64> {
        let count = self.count.load(Ordering::Relaxed);
        let nanos = self.nanos.load(Ordering::Relaxed);
        (count > 0).then(|| nanos as f64 / count as f64 / 1e3)
    }
}

static POLLING_ACQUIRE: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| {
    Script::new(
        r"
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1] - ARGV[2])
        if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
          redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
          redis.call('PEXPIRE', KEYS[1], ARGV[2])
          return 1
        end
        return 0",
    )
});

impl PollingSemaphore {
    async fn acquire(&self) -> String {
        let id = format!("{:016x}", rand::random::<u64>());
        let mut conn = self.conn.clone();
        loop {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_millis() as u64;
            let acquired: i64 = POLLING_ACQUIRE
                .key(&self.key)
                .arg(now)
                .arg(LEASE.as_millis() as u64)
                .arg(self.limit)
                .arg(&id)
                .invoke_async(&mut conn)
                .await
                .expect("acquire script");
            if acquired == 1 {
                return id;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn release(&self, id: String) {
        let mut conn = self.conn.clone();
        let started = Instant::now();
        let _: i64 = redis::cmd("ZREM")
            .arg(&self.key)
            .arg(id)
            .query_async(&mut conn)
            .await
            .expect("ZREM");
        self.releases.add(1, started.elapsed());
    }
}

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Runs `ops` operations on `TASKS` tasks (whoever is free takes the next one), recording the
/// latency of each; returns the wall time.
async fn run_ops<F, Fut>(ops: u64, latencies: &Arc<Mutex<Vec<u32>>>, op: F) -> Duration
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let remaining = Arc::new(AtomicU64::new(ops));
    let start = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let remaining = Arc::clone(&remaining);
            let latencies = Arc::clone(latencies);
            let op = op.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                while remaining
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                    .is_ok()
                {
                    let started = Instant::now();
                    op(task).await;
                    mine.push(started.elapsed().as_micros().min(u32::MAX as u128) as u32);
                }
                latencies.lock().unwrap().extend(mine);
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("no panic");
    }
    start.elapsed()
}

fn percentiles(scenario: &str, id: &str, latencies: &Mutex<Vec<u32>>) {
    let mut all = std::mem::take(&mut *latencies.lock().unwrap());
    if all.is_empty() {
        return;
    }
    all.sort_unstable();
    let at = |q: f64| all[((all.len() - 1) as f64 * q) as usize];
    note(format!(
        "{scenario} {id}: acquire + release p50 {} µs, p99 {} µs, max {} µs ({} ops)",
        at(0.5),
        at(0.99),
        all[all.len() - 1],
        all.len()
    ));
}

fn semaphore_contended(c: &mut Criterion, client: &redis::Client) {
    let rt = multi_thread();
    let scenario = "redis_semaphore_mt";
    let mut group = c.benchmark_group(scenario);
    group.throughput(Throughput::Elements(1));
    group.sample_size(10);
    let latencies = Arc::new(Mutex::new(Vec::new()));
    // Fewer permits than tasks (waiters queue), and more (only the round trips contend); and
    // the tasks of 4 processes (handles) waiting for each other.
    for (permits, handles) in [(PERMITS, 1), (100, 1), (PERMITS, 4)] {
        let param = match handles {
            1 => format!("{TASKS}-tasks-{permits}-permits"),
            _ => format!("{TASKS}-tasks-{permits}-permits-{handles}-handles"),
        };
        let row = format!("{scenario}/{param}");
        let name = unique("sem");
        let ours: Vec<RedisSemaphore> = rt.block_on(async {
            (0..handles)
                .map(|_| {
                    RedisSemaphore::builder(client.clone(), &name, permits)
                        .lease(LEASE)
                        .build()
                        .expect("semaphore")
                })
                .collect()
        });
        group.bench_function(BenchmarkId::new(OURS, &param), |b| {
            b.to_async(&rt).iter_custom(|ops| {
                let ours = ours.clone();
                let latencies = Arc::clone(&latencies);
                async move {
                    run_ops(ops, &latencies, move |task| {
                        let ours = ours[task % ours.len()].clone();
                        async move {
                            let permit = ours.acquire().await.expect("permit");
                            black_box(permit.fencing_token());
                            permit.release().await.expect("release");
                        }
                    })
                    .await
                }
            })
        });
        percentiles(&row, OURS, &latencies);
        let floor_us = ours_note(&row, &ours, permits);

        let polling: Vec<PollingSemaphore> = rt.block_on(async {
            let key = unique("polling");
            let mut polling = Vec::new();
            for _ in 0..handles {
                polling.push(PollingSemaphore {
                    conn: client.get_connection_manager().await.expect("connect"),
                    key: key.clone(),
                    limit: permits,
                    releases: Arc::default(),
                });
            }
            polling
        });
        // Every iteration's operations and wall time, for the mean time per operation.
        let polling_total = Arc::new(Tally::default());
        group.bench_function(BenchmarkId::new("zset-polling", &param), |b| {
            b.to_async(&rt).iter_custom(|ops| {
                let polling = polling.clone();
                let latencies = Arc::clone(&latencies);
                let total = Arc::clone(&polling_total);
                async move {
                    let took = run_ops(ops, &latencies, move |task| {
                        let polling = polling[task % polling.len()].clone();
                        async move {
                            let id = polling.acquire().await;
                            polling.release(black_box(id)).await;
                        }
                    })
                    .await;
                    total.add(ops, took);
                    took
                }
            })
        });
        percentiles(&row, "zset-polling", &latencies);
        if let Some(release_us) = polling[0].releases.mean_us() {
            note(format!(
                "{row} zset-polling: a release (one ZREM round trip) took {release_us:.0} µs on average"
            ));
        }
        if let (Some(floor_us), Some(peer_us)) = (floor_us, polling_total.mean_us()) {
            note(format!(
                "{row}: zset-polling took {peer_us:.2} µs per op over all its iterations: at the floor of a client that passed nothing on and cost nothing ({floor_us:.2} µs) ours would be {:.2}x faster",
                peer_us / floor_us
            ));
        }
    }
    group.finish();
}

/// Notes what our handles did: round trips, grants and leases passed on; returns the floor
/// per operation of a client that passes nothing on (in µs), if there were round trips.
fn ours_note(row: &str, ours: &[RedisSemaphore], permits: u32) -> Option<f64> {
    let snapshots: Vec<_> = ours.iter().map(RedisSemaphore::snapshot).collect();
    let sum =
        |f: fn(&asyncperf_limiter::RedisSnapshot) -> u64| snapshots.iter().map(f).sum::<u64>();
    let round_trips = sum(|s| s.round_trips);
    if round_trips == 0 {
        return None;
    }
    let rtt_us = snapshots
        .iter()
        .map(|s| s.round_trip_time.as_secs_f64())
        .sum::<f64>()
        * 1e6
        / round_trips as f64;
    let granted = sum(|s| s.granted);
    let passed_on = sum(|s| s.passed_on);
    // Without passing on, every grant waits for one round trip, and a task's next acquire
    // waits for its release's: at most min(permits, tasks / 2) operations per round trip.
    let per_rtt = (permits as usize).min(TASKS / 2);
    let floor = rtt_us / per_rtt as f64;
    note(format!(
        "{row} {OURS}: {round_trips} round trips to Redis in all ({} errors), mean {rtt_us:.0} µs; {granted} leases granted by Redis ({:.1} per round trip), {passed_on} passed on to a waiting task without a round trip ({:.1}% of permits); release awaited",
        sum(|s| s.errors),
        granted as f64 / round_trips as f64,
        100.0 * passed_on as f64 / (granted + passed_on).max(1) as f64,
    ));
    if ours.len() > 1 {
        // How evenly the processes were served: each handle's permits (granted or passed on).
        let shares: Vec<String> = snapshots
            .iter()
            .map(|s| {
                let share = (s.granted + s.passed_on) as f64 / (granted + passed_on).max(1) as f64;
                format!("{:.0}%", 100.0 * share)
            })
            .collect();
        note(format!(
            "{row} {OURS}: permits per handle {}",
            shares.join(" / ")
        ));
    }
    Some(floor)
}

fn semaphore_sequential(c: &mut Criterion, client: &redis::Client) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("redis_semaphore_sequential");
    group.throughput(Throughput::Elements(1));
    let ours = rt.block_on(async {
        RedisSemaphore::builder(client.clone(), unique("sem-seq"), PERMITS)
            .build()
            .expect("semaphore")
    });
    group.bench_function(OURS, |b| {
        b.to_async(&rt).iter(|| async {
            let permit = ours.acquire().await.expect("permit");
            black_box(permit.fencing_token());
            permit.release().await.expect("release");
        })
    });
    let polling = rt.block_on(async {
        PollingSemaphore {
            conn: client.get_connection_manager().await.expect("connect"),
            key: unique("polling-seq"),
            limit: PERMITS,
            releases: Arc::default(),
        }
    });
    group.bench_function("zset-polling", |b| {
        b.to_async(&rt).iter(|| async {
            let id = polling.acquire().await;
            polling.release(black_box(id)).await;
        })
    });
    group.finish();
}

static FIXED_WINDOW: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| {
    Script::new(
        r"
        local n = redis.call('INCR', KEYS[1])
        if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
        return n <= tonumber(ARGV[2]) and 1 or 0",
    )
});

fn rate_allow(c: &mut Criterion, client: &redis::Client) {
    let rt = multi_thread();
    let mut group = c.benchmark_group("redis_rate_allow_mt");
    group.throughput(Throughput::Elements(1));
    group.sample_size(10);
    let keys: Arc<[String]> = (0..16).map(|k| format!("user:{k}")).collect();
    let none = Arc::new(Mutex::new(Vec::new()));

    let ours = rt.block_on(async {
        RedisRateLimiter::builder(client.clone(), unique("rate"))
            .per_second(1_000)
            .burst(100)
            .build()
            .expect("rate limiter")
    });
    let counter = Arc::new(AtomicU64::new(0));
    group.bench_function(BenchmarkId::new(OURS, TASKS), |b| {
        b.to_async(&rt).iter_custom(|ops| {
            let (ours, keys, none, counter) = (
                ours.clone(),
                Arc::clone(&keys),
                Arc::clone(&none),
                Arc::clone(&counter),
            );
            async move {
                run_ops(ops, &none, move |_| {
                    let (ours, keys) = (ours.clone(), Arc::clone(&keys));
                    let k = counter.fetch_add(1, Ordering::Relaxed) as usize % keys.len();
                    async move {
                        black_box(ours.allow(&keys[k]).await.expect("allow"));
                    }
                })
                .await
            }
        })
    });

    let prefix = unique("fixed");
    let conn = rt
        .block_on(client.get_connection_manager())
        .expect("connect");
    group.bench_function(BenchmarkId::new("fixed-window", TASKS), |b| {
        b.to_async(&rt).iter_custom(|ops| {
            let (conn, keys, none, counter, prefix) = (
                conn.clone(),
                Arc::clone(&keys),
                Arc::clone(&none),
                Arc::clone(&counter),
                prefix.clone(),
            );
            async move {
                run_ops(ops, &none, move |_| {
                    let mut conn = conn.clone();
                    let k = counter.fetch_add(1, Ordering::Relaxed) as usize % keys.len();
                    let key = format!("{prefix}:{}", keys[k]);
                    async move {
                        let allowed: i64 = FIXED_WINDOW
                            .key(key)
                            .arg(1_000)
                            .arg(1_000)
                            .invoke_async(&mut conn)
                            .await
                            .expect("fixed window");
                        black_box(allowed);
                    }
                })
                .await
            }
        })
    });
    group.finish();
}
