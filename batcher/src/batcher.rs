//! The handle callers load through.

use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use crate::shared::{AnswerRx, Shared};
use crate::{BatchError, Builder, Stats};

/// Gathers concurrent loads of single keys into calls of one batch function.
///
/// A cheap handle: clones share the same batches. See the [crate docs](crate) for the
/// guarantees. `K`'s `Hash`, `Eq`, `Clone` and `Drop` run under the batcher's lock, so they
/// must be quick and must not block or panic.
pub struct Batcher<K, V, E> {
    shared: Arc<Shared<K, V, E>>,
}

impl<K, V, E> Batcher<K, V, E>
where
    K: Eq + Hash + Clone + Send + 'static,
    V: Clone + Send + 'static,
    E: Send + Sync + 'static,
{
    /// Starts configuring a batcher; finish with [`Builder::build`] or
    /// [`Builder::build_per_key`].
    #[must_use]
    pub fn builder() -> Builder<K, V, E> {
        Builder::default()
    }

    pub(crate) fn from_shared(shared: Arc<Shared<K, V, E>>) -> Self {
        Self { shared }
    }

    /// Loads one key: it joins the open batch (or the batch already fetching it) and the
    /// value comes back when that batch's function returns.
    ///
    /// Like any future, this does nothing until polled.
    ///
    /// # Errors
    ///
    /// Every [`BatchError`] variant: the batch function's error for the whole batch or for
    /// this key, a missing key, a panic, a timeout, an overload refusal, no runtime, or a
    /// cancelled batch task.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe. Dropping the future loses nothing for anyone else: other callers of the
    /// same key or batch get their answers as usual. If every caller of a key drops before
    /// its batch is dispatched, the key is removed from the batch (and a batch left empty is
    /// never sent); if the batch is already running, its answer for this caller is dropped.
    pub async fn load(&self, key: K) -> Result<V, BatchError<E>> {
        let answer = self.shared.enqueue(key)?;
        Waiting::new(answer, &self.shared).await
    }

    /// Loads several keys, sharing batches as [`load`](Self::load) does, and returns one
    /// result per key in input order. One key's failure does not fail the others; a key
    /// given twice is fetched once and answered twice.
    ///
    /// The keys are registered under one lock, so they land in as few batches as
    /// `max_batch_size` allows.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as for [`load`](Self::load): dropping the future drops this call's
    /// interest in every key, and no other caller is affected.
    pub async fn load_many<I>(&self, keys: I) -> Vec<Result<V, BatchError<E>>>
    where
        I: IntoIterator<Item = K>,
    {
        // Collected first: the iterator is caller code and must not run under the lock.
        let keys: Vec<K> = keys.into_iter().collect();
        let answers = self.shared.enqueue_many(keys);
        let mut results = Vec::with_capacity(answers.len());
        for answer in answers {
            results.push(match answer {
                Ok(answer) => Waiting::new(answer, &self.shared).await,
                Err(e) => Err(e),
            });
        }
        results
    }

    /// Dispatches the open batch now, without waiting for its window. Does nothing when no
    /// batch is open. Batches already dispatched are unaffected.
    pub fn flush(&self) {
        self.shared.flush();
    }

    /// A snapshot of this batcher's counters (shared by all its clones).
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.shared.lock().stats
    }
}

impl<K, V, E> Clone for Batcher<K, V, E> {
    fn clone(&self) -> Self {
        self.shared.handles.fetch_add(1, Ordering::Relaxed);
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<K, V, E> Drop for Batcher<K, V, E> {
    fn drop(&mut self) {
        // The last handle: no load can start any more, so the open batch need not wait out
        // its window; its task sees every caller gone, sends nothing and ends.
        if self.shared.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            (self.shared.flush_fn)(&self.shared);
        }
    }
}

impl<K, V, E> fmt::Debug for Batcher<K, V, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batcher")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

/// One caller's wait for its answer. Dropping it before the answer arrives tells the
/// batcher that a caller has gone, so dispatch looks for keys nobody waits for.
struct Waiting<'a, K, V, E> {
    answer: Option<AnswerRx<V, E>>,
    shared: &'a Shared<K, V, E>,
}

impl<'a, K, V, E> Waiting<'a, K, V, E> {
    fn new(answer: AnswerRx<V, E>, shared: &'a Shared<K, V, E>) -> Self {
        Self {
            answer: Some(answer),
            shared,
        }
    }
}

impl<K, V, E> Future for Waiting<'_, K, V, E> {
    type Output = Result<V, BatchError<E>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(answer) = self.answer.as_mut() else {
            // Polled after completion; a well-behaved executor never does this.
            return Poll::Pending;
        };
        let result = std::task::ready!(Pin::new(answer).poll(cx));
        self.answer = None;
        // A dropped sender without an answer cannot happen (every path answers), but if it
        // did the caller must not hang or panic.
        Poll::Ready(result.unwrap_or(Err(BatchError::Cancelled)))
    }
}

impl<K, V, E> Drop for Waiting<'_, K, V, E> {
    fn drop(&mut self) {
        if let Some(answer) = self.answer.take() {
            // Close the channel first, so a dispatch that sees the bump also sees the key as
            // gone.
            drop(answer);
            self.shared.abandoned.fetch_add(1, Ordering::Release);
        }
    }
}
