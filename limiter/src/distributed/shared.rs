//! The state a `RedisSemaphore`'s handles share with its background driver: the queue of
//! requests for leases, the releases to send, the leases passed on between permits of this
//! process, and the counters of the snapshot.
//!
//! Passing a lease on: a permit dropped while another task of this process waits for one
//! gives its lease to that task instead of releasing it in Redis, so a permit can change hands
//! inside a process without a round trip (the release and the next grant would otherwise each
//! wait for one). While another process waits for room (as far as this process knows: see
//! `others_waiting`), a lease may stay only for `pass_on_window` after its grant, so a busy
//! process still leaves room for the others.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
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
    /// How long after its grant a lease may still pass between tasks of this process while
    /// another process waits.
    pub(super) pass_on_window: Duration,
}

pub(super) struct Shared {
    pub(super) config: Config,
    queue: Mutex<Queue>,
    /// Wakes the driver. `notify_one` stores the wake-up when the driver is busy, so none is
    /// lost.
    wake: Notify,
    pub(super) stats: Stats,
    /// Another process waits for room (its "waiting" message arrived, or the last reply
    /// counted it in the Redis queue): leases past their pass-on window are then released in
    /// Redis, not passed on.
    others_waiting: AtomicBool,
    /// "Waiting" messages received so far, so that a reply to a script sent before the last
    /// one does not clear `others_waiting`.
    others_news: AtomicU64,
}

#[derive(Debug, Default)]
pub(super) struct Stats {
    pub(super) round_trips: AtomicU64,
    /// Nanoseconds from the send of each round trip to its reply, summed.
    pub(super) round_trip_nanos: AtomicU64,
    pub(super) granted: AtomicU64,
    pub(super) errors: AtomicU64,
    pub(super) lost: AtomicU64,
    /// Leases passed from a dropped permit to a waiter of this process (or kept for one),
    /// without Redis.
    pub(super) passed_on: AtomicU64,
    pub(super) held: AtomicUsize,
    /// Requests carried by scripts in flight (no longer in the queue).
    pub(super) requests_in_flight: AtomicUsize,
}

pub(super) type Reply = oneshot::Sender<Result<Grant, RedisSemaphoreError>>;
pub(super) type FlushReply = oneshot::Sender<Result<(), RedisSemaphoreError>>;

/// Work for the driver. A request leaves it when the driver sends it (it then travels with its
/// round trip, and comes back to the front if not granted) or when a dropped permit passes its
/// lease to it.
#[derive(Default)]
pub(super) struct Queue {
    /// Requests for one lease each, in arrival order.
    pub(super) requests: VecDeque<Reply>,
    pub(super) releases: Vec<PendingRelease>,
    pub(super) flushes: Vec<FlushReply>,
    /// Leases of dropped permits kept for the local waiters they let in (taken by their
    /// requests); the driver releases those left over (see `sweeping`).
    pub(super) spares: Vec<Spare>,
    /// Spares were parked lately: the driver looks every `SPARE_LINGER` and releases those
    /// parked before its previous look (a waiter that was let in but gave up leaves its spare).
    pub(super) sweeping: bool,
    /// A spare was parked since the driver's last look.
    pub(super) parked: bool,
    /// How many looks the driver has taken: a spare parked before the previous one is stale.
    pub(super) sweeps: u64,
    /// Room may have been made since the last attempt (a release elsewhere, a new
    /// subscription): requests waiting for room should ask again.
    pub(super) attempt: bool,
    /// The next reply must tell whether other processes wait (messages may have been missed):
    /// send a script even with nothing else to carry.
    pub(super) probe: bool,
    pub(super) closed: bool,
    /// Every handle, permit and pending request is gone: release what is left and stop.
    pub(super) shutdown: bool,
}

/// A lease held in Redis and kept in this process for the next local request.
pub(super) struct Spare {
    id: Arc<str>,
    token: u64,
    lost: watch::Receiver<bool>,
    granted_at: Instant,
    /// `Queue::sweeps` when it was parked.
    parked_at: u64,
}

impl Spare {
    pub(super) fn into_release(self, since: Instant) -> PendingRelease {
        PendingRelease { id: self.id, since }
    }

    pub(super) fn parked_at(&self) -> u64 {
        self.parked_at
    }

    pub(super) fn granted_at(&self) -> Instant {
        self.granted_at
    }
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
            others_waiting: AtomicBool::new(false),
            others_news: AtomicU64::new(0),
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

    /// Queues a request for one lease, or takes a spare one; the grant (or the error) arrives
    /// on the returned future.
    pub(super) fn request(self: &Arc<Self>) -> Result<PendingGrant, RedisSemaphoreError> {
        let (reply, grant) = oneshot::channel();
        let mut queue = self.lock();
        if queue.closed {
            return Err(RedisSemaphoreError::Closed);
        }
        let spare = std::iter::from_fn(|| queue.spares.pop()).find(|spare| {
            // A lost lease was released (or is gone) already: drop it.
            !(*spare.lost.borrow() || spare.lost.has_changed().is_err())
        });
        let pending = PendingGrant {
            grant,
            shared: Arc::clone(self),
            done: false,
        };
        match spare {
            Some(spare) => {
                drop(queue);
                let grant = Grant::new(
                    Arc::clone(self),
                    spare.id,
                    spare.token,
                    spare.lost,
                    spare.granted_at,
                );
                // The receiver is right here: this cannot fail (and would release if it did).
                let _ = reply.send(Ok(grant));
            }
            None => {
                queue.requests.push_back(reply);
                drop(queue);
                self.wake();
            }
        }
        Ok(pending)
    }

    /// Whether another process waits for room, as far as this process knows.
    pub(super) fn others_waiting(&self) -> bool {
        self.others_waiting.load(Ordering::Acquire)
    }

    /// Another process announced that it waits: stop passing leases on (beyond their window),
    /// and release spares.
    pub(super) fn others_joined(&self) {
        self.assume_others_wait();
        self.update(|queue| queue.sweeping = true);
    }

    /// The subscription (re)started: every message before it was missed. Room may have been
    /// made, and other processes may wait: assume they do until a script sent from now on
    /// says otherwise.
    pub(super) fn subscribed(&self) {
        self.assume_others_wait();
        self.update(|queue| {
            queue.attempt = true;
            queue.probe = true;
            queue.sweeping = true;
        });
    }

    /// Sets `others_waiting`, as news newer than any reply to a script already sent.
    fn assume_others_wait(&self) {
        self.others_news.fetch_add(1, Ordering::AcqRel);
        self.others_waiting.store(true, Ordering::Release);
    }

    /// The "waiting" messages received so far.
    pub(super) fn others_news(&self) -> u64 {
        self.others_news.load(Ordering::Acquire)
    }

    /// What a reply says about other processes waiting; `news` is `others_news` when its
    /// script was sent: a message that arrived since then is newer than the reply.
    pub(super) fn others_counted(&self, others: u64, news: u64) {
        if others > 0 {
            self.others_waiting.store(true, Ordering::Release);
        } else if self.others_news() == news {
            self.others_waiting.store(false, Ordering::Release);
        }
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

    /// A permit may have been freed by another process.
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
        let in_flight = self.stats.requests_in_flight.load(Ordering::Relaxed);
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
    /// When Redis granted the lease to this process.
    granted_at: Instant,
    /// The lease went on to another request of this process: dropping this does nothing.
    passed: bool,
}

impl Grant {
    pub(super) fn new(
        shared: Arc<Shared>,
        id: Arc<str>,
        token: u64,
        lost: watch::Receiver<bool>,
        granted_at: Instant,
    ) -> Self {
        Self {
            shared,
            id,
            token,
            lost,
            granted_at,
            passed: false,
        }
    }

    /// The same lease for another request.
    fn successor(&self) -> Self {
        Self::new(
            Arc::clone(&self.shared),
            Arc::clone(&self.id),
            self.token,
            self.lost.clone(),
            self.granted_at,
        )
    }

    /// Whether the lease may stay in this process: no other process waits, or it came from
    /// Redis less than `pass_on_window` ago.
    fn may_stay(&self) -> bool {
        !self.shared.others_waiting()
            || self.granted_at.elapsed() < self.shared.config.pass_on_window
    }

    /// Passes the lease on instead of releasing it, if it may stay in the process (see
    /// `may_stay`) and is not lost: to the first request of this process waiting for Redis,
    /// or, when `local_waiter()` (a local waiter is about to be let in by this permit's local permit),
    /// to the spares for that waiter's request. True if passed on (then dropping `self` does
    /// nothing).
    pub(super) fn pass_on(&mut self, local_waiter: impl FnOnce() -> bool) -> bool {
        if self.passed {
            return true;
        }
        let shared = &self.shared;
        if !self.may_stay() || *self.lost.borrow() || self.lost.has_changed().is_err() {
            return false;
        }
        let local_waiter = local_waiter();
        let mut queue = shared.lock();
        if queue.closed || queue.shutdown {
            return false;
        }
        while let Some(reply) = queue.requests.pop_front() {
            match reply.send(Ok(self.successor())) {
                Ok(()) => {
                    self.passed = true;
                    break;
                }
                // That request was cancelled: its copy must not release the lease.
                Err(Ok(mut back)) => back.passed = true,
                Err(Err(_)) => unreachable!("a grant was sent"),
            }
        }
        if !self.passed && local_waiter {
            let parked_at = queue.sweeps;
            queue.spares.push(Spare {
                id: Arc::clone(&self.id),
                token: self.token,
                lost: self.lost.clone(),
                granted_at: self.granted_at,
                parked_at,
            });
            queue.parked = true;
            self.passed = true;
            if !std::mem::replace(&mut queue.sweeping, true) {
                // The driver starts looking at spares.
                drop(queue);
                shared.wake();
            }
        }
        if self.passed {
            shared.stats.passed_on.fetch_add(1, Ordering::Relaxed);
        }
        self.passed
    }
}

impl Drop for Grant {
    fn drop(&mut self) {
        if !self.passed {
            self.shared.release(Arc::clone(&self.id));
        }
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
