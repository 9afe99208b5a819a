//! The typed errors of every operation in this crate.

use std::any::Any;
use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Why [`Limiter::acquire`](crate::Limiter::acquire) (or `run`, or a timed variant) gave no permit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AcquireError {
    /// [`Limiter::close`](crate::Limiter::close) was called, before or while this call waited.
    #[error("the limiter is closed")]
    Closed,
    /// The request can never be granted at the current limit: it asks for more permits than
    /// the limit (a limit of 0 refuses everything). Returned at once, or to a queued waiter when
    /// [`Limiter::set_limit`](crate::Limiter::set_limit) shrinks the limit below its request,
    /// so that no call waits for a permit that cannot come.
    #[error("{requested} permits requested, but the limit is {limit}")]
    ExceedsLimit {
        /// The weight asked for.
        requested: usize,
        /// The limit when the request was refused.
        limit: usize,
    },
    /// The time budget of `acquire_timeout` ran out while waiting for a permit, or that of
    /// `run_with_timeout` ran out while waiting or while the future ran (the future was dropped).
    #[error("timed out")]
    Elapsed,
}

/// Why [`Limiter::try_acquire`](crate::Limiter::try_acquire) gave no permit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TryAcquireError {
    /// Not enough permits are free now, or earlier callers are queued (permits are FIFO, so a
    /// `try_acquire` never overtakes a waiter).
    #[error("no permits available")]
    NoPermits,
    /// [`Limiter::close`](crate::Limiter::close) was called.
    #[error("the limiter is closed")]
    Closed,
    /// The request asks for more permits than the limit; see [`AcquireError::ExceedsLimit`].
    #[error("{requested} permits requested, but the limit is {limit}")]
    ExceedsLimit {
        /// The weight asked for.
        requested: usize,
        /// The current limit.
        limit: usize,
    },
}

/// A map's configuration that cannot run; returned by the builder's terminal methods
/// ([`MapBuilder::unordered`](crate::MapBuilder::unordered),
/// [`MapBuilder::ordered`](crate::MapBuilder::ordered)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Concurrency 0 was asked for: nothing could ever run, so this is refused rather than
    /// hanging. (A shared [`Limiter`](crate::Limiter) whose limit is 0 fails each item with
    /// [`ItemError::Limiter`] instead.)
    #[error("concurrency must be at least 1")]
    ZeroConcurrency,
    /// A reorder window of 0 was asked for: no output could ever be buffered, so nothing could
    /// be emitted.
    #[error("the reorder window must be at least 1")]
    ZeroReorderWindow,
    /// Spawn mode was asked for outside a tokio runtime, so there is nowhere to spawn items.
    #[error("spawn mode needs a tokio runtime: build the map inside one")]
    NoRuntime,
}

/// Which time budget an item exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeoutPhase {
    /// Waiting for a permit of the shared [`Limiter`](crate::Limiter)
    /// ([`MapBuilder::acquire_timeout`](crate::MapBuilder::acquire_timeout)).
    Acquire,
    /// Running the item ([`MapBuilder::item_timeout`](crate::MapBuilder::item_timeout)).
    Run,
    /// The whole map's deadline ([`MapBuilder::deadline`](crate::MapBuilder::deadline)).
    Deadline,
}

impl fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Acquire => "waiting for a permit",
            Self::Run => "running",
            Self::Deadline => "before the map's deadline",
        })
    }
}

/// Why one item of a [`MapBuilder`](crate::MapBuilder) map produced no value.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum ItemError<E> {
    /// The item's function returned `Err(e)`.
    #[error("item failed: {0}")]
    Failed(E),
    /// The item ran out of one of its time budgets; its future was dropped.
    #[error("item timed out {0}")]
    Timeout(TimeoutPhase),
    /// Spawn mode: the item's task panicked. (Intra-task items that panic unwind through the
    /// stream's `poll_next`, like any future.)
    #[error("item panicked")]
    Panicked(PanicPayload),
    /// Spawn mode: the item's task was cancelled from outside the map (the runtime shut down).
    #[error("item cancelled")]
    Cancelled,
    /// The shared [`Limiter`](crate::Limiter) refused the item's permit (closed, or its limit
    /// was set to 0).
    #[error("no permit: {0}")]
    Limiter(AcquireError),
}

impl<E: fmt::Debug> fmt::Debug for ItemError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Failed(e) => f.debug_tuple("Failed").field(e).finish(),
            Self::Timeout(phase) => f.debug_tuple("Timeout").field(phase).finish(),
            Self::Panicked(p) => f.debug_tuple("Panicked").field(p).finish(),
            Self::Cancelled => f.write_str("Cancelled"),
            Self::Limiter(e) => f.debug_tuple("Limiter").field(e).finish(),
        }
    }
}

impl<E> ItemError<E> {
    /// The function's own error, if that is why the item failed.
    pub fn into_failed(self) -> Option<E> {
        match self {
            Self::Failed(e) => Some(e),
            _ => None,
        }
    }

    /// True if the item ran out of a time budget.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout(_))
    }
}

/// What a spawned item panicked with.
///
/// Kept behind a mutex so that [`ItemError`] is `Sync` (and converts into error types that
/// require it) although a panic payload is only `Send`.
pub struct PanicPayload(Mutex<Box<dyn Any + Send + 'static>>);

impl PanicPayload {
    pub(crate) fn new(payload: Box<dyn Any + Send + 'static>) -> Self {
        Self(Mutex::new(payload))
    }

    /// The payload, to re-raise with [`std::panic::resume_unwind`].
    pub fn into_inner(self) -> Box<dyn Any + Send + 'static> {
        self.0.into_inner().unwrap_or_else(PoisonError::into_inner)
    }

    /// The panic message, when the payload is a string (as with `panic!("...")`).
    pub fn message(&self) -> Option<String> {
        let payload = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
    }
}

impl fmt::Debug for PanicPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.message() {
            Some(message) => f.debug_tuple("PanicPayload").field(&message).finish(),
            None => f.write_str("PanicPayload(..)"),
        }
    }
}

/// A [`RateLimiter`](crate::RateLimiter) configuration or request that can never be granted.
///
/// [`RateLimiter::per_second`](crate::RateLimiter::per_second) and
/// [`burst`](crate::RateLimiter::burst) return the limiter itself so that building one reads
/// as one line; a zero rate or burst is therefore reported here, by every `acquire` and
/// `try_acquire`, at once and never as a wait that cannot end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RateError {
    /// The limiter was built with a rate of 0 per period: no request could ever be granted.
    #[error("the rate is 0: nothing can ever be granted")]
    ZeroRate,
    /// The limiter was built with a burst of 0: no request could ever be granted.
    #[error("the burst is 0: nothing can ever be granted")]
    ZeroBurst,
    /// More tokens were asked for at once than the burst allows, so the request could never
    /// conform.
    #[error("{requested} tokens requested at once, but the burst is {burst}")]
    ExceedsBurst {
        /// Tokens asked for.
        requested: u32,
        /// The limiter's burst.
        burst: u32,
    },
}

/// Why [`RateLimiter::try_acquire`](crate::RateLimiter::try_acquire) granted nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TryRateError {
    /// Not allowed now. Retrying after this long would succeed if nobody else takes tokens in
    /// between (queued `acquire` waiters are counted: they are served first).
    #[error("rate limited: retry after {0:?}")]
    RetryAfter(Duration),
    /// The request can never be granted; see [`RateError`].
    #[error(transparent)]
    Invalid(#[from] RateError),
}

impl TryRateError {
    /// How long to wait before retrying, or `None` if retrying cannot help.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RetryAfter(d) => Some(*d),
            Self::Invalid(_) => None,
        }
    }
}
