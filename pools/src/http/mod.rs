//! An HTTP/1.1 client whose pool really caps connections, in total and per host.
//!
//! [`HttpClient`] owns its connection pool over hyper's HTTP/1 connection API and counts
//! every socket against two limits, [`limit`](HttpClientBuilder::limit) (every host
//! together) and [`limit_per_host`](HttpClientBuilder::limit_per_host):
//!
//! - A socket counts from the moment it is dialled until it is closed: connecting, in use,
//!   idle. The number of open sockets never exceeds the limits, which is stricter than
//!   aiohttp (which counts only sockets in use) and what hyper-util's and reqwest's pools
//!   cannot do at all (they cap idle connections only).
//! - A connection is checked out until its response body is read to the end (then it is
//!   kept for reuse) or dropped (then it is closed).
//! - Callers that find their host at its limit wait in that host's first-come-first-served
//!   queue and are handed a connection or a slot directly. When the total limit is what
//!   blocks them, hosts take turns (round-robin), and an idle connection of another host is
//!   closed to make room.
//! - Host names are resolved once per host for [`dns_ttl`](HttpClientBuilder::dns_ttl)
//!   (concurrent lookups share one), callers rotate through the addresses, and the cache
//!   holds at most [`dns_cache_capacity`](HttpClientBuilder::dns_cache_capacity) hosts.
//! - Idle connections are closed after
//!   [`keepalive_timeout`](HttpClientBuilder::keepalive_timeout).
//! - An idempotent request that fails because a reused connection was closed under it is
//!   sent once more on a fresh connection.
//!
//! Plain `http://` only for now: `https://` URIs fail with
//! [`HttpError::UnsupportedScheme`]. HTTP/1.1 only (no HTTP/2).
//!
//! ```no_run
//! use std::time::Duration;
//! use asyncperf_pools::http::HttpClient;
//!
//! # async fn demo() -> Result<(), asyncperf_pools::http::HttpError> {
//! let client = HttpClient::builder()
//!     .limit(100)
//!     .limit_per_host(30)
//!     .dns_ttl(Duration::from_secs(300))
//!     .keepalive_timeout(Duration::from_secs(30))
//!     .connect_timeout(Duration::from_secs(5))
//!     .request_timeout(Duration::from_secs(30))
//!     .build();
//! let body = client.get("http://example.com/").await?.bytes(1 << 20).await?;
//! # drop(body);
//! # Ok(())
//! # }
//! ```

mod builder;
mod client;
mod connect;
mod dns;
mod error;
mod pool;
mod response;
mod target;

pub use builder::HttpClientBuilder;
pub use client::HttpClient;
pub use dns::{DnsMetrics, Resolve, Resolving, SystemResolver};
pub use error::{HttpError, TimeoutPhase};
pub use response::{Response, ResponseBody};
