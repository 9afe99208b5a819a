//! Helpers shared by the tests that talk to the real Redis server.

#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::time::Duration;

use asyncperf_limiter::redis;
use asyncperf_limiter::redis::aio::MultiplexedConnection;

/// A client for the test server, or `None` (after printing why) when it does not answer.
pub fn client() -> Option<redis::Client> {
    let url = asyncperf_testkit::redis_url()?;
    Some(redis::Client::open(url).expect("valid REDIS_URL"))
}

/// A name no other test run uses, so that concurrent runs never share keys.
pub fn unique(what: &str) -> String {
    asyncperf_testkit::unique_name(&format!("test:{what}"))
}

pub async fn connection(client: &redis::Client) -> MultiplexedConnection {
    client
        .get_multiplexed_async_connection()
        .await
        .expect("connect to the test server")
}

/// The server's clock (`TIME`), since the Unix epoch.
pub async fn server_time(conn: &mut MultiplexedConnection) -> Duration {
    let (secs, micros): (u64, u64) = redis::cmd("TIME").query_async(conn).await.expect("TIME");
    Duration::from_secs(secs) + Duration::from_micros(micros)
}

pub async fn zcard(client: &redis::Client, key: &str) -> u64 {
    redis::cmd("ZCARD")
        .arg(key)
        .query_async(&mut connection(client).await)
        .await
        .expect("ZCARD")
}

/// Panics if `future` takes longer than `limit`: a hang guard, not a timing assertion.
pub async fn within<F: Future>(limit: Duration, what: &str, future: F) -> F::Output {
    tokio::time::timeout(limit, future)
        .await
        .unwrap_or_else(|_| panic!("{what}: still not done after {limit:?}"))
}

/// Polls `check` until it holds (hang guard `limit`), for state only observable by asking.
pub async fn eventually(limit: Duration, what: &str, mut check: impl AsyncFnMut() -> bool) {
    within(limit, what, async {
        while !check().await {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}
