//! Responses and their bodies: read whole with a size cap, or streamed in chunks; the
//! connection goes back to the pool when the body is finished and is closed if it is dropped.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, StatusCode, Version};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};

use super::pool::{Conn, Pool};
use super::{HttpError, TimeoutPhase};

/// An HTTP response whose body has not been read yet.
///
/// The connection it came on stays checked out (its slot held) until the body is read to the
/// end or the response is dropped; dropping it half read closes the connection, as hyper
/// cannot reuse it without reading the rest.
#[derive(Debug)]
pub struct Response {
    head: http::response::Parts,
    body: ResponseBody,
}

/// The body of a [`Response`]: an [`http_body::Body`] of [`Bytes`] chunks.
pub struct ResponseBody {
    incoming: Incoming,
    /// The connection and its pool, until the body ends.
    lease: Option<Lease>,
    deadline: Option<Instant>,
    timer: Option<Pin<Box<Sleep>>>,
    done: bool,
}

/// A checked-out connection: returned to the pool when the body ends, closed if dropped
/// before that.
pub(crate) struct Lease {
    pub(crate) pool: Arc<Pool>,
    pub(crate) key: Arc<str>,
    pub(crate) conn: Conn,
}

impl Response {
    pub(crate) fn new(
        resp: http::Response<Incoming>,
        lease: Lease,
        deadline: Option<Instant>,
    ) -> Self {
        let (head, incoming) = resp.into_parts();
        let mut body = ResponseBody {
            incoming,
            lease: Some(lease),
            deadline,
            timer: None,
            done: false,
        };
        if body.incoming.is_end_stream() {
            body.finish();
        }
        Self { head, body }
    }

    /// The status code.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.head.status
    }

    /// The HTTP version the server answered with.
    #[must_use]
    pub fn version(&self) -> Version {
        self.head.version
    }

    /// The response headers.
    #[must_use]
    pub fn headers(&self) -> &HeaderMap {
        &self.head.headers
    }

    /// Reads the whole body, failing with [`HttpError::TooLarge`] as soon as it is known to
    /// exceed `limit` bytes (from `Content-Length`, or while reading), without buffering more
    /// than `limit` bytes.
    ///
    /// # Errors
    ///
    /// [`HttpError::TooLarge`]; [`HttpError::Timeout`] when the request's deadline passes;
    /// [`HttpError::Closed`] or [`HttpError::Protocol`] when the connection fails mid-body.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the response: the connection is closed and the body lost.
    pub async fn bytes(mut self, limit: usize) -> Result<Bytes, HttpError> {
        // hyper's size hint is the Content-Length (and zero for a HEAD response, whose
        // Content-Length describes a body that is not sent).
        let declared = self.body.size_hint().lower();
        if declared > limit as u64 {
            return Err(HttpError::TooLarge { limit });
        }
        let mut first: Option<Bytes> = None;
        let mut rest: Option<BytesMut> = None;
        let mut total = 0usize;
        while let Some(chunk) = self.body.chunk().await? {
            total = total.saturating_add(chunk.len());
            if total > limit {
                return Err(HttpError::TooLarge { limit });
            }
            match (&mut first, &mut rest) {
                (None, _) => first = Some(chunk),
                (Some(f), None) => {
                    let mut buf =
                        BytesMut::with_capacity(usize::try_from(declared).unwrap_or(0).max(total));
                    buf.extend_from_slice(f);
                    buf.extend_from_slice(&chunk);
                    rest = Some(buf);
                }
                (Some(_), Some(buf)) => buf.extend_from_slice(&chunk),
            }
        }
        Ok(match (first, rest) {
            (_, Some(buf)) => buf.freeze(),
            (Some(only), None) => only,
            (None, None) => Bytes::new(),
        })
    }

    /// The next chunk of the body, or `None` at its end (trailers are skipped).
    ///
    /// # Errors
    ///
    /// [`HttpError::Timeout`] when the request's deadline passes; [`HttpError::Closed`] or
    /// [`HttpError::Protocol`] when the connection fails mid-body.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a chunk is only taken from the connection when the future completes.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, HttpError> {
        self.body.chunk().await
    }

    /// The head and the body, for use as an [`http::Response`].
    #[must_use]
    pub fn into_http(self) -> http::Response<ResponseBody> {
        http::Response::from_parts(self.head, self.body)
    }

    /// The body alone.
    #[must_use]
    pub fn into_body(self) -> ResponseBody {
        self.body
    }
}

impl ResponseBody {
    /// The next chunk of the body, or `None` at its end (trailers are skipped).
    ///
    /// # Errors
    ///
    /// As [`Response::chunk`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a chunk is only taken from the connection when the future completes.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, HttpError> {
        std::future::poll_fn(|cx| {
            loop {
                match std::task::ready!(Pin::new(&mut *self).poll_frame(cx)) {
                    None => return Poll::Ready(Ok(None)),
                    Some(Err(e)) => return Poll::Ready(Err(e)),
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            return Poll::Ready(Ok(Some(data)));
                        }
                    }
                }
            }
        })
        .await
    }

    /// The end of the body: the connection goes back to the pool.
    fn finish(&mut self) {
        self.done = true;
        if let Some(lease) = self.lease.take() {
            lease.pool.checkin(&lease.key, lease.conn);
        }
    }

    /// A failure mid-body: the connection is closed (dropping the lease).
    fn fail(&mut self, err: HttpError) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        self.done = true;
        if let Some(lease) = self.lease.take() {
            if err.is_timeout() {
                lease.pool.counters.timeout();
            } else {
                lease.pool.counters.error();
            }
        }
        Poll::Ready(Some(Err(err)))
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.incoming).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if this.incoming.is_end_stream() {
                    this.finish();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => this.fail(HttpError::from_hyper(e)),
            Poll::Ready(None) => {
                this.finish();
                Poll::Ready(None)
            }
            Poll::Pending => {
                let Some(deadline) = this.deadline else {
                    return Poll::Pending;
                };
                // The timer is only made when the body is not already there, which for
                // small bodies is never.
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => this.fail(HttpError::Timeout {
                        during: TimeoutPhase::Request,
                    }),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}

impl fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseBody")
            .field("done", &self.done)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}
