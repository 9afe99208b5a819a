//! `cargo xtask bench`: run every crate's criterion benches, then write and print the report.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::flags::BenchArgs;
use crate::machine::Machine;
use crate::report::{self, CrateReport, Report};
use crate::util::{cargo, run as run_command, show};
use crate::workspace::{Member, Workspace};

/// Criterion settings per mode. Full runs keep every crate's matrix to a few minutes so the
/// whole run stays under 20; quick runs are a smoke test of every bench (about 3 minutes).
const FULL_ARGS: &[&str] = &["--warm-up-time", "1", "--measurement-time", "3", "--noplot"];
const QUICK_ARGS: &[&str] = &[
    "--warm-up-time",
    "0.1",
    "--measurement-time",
    "0.3",
    "--sample-size",
    "10",
    // Criterion's default 100k bootstrap resamples cost more than a quick measurement.
    "--nresamples",
    "10000",
    "--noplot",
];

const NOTE_PREFIX: &str = "asyncperf-note: ";
const SKIP_PREFIX: &str = "skipped: ";

pub(crate) fn run(args: &BenchArgs) -> Result<()> {
    let ws = Workspace::load()?;
    let selected = ws.select(&args.only)?;
    let with_benches: Vec<&Member> = selected
        .iter()
        .copied()
        .filter(|m| !m.benches.is_empty())
        .collect();
    if !args.only.is_empty()
        && let Some(m) = selected.iter().find(|m| m.benches.is_empty())
    {
        bail!("crate `{}` has no benches", m.dir);
    }

    // Build each crate's benches exactly as they will run (same package selection and
    // features): one build for all crates would unify features differently, and every run
    // would then compile again inside its measured time.
    let started = Instant::now();
    for member in &with_benches {
        run_command(bench_command(member).arg("--no-run"))
            .with_context(|| format!("building the benches of {}", member.dir))?;
    }
    if !with_benches.is_empty() {
        println!("benches built in {:.0?}", started.elapsed());
    }

    let machine = Machine::detect();
    let mut report = Report {
        schema_version: report::SCHEMA_VERSION,
        mode: if args.quick { "quick" } else { "full" },
        machine,
        crates: Vec::new(),
    };
    let started = Instant::now();
    for member in &with_benches {
        report.crates.push(bench_crate(&ws, member, args.quick)?);
    }
    println!("benches ran in {:.0?}", started.elapsed());

    let out_dir = ws.target_dir.join("asyncperf-report");
    report::write_all(&mut report, &out_dir)?;
    println!("\n{}", report::render(&report));
    println!(
        "report: {} (also report.json and one SVG chart per crate)",
        out_dir.join("REPORT.md").display()
    );

    if !args.quick && !args.no_readme {
        for krate in report.crates.iter().filter(|c| c.status == "ok") {
            let readme = ws.root.join(&krate.dir).join("README.md");
            if report::update_readme(&readme, krate, &report.machine)? {
                println!("refreshed the measured table in {}", readme.display());
            }
        }
    }

    let failed: Vec<&str> = report
        .crates
        .iter()
        .filter(|c| c.status != "ok")
        .map(|c| c.dir.as_str())
        .collect();
    if !failed.is_empty() {
        bail!("benches failed for: {}", failed.join(", "));
    }
    Ok(())
}

/// Runs one crate's bench targets with their own criterion directory, so the report holds
/// exactly this run's results for that crate.
fn bench_crate(ws: &Workspace, member: &Member, quick: bool) -> Result<CrateReport> {
    let home = ws.target_dir.join("criterion").join(&member.dir);
    if home.exists() {
        std::fs::remove_dir_all(&home)
            .with_context(|| format!("clearing old results in {}", home.display()))?;
    }
    let mut cmd = bench_command(member);
    cmd.arg("--");
    cmd.args(if quick { QUICK_ARGS } else { FULL_ARGS });
    cmd.env("CRITERION_HOME", &home);
    if quick {
        cmd.env("ASYNCPERF_BENCH_QUICK", "1");
    }

    let started = Instant::now();
    let (status, notes, skipped) = run_scanning(&mut cmd)?;
    let seconds = started.elapsed().as_secs_f64();
    let samples = report::read_samples(&home)?;
    Ok(CrateReport {
        name: member.name.clone(),
        dir: member.dir.clone(),
        status,
        seconds,
        rows: report::rows_from_samples(samples),
        notes,
        skipped,
        chart: None,
    })
}

/// `cargo bench` of one crate's bench targets, every feature on.
fn bench_command(member: &Member) -> Command {
    let mut cmd = cargo();
    cmd.args(["bench", "--all-features", "-p", &member.name]);
    for bench in &member.benches {
        cmd.args(["--bench", bench]);
    }
    cmd
}

/// Runs `cmd`, echoing its stdout while collecting the note and skip lines.
fn run_scanning(cmd: &mut Command) -> Result<(String, Vec<String>, Vec<String>)> {
    let shown = show(cmd);
    println!("$ {shown}");
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting `{shown}`"))?;
    let (mut notes, mut skipped) = (Vec::new(), Vec::new());
    if let Some(stdout) = child.stdout.take() {
        let mut echo = std::io::stdout().lock();
        for line in BufReader::new(stdout).lines() {
            let line = line?;
            writeln!(echo, "{line}")?;
            let text = line.trim_start();
            if let Some(note) = text.strip_prefix(NOTE_PREFIX) {
                notes.push(note.trim().to_owned());
            } else if let Some(reason) = text.strip_prefix(SKIP_PREFIX) {
                skipped.push(reason.trim().to_owned());
            }
        }
    }
    let status = child.wait()?;
    let status = if status.success() {
        "ok".to_owned()
    } else {
        format!("`{shown}` exited with {status}")
    };
    Ok((status, notes, skipped))
}
