//! `cargo xtask test`: every unit, integration and doc test of the workspace.

use anyhow::Result;

use crate::flags::TestArgs;
use crate::util::{cargo, run as run_command};
use crate::workspace::Workspace;

pub(crate) fn run(args: &TestArgs) -> Result<()> {
    let ws = Workspace::load()?;
    let mut cmd = cargo();
    // All features: every feature is additive, so this compiles and tests every code path.
    cmd.args(["test", "--all-features"]);
    if args.only.is_empty() {
        cmd.arg("--workspace");
    } else {
        for member in ws.select(&args.only)? {
            cmd.args(["-p", &member.name]);
        }
    }
    run_command(&mut cmd)
}
