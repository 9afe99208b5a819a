//! `Send`/`Sync`/`Unpin` of every public type and named future.

use std::convert::Infallible;
use std::future::Ready;

use asyncperf_limiter::plumbing::*;
use asyncperf_limiter::*;
use static_assertions::{assert_impl_all, assert_not_impl_any};

type Items = std::vec::IntoIter<u32>;
type Plain = fn(u32) -> Ready<u32>;
type Fallible = fn(u32) -> Ready<Result<u32, Infallible>>;

assert_impl_all!(Limiter: Send, Sync, Unpin, Clone, std::fmt::Debug);
assert_impl_all!(Permit: Send, Sync, Unpin, std::fmt::Debug);
assert_impl_all!(Acquire: Send, Sync, Unpin, std::fmt::Debug);
assert_impl_all!(Snapshot: Send, Sync, Unpin, Copy);
assert_impl_all!(RateLimiter: Send, Sync, Unpin, Clone, std::fmt::Debug);
assert_impl_all!(RateAcquire: Send, Sync, Unpin, std::fmt::Debug);

assert_impl_all!(MapUnordered<Items, Plain>: Send, Sync, Unpin, std::fmt::Debug);
assert_impl_all!(MapOrdered<Items, Plain>: Send, Sync, Unpin, std::fmt::Debug);
assert_impl_all!(ProcessAll<Items, Plain>: Send, Sync, Unpin, std::fmt::Debug);
assert_impl_all!(MapStream<IterInput<Items>, LocalItems<Fallible>>: Send, Sync, Unpin);
assert_impl_all!(MapStream<IterInput<Items>, SpawnedItems<Fallible>>: Send, Sync, Unpin);
assert_impl_all!(MapBuilder<IterInput<Items>, Fallible>: Send, Sync, Unpin);
assert_impl_all!(Indexed<u32>: Send, Sync, Unpin, Copy);

assert_impl_all!(AcquireError: Send, Sync, Unpin, std::error::Error, Copy);
assert_impl_all!(TryAcquireError: Send, Sync, Unpin, std::error::Error, Copy);
assert_impl_all!(ConfigError: Send, Sync, Unpin, std::error::Error, Copy);
assert_impl_all!(RateError: Send, Sync, Unpin, std::error::Error, Copy);
assert_impl_all!(TryRateError: Send, Sync, Unpin, std::error::Error, Copy);
assert_impl_all!(ItemError<std::io::Error>: Send, Sync, Unpin, std::error::Error);
assert_impl_all!(PanicPayload: Send, Sync, Unpin, std::fmt::Debug);
// A permit is returned by `Drop`, never duplicated.
assert_not_impl_any!(Permit: Clone);

// The futures of the `async` methods can be spawned.
#[allow(dead_code)]
fn async_methods_are_send_and_static(limiter: &Limiter) {
    fn spawnable<F: std::future::Future + Send + 'static>(_: F) {}
    spawnable(limiter.acquire_timeout(std::time::Duration::from_secs(1)));
    spawnable(limiter.run(async {}));
    spawnable(limiter.run_with_timeout(std::time::Duration::from_secs(1), async {}));
    spawnable(process_all(vec![1u32], 1, |i| async move { i }));
    spawnable(
        map(vec![1u32], 1, |i| async move { Ok::<_, Infallible>(i) })
            .unordered()
            .unwrap()
            .try_collect(),
    );
}

#[cfg(feature = "redis")]
mod redis_types {
    use asyncperf_limiter::*;
    use static_assertions::{assert_impl_all, assert_not_impl_any};

    assert_impl_all!(RedisSemaphore: Send, Sync, Unpin, Clone, std::fmt::Debug);
    assert_impl_all!(RedisSemaphoreBuilder: Send, Sync, Unpin, std::fmt::Debug);
    assert_impl_all!(RedisPermit: Send, Sync, Unpin, std::fmt::Debug);
    assert_impl_all!(RedisSnapshot: Send, Sync, Unpin, Copy, std::fmt::Debug);
    assert_impl_all!(RedisRateLimiter: Send, Sync, Unpin, Clone, std::fmt::Debug);
    assert_impl_all!(RedisRateLimiterBuilder: Send, Sync, Unpin, std::fmt::Debug);
    assert_impl_all!(RateDecision: Send, Sync, Unpin, Copy, std::fmt::Debug);
    assert_impl_all!(TimeSource: Send, Sync, Unpin, Copy, std::fmt::Debug, Default);
    assert_impl_all!(RedisSemaphoreError: Send, Sync, Unpin, Clone, std::error::Error);
    assert_impl_all!(RedisRateError: Send, Sync, Unpin, Clone, std::error::Error);
    // A permit is released by `Drop` (or `release`), never duplicated.
    assert_not_impl_any!(RedisPermit: Clone);

    // The futures can be spawned.
    #[allow(dead_code)]
    fn futures_are_send(semaphore: &RedisSemaphore, rate: &RedisRateLimiter, permit: RedisPermit) {
        fn spawnable<F: std::future::Future + Send + 'static>(_: F) {}
        fn sendable<F: std::future::Future + Send>(_: F) {}
        spawnable(semaphore.acquire());
        spawnable(semaphore.acquire_timeout(std::time::Duration::from_secs(1)));
        spawnable(semaphore.flush());
        spawnable(permit.lost());
        spawnable(permit.release());
        sendable(rate.allow("k"));
        sendable(rate.acquire_n("k", 2));
        sendable(rate.reset("k"));
    }
}
