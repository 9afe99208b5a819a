//! Async performance patterns for tokio services, one crate per pattern.
//!
//! This facade re-exports each pattern crate as a module behind a feature of the same name
//! (`full` enables them all). Depending on a single pattern crate directly (for example
//! `asyncperf-prioq`) gives the same types with a smaller dependency tree; the facade is for
//! services that use several patterns and want one version line in `Cargo.toml`.
//!
//! | feature | module | crate |
//! |---|---|---|
//! | `batcher` | `batcher` | [`asyncperf-batcher`](https://docs.rs/asyncperf-batcher): DataLoader-style batching: concurrent `load(key)` calls become one batch call |
//! | `prioq` | `prioq` | [`asyncperf-prioq`](https://docs.rs/asyncperf-prioq): async MPMC priority channel, FIFO among equal priorities, bounded with backpressure |
//! | `pools` | `pools` | [`asyncperf-pools`](https://docs.rs/asyncperf-pools): HTTP client capping connections in total and per host; Redis and PostgreSQL pools |
//! | `weakcache` | `weakcache` | [`asyncperf-weakcache`](https://docs.rs/asyncperf-weakcache): async cache of weakly held values with single-flight loading |
//! | `limiter` | `limiter` | [`asyncperf-limiter`](https://docs.rs/asyncperf-limiter): bounded-concurrency processing, timeouts and rate limits |
//! | `limiter-redis` | `limiter` | the same, with its `redis` feature: a semaphore and a rate limit shared by many processes through Redis |
//! | `profiler` | `profiler` | [`asyncperf-profiler`](https://docs.rs/asyncperf-profiler): per-name wall/busy/scheduled/idle timing with percentiles |
//! | `runtime-select` | `runtime_select` | [`asyncperf-runtime-select`](https://docs.rs/asyncperf-runtime-select): choose and build the tokio runtime flavour, with fallback |
//!
//! Members never depend on this crate, so each can be versioned and published on its own.

#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "batcher")]
#[doc(inline)]
pub use asyncperf_batcher as batcher;

#[cfg(feature = "prioq")]
#[doc(inline)]
pub use asyncperf_prioq as prioq;

#[cfg(feature = "pools")]
#[doc(inline)]
pub use asyncperf_pools as pools;

#[cfg(feature = "weakcache")]
#[doc(inline)]
pub use asyncperf_weakcache as weakcache;

#[cfg(feature = "limiter")]
#[doc(inline)]
pub use asyncperf_limiter as limiter;

#[cfg(feature = "profiler")]
#[doc(inline)]
pub use asyncperf_profiler as profiler;

#[cfg(feature = "runtime-select")]
#[doc(inline)]
pub use asyncperf_runtime_select as runtime_select;

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
