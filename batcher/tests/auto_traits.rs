//! `Send`/`Sync`/`Unpin` of every public type and of the futures `load` and `load_many`
//! return.

use std::future::Future;

use asyncperf_batcher::{BatchError, Batcher, Builder, Stats};
use static_assertions::assert_impl_all;

#[derive(Debug)]
struct E;

assert_impl_all!(Batcher<u64, String, E>: Send, Sync, Unpin, Clone, std::fmt::Debug);
assert_impl_all!(Builder<u64, String, E>: Send, Sync, Unpin, std::fmt::Debug);
assert_impl_all!(BatchError<E>: Send, Sync, Unpin, Clone, std::fmt::Debug);
assert_impl_all!(Stats: Send, Sync, Unpin, Copy, std::fmt::Debug, Default);

/// Key and value types that are `Send` but not `Sync` are enough.
type NotSync = std::cell::Cell<u8>;
assert_impl_all!(Batcher<u64, NotSync, E>: Send, Sync);

fn send<T: Send>(_: &T) {}

#[test]
fn load_futures_are_send() {
    let b: Batcher<u64, String, E> = Batcher::builder().build(|keys: Vec<u64>| async move {
        Ok(keys.into_iter().map(|k| (k, k.to_string())).collect())
    });
    let load = b.load(1);
    send(&load);
    let many = b.load_many(vec![1, 2]);
    send(&many);
    fn future<F: Future>(_: F) {}
    future(load);
    future(many);
}

#[test]
fn batch_error_is_a_std_error() {
    #[derive(Debug)]
    struct Displayable;
    impl std::fmt::Display for Displayable {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("displayable")
        }
    }
    fn error<T: std::error::Error + Send + Sync + 'static>(_: &T) {}
    error(&BatchError::Failed(std::sync::Arc::new(Displayable)));
}
