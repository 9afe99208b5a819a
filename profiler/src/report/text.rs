//! The text table (`Display` of a report).

use std::fmt::{self, Write as _};

use super::{Report, ReportKind};

/// `ns` with three significant digits and a unit: `850ns`, `1.23µs`, `45.6ms`, `123s`.
pub(crate) fn human(ns: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let v = ns as f64;
    let (scaled, unit) = if ns < 1_000 {
        return format!("{ns}ns");
    } else if ns < 1_000_000 {
        (v / 1e3, "µs")
    } else if ns < 1_000_000_000 {
        (v / 1e6, "ms")
    } else {
        (v / 1e9, "s")
    };
    if scaled < 10.0 {
        format!("{scaled:.2}{unit}")
    } else if scaled < 100.0 {
        format!("{scaled:.1}{unit}")
    } else {
        format!("{scaled:.0}{unit}")
    }
}

/// A name as one table cell: control characters (a newline would break the row) escaped.
fn cell(name: &str) -> String {
    if name.chars().any(char::is_control) {
        name.escape_debug().to_string()
    } else {
        name.to_owned()
    }
}

fn percent(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

/// Writes rows as a table: first column left-aligned, the others right-aligned.
fn table(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (i, (cell, w)) in cells.zip(&widths).enumerate() {
            if i == 0 {
                let _ = write!(text, "{cell:<w$}");
            } else {
                let _ = write!(text, "  {cell:>w$}");
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            ReportKind::Cumulative => "cumulative",
            ReportKind::Delta => "interval",
        };
        let names = match self.entries.len() {
            1 => "1 name".to_owned(),
            n => format!("{n} names"),
        };
        let mut out = format!(
            "profile ({kind}, {}, {names}, clock {})\n",
            human(self.elapsed_ns),
            self.clock
        );
        let rows: Vec<Vec<String>> = self
            .entries
            .iter()
            .map(|e| {
                vec![
                    cell(&e.name),
                    e.count.to_string(),
                    human(e.total_ns),
                    human(e.mean_ns),
                    human(e.p50_ns),
                    human(e.p90_ns),
                    human(e.p99_ns),
                    human(e.p999_ns),
                    human(e.max_ns),
                    e.futures
                        .map_or_else(|| "-".to_owned(), |f| percent(f.busy_share())),
                    e.cancelled.count.to_string(),
                ]
            })
            .collect();
        table(
            &mut out,
            &[
                "name",
                "count",
                "total",
                "mean",
                "p50",
                "p90",
                "p99",
                "p99.9",
                "max",
                "busy",
                "cancelled",
            ],
            &rows,
        );

        let futures: Vec<Vec<String>> = self
            .entries
            .iter()
            .filter_map(|e| {
                let f = e.futures?;
                Some(vec![
                    cell(&e.name),
                    f.completed.to_string(),
                    human(f.wall_ns),
                    human(f.busy_ns),
                    human(f.scheduled_ns),
                    human(f.idle_ns),
                    f.polls.to_string(),
                    f.slow_polls.to_string(),
                    human(f.max_poll_ns),
                ])
            })
            .collect();
        if !futures.is_empty() {
            out.push_str(
                "\nfutures (summed over completed ones; wall = busy + scheduled + idle)\n",
            );
            table(
                &mut out,
                &[
                    "name",
                    "completed",
                    "wall",
                    "busy",
                    "scheduled",
                    "idle",
                    "polls",
                    "slow",
                    "max poll",
                ],
                &futures,
            );
        }
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::human;

    #[test]
    fn human_durations() {
        assert_eq!(human(0), "0ns");
        assert_eq!(human(999), "999ns");
        assert_eq!(human(1_234), "1.23µs");
        assert_eq!(human(45_600_000), "45.6ms");
        assert_eq!(human(123_000_000_000), "123s");
    }
}
