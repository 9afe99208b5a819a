//! The runtimes compared: ours (built by `RuntimeSelect` with `Flavor::Auto` for the
//! workload) and each flavour built by hand with plain tokio.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use asyncperf_runtime_select::{Flavor, RuntimeSelect, Workload};
use tokio::runtime::{Handle, Runtime};
use tokio::sync::oneshot;

pub(crate) type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Function ids, in the order they run.
pub(crate) const OURS: &str = asyncperf_testkit::bench::OURS;
pub(crate) const MULTI_THREAD: &str = "tokio-multi-thread";
pub(crate) const CURRENT_THREAD: &str = "tokio-current-thread";
pub(crate) const THREAD_PER_CORE: &str = "tokio-thread-per-core";
pub(crate) const IDS: [&str; 4] = [OURS, MULTI_THREAD, CURRENT_THREAD, THREAD_PER_CORE];

/// The flavour each hand-built id stands for in the measured table.
pub(crate) fn flavor_of(id: &str) -> Option<Flavor> {
    match id {
        MULTI_THREAD => Some(Flavor::DEFAULT),
        CURRENT_THREAD => Some(Flavor::CurrentThread),
        THREAD_PER_CORE => Some(Flavor::ThreadPerCore { cores: None }),
        _ => None,
    }
}

/// Threads per runtime: the machine's parallelism, as every default here picks.
pub(crate) fn cores() -> usize {
    thread::available_parallelism().map_or(1, usize::from)
}

/// One runtime under test.
pub(crate) enum Target {
    Ours(RuntimeSelect),
    Tokio(Runtime),
    Shards(HandShards),
}

impl Target {
    /// Builds the runtime for function `id` of a group measuring `workload`.
    pub(crate) fn build(id: &str, workload: Workload) -> Target {
        match id {
            OURS => Target::Ours(
                RuntimeSelect::builder()
                    .flavor(Flavor::Auto)
                    .workload(workload)
                    .build()
                    .expect("a runtime builds"),
            ),
            MULTI_THREAD => Target::Tokio(
                tokio::runtime::Builder::new_multi_thread()
                    .enable_all()
                    .build()
                    .expect("tokio builds"),
            ),
            CURRENT_THREAD => Target::Tokio(
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("tokio builds"),
            ),
            THREAD_PER_CORE => Target::Shards(HandShards::start(cores())),
            other => unreachable!("unknown id {other}"),
        }
    }

    /// What ours built, for the note.
    pub(crate) fn describe(&self) -> Option<String> {
        match self {
            Target::Ours(rt) => Some(rt.flavor().to_string()),
            _ => None,
        }
    }

    /// Runs `iters` rounds of `part` on each of `cores()` drivers and returns the wall time.
    ///
    /// Drivers are spawned tasks, never the `block_on` future (tokio-rs/tokio#5440): on a
    /// shared scheduler they are spawned from one coordinating task; on shards, one per shard.
    pub(crate) fn run_parts<P, F>(&self, iters: u64, part: P) -> Duration
    where
        P: Fn() -> F + Clone + Send + Sync + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        match self {
            Target::Ours(rt) => match rt.as_thread_per_core() {
                Some(tpc) => {
                    let shards = tpc.shards();
                    on_shards(shards.len(), iters, part, |i, f| {
                        drop(shards[i].spawn(f));
                    })
                }
                None => rt.block_on(coordinate(iters, part, |f| rt.spawn(f))),
            },
            Target::Tokio(rt) => rt.block_on(coordinate(iters, part, |f| rt.spawn(f))),
            Target::Shards(s) => on_shards(s.handles.len(), iters, part, |i, f| {
                drop(s.handles[i].spawn(f));
            }),
        }
    }
}

async fn coordinate<P, F, S>(iters: u64, part: P, spawn: S) -> Duration
where
    P: Fn() -> F + Clone + Send + Sync + 'static,
    F: Future<Output = ()> + Send + 'static,
    S: Fn(Pin<Box<dyn Future<Output = Duration> + Send>>) -> tokio::task::JoinHandle<Duration>,
{
    spawn(Box::pin(async move {
        let start = Instant::now();
        let drivers: Vec<_> = (0..cores())
            .map(|_| {
                let part = part.clone();
                tokio::spawn(async move {
                    for _ in 0..iters {
                        part().await;
                    }
                })
            })
            .collect();
        for driver in drivers {
            driver.await.expect("driver");
        }
        start.elapsed()
    }))
    .await
    .expect("coordinator")
}

fn on_shards<P, F>(shards: usize, iters: u64, part: P, spawn: impl Fn(usize, BoxFuture)) -> Duration
where
    P: Fn() -> F + Clone + Send + Sync + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let (done_tx, done_rx) = mpsc::channel();
    let start = Instant::now();
    for shard in 0..shards {
        let part = part.clone();
        let done = done_tx.clone();
        spawn(
            shard,
            Box::pin(async move {
                for _ in 0..iters {
                    part().await;
                }
                // The shard's own finish time: the bench thread's wake-up is not measured.
                let _ = done.send(Instant::now());
            }),
        );
    }
    let mut end = start;
    for _ in 0..shards {
        end = end.max(done_rx.recv().expect("shard finished"));
    }
    end - start
}

/// Thread-per-core by hand, as a user would write it without this crate (pingora's
/// `NoStealRuntime` shape): N current-thread runtimes, each blocked on its stop signal.
pub(crate) struct HandShards {
    pub(crate) handles: Vec<Handle>,
    stops: Vec<oneshot::Sender<()>>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl HandShards {
    fn start(n: usize) -> Self {
        let mut shards = Self {
            handles: Vec::new(),
            stops: Vec::new(),
            threads: Vec::new(),
        };
        for _ in 0..n {
            let (handle_tx, handle_rx) = mpsc::channel();
            let (stop_tx, stop_rx) = oneshot::channel::<()>();
            shards.threads.push(thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("tokio builds");
                handle_tx.send(rt.handle().clone()).expect("owner waits");
                let _ = rt.block_on(stop_rx);
            }));
            shards
                .handles
                .push(handle_rx.recv().expect("shard started"));
            shards.stops.push(stop_tx);
        }
        shards
    }
}

impl Drop for HandShards {
    fn drop(&mut self) {
        for stop in self.stops.drain(..) {
            let _ = stop.send(());
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// A target kept running by a thread blocked in it (a current-thread runtime runs its tasks
/// only then), the way a server's `main` blocks on its shutdown signal.
pub(crate) struct Driven {
    /// Held so the runtime lives until the driving thread has stopped.
    _target: Arc<Target>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Driven {
    pub(crate) fn new(target: Target) -> Self {
        let target = Arc::new(target);
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let driven = target.clone();
        let thread = thread::spawn(move || {
            let wait = async move {
                let _ = stop_rx.await;
            };
            match &*driven {
                Target::Ours(rt) => rt.block_on(wait),
                Target::Tokio(rt) => rt.block_on(wait),
                // Shards drive themselves.
                Target::Shards(_) => drop(wait),
            }
        });
        Self {
            _target: target,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }
}

impl Drop for Driven {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
