//! Counters of what the cache did, kept per shard so the hit path never shares a counter.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A snapshot of a cache's counters, from [`WeakCache::stats`](crate::WeakCache::stats).
///
/// Counters only grow; take two snapshots and subtract to see a window. They are summed over the
/// shards without a global lock, so a snapshot taken while other threads work may be a few
/// events apart from any single instant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Stats {
    /// Lookups answered with a live value (`get`, and `get_or_load` of a live key).
    pub hits: u64,
    /// Lookups that found no live value (`get` returning `None`, and every `get_or_load` that
    /// started or joined a load).
    pub misses: u64,
    /// Loads started: how many times a loader was called.
    pub loads: u64,
    /// `get_or_load` calls that joined a load already in flight instead of starting one.
    pub coalesced: u64,
    /// Loads that ended in a loader error or a panic (shared with their waiters, not stored).
    pub failed: u64,
    /// Loads aborted because every caller waiting for them was dropped.
    pub abandoned: u64,
    /// Dead entries (values nobody held any more) removed from the map.
    pub purged: u64,
}

/// The counters of one shard but its hits (which live in the lock's cache line, see
/// `map::Shard`).
#[derive(Debug, Default)]
pub(crate) struct ShardCounters {
    pub(crate) misses: AtomicU64,
    pub(crate) loads: AtomicU64,
    pub(crate) coalesced: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) abandoned: AtomicU64,
    pub(crate) purged: AtomicU64,
}

/// Which counter an event bumps.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Event {
    Miss,
    Load,
    Coalesced,
    Failed,
    Abandoned,
}

impl ShardCounters {
    pub(crate) fn record(&self, event: Event) {
        let counter = match event {
            Event::Miss => &self.misses,
            Event::Load => &self.loads,
            Event::Coalesced => &self.coalesced,
            Event::Failed => &self.failed,
            Event::Abandoned => &self.abandoned,
        };
        // Relaxed: counters order nothing; `stats()` is a statistic, not a synchronisation point.
        counter.fetch_add(1, Relaxed);
    }

    pub(crate) fn purged(&self, n: usize) {
        if n > 0 {
            self.purged.fetch_add(n as u64, Relaxed);
        }
    }

    pub(crate) fn add_to(&self, stats: &mut Stats) {
        stats.misses += self.misses.load(Relaxed);
        stats.loads += self.loads.load(Relaxed);
        stats.coalesced += self.coalesced.load(Relaxed);
        stats.failed += self.failed.load(Relaxed);
        stats.abandoned += self.abandoned.load(Relaxed);
        stats.purged += self.purged.load(Relaxed);
    }
}
