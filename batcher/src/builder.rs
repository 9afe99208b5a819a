//! Configuring a batcher and giving it its batch function.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::Batcher;
use crate::outcome::{Outcome, PerKeyResults};
use crate::shared::{Config, FetchFn, Shared};

/// Default for [`Builder::max_batch_size`].
pub const DEFAULT_MAX_BATCH_SIZE: usize = 100;

/// Settings for a [`Batcher`], from [`Batcher::builder`].
///
/// Nothing runs until the first load: building spawns no task and needs no runtime.
pub struct Builder<K, V, E> {
    config: Config,
    max_in_flight: Option<usize>,
    _types: PhantomData<Types<K, V, E>>,
}

/// The builder holds no `K`, `V` or `E`; a function type keeps it `Send`, `Sync` and
/// covariant whatever they are.
type Types<K, V, E> = fn() -> (K, V, E);

impl<K, V, E> fmt::Debug for Builder<K, V, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("max_batch_size", &self.config.max_batch_size)
            .field("max_delay", &self.config.max_delay)
            .field("max_in_flight", &self.max_in_flight)
            .field("max_queued_keys", &self.config.max_queued_keys)
            .field("batch_timeout", &self.config.batch_timeout)
            .finish()
    }
}

impl<K, V, E> Default for Builder<K, V, E> {
    fn default() -> Self {
        Self {
            config: Config {
                max_batch_size: DEFAULT_MAX_BATCH_SIZE,
                max_delay: Duration::ZERO,
                max_queued_keys: None,
                batch_timeout: None,
            },
            max_in_flight: None,
            _types: PhantomData,
        }
    }
}

impl<K, V, E> Builder<K, V, E>
where
    K: Eq + Hash + Clone + Send + 'static,
    V: Clone + Send + 'static,
    E: Send + Sync + 'static,
{
    /// A batch is dispatched as soon as it holds this many distinct keys (default
    /// [`DEFAULT_MAX_BATCH_SIZE`]). The batch function never receives more. `0` is taken as
    /// `1`.
    #[must_use]
    pub fn max_batch_size(mut self, keys: usize) -> Self {
        self.config.max_batch_size = keys.max(1);
        self
    }

    /// How long a batch stays open after its first key arrives (default zero).
    ///
    /// - `Duration::ZERO`: the batch is dispatched as soon as the tasks that are runnable
    ///   now have had their turn (one `yield_now`), with no timer: no latency floor for a
    ///   lone load, and every load issued in the same "tick" shares the batch.
    /// - A window: each batch is dispatched at most this long after its first key (earlier
    ///   when full or flushed). Every batch has its own window; one batch's timer can never
    ///   close another batch. Needs a runtime with the time driver enabled.
    /// - `Duration::MAX`: no window; batches leave when full or on
    ///   [`flush`](Batcher::flush).
    #[must_use]
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.config.max_delay = delay;
        self
    }

    /// At most this many batch functions run at once (default unbounded). Closed batches
    /// wait for a slot in their own task, so callers never block on it; their keys keep
    /// coalescing new loads while they wait. `0` is taken as `1`.
    #[must_use]
    pub fn max_in_flight(mut self, batches: usize) -> Self {
        self.max_in_flight = Some(batches.clamp(1, Semaphore::MAX_PERMITS));
        self
    }

    /// At most this many distinct keys may wait for dispatch (default unbounded). A load of
    /// a new key beyond it fails at once with
    /// [`BatchError::Overloaded`](crate::BatchError::Overloaded) instead of queueing without
    /// bound behind [`max_in_flight`](Self::max_in_flight). Loads of a key already waiting or
    /// in flight always succeed: they add no work.
    #[must_use]
    pub fn max_queued_keys(mut self, keys: usize) -> Self {
        self.config.max_queued_keys = Some(keys);
        self
    }

    /// A batch function still running after this long is dropped, and its callers get
    /// [`BatchError::TimedOut`](crate::BatchError::TimedOut) (default: no limit). Needs a
    /// runtime with the time driver enabled.
    #[must_use]
    pub fn batch_timeout(mut self, limit: Duration) -> Self {
        self.config.batch_timeout = Some(limit);
        self
    }

    /// Builds the batcher around `f`, which loads a batch of distinct keys at once.
    ///
    /// `f` returns `Ok` with the values it found (a key absent from the map gets
    /// [`BatchError::NotFound`](crate::BatchError::NotFound)), or `Err`, which every key of
    /// the batch gets as [`BatchError::Failed`](crate::BatchError::Failed). It is never
    /// called with an empty batch or a duplicate key, and runs in a task of its own.
    pub fn build<F, Fut>(self, f: F) -> Batcher<K, V, E>
    where
        F: Fn(Vec<K>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<HashMap<K, V>, E>> + Send + 'static,
    {
        let fetch: FetchFn<K, V, E> = Box::new(move |keys| {
            let fut = f(keys);
            Box::pin(async move { Outcome::from_whole(fut.await) })
        });
        self.finish(fetch)
    }

    /// Builds the batcher around `f`, which answers each key on its own: one bad key fails
    /// only its own callers (with
    /// [`BatchError::KeyFailed`](crate::BatchError::KeyFailed)), not its neighbours.
    ///
    /// `f` returns `HashMap<K, Result<V, E>>`, or `Result<HashMap<K, Result<V, E>>, E>` to
    /// also fail the whole batch at once. A key absent from the map gets
    /// [`BatchError::NotFound`](crate::BatchError::NotFound).
    pub fn build_per_key<F, Fut>(self, f: F) -> Batcher<K, V, E>
    where
        F: Fn(Vec<K>) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: PerKeyResults<K, V, E>,
    {
        let fetch: FetchFn<K, V, E> = Box::new(move |keys| {
            let fut = f(keys);
            Box::pin(async move { fut.await.into_outcome() })
        });
        self.finish(fetch)
    }

    fn finish(self, fetch: FetchFn<K, V, E>) -> Batcher<K, V, E> {
        Batcher::from_shared(Arc::new(Shared::new(
            self.config,
            fetch,
            self.max_in_flight,
        )))
    }
}
