//! The measured table behind `recommend`: parsed from the file the bench writes.

use std::fmt::Write as _;
use std::sync::OnceLock;

use crate::{Flavor, Workload};

/// The file `benches/flavors` writes on a full `cargo xtask bench --only runtime-select` run.
const SHIPPED: &str = include_str!("../data/measured.txt");

/// Per-workload bench medians of each flavour on one machine, with where, when and with
/// which tokio they were measured.
///
/// The shipped table ([`MeasuredTable::shipped`]) is written by this crate's bench, never by
/// hand; [`to_markdown`](Self::to_markdown) renders it for the README.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MeasuredTable {
    machine: String,
    cores: usize,
    date: String,
    tokio: String,
    rows: Vec<MeasuredRow>,
}

/// One workload's timings, in nanoseconds per bench iteration, per flavour.
#[derive(Clone, Debug, PartialEq)]
pub struct MeasuredRow {
    workload: Workload,
    timings: Vec<(Flavor, Timing)>,
}

/// A flavour's criterion median for one workload, with its 95% confidence interval when the
/// table has it.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct Timing {
    /// Median time per iteration, in nanoseconds.
    pub median_ns: f64,
    /// Lower and upper bound of the median's 95% confidence interval, in nanoseconds.
    pub interval_ns: Option<(f64, f64)>,
}

impl Timing {
    fn upper(&self) -> f64 {
        self.interval_ns.map_or(self.median_ns, |(_, hi)| hi)
    }

    fn lower(&self) -> f64 {
        self.interval_ns.map_or(self.median_ns, |(lo, _)| lo)
    }
}

/// A line of a measured table that does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("measured table, line {line}: {problem}")]
pub struct ParseTableError {
    line: usize,
    problem: String,
}

impl ParseTableError {
    /// The 1-based line number.
    #[must_use]
    pub fn line(&self) -> usize {
        self.line
    }
}

impl MeasuredRow {
    /// The workload measured.
    #[must_use]
    pub fn workload(&self) -> Workload {
        self.workload
    }

    /// Each flavour's timing, in file order.
    #[must_use]
    pub fn timings(&self) -> &[(Flavor, Timing)] {
        &self.timings
    }

    /// One flavour's timing (thread counts ignored).
    #[must_use]
    pub fn timing(&self, flavor: Flavor) -> Option<Timing> {
        let flavor = flavor.without_count();
        self.timings
            .iter()
            .find(|(f, _)| *f == flavor)
            .map(|(_, t)| *t)
    }

    /// One flavour's median in nanoseconds (thread counts ignored).
    #[must_use]
    pub fn median_ns(&self, flavor: Flavor) -> Option<f64> {
        self.timing(flavor).map(|t| t.median_ns)
    }

    /// The flavour with the smallest median.
    #[must_use]
    pub fn fastest(&self) -> Option<Flavor> {
        self.timings
            .iter()
            .min_by(|a, b| a.1.median_ns.total_cmp(&b.1.median_ns))
            .map(|(f, _)| *f)
    }

    /// True when `flavor` beats the default multi-thread runtime by more than
    /// [`NOISE_MARGIN`](crate::NOISE_MARGIN) and, where the table has confidence intervals,
    /// its interval lies wholly below the default's.
    #[must_use]
    pub fn clearly_beats_default(&self, flavor: Flavor) -> bool {
        let (Some(ours), Some(default)) = (self.timing(flavor), self.timing(Flavor::DEFAULT))
        else {
            return false;
        };
        self.vs_default(flavor)
            .is_some_and(|x| x > 1.0 + crate::NOISE_MARGIN)
            && ours.upper() < default.lower()
    }

    /// Default multi-thread median / `flavor`'s median: above 1 means `flavor` is faster than
    /// the default.
    #[must_use]
    pub fn vs_default(&self, flavor: Flavor) -> Option<f64> {
        let default = self.median_ns(Flavor::DEFAULT)?;
        let ns = self.median_ns(flavor)?;
        (ns > 0.0).then(|| default / ns)
    }
}

impl MeasuredTable {
    /// The table shipped with this crate (from the last full bench run). Empty when the bench
    /// has not been run or the file does not parse (a test keeps the latter from shipping).
    #[must_use]
    pub fn shipped() -> &'static MeasuredTable {
        static TABLE: OnceLock<MeasuredTable> = OnceLock::new();
        TABLE.get_or_init(|| Self::parse(SHIPPED).unwrap_or_default())
    }

    /// The text of the shipped file, as compiled in.
    #[must_use]
    pub fn shipped_text() -> &'static str {
        SHIPPED
    }

    /// Parses the file format: `#` comments, `key: value` lines for `machine`, `cores`,
    /// `date` and `tokio`, and one `row: <workload> <flavor>=<median>[:<lower>:<upper>] ...`
    /// per workload (nanoseconds; lower and upper bound the median's confidence interval).
    ///
    /// # Errors
    ///
    /// The first line that does not parse, or missing metadata when there are rows.
    pub fn parse(text: &str) -> Result<Self, ParseTableError> {
        let mut table = Self::default();
        for (i, line) in text.lines().enumerate() {
            let fail = |problem: String| ParseTableError {
                line: i + 1,
                problem,
            };
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((key, value)) = line.split_once(':') else {
                return Err(fail(format!("expected `key: value`, got {line:?}")));
            };
            let value = value.trim();
            match key.trim() {
                "machine" => value.clone_into(&mut table.machine),
                "date" => value.clone_into(&mut table.date),
                "tokio" => value.clone_into(&mut table.tokio),
                "cores" => {
                    table.cores = value
                        .parse()
                        .map_err(|_| fail(format!("cores {value:?} is not a number")))?;
                }
                "row" => table.rows.push(parse_row(value).map_err(fail)?),
                other => return Err(fail(format!("unknown key {other:?}"))),
            }
        }
        if !table.rows.is_empty()
            && (table.machine.is_empty() || table.date.is_empty() || table.tokio.is_empty())
        {
            return Err(ParseTableError {
                line: text.lines().count(),
                problem: "rows without machine, date and tokio".to_owned(),
            });
        }
        Ok(table)
    }

    /// The machine measured on (CPU, cores, OS, compiler).
    #[must_use]
    pub fn machine(&self) -> &str {
        &self.machine
    }

    /// Available parallelism on that machine.
    #[must_use]
    pub fn cores(&self) -> usize {
        self.cores
    }

    /// The date measured (UTC, `YYYY-MM-DD`).
    #[must_use]
    pub fn date(&self) -> &str {
        &self.date
    }

    /// The tokio version measured.
    #[must_use]
    pub fn tokio_version(&self) -> &str {
        &self.tokio
    }

    /// Every measured workload, in bench order.
    #[must_use]
    pub fn rows(&self) -> &[MeasuredRow] {
        &self.rows
    }

    /// The row for `workload`, or the nearest measured one of the same kind (message size and
    /// connection count compared on a log scale).
    #[must_use]
    pub fn nearest(&self, workload: Workload) -> Option<&MeasuredRow> {
        self.rows
            .iter()
            .filter_map(|row| workload.distance(&row.workload).map(|d| (d, row)))
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, row)| row)
    }

    /// The table as Markdown, for the README: each flavour's median and its speed against the
    /// default multi-thread runtime, the fastest flavour, and what `recommend` answers.
    #[must_use]
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        if self.rows.is_empty() {
            out.push_str(
                "Not measured yet: run `cargo xtask bench --only runtime-select` (full run).\n",
            );
            return out;
        }
        let _ = writeln!(
            out,
            "Measured on {}, {}, tokio {} (criterion medians per iteration; \
             **×default** = default multi-thread time / flavour time, above 1 is faster than \
             the default):\n",
            self.machine, self.date, self.tokio
        );
        let flavors = [
            Flavor::CurrentThread,
            Flavor::DEFAULT,
            Flavor::ThreadPerCore { cores: None },
        ];
        out.push_str(
            "| workload | current_thread | multi_thread (default) | thread_per_core | fastest | `recommend()` |\n",
        );
        out.push_str("|---|---:|---:|---:|---|---|\n");
        for row in &self.rows {
            let _ = write!(out, "| `{}` |", row.workload);
            for flavor in flavors {
                match (row.median_ns(flavor), row.vs_default(flavor)) {
                    (Some(ns), Some(x)) => {
                        let _ = write!(out, " {} ({x:.2}×) |", format_ns(ns));
                    }
                    _ => out.push_str(" — |"),
                }
            }
            let fastest = row
                .fastest()
                .map_or_else(|| "—".to_owned(), |f| f.to_string());
            let advice = self.recommend(row.workload);
            let _ = writeln!(out, " {fastest} | {} |", advice.flavor());
        }
        out
    }
}

fn parse_row(text: &str) -> Result<MeasuredRow, String> {
    let mut fields = text.split_whitespace();
    let workload: Workload = fields
        .next()
        .ok_or("a row needs a workload")?
        .parse()
        .map_err(|e| format!("{e}"))?;
    let mut timings: Vec<(Flavor, Timing)> = Vec::new();
    for field in fields {
        let (flavor, times) = field
            .split_once('=')
            .ok_or_else(|| format!("expected flavor=nanoseconds, got {field:?}"))?;
        let flavor: Flavor = flavor.parse().map_err(|e| format!("{e}"))?;
        if flavor == Flavor::Auto || timings.iter().any(|(f, _)| *f == flavor.without_count()) {
            return Err(format!(
                "{flavor} is not a measurable flavour or is repeated"
            ));
        }
        timings.push((flavor.without_count(), parse_timing(times)?));
    }
    if !timings.iter().any(|(f, _)| *f == Flavor::DEFAULT) {
        return Err("a row needs the default multi_thread as its baseline".to_owned());
    }
    Ok(MeasuredRow { workload, timings })
}

fn parse_timing(text: &str) -> Result<Timing, String> {
    let time = |t: &str| {
        t.parse::<f64>()
            .ok()
            .filter(|ns| ns.is_finite() && *ns > 0.0)
            .ok_or_else(|| format!("{t:?} is not a positive time"))
    };
    let parts: Vec<&str> = text.split(':').collect();
    match parts.as_slice() {
        [median] => Ok(Timing {
            median_ns: time(median)?,
            interval_ns: None,
        }),
        [median, lower, upper] => {
            let (median, lower, upper) = (time(median)?, time(lower)?, time(upper)?);
            if !(lower <= median && median <= upper) {
                return Err(format!("{text:?}: the interval must hold the median"));
            }
            Ok(Timing {
                median_ns: median,
                interval_ns: Some((lower, upper)),
            })
        }
        _ => Err(format!("{text:?}: expected median or median:lower:upper")),
    }
}

fn format_ns(ns: f64) -> String {
    match ns {
        ns if ns >= 1e9 => format!("{:.2} s", ns / 1e9),
        ns if ns >= 1e6 => format!("{:.2} ms", ns / 1e6),
        ns if ns >= 1e3 => format!("{:.2} µs", ns / 1e3),
        ns => format!("{ns:.0} ns"),
    }
}
