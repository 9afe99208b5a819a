//! Redis restarted under a `RedisSemaphore` and a `RedisRateLimiter`: typed errors while it
//! is down, holders told their leases are lost, no over-commit afterwards, and service
//! resumes when it is back.
//!
//! Stops and starts the local server (127.0.0.1:6379, with `asyncperf_testkit::LocalRedis`), so
//! it lives in its own test binary with one test; the guard restarts the server whatever happens.

#![cfg(feature = "redis")]

mod redis_support;

use std::time::{Duration, Instant};

use asyncperf_limiter::redis;
use asyncperf_limiter::{RedisRateLimiter, RedisSemaphore, RedisSemaphoreError};
use asyncperf_testkit::LocalRedis;
use redis_support::{client, unique, within, zcard};

const HANG: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_loses_no_limit_and_service_resumes() {
    let Some(client) = client() else { return };
    // Brings the server back when dropped, even if an assertion below fails.
    let Some(server) = LocalRedis::restartable() else {
        return;
    };
    down_for_longer_than_a_lease(&client, &server).await;
    quick_restart_within_a_lease(&client, &server).await;
}

/// Down for longer than a lease: holders are told (renewals fail), requests fail with typed
/// errors, and once the server is back the limit holds and requests succeed again.
async fn down_for_longer_than_a_lease(client: &redis::Client, server: &LocalRedis) {
    const LEASE: Duration = Duration::from_millis(1500);
    let semaphore = RedisSemaphore::builder(client.clone(), unique("restart"), 3)
        .lease(LEASE)
        .build()
        .unwrap();
    let rate = RedisRateLimiter::builder(client.clone(), unique("restart-rate"))
        .per_second(100)
        .build()
        .unwrap();
    let old = [
        semaphore.acquire().await.unwrap(),
        semaphore.acquire().await.unwrap(),
    ];
    assert!(rate.allow("k").await.unwrap().allowed);

    server.stop();
    let error = within(HANG, "acquire", semaphore.acquire())
        .await
        .unwrap_err();
    assert!(error.is_connection_error(), "{error:?}");
    let error = within(HANG, "allow", rate.allow("k")).await.unwrap_err();
    assert!(error.is_connection_error(), "{error:?}");
    // Renewals fail: each holder hears that its lease is lost before it would expire.
    for permit in &old {
        within(LEASE * 4, "lost()", permit.lost()).await;
        assert!(permit.is_lost());
    }
    server.start();
    // A holder stops its work when its lease is lost, and drops the permit (which also frees
    // its slot in the local limiter).
    drop(old);

    // Requests succeed again once the connection is reopened.
    let first = within(HANG, "acquire after the restart", async {
        loop {
            match semaphore.acquire_timeout(Duration::from_secs(1)).await {
                Ok(permit) => return permit,
                Err(e) if e.is_connection_error() => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("{e:?}"),
            }
        }
    })
    .await;
    // The data is gone (no persistence), and the old holders know they lost their leases:
    // the full limit is granted anew, and no more.
    let second = within(HANG, "second", semaphore.acquire()).await.unwrap();
    let third = within(HANG, "third", semaphore.acquire()).await.unwrap();
    // Another process sees the limit reached.
    let other = RedisSemaphore::builder(client.clone(), semaphore.name(), 3)
        .lease(LEASE)
        .build()
        .unwrap();
    let fourth = other.acquire_timeout(Duration::from_millis(300)).await;
    assert!(matches!(fourth, Err(RedisSemaphoreError::Elapsed)));
    semaphore.flush().await.unwrap();
    assert_eq!(zcard(client, semaphore.holders_key()).await, 3);
    assert!(first.fencing_token() < second.fencing_token());
    assert!(second.fencing_token() < third.fencing_token());
    drop((first, second, third));
    semaphore.flush().await.unwrap();
    assert_eq!(zcard(client, semaphore.holders_key()).await, 0);

    let resumed = within(HANG, "allow after the restart", async {
        loop {
            match rate.allow("k").await {
                Ok(decision) => return decision,
                Err(e) if e.is_connection_error() => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("{e:?}"),
            }
        }
    })
    .await;
    assert!(resumed.allowed);
}

/// Back within a lease, but without its data: the holder hears at its next renewal (about
/// lease/3) that its lease is gone.
async fn quick_restart_within_a_lease(client: &redis::Client, server: &LocalRedis) {
    const LEASE: Duration = Duration::from_secs(6);
    let semaphore = RedisSemaphore::builder(client.clone(), unique("quick-restart"), 1)
        .lease(LEASE)
        .build()
        .unwrap();
    let old = semaphore.acquire().await.unwrap();
    let token = old.fencing_token();
    server.stop();
    server.start();
    let restarted = Instant::now();
    within(LEASE, "lost() after a restart", old.lost()).await;
    // At the first renewal that reaches the new server: the next one due (within lease/3),
    // or if that one hit the dropped connection, the retry a tenth of a lease later.
    assert!(
        restarted.elapsed() <= LEASE * 3 / 4,
        "{:?}",
        restarted.elapsed()
    );
    println!(
        "a holder learned {:?} after the restart that its lease was lost (lease {LEASE:?})",
        restarted.elapsed()
    );
    drop(old);
    let new = within(HANG, "acquire", semaphore.acquire()).await.unwrap();
    // Tokens keep growing although the counter was lost with the data.
    assert!(new.fencing_token() > token);
}
