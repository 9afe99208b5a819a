//! Reading criterion's own result files (`<home>/**/new/{benchmark,estimates}.json`).

use std::path::Path;

use anyhow::{Context, Result};
use serde::Deserialize;

use super::{Measure, Throughput};

/// One benchmark function's latest result, as criterion saved it.
#[derive(Debug, Clone)]
pub(crate) struct Sample {
    /// Criterion group: the scenario.
    pub(crate) group: String,
    /// Function id: the implementation (`asyncperf` or a peer's crate name).
    pub(crate) function: Option<String>,
    /// Parameter of a `BenchmarkId`, e.g. a concurrency level.
    pub(crate) parameter: Option<String>,
    pub(crate) measure: Measure,
}

#[derive(Deserialize)]
struct BenchmarkFile {
    group_id: String,
    function_id: Option<String>,
    value_str: Option<String>,
    throughput: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct EstimatesFile {
    median: Estimate,
}

#[derive(Deserialize)]
struct Estimate {
    point_estimate: f64,
    confidence_interval: Interval,
}

#[derive(Deserialize)]
struct Interval {
    lower_bound: f64,
    upper_bound: f64,
}

/// Every result under `home` (criterion's output directory for one crate's run).
pub(crate) fn read_samples(home: &Path) -> Result<Vec<Sample>> {
    let mut samples = Vec::new();
    if home.is_dir() {
        walk(home, &mut samples)?;
    }
    Ok(samples)
}

fn walk(dir: &Path, samples: &mut Vec<Sample>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if !path.is_dir() {
            continue;
        }
        if path.file_name().is_some_and(|n| n == "new") {
            if path.join("benchmark.json").is_file() && path.join("estimates.json").is_file() {
                samples.push(read_one(&path)?);
            }
        } else if path.file_name().is_none_or(|n| n != "report") {
            walk(&path, samples)?;
        }
    }
    Ok(())
}

fn read_one(new_dir: &Path) -> Result<Sample> {
    let bench: BenchmarkFile = read_json(&new_dir.join("benchmark.json"))?;
    let estimates: EstimatesFile = read_json(&new_dir.join("estimates.json"))?;
    Ok(Sample {
        group: bench.group_id,
        function: bench.function_id,
        parameter: bench.value_str,
        measure: Measure {
            median_ns: estimates.median.point_estimate,
            lower_ns: estimates.median.confidence_interval.lower_bound,
            upper_ns: estimates.median.confidence_interval.upper_bound,
            throughput: bench.throughput.as_ref().and_then(throughput),
        },
    })
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Criterion serialises `Throughput` as `{"Elements": n}`, `{"Bytes": n}`, `{"BytesDecimal": n}`
/// or `{"ElementsAndBytes": {"elements": n, "bytes": m}}`.
fn throughput(value: &serde_json::Value) -> Option<Throughput> {
    let (kind, amount) = value.as_object()?.iter().next()?;
    let per_iteration = match amount {
        serde_json::Value::Number(n) => n.as_u64()?,
        serde_json::Value::Object(o) => o.get("elements")?.as_u64()?,
        _ => return None,
    };
    let kind = if kind.starts_with("Bytes") {
        "bytes"
    } else {
        "elements"
    };
    Some(Throughput {
        kind: kind.to_owned(),
        per_iteration,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_criterion_layout() {
        let home = std::env::temp_dir().join(format!("xtask-criterion-{}", std::process::id()));
        let new_dir = home.join("burst").join("asyncperf").join("16").join("new");
        std::fs::create_dir_all(&new_dir).unwrap();
        std::fs::write(
            new_dir.join("benchmark.json"),
            r#"{"group_id":"burst","function_id":"asyncperf","value_str":"16",
               "throughput":{"Elements":1000},"full_id":"burst/asyncperf/16",
               "directory_name":"burst/asyncperf/16","title":"burst/asyncperf/16"}"#,
        )
        .unwrap();
        std::fs::write(
            new_dir.join("estimates.json"),
            r#"{"median":{"confidence_interval":{"confidence_level":0.95,
               "lower_bound":990.0,"upper_bound":1010.0},"point_estimate":1000.0,
               "standard_error":3.0}}"#,
        )
        .unwrap();
        // A baseline directory criterion keeps beside `new` must not be read.
        std::fs::create_dir_all(home.join("burst").join("asyncperf").join("16").join("base"))
            .unwrap();

        let samples = read_samples(&home).unwrap();
        std::fs::remove_dir_all(&home).unwrap();
        assert_eq!(samples.len(), 1);
        let s = &samples[0];
        assert_eq!(
            (
                s.group.as_str(),
                s.function.as_deref(),
                s.parameter.as_deref()
            ),
            ("burst", Some("asyncperf"), Some("16"))
        );
        assert!((s.measure.median_ns - 1000.0).abs() < f64::EPSILON);
        assert_eq!(s.measure.throughput.as_ref().unwrap().per_iteration, 1000);
    }
}
