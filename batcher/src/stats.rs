//! Counters a batcher keeps about its own work.

/// A snapshot of a batcher's counters, from [`Batcher::stats`](crate::Batcher::stats).
///
/// Counters start at zero when the batcher is built and only grow, except the two gauges
/// [`in_flight`](Self::in_flight) and [`queued_keys`](Self::queued_keys).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Calls of the batch function.
    pub batches: u64,
    /// Keys sent to the batch function, over all calls.
    pub keys_loaded: u64,
    /// Loads that joined a key already waiting or being fetched instead of sending it again.
    pub keys_coalesced: u64,
    /// Keys dropped before dispatch because every caller of the key had gone.
    pub keys_pruned: u64,
    /// Loads refused with [`BatchError::Overloaded`](crate::BatchError::Overloaded).
    pub loads_rejected: u64,
    /// Batches whose function returned `Err` for the whole batch.
    pub batches_failed: u64,
    /// Batches whose function panicked.
    pub batches_panicked: u64,
    /// Batches whose function outlived the batch timeout.
    pub batches_timed_out: u64,
    /// Batches whose function is running now.
    pub in_flight: u64,
    /// Distinct keys waiting for dispatch now.
    pub queued_keys: u64,
}

impl Stats {
    /// Keys per batch function call, or 0 before the first call.
    #[must_use]
    #[allow(clippy::cast_precision_loss)] // exact up to 2^53 keys; a mean needs no more
    pub fn mean_batch_size(&self) -> f64 {
        if self.batches == 0 {
            0.0
        } else {
            self.keys_loaded as f64 / self.batches as f64
        }
    }
}
