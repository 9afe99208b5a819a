//! tokio's scheduler bench shapes (`spawn_many`, `yield_many`, `ping_pong`, `chained_spawn`),
//! the same total work on every flavour, split into one part per core.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use asyncperf_runtime_select::Workload;
use tokio::sync::{Notify, oneshot};

const SPAWNS: usize = 10_000;
const YIELD_TASKS: usize = 200;
const YIELDS: usize = 100;
const PINGS: usize = 1_000;
const CHAIN: usize = 1_000;

/// A workload of this module: its criterion group, its table key, operations per iteration
/// (the `Throughput`), and one part of an iteration (1/cores of the work).
pub(crate) struct Shape {
    pub(crate) group: &'static str,
    pub(crate) workload: Workload,
    pub(crate) ops: u64,
    pub(crate) part: fn(usize) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>>,
}

pub(crate) fn shapes() -> [Shape; 4] {
    [
        Shape {
            group: "spawn_many",
            workload: Workload::SpawnMany,
            ops: SPAWNS as u64,
            part: |parts| Box::pin(spawn_many(SPAWNS / parts)),
        },
        Shape {
            group: "yield_many",
            workload: Workload::YieldMany,
            ops: (YIELD_TASKS * YIELDS) as u64,
            part: |parts| Box::pin(yield_many(YIELD_TASKS / parts)),
        },
        Shape {
            group: "ping_pong",
            workload: Workload::PingPong,
            ops: PINGS as u64,
            part: |parts| Box::pin(ping_pong(PINGS / parts)),
        },
        Shape {
            group: "chained_spawn",
            workload: Workload::ChainedSpawn,
            ops: CHAIN as u64,
            part: |parts| Box::pin(chained_spawn(CHAIN / parts)),
        },
    ]
}

/// Counts tasks down; the last one wakes the waiter (a stored permit if it has not waited yet).
struct Countdown {
    left: AtomicUsize,
    done: Notify,
}

impl Countdown {
    fn new(n: usize) -> Arc<Self> {
        Arc::new(Self {
            left: AtomicUsize::new(n),
            done: Notify::new(),
        })
    }

    fn tick(&self) {
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.done.notify_one();
        }
    }
}

async fn spawn_many(n: usize) {
    let countdown = Countdown::new(n);
    for _ in 0..n {
        let c = countdown.clone();
        tokio::spawn(async move { c.tick() });
    }
    countdown.done.notified().await;
}

async fn yield_many(tasks: usize) {
    let countdown = Countdown::new(tasks);
    for _ in 0..tasks {
        let c = countdown.clone();
        tokio::spawn(async move {
            for _ in 0..YIELDS {
                tokio::task::yield_now().await;
            }
            c.tick();
        });
    }
    countdown.done.notified().await;
}

async fn ping_pong(pings: usize) {
    let countdown = Countdown::new(pings);
    for _ in 0..pings {
        let c = countdown.clone();
        tokio::spawn(async move {
            let (ping_tx, ping_rx) = oneshot::channel::<()>();
            let (pong_tx, pong_rx) = oneshot::channel::<()>();
            tokio::spawn(async move {
                ping_rx.await.expect("ping");
                pong_tx.send(()).expect("pong");
            });
            ping_tx.send(()).expect("ping");
            pong_rx.await.expect("pong");
            c.tick();
        });
    }
    countdown.done.notified().await;
}

async fn chained_spawn(depth: usize) {
    fn link(done: oneshot::Sender<()>, left: usize) {
        tokio::spawn(async move {
            if left == 0 {
                let _ = done.send(());
            } else {
                link(done, left - 1);
            }
        });
    }
    let (done_tx, done_rx) = oneshot::channel();
    link(done_tx, depth);
    done_rx.await.expect("chain ends");
}
