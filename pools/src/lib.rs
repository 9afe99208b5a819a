//! Tuned connection pools for tokio services.
//!
//! - [`PoolKind`] and [`PoolKind::recommended`]: pool sizes from the reference's sizing table.
//! - [`PoolMetrics`]: the same metrics for every pool (open, idle, in use, waiters, wait time,
//!   timeouts, errors).
//! - [`http::HttpClient`] (feature `http`): an HTTP/1.1 client over hyper whose pool caps
//!   open connections in total and per host, with fair waiters, a TTL DNS cache, keep-alive
//!   expiry and a retry of idempotent requests on stale connections.
//!
//! # HTTP client
//!
//! Use [`http::HttpClient`] when a service calls other HTTP services and must not open more
//! connections than it is allowed to (a partner's rate rules, a file-descriptor budget, a
//! server's connection cap): hyper-util's and reqwest's pools only cap *idle* connections,
//! and at 256 concurrent requests they open 256 or more. Do not use it for HTTPS or HTTP/2
//! yet (plain `http://` and HTTP/1.1 only), nor where one connection per request is fine.
//!
//! ```no_run
//! # #[cfg(feature = "http")]
//! # async fn demo() -> Result<(), asyncperf_pools::http::HttpError> {
//! use std::time::Duration;
//! use asyncperf_pools::http::HttpClient;
//!
//! let client = HttpClient::builder()
//!     .limit(100)
//!     .limit_per_host(30)
//!     .dns_ttl(Duration::from_secs(300))
//!     .keepalive_timeout(Duration::from_secs(30))
//!     .build();
//! let body = client.get("http://127.0.0.1:8080/").await?.bytes(1 << 20).await?;
//! println!("{} bytes, {:?}", body.len(), client.metrics());
//! # Ok(()) }
//! ```
//!
//! Cancel safety: dropping a request future gives back whatever it held (its place in a
//! queue, a slot, a connection being dialled); a request already sent closes its connection.
//! Dropping a response before its body ends closes the connection.
//!
//! Performance: one short lock per checkout and per return, no task per request; the
//! `http_keepalive_get_mt` bench compares it with hyper-util's `Client` and reqwest.
//!
//! # Features
//!
//! - `http` (default): [`http::HttpClient`], on hyper 1.x and hyper-util.

mod kind;
mod metrics;

#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "http")]
pub use http::{HttpClient, HttpClientBuilder, HttpError};

pub use kind::{PoolKind, PoolSize};
pub use metrics::PoolMetrics;

// The README's examples use every feature.
#[cfg(all(doctest, feature = "http"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
