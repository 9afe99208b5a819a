//! Choose the tokio runtime flavour from code, config or the environment, fall back safely
//! when it cannot be built here, say what was chosen and why, and pick by measurement.
//!
//! # What
//!
//! The Python reference offers uvloop three ways: installed as the default, passed as an
//! explicit loop factory, or used if available with a fallback. In Rust the choice is between
//! tokio's runtime shapes and their knobs, and the right one depends on the workload. This
//! crate does the whole chain config → check → fall back → report:
//!
//! - [`Flavor`] is one of [`CurrentThread`](Flavor::CurrentThread),
//!   [`MultiThread`](Flavor::MultiThread) (the default),
//!   [`ThreadPerCore`](Flavor::ThreadPerCore) (N current-thread runtimes on their own
//!   threads, [`ThreadPerCore`]), and [`Auto`](Flavor::Auto).
//! - [`RuntimeSelect::builder`] (code), [`RuntimeConfig`] (a config file, with `serde`),
//!   [`RuntimeSelect::from_env`] / [`run`] (`ASYNCPERF_RUNTIME=thread_per_core,multi_thread`,
//!   `ASYNCPERF_WORKERS`, `ASYNCPERF_EVENT_INTERVAL`, ...; `TOKIO_WORKER_THREADS` when ours is
//!   unset). Bad values are typed errors naming the accepted ones; knobs tokio would panic on
//!   are rejected first.
//! - Ordered preferences: each is checked ([`Builder::check`]) and built; one that fails is
//!   recorded and the next tried, ending with the default multi-thread runtime.
//!   [`RuntimeSelect::selection`] tells what was built, what was passed over and why.
//! - [`recommend`] answers per [`Workload`] from a table this crate's bench measures and
//!   rewrites ([`MeasuredTable`]); [`Flavor::Auto`] uses it.
//!
//! # When (and when not)
//!
//! Use it when a service should let operators pick the runtime per deployment, when you
//! want thread-per-core with `SO_REUSEPORT` listeners and graceful shutdown without writing
//! it, or when you want the runtime decision logged. If one `#[tokio::main]` is right
//! everywhere your service runs, you do not need this crate.
//!
//! # Example
//!
//! ```
//! use asyncperf_runtime_select::{Flavor, RuntimeSelect};
//!
//! let rt = RuntimeSelect::builder()
//!     .flavor(Flavor::ThreadPerCore { cores: None }) // first choice
//!     .fallback(Flavor::CurrentThread)               // then this; then the default
//!     .build()?;
//! eprintln!("runtime: {}", rt.selection());
//! let listeners = rt.listen("127.0.0.1:0".parse().unwrap())?; // one per shard
//! let stop = rt.shutdown_signal();
//! rt.serve(listeners, move |listener| {
//!     let stop = stop.clone();
//!     async move {
//!         loop {
//!             tokio::select! {
//!                 _ = stop.requested() => break,
//!                 accepted = listener.accept() => {
//!                     let Ok((_stream, _peer)) = accepted else { continue };
//!                     // tokio::spawn(handle(_stream)) stays on this shard
//!                 }
//!             }
//!         }
//!     }
//! })?;
//! let report = rt.shutdown_timeout(std::time::Duration::from_secs(1));
//! assert!(report.is_clean());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Cancel safety
//!
//! The only async fn is [`ShutdownSignal::requested`], which is cancel safe. Dropping a
//! [`RuntimeSelect`] drops its tasks as dropping a tokio runtime does; dropping a
//! [`ThreadPerCore`] stops its shards at once and joins their threads.
//! [`RuntimeSelect::shutdown_timeout`] waits for tracked tasks first.
//!
//! # Threads
//!
//! Thread-per-core starts one thread per shard (named `asyncperf-shard-<i>`); nothing else
//! here starts a thread of its own beyond what tokio starts for the flavour built.
//!
//! # Features
//!
//! - `serde`: `Deserialize` for [`RuntimeConfig`], [`Flavor`] and [`Workload`].
//! - Compile with `RUSTFLAGS="--cfg tokio_unstable"` to make [`Builder::lifo_slot`]`(false)`
//!   available (tokio's unstable `disable_lifo_slot`).
//!
//! # Performance
//!
//! Building through this crate costs a few allocations once; the runtime it returns is the
//! tokio runtime (or the shards) itself, so tasks run exactly as on a hand-built runtime. The
//! bench (`cargo xtask bench --only runtime-select`) runs tokio's scheduler shapes, TCP echo
//! and an HTTP hello server on every flavour side by side, and writes the table
//! [`recommend`] reads; see the README for the numbers and when to pick which flavour.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod builder;
mod config;
mod error;
mod flavor;
mod knobs;
mod listen;
mod measured;
mod recommend;
mod runtime;
mod selection;
mod shutdown;
mod thread_per_core;
mod workload;

pub use builder::Builder;
pub use config::{
    EVENT_INTERVAL_VAR, GLOBAL_QUEUE_INTERVAL_VAR, LIFO_SLOT_VAR, MAX_BLOCKING_THREADS_VAR,
    MAX_IO_EVENTS_VAR, RUNTIME_VAR, RuntimeConfig, THREAD_STACK_SIZE_VAR, TOKIO_WORKERS_VAR,
    WORKERS_VAR, WORKLOAD_VAR,
};
pub use error::{Error, RejectReason, Rejection, Unavailable};
pub use flavor::{Flavor, ParseFlavorError};
pub use listen::Listeners;
pub use measured::{MeasuredRow, MeasuredTable, ParseTableError, Timing};
pub use recommend::{NOISE_MARGIN, Recommendation, recommend};
pub use runtime::{RuntimeSelect, run};
pub use selection::Selection;
pub use shutdown::{ShutdownReport, ShutdownSignal};
pub use thread_per_core::{Shard, ThreadPerCore};
pub use workload::{ParseWorkloadError, Workload};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
