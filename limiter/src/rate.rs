//! `RateLimiter`: GCRA pacing on tokio time, with FIFO waiters.
//!
//! GCRA keeps one number, the theoretical arrival time (TAT): the instant at which the bucket
//! would be empty again if nothing more were taken. Taking `n` tokens at `now` moves it to
//! `max(tat, now) + n * interval`, allowed when that is at most `now + burst * interval`. So a
//! full burst is available at once (the bucket starts full), then one token per interval.
//!
//! The TAT is one atomic, so an uncontended `try_acquire` or `acquire` is a clock read and a
//! compare-and-swap, with no lock. Waiters queue in arrival order. Only the waiter at the front sleeps (until its tokens
//! conform); it takes them and wakes the next one. So there is no thundering herd, a large
//! request is never starved by small ones, and a `try_acquire` never overtakes a waiter.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

use crate::error::{RateError, TryRateError};
use crate::wait_list::{Key, WaitList};

/// A GCRA rate limiter on tokio time (so `tokio::time::pause` drives it in tests), shared by
/// its clones.
///
/// ```
/// use asyncperf_limiter::RateLimiter;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), asyncperf_limiter::RateError> {
/// let rate = RateLimiter::per_second(100).burst(10);
/// let start = tokio::time::Instant::now();
/// for _ in 0..30 {
///     rate.acquire().await?;
/// }
/// // 10 at once (the burst), then one every 10 ms.
/// assert_eq!(start.elapsed().as_millis(), 200);
/// # Ok(())
/// # }
/// ```
///
/// # Zero rate or burst
///
/// The constructors return the limiter itself, so a rate or burst of 0 (which could never
/// grant anything) is reported by every `acquire` and `try_acquire` as
/// [`RateError::ZeroRate`] or [`RateError::ZeroBurst`], at once, instead of a wait that never
/// ends. Check a configured value up front with [`RateLimiter::check`].
#[derive(Clone)]
pub struct RateLimiter {
    inner: Arc<RateInner>,
}

struct RateInner {
    quota: Quota,
    /// Set on first use, so that building a limiter needs no runtime.
    origin: OnceLock<Instant>,
    /// Theoretical arrival time, in nanoseconds since `origin`.
    tat: AtomicU64,
    /// Tokens requested by queued waiters. While it is not 0, nobody takes tokens without
    /// queueing (the fast path checks it), so waiters are served in order.
    queued_tokens: AtomicU64,
    waiters: Mutex<WaitList<RateWaiter>>,
}

#[derive(Debug, Clone, Copy)]
struct Quota {
    count: u32,
    period: Duration,
    burst: u32,
    /// Nanoseconds per token, rounded up (so the rate is never exceeded).
    interval: u64,
}

/// Validates a quota of `count` tokens per `period` with `burst`, and a request for `tokens`
/// (shared with the Redis-backed limiter, so both reject the same input the same way).
pub(crate) fn check_quota(
    count: u32,
    period: Duration,
    burst: u32,
    tokens: u32,
) -> Result<(), RateError> {
    if count == 0 || period.is_zero() {
        return Err(RateError::ZeroRate);
    }
    if burst == 0 {
        return Err(RateError::ZeroBurst);
    }
    if tokens > burst {
        return Err(RateError::ExceedsBurst {
            requested: tokens,
            burst,
        });
    }
    Ok(())
}

struct RateWaiter {
    tokens: u32,
    waker: Option<Waker>,
}

impl Quota {
    fn new(count: u32, period: Duration, burst: u32) -> Self {
        let period_ns = u64::try_from(period.as_nanos()).unwrap_or(u64::MAX);
        let interval = if count == 0 {
            u64::MAX
        } else {
            period_ns.div_ceil(u64::from(count)).max(1)
        };
        Self {
            count,
            period,
            burst,
            interval,
        }
    }

    fn check(&self, tokens: u32) -> Result<(), RateError> {
        check_quota(self.count, self.period, self.burst, tokens)
    }

    fn cost(&self, tokens: u64) -> u64 {
        self.interval.saturating_mul(tokens)
    }
}

impl RateInner {
    fn lock(&self) -> MutexGuard<'_, WaitList<RateWaiter>> {
        // No foreign code runs under this lock.
        self.waiters.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn now(&self) -> u64 {
        let now = Instant::now();
        let origin = *self.origin.get_or_init(|| now);
        u64::try_from(now.saturating_duration_since(origin).as_nanos()).unwrap_or(u64::MAX)
    }

    /// Takes `tokens` if they conform now; otherwise returns how long until they would, with
    /// `ahead` tokens of queued waiters served first (then nothing is taken).
    fn take_or_wait(&self, tokens: u32, ahead: u64) -> Result<(), u64> {
        let quota = &self.quota;
        let now = self.now();
        let allowed_until = now.saturating_add(quota.cost(u64::from(quota.burst)));
        let mut tat = self.tat.load(Ordering::Acquire);
        loop {
            let new_tat = tat
                .max(now)
                .saturating_add(quota.cost(ahead + u64::from(tokens)));
            if new_tat > allowed_until {
                return Err(new_tat - allowed_until);
            }
            if ahead > 0 {
                return Ok(());
            }
            match self
                .tat
                .compare_exchange_weak(tat, new_tat, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Ok(()),
                Err(current) => tat = current,
            }
        }
    }

    /// The fast path: take `tokens` at once if nobody is queued and they conform.
    fn try_take_unqueued(&self, tokens: u32) -> Result<(), u64> {
        let ahead = self.queued_tokens.load(Ordering::Acquire);
        if ahead == 0 {
            self.take_or_wait(tokens, 0)
        } else {
            // Only an estimate is wanted now: the queue is served first.
            self.take_or_wait(tokens, ahead).and(Err(0))
        }
    }
}

impl RateLimiter {
    /// `count` tokens per second, with a burst of `count` (a full second's worth is available
    /// at once). Change the burst with [`burst`](Self::burst).
    pub fn per_second(count: u32) -> Self {
        Self::new(count, Duration::from_secs(1))
    }

    /// `count` tokens per minute, with a burst of `count`.
    pub fn per_minute(count: u32) -> Self {
        Self::new(count, Duration::from_secs(60))
    }

    /// `count` tokens per `period`, with a burst of `count`.
    pub fn new(count: u32, period: Duration) -> Self {
        Self::from_quota(Quota::new(count, period, count))
    }

    /// The same rate with at most `burst` tokens at once (and a bucket that starts with
    /// `burst` tokens). Returns a new limiter: configure before cloning.
    pub fn burst(self, burst: u32) -> Self {
        let quota = self.inner.quota;
        Self::from_quota(Quota::new(quota.count, quota.period, burst))
    }

    fn from_quota(quota: Quota) -> Self {
        Self {
            inner: Arc::new(RateInner {
                quota,
                origin: OnceLock::new(),
                tat: AtomicU64::new(0),
                queued_tokens: AtomicU64::new(0),
                waiters: Mutex::new(WaitList::new()),
            }),
        }
    }

    /// Whether this limiter can grant anything.
    ///
    /// # Errors
    ///
    /// [`RateError::ZeroRate`] or [`RateError::ZeroBurst`].
    pub fn check(&self) -> Result<(), RateError> {
        self.inner.quota.check(0)
    }

    /// Waits for one token.
    ///
    /// # Errors
    ///
    /// [`RateError::ZeroRate`] or [`RateError::ZeroBurst`], at once.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future leaves the queue without taking anything (tokens are
    /// only taken at the moment the future completes).
    pub fn acquire(&self) -> RateAcquire {
        self.acquire_n(1)
    }

    /// Waits for `tokens` tokens at once (served in FIFO order with every other request).
    ///
    /// # Errors
    ///
    /// As [`acquire`](Self::acquire), and [`RateError::ExceedsBurst`] when `tokens` is above
    /// the burst (such a request could never conform).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Self::acquire).
    pub fn acquire_n(&self, tokens: u32) -> RateAcquire {
        RateAcquire {
            inner: Arc::clone(&self.inner),
            tokens,
            key: None,
            timer: None,
            done: false,
        }
    }

    /// Takes one token if allowed now.
    ///
    /// # Errors
    ///
    /// [`TryRateError::RetryAfter`] with the wait after which it would be allowed (counting
    /// queued waiters, which are served first), or [`TryRateError::Invalid`].
    pub fn try_acquire(&self) -> Result<(), TryRateError> {
        self.try_acquire_n(1)
    }

    /// Takes `tokens` tokens if allowed now.
    ///
    /// # Errors
    ///
    /// As [`try_acquire`](Self::try_acquire), with [`RateError::ExceedsBurst`] when `tokens`
    /// is above the burst.
    pub fn try_acquire_n(&self, tokens: u32) -> Result<(), TryRateError> {
        self.inner.quota.check(tokens)?;
        if tokens == 0 {
            return Ok(());
        }
        self.inner
            .try_take_unqueued(tokens)
            .map_err(|wait| TryRateError::RetryAfter(Duration::from_nanos(wait)))
    }

    /// Requests queued in [`acquire`](Self::acquire).
    pub fn waiting(&self) -> usize {
        self.inner.lock().len()
    }
}

/// Future of [`RateLimiter::acquire`] and [`RateLimiter::acquire_n`].
///
/// # Cancel safety
///
/// Dropping it leaves the queue; it takes tokens only when it completes.
#[must_use = "futures do nothing unless polled"]
pub struct RateAcquire {
    inner: Arc<RateInner>,
    tokens: u32,
    key: Option<Key>,
    timer: Option<Pin<Box<Sleep>>>,
    done: bool,
}

impl Future for RateAcquire {
    type Output = Result<(), RateError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        assert!(!this.done, "`RateAcquire` polled after completion");
        let inner = &*this.inner;
        if this.key.is_none() {
            if let Err(error) = inner.quota.check(this.tokens) {
                this.done = true;
                return Poll::Ready(Err(error));
            }
            if this.tokens == 0 || inner.try_take_unqueued(this.tokens).is_ok() {
                this.done = true;
                return Poll::Ready(Ok(()));
            }
        }
        loop {
            let mut waiters = inner.lock();
            let key = *this.key.get_or_insert_with(|| {
                inner
                    .queued_tokens
                    .fetch_add(u64::from(this.tokens), Ordering::AcqRel);
                waiters.push_back(RateWaiter {
                    tokens: this.tokens,
                    waker: None,
                })
            });
            if waiters.front() != Some(key) {
                let waker = &mut waiters.get_mut(key).waker;
                if !waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    *waker = Some(cx.waker().clone());
                }
                return Poll::Pending;
            }
            match inner.take_or_wait(this.tokens, 0) {
                Ok(()) => {
                    waiters.remove(key);
                    inner
                        .queued_tokens
                        .fetch_sub(u64::from(this.tokens), Ordering::AcqRel);
                    let next = wake_front(&mut waiters);
                    drop(waiters);
                    this.key = None;
                    this.done = true;
                    if let Some(next) = next {
                        next.wake();
                    }
                    return Poll::Ready(Ok(()));
                }
                Err(wait) => {
                    drop(waiters);
                    let at = Instant::now() + Duration::from_nanos(wait);
                    let timer = match this.timer.as_mut() {
                        Some(timer) => {
                            timer.as_mut().reset(at);
                            timer
                        }
                        None => this.timer.insert(Box::pin(tokio::time::sleep_until(at))),
                    };
                    if timer.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    // The wait was already over (rounding): check again.
                }
            }
        }
    }
}

/// The waker of the new front waiter, which must now start its own wait.
fn wake_front(waiters: &mut WaitList<RateWaiter>) -> Option<Waker> {
    let front = waiters.front()?;
    waiters.get_mut(front).waker.take()
}

impl Drop for RateAcquire {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else {
            return;
        };
        let mut waiters = self.inner.lock();
        let was_front = waiters.front() == Some(key);
        let waiter = waiters.remove(key);
        self.inner
            .queued_tokens
            .fetch_sub(u64::from(waiter.tokens), Ordering::AcqRel);
        let next = if was_front {
            wake_front(&mut waiters)
        } else {
            None
        };
        drop(waiters);
        if let Some(next) = next {
            next.wake();
        }
    }
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quota = &self.inner.quota;
        f.debug_struct("RateLimiter")
            .field("count", &quota.count)
            .field("period", &quota.period)
            .field("burst", &quota.burst)
            .field("waiting", &self.waiting())
            .finish()
    }
}

impl fmt::Debug for RateAcquire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateAcquire")
            .field("tokens", &self.tokens)
            .field("queued", &self.key.is_some())
            .finish_non_exhaustive()
    }
}
