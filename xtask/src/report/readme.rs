//! Refreshing the measured table in a crate's README from a full bench run.
//!
//! The README marks where the table goes; everything between the markers is replaced, so the
//! figures there always come from `cargo xtask bench` and are never typed by hand.

use std::path::Path;

use anyhow::{Context, Result};

use super::{CrateReport, crate_section};
use crate::machine::Machine;

const BEGIN: &str = "<!-- asyncperf-bench:begin -->";
const END: &str = "<!-- asyncperf-bench:end -->";

/// Rewrites the marked block of `readme`; returns whether the file has the markers.
pub(crate) fn update_readme(readme: &Path, krate: &CrateReport, machine: &Machine) -> Result<bool> {
    let Ok(text) = std::fs::read_to_string(readme) else {
        return Ok(false);
    };
    let Some(updated) = replace_block(&text, &block(krate, machine)) else {
        return Ok(false);
    };
    std::fs::write(readme, updated).with_context(|| format!("writing {}", readme.display()))?;
    Ok(true)
}

fn block(krate: &CrateReport, machine: &Machine) -> String {
    format!(
        "Measured by `cargo xtask bench --only {}` on {} (criterion medians; \
         **ratio = peer time / asyncperf time**, above 1 means asyncperf is faster):\n\n{}",
        krate.dir,
        machine.summary(),
        crate_section(krate)
    )
}

fn replace_block(text: &str, content: &str) -> Option<String> {
    let start = text.find(BEGIN)? + BEGIN.len();
    let end = start + text[start..].find(END)?;
    Some(format!("{}\n{}{}", &text[..start], content, &text[end..]))
}

#[cfg(test)]
mod tests {
    use super::replace_block;

    #[test]
    fn replaces_only_between_markers() {
        let text =
            "intro\n<!-- asyncperf-bench:begin -->\nold\n<!-- asyncperf-bench:end -->\nrest\n";
        let out = replace_block(text, "new\n").unwrap();
        assert_eq!(
            out,
            "intro\n<!-- asyncperf-bench:begin -->\nnew\n<!-- asyncperf-bench:end -->\nrest\n"
        );
        assert!(replace_block("no markers", "x").is_none());
    }
}
