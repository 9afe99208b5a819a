//! The Redis pool against the real server: sizing, metrics, timeouts, lifetimes, typed errors
//! and the retry policy. Skipped (with a reason) when Redis does not answer.

#![cfg(feature = "redis")]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use asyncperf_pools::{DbPoolError, Idempotency, PoolConfig, PoolKind, RedisPool, redis_pool};
use redis::AsyncCommands;

/// Generous guard against hangs; never a timing assertion.
const HANG_GUARD: Duration = Duration::from_secs(20);

fn unique(name: &str) -> String {
    asyncperf_testkit::unique_name(&format!("asyncperf-pools-test:{name}"))
}

fn small() -> PoolConfig {
    PoolConfig::for_kind(PoolKind::Redis)
        .min_idle(2)
        .max_open(4)
        .get_timeout(Duration::from_secs(10))
}

async fn pool(config: PoolConfig) -> Option<RedisPool> {
    let url = asyncperf_testkit::redis_url()?;
    Some(redis_pool(&url, config).await.expect("pool builds"))
}

async fn client_id(conn: &mut impl redis::aio::ConnectionLike) -> i64 {
    redis::cmd("CLIENT")
        .arg("ID")
        .query_async(conn)
        .await
        .unwrap()
}

/// A connection outside the pool, for looking at and killing the pool's connections.
async fn admin() -> redis::aio::MultiplexedConnection {
    let url = asyncperf_testkit::redis_url().unwrap();
    let client = redis::Client::open(url).unwrap();
    client.get_multiplexed_async_connection().await.unwrap()
}

/// Kills a connection by id from a connection outside the pool.
async fn kill(id: i64) {
    let mut admin = admin().await;
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(id)
        .query_async(&mut admin)
        .await
        .unwrap();
    assert_eq!(killed, 1);
}

/// Polls `cond` until it holds; a hang guard, not a timing assertion.
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    tokio::time::timeout(HANG_GUARD, async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("never happened: {what}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warms_min_idle_and_reports_uniform_metrics() {
    let Some(pool) = pool(small()).await else {
        return;
    };
    let m = pool.metrics();
    assert_eq!((m.open, m.idle, m.in_use, m.waiters), (2, 2, 0, 0));
    assert_eq!(m.connections_created, 2);

    let key = unique("roundtrip");
    let mut conn = pool.get().await.unwrap();
    let () = conn.set_ex(&key, "v", 60).await.unwrap();
    let v: String = conn.get(&key).await.unwrap();
    assert_eq!(v, "v");
    let m = pool.metrics();
    assert_eq!((m.open, m.in_use), (2, 1));
    drop(conn);

    let v: Option<String> = pool.query(redis::cmd("GET").arg(&key)).await.unwrap();
    assert_eq!(v.as_deref(), Some("v"));
    let m = pool.metrics();
    assert_eq!(m.checkouts, 2);
    assert_eq!((m.errors, m.timeouts), (0, 0));
    let _: i64 = pool.query(redis::cmd("DEL").arg(&key)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_opens_more_than_max_open_and_times_out_with_a_typed_error() {
    // Long enough for the setup's connects and the 64 callers on a loaded machine; the
    // checkout that must time out waits it in full.
    let config = small().get_timeout(Duration::from_secs(2));
    let Some(pool) = pool(config).await else {
        return;
    };
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(pool.get().await.unwrap());
    }
    assert_eq!(pool.metrics().open, 4);
    match pool.get().await {
        Err(DbPoolError::Timeout {
            last_error: None, ..
        }) => {}
        other => panic!("expected a checkout timeout, got {other:?}"),
    }
    let m = pool.metrics();
    assert_eq!(
        (m.open, m.in_use, m.timeouts, m.connections_created),
        (4, 4, 1, 4)
    );
    drop(held);

    // 64 concurrent callers share the 4 connections.
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let pool = pool.clone();
            let key = unique(&format!("cap{i}"));
            tokio::spawn(async move {
                let cmd = redis::cmd("SET").arg(&key).arg(i).arg("EX").arg(60).clone();
                let () = pool.query(&cmd).await.unwrap();
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let m = pool.metrics();
    assert_eq!(m.connections_created, 4, "{m:?}");
    assert!(m.open <= 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_timeout_bounds_a_blocking_command() {
    // Also the PING's deadline below: not a bound a loaded machine could miss.
    let config = small().command_timeout(Some(Duration::from_secs(1)));
    let Some(pool) = pool(config).await else {
        return;
    };
    let key = unique("blpop");
    let cmd = redis::cmd("BLPOP").arg(&key).arg(5).clone();
    let started = std::time::Instant::now();
    let result: Result<Option<(String, String)>, _> = pool.query(&cmd).await;
    assert!(
        matches!(result, Err(DbPoolError::CommandTimeout { timeout }) if timeout == Duration::from_secs(1)),
        "{result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "BLPOP ran to its end"
    );
    assert_eq!(pool.metrics().timeouts, 1);
    // The multiplexed connection drops the late reply and stays usable.
    let pong: String = pool.query(&redis::cmd("PING")).await.unwrap();
    assert_eq!(pong, "PONG");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_lifetime_rotates_connections() {
    let config = small()
        .min_idle(1)
        .max_lifetime(Some(Duration::from_millis(200)));
    let Some(pool) = pool(config).await else {
        return;
    };
    let first = client_id(&mut pool.get().await.unwrap()).await;
    // The lifetime itself must pass: this sleep is the condition under test.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let mut conn = pool.get().await.unwrap();
    assert!(conn.age() < Duration::from_millis(200));
    assert_ne!(client_id(&mut conn).await, first);
    drop(conn);
    assert!(pool.metrics().connections_closed >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_reaped_down_to_min_idle() {
    let config = small()
        .min_idle(1)
        .max_idle_lifetime(Some(Duration::from_millis(100)));
    let Some(pool) = pool(config).await else {
        return;
    };
    let held: Vec<_> = futures::future::join_all((0..4).map(|_| pool.get())).await;
    assert_eq!(pool.metrics().open, 4);
    drop(held);
    eventually("idle connections reaped to min_idle", || {
        pool.metrics().open == 1
    })
    .await;
    assert!(pool.metrics().connections_closed >= 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_idle_connection_is_never_handed_out() {
    let config = small().min_idle(1).max_open(1);
    let Some(pool) = pool(config).await else {
        return;
    };
    let mut conn = pool.get().await.unwrap();
    let id = client_id(&mut conn).await;
    kill(id).await;
    eventually("the driver sees the close", || !conn.is_alive()).await;
    drop(conn);
    // Even a non-idempotent command goes through: the dead connection is discarded at
    // checkout, before anything is sent.
    let key = unique("incr");
    let n: i64 = pool.query(redis::cmd("INCR").arg(&key)).await.unwrap();
    assert_eq!(n, 1);
    let _: i64 = pool.query(redis::cmd("DEL").arg(&key)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_found_dead_before_sending_moves_to_a_fresh_connection() {
    let Some(pool) = pool(small().min_idle(1).max_open(1)).await else {
        return;
    };
    let id = client_id(&mut pool.get().await.unwrap()).await;
    let key = unique("moved");
    let attempts = AtomicU64::new(0);
    let n: i64 = pool
        .run(Idempotency::NotIdempotent, |conn| {
            let attempt = attempts.fetch_add(1, Ordering::Relaxed);
            let key = key.clone();
            Box::pin(async move {
                if attempt == 0 {
                    kill(id).await;
                    eventually("the driver sees the close", || !conn.is_alive()).await;
                }
                conn.incr(key, 1).await
            })
        })
        .await
        .unwrap();
    // Nothing of the first attempt reached the server, so it ran again, exactly once.
    assert_eq!((attempts.load(Ordering::Relaxed), n), (2, 1));
    let _: i64 = pool.query(redis::cmd("DEL").arg(&key)).await.unwrap();
}

/// Waits until the server shows connection `id` blocked in `BLPOP`; a hang guard, not a
/// timing check.
async fn blocked_in_blpop(id: i64) {
    let mut admin = admin().await;
    tokio::time::timeout(HANG_GUARD, async {
        loop {
            let list: String = redis::cmd("CLIENT")
                .arg("LIST")
                .arg("ID")
                .arg(id)
                .query_async(&mut admin)
                .await
                .unwrap();
            if list.contains("cmd=blpop") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("BLPOP never started");
}

/// Kills connection `id` once the server shows it blocked in `BLPOP`.
async fn kill_when_blocked(id: i64) {
    blocked_in_blpop(id).await;
    kill(id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_idempotent_command_cut_in_flight_is_indeterminate_not_retried() {
    let Some(pool) = pool(small().min_idle(1).max_open(1)).await else {
        return;
    };
    let id = client_id(&mut pool.get().await.unwrap()).await;
    let key = unique("blpop-cut");
    let killer = tokio::spawn(kill_when_blocked(id));
    let attempts = AtomicU64::new(0);
    let result: Result<Option<(String, String)>, _> = pool
        .run(Idempotency::NotIdempotent, |conn| {
            attempts.fetch_add(1, Ordering::Relaxed);
            let key = key.clone();
            Box::pin(async move { conn.blpop(key, 5.0).await })
        })
        .await;
    killer.await.unwrap();
    assert!(
        matches!(result, Err(DbPoolError::Indeterminate(_))),
        "{result:?}"
    );
    assert_eq!(attempts.load(Ordering::Relaxed), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotent_command_cut_in_flight_is_retried_once_on_a_fresh_connection() {
    let Some(pool) = pool(small().min_idle(1).max_open(1)).await else {
        return;
    };
    let id = client_id(&mut pool.get().await.unwrap()).await;
    let key = unique("blpop-retry");
    let killer = tokio::spawn(kill_when_blocked(id));
    let ids = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let result: Option<(String, String)> = pool
        .run(Idempotency::Idempotent, |conn| {
            let key = key.clone();
            let ids = std::sync::Arc::clone(&ids);
            Box::pin(async move {
                let id = client_id(conn).await;
                ids.lock().unwrap().push(id);
                conn.blpop(key, 0.2).await
            })
        })
        .await
        .unwrap();
    killer.await.unwrap();
    let ids = ids.lock().unwrap().clone();
    assert_eq!(result, None);
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], id);
    assert_ne!(ids[1], id);
}

#[tokio::test]
async fn bad_urls_and_credentials_give_typed_errors() {
    let config = small().get_timeout(Duration::from_millis(300));
    let bad = redis_pool("not a url", config.clone()).await;
    assert!(matches!(bad, Err(DbPoolError::InvalidUrl(_))), "{bad:?}");
    let tls = redis_pool("rediss://127.0.0.1:6379", config.clone()).await;
    assert!(matches!(tls, Err(DbPoolError::InvalidUrl(_))), "{tls:?}");
    let invalid = redis_pool("redis://127.0.0.1:6379", config.clone().max_open(0)).await;
    assert!(
        matches!(invalid, Err(DbPoolError::Config(_))),
        "{invalid:?}"
    );

    // Port 1: nothing listens; the pool retries until `get_timeout`, then says why.
    let down = redis_pool("redis://127.0.0.1:1", config.clone()).await;
    match down {
        Err(DbPoolError::Timeout {
            last_error: Some(e),
            ..
        }) => assert!(e.is_connection_refusal()),
        other => panic!("expected a timeout with the refusal, got {other:?}"),
    }

    let Some(url) = asyncperf_testkit::redis_url() else {
        return;
    };
    let with_user = url.replacen("redis://", "redis://asyncperf-nobody:wrong@", 1);
    let started = std::time::Instant::now();
    let denied = redis_pool(&with_user, config.get_timeout(Duration::from_secs(10))).await;
    assert!(matches!(denied, Err(DbPoolError::Auth(_))), "{denied:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "bad credentials were retried"
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
    let Some(pool) = pool(no_limit).await else {
        return;
    };
    let key = unique("no-limit");
    let () = pool
        .query(redis::cmd("SET").arg(&key).arg(1).arg("EX").arg(60))
        .await
        .unwrap();
    let mut conn = pool.get().await.unwrap();
    let v: i64 = conn.get(&key).await.unwrap();
    assert_eq!(v, 1);
    let _: i64 = conn.del(&key).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_checkout_leaves_nothing_behind() {
    let Some(pool) = pool(small().min_idle(1).max_open(1)).await else {
        return;
    };
    let held = pool.get().await.unwrap();
    let waiter = tokio::spawn({
        let pool = pool.clone();
        async move { pool.get().await.map(drop) }
    });
    eventually("the second checkout waits", || pool.metrics().waiters == 1).await;
    waiter.abort();
    assert!(waiter.await.unwrap_err().is_cancelled());
    assert_eq!(pool.metrics().waiters, 0);
    drop(held);
    // The cancelled waiter took nothing: the connection is there for the next caller.
    let mut conn = pool.get().await.unwrap();
    let pong: String = redis::cmd("PING").query_async(&mut conn).await.unwrap();
    assert_eq!(pong, "PONG");
    let m = pool.metrics();
    assert_eq!((m.open, m.in_use, m.connections_created), (1, 1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelines_run_on_one_connection() {
    let Some(pool) = pool(small()).await else {
        return;
    };
    let key = unique("pipe");
    let mut pipe = redis::pipe();
    pipe.atomic()
        .set_ex(&key, 1, 60)
        .ignore()
        .get(&key)
        .ttl(&key);
    let (value, ttl): (i64, i64) = pool.query_pipeline(&pipe).await.unwrap();
    assert_eq!(value, 1);
    assert!(ttl > 0 && ttl <= 60);
    let _: i64 = pool.query(redis::cmd("DEL").arg(&key)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_dropped_mid_flight_closes_its_connection() {
    let Some(pool) = pool(small().min_idle(1).max_open(1)).await else {
        return;
    };
    let mut conn = pool.get().await.unwrap();
    let id = client_id(&mut conn).await;
    let key = unique("dropped");
    tokio::select! {
        r = conn.blpop::<_, Option<(String, String)>>(&key, 5.0) => panic!("BLPOP returned: {r:?}"),
        () = blocked_in_blpop(id) => {}
    }
    drop(conn);
    // The connection still blocked in BLPOP is not handed out again.
    let mut next = pool.get().await.unwrap();
    assert_ne!(client_id(&mut next).await, id);
    assert_eq!(pool.metrics().connections_closed, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_commands_share_lanes_and_blocking_ones_check_out() {
    let config = small().max_open(8).redis_lanes(Some(1));
    let Some(pool) = pool(config).await else {
        return;
    };
    let key = unique("lanes");
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let (pool, key) = (pool.clone(), key.clone());
            tokio::spawn(async move { pool.query::<i64>(redis::cmd("INCR").arg(key)).await })
        })
        .collect();
    let mut seen = Vec::new();
    for task in tasks {
        seen.push(task.await.unwrap().unwrap());
    }
    seen.sort_unstable();
    assert_eq!(seen, (1..=32).collect::<Vec<_>>());
    // 32 concurrent INCRs went through the one lane: one checkout, the warm connections.
    let m = pool.metrics();
    assert_eq!((m.checkouts, m.in_use, m.connections_created), (1, 1, 2));
    // A blocking command takes a connection of its own, leaving the lane free.
    let list = unique("lanes-list");
    let blpop = redis::cmd("BLPOP").arg(&list).arg(0.2).clone();
    let ping = redis::cmd("PING");
    let (popped, pong) = tokio::join!(
        pool.query::<Option<(String, String)>>(&blpop),
        pool.query::<String>(&ping)
    );
    assert_eq!((popped.unwrap(), pong.unwrap().as_str()), (None, "PONG"));
    assert_eq!(pool.metrics().checkouts, 2);
    let _: i64 = pool.query(redis::cmd("DEL").arg(&key)).await.unwrap();
}

/// The last command the server saw on connection `id`.
async fn last_command(id: i64) -> String {
    let mut admin = admin().await;
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .arg("ID")
        .arg(id)
        .query_async(&mut admin)
        .await
        .unwrap();
    list.split_whitespace()
        .find_map(|field| field.strip_prefix("cmd="))
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_connections_idle_past_the_interval_are_pinged() {
    let config = small()
        .min_idle(1)
        .max_open(1)
        .health_check_interval(Some(Duration::from_secs(1)));
    let Some(pool) = pool(config).await else {
        return;
    };
    let mut conn = pool.get().await.unwrap();
    let id = client_id(&mut conn).await;
    let _: Option<String> = conn.get(unique("idle")).await.unwrap();
    drop(conn);
    // Reused at once: no PING at checkout.
    let conn = pool.get().await.unwrap();
    assert_eq!(last_command(id).await, "get");
    drop(conn);
    // Idle past the interval (the time passing is the condition under test): pinged first.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let conn = pool.get().await.unwrap();
    assert_eq!(last_command(id).await, "ping");
    drop(conn);
}
