//! After a full run: read this run's criterion medians back, write `data/measured.txt` (what
//! `recommend()` compiles in) and the README's recommendation block from them.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use asyncperf_runtime_select::MeasuredTable;
use asyncperf_testkit::bench::note;
use asyncperf_testkit::machine;

use crate::Measured;
use crate::targets::{CURRENT_THREAD, MULTI_THREAD, THREAD_PER_CORE, cores, flavor_of};

const BEGIN: &str = "<!-- runtime-select:recommend:begin -->";
const END: &str = "<!-- runtime-select:recommend:end -->";

type Key = (String, String, Option<String>);

pub(crate) fn regenerate(started: SystemTime, measured: &[Measured]) {
    let Some(home) = criterion_home() else {
        note("measured table not rewritten: criterion's output directory is unknown");
        return;
    };
    let medians = read_medians(&home, started);
    let mut text = header();
    for m in measured {
        let mut row = format!("row: {}", m.workload);
        for id in [CURRENT_THREAD, MULTI_THREAD, THREAD_PER_CORE] {
            let key = (m.group.clone(), id.to_owned(), m.parameter.clone());
            let Some((median, lower, upper)) = medians.get(&key) else {
                note(format!(
                    "measured table not rewritten: no fresh result for {}/{id}{} (filtered run?)",
                    m.group,
                    m.parameter
                        .as_deref()
                        .map(|p| format!("/{p}"))
                        .unwrap_or_default()
                ));
                return;
            };
            let flavor = flavor_of(id).expect("a flavour id");
            let _ = write!(row, " {flavor}={median:.1}:{lower:.1}:{upper:.1}");
        }
        text.push_str(&row);
        text.push('\n');
    }
    let table = match MeasuredTable::parse(&text) {
        Ok(table) => table,
        Err(e) => {
            note(format!("measured table not rewritten: {e}"));
            return;
        }
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    if let Err(e) = std::fs::write(dir.join("data/measured.txt"), &text) {
        note(format!("measured table not written: {e}"));
        return;
    }
    let readme = dir.join("README.md");
    match std::fs::read_to_string(&readme) {
        Ok(old) => match replace_block(&old, &table.to_markdown()) {
            Some(new) => {
                if let Err(e) = std::fs::write(&readme, new) {
                    note(format!("README recommendation block not written: {e}"));
                }
            }
            None => note("README has no recommendation block markers"),
        },
        Err(e) => note(format!("README not read: {e}")),
    }
    note(format!(
        "measured table rewritten (data/measured.txt and the README's recommendation block); \
         `recommend()` uses it from the next build: {}",
        table
            .rows()
            .iter()
            .map(|r| format!(
                "{}={}",
                r.workload(),
                table.recommend(r.workload()).flavor()
            ))
            .collect::<Vec<_>>()
            .join(", ")
    ));
}

/// Where criterion writes, resolved as criterion does.
fn criterion_home() -> Option<PathBuf> {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return Some(home.into());
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return Some(Path::new(&target).join("criterion"));
    }
    Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/criterion"))
}

/// Median and its confidence interval (ns) of every result criterion wrote since `started`,
/// by (group, function, parameter).
fn read_medians(home: &Path, started: SystemTime) -> HashMap<Key, (f64, f64, f64)> {
    let mut out = HashMap::new();
    let mut dirs = vec![home.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            if path.file_name().is_some_and(|n| n == "new") {
                if let Some((key, ns)) = read_result(&path, started) {
                    out.insert(key, ns);
                }
            } else if path.file_name().is_none_or(|n| n != "report") {
                dirs.push(path);
            }
        }
    }
    out
}

fn read_result(new_dir: &Path, started: SystemTime) -> Option<(Key, (f64, f64, f64))> {
    let estimates = new_dir.join("estimates.json");
    let fresh = std::fs::metadata(&estimates)
        .and_then(|m| m.modified())
        .is_ok_and(|t| t >= started);
    if !fresh {
        return None;
    }
    let bench: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(new_dir.join("benchmark.json")).ok()?)
            .ok()?;
    let est: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&estimates).ok()?).ok()?;
    let key = (
        bench["group_id"].as_str()?.to_owned(),
        bench["function_id"].as_str()?.to_owned(),
        bench["value_str"].as_str().map(str::to_owned),
    );
    let median = &est["median"];
    let interval = &median["confidence_interval"];
    Some((
        key,
        (
            median["point_estimate"].as_f64()?,
            interval["lower_bound"].as_f64()?,
            interval["upper_bound"].as_f64()?,
        ),
    ))
}

fn header() -> String {
    let cores = cores();
    format!(
        "# asyncperf-runtime-select measured table (format 1).\n\
         # Written by benches/flavors on a full `cargo xtask bench --only runtime-select` run; \
         never edit by hand.\n\
         # Criterion medians (with their 95% interval) in nanoseconds per iteration of each workload's bench group; every \
         flavour built by hand with plain tokio, {cores} threads (multi_thread workers, \
         thread_per_core shards).\n\
         machine: {}\n\
         cores: {cores}\n\
         date: {}\n\
         tokio: {}\n",
        machine(cores),
        machine::utc_date(),
        tokio_version()
    )
}

fn machine(cores: usize) -> String {
    format!(
        "{} ({cores} cores), {}, {}",
        machine::cpu(),
        machine::os(),
        machine::rustc()
    )
}

/// tokio's version from the workspace lock file (what the bench was compiled against).
fn tokio_version() -> String {
    let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
    let text = std::fs::read_to_string(lock).unwrap_or_default();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "name = \"tokio\""
            && let Some(version) = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = \""))
                .and_then(|v| v.strip_suffix('"'))
        {
            return version.to_owned();
        }
    }
    "unknown".to_owned()
}

fn replace_block(text: &str, content: &str) -> Option<String> {
    let start = text.find(BEGIN)? + BEGIN.len();
    let end = start + text[start..].find(END)?;
    Some(format!("{}\n{}{}", &text[..start], content, &text[end..]))
}
