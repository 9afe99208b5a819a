//! Running cargo and other tools, with each command echoed before it runs.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The `cargo` that runs us (`$CARGO`), so a toolchain override carries through.
pub(crate) fn cargo() -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(project_root());
    cmd
}

/// The workspace root: the parent of `xtask/`.
///
/// Read at run time (`cargo run` sets `CARGO_MANIFEST_DIR`), not baked in at compile time:
/// checkouts that share one target directory overwrite each other's `xtask` binary, and the
/// binary must act on the checkout it was invoked from.
pub(crate) fn project_root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest_dir
        .parent()
        .map_or(manifest_dir.clone(), PathBuf::from)
}

/// Runs `cmd` with inherited stdio, echoing it first; fails on a non-zero exit.
pub(crate) fn run(cmd: &mut Command) -> Result<()> {
    let shown = show(cmd);
    println!("$ {shown}");
    let status = cmd
        .status()
        .with_context(|| format!("starting `{shown}`"))?;
    if !status.success() {
        bail!("`{shown}` failed ({status})");
    }
    Ok(())
}

/// The command line of `cmd` as a shell would show it (environment overrides first).
pub(crate) fn show(cmd: &Command) -> String {
    let mut parts: Vec<String> = cmd
        .get_envs()
        .filter_map(|(k, v)| v.map(|v| format!("{}={}", k.to_string_lossy(), v.to_string_lossy())))
        .collect();
    let program = cmd.get_program().to_string_lossy();
    parts.push(
        program
            .rsplit('/')
            .next()
            .unwrap_or(program.as_ref())
            .to_owned(),
    );
    parts.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    parts.join(" ")
}

/// Output of a command that should succeed, trimmed; `None` if it cannot run or fails.
pub(crate) fn capture(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program)
        .args(args)
        .current_dir(project_root())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
