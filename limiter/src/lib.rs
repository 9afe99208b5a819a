//! Bounded-concurrency processing for tokio: a sliding window of in-flight work with no chunk
//! barrier, a fair resizable semaphore, and a GCRA rate limiter.
//!
//! # What
//!
//! - [`process_all`], [`map_unordered`], [`map_ordered`]: run an async function over many
//!   items with at most `concurrency` in flight. A new item starts as soon as any finishes, so
//!   one slow item never holds back the rest (unlike "gather in chunks of 1000", which waits
//!   for the slowest item of every chunk). Input is pulled lazily; the streams hold O(concurrency)
//!   memory. Ordered output buffers early finishers in a bounded reorder window instead of
//!   counting them against the limit (the flaw of `futures`' `buffered`).
//! - [`map()`] / [`map_stream`] give a [`MapBuilder`] with per-item and queue-wait timeouts, an
//!   overall deadline, an [`ErrorPolicy`] (fail fast, cancelling siblings; or collect every
//!   result with its input index), the reorder window, spawn mode (items as tokio tasks) and a
//!   [`Limiter`] shared between maps.
//! - [`Limiter`]: a fair (FIFO) semaphore with owned, weighted permits, `set_limit` that
//!   shrinks without revoking held permits, `close`, timeouts and a [`Snapshot`].
//! - [`RateLimiter`]: GCRA on tokio time (so paused-time tests drive it), FIFO waiters,
//!   `try_acquire` that says when to retry.
//! - Feature `redis`: `RedisSemaphore` (permits shared by every process using one name: leases
//!   on Redis server time, renewed in the background, released on drop, a lost-lease signal,
//!   fencing tokens, pub/sub wake-ups, a lease passed straight between tasks of one process)
//!   and `RedisRateLimiter` (GCRA in one atomic script), for when one machine is not enough.
//!
//! # When (and when not)
//!
//! Use it to bound how much work a batch or stream puts on a downstream service, a pool or
//! memory, or to pace requests. The local types are single-process: for a limit shared by
//! several processes (or machines) enable the `redis` feature and use `RedisSemaphore` /
//! `RedisRateLimiter`, which cost a Redis round trip per batch of requests; stay local when
//! one process does all the work. It bounds concurrency, not CPU: CPU-bound items belong on
//! `spawn_blocking` or rayon. It does not adapt the limit by itself; call
//! [`Limiter::set_limit`] from your own controller.
//!
//! # Example
//!
//! ```
//! use futures::StreamExt;
//!
//! # async fn fetch(id: u32) -> u32 { id }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // Every output, in input order, at most 64 requests at a time:
//! let bodies = asyncperf_limiter::process_all(0..1_000, 64, fetch).await;
//! assert_eq!(bodies.len(), 1_000);
//!
//! // Or stream them as they complete, in O(64) memory whatever the input's length:
//! let mut bodies = asyncperf_limiter::map_unordered(0..1_000, 64, fetch);
//! while let Some(body) = bodies.next().await {
//!     # let _ = body;
//! }
//! # }
//! ```
//!
//! # Cancel safety
//!
//! Every future and stream here can be dropped at any time without losing permits or leaving
//! work behind:
//!
//! - Dropping [`Acquire`] leaves the queue; a permit granted to it but not yet picked up goes
//!   back to the limiter (and on to the next waiter). A dropped [`Permit`] returns its permits.
//! - Dropping a map stream or [`ProcessAll`] drops every in-flight item at once, in the
//!   dropping task: nothing keeps running. In spawn mode the tasks are aborted: each stops at
//!   its next `.await` and returns its permit then. Items not yet pulled stay in the input.
//! - Dropping [`RateAcquire`] leaves the queue; tokens are taken only when it completes.
//! - (Feature `redis`) Dropping a `RedisSemaphore::acquire` future leaves the local queue; a
//!   lease granted to it, or possibly granted by a script in flight, is released by id (ids
//!   are generated before the script runs). `RedisRateLimiter` calls dropped after their
//!   command was sent may or may not have taken their tokens.
//!
//! What a dropped item itself loses is up to the item (as with any dropped future).
//!
//! # Futurelock: intra-task items run only while the stream is polled
//!
//! Like `futures`' `buffer_unordered`, the maps run their items inside the task that polls
//! them. If the consumer awaits something else between two `next()` calls, the items in
//! flight make no progress meanwhile; if that something waits on a resource an item holds (a
//! permit, a lock, a pool connection), the task deadlocks. Keep the loop body short, or use
//! [`MapBuilder::spawn`], whose items are tasks of their own and keep running.
//!
//! # Concurrency 0
//!
//! Concurrency 0 could never run anything. The one-line helpers panic at the call with a
//! clear message (their return types, fixed by the design, leave no room for an error, and a
//! literal 0 is a programming error like `slice::chunks(0)`); [`MapBuilder`]'s terminal
//! methods return [`ConfigError::ZeroConcurrency`], so take that path for configured values.
//! A [`Limiter`] with limit 0 answers every request with [`AcquireError::ExceedsLimit`], and a
//! [`RateLimiter`] with rate or burst 0 answers with [`RateError`]: nothing ever hangs.
//!
//! # Features
//!
//! Dependencies: `tokio` (`time`, `rt`), `futures-core` (the `Stream` trait), `futures-util`
//! (`AtomicWaker`), `pin-project-lite`, `thiserror`.
//!
//! - `redis` (off by default): `RedisSemaphore`, `RedisRateLimiter` and their types, on the
//!   [`redis`](https://docs.rs/redis) crate (`aio`, `tokio-comp`, `script`,
//!   `connection-manager`; re-exported as `asyncperf_limiter::redis`) and tokio's `sync`.
//!   Each `RedisSemaphore` spawns two tokio tasks (its round-trip driver and a pub/sub
//!   subscriber) on the runtime it is built on; they end with its last handle and permit.
//!   Tested against Redis 7.0.
//!
//! # Performance
//!
//! The maps keep in-flight items in slots with one waker each, allocated the first time that
//! many items are in flight (never more than `concurrency`, so a huge `concurrency` such as
//! `usize::MAX` costs nothing up front) and then reused: a warm map's item costs no
//! allocation, and a woken item is found without scanning (the approach of
//! `futures-buffered`; `futures`' `FuturesUnordered` allocates per item). The
//! benches (`benches/map.rs`) put the per-item overhead beside `futures`, `futures-buffered`, a
//! bounded `JoinSet` and chunked gathering, and the makespan of heavy-tailed workloads in
//! simulated time; `benches/redis.rs` (feature `redis`) puts `RedisSemaphore` beside a
//! hand-written polling semaphore and `RedisRateLimiter` beside a fixed-window counter; the
//! README shows the numbers of the last `cargo xtask bench` run.
#![deny(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "redis")]
mod distributed;
mod error;
mod limiter;
mod map;
mod rate;
mod wait_list;

pub use error::{
    AcquireError, ConfigError, ItemError, PanicPayload, RateError, TimeoutPhase, TryAcquireError,
    TryRateError,
};
pub use limiter::{Acquire, Limiter, Permit, Snapshot};
pub use map::{
    DEFAULT_WINDOW_FACTOR, ErrorPolicy, Indexed, MapBuilder, MapOrdered, MapStream, MapUnordered,
    ProcessAll, map, map_ordered, map_stream, map_unordered, process_all,
};
pub use rate::{RateAcquire, RateLimiter};

#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use distributed::{
    DEFAULT_LEASE, DEFAULT_PASS_ON_WINDOW, MIN_LEASE, RateDecision, RedisPermit, RedisRateError,
    RedisRateLimiter, RedisRateLimiterBuilder, RedisSemaphore, RedisSemaphoreBuilder,
    RedisSemaphoreError, RedisSnapshot, TimeSource,
};
/// The `redis` crate this one is built on (feature `redis`), to name its `Client` with the
/// same version.
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis;

/// Types named in the type parameters of the map streams and builder.
///
/// You rarely write them: they appear in the full types of [`MapBuilder`] and [`MapStream`]
/// (the input, how items are launched, the execution mode). The traits are sealed.
pub mod plumbing {
    pub use crate::map::{
        CallFn, InTask, Input, IterInput, Launch, LocalItem, LocalItems, Spawned, SpawnedItem,
        SpawnedItems, StreamInput,
    };
}

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
