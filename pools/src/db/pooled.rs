//! `Pooled`: a connection checked out of a pool, returned when dropped.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Instant;

use super::backend::{self, Backend};
use super::hot::Hot;

/// A connection checked out of a [`DbPool`](crate::DbPool); it goes back to the pool when
/// dropped (or is closed, if it broke or outlived `max_lifetime`).
///
/// Dereferences to the pool's connection type: [`RedisConnection`](crate::RedisConnection)
/// (which implements [`redis::aio::ConnectionLike`], so every `AsyncCommands` method works on
/// it) or [`PostgresConnection`](crate::PostgresConnection).
///
/// Drop it inside a tokio runtime: mobc returns connections on a spawned task. Dropped
/// outside one, the connection is closed instead of returned.
///
/// A whole connection goes back to a short list the pool keeps in front of mobc (or to mobc
/// itself when a checkout waits there); a broken one, one dropped mid-command or one past
/// `max_lifetime` is closed.
#[allow(private_bounds)] // `Backend` is sealed: only this crate's managers implement it.
pub struct Pooled<M: Backend> {
    /// `Some` until dropped. Counted in the pool's `in_use` gauge while it lives.
    conn: Option<mobc::Connection<M>>,
    hot: Arc<Hot<M>>,
}

#[allow(private_bounds)]
impl<M: Backend> Pooled<M> {
    /// Holds the checkout permit `conn` was taken with (forgotten by the caller) until drop.
    pub(crate) fn new(conn: mobc::Connection<M>, hot: Arc<Hot<M>>) -> Self {
        M::state(&conn).shared().checkout_started();
        Self {
            conn: Some(conn),
            hot,
        }
    }

    /// True when the connection was opened for this checkout rather than reused.
    pub fn is_brand_new(&self) -> bool {
        M::state(self).fresh
    }

    /// How long ago the connection was opened.
    pub fn age(&self) -> std::time::Duration {
        M::state(self).age()
    }

    /// Keeps `conn` for the next checkout, or closes it when it is broken, was cut
    /// mid-command or outlived `max_lifetime`.
    fn check_in(&self, mut conn: mobc::Connection<M>) {
        let now = Instant::now();
        let state = M::state_mut(&mut conn);
        state.last_used = now;
        let shared = state.shared();
        shared.checkin();
        let keep = !shared.too_old(state, now) && backend::still_valid::<M>(&conn);
        if keep && tokio::runtime::Handle::try_current().is_ok() {
            self.hot.check_in(conn);
        } else {
            // (Outside a runtime, mobc's `Drop` would `tokio::spawn` and panic.)
            drop(conn.into_inner());
        }
    }
}

#[allow(private_bounds)]
impl<M: Backend> Deref for Pooled<M> {
    type Target = M::Connection;

    fn deref(&self) -> &M::Connection {
        // `conn` is only taken in `drop`.
        self.conn.as_deref().unwrap_or_else(|| unreachable!())
    }
}

#[allow(private_bounds)]
impl<M: Backend> DerefMut for Pooled<M> {
    fn deref_mut(&mut self) -> &mut M::Connection {
        self.conn.as_deref_mut().unwrap_or_else(|| unreachable!())
    }
}

#[allow(private_bounds)]
impl<M: Backend> Drop for Pooled<M> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        self.check_in(conn);
        // After the check-in: the checkout this permit wakes takes the connection kept.
        self.hot.release_permit();
    }
}

#[allow(private_bounds)]
impl<M: Backend> fmt::Debug for Pooled<M>
where
    M::Connection: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Pooled").field(&**self).finish()
    }
}
