//! Thread-per-core: N current-thread runtimes, each on its own thread, no work stealing.

use std::future::Future;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use tokio::runtime::{Handle, LocalOptions, LocalRuntime};
use tokio::sync::oneshot;
use tokio::task::{AbortHandle, JoinHandle};
use tokio_util::task::TaskTracker;

use crate::builder::panic_message;
use crate::knobs::Knobs;
use crate::{Listeners, RejectReason, ShutdownReport, ShutdownSignal};

/// N shards, each a tokio current-thread runtime (a `LocalRuntime`) on its own thread.
///
/// A task stays on the shard it was spawned on: no cross-thread wake-ups, no stealing, and
/// `!Send` futures are fine ([`Shard::spawn_local`]). That is the shape's speed and its limit:
/// a busy shard gets no help from an idle one, so it suits work that can be partitioned
/// (connections, keys) and not a few heavy tasks. Built by [`RuntimeSelect`](crate::RuntimeSelect)
/// for [`Flavor::ThreadPerCore`](crate::Flavor::ThreadPerCore).
///
/// The shard threads are this crate's own (named `asyncperf-shard-<i>`, or
/// `<thread_name>-<i>`). Dropping the value stops them at once (tasks are dropped);
/// [`shutdown_timeout`](Self::shutdown_timeout) gives tasks a grace period first.
#[derive(Debug)]
pub struct ThreadPerCore {
    shards: Vec<Shard>,
    threads: Vec<ShardThread>,
    next: AtomicUsize,
    signal: ShutdownSignal,
}

#[derive(Debug)]
struct ShardThread {
    stop: Option<oneshot::Sender<Instant>>,
    join: Option<thread::JoinHandle<usize>>,
}

/// One shard of a [`ThreadPerCore`] runtime: its index, its tokio handle, and spawning onto
/// it. Cheap to clone and usable from any thread.
#[derive(Clone, Debug)]
pub struct Shard {
    index: usize,
    handle: Handle,
    tracker: TaskTracker,
    signal: ShutdownSignal,
}

impl Shard {
    /// This shard's position, `0..shards`.
    #[must_use]
    pub fn index(&self) -> usize {
        self.index
    }

    /// The shard's tokio handle. Tasks spawned through it directly are not tracked by graceful
    /// shutdown; prefer [`spawn`](Self::spawn).
    #[must_use]
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Spawns a `Send` future on this shard; it runs on the shard's thread only.
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(self.tracker.track_future(future))
    }

    /// Runs `make` on the shard's thread and spawns the future it returns there, so the future
    /// need not be `Send` (an `Rc`, a `RefCell` cache per shard). Like
    /// `tokio_util::task::LocalPoolHandle::spawn_pinned`, but on a chosen shard.
    ///
    /// Aborting the returned handle aborts the future; a panic in it comes back through the
    /// handle as a panic `JoinError`.
    pub fn spawn_local<M, F>(&self, make: M) -> JoinHandle<F::Output>
    where
        M: FnOnce() -> F + Send + 'static,
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        self.spawn(async move {
            let inner = tokio::task::spawn_local(make());
            let _abort = AbortOnDrop(inner.abort_handle());
            match inner.await {
                Ok(output) => output,
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                // Cancelled: the shard is shutting down and drops this task next.
                Err(_) => std::future::pending().await,
            }
        })
    }

    /// The shutdown signal shared by every shard.
    #[must_use]
    pub fn shutdown_signal(&self) -> ShutdownSignal {
        self.signal.clone()
    }
}

struct AbortOnDrop(AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl ThreadPerCore {
    /// Starts `count` shards with `knobs`; on any failure the shards already started are
    /// stopped and the failure returned.
    pub(crate) fn start(count: usize, knobs: &Knobs) -> Result<Self, RejectReason> {
        let mut tpc = Self {
            shards: Vec::with_capacity(count),
            threads: Vec::with_capacity(count),
            next: AtomicUsize::new(0),
            signal: ShutdownSignal::new(),
        };
        let prefix = knobs
            .thread_name
            .clone()
            .unwrap_or_else(|| "asyncperf-shard".to_owned());
        for index in 0..count {
            // Dropping `tpc` on the error path stops and joins the shards already running.
            let (handle, thread) = start_shard(format!("{prefix}-{index}"), knobs)?;
            let tracker = thread.1;
            tpc.threads.push(thread.0);
            tpc.shards.push(Shard {
                index,
                handle,
                tracker,
                signal: tpc.signal.clone(),
            });
        }
        Ok(tpc)
    }

    /// The shards, in index order.
    #[must_use]
    pub fn shards(&self) -> &[Shard] {
        &self.shards
    }

    /// Shard `index`, if there is one.
    #[must_use]
    pub fn shard(&self, index: usize) -> Option<&Shard> {
        self.shards.get(index)
    }

    /// Spawns a `Send` future on the next shard in round-robin order.
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.shards.len();
        self.shards[i].spawn(future)
    }

    /// Calls `make(shard)` on every shard's own thread and spawns the future it returns there
    /// (see [`Shard::spawn_local`]); the handles are in shard order.
    pub fn spawn_on_each<M, F>(&self, make: M) -> Vec<JoinHandle<F::Output>>
    where
        M: Fn(Shard) -> F + Clone + Send + 'static,
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        self.shards
            .iter()
            .map(|shard| {
                let make = make.clone();
                let me = shard.clone();
                shard.spawn_local(move || make(me))
            })
            .collect()
    }

    /// `count = shards` listening sockets on `addr` with `SO_REUSEPORT`
    /// ([`Listeners::bind_reuse_port`]), one for each shard to accept on.
    ///
    /// # Errors
    ///
    /// As [`Listeners::bind_reuse_port`].
    pub fn bind_reuse_port(&self, addr: std::net::SocketAddr) -> io::Result<Listeners> {
        Listeners::bind_reuse_port(addr, self.shards.len())
    }

    /// Runs `future` on the calling thread to completion, in shard 0's context: `tokio::spawn`
    /// inside it lands on shard 0, whose thread drives its I/O and timers. `spawn_local` is not
    /// available in it (use [`Shard::spawn_local`]).
    ///
    /// # Panics
    ///
    /// When called from inside an async context, as `tokio::runtime::Handle::block_on` does.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.shards[0].handle.block_on(future)
    }

    /// The shutdown signal shared by every shard.
    #[must_use]
    pub fn shutdown_signal(&self) -> ShutdownSignal {
        self.signal.clone()
    }

    /// Graceful shutdown: fires the [`ShutdownSignal`], lets each shard wait up to `grace` for
    /// its tracked tasks (spawned through [`Shard`] or this type) to finish, then drops what is
    /// left, waits for blocking tasks until the same deadline, and joins the shard threads.
    ///
    /// Call it from outside the shards: a shard calling it cannot join its own thread (that
    /// one is left to exit on its own).
    #[must_use = "the report says whether every task finished in time"]
    pub fn shutdown_timeout(mut self, grace: Duration) -> ShutdownReport {
        self.signal.fire();
        self.stop_all(crate::shutdown::deadline_after(grace))
    }

    fn stop_all(&mut self, deadline: Instant) -> ShutdownReport {
        for thread in &mut self.threads {
            if let Some(stop) = thread.stop.take() {
                // Err: the shard thread already ended; joining below tells how.
                let _ = stop.send(deadline);
            }
        }
        let me = thread::current().id();
        let mut report = ShutdownReport::default();
        for thread in &mut self.threads {
            let Some(join) = thread.join.take() else {
                continue;
            };
            if join.thread().id() == me {
                continue;
            }
            match join.join() {
                Ok(unfinished) => report.unfinished_tasks += unfinished,
                Err(_) => report.panicked_threads += 1,
            }
        }
        report
    }
}

impl Drop for ThreadPerCore {
    fn drop(&mut self) {
        self.signal.fire();
        let _ = self.stop_all(Instant::now());
    }
}

type Started = (Handle, (ShardThread, TaskTracker));

fn start_shard(name: String, knobs: &Knobs) -> Result<Started, RejectReason> {
    let (ready_tx, ready_rx) = mpsc::sync_channel(1);
    let (stop_tx, stop_rx) = oneshot::channel();
    let tracker = TaskTracker::new();
    let mut builder = thread::Builder::new().name(name);
    if let Some(bytes) = knobs.thread_stack_size {
        builder = builder.stack_size(bytes);
    }
    let knobs = knobs.clone();
    let shard_tracker = tracker.clone();
    let join = builder
        .spawn(move || run_shard(&knobs, &shard_tracker, &ready_tx, stop_rx))
        .map_err(|e| RejectReason::Build(e.into()))?;
    let mut thread = ShardThread {
        stop: Some(stop_tx),
        join: Some(join),
    };
    match ready_rx.recv() {
        Ok(Ok(handle)) => Ok((handle, (thread, tracker))),
        Ok(Err(reason)) => {
            if let Some(join) = thread.join.take() {
                let _ = join.join();
            }
            Err(reason)
        }
        Err(mpsc::RecvError) => {
            let _ = thread.join.take().map(thread::JoinHandle::join);
            Err(RejectReason::Build(
                io::Error::other("a shard thread exited while starting").into(),
            ))
        }
    }
}

/// The shard thread: build the runtime, report, run until told to stop, then wind down.
/// Returns how many tracked tasks were still running at the deadline.
fn run_shard(
    knobs: &Knobs,
    tracker: &TaskTracker,
    ready: &mpsc::SyncSender<Result<Handle, RejectReason>>,
    stop: oneshot::Receiver<Instant>,
) -> usize {
    let mut builder = tokio::runtime::Builder::new_current_thread();
    knobs.apply(&mut builder);
    let built = catch_unwind(AssertUnwindSafe(|| {
        builder.build_local(LocalOptions::default())
    }));
    let rt: LocalRuntime = match built {
        Ok(Ok(rt)) => rt,
        Ok(Err(e)) => {
            let _ = ready.send(Err(RejectReason::Build(e.into())));
            return 0;
        }
        Err(panic) => {
            let message = panic_message(panic.as_ref());
            let _ = ready.send(Err(RejectReason::Panicked(message.into())));
            return 0;
        }
    };
    if ready.send(Ok(rt.handle().clone())).is_err() {
        return 0;
    }
    // A dropped sender (the owner went away without a word) means stop now.
    let deadline = rt.block_on(async { stop.await.unwrap_or_else(|_| Instant::now()) });
    tracker.close();
    rt.block_on(async {
        let _ = tokio::time::timeout_at(deadline.into(), tracker.wait()).await;
    });
    let unfinished = tracker.len();
    rt.shutdown_timeout(deadline.saturating_duration_since(Instant::now()));
    unfinished
}
