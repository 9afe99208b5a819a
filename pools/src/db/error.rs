//! `DbPoolError`: what can go wrong getting a connection or running a command.

use std::time::Duration;

use crate::config::ConfigError;

/// An error of a Redis or PostgreSQL pool; `E` is the driver's error
/// ([`redis::RedisError`] or [`tokio_postgres::Error`]).
///
/// See [`RedisPoolError`](crate::RedisPoolError) and
/// [`PostgresPoolError`](crate::PostgresPoolError).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbPoolError<E: std::error::Error + 'static> {
    /// The [`PoolConfig`](crate::PoolConfig) cannot work.
    #[error("invalid pool configuration")]
    Config(#[source] ConfigError),
    /// The URL could not be parsed (or names a transport this build does not support).
    #[error("invalid URL")]
    InvalidUrl(#[source] E),
    /// The server refused the credentials, or the user does not exist. Not retried: waiting
    /// would not change the answer.
    #[error("authentication failed")]
    Auth(#[source] E),
    /// Connecting failed for a reason retrying cannot fix (e.g. the database does not exist).
    #[error("connecting failed")]
    Connect(#[source] E),
    /// No connection could be had within `get_timeout`: all were in use, or the server did not
    /// accept connections. `last_error` is the last connect error seen while waiting.
    #[error("no connection within {waited:?}")]
    Timeout {
        /// How long the caller waited.
        waited: Duration,
        /// The last connect error seen while waiting, if any: usually why the wait failed.
        #[source]
        last_error: Option<E>,
    },
    /// A command ran longer than `command_timeout` and was abandoned (PostgreSQL: cancelled on
    /// the server too).
    #[error("command did not finish within {timeout:?}")]
    CommandTimeout {
        /// The configured `command_timeout`.
        timeout: Duration,
    },
    /// The connection was found closed (by the server or the network) before the command was
    /// sent, and the command could not be moved to another connection.
    #[error("connection closed before the command was sent")]
    ConnectionClosed,
    /// The server answered with an error, or the connection failed in a way the pool does not
    /// retry.
    #[error("command failed")]
    Command(#[source] E),
    /// The connection broke while a command not declared
    /// [`Idempotent`](crate::Idempotency::Idempotent) was in flight: it may or may not have
    /// run on the server. The pool did not retry it, so it never runs twice.
    #[error(
        "connection lost while a non-idempotent command was in flight: it may or may not have run"
    )]
    Indeterminate(#[source] E),
    /// The pool was closed.
    #[error("pool closed")]
    Closed,
}

impl<E: std::error::Error + 'static> From<E> for DbPoolError<E> {
    /// A driver error from a command: [`DbPoolError::Command`].
    fn from(e: E) -> Self {
        Self::Command(e)
    }
}

impl<E: std::error::Error + 'static> DbPoolError<E> {
    /// The driver's error, when there is one.
    pub fn driver_error(&self) -> Option<&E> {
        match self {
            Self::InvalidUrl(e)
            | Self::Auth(e)
            | Self::Connect(e)
            | Self::Command(e)
            | Self::Indeterminate(e) => Some(e),
            Self::Timeout { last_error, .. } => last_error.as_ref(),
            _ => None,
        }
    }

    /// True for [`Timeout`](Self::Timeout) and [`CommandTimeout`](Self::CommandTimeout).
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout { .. } | Self::CommandTimeout { .. })
    }
}
