//! Windows and ticks under paused time: each batch leaves exactly when it should.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use asyncperf_batcher::Batcher;
use common::{TestError, echo, settle};
use tokio::time::Instant;

type B = Batcher<u64, u64, TestError>;

/// One batch function call: when (time since `t0`) and with which keys (sorted).
type Call = (Duration, Vec<u64>);

/// Every batch function call of one batcher.
#[derive(Clone)]
struct Timeline {
    t0: Instant,
    calls: Arc<Mutex<Vec<Call>>>,
}

impl Timeline {
    fn new() -> Self {
        Self {
            t0: Instant::now(),
            calls: Arc::default(),
        }
    }

    fn batcher(&self, max_batch_size: usize, max_delay: Duration) -> B {
        let timeline = self.clone();
        Batcher::builder()
            .max_batch_size(max_batch_size)
            .max_delay(max_delay)
            .build(move |mut keys: Vec<u64>| {
                keys.sort_unstable();
                let at = timeline.t0.elapsed();
                let answer = echo(&keys);
                timeline.calls.lock().unwrap().push((at, keys));
                async move { Ok(answer) }
            })
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[tokio::test(start_paused = true)]
async fn a_window_dispatches_exactly_max_delay_after_the_first_key() {
    let t = Timeline::new();
    let b = t.batcher(100, ms(10));
    let first = tokio::spawn({
        let b = b.clone();
        async move { b.load(1).await }
    });
    tokio::time::sleep(ms(4)).await;
    let second = b.load(2);
    assert_eq!(second.await.unwrap(), 20);
    assert_eq!(first.await.unwrap().unwrap(), 10);
    assert_eq!(t.calls(), vec![(ms(10), vec![1, 2])]);
}

#[tokio::test(start_paused = true)]
async fn a_full_batch_leaves_at_once_without_waiting_for_its_window() {
    let t = Timeline::new();
    let b = t.batcher(3, Duration::from_secs(3600));
    let results = b.load_many([1, 2, 3]).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(t.calls(), vec![(ms(0), vec![1, 2, 3])]);
}

/// The async-graphql bug: a batch dispatched early by size left its timer armed, and that
/// timer closed the *next* batch early. Here each batch's window is its own.
#[tokio::test(start_paused = true)]
async fn a_stale_timer_cannot_close_a_later_batch() {
    let t = Timeline::new();
    let b = t.batcher(100, ms(50));
    let a = tokio::spawn({
        let b = b.clone();
        async move { b.load(0).await }
    });
    tokio::time::sleep(ms(10)).await;
    let fill = b.load_many(1..100); // fills A's batch: dispatched at 10 ms
    assert!(fill.await.iter().all(Result::is_ok));
    assert!(a.await.unwrap().is_ok());
    // (Whole milliseconds: tokio's timer rounds deadlines up to the next one.)
    tokio::time::sleep_until(t.t0 + ms(22)).await;
    assert_eq!(b.load(500).await.unwrap(), 5000);
    let calls = t.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].0, ms(10), "the first batch left when full");
    assert_eq!(
        calls[1],
        (ms(72), vec![500]),
        "50 ms after key 500, not at A's 50 ms"
    );
}

#[tokio::test(start_paused = true)]
async fn flush_dispatches_the_open_batch_now() {
    let t = Timeline::new();
    let b = t.batcher(100, Duration::from_secs(3600));
    let waiting = tokio::spawn({
        let b = b.clone();
        async move { b.load_many([1, 2]).await }
    });
    tokio::time::sleep(ms(7)).await;
    b.flush();
    b.flush(); // nothing open: no effect
    assert!(waiting.await.unwrap().iter().all(Result::is_ok));
    assert_eq!(t.calls(), vec![(ms(7), vec![1, 2])]);
}

#[tokio::test(start_paused = true)]
async fn max_delay_max_waits_for_flush_or_fullness_only() {
    let t = Timeline::new();
    let b = t.batcher(100, Duration::MAX);
    let waiting = tokio::spawn({
        let b = b.clone();
        async move { b.load(1).await }
    });
    // A year of (paused, auto-advancing) time: still nothing sent.
    tokio::time::sleep(Duration::from_secs(365 * 24 * 3600)).await;
    assert!(t.calls().is_empty());
    b.flush();
    assert_eq!(waiting.await.unwrap().unwrap(), 10);
    assert_eq!(t.calls().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn zero_delay_batches_a_tick_and_uses_no_timer() {
    let t = Timeline::new();
    let b = t.batcher(100, Duration::ZERO);
    let (x, y) = tokio::join!(b.load(1), b.load(2));
    assert_eq!((x.unwrap(), y.unwrap()), (10, 20));
    // A lone load: answered without the (paused) clock moving at all.
    assert_eq!(b.load(3).await.unwrap(), 30);
    assert_eq!(t.calls(), vec![(ms(0), vec![1, 2]), (ms(0), vec![3])]);
    assert_eq!(t.t0.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn loads_from_tasks_runnable_in_the_same_tick_share_a_zero_delay_batch() {
    let t = Timeline::new();
    let b = t.batcher(100, Duration::ZERO);
    let tasks: Vec<_> = (0..10u64)
        .map(|k| {
            let b = b.clone();
            tokio::spawn(async move { b.load(k).await })
        })
        .collect();
    for task in tasks {
        assert!(task.await.unwrap().is_ok());
    }
    settle().await;
    assert_eq!(
        t.calls(),
        vec![(ms(0), (0..10).collect())],
        "one batch for the tick"
    );
}
