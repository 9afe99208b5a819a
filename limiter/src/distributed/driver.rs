//! The background task of one `RedisSemaphore`: every round trip to Redis goes through it.
//!
//! One task per semaphore handle (per process, usually) sends scripts, and each script carries
//! everything pending when it is sent: the releases queued since the last one, the renewal of
//! every held lease when it is due, and one acquire per queued request. So local waiters cost
//! nothing while they wait, a burst of releases and acquires costs one round trip, and a
//! release by this process serves its own next waiter in the same round trip. Up to
//! [`MAX_IN_FLIGHT`] scripts are pipelined on the connection: new work does not wait for the
//! previous reply, and Redis runs (and answers) them in the order sent.
//!
//! Leases passed on inside the process (see `shared`) need the driver only to release the
//! spares nobody took, which it looks for every [`SPARE_LINGER`] while spares are parked.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesOrdered;
use redis::Script;
use redis::aio::ConnectionManager;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::error::{RedisSemaphoreError, timed_out};
use super::shared::{FlushReply, Grant, PendingRelease, Queue, Reply, Shared, Spare};
use super::subscriber;
use super::time::Unit;

static SEMAPHORE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("semaphore.lua")));

/// Acquires asked for in one script at most (the rest go in the next one).
const MAX_BATCH: usize = 1024;
/// How often the driver looks for spare leases nobody took; one is released at its second
/// look (so within two of these), and at once when another process waits.
const SPARE_LINGER: Duration = Duration::from_millis(5);
/// Scripts sent and not yet answered, at most.
const MAX_IN_FLIGHT: usize = 2;
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

/// The script's reply: granted, first token, ms until the earliest expiry, lost positions,
/// other processes waiting.
type ScriptReply = (u64, u64, i64, Vec<usize>, u64);
type InFlight = Pin<Box<dyn Future<Output = (Call, redis::RedisResult<ScriptReply>)> + Send>>;

struct Driver {
    shared: Arc<Shared>,
    conn: ConnectionManager,
    in_flight: FuturesOrdered<InFlight>,
    /// Scripts in flight that carry acquires.
    acquiring: usize,
    /// Sequence number of the next script sent.
    next_seq: u64,
    /// Flushes waiting for the script of that sequence number (and those before it).
    flushes: Vec<(u64, FlushReply)>,
    /// Leases this process holds, to renew.
    held: HashMap<Arc<str>, Held>,
    next_id: u64,
    /// When the held leases are next renewed (`None` while none is held).
    next_renewal: Option<Instant>,
    /// While requests wait for room: when to ask again even without a wake-up (the earliest
    /// lease expiry, at most the poll interval away).
    retry_at: Option<Instant>,
    /// After a failed round trip, housekeeping waits until then.
    release_after: Option<Instant>,
    /// The next look for spare leases nobody took (while `Queue::sweeping`).
    sweep_at: Option<Instant>,
    backoff: Duration,
    /// This process has a place in the Redis queue of waiting processes (as of the last reply).
    queued: bool,
    /// The final round trip after shutdown was sent.
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
    seq: u64,
    releases: Vec<PendingRelease>,
    renew: Vec<Arc<str>>,
    acquire: Vec<Arc<str>>,
    /// The requests the acquires are for, in order.
    requests: Vec<Reply>,
    started: Instant,
    /// `Shared::others_news` when it was sent.
    others_news: u64,
}

enum Step {
    Call(Call),
    Wait(Option<Instant>),
    Exit,
}

impl Driver {
    fn new(shared: Arc<Shared>, conn: ConnectionManager) -> Self {
        Self {
            shared,
            conn,
            in_flight: FuturesOrdered::new(),
            acquiring: 0,
            next_seq: 0,
            flushes: Vec::new(),
            held: HashMap::new(),
            next_id: 0,
            next_renewal: None,
            retry_at: None,
            release_after: None,
            sweep_at: None,
            backoff: MIN_BACKOFF,
            queued: false,
            shutdown_tried: false,
        }
    }

    async fn run(mut self) {
        loop {
            let mut wake_at = None;
            if self.in_flight.len() < MAX_IN_FLIGHT {
                match self.plan() {
                    Step::Call(call) => {
                        self.send(call);
                        continue;
                    }
                    Step::Wait(at) => wake_at = at,
                    Step::Exit if self.in_flight.is_empty() => return,
                    Step::Exit => {}
                }
            }
            tokio::select! {
                Some((call, reply)) = self.in_flight.next(), if !self.in_flight.is_empty() => {
                    self.finish(call, reply);
                }
                () = self.shared.woken() => {}
                () = sleep_until(wake_at) => {}
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
        // While another process waits, spares past their window must go.
        let window = self
            .shared
            .others_waiting()
            .then_some(self.shared.config.pass_on_window);
        sweep(&mut queue, &mut self.sweep_at, window, now);

        let has_requests = !queue.requests.is_empty();
        let backing_off = self.release_after.is_some_and(|at| at > now);
        let flush = !queue.flushes.is_empty();
        let final_call = queue.shutdown && !self.shutdown_tried;
        // After a failed round trip, housekeeping (releases, leaving the queue) waits for the
        // backoff, so an unreachable server is not asked in a loop; requests and renewals
        // have their own pace.
        let housekeeping = !backing_off || flush || final_call;
        let release = !queue.releases.is_empty() && housekeeping;
        // Requests ask Redis at once unless an earlier attempt found no room; then they wait
        // for a wake-up: a release (here or elsewhere) or the retry time.
        let retry_due = self.retry_at.is_some_and(|at| at <= now);
        let waiting_for_room = self.retry_at.is_some();
        let acquire = has_requests && (!waiting_for_room || queue.attempt || retry_due || release);
        // Leave the Redis queue once nothing waits (not while a script in flight may still
        // leave requests waiting).
        let dequeue = self.queued && !has_requests && self.acquiring == 0 && housekeeping;
        // After (re)subscribing: ask whether other processes wait, by a script that carries
        // nothing (any script's reply tells; one with acquires is sent for them anyway, and a
        // script in flight with acquires must answer first, as for `dequeue`).
        let probe = queue.probe && !has_requests && self.acquiring == 0 && housekeeping;

        let seq = self.next_seq;
        if !(acquire || release || renew_due || dequeue || probe) {
            // Nothing to send: a flush waits for the last script in flight, if any.
            for reply in queue.flushes.drain(..) {
                if self.in_flight.is_empty() {
                    let _ = reply.send(Ok(()));
                } else {
                    self.flushes.push((seq - 1, reply));
                }
            }
            if queue.shutdown {
                return Step::Exit;
            }
            let wake_at = [
                self.next_renewal,
                self.retry_at.filter(|_| has_requests),
                self.release_after
                    .filter(|_| !queue.releases.is_empty() || self.queued),
                self.sweep_at,
            ]
            .into_iter()
            .flatten()
            .min();
            return Step::Wait(wake_at);
        }
        if queue.shutdown {
            self.shutdown_tried = true;
        }

        self.next_seq += 1;
        queue.probe = false;
        self.flushes
            .extend(queue.flushes.drain(..).map(|reply| (seq, reply)));
        let releases = std::mem::take(&mut queue.releases);
        let count = queue.requests.len().min(MAX_BATCH);
        let requests: Vec<Reply> = queue.requests.drain(..count).collect();
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
            self.next_renewal = Some(now + lease / 3);
            self.held.keys().cloned().collect()
        } else {
            Vec::new()
        };
        let acquire = (0..count).map(|_| self.new_id()).collect();
        Step::Call(Call {
            seq,
            releases,
            renew,
            acquire,
            requests,
            started: now,
            others_news: self.shared.others_news(),
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

    /// Sends the script of `call` (pipelined behind those in flight).
    fn send(&mut self, call: Call) {
        if !call.acquire.is_empty() {
            self.acquiring += 1;
        }
        self.shared
            .stats
            .requests_in_flight
            .fetch_add(call.requests.len(), Ordering::Relaxed);
        let shared = Arc::clone(&self.shared);
        let mut conn = self.conn.clone();
        self.in_flight.push_back(Box::pin(async move {
            let config = &shared.config;
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
                invocation.invoke_async::<ScriptReply>(&mut conn),
            )
            .await
            .unwrap_or_else(|_| Err(timed_out()));
            (call, reply)
        }));
    }

    fn finish(&mut self, call: Call, reply: redis::RedisResult<ScriptReply>) {
        self.shared
            .stats
            .round_trips
            .fetch_add(1, Ordering::Relaxed);
        let took = u64::try_from(call.started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.shared
            .stats
            .round_trip_nanos
            .fetch_add(took, Ordering::Relaxed);
        if !call.acquire.is_empty() {
            self.acquiring -= 1;
        }
        let requests = call.requests.len();
        match reply {
            Ok(reply) => self.succeeded(call, reply),
            Err(error) => self.failed(call, error),
        }
        self.shared
            .stats
            .requests_in_flight
            .fetch_sub(requests, Ordering::Relaxed);
        self.shared
            .stats
            .held
            .store(self.held.len(), Ordering::Relaxed);
    }

    fn succeeded(&mut self, call: Call, (granted, first, wait_ms, lost, others): ScriptReply) {
        self.shared.others_counted(others, call.others_news);
        let lease = self.shared.config.lease;
        let deadline = call.started + lease;
        self.backoff = MIN_BACKOFF;
        self.release_after = None;

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

        let granted = usize::try_from(granted)
            .unwrap_or(usize::MAX)
            .min(call.acquire.len());
        self.shared
            .stats
            .granted
            .fetch_add(granted as u64, Ordering::Relaxed);
        let mut grants = Vec::with_capacity(granted);
        let now = Instant::now();
        for (token, id) in (first..).zip(&call.acquire[..granted]) {
            let (lost, lost_rx) = watch::channel(false);
            self.held.insert(Arc::clone(id), Held { lost, deadline });
            grants.push(Grant::new(
                Arc::clone(&self.shared),
                Arc::clone(id),
                token,
                lost_rx,
                now,
            ));
        }
        if self.held.is_empty() {
            self.next_renewal = None;
        } else if self.next_renewal.is_none() {
            self.next_renewal = Some(call.started + lease / 3);
        }

        // Replies arrive in the order the scripts ran, so this is the state in Redis: the
        // script queued this process exactly when it left requests waiting.
        let still_waiting = call.acquire.len() > granted;
        self.queued = still_waiting;
        self.retry_at = still_waiting.then(|| {
            let poll = self.shared.config.poll_interval;
            let expiry = u64::try_from(wait_ms).map_or(poll, Duration::from_millis);
            call.started + expiry.min(poll)
        });

        // The grants go to this call's requests in order; one cancelled meanwhile hands its
        // grant to the next.
        let mut requests = call.requests.into_iter();
        let mut spare = Vec::new();
        for mut grant in grants {
            loop {
                let Some(reply) = requests.next() else {
                    spare.push(grant);
                    break;
                };
                match reply.send(Ok(grant)) {
                    Ok(()) => break,
                    Err(Ok(back)) => grant = back,
                    Err(Err(_)) => unreachable!("a grant was sent"),
                }
            }
        }
        let mut leftovers = Vec::new();
        let mut queue = self.shared.lock();
        // Requests left waiting go back to the front of the queue, ahead of later ones.
        for reply in requests.rev() {
            queue.requests.push_front(reply);
        }
        // Spare grants serve the next requests in the queue, if any.
        for mut grant in spare {
            loop {
                let Some(reply) = queue.requests.pop_front() else {
                    leftovers.push(grant);
                    break;
                };
                match reply.send(Ok(grant)) {
                    Ok(()) => break,
                    Err(Ok(back)) => grant = back,
                    Err(Err(_)) => unreachable!("a grant was sent"),
                }
            }
        }
        drop(queue);
        // Nobody left to take them: their `Drop` queues their release (outside the lock).
        drop(leftovers);

        let (done, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.flushes)
            .into_iter()
            .partition(|(seq, _)| *seq <= call.seq);
        self.flushes = waiting;
        for (_, reply) in done {
            let _ = reply.send(Ok(()));
        }
    }

    fn failed(&mut self, call: Call, error: redis::RedisError) {
        let now = Instant::now();
        self.shared.stats.errors.fetch_add(1, Ordering::Relaxed);
        self.release_after = Some(now + self.backoff);
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        if !call.renew.is_empty() {
            self.next_renewal = Some(now + self.shared.config.lease / 10);
        }
        // Whether the script ran is unknown: its registration may stand (it expires, and a
        // round trip without requests removes it), its grants may exist (released below).
        self.queued |= !call.acquire.is_empty();
        self.retry_at = None;

        let error = RedisSemaphoreError::Redis(error);
        for reply in call.requests {
            let _ = reply.send(Err(error.clone()));
        }
        // A flush promises that earlier releases reached Redis; this call's did not.
        for (_, reply) in self.flushes.drain(..) {
            let _ = reply.send(Err(error.clone()));
        }
        let mut queue = self.shared.lock();
        queue.releases.extend(call.releases);
        queue
            .releases
            .extend(call.acquire.iter().map(|id| PendingRelease {
                id: Arc::clone(id),
                since: call.started,
            }));
    }
}

/// Releases the spare leases that waited since the previous look at `sweep_at` (all of them
/// when a flush asks or the semaphore closes; those past `window` after their grant, if given,
/// because another process waits), and schedules the next look while spares keep coming.
fn sweep(
    queue: &mut Queue,
    sweep_at: &mut Option<Instant>,
    window: Option<Duration>,
    now: Instant,
) {
    let all = queue.closed || queue.shutdown || !queue.flushes.is_empty();
    let due = queue.sweeping && sweep_at.is_none_or(|at| at <= now);
    // Nothing to do unless a look is due, or spares may have to go now.
    let must_go = (all || window.is_some()) && !queue.spares.is_empty();
    if !due && !must_go {
        return;
    }
    let previous = queue.sweeps;
    let stale = |spare: &mut Spare| {
        all || spare.parked_at() < previous
            || window.is_some_and(|window| spare.granted_at() + window <= now)
    };
    queue.releases.extend(
        queue
            .spares
            .extract_if(.., stale)
            .map(|spare| spare.into_release(now)),
    );
    if due {
        queue.sweeps += 1;
        if std::mem::take(&mut queue.parked) || !queue.spares.is_empty() {
            *sweep_at = Some(now + SPARE_LINGER);
        } else {
            queue.sweeping = false;
            *sweep_at = None;
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
