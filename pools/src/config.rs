//! `PoolConfig`: the knobs of the Redis and PostgreSQL pools, with defaults that fix mobc's.

use std::time::Duration;

use crate::kind::PoolKind;

/// How a Redis or PostgreSQL pool is sized, timed and kept healthy.
///
/// The defaults follow the reference's asyncpg pool (min 5, max 20, idle lifetime 300 s,
/// command timeout 60 s) and fix mobc's sharp defaults: every connection may stay idle (mobc
/// keeps 2), `min_idle` connections are opened up front and kept open, and a connection is
/// health-checked at checkout only when it sat idle longer than `health_check_interval` (mobc
/// checks on every checkout).
///
/// Build one with [`PoolConfig::default`] or [`PoolConfig::for_kind`], then adjust it with the
/// chainable setters of the same names as the fields:
///
/// ```
/// use std::time::Duration;
/// use asyncperf_pools::{PoolConfig, PoolKind};
///
/// let config = PoolConfig::for_kind(PoolKind::Redis)
///     .max_open(32)
///     .command_timeout(Some(Duration::from_secs(2)));
/// assert_eq!(config.max_open, 32);
/// assert!(config.validate().is_ok());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolConfig {
    /// Connections opened when the pool is built and kept open even when idle (asyncpg's
    /// `min_size`). mobc has no such knob; the pool's maintenance task tops it up.
    pub min_idle: usize,
    /// Connections open at most, idle and in use together (asyncpg's `max_size`).
    pub max_open: usize,
    /// An idle connection unused for this long is closed, unless that would leave fewer than
    /// `min_idle` open (asyncpg's `max_inactive_connection_lifetime`). Counted from its last
    /// use, not from its creation (mobc's own knob counts from creation). `None`: never.
    pub max_idle_lifetime: Option<Duration>,
    /// A connection this old is closed when next returned or found idle, and replaced if that
    /// leaves fewer than `min_idle`. `None`: never.
    pub max_lifetime: Option<Duration>,
    /// How long a caller waits for a connection, including reconnecting while the server is
    /// down; at the deadline it gets [`DbPoolError::Timeout`](crate::DbPoolError::Timeout)
    /// carrying the last connect error.
    pub get_timeout: Duration,
    /// A connection idle for longer than this is pinged before it is handed out.
    /// `Some(Duration::ZERO)` pings at every checkout (mobc's default); `None` pings only
    /// connections last used before a sibling broke (a connection the driver saw close is
    /// never handed out either way).
    pub health_check_interval: Option<Duration>,
    /// The longest a single command may run. PostgreSQL enforces it on the server
    /// (`statement_timeout`) and the client (a deadline that cancels the query); Redis on the
    /// client (the connection's response timeout). `None`: no limit.
    pub command_timeout: Option<Duration>,
    /// Redis only: connections [`RedisPool::query`](crate::RedisPool::query) shares between
    /// callers for commands that neither block nor change connection state (a multiplexed
    /// connection pipelines them). They count toward `max_open`. `None`: one per two CPU
    /// cores, 1 to 8, at most a quarter of `max_open` (0 below 4). `Some(0)`: every command
    /// checks a connection out.
    pub redis_lanes: Option<usize>,
}

/// A [`PoolConfig`] that cannot work.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `max_open` is zero: the pool could never hand out a connection.
    #[error("max_open must be at least 1")]
    ZeroMaxOpen,
    /// `min_idle` is larger than `max_open`.
    #[error("min_idle ({min_idle}) is larger than max_open ({max_open})")]
    MinIdleAboveMaxOpen {
        /// The configured `min_idle`.
        min_idle: usize,
        /// The configured `max_open`.
        max_open: usize,
    },
    /// `redis_lanes` leaves no connection for exclusive checkouts.
    #[error("redis_lanes ({lanes}) must be below max_open ({max_open})")]
    LanesNotBelowMaxOpen {
        /// The configured `redis_lanes`.
        lanes: usize,
        /// The configured `max_open`.
        max_open: usize,
    },
    /// A duration that must be positive is zero.
    #[error("{field} must be positive")]
    ZeroDuration {
        /// The field's name.
        field: &'static str,
    },
}

impl Default for PoolConfig {
    /// The reference's asyncpg pool: 5..=20 connections, idle lifetime 300 s, command timeout
    /// 60 s; plus a 30 min maximum lifetime, a 10 s checkout deadline and a health check of
    /// connections idle for more than 1 s.
    fn default() -> Self {
        Self {
            min_idle: 5,
            max_open: 20,
            max_idle_lifetime: Some(Duration::from_secs(300)),
            max_lifetime: Some(Duration::from_secs(30 * 60)),
            get_timeout: Duration::from_secs(10),
            health_check_interval: Some(Duration::from_secs(1)),
            command_timeout: Some(Duration::from_secs(60)),
            redis_lanes: None,
        }
    }
}

impl PoolConfig {
    /// The defaults with the size [`PoolKind::recommended_local`] gives for `kind`.
    ///
    /// Database kinds keep the 60 s command timeout; [`PoolKind::Redis`] uses 5 s, since a
    /// Redis command that takes longer is almost always stuck (raise it for blocking
    /// commands such as `BLPOP`).
    #[must_use]
    pub fn for_kind(kind: PoolKind) -> Self {
        Self::sized(kind, kind.recommended_local())
    }

    /// Like [`for_kind`](Self::for_kind), sized for a server with `server_cores` cores: for a
    /// database the server's cores decide how many connections help, not the client's.
    #[must_use]
    pub fn for_kind_on(kind: PoolKind, server_cores: usize) -> Self {
        Self::sized(kind, kind.recommended(server_cores))
    }

    fn sized(kind: PoolKind, size: crate::kind::PoolSize) -> Self {
        let base = Self {
            min_idle: size.min,
            max_open: size.max,
            ..Self::default()
        };
        match kind {
            PoolKind::Redis => base.command_timeout(Some(Duration::from_secs(5))),
            _ => base,
        }
    }

    /// Sets [`min_idle`](Self::min_idle).
    #[must_use]
    pub fn min_idle(mut self, min_idle: usize) -> Self {
        self.min_idle = min_idle;
        self
    }

    /// Sets [`max_open`](Self::max_open).
    #[must_use]
    pub fn max_open(mut self, max_open: usize) -> Self {
        self.max_open = max_open;
        self
    }

    /// Sets [`max_idle_lifetime`](Self::max_idle_lifetime).
    #[must_use]
    pub fn max_idle_lifetime(mut self, lifetime: Option<Duration>) -> Self {
        self.max_idle_lifetime = lifetime;
        self
    }

    /// Sets [`max_lifetime`](Self::max_lifetime).
    #[must_use]
    pub fn max_lifetime(mut self, lifetime: Option<Duration>) -> Self {
        self.max_lifetime = lifetime;
        self
    }

    /// Sets [`get_timeout`](Self::get_timeout).
    #[must_use]
    pub fn get_timeout(mut self, timeout: Duration) -> Self {
        self.get_timeout = timeout;
        self
    }

    /// Sets [`health_check_interval`](Self::health_check_interval).
    #[must_use]
    pub fn health_check_interval(mut self, interval: Option<Duration>) -> Self {
        self.health_check_interval = interval;
        self
    }

    /// Sets [`command_timeout`](Self::command_timeout).
    #[must_use]
    pub fn command_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.command_timeout = timeout;
        self
    }

    /// Sets [`redis_lanes`](Self::redis_lanes).
    #[must_use]
    pub fn redis_lanes(mut self, lanes: Option<usize>) -> Self {
        self.redis_lanes = lanes;
        self
    }

    /// The number of Redis lanes this configuration gives.
    pub(crate) fn lanes(&self) -> usize {
        self.redis_lanes.unwrap_or_else(|| {
            let cores = std::thread::available_parallelism().map_or(1, usize::from);
            // One lane keeps a core busy with its driver task; Redis itself is single-threaded,
            // so lanes beyond the client's spare cores only split the pipelining.
            (cores / 2).clamp(1, 8).min(self.max_open / 4)
        })
    }

    /// Checks that a pool can be built from this configuration.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when `max_open` is zero, `min_idle > max_open`, or a timeout or
    /// lifetime is zero (`health_check_interval` may be zero: it means "check every time").
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_open == 0 {
            return Err(ConfigError::ZeroMaxOpen);
        }
        if self.redis_lanes.is_some_and(|lanes| lanes >= self.max_open) {
            return Err(ConfigError::LanesNotBelowMaxOpen {
                lanes: self.lanes(),
                max_open: self.max_open,
            });
        }
        if self.min_idle > self.max_open {
            return Err(ConfigError::MinIdleAboveMaxOpen {
                min_idle: self.min_idle,
                max_open: self.max_open,
            });
        }
        let positive = [
            ("get_timeout", Some(self.get_timeout)),
            ("max_idle_lifetime", self.max_idle_lifetime),
            ("max_lifetime", self.max_lifetime),
            ("command_timeout", self.command_timeout),
        ];
        for (field, value) in positive {
            if value == Some(Duration::ZERO) {
                return Err(ConfigError::ZeroDuration { field });
            }
        }
        Ok(())
    }

    /// How often the maintenance task wakes: at least once a second (so `min_idle` is
    /// restored within a second of a server coming back), more often when a lifetime is
    /// shorter.
    pub(crate) fn maintenance_interval(&self) -> Duration {
        self.reap_interval().min(Duration::from_secs(1))
    }

    /// How often idle connections are inspected for their lifetimes: a quarter of the
    /// shortest lifetime (so none outlives it by more than that), between 10 ms and 60 s.
    pub(crate) fn reap_interval(&self) -> Duration {
        [self.max_idle_lifetime, self.max_lifetime]
            .into_iter()
            .flatten()
            .min()
            .map_or(Duration::from_secs(60), |d| d / 4)
            .clamp(Duration::from_millis(10), Duration::from_secs(60))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_reference_asyncpg_pool() {
        let c = PoolConfig::default();
        assert_eq!((c.min_idle, c.max_open), (5, 20));
        assert_eq!(c.max_idle_lifetime, Some(Duration::from_secs(300)));
        assert_eq!(c.command_timeout, Some(Duration::from_secs(60)));
        assert!(c.validate().is_ok());
    }

    #[test]
    fn for_kind_applies_the_sizing_table() {
        for kind in PoolKind::ALL {
            for cores in [1, 2, 8, 64] {
                let c = PoolConfig::for_kind_on(kind, cores);
                let size = kind.recommended(cores);
                assert_eq!((c.min_idle, c.max_open), (size.min, size.max));
                assert!(c.validate().is_ok(), "{kind:?} {cores}");
            }
        }
        let redis = PoolConfig::for_kind(PoolKind::Redis);
        assert_eq!((redis.min_idle, redis.max_open), (10, 50));
        assert_eq!(redis.command_timeout, Some(Duration::from_secs(5)));
    }

    #[test]
    fn rejects_configs_that_cannot_work() {
        let base = PoolConfig::default();
        assert_eq!(
            base.clone().max_open(0).validate(),
            Err(ConfigError::ZeroMaxOpen)
        );
        assert_eq!(
            base.clone().min_idle(21).validate(),
            Err(ConfigError::MinIdleAboveMaxOpen {
                min_idle: 21,
                max_open: 20
            })
        );
        assert_eq!(
            base.clone().get_timeout(Duration::ZERO).validate(),
            Err(ConfigError::ZeroDuration {
                field: "get_timeout"
            })
        );
        assert_eq!(
            base.clone().max_lifetime(Some(Duration::ZERO)).validate(),
            Err(ConfigError::ZeroDuration {
                field: "max_lifetime"
            })
        );
        assert!(
            base.health_check_interval(Some(Duration::ZERO))
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn redis_lanes_stay_a_minority_of_the_pool() {
        let c = PoolConfig::default();
        assert_eq!(c.clone().max_open(3).lanes(), 0);
        assert_eq!(c.clone().max_open(4).lanes(), 1);
        assert!((1..=8).contains(&c.clone().max_open(50).lanes()));
        assert_eq!(c.clone().redis_lanes(Some(0)).lanes(), 0);
        assert_eq!(c.clone().redis_lanes(Some(3)).lanes(), 3);
        assert_eq!(
            c.max_open(2).redis_lanes(Some(2)).validate(),
            Err(ConfigError::LanesNotBelowMaxOpen {
                lanes: 2,
                max_open: 2
            })
        );
    }

    #[test]
    fn maintenance_interval_follows_the_shortest_lifetime() {
        let c = PoolConfig::default();
        assert_eq!(c.reap_interval(), Duration::from_secs(60));
        assert_eq!(c.maintenance_interval(), Duration::from_secs(1));
        let c = c.max_lifetime(Some(Duration::from_millis(200)));
        assert_eq!(c.maintenance_interval(), Duration::from_millis(50));
        let c = c.max_lifetime(Some(Duration::from_millis(1)));
        assert_eq!(c.maintenance_interval(), Duration::from_millis(10));
        let c = c.max_lifetime(None).max_idle_lifetime(None);
        assert_eq!(c.reap_interval(), Duration::from_secs(60));
    }
}
