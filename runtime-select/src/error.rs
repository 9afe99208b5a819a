//! What can go wrong choosing a runtime, and why a flavour was passed over.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use crate::{Flavor, ParseFlavorError, ParseWorkloadError};

/// Why a runtime could not be configured or built.
///
/// Configuration mistakes are reported before anything is built; a flavour that cannot be
/// built is not an error as long as a fallback can be (see [`Selection`](crate::Selection)).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An environment variable or config key holds a value this crate does not accept.
    /// The message names the variable, the value and the accepted values.
    #[error("{var}={value:?} is not valid: {accepted}")]
    InvalidVar {
        /// The variable or key, e.g. `ASYNCPERF_RUNTIME`.
        var: String,
        /// What it held.
        value: String,
        /// The values it accepts.
        accepted: &'static str,
    },
    /// A flavour given in code or config is not one of the accepted spellings.
    #[error(transparent)]
    InvalidFlavor(#[from] ParseFlavorError),
    /// A workload given in code or config is not one of the accepted spellings.
    #[error(transparent)]
    InvalidWorkload(#[from] ParseWorkloadError),
    /// A knob was set to zero where tokio needs at least 1 (tokio would panic on it).
    #[error("{knob} must be at least 1 (tokio panics on 0)")]
    ZeroKnob {
        /// The knob, e.g. `event_interval` or `workers`.
        knob: &'static str,
    },
    /// A knob needs tokio's unstable API, which this build was compiled without.
    #[error(
        "{knob} needs tokio's unstable API: build with RUSTFLAGS=\"--cfg tokio_unstable\" \
         or leave it unset"
    )]
    NeedsTokioUnstable {
        /// The knob, e.g. `lifo_slot`.
        knob: &'static str,
    },
    /// No flavour on the preference list could be built, and neither could the default
    /// multi-thread runtime (or the default fallback was turned off).
    #[error("no runtime could be built: {}", RejectionList(.rejected))]
    NoRuntime {
        /// Every flavour tried, in order, with the reason it was passed over.
        rejected: Vec<Rejection>,
    },
}

struct RejectionList<'a>(&'a [Rejection]);

impl fmt::Display for RejectionList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

/// A flavour that was tried and passed over, and why.
#[derive(Clone, Debug)]
pub struct Rejection {
    pub(crate) flavor: Flavor,
    pub(crate) reason: RejectReason,
}

impl Rejection {
    /// The flavour, with its thread count as it was resolved.
    #[must_use]
    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    /// Why it was passed over.
    #[must_use]
    pub fn reason(&self) -> &RejectReason {
        &self.reason
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} rejected: {}", self.flavor, self.reason)
    }
}

/// Why a flavour could not be built here.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RejectReason {
    /// A [`check`](crate::Builder::check) said the flavour is unavailable.
    #[error("check failed: {0}")]
    Unavailable(Unavailable),
    /// Building it returned an OS error (threads, epoll, file descriptors).
    #[error("build failed: {0}")]
    Build(Arc<std::io::Error>),
    /// tokio panicked while building it (it does when the OS refuses a worker thread);
    /// the panic was caught and its message kept.
    #[error("tokio panicked while building it: {0}")]
    Panicked(Cow<'static, str>),
}

/// A check's verdict that a flavour cannot be used here, with the reason shown in the
/// [`Selection`](crate::Selection).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Unavailable {
    reason: Cow<'static, str>,
}

impl Unavailable {
    /// A verdict with this reason.
    pub fn new(reason: impl Into<Cow<'static, str>>) -> Self {
        Self {
            reason: reason.into(),
        }
    }

    /// The reason given.
    #[must_use]
    pub fn reason(&self) -> &str {
        &self.reason
    }
}
