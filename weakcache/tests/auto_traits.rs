//! Send, Sync and Unpin of every public type, and Send of the `get_or_load` future.

use std::convert::Infallible;
use std::fmt::Debug;

use asyncperf_weakcache::{Builder, LoadError, Stats, WeakCache};
use static_assertions::assert_impl_all;

#[derive(Debug)]
struct NotClone;

assert_impl_all!(WeakCache<String, str>: Send, Sync, Unpin, Clone, Debug, Default);
assert_impl_all!(WeakCache<u64, NotClone>: Send, Sync, Unpin, Clone);
assert_impl_all!(Builder<u64, str>: Send, Sync, Unpin, Debug);
assert_impl_all!(LoadError<std::io::Error>: Send, Sync, Unpin, Clone, Debug, std::error::Error);
assert_impl_all!(LoadError<NotClone>: Send, Sync, Clone);
assert_impl_all!(Stats: Send, Sync, Unpin, Copy, Debug, Default, Eq);

fn assert_send<T: Send>(_: &T) {}

#[test]
fn the_get_or_load_future_is_send() {
    let cache: WeakCache<String, str> = WeakCache::new();
    let call = cache.get_or_load("k".to_owned(), |k| async move { Ok::<_, Infallible>(k) });
    assert_send(&call);

    // The loader's future lives in the load's task, not in the caller's future (moka#212):
    // a loader with a 16 KiB future does not make the call any bigger.
    let big = cache.get_or_load("k".to_owned(), |k| async move {
        let buffer = [0u8; 16 << 10];
        tokio::task::yield_now().await;
        Ok::<_, Infallible>(format!("{k}{}", buffer[0]))
    });
    assert_eq!(std::mem::size_of_val(&big), std::mem::size_of_val(&call));
}
