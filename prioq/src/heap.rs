//! A min-heap of keyed entries over `std`'s binary heap, with entries compared by key alone.
//!
//! (A 4-ary heap was measured here and lost: a pop from a deep queue touches as many cache
//! lines either way, and the 4-ary one compares more.)

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// An item ordered by its key alone.
#[derive(Debug)]
pub(crate) struct Entry<K, T> {
    pub(crate) key: K,
    pub(crate) item: T,
}

impl<K: Ord, T> Ord for Entry<K, T> {
    // Reversed: `BinaryHeap` pops its greatest element, we want the smallest key.
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        other.key.cmp(&self.key)
    }
}

impl<K: Ord, T> PartialOrd for Entry<K, T> {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<K: Ord, T> PartialEq for Entry<K, T> {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl<K: Ord, T> Eq for Entry<K, T> {}

/// A min-heap of entries: [`pop`](Self::pop) returns the entry with the smallest key.
#[derive(Debug)]
pub(crate) struct MinHeap<K, T> {
    heap: BinaryHeap<Entry<K, T>>,
}

impl<K, T> MinHeap<K, T> {
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Entry<K, T>> {
        self.heap.iter()
    }
}

impl<K: Ord, T> MinHeap<K, T> {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            heap: BinaryHeap::with_capacity(capacity),
        }
    }

    /// Takes every entry out, keeping nothing allocated.
    pub(crate) fn take(&mut self) -> Vec<Entry<K, T>> {
        std::mem::take(&mut self.heap).into_vec()
    }

    #[inline]
    pub(crate) fn push(&mut self, key: K, item: T) {
        self.heap.push(Entry { key, item });
    }

    #[inline]
    pub(crate) fn peek(&self) -> Option<&Entry<K, T>> {
        self.heap.peek()
    }

    #[inline]
    pub(crate) fn pop(&mut self) -> Option<Entry<K, T>> {
        self.heap.pop()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_key_order() {
        let mut heap = MinHeap::with_capacity(0);
        let mut x: u32 = 12345;
        let mut keys = Vec::new();
        for i in 0..1000u32 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let key = (x >> 16) % 97;
            keys.push((key, i));
            heap.push((key, i), i);
            if i % 3 == 0 {
                let min = *keys.iter().min().unwrap();
                keys.retain(|k| *k != min);
                let e = heap.pop().unwrap();
                assert_eq!(e.key, min);
                assert_eq!(e.item, min.1);
            }
        }
        keys.sort_unstable();
        let rest: Vec<_> = std::iter::from_fn(|| heap.pop().map(|e| e.key)).collect();
        assert_eq!(rest, keys);
        assert!(heap.peek().is_none());
    }
}
