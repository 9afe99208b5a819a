//! An async multi-producer multi-consumer priority channel for tokio services.
//!
//! Producers [`send`](Sender::send) an item with a priority; consumers
//! [`recv`](Receiver::recv) the most urgent one. **The smallest priority value is served
//! first** (lower number = higher priority, as with Python's `heapq`); use
//! [`std::cmp::Reverse`] for largest-first. **Equal priorities are served strictly in send
//! order (FIFO)**, which neither `async-priority-channel` nor a plain `BinaryHeap` guarantee.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let (tx, rx) = asyncperf_prioq::bounded::<&str, u32>(1024);
//! tx.send("report", 5).await?;
//! tx.send("page the on-call", 0).await?;
//! tx.send("second report", 5).await?;
//! drop(tx); // closes the channel; receivers drain what is queued
//!
//! assert_eq!(rx.recv().await?, "page the on-call");
//! assert_eq!(rx.recv().await?, "report");
//! assert_eq!(rx.recv().await?, "second report");
//! assert!(rx.recv().await.is_err()); // closed and empty
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # When to use it, and when not
//!
//! Use it to feed workers from a backlog where some jobs must overtake others: urgent requests
//! ahead of batch work, retries behind fresh work, per-tenant tiers. Priority matters only when
//! a backlog exists; if consumers keep up, any FIFO channel (`tokio::sync::mpsc`,
//! `async-channel`) does the same job slightly faster. If you only have two or three fixed
//! classes and can tolerate starvation, separate channels polled with `tokio::select!
//! { biased; .. }` also work, but lose global ordering, shared capacity and a single close.
//!
//! # Semantics
//!
//! - [`bounded`] channels hold at most `capacity` items; [`Sender::send`] waits while full
//!   (backpressure), [`Sender::try_send`] returns [`TrySendError::Full`]. [`unbounded`]
//!   channels never wait.
//! - MPMC: [`Sender`] and [`Receiver`] are `Clone`; each item goes to exactly one receiver.
//! - Fairness: waiting receivers get items, and waiting senders get free slots, in the order
//!   they started waiting. A freed slot or a new item is handed directly to the longest waiter,
//!   so a later caller (including `try_send`/`try_recv`) cannot barge ahead of it. With
//!   [`Admission::Priority`], waiting senders are admitted most urgent first instead.
//! - Closing: [`Sender::close`] / [`Receiver::close`], or dropping the last sender, closes the
//!   channel. Receivers still get every queued item, then [`RecvError`]; a receiver of a closed,
//!   empty channel always returns. Dropping the last receiver also closes it: queued items are
//!   dropped and every `send` returns its item in [`SendError`].
//! - [`Sender::closed`] completes once the channel is closed, for producers to stop early.
//! - Batch receive: [`Receiver::recv_many`] moves up to `n` items in one critical section.
//! - Per-priority counts: [`Sender::len_of`], [`Sender::lengths`].
//! - [`Receiver`] implements [`futures_core::Stream`] (items in delivery order).
//!
//! # Opt-in modes ([`Builder`])
//!
//! - **Aging** ([`Builder::aging`]): a low-priority item cannot starve forever. With window
//!   `W`, an item whose priority has [`Rank`] `r` is overtaken by at most `W * r` later sends;
//!   items sent fewer than `W` sends apart keep strict order. Clock-free and deterministic.
//! - **Levels** ([`Builder::levels`]): small integer priorities (ranks below a bound of at
//!   most 64) each get a fixed O(1) FIFO bucket; same order.
//! - **Priority admission** ([`Builder::admission`] with [`Admission::Priority`]): when a
//!   bounded channel is full, the most urgent waiting sender gets the next free slot (FIFO
//!   among equal priorities), so urgent producers are not stuck behind background ones.
//!
//! # Cancel safety
//!
//! Every future is cancel-safe, so each can be a `tokio::select!` branch or be wrapped in
//! `tokio::time::timeout`:
//!
//! - [`Receiver::recv`], [`Receiver::recv_with_priority`], [`Receiver::recv_many`] and the
//!   `Stream` take items only in the poll that returns them: a dropped future loses no item. If
//!   an item had been set aside for it, the item passes to the next waiting receiver.
//! - [`Sender::send`] enqueues only in the poll that returns `Ok`: a dropped future has
//!   enqueued nothing (its item is dropped with it). A slot set aside for it passes on.
//! - [`Sender::reserve`] waits for a slot without giving up the item: the [`Permit`] then sends
//!   without waiting, and dropping it returns the slot.
//! - [`Sender::closed`] only observes.
//!
//! No lock is held across an `.await`; user code that runs under the channel's lock is limited
//! to `P::cmp` (and `T`'s move). Item destructors and wakers run after the lock is released.
//!
//! # Performance
//!
//! One short critical section per operation under one (`parking_lot`) mutex: the queue, the closed
//! flag and both waiter lists live together, so nothing needs a second lock or a semaphore.
//! Waiters are kept in a slab with an intrusive list: parking allocates nothing after warm-up,
//! and each item or slot wakes exactly the one task it is handed to.
//!
//! Items are stored by distinct priority: while at most 32 distinct priorities are queued (the
//! usual handful of levels), each has a FIFO run, so a receive is O(1) and a send O(log k).
//! With more, the queue spills into a lazily sorted queue keyed by `(priority, sequence)` until
//! it has drained (and at least 4096 sends have passed): sends append to unsorted buckets, and a
//! receive that finds the sorted front empty splits the first bucket at its median and sorts a
//! slice of it (incremental quicksort), which orders a backlog of random priorities several
//! times faster than popping a binary heap. Emptied runs and buckets are recycled, so a warm
//! bounded channel does not allocate per item (`tests/alloc.rs` counts). Measured numbers, beside `async-priority-channel`,
//! `async-channel`, tokio's mpsc and a `Mutex<BinaryHeap>` baseline, are in the README.
//!
//! # Features
//!
//! None. Dependencies: `futures-core` (for `Stream`), `thiserror`, and `parking_lot` (its
//! adaptive spinning keeps contended handoffs of the lock out of the kernel; see the README).

mod builder;
mod chan;
mod error;
mod queue;
mod rank;
mod receiver;
mod runs;
mod sender;
mod sorting;
mod waiters;

pub use builder::{Admission, Builder, bounded, unbounded};
pub use error::{BuildError, RecvError, SendError, TryRecvError, TrySendError};
pub use rank::Rank;
pub use receiver::{Receiver, RecvFuture, RecvManyFuture, RecvWithPriorityFuture};
pub use sender::{ClosedFuture, Permit, ReserveFuture, SendFuture, Sender};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
