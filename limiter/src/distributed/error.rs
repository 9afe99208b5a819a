//! The typed errors of the Redis-backed limiters.

use std::time::Duration;

use crate::error::RateError;

/// Why a [`RedisSemaphore`](crate::RedisSemaphore) could not be built, or gave no permit.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RedisSemaphoreError {
    /// [`build`](crate::RedisSemaphoreBuilder::build): a limit of 0 permits could never grant
    /// anything.
    #[error("the limit must be at least 1 permit")]
    ZeroLimit,
    /// [`build`](crate::RedisSemaphoreBuilder::build): a local limit of 0 would let this
    /// process take no permit at all.
    #[error("the local limit must be at least 1 permit")]
    ZeroLocalLimit,
    /// [`build`](crate::RedisSemaphoreBuilder::build): the lease is too short to be renewed
    /// (every lease/3) over a network round trip.
    #[error("the lease is {lease:?}, but it must be at least {min:?}")]
    LeaseTooShort {
        /// The lease asked for.
        lease: Duration,
        /// The shortest lease accepted.
        min: Duration,
    },
    /// [`build`](crate::RedisSemaphoreBuilder::build) was called outside a tokio runtime, so
    /// the background task that talks to Redis cannot be spawned.
    #[error("a RedisSemaphore needs a tokio runtime: build it inside one")]
    NoRuntime,
    /// The round trip to Redis that carried this request failed: the server could not be
    /// reached, the connection dropped, the command timed out
    /// ([`command_timeout`](crate::RedisSemaphoreBuilder::command_timeout)), or the server
    /// answered with an error (for example a managed Redis that refuses `TIME` in scripts: use
    /// [`TimeSource::Client`](crate::TimeSource::Client)). Nothing was granted; a later call
    /// retries on a fresh connection. See [`is_connection_error`](Self::is_connection_error).
    #[error("redis: {0}")]
    Redis(#[source] redis::RedisError),
    /// [`RedisSemaphore::close`](crate::RedisSemaphore::close) was called, before or while this
    /// request waited.
    #[error("the semaphore is closed")]
    Closed,
    /// [`acquire_timeout`](crate::RedisSemaphore::acquire_timeout) ran out before a permit was
    /// granted.
    #[error("timed out waiting for a permit")]
    Elapsed,
    /// The semaphore's background task is gone: the tokio runtime it was spawned on is shutting
    /// down.
    #[error("the semaphore's background task stopped (runtime shutting down)")]
    Stopped,
}

impl RedisSemaphoreError {
    /// True when Redis could not be reached, the connection dropped or a command timed out:
    /// retrying later (when the server is back) can succeed. False for error replies, which
    /// retrying does not fix.
    pub fn is_connection_error(&self) -> bool {
        matches!(self, Self::Redis(e) if is_connection_error(e))
    }
}

/// Why a [`RedisRateLimiter`](crate::RedisRateLimiter) could not be built or answer.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RedisRateError {
    /// The rate or burst can never grant anything, or more tokens were asked for at once than
    /// the burst allows; see [`RateError`]. Reported without a round trip.
    #[error(transparent)]
    Invalid(#[from] RateError),
    /// [`build`](crate::RedisRateLimiterBuilder::build) was called outside a tokio runtime.
    #[error("a RedisRateLimiter needs a tokio runtime: build it inside one")]
    NoRuntime,
    /// The round trip to Redis failed: the server could not be reached, the connection
    /// dropped, the command timed out, or the server answered with an error. Whether the
    /// tokens were taken is unknown when the command was sent before the failure. See
    /// [`is_connection_error`](Self::is_connection_error).
    #[error("redis: {0}")]
    Redis(#[source] redis::RedisError),
}

impl RedisRateError {
    /// True when Redis could not be reached, the connection dropped or a command timed out.
    pub fn is_connection_error(&self) -> bool {
        matches!(self, Self::Redis(e) if is_connection_error(e))
    }
}

fn is_connection_error(e: &redis::RedisError) -> bool {
    // `WaitAndRetry` covers a server still loading its data after a restart.
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_timeout()
        || matches!(
            e.retry_method(),
            redis::RetryMethod::Reconnect
                | redis::RetryMethod::ReconnectFromInitialConnections
                | redis::RetryMethod::WaitAndRetry
        )
}

/// The error a command gets when it outlives its time budget.
pub(super) fn timed_out() -> redis::RedisError {
    std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "no reply from Redis within the command timeout",
    )
    .into()
}
