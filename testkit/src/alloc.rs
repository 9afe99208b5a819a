//! A counting global allocator, for tests and benches that claim bounded memory.
//!
//! Install it in a test or bench binary (each integration test file is its own binary):
//!
//! ```
//! use asyncperf_testkit::CountingAlloc;
//!
//! #[global_allocator]
//! static ALLOC: CountingAlloc = CountingAlloc::new();
//!
//! ALLOC.reset_peak();
//! let v = vec![0u8; 1 << 20];
//! assert!(ALLOC.peak_bytes() >= 1 << 20);
//! drop(v);
//! ```
//!
//! Counters are process-wide: measure in a test binary that runs one measuring test, or
//! serialise the measuring tests, or other threads' allocations will be counted too.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

/// A [`GlobalAlloc`] that forwards to [`System`] and counts allocations and live bytes.
#[derive(Debug)]
pub struct CountingAlloc {
    allocations: AtomicU64,
    deallocations: AtomicU64,
    live_bytes: AtomicUsize,
    peak_bytes: AtomicUsize,
}

/// The counters of a [`CountingAlloc`] at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AllocSnapshot {
    /// Allocations made so far (including reallocations).
    pub allocations: u64,
    /// Deallocations made so far.
    pub deallocations: u64,
    /// Bytes allocated and not yet freed.
    pub live_bytes: usize,
    /// The highest `live_bytes` seen since the last [`CountingAlloc::reset_peak`].
    pub peak_bytes: usize,
}

impl CountingAlloc {
    /// A counting allocator with every counter at zero.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            allocations: AtomicU64::new(0),
            deallocations: AtomicU64::new(0),
            live_bytes: AtomicUsize::new(0),
            peak_bytes: AtomicUsize::new(0),
        }
    }

    /// All counters at once.
    pub fn snapshot(&self) -> AllocSnapshot {
        AllocSnapshot {
            allocations: self.allocations.load(Relaxed),
            deallocations: self.deallocations.load(Relaxed),
            live_bytes: self.live_bytes.load(Relaxed),
            peak_bytes: self.peak_bytes.load(Relaxed),
        }
    }

    /// Allocations made so far (including reallocations).
    pub fn allocations(&self) -> u64 {
        self.allocations.load(Relaxed)
    }

    /// Bytes allocated and not yet freed.
    pub fn live_bytes(&self) -> usize {
        self.live_bytes.load(Relaxed)
    }

    /// The highest live byte count since the last [`reset_peak`](Self::reset_peak).
    pub fn peak_bytes(&self) -> usize {
        self.peak_bytes.load(Relaxed)
    }

    /// Starts a new peak measurement from the current live byte count.
    pub fn reset_peak(&self) {
        self.peak_bytes
            .store(self.live_bytes.load(Relaxed), Relaxed);
    }

    /// Allocations made while `f` runs (by every thread), and `f`'s result.
    pub fn count_allocations<R>(&self, f: impl FnOnce() -> R) -> (u64, R) {
        let before = self.allocations();
        let out = f();
        (self.allocations() - before, out)
    }

    fn grew(&self, bytes: usize) {
        let live = self.live_bytes.fetch_add(bytes, Relaxed) + bytes;
        self.peak_bytes.fetch_max(live, Relaxed);
    }

    fn shrank(&self, bytes: usize) {
        self.live_bytes.fetch_sub(bytes, Relaxed);
    }
}

impl Default for CountingAlloc {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract is upheld by `System`; the counters are plain atomics.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            self.allocations.fetch_add(1, Relaxed);
            self.grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `alloc_zeroed`'s contract.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            self.allocations.fetch_add(1, Relaxed);
            self.grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged; the caller upholds `dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) };
        self.deallocations.fetch_add(1, Relaxed);
        self.shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `realloc`'s contract.
        let new_ptr = unsafe { System.realloc(ptr, layout, new_size) };
        if !new_ptr.is_null() {
            self.allocations.fetch_add(1, Relaxed);
            if new_size >= layout.size() {
                self.grew(new_size - layout.size());
            } else {
                self.shrank(layout.size() - new_size);
            }
        }
        new_ptr
    }
}
