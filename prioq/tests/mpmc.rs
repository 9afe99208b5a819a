//! Many producers and consumers on the multi-thread runtime: every item arrives exactly once,
//! each producer's items of one priority arrive in send order, backpressure holds, and no
//! receiver hangs when the channel closes under it (the async-priority-channel 0.2 race).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use asyncperf_prioq::{Admission, Builder, Receiver, Sender, bounded, unbounded};

/// Generous hang guard only; nothing waits on it in a passing run.
const HANG_GUARD: Duration = Duration::from_secs(60);

async fn produce_and_consume(
    tx: Sender<(u32, u32), u8>,
    rx: Receiver<(u32, u32), u8>,
    producers: u32,
    consumers: usize,
    per_producer: u32,
) {
    let mut consumer_tasks = Vec::new();
    for _ in 0..consumers {
        let rx = rx.clone();
        consumer_tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            while let Ok(x) = rx.recv_with_priority().await {
                got.push(x);
            }
            got
        }));
    }
    drop(rx);
    let mut producer_tasks = Vec::new();
    for p in 0..producers {
        let tx = tx.clone();
        producer_tasks.push(tokio::spawn(async move {
            for i in 0..per_producer {
                tx.send((p, i), (i % 3) as u8).await.unwrap();
            }
        }));
    }
    drop(tx);
    for t in producer_tasks {
        t.await.unwrap();
    }
    let mut all = Vec::new();
    for t in consumer_tasks {
        let got = tokio::time::timeout(HANG_GUARD, t)
            .await
            .expect("consumer hung")
            .unwrap();
        // Per consumer, one producer's items of one priority keep their send order.
        let mut last = std::collections::HashMap::new();
        for &((p, i), prio) in &got {
            if let Some(prev) = last.insert((p, prio), i) {
                assert!(prev < i, "producer {p} priority {prio}: {prev} before {i}");
            }
        }
        all.extend(got.into_iter().map(|(x, _)| x));
    }
    all.sort_unstable();
    let want: Vec<(u32, u32)> = (0..producers)
        .flat_map(|p| (0..per_producer).map(move |i| (p, i)))
        .collect();
    assert_eq!(all, want, "every item exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_by_eight_bounded_delivers_everything_once() {
    let (tx, rx) = bounded(16);
    produce_and_consume(tx, rx, 8, 8, 2_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_by_four_unbounded_delivers_everything_once() {
    let (tx, rx) = unbounded();
    produce_and_consume(tx, rx, 4, 4, 5_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capacity_one_with_many_producers_delivers_everything_once() {
    let (tx, rx) = bounded(1);
    produce_and_consume(tx, rx, 6, 3, 1_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn priority_admission_under_contention_delivers_everything_once() {
    let (tx, rx) = Builder::new()
        .capacity(4)
        .admission(Admission::Priority)
        .build()
        .unwrap();
    produce_and_consume(tx, rx, 6, 3, 1_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bounded_never_holds_more_than_capacity() {
    let (tx, rx) = bounded::<u32, u8>(8);
    let max_seen = Arc::new(AtomicUsize::new(0));
    let mut producers = Vec::new();
    for p in 0..4 {
        let tx = tx.clone();
        producers.push(tokio::spawn(async move {
            for i in 0..2_000 {
                tx.send(i, p).await.unwrap();
                assert!(tx.len() <= 8);
            }
        }));
    }
    drop(tx);
    let watcher = {
        let max_seen = max_seen.clone();
        let rx = rx.clone();
        tokio::spawn(async move {
            let mut n = 0;
            while rx.recv().await.is_ok() {
                max_seen.fetch_max(rx.len(), Ordering::Relaxed);
                n += 1;
            }
            n
        })
    };
    drop(rx);
    for p in producers {
        p.await.unwrap();
    }
    let n = tokio::time::timeout(HANG_GUARD, watcher)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 8_000);
    assert!(max_seen.load(Ordering::Relaxed) <= 8);
}

/// async-priority-channel 0.2 hangs a receiver when several race for the last items while the
/// last sender drops. Here every receiver must return, every round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receivers_racing_for_the_last_items_at_close_all_return() {
    for round in 0..200u32 {
        let receivers = if round % 2 == 0 { 2 } else { 16 };
        let (tx, rx) = unbounded::<u32, u8>();
        let mut tasks = Vec::new();
        for _ in 0..receivers {
            let rx = rx.clone();
            tasks.push(tokio::spawn(async move {
                let mut n = 0u32;
                while rx.recv().await.is_ok() {
                    n += 1;
                }
                n
            }));
        }
        drop(rx);
        for i in 0..200 {
            tx.send(i, (i % 4) as u8).await.unwrap();
            if i % 8 == 0 {
                tokio::task::yield_now().await;
            }
        }
        drop(tx);
        let mut total = 0;
        for t in tasks {
            total += tokio::time::timeout(HANG_GUARD, t)
                .await
                .unwrap_or_else(|_| panic!("a receiver hung in round {round}"))
                .unwrap();
        }
        assert_eq!(total, 200);
    }
}
