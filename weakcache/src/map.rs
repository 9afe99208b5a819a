//! The sharded hash map behind a cache: one slot per key, each shard behind its own lock.
//!
//! Lock discipline (every method here follows it, and `cache.rs` relies on it): a shard lock is
//! held only for the few instructions of one map operation; it is never held across an
//! `.await` or while user code runs (loaders, `V`'s destructor); the only things dropped while a
//! lock is held are keys and dead `Weak<V>`s. Values (`Arc<V>`) and flights are moved out and
//! dropped by the caller after the guard is gone, so a `V: Drop` that touches the cache cannot
//! deadlock.

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Weak};

use crossbeam_utils::CachePadded;
use hashbrown::HashTable;
use hashbrown::hash_table::Entry;
use parking_lot::RwLock;

use crate::flight::Flight;
use crate::stats::ShardCounters;

/// What the map holds for a key.
pub(crate) enum Slot<V: ?Sized> {
    /// A value some caller may still hold. Dead once every `Arc` is gone.
    Ready(Weak<V>),
    /// A load in flight; callers join it.
    Loading(Arc<Flight<V>>),
}

impl<V: ?Sized> Slot<V> {
    pub(crate) fn is_dead(&self) -> bool {
        matches!(self, Self::Ready(weak) if weak.strong_count() == 0)
    }

    fn is_flight(&self, flight: &Arc<Flight<V>>) -> bool {
        matches!(self, Self::Loading(f) if Arc::ptr_eq(f, flight))
    }
}

/// Entries added to a shard between two sweeps, at least: small shards are swept rarely.
const MIN_SWEEP_INTERVAL: usize = 32;

/// The entries of one shard and its sweep schedule.
pub(crate) struct Table<K, V: ?Sized> {
    entries: HashTable<(K, Slot<V>)>,
    /// Entries added since the last sweep.
    added: usize,
    /// Sweep when `added` reaches this: the shard's length after its last sweep, so a sweep
    /// costs O(1) amortized per added entry and dead entries never exceed what was live at the
    /// last sweep plus what was added since.
    sweep_at: usize,
}

/// What a lookup found.
pub(crate) enum Found<V: ?Sized> {
    /// A live value.
    Hit(Arc<V>),
    /// A load in flight, which the caller has joined (counted as one of its waiters).
    Joined(Arc<Flight<V>>),
    /// No live value and no load to join.
    Absent,
    /// No live value and no load to join, so the caller started a new flight (and is its first
    /// waiter): it must now run the loader.
    Started(Arc<Flight<V>>),
}

impl<K, V: ?Sized> Table<K, V> {
    fn new() -> Self {
        Self {
            entries: HashTable::new(),
            added: 0,
            sweep_at: MIN_SWEEP_INTERVAL,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Replaces `flight`'s slot (found by identity, never by key alone) with `value`; returns
    /// the flight's slot, or `None` if the flight no longer owns a slot (invalidated, replaced
    /// by `insert`, or abandoned).
    pub(crate) fn land(&mut self, flight: &Arc<Flight<V>>, value: &Arc<V>) -> Option<Slot<V>> {
        let (_, slot) = self
            .entries
            .find_mut(flight.hash, |(_, slot)| slot.is_flight(flight))?;
        Some(std::mem::replace(slot, Slot::Ready(Arc::downgrade(value))))
    }

    /// Removes `flight`'s slot (found by identity); returns it, if the flight still owned one.
    pub(crate) fn remove_flight(&mut self, flight: &Arc<Flight<V>>) -> Option<(K, Slot<V>)> {
        self.entries
            .find_entry(flight.hash, |(_, slot)| slot.is_flight(flight))
            .ok()
            .map(|occupied| occupied.remove().0)
    }
}

impl<K: Eq + Hash, V: ?Sized> Table<K, V> {
    fn slot<Q>(&self, hash: u64, key: &Q) -> Option<&Slot<V>>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        self.entries
            .find(hash, |(k, _)| k.borrow() == key)
            .map(|(_, slot)| slot)
    }

    /// The live value under `key`, or the flight loading it (joined), or nothing.
    pub(crate) fn find_or_join<Q>(&self, hash: u64, key: &Q) -> Found<V>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        match self.slot(hash, key) {
            Some(Slot::Ready(weak)) => weak.upgrade().map_or(Found::Absent, Found::Hit),
            Some(Slot::Loading(flight)) if flight.try_join() => Found::Joined(Arc::clone(flight)),
            Some(Slot::Loading(_)) | None => Found::Absent,
        }
    }

    /// The live value under `key`, if any; `Err(true)` when the entry is dead.
    pub(crate) fn find_live<Q>(&self, hash: u64, key: &Q) -> Result<Arc<V>, bool>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        match self.slot(hash, key) {
            Some(Slot::Ready(weak)) => weak.upgrade().ok_or(true),
            Some(Slot::Loading(_)) | None => Err(false),
        }
    }

    /// Looks `key` up for a loader: a live value or a joinable flight is returned as found;
    /// otherwise `start()` makes a new flight, which takes the slot (replacing a dead value or
    /// an abandoned flight, returned in `displaced` for the caller to drop after unlocking).
    pub(crate) fn find_or_start(
        &mut self,
        hash: u64,
        key: &K,
        hasher: &impl BuildHasher,
        start: impl FnOnce() -> Arc<Flight<V>>,
        displaced: &mut Option<Slot<V>>,
    ) -> (Found<V>, usize)
    where
        K: Clone,
    {
        let entry = self
            .entries
            .entry(hash, |(k, _)| k == key, |(k, _)| hasher.hash_one(k));
        match entry {
            Entry::Occupied(mut occupied) => {
                let slot = &mut occupied.get_mut().1;
                match slot {
                    Slot::Ready(weak) => {
                        if let Some(value) = weak.upgrade() {
                            return (Found::Hit(value), 0);
                        }
                    }
                    Slot::Loading(flight) => {
                        if flight.try_join() {
                            return (Found::Joined(Arc::clone(flight)), 0);
                        }
                    }
                }
                let purged = usize::from(slot.is_dead());
                let flight = start();
                *displaced = Some(std::mem::replace(slot, Slot::Loading(Arc::clone(&flight))));
                (Found::Started(flight), purged)
            }
            Entry::Vacant(vacant) => {
                let flight = start();
                vacant.insert((key.clone(), Slot::Loading(Arc::clone(&flight))));
                (Found::Started(flight), self.added_one(hasher))
            }
        }
    }

    /// Stores `value` under `key`; returns the slot it replaced (for the caller to inspect and
    /// drop after unlocking) and how many dead entries were swept.
    pub(crate) fn insert(
        &mut self,
        hash: u64,
        key: K,
        value: &Arc<V>,
        hasher: &impl BuildHasher,
    ) -> (Option<Slot<V>>, usize) {
        let slot = Slot::Ready(Arc::downgrade(value));
        let entry = self
            .entries
            .entry(hash, |(k, _)| *k == key, |(k, _)| hasher.hash_one(k));
        match entry {
            Entry::Occupied(mut occupied) => {
                let replaced = std::mem::replace(&mut occupied.get_mut().1, slot);
                (Some(replaced), 0)
            }
            Entry::Vacant(vacant) => {
                vacant.insert((key, slot));
                (None, self.added_one(hasher))
            }
        }
    }

    /// Removes `key`'s entry, whatever it holds.
    pub(crate) fn remove<Q>(&mut self, hash: u64, key: &Q) -> Option<(K, Slot<V>)>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        self.entries
            .find_entry(hash, |(k, _)| k.borrow() == key)
            .ok()
            .map(|occupied| occupied.remove().0)
    }

    /// Removes `key`'s entry if it is (still) dead; returns whether it did.
    pub(crate) fn remove_dead<Q>(&mut self, hash: u64, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        // A dead entry holds only a key and a dead `Weak`, both fine to drop under the lock.
        self.entries
            .find_entry(hash, |(k, slot)| k.borrow() == key && slot.is_dead())
            .map(|occupied| occupied.remove())
            .is_ok()
    }

    /// Counts one added entry and sweeps the shard when its schedule says so; returns how many
    /// dead entries the sweep removed.
    fn added_one(&mut self, hasher: &impl BuildHasher) -> usize {
        self.added += 1;
        if self.added < self.sweep_at {
            return 0;
        }
        self.sweep(hasher)
    }

    /// Removes every dead entry, gives memory back when the table is mostly empty, and restarts
    /// the schedule. Returns how many entries it removed.
    pub(crate) fn sweep(&mut self, hasher: &impl BuildHasher) -> usize {
        let before = self.entries.len();
        self.entries.retain(|(_, slot)| !slot.is_dead());
        let len = self.entries.len();
        // Shrink only a table that grew large and emptied; small tables keep their buckets, so
        // a steady churn of short-lived keys does not reallocate on every sweep.
        if self.entries.capacity() >= 4 * len.max(MIN_SWEEP_INTERVAL) {
            self.entries.shrink_to(len, |(k, _)| hasher.hash_one(k));
        }
        self.added = 0;
        self.sweep_at = len.max(MIN_SWEEP_INTERVAL);
        before - len
    }
}

/// One shard: its table behind a lock, and its counters beside the lock.
///
/// `repr(C)` keeps `hits` in the cache line of the lock word (8 + 48 bytes before it): a hit
/// has just taken that line for the read lock, so counting it costs no second line.
#[repr(C)]
pub(crate) struct Shard<K, V: ?Sized> {
    pub(crate) table: RwLock<Table<K, V>>,
    pub(crate) hits: AtomicU64,
    pub(crate) counters: ShardCounters,
}

impl<K, V: ?Sized> Shard<K, V> {
    pub(crate) fn hit(&self) {
        // Relaxed: a statistic, ordering nothing.
        self.hits.fetch_add(1, Relaxed);
    }
}

/// The shards and the hasher that picks one.
pub(crate) struct ShardedMap<K, V: ?Sized, S> {
    shards: Box<[CachePadded<Shard<K, V>>]>,
    /// log2 of the number of shards.
    shard_bits: u32,
    pub(crate) hasher: S,
}

/// Most shards a map may have (rounded-up requests are capped here).
pub(crate) const MAX_SHARDS: usize = 1 << 16;

impl<K, V: ?Sized, S> ShardedMap<K, V, S> {
    /// A map with `shards` shards (a power of two, at most [`MAX_SHARDS`]).
    pub(crate) fn new(shards: usize, hasher: S) -> Self {
        debug_assert!(shards.is_power_of_two() && shards <= MAX_SHARDS);
        let shards: Box<[_]> = (0..shards)
            .map(|_| {
                CachePadded::new(Shard {
                    table: RwLock::new(Table::new()),
                    hits: AtomicU64::new(0),
                    counters: ShardCounters::default(),
                })
            })
            .collect();
        Self {
            shard_bits: shards.len().trailing_zeros(),
            shards,
            hasher,
        }
    }

    /// The shard of a hash. It uses the bits just below the top seven, which hashbrown keeps
    /// for its control bytes, and far above the low bits it indexes buckets with, so keys of
    /// one shard still spread over that shard's buckets.
    pub(crate) fn shard(&self, hash: u64) -> &Shard<K, V> {
        let index = (hash >> (57 - self.shard_bits)) as usize & (self.shards.len() - 1);
        &self.shards[index]
    }

    pub(crate) fn shards(&self) -> impl Iterator<Item = &Shard<K, V>> {
        self.shards.iter().map(|shard| &**shard)
    }

    pub(crate) fn shard_count(&self) -> usize {
        self.shards.len()
    }
}

impl<K, V: ?Sized, S: BuildHasher> ShardedMap<K, V, S> {
    pub(crate) fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        self.hasher.hash_one(key)
    }
}

#[cfg(test)]
mod tests {
    use std::hash::RandomState;

    use super::*;

    #[test]
    fn hits_share_the_lock_words_cache_line() {
        assert!(std::mem::offset_of!(Shard<u64, String>, hits) + 8 <= 64);
        assert!(std::mem::offset_of!(Shard<String, str>, hits) + 8 <= 64);
    }

    #[test]
    fn shards_spread_keys() {
        let map: ShardedMap<u64, u64, _> = ShardedMap::new(8, RandomState::new());
        let mut used = [0usize; 8];
        for key in 0..8_000u64 {
            let shard: *const Shard<u64, u64> = map.shard(map.hash(&key));
            let index = map.shards().position(|s| std::ptr::eq(s, shard)).unwrap();
            used[index] += 1;
        }
        assert!(used.iter().all(|&n| n > 500), "{used:?}");
        let single: ShardedMap<u64, u64, _> = ShardedMap::new(1, RandomState::new());
        assert!(std::ptr::eq(
            single.shard(u64::MAX),
            single.shards().next().unwrap()
        ));
    }

    #[test]
    fn a_shard_sweeps_itself_as_entries_are_added() {
        let hasher = RandomState::new();
        let mut table: Table<u64, u64> = Table::new();
        let mut swept = 0;
        let mut most = 0;
        for key in 0..10_000u64 {
            let value = Arc::new(key); // dropped at once: every entry dies
            let (_, purged) = table.insert(hasher.hash_one(key), key, &value, &hasher);
            swept += purged;
            most = most.max(table.len());
        }
        assert!(most <= 2 * MIN_SWEEP_INTERVAL, "{most}");
        assert_eq!(swept + table.len(), 10_000);
        let left = table.len();
        assert_eq!(table.sweep(&hasher), left, "what is left is dead too");
    }

    #[test]
    fn a_sweep_keeps_live_entries_and_gives_memory_back() {
        let hasher = RandomState::new();
        let mut table: Table<u64, u64> = Table::new();
        let kept: Vec<_> = (0..10u64).map(Arc::new).collect();
        for key in 0..10_000u64 {
            let value = kept
                .get(key as usize)
                .cloned()
                .unwrap_or_else(|| Arc::new(key));
            // Bypass the schedule: a burst of entries that all die before any sweep.
            table.entries.insert_unique(
                hasher.hash_one(key),
                (key, Slot::Ready(Arc::downgrade(&value))),
                |(k, _)| hasher.hash_one(k),
            );
        }
        let grown = table.entries.capacity();
        assert_eq!(table.sweep(&hasher), 9_990);
        assert_eq!(table.len(), 10);
        assert!(table.entries.capacity() < grown / 16, "shrunk from {grown}");
        for key in 0..10u64 {
            assert!(matches!(table.find_live(hasher.hash_one(key), &key), Ok(v) if *v == key));
        }
    }
}
