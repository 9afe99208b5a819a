//! Async performance patterns for tokio services, one crate per pattern.
//!
//! This facade re-exports each pattern crate as a module behind a feature of the same name
//! (`full` enables them all). Depending on a single pattern crate directly (for example
//! `asyncperf-prioq`) gives the same types with a smaller dependency tree; the facade is for
//! services that use several patterns and want one version line in `Cargo.toml`.
//!
//! | feature | module | crate |
//! |---|---|---|
//! | `batcher` | `batcher` | `asyncperf-batcher`: DataLoader-style request batching |
//!
//! Members never depend on this crate, so each can be versioned and published on its own.

#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "batcher")]
#[doc(inline)]
pub use asyncperf_batcher as batcher;
