//! A batch function that panics, errors, omits keys or never returns: every caller gets a
//! typed error, nobody hangs, and the batcher keeps working.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use asyncperf_batcher::{BatchError, Batcher};
use common::{TestError, echo, quiet_panics, value};

type B = Batcher<u64, u64, TestError>;

/// Panics in the batch whose keys include 0, in the future or before it exists.
fn panicking(in_future: bool) -> B {
    Batcher::builder().build(move |keys: Vec<u64>| {
        assert!(
            in_future || !keys.contains(&0),
            "intentional: panic when called"
        );
        async move {
            tokio::task::yield_now().await;
            assert!(!keys.contains(&0), "intentional: panic while polled");
            Ok(echo(&keys))
        }
    })
}

// Current-thread on purpose: `join!` registers both keys before the batch's task can run, so
// they share one batch. On a multi-thread runtime a worker could close the batch between the
// two loads, and key 1 would get its own (successful) batch.
#[tokio::test]
async fn a_panic_while_polled_answers_every_caller_and_the_batcher_survives() {
    quiet_panics();
    let b = panicking(true);
    let (x, y) = tokio::join!(b.load(0), b.load(1));
    assert!(matches!(x, Err(BatchError::Panicked)));
    assert!(matches!(y, Err(BatchError::Panicked)));
    assert_eq!(b.load(1).await.unwrap(), 10, "the next batch works");
    assert_eq!(b.stats().batches_panicked, 1);
}

#[tokio::test]
async fn a_panic_when_called_answers_every_caller_and_the_batcher_survives() {
    quiet_panics();
    let b = panicking(false);
    let results = b.load_many([0, 1, 2]).await;
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Err(BatchError::Panicked)))
    );
    assert_eq!(
        b.load_many([1, 2])
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect::<Vec<_>>(),
        [10, 20]
    );
}

#[tokio::test]
async fn a_per_key_function_that_panics_is_caught_too() {
    quiet_panics();
    let b: B = Batcher::builder().build_per_key(|keys: Vec<u64>| async move {
        assert!(!keys.contains(&0), "intentional: per-key panic");
        keys.into_iter()
            .map(|k| (k, Ok(value(k))))
            .collect::<HashMap<_, _>>()
    });
    assert!(matches!(b.load(0).await, Err(BatchError::Panicked)));
    assert_eq!(b.load(3).await.unwrap(), 30);
}

#[tokio::test]
async fn an_error_fails_only_its_own_batch() {
    let b: B = Batcher::builder()
        .max_batch_size(2)
        .build(|keys: Vec<u64>| async move {
            if keys.contains(&0) {
                Err(TestError("batch with 0"))
            } else {
                Ok(echo(&keys))
            }
        });
    // Two batches of two: {0, 1} fails, {2, 3} succeeds.
    let results = b.load_many([0, 1, 2, 3]).await;
    assert!(matches!(&results[0], Err(BatchError::Failed(e)) if **e == TestError("batch with 0")));
    assert!(matches!(&results[1], Err(BatchError::Failed(_))));
    assert_eq!(results[2].as_ref().unwrap(), &20);
    assert_eq!(results[3].as_ref().unwrap(), &30);
    assert_eq!(b.stats().batches_failed, 1);
}

#[tokio::test]
async fn omitted_keys_are_not_found_and_extra_keys_are_ignored() {
    let b: B = Batcher::builder().build(|keys: Vec<u64>| async move {
        let mut found: HashMap<u64, u64> = keys
            .iter()
            .filter(|&&k| k % 2 == 0)
            .map(|&k| (k, value(k)))
            .collect();
        found.entry(999).or_insert(0); // not asked for, except below
        Ok(found)
    });
    let results = b.load_many([1, 2, 3, 4]).await;
    assert!(results[0].as_ref().unwrap_err().is_not_found());
    assert_eq!(results[1].as_ref().unwrap(), &20);
    assert!(results[2].as_ref().unwrap_err().is_not_found());
    assert_eq!(results[3].as_ref().unwrap(), &40);
    assert_eq!(b.stats().keys_loaded, 4, "999 was not added to the batch");
    assert_eq!(b.load(999).await.unwrap(), 0);
    assert_eq!(
        b.stats().batches,
        2,
        "nor kept: asking for it is a new call"
    );
}

/// Sets its flag when dropped: shows the hung batch function's future was dropped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn a_batch_function_that_never_returns_times_out_for_its_callers() {
    let dropped = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicUsize::new(0));
    let b: B = {
        let (dropped, calls) = (Arc::clone(&dropped), Arc::clone(&calls));
        Batcher::builder()
            .batch_timeout(Duration::from_secs(5))
            .build(move |keys: Vec<u64>| {
                let hang = calls.fetch_add(1, Ordering::SeqCst) == 0;
                let flag = DropFlag(Arc::clone(&dropped));
                async move {
                    let _flag = flag;
                    if hang {
                        std::future::pending::<()>().await;
                    }
                    Ok(echo(&keys))
                }
            })
    };
    let started = tokio::time::Instant::now();
    let (x, y) = tokio::join!(b.load(1), b.load(2));
    assert!(matches!(x, Err(BatchError::TimedOut)));
    assert!(matches!(y, Err(BatchError::TimedOut)));
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(5),
        "exactly the timeout (paused time)"
    );
    assert!(
        dropped.load(Ordering::SeqCst),
        "the hung future was dropped"
    );
    assert_eq!(b.load(1).await.unwrap(), 10, "later batches work");
    assert_eq!(b.stats().batches_timed_out, 1);
    assert_eq!(b.stats().in_flight, 0);
}

#[test]
fn a_window_on_a_runtime_without_timers_fails_its_callers_instead_of_hanging() {
    quiet_panics();
    // A misconfiguration: tokio panics in the batch's task when it arms the window's timer.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let b: B = Batcher::builder()
        .max_delay(Duration::from_millis(5))
        .build(|keys: Vec<u64>| async move { Ok(echo(&keys)) });
    let result = rt.block_on(b.load(1));
    assert!(matches!(result, Err(BatchError::Cancelled)), "{result:?}");
    assert_eq!(b.stats().queued_keys, 0);
}

/// A broken key type: cloning a key whose flag is set panics.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Fragile(u64, bool);

impl Clone for Fragile {
    fn clone(&self) -> Self {
        assert!(!self.1, "intentional: a key's Clone panics");
        Self(self.0, self.1)
    }
}

#[test]
fn a_key_whose_clone_panics_neither_deadlocks_nor_breaks_the_batcher() {
    quiet_panics();
    // On a thread of its own, so that a deadlock fails the test instead of hanging it.
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let b: Batcher<Fragile, u64, TestError> =
            Batcher::builder().build(|keys: Vec<Fragile>| async move {
                Ok(keys.into_iter().map(|k| (k, 1)).collect())
            });
        // The panic reaches the caller (it is the caller's key), for the first key of a
        // batch, through `load` and through `load_many`.
        let panics = |f: &dyn Fn()| std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        assert!(panics(&|| drop(rt.block_on(b.load(Fragile(1, true))))).is_err());
        assert!(panics(&|| drop(rt.block_on(b.load_many([Fragile(2, true)])))).is_err());
        let after = rt.block_on(b.load_many([Fragile(3, false), Fragile(4, false)]));
        done.send((after, b.stats())).unwrap();
    });
    let (after, stats) = finished
        .recv_timeout(Duration::from_secs(30))
        .expect("no deadlock, no panic besides the key's");
    assert!(after.iter().all(|r| *r.as_ref().unwrap() == 1));
    assert_eq!(
        (stats.batches, stats.queued_keys),
        (1, 0),
        "nothing left behind"
    );
}
