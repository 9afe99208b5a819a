//! The queued items in delivery order: smallest priority first, send order among equals.
//!
//! Strict order keeps one FIFO run per distinct priority ([`Runs`]) while few distinct
//! priorities are queued, and spills into a lazily sorted queue ([`SortingQueue`]) keyed by
//! `(priority, sequence)` when there are many, until the queue is empty again; the sequence
//! number makes ties FIFO. Aging uses a sorting queue keyed by `(deadline, priority, sequence)`.
//! In levels mode each rank below the level count gets its own FIFO bucket (found in O(1)
//! through an occupancy bitmask) and only larger ranks go to the sorting queue.

use std::collections::{BTreeMap, VecDeque};

use crate::runs::{Run, Runs};
use crate::sorting::{SortingQueue, Taken};

/// After spilling, strict order stays in the sorting queue for at least this many sends (and until the
/// queue is empty), so a workload with many distinct priorities and a shallow queue does not
/// rebuild runs and spill them again every time the queue drains.
pub(crate) const SPILL_HOLD: u64 = 4096;

/// How items are ordered, fixed when the channel is built.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Order<P> {
    /// Strict priority, FIFO among equals.
    Strict,
    /// Earliest virtual deadline: `sequence + window * rank(priority)`.
    Aging { window: u64, rank: RankFn<P> },
    /// Strict priority; ranks below `count` (at most 64) in O(1) buckets.
    Levels { count: u8, rank: RankFn<P> },
}

/// One FIFO bucket per rank below the level count.
type Buckets<T, P> = Box<[VecDeque<(T, P)>]>;

/// Maps a priority to its [`Rank`](crate::Rank).
type RankFn<P> = fn(&P) -> u64;

/// Strict order: `(priority, sequence)`.
type StrictQueue<T, P> = SortingQueue<(P, u64), T>;

/// Aging: `(deadline, priority, sequence)`.
type AgingQueue<T, P> = SortingQueue<(u64, P, u64), T>;

#[derive(Debug)]
struct Levels<T, P> {
    buckets: Buckets<T, P>,
    /// Bit `i` set when `buckets[i]` is not empty.
    occupied: u64,
    rank: RankFn<P>,
}

/// Items taken out of a queue, to be dropped after the lock is released.
#[derive(Debug)]
pub(crate) struct Drained<T, P> {
    _heap: Taken<(P, u64), T>,
    _aged: Taken<(u64, P, u64), T>,
    _buckets: Option<Buckets<T, P>>,
    _runs: Vec<Run<T, P>>,
}

/// Where a queue keeps its items now. One tag read tells `push` and `pop` which store to use,
/// without touching the others' memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Store {
    /// Strict order, few distinct priorities: FIFO runs.
    Runs,
    /// Strict order, many distinct priorities: the sorting queue, until the queue is empty
    /// again and `seq` has reached `spilled_until`.
    Spilled,
    /// Aging: the aging sorting queue.
    Aging,
    /// Levels: buckets, and the sorting queue for larger ranks.
    Levels,
}

/// `repr(C)`, hot fields first: the channel's lock word, its counters and this header share a
/// cache line, so an operation that crosses cores moves as few lines as possible.
#[derive(Debug)]
#[repr(C)]
pub(crate) struct Queue<T, P> {
    len: usize,
    seq: u64,
    store: Store,
    spilled_until: u64,
    /// Strict order (spilled) and levels mode (ranks without a bucket).
    heap: StrictQueue<T, P>,
    /// Strict order (not spilled).
    runs: Runs<T, P>,
    levels: Option<Levels<T, P>>,
    aging: Option<(u64, RankFn<P>)>,
    /// Aging only.
    aged: AgingQueue<T, P>,
}

impl<T, P> Queue<T, P> {
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn next_seq(&mut self) -> u64 {
        let seq = self.seq;
        self.seq += 1;
        seq
    }
}

impl<T, P: Ord> Queue<T, P> {
    /// Every store grows once and keeps its capacity, so a bounded channel stops allocating
    /// once warm.
    pub(crate) fn new(order: Order<P>) -> Self {
        let (store, aging, levels) = match order {
            Order::Strict => (Store::Runs, None, None),
            Order::Aging { window, rank } => (Store::Aging, Some((window, rank)), None),
            Order::Levels { count, rank } => {
                let buckets = (0..count).map(|_| VecDeque::new()).collect();
                let levels = Levels {
                    buckets,
                    occupied: 0,
                    rank,
                };
                (Store::Levels, None, Some(levels))
            }
        };
        Self {
            len: 0,
            seq: 0,
            store,
            spilled_until: 0,
            heap: SortingQueue::new(),
            runs: Runs::new(),
            levels,
            aging,
            aged: SortingQueue::new(),
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, item: T, priority: P) {
        self.len += 1;
        match self.store {
            Store::Runs => {
                if let Err((item, priority)) = self.runs.push(item, priority) {
                    self.spill();
                    self.push_sorted(item, priority);
                }
            }
            Store::Spilled => self.push_sorted(item, priority),
            Store::Aging => {
                if let Some((window, rank)) = self.aging {
                    let seq = self.next_seq();
                    let deadline = seq.saturating_add(window.saturating_mul(rank(&priority)));
                    self.aged.push((deadline, priority, seq), item);
                }
            }
            Store::Levels => {
                if let Some(levels) = &mut self.levels {
                    // `try_from`, not `as`: on 32-bit targets a large rank must not wrap into a
                    // bucket.
                    let rank = usize::try_from((levels.rank)(&priority)).unwrap_or(usize::MAX);
                    if let Some(bucket) = levels.buckets.get_mut(rank) {
                        bucket.push_back((item, priority));
                        levels.occupied |= 1 << rank;
                        return;
                    }
                }
                self.push_sorted(item, priority);
            }
        }
    }

    #[inline]
    fn push_sorted(&mut self, item: T, priority: P) {
        let seq = self.next_seq();
        self.heap.push((priority, seq), item);
    }

    /// Moves every run into the sorting queue, in FIFO order within each priority.
    #[cold]
    fn spill(&mut self) {
        let mut taken = self.runs.take();
        for mut run in taken.drain(..) {
            for (item, priority) in run.drain(..) {
                self.push_sorted(item, priority);
            }
            self.runs.recycle(run);
        }
        self.runs.restore(taken);
        self.store = Store::Spilled;
        self.spilled_until = self.seq.saturating_add(SPILL_HOLD);
    }

    #[inline]
    pub(crate) fn pop(&mut self) -> Option<(T, P)> {
        match self.store {
            Store::Runs => {
                let out = self.runs.pop();
                self.len -= usize::from(out.is_some());
                out
            }
            Store::Aging => {
                let e = self.aged.pop()?;
                self.len -= 1;
                Some((e.item, e.key.1))
            }
            Store::Levels => {
                if let Some(levels) = &mut self.levels
                    && levels.occupied != 0
                {
                    let rank = levels.occupied.trailing_zeros() as usize;
                    let bucket = &mut levels.buckets[rank];
                    let out = bucket.pop_front();
                    if bucket.is_empty() {
                        levels.occupied &= !(1 << rank);
                    }
                    self.len -= 1;
                    return out;
                }
                let e = self.heap.pop()?;
                self.len -= 1;
                Some((e.item, e.key.0))
            }
            Store::Spilled => {
                let e = self.heap.pop()?;
                self.len -= 1;
                if self.len == 0 && self.seq >= self.spilled_until {
                    self.store = Store::Runs;
                }
                Some((e.item, e.key.0))
            }
        }
    }

    /// The priority [`pop`](Self::pop) would return next.
    pub(crate) fn peek_priority(&mut self) -> Option<&P> {
        match self.store {
            Store::Runs => self.runs.peek_priority(),
            Store::Aging => self.aged.peek().map(|e| &e.key.1),
            Store::Levels
                if let Some(levels) = &self.levels
                    && levels.occupied != 0 =>
            {
                let rank = levels.occupied.trailing_zeros() as usize;
                levels.buckets[rank].front().map(|(_, p)| p)
            }
            Store::Levels | Store::Spilled => self.heap.peek().map(|e| &e.key.0),
        }
    }

    /// Items queued at `priority`: O(log k) in runs, O(1) for a levels bucket, else a scan of
    /// the sorting queue.
    pub(crate) fn len_of(&self, priority: &P) -> usize {
        if self.store == Store::Runs {
            return self.runs.len_of(priority);
        }
        if let Some(levels) = &self.levels
            && let Ok(rank) = usize::try_from((levels.rank)(priority))
            && let Some(bucket) = levels.buckets.get(rank)
        {
            return bucket.len();
        }
        let in_heap = self.heap.iter().filter(|e| e.key.0 == *priority).count();
        in_heap + self.aged.iter().filter(|e| e.key.1 == *priority).count()
    }

    /// Queued items per priority, smallest priority first.
    pub(crate) fn lengths(&self) -> BTreeMap<P, usize>
    where
        P: Clone,
    {
        let mut out = BTreeMap::new();
        for (p, n) in self.runs.iter_counts() {
            out.insert(p.clone(), n);
        }
        if let Some(levels) = &self.levels {
            for bucket in &levels.buckets {
                if let Some((_, p)) = bucket.front() {
                    out.insert(p.clone(), bucket.len());
                }
            }
        }
        for p in self.heap.iter().map(|e| &e.key.0) {
            *out.entry(p.clone()).or_insert(0) += 1;
        }
        for p in self.aged.iter().map(|e| &e.key.1) {
            *out.entry(p.clone()).or_insert(0) += 1;
        }
        out
    }

    /// Removes every item without dropping any: the caller drops them outside the lock.
    pub(crate) fn drain(&mut self) -> Drained<T, P> {
        self.len = 0;
        if self.store == Store::Spilled {
            self.store = Store::Runs;
        }
        let buckets = self.levels.as_mut().map(|levels| {
            levels.occupied = 0;
            let empty = (0..levels.buckets.len()).map(|_| VecDeque::new()).collect();
            std::mem::replace(&mut levels.buckets, empty)
        });
        Drained {
            _heap: self.heap.take(),
            _aged: self.aged.take(),
            _buckets: buckets,
            _runs: self.runs.take(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rank::Rank;
    use proptest::prelude::*;
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    /// Replays pushes (`Some(priority)`) and pops (`None`) on a strict queue and on a
    /// `BinaryHeap` of `(priority, seq)`; returns how often the queue switched storage.
    fn replay_strict(ops: &[Option<u32>]) -> usize {
        let mut q = Queue::new(Order::Strict);
        let mut model = BinaryHeap::new();
        let mut switches = 0;
        for (seq, op) in ops.iter().enumerate() {
            let was_spilled = q.store == Store::Spilled;
            match *op {
                Some(p) => {
                    q.push(seq, p);
                    model.push(Reverse((p, seq)));
                }
                None => {
                    let want = model.pop().map(|Reverse((p, seq))| (seq, p));
                    assert_eq!(q.pop(), want);
                }
            }
            switches += usize::from(was_spilled != (q.store == Store::Spilled));
            assert_eq!(q.len(), model.len());
            assert_eq!(q.peek_priority(), model.peek().map(|r| &r.0.0));
        }
        switches
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Around the spill boundary: priorities from ranges that stay under, cross, and go far
        /// beyond `MAX_RUNS` distinct values, many of them equal.
        #[test]
        fn strict_matches_the_model(
            range in prop_oneof![Just(4u32), Just(40), Just(1000), Just(u32::MAX)],
            ops in prop::collection::vec(prop::option::weighted(0.55, any::<u32>()), 0..600),
        ) {
            let ops: Vec<_> = ops.into_iter().map(|op| op.map(|p| p % range)).collect();
            replay_strict(&ops);
        }
    }

    /// Long enough to spill, hold, drain, switch back to runs and spill again, several times.
    #[test]
    fn strict_matches_the_model_across_switches() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut rand = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut ops = Vec::new();
        for round in 0..6u64 {
            // A burst of many distinct priorities (spills), drained; then a stretch of few
            // priorities and a shallow queue (held in the sorting queue, then back to runs).
            let wide = 100 + round * 300;
            ops.extend((0..wide).map(|_| Some(rand() as u32)));
            ops.extend((0..wide).map(|_| None));
            for _ in 0..SPILL_HOLD / 2 {
                ops.push(Some((rand() % 5) as u32));
                ops.push(Some((rand() % 5) as u32));
                ops.push(None);
                ops.push(None);
            }
        }
        assert!(
            replay_strict(&ops) >= 6,
            "spilled and came back more than once"
        );
    }

    fn drain_all<P: Ord>(q: &mut Queue<u32, P>) -> Vec<u32> {
        std::iter::from_fn(|| q.pop().map(|(t, _)| t)).collect()
    }

    #[test]
    fn strict_is_min_first_and_fifo_among_equals() {
        let mut q = Queue::new(Order::Strict);
        for (i, p) in [3u8, 1, 3, 0, 1, 3].into_iter().enumerate() {
            q.push(i as u32, p);
        }
        assert_eq!(q.len(), 6);
        assert_eq!(q.peek_priority(), Some(&0));
        assert_eq!(q.len_of(&3), 3);
        assert_eq!(drain_all(&mut q), [3, 1, 4, 0, 2, 5]);
    }

    #[test]
    fn strict_spills_to_the_heap_with_many_priorities_and_comes_back_when_empty() {
        let mut q = Queue::new(Order::Strict);
        let n = crate::runs::MAX_RUNS as u32 * 3;
        // Every priority twice, interleaved: ties must stay FIFO across the spill.
        let sends: Vec<(u32, u32)> = (0..2 * n).map(|i| (i, (i * 7) % n)).collect();
        for &(item, p) in &sends {
            q.push(item, p);
        }
        assert_eq!(q.store, Store::Spilled);
        assert_eq!(q.len_of(&5), 2);
        let mut want = sends.clone();
        want.sort_by_key(|&(item, p)| (p, item));
        let got: Vec<u32> = drain_all(&mut q);
        assert_eq!(got, want.iter().map(|&(i, _)| i).collect::<Vec<_>>());
        assert_eq!(q.store, Store::Spilled, "held there for a while");
        for i in 0..SPILL_HOLD as u32 {
            q.push(i, i % 3);
            assert_eq!(q.pop(), Some((i, i % 3)));
        }
        assert_eq!(
            q.store,
            Store::Runs,
            "back to runs once held long enough and empty"
        );
        q.push(1, 1);
        q.push(0, 0);
        assert_eq!(drain_all(&mut q), [0, 1]);
    }

    #[test]
    fn levels_match_strict_including_overflow_heap() {
        let order = Order::Levels {
            count: 4,
            rank: <u8 as Rank>::rank,
        };
        let mut q = Queue::new(order);
        let prios = [9u8, 1, 3, 0, 1, 9, 5, 3, 0];
        for (i, p) in prios.into_iter().enumerate() {
            q.push(i as u32, p);
        }
        assert_eq!(q.len_of(&1), 2);
        assert_eq!(q.len_of(&9), 2);
        let lengths: Vec<_> = q.lengths().into_iter().collect();
        assert_eq!(lengths, [(0, 2), (1, 2), (3, 2), (5, 1), (9, 2)]);
        assert_eq!(drain_all(&mut q), [3, 8, 1, 4, 2, 7, 6, 0, 5]);
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn aging_bounds_overtaking() {
        // Window 2: an item of rank 3 is overtaken by at most 2 * 3 later sends.
        let order = Order::Aging {
            window: 2,
            rank: <u8 as Rank>::rank,
        };
        let mut q = Queue::new(order);
        q.push(100, 3);
        for i in 0..10 {
            q.push(i, 0);
        }
        let out = drain_all(&mut q);
        let pos = out.iter().position(|&x| x == 100).unwrap();
        assert!(pos <= 6, "{out:?}");
        assert!(pos >= 5, "strict priority within the window: {out:?}");
    }
}
