//! Redis restarted under a `RedisSemaphore` and a `RedisRateLimiter`: typed errors while it
//! is down, holders told their leases are lost, no over-commit afterwards, and service
//! resumes when it is back.
//!
//! Stops and starts the local server (127.0.0.1:6379, the command of DEVELOPERS.md), so it
//! lives in its own test binary with one test; a guard restarts the server whatever happens.

#![cfg(feature = "redis")]

mod redis_support;

use std::process::Command;
use std::time::{Duration, Instant};

use asyncperf_limiter::redis;
use asyncperf_limiter::{RedisRateLimiter, RedisSemaphore, RedisSemaphoreError};
use redis_support::{client, unique, within, zcard};

const HANG: Duration = Duration::from_secs(30);

/// Stops the local Redis server; brings it back when asked, or when dropped.
struct LocalRedis;

impl LocalRedis {
    fn answers() -> bool {
        Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", "6379", "ping"])
            .output()
            .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "PONG")
    }

    fn wait_until(up: bool) {
        let deadline = Instant::now() + HANG;
        while Self::answers() != up {
            assert!(
                Instant::now() < deadline,
                "redis did not come {}",
                if up { "up" } else { "down" }
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop() -> Self {
        let status = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", "6379", "shutdown", "nosave"])
            .status()
            .expect("redis-cli");
        // `shutdown` closes the connection instead of answering: the status says little.
        let _ = status;
        Self::wait_until(false);
        Self
    }

    fn start(&self) {
        if Self::answers() {
            return;
        }
        let status = Command::new("redis-server")
            .args([
                "--daemonize",
                "yes",
                "--bind",
                "127.0.0.1",
                "-::1",
                "--port",
                "6379",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                "/var/lib/redis",
                "--logfile",
                "/var/log/redis/ci.log",
            ])
            .status()
            .expect("redis-server");
        assert!(status.success(), "redis-server failed to start: {status}");
        Self::wait_until(true);
    }
}

impl Drop for LocalRedis {
    fn drop(&mut self) {
        self.start();
    }
}

/// Whether this test can restart the server: it must be the local one, with its tools.
fn restartable() -> bool {
    let url = std::env::var("REDIS_URL").unwrap_or_default();
    let local = url.is_empty() || url.trim_end_matches('/') == "redis://127.0.0.1:6379";
    let tools = ["redis-cli", "redis-server"]
        .iter()
        .all(|tool| Command::new(tool).arg("--version").output().is_ok());
    if !(local && tools) {
        println!("skipped: the Redis server is not the local one this test can restart");
    }
    local && tools
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_loses_no_limit_and_service_resumes() {
    let Some(client) = client() else { return };
    if !restartable() {
        return;
    }
    down_for_longer_than_a_lease(&client).await;
    quick_restart_within_a_lease(&client).await;
}

/// Down for longer than a lease: holders are told (renewals fail), requests fail with typed
/// errors, and once the server is back the limit holds and requests succeed again.
async fn down_for_longer_than_a_lease(client: &redis::Client) {
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

    let server = LocalRedis::stop();
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
async fn quick_restart_within_a_lease(client: &redis::Client) {
    const LEASE: Duration = Duration::from_secs(6);
    let semaphore = RedisSemaphore::builder(client.clone(), unique("quick-restart"), 1)
        .lease(LEASE)
        .build()
        .unwrap();
    let old = semaphore.acquire().await.unwrap();
    let token = old.fencing_token();
    let server = LocalRedis::stop();
    server.start();
    drop(server);
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
