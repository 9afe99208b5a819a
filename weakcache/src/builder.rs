//! `Builder`: how many shards a cache has and how it hashes keys.

use std::fmt;
use std::hash::RandomState;
use std::marker::PhantomData;
use std::num::NonZeroUsize;
use std::sync::{Arc, OnceLock};

use crate::WeakCache;
use crate::map::{MAX_SHARDS, ShardedMap};

/// Configures a [`WeakCache`]: `WeakCache::builder().shards(64).build()`.
#[must_use]
pub struct Builder<K, V: ?Sized, S = RandomState> {
    shards: Option<usize>,
    hasher: S,
    /// The cache's types, so `build` needs no turbofish.
    types: PhantomData<fn(K) -> Arc<V>>,
}

impl<K, V: ?Sized> Builder<K, V> {
    /// The defaults: [`default_shards`] shards, [`RandomState`] hashing.
    pub fn new() -> Self {
        Self {
            shards: None,
            hasher: RandomState::new(),
            types: PhantomData,
        }
    }
}

impl<K, V: ?Sized> Default for Builder<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K, V: ?Sized, S> Builder<K, V, S> {
    /// Splits the map into `shards` independently locked shards, rounded up to a power of two
    /// (at least 1, at most 65,536).
    ///
    /// More shards mean fewer writers contending for one lock (loads, inserts); readers share
    /// a shard's lock, so hits gain little. The default suits most services.
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = Some(shards);
        self
    }

    /// Hashes keys with `hasher` instead of [`RandomState`]. A faster hasher speeds every
    /// operation up; keep a seeded one if keys come from untrusted input.
    pub fn hasher<S2>(self, hasher: S2) -> Builder<K, V, S2> {
        Builder {
            shards: self.shards,
            hasher,
            types: PhantomData,
        }
    }

    /// The cache.
    #[must_use]
    pub fn build(self) -> WeakCache<K, V, S> {
        let shards = self
            .shards
            .unwrap_or_else(default_shards)
            .clamp(1, MAX_SHARDS)
            .next_power_of_two();
        WeakCache::from_map(ShardedMap::new(shards, self.hasher))
    }
}

impl<K, V: ?Sized, S> fmt::Debug for Builder<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("shards", &self.shards)
            .finish_non_exhaustive()
    }
}

/// The number of shards a cache gets by default: four per available CPU, rounded up to a power
/// of two (the same rule as `DashMap`).
#[must_use]
pub fn default_shards() -> usize {
    static DEFAULT: OnceLock<usize> = OnceLock::new();
    *DEFAULT.get_or_init(|| {
        let cpus = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        (cpus * 4).clamp(1, MAX_SHARDS).next_power_of_two()
    })
}
