//! Advice per workload, read from the measured table, with the margin that makes it advice.

use std::fmt;

use crate::{Flavor, MeasuredTable, Workload};

/// How much faster than the default multi-thread runtime a flavour must be before it is
/// recommended over it (and its confidence interval must lie below the default's): smaller
/// differences are within run-to-run noise, and the default is the flavour that degrades least
/// when the workload shifts.
pub const NOISE_MARGIN: f64 = 0.05;

/// What [`recommend`] found for a workload.
#[derive(Clone, Debug, PartialEq)]
pub struct Recommendation {
    workload: Workload,
    measured_as: Option<Workload>,
    flavor: Flavor,
    fastest: Option<Flavor>,
    vs_default: Option<f64>,
    source: Source,
}

#[derive(Clone, Debug, PartialEq)]
struct Source {
    machine: String,
    cores: usize,
    date: String,
    tokio: String,
}

impl Recommendation {
    /// The flavour to use (thread count left to the defaults).
    #[must_use]
    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    /// The workload asked about.
    #[must_use]
    pub fn workload(&self) -> Workload {
        self.workload
    }

    /// The measured row the advice comes from (the nearest of the same kind), or `None` when
    /// nothing comparable was measured and the advice is the default.
    #[must_use]
    pub fn measured_as(&self) -> Option<Workload> {
        self.measured_as
    }

    /// The fastest flavour in that row, even when not clearly faster than the default.
    #[must_use]
    pub fn fastest(&self) -> Option<Flavor> {
        self.fastest
    }

    /// The recommended flavour's speed against the default multi-thread runtime (default time
    /// / its time) in that row.
    #[must_use]
    pub fn vs_default(&self) -> Option<f64> {
        self.vs_default
    }

    /// Available parallelism on the machine measured (0 when not measured).
    #[must_use]
    pub fn measured_cores(&self) -> usize {
        self.source.cores
    }
}

impl fmt::Display for Recommendation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(measured_as) = self.measured_as else {
            return write!(
                f,
                "{} not measured, {} (the default)",
                self.workload, self.flavor
            );
        };
        write!(f, "{} ", self.workload)?;
        if measured_as != self.workload {
            write!(f, "(nearest measured: {measured_as}) ")?;
        }
        write!(f, "-> {}", self.flavor)?;
        if let Some(x) = self.vs_default {
            write!(f, " at {x:.2}x the default")?;
        }
        if self.fastest != Some(self.flavor)
            && let Some(fastest) = self.fastest
        {
            write!(
                f,
                " ({fastest} was fastest but not clearly: within the {:.0}% margin or the \
                 confidence intervals overlap)",
                NOISE_MARGIN * 100.0
            )?;
        }
        write!(
            f,
            "; measured on {}, {}, tokio {}",
            self.source.machine, self.source.date, self.source.tokio
        )
    }
}

/// The flavour to use for `workload`, from the table measured by this crate's bench
/// ([`MeasuredTable::shipped`]).
///
/// The fastest flavour of the nearest measured row wins if it clearly beats the default
/// multi-thread runtime ([`MeasuredRow::clearly_beats_default`](crate::MeasuredRow::clearly_beats_default):
/// by more than [`NOISE_MARGIN`], with non-overlapping confidence intervals); otherwise, and
/// when nothing comparable was measured, the answer is the default. The numbers come from one machine (see
/// [`Recommendation`]'s `Display`): re-run `cargo xtask bench --only runtime-select` on
/// hardware like your production's before trusting a close call.
#[must_use]
pub fn recommend(workload: Workload) -> Recommendation {
    MeasuredTable::shipped().recommend(workload)
}

impl MeasuredTable {
    /// [`recommend`] against this table.
    #[must_use]
    pub fn recommend(&self, workload: Workload) -> Recommendation {
        let source = Source {
            machine: self.machine().to_owned(),
            cores: self.cores(),
            date: self.date().to_owned(),
            tokio: self.tokio_version().to_owned(),
        };
        let Some(row) = self.nearest(workload) else {
            return Recommendation {
                workload,
                measured_as: None,
                flavor: Flavor::DEFAULT,
                fastest: None,
                vs_default: None,
                source,
            };
        };
        let fastest = row.fastest();
        let flavor = fastest
            .filter(|f| row.clearly_beats_default(*f))
            .unwrap_or(Flavor::DEFAULT);
        Recommendation {
            workload,
            measured_as: Some(row.workload()),
            flavor,
            fastest,
            vs_default: row.vs_default(flavor),
            source,
        }
    }
}
