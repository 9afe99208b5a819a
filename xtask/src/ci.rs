//! `cargo xtask ci`: everything CI checks, in the order that fails fastest.

use std::time::Instant;

use anyhow::{Context, Result};

use crate::flags::{CiArgs, TestArgs};
use crate::util::{cargo, run as run_command};
use crate::workspace::Workspace;

/// The facade crate, whose every feature must build on its own.
const FACADE: &str = "asyncperf";

pub(crate) fn run(_args: &CiArgs) -> Result<()> {
    let ws = Workspace::load()?;
    let started = Instant::now();

    step("fmt", || {
        run_command(cargo().args(["fmt", "--all", "--check"]))
    })?;
    step("tidy", || crate::tidy::check(&ws))?;
    step("clippy", || {
        run_command(cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    step("test", || crate::test::run(&TestArgs::default()))?;
    step("doc", || {
        run_command(
            cargo()
                .args(["doc", "--workspace", "--no-deps", "--all-features"])
                .env("RUSTDOCFLAGS", "-D warnings"),
        )
    })?;
    step("features", || check_features(&ws))?;
    step("package", || package(&ws))?;

    println!("ci: all checks passed in {:.0?}", started.elapsed());
    Ok(())
}

fn step(name: &str, f: impl FnOnce() -> Result<()>) -> Result<()> {
    println!("\n==> ci: {name}");
    let started = Instant::now();
    f().with_context(|| format!("ci step `{name}` failed"))?;
    println!("==> ci: {name} passed in {:.0?}", started.elapsed());
    Ok(())
}

/// The facade with no feature and with each feature alone; every publishable crate with its
/// default features off: checked, and tested when it has default features to turn off (the
/// `--all-features` test run never builds that configuration).
fn check_features(ws: &Workspace) -> Result<()> {
    if let Some(facade) = ws.member(FACADE) {
        run_command(cargo().args(["check", "-p", FACADE, "--no-default-features"]))?;
        for feature in &facade.features {
            run_command(cargo().args([
                "check",
                "-p",
                FACADE,
                "--no-default-features",
                "--features",
                feature,
            ]))?;
        }
    }
    for member in ws
        .members
        .iter()
        .filter(|m| m.publishable && m.name != FACADE && !m.features.is_empty())
    {
        let verb = if member.default_features.is_empty() {
            "check"
        } else {
            "test"
        };
        run_command(cargo().args([verb, "-p", &member.name, "--no-default-features"]))?;
    }
    Ok(())
}

/// `cargo package` of every publishable crate: each must build from its own tarball, with
/// workspace siblings resolved as the versions it names.
fn package(ws: &Workspace) -> Result<()> {
    let mut cmd = cargo();
    // Dirty trees are allowed so the check can run before committing; CI runs on a clean clone.
    cmd.args(["package", "--allow-dirty"]);
    for member in ws.members.iter().filter(|m| m.publishable) {
        cmd.args(["-p", &member.name]);
    }
    run_command(&mut cmd)
}
