//! What every waiter sees when a load fails, panics or is cut off, and that no failure is kept.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use asyncperf_weakcache::{LoadError, WeakCache};
use futures::future::join_all;
use futures::poll;
use support::{GatedLoader, until};

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("backend down for key {0}")]
struct Down(u64);

type Cache = WeakCache<u64, String>;

#[tokio::test]
async fn a_failure_is_shared_by_its_waiters_and_never_stored() {
    let cache = Cache::new();
    let gate = GatedLoader::new();
    let mut calls: Vec<_> = (0..50)
        .map(|_| Box::pin(cache.get_or_load(3, gate.loader(|k| Err::<String, _>(Down(k))))))
        .collect();
    for call in &mut calls {
        assert!(poll!(call.as_mut()).is_pending());
    }
    gate.open();
    let errors: Vec<Arc<Down>> = join_all(calls)
        .await
        .into_iter()
        .map(|r| match r {
            Err(LoadError::Failed(e)) => e,
            other => panic!("expected the loader's error, got {other:?}"),
        })
        .collect();
    assert_eq!(gate.calls(), 1, "one failing call for 50 waiters");
    assert!(errors.iter().all(|e| Arc::ptr_eq(e, &errors[0])));
    assert_eq!(*errors[0], Down(3));
    assert_eq!(cache.len(), 0, "a failure leaves no entry");
    assert_eq!(cache.stats().failed, 1);

    // The next call loads again, and may succeed.
    let value = cache
        .get_or_load(3, gate.loader(|k| Ok::<_, Down>(format!("v{k}"))))
        .await
        .unwrap();
    assert_eq!(*value, "v3");
    assert_eq!(gate.calls(), 2);
}

#[tokio::test]
async fn a_panicking_loader_future_fails_every_waiter_and_is_retried() {
    let cache = Cache::new();
    let gate = GatedLoader::new();
    let mut calls: Vec<_> = (0..10)
        .map(|_| {
            Box::pin(cache.get_or_load(
                3,
                gate.loader(|_| -> Result<String, Down> { panic!("loader bug") }),
            ))
        })
        .collect();
    for call in &mut calls {
        assert!(poll!(call.as_mut()).is_pending());
    }
    gate.open();
    for result in join_all(calls).await {
        assert!(matches!(result, Err(LoadError::Panicked)), "{result:?}");
    }
    assert_eq!(gate.calls(), 1);
    assert_eq!(cache.len(), 0);
    assert_eq!(cache.stats().failed, 1);
    let value = cache
        .get_or_load(3, |k| async move { Ok::<_, Down>(format!("v{k}")) })
        .await;
    assert_eq!(*value.unwrap(), "v3");
}

#[tokio::test]
async fn a_loader_ready_at_once_fails_or_panics_without_a_task_and_is_retried() {
    let cache = Cache::new();
    let failed = cache
        .get_or_load(3, |k| async move { Err::<String, _>(Down(k)) })
        .await;
    assert!(matches!(failed, Err(LoadError::Failed(e)) if *e == Down(3)));
    let panicked = cache
        .get_or_load(3, |_| async {
            panic!("ready-at-once loader bug") as Result<String, Down>
        })
        .await;
    assert!(matches!(panicked, Err(LoadError::Panicked)), "{panicked:?}");
    assert_eq!(cache.len(), 0);
    assert_eq!(cache.stats().failed, 2);
    let value = cache
        .get_or_load(3, |k| async move { Ok::<_, Down>(format!("v{k}")) })
        .await;
    assert_eq!(*value.unwrap(), "v3");
    assert_eq!(cache.stats().loads, 3);
}

#[tokio::test]
async fn a_panicking_loader_closure_fails_the_callers_that_joined() {
    let cache = Cache::new();
    let (installed, on_installed) = std::sync::mpsc::channel();
    let (joined, on_joined) = std::sync::mpsc::channel();
    // Another thread joins the load while the starter is inside the loader closure.
    let joiner = std::thread::spawn({
        let cache = cache.clone();
        move || {
            on_installed.recv().unwrap();
            let mut call =
                Box::pin(cache.get_or_load(3, |k| async move { Ok::<_, Down>(format!("v{k}")) }));
            let waker = futures::task::noop_waker();
            let polled = call
                .as_mut()
                .poll(&mut std::task::Context::from_waker(&waker));
            assert!(polled.is_pending(), "it joined the load");
            joined.send(()).unwrap();
            futures::executor::block_on(call)
        }
    });
    let starter = std::panic::AssertUnwindSafe(cache.get_or_load(
        3,
        move |_| -> std::future::Ready<Result<String, Down>> {
            installed.send(()).unwrap();
            on_joined.recv().unwrap();
            panic!("loader closure bug")
        },
    ));
    let panicked = futures::FutureExt::catch_unwind(starter).await;
    assert!(
        panicked.is_err(),
        "the starter's own panic reaches its caller"
    );
    let joined = joiner.join().unwrap();
    assert!(matches!(joined, Err(LoadError::Panicked)), "{joined:?}");
    assert_eq!(cache.len(), 0);
    assert_eq!(cache.stats().failed, 1);
}

#[tokio::test]
async fn invalidate_during_a_load_detaches_it() {
    let cache = Cache::new();
    let gate = GatedLoader::new();
    let mut call = Box::pin(cache.get_or_load(3, gate.loader(|k| Ok::<_, Down>(format!("v{k}")))));
    assert!(poll!(call.as_mut()).is_pending());
    assert!(cache.invalidate(&3), "a load in flight counts as an entry");
    assert_eq!(cache.len(), 0);

    // A call after the invalidation does not join the detached load.
    let gate2 = GatedLoader::new();
    let mut fresh =
        Box::pin(cache.get_or_load(3, gate2.loader(|_| Ok::<_, Down>(String::from("fresh")))));
    assert!(poll!(fresh.as_mut()).is_pending());
    assert_eq!(gate2.calls(), 1);

    gate.open();
    let old = call.await.unwrap();
    assert_eq!(*old, "v3", "its waiters still get the value");
    assert_eq!(cache.get(&3), None, "but it is not stored");

    gate2.open();
    let fresh = fresh.await.unwrap();
    assert!(Arc::ptr_eq(&cache.get(&3).unwrap(), &fresh));
}

#[tokio::test]
async fn insert_during_a_load_wins() {
    let cache = Cache::new();
    let gate = GatedLoader::new();
    let mut call = Box::pin(cache.get_or_load(3, gate.loader(|k| Ok::<_, Down>(format!("v{k}")))));
    assert!(poll!(call.as_mut()).is_pending());
    let inserted = Arc::new(String::from("inserted"));
    assert_eq!(cache.insert(3, Arc::clone(&inserted)), None);
    gate.open();
    assert_eq!(*call.await.unwrap(), "v3");
    assert!(Arc::ptr_eq(&cache.get(&3).unwrap(), &inserted));
}

#[tokio::test]
async fn an_abandoned_load_leaves_a_newer_value_alone() {
    let cache = Cache::new();
    let gate = GatedLoader::new();
    let mut call = Box::pin(cache.get_or_load(3, gate.loader(|k| Ok::<_, Down>(format!("v{k}")))));
    assert!(poll!(call.as_mut()).is_pending());
    let inserted = Arc::new(String::from("inserted"));
    assert_eq!(cache.insert(3, Arc::clone(&inserted)), None);

    // The load's last waiter goes: the load is aborted, and neither the waiter leaving nor
    // the aborted task (its future dropped on the runtime) may remove the newer value.
    drop(call);
    until(|| gate.dropped() == 1).await;
    assert_eq!(cache.stats().abandoned, 1);
    assert!(
        Arc::ptr_eq(&cache.get(&3).unwrap(), &inserted),
        "removal is by identity, not by key"
    );
}

#[tokio::test]
async fn a_failed_load_leaves_the_newer_load_of_its_key_alone() {
    let cache = Cache::new();
    let failing = GatedLoader::new();
    let mut old = Box::pin(cache.get_or_load(3, failing.loader(|k| Err::<String, _>(Down(k)))));
    assert!(poll!(old.as_mut()).is_pending());
    assert!(cache.invalidate(&3));
    let fresh_gate = GatedLoader::new();
    let mut fresh = Box::pin(cache.get_or_load(
        3,
        fresh_gate.loader(|_| Ok::<_, Down>(String::from("fresh"))),
    ));
    assert!(poll!(fresh.as_mut()).is_pending());

    failing.open();
    assert!(matches!(old.await, Err(LoadError::Failed(e)) if *e == Down(3)));
    assert_eq!(
        cache.len(),
        1,
        "the newer load's entry survives the old failure"
    );

    // A caller arriving now joins the newer load instead of starting a third one.
    let mut joiner = Box::pin(cache.get_or_load(
        3,
        fresh_gate.loader(|_| Ok::<_, Down>(String::from("third"))),
    ));
    assert!(poll!(joiner.as_mut()).is_pending());
    fresh_gate.open();
    let (a, b) = tokio::join!(fresh, joiner);
    assert!(Arc::ptr_eq(&a.unwrap(), &b.unwrap()));
    assert_eq!(fresh_gate.calls(), 1);
}

#[test]
fn a_runtime_shutdown_cancels_the_waiters_elsewhere() {
    let cache = Cache::new();
    let gate = GatedLoader::new();
    let doomed = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut call = Box::pin(cache.get_or_load(3, gate.loader(|k| Ok::<_, Down>(format!("v{k}")))));
    // Started on `doomed`: the load's task lives there.
    doomed.block_on(async { assert!(poll!(call.as_mut()).is_pending()) });
    drop(doomed);
    let result = futures::executor::block_on(call);
    assert!(matches!(result, Err(LoadError::Cancelled)), "{result:?}");
    assert_eq!(cache.len(), 0);
}

#[tokio::test]
async fn a_joiner_with_another_error_type_shares_a_value_and_retries_a_failure() {
    #[derive(Debug)]
    struct Other;
    let cache = Cache::new();

    // Success is shared across error types.
    let gate = GatedLoader::new();
    let mut first =
        Box::pin(cache.get_or_load(1, gate.loader(|_| Ok::<_, Down>(String::from("one")))));
    assert!(poll!(first.as_mut()).is_pending());
    let second = cache.get_or_load(1, |_| async { Ok::<String, Other>("never".into()) });
    gate.open();
    let (a, b) = tokio::join!(first, second);
    assert!(Arc::ptr_eq(&a.unwrap(), &b.unwrap()));

    // A failure of another type cannot be handed over: the joiner loads for itself.
    let gate = GatedLoader::new();
    let mut failing = Box::pin(cache.get_or_load(2, gate.loader(|k| Err::<String, _>(Down(k)))));
    assert!(poll!(failing.as_mut()).is_pending());
    let own_calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&own_calls);
    let mut other = Box::pin(cache.get_or_load(2, move |_| {
        counted.fetch_add(1, SeqCst);
        async { Ok::<String, Other>("own".into()) }
    }));
    assert!(poll!(other.as_mut()).is_pending());
    assert_eq!(own_calls.load(SeqCst), 0, "it joined first");
    gate.open();
    assert!(matches!(failing.await, Err(LoadError::Failed(e)) if *e == Down(2)));
    assert_eq!(*other.await.unwrap(), "own");
    assert_eq!(own_calls.load(SeqCst), 1);
}

#[test]
fn load_error_is_an_error_with_a_source() {
    let failed: LoadError<Down> = LoadError::Failed(Arc::new(Down(9)));
    assert_eq!(
        failed.to_string(),
        "the loader failed: backend down for key 9"
    );
    let source = std::error::Error::source(&failed).unwrap();
    assert_eq!(source.to_string(), "backend down for key 9");
    assert!(Arc::ptr_eq(
        failed.failure().unwrap(),
        failed.clone().failure().unwrap()
    ));
    assert_eq!(
        LoadError::<Down>::Panicked.to_string(),
        "the loader panicked"
    );
    assert!(LoadError::<Down>::Cancelled.failure().is_none());
}
