//! `Limiter`: a fair (FIFO), resizable, closable semaphore with weighted, owned permits.

mod acquire;
mod state;

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

pub use acquire::Acquire;
use state::{State, WakeBatch};

use crate::error::{AcquireError, TryAcquireError};

/// A fair async semaphore: at most `limit` permits are held at once, and waiters are served
/// strictly in arrival order.
///
/// `Limiter` is a cheap handle (`Clone` shares the same permits), and its [`Permit`]s own a
/// handle too, so they can be moved into spawned tasks. Beyond a plain semaphore it has:
///
/// - **weighted** permits ([`acquire_weighted`](Self::acquire_weighted), `usize` weights, for
///   byte or cost budgets);
/// - **resizing** with [`set_limit`](Self::set_limit), including shrinking below the number of
///   permits held: nothing is revoked, the difference is a *debt* that later releases pay
///   before any waiter is served;
/// - [`close`](Self::close), after which every waiter and every new call gets
///   [`AcquireError::Closed`];
/// - timed variants ([`acquire_timeout`](Self::acquire_timeout),
///   [`run_with_timeout`](Self::run_with_timeout)) and a [`snapshot`](Self::snapshot) of the
///   counts for metrics.
///
/// A request that cannot be granted at the current limit (`weight > limit`, including any
/// request when the limit is 0) fails at once with [`AcquireError::ExceedsLimit`] instead of
/// waiting forever.
///
/// # Fairness
///
/// Strict FIFO: a request never overtakes an earlier one, not even a `try_acquire` or a small
/// request behind a large one. A heavy request at the front therefore holds back lighter ones
/// until enough permits are free for it (this is what keeps it from starving).
///
/// # Example
///
/// ```
/// use asyncperf_limiter::Limiter;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), asyncperf_limiter::AcquireError> {
/// let limiter = Limiter::new(64);
/// let body = limiter.run(async { "at most 64 of these at once" }).await?;
///
/// let permit = limiter.acquire().await?; // owned: can move into `tokio::spawn`
/// assert_eq!(limiter.snapshot().in_flight, 1);
/// drop(permit);
///
/// limiter.set_limit(32); // never revokes held permits
/// # let _ = body;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Limiter {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
}

/// Permits held from a [`Limiter`]; dropping it returns them.
///
/// Owns a handle to its limiter (no lifetime), so it can be moved into a spawned task or
/// stored in a struct.
#[must_use = "the permits are returned as soon as the `Permit` is dropped"]
pub struct Permit {
    inner: Arc<Inner>,
    weight: usize,
}

/// The counts of a [`Limiter`] at one moment (for metrics and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Snapshot {
    /// The current limit.
    pub limit: usize,
    /// Permits held (the sum of the weights of live [`Permit`]s, plus grants not yet picked up
    /// by their waiter).
    pub in_flight: usize,
    /// Permits free to be taken now.
    pub available: usize,
    /// Requests queued.
    pub waiting: usize,
    /// Permits still to be paid back after a shrink: `in_flight - limit` when positive.
    pub debt: usize,
    /// Whether [`Limiter::close`] was called.
    pub closed: bool,
}

impl Limiter {
    /// A limiter with `limit` permits.
    ///
    /// A limit of 0 is allowed (for example to start paused and [`set_limit`](Self::set_limit)
    /// later), but every request made while it is 0 fails with
    /// [`AcquireError::ExceedsLimit`] rather than waiting.
    pub fn new(limit: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State::new(limit)),
            }),
        }
    }

    /// Waits for one permit.
    ///
    /// # Errors
    ///
    /// [`AcquireError::Closed`] if the limiter is or gets closed;
    /// [`AcquireError::ExceedsLimit`] if the limit is or gets set to 0.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe. Dropping the future gives up its place in the queue; a permit that had
    /// already been granted to it is returned to the limiter (and passed to the next waiter),
    /// so nothing is lost.
    pub fn acquire(&self) -> Acquire {
        self.acquire_weighted(1)
    }

    /// Waits for `weight` permits at once, held and returned together.
    ///
    /// A weight of 0 is granted at once. A weight above the limit fails at once, see
    /// [`AcquireError::ExceedsLimit`]. While waiting, this request holds back every later
    /// request (FIFO), so a heavy request is never starved by light ones.
    ///
    /// # Errors
    ///
    /// [`AcquireError::Closed`] if the limiter is or gets closed;
    /// [`AcquireError::ExceedsLimit`] if `weight` is or gets above the limit.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`acquire`](Self::acquire).
    pub fn acquire_weighted(&self, weight: usize) -> Acquire {
        Acquire::new(Arc::clone(&self.inner), weight)
    }

    /// Waits at most `timeout` for one permit (tokio time).
    ///
    /// # Errors
    ///
    /// [`AcquireError::Elapsed`] when the time runs out, and the errors of
    /// [`acquire`](Self::acquire).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`acquire`](Self::acquire); a permit granted at the moment the timeout
    /// fires is returned, not leaked.
    pub fn acquire_timeout(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Result<Permit, AcquireError>> + Send + 'static + use<> {
        let acquire = self.acquire();
        async move {
            tokio::time::timeout(timeout, acquire)
                .await
                .unwrap_or(Err(AcquireError::Elapsed))
        }
    }

    /// Takes one permit if one is free now and nobody is queued.
    ///
    /// # Errors
    ///
    /// [`TryAcquireError::NoPermits`], [`TryAcquireError::Closed`], or
    /// [`TryAcquireError::ExceedsLimit`] when the limit is 0.
    pub fn try_acquire(&self) -> Result<Permit, TryAcquireError> {
        self.try_acquire_weighted(1)
    }

    /// Takes `weight` permits if they are free now and nobody is queued.
    ///
    /// # Errors
    ///
    /// As [`try_acquire`](Self::try_acquire), with `ExceedsLimit` when `weight` is above the
    /// limit.
    pub fn try_acquire_weighted(&self, weight: usize) -> Result<Permit, TryAcquireError> {
        let mut state = self.inner.lock();
        if state.closed {
            return Err(TryAcquireError::Closed);
        }
        if weight > state.limit {
            return Err(TryAcquireError::ExceedsLimit {
                requested: weight,
                limit: state.limit,
            });
        }
        if weight == 0 || state.try_take(weight) {
            drop(state);
            Ok(Permit::new(Arc::clone(&self.inner), weight))
        } else {
            Err(TryAcquireError::NoPermits)
        }
    }

    /// Runs `fut` while holding one permit: waits for the permit, then awaits `fut`, then
    /// returns the permit.
    ///
    /// `fut` is not polled before the permit is granted.
    ///
    /// # Errors
    ///
    /// The errors of [`acquire`](Self::acquire); `fut` is dropped unpolled.
    ///
    /// # Cancel safety
    ///
    /// Dropping the returned future while it waits gives up the place in the queue; while
    /// `fut` runs, it drops `fut` (whatever that loses) and returns the permit.
    pub fn run<F: Future>(
        &self,
        fut: F,
    ) -> impl Future<Output = Result<F::Output, AcquireError>> + use<F> {
        let acquire = self.acquire();
        async move {
            let _permit = acquire.await?;
            Ok(fut.await)
        }
    }

    /// [`run`](Self::run) with one time budget for waiting and running together (tokio time).
    ///
    /// # Errors
    ///
    /// [`AcquireError::Elapsed`] when `timeout` runs out (whether waiting or running; `fut` is
    /// then dropped and the permit returned), and the errors of [`acquire`](Self::acquire).
    ///
    /// # Cancel safety
    ///
    /// As [`run`](Self::run).
    pub fn run_with_timeout<F: Future>(
        &self,
        timeout: Duration,
        fut: F,
    ) -> impl Future<Output = Result<F::Output, AcquireError>> + use<F> {
        let run = self.run(fut);
        async move {
            tokio::time::timeout(timeout, run)
                .await
                .unwrap_or(Err(AcquireError::Elapsed))
        }
    }

    /// Changes the limit. Growing frees permits (serving waiters in order). Shrinking takes
    /// free permits first; if more are held than the new limit, nothing is revoked: the excess
    /// is recorded as debt, and releases pay it before any waiter is served, so in-flight work
    /// falls to the new limit as holders finish.
    ///
    /// Queued requests heavier than the new limit fail with [`AcquireError::ExceedsLimit`]
    /// (with a limit of 0, all of them), so nothing waits for a grant that cannot come.
    pub fn set_limit(&self, limit: usize) {
        let mut first = true;
        self.update(|state, batch| {
            if first {
                state.resize(limit);
                first = false;
            }
            let too_heavy = |w: &state::Waiter| {
                (w.weight > limit).then_some(AcquireError::ExceedsLimit {
                    requested: w.weight,
                    limit,
                })
            };
            state.fail_where(too_heavy, batch) && state.serve(batch)
        });
    }

    /// Closes the limiter: every queued request and every later one fails with
    /// [`AcquireError::Closed`]. Permits already held stay valid and are returned as usual.
    /// Idempotent.
    pub fn close(&self) {
        self.update(|state, batch| {
            state.closed = true;
            state.fail_where(|_| Some(AcquireError::Closed), batch)
        });
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.inner.lock().closed
    }

    /// The current limit.
    pub fn limit(&self) -> usize {
        self.inner.lock().limit
    }

    /// The counts at this moment.
    pub fn snapshot(&self) -> Snapshot {
        let state = self.inner.lock();
        Snapshot {
            limit: state.limit,
            in_flight: state.in_flight,
            available: state.available,
            waiting: state.waiters.len(),
            debt: state.debt,
            closed: state.closed,
        }
    }

    /// Whether requests are queued (what a returned permit would let in).
    #[cfg(feature = "redis")]
    pub(crate) fn has_waiters(&self) -> bool {
        !self.inner.lock().waiters.is_empty()
    }

    /// True if both handles share the same permits.
    pub fn same_limiter(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Runs `step` under the lock and wakes what it collected after unlocking, until `step`
    /// reports it is done (it stops early when the wake batch is full).
    fn update(&self, mut step: impl FnMut(&mut State, &mut WakeBatch) -> bool) {
        self.inner.update(&mut step);
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // No user code runs under this lock, so a poisoned lock only means a panic inside our
        // own bookkeeping, after which the counts are still the last consistent ones.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn update(&self, step: &mut dyn FnMut(&mut State, &mut WakeBatch) -> bool) {
        let mut batch = WakeBatch::new();
        loop {
            let done = step(&mut self.lock(), &mut batch);
            batch.wake_all();
            if done {
                return;
            }
        }
    }

    fn release(&self, weight: usize) {
        let mut first = true;
        self.update(&mut |state, batch| {
            if first {
                state.give_back(weight);
                first = false;
            }
            state.serve(batch)
        });
    }
}

impl Permit {
    fn new(inner: Arc<Inner>, weight: usize) -> Self {
        Self { inner, weight }
    }

    /// How many permits this holds.
    pub fn weight(&self) -> usize {
        self.weight
    }

    /// A handle to the limiter these permits belong to.
    pub fn limiter(&self) -> Limiter {
        Limiter {
            inner: Arc::clone(&self.inner),
        }
    }

    /// Splits `weight` permits off into a new `Permit`, or returns `None` if this holds fewer.
    /// Each part is returned when it is dropped.
    pub fn split(&mut self, weight: usize) -> Option<Permit> {
        self.weight = self.weight.checked_sub(weight)?;
        Some(Self::new(Arc::clone(&self.inner), weight))
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if self.weight > 0 {
            self.inner.release(self.weight);
        }
    }
}

impl fmt::Debug for Limiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Limiter").field(&self.snapshot()).finish()
    }
}

impl fmt::Debug for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("weight", &self.weight)
            .finish_non_exhaustive()
    }
}
