//! Runtime choice as data: read from the environment, a map of variables, or a config file.

use std::collections::HashMap;

use crate::flavor::parse_list;
use crate::{Error, Flavor, Workload};

/// The flavour preference list, comma-separated (`thread_per_core,multi_thread`).
pub const RUNTIME_VAR: &str = "ASYNCPERF_RUNTIME";
/// Worker threads for `multi_thread` and shards for `thread_per_core` when the flavour has
/// no count of its own.
pub const WORKERS_VAR: &str = "ASYNCPERF_WORKERS";
/// tokio's own worker-count variable, honoured when [`WORKERS_VAR`] is unset.
pub const TOKIO_WORKERS_VAR: &str = "TOKIO_WORKER_THREADS";
/// `event_interval`: scheduler ticks between polls of the I/O and timer drivers.
pub const EVENT_INTERVAL_VAR: &str = "ASYNCPERF_EVENT_INTERVAL";
/// `global_queue_interval`: scheduler ticks between checks of the global queue.
pub const GLOBAL_QUEUE_INTERVAL_VAR: &str = "ASYNCPERF_GLOBAL_QUEUE_INTERVAL";
/// `max_io_events_per_tick`: I/O events taken per driver poll.
pub const MAX_IO_EVENTS_VAR: &str = "ASYNCPERF_MAX_IO_EVENTS_PER_TICK";
/// `max_blocking_threads`: the `spawn_blocking` pool's limit (per shard under thread-per-core).
pub const MAX_BLOCKING_THREADS_VAR: &str = "ASYNCPERF_MAX_BLOCKING_THREADS";
/// `thread_stack_size`, in bytes, for worker, shard and blocking threads.
pub const THREAD_STACK_SIZE_VAR: &str = "ASYNCPERF_THREAD_STACK_SIZE";
/// `on`/`off`: the multi-thread LIFO slot (turning it off needs `--cfg tokio_unstable`).
pub const LIFO_SLOT_VAR: &str = "ASYNCPERF_LIFO_SLOT";
/// The [`Workload`] that `auto` picks for.
pub const WORKLOAD_VAR: &str = "ASYNCPERF_WORKLOAD";

const POSITIVE: &str = "an integer >= 1";
const ON_OFF: &str = "on, off, true, false, 1, 0";

/// Everything that decides which runtime is built, as plain data.
///
/// Every field is optional: unset means "keep what the [`Builder`](crate::Builder) has".
/// Read it from the environment ([`from_env`](Self::from_env)), from any map of the same
/// variables ([`from_vars`](Self::from_vars), e.g. a `.env` file), or, with the `serde`
/// feature, deserialize it from a config file (field names as below, flavours and workloads
/// in their string spelling). Values are checked when read: a zero where tokio needs at least
/// one is an error naming the variable, not a panic later.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Deserialize),
    serde(default, deny_unknown_fields)
)]
#[non_exhaustive]
pub struct RuntimeConfig {
    /// Flavours in order of preference ([`RUNTIME_VAR`]); empty means unset.
    pub runtime: Vec<Flavor>,
    /// Default thread count for multi-thread workers and thread-per-core shards
    /// ([`WORKERS_VAR`], else [`TOKIO_WORKERS_VAR`]).
    pub workers: Option<usize>,
    /// [`EVENT_INTERVAL_VAR`].
    pub event_interval: Option<u32>,
    /// [`GLOBAL_QUEUE_INTERVAL_VAR`].
    pub global_queue_interval: Option<u32>,
    /// [`MAX_IO_EVENTS_VAR`].
    pub max_io_events_per_tick: Option<usize>,
    /// [`MAX_BLOCKING_THREADS_VAR`].
    pub max_blocking_threads: Option<usize>,
    /// [`THREAD_STACK_SIZE_VAR`].
    pub thread_stack_size: Option<usize>,
    /// [`LIFO_SLOT_VAR`].
    pub lifo_slot: Option<bool>,
    /// [`WORKLOAD_VAR`].
    pub workload: Option<Workload>,
}

impl RuntimeConfig {
    /// Reads the `ASYNCPERF_*` variables (and `TOKIO_WORKER_THREADS`) from the process
    /// environment. Unset or empty variables stay `None`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidVar`] for the first variable whose value is not accepted (including
    /// values that are not UTF-8), naming the accepted values.
    pub fn from_env() -> Result<Self, Error> {
        Self::read(|var| match std::env::var_os(var) {
            None => Ok(None),
            Some(value) => value
                .into_string()
                .map(Some)
                .map_err(|raw| Error::InvalidVar {
                    var: var.to_owned(),
                    value: raw.to_string_lossy().into_owned(),
                    accepted: "UTF-8 text",
                }),
        })
    }

    /// Reads the same variables as [`from_env`](Self::from_env) from `vars` instead of the
    /// process environment; other keys are ignored.
    ///
    /// # Errors
    ///
    /// As [`from_env`](Self::from_env).
    pub fn from_vars<I, K, V>(vars: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let vars: HashMap<String, String> = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Self::read(|var| Ok(vars.get(var).cloned()))
    }

    fn read(get: impl Fn(&str) -> Result<Option<String>, Error>) -> Result<Self, Error> {
        // Empty counts as unset, as it does for most tools (`VAR= cmd` clears a setting).
        let get = |var: &str| -> Result<Option<String>, Error> {
            Ok(get(var)?.filter(|v| !v.trim().is_empty()))
        };
        let runtime = match get(RUNTIME_VAR)? {
            None => Vec::new(),
            Some(text) => parse_list(&text).map_err(|_| Error::InvalidVar {
                var: RUNTIME_VAR.to_owned(),
                value: text.clone(),
                accepted: concat_accepted(),
            })?,
        };
        let workers = match positive::<usize>(WORKERS_VAR, get(WORKERS_VAR)?)? {
            Some(n) => Some(n),
            None => positive::<usize>(TOKIO_WORKERS_VAR, get(TOKIO_WORKERS_VAR)?)?,
        };
        let workload = match get(WORKLOAD_VAR)? {
            None => None,
            Some(text) => Some(text.parse().map_err(|_| Error::InvalidVar {
                var: WORKLOAD_VAR.to_owned(),
                value: text.clone(),
                accepted: Workload::ACCEPTED,
            })?),
        };
        Ok(Self {
            runtime,
            workers,
            event_interval: positive(EVENT_INTERVAL_VAR, get(EVENT_INTERVAL_VAR)?)?,
            global_queue_interval: positive(
                GLOBAL_QUEUE_INTERVAL_VAR,
                get(GLOBAL_QUEUE_INTERVAL_VAR)?,
            )?,
            max_io_events_per_tick: positive(MAX_IO_EVENTS_VAR, get(MAX_IO_EVENTS_VAR)?)?,
            max_blocking_threads: positive(
                MAX_BLOCKING_THREADS_VAR,
                get(MAX_BLOCKING_THREADS_VAR)?,
            )?,
            thread_stack_size: positive(THREAD_STACK_SIZE_VAR, get(THREAD_STACK_SIZE_VAR)?)?,
            lifo_slot: on_off(LIFO_SLOT_VAR, get(LIFO_SLOT_VAR)?)?,
            workload,
        })
    }
}

/// The accepted values of [`RUNTIME_VAR`]: one flavour or a comma-separated list.
const fn concat_accepted() -> &'static str {
    "current_thread, multi_thread, multi_thread:N, thread_per_core, thread_per_core:N, auto \
     (N >= 1), or several separated by commas in order of preference"
}

fn positive<T>(var: &str, value: Option<String>) -> Result<Option<T>, Error>
where
    T: std::str::FromStr + PartialEq + From<u8>,
{
    let Some(text) = value else { return Ok(None) };
    match text.trim().parse::<T>() {
        Ok(n) if n != T::from(0) => Ok(Some(n)),
        _ => Err(Error::InvalidVar {
            var: var.to_owned(),
            value: text,
            accepted: POSITIVE,
        }),
    }
}

fn on_off(var: &str, value: Option<String>) -> Result<Option<bool>, Error> {
    let Some(text) = value else { return Ok(None) };
    match text.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "1" => Ok(Some(true)),
        "off" | "false" | "0" => Ok(Some(false)),
        _ => Err(Error::InvalidVar {
            var: var.to_owned(),
            value: text,
            accepted: ON_OFF,
        }),
    }
}
