//! A set of slots holding in-flight futures pinned in place, each with its own waker, and the
//! queue of slots that were woken.
//!
//! Why not `FuturesUnordered`: it allocates one task per pushed future. Here slots, their
//! wakers and the queues are allocated the first time that many items are in flight (in
//! chunks of up to [`CHUNK`], never beyond the capacity) and then reused: an item costs no
//! allocation once the map is warm, and a woken item is found in O(1) without scanning.
//! Allocating on demand keeps a huge capacity (`usize::MAX`, to leave the cap to a shared
//! `Limiter`) from allocating anything up front.
//!
//! # Memory ordering
//!
//! A slot's waker sets the slot's `woken` flag with an `AcqRel` swap and, if it was clear,
//! pushes the slot on the shared queue (under its mutex) and wakes the parent task. The driver
//! clears the flag with an `AcqRel` swap before polling a slot taken from the queue. Either
//! the waker's swap comes after the driver's in the flag's modification order (so it sees the
//! flag clear and queues the slot again), or the driver's swap reads the waker's write and
//! acquires everything the waker published before waking, so the poll sees it. A flag that is
//! set always has a queue entry that has not been processed yet, so no wake is lost.
#![allow(unsafe_code)]

use std::fmt;
use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use futures_util::task::AtomicWaker;

/// Marks a `to_poll` entry as a slot that was just filled: its first poll needs no flag reset
/// (a stale flag only means one spurious poll later).
const FRESH: usize = 1 << (usize::BITS - 1);

/// Slots allocated at a time (fewer in the last chunk when the capacity is not a multiple).
/// A constant, so that finding a slot is a shift and a mask.
const CHUNK: usize = 64;

pub(crate) struct Slots<Fut> {
    /// Pinned in place: each chunk is a boxed slice that is never reallocated or dropped before
    /// `Slots` itself (growing moves only the boxes in this `Vec`, not the slots they point
    /// to). A slot's future is only ever overwritten with `None` (dropping it where it lies)
    /// or written while `None`. Slot `i` is `chunks[i / CHUNK][i % CHUNK]` (every chunk but
    /// the last is full).
    chunks: Vec<Box<[Slot<Fut>]>>,
    /// Slots allocated so far (at most `capacity`).
    allocated: usize,
    capacity: usize,
    shared: Arc<Shared>,
    free: Vec<usize>,
    /// Slots to poll in this round, in order, from `cursor` on.
    to_poll: Vec<usize>,
    cursor: usize,
    /// Whether this round already took the shared queue once (each woken future is polled at
    /// most once per round, so a future that always wakes itself cannot starve the executor).
    took_shared: bool,
}

struct Slot<Fut> {
    future: Option<Fut>,
    /// Input index of the item in this slot.
    tag: usize,
    waker: Waker,
    wake: Arc<SlotWaker>,
}

struct Shared {
    queue: Mutex<Vec<usize>>,
    parent: AtomicWaker,
}

struct SlotWaker {
    shared: Arc<Shared>,
    index: usize,
    woken: AtomicBool,
}

impl Wake for SlotWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.woken.swap(true, Ordering::AcqRel) {
            self.shared.lock_queue().push(self.index);
            self.shared.parent.wake();
        }
    }
}

impl Shared {
    fn lock_queue(&self) -> std::sync::MutexGuard<'_, Vec<usize>> {
        // Only pushes and swaps happen under this lock: poisoning cannot leave it inconsistent.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<Fut: Future> Slots<Fut> {
    /// Room for `capacity >= 1` futures; nothing is allocated per slot until it is needed.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            chunks: Vec::new(),
            allocated: 0,
            capacity,
            shared: Arc::new(Shared {
                queue: Mutex::new(Vec::new()),
                parent: AtomicWaker::new(),
            }),
            free: Vec::new(),
            to_poll: Vec::new(),
            cursor: 0,
            took_shared: false,
        }
    }

    /// Allocates the next chunk of slots; false if every slot is allocated already.
    fn grow(&mut self) -> bool {
        let len = CHUNK.min(self.capacity - self.allocated);
        if len == 0 {
            return false;
        }
        let first = self.allocated;
        let chunk = (first..first + len)
            .map(|index| {
                let wake = Arc::new(SlotWaker {
                    shared: Arc::clone(&self.shared),
                    index,
                    woken: AtomicBool::new(false),
                });
                Slot {
                    future: None,
                    tag: 0,
                    waker: Waker::from(Arc::clone(&wake)),
                    wake,
                }
            })
            .collect();
        self.chunks.push(chunk);
        self.allocated += len;
        // Popped from the back: the lowest index first.
        self.free.extend((first..first + len).rev());
        // Room for every slot to be due at once, so a warm map does not allocate.
        self.to_poll.reserve(len);
        self.shared.lock_queue().reserve(len);
        true
    }

    fn slot(&self, index: usize) -> &Slot<Fut> {
        &self.chunks[index / CHUNK][index % CHUNK]
    }

    fn slot_mut(&mut self, index: usize) -> &mut Slot<Fut> {
        &mut self.chunks[index / CHUNK][index % CHUNK]
    }

    /// Futures in flight.
    pub(crate) fn len(&self) -> usize {
        self.allocated - self.free.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.free.len() == self.allocated
    }

    pub(crate) fn has_free(&self) -> bool {
        !self.free.is_empty() || self.allocated < self.capacity
    }

    /// Puts `fut` (the item with input index `tag`) into a free slot; it is polled in this
    /// round. Returns it back if every slot is taken.
    pub(crate) fn insert(&mut self, tag: usize, fut: Fut) -> Result<(), Fut> {
        if self.free.is_empty() && !self.grow() {
            return Err(fut);
        }
        let Some(index) = self.free.pop() else {
            return Err(fut);
        };
        let slot = self.slot_mut(index);
        slot.future = Some(fut);
        slot.tag = tag;
        if self.cursor == self.to_poll.len() {
            self.to_poll.clear();
            self.cursor = 0;
        }
        self.to_poll.push(index | FRESH);
        Ok(())
    }

    /// Starts a new round: woken futures may be polled once more.
    pub(crate) fn new_round(&mut self) {
        self.took_shared = false;
    }

    /// Polls the slots due in this round until one completes.
    ///
    /// `Ready(Some((tag, output)))`: a completion (its slot is free again). `Ready(None)`:
    /// nothing is in flight. `Pending`: everything due was polled; the task is woken when a
    /// slot is.
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<(usize, Fut::Output)>> {
        loop {
            while let Some(&entry) = self.to_poll.get(self.cursor) {
                self.cursor += 1;
                let index = entry & !FRESH;
                if entry & FRESH == 0 {
                    self.slot(index).wake.woken.swap(false, Ordering::AcqRel);
                }
                if let Poll::Ready(output) = self.poll_slot(index) {
                    return Poll::Ready(Some((self.slot(index).tag, output)));
                }
            }
            self.to_poll.clear();
            self.cursor = 0;
            if self.is_empty() {
                return Poll::Ready(None);
            }
            if !self.took_shared {
                self.took_shared = true;
                mem::swap(&mut self.to_poll, &mut *self.shared.lock_queue());
                if !self.to_poll.is_empty() {
                    continue;
                }
            }
            self.shared.parent.register(cx.waker());
            if !self.shared.lock_queue().is_empty() {
                // Woken since the queue was taken: come back in a new round rather than
                // polling a self-waking future twice in this one.
                cx.waker().wake_by_ref();
            }
            return Poll::Pending;
        }
    }

    fn poll_slot(&mut self, index: usize) -> Poll<Fut::Output> {
        let Slot { future, waker, .. } = self.slot_mut(index);
        let Some(fut) = future.as_mut() else {
            // A stale wake of a slot that has since emptied.
            return Poll::Pending;
        };
        // SAFETY: `fut` lives in a slot of one of `self.chunks`, boxed slices that are never
        // reallocated or dropped before `self`, and a future stored there is never moved out:
        // it is dropped in place by overwriting its `Option` with `None` (here, in `clear`, or
        // when the chunk is dropped). So it stays at this address until it is dropped, which is
        // what `Pin` requires.
        let fut = unsafe { Pin::new_unchecked(fut) };
        let polled = fut.poll(&mut Context::from_waker(waker));
        if polled.is_ready() {
            *future = None;
            self.free.push(index);
        }
        polled
    }

    /// Drops every in-flight future now (in slot order). Queued wake-ups are discarded, so no
    /// slot may be filled afterwards (`Engine::stop` pulls no more input).
    pub(crate) fn clear(&mut self) {
        for chunk in &mut self.chunks {
            for slot in chunk.iter_mut() {
                if slot.future.is_some() {
                    slot.future = None;
                    self.free.push(slot.wake.index);
                }
            }
        }
        self.to_poll.clear();
        self.cursor = 0;
    }
}

impl<Fut> fmt::Debug for Slots<Fut> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slots")
            .field("capacity", &self.capacity)
            .field("in_flight", &(self.allocated - self.free.len()))
            .finish_non_exhaustive()
    }
}
