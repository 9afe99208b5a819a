//! What a build chose, what it passed over and why: the report to log at start-up.

use std::fmt;

use crate::{Flavor, Rejection};

/// The outcome of [`Builder::build`](crate::Builder::build): the flavour built (with its
/// thread count resolved), what was asked for, every flavour passed over with its reason, and
/// notes such as how `auto` decided. Its [`Display`](fmt::Display) is one line for a log.
#[derive(Clone, Debug)]
pub struct Selection {
    pub(crate) built: Flavor,
    pub(crate) requested: Vec<Flavor>,
    pub(crate) rejected: Vec<Rejection>,
    pub(crate) notes: Vec<String>,
    pub(crate) default_fallback: bool,
}

impl Selection {
    /// The flavour that was built, with its thread count (`multi_thread:2`), never `auto`.
    #[must_use]
    pub fn flavor(&self) -> Flavor {
        self.built
    }

    /// The preference list as given, first choice first.
    #[must_use]
    pub fn requested(&self) -> &[Flavor] {
        &self.requested
    }

    /// Flavours tried before the one built, in order, with why each was passed over.
    #[must_use]
    pub fn rejected(&self) -> &[Rejection] {
        &self.rejected
    }

    /// How `auto` resolved, thread counts taken from the environment, and similar findings.
    #[must_use]
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// True when the first choice was passed over and a later one was built.
    #[must_use]
    pub fn fell_back(&self) -> bool {
        !self.rejected.is_empty()
    }

    /// True when nothing on the preference list could be built and the runtime is the default
    /// multi-thread one (tokio's defaults, none of the configured knobs).
    #[must_use]
    pub fn is_default_fallback(&self) -> bool {
        self.default_fallback
    }
}

impl fmt::Display for Selection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "built {}", self.built)?;
        if self.default_fallback {
            f.write_str(" (default fallback)")?;
        }
        f.write_str("; requested ")?;
        for (i, flavor) in self.requested.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{flavor}")?;
        }
        for rejection in &self.rejected {
            write!(f, "; {rejection}")?;
        }
        for note in &self.notes {
            write!(f, "; {note}")?;
        }
        Ok(())
    }
}
