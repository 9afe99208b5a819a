//! Tuned connection pools for tokio services.
//!
//! - [`PoolKind`] and [`PoolKind::recommended`]: pool sizes from the reference's sizing table.
//! - [`PoolMetrics`]: the same metrics for every pool (open, idle, in use, waiters, wait time,
//!   timeouts, errors).
//! - [`http::HttpClient`] (feature `http`): an HTTP/1.1 client over hyper whose pool caps
//!   open connections in total and per host, with fair waiters, a TTL DNS cache, keep-alive
//!   expiry and a retry of idempotent requests on stale connections.
//! - [`redis_pool`] and [`postgres_pool`] (features `redis`, `postgres`): mobc pools with
//!   [`PoolConfig`] defaults that keep `min_idle` warm, health-check only connections idle
//!   past an interval, enforce a command timeout, and survive a server restart without
//!   failing idempotent requests.
//!
//! # HTTP client
//!
//! Use [`http::HttpClient`] when a service calls other HTTP services and must not open more
//! connections than it is allowed to (a partner's rate rules, a file-descriptor budget, a
//! server's connection cap): hyper-util's and reqwest's pools only cap *idle* connections,
//! and at 256 concurrent requests they open 256 or more. Do not use it for HTTPS or HTTP/2
//! yet (plain `http://` and HTTP/1.1 only), nor where one connection per request is fine.
//!
//! ```no_run
//! # #[cfg(feature = "http")]
//! # async fn demo() -> Result<(), asyncperf_pools::http::HttpError> {
//! use std::time::Duration;
//! use asyncperf_pools::http::HttpClient;
//!
//! let client = HttpClient::builder()
//!     .limit(100)
//!     .limit_per_host(30)
//!     .dns_ttl(Duration::from_secs(300))
//!     .keepalive_timeout(Duration::from_secs(30))
//!     .build();
//! let body = client.get("http://127.0.0.1:8080/").await?.bytes(1 << 20).await?;
//! println!("{} bytes, {:?}", body.len(), client.metrics());
//! # Ok(()) }
//! ```
//!
//! Cancel safety: dropping a request future gives back whatever it held (its place in a
//! queue, a slot, a connection being dialled); a request already sent closes its connection.
//! Dropping a response before its body ends closes the connection.
//!
//! Performance: one short lock per checkout and per return, no task per request; the
//! `http_keepalive_get_mt` bench compares it with hyper-util's `Client` and reqwest.
//!
//! # Redis and PostgreSQL pools
//!
//! [`redis_pool`] serves plain commands ([`RedisPool::query`]) over a few shared multiplexed
//! "lanes" and hands out exclusive connections ([`DbPool::get`]) for blocking commands,
//! `WATCH`/`MULTI` and large values; [`postgres_pool`] pools tokio-postgres clients. Both
//! return a [`DbPool`] built on mobc with the defaults of [`PoolConfig`]; see the README for
//! the sizing table and the restart policy. Not for: a single-threaded client doing a few
//! plain Redis commands (one `ConnectionManager` is enough), or PostgreSQL over TLS (not
//! supported yet).
//!
//! ```no_run
//! # #[cfg(feature = "redis")]
//! # async fn demo() -> Result<(), asyncperf_pools::RedisPoolError> {
//! use asyncperf_pools::{PoolConfig, PoolKind, redis_pool};
//!
//! let pool = redis_pool("redis://127.0.0.1:6379", PoolConfig::for_kind(PoolKind::Redis)).await?;
//! let v: Option<String> = pool.query(redis::cmd("GET").arg("key")).await?;
//! println!("{v:?} {:?}", pool.metrics());
//! # Ok(()) }
//! ```
//!
//! Cancel safety: [`DbPool::get`] is cancel safe; a command future dropped mid-flight closes
//! its connection rather than returning it (PostgreSQL: the statement may still run until
//! `statement_timeout`). Pooled connections must be dropped inside a tokio runtime to be
//! reused (mobc returns them on a spawned task).
//!
//! Performance: no round trip at checkout unless the connection idled past
//! `health_check_interval`, no timer thread, connections returned in place; the
//! `redis_get_set` and `postgres_select_1` benches compare the pools with deadpool, bb8 and
//! redis's `ConnectionManager`.
//!
//! # Features
//!
//! - `http` (default): [`http::HttpClient`], on hyper 1.x and hyper-util.
//! - `redis` (default): [`redis_pool`], mobc pools of redis 1.x multiplexed connections.
//! - `postgres` (default): [`postgres_pool`], mobc pools of tokio-postgres clients.

#[cfg(any(feature = "http", feature = "redis", feature = "postgres"))]
mod deadline;
mod kind;
mod metrics;
#[cfg(feature = "postgres")]
mod reusable_deadline;

#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "http")]
pub use http::{HttpClient, HttpClientBuilder, HttpError};

pub use kind::{PoolKind, PoolSize};
pub use metrics::PoolMetrics;

#[cfg(any(feature = "redis", feature = "postgres"))]
mod config;
#[cfg(any(feature = "redis", feature = "postgres"))]
mod db;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "redis")]
mod redis;

#[cfg(feature = "postgres")]
pub use self::postgres::{
    PostgresConnection, PostgresManager, PostgresPool, PostgresPoolError, postgres_pool,
};
#[cfg(feature = "redis")]
pub use self::redis::{RedisConnection, RedisManager, RedisPool, RedisPoolError, redis_pool};
#[cfg(any(feature = "redis", feature = "postgres"))]
pub use config::{ConfigError, PoolConfig};
#[cfg(any(feature = "redis", feature = "postgres"))]
pub use db::{DbManager, DbPool, DbPoolError, Idempotency, Pooled};

// The README's examples use every feature.
#[cfg(all(doctest, feature = "http", feature = "redis", feature = "postgres"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
