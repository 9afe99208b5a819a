//! Which clock the Redis scripts read: the server's `TIME`, or the caller's.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The clock that lease expiries and rate-limit arrival times are measured on.
///
/// Every process sharing a semaphore or a rate limit must use the same source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum TimeSource {
    /// The Redis server's `TIME`, read inside the script (the default). One clock for every
    /// client, so clock skew between machines does not matter.
    #[default]
    Server,
    /// The calling machine's system clock, passed to the script as an argument. For managed
    /// Redis that rejects `TIME` inside scripts (Amazon `ElastiCache` Serverless, for one). Clients'
    /// clocks must then agree to well within a lease (semaphore) or an emission interval (rate
    /// limiter): a client whose clock runs ahead expires other clients' leases early, which can
    /// over-commit the semaphore.
    Client,
}

impl TimeSource {
    /// The script argument carrying "now" in `unit`s since the Unix epoch: empty for the
    /// server's clock.
    pub(super) fn now_arg(self, unit: Unit) -> String {
        match self {
            Self::Server => String::new(),
            Self::Client => unit.since_epoch(SystemTime::now()).to_string(),
        }
    }
}

/// The resolution a script works in.
#[derive(Debug, Clone, Copy)]
pub(super) enum Unit {
    Millis,
    Micros,
}

impl Unit {
    pub(super) fn since_epoch(self, at: SystemTime) -> u64 {
        let since = at.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        let n = match self {
            Self::Millis => since.as_millis(),
            Self::Micros => since.as_micros(),
        };
        u64::try_from(n).unwrap_or(u64::MAX)
    }
}
