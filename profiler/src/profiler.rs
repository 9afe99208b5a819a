//! The profiler handle, its builder, and probes (names resolved once).

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::clock::now_ns;
use crate::error::ProfilerError;
use crate::instrument::Instrumented;
use crate::registry::{NameId, Registry};
use crate::report::{Report, ReportKind};
use crate::shard::{Shard, with_local};
use crate::slot::{FutureSample, RawStats};
use crate::span::Span;
use crate::time::Time;

/// tokio-metrics' default: a poll this long or longer counts as slow.
pub const DEFAULT_SLOW_POLL: Duration = Duration::from_micros(50);

/// Where a measurement goes: a `&'static str` looked up through the thread's cache, or an id
/// resolved earlier by a [`Probe`].
#[derive(Clone, Copy, Debug)]
pub(crate) enum Key {
    Static(&'static str),
    Id(NameId),
}

/// What every record reads, alone on its cache lines: the `Arc` counts (bumped whenever a
/// future wrapper is created) and the locks (taken by reports and first uses) live elsewhere,
/// so recorders on other cores never see this line invalidated.
#[repr(align(128))]
pub(crate) struct Hot {
    /// Distinguishes profilers in each thread's shard list.
    pub(crate) id: u64,
    enabled: AtomicBool,
    pub(crate) slow_poll_ns: u64,
}

/// State shared by every clone of one [`Profiler`].
pub(crate) struct Shared {
    pub(crate) hot: Hot,
    pub(crate) names: Registry,
    shards: Mutex<Vec<Arc<Shard>>>,
    created_ns: u64,
    /// The cumulative reading the next [`Profiler::delta`] subtracts, and when it was taken.
    delta_base: Mutex<(u64, Vec<RawStats>)>,
}

impl Shared {
    /// Whether a new measurement should be taken: one relaxed load (and none at all without
    /// the `enabled` feature).
    #[inline]
    pub(crate) fn recording(&self) -> bool {
        cfg!(feature = "enabled") && self.hot.enabled.load(Relaxed)
    }

    /// A shard for a thread that has none yet: a free one (its old thread has exited) or a
    /// new one.
    pub(crate) fn shard_for_new_thread(&self) -> Arc<Shard> {
        let mut shards = self.shards.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(shard) = shards.iter().find(|s| s.try_adopt()) {
            return Arc::clone(shard);
        }
        let shard = Arc::new(Shard::new());
        shards.push(Arc::clone(&shard));
        shard
    }

    #[inline]
    fn with_slot(self: &Arc<Self>, key: Key, f: impl FnOnce(&crate::slot::NameSlot)) {
        with_local(self, |local| {
            let id = match key {
                Key::Static(name) => local.static_id(self, name),
                Key::Id(id) => id,
            };
            f(local.shard().slot(id));
        });
    }

    /// Records one duration.
    #[inline]
    pub(crate) fn record_ns(self: &Arc<Self>, key: Key, ns: u64) {
        self.with_slot(key, |slot| slot.record(ns));
    }

    pub(crate) fn record_future(self: &Arc<Self>, key: Key, sample: &FutureSample) {
        self.with_slot(key, |slot| slot.record_future(sample));
    }

    pub(crate) fn record_cancelled(self: &Arc<Self>, key: Key, wall: u64, busy: u64) {
        self.with_slot(key, |slot| slot.record_cancelled(wall, busy));
    }

    /// Every name's counters, merged over all shards.
    fn read(&self) -> Vec<RawStats> {
        let count = self.names.names().len();
        let mut stats = vec![RawStats::default(); count];
        // Clone the list so the lock is not held while reading (a new thread registering its
        // shard would wait on it; recorders never take it).
        let shards: Vec<Arc<Shard>> = self
            .shards
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for shard in &shards {
            shard.add_to(&mut stats);
        }
        stats
    }
}

static NEXT_PROFILER_ID: AtomicU64 = AtomicU64::new(1);

/// A registry of named timings, cheap to clone and to record into from many threads and tasks.
///
/// Each name gets count, total, min, max and a [`Histogram`](crate::Histogram) (so p50 … p99.9),
/// plus wall/busy/scheduled/idle time and poll counts for futures measured with
/// [`instrument`](Self::instrument). Recording never locks and, after a name's first use on a
/// thread, never allocates; [`report`](Self::report) reads every thread's counters without
/// stopping them.
///
/// ```
/// use asyncperf_profiler::Profiler;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let prof = Profiler::new();
/// # if !prof.is_enabled() { return; } // built without the `enabled` feature
/// let n = prof.time("compute", async { 6 * 7 }).await;
/// {
///     let _span = prof.span("parse");
///     // ... synchronous work ...
/// }
/// let report = prof.report();
/// assert_eq!(report.get("compute").unwrap().count, 1);
/// println!("{report}");
/// # assert_eq!(n, 42);
/// # }
/// ```
#[derive(Clone)]
pub struct Profiler {
    pub(crate) shared: Arc<Shared>,
}

impl Profiler {
    /// A profiler with the default settings (recording on, slow polls from
    /// [`DEFAULT_SLOW_POLL`]).
    #[must_use]
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A builder for a profiler with other settings.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Starts a guard that records the time until it is dropped under `name`.
    ///
    /// Two clock reads and one histogram update; the name is looked up in a per-thread cache
    /// keyed by the literal's address, so no hashing and no lock. The cache keeps the first 48
    /// literal names a thread uses with this profiler; for names built at run time, or a
    /// thread that uses more literal names than that, use [`probe`](Self::probe), which
    /// resolves the name once (other names take the registry's read lock on every record).
    #[inline]
    pub fn span(&self, name: &'static str) -> Span<'_> {
        Span::start(&self.shared, Key::Static(name))
    }

    /// Records `elapsed` under `name` (for durations measured elsewhere).
    #[inline]
    pub fn record(&self, name: &'static str, elapsed: Duration) {
        if self.shared.recording() {
            self.shared
                .record_ns(Key::Static(name), duration_ns(elapsed));
        }
    }

    /// Wraps `fut` to record its wall time (first poll to completion) under `name`.
    ///
    /// Cheaper than [`instrument`](Self::instrument): two clock reads in all, none per poll.
    pub fn time<F: Future>(&self, name: &'static str, fut: F) -> Time<F> {
        Time::new(Arc::clone(&self.shared), Key::Static(name), fut, false)
    }

    /// Wraps `fut` to record, under `name`, its wall time and how it splits into busy time
    /// (inside `poll`), scheduled time (woken, waiting to be polled) and idle time (waiting to
    /// be woken), with its poll count, longest poll and slow polls.
    ///
    /// A future dropped before it completes is counted apart (see
    /// [`Cancelled`](crate::report::Cancelled)) and does not enter the histogram.
    pub fn instrument<F: Future>(&self, name: &'static str, fut: F) -> Instrumented<F> {
        Instrumented::new(Arc::clone(&self.shared), Key::Static(name), fut)
    }

    /// A handle on `name` that records without looking the name up again; for names built at
    /// run time. Past [`NAME_CAPACITY`](crate::NAME_CAPACITY) names, new names share the
    /// [`OVERFLOW_NAME`](crate::OVERFLOW_NAME) entry; [`try_probe`](Self::try_probe) reports
    /// that instead.
    #[must_use]
    pub fn probe(&self, name: &str) -> Probe {
        Probe {
            shared: Arc::clone(&self.shared),
            id: self.shared.names.id_or_overflow(name),
        }
    }

    /// Like [`probe`](Self::probe), but fails instead of sharing the overflow entry.
    ///
    /// # Errors
    ///
    /// [`ProfilerError::TooManyNames`] when `name` is new and the profiler already holds
    /// [`NAME_CAPACITY`](crate::NAME_CAPACITY) names.
    pub fn try_probe(&self, name: &str) -> Result<Probe, ProfilerError> {
        Ok(Probe {
            shared: Arc::clone(&self.shared),
            id: self.shared.names.id_of(name)?,
        })
    }

    /// Turns recording on or off at run time. Spans and futures started while it is off
    /// record nothing (even if it is turned on before they end); checking costs one relaxed
    /// load. Without the `enabled` cargo feature recording is always off.
    pub fn set_enabled(&self, enabled: bool) {
        self.shared.hot.enabled.store(enabled, Relaxed);
    }

    /// Whether new measurements are recorded.
    #[must_use]
    pub fn is_enabled(&self) -> bool {
        self.shared.recording()
    }

    /// Everything recorded since the profiler was created, one entry per name, sorted by total
    /// time (largest first).
    ///
    /// Reads every thread's counters with relaxed loads and never blocks a recorder: a record
    /// in flight may show in some fields and not yet in others, and shows whole in the next
    /// report.
    #[must_use]
    pub fn report(&self) -> Report {
        let now = now_ns();
        let stats = self.shared.read();
        Report::build(
            ReportKind::Cumulative,
            now.saturating_sub(self.shared.created_ns),
            &self.shared.names.names(),
            &stats,
        )
    }

    /// What was recorded since the previous call of `delta` (or since creation): for periodic
    /// export of intervals. Minimum and maximum of an interval are estimated from its
    /// histogram (within [`RELATIVE_ERROR`](crate::histogram::RELATIVE_ERROR)).
    #[must_use]
    pub fn delta(&self) -> Report {
        let mut base = self
            .shared
            .delta_base
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let now = now_ns();
        let stats = self.shared.read();
        let empty = RawStats::default();
        let interval: Vec<RawStats> = stats
            .iter()
            .enumerate()
            .map(|(i, s)| s.since(base.1.get(i).unwrap_or(&empty)))
            .collect();
        let elapsed = now.saturating_sub(base.0);
        *base = (now, stats);
        drop(base);
        Report::build(
            ReportKind::Delta,
            elapsed,
            &self.shared.names.names(),
            &interval,
        )
    }
}

impl Default for Profiler {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Profiler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Profiler")
            .field("enabled", &self.is_enabled())
            .field("names", &self.shared.names.names().len())
            .field(
                "slow_poll",
                &Duration::from_nanos(self.shared.hot.slow_poll_ns),
            )
            .finish_non_exhaustive()
    }
}

/// Settings of a [`Profiler`].
#[derive(Clone, Debug)]
#[must_use]
pub struct Builder {
    slow_poll: Duration,
    enabled: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            slow_poll: DEFAULT_SLOW_POLL,
            enabled: true,
        }
    }
}

impl Builder {
    /// Polls at least this long count as slow (default [`DEFAULT_SLOW_POLL`], 50 µs).
    pub fn slow_poll_threshold(mut self, threshold: Duration) -> Self {
        self.slow_poll = threshold;
        self
    }

    /// Whether the profiler starts recording (default `true`); see
    /// [`Profiler::set_enabled`].
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// The profiler.
    #[must_use]
    pub fn build(self) -> Profiler {
        crate::clock::init();
        let created_ns = now_ns();
        Profiler {
            shared: Arc::new(Shared {
                hot: Hot {
                    id: NEXT_PROFILER_ID.fetch_add(1, Relaxed),
                    enabled: AtomicBool::new(self.enabled),
                    slow_poll_ns: duration_ns(self.slow_poll),
                },
                names: Registry::new(),
                shards: Mutex::new(Vec::new()),
                created_ns,
                delta_base: Mutex::new((created_ns, Vec::new())),
            }),
        }
    }
}

/// A name resolved once, for recording without looking it up again (and for names that are
/// not `&'static str`). Cheap to clone; all clones record into the same entry.
///
/// ```
/// let prof = asyncperf_profiler::Profiler::new();
/// # if !prof.is_enabled() { return; } // built without the `enabled` feature
/// let route = String::from("GET /users");
/// let probe = prof.probe(&route);
/// probe.record(std::time::Duration::from_millis(3));
/// {
///     let _span = probe.span();
/// }
/// assert_eq!(prof.report().get("GET /users").unwrap().count, 2);
/// ```
#[derive(Clone)]
pub struct Probe {
    shared: Arc<Shared>,
    id: NameId,
}

impl Probe {
    /// The name this probe records under.
    #[must_use]
    pub fn name(&self) -> Arc<str> {
        self.shared.names.name(self.id)
    }

    /// Records `elapsed`. The cheapest way in: a thread-local lookup and a few relaxed stores.
    #[inline]
    pub fn record(&self, elapsed: Duration) {
        if self.shared.recording() {
            self.shared
                .record_ns(Key::Id(self.id), duration_ns(elapsed));
        }
    }

    /// Records a future's measurements made elsewhere (for example from another tool's
    /// per-future metrics), as if [`instrument`](Self::instrument) had measured it.
    pub fn record_future(&self, timing: &FutureTiming) {
        if self.shared.recording() {
            self.shared
                .record_future(Key::Id(self.id), &timing.sample());
        }
    }

    /// Records a future that was dropped before it completed, after running for `wall` of
    /// which `busy` inside `poll`.
    pub fn record_cancelled(&self, wall: Duration, busy: Duration) {
        if self.shared.recording() {
            self.shared
                .record_cancelled(Key::Id(self.id), duration_ns(wall), duration_ns(busy));
        }
    }

    /// Starts a guard that records the time until it is dropped.
    #[inline]
    pub fn span(&self) -> Span<'_> {
        Span::start(&self.shared, Key::Id(self.id))
    }

    /// Like [`Profiler::time`], under this probe's name.
    pub fn time<F: Future>(&self, fut: F) -> Time<F> {
        Time::new(Arc::clone(&self.shared), Key::Id(self.id), fut, false)
    }

    /// Like [`Profiler::instrument`], under this probe's name.
    pub fn instrument<F: Future>(&self, fut: F) -> Instrumented<F> {
        Instrumented::new(Arc::clone(&self.shared), Key::Id(self.id), fut)
    }
}

impl fmt::Debug for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Probe")
            .field("name", &self.name())
            .finish_non_exhaustive()
    }
}

/// One future's measurements, for [`Probe::record_future`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FutureTiming {
    /// First poll to completion.
    pub wall: Duration,
    /// Time inside `poll`.
    pub busy: Duration,
    /// Time between a wake and the poll that followed it.
    pub scheduled: Duration,
    /// Time between returning `Pending` and being woken.
    pub idle: Duration,
    /// Number of polls.
    pub polls: u64,
    /// Polls at least as long as the slow-poll threshold.
    pub slow_polls: u64,
    /// The longest poll.
    pub max_poll: Duration,
}

impl FutureTiming {
    fn sample(&self) -> FutureSample {
        FutureSample {
            wall: duration_ns(self.wall),
            busy: duration_ns(self.busy),
            scheduled: duration_ns(self.scheduled),
            idle: duration_ns(self.idle),
            polls: self.polls,
            slow_polls: self.slow_polls,
            max_poll: duration_ns(self.max_poll),
        }
    }
}

/// `d` in nanoseconds, saturating at `u64::MAX` (584 years).
#[inline]
pub(crate) fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(all(test, feature = "enabled"))]
mod tests {
    use super::*;

    fn shard_count(prof: &Profiler) -> usize {
        prof.shared
            .shards
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    #[test]
    fn exited_threads_hand_their_shard_on_and_lose_nothing() {
        let prof = Profiler::new();
        for _ in 0..20 {
            let prof = prof.clone();
            std::thread::spawn(move || prof.record("churn", Duration::from_micros(1)))
                .join()
                .unwrap();
        }
        // Each thread exited before the next started: one shard, adopted 19 times.
        assert_eq!(shard_count(&prof), 1);
        assert_eq!(prof.report().get("churn").unwrap().count, 20);
    }

    #[test]
    fn a_thread_forgets_profilers_that_are_gone() {
        // Every new profiler on this thread drops the entries of dead ones; the shard of a
        // dropped profiler is freed with its last `Arc`.
        for _ in 0..100 {
            let prof = Profiler::new();
            prof.record("x", Duration::from_micros(1));
        }
        let live = crate::shard::local_entries();
        assert!(live <= 1, "{live} entries kept");
    }
}
