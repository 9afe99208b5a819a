//! The report as Markdown: one table per crate, ours beside the best peer.

use std::fmt::Write as _;

use super::{CrateReport, Measure, Report, Row};

/// The whole `REPORT.md`.
pub(crate) fn render(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# asyncperf benchmark report\n");
    let _ = writeln!(
        out,
        "Measured by `cargo xtask bench{}` on {}.\n",
        if report.mode == "quick" {
            " --quick"
        } else {
            ""
        },
        report.machine.summary()
    );
    let _ = writeln!(
        out,
        "Times are criterion medians per iteration. **ratio = peer time / asyncperf time**: \
         above 1 means asyncperf is faster. The best peer is the fastest other implementation \
         in the same scenario (ceilings such as a bare channel or map included; ids starting \
         with `baseline` are reference points, shown with their time and never ranked).\n"
    );
    if report.mode == "quick" {
        let _ = writeln!(
            out,
            "_Quick mode: short warm-up and measurement, a smoke test. Quote full runs._\n"
        );
    }
    for krate in &report.crates {
        let _ = writeln!(out, "## {} (`{}/`)\n", krate.name, krate.dir);
        out.push_str(&crate_section(krate));
        if let Some(chart) = &krate.chart {
            let _ = writeln!(out, "![{} ratios]({chart})\n", krate.dir);
        }
    }
    out
}

/// One crate's table, notes and skips (also what goes into the crate's README).
pub(crate) fn crate_section(krate: &CrateReport) -> String {
    let mut out = String::new();
    if krate.status != "ok" {
        let _ = writeln!(out, "**Bench run failed: {}**\n", krate.status);
    }
    if krate.rows.is_empty() {
        let _ = writeln!(out, "No criterion results.\n");
    } else {
        out.push_str(
            "| scenario | asyncperf | best peer | peer time | ratio | every peer (ratio) |\n",
        );
        out.push_str("|---|---:|---|---:|---:|---|\n");
        for row in &krate.rows {
            let _ = writeln!(out, "{}", table_row(row));
        }
        out.push('\n');
    }
    for note in &krate.notes {
        let _ = writeln!(out, "- {note}");
    }
    for skip in &krate.skipped {
        let _ = writeln!(out, "- skipped: {skip}");
    }
    if !krate.notes.is_empty() || !krate.skipped.is_empty() {
        out.push('\n');
    }
    out
}

fn table_row(row: &Row) -> String {
    let ours = row
        .ours
        .as_ref()
        .map_or_else(|| "—".to_owned(), format_measure);
    let (best, best_time, ratio) = match row.best_peer() {
        Some(peer) => (
            peer.name.clone(),
            format_measure(&peer.measure),
            peer.ratio.map_or_else(|| "—".to_owned(), format_ratio),
        ),
        None => ("—".to_owned(), "—".to_owned(), "—".to_owned()),
    };
    let mut every: Vec<String> = row
        .peers
        .iter()
        .map(|p| match p.ratio {
            Some(r) => format!("{} {}", p.name, format_ratio(r)),
            None => p.name.clone(),
        })
        .collect();
    // Reference points show their time, not a ratio: they are not competitors.
    every.extend(
        row.baselines
            .iter()
            .map(|b| format!("{} {}", b.name, format_measure(&b.measure))),
    );
    format!(
        "| {} | {ours} | {best} | {best_time} | {ratio} | {} |",
        row.scenario,
        every.join(", ")
    )
}

fn format_ratio(ratio: f64) -> String {
    let text = if ratio >= 100.0 {
        format!("{ratio:.0}x")
    } else if ratio >= 10.0 {
        format!("{ratio:.1}x")
    } else {
        format!("{ratio:.2}x")
    };
    if ratio >= 1.0 {
        format!("**{text}**")
    } else {
        text
    }
}

/// The median, and the time per element when the bench set a throughput.
fn format_measure(m: &Measure) -> String {
    let time = format_ns(m.median_ns);
    match &m.throughput {
        Some(t) if t.per_iteration > 1 => {
            // Exact enough for display: counts per iteration are far below 2^53.
            #[allow(clippy::cast_precision_loss)]
            let each = m.median_ns / t.per_iteration as f64;
            let unit = if t.kind == "bytes" { "B" } else { "item" };
            format!("{time} ({}/{unit})", format_ns(each))
        }
        _ => time,
    }
}

/// Three significant digits in the largest unit below the value.
pub(crate) fn format_ns(ns: f64) -> String {
    let (value, unit) = if ns >= 1e9 {
        (ns / 1e9, "s")
    } else if ns >= 1e6 {
        (ns / 1e6, "ms")
    } else if ns >= 1e3 {
        (ns / 1e3, "µs")
    } else {
        (ns, "ns")
    };
    if value >= 100.0 {
        format!("{value:.0} {unit}")
    } else if value >= 10.0 {
        format!("{value:.1} {unit}")
    } else {
        format!("{value:.2} {unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times_and_ratios() {
        assert_eq!(format_ns(812.4), "812 ns");
        assert_eq!(format_ns(81_240.0), "81.2 µs");
        assert_eq!(format_ns(1_234_000.0), "1.23 ms");
        assert_eq!(format_ns(2.5e9), "2.50 s");
        assert_eq!(format_ratio(2.345), "**2.35x**");
        assert_eq!(format_ratio(0.5), "0.50x");
    }
}
