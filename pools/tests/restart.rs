//! Server restarts under load: Redis (`redis-cli shutdown nosave`, then started again) and
//! PostgreSQL (`pg_terminate_backend` of the pool's backends, and one real
//! `pg_ctlcluster restart`). Idempotent requests must all succeed. The tests run one at a
//! time (they stop shared servers) and always bring the server back, even when they fail.

#![cfg(all(feature = "redis", feature = "postgres"))]

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use asyncperf_pools::{DbPoolError, Idempotency, PoolConfig, PoolKind, postgres_pool, redis_pool};

/// One test at a time: each stops a server the others need.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const HANG_GUARD: Duration = Duration::from_secs(60);
const WORKERS: usize = 8;

/// Load: `WORKERS` tasks repeating an operation until stopped, counting outcomes.
#[derive(Default)]
struct Load {
    stop: AtomicBool,
    ok: AtomicU64,
    failed: AtomicU64,
    indeterminate: AtomicU64,
    first_failure: std::sync::Mutex<Option<String>>,
}

impl Load {
    fn record<T, E: std::fmt::Debug + std::error::Error + 'static>(
        &self,
        r: Result<T, DbPoolError<E>>,
    ) {
        match r {
            Ok(_) => {
                self.ok.fetch_add(1, Ordering::Relaxed);
            }
            Err(DbPoolError::Indeterminate(_)) => {
                self.indeterminate.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                self.first_failure
                    .lock()
                    .unwrap()
                    .get_or_insert_with(|| format!("{e:?}"));
            }
        }
    }

    /// Waits until `more` further operations succeeded (a hang guard, not a timing check).
    async fn progress(&self, more: u64) {
        let target = self.ok.load(Ordering::Relaxed) + more;
        tokio::time::timeout(HANG_GUARD, async {
            while self.ok.load(Ordering::Relaxed) < target {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .unwrap_or_else(|_| {
            panic!(
                "no progress: {} ok, {} failed ({:?})",
                self.ok.load(Ordering::Relaxed),
                self.failed.load(Ordering::Relaxed),
                self.first_failure.lock().unwrap()
            )
        });
    }

    fn assert_no_failures(&self) {
        assert_eq!(
            self.failed.load(Ordering::Relaxed),
            0,
            "first failure: {:?}",
            self.first_failure.lock().unwrap()
        );
    }
}

fn run(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + HANG_GUARD;
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------------------
// Redis

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_fails_no_idempotent_request() {
    let _serial = SERIAL.lock().await;
    // Brings the server back when dropped, even if an assertion below fails.
    let Some(server) = asyncperf_testkit::LocalRedis::restartable() else {
        return;
    };
    let url = server.url().to_owned();
    let config = PoolConfig::for_kind(PoolKind::Redis)
        .min_idle(4)
        .max_open(WORKERS)
        .get_timeout(Duration::from_secs(30))
        .command_timeout(Some(Duration::from_secs(5)));
    let pool = redis_pool(&url, config).await.unwrap();
    let prefix = format!("asyncperf-pools-restart:{}:", std::process::id());

    let idempotent = Arc::new(Load::default());
    let counters = Arc::new(Load::default());
    let mut tasks = Vec::new();
    for worker in 0..WORKERS {
        let (pool, load, key) = (
            pool.clone(),
            Arc::clone(&idempotent),
            format!("{prefix}{worker}"),
        );
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !load.stop.load(Ordering::Relaxed) {
                n += 1;
                let set = pool
                    .query::<()>(redis::cmd("SET").arg(&key).arg(n).arg("EX").arg(60))
                    .await;
                load.record(set);
                let got = pool.query::<Option<u64>>(redis::cmd("GET").arg(&key)).await;
                if let Ok(Some(v)) = &got {
                    // Data is lost by `shutdown nosave`, never stale: what we read is what we
                    // wrote last, or nothing.
                    assert_eq!(*v, n);
                }
                load.record(got);
            }
        }));
    }
    // One non-idempotent worker: its INCRs succeed or report `Indeterminate`, nothing else,
    // and none runs twice: between two successes with nothing indeterminate in between, the
    // counter moves by exactly one (or starts over at 1, the data lost by the restart).
    {
        let (pool, load, key) = (pool.clone(), Arc::clone(&counters), format!("{prefix}incr"));
        tasks.push(tokio::spawn(async move {
            let mut last = None;
            while !load.stop.load(Ordering::Relaxed) {
                let r = pool.query::<i64>(redis::cmd("INCR").arg(&key)).await;
                if let (Ok(v), Some(prev)) = (&r, last) {
                    assert!(*v == prev + 1 || *v == 1, "{prev} then {v}");
                }
                last = r.as_ref().ok().copied();
                load.record(r);
            }
        }));
    }

    idempotent.progress(500).await;
    let created_before = pool.metrics().connections_created;
    // Blocks this worker thread only; the load runs on the other.
    tokio::task::block_in_place(|| {
        server.stop();
        server.start();
    });
    idempotent.progress(500).await;
    counters.progress(10).await;

    idempotent.stop.store(true, Ordering::Relaxed);
    counters.stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    idempotent.assert_no_failures();
    counters.assert_no_failures();
    assert_eq!(idempotent.indeterminate.load(Ordering::Relaxed), 0);
    let m = pool.metrics();
    assert!(
        m.connections_created > created_before,
        "the pool never reconnected: was Redis restarted? {m:?}"
    );
    println!(
        "redis restart: {} idempotent ok, 0 failed; INCR {} ok, {} indeterminate; {m:?}",
        idempotent.ok.load(Ordering::Relaxed),
        counters.ok.load(Ordering::Relaxed),
        counters.indeterminate.load(Ordering::Relaxed)
    );
    let _: Result<i64, _> = pool
        .query(redis::cmd("DEL").arg(format!("{prefix}incr")))
        .await;
}

// ---------------------------------------------------------------------------------------
// PostgreSQL

fn postgres_answers() -> bool {
    run("pg_isready", &["-h", "127.0.0.1", "-p", "5432", "-q"])
}

fn cluster_version() -> Option<String> {
    let mut versions: Vec<String> = std::fs::read_dir("/etc/postgresql")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    versions.sort_by_key(|v| v.parse::<u32>().unwrap_or(0));
    versions.pop()
}

fn pg_ctlcluster(version: &str, action: &str) -> bool {
    run(
        "pg_ctlcluster",
        &[
            "--skip-systemctl-redirect",
            "--mode",
            "fast",
            version,
            "main",
            action,
        ],
    )
}

/// Starts PostgreSQL again if it is down when dropped.
struct RestorePostgres(String);

impl Drop for RestorePostgres {
    fn drop(&mut self) {
        if !postgres_answers() {
            pg_ctlcluster(&self.0, "start");
            wait_until("PostgreSQL answers again", postgres_answers);
        }
    }
}

fn unique_app() -> String {
    asyncperf_testkit::unique_name("asyncperf_pools_restart")
}

fn pg_config() -> PoolConfig {
    PoolConfig::for_kind(PoolKind::DatabaseLight)
        .min_idle(4)
        .max_open(WORKERS)
        .get_timeout(Duration::from_secs(30))
        .command_timeout(Some(Duration::from_secs(10)))
}

/// A non-idempotent load beside the reads: one task inserting rows into a table of its own.
/// Each insert succeeds or is `Indeterminate`; none may run twice.
struct Inserts {
    load: Arc<Load>,
    task: tokio::task::JoinHandle<()>,
    table: String,
}

impl Inserts {
    async fn start(pool: &asyncperf_pools::PostgresPool, admin: &tokio_postgres::Client) -> Self {
        let table = unique_app();
        admin
            .batch_execute(&format!("CREATE TABLE {table} (n int)"))
            .await
            .unwrap();
        let load = Arc::new(Load::default());
        let insert = format!("INSERT INTO {table} VALUES (1)");
        let task = tokio::spawn({
            let (pool, load) = (pool.clone(), Arc::clone(&load));
            async move {
                while !load.stop.load(Ordering::Relaxed) {
                    let r = pool
                        .run(Idempotency::NotIdempotent, |conn| {
                            let insert = insert.clone();
                            Box::pin(async move { conn.execute(insert.as_str(), &[]).await })
                        })
                        .await;
                    load.record(r);
                }
            }
        });
        Self { load, task, table }
    }

    /// Stops the load; then every insert that succeeded is in the table once, and those
    /// that are indeterminate at most once.
    async fn stop_and_check(self, admin: &tokio_postgres::Client) {
        self.load.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap();
        let rows: i64 = admin
            .query_one(&format!("SELECT count(*) FROM {}", self.table), &[])
            .await
            .unwrap()
            .get(0);
        admin
            .batch_execute(&format!("DROP TABLE {}", self.table))
            .await
            .unwrap();
        self.load.assert_no_failures();
        let ok = i64::try_from(self.load.ok.load(Ordering::Relaxed)).unwrap();
        let unknown = i64::try_from(self.load.indeterminate.load(Ordering::Relaxed)).unwrap();
        assert!(
            ok <= rows && rows <= ok + unknown,
            "{rows} rows for {ok} inserts ok and {unknown} indeterminate"
        );
        println!("inserts: {ok} ok, {unknown} indeterminate, {rows} rows");
    }
}

/// `WORKERS` tasks running an idempotent read in a loop.
fn select_load(
    pool: &asyncperf_pools::PostgresPool,
) -> (Arc<Load>, Vec<tokio::task::JoinHandle<()>>) {
    let load = Arc::new(Load::default());
    let tasks = (0..WORKERS)
        .map(|_| {
            let (pool, load) = (pool.clone(), Arc::clone(&load));
            tokio::spawn(async move {
                while !load.stop.load(Ordering::Relaxed) {
                    let r = pool
                        .run(Idempotency::Idempotent, |conn| {
                            Box::pin(async move {
                                let row = conn.query_one("SELECT 1 + 1", &[]).await?;
                                Ok::<i32, asyncperf_pools::PostgresPoolError>(row.get(0))
                            })
                        })
                        .await;
                    if let Ok(v) = &r {
                        assert_eq!(*v, 2);
                    }
                    load.record(r);
                }
            })
        })
        .collect();
    (load, tasks)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_backends_terminated_under_load_fail_no_request() {
    let _serial = SERIAL.lock().await;
    let Some(url) = asyncperf_testkit::postgres_url() else {
        return;
    };
    let app = unique_app();
    let sep = if url.contains('?') { '&' } else { '?' };
    let pool = postgres_pool(&format!("{url}{sep}application_name={app}"), pg_config())
        .await
        .unwrap();
    let (admin, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);

    let (load, tasks) = select_load(&pool);
    let inserts = Inserts::start(&pool, &admin).await;
    load.progress(200).await;
    for _ in 0..3 {
        let created = pool.metrics().connections_created;
        let killed: Vec<bool> = admin
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
                &[&app],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert!(!killed.is_empty() && killed.iter().all(|k| *k));
        load.progress(200).await;
        assert!(pool.metrics().connections_created > created);
    }
    load.stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    inserts.stop_and_check(&admin).await;
    load.assert_no_failures();
    println!(
        "postgres terminate x3: {} ok, 0 failed; {:?}",
        load.ok.load(Ordering::Relaxed),
        pool.metrics()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_fails_no_idempotent_request() {
    let _serial = SERIAL.lock().await;
    let Some(url) = asyncperf_testkit::postgres_url() else {
        return;
    };
    let local = url.contains("@127.0.0.1:5432/") || url.contains("@localhost:5432/");
    let Some(version) = cluster_version().filter(|_| local && postgres_answers()) else {
        asyncperf_testkit::skip_service(&format!(
            "cannot restart the PostgreSQL server at {url} from this test"
        ));
        return;
    };
    let _restore = RestorePostgres(version.clone());
    let pool = postgres_pool(&url, pg_config()).await.unwrap();

    let (load, tasks) = select_load(&pool);
    let inserts = {
        let (admin, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        Inserts::start(&pool, &admin).await
    };
    load.progress(200).await;
    let created = pool.metrics().connections_created;
    let restarted = tokio::task::spawn_blocking(move || pg_ctlcluster(&version, "restart"))
        .await
        .unwrap();
    assert!(restarted, "pg_ctlcluster restart failed");
    load.progress(200).await;
    load.stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    let (admin, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    inserts.stop_and_check(&admin).await;
    load.assert_no_failures();
    assert!(pool.metrics().connections_created > created);
    println!(
        "postgres restart: {} ok, 0 failed; {:?}",
        load.ok.load(Ordering::Relaxed),
        pool.metrics()
    );
}
