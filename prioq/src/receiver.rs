//! The receiving half: `recv`, `recv_many`, `try_recv`, and the `Stream` implementation.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use futures_core::Stream;

use crate::chan::Shared;
use crate::error::{RecvError, TryRecvError};
use crate::waiters::Key;

/// The receiving half of a priority channel. Cheap to clone; each item is received by exactly
/// one receiver.
///
/// Items come out smallest priority first, and in send order among equal priorities. Waiting
/// receivers are served in the order they started waiting. When the last `Receiver` is dropped
/// the channel closes, queued items are dropped, and senders get their items back in errors.
pub struct Receiver<T, P> {
    pub(crate) shared: Arc<Shared<T, P>>,
    /// Where [`Stream::poll_next`] parks this handle ([`NOT_PARKED`] when it is not). Atomic
    /// so that the `&self` receiving methods can take the place over; `poll_next` itself has
    /// `&mut self`, so it never runs beside them.
    stream_key: AtomicUsize,
}

/// `stream_key` when the handle is not parked (no slab index is `usize::MAX`).
const NOT_PARKED: usize = usize::MAX;

impl<T, P> Receiver<T, P> {
    pub(crate) fn new(shared: Arc<Shared<T, P>>) -> Self {
        Self {
            shared,
            stream_key: AtomicUsize::new(NOT_PARKED),
        }
    }

    /// Takes over the place in line that an unfinished `Stream` poll left this handle, so a
    /// receive by other means gets the item set aside for it (if any) instead of waiting
    /// behind it forever.
    fn take_stream_key(&self) -> Option<Key> {
        if self.stream_key.load(Ordering::Relaxed) == NOT_PARKED {
            return None;
        }
        let key = self.stream_key.swap(NOT_PARKED, Ordering::AcqRel);
        (key != NOT_PARKED).then_some(key)
    }
}

impl<T, P: Ord> Receiver<T, P> {
    /// Receives the most urgent item (smallest priority; the oldest among equals), waiting
    /// while the channel is empty.
    ///
    /// # Errors
    ///
    /// [`RecvError`] once the channel is closed and every queued item has been received.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: an item is taken from the queue only in the poll that returns it, so a
    /// dropped future loses no item. An item set aside for a woken receiver whose future is
    /// dropped passes to the next waiting receiver (or back to the queue). Safe to use as a
    /// `tokio::select!` branch or under `tokio::time::timeout`.
    pub fn recv(&self) -> RecvFuture<'_, T, P> {
        RecvFuture {
            shared: &self.shared,
            key: self.take_stream_key(),
        }
    }

    /// Like [`recv`](Self::recv), and also returns the item's priority.
    ///
    /// # Errors
    ///
    /// [`RecvError`] once the channel is closed and empty.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`recv`](Self::recv).
    pub fn recv_with_priority(&self) -> RecvWithPriorityFuture<'_, T, P> {
        RecvWithPriorityFuture {
            shared: &self.shared,
            key: self.take_stream_key(),
        }
    }

    /// Waits for at least one item, then moves up to `limit` items into `buf` in delivery
    /// order, in one critical section. Returns how many were added.
    ///
    /// Returns `0` only when `limit` is 0 or the channel is closed and empty (like tokio's
    /// `Receiver::recv_many`).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: items are moved into `buf` only in the poll that completes, so a dropped
    /// future has moved none.
    pub fn recv_many<'a>(&'a self, buf: &'a mut Vec<T>, limit: usize) -> RecvManyFuture<'a, T, P> {
        RecvManyFuture {
            shared: &self.shared,
            buf,
            limit,
            // A limit of 0 completes at once, without touching the queue.
            key: if limit == 0 {
                None
            } else {
                self.take_stream_key()
            },
        }
    }

    /// Receives the most urgent item if one can be taken now.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] if nothing can be taken now (items already set aside for woken
    /// receivers are not available), [`TryRecvError::Closed`] if the channel is closed and empty.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.try_recv_with_priority().map(|(item, _)| item)
    }

    /// Like [`try_recv`](Self::try_recv), and also returns the item's priority.
    ///
    /// # Errors
    ///
    /// As [`try_recv`](Self::try_recv).
    pub fn try_recv_with_priority(&self) -> Result<(T, P), TryRecvError> {
        self.shared.try_recv(self.take_stream_key())
    }

    /// The priority of the item [`recv`](Self::recv) would return next, if any is queued.
    pub fn peek_priority(&self) -> Option<P>
    where
        P: Clone,
    {
        self.shared.lock().queue.peek_priority().cloned()
    }

    /// Items queued now at exactly `priority`; see [`Sender::len_of`](crate::Sender::len_of).
    pub fn len_of(&self, priority: &P) -> usize {
        self.shared.lock().queue.len_of(priority)
    }

    /// Queued items per priority; see [`Sender::lengths`](crate::Sender::lengths).
    pub fn lengths(&self) -> BTreeMap<P, usize>
    where
        P: Clone,
    {
        self.shared.lock().queue.lengths()
    }
}

impl<T, P> Receiver<T, P> {
    /// Closes the channel for every handle; returns `true` if this call closed it.
    ///
    /// Senders fail from now on; receivers still get every queued item, then [`RecvError`].
    pub fn close(&self) -> bool {
        self.shared.close()
    }

    /// True once the channel is closed (it may still hold items to receive).
    pub fn is_closed(&self) -> bool {
        self.shared.lock().closed
    }

    /// Items queued now (including items already set aside for woken receivers).
    pub fn len(&self) -> usize {
        self.shared.lock().queue.len()
    }

    /// True if no item is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The capacity of a bounded channel, `None` if unbounded.
    pub fn capacity(&self) -> Option<usize> {
        self.shared.capacity
    }

    /// Live [`Sender`](crate::Sender) handles.
    pub fn sender_count(&self) -> usize {
        self.shared.sender_count()
    }

    /// Live `Receiver` handles.
    pub fn receiver_count(&self) -> usize {
        self.shared.receiver_count()
    }

    /// True if both handles belong to the same channel.
    pub fn same_channel(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl<T, P> Clone for Receiver<T, P> {
    fn clone(&self) -> Self {
        self.shared.receivers.fetch_add(1, Ordering::Relaxed);
        Self::new(Arc::clone(&self.shared))
    }
}

impl<T, P> Drop for Receiver<T, P> {
    fn drop(&mut self) {
        let key = *self.stream_key.get_mut();
        if key != NOT_PARKED {
            self.shared.cancel_recv(key);
        }
        if self.shared.receivers.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.receivers_gone();
        }
    }
}

impl<T, P> fmt::Debug for Receiver<T, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("capacity", &self.shared.capacity)
            .finish_non_exhaustive()
    }
}

/// Yields items in delivery order; ends once the channel is closed and empty.
///
/// Cancel-safe like [`Receiver::recv`]: between polls the handle may be parked, never holding
/// an item. Its place in line is kept across `Pending` polls (so `next()` in a `select!` loop
/// keeps its turn), taken over by the next `recv`, `recv_many` or `try_recv` on the same handle
/// (which then gets any item set aside for it), and released when the receiver is dropped.
/// An item set aside for a parked handle waits for that handle, so keep polling a handle that
/// has been polled as a stream, or drop it.
impl<T, P: Ord> Stream for Receiver<T, P> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        let stream_key = this.stream_key.get_mut();
        let mut key = (*stream_key != NOT_PARKED).then_some(*stream_key);
        let mut out = None;
        let polled = this
            .shared
            .poll_recv(&mut key, cx, 1, |item, _| out = Some(item));
        *stream_key = key.unwrap_or(NOT_PARKED);
        match polled {
            Poll::Ready(Ok(_)) => Poll::Ready(out),
            Poll::Ready(Err(RecvError)) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        // Not `len()`: other receivers may take every queued item, and a lower bound must hold.
        (0, None)
    }
}

/// Future of [`Receiver::recv`].
#[must_use = "futures do nothing unless polled"]
pub struct RecvFuture<'a, T, P> {
    shared: &'a Shared<T, P>,
    key: Option<Key>,
}

impl<T, P: Ord> Future for RecvFuture<'_, T, P> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let mut out = None;
        match this
            .shared
            .poll_recv(&mut this.key, cx, 1, |item, _| out = Some(item))
        {
            Poll::Ready(Ok(_)) => Poll::Ready(out.ok_or(RecvError)),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Future of [`Receiver::recv_with_priority`].
#[must_use = "futures do nothing unless polled"]
pub struct RecvWithPriorityFuture<'a, T, P> {
    shared: &'a Shared<T, P>,
    key: Option<Key>,
}

impl<T, P: Ord> Future for RecvWithPriorityFuture<'_, T, P> {
    type Output = Result<(T, P), RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let mut out = None;
        match this
            .shared
            .poll_recv(&mut this.key, cx, 1, |item, prio| out = Some((item, prio)))
        {
            Poll::Ready(Ok(_)) => Poll::Ready(out.ok_or(RecvError)),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Future of [`Receiver::recv_many`].
#[must_use = "futures do nothing unless polled"]
pub struct RecvManyFuture<'a, T, P> {
    shared: &'a Shared<T, P>,
    buf: &'a mut Vec<T>,
    limit: usize,
    key: Option<Key>,
}

impl<T, P: Ord> Future for RecvManyFuture<'_, T, P> {
    type Output = usize;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        let this = self.get_mut();
        if this.limit == 0 {
            return Poll::Ready(0);
        }
        let buf = &mut *this.buf;
        match this
            .shared
            .poll_recv(&mut this.key, cx, this.limit, |item, _| buf.push(item))
        {
            Poll::Ready(Ok(n)) => Poll::Ready(n),
            Poll::Ready(Err(RecvError)) => Poll::Ready(0),
            Poll::Pending => Poll::Pending,
        }
    }
}

macro_rules! recv_future_common {
    ($($name:ident),*) => {$(
        impl<T, P> Drop for $name<'_, T, P> {
            fn drop(&mut self) {
                if let Some(key) = self.key.take() {
                    self.shared.cancel_recv(key);
                }
            }
        }

        impl<T, P> fmt::Debug for $name<'_, T, P> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("waiting", &self.key.is_some())
                    .finish_non_exhaustive()
            }
        }
    )*};
}

recv_future_common!(RecvFuture, RecvWithPriorityFuture, RecvManyFuture);
