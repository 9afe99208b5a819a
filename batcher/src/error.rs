//! What a load can fail with.

use std::sync::Arc;

/// Why a [`load`](crate::Batcher::load) did not produce a value.
///
/// `E` is the batch function's error type. It is shared through an [`Arc`], so `E` need not be
/// `Clone` and every caller of a failed batch sees the same error value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError<E> {
    /// The batch function returned `Err` for the whole batch; every key of that batch gets
    /// the same error.
    #[error("the batch function failed: {0}")]
    Failed(Arc<E>),
    /// The per-key batch function ([`build_per_key`](crate::Builder::build_per_key)) returned
    /// `Err` for this key; its neighbours in the batch are unaffected.
    #[error("the batch function failed for this key: {0}")]
    KeyFailed(Arc<E>),
    /// The batch function returned without an entry for this key.
    #[error("the batch function returned no value for this key")]
    NotFound,
    /// The batch function panicked (when called or while polled). The batcher keeps working:
    /// later loads start a new batch.
    #[error("the batch function panicked")]
    Panicked,
    /// The batch function did not finish within the
    /// [`batch_timeout`](crate::Builder::batch_timeout); its future was dropped.
    #[error("the batch function did not finish within the batch timeout")]
    TimedOut,
    /// [`max_queued_keys`](crate::Builder::max_queued_keys) distinct keys were already waiting
    /// for dispatch, so this new key was refused without being queued. Loads of a key that is
    /// already waiting or in flight are never refused.
    #[error("too many keys are waiting for dispatch")]
    Overloaded,
    /// The load started a new batch outside a tokio runtime, so no task could run the batch.
    #[error("load called outside a tokio runtime")]
    NoRuntime,
    /// The task running this key's batch ended before answering: its runtime shut down, or
    /// (a misconfiguration) it needed a timer on a runtime without the time driver.
    #[error("the batch's task ended before answering (runtime shut down, or no timers)")]
    Cancelled,
}

// Not derived: the derive would require `E: Clone`, and the error is shared through `Arc`.
impl<E> Clone for BatchError<E> {
    fn clone(&self) -> Self {
        match self {
            Self::Failed(e) => Self::Failed(Arc::clone(e)),
            Self::KeyFailed(e) => Self::KeyFailed(Arc::clone(e)),
            Self::NotFound => Self::NotFound,
            Self::Panicked => Self::Panicked,
            Self::TimedOut => Self::TimedOut,
            Self::Overloaded => Self::Overloaded,
            Self::NoRuntime => Self::NoRuntime,
            Self::Cancelled => Self::Cancelled,
        }
    }
}

impl<E> BatchError<E> {
    /// The batch function's own error, for [`Failed`](Self::Failed) and
    /// [`KeyFailed`](Self::KeyFailed).
    #[must_use]
    pub fn source_error(&self) -> Option<&Arc<E>> {
        match self {
            Self::Failed(e) | Self::KeyFailed(e) => Some(e),
            _ => None,
        }
    }

    /// True for [`NotFound`](Self::NotFound).
    #[must_use]
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound)
    }
}
