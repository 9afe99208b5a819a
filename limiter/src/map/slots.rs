//! A fixed set of slots holding in-flight futures pinned in place, each with its own waker,
//! and the queue of slots that were woken.
//!
//! Why not `FuturesUnordered`: it allocates one task per pushed future. Here the `capacity`
//! slots, their wakers and the queues are allocated once; an item then costs no allocation,
//! and a woken item is found in O(1) without scanning.
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

pub(crate) struct Slots<Fut> {
    /// Pinned in place: an element is only ever overwritten with `None` (dropping the future
    /// where it lies) or written while `None`. The boxed slice is never reallocated.
    futures: Box<[Option<Fut>]>,
    /// Input index of the item in each slot.
    tags: Box<[usize]>,
    wakers: Box<[Waker]>,
    shared: Arc<Shared>,
    free: Vec<usize>,
    /// Slots to poll in this round, in order, from `cursor` on.
    to_poll: Vec<usize>,
    cursor: usize,
    /// Whether this round already took the shared queue once (each woken future is polled at
    /// most once per round, so a future that always wakes itself cannot starve the executor).
    took_shared: bool,
}

struct Shared {
    woken: Box<[AtomicBool]>,
    queue: Mutex<Vec<usize>>,
    parent: AtomicWaker,
}

struct SlotWaker {
    shared: Arc<Shared>,
    index: usize,
}

impl Wake for SlotWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.shared.woken[self.index].swap(true, Ordering::AcqRel) {
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
    pub(crate) fn new(capacity: usize) -> Self {
        let shared = Arc::new(Shared {
            woken: (0..capacity).map(|_| AtomicBool::new(false)).collect(),
            queue: Mutex::new(Vec::with_capacity(capacity)),
            parent: AtomicWaker::new(),
        });
        let wakers = (0..capacity)
            .map(|index| {
                Waker::from(Arc::new(SlotWaker {
                    shared: Arc::clone(&shared),
                    index,
                }))
            })
            .collect();
        Self {
            futures: (0..capacity).map(|_| None).collect(),
            tags: vec![0; capacity].into_boxed_slice(),
            wakers,
            shared,
            // Popped from the back: slot 0 first.
            free: (0..capacity).rev().collect(),
            to_poll: Vec::with_capacity(capacity),
            cursor: 0,
            took_shared: false,
        }
    }

    /// Futures in flight.
    pub(crate) fn len(&self) -> usize {
        self.futures.len() - self.free.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.free.len() == self.futures.len()
    }

    pub(crate) fn has_free(&self) -> bool {
        !self.free.is_empty()
    }

    /// Puts `fut` (the item with input index `tag`) into a free slot; it is polled in this
    /// round. Returns it back if every slot is taken.
    pub(crate) fn insert(&mut self, tag: usize, fut: Fut) -> Result<(), Fut> {
        let Some(index) = self.free.pop() else {
            return Err(fut);
        };
        self.futures[index] = Some(fut);
        self.tags[index] = tag;
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
                    self.shared.woken[index].swap(false, Ordering::AcqRel);
                }
                if let Poll::Ready(output) = self.poll_slot(index) {
                    return Poll::Ready(Some((self.tags[index], output)));
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
        let Some(fut) = self.futures[index].as_mut() else {
            // A stale wake of a slot that has since emptied.
            return Poll::Pending;
        };
        // SAFETY: `fut` lives in `self.futures`, a boxed slice that is never reallocated, and
        // a future stored there is never moved out: it is dropped in place by overwriting its
        // `Option` with `None` (here, in `clear`, or when the slice is dropped). So it stays at
        // this address until it is dropped, which is what `Pin` requires.
        let fut = unsafe { Pin::new_unchecked(fut) };
        let mut cx = Context::from_waker(&self.wakers[index]);
        let polled = fut.poll(&mut cx);
        if polled.is_ready() {
            self.futures[index] = None;
            self.free.push(index);
        }
        polled
    }

    /// Drops every in-flight future now (in slot order).
    pub(crate) fn clear(&mut self) {
        for (index, fut) in self.futures.iter_mut().enumerate() {
            if fut.is_some() {
                *fut = None;
                self.free.push(index);
            }
        }
        self.to_poll.clear();
        self.cursor = 0;
    }
}

impl<Fut> fmt::Debug for Slots<Fut> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slots")
            .field("capacity", &self.futures.len())
            .field("in_flight", &(self.futures.len() - self.free.len()))
            .finish_non_exhaustive()
    }
}
