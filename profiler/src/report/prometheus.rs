//! Prometheus text exposition (format 0.0.4) of a report.
//!
//! Per name (label `name`): a histogram `<prefix>_duration_seconds` with `le` bounds at every
//! power of four nanoseconds from 1.024 µs to 68.7 s (powers of two are exact bucket
//! boundaries of the profiler's histogram, so the counts are exact), the quantiles as a gauge
//! `<prefix>_duration_quantile_seconds{quantile}`, cancellations as counters, and for
//! instrumented futures their busy, scheduled and idle seconds, polls and slow polls as
//! counters and the longest poll as a gauge. Export a cumulative report (counters must not go
//! down).

use std::fmt::Write as _;

use super::{Entry, Report};

/// The metric name prefix of [`Report::to_prometheus`].
pub const DEFAULT_PREFIX: &str = "asyncperf_profiler";

/// `le` bounds in nanoseconds: 4^5 ns (1.024 µs) to 4^18 ns (68.7 s).
const LE_NS: [u64; 14] = {
    let mut out = [0u64; 14];
    let mut i = 0;
    while i < out.len() {
        out[i] = 1 << (10 + 2 * i);
        i += 1;
    }
    out
};

/// A quantile label and the entry field that holds it.
type Quantile = (&'static str, fn(&Entry) -> u64);

/// The value of a per-name sample, `None` when the entry has none.
type SampleValue = Box<dyn Fn(&Entry) -> Option<String>>;

const QUANTILES: [Quantile; 4] = [
    ("0.5", |e| e.p50_ns),
    ("0.9", |e| e.p90_ns),
    ("0.99", |e| e.p99_ns),
    ("0.999", |e| e.p999_ns),
];

#[allow(clippy::cast_precision_loss)]
fn seconds(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// `name="..."` with the exposition format's escapes.
fn label(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 8);
    out.push_str("name=\"");
    for c in name.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// One sample line per entry that has a value, under one family header.
fn per_entry(
    out: &mut String,
    report: &Report,
    name: &str,
    kind: &str,
    help: &str,
    value: impl Fn(&Entry) -> Option<String>,
) {
    let samples: Vec<String> = report
        .entries
        .iter()
        .filter_map(|e| Some(format!("{name}{{{}}} {}\n", label(&e.name), value(e)?)))
        .collect();
    if samples.is_empty() {
        return;
    }
    family(out, name, kind, help);
    for s in samples {
        out.push_str(&s);
    }
}

impl Report {
    /// The report in the Prometheus text exposition format (0.0.4), metric names starting with
    /// [`DEFAULT_PREFIX`], every sample labelled with `name`:
    ///
    /// - `_duration_seconds`: histogram of completed durations, `le` at every power of four
    ///   nanoseconds from 1.024 µs to 68.7 s (exact: powers of two are bucket boundaries);
    /// - `_duration_quantile_seconds{quantile="0.5"|"0.9"|"0.99"|"0.999"}`: gauge;
    /// - for names with instrumented futures: `_futures_completed_total`,
    ///   `_future_busy_seconds_total`, `_future_scheduled_seconds_total`,
    ///   `_future_idle_seconds_total`, `_future_polls_total`, `_future_slow_polls_total`
    ///   (counters) and `_future_max_poll_seconds` (gauge);
    /// - `_cancelled_total` and `_cancelled_seconds_total`: counters.
    ///
    /// Export a cumulative report ([`Profiler::report`](crate::Profiler::report)): counters must
    /// not go down. An empty report gives an empty string.
    #[must_use]
    pub fn to_prometheus(&self) -> String {
        self.to_prometheus_with_prefix(DEFAULT_PREFIX)
    }

    /// [`to_prometheus`](Self::to_prometheus) with another metric name prefix (it should
    /// match `[a-zA-Z_:][a-zA-Z0-9_:]*`).
    #[must_use]
    pub fn to_prometheus_with_prefix(&self, prefix: &str) -> String {
        let mut o = String::new();
        if self.entries.is_empty() {
            return o;
        }
        let duration = format!("{prefix}_duration_seconds");
        family(
            &mut o,
            &duration,
            "histogram",
            "Duration of completed spans and futures, by name.",
        );
        for e in &self.entries {
            let l = label(&e.name);
            let count = e.histogram.count();
            for le in LE_NS {
                let _ = writeln!(
                    o,
                    "{duration}_bucket{{{l},le=\"{}\"}} {}",
                    seconds(le),
                    e.histogram.count_below(le)
                );
            }
            let _ = writeln!(o, "{duration}_bucket{{{l},le=\"+Inf\"}} {count}");
            let _ = writeln!(o, "{duration}_sum{{{l}}} {}", seconds(e.total_ns));
            let _ = writeln!(o, "{duration}_count{{{l}}} {count}");
        }

        let quantile = format!("{prefix}_duration_quantile_seconds");
        family(
            &mut o,
            &quantile,
            "gauge",
            "Quantiles of the duration, from the histogram (within 3.2%), by name.",
        );
        for e in self.entries.iter().filter(|e| e.count > 0) {
            let l = label(&e.name);
            for (q, get) in QUANTILES {
                let _ = writeln!(o, "{quantile}{{{l},quantile=\"{q}\"}} {}", seconds(get(e)));
            }
        }

        let f = |get: fn(&super::Futures) -> u64, secs: bool| {
            move |e: &Entry| {
                e.futures.map(|f| {
                    if secs {
                        seconds(get(&f)).to_string()
                    } else {
                        get(&f).to_string()
                    }
                })
            }
        };
        let metrics: [(&str, &str, &str, SampleValue); 9] = [
            (
                "futures_completed_total",
                "counter",
                "Instrumented futures that completed, by name.",
                Box::new(f(|f| f.completed, false)),
            ),
            (
                "future_busy_seconds_total",
                "counter",
                "Time completed instrumented futures spent inside poll.",
                Box::new(f(|f| f.busy_ns, true)),
            ),
            (
                "future_scheduled_seconds_total",
                "counter",
                "Time completed instrumented futures waited to be polled after a wake.",
                Box::new(f(|f| f.scheduled_ns, true)),
            ),
            (
                "future_idle_seconds_total",
                "counter",
                "Time completed instrumented futures waited to be woken.",
                Box::new(f(|f| f.idle_ns, true)),
            ),
            (
                "future_polls_total",
                "counter",
                "Polls of completed instrumented futures.",
                Box::new(f(|f| f.polls, false)),
            ),
            (
                "future_slow_polls_total",
                "counter",
                "Polls at or above the slow-poll threshold.",
                Box::new(f(|f| f.slow_polls, false)),
            ),
            (
                "future_max_poll_seconds",
                "gauge",
                "Longest single poll of an instrumented future.",
                Box::new(f(|f| f.max_poll_ns, true)),
            ),
            (
                "cancelled_total",
                "counter",
                "Futures dropped before they completed, by name.",
                Box::new(|e: &Entry| Some(e.cancelled.count.to_string())),
            ),
            (
                "cancelled_seconds_total",
                "counter",
                "Wall time of futures dropped before they completed.",
                Box::new(|e: &Entry| Some(seconds(e.cancelled.wall_ns).to_string())),
            ),
        ];
        for (suffix, kind, help, value) in &metrics {
            per_entry(
                &mut o,
                self,
                &format!("{prefix}_{suffix}"),
                kind,
                help,
                value,
            );
        }
        o
    }
}
