//! Preferences, knobs and checks in; the first flavour that builds out, with its report.

use std::fmt;
use std::num::NonZeroUsize;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use crate::config::{RuntimeConfig, TOKIO_WORKERS_VAR};
use crate::knobs::Knobs;
use crate::runtime::Inner;
use crate::{
    Error, Flavor, RejectReason, Rejection, RuntimeSelect, Selection, ThreadPerCore, Unavailable,
    Workload, recommend,
};

type Check = Arc<dyn Fn(&Flavor) -> Result<(), Unavailable> + Send + Sync>;

/// Configures and builds a [`RuntimeSelect`]: flavours in order of preference, tokio knobs,
/// availability checks, and whether the default multi-thread runtime is the last resort.
///
/// ```
/// use asyncperf_runtime_select::{Flavor, RuntimeSelect};
///
/// let rt = RuntimeSelect::builder()
///     .flavor(Flavor::ThreadPerCore { cores: Some(2) })
///     .fallback(Flavor::CurrentThread)
///     .event_interval(31)
///     .build()?;
/// println!("{}", rt.selection()); // built thread_per_core:2; requested thread_per_core:2,current_thread
/// # Ok::<(), asyncperf_runtime_select::Error>(())
/// ```
///
/// Setters never fail; [`build`](Self::build) validates everything first (a zero where tokio
/// would panic is [`Error::ZeroKnob`]) and only then tries the flavours in order.
#[derive(Clone)]
pub struct Builder {
    preferences: Vec<Flavor>,
    workers: Option<usize>,
    knobs: Knobs,
    workload: Option<Workload>,
    default_fallback: bool,
    checks: Vec<Check>,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("preferences", &self.preferences)
            .field("workers", &self.workers)
            .field("knobs", &self.knobs)
            .field("workload", &self.workload)
            .field("default_fallback", &self.default_fallback)
            .field("checks", &self.checks.len())
            .finish()
    }
}

impl Builder {
    /// A builder for the default multi-thread runtime, with the default fallback on.
    #[must_use]
    pub fn new() -> Self {
        Self {
            preferences: Vec::new(),
            workers: None,
            knobs: Knobs::default(),
            workload: None,
            default_fallback: true,
            checks: Vec::new(),
        }
    }

    /// A builder configured from the `ASYNCPERF_*` environment variables
    /// ([`RuntimeConfig::from_env`]); code can still change it before `build`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidVar`] naming the first variable with a value it does not accept.
    pub fn from_env() -> Result<Self, Error> {
        Ok(Self::new().config(&RuntimeConfig::from_env()?))
    }

    /// Makes `flavor` the only preference (fallbacks added before are dropped).
    #[must_use]
    pub fn flavor(mut self, flavor: Flavor) -> Self {
        self.preferences = vec![flavor];
        self
    }

    /// Adds `flavor` to the end of the preference list: tried when every earlier one failed.
    #[must_use]
    pub fn fallback(mut self, flavor: Flavor) -> Self {
        self.preferences.push(flavor);
        self
    }

    /// Replaces the preference list.
    #[must_use]
    pub fn preferences(mut self, flavors: impl IntoIterator<Item = Flavor>) -> Self {
        self.preferences = flavors.into_iter().collect();
        self
    }

    /// Whether the default multi-thread runtime (tokio's defaults, none of the knobs) is tried
    /// when nothing on the list builds; on by default. Off, `build` returns
    /// [`Error::NoRuntime`] instead.
    #[must_use]
    pub fn default_fallback(mut self, enabled: bool) -> Self {
        self.default_fallback = enabled;
        self
    }

    /// Adds an availability check, run on each resolved flavour before it is built; an
    /// `Err` passes the flavour over with that reason. Every check must pass.
    ///
    /// This is where "use it if available" lives: reject thread-per-core under a CPU quota,
    /// current-thread when a library needs `block_in_place`, and so on.
    #[must_use]
    pub fn check<F>(mut self, check: F) -> Self
    where
        F: Fn(&Flavor) -> Result<(), Unavailable> + Send + Sync + 'static,
    {
        self.checks.push(Arc::new(check));
        self
    }

    /// The workload [`Flavor::Auto`] picks for (see [`recommend`]).
    #[must_use]
    pub fn workload(mut self, workload: Workload) -> Self {
        self.workload = Some(workload);
        self
    }

    /// Thread count for flavours that do not carry their own (multi-thread workers,
    /// thread-per-core shards). Unset: `TOKIO_WORKER_THREADS`, else the available parallelism.
    #[must_use]
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = Some(workers);
        self
    }

    /// tokio's `event_interval` (default 61): scheduler ticks between I/O and timer polls.
    #[must_use]
    pub fn event_interval(mut self, ticks: u32) -> Self {
        self.knobs.event_interval = Some(ticks);
        self
    }

    /// tokio's `global_queue_interval` (default 31 on current-thread, self-tuned on
    /// multi-thread): scheduler ticks between checks of the global queue.
    #[must_use]
    pub fn global_queue_interval(mut self, ticks: u32) -> Self {
        self.knobs.global_queue_interval = Some(ticks);
        self
    }

    /// tokio's `max_io_events_per_tick` (default 1024).
    #[must_use]
    pub fn max_io_events_per_tick(mut self, events: usize) -> Self {
        self.knobs.max_io_events_per_tick = Some(events);
        self
    }

    /// tokio's `max_blocking_threads` (default 512), per runtime: each thread-per-core shard
    /// has its own pool.
    #[must_use]
    pub fn max_blocking_threads(mut self, threads: usize) -> Self {
        self.knobs.max_blocking_threads = Some(threads);
        self
    }

    /// Stack size in bytes of worker, shard and blocking threads.
    #[must_use]
    pub fn thread_stack_size(mut self, bytes: usize) -> Self {
        self.knobs.thread_stack_size = Some(bytes);
        self
    }

    /// Thread name of workers (shards are named `<name>-<index>`).
    #[must_use]
    pub fn thread_name(mut self, name: impl Into<String>) -> Self {
        self.knobs.thread_name = Some(name.into());
        self
    }

    /// Keeps (`true`, tokio's default) or disables the multi-thread LIFO slot. Disabling
    /// needs `--cfg tokio_unstable` (tokio-rs/tokio#4941); without it `build` returns
    /// [`Error::NeedsTokioUnstable`].
    #[must_use]
    pub fn lifo_slot(mut self, enabled: bool) -> Self {
        self.knobs.lifo_slot = Some(enabled);
        self
    }

    /// Applies every field `config` sets, overriding what was set before (so
    /// `builder().flavor(..).config(&RuntimeConfig::from_env()?)` lets the environment win).
    #[must_use]
    pub fn config(mut self, config: &RuntimeConfig) -> Self {
        if !config.runtime.is_empty() {
            self.preferences.clone_from(&config.runtime);
        }
        self.workers = config.workers.or(self.workers);
        let k = &mut self.knobs;
        k.event_interval = config.event_interval.or(k.event_interval);
        k.global_queue_interval = config.global_queue_interval.or(k.global_queue_interval);
        k.max_io_events_per_tick = config.max_io_events_per_tick.or(k.max_io_events_per_tick);
        k.max_blocking_threads = config.max_blocking_threads.or(k.max_blocking_threads);
        k.thread_stack_size = config.thread_stack_size.or(k.thread_stack_size);
        k.lifo_slot = config.lifo_slot.or(k.lifo_slot);
        self.workload = config.workload.or(self.workload);
        self
    }

    /// Validates the configuration, then builds the first flavour on the list that passes the
    /// checks and builds, else the default multi-thread runtime (unless turned off).
    ///
    /// # Errors
    ///
    /// - [`Error::ZeroKnob`], [`Error::NeedsTokioUnstable`]: a knob or thread count tokio
    ///   would panic on or cannot apply; nothing is built.
    /// - [`Error::InvalidVar`]: `TOKIO_WORKER_THREADS` is needed and is not a positive integer
    ///   (tokio itself would panic on it).
    /// - [`Error::NoRuntime`]: every flavour was passed over; it lists each with its reason.
    pub fn build(self) -> Result<RuntimeSelect, Error> {
        self.validate()?;
        let cpus = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        let mut notes = Vec::new();
        let default_count = match self.workers {
            Some(n) => n,
            None => tokio_default_workers(cpus, &mut notes)?,
        };
        let requested = if self.preferences.is_empty() {
            vec![Flavor::DEFAULT]
        } else {
            self.preferences.clone()
        };

        let mut rejected = Vec::new();
        for &wanted in &requested {
            let flavor = if wanted == Flavor::Auto {
                let (flavor, note) = resolve_auto(self.workload, cpus);
                notes.push(note);
                flavor
            } else {
                wanted
            };
            let flavor = with_count(flavor, default_count);
            if let Flavor::ThreadPerCore { cores: Some(n) } = flavor
                && n > cpus
            {
                notes.push(format!(
                    "{flavor} on {cpus} CPUs: shards share cores and cannot help each other"
                ));
            }
            match self.try_build(flavor, &self.knobs) {
                Ok(inner) => return Ok(self.finish(inner, flavor, requested, rejected, notes)),
                Err(reason) => rejected.push(Rejection { flavor, reason }),
            }
        }
        if self.default_fallback {
            let flavor = Flavor::MultiThread {
                workers: Some(tokio_default_workers(cpus, &mut Vec::new())?),
            };
            match self.try_build(flavor, &Knobs::default()) {
                Ok(inner) => {
                    let mut rt = self.finish(inner, flavor, requested, rejected, notes);
                    rt.selection.default_fallback = true;
                    return Ok(rt);
                }
                Err(reason) => rejected.push(Rejection { flavor, reason }),
            }
        }
        Err(Error::NoRuntime { rejected })
    }

    fn validate(&self) -> Result<(), Error> {
        self.knobs.validate()?;
        if self.workers == Some(0) {
            return Err(Error::ZeroKnob { knob: "workers" });
        }
        for flavor in &self.preferences {
            match flavor {
                Flavor::MultiThread { workers: Some(0) } => {
                    return Err(Error::ZeroKnob { knob: "workers" });
                }
                Flavor::ThreadPerCore { cores: Some(0) } => {
                    return Err(Error::ZeroKnob { knob: "cores" });
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn try_build(&self, flavor: Flavor, knobs: &Knobs) -> Result<Inner, RejectReason> {
        for check in &self.checks {
            check(&flavor).map_err(RejectReason::Unavailable)?;
        }
        match flavor {
            Flavor::CurrentThread => {
                let mut builder = tokio::runtime::Builder::new_current_thread();
                knobs.apply(&mut builder);
                build_caught(&mut builder).map(Inner::Tokio)
            }
            Flavor::MultiThread { workers } => {
                let mut builder = tokio::runtime::Builder::new_multi_thread();
                knobs.apply(&mut builder);
                if let Some(n) = workers {
                    builder.worker_threads(n);
                }
                build_caught(&mut builder).map(Inner::Tokio)
            }
            Flavor::ThreadPerCore { cores } => {
                ThreadPerCore::start(cores.unwrap_or(1), knobs).map(Inner::ThreadPerCore)
            }
            // Resolved before we get here; kept total so a future variant cannot slip by.
            Flavor::Auto => Err(RejectReason::Unavailable(Unavailable::new(
                "auto must be resolved before building",
            ))),
        }
    }

    fn finish(
        &self,
        inner: Inner,
        built: Flavor,
        requested: Vec<Flavor>,
        rejected: Vec<Rejection>,
        notes: Vec<String>,
    ) -> RuntimeSelect {
        RuntimeSelect::new(
            inner,
            Selection {
                built,
                requested,
                rejected,
                notes,
                default_fallback: false,
            },
        )
    }
}

/// Builds with tokio, turning a panic (tokio panics when the OS refuses a worker thread) into
/// a rejection so the next flavour can be tried.
fn build_caught(
    builder: &mut tokio::runtime::Builder,
) -> Result<tokio::runtime::Runtime, RejectReason> {
    match catch_unwind(AssertUnwindSafe(|| builder.build())) {
        Ok(Ok(rt)) => Ok(rt),
        Ok(Err(e)) => Err(RejectReason::Build(Arc::new(e))),
        Err(panic) => Err(RejectReason::Panicked(panic_message(panic.as_ref()).into())),
    }
}

pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(non-string panic payload)".to_owned())
}

/// What tokio would pick for its worker count, read and checked here because tokio panics on
/// a bad `TOKIO_WORKER_THREADS`.
fn tokio_default_workers(cpus: usize, notes: &mut Vec<String>) -> Result<usize, Error> {
    let Some(raw) = std::env::var_os(TOKIO_WORKERS_VAR) else {
        return Ok(cpus);
    };
    let text = raw.to_string_lossy();
    match text.trim().parse::<usize>() {
        Ok(n) if n > 0 => {
            notes.push(format!(
                "{TOKIO_WORKERS_VAR}={n} sets the default thread count"
            ));
            Ok(n)
        }
        _ => Err(Error::InvalidVar {
            var: TOKIO_WORKERS_VAR.to_owned(),
            value: text.into_owned(),
            accepted: "an integer >= 1",
        }),
    }
}

fn with_count(flavor: Flavor, count: usize) -> Flavor {
    match flavor {
        Flavor::MultiThread { workers: None } => Flavor::MultiThread {
            workers: Some(count),
        },
        Flavor::ThreadPerCore { cores: None } => Flavor::ThreadPerCore { cores: Some(count) },
        other => other,
    }
}

fn resolve_auto(workload: Option<Workload>, cpus: usize) -> (Flavor, String) {
    if let Some(workload) = workload {
        let advice = recommend(workload);
        return (advice.flavor(), format!("auto: {advice}"));
    }
    if cpus == 1 {
        (
            Flavor::CurrentThread,
            "auto: 1 CPU available, current_thread saves the cross-thread wake-ups".to_owned(),
        )
    } else {
        (
            Flavor::DEFAULT,
            format!("auto: {cpus} CPUs and no workload declared, the default multi_thread"),
        )
    }
}
