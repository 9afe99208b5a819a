//! [`HttpClientBuilder`]: the limits, timeouts and resolver of an [`HttpClient`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::client::{Config, HttpClient};
use super::dns::{DnsCache, Resolve, SystemResolver};
use super::pool::Pool;
use crate::PoolKind;

/// Builds an [`HttpClient`]. Every setting has a default; [`build`](Self::build) cannot fail
/// and needs no runtime.
///
/// | setting | default | aiohttp `TCPConnector` / `ClientTimeout` |
/// |---|---|---|
/// | [`limit`](Self::limit) | 100 ([`PoolKind::HttpExternal`]) | `limit=100` |
/// | [`limit_per_host`](Self::limit_per_host) | 30 ([`PoolKind::HttpPerHost`]) | `limit_per_host=30` |
/// | [`dns_ttl`](Self::dns_ttl) | 300 s | `ttl_dns_cache=300` |
/// | [`dns_cache_capacity`](Self::dns_cache_capacity) | 1000 hosts | `dns_cache_max_size=1000` |
/// | [`keepalive_timeout`](Self::keepalive_timeout) | 30 s | `keepalive_timeout=30` |
/// | [`connect_timeout`](Self::connect_timeout) | 30 s | `ClientTimeout(connect=..)` |
/// | [`request_timeout`](Self::request_timeout) | 300 s | `ClientTimeout(total=300)` |
/// | [`retry_idempotent`](Self::retry_idempotent) | on | (none) |
pub struct HttpClientBuilder {
    limit: usize,
    limit_per_host: usize,
    dns_ttl: Duration,
    dns_cache_capacity: usize,
    keepalive_timeout: Duration,
    connect_timeout: Option<Duration>,
    request_timeout: Option<Duration>,
    retry_idempotent: bool,
    resolver: Box<dyn Resolve>,
}

impl Default for HttpClientBuilder {
    fn default() -> Self {
        Self {
            limit: PoolKind::HttpExternal.recommended(1).max,
            limit_per_host: PoolKind::HttpPerHost.recommended(1).max,
            dns_ttl: Duration::from_secs(300),
            dns_cache_capacity: 1000,
            keepalive_timeout: Duration::from_secs(30),
            connect_timeout: Some(Duration::from_secs(30)),
            request_timeout: Some(Duration::from_secs(300)),
            retry_idempotent: true,
            resolver: Box::new(SystemResolver),
        }
    }
}

impl HttpClientBuilder {
    /// A builder with the defaults above.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Connections open at most, every host together: in use, idle and being dialled.
    /// `0` means no cap (as in aiohttp).
    ///
    /// When the cap blocks a host while another host has idle connections, the least
    /// recently used idle connection is closed to make room.
    #[must_use]
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = if limit == 0 { usize::MAX } else { limit };
        self
    }

    /// Connections open at most to one host (`host:port`): in use, idle and being dialled.
    /// `0` means no cap (as in aiohttp).
    #[must_use]
    pub fn limit_per_host(mut self, limit: usize) -> Self {
        self.limit_per_host = if limit == 0 { usize::MAX } else { limit };
        self
    }

    /// How long resolved addresses are kept, counted from the lookup (not the DNS record's
    /// TTL). [`Duration::ZERO`] turns the cache off; concurrent lookups of one host are
    /// still shared.
    #[must_use]
    pub fn dns_ttl(mut self, ttl: Duration) -> Self {
        self.dns_ttl = ttl;
        self
    }

    /// Hosts kept in the DNS cache at most; the least recently used is evicted.
    #[must_use]
    pub fn dns_cache_capacity(mut self, hosts: usize) -> Self {
        self.dns_cache_capacity = hosts;
        self
    }

    /// The resolver behind the DNS cache (default [`SystemResolver`]).
    #[must_use]
    pub fn resolver(mut self, resolver: impl Resolve) -> Self {
        self.resolver = Box::new(resolver);
        self
    }

    /// How long a connection may stay idle before it is closed (by a task that runs while
    /// any connection is idle, and at reuse). Keep it below the servers' own keep-alive
    /// timeout to avoid reusing a connection the server is closing (hyper#2136).
    /// [`Duration::ZERO`] closes every connection after its response.
    #[must_use]
    pub fn keepalive_timeout(mut self, timeout: Duration) -> Self {
        self.keepalive_timeout = timeout;
        self
    }

    /// How long a request may take to get a connection: waiting for a slot, resolving,
    /// connecting. `None` waits as long as the request timeout allows.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.connect_timeout = timeout.into();
        self
    }

    /// How long a whole exchange may take, from the call to the end of the body. `None`
    /// for no deadline.
    #[must_use]
    pub fn request_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.request_timeout = timeout.into();
        self
    }

    /// Whether an idempotent request (GET, HEAD, PUT, DELETE, OPTIONS, TRACE) that fails
    /// because a reused connection was closed under it is sent once more on a fresh
    /// connection (default: yes). A non-idempotent request is only sent again when it was
    /// never written (the connection closed before it went out), whatever this setting.
    #[must_use]
    pub fn retry_idempotent(mut self, retry: bool) -> Self {
        self.retry_idempotent = retry;
        self
    }

    /// The client. Needs no runtime: tasks are spawned on the runtime of the first request.
    #[must_use]
    pub fn build(self) -> HttpClient {
        HttpClient::from_parts(
            Arc::new(Pool::new(
                self.limit,
                self.limit_per_host,
                self.keepalive_timeout,
            )),
            DnsCache::new(self.resolver, self.dns_ttl, self.dns_cache_capacity),
            Config {
                connect_timeout: self.connect_timeout,
                request_timeout: self.request_timeout,
                retry_idempotent: self.retry_idempotent,
            },
        )
    }
}

impl fmt::Debug for HttpClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClientBuilder")
            .field("limit", &self.limit)
            .field("limit_per_host", &self.limit_per_host)
            .field("dns_ttl", &self.dns_ttl)
            .field("dns_cache_capacity", &self.dns_cache_capacity)
            .field("keepalive_timeout", &self.keepalive_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("retry_idempotent", &self.retry_idempotent)
            .finish_non_exhaustive()
    }
}
