//! The cache's everyday behaviour: weak holding, lookups, writes, sweeping and counters.

use std::convert::Infallible;
use std::hash::BuildHasherDefault;
use std::sync::Arc;

use asyncperf_weakcache::{Stats, WeakCache};

async fn load(cache: &WeakCache<u64, String>, key: u64) -> Arc<String> {
    cache
        .get_or_load(key, |k| async move { Ok::<_, Infallible>(format!("v{k}")) })
        .await
        .unwrap()
}

#[tokio::test]
async fn a_value_lives_in_the_cache_while_someone_holds_it() {
    let cache = WeakCache::new();
    let value = load(&cache, 1).await;
    assert!(Arc::ptr_eq(&cache.get(&1).unwrap(), &value));
    // A hit does not call the loader.
    let again = cache
        .get_or_load(1, |_| async {
            panic!("not called on a hit") as Result<String, Infallible>
        })
        .await
        .unwrap();
    assert!(Arc::ptr_eq(&again, &value));
    drop((value, again));
    assert_eq!(cache.get(&1), None, "nobody holds it any more");
    assert_eq!(cache.len(), 0, "the dead entry was removed when found");
    assert_eq!(cache.stats().purged, 1);
}

#[tokio::test]
async fn a_dropped_value_is_loaded_again() {
    let cache = WeakCache::new();
    drop(load(&cache, 1).await);
    assert_eq!(cache.len(), 1, "dead but not yet found");
    let value = load(&cache, 1).await;
    assert_eq!(*value, "v1");
    assert_eq!(cache.len(), 1);
    let stats = cache.stats();
    assert_eq!((stats.loads, stats.purged, stats.hits), (2, 1, 0));
}

#[test]
fn insert_get_and_invalidate() {
    let cache: WeakCache<String, str> = WeakCache::new();
    let a: Arc<str> = Arc::from("a");
    assert_eq!(cache.insert("k".into(), Arc::clone(&a)), None);
    assert!(
        Arc::ptr_eq(&cache.get("k").unwrap(), &a),
        "borrowed lookups"
    );
    let b: Arc<str> = Arc::from("b");
    let previous = cache.insert("k".into(), Arc::clone(&b)).unwrap();
    assert!(Arc::ptr_eq(&previous, &a));
    assert!(Arc::ptr_eq(&cache.get("k").unwrap(), &b));

    assert!(cache.invalidate("k"));
    assert_eq!(cache.get("k"), None);
    assert!(!cache.invalidate("k"), "nothing left to remove");
    assert_eq!(cache.len(), 0);
    // The values themselves are untouched.
    assert_eq!((&*a, &*b), ("a", "b"));
}

#[test]
fn inserting_a_value_nobody_keeps_stores_nothing_useful() {
    let cache: WeakCache<u64, u64> = WeakCache::new();
    assert_eq!(cache.insert(1, Arc::new(1)), None);
    assert_eq!(cache.get(&1), None);
    assert!(!cache.invalidate(&1), "a dead entry is not a live one");
}

#[tokio::test]
async fn unsized_values_and_arc_returning_loaders() {
    let cache: WeakCache<u64, str> = WeakCache::new();
    let s = cache
        .get_or_load(1, |k| async move { Ok::<_, Infallible>(format!("v{k}")) })
        .await
        .unwrap();
    assert_eq!(&*s, "v1");
    let shared: Arc<str> = Arc::from("shared");
    let loaded = {
        let shared = Arc::clone(&shared);
        cache
            .get_or_load(2, |_| async move { Ok::<_, Infallible>(shared) })
            .await
            .unwrap()
    };
    assert!(
        Arc::ptr_eq(&loaded, &shared),
        "an Arc from the loader is stored as is"
    );
}

#[test]
fn hits_need_no_runtime() {
    let cache: WeakCache<u64, u64> = WeakCache::new();
    let value = Arc::new(5);
    cache.insert(1, Arc::clone(&value));
    let hit =
        futures::executor::block_on(cache.get_or_load(1, |_| async { Ok::<u64, Infallible>(0) }));
    assert!(Arc::ptr_eq(&hit.unwrap(), &value));
}

#[test]
#[should_panic(expected = "inside a Tokio runtime")]
fn a_load_outside_a_runtime_panics_with_a_clear_message() {
    let cache: WeakCache<u64, u64> = WeakCache::new();
    let _ =
        futures::executor::block_on(cache.get_or_load(1, |_| async { Ok::<u64, Infallible>(0) }));
}

#[tokio::test]
async fn purge_removes_every_dead_entry_and_len_counts_them_until_then() {
    let cache = WeakCache::builder().shards(4).build();
    let kept: Vec<_> = futures::future::join_all((0..100).map(|k| load(&cache, k))).await;
    let (keep, drop_these): (Vec<_>, Vec<_>) = kept
        .into_iter()
        .partition(|v| v.trim_start_matches('v').parse::<u64>().unwrap() % 4 == 0);
    drop(drop_these);
    assert_eq!(
        cache.len(),
        100,
        "len is an upper bound until dead entries are found"
    );
    assert_eq!(cache.purge(), 75);
    assert_eq!(cache.len(), 25);
    assert_eq!(cache.purge(), 0);
    for v in &keep {
        let k: u64 = v.trim_start_matches('v').parse().unwrap();
        assert!(Arc::ptr_eq(&cache.get(&k).unwrap(), v));
    }
    drop(keep);
    assert_eq!(cache.purge(), 25);
    assert!(cache.is_empty());
    assert_eq!(cache.stats().purged, 100);
}

#[tokio::test]
async fn stats_count_what_happened() {
    let cache = WeakCache::new();
    assert_eq!(cache.stats(), Stats::default());
    let v = load(&cache, 1).await; // miss, load
    let _hit = load(&cache, 1).await; // hit
    assert!(cache.get(&1).is_some()); // hit
    assert!(cache.get(&2).is_none()); // miss
    let stats = cache.stats();
    assert_eq!(
        (
            stats.hits,
            stats.misses,
            stats.loads,
            stats.coalesced,
            stats.failed,
            stats.abandoned
        ),
        (2, 2, 1, 0, 0, 0)
    );
    drop(v);
}

#[tokio::test]
async fn a_value_whose_drop_uses_the_cache_does_not_deadlock() {
    struct Reentrant {
        cache: WeakCache<u64, Reentrant>,
        key: u64,
    }
    impl Drop for Reentrant {
        fn drop(&mut self) {
            // Runs when the last Arc goes: possibly right after a cache operation.
            let _ = self.cache.get(&self.key);
            self.cache.invalidate(&(self.key + 1));
            let _ = self.cache.len();
        }
    }
    let cache: WeakCache<u64, Reentrant> = WeakCache::new();
    let value = Arc::new(Reentrant {
        cache: cache.clone(),
        key: 1,
    });
    cache.insert(1, Arc::clone(&value));
    // `insert` over a live value hands the previous one back; dropping it re-enters.
    drop(cache.insert(
        1,
        Arc::new(Reentrant {
            cache: cache.clone(),
            key: 1,
        }),
    ));
    drop(value);
    let loaded = {
        let inner = cache.clone();
        cache
            .get_or_load(2, move |k| async move {
                Ok::<_, Infallible>(Reentrant {
                    cache: inner,
                    key: k,
                })
            })
            .await
            .unwrap()
    };
    drop(loaded);
    // Each value's drop found its own dead entry and removed it.
    assert_eq!(cache.purge(), 0);
    assert!(cache.is_empty());
}

#[tokio::test]
async fn a_custom_hasher_and_shard_count() {
    #[derive(Default)]
    struct Fnv(u64);
    impl std::hash::Hasher for Fnv {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, bytes: &[u8]) {
            for b in bytes {
                self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
            }
        }
    }
    let cache: WeakCache<u64, String, BuildHasherDefault<Fnv>> = WeakCache::builder()
        .shards(3)
        .hasher(BuildHasherDefault::default())
        .build();
    assert!(
        format!("{cache:?}").contains("shards: 4"),
        "rounded up to a power of two"
    );
    let cache = &cache;
    let values: Vec<_> = futures::future::join_all((0..64).map(|k| async move {
        cache
            .get_or_load(k, |k| async move { Ok::<_, Infallible>(format!("v{k}")) })
            .await
            .unwrap()
    }))
    .await;
    for (k, v) in values.iter().enumerate() {
        assert!(Arc::ptr_eq(&cache.get(&(k as u64)).unwrap(), v));
    }
    let with_hasher: WeakCache<u64, u64, BuildHasherDefault<Fnv>> =
        WeakCache::with_hasher(BuildHasherDefault::default());
    assert!(with_hasher.is_empty());
}
