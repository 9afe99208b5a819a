//! Checks that every enabled feature exposes its pattern crate under the facade.

#[cfg(feature = "batcher")]
#[test]
fn batcher() {
    let batcher: asyncperf::batcher::Batcher<u64, u64, std::convert::Infallible> =
        asyncperf::batcher::Batcher::builder()
            .build(|keys: Vec<u64>| async move { Ok(keys.into_iter().map(|k| (k, k)).collect()) });
    assert_eq!(batcher.stats(), asyncperf::batcher::Stats::default());
}

#[cfg(feature = "prioq")]
#[test]
fn prioq_is_reexported() {
    let (tx, rx) = asyncperf::prioq::unbounded::<&str, u8>();
    tx.try_send("b", 1).unwrap();
    tx.try_send("a", 0).unwrap();
    assert_eq!(rx.try_recv(), Ok("a"));
}

#[cfg(feature = "pools")]
#[test]
fn pools() {
    let size = asyncperf::pools::PoolKind::HttpPerHost.recommended(8);
    assert_eq!(size.max, 30);
    let metrics = asyncperf::pools::PoolMetrics::default();
    assert_eq!(metrics.open, 0);
}

#[cfg(feature = "weakcache")]
#[test]
fn weakcache() {
    let cache: asyncperf::weakcache::WeakCache<u64, str> = asyncperf::weakcache::WeakCache::new();
    let value: std::sync::Arc<str> = std::sync::Arc::from("v");
    cache.insert(1, std::sync::Arc::clone(&value));
    assert!(std::sync::Arc::ptr_eq(&cache.get(&1).unwrap(), &value));
}

#[cfg(feature = "limiter")]
#[test]
fn limiter_is_reexported() {
    let limiter = asyncperf::limiter::Limiter::new(2);
    assert_eq!(limiter.try_acquire().map(|p| p.weight()), Ok(1));
}

#[cfg(feature = "limiter-redis")]
#[test]
fn limiter_redis_is_reexported() {
    let client = asyncperf::limiter::redis::Client::open("redis://127.0.0.1:6379").unwrap();
    // Building needs a runtime: outside one the error is typed.
    let built = asyncperf::limiter::RedisSemaphore::builder(client, "x", 1).build();
    assert!(matches!(
        built,
        Err(asyncperf::limiter::RedisSemaphoreError::NoRuntime)
    ));
}

#[cfg(feature = "profiler")]
#[test]
fn profiler() {
    let prof = asyncperf::profiler::Profiler::new();
    prof.record("x", std::time::Duration::from_millis(1));
    assert_eq!(prof.report().get("x").map(|e| e.count), Some(1));
}

#[cfg(feature = "runtime-select")]
#[test]
fn runtime_select_is_reexported() {
    let flavor: asyncperf::runtime_select::Flavor = "current_thread".parse().unwrap();
    let rt = asyncperf::runtime_select::RuntimeSelect::builder()
        .flavor(flavor)
        .build()
        .unwrap();
    assert_eq!(rt.block_on(async { 2 + 2 }), 4);
}
