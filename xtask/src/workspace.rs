//! The workspace as `cargo metadata` describes it: members, their bench targets, the target dir.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::util::cargo;

/// One workspace member.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    /// Package name, e.g. `asyncperf-prioq`.
    pub(crate) name: String,
    /// Directory under the workspace root, e.g. `prioq`.
    pub(crate) dir: String,
    /// False for `publish = false` crates (xtask, testkit).
    pub(crate) publishable: bool,
    /// Names of the `[[bench]]` targets.
    pub(crate) benches: Vec<String>,
    /// Names of the crate's features (without `default`).
    pub(crate) features: Vec<String>,
    /// Features the crate enables by default.
    pub(crate) default_features: Vec<String>,
}

/// The workspace: its root, target directory and members in manifest order.
#[derive(Debug)]
pub(crate) struct Workspace {
    pub(crate) root: PathBuf,
    pub(crate) target_dir: PathBuf,
    pub(crate) members: Vec<Member>,
}

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<Package>,
    workspace_members: Vec<String>,
    workspace_root: PathBuf,
    target_directory: PathBuf,
}

#[derive(Deserialize)]
struct Package {
    id: String,
    name: String,
    manifest_path: PathBuf,
    publish: Option<Vec<String>>,
    targets: Vec<Target>,
    features: std::collections::BTreeMap<String, Vec<String>>,
}

#[derive(Deserialize)]
struct Target {
    name: String,
    kind: Vec<String>,
}

impl Workspace {
    /// Reads the workspace with `cargo metadata --no-deps`.
    pub(crate) fn load() -> Result<Self> {
        let output = cargo()
            .args(["metadata", "--no-deps", "--format-version", "1"])
            .output()
            .context("running `cargo metadata`")?;
        if !output.status.success() {
            bail!(
                "`cargo metadata` failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let meta: Metadata =
            serde_json::from_slice(&output.stdout).context("parsing `cargo metadata` output")?;
        let mut members = Vec::new();
        for id in &meta.workspace_members {
            let package = meta
                .packages
                .iter()
                .find(|p| &p.id == id)
                .with_context(|| format!("workspace member {id} missing from metadata"))?;
            members.push(Member::from_package(package, &meta.workspace_root));
        }
        Ok(Self {
            root: meta.workspace_root,
            target_dir: meta.target_directory,
            members,
        })
    }

    /// Members selected by `--only` (directory or package names); all when `only` is empty.
    pub(crate) fn select(&self, only: &[String]) -> Result<Vec<&Member>> {
        if only.is_empty() {
            return Ok(self.members.iter().collect());
        }
        let mut selected = Vec::new();
        for name in only {
            let Some(member) = self
                .members
                .iter()
                .find(|m| &m.dir == name || &m.name == name)
            else {
                let known: Vec<&str> = self.members.iter().map(|m| m.dir.as_str()).collect();
                bail!(
                    "unknown crate `{name}`; workspace crates are: {}",
                    known.join(", ")
                );
            };
            if !selected.iter().any(|m: &&Member| m.name == member.name) {
                selected.push(member);
            }
        }
        Ok(selected)
    }

    /// The workspace member named `name`, by package name.
    pub(crate) fn member(&self, name: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.name == name)
    }
}

impl Member {
    fn from_package(package: &Package, root: &Path) -> Self {
        let dir = package
            .manifest_path
            .parent()
            .and_then(|d| d.strip_prefix(root).ok())
            .map_or_else(|| package.name.clone(), |d| d.display().to_string());
        Self {
            name: package.name.clone(),
            dir,
            publishable: package.publish.as_ref().is_none_or(|r| !r.is_empty()),
            benches: package
                .targets
                .iter()
                .filter(|t| t.kind.iter().any(|k| k == "bench"))
                .map(|t| t.name.clone())
                .collect(),
            features: package
                .features
                .keys()
                .filter(|f| f.as_str() != "default")
                .cloned()
                .collect(),
            default_features: package.features.get("default").cloned().unwrap_or_default(),
        }
    }
}
