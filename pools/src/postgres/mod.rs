//! The PostgreSQL pool: `PostgresManager` (tokio-postgres) under a tuned mobc pool.

mod connection;
mod manager;

pub use connection::PostgresConnection;
pub use manager::PostgresManager;

use crate::config::PoolConfig;
use crate::db::{DbPool, DbPoolError};

/// A pool of PostgreSQL connections: a [`DbPool`] over [`PostgresManager`].
pub type PostgresPool = DbPool<PostgresManager>;

/// The error of a [`PostgresPool`].
pub type PostgresPoolError = DbPoolError<tokio_postgres::Error>;

/// Builds a PostgreSQL pool for `url` (`postgres://user[:password]@host[:port]/database`, or
/// the `key=value` form tokio-postgres accepts). Connections use no TLS.
///
/// Each connection starts with `statement_timeout` set to the pool's `command_timeout`. The
/// first connection is opened before returning, so a bad URL, bad credentials or an unknown
/// database fail here; then the pool is warmed to `min_idle`.
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
pub async fn postgres_pool(
    url: &str,
    config: PoolConfig,
) -> Result<PostgresPool, PostgresPoolError> {
    let manager = PostgresManager::new(url, config)?;
    DbPool::build(manager).await
}
