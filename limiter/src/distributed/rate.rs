//! `RedisRateLimiter`: GCRA in one Lua script, one limit shared by every process.

use std::fmt;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, SystemTime};

use redis::Script;
use redis::aio::ConnectionManager;

use super::error::{RedisRateError, timed_out};
use super::time::{TimeSource, Unit};
use super::{DEFAULT_COMMAND_TIMEOUT, connection_manager};
use crate::error::RateError;

static GCRA: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("gcra.lua")));

/// A GCRA rate limit kept in Redis, so that every process using the same name shares it;
/// each call names the key it limits (a user, an API token, a route).
///
/// One atomic script per call: no lock, no race between processes, and the key expires by
/// itself once its bucket is full again, so idle keys cost nothing. Time is the Redis server's
/// `TIME` by default ([`TimeSource::Client`] for managed Redis that rejects it in scripts).
///
/// ```no_run
/// use asyncperf_limiter::RedisRateLimiter;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let client = asyncperf_limiter::redis::Client::open("redis://127.0.0.1:6379")?;
/// let limiter = RedisRateLimiter::builder(client, "api")
///     .per_second(100)
///     .burst(10)
///     .build()?;
/// let decision = limiter.allow("user:42").await?;
/// if !decision.allowed {
///     println!("429, retry after {:?}", decision.retry_after);
/// }
/// # Ok(())
/// # }
/// ```
///
/// # Keys
///
/// The key for `key` is `asyncperf:rate:<name>:<key>`, one Redis key per call, so a Redis
/// Cluster places each on its own slot (put a `{hashtag}` in `key` to group some).
#[derive(Clone)]
pub struct RedisRateLimiter {
    inner: Arc<RateShared>,
}

struct RateShared {
    conn: ConnectionManager,
    prefix: String,
    quota: RedisQuota,
    time: TimeSource,
    command_timeout: Duration,
}

#[derive(Debug, Clone, Copy)]
struct RedisQuota {
    count: u32,
    period: Duration,
    burst: u32,
}

impl RedisQuota {
    fn check(&self, tokens: u32) -> Result<(), RateError> {
        crate::rate::check_quota(self.count, self.period, self.burst, tokens)
    }

    /// Microseconds per token, rounded up so that the rate is never exceeded.
    fn interval_us(&self) -> u64 {
        let period = u64::try_from(self.period.as_micros()).unwrap_or(u64::MAX);
        period.div_ceil(u64::from(self.count.max(1))).max(1)
    }
}

/// Configures a [`RedisRateLimiter`]; from [`RedisRateLimiter::builder`].
#[must_use = "a builder does nothing until `build` is called"]
pub struct RedisRateLimiterBuilder {
    client: redis::Client,
    name: String,
    count: u32,
    period: Duration,
    burst: Option<u32>,
    time: TimeSource,
    command_timeout: Duration,
}

/// The answer of [`RedisRateLimiter::allow`] and its variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateDecision {
    /// Whether the tokens were taken.
    pub allowed: bool,
    /// Tokens that could still be taken at once, after this request.
    pub remaining: u32,
    /// When denied: how long until the same request would be allowed (if nobody else takes
    /// tokens meanwhile). `None` when allowed.
    pub retry_after: Option<Duration>,
    /// How long until the bucket is full again (and its key expires).
    pub reset_after: Duration,
}

impl RedisRateLimiter {
    /// Starts configuring a limiter named `name` (every process using the same name and rate
    /// shares the limit). Set the rate with [`per_second`](RedisRateLimiterBuilder::per_second),
    /// [`per_minute`](RedisRateLimiterBuilder::per_minute) or
    /// [`rate`](RedisRateLimiterBuilder::rate).
    pub fn builder(client: redis::Client, name: impl Into<String>) -> RedisRateLimiterBuilder {
        RedisRateLimiterBuilder {
            client,
            name: name.into(),
            count: 0,
            period: Duration::from_secs(1),
            burst: None,
            time: TimeSource::Server,
            command_timeout: DEFAULT_COMMAND_TIMEOUT,
        }
    }

    /// Takes one token for `key` if allowed now.
    ///
    /// # Errors
    ///
    /// [`RedisRateError::Redis`] when the round trip fails.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before the command is sent takes nothing; after, the token may or
    /// may not have been taken.
    pub async fn allow(&self, key: &str) -> Result<RateDecision, RedisRateError> {
        self.allow_n(key, 1).await
    }

    /// Takes `tokens` tokens for `key` at once if allowed now. Zero tokens takes nothing and
    /// reports the state of the bucket.
    ///
    /// # Errors
    ///
    /// [`RedisRateError::Invalid`] (without a round trip) when `tokens` exceeds the burst,
    /// [`RedisRateError::Redis`] when the round trip fails.
    ///
    /// # Cancel safety
    ///
    /// As [`allow`](Self::allow).
    pub async fn allow_n(&self, key: &str, tokens: u32) -> Result<RateDecision, RedisRateError> {
        let now = self.inner.time.now_arg(Unit::Micros);
        self.call(key, tokens, now).await
    }

    /// [`allow_n`](Self::allow_n) at an explicit time instead of the configured clock: for
    /// callers with their own clock (replays, tests). Mixing it with the server's clock on one
    /// key compares two clocks.
    ///
    /// # Errors
    ///
    /// As [`allow_n`](Self::allow_n).
    ///
    /// # Cancel safety
    ///
    /// As [`allow`](Self::allow).
    pub async fn allow_n_at(
        &self,
        key: &str,
        tokens: u32,
        at: SystemTime,
    ) -> Result<RateDecision, RedisRateError> {
        let now = Unit::Micros.since_epoch(at).to_string();
        self.call(key, tokens, now).await
    }

    /// Waits until one token for `key` is allowed, then takes it: asks, and when denied sleeps
    /// for the `retry_after` Redis answered (tokio time) and asks again.
    ///
    /// Requests from many tasks or processes are not queued: whoever asks first after a token
    /// frees up gets it.
    ///
    /// # Errors
    ///
    /// As [`allow_n`](Self::allow_n); a failed round trip ends the wait.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future while it sleeps takes nothing; while a command is in flight, as
    /// [`allow`](Self::allow).
    pub async fn acquire(&self, key: &str) -> Result<RateDecision, RedisRateError> {
        self.acquire_n(key, 1).await
    }

    /// [`acquire`](Self::acquire) for `tokens` tokens at once.
    ///
    /// # Errors
    ///
    /// As [`allow_n`](Self::allow_n).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Self::acquire).
    pub async fn acquire_n(&self, key: &str, tokens: u32) -> Result<RateDecision, RedisRateError> {
        loop {
            let decision = self.allow_n(key, tokens).await?;
            match decision.retry_after {
                None => return Ok(decision),
                Some(wait) => tokio::time::sleep(wait).await,
            }
        }
    }

    /// Forgets `key`'s history: its bucket is full again.
    ///
    /// # Errors
    ///
    /// [`RedisRateError::Redis`] when the round trip fails.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future after the `DEL` was sent may still reset the key; `reset` is
    /// idempotent, so calling it again is always safe.
    pub async fn reset(&self, key: &str) -> Result<(), RedisRateError> {
        let mut conn = self.inner.conn.clone();
        let mut del = redis::cmd("DEL");
        del.arg(self.redis_key(key));
        match tokio::time::timeout(self.inner.command_timeout, del.exec_async(&mut conn)).await {
            Ok(result) => result.map_err(RedisRateError::Redis),
            Err(_) => Err(RedisRateError::Redis(timed_out())),
        }
    }

    /// The Redis key that holds `key`'s state.
    pub fn redis_key(&self, key: &str) -> String {
        format!("{}{key}", self.inner.prefix)
    }

    async fn call(
        &self,
        key: &str,
        tokens: u32,
        now: String,
    ) -> Result<RateDecision, RedisRateError> {
        let quota = self.inner.quota;
        quota.check(tokens)?;
        let mut conn = self.inner.conn.clone();
        let mut invocation = GCRA.key(self.redis_key(key));
        invocation
            .arg(now)
            .arg(quota.interval_us())
            .arg(quota.burst)
            .arg(tokens);
        // The connection's own response and connect timeouts bound the call (a second timer
        // per call here would cost more than the script).
        let (allowed, remaining, retry_after, reset_after) = invocation
            .invoke_async::<(i64, i64, i64, i64)>(&mut conn)
            .await
            .map_err(RedisRateError::Redis)?;
        Ok(RateDecision {
            allowed: allowed == 1,
            remaining: u32::try_from(remaining.max(0)).unwrap_or(u32::MAX),
            retry_after: (retry_after >= 0).then(|| micros(retry_after)),
            reset_after: micros(reset_after),
        })
    }
}

fn micros(us: i64) -> Duration {
    Duration::from_micros(u64::try_from(us).unwrap_or(0))
}

impl RedisRateLimiterBuilder {
    /// `count` tokens per second, with a burst of `count` unless [`burst`](Self::burst) says
    /// otherwise.
    pub fn per_second(self, count: u32) -> Self {
        self.rate(count, Duration::from_secs(1))
    }

    /// `count` tokens per minute, with a burst of `count` unless [`burst`](Self::burst) says
    /// otherwise.
    pub fn per_minute(self, count: u32) -> Self {
        self.rate(count, Duration::from_secs(60))
    }

    /// `count` tokens per `period`, with a burst of `count` unless [`burst`](Self::burst) says
    /// otherwise.
    pub fn rate(mut self, count: u32, period: Duration) -> Self {
        self.count = count;
        self.period = period;
        self
    }

    /// At most `burst` tokens at once (and an unused key starts with `burst` tokens).
    pub fn burst(mut self, burst: u32) -> Self {
        self.burst = Some(burst);
        self
    }

    /// Which clock to measure time on; [`TimeSource::Server`] by default.
    pub fn time_source(mut self, time: TimeSource) -> Self {
        self.time = time;
        self
    }

    /// The longest a call waits for Redis before failing with a timeout (default 2 s).
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = timeout;
        self
    }

    /// Builds the limiter. Connects lazily: the first call opens the connection, and a broken
    /// connection is reopened by the next call.
    ///
    /// # Errors
    ///
    /// [`RedisRateError::Invalid`] for a zero rate or burst, [`RedisRateError::NoRuntime`]
    /// outside a tokio runtime.
    pub fn build(self) -> Result<RedisRateLimiter, RedisRateError> {
        let quota = RedisQuota {
            count: self.count,
            period: self.period,
            burst: self.burst.unwrap_or(self.count),
        };
        quota.check(0)?;
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(RedisRateError::NoRuntime);
        }
        let conn =
            connection_manager(self.client, self.command_timeout).map_err(RedisRateError::Redis)?;
        Ok(RedisRateLimiter {
            inner: Arc::new(RateShared {
                conn,
                prefix: format!("asyncperf:rate:{}:", self.name),
                quota,
                time: self.time,
                command_timeout: self.command_timeout,
            }),
        })
    }
}

impl fmt::Debug for RedisRateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quota = &self.inner.quota;
        f.debug_struct("RedisRateLimiter")
            .field("prefix", &self.inner.prefix)
            .field("count", &quota.count)
            .field("period", &quota.period)
            .field("burst", &quota.burst)
            .field("time", &self.inner.time)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for RedisRateLimiterBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRateLimiterBuilder")
            .field("name", &self.name)
            .field("count", &self.count)
            .field("period", &self.period)
            .field("burst", &self.burst)
            .field("time", &self.time)
            .finish_non_exhaustive()
    }
}
