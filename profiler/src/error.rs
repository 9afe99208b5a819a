//! What can go wrong when naming a measurement.

/// Errors of this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProfilerError {
    /// [`Profiler::try_probe`](crate::Profiler::try_probe) was asked for a new name when the
    /// profiler already holds `capacity` names. Memory per profiler is bounded by this;
    /// [`Profiler::probe`](crate::Profiler::probe) records such names under
    /// [`OVERFLOW_NAME`](crate::OVERFLOW_NAME) instead.
    #[error("the profiler already holds {capacity} names")]
    TooManyNames {
        /// The most names one profiler holds.
        capacity: usize,
    },
}
