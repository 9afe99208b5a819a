//! The Redis pool: `RedisManager` (redis 1.x multiplexed connections) under a tuned mobc pool.

mod connection;
mod idempotency;
mod lanes;
mod manager;

pub use connection::RedisConnection;
pub use manager::RedisManager;

use std::future::Future;
use std::marker::PhantomData;

use crate::config::PoolConfig;
use crate::db::{DbPool, DbPoolError, Idempotency, Operation, Pooled};

/// A pool of Redis connections: a [`DbPool`] over [`RedisManager`].
pub type RedisPool = DbPool<RedisManager>;

/// The error of a [`RedisPool`].
pub type RedisPoolError = DbPoolError<redis::RedisError>;

/// Builds a Redis pool for `url` (`redis://[user:password@]host[:port][/db]` or
/// `redis+unix:///path`).
///
/// Opens the first connection before returning, so a bad URL, an unreachable server (after
/// `get_timeout`) or bad credentials fail here, then warms the pool to `min_idle`.
///
/// # Errors
///
/// [`DbPoolError::Config`], [`DbPoolError::InvalidUrl`], [`DbPoolError::Auth`],
/// [`DbPoolError::Connect`], or [`DbPoolError::Timeout`] when the server did not answer
/// within `get_timeout`.
///
/// # Cancel safety
///
/// Dropping the future closes the connections opened so far.
pub async fn redis_pool(url: &str, config: PoolConfig) -> Result<RedisPool, RedisPoolError> {
    let manager = RedisManager::new(url, config)?;
    DbPool::build(manager).await
}

impl RedisPool {
    /// Runs one command. It is retried on a fresh connection after the connection broke
    /// mid-flight only when [`Idempotency::of`] deems it idempotent; use
    /// [`run`](DbPool::run) to decide yourself.
    ///
    /// A command that neither blocks nor changes connection state (`GET`, `SET`, `INCR`,
    /// `HSET`, ... but not `BLPOP`, `SELECT`, `WATCH`, scripts or unknown commands) runs on
    /// one of the pool's [`redis_lanes`](crate::PoolConfig::redis_lanes), shared with other
    /// callers and pipelined; any other command checks a connection out for itself.
    ///
    /// # Errors
    ///
    /// See [`DbPool::run`].
    ///
    /// # Cancel safety
    ///
    /// See [`DbPool::run`].
    pub async fn query<T: redis::FromRedisValue + Send + 'static>(
        &self,
        cmd: &redis::Cmd,
    ) -> Result<T, RedisPoolError> {
        if idempotency::shareable(cmd) && !self.extra().is_empty() {
            return self
                .on_lane(Idempotency::of(cmd), lanes::Request::Cmd(cmd))
                .await;
        }
        self.run_op(
            Idempotency::of(cmd),
            Query {
                cmd,
                output: PhantomData,
            },
        )
        .await
    }

    /// Runs a pipeline (or a `MULTI`/`EXEC` transaction) on one pooled connection; retried
    /// like [`query`](Self::query) when every command in it is idempotent.
    ///
    /// # Errors
    ///
    /// See [`DbPool::run`].
    ///
    /// # Cancel safety
    ///
    /// See [`DbPool::run`].
    pub async fn query_pipeline<T: redis::FromRedisValue + Send + 'static>(
        &self,
        pipeline: &redis::Pipeline,
    ) -> Result<T, RedisPoolError> {
        if pipeline.cmd_iter().all(idempotency::shareable) && !self.extra().is_empty() {
            return self
                .on_lane(
                    Idempotency::of_pipeline(pipeline),
                    lanes::Request::Pipeline(pipeline),
                )
                .await;
        }
        self.run_op(
            Idempotency::of_pipeline(pipeline),
            QueryPipeline {
                pipeline,
                output: PhantomData,
            },
        )
        .await
    }
}

/// [`RedisPool::query`] as an [`Operation`].
struct Query<'a, T> {
    cmd: &'a redis::Cmd,
    output: PhantomData<fn() -> T>,
}

impl<T: redis::FromRedisValue + Send + 'static> Operation<RedisManager> for Query<'_, T> {
    type Output = T;

    fn call<'c>(
        &'c mut self,
        conn: &'c mut Pooled<RedisManager>,
    ) -> impl Future<Output = Result<T, RedisPoolError>> + Send + 'c {
        let cmd = self.cmd;
        async move { Ok(cmd.query_async(conn).await?) }
    }
}

/// [`RedisPool::query_pipeline`] as an [`Operation`].
struct QueryPipeline<'a, T> {
    pipeline: &'a redis::Pipeline,
    output: PhantomData<fn() -> T>,
}

impl<T: redis::FromRedisValue + Send + 'static> Operation<RedisManager> for QueryPipeline<'_, T> {
    type Output = T;

    fn call<'c>(
        &'c mut self,
        conn: &'c mut Pooled<RedisManager>,
    ) -> impl Future<Output = Result<T, RedisPoolError>> + Send + 'c {
        let pipeline = self.pipeline;
        async move { Ok(pipeline.query_async(conn).await?) }
    }
}
