//! Graceful shutdown: the signal tasks watch, and what was left when the grace period ended.

use std::fmt;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

/// Fires when [`RuntimeSelect::shutdown_timeout`](crate::RuntimeSelect::shutdown_timeout) (or
/// [`ThreadPerCore::shutdown_timeout`](crate::ThreadPerCore::shutdown_timeout)) starts: accept
/// loops should stop accepting and connections finish what they are doing. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct ShutdownSignal {
    token: CancellationToken,
}

impl ShutdownSignal {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn fire(&self) {
        self.token.cancel();
    }

    /// True once shutdown has started.
    #[must_use]
    pub fn is_requested(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Completes once shutdown has started (at once if it already has).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future loses nothing, a new call sees the same state.
    pub async fn requested(&self) {
        self.token.cancelled().await;
    }
}

/// When a grace period that starts now ends. A grace too long to represent (`Duration::MAX`,
/// "wait as long as it takes") ends in about 30 years, as with `tokio::time::timeout`, instead
/// of overflowing `Instant`.
pub(crate) fn deadline_after(grace: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(grace)
        .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365 * 30))
}

/// What a graceful shutdown left behind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Tracked tasks (spawned through this crate) still running when the grace period ended;
    /// they were dropped at their next `.await`.
    pub unfinished_tasks: usize,
    /// Shard threads that panicked instead of exiting (thread-per-core only).
    pub panicked_threads: usize,
}

impl ShutdownReport {
    /// True when every tracked task finished within the grace period and no thread panicked.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.unfinished_tasks == 0 && self.panicked_threads == 0
    }
}

impl fmt::Display for ShutdownReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} unfinished task(s), {} panicked thread(s)",
            self.unfinished_tasks, self.panicked_threads
        )
    }
}
