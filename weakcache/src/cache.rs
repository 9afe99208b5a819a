//! `WeakCache`: the public face of the sharded map, its lookups, writes and sweeps.

use std::borrow::Borrow;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use crate::builder::Builder;
use crate::cycle;
use crate::error::LoadError;
use crate::flight::Flight;
use crate::load::{Waiting, start_load};
use crate::map::{Found, ShardedMap, Slot};
use crate::stats::{Event, Stats};

/// An async cache of weakly held values with single-flight loading.
///
/// An entry lives while some caller holds its `Arc<V>`: the cache keeps only a `Weak<V>`, so
/// it never decides what stays in memory; whoever uses a value does. Concurrent
/// [`get_or_load`](Self::get_or_load) calls for a missing key run the loader once, in its own
/// task, and all receive the same `Arc<V>` (or the same error).
///
/// Cloning a `WeakCache` is cheap and gives another handle to the same cache.
///
/// See the [crate documentation](crate) for the semantics in full, cancel safety and costs.
pub struct WeakCache<K, V: ?Sized, S = RandomState> {
    pub(crate) map: Arc<ShardedMap<K, V, S>>,
}

impl<K, V: ?Sized> WeakCache<K, V> {
    /// An empty cache with the default number of shards and a randomly seeded `SipHash`
    /// ([`RandomState`], resistant to hash flooding).
    #[must_use]
    pub fn new() -> Self {
        Builder::new().build()
    }

    /// A builder, to choose the number of shards or the hasher.
    pub fn builder() -> Builder<K, V> {
        Builder::new()
    }
}

impl<K, V: ?Sized, S> WeakCache<K, V, S> {
    /// An empty cache that hashes keys with `hasher`.
    #[must_use]
    pub fn with_hasher(hasher: S) -> Self {
        Builder::new().hasher(hasher).build()
    }

    pub(crate) fn from_map(map: ShardedMap<K, V, S>) -> Self {
        Self { map: Arc::new(map) }
    }

    /// The counters summed over all shards: hits, misses, loads, coalesced waits, failed and
    /// abandoned loads, dead entries purged.
    #[must_use]
    pub fn stats(&self) -> Stats {
        let mut stats = Stats::default();
        for shard in self.map.shards() {
            stats.hits += shard.hits.load(Relaxed);
            shard.counters.add_to(&mut stats);
        }
        stats
    }

    /// Entries in the map: live values, loads in flight, and dead entries not swept yet.
    ///
    /// An upper bound on the live values, like any weak map's length: a value dropped a moment
    /// ago still counts until its entry is found dead or swept. [`purge`](Self::purge) first
    /// for an exact count.
    #[must_use]
    pub fn len(&self) -> usize {
        self.map
            .shards()
            .map(|shard| shard.table.read().len())
            .sum()
    }

    /// True when the map holds no entry at all (see [`len`](Self::len)).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.map.shards().all(|shard| shard.table.read().len() == 0)
    }
}

impl<K, V, S> WeakCache<K, V, S>
where
    K: Eq + Hash,
    V: ?Sized,
    S: BuildHasher,
{
    /// The value under `key`, if some caller still holds it.
    ///
    /// Never waits and never loads: a key whose load is in flight gives `None`. Takes one shard
    /// read lock and allocates nothing. A dead entry found here is removed on the spot.
    pub fn get<Q>(&self, key: &Q) -> Option<Arc<V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.map.hash(key);
        let shard = self.map.shard(hash);
        let found = shard.table.read().find_live(hash, key);
        match found {
            Ok(value) => {
                shard.hit();
                Some(value)
            }
            Err(dead) => {
                shard.counters.record(Event::Miss);
                if dead && shard.table.write().remove_dead(hash, key) {
                    shard.counters.purged(1);
                }
                None
            }
        }
    }

    /// Stores `value` under `key`, held weakly: the entry lives while some caller holds an
    /// `Arc` of it (so keep yours). Returns the value it replaced, if that was still alive.
    ///
    /// An `insert` during a load of the same key wins: the load's waiters still get its value,
    /// but it is not stored over this one.
    pub fn insert(&self, key: K, value: Arc<V>) -> Option<Arc<V>> {
        let hash = self.map.hash(&key);
        let shard = self.map.shard(hash);
        let (replaced, purged) = shard
            .table
            .write()
            .insert(hash, key, &value, &self.map.hasher);
        // Inspected and dropped here, after the lock: a displaced flight may hold the last
        // `Arc` of a value.
        match replaced {
            Some(Slot::Ready(weak)) => {
                let previous = weak.upgrade();
                shard
                    .counters
                    .purged(usize::from(previous.is_none()) + purged);
                previous
            }
            Some(Slot::Loading(_)) | None => {
                shard.counters.purged(purged);
                None
            }
        }
    }

    /// Removes `key`'s entry. Returns true if it held a live value or a load in flight.
    ///
    /// A load in flight is detached, not stopped: the callers waiting for it still get its
    /// outcome, but its value is not stored, and the next call for the key loads afresh.
    pub fn invalidate<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.map.hash(key);
        let shard = self.map.shard(hash);
        let removed = shard.table.write().remove(hash, key);
        match removed {
            Some((_, Slot::Ready(weak))) if weak.strong_count() == 0 => {
                shard.counters.purged(1);
                false
            }
            Some(_) => true,
            None => false,
        }
    }

    /// Removes every dead entry now and gives back memory the map no longer needs; returns how
    /// many entries it removed. After it, [`len`](Self::len) counts only live values and loads
    /// in flight (until the next value is dropped).
    ///
    /// Never required for bounded memory (dead entries are also removed when found, and swept
    /// shard by shard as entries are added); useful before measuring, or after a mass drop.
    /// Locks one shard at a time.
    pub fn purge(&self) -> usize {
        self.map
            .shards()
            .map(|shard| {
                let purged = shard.table.write().sweep(&self.map.hasher);
                shard.counters.purged(purged);
                purged
            })
            .sum()
    }
}

impl<K, V, S> WeakCache<K, V, S>
where
    K: Eq + Hash + Clone + Send + Sync + 'static,
    V: ?Sized + Send + Sync + 'static,
    S: BuildHasher + Send + Sync + 'static,
{
    /// The value under `key`: the live one if some caller holds it, otherwise the outcome of a
    /// load. Concurrent calls for one key share a single load.
    ///
    /// - **Hit:** a live value is returned at once; the loader is dropped uncalled. One shard
    ///   read lock, no allocation, no `.await` that suspends.
    /// - **Load:** if no load of `key` is in flight, `loader(key)` is called and its future
    ///   polled once, here; if it is not ready, it is spawned as a task of its own on the
    ///   current Tokio runtime. This call and every concurrent call for the key wait for it. The
    ///   value is stored weakly and returned to all of them.
    /// - **Errors** are shared, never stored: every caller that waited gets the same
    ///   `Arc<E>` in [`LoadError::Failed`]; the next call loads again.
    ///
    /// The loader may return `V` or anything that converts into `Arc<V>` (an `Arc<V>`, a
    /// `String` for `V = str`, ...). Its future must be `Send + 'static` because it may run in
    /// a task of its own. Its first poll runs in the calling task (task-local values of the
    /// caller are visible there, and not in later polls).
    ///
    /// # Cancel safety
    ///
    /// Dropping the returned future loses nothing anyone else needs. While other callers wait
    /// for the same load, it goes on for them, even if the dropped call is the one that started
    /// it; the loader still runs once. When the last waiting call is dropped, the load's task
    /// is aborted (its future dropped on the runtime) and its entry removed, so the next call
    /// starts afresh.
    ///
    /// # Errors
    ///
    /// - [`LoadError::Failed`] when the loader's future returned `Err`;
    /// - [`LoadError::Panicked`] when the loader or its future panicked;
    /// - [`LoadError::Cancelled`] when the runtime the load was spawned on shut down before it
    ///   finished (the waiting call was polled elsewhere);
    /// - [`LoadError::Cycle`] when this call is made by the load of `key` itself, or by a load
    ///   that load started: waiting would never end.
    ///
    /// # Panics
    ///
    /// When `key` has neither a live value nor a load in flight and the call is not running
    /// inside a Tokio runtime (like `tokio::spawn`): a load may need a task. Hits and joining a
    /// load in flight work on any executor.
    ///
    /// When the loader closure itself panics (not its future), in the call that runs it; the
    /// other callers waiting for that load get [`LoadError::Panicked`].
    ///
    /// # Cycles
    ///
    /// A loader that asks for its own key, directly or through loads it started, gets
    /// [`LoadError::Cycle`] instead of waiting for itself forever. A cycle through a load that
    /// some other caller started (the load of A joins a running load of B, whose loader asks
    /// for A) is not detected and waits until the callers give up.
    pub async fn get_or_load<F, Fut, T, E>(&self, key: K, loader: F) -> Result<Arc<V>, LoadError<E>>
    where
        F: FnOnce(K) -> Fut,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        T: Into<Arc<V>> + 'static,
        E: Send + Sync + 'static,
    {
        let map = &*self.map;
        let hash = map.hash(&key);
        let shard = map.shard(hash);
        let mut missed = false;
        loop {
            let found = shard.table.read().find_or_join(hash, &key);
            let found = match found {
                Found::Absent => {
                    let runtime = current_runtime();
                    let mut displaced = None;
                    let (found, purged) = shard.table.write().find_or_start(
                        hash,
                        &key,
                        &map.hasher,
                        || Flight::new(hash),
                        &mut displaced,
                    );
                    shard.counters.purged(purged);
                    // After the lock: an abandoned flight may hold the last `Arc` of a value.
                    drop(displaced);
                    if let Found::Started(flight) = found {
                        if !missed {
                            shard.counters.record(Event::Miss);
                        }
                        shard.counters.record(Event::Load);
                        let waiting = Waiting::new(map, flight);
                        start_load(&self.map, waiting.flight(), key, loader, &runtime);
                        return waiting.outcome().await.for_starter();
                    }
                    found
                }
                found => found,
            };
            match found {
                Found::Hit(value) => {
                    if !missed {
                        shard.hit();
                    }
                    return Ok(value);
                }
                Found::Joined(flight) => {
                    if !missed {
                        shard.counters.record(Event::Miss);
                        missed = true;
                    }
                    shard.counters.record(Event::Coalesced);
                    let waiting = Waiting::new(map, flight);
                    if cycle::waits_for_itself(waiting.flight()) {
                        return Err(LoadError::Cycle);
                    }
                    if let Some(result) = waiting.outcome().await.for_caller() {
                        return result;
                    }
                    // The load we joined failed with another loader's error type: load anew.
                }
                // `find_or_start` never answers these; looking again is always correct.
                Found::Absent | Found::Started(_) => {}
            }
        }
    }
}

/// The runtime a new load is spawned on.
fn current_runtime() -> tokio::runtime::Handle {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => runtime,
        Err(_) => panic!(
            "WeakCache::get_or_load must run inside a Tokio runtime to start a load \
             (the load runs in its own task)"
        ),
    }
}

impl<K, V: ?Sized, S> Clone for WeakCache<K, V, S> {
    fn clone(&self) -> Self {
        Self {
            map: Arc::clone(&self.map),
        }
    }
}

impl<K, V: ?Sized> Default for WeakCache<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K, V: ?Sized, S> fmt::Debug for WeakCache<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeakCache")
            .field("shards", &self.map.shard_count())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}
