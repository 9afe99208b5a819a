//! Single flight: however many callers ask for a missing key, and whichever of them go away,
//! the loader runs once per flight, and a flight nobody waits for is stopped and forgotten.

mod support;

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;

use asyncperf_weakcache::{LoadError, WeakCache};
use futures::future::join_all;
use futures::poll;
use support::{GatedLoader, until};

type Cache = WeakCache<u64, String>;
type Call<'a> = Pin<Box<dyn Future<Output = Result<Arc<String>, LoadError<Infallible>>> + 'a>>;

fn value(key: u64) -> Result<String, Infallible> {
    Ok(format!("value {key}"))
}

/// `n` calls for `key`, each polled once, so each has started or joined the load.
async fn started_calls<'a>(
    cache: &'a Cache,
    gate: &GatedLoader,
    key: u64,
    n: usize,
) -> Vec<Call<'a>> {
    let mut calls: Vec<Call<'a>> = (0..n)
        .map(|_| Box::pin(cache.get_or_load(key, gate.loader(value))) as Call<'a>)
        .collect();
    for call in &mut calls {
        assert!(poll!(call.as_mut()).is_pending(), "the gate is closed");
    }
    calls
}

#[tokio::test]
async fn a_thousand_callers_share_one_load() {
    let cache = Cache::new();
    let gate = GatedLoader::new();
    let calls = started_calls(&cache, &gate, 7, 1000).await;
    assert_eq!(gate.calls(), 1);
    assert_eq!(cache.len(), 1, "one in-flight entry");
    assert_eq!(cache.get(&7), None, "a load in flight is not a value");

    gate.open();
    let values: Vec<_> = join_all(calls)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(gate.calls(), 1);
    assert!(values.iter().all(|v| Arc::ptr_eq(v, &values[0])));
    assert_eq!(*values[0], "value 7");
    assert!(Arc::ptr_eq(&cache.get(&7).unwrap(), &values[0]));

    let stats = cache.stats();
    assert_eq!((stats.loads, stats.coalesced, stats.misses), (1, 999, 1001));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_tasks_on_two_threads_share_one_load() {
    let cache = Cache::new();
    let gate = GatedLoader::new();
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let (cache, loader) = (cache.clone(), gate.loader(value));
            tokio::spawn(async move { cache.get_or_load(7, loader).await })
        })
        .collect();
    // Every task has started or joined the load before it may finish.
    until(|| {
        let stats = cache.stats();
        stats.loads + stats.coalesced == 1000
    })
    .await;
    gate.open();
    let values: Vec<_> = join_all(tasks)
        .await
        .into_iter()
        .map(|joined| joined.unwrap().unwrap())
        .collect();
    assert_eq!(gate.calls(), 1);
    assert!(values.iter().all(|v| Arc::ptr_eq(v, &values[0])));
}

#[tokio::test]
async fn the_load_outlives_the_caller_that_started_it() {
    let cache = Cache::new();
    let gate = GatedLoader::new();
    let mut calls = started_calls(&cache, &gate, 7, 1000).await;
    drop(calls.remove(0)); // the leader

    gate.open();
    let values: Vec<_> = join_all(calls)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(gate.calls(), 1, "no second load");
    assert_eq!(gate.finished(), 1);
    assert_eq!(values.len(), 999);
    assert!(values.iter().all(|v| Arc::ptr_eq(v, &values[0])));
    assert_eq!(cache.stats().abandoned, 0);
}

#[tokio::test]
async fn a_load_nobody_waits_for_is_aborted_and_forgotten() {
    let cache = Cache::new();
    let gate = GatedLoader::new();
    let calls = started_calls(&cache, &gate, 7, 100).await;
    assert_eq!(cache.len(), 1);
    drop(calls);

    // The entry goes with the last caller; the task's future is dropped on the runtime.
    assert_eq!(cache.len(), 0);
    assert_eq!(cache.stats().abandoned, 1);
    until(|| gate.dropped() == 1).await;
    assert_eq!(gate.finished(), 0, "the loader never completed");

    // The next call starts afresh.
    gate.open();
    let value = cache.get_or_load(7, gate.loader(value)).await.unwrap();
    assert_eq!(*value, "value 7");
    assert_eq!(gate.calls(), 2);
}

#[tokio::test]
async fn the_load_goes_on_while_its_task_is_not_polled_by_any_caller() {
    // moka#240: a leader that is polled once and then never again stalls every waiter there.
    // Here the load runs in its own task, so a waiter arriving later still gets the value.
    let cache = Cache::new();
    let gate = GatedLoader::new();
    let mut stalled = Box::pin(cache.get_or_load(7, gate.loader(value)));
    assert!(poll!(stalled.as_mut()).is_pending());
    gate.open();
    let value = cache.get_or_load(7, gate.loader(value)).await.unwrap();
    assert_eq!(*value, "value 7");
    assert_eq!(gate.calls(), 1);
    assert!(Arc::ptr_eq(&stalled.await.unwrap(), &value));
}

#[tokio::test]
async fn a_caller_dropped_after_the_load_finished_loses_nothing() {
    let cache = Cache::new();
    let gate = GatedLoader::new();
    let mut calls = started_calls(&cache, &gate, 7, 2).await;
    gate.open();
    // Let the load finish and wake both callers, then drop one before it reads the value.
    let second = calls.pop().unwrap();
    let value = calls.pop().unwrap().await.unwrap();
    drop(second);
    assert_eq!(cache.stats().abandoned, 0);
    assert!(Arc::ptr_eq(&cache.get(&7).unwrap(), &value));
}

#[tokio::test]
async fn distinct_keys_load_independently() {
    let cache = Cache::new();
    let gate = GatedLoader::new();
    let calls: Vec<_> = (0..100)
        .map(|k| cache.get_or_load(k, gate.loader(value)))
        .collect();
    gate.open();
    let values = join_all(calls).await;
    assert_eq!(gate.calls(), 100);
    for (k, v) in values.into_iter().enumerate() {
        assert_eq!(*v.unwrap(), format!("value {k}"));
    }
}
