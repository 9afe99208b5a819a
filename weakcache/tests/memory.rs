//! Memory: one-shot keys leave nothing behind. Dead entries stay bounded without `purge`, and
//! `purge` removes them all, giving the bytes back; abandoned loads leave no entry either.
//!
//! One test in this binary, so the counting allocator sees only its allocations.

use std::convert::Infallible;
use std::sync::Arc;

use asyncperf_testkit::CountingAlloc;
use asyncperf_weakcache::WeakCache;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc::new();

const KEYS: u64 = 100_000;
const SHARDS: usize = 8;

/// A value big enough that a leaked `ArcInner` per key would show: 100k keys x 1 KiB.
struct Blob([u8; 1024]);

#[test]
fn one_shot_keys_leave_no_entries_behind() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let cache: WeakCache<u64, Blob> = WeakCache::builder().shards(SHARDS).build();
    // Warm up the runtime and the cache's tables before taking the baseline.
    rt.block_on(load_and_drop(&cache, 0..1_000));
    cache.purge();
    let baseline = ALLOC.live_bytes();
    ALLOC.reset_peak();

    // 100k keys, each loaded once and dropped by its only user.
    let mut most_entries = 0;
    for chunk in 0..KEYS / 1_000 {
        let start = 1_000 + chunk * 1_000;
        rt.block_on(load_and_drop(&cache, start..start + 1_000));
        most_entries = most_entries.max(cache.len());
    }
    let stats = cache.stats();
    assert_eq!(stats.loads, KEYS + 1_000);

    // Bounded without purge: each shard sweeps once the entries added since its last sweep
    // reach max(32, its length then), so a shard of dead keys holds fewer than 2 x 32 + 1.
    assert!(
        most_entries <= SHARDS * 65,
        "dead entries piled up: {most_entries} entries at most"
    );
    let peak_growth = ALLOC.peak_bytes() - baseline;
    assert!(
        peak_growth < 1 << 20,
        "memory grew by {peak_growth} bytes for {KEYS} one-shot keys"
    );

    // And nothing at all after purge.
    cache.purge();
    assert_eq!(cache.len(), 0);
    let left = ALLOC.live_bytes().saturating_sub(baseline);
    assert!(left < 64 << 10, "{left} bytes left after purge");

    // Loads that every caller abandons leave no entry and no task behind either. The first
    // round grows the runtime's own queues; the second must not grow anything.
    rt.block_on(abandon_loads(&cache, 0..10_000));
    let baseline = ALLOC.live_bytes();
    rt.block_on(abandon_loads(&cache, 10_000..20_000));
    assert_eq!(cache.stats().abandoned, 20_000);
    let left = ALLOC.live_bytes().saturating_sub(baseline);
    assert!(
        left < 16 << 10,
        "{left} bytes left after 10k abandoned loads"
    );
}

/// Starts a load of each key and drops its only caller at once.
async fn abandon_loads(cache: &WeakCache<u64, Blob>, keys: std::ops::Range<u64>) {
    for key in keys {
        let mut call = Box::pin(cache.get_or_load(key, |_| async {
            std::future::pending::<()>().await;
            Ok::<Blob, Infallible>(Blob([0; 1024]))
        }));
        assert!(futures::poll!(call.as_mut()).is_pending());
    }
    // The entries went with the callers; the runtime drops the aborted tasks as it runs.
    assert_eq!(cache.len(), 0);
    let runtime = tokio::runtime::Handle::current();
    while runtime.metrics().num_alive_tasks() > 0 {
        tokio::task::yield_now().await;
    }
}

async fn load_and_drop(cache: &WeakCache<u64, Blob>, keys: std::ops::Range<u64>) {
    for key in keys {
        let value: Arc<Blob> = cache
            .get_or_load(key, |k| async move {
                let mut bytes = [0u8; 1024];
                bytes[..8].copy_from_slice(&k.to_le_bytes());
                Ok::<_, Infallible>(Blob(bytes))
            })
            .await
            .unwrap();
        assert_eq!(value.0[..8], key.to_le_bytes());
    }
}
