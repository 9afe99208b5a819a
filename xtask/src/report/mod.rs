//! The bench report: criterion's medians paired by scenario, ours beside each peer.
//!
//! Pairing convention (see `asyncperf_testkit::bench`): criterion group = scenario, function id
//! = implementation, ours is [`OURS`], peers use their crate name; a `BenchmarkId` parameter
//! splits a scenario into rows (`burst/16`, `burst/64`). An id starting with [`BASELINE`] (e.g.
//! `baseline-uninstrumented`, a bare poll to subtract) is a reference point, not a peer: it is
//! listed but never picked as the best peer.

mod chart;
mod criterion;
mod markdown;
mod readme;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::machine::Machine;

pub(crate) use chart::write_chart;
pub(crate) use criterion::read_samples;
pub(crate) use markdown::{crate_section, render};
pub(crate) use readme::update_readme;

/// Function id of our implementation in every group.
pub(crate) const OURS: &str = "asyncperf";
/// Prefix of function ids that are reference points rather than peers.
pub(crate) const BASELINE: &str = "baseline";
/// Version of `report.json`'s layout; bump on any incompatible change.
pub(crate) const SCHEMA_VERSION: u32 = 1;

/// The whole report (`report.json`).
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    pub(crate) schema_version: u32,
    /// `quick` or `full`.
    pub(crate) mode: &'static str,
    pub(crate) machine: Machine,
    pub(crate) crates: Vec<CrateReport>,
}

/// One crate's part of the report.
#[derive(Debug, Serialize)]
pub(crate) struct CrateReport {
    pub(crate) name: String,
    pub(crate) dir: String,
    /// `ok`, or why the run failed.
    pub(crate) status: String,
    pub(crate) seconds: f64,
    pub(crate) rows: Vec<Row>,
    /// `asyncperf-note:` lines the benches printed.
    pub(crate) notes: Vec<String>,
    /// `skipped:` lines the benches printed.
    pub(crate) skipped: Vec<String>,
    /// File name of the chart beside the report, when there was anything to chart.
    pub(crate) chart: Option<String>,
}

/// One scenario (criterion group, plus parameter when there is one).
#[derive(Debug, Serialize)]
pub(crate) struct Row {
    pub(crate) scenario: String,
    pub(crate) ours: Option<Measure>,
    /// Every other implementation, fastest first, with `ratio` = its median / ours.
    pub(crate) peers: Vec<Peer>,
    /// Reference points (ids starting with `baseline`), fastest first, same `ratio`.
    pub(crate) baselines: Vec<Peer>,
}

/// A peer's result in one scenario.
#[derive(Debug, Serialize)]
pub(crate) struct Peer {
    pub(crate) name: String,
    pub(crate) measure: Measure,
    /// Peer median / our median: above 1 means asyncperf is faster.
    pub(crate) ratio: Option<f64>,
}

/// Criterion's median time per iteration, in nanoseconds, with its 95% interval.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Measure {
    pub(crate) median_ns: f64,
    pub(crate) lower_ns: f64,
    pub(crate) upper_ns: f64,
    pub(crate) throughput: Option<Throughput>,
}

/// What one iteration processes, from the bench's `Throughput`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Throughput {
    /// `elements` or `bytes`.
    pub(crate) kind: String,
    pub(crate) per_iteration: u64,
}

impl Row {
    /// The fastest peer, the one the ratio column compares against.
    pub(crate) fn best_peer(&self) -> Option<&Peer> {
        self.peers.first()
    }
}

/// Groups one crate's criterion results into rows, scenarios in name order (numeric-aware).
pub(crate) fn rows_from_samples(samples: Vec<criterion::Sample>) -> Vec<Row> {
    let mut scenarios: BTreeMap<ScenarioKey, Vec<criterion::Sample>> = BTreeMap::new();
    for sample in samples {
        let key = ScenarioKey::new(&sample.group, sample.parameter.as_deref());
        scenarios.entry(key).or_default().push(sample);
    }
    scenarios
        .into_iter()
        .map(|(key, samples)| {
            let mut ours = None;
            let mut others = Vec::new();
            for sample in samples {
                match sample.function.as_deref() {
                    Some(OURS) => ours = Some(sample.measure),
                    function => others.push(Peer {
                        name: function.unwrap_or("(no function id)").to_owned(),
                        measure: sample.measure,
                        ratio: None,
                    }),
                }
            }
            for other in &mut others {
                other.ratio = ours
                    .as_ref()
                    .filter(|o| o.median_ns > 0.0)
                    .map(|o| other.measure.median_ns / o.median_ns);
            }
            others.sort_by(|a, b| a.measure.median_ns.total_cmp(&b.measure.median_ns));
            let (baselines, peers) = others
                .into_iter()
                .partition(|p: &Peer| p.name.starts_with(BASELINE));
            Row {
                scenario: key.label,
                ours,
                peers,
                baselines,
            }
        })
        .collect()
}

/// Orders `burst/2` before `burst/16` (numbers compare as numbers).
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct ScenarioKey {
    group: String,
    parameter: Option<(u64, String)>,
    label: String,
}

impl ScenarioKey {
    fn new(group: &str, parameter: Option<&str>) -> Self {
        Self {
            group: group.to_owned(),
            parameter: parameter.map(|p| (p.parse().unwrap_or(u64::MAX), p.to_owned())),
            label: parameter.map_or_else(|| group.to_owned(), |p| format!("{group}/{p}")),
        }
    }
}

/// Writes `REPORT.md`, `report.json` and the charts into `dir`.
pub(crate) fn write_all(report: &mut Report, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for krate in &mut report.crates {
        krate.chart = write_chart(krate, dir)?;
    }
    let json = serde_json::to_string_pretty(report)?;
    std::fs::write(dir.join("report.json"), json + "\n")?;
    std::fs::write(dir.join("REPORT.md"), render(report))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(group: &str, function: &str, parameter: Option<&str>, ns: f64) -> criterion::Sample {
        criterion::Sample {
            group: group.into(),
            function: Some(function.into()),
            parameter: parameter.map(Into::into),
            measure: Measure {
                median_ns: ns,
                lower_ns: ns,
                upper_ns: ns,
                throughput: None,
            },
        }
    }

    #[test]
    fn pairs_ours_with_the_fastest_peer() {
        let rows = rows_from_samples(vec![
            sample("hit", "moka", None, 200.0),
            sample("hit", OURS, None, 40.0),
            sample("hit", "dashmap", None, 30.0),
            sample("burst", OURS, Some("16"), 10.0),
            sample("burst", OURS, Some("2"), 10.0),
            sample("lonely", "peer", None, 1.0),
            sample("hit", "baseline-bare", None, 1.0),
        ]);
        let labels: Vec<&str> = rows.iter().map(|r| r.scenario.as_str()).collect();
        assert_eq!(labels, ["burst/2", "burst/16", "hit", "lonely"]);
        let hit = &rows[2];
        let best = hit.best_peer().unwrap();
        assert_eq!(best.name, "dashmap");
        assert!((best.ratio.unwrap() - 0.75).abs() < 1e-9);
        assert!((hit.peers[1].ratio.unwrap() - 5.0).abs() < 1e-9);
        assert_eq!(hit.baselines.len(), 1);
        assert_eq!(hit.peers.len(), 2);
        assert!(rows[3].ours.is_none() && rows[3].peers[0].ratio.is_none());
    }
}
