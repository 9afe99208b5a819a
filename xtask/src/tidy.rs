//! Repository rules no compiler lint checks: what every publishable crate must carry.
//!
//! - `README.md` (included as a doctest from `src/lib.rs`), `CHANGELOG.md` with an
//!   `## [Unreleased]` or version section, and copies of the root licence files;
//! - `benches/` for pattern crates (the facade has none);
//! - a `# Cancel safety` section in the docs of every `pub async fn`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::workspace::{Member, Workspace};

const FACADE: &str = "asyncperf";
const LICENCES: [&str; 2] = ["LICENSE-MIT", "LICENSE-APACHE"];

pub(crate) fn check(ws: &Workspace) -> Result<()> {
    let mut problems = Vec::new();
    for member in ws.members.iter().filter(|m| m.publishable) {
        check_member(&ws.root, member, &mut problems)?;
    }
    if problems.is_empty() {
        println!("tidy: every publishable crate carries its README, CHANGELOG, licences and docs");
        return Ok(());
    }
    for problem in &problems {
        eprintln!("tidy: {problem}");
    }
    bail!("{} tidy problem(s)", problems.len())
}

fn check_member(root: &Path, member: &Member, problems: &mut Vec<String>) -> Result<()> {
    let dir = root.join(&member.dir);
    let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap_or_default();
    if !dir.join("README.md").is_file() {
        problems.push(format!("{}/README.md is missing", member.dir));
    } else if !lib.contains("include_str!(\"../README.md\")") {
        problems.push(format!(
            "{}/src/lib.rs does not include README.md as a doctest",
            member.dir
        ));
    }
    match std::fs::read_to_string(dir.join("CHANGELOG.md")) {
        Ok(text) if text.contains("## [") => {}
        Ok(_) => problems.push(format!(
            "{}/CHANGELOG.md has no `## [Unreleased]` or version section",
            member.dir
        )),
        Err(_) => problems.push(format!("{}/CHANGELOG.md is missing", member.dir)),
    }
    for licence in LICENCES {
        let root_copy = std::fs::read(root.join(licence)).with_context(|| licence.to_owned())?;
        if std::fs::read(dir.join(licence)).ok().as_ref() != Some(&root_copy) {
            problems.push(format!(
                "{}/{licence} is missing or differs from the root copy",
                member.dir
            ));
        }
    }
    if member.name != FACADE && !dir.join("benches").is_dir() {
        problems.push(format!(
            "{}/benches is missing (each pattern is measured beside its peers)",
            member.dir
        ));
    }
    for file in rust_files(&dir.join("src")) {
        let text = std::fs::read_to_string(&file)?;
        let shown = file
            .strip_prefix(root)
            .unwrap_or(&file)
            .display()
            .to_string();
        for line in async_fns_without_cancel_safety(&text) {
            problems.push(format!(
                "{shown}:{line}: `pub async fn` without a `# Cancel safety` doc section"
            ));
        }
    }
    Ok(())
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// 1-based line numbers of `pub async fn`s whose doc comment has no `# Cancel safety` heading.
/// The doc block is the run of `///` and `#[...]` lines right above the function.
fn async_fns_without_cancel_safety(text: &str) -> Vec<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let mut missing = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let code = line.trim_start();
        if !(code.starts_with("pub async fn ") || code.starts_with("pub async unsafe fn ")) {
            continue;
        }
        let documented = lines[..i]
            .iter()
            .rev()
            .map(|l| l.trim_start())
            .take_while(|l| l.starts_with("///") || l.starts_with("#[") || l.starts_with("#!["))
            .any(|l| l.starts_with("///") && l.contains("# Cancel safety"));
        if !documented {
            missing.push(i + 1);
        }
    }
    missing
}

#[cfg(test)]
mod tests {
    use super::async_fns_without_cancel_safety;

    #[test]
    fn finds_async_fns_without_the_section() {
        let text = "\
/// Waits.
///
/// # Cancel safety
///
/// Safe.
#[inline]
pub async fn documented() {}

/// Waits too.
pub async fn undocumented() {}

pub(crate) async fn private() {}
    pub async fn in_impl() {}
";
        assert_eq!(async_fns_without_cancel_safety(text), [10, 13]);
    }
}
