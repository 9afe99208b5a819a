//! The glue each driver (redis, tokio-postgres) provides to the shared pool logic.

use std::sync::Arc;
use std::time::Instant;

use super::error::DbPoolError;
use super::state::{ConnState, Shared};

/// A [`mobc::Manager`] a [`DbPool`](crate::DbPool) can be built on: implemented by
/// [`RedisManager`](crate::RedisManager) and [`PostgresManager`](crate::PostgresManager)
/// only (sealed).
pub trait DbManager:
    mobc::Manager<Error = DbPoolError<Self::DriverError>> + sealed::Sealed
{
    /// The driver's error type ([`redis::RedisError`], [`tokio_postgres::Error`]).
    type DriverError: std::error::Error + Send + Sync + 'static;
}

#[allow(unreachable_pub)] // The sealed-trait pattern: public, but unnameable outside.
mod sealed {
    pub trait Sealed {}
}

pub(crate) use sealed::Sealed;

/// What the shared pool logic needs from a manager beyond [`DbManager`]: its connections
/// carry a [`ConnState`].
pub(crate) trait Backend: DbManager {
    /// Per-pool state of this backend (Redis: the multiplexed lanes).
    type Extra: Send + Sync + 'static;

    fn extra(config: &crate::PoolConfig) -> Self::Extra;

    /// The state shared with the pool built on this manager.
    fn shared(&self) -> &Arc<Shared>;

    fn state(conn: &Self::Connection) -> &ConnState;

    fn state_mut(conn: &mut Self::Connection) -> &mut ConnState;

    /// The driver saw the connection close (no round trip).
    fn is_closed(conn: &Self::Connection) -> bool;

    /// A connect error that waiting may fix (refused, reset, timed out), as opposed to bad
    /// credentials or an unknown database.
    fn is_transient_connect_error(err: &Self::DriverError) -> bool;

    /// A command error that means the client-side deadline passed.
    fn is_timeout(err: &Self::DriverError) -> bool;
}

/// What checkout-time validation decided for an idle connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Hand it out as it is.
    Ready,
    /// Ping it first: idle past the health-check interval, or suspect after a sibling broke.
    Ping,
    /// Never hand it out: broken or closed.
    Discard,
}

pub(crate) fn verdict<M: Backend>(shared: &Shared, conn: &M::Connection) -> Verdict {
    let state = M::state(conn);
    if state.broken || state.in_flight || M::is_closed(conn) {
        Verdict::Discard
    } else if shared.needs_ping(state, Instant::now()) {
        Verdict::Ping
    } else {
        Verdict::Ready
    }
}

/// Check-in: keep only connections that are whole and young enough.
pub(crate) fn still_valid<M: Backend>(shared: &Shared, conn: &M::Connection) -> bool {
    let state = M::state(conn);
    !state.broken && !state.in_flight && !M::is_closed(conn) && !shared.too_old(state)
}

/// `mobc::Manager::spawn_task` for our managers: polls the task once in place and spawns it
/// only if it has to wait.
///
/// mobc returns every connection to its pool on a spawned task (`Connection::drop`); the task
/// takes mobc's lock and pushes the connection, so it nearly always completes in one poll.
/// Running it in place saves a task spawn and a scheduler hop per checkout, and releases the
/// connection's permit at once to the next waiter.
pub(crate) fn run_or_spawn<T>(task: T)
where
    T: std::future::Future + Send + 'static,
    T::Output: Send + 'static,
{
    let mut task = Box::pin(task);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    if task.as_mut().poll(&mut cx).is_pending() {
        // The spawned task is polled again with a real waker, so a wake-up sent to the
        // no-op waker in between is not lost.
        drop(tokio::spawn(task));
    }
}
