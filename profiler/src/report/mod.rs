//! Reports: per-name statistics read from a profiler, as a table, JSON or Prometheus text.

mod json;
mod prometheus;
mod text;

use std::sync::Arc;
use std::time::Duration;

use crate::histogram::Histogram;
use crate::slot::RawStats;

pub use json::SCHEMA_VERSION;
pub use prometheus::DEFAULT_PREFIX;

/// Whether a report covers everything since the profiler was created or one interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum ReportKind {
    /// From [`Profiler::report`](crate::Profiler::report): since the profiler was created.
    Cumulative,
    /// From [`Profiler::delta`](crate::Profiler::delta): since the previous delta.
    Delta,
}

/// Statistics of every name that recorded something, as one table.
///
/// `Display` prints the text table (in the report's current order, see
/// [`sort_by`](Self::sort_by)); [`to_json`](Self::to_json) and
/// [`to_prometheus`](Self::to_prometheus) give the other formats.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Report {
    /// The JSON schema version this report is written with ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// Cumulative or one interval.
    pub kind: ReportKind,
    /// The time the report covers, in nanoseconds.
    pub elapsed_ns: u64,
    /// The clock the measurements were read from.
    pub clock: String,
    /// One entry per name with something recorded.
    pub entries: Vec<Entry>,
}

/// Statistics of one name. Durations are in nanoseconds (`*_ns`), with `Duration` accessors.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Entry {
    /// The name.
    pub name: String,
    /// Completed measurements (spans, records, futures that completed).
    pub count: u64,
    /// Their summed duration.
    pub total_ns: u64,
    /// `total_ns / count` (0 when `count` is 0).
    pub mean_ns: u64,
    /// The shortest (0 when `count` is 0).
    pub min_ns: u64,
    /// The longest.
    pub max_ns: u64,
    /// Median, from the histogram (within [`RELATIVE_ERROR`](crate::histogram::RELATIVE_ERROR)).
    pub p50_ns: u64,
    /// 90th percentile.
    pub p90_ns: u64,
    /// 99th percentile.
    pub p99_ns: u64,
    /// 99.9th percentile.
    pub p999_ns: u64,
    /// Futures measured with `instrument` that completed (`None` when there were none).
    pub futures: Option<Futures>,
    /// Futures dropped before they completed (by `time` or `instrument`).
    pub cancelled: Cancelled,
    /// The distribution of the completed durations.
    pub histogram: Histogram,
}

/// How the completed instrumented futures of one name spent their time (nanoseconds).
///
/// `wall_ns = busy_ns + scheduled_ns + idle_ns`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Futures {
    /// How many completed.
    pub completed: u64,
    /// Their summed wall time, first poll to completion.
    pub wall_ns: u64,
    /// Time inside `poll`, including anything blocking or preempting the thread there.
    pub busy_ns: u64,
    /// Time from a wake to the next poll (run-queue delay).
    pub scheduled_ns: u64,
    /// Time from returning `Pending` to the wake (awaiting I/O, timers, other tasks).
    pub idle_ns: u64,
    /// Polls.
    pub polls: u64,
    /// Polls at or above the profiler's slow-poll threshold.
    pub slow_polls: u64,
    /// The longest single poll (in a delta report: the longest since the profiler started).
    pub max_poll_ns: u64,
}

/// Futures of one name dropped before they completed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Cancelled {
    /// How many.
    pub count: u64,
    /// Their summed wall time, first poll to drop.
    pub wall_ns: u64,
    /// Their summed time inside `poll` (0 for `time`, which does not measure it).
    pub busy_ns: u64,
}

/// The column a [`Report`] is sorted by. Names break ties; [`Name`](Self::Name) sorts
/// alphabetically, every other key largest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum SortBy {
    /// Total time (the default).
    #[default]
    Total,
    /// Count.
    Count,
    /// Mean.
    Mean,
    /// 99th percentile.
    P99,
    /// Maximum.
    Max,
    /// Busy time of instrumented futures.
    Busy,
    /// Name, A to Z.
    Name,
}

impl Report {
    pub(crate) fn build(
        kind: ReportKind,
        elapsed_ns: u64,
        names: &[Arc<str>],
        stats: &[RawStats],
    ) -> Self {
        let entries = names
            .iter()
            .zip(stats)
            .filter(|(_, s)| !s.is_empty())
            .map(|(name, s)| Entry::from_raw(name, s))
            .collect();
        let mut report = Self {
            schema_version: SCHEMA_VERSION,
            kind,
            elapsed_ns,
            clock: crate::clock::CLOCK_NAME.to_owned(),
            entries,
        };
        report.sort_by(SortBy::Total);
        report
    }

    /// A report of the given entries (for tests, merging reports of several processes, or
    /// rendering statistics gathered elsewhere). Kept in the given order.
    #[must_use]
    pub fn from_entries(kind: ReportKind, elapsed: Duration, entries: Vec<Entry>) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            kind,
            elapsed_ns: crate::profiler::duration_ns(elapsed),
            clock: crate::clock::CLOCK_NAME.to_owned(),
            entries,
        }
    }

    /// The entry of `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// Sorts the entries by `key` (see [`SortBy`]).
    pub fn sort_by(&mut self, key: SortBy) {
        let busy = |e: &Entry| e.futures.map_or(0, |f| f.busy_ns);
        self.entries.sort_by(|a, b| {
            let by = match key {
                SortBy::Total => b.total_ns.cmp(&a.total_ns),
                SortBy::Count => b.count.cmp(&a.count),
                SortBy::Mean => b.mean_ns.cmp(&a.mean_ns),
                SortBy::P99 => b.p99_ns.cmp(&a.p99_ns),
                SortBy::Max => b.max_ns.cmp(&a.max_ns),
                SortBy::Busy => busy(b).cmp(&busy(a)),
                SortBy::Name => std::cmp::Ordering::Equal,
            };
            by.then_with(|| a.name.cmp(&b.name))
        });
    }

    /// This report sorted by `key`.
    #[must_use]
    pub fn sorted(mut self, key: SortBy) -> Self {
        self.sort_by(key);
        self
    }

    /// The time the report covers.
    #[must_use]
    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.elapsed_ns)
    }
}

impl Entry {
    fn from_raw(name: &str, s: &RawStats) -> Self {
        let q = |q: f64| {
            s.histogram
                .quantile(q)
                .map_or(0, |v| v.clamp(s.min.min(s.max), s.max))
        };
        let futures = (s.futures > 0).then_some(Futures {
            completed: s.futures,
            wall_ns: s.futures_wall,
            busy_ns: s.busy,
            scheduled_ns: s.scheduled,
            idle_ns: s.idle,
            polls: s.polls,
            slow_polls: s.slow_polls,
            max_poll_ns: s.max_poll,
        });
        Self {
            name: name.to_owned(),
            count: s.count,
            total_ns: s.sum,
            mean_ns: s.sum.checked_div(s.count).unwrap_or(0),
            min_ns: if s.count == 0 { 0 } else { s.min },
            max_ns: s.max,
            p50_ns: q(0.5),
            p90_ns: q(0.9),
            p99_ns: q(0.99),
            p999_ns: q(0.999),
            futures,
            cancelled: Cancelled {
                count: s.cancelled,
                wall_ns: s.cancelled_wall,
                busy_ns: s.cancelled_busy,
            },
            histogram: s.histogram.clone(),
        }
    }

    /// An entry computed from a histogram of completed durations (count, total, min, max and
    /// percentiles all from the histogram; total from bucket midpoints), with no future
    /// statistics: for building reports from data gathered elsewhere.
    #[must_use]
    pub fn from_histogram(name: impl Into<String>, histogram: Histogram) -> Self {
        let mut raw = RawStats::default();
        for (low, high, n) in histogram.buckets() {
            let mid = if high == u64::MAX {
                low
            } else {
                low + (high - low) / 2
            };
            // Saturating: a histogram built by the caller may hold any counts.
            raw.count = raw.count.saturating_add(n);
            raw.sum = raw.sum.saturating_add(mid.saturating_mul(n));
            raw.min = raw.min.min(low);
            raw.max = raw.max.max(high.saturating_sub(1).max(low));
        }
        raw.histogram = histogram;
        Self::from_raw(&name.into(), &raw)
    }

    /// Adds future statistics to this entry.
    #[must_use]
    pub fn with_futures(mut self, futures: Futures) -> Self {
        self.futures = Some(futures);
        self
    }

    /// Adds cancellation statistics to this entry.
    #[must_use]
    pub fn with_cancelled(mut self, cancelled: Cancelled) -> Self {
        self.cancelled = cancelled;
        self
    }

    /// [`total_ns`](Self::total_ns) as a `Duration`.
    #[must_use]
    pub fn total(&self) -> Duration {
        Duration::from_nanos(self.total_ns)
    }

    /// [`mean_ns`](Self::mean_ns) as a `Duration`.
    #[must_use]
    pub fn mean(&self) -> Duration {
        Duration::from_nanos(self.mean_ns)
    }

    /// [`max_ns`](Self::max_ns) as a `Duration`.
    #[must_use]
    pub fn max(&self) -> Duration {
        Duration::from_nanos(self.max_ns)
    }

    /// The `q`-quantile of the completed durations (see [`Histogram::quantile`]), kept within
    /// the exact minimum and maximum.
    #[must_use]
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let v = self.histogram.quantile(q)?;
        Some(Duration::from_nanos(
            v.clamp(self.min_ns.min(self.max_ns), self.max_ns),
        ))
    }
}

impl Futures {
    /// Future statistics from their parts (for [`Entry::with_futures`]).
    #[must_use]
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        completed: u64,
        busy: Duration,
        scheduled: Duration,
        idle: Duration,
        polls: u64,
        slow_polls: u64,
        max_poll: Duration,
    ) -> Self {
        let ns = crate::profiler::duration_ns;
        Self {
            completed,
            wall_ns: ns(busy)
                .saturating_add(ns(scheduled))
                .saturating_add(ns(idle)),
            busy_ns: ns(busy),
            scheduled_ns: ns(scheduled),
            idle_ns: ns(idle),
            polls,
            slow_polls,
            max_poll_ns: ns(max_poll),
        }
    }

    /// Summed wall time.
    #[must_use]
    pub fn wall(&self) -> Duration {
        Duration::from_nanos(self.wall_ns)
    }

    /// Summed busy time.
    #[must_use]
    pub fn busy(&self) -> Duration {
        Duration::from_nanos(self.busy_ns)
    }

    /// Summed scheduled time.
    #[must_use]
    pub fn scheduled(&self) -> Duration {
        Duration::from_nanos(self.scheduled_ns)
    }

    /// Summed idle time.
    #[must_use]
    pub fn idle(&self) -> Duration {
        Duration::from_nanos(self.idle_ns)
    }

    /// The longest poll.
    #[must_use]
    pub fn max_poll(&self) -> Duration {
        Duration::from_nanos(self.max_poll_ns)
    }

    /// `busy / wall`, from 0 to 1 (0 when wall is 0).
    #[must_use]
    pub fn busy_share(&self) -> f64 {
        if self.wall_ns == 0 {
            0.0
        } else {
            #[allow(clippy::cast_precision_loss)]
            let share = self.busy_ns as f64 / self.wall_ns as f64;
            share
        }
    }
}

impl Cancelled {
    /// Cancellation statistics from their parts (for [`Entry::with_cancelled`]).
    #[must_use]
    pub fn new(count: u64, wall: Duration, busy: Duration) -> Self {
        Self {
            count,
            wall_ns: crate::profiler::duration_ns(wall),
            busy_ns: crate::profiler::duration_ns(busy),
        }
    }
}
