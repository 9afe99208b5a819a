//! One SVG bar chart per crate: each peer's ratio to ours in each scenario.

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::prelude::*;

use super::CrateReport;

struct Bar {
    label: String,
    ratio: f64,
}

/// Draws `<dir>.svg` into `out_dir`; `None` when the crate has no paired result.
pub(crate) fn write_chart(krate: &CrateReport, out_dir: &Path) -> Result<Option<String>> {
    let bars: Vec<Bar> = krate
        .rows
        .iter()
        .flat_map(|row| {
            row.peers.iter().filter_map(move |peer| {
                Some(Bar {
                    label: format!("{} · {}", row.scenario, peer.name),
                    ratio: peer.ratio?,
                })
            })
        })
        .collect();
    if bars.is_empty() {
        return Ok(None);
    }
    let file = format!("{}.svg", krate.dir.replace('/', "-"));
    draw(&bars, &krate.name, &out_dir.join(&file)).map_err(|e| anyhow!("drawing {file}: {e}"))?;
    Ok(Some(file))
}

fn draw(bars: &[Bar], title: &str, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    const ROW_PX: u32 = 22;
    let rows = u32::try_from(bars.len())?;
    let longest = bars
        .iter()
        .map(|b| b.label.chars().count())
        .max()
        .unwrap_or(10);
    let label_px = u32::try_from(longest)?.saturating_mul(7).clamp(120, 520);
    let root = SVGBackend::new(path, (label_px + 640, rows * ROW_PX + 110)).into_drawing_area();
    root.fill(&WHITE)?;

    let x_max = bars.iter().map(|b| b.ratio).fold(1.0_f64, f64::max) * 1.15;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{title}: peer time / asyncperf time (> 1: asyncperf faster)"),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(label_px)
        .build_cartesian_2d(0.0..x_max, (0..bars.len()).into_segmented())?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(bars.len())
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => bars
                .get(bars.len().wrapping_sub(1).wrapping_sub(*i))
                .map(|b| b.label.clone())
                .unwrap_or_default(),
            _ => String::new(),
        })
        .x_desc("ratio")
        .draw()?;

    // Segment 0 is drawn at the bottom; the first row goes on top so the chart reads like the
    // table.
    let top_down = |i: usize| bars.len() - 1 - i;
    let faster = RGBColor(46, 139, 87);
    let slower = RGBColor(205, 92, 92);
    chart.draw_series(
        Histogram::horizontal(&chart)
            .margin(3)
            .style_func(|_, ratio| {
                if *ratio >= 1.0 {
                    faster.filled()
                } else {
                    slower.filled()
                }
            })
            .data(bars.iter().enumerate().map(|(i, b)| (top_down(i), b.ratio))),
    )?;
    chart.draw_series(bars.iter().enumerate().map(|(i, b)| {
        Text::new(
            format!(" {:.2}x", b.ratio),
            (b.ratio, SegmentValue::CenterOf(top_down(i))),
            ("sans-serif", 12),
        )
    }))?;
    // The parity line: bars that end left of it are scenarios where the peer is faster.
    chart.draw_series(LineSeries::new(
        [(1.0, SegmentValue::Exact(0)), (1.0, SegmentValue::Last)],
        BLACK.stroke_width(1),
    ))?;
    root.present()?;
    Ok(())
}
