//! The errors an [`HttpClient`](super::HttpClient) returns.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

/// Why a request or a body read failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The URI could not be parsed or has no host.
    #[error("invalid URI: {reason}")]
    InvalidUri {
        /// What is wrong with it.
        reason: &'static str,
        /// The parser's error, when the URI did not parse at all.
        #[source]
        source: Option<http::Error>,
    },
    /// The URI's scheme is not `http` (TLS is not supported yet).
    #[error("unsupported URI scheme {scheme:?}: only http:// is supported")]
    UnsupportedScheme {
        /// The scheme the URI named.
        scheme: Box<str>,
    },
    /// The resolver failed or returned no address for the host.
    #[error("could not resolve {host}")]
    Resolve {
        /// The host that was looked up.
        host: Box<str>,
        /// The resolver's error, shared by every caller of the same lookup.
        #[source]
        source: Arc<io::Error>,
    },
    /// No address of the host accepted a TCP connection.
    #[error("could not connect to {addr}")]
    Connect {
        /// The last address tried.
        addr: SocketAddr,
        /// The error of that last attempt.
        #[source]
        source: io::Error,
    },
    /// A deadline passed: [`connect_timeout`](super::HttpClientBuilder::connect_timeout)
    /// while waiting for a connection, or
    /// [`request_timeout`](super::HttpClientBuilder::request_timeout) for the whole exchange.
    #[error("timed out while {during}")]
    Timeout {
        /// The phase the deadline cut short.
        during: TimeoutPhase,
    },
    /// The response body is larger than the cap given to
    /// [`Response::bytes`](super::Response::bytes).
    #[error("response body larger than {limit} bytes")]
    TooLarge {
        /// The cap that was exceeded.
        limit: usize,
    },
    /// The connection closed before the response was complete (after the one retry an
    /// idempotent request gets, when enabled).
    #[error("connection closed before the response was complete")]
    Closed {
        /// hyper's error.
        #[source]
        source: hyper::Error,
    },
    /// The server sent something that is not valid HTTP/1.1, or another protocol error.
    #[error("HTTP protocol error")]
    Protocol {
        /// hyper's error.
        #[source]
        source: hyper::Error,
    },
}

/// The phase of a request a [`HttpError::Timeout`] cut short.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeoutPhase {
    /// Waiting for a free slot, resolving, dialling (bounded by `connect_timeout`).
    Connect,
    /// The whole exchange: connection, request, response head and body (bounded by
    /// `request_timeout`).
    Request,
}

impl std::fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Connect => "waiting for a connection",
            Self::Request => "waiting for the response",
        })
    }
}

impl HttpError {
    /// True for [`HttpError::Timeout`].
    #[must_use]
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout { .. })
    }

    pub(crate) fn invalid_uri(reason: &'static str) -> Self {
        Self::InvalidUri {
            reason,
            source: None,
        }
    }

    /// Maps a hyper error: a connection that went away is `Closed`, the rest `Protocol`.
    pub(crate) fn from_hyper(source: hyper::Error) -> Self {
        if is_connection_lost(&source) {
            Self::Closed { source }
        } else {
            Self::Protocol { source }
        }
    }
}

/// True when hyper's error means the connection went away under the request, the case a
/// stale keep-alive connection produces (hyper#2136) and an idempotent request may retry.
pub(crate) fn is_connection_lost(err: &hyper::Error) -> bool {
    if err.is_incomplete_message() || err.is_canceled() || err.is_closed() {
        return true;
    }
    let mut source = std::error::Error::source(err);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            return matches!(
                io.kind(),
                io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
                    | io::ErrorKind::UnexpectedEof
            );
        }
        source = e.source();
    }
    false
}
