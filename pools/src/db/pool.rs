//! `DbPool`: a mobc pool with our checkout (deadline-bound reconnects), retry policy,
//! metrics and maintenance task (lifetimes, `min_idle`).

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::{Arc, OnceLock, Weak};
use std::task::Poll;
use std::time::Duration;

use futures_util::future::{BoxFuture, join_all};
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::backend::{self, Backend, DbManager};
use super::error::DbPoolError;
use super::hot::{Hot, Taken};
use super::pooled::Pooled;
use super::retry::{Failure, Next, after_failure};
use super::state::Shared;
use super::wait::Wait;
use crate::metrics::PoolMetrics;

/// Whether running an operation twice does the same as running it once, which decides if the
/// pool may retry it after the connection broke mid-flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Idempotency {
    /// Safe to run twice (reads, `SET key value`, `UPDATE .. SET x = 1`): retried once on a
    /// fresh connection when the connection broke while it ran.
    Idempotent,
    /// Must not run twice (`INCR`, `INSERT`): when the connection breaks while it is in
    /// flight the caller gets [`DbPoolError::Indeterminate`]. It is still moved to another
    /// connection when the pool knows it was never sent.
    NotIdempotent,
}

type Result<T, M> = std::result::Result<T, DbPoolError<<M as DbManager>::DriverError>>;

/// One unit of work `run_op` may repeat on another connection. A trait rather than an async
/// closure so the returned future's `Send` is provable for every connection lifetime.
pub(crate) trait Operation<M: Backend>: Send {
    type Output: Send + 'static;

    fn call<'c>(
        &'c mut self,
        conn: &'c mut Pooled<M>,
    ) -> impl Future<Output = Result<Self::Output, M>> + Send + 'c;
}

fn timed_out<E: std::error::Error>(start: Instant, last_error: Option<E>) -> DbPoolError<E> {
    DbPoolError::Timeout {
        waited: start.elapsed(),
        last_error,
    }
}

/// A `run` closure as an [`Operation`].
struct ClosureOp<F, X>(F, PhantomData<fn() -> X>);

impl<M, T, X, F> Operation<M> for ClosureOp<F, X>
where
    M: Backend,
    F: for<'c> FnMut(&'c mut Pooled<M>) -> BoxFuture<'c, std::result::Result<T, X>> + Send,
    X: Into<DbPoolError<M::DriverError>>,
    T: Send + 'static,
{
    type Output = T;

    fn call<'c>(
        &'c mut self,
        conn: &'c mut Pooled<M>,
    ) -> impl Future<Output = Result<T, M>> + Send + 'c {
        let future = (self.0)(conn);
        async move { future.await.map_err(Into::into) }
    }
}

/// The first backoff between connect attempts while the server is down; doubled up to
/// [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(5);
const MAX_BACKOFF: Duration = Duration::from_millis(200);

/// A Redis or PostgreSQL connection pool: [`RedisPool`](crate::RedisPool) or
/// [`PostgresPool`](crate::PostgresPool). Cheap to clone (clones share the pool).
///
/// Built on [`mobc::Pool`] with every connection allowed to stay idle, and a maintenance task
/// that keeps `min_idle` open and retires connections past their lifetimes. See
/// [`PoolConfig`](crate::PoolConfig) for the knobs.
#[allow(private_bounds)] // `Backend` is sealed: only this crate's managers implement it.
pub struct DbPool<M: Backend> {
    inner: Arc<Inner<M>>,
}

struct Inner<M: Backend> {
    pool: mobc::Pool<M>,
    /// Checked-in connections kept in front of mobc.
    hot: Arc<Hot<M>>,
    shared: Arc<Shared>,
    #[cfg_attr(not(feature = "redis"), allow(dead_code))] // Only Redis has extra state.
    extra: M::Extra,
    maintenance: OnceLock<AbortHandle>,
}

impl<M: Backend> Drop for Inner<M> {
    fn drop(&mut self) {
        if let Some(task) = self.maintenance.get() {
            task.abort();
        }
    }
}

#[allow(private_bounds)]
impl<M: Backend> Clone for DbPool<M> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

#[allow(private_bounds)]
impl<M: Backend> fmt::Debug for DbPool<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbPool")
            .field("config", &self.inner.shared.config)
            .field("metrics", &self.metrics())
            .finish()
    }
}

#[allow(private_bounds)]
impl<M: Backend> DbPool<M> {
    /// Builds the pool over `manager`, opens its first connection (so a bad URL or bad
    /// credentials fail here), warms it to `min_idle` and starts the maintenance task.
    pub(crate) async fn build(manager: M) -> Result<Self, M> {
        let shared = Arc::clone(manager.shared());
        let config = &shared.config;
        let pool = mobc::Pool::builder()
            // mobc's semaphore panics above `MAX_PERMITS`: that many is "no cap" anyway.
            .max_open(
                u64::try_from(config.max_open.min(tokio::sync::Semaphore::MAX_PERMITS))
                    .unwrap_or(u64::MAX),
            )
            // 0 = as many idle as open: mobc's default of 2 churns connections under load.
            .max_idle(0)
            // Our checkout validates idle connections itself (`backend::check`): mobc's own
            // check would box a future and read the clock twice on every checkout.
            .test_on_check_out(false)
            // Deadlines and lifetimes are ours (mobc's idle lifetime counts from creation).
            .get_timeout(None)
            .build(manager);
        let extra = M::extra(&shared.config);
        let inner = Arc::new(Inner {
            pool,
            hot: Arc::new(Hot::new(config.max_open)),
            shared,
            extra,
            maintenance: OnceLock::new(),
        });
        let this = Self { inner };
        let (first, _) = this
            .acquire(&mut Wait::new(this.inner.shared.config.get_timeout))
            .await?;
        this.warm(1).await;
        drop(first);
        let task = tokio::spawn(maintain(Arc::downgrade(&this.inner)));
        let _ = this.inner.maintenance.set(task.abort_handle());
        Ok(this)
    }

    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn extra(&self) -> &M::Extra {
        &self.inner.extra
    }

    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.inner.shared
    }

    /// A snapshot of the pool's gauges and counters (no lock, no await).
    pub fn metrics(&self) -> PoolMetrics {
        self.inner.shared.metrics()
    }

    /// The configuration the pool was built with.
    pub fn config(&self) -> &crate::PoolConfig {
        &self.inner.shared.config
    }

    /// Checks out a connection, waiting at most `get_timeout`.
    ///
    /// An idle connection is preferred (the most recently used first); it is pinged first
    /// when it sat idle past `health_check_interval` or a sibling connection broke since the
    /// server last answered on it. While the server refuses connections the call keeps reconnecting, with
    /// backoff, until the deadline.
    ///
    /// # Errors
    ///
    /// [`DbPoolError::Timeout`] (with the last connect error) at the deadline;
    /// [`DbPoolError::Auth`] or [`DbPoolError::Connect`] at once when retrying cannot help.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped call loses its place in the queue and nothing else; a
    /// connection being opened for it is closed.
    pub async fn get(&self) -> Result<Pooled<M>, M> {
        self.get_until(&mut Wait::new(self.inner.shared.config.get_timeout))
            .await
    }

    pub(crate) async fn get_until(&self, wait: &mut Wait) -> Result<Pooled<M>, M> {
        let shared = &self.inner.shared;
        let _waiting = shared.waiting();
        // Waiting means there was no idle connection to take.
        let had_idle = shared.idle() > 0;
        let got = match self.inner.hot.permit(wait).await {
            Some(permit) => self.acquire(wait).await.map(|got| (permit, got)),
            None => Err(timed_out(wait.start(), None)),
        };
        let (permit, (mut conn, fresh)) = got.inspect_err(|e| {
            if e.is_timeout() {
                shared.counters.timeout();
            }
        })?;
        // From here on `Pooled`'s drop gives the permit back.
        permit.forget();
        M::state_mut(&mut conn).begin_checkout(fresh);
        let waited = if had_idle {
            Duration::ZERO
        } else {
            wait.waited()
        };
        shared.counters.checkout(waited);
        Ok(Pooled::new(conn, Arc::clone(&self.inner.hot)))
    }

    /// Takes a valid connection from the hot list or mobc, reconnecting with backoff until
    /// the deadline while the server refuses connections; true with one opened for this call.
    /// Counts nothing: the pool's own checkouts use it too.
    async fn acquire(&self, wait: &mut Wait) -> Result<(mobc::Connection<M>, bool), M> {
        let mut last_error = None;
        let mut backoff = FIRST_BACKOFF;
        loop {
            let got = match self.inner.hot.take() {
                Taken::Conn(conn) => Ok((conn, false)),
                Taken::AskMobc(registration) => {
                    let got = self.get_within(wait).await;
                    drop(registration);
                    // mobc's flag is true only for a connection it opened for this `get`.
                    got.map(|conn| {
                        let fresh = conn.is_brand_new();
                        (conn, fresh)
                    })
                }
            };
            match got {
                Ok((conn, fresh)) => {
                    if fresh {
                        return Ok((conn, true));
                    }
                    if let Some(conn) = self.checked(conn).await {
                        return Ok((conn, false));
                    }
                    // Closed rather than handed out; the loop opens or takes another.
                }
                Err(mobc::Error::Timeout) => return Err(timed_out(wait.start(), last_error)),
                Err(mobc::Error::BadConn) => {}
                Err(mobc::Error::PoolClosed) => return Err(DbPoolError::Closed),
                Err(mobc::Error::Inner(DbPoolError::Connect(e)))
                    if M::is_transient_connect_error(&e) =>
                {
                    last_error = Some(e);
                    tokio::time::sleep(backoff.min(wait.remaining())).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Err(mobc::Error::Inner(e)) => return Err(e),
            }
            if wait.remaining().is_zero() {
                return Err(timed_out(wait.start(), last_error));
            }
        }
    }

    /// `conn`, an idle connection, if [`backend::check`] passes it (pinging it if due). A
    /// failing one is closed.
    async fn checked(&self, mut conn: mobc::Connection<M>) -> Option<mobc::Connection<M>> {
        if backend::check::<M>(&self.inner.shared, &mut conn)
            .await
            .is_ok()
        {
            return Some(conn);
        }
        drop(conn.into_inner());
        None
    }

    /// An idle connection mobc can hand out without waiting or connecting, if any.
    fn get_now(&self) -> Option<mobc::Connection<M>> {
        let get = std::pin::pin!(self.inner.pool.get());
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match get.poll(&mut cx) {
            Poll::Ready(Ok(conn)) if !conn.is_brand_new() => Some(conn),
            // A connection mobc just opened: nothing was idle after all.
            Poll::Ready(Ok(conn)) => {
                drop(conn.into_inner());
                None
            }
            Poll::Ready(Err(_)) | Poll::Pending => None,
        }
    }

    /// mobc's `get`, bounded by the deadline only if it has to wait: mobc's own timeout runs
    /// on the futures-timer thread (a thread wake-up per checkout), and an idle connection is
    /// usually there at once (then the clock is not even read).
    async fn get_within(
        &self,
        wait: &mut Wait,
    ) -> std::result::Result<mobc::Connection<M>, mobc::Error<M::Error>> {
        let mut get = std::pin::pin!(self.inner.pool.get());
        match std::future::poll_fn(|cx| Poll::Ready(get.as_mut().poll(cx))).await {
            Poll::Ready(result) => result,
            Poll::Pending => tokio::time::timeout(wait.remaining(), get)
                .await
                .unwrap_or(Err(mobc::Error::Timeout)),
        }
    }

    /// Runs `op` on a pooled connection, moving it to a fresh connection when the one it
    /// got turns out to be dead.
    ///
    /// `op` returns a boxed future (`|conn| Box::pin(async move { .. })`), which keeps the
    /// returned future `Send`; the future may borrow the connection, and owns (clones of)
    /// anything else it uses:
    ///
    /// ```no_run
    /// # async fn demo(pool: asyncperf_pools::RedisPool) -> Result<(), asyncperf_pools::RedisPoolError> {
    /// use asyncperf_pools::Idempotency;
    /// use redis::AsyncCommands;
    ///
    /// let name: Option<String> = pool
    ///     .run(Idempotency::Idempotent, |conn| Box::pin(async move { conn.get("user:1").await }))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// - Nothing was sent yet (the connection was found closed): `op` runs again on another
    ///   connection, whatever its idempotency, until `get_timeout` passes. A call through
    ///   `PostgresConnection`'s `Deref` to the driver's `Client` counts as sent: the pool
    ///   cannot tell what it did.
    /// - The connection broke while a command was in flight: an
    ///   [`Idempotent`](Idempotency::Idempotent) `op` runs once more on a fresh connection;
    ///   a [`NotIdempotent`](Idempotency::NotIdempotent) one fails with
    ///   [`DbPoolError::Indeterminate`] and never runs twice.
    /// - Any other error (a server error, a command timeout) is returned as it is.
    ///
    /// Getting connections, including reconnecting while the server restarts, shares one
    /// `get_timeout` deadline; each command has its own `command_timeout`.
    ///
    /// # Errors
    ///
    /// What [`get`](Self::get) returns, `op`'s own error (a driver error becomes
    /// [`DbPoolError::Command`], a client-side command deadline
    /// [`DbPoolError::CommandTimeout`]), or [`DbPoolError::Indeterminate`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the connection in its state: a command already sent may
    /// still run on the server (PostgreSQL: until `statement_timeout`). The connection is
    /// closed if a command was interrupted, so the next caller never reads its reply.
    pub async fn run<T, X, F>(&self, idempotency: Idempotency, op: F) -> Result<T, M>
    where
        F: for<'c> FnMut(&'c mut Pooled<M>) -> BoxFuture<'c, std::result::Result<T, X>> + Send,
        X: Into<DbPoolError<M::DriverError>>,
        T: Send + 'static,
    {
        self.run_op(idempotency, ClosureOp(op, PhantomData)).await
    }

    pub(crate) async fn run_op<O: Operation<M>>(
        &self,
        idempotency: Idempotency,
        mut op: O,
    ) -> Result<O::Output, M> {
        let mut wait = Wait::new(self.inner.shared.config.get_timeout);
        let mut retried_in_flight = false;
        loop {
            let mut conn = self.get_until(&mut wait).await?;
            let err = match op.call(&mut conn).await {
                Ok(value) => return Ok(value),
                Err(err) => self.classify(err),
            };
            let state = M::state(&conn);
            let failure = Failure {
                broken: state.broken,
                timed_out: matches!(err, DbPoolError::CommandTimeout { .. }),
                sent: state.maybe_sent(),
                in_flight: state.failed_in_flight,
            };
            match after_failure(idempotency, failure, &mut retried_in_flight) {
                Next::Retry => wait.restart(),
                Next::Fail => return Err(err),
                Next::FailIndeterminate => {
                    return Err(match err {
                        DbPoolError::Command(e) => DbPoolError::Indeterminate(e),
                        other => other,
                    });
                }
            }
        }
    }

    /// Turns a driver timeout into [`DbPoolError::CommandTimeout`]. (Connections count
    /// their errors and timeouts themselves.)
    fn classify(&self, err: DbPoolError<M::DriverError>) -> DbPoolError<M::DriverError> {
        match err {
            DbPoolError::Command(e) if M::is_timeout(&e) => DbPoolError::CommandTimeout {
                timeout: self.inner.shared.config.command_timeout.unwrap_or_default(),
            },
            _ => err,
        }
    }

    /// Opens connections until `min_idle` are open (holding them all at once, so mobc opens
    /// new ones instead of handing the same idle one back).
    async fn warm(&self, already_held: u64) {
        let shared = &self.inner.shared;
        let min_idle = u64::try_from(shared.config.min_idle).unwrap_or(u64::MAX);
        if shared.open() >= min_idle {
            return;
        }
        let wanted = min_idle.saturating_sub(shared.in_use() + already_held);
        let timeout = shared.config.get_timeout;
        let held = join_all(
            (0..wanted).map(|_| async move { self.get_within(&mut Wait::new(timeout)).await }),
        )
        .await;
        drop(held);
    }

    /// Closes idle connections past their lifetimes (idle ones only while more than
    /// `min_idle` are open), pinging those due a health check on the way.
    async fn reap(&self) {
        let shared = &self.inner.shared;
        let hot = self.inner.hot.drain();
        // The rest of the idle ones sit in mobc: take those it has at hand, never waiting
        // (nor opening one) for them.
        let in_mobc = shared.idle().saturating_sub(hot.len() as u64);
        let mut idle = hot;
        for _ in 0..in_mobc {
            match self.get_now() {
                Some(conn) => idle.push(conn),
                None => break,
            }
        }
        let mut held = Vec::new();
        for conn in idle {
            held.extend(self.checked(conn).await);
        }
        let now = std::time::Instant::now();
        let min_idle = u64::try_from(shared.config.min_idle).unwrap_or(u64::MAX);
        let mut open = shared.open();
        for conn in held {
            let state = M::state(&conn);
            let idle_out = open > min_idle && shared.idle_too_long(state, now);
            if idle_out || shared.too_old(state, now) {
                drop(conn.into_inner());
                open = open.saturating_sub(1);
            }
        }
    }
}

/// The maintenance task: tops `min_idle` up at least once a second and reaps idle
/// connections as often as the lifetimes need. Ends when the pool is dropped.
async fn maintain<M: Backend>(pool: Weak<Inner<M>>) {
    let config = match pool.upgrade() {
        Some(inner) => inner.shared.config.clone(),
        None => return,
    };
    let tick = config.maintenance_interval();
    let reap_every = config.reap_interval();
    let mut next_reap = Instant::now() + reap_every;
    loop {
        tokio::time::sleep(tick).await;
        let Some(inner) = pool.upgrade() else { return };
        let pool = DbPool { inner };
        if Instant::now() >= next_reap {
            pool.reap().await;
            next_reap = Instant::now() + reap_every;
        }
        pool.warm(0).await;
    }
}
