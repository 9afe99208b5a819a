//! The hit path allocates nothing: `get`, and `get_or_load` of a live key (whose loader is
//! dropped uncalled). One test in this binary, so the counting allocator sees only its own.

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use asyncperf_testkit::CountingAlloc;
use asyncperf_weakcache::WeakCache;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc::new();

#[test]
fn hits_allocate_nothing() {
    let cache: WeakCache<u64, [u8; 64]> = WeakCache::new();
    let held: Vec<Arc<[u8; 64]>> = (0..1_000u64)
        .map(|key| {
            let value = Arc::new([0; 64]);
            cache.insert(key, Arc::clone(&value));
            value
        })
        .collect();

    let (allocations, hits) =
        ALLOC.count_allocations(|| (0..1_000u64).filter(|key| cache.get(key).is_some()).count());
    assert_eq!((allocations, hits), (0, 1_000), "get");

    let (allocations, hits) = ALLOC.count_allocations(|| {
        let mut cx = Context::from_waker(Waker::noop());
        (0..1_000u64)
            .filter(|&key| {
                let call = pin!(cache.get_or_load(key, |_| async { Ok::<_, Infallible>([1; 64]) }));
                matches!(call.poll(&mut cx), Poll::Ready(Ok(v)) if v[0] == 0)
            })
            .count()
    });
    assert_eq!((allocations, hits), (0, 1_000), "get_or_load");
    assert_eq!(cache.stats().loads, 0);
    drop(held);
}
