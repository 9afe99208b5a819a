//! A min-queue for many distinct keys that sorts lazily (incremental quicksort) instead of
//! keeping a binary heap.
//!
//! A heap pays O(log n) dependent, unpredictable comparisons and moves on every pop. A channel's
//! backlog is mostly filled in bursts and drained in bursts, and a burst is far cheaper to sort
//! (branch-free partitioning over contiguous memory) than to pop one by one from a heap. So:
//!
//! - `front` holds the smallest entries in ascending order; `pop` takes its first one in O(1).
//!   A new entry smaller than the front's largest is inserted there (most often at the very
//!   front: urgent items leave quickly, so a backlog is mostly less urgent than new arrivals).
//! - Everything else sits in `buckets` of unsorted entries, each bucket's keys above the next
//!   one's (the smallest keys last). A push appends to the bucket its key belongs to, found by
//!   binary search over the buckets' minimums (O(log buckets), usually a handful).
//! - When the front runs dry, the first bucket is split at its median (`select_nth_unstable`)
//!   until it is small enough, then sorted; the front takes its smallest [`LEAF`] entries.
//!   Splits leave behind buckets of known ranges, so later pushes land in the right place and
//!   work done for one refill is not redone: amortized O(log n) per entry, like quicksort.
//! - A sorted first bucket that receives an entry inside its range is *broken*: it is split
//!   finely (to `2 * LEAF`) rather than sorted again whole, so interleaved sends and receives do
//!   not re-sort the backlog over and over. An entry above the whole sorted run goes to the next
//!   bucket instead, which keeps ascending keys (deadlines, aging) cheap.
//!
//! Entries are moved, never reallocated one by one: emptied bucket vectors are kept for reuse,
//! so a warm queue of bounded size stops allocating. Keys are expected to be unique (callers
//! add a sequence number); equal keys come out in an unspecified order.

use std::collections::VecDeque;

/// An item with the key it is ordered by.
#[derive(Debug)]
pub(crate) struct Entry<K, T> {
    pub(crate) key: K,
    pub(crate) item: T,
}

/// Most entries the front holds before its largest is pushed back into the first bucket.
const FRONT_MAX: usize = 64;
/// Entries the front takes from a sorted bucket at a time.
const LEAF: usize = 32;
/// Largest untouched bucket sorted whole; bigger ones are split at the median first. Large, so a
/// drained burst is mostly sorted in one go, which is the cheapest way to order it.
const SORT_MAX: usize = 4096;
/// Emptied bucket vectors kept for reuse...
const MAX_SPARE: usize = 32;
/// ...unless they grew this large (in entries): a burst far larger than usual should not pin
/// several copies of its size once it is gone. Bounded channels up to this size stay
/// allocation-free once warm; larger ones allocate a few vectors per burst, not per item.
const MAX_SPARE_CAPACITY: usize = 2 * SORT_MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    /// In no particular order. Every bucket but the first keeps its minimum at index 0.
    Unsorted,
    /// Descending (the minimum last). Only the first bucket is ever sorted.
    Sorted,
    /// Was sorted, then received an entry inside its range: split finely before sorting again.
    Broken,
}

#[derive(Debug)]
struct Bucket<K, T> {
    entries: Vec<Entry<K, T>>,
    order: Order,
}

/// A min-queue: [`pop`](Self::pop) returns the entry with the smallest key.
///
/// The thresholds are parameters only so tests can cross every boundary with few entries.
#[derive(Debug)]
pub(crate) struct SortingQueue<
    K,
    T,
    const FRONT: usize = FRONT_MAX,
    const CHUNK: usize = LEAF,
    const SORT: usize = SORT_MAX,
> {
    /// The smallest entries, ascending. Every one is smaller than every entry in a bucket.
    front: VecDeque<Entry<K, T>>,
    /// The other entries; `buckets[i]` holds keys above those of `buckets[i + 1]`, so the
    /// first bucket (smallest keys) is the last element.
    buckets: Vec<Bucket<K, T>>,
    /// Emptied bucket vectors, kept for their capacity.
    spare: Vec<Vec<Entry<K, T>>>,
}

/// Every entry of a queue, taken out to be dropped later (outside a lock).
#[derive(Debug)]
pub(crate) struct Taken<K, T> {
    _front: VecDeque<Entry<K, T>>,
    _buckets: Vec<Bucket<K, T>>,
}

impl<K, T, const FRONT: usize, const CHUNK: usize, const SORT: usize>
    SortingQueue<K, T, FRONT, CHUNK, SORT>
{
    pub(crate) const fn new() -> Self {
        Self {
            front: VecDeque::new(),
            buckets: Vec::new(),
            spare: Vec::new(),
        }
    }

    /// Every entry, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Entry<K, T>> {
        let buckets = self.buckets.iter().flat_map(|b| b.entries.iter());
        self.front.iter().chain(buckets)
    }

    /// Takes every entry out. The front keeps no capacity; the bucket vectors go with them.
    pub(crate) fn take(&mut self) -> Taken<K, T> {
        Taken {
            _front: std::mem::take(&mut self.front),
            _buckets: std::mem::take(&mut self.buckets),
        }
    }

    fn bucket(&mut self, entry: Entry<K, T>) -> Bucket<K, T> {
        let mut entries = self.spare.pop().unwrap_or_default();
        entries.push(entry);
        Bucket {
            entries,
            order: Order::Unsorted,
        }
    }

    fn recycle(&mut self, mut entries: Vec<Entry<K, T>>) {
        entries.clear();
        if self.spare.len() < MAX_SPARE && entries.capacity() <= MAX_SPARE_CAPACITY {
            self.spare.push(entries);
        }
    }
}

impl<K: Ord, T, const FRONT: usize, const CHUNK: usize, const SORT: usize>
    SortingQueue<K, T, FRONT, CHUNK, SORT>
{
    #[inline]
    pub(crate) fn push(&mut self, key: K, item: T) {
        let entry = Entry { key, item };
        let Some(first) = self.buckets.len().checked_sub(1) else {
            self.push_without_buckets(entry);
            return;
        };
        if self.front.back().is_some_and(|max| entry.key < max.key) {
            self.insert_front(entry, first);
            return;
        }
        // Buckets before `first` keep their minimum at index 0 and are never empty.
        let i = self.buckets[..first].partition_point(|b| entry.key < b.entries[0].key);
        if i == first {
            let bucket = &mut self.buckets[first];
            if bucket.order == Order::Sorted
                && bucket.entries.last().is_some_and(|min| min.key < entry.key)
            {
                if bucket.entries[0].key < entry.key {
                    self.push_above_sorted(entry, first);
                    return;
                }
                bucket.order = Order::Broken;
            }
        }
        self.buckets[i].entries.push(entry);
    }

    /// Everything is in the front (or nothing is queued): keep it there while it stays cheap.
    fn push_without_buckets(&mut self, entry: Entry<K, T>) {
        let full = self.front.len() >= FRONT;
        match (self.front.front(), self.front.back()) {
            (None, _) => self.front.push_back(entry),
            (_, Some(max)) if max.key < entry.key && !full => self.front.push_back(entry),
            (Some(min), _) if entry.key < min.key => {
                if full && let Some(max) = self.front.pop_back() {
                    let bucket = self.bucket(max);
                    self.buckets.push(bucket);
                }
                self.front.push_front(entry);
            }
            _ => {
                // Inside the front's range (or above a full front): rather than insert in the
                // middle, which a burst of sends would do again and again, hand the whole
                // front to a bucket; the next receive sorts it with everything sent meanwhile.
                let mut entries = self.spare.pop().unwrap_or_default();
                entries.extend(self.front.drain(..));
                entries.push(entry);
                self.buckets.push(Bucket {
                    entries,
                    order: Order::Unsorted,
                });
            }
        }
    }

    /// An entry below the front's largest: insert it in order, handing the largest to the
    /// first bucket if the front is full.
    fn insert_front(&mut self, entry: Entry<K, T>, first: usize) {
        if self.front.len() >= FRONT
            && let Some(max) = self.front.pop_back()
        {
            // Smaller than everything in the bucket: last place keeps a sorted one sorted.
            self.buckets[first].entries.push(max);
        }
        if self.front.front().is_none_or(|min| entry.key < min.key) {
            self.front.push_front(entry);
        } else {
            let i = self.front.partition_point(|e| e.key < entry.key);
            self.front.insert(i, entry);
        }
    }

    /// An entry above every entry of the sorted first bucket: it goes to the next bucket, whose
    /// minimum it becomes, or to a new one.
    #[cold]
    fn push_above_sorted(&mut self, entry: Entry<K, T>, first: usize) {
        if let Some(next) = first.checked_sub(1) {
            // Routing chose the first bucket, so the key is below the next bucket's minimum.
            let entries = &mut self.buckets[next].entries;
            entries.push(entry);
            let last = entries.len() - 1;
            entries.swap(0, last);
        } else {
            let bucket = self.bucket(entry);
            self.buckets.insert(first, bucket);
        }
    }

    /// The entry with the smallest key, if any.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<Entry<K, T>> {
        if self.front.is_empty() {
            self.refill();
        }
        self.front.pop_front()
    }

    /// The entry [`pop`](Self::pop) would return. Takes `&mut self`: it may sort.
    pub(crate) fn peek(&mut self) -> Option<&Entry<K, T>> {
        if self.front.is_empty() {
            self.refill();
        }
        self.front.front()
    }

    /// Moves the smallest entries of the first bucket to the (empty) front, splitting and
    /// sorting the bucket first if needed. Works in place, so a panicking `Ord` loses nothing.
    #[cold]
    fn refill(&mut self) {
        let Some(mut first) = self.buckets.len().checked_sub(1) else {
            return;
        };
        let order = self.buckets[first].order;
        if order != Order::Sorted {
            let limit = if order == Order::Broken {
                2 * CHUNK
            } else {
                SORT
            };
            while self.buckets[first].entries.len() > limit.max(1) {
                let entries = &mut self.buckets[first].entries;
                let mid = entries.len() / 2;
                // Everything from `mid` on is at least `entries[mid]`, which lands at index 0
                // of the new bucket: its minimum, as routing needs.
                entries.select_nth_unstable_by(mid, |a, b| a.key.cmp(&b.key));
                let mut upper = self.spare.pop().unwrap_or_default();
                upper.extend(self.buckets[first].entries.drain(mid..));
                let upper = Bucket {
                    entries: upper,
                    order: Order::Unsorted,
                };
                self.buckets.insert(first, upper);
                first += 1;
            }
            let bucket = &mut self.buckets[first];
            bucket.entries.sort_unstable_by(|a, b| b.key.cmp(&a.key));
            bucket.order = Order::Sorted;
        }
        let entries = &mut self.buckets[first].entries;
        let keep = entries.len().saturating_sub(CHUNK);
        self.front.extend(entries.drain(keep..).rev());
        if keep == 0
            && let Some(bucket) = self.buckets.pop()
        {
            self.recycle(bucket.entries);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    #[derive(Debug, Clone)]
    enum Op {
        Push(u32),
        Pop,
        Peek,
    }

    fn ops(prio: std::ops::Range<u32>) -> impl Strategy<Value = Vec<Op>> {
        let op = prop_oneof![
            5 => prio.prop_map(Op::Push),
            4 => Just(Op::Pop),
            1 => Just(Op::Peek),
        ];
        prop::collection::vec(op, 0..400)
    }

    /// Replays `ops` on the queue and on a `BinaryHeap` of `(priority, seq)`, which is the
    /// order the channel needs: smallest priority first, ties in send order.
    fn check<const F: usize, const C: usize, const S: usize>(ops: &[Op]) {
        let mut q = SortingQueue::<(u32, u64), u64, F, C, S>::new();
        let mut model = BinaryHeap::new();
        let mut seq = 0u64;
        for op in ops {
            match *op {
                Op::Push(p) => {
                    q.push((p, seq), seq);
                    model.push(Reverse((p, seq)));
                    seq += 1;
                }
                Op::Pop => {
                    let got = q.pop().map(|e| (e.key, e.item));
                    let want = model.pop().map(|Reverse(k)| (k, k.1));
                    assert_eq!(got, want);
                }
                Op::Peek => {
                    let got = q.peek().map(|e| e.key);
                    assert_eq!(got, model.peek().map(|r| r.0));
                }
            }
            assert_eq!(q.iter().count(), model.len());
        }
        let rest: Vec<_> = std::iter::from_fn(|| q.pop().map(|e| e.key)).collect();
        let want: Vec<_> = std::iter::from_fn(|| model.pop().map(|r| r.0)).collect();
        assert_eq!(rest, want);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Tiny thresholds: every path (front overflow, dumps, splits, broken buckets, pushes
        /// above a sorted run) runs within a few entries. Few priorities: many ties.
        #[test]
        fn tiny_thresholds_match_the_model(ops in ops(0..6)) {
            check::<4, 2, 8>(&ops);
        }

        #[test]
        fn tiny_thresholds_wide_priorities_match_the_model(ops in ops(0..u32::MAX)) {
            check::<4, 2, 8>(&ops);
        }

        #[test]
        fn odd_thresholds_match_the_model(ops in ops(0..40)) {
            check::<1, 1, 1>(&ops);
            check::<3, 5, 2>(&ops);
        }

        #[test]
        fn default_thresholds_match_the_model(ops in ops(0..1000)) {
            check::<FRONT_MAX, LEAF, SORT_MAX>(&ops);
        }
    }

    /// Bursts larger than every default threshold, in the patterns a channel sees.
    #[test]
    fn bursts_match_the_model() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rand = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u32
        };
        let n = SORT_MAX as u32 * 2 + 123;
        let mut ops = Vec::new();
        // Fill then drain; ascending (deadlines); descending; interleaved.
        ops.extend((0..n).map(|_| Op::Push(rand())));
        ops.extend((0..n).map(|_| Op::Pop));
        ops.extend((0..n).map(Op::Push));
        ops.extend((0..n / 2).flat_map(|i| [Op::Pop, Op::Push(n + i)]));
        ops.extend((0..n).map(|i| Op::Push(u32::MAX - i)));
        ops.extend((0..3 * n).flat_map(|_| [Op::Push(rand()), Op::Pop, Op::Push(rand() % 50)]));
        ops.extend((0..2 * n).map(|_| Op::Pop));
        check::<FRONT_MAX, LEAF, SORT_MAX>(&ops);
    }
}
