//! What the bench report says about where and when it was measured.

use asyncperf_testkit::machine;
use serde::Serialize;

use crate::util::capture;

/// The machine, toolchain and revision a report was measured on.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Machine {
    pub(crate) cpu: String,
    pub(crate) cores: usize,
    pub(crate) memory_gib: Option<u64>,
    pub(crate) os: String,
    pub(crate) rustc: String,
    pub(crate) git_revision: String,
    /// UTC date and time, ISO 8601.
    pub(crate) measured_at: String,
}

impl Machine {
    pub(crate) fn detect() -> Self {
        let memory_gib = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
            .map(|kib| (kib + (1 << 19)) >> 20);
        let revision = capture("git", &["rev-parse", "--short=12", "HEAD"])
            .unwrap_or_else(|| "unknown".into());
        let dirty = capture("git", &["status", "--porcelain", "--untracked-files=no"])
            .is_some_and(|s| !s.is_empty());
        Self {
            cpu: machine::cpu(),
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            memory_gib,
            os: machine::os(),
            rustc: machine::rustc(),
            git_revision: if dirty {
                format!("{revision}+dirty")
            } else {
                revision
            },
            measured_at: machine::utc_now(),
        }
    }

    /// One line for report headers and README footers.
    pub(crate) fn summary(&self) -> String {
        let memory = self
            .memory_gib
            .map_or_else(String::new, |g| format!(", {g} GiB"));
        format!(
            "{} ({} cores{memory}), {}, {}, commit {}, {}",
            self.cpu, self.cores, self.os, self.rustc, self.git_revision, self.measured_at
        )
    }
}
