//! Dropping callers at every point: before dispatch, while the batch runs, the caller that
//! opened the batch, every caller of a key; and a batch whose runtime shuts down.

mod common;

use std::sync::Arc;
use std::time::Duration;

use asyncperf_batcher::{BatchError, Batcher};
use common::{Log, TestError, echo, gate, pass, settle};
use futures::FutureExt;

type B = Batcher<u64, u64, TestError>;

/// A batcher whose batches wait for `flush` (or fullness) and whose function then waits at
/// `gate`: the test decides when each step happens.
fn manual(log: &Log, gate: &Arc<tokio::sync::Semaphore>) -> B {
    let (log, gate) = (log.clone(), Arc::clone(gate));
    Batcher::builder()
        .max_delay(Duration::MAX)
        .build(move |keys: Vec<u64>| {
            log.record(&keys);
            let gate = Arc::clone(&gate);
            async move {
                pass(&gate).await;
                Ok(echo(&keys))
            }
        })
}

#[tokio::test]
async fn dropping_the_caller_that_opened_the_batch_before_dispatch_loses_nothing() {
    let (log, gate) = (Log::default(), gate());
    let b = manual(&log, &gate);
    let mut opener = Box::pin(b.load(1));
    assert!(opener.as_mut().now_or_never().is_none(), "opened the batch");
    let other = tokio::spawn({
        let b = b.clone();
        async move { b.load(2).await }
    });
    settle().await;
    drop(opener);
    b.flush();
    gate.add_permits(1);
    assert_eq!(other.await.unwrap().unwrap(), 20);
    assert_eq!(
        log.calls(),
        vec![vec![2]],
        "key 1 had no caller left: pruned"
    );
    assert_eq!(b.stats().keys_pruned, 1);
}

#[tokio::test]
async fn dropping_the_caller_that_opened_the_batch_while_it_runs_loses_nothing() {
    let (log, gate) = (Log::default(), gate());
    let b = manual(&log, &gate);
    let mut opener = Box::pin(b.load(1));
    assert!(opener.as_mut().now_or_never().is_none());
    let other = tokio::spawn({
        let b = b.clone();
        async move { b.load(2).await }
    });
    settle().await;
    b.flush();
    settle().await;
    assert_eq!(
        log.sorted_calls(),
        vec![vec![1, 2]],
        "dispatched with both keys"
    );
    drop(opener);
    gate.add_permits(1);
    assert_eq!(other.await.unwrap().unwrap(), 20);
    assert_eq!(b.stats().in_flight, 0);
}

#[tokio::test]
async fn a_key_whose_callers_all_left_before_dispatch_is_not_sent() {
    let (log, gate) = (Log::default(), gate());
    let b = manual(&log, &gate);
    let mut a = Box::pin(b.load(7));
    let mut c = Box::pin(b.load(7));
    let mut d = Box::pin(b.load(8));
    assert!(a.as_mut().now_or_never().is_none());
    assert!(c.as_mut().now_or_never().is_none());
    assert!(d.as_mut().now_or_never().is_none());
    drop(a);
    b.flush();
    gate.add_permits(2);
    // One caller of 7 is left: 7 is still fetched for it.
    assert_eq!(c.await.unwrap(), 70);
    assert_eq!(d.await.unwrap(), 80);
    assert_eq!(log.sorted_calls(), vec![vec![7, 8]]);

    let mut e = Box::pin(b.load(9));
    let mut f = Box::pin(b.load(9));
    assert!(e.as_mut().now_or_never().is_none());
    assert!(f.as_mut().now_or_never().is_none());
    drop((e, f));
    b.flush();
    settle().await;
    assert_eq!(log.len(), 1, "a batch left with no key is never sent");
    assert_eq!(b.stats().keys_pruned, 1);
    assert_eq!(b.stats().queued_keys, 0);
    let again = tokio::spawn({
        let b = b.clone();
        async move { b.load(9).await }
    });
    settle().await;
    b.flush();
    gate.add_permits(1);
    assert_eq!(again.await.unwrap().unwrap(), 90, "9 can be loaded again");
}

#[tokio::test]
async fn dropping_a_load_many_midway_leaves_other_callers_their_answers() {
    let (log, gate) = (Log::default(), gate());
    let b = manual(&log, &gate);
    let mut many = Box::pin(b.load_many([1, 2, 3]));
    assert!(many.as_mut().now_or_never().is_none());
    let shared = tokio::spawn({
        let b = b.clone();
        async move { b.load(2).await }
    });
    settle().await;
    drop(many);
    b.flush();
    gate.add_permits(1);
    assert_eq!(shared.await.unwrap().unwrap(), 20);
    assert_eq!(
        log.calls(),
        vec![vec![2]],
        "only the key someone still waits for"
    );
}

#[tokio::test]
async fn a_caller_dropped_between_polls_of_its_batch_does_not_stall_the_rest() {
    // Poll each load once, drop every other one, then drive the rest: all answered.
    let (log, gate) = (Log::default(), gate());
    let b = manual(&log, &gate);
    let mut loads: Vec<_> = (0..20u64).map(|k| Box::pin(b.load(k % 7))).collect();
    for l in &mut loads {
        assert!(futures::poll!(l.as_mut()).is_pending());
    }
    let kept: Vec<_> = loads
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % 2 == 0)
        .collect();
    b.flush();
    gate.add_permits(1);
    for (i, l) in kept {
        assert_eq!(l.await.unwrap(), (i as u64 % 7) * 10);
    }
}

#[test]
fn callers_of_a_batch_whose_runtime_shut_down_get_cancelled_not_a_hang() {
    let (log, gate) = (Log::default(), gate());
    let b = manual(&log, &gate);
    let opener_rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let other_rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();

    // Key 1's batch opens and runs on `opener_rt` (its function waits at the gate) ...
    let first = opener_rt.spawn({
        let b = b.clone();
        async move { b.load(1).await }
    });
    opener_rt.block_on(async {
        settle().await;
        b.flush();
        settle().await;
    });
    assert_eq!(log.calls(), vec![vec![1]]);
    // ... a caller on another runtime joins it, and key 2 opens a batch there too.
    let joined = other_rt.spawn({
        let b = b.clone();
        async move { b.load(1).await }
    });
    other_rt.block_on(settle());
    assert_eq!(b.stats().keys_coalesced, 1);

    drop(first);
    drop(opener_rt); // drops key 1's batch task mid-call
    let result = other_rt.block_on(joined).unwrap();
    assert!(matches!(result, Err(BatchError::Cancelled)), "{result:?}");
    assert_eq!(b.stats().in_flight, 0);

    // The batcher still works on the surviving runtime.
    gate.add_permits(1);
    let again = other_rt.block_on(async {
        let again = tokio::spawn({
            let b = b.clone();
            async move { b.load(1).await }
        });
        settle().await;
        b.flush();
        again.await.unwrap()
    });
    assert_eq!(again.unwrap(), 10);
}

#[test]
fn a_batch_opened_on_a_runtime_that_shut_down_before_dispatch_is_cancelled() {
    let (log, gate) = (Log::default(), gate());
    let b = manual(&log, &gate);
    let opener_rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let other_rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let first = opener_rt.spawn({
        let b = b.clone();
        async move { b.load(1).await }
    });
    opener_rt.block_on(settle()); // batch open, its task waiting for flush
    let joined = other_rt.spawn({
        let b = b.clone();
        async move { b.load(1).await }
    });
    other_rt.block_on(settle());
    drop(first);
    drop(opener_rt);
    let result = other_rt.block_on(joined).unwrap();
    assert!(matches!(result, Err(BatchError::Cancelled)), "{result:?}");
    assert!(log.calls().is_empty());
    assert_eq!(b.stats().queued_keys, 0);
}
