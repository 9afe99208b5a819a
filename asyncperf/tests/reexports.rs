//! Checks that every enabled feature exposes its pattern crate under the facade.

#[cfg(feature = "batcher")]
#[test]
fn batcher() {
    let batcher: asyncperf::batcher::Batcher<u64, u64, std::convert::Infallible> =
        asyncperf::batcher::Batcher::builder()
            .build(|keys: Vec<u64>| async move { Ok(keys.into_iter().map(|k| (k, k)).collect()) });
    assert_eq!(batcher.stats(), asyncperf::batcher::Stats::default());
}
