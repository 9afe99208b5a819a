//! `RedisSemaphore`: N permits shared by every process that uses one name.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::future::Future;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use super::driver;
use super::error::RedisSemaphoreError;
use super::shared::{Config, Grant, Shared};
use super::time::TimeSource;
use super::{DEFAULT_COMMAND_TIMEOUT, connection_manager};
use crate::{Limiter, Permit, Snapshot};

/// The shortest lease [`RedisSemaphoreBuilder::lease`] accepts: it is renewed every lease/3,
/// which must leave room for a round trip.
pub const MIN_LEASE: Duration = Duration::from_millis(100);
/// The window when [`RedisSemaphoreBuilder::pass_on_window`] is not called.
pub const DEFAULT_PASS_ON_WINDOW: Duration = Duration::from_millis(1);
/// The lease when [`RedisSemaphoreBuilder::lease`] is not called.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(10);

/// A counting semaphore whose permits are shared by every process (on every machine) that
/// uses the same Redis server and the same name: at most `limit` permits are held at once,
/// in total.
///
/// Each permit is a *lease* in Redis: a sorted-set entry scored by its expiry on the Redis
/// server's clock. A background task renews the leases this process holds every lease/3; if
/// the process dies, its leases expire within one lease and their permits return. Dropping a
/// [`RedisPermit`] releases it (in the background: call [`flush`](Self::flush) before exiting
/// to be sure the release reached Redis); [`RedisPermit::release`] does it and waits. A permit
/// dropped while a task of this process waits for one passes its lease straight to that task,
/// without a round trip: always while no other process waits for room, and otherwise for
/// [`pass_on_window`](RedisSemaphoreBuilder::pass_on_window) (1 ms) after Redis granted it.
///
/// A local [`Limiter`] sits in front (its limit is [`local_limit`](RedisSemaphoreBuilder::local_limit),
/// by default the global limit): requests beyond it queue in this process at no cost to Redis,
/// and the ones past it are sent to Redis together, one script per round trip, by this
/// handle's background task. Waiters are woken by a pub/sub message when another process
/// frees a permit, not by polling.
///
/// ```no_run
/// use asyncperf_limiter::RedisSemaphore;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let client = asyncperf_limiter::redis::Client::open("redis://127.0.0.1:6379")?;
/// // At most 100 jobs at once across every process that uses the name "jobs".
/// let jobs = RedisSemaphore::builder(client, "jobs", 100).build()?;
///
/// let permit = jobs.acquire().await?;
/// let token = permit.fencing_token(); // pass it to a resource that rejects stale holders
/// tokio::select! {
///     () = permit.lost() => { /* the lease could not be renewed: stop the work */ }
///     () = async { /* the work */ } => {}
/// }
/// permit.release().await?;
/// # let _ = token;
/// # Ok(())
/// # }
/// ```
///
/// # Guarantees, and their limits
///
/// - **At most `limit` leases exist in Redis** at any moment: each round trip is one atomic
///   script that first removes expired leases, then adds only as many as fit.
/// - **A holder knows when its lease is gone.** [`RedisPermit::lost`] resolves when a renewal
///   finds the lease missing (it expired while the process was paused, or Redis restarted
///   and lost its data) or when renewals keep failing until a tenth of a lease before expiry.
///   Work must stop then: a paused process (GC, VM migration, a laptop lid) can outlive its
///   lease while another process is admitted. For an efficiency limit (protecting a
///   downstream) that brief over-admission is usually fine; for correctness, have the
///   protected resource check [`RedisPermit::fencing_token`], which grows with every lease
///   granted.
/// - **One primary.** The guarantee holds for one Redis primary (with replicas, a failover can
///   lose the last writes: leases vanish, holders see `lost`). Do not spread a semaphore over
///   several independent servers: a majority quorum (Redlock) cannot bound a count (with 3
///   servers and 2 permits, three clients can each win a majority with a different pair).
/// - **A restart without persistence** empties the set: new requests are granted at once,
///   while the holders from before learn that their leases are lost at their next renewal
///   (about lease/3 later). With persistence (AOF or RDB) leases survive and expire on time.
/// - **Crash recovery**: a process killed without releasing frees its permits within one lease
///   (from its last renewal).
/// - **Fairness**: first come, first served within a process. Between processes, each process
///   with waiters takes a place in a queue in Redis, and every process ahead holds back one
///   free permit: a process that keeps releasing and re-acquiring cannot starve the others.
///   A process that starts waiting says so on the channel, and holders then pass a lease among
///   their own tasks only within the pass-on window after its grant, and release it in Redis
///   after that, so waiting processes take turns by the window. (A holder that missed the
///   message while its subscription was down asks Redis when it is back; one lost otherwise
///   is heard of in the holder's next reply from Redis: at the latest its next renewal,
///   lease/3 later.)
///
/// Every process using a name must use the same limit, lease and [`TimeSource`].
///
/// # Keys
///
/// `asyncperf:sem:{<name>}:holders` (sorted set of leases), `…:queue` (waiting processes),
/// `…:meta` (fencing counter, queue tickets), and the channel `…:released`. The keys share one
/// `{hashtag}`, so the semaphore works on a Redis Cluster; they expire when idle.
///
/// # Cancel safety
///
/// [`acquire`](Self::acquire) is cancel-safe: every lease id is generated before the script
/// that might grant it runs, so a grant that arrives after the caller left, or a round trip
/// whose outcome is unknown, is released again by id.
#[derive(Clone)]
pub struct RedisSemaphore {
    front: Arc<Front>,
}

/// Keeps the background task alive; when the last handle, permit or pending request is gone,
/// the task sends the remaining releases and stops.
struct Front {
    shared: Arc<Shared>,
    local: Limiter,
}

impl Drop for Front {
    fn drop(&mut self) {
        self.shared.shutdown();
    }
}

/// Configures a [`RedisSemaphore`]; from [`RedisSemaphore::builder`].
#[must_use = "a builder does nothing until `build` is called"]
pub struct RedisSemaphoreBuilder {
    client: redis::Client,
    name: String,
    limit: u32,
    lease: Duration,
    local_limit: Option<usize>,
    time: TimeSource,
    command_timeout: Option<Duration>,
    poll_interval: Option<Duration>,
    pass_on_window: Duration,
}

/// One permit of a [`RedisSemaphore`]: a lease in Redis, renewed in the background while it
/// is held. Dropping it releases the permit.
#[must_use = "the permit is released as soon as the `RedisPermit` is dropped"]
pub struct RedisPermit {
    // Field order is drop order: the lease is passed on or its release queued before the
    // local permit lets the next local waiter in (which then finds the lease, or sends its
    // request in the same round trip as the release).
    grant: Grant,
    front: Arc<Front>,
    _local: Permit,
}

impl Drop for RedisPermit {
    fn drop(&mut self) {
        self.pass_on();
    }
}

/// The counts of a [`RedisSemaphore`] handle at one moment (this process's view).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisSnapshot {
    /// The global limit.
    pub limit: u32,
    /// The local [`Limiter`] in front: requests of this handle holding or waiting for a local
    /// permit.
    pub local: Snapshot,
    /// Leases this handle holds in Redis.
    pub held: usize,
    /// Requests past the local limiter, waiting for Redis to grant a lease.
    pub waiting: usize,
    /// Round trips to Redis made by this handle (all kinds: acquire, release, renew).
    pub round_trips: u64,
    /// The time those round trips took, summed (from the send of each script to its reply,
    /// failed ones included): divided by `round_trips`, the mean round trip. Every grant
    /// waits for one, so `limit` permits cannot change hands faster than `limit` per round
    /// trip.
    pub round_trip_time: Duration,
    /// Leases Redis granted to this handle.
    pub granted: u64,
    /// Round trips that failed.
    pub errors: u64,
    /// Leases reported lost.
    pub lost: u64,
    /// Leases passed from a dropped permit straight to a waiter of this process (or kept for
    /// one that then gave up, and released), without a round trip (see
    /// [`RedisPermit::release`]).
    pub passed_on: u64,
}

impl RedisSemaphore {
    /// Starts configuring a semaphore of `limit` permits named `name`, on the Redis server of
    /// `client`.
    pub fn builder(
        client: redis::Client,
        name: impl Into<String>,
        limit: u32,
    ) -> RedisSemaphoreBuilder {
        RedisSemaphoreBuilder {
            client,
            name: name.into(),
            limit,
            lease: DEFAULT_LEASE,
            local_limit: None,
            time: TimeSource::Server,
            command_timeout: None,
            poll_interval: None,
            pass_on_window: DEFAULT_PASS_ON_WINDOW,
        }
    }

    /// Waits for one permit.
    ///
    /// # Errors
    ///
    /// [`RedisSemaphoreError::Redis`] when the round trip that carried the request failed
    /// (Redis unreachable, timeout, error reply): the request is not retried, so a down server
    /// is reported rather than waited for; [`RedisSemaphoreError::Closed`] after
    /// [`close`](Self::close); [`RedisSemaphoreError::Stopped`] if the runtime shuts down.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future gives up its place in the local queue, and a lease
    /// granted to it (or possibly granted by a round trip in flight) is released by id.
    pub fn acquire(
        &self,
    ) -> impl Future<Output = Result<RedisPermit, RedisSemaphoreError>> + Send + 'static + use<>
    {
        let local = self.front.local.acquire();
        let front = Arc::clone(&self.front);
        async move {
            let local = local.await.map_err(|_| RedisSemaphoreError::Closed)?;
            let grant = front.shared.request()?.await?;
            Ok(RedisPermit {
                grant,
                front,
                _local: local,
            })
        }
    }

    /// Waits at most `timeout` for one permit (tokio time).
    ///
    /// # Errors
    ///
    /// [`RedisSemaphoreError::Elapsed`] when the time runs out, and the errors of
    /// [`acquire`](Self::acquire).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Self::acquire).
    pub fn acquire_timeout(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Result<RedisPermit, RedisSemaphoreError>> + Send + 'static + use<>
    {
        let acquire = self.acquire();
        async move {
            tokio::time::timeout(timeout, acquire)
                .await
                .unwrap_or(Err(RedisSemaphoreError::Elapsed))
        }
    }

    /// Waits until every release queued so far (by dropped permits, or by acquires cancelled
    /// mid-flight) has reached Redis. Call it before a process exits, so its permits return at
    /// once rather than when their leases expire.
    ///
    /// # Errors
    ///
    /// [`RedisSemaphoreError::Redis`] when the round trip fails (the releases stay queued and
    /// are retried in the background until their leases have expired anyway).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: the releases are sent whether or not the future is still awaited.
    pub fn flush(
        &self,
    ) -> impl Future<Output = Result<(), RedisSemaphoreError>> + Send + 'static + use<> {
        let front = Arc::clone(&self.front);
        async move { front.flush().await }
    }

    /// Closes this handle and its clones: every queued request and every later one fails with
    /// [`RedisSemaphoreError::Closed`]. Permits already held stay valid and are renewed as
    /// usual. Other processes are not affected.
    pub fn close(&self) {
        self.front.local.close();
        self.front.shared.close();
    }

    /// The name this semaphore shares with other processes.
    pub fn name(&self) -> &str {
        &self.front.shared.config.name
    }

    /// The global limit.
    pub fn limit(&self) -> u32 {
        self.front.shared.config.limit
    }

    /// The lease of each permit.
    pub fn lease(&self) -> Duration {
        self.front.shared.config.lease
    }

    /// The Redis key of the sorted set of leases (the others share its `{hashtag}`).
    pub fn holders_key(&self) -> &str {
        &self.front.shared.config.keys[0]
    }

    /// This handle's counts at this moment.
    pub fn snapshot(&self) -> RedisSnapshot {
        let shared = &self.front.shared;
        let stats = &shared.stats;
        use std::sync::atomic::Ordering::Relaxed;
        RedisSnapshot {
            limit: shared.config.limit,
            local: self.front.local.snapshot(),
            held: stats.held.load(Relaxed),
            waiting: shared.waiting(),
            round_trips: stats.round_trips.load(Relaxed),
            round_trip_time: Duration::from_nanos(stats.round_trip_nanos.load(Relaxed)),
            granted: stats.granted.load(Relaxed),
            errors: stats.errors.load(Relaxed),
            lost: stats.lost.load(Relaxed),
            passed_on: stats.passed_on.load(Relaxed),
        }
    }
}

impl Front {
    async fn flush(&self) -> Result<(), RedisSemaphoreError> {
        let (reply, done) = oneshot::channel();
        self.shared.flush(reply);
        done.await.unwrap_or(Err(RedisSemaphoreError::Stopped))
    }
}

impl RedisPermit {
    /// A number that grows with every lease granted under this name (across all processes),
    /// so a resource that remembers the highest token it has seen can reject a holder whose
    /// lease has since been given to someone else. A lease passed on within the process (see
    /// [`release`](Self::release)) keeps its token: its holders follow each other, never
    /// overlap, and all lose it together if it expires.
    ///
    /// Tokens also keep growing after the keys expired while idle, or were lost in a restart,
    /// because they never fall below the (server, or client) clock in milliseconds × 1000; as
    /// long as that clock does not step back.
    pub fn fencing_token(&self) -> u64 {
        self.grant.token
    }

    /// The lease's member in the Redis sorted set (kept when the lease is passed on).
    pub fn id(&self) -> &str {
        &self.grant.id
    }

    /// Whether the lease is known to be lost (see [`lost`](Self::lost)).
    pub fn is_lost(&self) -> bool {
        *self.grant.lost.borrow() || self.grant.lost.has_changed().is_err()
    }

    /// Resolves when the lease is lost: a renewal found it gone (it expired, or Redis lost
    /// its data), or renewals kept failing until a tenth of a lease before it expires. Also
    /// resolves if the semaphore's background task stops (runtime shutdown), since nothing
    /// renews the lease then. Never resolves while the lease is fine.
    ///
    /// The future does not borrow the permit; `select!` it against the work the permit
    /// guards.
    pub fn lost(&self) -> impl Future<Output = ()> + Send + 'static + use<> {
        let mut lost = self.grant.lost.clone();
        async move {
            let _ = lost.wait_for(|lost| *lost).await;
        }
    }

    /// Releases the permit and waits until it is no longer held for this holder: passed on to
    /// a task of this process that waits for a permit (then at once, without a round trip),
    /// or removed from Redis.
    ///
    /// A permit is passed on while no other process waits for room (as far as this process has
    /// heard), or within the [pass-on window](RedisSemaphoreBuilder::pass_on_window) after
    /// Redis granted its lease; it keeps its lease, [`id`](Self::id) and
    /// [`fencing_token`](Self::fencing_token). Otherwise the release goes to Redis, where it
    /// is idempotent (a release of a lease that expired or was released is a no-op), so an
    /// error can be ignored: the release stays queued and is retried in the background.
    ///
    /// # Errors
    ///
    /// [`RedisSemaphoreError::Redis`] when the round trip fails.
    ///
    /// # Cancel safety
    ///
    /// The permit is passed on or its release queued when this is called; dropping the
    /// future only stops waiting.
    pub fn release(
        mut self,
    ) -> impl Future<Output = Result<(), RedisSemaphoreError>> + Send + 'static {
        let front = Arc::clone(&self.front);
        let passed_on = self.pass_on();
        drop(self);
        async move {
            if passed_on {
                Ok(())
            } else {
                front.flush().await
            }
        }
    }

    /// Passes the lease to a waiter of this process if that is allowed and one is waiting
    /// (see [`release`](Self::release)); true if it did. Otherwise dropping the grant releases
    /// it in Redis.
    fn pass_on(&mut self) -> bool {
        // Asked before the local permit goes: it lets that waiter in, whose request takes the
        // lease.
        let local = &self.front.local;
        self.grant.pass_on(|| local.has_waiters())
    }
}

impl RedisSemaphoreBuilder {
    /// How long a permit lives in Redis without renewal (default 10 s, at least
    /// [`MIN_LEASE`]). Renewed every lease/3; a crashed holder's permit returns within one
    /// lease. Shorter leases recover faster and cost more renewals.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// At most this many permits held (or being acquired) by this handle and its clones at
    /// once; default: the global limit. Waiters beyond it queue locally.
    pub fn local_limit(mut self, limit: usize) -> Self {
        self.local_limit = Some(limit);
        self
    }

    /// Which clock leases are measured on; [`TimeSource::Server`] by default.
    pub fn time_source(mut self, time: TimeSource) -> Self {
        self.time = time;
        self
    }

    /// The longest one round trip may take before it fails with a timeout (default: 2 s, or a
    /// third of the lease if shorter). A renewal stuck this long delays the report of a lost
    /// lease: with a timeout under a tenth of the lease, a lease that cannot be renewed is
    /// reported lost before it expires; with a longer one, up to about the timeout after.
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = Some(timeout);
        self
    }

    /// The longest a process with waiters goes without asking Redis again when no wake-up
    /// arrives (the safety net for a lost pub/sub message); also woken at the earliest lease
    /// expiry. Default and maximum: a third of the lease (its place in the queue of waiting
    /// processes expires after a lease without a visit).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = Some(interval);
        self
    }

    /// While another process waits for room, how long after Redis granted a lease it may still
    /// pass from a dropped permit to a waiting task of this process (default
    /// [`DEFAULT_PASS_ON_WINDOW`], 1 ms: a few round trips on a local network); after that it
    /// is released in Redis, where the waiting processes take their turns. A longer window
    /// lets each grant serve more tasks (fewer scripts for Redis to run: with many processes
    /// contending, Redis's CPU is the limit); a shorter one lets another process in sooner.
    /// `Duration::ZERO` passes leases on only while no other process waits.
    pub fn pass_on_window(mut self, window: Duration) -> Self {
        self.pass_on_window = window;
        self
    }

    /// Builds the semaphore and spawns its background task (a driver for round trips and a
    /// pub/sub subscriber) on the current tokio runtime. Connects lazily: Redis is first
    /// asked on the first acquire, and a broken connection is reopened by the next round trip.
    ///
    /// # Errors
    ///
    /// [`RedisSemaphoreError::ZeroLimit`], [`RedisSemaphoreError::ZeroLocalLimit`],
    /// [`RedisSemaphoreError::LeaseTooShort`], or [`RedisSemaphoreError::NoRuntime`] outside a
    /// tokio runtime.
    pub fn build(self) -> Result<RedisSemaphore, RedisSemaphoreError> {
        if self.limit == 0 {
            return Err(RedisSemaphoreError::ZeroLimit);
        }
        let local_limit = self.local_limit.unwrap_or(self.limit as usize);
        if local_limit == 0 {
            return Err(RedisSemaphoreError::ZeroLocalLimit);
        }
        if self.lease < MIN_LEASE {
            return Err(RedisSemaphoreError::LeaseTooShort {
                lease: self.lease,
                min: MIN_LEASE,
            });
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(RedisSemaphoreError::NoRuntime);
        }
        let command_timeout = self
            .command_timeout
            .unwrap_or_else(|| DEFAULT_COMMAND_TIMEOUT.min(self.lease / 3));
        let poll_interval = self
            .poll_interval
            .map_or(self.lease / 3, |poll| poll.min(self.lease / 3))
            .max(Duration::from_millis(1));
        let base = format!("asyncperf:sem:{{{}}}", self.name);
        let config = Config {
            keys: [
                format!("{base}:holders"),
                format!("{base}:queue"),
                format!("{base}:meta"),
            ],
            channel: format!("{base}:released"),
            name: self.name,
            process_id: process_id(),
            limit: self.limit,
            lease: self.lease,
            time: self.time,
            command_timeout,
            poll_interval,
            pass_on_window: self.pass_on_window,
        };
        let conn = connection_manager(self.client.clone(), command_timeout)
            .map_err(RedisSemaphoreError::Redis)?;
        let shared = Arc::new(Shared::new(config));
        driver::spawn(Arc::clone(&shared), conn, self.client);
        Ok(RedisSemaphore {
            front: Arc::new(Front {
                shared,
                local: Limiter::new(local_limit),
            }),
        })
    }
}

/// A random id for this handle, so that permit ids of different processes (and of different
/// handles in one process) never collide.
fn process_id() -> String {
    // `RandomState` is seeded from the OS's randomness (and varies per instance).
    let random = RandomState::new().hash_one((std::time::SystemTime::now(), std::process::id()));
    format!("{random:016x}")
}

impl fmt::Debug for RedisSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let config = &self.front.shared.config;
        f.debug_struct("RedisSemaphore")
            .field("name", &config.name)
            .field("lease", &config.lease)
            .field("time", &config.time)
            .field("snapshot", &self.snapshot())
            .finish()
    }
}

impl fmt::Debug for RedisPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisPermit")
            .field("id", &self.grant.id)
            .field("fencing_token", &self.grant.token)
            .field("lost", &self.is_lost())
            .finish()
    }
}

impl fmt::Debug for RedisSemaphoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSemaphoreBuilder")
            .field("name", &self.name)
            .field("limit", &self.limit)
            .field("lease", &self.lease)
            .field("local_limit", &self.local_limit)
            .field("time", &self.time)
            .field("command_timeout", &self.command_timeout)
            .field("poll_interval", &self.poll_interval)
            .field("pass_on_window", &self.pass_on_window)
            .finish_non_exhaustive()
    }
}
