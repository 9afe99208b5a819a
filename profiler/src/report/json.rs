//! JSON of a report, versioned, with no dependency (the `serde` feature derives the same shape).
//!
//! Schema version 1: an object `{schema_version, kind, elapsed_ns, clock, entries}`; each entry
//! `{name, count, total_ns, mean_ns, min_ns, max_ns, p50_ns, p90_ns, p99_ns, p999_ns, futures,
//! cancelled, histogram}` where `futures` is `null` or `{completed, wall_ns, busy_ns,
//! scheduled_ns, idle_ns, polls, slow_polls, max_poll_ns}`, `cancelled` is `{count, wall_ns,
//! busy_ns}` and `histogram` lists the non-empty buckets as `[low_ns, count]` pairs. All
//! durations are integer nanoseconds. Fields are only ever added within one version.

use std::fmt::Write as _;

use super::{Report, ReportKind};

/// Version of the JSON written by [`Report::to_json`]; raised when a field changes meaning or
/// goes away.
pub const SCHEMA_VERSION: u32 = 1;

/// `s` as a JSON string literal (escapes as `serde_json` does).
fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

impl Report {
    /// The report as compact JSON, schema version [`SCHEMA_VERSION`] (1):
    ///
    /// - top level: `{schema_version, kind, elapsed_ns, clock, entries}`, `kind` being
    ///   `"cumulative"` or `"delta"`;
    /// - each entry: `{name, count, total_ns, mean_ns, min_ns, max_ns, p50_ns, p90_ns, p99_ns,
    ///   p999_ns, futures, cancelled, histogram}`;
    /// - `futures`: `null`, or `{completed, wall_ns, busy_ns, scheduled_ns, idle_ns, polls,
    ///   slow_polls, max_poll_ns}`;
    /// - `cancelled`: `{count, wall_ns, busy_ns}`;
    /// - `histogram`: the non-empty buckets as `[low_ns, count]` pairs (feed them to
    ///   [`Histogram::record_n`](crate::Histogram::record_n) to rebuild it).
    ///
    /// Every duration is an integer number of nanoseconds. Within one version fields are only
    /// added; the version goes up when one changes meaning or goes away. With the `serde`
    /// feature, `serde_json` writes exactly this from [`Report`]'s `Serialize`.
    #[must_use]
    pub fn to_json(&self) -> String {
        let mut o = String::with_capacity(256 + self.entries.len() * 256);
        let kind = match self.kind {
            ReportKind::Cumulative => "cumulative",
            ReportKind::Delta => "delta",
        };
        let _ = write!(
            o,
            "{{\"schema_version\":{},\"kind\":\"{kind}\",\"elapsed_ns\":{},\"clock\":",
            self.schema_version, self.elapsed_ns
        );
        string(&mut o, &self.clock);
        o.push_str(",\"entries\":[");
        for (i, e) in self.entries.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            o.push_str("{\"name\":");
            string(&mut o, &e.name);
            let _ = write!(
                o,
                ",\"count\":{},\"total_ns\":{},\"mean_ns\":{},\"min_ns\":{},\"max_ns\":{},\
                 \"p50_ns\":{},\"p90_ns\":{},\"p99_ns\":{},\"p999_ns\":{},\"futures\":",
                e.count,
                e.total_ns,
                e.mean_ns,
                e.min_ns,
                e.max_ns,
                e.p50_ns,
                e.p90_ns,
                e.p99_ns,
                e.p999_ns
            );
            match e.futures {
                None => o.push_str("null"),
                Some(f) => {
                    let _ = write!(
                        o,
                        "{{\"completed\":{},\"wall_ns\":{},\"busy_ns\":{},\"scheduled_ns\":{},\
                         \"idle_ns\":{},\"polls\":{},\"slow_polls\":{},\"max_poll_ns\":{}}}",
                        f.completed,
                        f.wall_ns,
                        f.busy_ns,
                        f.scheduled_ns,
                        f.idle_ns,
                        f.polls,
                        f.slow_polls,
                        f.max_poll_ns
                    );
                }
            }
            let c = e.cancelled;
            let _ = write!(
                o,
                ",\"cancelled\":{{\"count\":{},\"wall_ns\":{},\"busy_ns\":{}}},\"histogram\":[",
                c.count, c.wall_ns, c.busy_ns
            );
            for (j, (low, _, n)) in e.histogram.buckets().enumerate() {
                if j > 0 {
                    o.push(',');
                }
                let _ = write!(o, "[{low},{n}]");
            }
            o.push_str("]}");
        }
        o.push_str("]}");
        o
    }
}
