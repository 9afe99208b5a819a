//! DataLoader-style request batching for tokio: many concurrent `load(key)` calls become one
//! call of a batch function.
//!
//! A GraphQL resolver, an RPC fan-out or any handler that asks for one record at a time
//! calls [`Batcher::load`]. Loads that arrive together are gathered into one batch of
//! distinct keys, the batch function fetches them at once (one SQL `IN (..)`, one `MGET`),
//! and each caller gets its own value or its own error.
//!
//! ```
//! use std::collections::HashMap;
//! use std::time::Duration;
//! use asyncperf_batcher::{BatchError, Batcher};
//!
//! # #[derive(Clone, Debug, PartialEq)] struct User { id: u64 }
//! # #[derive(Debug)] struct DbError;
//! async fn fetch_users(ids: Vec<u64>) -> Result<HashMap<u64, User>, DbError> {
//!     Ok(ids.into_iter().filter(|&id| id != 404).map(|id| (id, User { id })).collect())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let users = Batcher::builder()
//!     .max_batch_size(50)                       // dispatch when this many distinct keys wait
//!     .max_delay(Duration::from_millis(2))      // or this long after the batch's first key
//!     .build(|ids: Vec<u64>| fetch_users(ids));
//!
//! let (a, b) = tokio::join!(users.load(7), users.load(8)); // one call: fetch_users([7, 8])
//! assert_eq!(a.unwrap(), User { id: 7 });
//! assert_eq!(b.unwrap(), User { id: 8 });
//! assert!(matches!(users.load(404).await, Err(BatchError::NotFound)));
//! let many = users.load_many([1, 2, 3]).await;              // input order, one result each
//! assert_eq!(many.len(), 3);
//! # }
//! ```
//!
//! # When to use it, and when not
//!
//! Use it where many tasks each need one item from a backend that answers many items in one
//! round trip about as fast as one: the N+1 query of a GraphQL resolver, per-item cache or
//! RPC lookups inside a request. Build one batcher per request to capture the request's
//! context (auth, tenant, transaction) in the closure: building one is a few allocations and
//! spawns nothing.
//!
//! Do not use it when loads are rare and sequential (there is nothing to batch, though with
//! `max_delay(ZERO)` it costs only a task spawn per load), for writes whose order matters
//! (batches run concurrently), or as a cache: a value is shared only by callers that asked
//! while its key was waiting or being fetched, and is not kept afterwards.
//!
//! # Guarantees
//!
//! - **Never an empty batch, never a duplicate key.** A key that is waiting for dispatch or
//!   already being fetched is not sent again: its new callers share that fetch
//!   ([`Stats::keys_coalesced`] counts them).
//! - **Concurrent batches, no lock around your functions.** Each batch runs in its own task;
//!   the batcher's lock is held only for bookkeeping and never while the batch function (or
//!   the iterator given to [`Batcher::load_many`]) runs. [`Builder::max_in_flight`] bounds
//!   how many batch functions run at once. The only user code that runs under the lock is the
//!   key type's `Hash`, `Eq`, `Clone` and `Drop` (the key map needs them): they must be quick
//!   and must not block or panic. A panic there reaches the caller when it happens in `load`,
//!   but one in a batch's task is not recovered from: callers of that batch's keys, now and
//!   later, may never be answered.
//! - **Errors per key, typed.** The batch function's `Err` reaches every key of that batch as
//!   [`BatchError::Failed`] (shared through an `Arc`, so `E` need not be `Clone`); a key it
//!   did not return gets [`BatchError::NotFound`]; with [`Builder::build_per_key`] each key
//!   can fail on its own ([`BatchError::KeyFailed`]).
//! - **Nobody is left waiting.** A batch function that panics gives its callers
//!   [`BatchError::Panicked`], one that exceeds [`Builder::batch_timeout`] gives
//!   [`BatchError::TimedOut`]; either way the batcher keeps working. If a batch's task is
//!   dropped (its runtime shut down), its callers get [`BatchError::Cancelled`].
//! - **Each batch's timer closes only that batch.** A batch dispatched early (full, or
//!   [`Batcher::flush`]) leaves the next batch's window intact.
//! - **No idle tasks.** Building spawns nothing; a batch's task lives from its first key to
//!   its last answer; dropping the last handle ends the open batch's window at once (nobody
//!   can be waiting for it any more, so nothing is sent).
//!
//! # Dispatch: tick, window or manual
//!
//! | `max_delay` | a batch leaves | lone-load latency | batch size |
//! |---|---|---|---|
//! | `Duration::ZERO` (default) | once the tasks runnable now have yielded | no floor (a task spawn and a yield) | what arrives in the same tick |
//! | `d` | `d` after its first key, or when full | `d` plus a timer tick | what arrives within `d` |
//! | `Duration::MAX` | when full or on [`flush`](Batcher::flush) | until you flush | up to `max_batch_size` |
//!
//! A batch always leaves as soon as it holds `max_batch_size` keys.
//!
//! # Cancel safety
//!
//! [`Batcher::load`] and [`Batcher::load_many`] are cancel safe: dropping their future loses
//! nothing for any other caller. A key whose callers have all gone before dispatch is removed
//! from its batch (a batch left with no key is not sent); a key already being fetched is
//! fetched anyway and the dropped caller's answer is discarded. The batch function itself is
//! never cancelled because a caller left, only by [`Builder::batch_timeout`] or a runtime
//! shutdown.
//!
//! # Runtime
//!
//! Batches run as tokio tasks on the runtime of the load that opened them, so loads must run
//! inside a tokio runtime (a load outside one gets [`BatchError::NoRuntime`]). A window
//! (`max_delay` above zero) and [`Builder::batch_timeout`] use tokio's timer, so that
//! runtime needs the time driver (`enable_time`/`enable_all`). Paused test time
//! (`tokio::time::pause`) is honoured.
//!
//! # Features
//!
//! None: the crate depends on tokio (`rt`, `sync`, `time`), `thiserror` and `foldhash`.
//!
//! # Performance
//!
//! Per load: one lock acquisition, one hash-map insert and later one removal, one oneshot
//! channel (one allocation), no task. Per batch: one spawned task, the key vector, the
//! answer pass. The crate README has the benchmark table against `dataloader`,
//! async-graphql's `DataLoader` and `ultra-batch`, produced by `cargo xtask bench`.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod batcher;
mod builder;
mod dispatch;
mod error;
mod outcome;
mod shared;
mod stats;
mod waiters;

pub use batcher::Batcher;
pub use builder::{Builder, DEFAULT_MAX_BATCH_SIZE};
pub use error::BatchError;
pub use outcome::PerKeyResults;
pub use stats::Stats;

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
