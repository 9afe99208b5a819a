//! A FIFO list of parked tasks kept in a slab, so parking allocates nothing after warm-up.
//!
//! Each waiting future owns one [`Key`] until it completes or is dropped, and must give it back
//! with [`WaitList::remove`]. A waiter is either `Waiting` (linked, in arrival order) or
//! `Granted` (unlinked: a resource — an item or a free slot — has been set aside for it and it
//! has been woken). Keys are never reused while their owner holds them, so no generation counter
//! is needed.

use std::task::Waker;

/// Identifies one parked future in a [`WaitList`].
pub(crate) type Key = usize;

const NIL: usize = usize::MAX;

/// Where a parked future stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// Linked in the list, waiting for its turn.
    Waiting,
    /// Unlinked; the resource it waited for is reserved for it.
    Granted,
}

#[derive(Debug)]
struct Slot<K> {
    waker: Option<Waker>,
    /// The waiter's place in an ordered list ([`WaitList::push_ordered`]).
    key: Option<K>,
    status: Status,
    prev: usize,
    /// Next linked waiter, or the next free slot while this slot is free.
    next: usize,
}

/// Parked futures in arrival order, or ordered by a key (FIFO among equal keys).
/// `repr(C)`, `head` first: [`has_waiting`](Self::has_waiting) runs on every send and receive.
#[derive(Debug)]
#[repr(C)]
pub(crate) struct WaitList<K = ()> {
    head: usize,
    tail: usize,
    free: usize,
    slots: Vec<Slot<K>>,
}

impl<K> WaitList<K> {
    pub(crate) const fn new() -> Self {
        Self {
            slots: Vec::new(),
            head: NIL,
            tail: NIL,
            free: NIL,
        }
    }

    /// True while at least one future is linked (waiting, not granted).
    pub(crate) fn has_waiting(&self) -> bool {
        self.head != NIL
    }

    /// Parks a new waiter at the back of the list.
    pub(crate) fn push(&mut self, waker: &Waker) -> Key {
        self.insert_after(self.tail, waker, None)
    }

    /// Parks a new waiter behind every waiter whose key is not greater than `order`.
    pub(crate) fn push_ordered(&mut self, waker: &Waker, order: K) -> Key
    where
        K: Ord,
    {
        let mut after = self.tail;
        while after != NIL && self.slots[after].key.as_ref().is_some_and(|k| *k > order) {
            after = self.slots[after].prev;
        }
        self.insert_after(after, waker, Some(order))
    }

    /// Links a new slot after `prev` (`NIL`: at the head).
    fn insert_after(&mut self, prev: usize, waker: &Waker, order: Option<K>) -> Key {
        let next = if prev == NIL {
            self.head
        } else {
            self.slots[prev].next
        };
        let slot = Slot {
            waker: Some(waker.clone()),
            key: order,
            status: Status::Waiting,
            prev,
            next,
        };
        let key = if self.free == NIL {
            self.slots.push(slot);
            self.slots.len() - 1
        } else {
            let key = self.free;
            self.free = self.slots[key].next;
            self.slots[key] = slot;
            key
        };
        if prev == NIL {
            self.head = key;
        } else {
            self.slots[prev].next = key;
        }
        if next == NIL {
            self.tail = key;
        } else {
            self.slots[next].prev = key;
        }
        key
    }

    /// Takes back the key a waiter was ordered by.
    pub(crate) fn take_order(&mut self, key: Key) -> Option<K> {
        self.slots[key].key.take()
    }

    pub(crate) fn status(&self, key: Key) -> Status {
        self.slots[key].status
    }

    /// Replaces the stored waker unless it would wake the same task.
    pub(crate) fn set_waker(&mut self, key: Key, waker: &Waker) {
        match &mut self.slots[key].waker {
            Some(old) if old.will_wake(waker) => {}
            slot => *slot = Some(waker.clone()),
        }
    }

    /// Gives the slot back; returns the status it had so the caller can pass a grant on.
    pub(crate) fn remove(&mut self, key: Key) -> Status {
        let status = self.slots[key].status;
        if status == Status::Waiting {
            self.unlink(key);
        }
        let slot = &mut self.slots[key];
        slot.waker = None;
        slot.key = None;
        slot.next = self.free;
        self.free = key;
        status
    }

    /// Grants the longest-waiting future; returns its waker (`Some(None)` if it is already awake
    /// because [`wake_all`](Self::wake_all) took its waker), or `None` if nobody waits.
    pub(crate) fn grant_first(&mut self) -> Option<Option<Waker>> {
        let key = self.head;
        if key == NIL {
            return None;
        }
        self.unlink(key);
        let slot = &mut self.slots[key];
        slot.status = Status::Granted;
        Some(slot.waker.take())
    }

    /// Wakes every waiting future without granting anything; they stay linked, in order.
    pub(crate) fn wake_all(&mut self, out: &mut Wakeups) {
        let mut key = self.head;
        while key != NIL {
            let slot = &mut self.slots[key];
            if let Some(waker) = slot.waker.take() {
                out.push(waker);
            }
            key = slot.next;
        }
    }

    fn unlink(&mut self, key: Key) {
        let Slot { prev, next, .. } = self.slots[key];
        if prev == NIL {
            self.head = next;
        } else {
            self.slots[prev].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.slots[next].prev = prev;
        }
    }
}

/// Wakers collected under the lock and woken after it is released.
///
/// Most operations wake at most one task; the inline slot covers that without allocating.
#[derive(Debug, Default)]
pub(crate) struct Wakeups {
    one: Option<Waker>,
    more: Vec<Waker>,
}

impl Wakeups {
    pub(crate) fn push(&mut self, waker: Waker) {
        if self.one.is_none() {
            self.one = Some(waker);
        } else {
            self.more.push(waker);
        }
    }

    pub(crate) fn push_granted(&mut self, granted: Option<Waker>) {
        if let Some(waker) = granted {
            self.push(waker);
        }
    }

    /// Wakes everything collected. Call with no lock held.
    ///
    /// Inlined with an early return: most operations wake nobody, and then this costs one
    /// test instead of a call that drops an empty vector.
    #[inline]
    pub(crate) fn wake(self) {
        let Some(waker) = self.one else {
            return; // `more` fills only after `one`
        };
        waker.wake();
        Self::wake_more(self.more);
    }

    fn wake_more(more: Vec<Waker>) {
        for waker in more {
            waker.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    #[test]
    fn grants_in_arrival_order_and_reuses_slots() {
        let mut list = WaitList::<()>::new();
        let w = Waker::noop();
        let a = list.push(w);
        let b = list.push(w);
        let c = list.push(w);
        assert_eq!(list.remove(b), Status::Waiting);
        assert!(list.grant_first().is_some());
        assert_eq!(list.status(a), Status::Granted);
        assert_eq!(list.status(c), Status::Waiting);
        let d = list.push(w);
        assert_eq!(d, b, "freed slot reused");
        assert!(list.grant_first().is_some());
        assert_eq!(list.status(c), Status::Granted);
        assert!(list.grant_first().is_some());
        assert_eq!(list.status(d), Status::Granted);
        assert!(list.grant_first().is_none());
        assert!(!list.has_waiting());
        for k in [a, c, d] {
            assert_eq!(list.remove(k), Status::Granted);
        }
    }

    #[test]
    fn ordered_waiters_are_granted_by_key_then_arrival() {
        let mut list = WaitList::new();
        let w = Waker::noop();
        let keys: Vec<(Key, u8)> = [3u8, 1, 2, 1, 3, 0]
            .into_iter()
            .map(|k| (list.push_ordered(w, k), k))
            .collect();
        let mut granted = Vec::new();
        while list.grant_first().is_some() {
            let (k, order) = keys
                .iter()
                .copied()
                .find(|&(k, _)| {
                    list.status(k) == Status::Granted && !granted.iter().any(|&(g, _)| g == k)
                })
                .unwrap();
            granted.push((k, order));
        }
        let orders: Vec<u8> = granted.iter().map(|&(_, o)| o).collect();
        assert_eq!(orders, [0, 1, 1, 2, 3, 3]);
        // FIFO among equal keys: the first `1` pushed is granted first.
        assert_eq!(granted[1].0, keys[1].0);
        assert_eq!(list.take_order(keys[0].0), Some(3));
    }

    #[test]
    fn wake_all_keeps_waiters_linked() {
        let mut list = WaitList::<()>::new();
        let a = list.push(Waker::noop());
        let mut out = Wakeups::default();
        list.wake_all(&mut out);
        assert!(out.one.is_some());
        assert_eq!(list.status(a), Status::Waiting);
        assert!(matches!(list.grant_first(), Some(None)));
    }
}
