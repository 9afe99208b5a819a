//! The runtime shapes a selection can build, and their one-line spelling.

use std::fmt;
use std::str::FromStr;

/// The shape of runtime to build.
///
/// Spelled in config and in `ASYNCPERF_RUNTIME` as `current_thread`, `multi_thread`,
/// `multi_thread:N`, `thread_per_core`, `thread_per_core:N` or `auto` ([`FromStr`] and
/// [`Display`](fmt::Display) agree, so a flavour survives a round trip through text).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Flavor {
    /// One thread runs every task: `tokio::runtime::Builder::new_current_thread()`.
    ///
    /// No cross-thread wake-ups and the cheapest spawn; one core at most.
    CurrentThread,
    /// Work-stealing worker threads: `tokio::runtime::Builder::new_multi_thread()`, the runtime
    /// `#[tokio::main]` builds and the default here.
    MultiThread {
        /// Worker threads; `None` takes the configured default (`ASYNCPERF_WORKERS`, then
        /// `TOKIO_WORKER_THREADS`, then the available parallelism).
        workers: Option<usize>,
    },
    /// N current-thread runtimes, each on its own thread (a shard), with no work stealing
    /// between them: see [`ThreadPerCore`](crate::ThreadPerCore).
    ThreadPerCore {
        /// Shards; `None` takes the configured default, as for `workers` above.
        cores: Option<usize>,
    },
    /// Pick for the declared [`Workload`](crate::Workload) from the measured table
    /// ([`recommend`](crate::recommend)); with no workload declared, current-thread on a
    /// single CPU and multi-thread otherwise. The [`Selection`](crate::Selection) says why.
    Auto,
}

impl Flavor {
    /// The default multi-thread runtime (`MultiThread { workers: None }`).
    pub const DEFAULT: Flavor = Flavor::MultiThread { workers: None };

    /// The spellings [`FromStr`] accepts, for error messages and docs.
    pub const ACCEPTED: &'static str = "current_thread, multi_thread, multi_thread:N, \
                                        thread_per_core, thread_per_core:N, auto (N >= 1)";

    /// The flavour's name without its thread count (`multi_thread` for `multi_thread:4`).
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Flavor::CurrentThread => "current_thread",
            Flavor::MultiThread { .. } => "multi_thread",
            Flavor::ThreadPerCore { .. } => "thread_per_core",
            Flavor::Auto => "auto",
        }
    }

    /// The same flavour with any thread count removed, as the measured table keys it.
    #[must_use]
    pub fn without_count(self) -> Flavor {
        match self {
            Flavor::MultiThread { .. } => Flavor::DEFAULT,
            Flavor::ThreadPerCore { .. } => Flavor::ThreadPerCore { cores: None },
            other => other,
        }
    }
}

impl Default for Flavor {
    fn default() -> Self {
        Flavor::DEFAULT
    }
}

impl fmt::Display for Flavor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())?;
        match self {
            Flavor::MultiThread { workers: Some(n) } | Flavor::ThreadPerCore { cores: Some(n) } => {
                write!(f, ":{n}")
            }
            _ => Ok(()),
        }
    }
}

/// A string that is not one of [`Flavor::ACCEPTED`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown runtime flavour {input:?}: {problem}; accepted: {accepted}", accepted = Flavor::ACCEPTED)]
pub struct ParseFlavorError {
    input: String,
    problem: &'static str,
}

impl ParseFlavorError {
    /// The text that failed to parse.
    #[must_use]
    pub fn input(&self) -> &str {
        &self.input
    }
}

impl FromStr for Flavor {
    type Err = ParseFlavorError;

    /// Parses one flavour; surrounding whitespace is ignored, nothing else is forgiven.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fail = |problem| ParseFlavorError {
            input: s.to_owned(),
            problem,
        };
        let text = s.trim();
        let (name, count) = match text.split_once(':') {
            Some((name, count)) => (name, Some(count)),
            None => (text, None),
        };
        let count = match count {
            None => None,
            Some(count) => match count.parse::<usize>() {
                Ok(0) => return Err(fail("the thread count must be at least 1")),
                Ok(n) => Some(n),
                Err(_) => return Err(fail("the thread count is not a positive integer")),
            },
        };
        match (name, count) {
            ("current_thread", None) => Ok(Flavor::CurrentThread),
            ("auto", None) => Ok(Flavor::Auto),
            ("multi_thread", workers) => Ok(Flavor::MultiThread { workers }),
            ("thread_per_core", cores) => Ok(Flavor::ThreadPerCore { cores }),
            ("current_thread" | "auto", Some(_)) => Err(fail("this flavour takes no thread count")),
            _ => Err(fail("not a flavour name")),
        }
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Flavor {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Parses a comma-separated preference list (`thread_per_core, multi_thread`).
pub(crate) fn parse_list(text: &str) -> Result<Vec<Flavor>, ParseFlavorError> {
    text.split(',').map(str::parse).collect()
}
