//! A loader that asks for its own key gets `LoadError::Cycle` instead of waiting for itself.

mod support;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use asyncperf_weakcache::{LoadError, WeakCache};
use support::HANG_GUARD;
use tokio::time::timeout;

type Cache = WeakCache<u64, String>;

#[derive(Debug, PartialEq, Eq)]
enum Error {
    Cycle,
    Other,
}

type Load = Pin<Box<dyn Future<Output = Result<String, Error>> + Send>>;

/// A loader body that first awaits (or not) and then asks the cache for `next`, whose loader
/// asks for 2 after 1, and for its own key otherwise.
fn ask(cache: Cache, next: u64, yield_first: bool) -> Load {
    Box::pin(async move {
        if yield_first {
            tokio::task::yield_now().await;
        }
        let inner = cache.clone();
        let loader = move |k: u64| ask(inner, if k == 1 { 2 } else { k }, yield_first);
        match cache.get_or_load(next, loader).await {
            Ok(value) => Ok(format!("via {value}")),
            Err(LoadError::Cycle) => Err(Error::Cycle),
            Err(LoadError::Failed(e)) => Err(Error::clone_of(&e)),
            Err(_) => Err(Error::Other),
        }
    })
}

impl Error {
    fn clone_of(e: &Arc<Self>) -> Self {
        match **e {
            Self::Cycle => Self::Cycle,
            Self::Other => Self::Other,
        }
    }
}

#[tokio::test]
async fn a_loader_asking_for_its_own_key_gets_a_cycle_error() {
    for yield_first in [false, true] {
        let cache = Cache::new();
        let inner = cache.clone();
        // The loader of 3 asks for 3.
        let result = timeout(
            HANG_GUARD,
            cache.get_or_load(3, move |k| ask(inner, k, yield_first)),
        )
        .await
        .expect("a cycle must not hang");
        assert!(
            matches!(&result, Err(LoadError::Failed(e)) if **e == Error::Cycle),
            "yield_first = {yield_first}: {result:?}"
        );
        assert_eq!(cache.len(), 0, "nothing left behind");
    }
}

#[tokio::test]
async fn a_cycle_through_a_load_it_started_is_detected() {
    // The load of 2 asks for 1, whose loader asks for 2 again.
    for yield_first in [false, true] {
        let cache = Cache::new();
        let inner = cache.clone();
        let result = timeout(
            HANG_GUARD,
            cache.get_or_load(2, move |_| ask(inner, 1, yield_first)),
        )
        .await
        .expect("a cycle must not hang");
        assert!(
            matches!(&result, Err(LoadError::Failed(e)) if **e == Error::Cycle),
            "yield_first = {yield_first}: {result:?}"
        );
        assert_eq!(cache.len(), 0);
    }
}

#[tokio::test]
async fn a_loader_may_wait_for_other_keys() {
    let cache = Cache::new();
    let base = Arc::new(String::from("base"));
    cache.insert(7, Arc::clone(&base));
    let inner = cache.clone();
    let value = cache
        .get_or_load(1, move |_| async move {
            // A hit on another key, and a load of a third one, from inside a load.
            let seven = inner.get(&7).unwrap();
            let eight = inner
                .get_or_load(8, |k| async move {
                    tokio::task::yield_now().await;
                    Ok::<_, Error>(format!("v{k}"))
                })
                .await
                .map_err(|_| Error::Other)?;
            Ok::<_, Error>(format!("{seven}+{eight}"))
        })
        .await
        .unwrap();
    assert_eq!(*value, "base+v8");
    // 8 was loaded for the load of 1 only, which dropped it: dead now.
    assert!(cache.get(&8).is_none());
}
