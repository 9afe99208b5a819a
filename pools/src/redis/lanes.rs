//! Redis lanes: a few pooled connections that `RedisPool::query` shares between callers for
//! commands that neither block nor change connection state. A multiplexed connection
//! pipelines them, so no caller waits for a checkout.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use redis::aio::MultiplexedConnection;
use redis::{Cmd, FromRedisValue, Pipeline, RedisError};
use tokio::time::Instant;

use super::{RedisManager, RedisPool, RedisPoolError};
use crate::db::Wait;
use crate::db::retry::{Failure, Next, after_failure};
use crate::db::{DbPoolError, Idempotency, Pooled};
use crate::deadline::deadline_after;

/// The lanes of one pool; each slot holds a checked-out connection once first used.
pub(crate) struct Lanes {
    slots: Box<[Slot]>,
    next: AtomicUsize,
}

struct Slot {
    lane: Mutex<Option<Lane>>,
    /// Held by the one caller opening a replacement, so a dead lane is not replaced by
    /// every caller that finds it dead at once.
    replacing: tokio::sync::Mutex<()>,
}

impl fmt::Debug for Lanes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lanes")
            .field("lanes", &self.slots.len())
            .finish_non_exhaustive()
    }
}

/// A connection held as a lane.
struct Lane {
    conn: Pooled<RedisManager>,
    handle: LaneHandle,
}

/// What a caller takes from a lane: a clone of its multiplexed connection.
#[derive(Clone)]
struct LaneHandle {
    mux: MultiplexedConnection,
    /// Cleared by the connection's driver when the socket closes.
    alive: Arc<AtomicBool>,
    /// Cleared when a command on the lane failed at the transport level or timed out.
    healthy: Arc<AtomicBool>,
}

impl LaneHandle {
    fn usable(&self) -> bool {
        self.alive.load(Ordering::Acquire) && self.healthy.load(Ordering::Acquire)
    }
}

/// A request `query` can send on a lane.
#[derive(Clone, Copy)]
pub(crate) enum Request<'a> {
    Cmd(&'a Cmd),
    Pipeline(&'a Pipeline),
}

impl Lanes {
    pub(crate) fn new(lanes: usize) -> Self {
        Self {
            slots: (0..lanes)
                .map(|_| Slot {
                    lane: Mutex::new(None),
                    replacing: tokio::sync::Mutex::new(()),
                })
                .collect(),
            next: AtomicUsize::new(0),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The next lane round-robin, opening (or replacing) it from the pool when it has none
    /// usable.
    async fn take(
        &self,
        pool: &RedisPool,
        deadline: Instant,
    ) -> Result<LaneHandle, RedisPoolError> {
        let slot = &self.slots[self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len()];
        if let Some(handle) = usable(&lock(&slot.lane), pool) {
            return Ok(handle);
        }
        let _replacing = tokio::time::timeout_at(deadline, slot.replacing.lock())
            .await
            .map_err(|_| DbPoolError::Timeout {
                waited: pool.shared().config.get_timeout,
                last_error: None,
            })?;
        if let Some(handle) = usable(&lock(&slot.lane), pool) {
            return Ok(handle); // Replaced while we waited.
        }
        let conn = pool
            .get_until(&mut Wait::until(Instant::now(), deadline))
            .await?;
        let lane = Lane {
            handle: LaneHandle {
                mux: (*conn.conn).clone(),
                alive: Arc::clone(&conn.alive),
                healthy: Arc::new(AtomicBool::new(true)),
            },
            conn,
        };
        let mut guard = lock(&slot.lane);
        let handle = lane.handle.clone();
        let old = guard.replace(lane);
        drop(guard);
        if let Some(mut old) = old {
            // Dead, failed, too old, or suspect after a sibling broke: closed rather than
            // returned, even if its socket still looks open.
            old.conn.state.abandon();
        }
        Ok(handle)
    }
}

fn lock(slot: &Mutex<Option<Lane>>) -> std::sync::MutexGuard<'_, Option<Lane>> {
    // No code panics while holding the lock; a poisoned slot is still consistent.
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The lane's handle if it may take commands: its socket is open, nothing failed on it, it
/// is not past `max_lifetime`, and no connection broke since it was opened or checked (a
/// broken sibling means a restart may have cut this one too; a fresh lane replaces it).
fn usable(slot: &Option<Lane>, pool: &RedisPool) -> Option<LaneHandle> {
    let shared = pool.shared();
    slot.as_ref()
        .filter(|lane| {
            lane.handle.usable()
                // (The clock is read only when there is a lifetime to check.)
                && shared
                    .config
                    .max_lifetime
                    .is_none_or(|max| lane.conn.state.age() < max)
                && !shared.is_suspect(&lane.conn.state)
        })
        .map(|lane| lane.handle.clone())
}

async fn send<T: FromRedisValue>(
    request: Request<'_>,
    mux: &mut MultiplexedConnection,
) -> Result<T, RedisError> {
    match request {
        Request::Cmd(cmd) => cmd.query_async(mux).await,
        Request::Pipeline(pipeline) => pipeline.query_async(mux).await,
    }
}

impl RedisPool {
    /// Runs `request` on a lane, with `run`'s retry policy.
    pub(crate) async fn on_lane<T: FromRedisValue>(
        &self,
        idempotency: Idempotency,
        request: Request<'_>,
    ) -> Result<T, RedisPoolError> {
        let shared = self.shared();
        let deadline = deadline_after(Instant::now(), shared.config.get_timeout);
        let mut retried_in_flight = false;
        loop {
            let mut lane = self.extra().take(self, deadline).await?;
            if !lane.usable() {
                continue; // Closed since it was taken: nothing was sent.
            }
            let err = match send(request, &mut lane.mux).await {
                Ok(value) => return Ok(value),
                Err(err) => err,
            };
            let timed_out = err.is_timeout();
            let broken = timed_out || err.is_unrecoverable_error();
            if timed_out {
                shared.counters.timeout();
            } else {
                shared.counters.error();
            }
            if broken {
                // Redis answers in order: behind a timed-out command the lane is stuck too.
                lane.healthy.store(false, Ordering::Release);
                if !timed_out {
                    shared.suspect_all();
                }
            }
            let failure = Failure {
                broken,
                timed_out,
                sent: 1,
                in_flight: true,
            };
            match after_failure(idempotency, failure, &mut retried_in_flight) {
                Next::Retry => {}
                Next::Fail if timed_out => {
                    return Err(DbPoolError::CommandTimeout {
                        timeout: shared.config.command_timeout.unwrap_or_default(),
                    });
                }
                Next::Fail => return Err(DbPoolError::Command(err)),
                Next::FailIndeterminate => return Err(DbPoolError::Indeterminate(err)),
            }
        }
    }
}
