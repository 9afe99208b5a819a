//! The background task of one `RedisSemaphore`: every round trip to Redis goes through it.
//!
//! One task per semaphore handle (per process, usually) runs one script at a time, and each
//! script carries everything pending: the releases queued since the last one, the renewal of
//! every held lease when it is due, and one acquire per queued request. So local waiters cost
//! nothing while they wait, a burst of releases and acquires costs one round trip, and a
//! release by this process serves its own next waiter in the same round trip.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use redis::Script;
use redis::aio::ConnectionManager;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::error::{RedisSemaphoreError, timed_out};
use super::shared::{FlushReply, Grant, PendingRelease, Shared};
use super::subscriber;
use super::time::Unit;

static SEMAPHORE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("semaphore.lua")));

/// Acquires asked for in one script at most (the rest wait for the next round trip).
const MAX_BATCH: usize = 1024;
const MIN_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Spawns the driver and its subscriber on the current runtime.
pub(super) fn spawn(shared: Arc<Shared>, conn: ConnectionManager, client: redis::Client) {
    let subscriber = AbortOnDrop(tokio::spawn(subscriber::run(client, Arc::clone(&shared))));
    tokio::spawn(async move {
        let _subscriber = subscriber;
        Driver::new(shared, conn).run().await;
    });
}

struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

struct Driver {
    shared: Arc<Shared>,
    conn: ConnectionManager,
    /// Leases this process holds, to renew.
    held: HashMap<Arc<str>, Held>,
    next_id: u64,
    /// When the held leases are next renewed (`None` while none is held).
    next_renewal: Option<Instant>,
    /// While requests wait for room: when to ask again even without a wake-up (the earliest
    /// lease expiry, at most the poll interval away).
    retry_at: Option<Instant>,
    /// After a failed round trip, releases wait until then.
    release_after: Option<Instant>,
    backoff: Duration,
    /// This process has a place in the Redis queue of waiting processes.
    queued: bool,
    /// The final round trip after shutdown was made.
    shutdown_tried: bool,
}

struct Held {
    lost: watch::Sender<bool>,
    /// Local time by which the lease expires at the latest, as far as this process knows: the
    /// start of the round trip that last set it, plus the lease (the server set it later).
    deadline: Instant,
}

/// One round trip's worth of work.
struct Call {
    releases: Vec<PendingRelease>,
    renew: Vec<Arc<str>>,
    acquire: Vec<Arc<str>>,
    flushes: Vec<FlushReply>,
    started: Instant,
}

enum Step {
    Call(Call),
    Wait(Option<Instant>),
    Exit,
}

/// The script's reply: granted, first token, ms until the earliest expiry, lost positions.
type Reply = (u64, u64, i64, Vec<usize>);

impl Driver {
    fn new(shared: Arc<Shared>, conn: ConnectionManager) -> Self {
        Self {
            shared,
            conn,
            held: HashMap::new(),
            next_id: 0,
            next_renewal: None,
            retry_at: None,
            release_after: None,
            backoff: MIN_BACKOFF,
            queued: false,
            shutdown_tried: false,
        }
    }

    async fn run(mut self) {
        loop {
            match self.plan() {
                Step::Call(call) => self.execute(call).await,
                Step::Wait(until) => match until {
                    Some(at) => {
                        tokio::select! {
                            () = self.shared.woken() => {}
                            () = tokio::time::sleep_until(at) => {}
                        }
                    }
                    None => self.shared.woken().await,
                },
                Step::Exit => return,
            }
        }
    }

    /// Decides what the next round trip carries, or how long to wait for work.
    fn plan(&mut self) -> Step {
        let now = Instant::now();
        let lease = self.shared.config.lease;
        let renew_due = self.next_renewal.is_some_and(|at| at <= now) && !self.held.is_empty();
        let mut lost = Vec::new();
        if renew_due {
            // A lease that can no longer be confirmed a tenth of a lease before its expiry is
            // reported lost now, so that its holder stops before another process is admitted.
            let margin = lease / 10;
            self.held.retain(|id, held| {
                let keep = held.deadline.checked_sub(margin).is_some_and(|at| at > now);
                if !keep {
                    held.lost.send_replace(true);
                    lost.push(Arc::clone(id));
                }
                keep
            });
        }
        self.shared
            .stats
            .lost
            .fetch_add(lost.len() as u64, Ordering::Relaxed);

        let mut queue = self.shared.lock();
        queue
            .releases
            .extend(lost.into_iter().map(|id| PendingRelease { id, since: now }));
        if queue.closed {
            for reply in queue.requests.drain(..) {
                let _ = reply.send(Err(RedisSemaphoreError::Closed));
            }
        }
        queue.requests.retain(|reply| !reply.is_closed());
        if let Some(stale) = now.checked_sub(lease * 2) {
            queue.releases.retain(|release| release.since > stale);
        }

        let has_requests = !queue.requests.is_empty();
        let backing_off = self.release_after.is_some_and(|at| at > now);
        let flush = !queue.flushes.is_empty();
        let final_call = queue.shutdown && !self.shutdown_tried;
        // After a failed round trip, housekeeping (releases, leaving the queue) waits for the
        // backoff, so an unreachable server is not asked in a loop; requests and renewals
        // have their own pace.
        let housekeeping = !backing_off || flush || final_call;
        let release = !queue.releases.is_empty() && housekeeping;
        let retry_due = self.retry_at.is_some_and(|at| at <= now);
        // Requests ask Redis at once unless an earlier attempt found no room; then they wait
        // for a wake-up: a release (here or elsewhere) or the retry time.
        let waiting_for_room = self.retry_at.is_some();
        let acquire = has_requests && (!waiting_for_room || queue.attempt || retry_due || release);
        let dequeue = self.queued && !has_requests && housekeeping;

        if !(acquire || release || renew_due || dequeue) {
            // Nothing to send: flushes are answered now (every release before them is done).
            for reply in queue.flushes.drain(..) {
                let _ = reply.send(Ok(()));
            }
            if queue.shutdown {
                return Step::Exit;
            }
            let wake_at = [
                self.next_renewal,
                self.retry_at.filter(|_| has_requests),
                self.release_after
                    .filter(|_| !queue.releases.is_empty() || self.queued),
            ]
            .into_iter()
            .flatten()
            .min();
            return Step::Wait(wake_at);
        }
        if queue.shutdown {
            self.shutdown_tried = true;
        }

        let releases = std::mem::take(&mut queue.releases);
        let flushes = std::mem::take(&mut queue.flushes);
        let count = queue.requests.len().min(MAX_BATCH);
        if count > 0 {
            queue.attempt = false;
        }
        drop(queue);

        for release in &releases {
            self.held.remove(&release.id);
        }
        self.shared
            .stats
            .held
            .store(self.held.len(), Ordering::Relaxed);
        let renew = if renew_due {
            self.held.keys().cloned().collect()
        } else {
            Vec::new()
        };
        let acquire = (0..count).map(|_| self.new_id()).collect();
        Step::Call(Call {
            releases,
            renew,
            acquire,
            flushes,
            started: now,
        })
    }

    fn new_id(&mut self) -> Arc<str> {
        self.next_id += 1;
        // Generated before the script runs, so that whatever happens to the round trip, the
        // id can be removed again.
        Arc::from(format!(
            "{}:{}",
            self.shared.config.process_id, self.next_id
        ))
    }

    async fn execute(&mut self, call: Call) {
        let config = &self.shared.config;
        let mut invocation = SEMAPHORE.prepare_invoke();
        for key in &config.keys {
            invocation.key(key);
        }
        invocation
            .arg(config.time.now_arg(Unit::Millis))
            .arg(config.limit)
            .arg(u64::try_from(config.lease.as_millis()).unwrap_or(u64::MAX))
            .arg(&config.process_id)
            .arg(&config.channel)
            .arg(call.releases.len())
            .arg(call.renew.len())
            .arg(call.acquire.len());
        for release in &call.releases {
            invocation.arg(&*release.id);
        }
        for id in call.renew.iter().chain(&call.acquire) {
            invocation.arg(&**id);
        }
        let reply = tokio::time::timeout(
            config.command_timeout,
            invocation.invoke_async::<Reply>(&mut self.conn),
        )
        .await
        .unwrap_or_else(|_| Err(timed_out()));
        self.shared
            .stats
            .round_trips
            .fetch_add(1, Ordering::Relaxed);
        match reply {
            Ok(reply) => self.succeeded(call, reply),
            Err(error) => self.failed(call, error),
        }
    }

    fn succeeded(&mut self, call: Call, (granted, first, wait_ms, lost): Reply) {
        let lease = self.shared.config.lease;
        let deadline = call.started + lease;
        self.backoff = MIN_BACKOFF;
        self.release_after = None;

        if !call.renew.is_empty() {
            for (position, id) in call.renew.iter().enumerate() {
                if lost.contains(&(position + 1)) {
                    if let Some(held) = self.held.remove(id) {
                        held.lost.send_replace(true);
                        self.shared.stats.lost.fetch_add(1, Ordering::Relaxed);
                    }
                } else if let Some(held) = self.held.get_mut(id) {
                    held.deadline = deadline;
                }
            }
            self.next_renewal = Some(call.started + lease / 3);
        }

        let granted = usize::try_from(granted)
            .unwrap_or(usize::MAX)
            .min(call.acquire.len());
        let mut grants = VecDeque::with_capacity(granted);
        for (token, id) in (first..).zip(&call.acquire[..granted]) {
            let (lost, lost_rx) = watch::channel(false);
            self.held.insert(Arc::clone(id), Held { lost, deadline });
            grants.push_back(Grant::new(
                Arc::clone(&self.shared),
                Arc::clone(id),
                token,
                lost_rx,
            ));
        }
        if self.held.is_empty() {
            self.next_renewal = None;
        } else if self.next_renewal.is_none() {
            self.next_renewal = Some(call.started + lease / 3);
        }
        self.shared
            .stats
            .held
            .store(self.held.len(), Ordering::Relaxed);

        // The script queued this process in Redis exactly when it left requests waiting.
        let still_waiting = call.acquire.len() > granted;
        self.queued = still_waiting;
        self.retry_at = still_waiting.then(|| {
            let poll = self.shared.config.poll_interval;
            let expiry = u64::try_from(wait_ms).map_or(poll, Duration::from_millis);
            call.started + expiry.min(poll)
        });

        let mut leftovers = Vec::new();
        let mut queue = self.shared.lock();
        while let Some(grant) = grants.pop_front() {
            let Some(reply) = queue.requests.pop_front() else {
                leftovers.push(grant);
                continue;
            };
            // A request cancelled meanwhile hands its grant back, for the next one.
            if let Err(Ok(grant)) = reply.send(Ok(grant)) {
                grants.push_front(grant);
            }
        }
        for reply in call.flushes {
            let _ = reply.send(Ok(()));
        }
        drop(queue);
        // Nobody left to take them: their `Drop` queues their release (outside the lock).
        drop(leftovers);
    }

    fn failed(&mut self, call: Call, error: redis::RedisError) {
        let now = Instant::now();
        self.shared.stats.errors.fetch_add(1, Ordering::Relaxed);
        self.release_after = Some(now + self.backoff);
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        if !call.renew.is_empty() {
            self.next_renewal = Some(now + self.shared.config.lease / 10);
        }
        // Whether the script ran is unknown: its registration may stand (it expires, and the
        // next round trip without requests removes it), its grants may exist (released below).
        self.queued |= !call.acquire.is_empty();
        self.retry_at = None;

        let error = RedisSemaphoreError::Redis(error);
        let mut queue = self.shared.lock();
        queue.releases.extend(call.releases);
        queue
            .releases
            .extend(call.acquire.iter().map(|id| PendingRelease {
                id: Arc::clone(id),
                since: call.started,
            }));
        for _ in 0..call.acquire.len() {
            if let Some(reply) = queue.requests.pop_front() {
                let _ = reply.send(Err(error.clone()));
            }
        }
        for reply in call.flushes {
            let _ = reply.send(Err(error.clone()));
        }
    }
}
