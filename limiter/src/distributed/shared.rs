//! The state a `RedisSemaphore`'s handles share with its background driver: the queue of
//! requests for leases, the releases to send, and the counters of the snapshot.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{Notify, oneshot, watch};
use tokio::time::Instant;

use super::error::RedisSemaphoreError;
use super::time::TimeSource;

/// What every process using one semaphore name must agree on, and this process's identity.
#[derive(Debug)]
pub(super) struct Config {
    pub(super) name: String,
    /// holders, queue, meta: one `{hashtag}`, so one Redis Cluster slot.
    pub(super) keys: [String; 3],
    pub(super) channel: String,
    pub(super) process_id: String,
    pub(super) limit: u32,
    pub(super) lease: Duration,
    pub(super) time: TimeSource,
    pub(super) command_timeout: Duration,
    pub(super) poll_interval: Duration,
}

pub(super) struct Shared {
    pub(super) config: Config,
    queue: Mutex<Queue>,
    /// Wakes the driver. `notify_one` stores the wake-up when the driver is busy, so none is
    /// lost.
    wake: Notify,
    pub(super) stats: Stats,
}

#[derive(Debug, Default)]
pub(super) struct Stats {
    pub(super) round_trips: AtomicU64,
    /// Nanoseconds from the send of each round trip to its reply, summed.
    pub(super) round_trip_nanos: AtomicU64,
    pub(super) granted: AtomicU64,
    pub(super) errors: AtomicU64,
    pub(super) lost: AtomicU64,
    pub(super) held: AtomicUsize,
    /// Requests carried by scripts in flight (no longer in the queue).
    pub(super) requests_in_flight: AtomicUsize,
}

pub(super) type Reply = oneshot::Sender<Result<Grant, RedisSemaphoreError>>;
pub(super) type FlushReply = oneshot::Sender<Result<(), RedisSemaphoreError>>;

/// Work for the driver; only the driver removes requests, so the first `n` requests when a
/// round trip starts are still the first `n` when it ends.
#[derive(Default)]
pub(super) struct Queue {
    /// Requests for one lease each, in arrival order.
    pub(super) requests: VecDeque<Reply>,
    pub(super) releases: Vec<PendingRelease>,
    pub(super) flushes: Vec<FlushReply>,
    /// Room may have been made since the last attempt (a release elsewhere, a new
    /// subscription): requests waiting for room should ask again.
    pub(super) attempt: bool,
    pub(super) closed: bool,
    /// Every handle, permit and pending request is gone: release what is left and stop.
    pub(super) shutdown: bool,
}

/// A permit id to remove from Redis.
#[derive(Debug)]
pub(super) struct PendingRelease {
    pub(super) id: Arc<str>,
    /// When it was queued: after two leases the entry has expired in Redis anyway, so a release
    /// that keeps failing is dropped then.
    pub(super) since: Instant,
}

impl Shared {
    pub(super) fn new(config: Config) -> Self {
        Self {
            config,
            queue: Mutex::new(Queue::default()),
            wake: Notify::new(),
            stats: Stats::default(),
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Queue> {
        // No foreign code runs under this lock (sending on a oneshot only wakes a task).
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn wake(&self) {
        self.wake.notify_one();
    }

    pub(super) async fn woken(&self) {
        self.wake.notified().await;
    }

    fn update(&self, f: impl FnOnce(&mut Queue)) {
        f(&mut self.lock());
        self.wake();
    }

    /// Queues a request for one lease; the grant (or the error) arrives on the returned future.
    pub(super) fn request(self: &Arc<Self>) -> Result<PendingGrant, RedisSemaphoreError> {
        let (reply, grant) = oneshot::channel();
        let mut queue = self.lock();
        if queue.closed {
            return Err(RedisSemaphoreError::Closed);
        }
        queue.requests.push_back(reply);
        drop(queue);
        self.wake();
        Ok(PendingGrant {
            grant,
            shared: Arc::clone(self),
            done: false,
        })
    }

    pub(super) fn release(&self, id: Arc<str>) {
        self.update(|queue| {
            queue.releases.push(PendingRelease {
                id,
                since: Instant::now(),
            });
        });
    }

    pub(super) fn flush(&self, reply: FlushReply) {
        self.update(|queue| queue.flushes.push(reply));
    }

    /// A permit may have been freed by another process, or messages may have been missed.
    pub(super) fn possible_release(&self) {
        self.update(|queue| queue.attempt = true);
    }

    pub(super) fn close(&self) {
        self.update(|queue| queue.closed = true);
    }

    pub(super) fn shutdown(&self) {
        self.update(|queue| queue.shutdown = true);
    }

    pub(super) fn waiting(&self) -> usize {
        let in_flight = self
            .stats
            .requests_in_flight
            .load(std::sync::atomic::Ordering::Relaxed);
        self.lock().requests.len() + in_flight
    }
}

/// A lease granted in Redis, until it is handed to a `RedisPermit`. Dropped anywhere (in a
/// oneshot whose receiver is gone, in the driver with nobody left to take it), it queues its
/// release: this is what makes a cancelled acquire leave no member behind.
pub(super) struct Grant {
    shared: Arc<Shared>,
    pub(super) id: Arc<str>,
    pub(super) token: u64,
    pub(super) lost: watch::Receiver<bool>,
}

impl Grant {
    pub(super) fn new(
        shared: Arc<Shared>,
        id: Arc<str>,
        token: u64,
        lost: watch::Receiver<bool>,
    ) -> Self {
        Self {
            shared,
            id,
            token,
            lost,
        }
    }
}

impl Drop for Grant {
    fn drop(&mut self) {
        self.shared.release(Arc::clone(&self.id));
    }
}

/// The driver's answer to one request.
pub(super) struct PendingGrant {
    grant: oneshot::Receiver<Result<Grant, RedisSemaphoreError>>,
    shared: Arc<Shared>,
    done: bool,
}

impl Future for PendingGrant {
    type Output = Result<Grant, RedisSemaphoreError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let result = std::task::ready!(Pin::new(&mut self.grant).poll(cx));
        self.done = true;
        Poll::Ready(result.unwrap_or(Err(RedisSemaphoreError::Stopped)))
    }
}

impl Drop for PendingGrant {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        // A grant sent just before the cancellation is released now, by its own `Drop`.
        self.grant.close();
        drop(self.grant.try_recv());
        // The driver drops the request and, if it was the last one waiting, leaves the
        // Redis queue.
        self.shared.wake();
    }
}

impl fmt::Debug for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Grant")
            .field("id", &self.id)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}
