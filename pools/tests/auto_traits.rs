//! Send/Sync/Unpin of every public type, and Send of the futures the public async fns
//! return (they must be spawnable).

use asyncperf_pools::{PoolKind, PoolMetrics, PoolSize};
use static_assertions::assert_impl_all;

assert_impl_all!(PoolKind: Send, Sync, Unpin, Copy);
assert_impl_all!(PoolSize: Send, Sync, Unpin, Copy);
assert_impl_all!(PoolMetrics: Send, Sync, Unpin, Copy);

#[allow(dead_code)]
fn is_send<T: Send>(_: &T) {}

#[cfg(feature = "http")]
mod http {
    use asyncperf_pools::http::{
        DnsMetrics, HttpClient, HttpClientBuilder, HttpError, Response, ResponseBody,
        SystemResolver, TimeoutPhase,
    };
    use static_assertions::assert_impl_all;

    use super::is_send;

    assert_impl_all!(HttpClient: Send, Sync, Unpin, Clone);
    assert_impl_all!(HttpClientBuilder: Send, Sync, Unpin);
    assert_impl_all!(Response: Send, Sync, Unpin);
    assert_impl_all!(ResponseBody: Send, Sync, Unpin, http_body::Body);
    assert_impl_all!(HttpError: Send, Sync, Unpin, std::error::Error);
    assert_impl_all!(TimeoutPhase: Send, Sync, Unpin, Copy);
    assert_impl_all!(DnsMetrics: Send, Sync, Unpin, Copy);
    assert_impl_all!(SystemResolver: Send, Sync, Unpin, Copy);

    #[test]
    fn the_client_is_also_at_the_crate_root() {
        let client: asyncperf_pools::HttpClient = asyncperf_pools::HttpClientBuilder::new().build();
        let _: Option<asyncperf_pools::HttpError> = None;
        drop(client);
    }

    #[test]
    fn request_futures_are_send() {
        let client = HttpClient::new();
        let get = client.get("http://127.0.0.1:1/");
        is_send(&get);
        let req = client.request(http::Request::new(bytes::Bytes::new()));
        is_send(&req);
    }

    #[tokio::test]
    async fn body_futures_are_send() {
        // A connection to nowhere: only the futures' types matter.
        let client = HttpClient::new();
        if let Ok(mut resp) = client.get("http://127.0.0.1:1/").await {
            is_send(&resp.chunk());
            is_send(&resp.bytes(1));
        }
    }
}

#[cfg(any(feature = "redis", feature = "postgres"))]
mod db {
    use asyncperf_pools::{ConfigError, Idempotency, PoolConfig};
    use static_assertions::assert_impl_all;

    assert_impl_all!(PoolConfig: Send, Sync, Unpin, Clone);
    assert_impl_all!(ConfigError: Send, Sync, Unpin, std::error::Error);
    assert_impl_all!(Idempotency: Send, Sync, Unpin, Copy);
}

#[cfg(feature = "redis")]
mod redis_pool {
    use asyncperf_pools::{
        Idempotency, Pooled, RedisConnection, RedisManager, RedisPool, RedisPoolError,
    };
    use static_assertions::assert_impl_all;

    use super::is_send;

    assert_impl_all!(RedisPool: Send, Sync, Unpin, Clone);
    assert_impl_all!(Pooled<RedisManager>: Send, Sync, Unpin);
    assert_impl_all!(RedisConnection: Send, Sync, Unpin);
    assert_impl_all!(RedisManager: Send, Sync, Unpin);
    assert_impl_all!(RedisPoolError: Send, Sync, Unpin, std::error::Error);

    /// Only has to compile.
    #[allow(dead_code)]
    fn futures_are_send(pool: &RedisPool, cmd: &redis::Cmd, pipe: &redis::Pipeline) {
        is_send(&asyncperf_pools::redis_pool(
            "redis://127.0.0.1",
            Default::default(),
        ));
        is_send(&pool.get());
        is_send(&pool.query::<String>(cmd));
        is_send(&pool.query_pipeline::<String>(pipe));
        is_send(&pool.run(Idempotency::Idempotent, |conn| {
            Box::pin(async move { redis::cmd("PING").query_async::<String>(conn).await })
        }));
    }
}

#[cfg(feature = "postgres")]
mod postgres_pool {
    use asyncperf_pools::{
        Idempotency, Pooled, PostgresConnection, PostgresManager, PostgresPool, PostgresPoolError,
    };
    use static_assertions::assert_impl_all;

    use super::is_send;

    assert_impl_all!(PostgresPool: Send, Sync, Unpin, Clone);
    assert_impl_all!(Pooled<PostgresManager>: Send, Sync, Unpin);
    assert_impl_all!(PostgresConnection: Send, Sync, Unpin);
    assert_impl_all!(PostgresManager: Send, Sync, Unpin);
    assert_impl_all!(PostgresPoolError: Send, Sync, Unpin, std::error::Error);

    /// Only has to compile.
    #[allow(dead_code)]
    fn futures_are_send(pool: &PostgresPool, conn: &mut PostgresConnection) {
        is_send(&asyncperf_pools::postgres_pool(
            "postgres://u@h/db",
            Default::default(),
        ));
        is_send(&pool.get());
        is_send(&pool.run(Idempotency::Idempotent, |conn| {
            Box::pin(async move { conn.query_one("SELECT 1", &[]).await })
        }));
        is_send(&conn.query("SELECT 1", &[]));
    }
}
