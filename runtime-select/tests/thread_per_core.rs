//! Thread-per-core: tasks stay on their shard, `!Send` futures run, handles abort, and
//! shutdown is graceful (or reports what it had to drop).

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use asyncperf_runtime_select::{Flavor, RuntimeSelect, ThreadPerCore};

fn shards(n: usize) -> RuntimeSelect {
    RuntimeSelect::builder()
        .flavor(Flavor::ThreadPerCore { cores: Some(n) })
        .default_fallback(false)
        .build()
        .unwrap()
}

fn tpc(rt: &RuntimeSelect) -> &ThreadPerCore {
    rt.as_thread_per_core().unwrap()
}

fn thread_name() -> String {
    std::thread::current().name().unwrap_or("").to_owned()
}

#[test]
fn each_shard_runs_on_its_own_named_thread() {
    let rt = shards(3);
    let names: Vec<String> = tpc(&rt)
        .shards()
        .iter()
        .map(|s| rt.block_on(s.spawn(async { thread_name() })).unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "asyncperf-shard-0",
            "asyncperf-shard-1",
            "asyncperf-shard-2"
        ]
    );
    let indices: Vec<usize> = tpc(&rt).shards().iter().map(|s| s.index()).collect();
    assert_eq!(indices, [0, 1, 2]);
}

#[test]
fn spawns_inside_a_shard_stay_on_it() {
    let rt = shards(2);
    let shard = tpc(&rt).shard(1).unwrap().clone();
    let names = rt
        .block_on(shard.spawn(async {
            let mut inner = Vec::new();
            for _ in 0..10 {
                inner.push(tokio::spawn(async { thread_name() }).await.unwrap());
            }
            inner
        }))
        .unwrap();
    assert!(names.iter().all(|n| n == "asyncperf-shard-1"), "{names:?}");
}

#[test]
fn block_on_spawns_land_on_shard_zero() {
    let rt = shards(2);
    let name = rt.block_on(async { tokio::spawn(async { thread_name() }).await.unwrap() });
    assert_eq!(name, "asyncperf-shard-0");
    // Timers and I/O in the block_on future are driven by shard 0's thread.
    rt.block_on(async { tokio::time::sleep(Duration::from_millis(1)).await });
}

#[test]
fn spawn_is_round_robin_over_the_shards() {
    let rt = shards(2);
    let names: Vec<String> = (0..4)
        .map(|_| rt.block_on(rt.spawn(async { thread_name() })).unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "asyncperf-shard-0",
            "asyncperf-shard-1",
            "asyncperf-shard-0",
            "asyncperf-shard-1"
        ]
    );
}

#[test]
fn spawn_local_runs_futures_that_are_not_send() {
    let rt = shards(2);
    let handles = tpc(&rt).spawn_on_each(|shard| async move {
        // An `Rc<RefCell<_>>` per shard: the state a thread-per-core design keeps unshared.
        let cache = Rc::new(RefCell::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..4 {
            let cache = cache.clone();
            tasks.push(tokio::task::spawn_local(async move {
                tokio::task::yield_now().await;
                cache.borrow_mut().push(i);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let total: usize = cache.borrow().iter().sum();
        (shard.index(), thread_name(), total)
    });
    let results: Vec<_> = handles
        .into_iter()
        .map(|h| rt.block_on(h).unwrap())
        .collect();
    assert_eq!(
        results,
        [
            (0, "asyncperf-shard-0".to_owned(), 6),
            (1, "asyncperf-shard-1".to_owned(), 6)
        ]
    );
}

#[test]
fn a_panic_in_spawn_local_comes_back_through_the_handle() {
    let rt = shards(1);
    let shard = tpc(&rt).shard(0).unwrap().clone();
    let err = rt
        .block_on(shard.spawn_local(|| async {
            let _not_send = Rc::new(());
            panic!("boom in a shard");
        }))
        .unwrap_err();
    assert!(err.is_panic());
    // The shard keeps working.
    assert_eq!(rt.block_on(shard.spawn(async { 3 })).unwrap(), 3);
}

#[test]
fn aborting_a_spawn_local_handle_drops_the_future() {
    struct SetOnDrop(Arc<AtomicBool>);
    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let rt = shards(1);
    let shard = tpc(&rt).shard(0).unwrap().clone();
    let dropped = Arc::new(AtomicBool::new(false));
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let guard = SetOnDrop(dropped.clone());
    let handle = shard.spawn_local(move || async move {
        let _guard = guard;
        let _ = started_tx.send(());
        std::future::pending::<()>().await;
    });
    rt.block_on(started_rx).unwrap();
    handle.abort();
    let err = rt.block_on(handle).unwrap_err();
    assert!(err.is_cancelled());
    // The abort reaches the inner task on the shard's next turn: wait for it there.
    rt.block_on(shard.spawn(async {})).unwrap();
    rt.block_on(shard.spawn(async {})).unwrap();
    assert!(dropped.load(Ordering::SeqCst));
}

#[test]
fn graceful_shutdown_waits_for_tasks_that_watch_the_signal() {
    let rt = shards(2);
    let finished = Arc::new(AtomicBool::new(false));
    let done = finished.clone();
    let stop = rt.shutdown_signal();
    let shard = tpc(&rt).shard(1).unwrap().clone();
    let (running_tx, running_rx) = std::sync::mpsc::channel();
    shard.spawn_local(move || async move {
        running_tx.send(()).unwrap();
        stop.requested().await;
        // Work that happens after the signal, inside the grace period.
        tokio::task::yield_now().await;
        done.store(true, Ordering::SeqCst);
    });
    running_rx.recv().unwrap();
    let report = rt.shutdown_timeout(Duration::from_secs(30));
    assert!(report.is_clean(), "{report}");
    assert!(finished.load(Ordering::SeqCst));
}

#[test]
fn shutdown_reports_tasks_that_outlive_the_grace_period() {
    let rt = shards(2);
    let (running_tx, running_rx) = std::sync::mpsc::channel();
    tpc(&rt).shard(0).unwrap().spawn(async move {
        running_tx.send(()).unwrap();
        std::future::pending::<()>().await;
    });
    running_rx.recv().unwrap();
    let report = rt.shutdown_timeout(Duration::from_millis(20));
    assert_eq!(report.unfinished_tasks, 1, "{report}");
    assert_eq!(report.panicked_threads, 0);
    assert!(!report.is_clean());
}

#[test]
fn dropping_the_runtime_stops_every_shard_thread() {
    struct SetOnDrop(Arc<AtomicBool>);
    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let rt = shards(2);
    let dropped = Arc::new(AtomicBool::new(false));
    let guard = SetOnDrop(dropped.clone());
    let (running_tx, running_rx) = std::sync::mpsc::channel();
    tpc(&rt).shard(1).unwrap().spawn(async move {
        let _guard = guard;
        running_tx.send(()).unwrap();
        std::future::pending::<()>().await;
    });
    running_rx.recv().unwrap();
    drop(rt);
    // Drop joined the shard threads, and a shard's runtime drops its tasks before its thread
    // ends: the guard is gone by now.
    assert!(dropped.load(Ordering::SeqCst));
}

/// Waiting for the watching task and giving up on the stuck one are two runs: in one run with
/// a short grace, a machine too loaded to run the watcher within it would fail the test.
#[test]
fn graceful_shutdown_of_the_tokio_flavours_waits_too() {
    for flavor in [
        Flavor::CurrentThread,
        Flavor::MultiThread { workers: Some(2) },
    ] {
        let rt = RuntimeSelect::builder().flavor(flavor).build().unwrap();
        let stop = rt.shutdown_signal();
        let finished = Arc::new(AtomicBool::new(false));
        let done = finished.clone();
        rt.spawn(async move {
            stop.requested().await;
            tokio::task::yield_now().await;
            done.store(true, Ordering::SeqCst);
        });
        // Ends as soon as the task does; the grace is only a hang guard.
        let report = rt.shutdown_timeout(Duration::from_secs(60));
        assert!(finished.load(Ordering::SeqCst), "{flavor}");
        assert!(report.is_clean(), "{flavor}: {report}");

        let rt = RuntimeSelect::builder().flavor(flavor).build().unwrap();
        let stuck = rt.spawn(std::future::pending::<()>());
        let report = rt.shutdown_timeout(Duration::from_millis(20));
        assert_eq!(report.unfinished_tasks, 1, "{flavor}: {report}");
        drop(stuck);
    }
}

/// "As long as it takes" must not overflow the deadline's `Instant`.
#[test]
fn an_unbounded_grace_period_is_accepted_on_every_flavour() {
    for flavor in [
        Flavor::CurrentThread,
        Flavor::MultiThread { workers: Some(2) },
        Flavor::ThreadPerCore { cores: Some(2) },
    ] {
        let rt = RuntimeSelect::builder().flavor(flavor).build().unwrap();
        let task = rt.spawn(async { 1 });
        drop(task);
        let report = rt.shutdown_timeout(Duration::MAX);
        assert!(report.is_clean(), "{flavor}: {report}");
    }
}
