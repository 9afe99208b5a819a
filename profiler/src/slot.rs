//! Per-thread counters of one name: written by one thread with plain loads and stores, read by any.
//!
//! # Memory ordering
//!
//! Only the thread that owns the enclosing [`Shard`](crate::shard::Shard) writes a slot, so an
//! update is a relaxed load and a relaxed store (no `lock`-prefixed read-modify-write): on x86
//! two plain `mov`s. Readers load every field with `Relaxed`; a report taken while a record is
//! in flight may see that record in some fields and not yet in others (for example in `count`
//! but not yet in its bucket). Nothing is ever lost: the next report sees it whole.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::histogram::{BUCKETS, Histogram, bucket_index};

/// The owner-only increment: a load and a store, safe because nobody else writes `a`.
#[inline]
fn bump(a: &AtomicU64, by: u64) {
    a.store(a.load(Relaxed).wrapping_add(by), Relaxed);
}

#[inline]
fn raise(a: &AtomicU64, v: u64) {
    if v > a.load(Relaxed) {
        a.store(v, Relaxed);
    }
}

#[inline]
fn lower(a: &AtomicU64, v: u64) {
    if v < a.load(Relaxed) {
        a.store(v, Relaxed);
    }
}

/// What one instrumented future measured over its life, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct FutureSample {
    pub(crate) wall: u64,
    pub(crate) busy: u64,
    pub(crate) scheduled: u64,
    pub(crate) idle: u64,
    pub(crate) polls: u64,
    pub(crate) slow_polls: u64,
    pub(crate) max_poll: u64,
}

/// The counters of one name on one thread.
pub(crate) struct NameSlot {
    count: AtomicU64,
    sum: AtomicU64,
    min: AtomicU64,
    max: AtomicU64,
    buckets: [AtomicU64; BUCKETS],
    futures: AtomicU64,
    futures_wall: AtomicU64,
    busy: AtomicU64,
    scheduled: AtomicU64,
    idle: AtomicU64,
    polls: AtomicU64,
    slow_polls: AtomicU64,
    max_poll: AtomicU64,
    cancelled: AtomicU64,
    cancelled_wall: AtomicU64,
    cancelled_busy: AtomicU64,
}

impl NameSlot {
    pub(crate) fn new() -> Self {
        Self {
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0),
            min: AtomicU64::new(u64::MAX),
            max: AtomicU64::new(0),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            futures: AtomicU64::new(0),
            futures_wall: AtomicU64::new(0),
            busy: AtomicU64::new(0),
            scheduled: AtomicU64::new(0),
            idle: AtomicU64::new(0),
            polls: AtomicU64::new(0),
            slow_polls: AtomicU64::new(0),
            max_poll: AtomicU64::new(0),
            cancelled: AtomicU64::new(0),
            cancelled_wall: AtomicU64::new(0),
            cancelled_busy: AtomicU64::new(0),
        }
    }

    /// Owner only: one duration of `ns` nanoseconds.
    #[inline]
    pub(crate) fn record(&self, ns: u64) {
        bump(&self.buckets[bucket_index(ns)], 1);
        bump(&self.count, 1);
        bump(&self.sum, ns);
        lower(&self.min, ns);
        raise(&self.max, ns);
    }

    /// Owner only: a future that completed.
    pub(crate) fn record_future(&self, s: &FutureSample) {
        self.record(s.wall);
        bump(&self.futures, 1);
        bump(&self.futures_wall, s.wall);
        bump(&self.busy, s.busy);
        bump(&self.scheduled, s.scheduled);
        bump(&self.idle, s.idle);
        bump(&self.polls, s.polls);
        bump(&self.slow_polls, s.slow_polls);
        raise(&self.max_poll, s.max_poll);
    }

    /// Owner only: a future dropped before it completed.
    pub(crate) fn record_cancelled(&self, wall: u64, busy: u64) {
        bump(&self.cancelled, 1);
        bump(&self.cancelled_wall, wall);
        bump(&self.cancelled_busy, busy);
    }

    /// Any thread: adds this slot's counters to `into`.
    pub(crate) fn add_to(&self, into: &mut RawStats) {
        into.count = into.count.wrapping_add(self.count.load(Relaxed));
        into.sum = into.sum.wrapping_add(self.sum.load(Relaxed));
        into.min = into.min.min(self.min.load(Relaxed));
        into.max = into.max.max(self.max.load(Relaxed));
        for (i, b) in self.buckets.iter().enumerate() {
            let n = b.load(Relaxed);
            if n > 0 {
                into.histogram.add_bucket(i, n);
            }
        }
        into.futures = into.futures.wrapping_add(self.futures.load(Relaxed));
        into.futures_wall = into
            .futures_wall
            .wrapping_add(self.futures_wall.load(Relaxed));
        into.busy = into.busy.wrapping_add(self.busy.load(Relaxed));
        into.scheduled = into.scheduled.wrapping_add(self.scheduled.load(Relaxed));
        into.idle = into.idle.wrapping_add(self.idle.load(Relaxed));
        into.polls = into.polls.wrapping_add(self.polls.load(Relaxed));
        into.slow_polls = into.slow_polls.wrapping_add(self.slow_polls.load(Relaxed));
        into.max_poll = into.max_poll.max(self.max_poll.load(Relaxed));
        into.cancelled = into.cancelled.wrapping_add(self.cancelled.load(Relaxed));
        into.cancelled_wall = into
            .cancelled_wall
            .wrapping_add(self.cancelled_wall.load(Relaxed));
        into.cancelled_busy = into
            .cancelled_busy
            .wrapping_add(self.cancelled_busy.load(Relaxed));
    }
}

/// The merged counters of one name (all threads), before they become a report entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RawStats {
    pub(crate) count: u64,
    pub(crate) sum: u64,
    pub(crate) min: u64,
    pub(crate) max: u64,
    pub(crate) histogram: Histogram,
    pub(crate) futures: u64,
    pub(crate) futures_wall: u64,
    pub(crate) busy: u64,
    pub(crate) scheduled: u64,
    pub(crate) idle: u64,
    pub(crate) polls: u64,
    pub(crate) slow_polls: u64,
    pub(crate) max_poll: u64,
    pub(crate) cancelled: u64,
    pub(crate) cancelled_wall: u64,
    pub(crate) cancelled_busy: u64,
}

impl Default for RawStats {
    fn default() -> Self {
        Self {
            count: 0,
            sum: 0,
            min: u64::MAX,
            max: 0,
            histogram: Histogram::new(),
            futures: 0,
            futures_wall: 0,
            busy: 0,
            scheduled: 0,
            idle: 0,
            polls: 0,
            slow_polls: 0,
            max_poll: 0,
            cancelled: 0,
            cancelled_wall: 0,
            cancelled_busy: 0,
        }
    }
}

impl RawStats {
    /// True when nothing was recorded under this name.
    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0 && self.cancelled == 0
    }

    /// What was recorded after `earlier` (a previous cumulative reading of the same name).
    ///
    /// Minimum and maximum cannot be subtracted; they come from the interval's histogram (its
    /// lowest and highest bucket), kept inside the all-time minimum and maximum. The longest
    /// poll is the all-time one.
    pub(crate) fn since(&self, earlier: &RawStats) -> RawStats {
        let histogram = self.histogram.since(&earlier.histogram);
        let (min, max) = match (histogram.min_bucket_bounds(), histogram.max_bucket_bounds()) {
            (Some((low, _)), Some((_, high))) => (
                low.clamp(self.min.min(self.max), self.max),
                high.saturating_sub(1)
                    .clamp(self.min.min(self.max), self.max),
            ),
            _ => (u64::MAX, 0),
        };
        RawStats {
            count: self.count.saturating_sub(earlier.count),
            sum: self.sum.saturating_sub(earlier.sum),
            min,
            max,
            histogram,
            futures: self.futures.saturating_sub(earlier.futures),
            futures_wall: self.futures_wall.saturating_sub(earlier.futures_wall),
            busy: self.busy.saturating_sub(earlier.busy),
            scheduled: self.scheduled.saturating_sub(earlier.scheduled),
            idle: self.idle.saturating_sub(earlier.idle),
            polls: self.polls.saturating_sub(earlier.polls),
            slow_polls: self.slow_polls.saturating_sub(earlier.slow_polls),
            max_poll: self.max_poll,
            cancelled: self.cancelled.saturating_sub(earlier.cancelled),
            cancelled_wall: self.cancelled_wall.saturating_sub(earlier.cancelled_wall),
            cancelled_busy: self.cancelled_busy.saturating_sub(earlier.cancelled_busy),
        }
    }
}
