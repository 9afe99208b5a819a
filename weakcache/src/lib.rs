//! An async cache of weakly held values with single-flight loading.
//!
//! [`WeakCache<K, V>`](WeakCache) maps keys to values that live only as long as somebody uses
//! them: the cache keeps a `Weak<V>`, callers get `Arc<V>`. When a value is missing,
//! [`get_or_load`](WeakCache::get_or_load) runs your loader **once** for all concurrent callers
//! of that key, in a task of its own, and hands every caller the same `Arc` (or the same
//! error).
//!
//! ```
//! use std::sync::Arc;
//! use asyncperf_weakcache::{LoadError, WeakCache};
//!
//! # #[derive(Debug)] struct Config { name: String }
//! # #[derive(Debug)] struct BackendDown;
//! # async fn fetch_config(name: String) -> Result<Config, BackendDown> { Ok(Config { name }) }
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), LoadError<BackendDown>> {
//! let configs: WeakCache<String, Config> = WeakCache::new();
//!
//! // Concurrent calls for one key share one fetch; a live value is returned without one.
//! let config: Arc<Config> = configs
//!     .get_or_load("billing".to_owned(), |name| async move { fetch_config(name).await })
//!     .await?;
//! assert!(Arc::ptr_eq(&configs.get("billing").unwrap(), &config));
//!
//! drop(config); // nobody holds it any more: the entry is dead
//! assert!(configs.get("billing").is_none());
//! # Ok(()) }
//! ```
//!
//! # When to use it
//!
//! - Values that are expensive to build and shared while in use: parsed configs, compiled
//!   templates or regexes, per-tenant clients, decoded assets. Everyone working with one key at
//!   the same time shares one instance, and memory is given back as soon as nobody uses it.
//! - Stampede protection: a thousand requests for one missing key make one backend call.
//!
//! # When not to
//!
//! - To keep values around between uses (a request handler that drops its value before the
//!   next request arrives will load it every time). Use a bounded cache with an eviction
//!   policy, such as `moka` or `quick_cache`; or keep the `Arc`s you want alive yourself.
//! - Loaders whose futures are not `Send + 'static`: a load may run in a task of its own.
//!
//! # Semantics
//!
//! - **Single flight.** Concurrent `get_or_load` calls for a key with no live value run the
//!   loader once; all get the same `Arc<V>`, or the same [`LoadError`].
//! - **The load is nobody's hostage.** The loader's future is polled once by the call that
//!   starts the load; if it is not ready then (it awaits I/O, say), it moves into a task of its
//!   own on the current Tokio runtime. There it goes on while any caller still waits, even if
//!   the caller that started it is dropped or never polled again, and it is aborted as soon as
//!   no caller waits. The loader is never run twice for one flight. A loader that is ready at
//!   its first poll (an in-memory computation) finishes without a task.
//! - **Errors are shared, never cached.** Every caller waiting for a failed load gets the same
//!   `Arc<E>`; the failed entry is removed *before* the waiters are woken, so a caller arriving
//!   after the failure loads afresh. A panicking loader gives [`LoadError::Panicked`] to all
//!   waiters, and the next call loads again.
//! - **Invalidation during a load** detaches it: its waiters get its outcome, but its value is
//!   not stored. An [`insert`](WeakCache::insert) during a load wins over the load's value.
//! - **Identity, not key.** A load, an abandoned load or a dead entry only ever removes *its
//!   own* slot, never a newer value or load under the same key.
//! - **Bounded memory, no background thread.** Dead entries are removed when a lookup finds
//!   them, and each shard is swept when the entries added to it since its last sweep reach its
//!   length at that sweep (at least 32): dead entries never outnumber what was live at the last
//!   sweep plus what was added since, and sweeping costs O(1) amortized per added entry.
//!   [`purge`](WeakCache::purge) sweeps everything now. No per-key lock or in-flight state
//!   outlives its load.
//! - **Hits are cheap.** [`get`](WeakCache::get), and `get_or_load` of a live key, hash the
//!   key, take one shard read lock, upgrade a `Weak` and allocate nothing.
//!
//! # Cancel safety
//!
//! [`get_or_load`](WeakCache::get_or_load) is the only `async fn`. Dropping its future loses
//! nothing another caller needs: if other calls wait for the same load, it continues for them
//! (the loader still runs once); if it was the last waiting call, the load's task is aborted
//! and its entry removed, so nothing is left behind and the next call starts afresh. A caller
//! dropped after the load finished changes nothing: the value is stored for the others. Wrap a
//! call in `tokio::time::timeout` to bound how long *you* wait; the load still stops only when
//! its last waiter leaves.
//!
//! Every other method is synchronous and never waits for a load.
//!
//! # Locks
//!
//! A shard lock (a `parking_lot` `RwLock`) is held only inside one map operation: never across
//! an `.await`, never while a loader runs, and never while a value or a load is dropped (they
//! are moved out and dropped after the lock). So a value whose `Drop` uses the cache is fine.
//! Only keys and dead `Weak`s are dropped under a lock.
//!
//! A loader that asks for its own key, directly or through loads it started, gets
//! [`LoadError::Cycle`] instead of waiting for itself (a deadlock in every other single-flight
//! cache).
//!
//! # Features
//!
//! None. The crate needs Tokio's `rt` and `sync`, and a Tokio runtime to start loads (hits
//! and joining a load work from any executor).
//!
//! # Performance
//!
//! Measured beside `moka`, `quick_cache` and a bare `DashMap` by `cargo xtask bench --only
//! weakcache`; the figures are in the README. A hit costs about a `DashMap` lookup plus one
//! atomic increment; a load costs a task spawn unless the loader is ready at its first poll.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod builder;
mod cache;
mod cycle;
mod error;
mod flight;
mod load;
mod map;
mod stats;

pub use builder::{Builder, default_shards};
pub use cache::WeakCache;
pub use error::LoadError;
pub use stats::Stats;

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
