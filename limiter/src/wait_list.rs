//! A FIFO queue of waiters with O(1) removal from the middle, kept in a reusable slab.
//!
//! A waiter's node stays in the slab (unlinked from the queue) after it is served, until the
//! waiting future takes its outcome; so a future that is dropped after being served can still
//! find and return what it was given. Slots are reused, so after warm-up queueing allocates
//! nothing. Indices are plain `usize`s owned by exactly one future each, so there is no ABA: a
//! slot is only freed by the future that owns it.

const NIL: usize = usize::MAX;

/// Handle of one node; owned by the future that inserted it.
pub(crate) type Key = usize;

#[derive(Debug)]
enum Entry<T> {
    Vacant { next_free: usize },
    Occupied(Node<T>),
}

#[derive(Debug)]
struct Node<T> {
    value: T,
    queued: bool,
    prev: usize,
    next: usize,
}

#[derive(Debug)]
pub(crate) struct WaitList<T> {
    entries: Vec<Entry<T>>,
    free_head: usize,
    head: usize,
    tail: usize,
    queued: usize,
}

impl<T> WaitList<T> {
    pub(crate) const fn new() -> Self {
        Self {
            entries: Vec::new(),
            free_head: NIL,
            head: NIL,
            tail: NIL,
            queued: 0,
        }
    }

    /// Number of nodes still queued.
    pub(crate) fn len(&self) -> usize {
        self.queued
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.queued == 0
    }

    /// Adds `value` at the back of the queue.
    pub(crate) fn push_back(&mut self, value: T) -> Key {
        let node = Node {
            value,
            queued: true,
            prev: self.tail,
            next: NIL,
        };
        let key = if self.free_head == NIL {
            self.entries.push(Entry::Occupied(node));
            self.entries.len() - 1
        } else {
            let key = self.free_head;
            if let Entry::Vacant { next_free } = self.entries[key] {
                self.free_head = next_free;
            }
            self.entries[key] = Entry::Occupied(node);
            key
        };
        if self.tail == NIL {
            self.head = key;
        } else {
            self.node_mut(self.tail).next = key;
        }
        self.tail = key;
        self.queued += 1;
        key
    }

    /// The node at the front of the queue.
    pub(crate) fn front(&self) -> Option<Key> {
        (self.head != NIL).then_some(self.head)
    }

    /// The node queued after `key`.
    pub(crate) fn next(&self, key: Key) -> Option<Key> {
        let next = self.node(key).next;
        (next != NIL).then_some(next)
    }

    pub(crate) fn get(&self, key: Key) -> &T {
        &self.node(key).value
    }

    pub(crate) fn get_mut(&mut self, key: Key) -> &mut T {
        &mut self.node_mut(key).value
    }

    #[cfg(test)]
    pub(crate) fn is_queued(&self, key: Key) -> bool {
        self.node(key).queued
    }

    /// Takes `key` out of the queue; its node stays until [`remove`](Self::remove).
    pub(crate) fn unlink(&mut self, key: Key) {
        let (prev, next) = {
            let node = self.node_mut(key);
            if !node.queued {
                return;
            }
            node.queued = false;
            (node.prev, node.next)
        };
        if prev == NIL {
            self.head = next;
        } else {
            self.node_mut(prev).next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.node_mut(next).prev = prev;
        }
        self.queued -= 1;
    }

    /// Unlinks `key` if still queued and frees its slot.
    pub(crate) fn remove(&mut self, key: Key) -> T {
        self.unlink(key);
        let entry = std::mem::replace(
            &mut self.entries[key],
            Entry::Vacant {
                next_free: self.free_head,
            },
        );
        self.free_head = key;
        match entry {
            Entry::Occupied(node) => node.value,
            Entry::Vacant { .. } => unreachable!("wait list key {key} removed twice"),
        }
    }

    fn node(&self, key: Key) -> &Node<T> {
        match &self.entries[key] {
            Entry::Occupied(node) => node,
            Entry::Vacant { .. } => unreachable!("wait list key {key} used after removal"),
        }
    }

    fn node_mut(&mut self, key: Key) -> &mut Node<T> {
        match &mut self.entries[key] {
            Entry::Occupied(node) => node,
            Entry::Vacant { .. } => unreachable!("wait list key {key} used after removal"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::WaitList;

    fn queued(list: &WaitList<u32>) -> Vec<u32> {
        let mut out = Vec::new();
        let mut at = list.front();
        while let Some(key) = at {
            out.push(*list.get(key));
            at = list.next(key);
        }
        out
    }

    #[test]
    fn fifo_with_removal_from_the_middle_and_slot_reuse() {
        let mut list = WaitList::new();
        let a = list.push_back(1);
        let b = list.push_back(2);
        let c = list.push_back(3);
        assert_eq!(queued(&list), [1, 2, 3]);
        assert_eq!(list.remove(b), 2);
        assert_eq!(queued(&list), [1, 3]);
        list.unlink(a);
        assert!(!list.is_queued(a));
        assert_eq!(queued(&list), [3]);
        assert_eq!(list.len(), 1);
        let d = list.push_back(4);
        assert_eq!(d, b, "freed slot is reused");
        assert_eq!(queued(&list), [3, 4]);
        assert_eq!(list.remove(a), 1);
        assert_eq!(list.remove(c), 3);
        assert_eq!(list.remove(d), 4);
        assert!(list.is_empty());
        assert_eq!(list.front(), None);
    }
}
