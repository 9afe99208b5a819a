//! What a pool knows about itself (gauges, counters, the restart suspicion) and about each
//! connection (age, last use, whether it broke), read without locks.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use crate::config::PoolConfig;
use crate::metrics::{Counters, Gauges, PoolMetrics};

/// State shared by a pool, its manager and every connection it opened.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: PoolConfig,
    pub(crate) counters: Counters,
    open: AtomicU64,
    connecting: AtomicU64,
    in_use: AtomicU64,
    waiters: AtomicU64,
    /// When the pool was built; instants below are stored as nanoseconds since then.
    epoch: Instant,
    /// A connection last used before this instant is checked before reuse: set when any
    /// connection breaks, because its siblings were most likely cut by the same restart.
    suspect_before: AtomicU64,
}

impl Shared {
    pub(crate) fn new(config: PoolConfig) -> Arc<Self> {
        Arc::new(Self {
            config,
            counters: Counters::default(),
            open: AtomicU64::new(0),
            connecting: AtomicU64::new(0),
            in_use: AtomicU64::new(0),
            waiters: AtomicU64::new(0),
            epoch: Instant::now(),
            suspect_before: AtomicU64::new(0),
        })
    }

    pub(crate) fn metrics(&self) -> PoolMetrics {
        let in_use = self.in_use.load(Relaxed);
        let open = self.open.load(Relaxed);
        self.counters.snapshot(Gauges {
            // Connections being returned (mobc recycles on a task) count as idle.
            idle: open.saturating_sub(in_use),
            in_use,
            connecting: self.connecting.load(Relaxed),
            waiters: self.waiters.load(Relaxed),
        })
    }

    pub(crate) fn open(&self) -> u64 {
        self.open.load(Relaxed)
    }

    pub(crate) fn in_use(&self) -> u64 {
        self.in_use.load(Relaxed)
    }

    pub(crate) fn idle(&self) -> u64 {
        self.open().saturating_sub(self.in_use())
    }

    /// Marks every connection used before now as suspect.
    pub(crate) fn suspect_all(&self) {
        self.suspect_before
            .fetch_max(self.nanos(Instant::now()), Relaxed);
    }

    fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    /// True when `state` should be pinged before it is handed out.
    pub(crate) fn needs_ping(&self, state: &ConnState, now: Instant) -> bool {
        let last_seen_alive = state.last_used.max(state.last_checked);
        let idle_long = self
            .config
            .health_check_interval
            .is_some_and(|interval| now.saturating_duration_since(last_seen_alive) >= interval);
        idle_long || self.is_suspect(state)
    }

    /// True when a sibling broke after `state` was last seen answering. (Not its check-in
    /// time: a connection whose last reply came before a server restart may be checked in
    /// after a sibling saw the break, and must be pinged all the same.)
    pub(crate) fn is_suspect(&self, state: &ConnState) -> bool {
        self.nanos(state.last_checked) < self.suspect_before.load(Relaxed)
    }

    /// True when `state` has outlived `max_lifetime` at `now`.
    pub(crate) fn too_old(&self, state: &ConnState, now: Instant) -> bool {
        self.config
            .max_lifetime
            .is_some_and(|max| now.saturating_duration_since(state.created) >= max)
    }

    /// True when `state` sat idle longer than `max_idle_lifetime`.
    pub(crate) fn idle_too_long(&self, state: &ConnState, now: Instant) -> bool {
        self.config
            .max_idle_lifetime
            .is_some_and(|max| now.saturating_duration_since(state.last_used) >= max)
    }

    pub(crate) fn connecting(&self) -> GaugeGuard<'_> {
        GaugeGuard::new(&self.connecting)
    }

    pub(crate) fn waiting(&self) -> GaugeGuard<'_> {
        GaugeGuard::new(&self.waiters)
    }

    /// A checkout starts; [`checkin`](Self::checkin) ends it.
    pub(crate) fn checkout_started(&self) {
        self.in_use.fetch_add(1, Relaxed);
    }

    pub(crate) fn checkin(&self) {
        self.in_use.fetch_sub(1, Relaxed);
    }
}

/// Holds one unit of a gauge; gives it back on drop, so a cancelled future cannot leak it.
#[derive(Debug)]
pub(crate) struct GaugeGuard<'a>(&'a AtomicU64);

impl<'a> GaugeGuard<'a> {
    fn new(gauge: &'a AtomicU64) -> Self {
        gauge.fetch_add(1, Relaxed);
        Self(gauge)
    }
}

impl Drop for GaugeGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

/// What the pool tracks about one connection, kept inside the connection itself.
#[derive(Debug)]
pub(crate) struct ConnState {
    pub(crate) created: Instant,
    pub(crate) last_used: Instant,
    /// Last time the server was seen answering on this connection: a reply to a command or
    /// a health check. Kept apart from `last_used` (the check-in time), so checks do not reset
    /// the idle lifetime, and because a connection may be checked in after its server went
    /// away: only an answer proves it alive.
    pub(crate) last_checked: Instant,
    /// The connection failed at the transport level (or was abandoned mid-command): never
    /// hand it out again.
    pub(crate) broken: bool,
    /// A command was sent and its reply not yet read: if the caller dropped the future, the
    /// connection is closed at check-in rather than reused.
    pub(crate) in_flight: bool,
    /// Commands handed to a live connection during the current checkout.
    pub(crate) sent: u32,
    /// The connection was opened for the current checkout.
    pub(crate) fresh: bool,
    /// The driver was used around the tracked methods during the current checkout
    /// (`PostgresConnection`'s `Deref` to `Client`): whatever that sent may have run.
    raw_access: AtomicBool,
    /// The last failure hit a command that had been sent (its outcome is unknown).
    pub(crate) failed_in_flight: bool,
    shared: Arc<Shared>,
}

impl ConnState {
    /// A new open connection: counts it as open and created.
    pub(crate) fn opened(shared: &Arc<Shared>) -> Self {
        shared.open.fetch_add(1, Relaxed);
        shared.counters.connection_created();
        let now = Instant::now();
        Self {
            created: now,
            last_used: now,
            last_checked: now,
            broken: false,
            in_flight: false,
            sent: 0,
            fresh: false,
            raw_access: AtomicBool::new(false),
            failed_in_flight: false,
            shared: Arc::clone(shared),
        }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The server answered a command sent at `sent` on this connection: it was alive then.
    /// (The send time, not the reply's, saves a clock read; it errs towards pinging.)
    pub(crate) fn answered(&mut self, sent: Instant) {
        self.last_checked = sent;
    }

    /// Starts a checkout: forgets the previous one's command history.
    pub(crate) fn begin_checkout(&mut self, fresh: bool) {
        self.fresh = fresh;
        self.sent = 0;
        *self.raw_access.get_mut() = false;
        self.failed_in_flight = false;
    }

    /// The driver is about to be used around the tracked methods.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))] // Only PostgreSQL exposes it.
    pub(crate) fn raw_access(&self) {
        self.raw_access.store(true, Relaxed);
    }

    /// Commands of the current checkout that may have reached the server: those sent
    /// through the tracked methods, plus one for any use of the driver around them.
    pub(crate) fn maybe_sent(&self) -> u32 {
        self.sent
            .saturating_add(u32::from(self.raw_access.load(Relaxed)))
    }

    /// A command is about to be written to a live connection.
    pub(crate) fn sending(&mut self) {
        self.sent = self.sent.saturating_add(1);
    }

    /// The transport failed; `in_flight` when the failing command had been sent.
    pub(crate) fn broke(&mut self, in_flight: bool) {
        if !self.broken {
            self.broken = true;
            self.shared.suspect_all();
        }
        self.failed_in_flight = in_flight;
    }

    /// A command was abandoned at its client-side deadline: the connection may still deliver
    /// its late reply, so it is never reused. Siblings are not suspected (the server is
    /// slow, not gone).
    pub(crate) fn abandon(&mut self) {
        self.broken = true;
        self.failed_in_flight = true;
    }

    /// How long ago the connection was opened.
    pub(crate) fn age(&self) -> Duration {
        self.created.elapsed()
    }
}

impl Drop for ConnState {
    fn drop(&mut self) {
        self.shared.open.fetch_sub(1, Relaxed);
        self.shared.counters.connection_closed();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{ConnState, Shared};
    use crate::{PoolConfig, PoolKind};

    fn shared() -> std::sync::Arc<Shared> {
        Shared::new(PoolConfig::for_kind(PoolKind::DatabaseLight).health_check_interval(None))
    }

    #[test]
    fn a_connection_is_suspect_until_it_answers_after_a_sibling_broke() {
        let shared = shared();
        let mut conn = ConnState::opened(&shared);
        assert!(!shared.is_suspect(&conn));
        std::thread::sleep(Duration::from_millis(2));
        shared.suspect_all();
        // Checked in after the break, but its last answer came before it: still suspect.
        conn.last_used = std::time::Instant::now();
        assert!(shared.is_suspect(&conn));
        assert!(shared.needs_ping(&conn, std::time::Instant::now()));
        std::thread::sleep(Duration::from_millis(2));
        conn.answered(std::time::Instant::now());
        assert!(!shared.is_suspect(&conn));
        assert!(!shared.needs_ping(&conn, std::time::Instant::now()));
    }
}
