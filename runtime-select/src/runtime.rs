//! The built runtime: one type over every flavour, with its selection report.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;

use crate::{
    Builder, Error, Flavor, Listeners, Selection, ShutdownReport, ShutdownSignal, ThreadPerCore,
};

pub(crate) enum Inner {
    Tokio(tokio::runtime::Runtime),
    ThreadPerCore(ThreadPerCore),
}

/// A runtime of the flavour that was selected, and the [`Selection`] saying why.
///
/// `block_on`, `spawn`, `listen` + `serve` and graceful shutdown work the same on every
/// flavour; [`as_tokio`](Self::as_tokio) and [`as_thread_per_core`](Self::as_thread_per_core)
/// reach what is specific to one. Nothing is added on the task path: `spawn` is tokio's
/// `spawn` wrapped for shutdown tracking, and tasks spawned inside use tokio directly.
///
/// ```
/// use asyncperf_runtime_select::{Flavor, RuntimeSelect};
///
/// let rt = RuntimeSelect::builder().flavor(Flavor::CurrentThread).build()?;
/// let answer = rt.block_on(async { tokio::spawn(async { 6 * 7 }).await.unwrap() });
/// assert_eq!(answer, 42);
/// assert_eq!(rt.selection().flavor(), Flavor::CurrentThread);
/// # Ok::<(), asyncperf_runtime_select::Error>(())
/// ```
pub struct RuntimeSelect {
    inner: Inner,
    pub(crate) selection: Selection,
    tracker: TaskTracker,
    signal: ShutdownSignal,
}

impl std::fmt::Debug for RuntimeSelect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeSelect")
            .field("selection", &self.selection)
            .finish_non_exhaustive()
    }
}

impl RuntimeSelect {
    pub(crate) fn new(inner: Inner, selection: Selection) -> Self {
        let signal = match &inner {
            Inner::ThreadPerCore(tpc) => tpc.shutdown_signal(),
            Inner::Tokio(_) => ShutdownSignal::new(),
        };
        Self {
            inner,
            selection,
            tracker: TaskTracker::new(),
            signal,
        }
    }

    /// A [`Builder`] (default: the multi-thread runtime, default fallback on).
    #[must_use]
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// Builds what the `ASYNCPERF_*` environment variables ask for ([`Builder::from_env`]);
    /// with none set, the default multi-thread runtime.
    ///
    /// # Errors
    ///
    /// As [`Builder::from_env`] and [`Builder::build`].
    pub fn from_env() -> Result<Self, Error> {
        Builder::from_env()?.build()
    }

    /// What was built and why.
    #[must_use]
    pub fn selection(&self) -> &Selection {
        &self.selection
    }

    /// The flavour built, with its thread count (same as `selection().flavor()`).
    #[must_use]
    pub fn flavor(&self) -> Flavor {
        self.selection.built
    }

    /// The tokio runtime, for the current-thread and multi-thread flavours.
    #[must_use]
    pub fn as_tokio(&self) -> Option<&tokio::runtime::Runtime> {
        match &self.inner {
            Inner::Tokio(rt) => Some(rt),
            Inner::ThreadPerCore(_) => None,
        }
    }

    /// The shards, for the thread-per-core flavour.
    #[must_use]
    pub fn as_thread_per_core(&self) -> Option<&ThreadPerCore> {
        match &self.inner {
            Inner::ThreadPerCore(tpc) => Some(tpc),
            Inner::Tokio(_) => None,
        }
    }

    /// Runs `future` to completion on the calling thread.
    ///
    /// On current-thread and multi-thread this is `Runtime::block_on`; on thread-per-core see
    /// [`ThreadPerCore::block_on`] (spawns land on shard 0). Keep heavy work in spawned tasks:
    /// on multi-thread the `block_on` future itself is not on a worker thread, so every wake-up
    /// it takes part in crosses threads (tokio-rs/tokio#5440).
    ///
    /// # Panics
    ///
    /// When called from inside an async context, as tokio's `block_on` does.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        match &self.inner {
            Inner::Tokio(rt) => rt.block_on(future),
            Inner::ThreadPerCore(tpc) => tpc.block_on(future),
        }
    }

    /// Spawns a task, tracked for graceful shutdown. Thread-per-core places tasks on the shards
    /// in round-robin order.
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match &self.inner {
            Inner::Tokio(rt) => rt.spawn(self.tracker.track_future(future)),
            Inner::ThreadPerCore(tpc) => tpc.spawn(future),
        }
    }

    /// Listening sockets on `addr` suited to this flavour: one socket for a shared scheduler,
    /// one `SO_REUSEPORT` socket per shard for thread-per-core, so each shard accepts its own
    /// connections. Hand them to [`serve`](Self::serve).
    ///
    /// # Errors
    ///
    /// The OS error from binding, as [`Listeners::bind`] / [`Listeners::bind_reuse_port`].
    pub fn listen(&self, addr: SocketAddr) -> io::Result<Listeners> {
        match &self.inner {
            Inner::Tokio(_) => Listeners::bind(addr),
            Inner::ThreadPerCore(tpc) => tpc.bind_reuse_port(addr),
        }
    }

    /// Spawns `accept_loop(listener)` for each socket, in the runtime that owns it (socket `i`
    /// on shard `i` under thread-per-core, so connections accepted there are served there
    /// when the loop spawns them with `tokio::spawn`). The tasks are tracked for graceful
    /// shutdown; an accept loop should end when its [`ShutdownSignal`] fires.
    ///
    /// On current-thread the loops run while a thread is inside [`block_on`](Self::block_on)
    /// (tokio's rule for that flavour): block on the server's lifetime, e.g. the shutdown
    /// signal or ctrl-c.
    ///
    /// # Errors
    ///
    /// The OS error from registering a socket with the runtime; loops spawned before it keep
    /// running.
    pub fn serve<M, F>(
        &self,
        listeners: Listeners,
        mut accept_loop: M,
    ) -> io::Result<Vec<JoinHandle<F::Output>>>
    where
        M: FnMut(TcpListener) -> F,
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let mut handles = Vec::with_capacity(listeners.len());
        for (i, socket) in listeners.into_std().into_iter().enumerate() {
            match &self.inner {
                Inner::Tokio(rt) => {
                    let listener = {
                        let _context = rt.enter();
                        TcpListener::from_std(socket)?
                    };
                    handles.push(rt.spawn(self.tracker.track_future(accept_loop(listener))));
                }
                Inner::ThreadPerCore(tpc) => {
                    let shard = &tpc.shards()[i % tpc.shards().len()];
                    let listener = {
                        let _context = shard.handle().enter();
                        TcpListener::from_std(socket)?
                    };
                    handles.push(shard.spawn(accept_loop(listener)));
                }
            }
        }
        Ok(handles)
    }

    /// Fires when graceful shutdown starts; give a clone to every accept loop.
    #[must_use]
    pub fn shutdown_signal(&self) -> ShutdownSignal {
        self.signal.clone()
    }

    /// Graceful shutdown on every flavour: fires the [`ShutdownSignal`], waits up to `grace`
    /// for the tasks spawned through this type (and, on thread-per-core, its shards) to finish,
    /// then drops the rest at their next `.await` and waits for blocking tasks until the same
    /// deadline. Tasks spawned with `tokio::spawn` inside are not waited for, only dropped.
    ///
    /// # Panics
    ///
    /// When called from inside an async context (it blocks the calling thread).
    #[must_use = "the report says whether every task finished in time"]
    pub fn shutdown_timeout(self, grace: Duration) -> ShutdownReport {
        let deadline = crate::shutdown::deadline_after(grace);
        self.signal.fire();
        match self.inner {
            Inner::Tokio(rt) => {
                self.tracker.close();
                rt.block_on(async {
                    let _ = tokio::time::timeout_at(deadline.into(), self.tracker.wait()).await;
                });
                let unfinished_tasks = self.tracker.len();
                rt.shutdown_timeout(deadline.saturating_duration_since(Instant::now()));
                ShutdownReport {
                    unfinished_tasks,
                    panicked_threads: 0,
                }
            }
            Inner::ThreadPerCore(tpc) => tpc.shutdown_timeout(grace),
        }
    }
}

/// Runs `future` on the runtime the environment asks for (`ASYNCPERF_RUNTIME` and the other
/// `ASYNCPERF_*` variables; the default multi-thread runtime when unset), then shuts the
/// runtime down. The counterpart of the reference's `uvloop.install()` + `asyncio.run()`.
///
/// ```
/// let answer = asyncperf_runtime_select::run(async { 6 * 7 })?;
/// assert_eq!(answer, 42);
/// # Ok::<(), asyncperf_runtime_select::Error>(())
/// ```
///
/// # Errors
///
/// A bad variable ([`Error::InvalidVar`]) or no buildable runtime ([`Error::NoRuntime`]);
/// `future` is not run then.
///
/// # Panics
///
/// When called from inside an async context.
pub fn run<F: Future>(future: F) -> Result<F::Output, Error> {
    let rt = RuntimeSelect::from_env()?;
    Ok(rt.block_on(future))
}
