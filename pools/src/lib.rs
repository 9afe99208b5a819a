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
//! Use [`redis_pool`] when commands need a connection of their own (blocking commands,
//! `WATCH`/`MULTI`, large values) or when one multiplexed connection saturates; use
//! [`postgres_pool`] for tokio-postgres. Both return a [`DbPool`] built on mobc with the
//! defaults of [`PoolConfig`]; see the README for the sizing table and the restart policy.
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
//! `health_check_interval`; the `redis_get_set` and `postgres_select_1` benches compare the
//! pools with deadpool and bb8.

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
