//! [`HttpClient`]: requests over the pool, with deadlines and the one retry of an idempotent
//! request that hit a stale connection.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HOST, HeaderValue};
use http::{Method, Request, Uri};
use http_body_util::Full;
use tokio::time::Instant;

use super::builder::HttpClientBuilder;
use super::connect::dial;
use super::dns::{DnsCache, DnsMetrics};
use super::error::is_connection_lost;
use super::pool::{Checkout, Conn, Grant, Pool};
use super::response::{Lease, Response};
use super::target::Target;
use super::{HttpError, TimeoutPhase};
use crate::PoolMetrics;
use crate::deadline::deadline_after;

/// An HTTP/1.1 client whose connection pool caps open connections in total and per host.
///
/// Cheap to clone: clones share the pool, the DNS cache and the limits. Build one with
/// [`HttpClient::builder`] and keep it for the life of the service.
///
/// See the [module docs](super) for the semantics of the limits.
#[derive(Clone)]
pub struct HttpClient {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Arc<Pool>,
    dns: DnsCache,
    config: Config,
}

pub(crate) struct Config {
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) request_timeout: Option<Duration>,
    pub(crate) retry_idempotent: bool,
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpClient {
    /// A client with the default settings (see [`HttpClientBuilder`]).
    #[must_use]
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A builder to set the limits, timeouts and resolver.
    #[must_use]
    pub fn builder() -> HttpClientBuilder {
        HttpClientBuilder::new()
    }

    pub(crate) fn from_parts(pool: Arc<Pool>, dns: DnsCache, config: Config) -> Self {
        Self {
            inner: Arc::new(Inner { pool, dns, config }),
        }
    }

    /// Sends a `GET` request to `uri` and returns the response head; read the body with
    /// [`Response::bytes`] or [`Response::chunk`].
    ///
    /// # Errors
    ///
    /// As [`request`](Self::request), plus [`HttpError::InvalidUri`] when `uri` does not
    /// parse.
    ///
    /// # Cancel safety
    ///
    /// As [`request`](Self::request).
    pub async fn get<U>(&self, uri: U) -> Result<Response, HttpError>
    where
        Uri: TryFrom<U>,
        <Uri as TryFrom<U>>::Error: Into<http::Error>,
    {
        let uri = Uri::try_from(uri).map_err(|e| HttpError::InvalidUri {
            reason: "does not parse",
            source: Some(e.into()),
        })?;
        let mut req = Request::new(Bytes::new());
        *req.uri_mut() = uri;
        self.request(req).await
    }

    /// Sends `req` (an absolute `http://` URI) and returns the response head.
    ///
    /// The request waits for a connection when its host, or the client, is at its limit.
    /// The connection stays checked out until the response body is read to the end or the
    /// response is dropped. A `Host` header is added when `req` has none.
    ///
    /// # Errors
    ///
    /// [`HttpError::InvalidUri`] or [`HttpError::UnsupportedScheme`] for a URI the client
    /// cannot use; [`HttpError::Resolve`] and [`HttpError::Connect`] when no connection could
    /// be made; [`HttpError::Timeout`] when `connect_timeout` or `request_timeout` passes;
    /// [`HttpError::Closed`] when the connection closed before the response head arrived
    /// (after the one retry on a fresh connection an idempotent request gets);
    /// [`HttpError::Protocol`] for any other HTTP error.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes gives everything back: a place in a host's
    /// queue is left (a slot or connection granted meanwhile goes to the next waiter), a
    /// connection being dialled is abandoned and its slot freed, and a request already sent
    /// closes its connection (HTTP/1.1 cannot abandon one request and keep the connection).
    /// What is lost is the request itself, which may or may not have reached the server.
    pub async fn request<B: Into<Bytes>>(&self, req: Request<B>) -> Result<Response, HttpError> {
        let req = req.map(Into::into);
        let Some(timeout) = self.inner.config.request_timeout else {
            return self.send(req, None).await;
        };
        let deadline = deadline_after(Instant::now(), timeout);
        match tokio::time::timeout_at(deadline, self.send(req, Some(deadline))).await {
            Ok(out) => out,
            Err(_) => {
                self.inner.pool.counters.timeout();
                Err(HttpError::Timeout {
                    during: TimeoutPhase::Request,
                })
            }
        }
    }

    /// The pool's state and counters: connections open, idle, in use and being dialled,
    /// callers waiting, waits and their time, timeouts, errors.
    #[must_use]
    pub fn metrics(&self) -> PoolMetrics {
        let pool = &self.inner.pool;
        pool.counters.snapshot(pool.gauges())
    }

    /// The DNS cache's counters.
    #[must_use]
    pub fn dns_metrics(&self) -> DnsMetrics {
        self.inner.dns.metrics()
    }

    /// Connections open (in use, idle, being dialled or closing) to `authority`
    /// (`host:port`, lower case).
    #[must_use]
    pub fn open_connections_to(&self, authority: &str) -> usize {
        self.inner.pool.open_to(authority)
    }

    async fn send(
        &self,
        req: Request<Bytes>,
        deadline: Option<Instant>,
    ) -> Result<Response, HttpError> {
        let (mut parts, body) = req.into_parts();
        let uri = std::mem::take(&mut parts.uri);
        let target = Target::from_uri(&uri)?;
        if !parts.headers.contains_key(HOST) {
            let host = HeaderValue::from_str(target.authority)
                .map_err(|_| HttpError::invalid_uri("host is not a valid header value"))?;
            parts.headers.insert(HOST, host);
        }
        // HTTP/1.1 to an origin server: the request line carries the path only.
        parts.uri = uri
            .path_and_query()
            .map_or_else(|| Uri::from_static("/"), |pq| Uri::from(pq.clone()));
        let retry = self.inner.config.retry_idempotent && is_idempotent(&parts.method);

        let (mut lease, reused) = self.checkout(&target, false).await?;
        let copy = (retry && reused).then(|| copy_request(&parts, &body));
        let first = lease
            .conn
            .sender
            .try_send_request(Request::from_parts(parts, Full::new(body)))
            .await;
        let mut failed = match first {
            Ok(resp) => return Ok(Response::new(resp, lease, deadline)),
            Err(failed) => failed,
        };
        drop(lease);
        // A request hyper never wrote (the connection closed first) can be sent again
        // whatever its method; one it wrote, only if idempotent and the connection was lost.
        let unsent = failed.take_message();
        let err = failed.into_error();
        let again = match unsent {
            Some(req) if reused => Some(req),
            _ => copy.filter(|_| is_connection_lost(&err)),
        };
        let Some(req) = again else {
            self.inner.pool.counters.error();
            return Err(HttpError::from_hyper(err));
        };
        // The reused connection was stale (the server closed it as we sent): once more on
        // a new one.
        let (mut lease, _) = self.checkout(&target, true).await?;
        match lease.conn.sender.send_request(req).await {
            Ok(resp) => Ok(Response::new(resp, lease, deadline)),
            Err(err) => {
                self.inner.pool.counters.error();
                Err(HttpError::from_hyper(err))
            }
        }
    }

    /// A connection for `target` within the connect timeout, and whether it was reused.
    async fn checkout(&self, target: &Target<'_>, fresh: bool) -> Result<(Lease, bool), HttpError> {
        let Some(timeout) = self.inner.config.connect_timeout else {
            return self.checkout_unbounded(target, fresh).await;
        };
        match tokio::time::timeout(timeout, self.checkout_unbounded(target, fresh)).await {
            Ok(out) => out,
            Err(_) => {
                self.inner.pool.counters.timeout();
                Err(HttpError::Timeout {
                    during: TimeoutPhase::Connect,
                })
            }
        }
    }

    async fn checkout_unbounded(
        &self,
        target: &Target<'_>,
        fresh: bool,
    ) -> Result<(Lease, bool), HttpError> {
        let pool = &self.inner.pool;
        let mut waiting_since: Option<Instant> = None;
        loop {
            // A waiter that lost its connection keeps its turn.
            let front = waiting_since.is_some();
            let (key, checkout) = pool.checkout(&target.key, fresh, front);
            let (conn, reused) = match checkout {
                Checkout::Idle(conn) => (conn, true),
                Checkout::Dial => (dial(pool, &self.inner.dns, &key, target).await?, false),
                Checkout::Wait(waiting) => {
                    waiting_since.get_or_insert_with(Instant::now);
                    match waiting.await {
                        Some(Grant::Conn(conn)) => (conn, true),
                        Some(Grant::Dial) => {
                            (dial(pool, &self.inner.dns, &key, target).await?, false)
                        }
                        None => continue,
                    }
                }
            };
            let Some(conn) = ready(conn, reused).await else {
                // Closed while idle or on its way to us: ask again.
                continue;
            };
            pool.counters
                .checkout(waiting_since.map_or(Duration::ZERO, |t| t.elapsed()));
            let lease = Lease {
                pool: Arc::clone(pool),
                key,
                conn,
            };
            return Ok((lease, reused));
        }
    }
}

/// The connection once hyper can take a request on it, or `None` if it has closed.
async fn ready(mut conn: Conn, reused: bool) -> Option<Conn> {
    if !reused {
        // Just handshaken: ready by construction.
        return Some(conn);
    }
    conn.sender.ready().await.ok().map(|()| conn)
}

fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS | Method::TRACE
    )
}

/// A copy of the request to send again (the body is reference-counted, not copied).
fn copy_request(parts: &http::request::Parts, body: &Bytes) -> Request<Full<Bytes>> {
    let mut req = Request::new(Full::new(body.clone()));
    *req.method_mut() = parts.method.clone();
    *req.uri_mut() = parts.uri.clone();
    *req.version_mut() = parts.version;
    *req.headers_mut() = parts.headers.clone();
    req
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("pool", &self.inner.pool)
            .field("dns", &self.inner.dns)
            .field("connect_timeout", &self.inner.config.connect_timeout)
            .field("request_timeout", &self.inner.config.request_timeout)
            .field("retry_idempotent", &self.inner.config.retry_idempotent)
            .finish()
    }
}
