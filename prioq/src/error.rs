//! Errors of the channel's operations; every error that refuses an item hands it back.

use std::fmt;

/// The channel is closed: the item (and its priority) was not sent and is given back.
///
/// Returned by [`Sender::send`](crate::Sender::send) and
/// [`Permit::send`](crate::Permit::send) after [`close`](crate::Sender::close), after the last
/// [`Receiver`](crate::Receiver) was dropped, or (for a permit) once the channel closed while
/// the permit was held. [`Sender::reserve`](crate::Sender::reserve) gives back the priority.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SendError<T>(pub T);

impl<T> SendError<T> {
    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sending on a closed priority channel")
    }
}

impl<T> std::error::Error for SendError<T> {}

/// Why [`Sender::try_send`](crate::Sender::try_send) refused an item; the item is given back.
#[derive(Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrySendError<T> {
    /// The bounded channel holds `capacity` items (counting slots reserved by permits and by
    /// waiting senders that were granted one), so sending now would have to wait.
    Full(T),
    /// The channel is closed (see [`SendError`]).
    Closed(T),
}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            Self::Full(t) | Self::Closed(t) => t,
        }
    }

    /// True for [`TrySendError::Full`].
    pub fn is_full(&self) -> bool {
        matches!(self, Self::Full(_))
    }

    /// True for [`TrySendError::Closed`].
    pub fn is_closed(&self) -> bool {
        matches!(self, Self::Closed(_))
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full(_) => f.write_str("Full(..)"),
            Self::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full(_) => f.write_str("sending on a full priority channel"),
            Self::Closed(_) => f.write_str("sending on a closed priority channel"),
        }
    }
}

impl<T> std::error::Error for TrySendError<T> {}

impl<T> From<SendError<T>> for TrySendError<T> {
    fn from(err: SendError<T>) -> Self {
        Self::Closed(err.0)
    }
}

/// The channel is closed and every queued item has been received.
///
/// Returned by [`Receiver::recv`](crate::Receiver::recv). Closing does not discard queued
/// items: receivers get them all first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("receiving on a closed and empty priority channel")]
pub struct RecvError;

/// Why [`Receiver::try_recv`](crate::Receiver::try_recv) returned no item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TryRecvError {
    /// No item can be taken now: the channel is empty, or every queued item is already set
    /// aside for a waiting receiver that was woken to take it.
    #[error("receiving on an empty priority channel")]
    Empty,
    /// The channel is closed and every queued item has been received.
    #[error("receiving on a closed and empty priority channel")]
    Closed,
}

/// Why [`Builder::build`](crate::Builder::build) refused a configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// `capacity(0)`: a priority channel needs room for at least one item.
    #[error("a bounded priority channel needs a capacity of at least 1")]
    ZeroCapacity,
    /// `aging(0)`: a window of 0 would ignore priorities entirely (plain FIFO).
    #[error("the aging window must be at least 1")]
    ZeroAgingWindow,
    /// `levels(n)` with `n` of 0 or above 64 (the buckets are tracked in one 64-bit mask).
    #[error("levels must be between 1 and 64, got {0}")]
    Levels(usize),
    /// Both `aging` and `levels` were set: aging orders items by a per-item deadline, which the
    /// per-priority buckets of levels mode cannot hold.
    #[error("aging and levels cannot be combined")]
    AgingWithLevels,
}
