//! Throughput of priority channels: P producer tasks send N items with random priorities,
//! C consumer tasks receive them, on tokio's multi-thread runtime (2 workers).
//!
//! Scenario = `<P>p<C>c-<bounded|unbounded>-mt`, parameter = priority distribution (`8-levels`
//! or `u32`). Implementations: `asyncperf` (this crate), `async-priority-channel` (the priority
//! peer), `mutex-binaryheap` (a hand-written `Mutex<BinaryHeap<(p, seq)>>` + `Notify`), and the
//! non-priority ceilings `async-channel` and `tokio-mpsc` (MPSC, so 1p1c only; they ignore the
//! priority, so they run only under `8-levels`). Every implementation gets the same items and
//! the same precomputed priority stream (fixed seed, generated outside the measurement), and
//! serves the same order (`async-priority-channel`, largest first, gets mirrored priorities).
//!
//! On tokio's multi-thread runtime a task woken by another task on the same worker runs from
//! that worker's LIFO slot, so producers and consumers mostly take turns in bursts: a bounded
//! channel fills to capacity and drains, an unbounded one holds thousands of items. The `u32`
//! rows therefore measure ordering a deep backlog of random priorities, not a shallow queue.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::hint::black_box;
use std::sync::{Arc, Mutex};

use asyncperf_testkit::bench::OURS;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::Notify;

/// Items per iteration: enough that spawning the tasks is noise (~1%).
const ITEMS: usize = 10_000;
const CAPACITY: usize = 1024;

/// The operations each implementation provides to the driver.
trait Chan: 'static {
    type Tx: Clone + Send + 'static;
    type Rx: Send + 'static;
    fn new(capacity: Option<usize>) -> (Self::Tx, Self::Rx);
    /// `n` receiving handles (only 1 for single-consumer channels).
    fn receivers(rx: Self::Rx, n: usize) -> Vec<Self::Rx>;
    fn send(tx: &Self::Tx, item: u64, priority: u32) -> impl Future<Output = ()> + Send;
    fn recv(rx: &mut Self::Rx) -> impl Future<Output = u64> + Send;
}

fn clones<R: Clone>(rx: R, n: usize) -> Vec<R> {
    let mut v = vec![rx; n];
    v.truncate(n);
    v
}

struct Ours;
impl Chan for Ours {
    type Tx = asyncperf_prioq::Sender<u64, u32>;
    type Rx = asyncperf_prioq::Receiver<u64, u32>;
    fn new(capacity: Option<usize>) -> (Self::Tx, Self::Rx) {
        match capacity {
            Some(c) => asyncperf_prioq::bounded(c),
            None => asyncperf_prioq::unbounded(),
        }
    }
    fn receivers(rx: Self::Rx, n: usize) -> Vec<Self::Rx> {
        clones(rx, n)
    }
    async fn send(tx: &Self::Tx, item: u64, priority: u32) {
        tx.send(item, priority).await.unwrap();
    }
    async fn recv(rx: &mut Self::Rx) -> u64 {
        rx.recv().await.unwrap()
    }
}

struct Apc;
impl Chan for Apc {
    type Tx = async_priority_channel::Sender<u64, u32>;
    type Rx = async_priority_channel::Receiver<u64, u32>;
    fn new(capacity: Option<usize>) -> (Self::Tx, Self::Rx) {
        match capacity {
            Some(c) => async_priority_channel::bounded(c as u64),
            None => async_priority_channel::unbounded(),
        }
    }
    fn receivers(rx: Self::Rx, n: usize) -> Vec<Self::Rx> {
        clones(rx, n)
    }
    async fn send(tx: &Self::Tx, item: u64, priority: u32) {
        // It serves the largest value first: mirror the priority so it serves the same order.
        tx.send(item, u32::MAX - priority).await.unwrap();
    }
    async fn recv(rx: &mut Self::Rx) -> u64 {
        rx.recv().await.unwrap().0
    }
}

struct AsyncChannel;
impl Chan for AsyncChannel {
    type Tx = async_channel::Sender<u64>;
    type Rx = async_channel::Receiver<u64>;
    fn new(capacity: Option<usize>) -> (Self::Tx, Self::Rx) {
        match capacity {
            Some(c) => async_channel::bounded(c),
            None => async_channel::unbounded(),
        }
    }
    fn receivers(rx: Self::Rx, n: usize) -> Vec<Self::Rx> {
        clones(rx, n)
    }
    async fn send(tx: &Self::Tx, item: u64, _priority: u32) {
        tx.send(item).await.unwrap();
    }
    async fn recv(rx: &mut Self::Rx) -> u64 {
        rx.recv().await.unwrap()
    }
}

struct TokioMpsc;
#[derive(Clone)]
enum TokioTx {
    Bounded(tokio::sync::mpsc::Sender<u64>),
    Unbounded(tokio::sync::mpsc::UnboundedSender<u64>),
}
enum TokioRx {
    Bounded(tokio::sync::mpsc::Receiver<u64>),
    Unbounded(tokio::sync::mpsc::UnboundedReceiver<u64>),
}
impl Chan for TokioMpsc {
    type Tx = TokioTx;
    type Rx = TokioRx;
    fn new(capacity: Option<usize>) -> (Self::Tx, Self::Rx) {
        match capacity {
            Some(c) => {
                let (tx, rx) = tokio::sync::mpsc::channel(c);
                (TokioTx::Bounded(tx), TokioRx::Bounded(rx))
            }
            None => {
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                (TokioTx::Unbounded(tx), TokioRx::Unbounded(rx))
            }
        }
    }
    fn receivers(rx: Self::Rx, n: usize) -> Vec<Self::Rx> {
        assert_eq!(n, 1, "tokio mpsc has a single consumer");
        vec![rx]
    }
    async fn send(tx: &Self::Tx, item: u64, _priority: u32) {
        match tx {
            TokioTx::Bounded(tx) => tx.send(item).await.unwrap(),
            TokioTx::Unbounded(tx) => tx.send(item).unwrap(),
        }
    }
    async fn recv(rx: &mut Self::Rx) -> u64 {
        match rx {
            TokioRx::Bounded(rx) => rx.recv().await.unwrap(),
            TokioRx::Unbounded(rx) => rx.recv().await.unwrap(),
        }
    }
}

/// `(priority, sequence, item)`, reversed so the max-heap pops the smallest key.
type Entry = (Reverse<u32>, Reverse<u64>, u64);

/// What one would write by hand: a stable min-heap under a mutex, `Notify` for both sides.
struct MutexHeap {
    heap: Mutex<(BinaryHeap<Entry>, u64)>,
    capacity: Option<usize>,
    not_empty: Notify,
    not_full: Notify,
}
impl MutexHeap {
    async fn push_item(&self, item: u64, priority: u32) {
        loop {
            {
                let mut g = self.heap.lock().unwrap();
                let (heap, seq) = &mut *g;
                if self.capacity.is_none_or(|c| heap.len() < c) {
                    heap.push((Reverse(priority), Reverse(*seq), item));
                    *seq += 1;
                    let room_left = self.capacity.is_some_and(|c| heap.len() < c);
                    drop(g);
                    self.not_empty.notify_one();
                    if room_left {
                        // Chain: another sender may have been woken for the slot we took.
                        self.not_full.notify_one();
                    }
                    return;
                }
            }
            self.not_full.notified().await;
        }
    }
    async fn pop_item(&self) -> u64 {
        loop {
            {
                let mut g = self.heap.lock().unwrap();
                if let Some((_, _, item)) = g.0.pop() {
                    let more = !g.0.is_empty();
                    drop(g);
                    if self.capacity.is_some() {
                        self.not_full.notify_one();
                    }
                    if more {
                        // Chain: `notify_one` stores one permit at most.
                        self.not_empty.notify_one();
                    }
                    return item;
                }
            }
            self.not_empty.notified().await;
        }
    }
}
impl Chan for MutexHeap {
    type Tx = Arc<MutexHeap>;
    type Rx = Arc<MutexHeap>;
    fn new(capacity: Option<usize>) -> (Self::Tx, Self::Rx) {
        let q = Arc::new(MutexHeap {
            heap: Mutex::new((BinaryHeap::new(), 0)),
            capacity,
            not_empty: Notify::new(),
            not_full: Notify::new(),
        });
        (q.clone(), q)
    }
    fn receivers(rx: Self::Rx, n: usize) -> Vec<Self::Rx> {
        clones(rx, n)
    }
    async fn send(tx: &Self::Tx, item: u64, priority: u32) {
        tx.push_item(item, priority).await;
    }
    async fn recv(rx: &mut Self::Rx) -> u64 {
        rx.pop_item().await
    }
}

#[derive(Clone, Copy)]
struct Shape {
    producers: usize,
    consumers: usize,
    capacity: Option<usize>,
}

impl Shape {
    fn name(self) -> String {
        let kind = if self.capacity.is_some() {
            "bounded"
        } else {
            "unbounded"
        };
        format!("{}p{}c-{kind}-mt", self.producers, self.consumers)
    }
}

/// Sends every item and waits until every one is received.
async fn run<C: Chan>(shape: Shape, priorities: Arc<[u32]>) {
    let (tx, rx) = C::new(shape.capacity);
    let per_producer = ITEMS / shape.producers;
    let per_consumer = ITEMS / shape.consumers;
    let mut tasks = Vec::with_capacity(shape.producers + shape.consumers);
    for mut rx in C::receivers(rx, shape.consumers) {
        tasks.push(tokio::spawn(async move {
            let mut sum = 0u64;
            for _ in 0..per_consumer {
                sum = sum.wrapping_add(C::recv(&mut rx).await);
            }
            black_box(sum);
        }));
    }
    for p in 0..shape.producers {
        let tx = tx.clone();
        let priorities = Arc::clone(&priorities);
        tasks.push(tokio::spawn(async move {
            for i in p * per_producer..(p + 1) * per_producer {
                C::send(&tx, i as u64, priorities[i]).await;
            }
        }));
    }
    drop(tx);
    for t in tasks {
        t.await.unwrap();
    }
}

fn priorities(levels: Option<u32>) -> Arc<[u32]> {
    let mut rng = StdRng::seed_from_u64(0x5eed);
    (0..ITEMS)
        .map(|_| match levels {
            Some(n) => rng.random_range(0..n),
            None => rng.random(),
        })
        .collect()
}

fn channels(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let shapes = [
        (1, 1, Some(CAPACITY)),
        (1, 1, None),
        (4, 4, Some(CAPACITY)),
        (4, 4, None),
    ];
    for (producers, consumers, capacity) in shapes {
        let shape = Shape {
            producers,
            consumers,
            capacity,
        };
        let mut group = c.benchmark_group(shape.name());
        group.throughput(Throughput::Elements(ITEMS as u64));
        // An iteration takes 0.5-10 ms; 20 samples keep the full run within budget.
        group.sample_size(20);
        for (param, levels) in [("8-levels", Some(8)), ("u32", None)] {
            let prios = priorities(levels);
            macro_rules! bench {
                ($id:expr, $chan:ty) => {
                    group.bench_with_input(BenchmarkId::new($id, param), &prios, |b, prios| {
                        b.to_async(&rt)
                            .iter(|| run::<$chan>(shape, Arc::clone(prios)));
                    });
                };
            }
            bench!(OURS, Ours);
            bench!("async-priority-channel", Apc);
            bench!("mutex-binaryheap", MutexHeap);
            if levels.is_some() {
                bench!("async-channel", AsyncChannel);
                if consumers == 1 {
                    bench!("tokio-mpsc", TokioMpsc);
                }
            }
        }
        group.finish();
    }
}

criterion_group!(benches, channels);
criterion_main!(benches);
