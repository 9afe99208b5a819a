//! Low-overhead timing of async Rust: per-name wall time, busy time (inside `poll`), scheduled
//! and idle time, with percentiles, as a text table, JSON or Prometheus text.
//!
//! # What and when
//!
//! Wrap a future with [`Profiler::instrument`] and learn not only how long it took (wall) but
//! how much of that it was running (busy), waiting for the runtime to poll it after a wake
//! (scheduled), and waiting for I/O or a timer (idle): the wall-vs-CPU split `yappi`'s wall
//! clock gives coroutines in Python, per name, with p50/p90/p99/p99.9 from a fixed-size
//! histogram. [`Profiler::time`] and [`Profiler::span`] measure wall time only, for less. A
//! record costs a thread-local lookup and a few relaxed stores (no lock, no `lock`-prefixed
//! instruction, no allocation after a name's first use on a thread), so it can stay on in
//! production; [`Profiler::set_enabled`] turns it off at run time (one relaxed load per
//! measurement), and building without the default `enabled` feature removes it.
//!
//! When not: for *where* CPU goes inside a function, use a sampling profiler (perf, pprof);
//! for a timeline of every span, `tracing` with a collector; for runtime-wide scheduler
//! metrics, tokio's `RuntimeMetrics`. This crate answers "how long, and how much of it
//! working" per named operation.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use asyncperf_profiler::Profiler;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let prof = Profiler::new(); // Clone; cheap to record from many tasks
//! # if !prof.is_enabled() { return; } // built without the `enabled` feature
//! let body = prof
//!     .instrument("fetch", async {
//!         tokio::time::sleep(Duration::from_millis(5)).await; // idle, not busy
//!         "body"
//!     })
//!     .await;
//! {
//!     let _span = prof.span("parse"); // records on drop
//!     let _ = body.len();
//! }
//! let report = prof.report();
//! let fetch = report.get("fetch").unwrap();
//! assert_eq!(fetch.count, 1);
//! let f = fetch.futures.unwrap();
//! assert!(f.wall() >= Duration::from_millis(5)); // most of it idle, waiting for the timer
//! assert_eq!(f.wall(), f.busy() + f.scheduled() + f.idle());
//! println!("{report}"); // table: count, total, mean, p50 … p99.9, max, busy share
//! let _json = report.to_json();
//! let _prom = report.to_prometheus();
//! # }
//! ```
//!
//! The free functions [`span`], [`time`], [`instrument`], [`timed`] and [`report()`] use a
//! process-wide [`global`] profiler; [`timed`] also prints `name: 0.123s` like the reference's
//! `async_timer`.
//!
//! # Definitions
//!
//! For a future measured with [`instrument`](Profiler::instrument), from its first poll to its
//! completion: `wall = busy + scheduled + idle` exactly. *Busy* is the time inside `poll`,
//! which includes blocking calls and the OS preempting the thread there (it is not CPU time).
//! *Scheduled* runs from the first wake after a poll to the next poll. *Idle* runs from the
//! end of a poll to that wake. Polls at or above a threshold ([`DEFAULT_SLOW_POLL`], 50 µs, as
//! tokio-metrics) count as slow. Futures dropped before completion are counted apart
//! ([`report::Cancelled`]) and stay out of the histogram.
//!
//! Percentiles come from a [`Histogram`] with 16 log-linear sub-buckets per power of two, so
//! a reported quantile is within [`histogram::RELATIVE_ERROR`] (3.125 %) of the exact one;
//! it takes 5.2 KiB per name per recording thread whatever the number of records. A profiler
//! holds up to [`NAME_CAPACITY`] names.
//!
//! # Cancel safety
//!
//! The futures here ([`Time`], [`Instrumented`]) only wrap another future: dropping one drops
//! the inner future (with whatever that loses) and records a cancellation for the name. A
//! dropped [`Span`] records its time, like a completed one.
//!
//! # Features
//!
//! - `enabled` (default): recording. Without it every measurement is a no-op the optimiser
//!   removes; the API and the report types stay (reports are empty), and [`timed`] still
//!   prints.
//! - `serde`: `Serialize`/`Deserialize` for the report types, in the shape of
//!   [`Report::to_json`].
//!
//! # Performance
//!
//! Measured with `cargo xtask bench --only profiler` (see the README for the table): recording
//! a duration, a span guard (two clock reads), the per-poll cost of `instrument` next to
//! tokio-metrics' `TaskMonitor`, and two threads recording the same name, each beside
//! hdrhistogram, `tracing` spans with a timing layer and `metrics` histograms. Clock reads are
//! most of a measurement's cost: the clock is `quanta`'s, which reads the CPU's invariant
//! time-stamp counter (cheaper than `std::time::Instant::now`; the `guard` bench compares a
//! guard with peers timed by `Instant`) and falls back to the OS monotonic clock where there is
//! none. The first profiler in a process calibrates it (quanta documents 10-20 ms as usual,
//! 200 ms at most).
//!
//! # Memory ordering
//!
//! Each thread writes only its own shard, with relaxed loads and stores; a report reads all
//! shards with relaxed loads. A record in flight during a report may appear in some of its
//! fields and not others (for example in `count` before its histogram bucket); it is never
//! lost and the next report shows it whole.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod clock;
mod error;
mod global;
pub mod histogram;
mod instrument;
mod profiler;
mod registry;
pub mod report;
mod shard;
mod slot;
mod span;
mod time;

pub use error::ProfilerError;
pub use global::{global, instrument, report, span, time, timed};
pub use histogram::Histogram;
pub use instrument::Instrumented;
pub use profiler::{Builder, DEFAULT_SLOW_POLL, FutureTiming, Probe, Profiler};
pub use registry::{NAME_CAPACITY, OVERFLOW_NAME};
pub use report::{Report, SortBy};
pub use span::Span;
pub use time::{Time, timed_line};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
