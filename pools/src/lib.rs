//! Tuned connection pools for tokio services.
//!
//! - [`PoolKind`] and [`PoolKind::recommended`]: pool sizes from the reference's sizing table.
//! - [`PoolMetrics`]: the same metrics for every pool (open, idle, in use, waiters, wait time,
//!   timeouts, errors).
//! - [`redis_pool`] and [`postgres_pool`] (features `redis`, `postgres`): mobc pools with
//!   [`PoolConfig`] defaults that keep `min_idle` warm, health-check only connections idle
//!   past an interval, enforce a command timeout, and survive a server restart without
//!   failing idempotent requests.
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

mod kind;
mod metrics;

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

#[cfg(all(doctest, feature = "redis", feature = "postgres"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
