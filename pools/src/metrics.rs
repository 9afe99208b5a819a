//! The metrics every pool reports the same way, HTTP, Redis and PostgreSQL alike.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// A snapshot of one pool's state and counters since it was built.
///
/// Gauges (`open`, `idle`, `in_use`, `connecting`, `waiters`) are the state at the moment of
/// the snapshot; the rest count from the pool's creation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolMetrics {
    /// Connections open or being opened (`idle + in_use + connecting`).
    pub open: u64,
    /// Open connections waiting in the pool for a caller.
    pub idle: u64,
    /// Connections checked out by a caller.
    pub in_use: u64,
    /// Connections being dialled (they count toward the limits).
    pub connecting: u64,
    /// Callers waiting for a connection now.
    pub waiters: u64,
    /// Checkouts served.
    pub checkouts: u64,
    /// Checkouts that had to wait for a connection.
    pub waited: u64,
    /// Time callers spent waiting for a connection, summed.
    pub wait_time: Duration,
    /// The longest single wait.
    pub max_wait: Duration,
    /// Checkouts or commands that gave up at their deadline.
    pub timeouts: u64,
    /// Connect, protocol and server errors seen.
    pub errors: u64,
    /// Connections opened.
    pub connections_created: u64,
    /// Connections closed (broken, expired, idle too long, or evicted).
    pub connections_closed: u64,
}

/// The gauges a pool reads from its own state when a snapshot is taken.
#[derive(Clone, Copy, Debug, Default)]
#[allow(dead_code)] // Used by the pools behind features.
pub(crate) struct Gauges {
    pub(crate) idle: u64,
    pub(crate) in_use: u64,
    pub(crate) connecting: u64,
    pub(crate) waiters: u64,
}

/// The counters behind [`PoolMetrics`]: lock-free, updated on the pools' hot paths.
#[derive(Debug, Default)]
#[allow(dead_code)] // Used by the pools behind features.
pub(crate) struct Counters {
    checkouts: AtomicU64,
    waited: AtomicU64,
    wait_nanos: AtomicU64,
    max_wait_nanos: AtomicU64,
    timeouts: AtomicU64,
    errors: AtomicU64,
    created: AtomicU64,
    closed: AtomicU64,
}

#[allow(dead_code)] // Used by the pools behind features.
impl Counters {
    /// A checkout served after waiting `waited` (zero when a connection was free at once).
    pub(crate) fn checkout(&self, waited: Duration) {
        self.checkouts.fetch_add(1, Relaxed);
        if !waited.is_zero() {
            let nanos = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
            self.waited.fetch_add(1, Relaxed);
            self.wait_nanos.fetch_add(nanos, Relaxed);
            self.max_wait_nanos.fetch_max(nanos, Relaxed);
        }
    }

    pub(crate) fn timeout(&self) {
        self.timeouts.fetch_add(1, Relaxed);
    }

    pub(crate) fn error(&self) {
        self.errors.fetch_add(1, Relaxed);
    }

    pub(crate) fn connection_created(&self) {
        self.created.fetch_add(1, Relaxed);
    }

    pub(crate) fn connection_closed(&self) {
        self.closed.fetch_add(1, Relaxed);
    }

    /// The counters with the pool's current gauges.
    pub(crate) fn snapshot(&self, gauges: Gauges) -> PoolMetrics {
        PoolMetrics {
            open: gauges.idle + gauges.in_use + gauges.connecting,
            idle: gauges.idle,
            in_use: gauges.in_use,
            connecting: gauges.connecting,
            waiters: gauges.waiters,
            checkouts: self.checkouts.load(Relaxed),
            waited: self.waited.load(Relaxed),
            wait_time: Duration::from_nanos(self.wait_nanos.load(Relaxed)),
            max_wait: Duration::from_nanos(self.max_wait_nanos.load(Relaxed)),
            timeouts: self.timeouts.load(Relaxed),
            errors: self.errors.load(Relaxed),
            connections_created: self.created.load(Relaxed),
            connections_closed: self.closed.load(Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_sums_gauges_and_keeps_counters() {
        let c = Counters::default();
        c.checkout(Duration::ZERO);
        c.checkout(Duration::from_millis(5));
        c.checkout(Duration::from_millis(2));
        c.timeout();
        c.error();
        c.connection_created();
        let m = c.snapshot(Gauges {
            idle: 2,
            in_use: 3,
            connecting: 1,
            waiters: 4,
        });
        assert_eq!((m.open, m.idle, m.in_use, m.waiters), (6, 2, 3, 4));
        assert_eq!((m.checkouts, m.waited), (3, 2));
        assert_eq!(m.wait_time, Duration::from_millis(7));
        assert_eq!(m.max_wait, Duration::from_millis(5));
        assert_eq!((m.timeouts, m.errors, m.connections_created), (1, 1, 1));
    }
}
