//! Limits shared by every process, on Redis (feature `redis`): [`RedisSemaphore`] and
//! [`RedisRateLimiter`].

mod driver;
mod error;
mod rate;
mod semaphore;
mod shared;
mod subscriber;
mod time;

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

pub use error::{RedisRateError, RedisSemaphoreError};
pub use rate::{RateDecision, RedisRateLimiter, RedisRateLimiterBuilder};
pub use semaphore::{
    DEFAULT_LEASE, DEFAULT_PASS_ON_WINDOW, MIN_LEASE, RedisPermit, RedisSemaphore,
    RedisSemaphoreBuilder, RedisSnapshot,
};
pub use time::TimeSource;

/// The command timeout when none is configured.
const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

/// A multiplexed connection that reconnects by itself, opened on first use.
fn connection_manager(
    client: redis::Client,
    timeout: Duration,
) -> redis::RedisResult<ConnectionManager> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout));
    ConnectionManager::new_lazy_with_config(client, config)
}
