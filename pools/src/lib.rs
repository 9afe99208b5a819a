//! Tuned connection pools for tokio services.
//!
//! - [`PoolKind`] and [`PoolKind::recommended`]: pool sizes from the reference's sizing table.
//! - [`PoolMetrics`]: the same metrics for every pool (open, idle, in use, waiters, wait time,
//!   timeouts, errors).

mod kind;
mod metrics;

pub use kind::{PoolKind, PoolSize};
pub use metrics::PoolMetrics;
