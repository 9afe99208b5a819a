//! One batch's task: wait for its window, drop keys nobody waits for, call the batch
//! function, answer every caller.

use std::future::{Future, poll_fn};
use std::hash::Hash;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::Poll;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::BatchError;
use crate::outcome::Outcome;
use crate::shared::Shared;

/// Key-map capacity above which an empty map is freed.
const SHRINK_IDLE_MAP_ABOVE: usize = 4096;

/// A batch from the moment its first key arrives until every caller has its answer.
///
/// It is spawned with that first key, so an idle batcher has no task at all. Only this task
/// ever takes its batch out of the open slot (by id), so a window can only close its own
/// batch: a batch sealed early by size or `flush` is handed over through `sealed` instead.
/// If the task is dropped before it finishes (its runtime shut down), `Drop` answers every
/// caller still waiting on it with [`BatchError::Cancelled`].
pub(crate) struct BatchTask<K, V, E>
where
    K: Eq + Hash + Clone + Send + 'static,
    V: Clone + Send + 'static,
    E: Send + Sync + 'static,
{
    shared: Arc<Shared<K, V, E>>,
    id: u64,
    max_delay: Duration,
    /// `None` when `max_delay` is too long to represent: only size or `flush` close it.
    deadline: Option<Instant>,
    /// `Shared::abandoned` when the batch opened.
    abandoned_at_open: u64,
    phase: Phase<K>,
}

enum Phase<K> {
    /// Open: the keys are in `State::open` (with our id) or on their way through `sealed`.
    Open(oneshot::Receiver<Vec<K>>),
    /// Closed, waiting for a `max_in_flight` permit; the keys still count as queued.
    Queued(Vec<K>),
    /// The batch function has these keys.
    Running(Vec<K>),
    /// Every caller has been answered.
    Done,
}

impl<K, V, E> BatchTask<K, V, E>
where
    K: Eq + Hash + Clone + Send + 'static,
    V: Clone + Send + 'static,
    E: Send + Sync + 'static,
{
    pub(crate) fn new(
        shared: Arc<Shared<K, V, E>>,
        id: u64,
        sealed: oneshot::Receiver<Vec<K>>,
        max_delay: Duration,
        deadline: Option<Instant>,
        abandoned_at_open: u64,
    ) -> Self {
        Self {
            shared,
            id,
            max_delay,
            deadline,
            abandoned_at_open,
            phase: Phase::Open(sealed),
        }
    }

    pub(crate) async fn run(mut self) {
        let Some(keys) = self.close().await else {
            self.phase = Phase::Done;
            return;
        };
        self.phase = Phase::Queued(keys);
        let shared = Arc::clone(&self.shared);
        let permit = match &shared.permits {
            // `acquire` fails only on a closed semaphore, and this one is never closed.
            Some(permits) => permits.acquire().await.ok(),
            None => None,
        };
        let Some(request) = self.dispatch() else {
            return;
        };
        let outcome = Self::call(&shared, request).await;
        drop(permit);
        if let Phase::Running(keys) = std::mem::replace(&mut self.phase, Phase::Done) {
            self.answer(keys, outcome);
        }
    }

    /// Waits until the batch closes (window over, full, or flushed) and takes its keys.
    async fn close(&mut self) -> Option<Vec<K>> {
        let Phase::Open(sealed) = &mut self.phase else {
            return None;
        };
        if self.max_delay.is_zero() {
            // Already closed (full or flushed): nothing to wait for.
            if let Ok(keys) = sealed.try_recv() {
                return Some(keys);
            }
            // No window: let every task that is runnable now add its keys first (the tokio
            // analogue of JavaScript's tick), with no timer and so no latency floor.
            tokio::task::yield_now().await;
        } else {
            let early = match self.deadline {
                Some(deadline) => {
                    let mut window = pin!(tokio::time::sleep_until(deadline));
                    poll_fn(|cx| {
                        if let Poll::Ready(keys) = Pin::new(&mut *sealed).poll(cx) {
                            return Poll::Ready(Some(keys));
                        }
                        window.as_mut().poll(cx).map(|()| None)
                    })
                    .await
                }
                None => Some((&mut *sealed).await),
            };
            if let Some(keys) = early {
                return keys.ok();
            }
        }
        match self.shared.take_open(self.id) {
            Some(keys) => Some(keys),
            // Closed by size or `flush` meanwhile: the keys are on their way.
            None => (&mut *sealed).await.ok(),
        }
    }

    /// Drops the keys nobody waits for any more and moves the batch from queued to running.
    /// Returns the keys for the batch function, or `None` when no key is left.
    fn dispatch(&mut self) -> Option<Vec<K>> {
        let Phase::Queued(mut keys) = std::mem::replace(&mut self.phase, Phase::Done) else {
            return None;
        };
        {
            let mut state = self.shared.lock();
            let state = &mut *state;
            state.stats.queued_keys -= keys.len() as u64;
            if self.shared.abandoned.load(Ordering::Acquire) != self.abandoned_at_open {
                let before = keys.len();
                keys.retain(|key| {
                    let gone = state.entries.get(key).is_none_or(|w| w.all_gone());
                    if gone {
                        state.entries.remove(key);
                    }
                    !gone
                });
                state.stats.keys_pruned += (before - keys.len()) as u64;
            }
            if keys.is_empty() {
                return None;
            }
            state.stats.batches += 1;
            state.stats.keys_loaded += keys.len() as u64;
            state.stats.in_flight += 1;
        }
        // Cloned after unlocking: the lock is for bookkeeping only.
        let request = keys.clone();
        self.phase = Phase::Running(keys);
        Some(request)
    }

    /// Calls the batch function, turning a panic or a timeout into an outcome.
    /// (Takes `Shared`, not `self`: the task is `Send` but not `Sync`.)
    async fn call(shared: &Shared<K, V, E>, keys: Vec<K>) -> Outcome<K, V, E> {
        let Ok(mut fetch) = catch_unwind(AssertUnwindSafe(|| (shared.fetch)(keys))) else {
            return Outcome::Failed(BatchError::Panicked);
        };
        let guarded = poll_fn(move |cx| {
            catch_unwind(AssertUnwindSafe(|| fetch.as_mut().poll(cx)))
                .unwrap_or(Poll::Ready(Outcome::Failed(BatchError::Panicked)))
        });
        match shared.config.batch_timeout {
            None => guarded.await,
            Some(limit) => tokio::time::timeout(limit, guarded)
                .await
                .unwrap_or(Outcome::Failed(BatchError::TimedOut)),
        }
    }

    /// Gives every caller of `keys` its answer from `outcome`.
    fn answer(&self, keys: Vec<K>, mut outcome: Outcome<K, V, E>) {
        // Allocated before locking, filled under the lock.
        let mut waiters = Vec::with_capacity(keys.len());
        {
            let mut state = self.shared.lock();
            let stats = &mut state.stats;
            stats.in_flight -= 1;
            match &outcome {
                Outcome::Failed(BatchError::Panicked) => stats.batches_panicked += 1,
                Outcome::Failed(BatchError::TimedOut) => stats.batches_timed_out += 1,
                Outcome::Failed(_) => stats.batches_failed += 1,
                _ => {}
            }
            for key in keys {
                if let Some(w) = state.entries.remove(&key) {
                    waiters.push((key, w));
                }
            }
            // A map never shrinks on its own: after a spike, an idle batcher would keep
            // memory for its largest burst of keys.
            if state.entries.is_empty() && state.entries.capacity() > SHRINK_IDLE_MAP_ABOVE {
                state.entries.shrink_to(0);
            }
        }
        // Outside the lock: each send may wake a caller on another thread.
        for (key, w) in waiters {
            w.answer(outcome.take(&key));
        }
    }
}

impl<K, V, E> Drop for BatchTask<K, V, E>
where
    K: Eq + Hash + Clone + Send + 'static,
    V: Clone + Send + 'static,
    E: Send + Sync + 'static,
{
    /// The task was dropped before answering everyone (its runtime shut down, or it was never
    /// polled): nobody else will answer these callers, so answer them with `Cancelled`
    /// rather than leave them waiting.
    fn drop(&mut self) {
        match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Done => {}
            Phase::Open(mut sealed) => {
                // Closed first, so that a batch sealed concurrently is either received below
                // or refused to its sealer (which then fails the keys): a send landing
                // between `try_recv` and dropping `sealed` would strand its callers.
                sealed.close();
                // Neither open nor sent yet: whoever took it out of the open slot finds
                // `sealed` closed when it sends, and fails the keys itself.
                let keys = self
                    .shared
                    .take_open(self.id)
                    .or_else(|| sealed.try_recv().ok());
                if let Some(keys) = keys {
                    self.shared.fail_queued(keys, &BatchError::Cancelled);
                }
            }
            Phase::Queued(keys) => self.shared.fail_queued(keys, &BatchError::Cancelled),
            Phase::Running(keys) => {
                let waiters: Vec<_> = {
                    let mut state = self.shared.lock();
                    state.stats.in_flight -= 1;
                    keys.iter()
                        .filter_map(|k| state.entries.remove(k))
                        .collect()
                };
                for w in waiters {
                    w.answer(Err(BatchError::Cancelled));
                }
            }
        }
    }
}
