//! State shared by every handle and batch task: which keys wait, which batch is open.
//!
//! One `std::sync::Mutex` guards it. It is held for bookkeeping only (a hash-map operation
//! per key, a push, a counter), never across an `.await` and never while the batch function
//! runs. Waking callers and spawning tasks happen after it is released.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::{Semaphore, oneshot};
use tokio::time::Instant;

use crate::dispatch::BatchTask;
use crate::outcome::Outcome;
use crate::waiters::{Answer, Waiters};
use crate::{BatchError, Stats};

/// The type-erased batch function: keys in, a boxed future of the batch's outcome out.
pub(crate) type FetchFn<K, V, E> =
    Box<dyn Fn(Vec<K>) -> Pin<Box<dyn Future<Output = Outcome<K, V, E>> + Send>> + Send + Sync>;

/// What a caller waits on.
pub(crate) type AnswerRx<V, E> = oneshot::Receiver<Answer<V, E>>;

/// The builder's settings, fixed at construction.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Config {
    pub(crate) max_batch_size: usize,
    pub(crate) max_delay: Duration,
    pub(crate) max_queued_keys: Option<usize>,
    pub(crate) batch_timeout: Option<Duration>,
}

pub(crate) struct Shared<K, V, E> {
    state: Mutex<State<K, V, E>>,
    pub(crate) config: Config,
    pub(crate) fetch: FetchFn<K, V, E>,
    /// `max_in_flight`: a batch task holds a permit while its batch function runs.
    pub(crate) permits: Option<Semaphore>,
    /// Bumped each time a caller drops its future before getting an answer. A batch whose
    /// snapshot of it is unchanged at dispatch has lost no caller, so it skips the scan for
    /// keys nobody waits for (the common case costs one atomic load per batch).
    pub(crate) abandoned: AtomicU64,
    /// Live `Batcher` handles; when the last one goes, the open batch is sealed at once so
    /// its task ends now instead of at the end of its window.
    pub(crate) handles: AtomicUsize,
    /// [`Shared::flush`], for `Batcher`'s `Drop`, which cannot name the bounds `flush` needs
    /// (a `Drop` impl must be as general as its type, and `Batcher` carries no bounds).
    pub(crate) flush_fn: fn(&Self),
}

pub(crate) struct State<K, V, E> {
    /// Every key that is waiting for dispatch or being fetched, with its callers. A key in
    /// here is never sent again: new callers join its entry.
    pub(crate) entries: HashMap<K, Waiters<V, E>, foldhash::fast::RandomState>,
    /// The batch new keys join, if one is open.
    pub(crate) open: Option<OpenBatch<K>>,
    next_batch_id: u64,
    pub(crate) stats: Stats,
}

/// The batch that new keys join, until it is full, flushed or its window ends.
pub(crate) struct OpenBatch<K> {
    pub(crate) id: u64,
    pub(crate) keys: Vec<K>,
    /// Hands the keys to the batch's task when something other than the task closes it.
    seal: oneshot::Sender<Vec<K>>,
}

/// Work found under the lock and done after it is released: spawning a batch's task and
/// handing a sealed batch to its task both wake other threads.
pub(crate) struct AfterUnlock<K, V, E>
where
    K: Eq + Hash + Clone + Send + 'static,
    V: Clone + Send + 'static,
    E: Send + Sync + 'static,
{
    spawn: Option<(Handle, BatchTask<K, V, E>)>,
    seal: Option<OpenBatch<K>>,
    /// `load_many` can open and seal several batches under one lock.
    more: Vec<AfterUnlock<K, V, E>>,
}

impl<K, V, E> Default for AfterUnlock<K, V, E>
where
    K: Eq + Hash + Clone + Send + 'static,
    V: Clone + Send + 'static,
    E: Send + Sync + 'static,
{
    fn default() -> Self {
        Self {
            spawn: None,
            seal: None,
            more: Vec::new(),
        }
    }
}

impl<K, V, E> Shared<K, V, E>
where
    K: Eq + Hash + Clone + Send + 'static,
    V: Clone + Send + 'static,
    E: Send + Sync + 'static,
{
    pub(crate) fn new(
        config: Config,
        fetch: FetchFn<K, V, E>,
        max_in_flight: Option<usize>,
    ) -> Self {
        Self {
            state: Mutex::new(State {
                entries: HashMap::default(),
                open: None,
                next_batch_id: 0,
                stats: Stats::default(),
            }),
            config,
            fetch,
            permits: max_in_flight.map(Semaphore::new),
            abandoned: AtomicU64::new(0),
            handles: AtomicUsize::new(1),
            flush_fn: Self::flush,
        }
    }

    /// The state, even after a panic elsewhere poisoned the lock: a panic can only come from
    /// a key's `Hash`/`Eq`/`Clone`, and the maps stay memory-safe, so carrying on beats
    /// panicking every later caller.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State<K, V, E>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a caller for `key`; the answer arrives on the returned receiver.
    pub(crate) fn enqueue(self: &Arc<Self>, key: K) -> Result<AnswerRx<V, E>, BatchError<E>> {
        let (tx, rx) = oneshot::channel();
        let mut after = AfterUnlock::default();
        let queued = {
            let mut state = self.lock();
            self.enqueue_locked(&mut state, key, tx, &mut after)
        };
        self.run_after_unlock(after);
        queued.map(|()| rx)
    }

    /// Registers a caller for each key under one lock, in order.
    pub(crate) fn enqueue_many(
        self: &Arc<Self>,
        keys: Vec<K>,
    ) -> Vec<Result<AnswerRx<V, E>, BatchError<E>>> {
        // Channels are allocated before locking, to keep the critical section short.
        let channels: Vec<_> = keys.iter().map(|_| oneshot::channel()).collect();
        let mut out = Vec::with_capacity(keys.len());
        let mut after = AfterUnlock::default();
        {
            let mut state = self.lock();
            for (key, (tx, rx)) in keys.into_iter().zip(channels) {
                let mut step = AfterUnlock::default();
                let queued = self.enqueue_locked(&mut state, key, tx, &mut step);
                if step.spawn.is_some() || step.seal.is_some() {
                    after.more.push(step);
                }
                out.push(queued.map(|()| rx));
            }
        }
        self.run_after_unlock(after);
        out
    }

    fn enqueue_locked(
        self: &Arc<Self>,
        state: &mut State<K, V, E>,
        key: K,
        tx: oneshot::Sender<Answer<V, E>>,
        after: &mut AfterUnlock<K, V, E>,
    ) -> Result<(), BatchError<E>> {
        let State {
            entries,
            open,
            next_batch_id,
            stats,
        } = state;
        let slot = match entries.entry(key) {
            Entry::Occupied(mut waiting) => {
                // Waiting for dispatch or already being fetched: share that answer.
                waiting.get_mut().push(tx);
                stats.keys_coalesced += 1;
                return Ok(());
            }
            Entry::Vacant(slot) => slot,
        };
        if self
            .config
            .max_queued_keys
            .is_some_and(|limit| stats.queued_keys >= limit as u64)
        {
            stats.loads_rejected += 1;
            return Err(BatchError::Overloaded);
        }
        // Cloned before a batch can be opened: a `Clone` that panics then leaves no batch
        // whose task would be dropped, and lock the state, while this thread holds the lock.
        let batch_key = slot.key().clone();
        let batch = match open {
            Some(batch) => batch,
            None => {
                // Checked before anything is recorded, so a refused key leaves no trace.
                let Ok(runtime) = Handle::try_current() else {
                    return Err(BatchError::NoRuntime);
                };
                let id = *next_batch_id;
                *next_batch_id += 1;
                let (seal, sealed) = oneshot::channel();
                let deadline = Instant::now().checked_add(self.config.max_delay);
                let task = BatchTask::new(
                    Arc::clone(self),
                    id,
                    sealed,
                    self.config.max_delay,
                    deadline,
                    self.abandoned.load(Ordering::Acquire),
                );
                after.spawn = Some((runtime, task));
                open.insert(OpenBatch {
                    id,
                    keys: Vec::with_capacity(self.config.max_batch_size.min(1024)),
                    seal,
                })
            }
        };
        batch.keys.push(batch_key);
        slot.insert(Waiters::new(tx));
        stats.queued_keys += 1;
        if batch.keys.len() >= self.config.max_batch_size {
            after.seal = open.take();
        }
        Ok(())
    }

    fn run_after_unlock(&self, after: AfterUnlock<K, V, E>) {
        // Spawn before sealing: the task must exist to receive its keys (the channel would
        // buffer them anyway, but this keeps the order obvious).
        if let Some((runtime, task)) = after.spawn {
            // The JoinHandle is dropped: the task answers its callers through their channels.
            drop(runtime.spawn(task.run()));
        }
        if let Some(batch) = after.seal {
            self.seal(batch);
        }
        for step in after.more {
            self.run_after_unlock(step);
        }
    }

    /// Takes the keys of the open batch if it is still batch `id`: a batch's task closes
    /// only its own batch, never a later one.
    pub(crate) fn take_open(&self, id: u64) -> Option<Vec<K>> {
        // Taken out under the lock; its seal sender is dropped after the lock is released.
        let batch = self.lock().open.take_if(|batch| batch.id == id);
        batch.map(|batch| batch.keys)
    }

    /// Closes the open batch now, if there is one.
    pub(crate) fn flush(&self) {
        let open = self.lock().open.take();
        if let Some(batch) = open {
            self.seal(batch);
        }
    }

    /// Hands a closed batch to its task.
    fn seal(&self, batch: OpenBatch<K>) {
        if let Err(keys) = batch.seal.send(batch.keys) {
            // The task is gone (its runtime shut down): nobody will fetch these keys.
            self.fail_queued(keys, &BatchError::Cancelled);
        }
    }

    /// Answers every caller of `keys` (still counted as queued) with `error`.
    pub(crate) fn fail_queued(&self, keys: Vec<K>, error: &BatchError<E>) {
        let waiters: Vec<_> = {
            let mut state = self.lock();
            state.stats.queued_keys -= keys.len() as u64;
            keys.iter()
                .filter_map(|k| state.entries.remove(k))
                .collect()
        };
        for w in waiters {
            w.answer(Err(error.clone()));
        }
    }
}
