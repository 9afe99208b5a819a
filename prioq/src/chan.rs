//! The state shared by every handle and the one critical section each operation runs in.
//!
//! Everything that decides an operation — the queue, the closed flag, both waiter lists and the
//! counts of resources set aside for woken waiters — lives under one mutex, so "empty", "full"
//! and "closed" are decided in the same critical section that parks the waiter (the race that
//! hangs `async-priority-channel` cannot happen). Wakers are woken after the lock is released.
//!
//! Fairness comes from direct hand-off: when an item arrives and a receiver waits, the item is
//! set aside for the longest-waiting receiver (`items_granted`) before it is woken, so a
//! receiver arriving later cannot take it; the same holds for free slots and waiting senders
//! (`slots_reserved`). A woken waiter that is dropped before it takes its share passes the grant
//! on to the next waiter, so cancellation never strands an item or a slot.

use parking_lot::{Mutex, MutexGuard};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use crate::error::{RecvError, TryRecvError, TrySendError};
use crate::queue::{Drained, Order, Queue};
use crate::waiters::{Key, Status, WaitList, Wakeups};

pub(crate) struct Shared<T, P> {
    state: Mutex<State<T, P>>,
    /// `None` for unbounded channels.
    pub(crate) capacity: Option<usize>,
    /// Waiting senders are admitted most urgent first (FIFO among equals) instead of FIFO.
    priority_admission: bool,
    pub(crate) senders: AtomicUsize,
    pub(crate) receivers: AtomicUsize,
    /// `Queue::drain`, captured where `P: Ord` is known so that dropping the last receiver
    /// (which has no `Ord` bound) can empty the queue.
    drain: fn(&mut Queue<T, P>) -> Drained<T, P>,
}

/// `repr(C)`, hot fields first: the mutex's lock word, `closed`, the two counters and the
/// queue's header (length, sequence, store tag) fill one cache line and the sorting queue's
/// front the next, so an operation whose lock last ran on another core pulls about three lines
/// instead of eight (10-20% less per item with two threads contending, measured with a
/// `try_send`/`try_recv` spin test).
#[repr(C)]
pub(crate) struct State<T, P> {
    pub(crate) closed: bool,
    /// Queued items set aside for granted receivers that have not taken them yet.
    items_granted: usize,
    /// Free slots set aside for granted senders and for live permits.
    slots_reserved: usize,
    pub(crate) queue: Queue<T, P>,
    receivers: WaitList,
    /// Ordered by priority under priority admission, else by arrival.
    senders: WaitList<P>,
    close_watchers: WaitList,
}

impl<T, P: Ord> Shared<T, P> {
    pub(crate) fn new(capacity: Option<usize>, order: Order<P>, priority_admission: bool) -> Self {
        Self {
            state: Mutex::new(State {
                queue: Queue::new(order),
                closed: false,
                receivers: WaitList::new(),
                items_granted: 0,
                senders: WaitList::new(),
                slots_reserved: 0,
                close_watchers: WaitList::new(),
            }),
            capacity,
            priority_admission,
            senders: AtomicUsize::new(1),
            receivers: AtomicUsize::new(1),
            drain: Queue::drain,
        }
    }
}

impl<T, P> Shared<T, P> {
    /// The state. The lock does not poison: the only user code run under it is `P::cmp`; a
    /// panicking `Ord` (already reported to its caller) may leave the order or a count wrong,
    /// never memory unsafe, and other handles keep working rather than cascade.
    #[inline]
    pub(crate) fn lock(&self) -> MutexGuard<'_, State<T, P>> {
        self.state.lock()
    }

    #[inline]
    fn has_room(&self, st: &State<T, P>) -> bool {
        self.capacity
            .is_none_or(|cap| st.queue.len() + st.slots_reserved < cap)
    }

    /// Hands free slots to waiting senders, oldest first.
    #[inline]
    fn grant_senders(&self, st: &mut State<T, P>, wake: &mut Wakeups) {
        while st.senders.has_waiting() && self.has_room(st) {
            if let Some(waker) = st.senders.grant_first() {
                st.slots_reserved += 1;
                wake.push_granted(waker);
            }
        }
    }

    /// Hands items nobody has claimed to waiting receivers, oldest first.
    #[inline]
    fn grant_receivers(st: &mut State<T, P>, wake: &mut Wakeups) {
        while st.receivers.has_waiting() && st.queue.len() > st.items_granted {
            if let Some(waker) = st.receivers.grant_first() {
                st.items_granted += 1;
                wake.push_granted(waker);
            }
        }
    }

    /// After items left the queue: free slots go to senders, and once a closed channel is empty
    /// every parked receiver learns it.
    #[inline]
    fn after_pop(&self, st: &mut State<T, P>, wake: &mut Wakeups) {
        if self.capacity.is_some() {
            self.grant_senders(st, wake);
        }
        if st.closed && st.queue.len() == 0 {
            st.receivers.wake_all(wake);
        }
    }

    // ---- receiving ----------------------------------------------------------------------

    /// A receiving future parked under `key` was dropped: pass on anything granted to it.
    pub(crate) fn cancel_recv(&self, key: Key) {
        let mut wake = Wakeups::default();
        let mut st = self.lock();
        if st.receivers.remove(key) == Status::Granted {
            st.items_granted -= 1;
            Self::grant_receivers(&mut st, &mut wake);
        }
        drop(st);
        wake.wake();
    }

    // ---- sending ------------------------------------------------------------------------

    /// A sending future parked under `key` was dropped: pass on a slot granted to it.
    pub(crate) fn cancel_send(&self, key: Key) {
        let mut wake = Wakeups::default();
        let mut st = self.lock();
        // Dropped after the lock: a priority's destructor is user code.
        let priority = st.senders.take_order(key);
        if st.senders.remove(key) == Status::Granted {
            st.slots_reserved -= 1;
            self.grant_senders(&mut st, &mut wake);
        }
        drop(st);
        wake.wake();
        drop(priority);
    }

    /// Gives back a slot held by a permit that was dropped unused.
    pub(crate) fn release_slot(&self) {
        let mut wake = Wakeups::default();
        let mut st = self.lock();
        st.slots_reserved -= 1;
        self.grant_senders(&mut st, &mut wake);
        drop(st);
        wake.wake();
    }

    /// Counts a slot acquired by [`poll_room`](Self::poll_room) as held by a permit.
    pub(crate) fn hold_slot(st: &mut State<T, P>) {
        st.slots_reserved += 1;
    }

    // ---- closing ------------------------------------------------------------------------

    /// Closes the channel; true if this call closed it.
    pub(crate) fn close(&self) -> bool {
        let mut wake = Wakeups::default();
        let mut st = self.lock();
        if st.closed {
            return false;
        }
        st.closed = true;
        st.receivers.wake_all(&mut wake);
        st.senders.wake_all(&mut wake);
        st.close_watchers.wake_all(&mut wake);
        drop(st);
        wake.wake();
        true
    }

    /// The last receiver is gone: close, and drop the queued items (nobody can receive them)
    /// outside the lock, since their destructors are user code.
    pub(crate) fn receivers_gone(&self) {
        let mut wake = Wakeups::default();
        let mut st = self.lock();
        st.closed = true;
        let drained = (self.drain)(&mut st.queue);
        st.items_granted = 0;
        st.senders.wake_all(&mut wake);
        st.close_watchers.wake_all(&mut wake);
        drop(st);
        wake.wake();
        drop(drained);
    }

    /// Completes once the channel is closed, parking the caller under `key` until then.
    pub(crate) fn poll_closed(&self, key: &mut Option<Key>, cx: &mut Context<'_>) -> Poll<()> {
        let mut st = self.lock();
        if st.closed {
            if let Some(k) = key.take() {
                st.close_watchers.remove(k);
            }
            return Poll::Ready(());
        }
        match *key {
            Some(k) => st.close_watchers.set_waker(k, cx.waker()),
            None => *key = Some(st.close_watchers.push(cx.waker())),
        }
        Poll::Pending
    }

    pub(crate) fn cancel_closed(&self, key: Key) {
        self.lock().close_watchers.remove(key);
    }

    pub(crate) fn sender_count(&self) -> usize {
        self.senders.load(Ordering::Relaxed)
    }

    pub(crate) fn receiver_count(&self) -> usize {
        self.receivers.load(Ordering::Relaxed)
    }
}

/// The operations that order items, so they need `P: Ord`.
impl<T, P: Ord> Shared<T, P> {
    /// Takes up to `max` (at least 1) items into `sink`, or parks the caller under `key`.
    ///
    /// Completes with the number taken (at least 1), or `RecvError` once the channel is closed
    /// and empty. `key` is `None` again whenever this returns `Ready`.
    pub(crate) fn poll_recv(
        &self,
        key: &mut Option<Key>,
        cx: &mut Context<'_>,
        max: usize,
        mut sink: impl FnMut(T, P),
    ) -> Poll<Result<usize, RecvError>> {
        debug_assert!(max >= 1, "callers handle a limit of 0 themselves");
        let mut wake = Wakeups::default();
        let mut st = self.lock();
        let mut claim = st.queue.len() - st.items_granted;
        if let Some(k) = *key
            && st.receivers.status(k) == Status::Granted
        {
            st.items_granted -= 1;
            claim += 1;
        }
        let take = claim.min(max);
        if take == 0 {
            if st.closed && st.queue.len() == 0 {
                if let Some(k) = key.take() {
                    st.receivers.remove(k);
                }
                return Poll::Ready(Err(RecvError));
            }
            match *key {
                Some(k) => st.receivers.set_waker(k, cx.waker()),
                None => *key = Some(st.receivers.push(cx.waker())),
            }
            return Poll::Pending;
        }
        if let Some(k) = key.take() {
            st.receivers.remove(k);
        }
        let mut taken = 0;
        while taken < take
            && let Some((item, priority)) = st.queue.pop()
        {
            sink(item, priority);
            taken += 1;
        }
        self.after_pop(&mut st, &mut wake);
        drop(st);
        wake.wake();
        Poll::Ready(Ok(taken))
    }

    /// Takes an item if one can be taken now. A receiver parked under `key` gives its place up
    /// (taking the item set aside for it, if any).
    pub(crate) fn try_recv(&self, key: Option<Key>) -> Result<(T, P), TryRecvError> {
        let mut wake = Wakeups::default();
        let mut st = self.lock();
        let mut claim = st.queue.len() - st.items_granted;
        if let Some(k) = key
            && st.receivers.remove(k) == Status::Granted
        {
            st.items_granted -= 1;
            claim += 1;
        }
        if claim > 0
            && let Some(out) = st.queue.pop()
        {
            self.after_pop(&mut st, &mut wake);
            drop(st);
            wake.wake();
            return Ok(out);
        }
        if st.closed && st.queue.len() == 0 {
            Err(TryRecvError::Closed)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    /// Acquires room for one item or parks the caller under `key`.
    ///
    /// On `Ready(Ok(guard))` the caller owns one unit of room (not counted anywhere) and must
    /// either push into the queue under the same guard or count it in `slots_reserved`.
    /// `Ready(Err(()))` means the channel is closed. `key` is `None` whenever this is `Ready`.
    ///
    /// With priority admission the caller's priority moves into the waiter list while it
    /// waits (to order it there) and is back in `priority` whenever this returns `Ready`.
    pub(crate) fn poll_room(
        &self,
        key: &mut Option<Key>,
        priority: &mut Option<P>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<MutexGuard<'_, State<T, P>>, ()>> {
        let mut st = self.lock();
        let granted = key.is_some_and(|k| st.senders.status(k) == Status::Granted);
        let ready = if st.closed {
            if granted {
                st.slots_reserved -= 1;
            }
            Err(())
        } else if granted {
            st.slots_reserved -= 1;
            Ok(())
        } else if self.has_room(&st) {
            Ok(())
        } else {
            match *key {
                Some(k) => st.senders.set_waker(k, cx.waker()),
                None if self.priority_admission && priority.is_some() => {
                    let order = priority.take();
                    *key = order.map(|p| st.senders.push_ordered(cx.waker(), p));
                }
                None => *key = Some(st.senders.push(cx.waker())),
            }
            return Poll::Pending;
        };
        if let Some(k) = key.take() {
            if let Some(p) = st.senders.take_order(k) {
                *priority = Some(p);
            }
            st.senders.remove(k);
        }
        Poll::Ready(ready.map(|()| st))
    }

    /// Pushes under a guard that owns room for the item (from [`poll_room`](Self::poll_room)
    /// or a permit), wakes a receiver if one waits, and releases the lock.
    #[inline]
    pub(crate) fn push_and_unlock(&self, mut st: MutexGuard<'_, State<T, P>>, item: T, prio: P) {
        st.queue.push(item, prio);
        if st.receivers.has_waiting() {
            let mut wake = Wakeups::default();
            Self::grant_receivers(&mut st, &mut wake);
            drop(st);
            wake.wake();
        }
    }

    pub(crate) fn try_send(&self, item: T, prio: P) -> Result<(), TrySendError<(T, P)>> {
        let st = self.lock();
        if st.closed {
            return Err(TrySendError::Closed((item, prio)));
        }
        if !self.has_room(&st) {
            return Err(TrySendError::Full((item, prio)));
        }
        self.push_and_unlock(st, item, prio);
        Ok(())
    }

    /// Sends with a slot held by a permit.
    pub(crate) fn send_reserved(&self, item: T, prio: P) -> Result<(), (T, P)> {
        let mut st = self.lock();
        st.slots_reserved -= 1;
        if st.closed {
            return Err((item, prio));
        }
        self.push_and_unlock(st, item, prio);
        Ok(())
    }
}
