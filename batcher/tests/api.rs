//! Behaviour of the public API: batching, dedup, errors, bounds, stats.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use asyncperf_batcher::{BatchError, Batcher};
use common::{Log, TestError, echo, gate, pass, settle, value};

type B = Batcher<u64, u64, TestError>;

/// A batcher over a logging echo backend.
fn echo_batcher(log: &Log, max_batch_size: usize) -> B {
    let log = log.clone();
    Batcher::builder()
        .max_batch_size(max_batch_size)
        .build(move |keys: Vec<u64>| {
            log.record(&keys);
            async move { Ok(echo(&keys)) }
        })
}

#[tokio::test]
async fn loads_issued_together_share_one_batch() {
    let log = Log::default();
    let b = echo_batcher(&log, 100);
    let (x, y, z) = tokio::join!(b.load(1), b.load(2), b.load(3));
    assert_eq!((x.unwrap(), y.unwrap(), z.unwrap()), (10, 20, 30));
    assert_eq!(log.sorted_calls(), vec![vec![1, 2, 3]]);
    let stats = b.stats();
    assert_eq!((stats.batches, stats.keys_loaded), (1, 3));
    assert!((stats.mean_batch_size() - 3.0).abs() < f64::EPSILON);
}

#[tokio::test]
async fn a_key_loaded_twice_at_once_is_sent_once() {
    let log = Log::default();
    let b = echo_batcher(&log, 100);
    let (x, y, z) = tokio::join!(b.load(1), b.load(2), b.load(1));
    assert_eq!((x.unwrap(), y.unwrap(), z.unwrap()), (10, 20, 10));
    assert_eq!(log.sorted_calls(), vec![vec![1, 2]]);
    assert_eq!(b.stats().keys_coalesced, 1);
}

#[tokio::test]
async fn a_key_being_fetched_is_not_sent_again() {
    let log = Log::default();
    let gate = gate();
    let b: B = {
        let (log, gate) = (log.clone(), Arc::clone(&gate));
        Batcher::builder().build(move |keys: Vec<u64>| {
            log.record(&keys);
            let gate = Arc::clone(&gate);
            async move {
                pass(&gate).await;
                Ok(echo(&keys))
            }
        })
    };
    let first = tokio::spawn({
        let b = b.clone();
        async move { b.load(1).await }
    });
    settle().await;
    assert_eq!(log.calls(), vec![vec![1]], "key 1 is being fetched");

    let again = tokio::spawn({
        let b = b.clone();
        async move { (b.load(1).await, b.load(2).await) }
    });
    settle().await;
    assert_eq!(
        log.calls(),
        vec![vec![1]],
        "the second load of 1 joined the first"
    );
    gate.add_permits(2);
    assert_eq!(first.await.unwrap().unwrap(), 10);
    let (one, two) = again.await.unwrap();
    assert_eq!((one.unwrap(), two.unwrap()), (10, 20));
    assert_eq!(log.calls(), vec![vec![1], vec![2]]);
    assert_eq!(b.stats().keys_coalesced, 1);
}

/// The `duplicates` bench scenario as an exact assertion: 1000 callers of 10 keys, one of
/// which is already being fetched, cost exactly one backend key per distinct key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_backend_key_per_distinct_key_even_with_one_in_flight() {
    let log = Log::default();
    let started = Arc::new(tokio::sync::Notify::new());
    let gate = gate();
    let b: B = {
        let (log, started, gate) = (log.clone(), Arc::clone(&started), Arc::clone(&gate));
        Batcher::builder()
            .max_batch_size(100)
            .build(move |keys: Vec<u64>| {
                log.record(&keys);
                started.notify_one();
                let gate = Arc::clone(&gate);
                async move {
                    pass(&gate).await;
                    Ok(echo(&keys))
                }
            })
    };
    let first = tokio::spawn({
        let b = b.clone();
        async move { b.load(0).await }
    });
    started.notified().await;
    let callers: Vec<_> = (0..1000u64)
        .map(|i| {
            let b = b.clone();
            tokio::spawn(async move { (i % 10, b.load(i % 10).await) })
        })
        .collect();
    // Let every caller register before any batch completes.
    while b.stats().keys_coalesced < 1000 - 9 {
        tokio::task::yield_now().await;
    }
    gate.add_permits(1000);
    assert_eq!(first.await.unwrap().unwrap(), 0);
    for caller in callers {
        let (key, result) = caller.await.unwrap();
        assert_eq!(result.unwrap(), value(key));
    }
    let mut sent: Vec<u64> = log.calls().concat();
    sent.sort_unstable();
    assert_eq!(
        sent,
        (0..10).collect::<Vec<_>>(),
        "each distinct key sent exactly once"
    );
    assert_eq!(b.stats().keys_coalesced, 1000 - 9);
}

#[tokio::test]
async fn a_key_missing_from_the_result_is_not_found_for_that_key_only() {
    let b: B = Batcher::builder().build(|keys: Vec<u64>| async move {
        Ok(keys
            .into_iter()
            .filter(|k| k % 2 == 0)
            .map(|k| (k, value(k)))
            .collect())
    });
    let (even, odd) = tokio::join!(b.load(2), b.load(3));
    assert_eq!(even.unwrap(), 20);
    assert!(odd.unwrap_err().is_not_found());
}

#[tokio::test]
async fn a_failed_batch_gives_every_key_the_same_error_and_later_batches_work() {
    let calls = Arc::new(AtomicUsize::new(0));
    let b: B = {
        let calls = Arc::clone(&calls);
        Batcher::builder().build(move |keys: Vec<u64>| {
            let first = calls.fetch_add(1, Ordering::SeqCst) == 0;
            async move {
                if first {
                    Err(TestError("database down"))
                } else {
                    Ok(echo(&keys))
                }
            }
        })
    };
    let (x, y) = tokio::join!(b.load(1), b.load(2));
    let (Err(BatchError::Failed(ex)), Err(BatchError::Failed(ey))) = (x, y) else {
        panic!("both keys fail with the batch's error")
    };
    assert!(Arc::ptr_eq(&ex, &ey), "one error, shared");
    assert_eq!(*ex, TestError("database down"));
    assert_eq!(b.load(1).await.unwrap(), 10);
    assert_eq!(b.stats().batches_failed, 1);
}

#[tokio::test]
async fn per_key_results_fail_only_their_own_key() {
    let b: B = Batcher::builder().build_per_key(|keys: Vec<u64>| async move {
        keys.into_iter()
            .filter(|&k| k != 4)
            .map(|k| {
                let v = if k == 3 {
                    Err(TestError("bad row"))
                } else {
                    Ok(value(k))
                };
                (k, v)
            })
            .collect::<HashMap<_, _>>()
    });
    let results = b.load_many([1, 3, 4]).await;
    assert_eq!(results[0].as_ref().unwrap(), &10);
    assert!(matches!(&results[1], Err(BatchError::KeyFailed(e)) if **e == TestError("bad row")));
    assert!(results[2].as_ref().unwrap_err().is_not_found());
}

#[tokio::test]
async fn per_key_function_can_also_fail_the_whole_batch() {
    let b: B = Batcher::builder().build_per_key(|keys: Vec<u64>| async move {
        if keys.contains(&0) {
            return Err(TestError("whole batch"));
        }
        Ok(keys
            .into_iter()
            .map(|k| (k, Ok(value(k))))
            .collect::<HashMap<_, _>>())
    });
    let failed = b.load_many([0, 1]).await;
    assert!(
        failed
            .iter()
            .all(|r| matches!(r, Err(BatchError::Failed(_))))
    );
    assert_eq!(b.load(1).await.unwrap(), 10);
}

#[tokio::test]
async fn load_many_answers_in_input_order_with_one_result_per_key() {
    let log = Log::default();
    let b: B = {
        let log = log.clone();
        Batcher::builder().build(move |keys: Vec<u64>| {
            log.record(&keys);
            async move {
                Ok(keys
                    .into_iter()
                    .filter(|&k| k != 9)
                    .map(|k| (k, value(k)))
                    .collect())
            }
        })
    };
    let results = b.load_many([5, 9, 1, 5, 3]).await;
    assert_eq!(results.len(), 5);
    assert_eq!(results[0].as_ref().unwrap(), &50);
    assert!(results[1].as_ref().unwrap_err().is_not_found());
    assert_eq!(results[2].as_ref().unwrap(), &10);
    assert_eq!(results[3].as_ref().unwrap(), &50);
    assert_eq!(results[4].as_ref().unwrap(), &30);
    assert_eq!(log.sorted_calls(), vec![vec![1, 3, 5, 9]], "5 sent once");
    assert!(b.load_many(Vec::new()).await.is_empty());
    assert_eq!(log.len(), 1, "no keys, no call");
}

#[tokio::test]
async fn batches_never_exceed_max_batch_size() {
    let log = Log::default();
    let b = echo_batcher(&log, 100);
    let results = b.load_many(0..250).await;
    assert!(
        results
            .iter()
            .enumerate()
            .all(|(k, r)| *r.as_ref().unwrap() == value(k as u64))
    );
    let mut sizes: Vec<usize> = log.calls().iter().map(Vec::len).collect();
    sizes.sort_unstable();
    assert_eq!(sizes, vec![50, 100, 100]);

    let one = echo_batcher(&Log::default(), 0);
    let _ = one.load_many([1, 2]).await;
    assert_eq!(one.stats().batches, 2, "a max of 0 is taken as 1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_in_flight_bounds_concurrent_batch_calls() {
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let b: B = {
        let (running, peak) = (Arc::clone(&running), Arc::clone(&peak));
        Batcher::builder()
            .max_batch_size(10)
            .max_in_flight(2)
            .build(move |keys: Vec<u64>| {
                let (running, peak) = (Arc::clone(&running), Arc::clone(&peak));
                async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    Ok(echo(&keys))
                }
            })
    };
    let results = b.load_many(0..100).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(b.stats().batches, 10);
    assert_eq!(peak.load(Ordering::SeqCst), 2, "two at once, never more");
}

#[tokio::test]
async fn max_queued_keys_refuses_new_keys_but_never_a_key_already_waiting() {
    let gate = gate();
    let b: B = {
        let gate = Arc::clone(&gate);
        Batcher::builder()
            .max_in_flight(1)
            .max_batch_size(1)
            .max_queued_keys(2)
            .build(move |keys: Vec<u64>| {
                let gate = Arc::clone(&gate);
                async move {
                    pass(&gate).await;
                    Ok(echo(&keys))
                }
            })
    };
    // Key 1 runs (holding the only slot); 2 and 3 queue behind it.
    let running = tokio::spawn({
        let b = b.clone();
        async move { b.load(1).await }
    });
    settle().await;
    let queued = tokio::spawn({
        let b = b.clone();
        async move { b.load_many([2, 3]).await }
    });
    settle().await;
    assert_eq!(b.stats().queued_keys, 2);
    assert!(matches!(b.load(4).await, Err(BatchError::Overloaded)));
    let joined = tokio::spawn({
        let b = b.clone();
        async move { b.load(2).await }
    });
    settle().await;
    gate.add_permits(4); // batches {1}, {2}, {3} and the {4} below
    assert_eq!(running.await.unwrap().unwrap(), 10);
    assert!(queued.await.unwrap().iter().all(Result::is_ok));
    assert_eq!(
        joined.await.unwrap().unwrap(),
        20,
        "a queued key is joined, not refused"
    );
    assert_eq!(b.stats().loads_rejected, 1);
    assert_eq!(b.load(4).await.unwrap(), 40, "room again");
}

#[test]
fn a_load_outside_a_runtime_is_an_error_and_leaves_no_trace() {
    let log = Log::default();
    let b = echo_batcher(&log, 100);
    let result = futures::executor::block_on(b.load(1));
    assert!(matches!(result, Err(BatchError::NoRuntime)));
    assert_eq!(b.stats().queued_keys, 0);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(
        rt.block_on(b.load(1)).unwrap(),
        10,
        "the key was not left pending"
    );
    assert_eq!(log.calls(), vec![vec![1]]);
}

#[tokio::test]
async fn clones_share_batches_and_stats() {
    let log = Log::default();
    let b = echo_batcher(&log, 100);
    let c = b.clone();
    let (x, y) = tokio::join!(b.load(1), c.load(1));
    assert_eq!((x.unwrap(), y.unwrap()), (10, 10));
    assert_eq!(log.calls(), vec![vec![1]]);
    assert_eq!(c.stats(), b.stats());
}

#[test]
fn building_spawns_nothing_and_an_idle_batcher_has_no_task() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let alive = || rt.metrics().num_alive_tasks();
    let log = Log::default();
    let b = rt.block_on(async { echo_batcher(&log, 100) });
    assert_eq!(alive(), 0, "no task at construction");
    rt.block_on(async {
        assert_eq!(b.load(1).await.unwrap(), 10);
        settle().await;
    });
    assert_eq!(alive(), 0, "the batch's task ended with its batch");
    drop(b);
    assert_eq!(alive(), 0);
}

#[test]
fn dropping_the_last_handle_ends_an_open_window_at_once() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let log = Log::default();
    let b: B = {
        let log = log.clone();
        Batcher::builder()
            .max_delay(Duration::from_secs(3600))
            .build(move |keys: Vec<u64>| {
                log.record(&keys);
                async move { Ok(echo(&keys)) }
            })
    };
    rt.block_on(async {
        // Open a batch, then give up on it: its task would wait an hour for its window.
        let mut load = Box::pin(b.load(1));
        assert!(futures::poll!(load.as_mut()).is_pending());
        drop(load);
        settle().await;
        assert_eq!(rt.metrics().num_alive_tasks(), 1, "the open batch's task");
        drop(b);
        settle().await;
    });
    assert_eq!(
        rt.metrics().num_alive_tasks(),
        0,
        "ended without waiting out the window"
    );
    assert!(log.calls().is_empty(), "nobody waited for key 1: not sent");
}

#[test]
fn batch_error_displays_and_exposes_the_source() {
    let failed: BatchError<TestError> = BatchError::Failed(Arc::new(TestError("boom")));
    assert_eq!(failed.to_string(), "the batch function failed: boom");
    assert_eq!(**failed.source_error().unwrap(), TestError("boom"));
    assert!(BatchError::<TestError>::NotFound.source_error().is_none());
    let cloned = failed.clone();
    assert!(matches!(cloned, BatchError::Failed(_)));
}
