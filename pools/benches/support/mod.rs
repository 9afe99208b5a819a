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

/// The peer's time over ours, measured in `rounds` alternating pairs of runs: its mean and
/// standard error. `ours(iters)` and `peer(iters)` each run `iters` operations and return the
/// time they took (e.g. [`spread`] at some concurrency).
///
/// Criterion measures one pool after the other, several seconds apart, and on a shared
/// machine the speed of the loopback and the server drifts more than these pools differ
/// (two runs of the same binary gave ratios 5% apart). Alternating short runs expose both
/// pools to the same drift, and the spread of the per-pair ratios says how far the mean can
/// be trusted.
#[allow(
    dead_code,
    reason = "only the postgres bench of those sharing this module uses it"
)]
pub(crate) async fn paired_ratio<A, FA, B, FB>(
    rounds: usize,
    iters: u64,
    mut ours: FA,
    mut peer: FB,
) -> Option<(f64, f64)>
where
    FA: FnMut(u64) -> A,
    A: Future<Output = Duration>,
    FB: FnMut(u64) -> B,
    B: Future<Output = Duration>,
{
    let mut ratios = Vec::with_capacity(rounds);
    for round in 0..rounds {
        // Each goes first every other round, so neither always runs on the warmer machine.
        let (ours_took, peer_took) = if round % 2 == 0 {
            let ours_took = ours(iters).await;
            (ours_took, peer(iters).await)
        } else {
            let peer_took = peer(iters).await;
            (ours(iters).await, peer_took)
        };
        ratios.push(peer_took.as_secs_f64() / ours_took.as_secs_f64());
    }
    mean_and_standard_error(&ratios)
}

/// The mean of `xs` and its standard error (`None` for fewer than two values).
#[allow(dead_code, reason = "used by `paired_ratio` only")]
fn mean_and_standard_error(xs: &[f64]) -> Option<(f64, f64)> {
    if xs.len() < 2 {
        return None;
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let variance = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    Some((mean, (variance / n).sqrt()))
}
