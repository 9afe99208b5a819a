//! The error every waiter of a failed load receives.

use std::sync::Arc;

/// Why [`WeakCache::get_or_load`](crate::WeakCache::get_or_load) returned no value.
///
/// Every caller that waited for one load gets the same outcome: on a loader error they all hold
/// the same `Arc<E>`. Errors are never cached: the next call for the key runs the loader again.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError<E> {
    /// The loader's future returned `Err`. The error is shared by every caller that waited for
    /// this load.
    #[error("the loader failed: {0}")]
    Failed(#[source] Arc<E>),
    /// The loader (the closure or the future it returned) panicked. The panic was caught in the
    /// load's task; every waiter gets this variant and the next call loads again.
    #[error("the loader panicked")]
    Panicked,
    /// The load's task was dropped before it finished: the runtime it was spawned on shut down
    /// while a caller (polled elsewhere) still waited.
    #[error("the load was cancelled: its runtime shut down")]
    Cancelled,
    /// The call was made by the load of the same key (its loader asked for its own key,
    /// directly or through loads it started), so it would have waited for itself forever.
    #[error("the loader asked for its own key: the load would wait for itself")]
    Cycle,
}

// Derived `Clone` would require `E: Clone`; the error itself is shared, never copied.
impl<E> Clone for LoadError<E> {
    fn clone(&self) -> Self {
        match self {
            Self::Failed(e) => Self::Failed(Arc::clone(e)),
            Self::Panicked => Self::Panicked,
            Self::Cancelled => Self::Cancelled,
            Self::Cycle => Self::Cycle,
        }
    }
}

impl<E> LoadError<E> {
    /// The loader's error, when the load failed with one.
    #[must_use]
    pub fn failure(&self) -> Option<&Arc<E>> {
        match self {
            Self::Failed(e) => Some(e),
            Self::Panicked | Self::Cancelled | Self::Cycle => None,
        }
    }
}
