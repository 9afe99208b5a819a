//! Per-thread shards: where the hot path writes, without locks, and what a report merges.
//!
//! Every (thread, profiler) pair gets one [`Shard`], found through a thread-local list. A shard
//! holds one [`NameSlot`] per name that thread recorded, created on the name's first use on
//! that thread (the only allocation); after that a record is a thread-local lookup and a few
//! relaxed loads and stores. The profiler keeps every shard it handed out, so a report can
//! read them all without stopping anyone. When a thread exits its shard is marked free and the
//! next new thread adopts it, counters and all, so thread churn (for example tokio's blocking
//! pool) neither loses records nor grows memory past the peak number of recording threads.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use crate::profiler::Shared;
use crate::registry::NameId;
use crate::slot::{NameSlot, RawStats};

/// Segments per shard and names per segment: [`NAME_CAPACITY`](crate::NAME_CAPACITY) names.
pub(crate) const SEGMENTS: usize = 64;
pub(crate) const SEGMENT_LEN: usize = 64;

type Segment = [OnceLock<Box<NameSlot>>; SEGMENT_LEN];

/// One thread's counters for one profiler.
pub(crate) struct Shard {
    segments: Box<[OnceLock<Box<Segment>>; SEGMENTS]>,
    /// Set when the owning thread is gone; the next thread to need a shard adopts it.
    free: AtomicBool,
}

impl Shard {
    pub(crate) fn new() -> Self {
        Self {
            segments: Box::new(std::array::from_fn(|_| OnceLock::new())),
            free: AtomicBool::new(false),
        }
    }

    /// Owner only: the slot of `id`, created on first use.
    #[inline]
    pub(crate) fn slot(&self, id: NameId) -> &NameSlot {
        let id = id as usize;
        let segment = self.segments[(id / SEGMENT_LEN) % SEGMENTS]
            .get_or_init(|| Box::new(std::array::from_fn(|_| OnceLock::new())));
        segment[id % SEGMENT_LEN].get_or_init(|| Box::new(NameSlot::new()))
    }

    /// Any thread: adds this shard's counters of every name to `into` (indexed by id).
    pub(crate) fn add_to(&self, into: &mut [RawStats]) {
        for (s, segment) in self.segments.iter().enumerate() {
            let Some(segment) = segment.get() else {
                continue;
            };
            for (i, slot) in segment.iter().enumerate() {
                if let (Some(slot), Some(stats)) = (slot.get(), into.get_mut(s * SEGMENT_LEN + i)) {
                    slot.add_to(stats);
                }
            }
        }
    }

    /// Claims a free shard for the calling thread.
    pub(crate) fn try_adopt(&self) -> bool {
        // Acquire pairs with the Release in `LocalEntry::drop`: the new owner sees the old
        // owner's last plain stores before it adds to them.
        self.free
            .compare_exchange(true, false, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }
}

/// Slots of a thread's [`StaticNames`] cache (a power of two).
const STATIC_SLOTS: usize = 64;

/// Literal names one thread caches per profiler: at most three quarters of the slots, so a
/// probe always reaches an empty slot after a few steps.
const STATIC_NAMES: usize = STATIC_SLOTS / 4 * 3;
// `Profiler::span`'s docs and the README give this number.
const _: () = assert!(STATIC_NAMES == 48);

/// Cache of `&'static str` name → id, keyed by the string's address and length: a literal
/// always has the same address, so the hot path needs no hashing of its bytes.
///
/// Open addressing with linear probing, never evicting: two names whose addresses hash to one
/// slot both stay cached (a direct-mapped cache would make them evict each other on every
/// record, sending both through the registry's lock). Past [`STATIC_NAMES`] names, further
/// names are looked up in the registry each time.
struct StaticNames {
    /// `(address, length, id)`; address 0 marks an empty slot (no `&str` has a null address).
    entries: [Cell<(usize, usize, NameId)>; STATIC_SLOTS],
    len: Cell<usize>,
}

impl StaticNames {
    fn new() -> Self {
        Self {
            entries: std::array::from_fn(|_| Cell::new((0, 0, 0))),
            len: Cell::new(0),
        }
    }

    /// The first slot to probe for a name.
    #[inline]
    fn home(ptr: usize, len: usize) -> usize {
        // Fibonacci hashing of the address: top 6 bits of the product.
        ((ptr ^ len).wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as usize) >> (usize::BITS - 6))
            & (STATIC_SLOTS - 1)
    }

    /// The slot holding `name`, or the empty slot where it would go.
    #[inline]
    fn probe(&self, name: &'static str) -> &Cell<(usize, usize, NameId)> {
        let (ptr, len) = (name.as_ptr() as usize, name.len());
        let mut i = Self::home(ptr, len);
        loop {
            let slot = &self.entries[i];
            let (p, l, _) = slot.get();
            // Ends: at most three quarters of the slots are ever taken.
            if p == 0 || (p == ptr && l == len) {
                return slot;
            }
            i = (i + 1) & (STATIC_SLOTS - 1);
        }
    }

    #[inline]
    fn get(&self, name: &'static str) -> Option<NameId> {
        let (p, _, id) = self.probe(name).get();
        (p != 0).then_some(id)
    }

    fn put(&self, name: &'static str, id: NameId) {
        if self.len.get() >= STATIC_NAMES {
            return;
        }
        let slot = self.probe(name);
        if slot.get().0 == 0 {
            slot.set((name.as_ptr() as usize, name.len(), id));
            self.len.set(self.len.get() + 1);
        }
    }
}

/// This thread's view of one profiler.
pub(crate) struct LocalEntry {
    profiler_id: u64,
    owner: Weak<Shared>,
    shard: Arc<Shard>,
    static_names: StaticNames,
}

impl LocalEntry {
    /// The id of a `&'static str` name, from the thread's cache or the registry.
    #[inline]
    pub(crate) fn static_id(&self, shared: &Shared, name: &'static str) -> NameId {
        if let Some(id) = self.static_names.get(name) {
            return id;
        }
        let id = shared.names.id_or_overflow(name);
        self.static_names.put(name, id);
        id
    }

    #[inline]
    pub(crate) fn shard(&self) -> &Shard {
        &self.shard
    }
}

impl Drop for LocalEntry {
    fn drop(&mut self) {
        // Release pairs with the Acquire in `Shard::try_adopt`.
        self.shard.free.store(true, Ordering::Release);
    }
}

thread_local! {
    static LOCAL: RefCell<Vec<LocalEntry>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's entry for `shared`, creating it on the thread's first use.
///
/// Returns `None` (and records nothing) only while the thread is being torn down, after its
/// thread-local list is gone.
#[inline]
pub(crate) fn with_local<R>(shared: &Arc<Shared>, f: impl FnOnce(&LocalEntry) -> R) -> Option<R> {
    LOCAL
        .try_with(|local| {
            if let Ok(entries) = local.try_borrow()
                && let Some(entry) = entries.iter().find(|e| e.profiler_id == shared.hot.id)
            {
                return Some(f(entry));
            }
            register(local, shared);
            let entries = local.try_borrow().ok()?;
            let entry = entries.iter().find(|e| e.profiler_id == shared.hot.id)?;
            Some(f(entry))
        })
        .ok()
        .flatten()
}

#[cold]
fn register(local: &RefCell<Vec<LocalEntry>>, shared: &Arc<Shared>) {
    let Ok(mut entries) = local.try_borrow_mut() else {
        return;
    };
    // Forget profilers that are gone, so a thread does not keep their shards alive.
    entries.retain(|e| e.owner.strong_count() > 0);
    let shard = shared.shard_for_new_thread();
    entries.push(LocalEntry {
        profiler_id: shared.hot.id,
        owner: Arc::downgrade(shared),
        shard,
        static_names: StaticNames::new(),
    });
}

/// How many profilers this thread holds an entry for (tests).
#[cfg(all(test, feature = "enabled"))]
pub(crate) fn local_entries() -> usize {
    LOCAL.with(|local| local.borrow().len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cached_literal_stays_cached() {
        // More names than half the slots: some share a home slot, none evicts another.
        let names: Vec<&'static str> = (0..STATIC_NAMES + 10)
            .map(|i| &*Box::leak(format!("name{i}").into_boxed_str()))
            .collect();
        let cache = StaticNames::new();
        for (id, &name) in names.iter().enumerate() {
            assert_eq!(cache.get(name), None);
            cache.put(name, NameId::try_from(id).unwrap());
        }
        for (id, &name) in names.iter().enumerate() {
            let want = (id < STATIC_NAMES).then(|| NameId::try_from(id).unwrap());
            assert_eq!(cache.get(name), want, "{name}");
        }
        // The same text at another address is another literal: not a hit.
        assert_eq!(
            cache.get(Box::leak(String::from("name0").into_boxed_str())),
            None
        );
    }
}
