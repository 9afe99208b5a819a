//! Constructors: `bounded`, `unbounded`, and the `Builder` for the opt-in modes.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::chan::Shared;
use crate::error::BuildError;
use crate::queue::Order;
use crate::rank::Rank;
use crate::receiver::Receiver;
use crate::sender::Sender;

/// A channel holding at most `capacity` items: [`Sender::send`] waits while it is full.
///
/// # Panics
///
/// If `capacity` is 0. Use [`Builder::capacity`] to get [`BuildError::ZeroCapacity`] instead.
///
/// # Examples
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let (tx, rx) = asyncperf_prioq::bounded::<&str, u8>(16);
/// tx.send("later", 5).await?;
/// tx.send("first", 1).await?;
/// assert_eq!(rx.recv().await?, "first");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[must_use]
pub fn bounded<T, P: Ord>(capacity: usize) -> (Sender<T, P>, Receiver<T, P>) {
    assert!(
        capacity > 0,
        "a bounded priority channel needs a capacity of at least 1"
    );
    channel(Some(capacity), Order::Strict, Admission::Fifo)
}

/// A channel without a bound: [`Sender::send`] never waits (memory is the limit).
#[must_use]
pub fn unbounded<T, P: Ord>() -> (Sender<T, P>, Receiver<T, P>) {
    channel(None, Order::Strict, Admission::Fifo)
}

fn channel<T, P: Ord>(
    capacity: Option<usize>,
    order: Order<P>,
    admission: Admission,
) -> (Sender<T, P>, Receiver<T, P>) {
    let shared = Arc::new(Shared::new(
        capacity,
        order,
        admission == Admission::Priority,
    ));
    (
        Sender {
            shared: Arc::clone(&shared),
        },
        Receiver::new(shared),
    )
}

/// In which order senders waiting on a full bounded channel are admitted.
///
/// Either way a freed slot is handed directly to the chosen waiting sender (a later `send` or
/// `try_send` cannot take it), and the item is enqueued only when that sender's future is next
/// polled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Admission {
    /// In the order the senders started waiting (the default): fair, no sender is overtaken.
    #[default]
    Fifo,
    /// Most urgent priority first, FIFO among equal priorities (the priority given to
    /// [`Sender::send`] or [`Sender::reserve`]): an urgent producer is not stuck behind
    /// producers of background work when the channel is full. Like strict priority in the
    /// queue, a stream of urgent senders can keep a less urgent one waiting.
    Priority,
}

/// Builds a channel with the opt-in modes: aging, O(1) levels for small integer priorities,
/// and priority admission of waiting senders.
///
/// ```
/// use asyncperf_prioq::Builder;
///
/// // Bounded, and an item of priority p waits behind at most 64 * p later sends.
/// let (tx, rx) = Builder::<u8>::new().capacity(1024).aging(64).build::<String>()?;
/// # drop((tx, rx));
/// // Unbounded, priorities 0..8 in O(1) buckets (larger ones still work, sorted).
/// let (tx, rx) = Builder::<u8>::new().levels(8).build::<String>()?;
/// # drop((tx, rx));
/// # Ok::<(), asyncperf_prioq::BuildError>(())
/// ```
pub struct Builder<P> {
    capacity: Option<usize>,
    admission: Admission,
    aging: Option<u64>,
    levels: Option<usize>,
    rank: Option<fn(&P) -> u64>,
    _priority: PhantomData<fn(P)>,
}

impl<P: Ord> Builder<P> {
    /// An unbounded channel with strict priority order.
    #[must_use]
    pub fn new() -> Self {
        Self {
            capacity: None,
            admission: Admission::Fifo,
            aging: None,
            levels: None,
            rank: None,
            _priority: PhantomData,
        }
    }

    /// Bounds the channel to `capacity` items (must be at least 1).
    #[must_use]
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = Some(capacity);
        self
    }

    /// In which order senders waiting on a full bounded channel get the slots receivers free:
    /// [`Admission::Fifo`] (the default) or [`Admission::Priority`].
    #[must_use]
    pub fn admission(mut self, admission: Admission) -> Self {
        self.admission = admission;
        self
    }

    /// Builds the channel.
    ///
    /// # Errors
    ///
    /// [`BuildError`] for a zero capacity, a zero aging window, a level count outside 1..=64,
    /// or aging combined with levels.
    #[allow(clippy::type_complexity)] // the pair `bounded` returns, in a `Result`
    pub fn build<T>(self) -> Result<(Sender<T, P>, Receiver<T, P>), BuildError> {
        if self.capacity == Some(0) {
            return Err(BuildError::ZeroCapacity);
        }
        let order = match (self.aging, self.levels, self.rank) {
            (Some(_), Some(_), _) => return Err(BuildError::AgingWithLevels),
            (Some(0), None, _) => return Err(BuildError::ZeroAgingWindow),
            (Some(window), None, Some(rank)) => Order::Aging { window, rank },
            (None, Some(count), Some(rank)) => match u8::try_from(count) {
                Ok(count @ 1..=64) => Order::Levels { count, rank },
                _ => return Err(BuildError::Levels(count)),
            },
            _ => Order::Strict,
        };
        Ok(channel(self.capacity, order, self.admission))
    }
}

impl<P: Rank> Builder<P> {
    /// Opt-in aging, so that a stream of urgent items cannot starve a less urgent one forever.
    ///
    /// Items are served by earliest virtual deadline `sequence + window * rank(priority)`,
    /// where `sequence` counts sends into the channel and [`Rank`] is the priority's distance
    /// from the most urgent value (the value itself for unsigned integers). So:
    ///
    /// - an item of rank `r` is served before every item sent more than `window * r` sends
    ///   after it: at most `window * r` later items overtake it;
    /// - items sent fewer than `window` sends apart keep strict priority order, and equal
    ///   priorities stay FIFO;
    /// - the rule counts sends, not time: it needs no clock and is deterministic in tests.
    ///
    /// Arithmetic saturates: with `window * rank` near `u64::MAX` ordering falls back to strict
    /// priority for those items. A window of 0 is rejected by [`build`](Self::build).
    #[must_use]
    pub fn aging(mut self, window: u64) -> Self {
        self.aging = Some(window);
        self.rank = Some(P::rank);
        self
    }

    /// Levels mode: each priority whose [`Rank`] is below `count` (at most 64) gets its own
    /// FIFO bucket, found in O(1) through a bitmask, instead of a place in the O(log n) sorting queue.
    ///
    /// Order is the same as without it; priorities of rank `count` or more still work (they go
    /// to the sorting queue, after every bucket). [`Sender::len_of`] is O(1) for bucketed priorities.
    #[must_use]
    pub fn levels(mut self, count: usize) -> Self {
        self.levels = Some(count);
        self.rank = Some(P::rank);
        self
    }
}

impl<P: Ord> Default for Builder<P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P> fmt::Debug for Builder<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("capacity", &self.capacity)
            .field("admission", &self.admission)
            .field("aging", &self.aging)
            .field("levels", &self.levels)
            .finish()
    }
}
