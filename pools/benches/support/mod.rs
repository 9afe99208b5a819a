//! What the pool benches share: the load that spreads operations over concurrent tasks.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Runs `iters` operations spread over `concurrency` tasks; `op(i)` is operation number `i`.
pub(crate) async fn spread<F, Fut>(iters: u64, concurrency: usize, op: F) -> Duration
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    let iters = usize::try_from(iters).unwrap_or(usize::MAX);
    let next = Arc::new(AtomicUsize::new(0));
    let op = Arc::new(op);
    let start = Instant::now();
    let tasks: Vec<_> = (0..concurrency.min(iters))
        .map(|_| {
            let next = Arc::clone(&next);
            let op = Arc::clone(&op);
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= iters {
                        break;
                    }
                    op(i).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("bench task");
    }
    start.elapsed()
}
