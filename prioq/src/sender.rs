//! The sending half: `send` with backpressure, `try_send`, permits, and closing.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use crate::chan::Shared;
use crate::error::{SendError, TrySendError};
use crate::waiters::Key;

/// The sending half of a priority channel. Cheap to clone; every clone sends into the same
/// channel.
///
/// The channel closes when the last `Sender` is dropped (receivers then drain what is queued),
/// or when [`close`](Self::close) is called on any handle.
pub struct Sender<T, P> {
    pub(crate) shared: Arc<Shared<T, P>>,
}

impl<T, P: Ord> Sender<T, P> {
    /// Sends `item` at `priority`, waiting while a bounded channel is full.
    ///
    /// Waiting senders are admitted in the order they started waiting: a slot freed by a
    /// receiver is handed to the longest-waiting sender, never taken by a later `send` or
    /// [`try_send`](Self::try_send).
    ///
    /// # Errors
    ///
    /// [`SendError`] holding `(item, priority)` if the channel is closed: by
    /// [`close`](Self::close), or because every [`Receiver`](crate::Receiver) is gone.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: the item is enqueued only in the poll that returns `Ready(Ok(()))`, so a
    /// dropped future has enqueued nothing (the item is dropped with it). If the future had
    /// already been granted a slot, the slot passes to the next waiting sender. To keep the item
    /// when cancelled, wait with [`reserve`](Self::reserve) and send through the permit.
    pub fn send(&self, item: T, priority: P) -> SendFuture<'_, T, P> {
        SendFuture {
            shared: &self.shared,
            item: Some(item),
            priority: Some(priority),
            key: None,
        }
    }

    /// Sends `item` at `priority` if there is room now.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] if a bounded channel has no free slot (slots granted to waiting
    /// senders or held by permits count as taken), [`TrySendError::Closed`] if it is closed.
    /// Both hand back `(item, priority)`.
    pub fn try_send(&self, item: T, priority: P) -> Result<(), TrySendError<(T, P)>> {
        self.shared.try_send(item, priority)
    }

    /// Waits for a free slot and holds it in a [`Permit`], which sends without waiting.
    ///
    /// Use it to keep an item out of the channel (and under your control) until there is room,
    /// for example inside `tokio::select!`.
    ///
    /// # Errors
    ///
    /// [`SendError`] holding `priority` if the channel is closed.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a dropped future holds no slot and has sent nothing; a slot granted to it
    /// passes to the next waiting sender.
    pub fn reserve(&self, priority: P) -> ReserveFuture<'_, T, P> {
        ReserveFuture {
            shared: &self.shared,
            priority: Some(priority),
            key: None,
        }
    }

    /// Completes once the channel is closed (by [`close`](Self::close) on any handle, or
    /// because every receiver is gone): the producer's signal to stop producing.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: it only observes the channel.
    pub fn closed(&self) -> ClosedFuture<'_, T, P> {
        ClosedFuture {
            shared: &self.shared,
            key: None,
        }
    }

    /// Closes the channel for every handle; returns `true` if this call closed it.
    ///
    /// Further sends fail; senders waiting for room are woken with their item back; receivers
    /// still get every queued item, then [`RecvError`](crate::RecvError).
    pub fn close(&self) -> bool {
        self.shared.close()
    }

    /// True once the channel is closed.
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

    /// Items queued now at exactly `priority`.
    ///
    /// O(1) for a priority that has a bucket in [levels](crate::Builder::levels) mode; otherwise
    /// it scans the queue under the lock (O(len)), so keep it off hot paths.
    pub fn len_of(&self, priority: &P) -> usize {
        self.shared.lock().queue.len_of(priority)
    }

    /// A snapshot of the queued items per priority, smallest priority first; O(len) under the
    /// lock except in [levels](crate::Builder::levels) mode.
    pub fn lengths(&self) -> BTreeMap<P, usize>
    where
        P: Clone,
    {
        self.shared.lock().queue.lengths()
    }

    /// The capacity of a bounded channel, `None` if unbounded.
    pub fn capacity(&self) -> Option<usize> {
        self.shared.capacity
    }

    /// Live `Sender` handles.
    pub fn sender_count(&self) -> usize {
        self.shared.sender_count()
    }

    /// Live [`Receiver`](crate::Receiver) handles.
    pub fn receiver_count(&self) -> usize {
        self.shared.receiver_count()
    }

    /// True if both handles belong to the same channel.
    pub fn same_channel(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl<T, P> Clone for Sender<T, P> {
    fn clone(&self) -> Self {
        self.shared.senders.fetch_add(1, Ordering::Relaxed);
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T, P> Drop for Sender<T, P> {
    fn drop(&mut self) {
        if self.shared.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.close();
        }
    }
}

impl<T, P> fmt::Debug for Sender<T, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("capacity", &self.shared.capacity)
            .finish_non_exhaustive()
    }
}

/// Future of [`Sender::send`].
#[must_use = "futures do nothing unless polled"]
pub struct SendFuture<'a, T, P> {
    shared: &'a Shared<T, P>,
    item: Option<T>,
    /// Lent to the waiter list while parked under priority admission.
    priority: Option<P>,
    key: Option<Key>,
}

// The item is moved out by value and never pinned in place.
impl<T, P> Unpin for SendFuture<'_, T, P> {}

impl<T, P: Ord> Future for SendFuture<'_, T, P> {
    type Output = Result<(), SendError<(T, P)>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if this.item.is_none() {
            return Poll::Ready(Ok(())); // polled after completion
        }
        let ready = this.shared.poll_room(&mut this.key, &mut this.priority, cx);
        let Poll::Ready(ready) = ready else {
            return Poll::Pending;
        };
        match (ready, this.item.take(), this.priority.take()) {
            (Ok(guard), Some(item), Some(priority)) => {
                this.shared.push_and_unlock(guard, item, priority);
                Poll::Ready(Ok(()))
            }
            (Err(()), Some(item), Some(priority)) => Poll::Ready(Err(SendError((item, priority)))),
            // Unreachable: the priority is back whenever `poll_room` is ready.
            _ => Poll::Ready(Ok(())),
        }
    }
}

impl<T, P> Drop for SendFuture<'_, T, P> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.shared.cancel_send(key);
        }
    }
}

impl<T, P> fmt::Debug for SendFuture<'_, T, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendFuture")
            .field("waiting", &self.key.is_some())
            .finish_non_exhaustive()
    }
}

/// Future of [`Sender::reserve`].
#[must_use = "futures do nothing unless polled"]
pub struct ReserveFuture<'a, T, P> {
    shared: &'a Shared<T, P>,
    /// Lent to the waiter list while parked under priority admission.
    priority: Option<P>,
    key: Option<Key>,
}

impl<T, P> Unpin for ReserveFuture<'_, T, P> {}

impl<'a, T, P: Ord> Future for ReserveFuture<'a, T, P> {
    type Output = Result<Permit<'a, T, P>, SendError<P>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if this.priority.is_none() && this.key.is_none() {
            return Poll::Pending; // polled after completion: never hand out a second slot
        }
        let shared = this.shared;
        match shared.poll_room(&mut this.key, &mut this.priority, cx) {
            Poll::Ready(Ok(mut guard)) => {
                Shared::hold_slot(&mut guard);
                drop(guard);
                Poll::Ready(Ok(Permit {
                    shared,
                    priority: this.priority.take(),
                }))
            }
            Poll::Ready(Err(())) => match this.priority.take() {
                Some(p) => Poll::Ready(Err(SendError(p))),
                None => Poll::Pending, // polled after completion
            },
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T, P> Drop for ReserveFuture<'_, T, P> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.shared.cancel_send(key);
        }
    }
}

impl<T, P> fmt::Debug for ReserveFuture<'_, T, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReserveFuture")
            .field("waiting", &self.key.is_some())
            .finish_non_exhaustive()
    }
}

/// One slot of a channel, held for an item of the priority given to
/// [`Sender::reserve`]. Dropping it unused gives the slot back.
pub struct Permit<'a, T, P> {
    shared: &'a Shared<T, P>,
    /// `None` once sent (or if the future was polled after completion).
    priority: Option<P>,
}

impl<T, P: Ord> Permit<'_, T, P> {
    /// Sends `item` at the reserved priority, without waiting.
    ///
    /// # Errors
    ///
    /// [`SendError`] holding `(item, priority)` if the channel was closed after the slot was
    /// reserved.
    pub fn send(mut self, item: T) -> Result<(), SendError<(T, P)>> {
        match self.priority.take() {
            Some(priority) => self.shared.send_reserved(item, priority).map_err(SendError),
            // Unreachable: a permit is only built with a priority and `send` consumes it.
            None => Ok(()),
        }
    }

    /// The priority the item will be sent at.
    pub fn priority(&self) -> Option<&P> {
        self.priority.as_ref()
    }
}

impl<T, P> Drop for Permit<'_, T, P> {
    fn drop(&mut self) {
        if self.priority.is_some() {
            self.shared.release_slot();
        }
    }
}

impl<T, P> fmt::Debug for Permit<'_, T, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").finish_non_exhaustive()
    }
}

/// Future of [`Sender::closed`].
#[must_use = "futures do nothing unless polled"]
pub struct ClosedFuture<'a, T, P> {
    shared: &'a Shared<T, P>,
    key: Option<Key>,
}

impl<T, P> Future for ClosedFuture<'_, T, P> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        this.shared.poll_closed(&mut this.key, cx)
    }
}

impl<T, P> Drop for ClosedFuture<'_, T, P> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.shared.cancel_closed(key);
        }
    }
}

impl<T, P> fmt::Debug for ClosedFuture<'_, T, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClosedFuture").finish_non_exhaustive()
    }
}
