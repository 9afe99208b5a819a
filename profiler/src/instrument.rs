//! The busy/scheduled/idle future wrapper behind `Profiler::instrument`.
//!
//! Per poll it reads the clock twice (around the inner poll) and once more in the waker, the
//! first time the future is woken after a poll: that wake time splits the gap between two polls
//! into idle (waiting for the wake) and scheduled (woken, waiting to run). All per-poll state
//! lives in the future itself; the shared profiler is touched once, at completion or drop.
//!
//! The wrapped waker needs a heap cell that outlives the future (a waker may be cloned and
//! kept anywhere). Cells come from a small per-thread pool and go back to it when the future
//! ends with no clone of its waker left, so steady-state instrumenting does not allocate.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::task::{Context, Poll, Wake, Waker};

use pin_project_lite::pin_project;

use crate::clock::now_ns;
use crate::profiler::{Key, Shared};
use crate::slot::FutureSample;

/// The waker an instrumented future hands to the future it wraps: notes when it is first
/// woken, then wakes the task's own waker.
struct WakeCell {
    /// The waker of the task polling the instrumented future (fixed for the cell's use).
    inner: Waker,
    /// Clock reading of the first wake since the last poll started; 0 = not woken.
    ///
    /// # Memory ordering
    ///
    /// Relaxed: the value is a timestamp, not a guard for other data, and the executor's own
    /// synchronisation orders the wake before the poll that reads it.
    woken_at: AtomicU64,
}

impl WakeCell {
    #[inline]
    fn note_wake(&self) {
        // Only the first wake since the poll counts; `max(1)` keeps 0 meaning "not woken".
        if self.woken_at.load(Relaxed) == 0 {
            self.woken_at.store(now_ns().max(1), Relaxed);
        }
    }
}

impl Wake for WakeCell {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.note_wake();
        self.inner.wake_by_ref();
    }
}

/// Cells kept per thread for reuse.
const POOL_CAPACITY: usize = 64;

thread_local! {
    static POOL: RefCell<Vec<Arc<WakeCell>>> = const { RefCell::new(Vec::new()) };
}

/// A cell wrapping `inner`, from the pool when it has one.
fn take_cell(inner: &Waker) -> Arc<WakeCell> {
    let pooled = POOL
        .try_with(|pool| pool.try_borrow_mut().ok()?.pop())
        .ok()
        .flatten();
    if let Some(mut cell) = pooled
        && let Some(c) = Arc::get_mut(&mut cell)
    {
        c.inner.clone_from(inner);
        *c.woken_at.get_mut() = 0;
        return cell;
    }
    Arc::new(WakeCell {
        inner: inner.clone(),
        woken_at: AtomicU64::new(0),
    })
}

/// Returns a cell to the pool if nothing else holds it (no clone of its waker is kept
/// anywhere); otherwise just lets go of it.
fn give_back(waker: Waker, mut cell: Arc<WakeCell>) {
    drop(waker);
    let Some(c) = Arc::get_mut(&mut cell) else {
        return;
    };
    // Let go of the task's waker now: a pooled cell must not keep a task alive.
    c.inner.clone_from(Waker::noop());
    let _ = POOL.try_with(|pool| {
        if let Ok(mut pool) = pool.try_borrow_mut() {
            if pool.capacity() == 0 {
                pool.reserve_exact(POOL_CAPACITY);
            }
            if pool.len() < POOL_CAPACITY {
                pool.push(cell);
            }
        }
    });
}

/// Per-future accumulators, all in nanoseconds.
#[derive(Clone, Copy, Debug, Default)]
struct Measure {
    first_poll: Option<u64>,
    last_end: u64,
    sample: FutureSample,
}

pin_project! {
    /// A future that measures the future it wraps: wall, busy, scheduled and idle time, polls,
    /// slow polls and the longest poll, recorded under its name when it completes. Made by
    /// [`Profiler::instrument`](crate::Profiler::instrument) and
    /// [`Probe::instrument`](crate::Probe::instrument).
    ///
    /// `wall = busy + scheduled + idle`, exactly. The gap between two polls is scheduled time
    /// from the first wake after the earlier poll (or its end, if the wake came during it) to
    /// the next poll, and idle time before that; a poll without a wake (a spurious poll, e.g.
    /// from `select!`) counts the whole gap as idle.
    ///
    /// Dropped before completion, it records a cancellation (wall and busy so far) instead.
    #[must_use = "futures do nothing unless polled"]
    pub struct Instrumented<F> {
        #[pin]
        fut: F,
        shared: Arc<Shared>,
        key: Key,
        active: bool,
        done: bool,
        measure: Measure,
        waker: Option<(Arc<WakeCell>, Waker)>,
    }

    impl<F> PinnedDrop for Instrumented<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some((cell, waker)) = this.waker.take() {
                give_back(waker, cell);
            }
            if *this.active && !*this.done {
                let m = &this.measure;
                let wall = m.first_poll.map_or(0, |s| now_ns().saturating_sub(s));
                this.shared.record_cancelled(*this.key, wall, m.sample.busy);
            }
        }
    }
}

impl<F> Instrumented<F> {
    pub(crate) fn new(shared: Arc<Shared>, key: Key, fut: F) -> Self {
        let active = shared.recording();
        Self {
            fut,
            shared,
            key,
            active,
            done: false,
            measure: Measure::default(),
            waker: None,
        }
    }

    /// The future this wraps.
    pub fn get_ref(&self) -> &F {
        &self.fut
    }
}

impl<F: Future> Future for Instrumented<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        if !*this.active || *this.done {
            return this.fut.poll(cx);
        }
        let m = this.measure;
        // Never before the previous poll's end: a future moved to another worker thread reads
        // another core's counter, which may lag by a few ticks. Clamping here (not only for the
        // gap) keeps `wall = busy + scheduled + idle` exact.
        let start = now_ns().max(m.last_end);
        let woken = this
            .waker
            .as_ref()
            .map_or(0, |(cell, _)| cell.woken_at.swap(0, Relaxed));
        match m.first_poll {
            None => m.first_poll = Some(start),
            Some(_) => {
                let gap_start = m.last_end;
                if woken == 0 {
                    m.sample.idle += start - gap_start;
                } else {
                    let woken = woken.clamp(gap_start, start);
                    m.sample.idle += woken - gap_start;
                    m.sample.scheduled += start - woken;
                }
            }
        }

        // Reuse the wrapped waker while the task's waker stays the same (it does for a task
        // polled by tokio), so a poll costs no allocation and no reference counting.
        let reuse = matches!(this.waker, Some((cell, _)) if cell.inner.will_wake(cx.waker()));
        if !reuse {
            if let Some((cell, waker)) = this.waker.take() {
                give_back(waker, cell);
            }
            let cell = take_cell(cx.waker());
            let waker = Waker::from(Arc::clone(&cell));
            *this.waker = Some((cell, waker));
        }
        let out = match this.waker {
            Some((_, waker)) => this.fut.poll(&mut Context::from_waker(waker)),
            None => this.fut.poll(cx),
        };

        let end = now_ns().max(start);
        let took = end - start;
        m.sample.busy += took;
        m.sample.polls += 1;
        m.sample.max_poll = m.sample.max_poll.max(took);
        if took >= this.shared.hot.slow_poll_ns {
            m.sample.slow_polls += 1;
        }
        m.last_end = end;

        if out.is_ready() {
            *this.done = true;
            m.sample.wall = end - m.first_poll.unwrap_or(start);
            // Scheduled + idle + busy add up to wall exactly; clock reads only move forward.
            this.shared.record_future(*this.key, &m.sample);
            if let Some((cell, waker)) = this.waker.take() {
                give_back(waker, cell);
            }
        }
        out
    }
}

impl<F> fmt::Debug for Instrumented<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instrumented")
            .field("key", &self.key)
            .field("active", &self.active)
            .field("polls", &self.measure.sample.polls)
            .finish_non_exhaustive()
    }
}
