//! `RedisConnection`: a multiplexed connection that knows whether its driver is still alive.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::{Cmd, Pipeline, RedisError, RedisFuture, Value};

use super::manager::RedisManager;
use crate::db::Pooled;
use crate::db::state::ConnState;

/// One Redis connection of a [`RedisPool`](crate::RedisPool): a redis 1.x
/// [`MultiplexedConnection`] plus what the pool tracks about it.
///
/// It implements [`ConnectionLike`], so every [`redis::AsyncCommands`] method and
/// `query_async` work on it (and on the [`Pooled`] guard holding it). Each command has the
/// pool's `command_timeout` as response timeout.
pub struct RedisConnection {
    // Boxed: mobc moves connections by value several times per checkout.
    pub(super) conn: Box<MultiplexedConnection>,
    /// Cleared when the connection's driver task ends (the socket closed).
    pub(super) alive: Arc<AtomicBool>,
    pub(super) state: Box<ConnState>,
}

impl fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConnection")
            .field("alive", &self.is_alive())
            .field("broken", &self.state.broken)
            .field("age", &self.state.age())
            .finish_non_exhaustive()
    }
}

impl RedisConnection {
    /// False once the socket closed (the server went away) or a command failed at the
    /// transport level; such a connection is never handed out again.
    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Acquire) && !self.state.broken
    }

    async fn tracked<T>(
        &mut self,
        send: impl AsyncFnOnce(&mut MultiplexedConnection) -> Result<T, RedisError>,
    ) -> Result<T, RedisError> {
        if !self.is_alive() {
            self.state.broke(false);
            return Err(closed_before_send());
        }
        self.state.sending();
        // Redis answers a connection's commands in order: if this future is dropped before
        // the reply (a blocking command, a slow script), the connection is closed at check-in
        // rather than handed to a caller whose commands would queue behind it.
        self.state.in_flight = true;
        let sent = std::time::Instant::now();
        let result = send(&mut self.conn).await;
        self.state.in_flight = false;
        if result.is_ok() {
            self.state.answered(sent);
        }
        if let Err(e) = &result {
            let counters = &self.state.shared().counters;
            if e.is_timeout() {
                counters.timeout();
                // The server still works on the command, and Redis answers a connection's
                // commands in order: everything sent after it would wait too.
                self.state.abandon();
            } else {
                counters.error();
                if e.is_unrecoverable_error() {
                    self.state.broke(true);
                }
            }
        }
        result
    }
}

fn closed_before_send() -> RedisError {
    std::io::Error::new(
        std::io::ErrorKind::NotConnected,
        "connection closed before the command was sent",
    )
    .into()
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(self.tracked(async |conn| conn.send_packed_command(cmd).await))
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(
            self.tracked(async move |conn| {
                conn.send_packed_commands(pipeline, offset, count).await
            }),
        )
    }

    fn get_db(&self) -> i64 {
        self.conn.get_db()
    }
}

impl ConnectionLike for Pooled<RedisManager> {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        (**self).req_packed_command(cmd)
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        (**self).req_packed_commands(pipeline, offset, count)
    }

    fn get_db(&self) -> i64 {
        (**self).get_db()
    }
}
