//! The PostgreSQL pool against the real server: sizing, metrics, both halves of the command
//! timeout, lifetimes, typed errors and the retry policy. Skipped (with a reason) when
//! PostgreSQL does not answer.

#![cfg(feature = "postgres")]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use asyncperf_pools::{
    DbPoolError, Idempotency, PoolConfig, PoolKind, PostgresPool, postgres_pool,
};
use tokio_postgres::NoTls;

const HANG_GUARD: Duration = Duration::from_secs(20);

/// A unique `application_name`, so the test can find (and terminate) its own backends.
fn unique_app() -> String {
    asyncperf_testkit::unique_name("asyncperf_pools_test")
}

fn with_app(url: &str, app: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}application_name={app}")
}

fn small() -> PoolConfig {
    PoolConfig::for_kind(PoolKind::DatabaseLight)
        .min_idle(2)
        .max_open(4)
        .get_timeout(Duration::from_secs(10))
        .command_timeout(Some(Duration::from_secs(10)))
}

async fn pool(config: PoolConfig) -> Option<(PostgresPool, String)> {
    let url = asyncperf_testkit::postgres_url()?;
    let app = unique_app();
    let pool = postgres_pool(&with_app(&url, &app), config)
        .await
        .expect("pool builds");
    Some((pool, app))
}

/// A connection outside any pool, for looking at and terminating the pool's backends.
async fn admin() -> tokio_postgres::Client {
    let url = asyncperf_testkit::postgres_url().unwrap();
    let (client, connection) = tokio_postgres::connect(&url, NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

async fn backends(admin: &tokio_postgres::Client, app: &str) -> i64 {
    admin
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
            &[&app],
        )
        .await
        .unwrap()
        .get(0)
}

/// Waits until the (one) backend of `app` runs `pg_sleep`; a hang guard, not a timing check.
async fn pg_sleep_running(admin: &tokio_postgres::Client, app: &str) {
    eventually("pg_sleep running", || async move {
        let n: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'SELECT pg_sleep%' AND state = 'active'",
                &[&app],
            )
            .await
            .unwrap()
            .get(0);
        n == 1
    })
    .await;
}

/// A new table `(n int)` of the test's own in the shared database; the test drops it.
async fn create_table(admin: &tokio_postgres::Client) -> String {
    let table = unique_app();
    admin
        .batch_execute(&format!("CREATE TABLE {table} (n int)"))
        .await
        .unwrap();
    table
}

async fn rows(admin: &tokio_postgres::Client, table: &str) -> i64 {
    admin
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap()
        .get(0)
}

/// Ends backend `pid`'s session from a connection outside the pool.
async fn terminate(pid: i32) {
    let terminated: bool = admin()
        .await
        .query_one("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .unwrap()
        .get(0);
    assert!(terminated);
}

async fn pid(conn: &mut asyncperf_pools::PostgresConnection) -> i32 {
    conn.query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0)
}

async fn eventually<F: std::future::Future<Output = bool>>(
    what: &str,
    mut cond: impl FnMut() -> F,
) {
    tokio::time::timeout(HANG_GUARD, async {
        while !cond().await {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("never happened: {what}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warms_min_idle_and_reports_uniform_metrics() {
    let Some((pool, app)) = pool(small()).await else {
        return;
    };
    let m = pool.metrics();
    assert_eq!((m.open, m.idle, m.in_use, m.waiters), (2, 2, 0, 0));
    assert_eq!(backends(&admin().await, &app).await, 2);

    let mut conn = pool.get().await.unwrap();
    let row = conn.query_one("SELECT $1::int + 1", &[&41]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 42);
    assert_eq!((pool.metrics().in_use, pool.metrics().open), (1, 2));
    drop(conn);

    let n: i32 = pool
        .run(Idempotency::Idempotent, |conn| {
            Box::pin(async move {
                let row = conn.query_one("SELECT 7", &[]).await?;
                Ok::<_, asyncperf_pools::PostgresPoolError>(row.get(0))
            })
        })
        .await
        .unwrap();
    assert_eq!(n, 7);
    let m = pool.metrics();
    assert_eq!((m.checkouts, m.errors, m.timeouts), (2, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_opens_more_than_max_open() {
    // Long enough for the setup's connects and the 32 callers on a loaded machine; the
    // checkout that must time out waits it in full.
    let config = small().get_timeout(Duration::from_secs(2));
    let Some((pool, app)) = pool(config).await else {
        return;
    };
    let held: Vec<_> = futures::future::join_all((0..4).map(|_| pool.get())).await;
    assert!(held.iter().all(Result::is_ok));
    assert!(matches!(
        pool.get().await,
        Err(DbPoolError::Timeout {
            last_error: None,
            ..
        })
    ));
    assert_eq!(backends(&admin().await, &app).await, 4);
    drop(held);

    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut conn = pool.get().await.unwrap();
                conn.query_one("SELECT 1", &[]).await.unwrap();
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let m = pool.metrics();
    assert_eq!(m.connections_created, 4, "{m:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_cancels_a_statement_past_the_command_timeout() {
    // The client's own deadline comes a quarter later (500 ms): the server's answer must
    // arrive within that, which a loaded machine can miss when the quarter is 50 ms.
    let config = small().command_timeout(Some(Duration::from_secs(2)));
    let Some((pool, _app)) = pool(config).await else {
        return;
    };
    let mut conn = pool.get().await.unwrap();
    let started = std::time::Instant::now();
    let slept = conn.query("SELECT pg_sleep(5)", &[]).await;
    assert!(
        matches!(slept, Err(DbPoolError::CommandTimeout { .. })),
        "{slept:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    // statement_timeout leaves the connection usable.
    assert!(conn.is_alive());
    conn.query_one("SELECT 1", &[]).await.unwrap();
    assert_eq!(pool.metrics().timeouts, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_deadline_cancels_a_statement_the_server_does_not() {
    let config = small().command_timeout(Some(Duration::from_millis(200)));
    let Some((pool, _app)) = pool(config).await else {
        return;
    };
    let mut conn = pool.get().await.unwrap();
    let backend = pid(&mut conn).await;
    // Switch the server-side half off, as a server too busy to enforce it would.
    conn.batch_execute("SET statement_timeout = 0")
        .await
        .unwrap();
    let slept = conn.query("SELECT pg_sleep(30)", &[]).await;
    assert!(
        matches!(slept, Err(DbPoolError::CommandTimeout { .. })),
        "{slept:?}"
    );
    assert!(
        !conn.is_alive(),
        "an abandoned connection must not be reused"
    );
    drop(conn);
    // The pool cancelled the statement on the server.
    let admin = admin().await;
    eventually("pg_sleep cancelled on the server", || {
        let admin = &admin;
        async move {
            let running: i64 = admin
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND query LIKE 'SELECT pg_sleep%' AND state = 'active'",
                    &[&backend],
                )
                .await
                .unwrap()
                .get(0);
            running == 0
        }
    })
    .await;
    // The next checkout gets a healthy connection.
    let mut conn = pool.get().await.unwrap();
    assert_ne!(pid(&mut conn).await, backend);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_lifetime_rotates_connections() {
    let config = small()
        .min_idle(1)
        .max_lifetime(Some(Duration::from_millis(200)));
    let Some((pool, _app)) = pool(config).await else {
        return;
    };
    let first = pid(&mut pool.get().await.unwrap()).await;
    // The lifetime itself must pass: this sleep is the condition under test.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let mut conn = pool.get().await.unwrap();
    assert_ne!(pid(&mut conn).await, first);
    drop(conn);
    assert!(pool.metrics().connections_closed >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminated_idle_backend_is_never_handed_out() {
    let Some((pool, app)) = pool(small().min_idle(2)).await else {
        return;
    };
    let admin = admin().await;
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[&app],
        )
        .await
        .unwrap();
    // INSERT-like work is safe too: a connection found closed never gets the statement.
    for _ in 0..4 {
        let n: i32 = pool
            .run(Idempotency::NotIdempotent, |conn| {
                Box::pin(async move {
                    Ok::<_, asyncperf_pools::PostgresPoolError>(
                        conn.query_one("SELECT 1", &[]).await?.get(0),
                    )
                })
            })
            .await
            .unwrap();
        assert_eq!(n, 1);
    }
}

/// A TCP proxy in front of the server whose connections the test can cut, as a network
/// failure would: the client sees the socket close with no word from the server.
struct Proxy {
    url: String,
    connections: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Proxy {
    async fn start(url: &str) -> Self {
        let config: tokio_postgres::Config = url.parse().unwrap();
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let target = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxied = format!(
            "postgres://{}@127.0.0.1:{}/{}",
            config.get_user().unwrap_or("postgres"),
            listener.local_addr().unwrap().port(),
            config.get_dbname().unwrap_or("test")
        );
        let connections = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let accepted = std::sync::Arc::clone(&connections);
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let relay = tokio::spawn(async move {
                    let mut outbound = tokio::net::TcpStream::connect(target).await.unwrap();
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                });
                accepted.lock().unwrap().push(relay.abort_handle());
            }
        });
        Self {
            url: proxied,
            connections,
        }
    }

    fn cut_all(&self) {
        for relay in self.connections.lock().unwrap().drain(..) {
            relay.abort();
        }
    }
}

/// Runs `pg_sleep(5)` through a proxied pool of one connection, cutting the connection
/// once the server shows the statement running; returns the outcome and the attempts.
async fn cut_mid_statement(
    idempotency: Idempotency,
) -> Option<(Result<(), asyncperf_pools::PostgresPoolError>, u64)> {
    let url = asyncperf_testkit::postgres_url()?;
    let proxy = Proxy::start(&url).await;
    let app = unique_app();
    let pool = postgres_pool(&with_app(&proxy.url, &app), small().min_idle(1).max_open(1))
        .await
        .unwrap();
    let admin = admin().await;
    let attempts = std::sync::Arc::new(AtomicU64::new(0));
    let counted = std::sync::Arc::clone(&attempts);
    let statement = pool.run(idempotency, move |conn| {
        let attempt = counted.fetch_add(1, Ordering::Relaxed);
        Box::pin(async move {
            // The retry, if any, must not sleep again.
            let seconds = if attempt == 0 { 5.0 } else { 0.0 };
            conn.execute("SELECT pg_sleep($1)", &[&seconds])
                .await
                .map(drop)
        })
    });
    let cutter = async {
        pg_sleep_running(&admin, &app).await;
        proxy.cut_all();
    };
    let (result, ()) = tokio::join!(statement, cutter);
    Some((result, attempts.load(Ordering::Relaxed)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_idempotent_statement_cut_in_flight_is_indeterminate() {
    let Some((result, attempts)) = cut_mid_statement(Idempotency::NotIdempotent).await else {
        return;
    };
    assert!(
        matches!(result, Err(DbPoolError::Indeterminate(_))),
        "{result:?}"
    );
    assert_eq!(attempts, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotent_statement_cut_in_flight_is_retried_once() {
    let Some((result, attempts)) = cut_mid_statement(Idempotency::Idempotent).await else {
        return;
    };
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(attempts, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_the_server_terminated_is_moved_even_if_not_idempotent() {
    let Some((pool, app)) = pool(small().min_idle(1).max_open(1)).await else {
        return;
    };
    let backend = pid(&mut pool.get().await.unwrap()).await;
    let admin = admin().await;
    let killer = tokio::spawn(async move {
        pg_sleep_running(&admin, &app).await;
        admin
            .execute("SELECT pg_terminate_backend($1)", &[&backend])
            .await
            .unwrap();
    });
    let attempts = std::sync::Arc::new(AtomicU64::new(0));
    let counted = std::sync::Arc::clone(&attempts);
    let result = pool
        .run(Idempotency::NotIdempotent, move |conn| {
            let attempt = counted.fetch_add(1, Ordering::Relaxed);
            Box::pin(async move {
                let seconds = if attempt == 0 { 5.0 } else { 0.0 };
                conn.execute("SELECT pg_sleep($1)", &[&seconds]).await
            })
        })
        .await;
    killer.await.unwrap();
    // "terminating connection due to administrator command" answers a statement that did
    // not commit: running it on another connection runs it once.
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(attempts.load(Ordering::Relaxed), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_committed_before_the_session_ended_never_run_twice() {
    // One string of several statements: the INSERT commits, then the session is terminated
    // during the statement after it. The answer is "terminating connection", but the
    // request did run in part: a non-idempotent one must not run again.
    let Some((pool, _app)) = pool(small().min_idle(1).max_open(1)).await else {
        return;
    };
    let admin = admin().await;
    let table = create_table(&admin).await;
    let backend = pid(&mut pool.get().await.unwrap()).await;
    let killer = tokio::spawn({
        let table = table.clone();
        async move {
            eventually("the INSERT committed", || {
                let (admin, table) = (&admin, &table);
                async move { rows(admin, table).await == 1 }
            })
            .await;
            admin
                .execute("SELECT pg_terminate_backend($1)", &[&backend])
                .await
                .unwrap();
            admin
        }
    });
    let attempts = std::sync::Arc::new(AtomicU64::new(0));
    let counted = std::sync::Arc::clone(&attempts);
    let insert = format!("BEGIN; INSERT INTO {table} VALUES (1); COMMIT;");
    let result = pool
        .run(Idempotency::NotIdempotent, move |conn| {
            let attempt = counted.fetch_add(1, Ordering::Relaxed);
            let sleep = if attempt == 0 { 5 } else { 0 };
            let sql = format!("{insert} SELECT pg_sleep({sleep})");
            Box::pin(async move { conn.batch_execute(&sql).await })
        })
        .await;
    let admin = killer.await.unwrap();
    let rows = rows(&admin, &table).await;
    admin
        .batch_execute(&format!("DROP TABLE {table}"))
        .await
        .unwrap();
    assert!(
        matches!(result, Err(DbPoolError::Indeterminate(_))),
        "{result:?}"
    );
    assert_eq!((attempts.load(Ordering::Relaxed), rows), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_driver_call_around_the_tracked_methods_counts_as_sent() {
    // A raw `Client` call (through `Deref`) inserts, then the session ends and the next,
    // tracked, statement finds the connection closed before sending anything: the
    // operation must not run again, since the pool cannot know what the raw call did.
    let Some((pool, _app)) = pool(small().min_idle(1).max_open(1)).await else {
        return;
    };
    let admin = admin().await;
    let table = create_table(&admin).await;
    let backend = pid(&mut pool.get().await.unwrap()).await;
    let attempts = std::sync::Arc::new(AtomicU64::new(0));
    let counted = std::sync::Arc::clone(&attempts);
    let insert = format!("INSERT INTO {table} VALUES (1)");
    let result = pool
        .run(Idempotency::NotIdempotent, move |conn| {
            counted.fetch_add(1, Ordering::Relaxed);
            let insert = insert.clone();
            Box::pin(async move {
                conn.query_typed(&insert, &[]).await?;
                terminate(backend).await;
                eventually("the connection sees the session end", || {
                    let closed = !conn.is_alive();
                    async move { closed }
                })
                .await;
                conn.query_one("SELECT 1", &[]).await.map(drop)
            })
        })
        .await;
    let rows = rows(&admin, &table).await;
    admin
        .batch_execute(&format!("DROP TABLE {table}"))
        .await
        .unwrap();
    assert!(
        matches!(result, Err(DbPoolError::ConnectionClosed)),
        "{result:?}"
    );
    assert_eq!((attempts.load(Ordering::Relaxed), rows), (1, 1));
}

#[tokio::test]
async fn bad_urls_and_credentials_give_typed_errors() {
    let config = small().get_timeout(Duration::from_millis(300));
    let bad = postgres_pool("postgres://user@host:notaport/db", config.clone()).await;
    assert!(matches!(bad, Err(DbPoolError::InvalidUrl(_))), "{bad:?}");
    let invalid = postgres_pool("postgres://u@127.0.0.1/db", config.clone().min_idle(9)).await;
    assert!(
        matches!(invalid, Err(DbPoolError::Config(_))),
        "{invalid:?}"
    );
    let down = postgres_pool("postgres://u@127.0.0.1:1/db", config.clone()).await;
    assert!(
        matches!(
            down,
            Err(DbPoolError::Timeout {
                last_error: Some(_),
                ..
            })
        ),
        "{down:?}"
    );

    let Some(url) = asyncperf_testkit::postgres_url() else {
        return;
    };
    let config = config.get_timeout(Duration::from_secs(10));
    let started = std::time::Instant::now();
    let parsed: tokio_postgres::Config = url.parse().unwrap();
    let host = format!(
        "postgres://asyncperf_no_such_user@127.0.0.1:{}/{}",
        parsed.get_ports().first().copied().unwrap_or(5432),
        parsed.get_dbname().unwrap_or("test")
    );
    let denied = postgres_pool(&host, config.clone()).await;
    assert!(matches!(denied, Err(DbPoolError::Auth(_))), "{denied:?}");
    let no_db = url.replacen(
        &format!("/{}", parsed.get_dbname().unwrap_or("test")),
        "/asyncperf_no_such_database",
        1,
    );
    let missing = postgres_pool(&no_db, config).await;
    assert!(
        matches!(missing, Err(DbPoolError::Connect(_))),
        "{missing:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "permanent errors were retried"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durations_and_sizes_too_large_for_the_clock_mean_no_limit() {
    let no_limit = small()
        .max_open(usize::MAX)
        .get_timeout(Duration::MAX)
        .command_timeout(Some(Duration::MAX))
        .max_lifetime(Some(Duration::MAX))
        .max_idle_lifetime(Some(Duration::MAX))
        .health_check_interval(Some(Duration::MAX));
    let Some((pool, _app)) = pool(no_limit).await else {
        return;
    };
    let mut conn = pool.get().await.unwrap();
    let n: i32 = conn.query_one("SELECT 3", &[]).await.unwrap().get(0);
    assert_eq!(n, 3);
    // The server-side half is PostgreSQL's largest statement_timeout.
    let timeout = conn.simple_query("SHOW statement_timeout").await.unwrap();
    let shown = timeout.iter().find_map(|m| match m {
        tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
        _ => None,
    });
    assert_eq!(shown.as_deref(), Some("2147483647ms"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_dropped_mid_flight_closes_its_connection() {
    let Some((pool, app)) = pool(small().min_idle(1).max_open(1)).await else {
        return;
    };
    let mut conn = pool.get().await.unwrap();
    let backend = pid(&mut conn).await;
    let admin = admin().await;
    let running = async {
        pg_sleep_running(&admin, &app).await;
    };
    tokio::select! {
        r = conn.query("SELECT pg_sleep(5)", &[]) => panic!("pg_sleep returned early: {r:?}"),
        () = running => {}
    }
    // The query future is gone with its reply still due: the connection must not be reused.
    drop(conn);
    let mut next = pool.get().await.unwrap();
    assert_ne!(pid(&mut next).await, backend);
    assert_eq!(pool.metrics().connections_closed, 1);
}

/// A pool of one connection: every other checkout has to wait for it.
async fn one_connection_pool() -> Option<PostgresPool> {
    let config = small()
        .min_idle(1)
        .max_open(1)
        .get_timeout(Duration::from_secs(5));
    pool(config).await.map(|(pool, _app)| pool)
}

/// Checked-in connections wait in a list in front of mobc, and checkouts beyond the open
/// connections wait in line. A check-in must reach the waiter, and a waiter that gave up must
/// not keep later check-ins from the next one. (With either bug, the waiter below times out
/// while the connection sits unused.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkin_goes_to_the_caller_waiting_for_it() {
    let Some(pool) = one_connection_pool().await else {
        return;
    };
    for round in 0..3 {
        let held = pool.get().await.unwrap();
        let waiter = tokio::spawn({
            let pool = pool.clone();
            async move { pool.get().await.map(|conn| conn.is_alive()) }
        });
        let cancelled = tokio::spawn({
            let pool = pool.clone();
            async move { pool.get().await.map(drop) }
        });
        eventually("both callers wait", || async {
            pool.metrics().waiters == 2
        })
        .await;
        cancelled.abort();
        eventually("the cancelled caller is gone", || async {
            pool.metrics().waiters == 1
        })
        .await;
        drop(held);
        let got = tokio::time::timeout(HANG_GUARD, waiter)
            .await
            .expect("hang guard")
            .unwrap();
        assert!(
            matches!(got, Ok(true)),
            "round {round}: the waiter got {got:?}"
        );
        // Nobody waits now: the next checkout finds the connection at once.
        let mut again = pool.get().await.unwrap();
        let rows = again.simple_query("SELECT 1").await.unwrap();
        assert!(!rows.is_empty());
    }
    let m = pool.metrics();
    assert_eq!((m.open, m.connections_created, m.waiters), (1, 1, 0));
}

#[tokio::test]
async fn waiting_checkouts_are_served_first_come_first_served() {
    let Some(pool) = one_connection_pool().await else {
        return;
    };
    let held = pool.get().await.unwrap();
    let served = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut waiters = Vec::new();
    for i in 0..6 {
        waiters.push(tokio::spawn({
            let (pool, served) = (pool.clone(), served.clone());
            async move {
                let mut conn = pool.get().await.unwrap();
                served.lock().unwrap().push(i);
                // Holding the connection across a query lets the next waiter queue behind.
                conn.simple_query("SELECT 1").await.unwrap();
            }
        }));
        // Each caller is in line before the next one arrives.
        eventually("the caller waits", || async {
            pool.metrics().waiters == i + 1
        })
        .await;
    }
    drop(held);
    for waiter in waiters {
        tokio::time::timeout(HANG_GUARD, waiter)
            .await
            .expect("hang guard")
            .unwrap();
    }
    assert_eq!(*served.lock().unwrap(), vec![0, 1, 2, 3, 4, 5]);
    assert_eq!(pool.metrics().connections_created, 1);
}
