//! The scope guard: records the time from its creation to its drop.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::clock;
use crate::profiler::{Key, Shared};

/// Records, when dropped, the time since it was created. Made by [`Profiler::span`](crate::Profiler::span)
/// and [`Probe::span`](crate::Probe::span).
///
/// It measures wall time: across an `.await` it includes the time the task was suspended. To
/// see busy time of async code, use [`Profiler::instrument`](crate::Profiler::instrument).
#[must_use = "a span records when it is dropped; bind it with `let _span = ...`"]
pub struct Span<'a> {
    shared: &'a Arc<Shared>,
    key: Key,
    /// Raw clock reading at creation; `None` when recording was off.
    start: Option<u64>,
}

impl<'a> Span<'a> {
    #[inline]
    pub(crate) fn start(shared: &'a Arc<Shared>, key: Key) -> Self {
        let start = shared.recording().then(clock::raw);
        Self { shared, key, start }
    }

    /// Ends the span now, records it and returns its duration (`None` if recording was off
    /// when it started).
    #[allow(clippy::must_use_candidate)]
    pub fn finish(mut self) -> Option<Duration> {
        self.end().map(Duration::from_nanos)
    }

    /// Ends the span without recording it.
    pub fn discard(mut self) {
        self.start = None;
    }

    #[inline]
    fn end(&mut self) -> Option<u64> {
        let start = self.start.take()?;
        let elapsed = clock::ns_since(start);
        self.shared.record_ns(self.key, elapsed);
        Some(elapsed)
    }
}

impl Drop for Span<'_> {
    #[inline]
    fn drop(&mut self) {
        self.end();
    }
}

impl fmt::Debug for Span<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Span")
            .field("key", &self.key)
            .field("recording", &self.start.is_some())
            .finish()
    }
}
