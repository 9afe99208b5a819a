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

    /// One round trip to prove the connection alive (within the command timeout, where the
    /// driver has none of its own). [`check`] records the outcome.
    fn ping(
        shared: &Shared,
        conn: &mut Self::Connection,
    ) -> impl std::future::Future<Output = Result<(), DbPoolError<Self::DriverError>>> + Send;
}

/// What checkout-time validation decided for an idle connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    /// Hand it out as it is.
    Ready,
    /// Ping it first: idle past the health-check interval, or suspect after a sibling broke.
    Ping,
    /// Never hand it out: broken, closed or past `max_lifetime`.
    Discard,
}

fn verdict<M: Backend>(shared: &Shared, conn: &M::Connection) -> Verdict {
    let state = M::state(conn);
    if state.broken || state.in_flight || M::is_closed(conn) {
        return Verdict::Discard;
    }
    // One clock read serves both checks.
    let now = Instant::now();
    if shared.too_old(state, now) {
        Verdict::Discard
    } else if shared.needs_ping(state, now) {
        Verdict::Ping
    } else {
        Verdict::Ready
    }
}

/// Checkout-time validation of an idle connection: discards broken, closed and expired ones,
/// pings those [`verdict`] says are due. Run by the managers' `mobc::Manager::check` (bare
/// mobc pools) and by `DbPool`'s own checkout, which turns mobc's off: mobc would box a
/// future and read the clock twice per checkout for it.
pub(crate) async fn check<M: Backend>(
    shared: &Shared,
    conn: &mut M::Connection,
) -> Result<(), DbPoolError<M::DriverError>> {
    match verdict::<M>(shared, conn) {
        Verdict::Ready => Ok(()),
        Verdict::Discard => Err(DbPoolError::ConnectionClosed),
        Verdict::Ping => {
            let sent = Instant::now();
            let pong = M::ping(shared, conn).await;
            match &pong {
                Ok(()) => M::state_mut(conn).answered(sent),
                Err(DbPoolError::CommandTimeout { .. }) => shared.counters.timeout(),
                Err(_) => shared.counters.error(),
            }
            pong
        }
    }
}

/// Check-in: keep only connections that are whole. (`Pooled`'s `Drop` closes those past
/// `max_lifetime` itself, with the clock reading it takes anyway.)
pub(crate) fn still_valid<M: Backend>(conn: &M::Connection) -> bool {
    let state = M::state(conn);
    !state.broken && !state.in_flight && !M::is_closed(conn)
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
