//! Send/Sync/Unpin of every public type and named future.

use std::future::Ready;
use std::marker::PhantomPinned;

use asyncperf_profiler::report::{Cancelled, Entry, Futures};
use asyncperf_profiler::{
    Builder, FutureTiming, Histogram, Instrumented, Probe, Profiler, ProfilerError, Report, SortBy,
    Span, Time,
};
use static_assertions::{assert_impl_all, assert_not_impl_any};

assert_impl_all!(Profiler: Send, Sync, Clone, Unpin, std::fmt::Debug);
assert_impl_all!(Probe: Send, Sync, Clone, Unpin, std::fmt::Debug);
assert_impl_all!(Builder: Send, Sync, Clone, Unpin);
assert_impl_all!(Span<'static>: Send, Sync, Unpin);
assert_impl_all!(Time<Ready<()>>: Send, Sync, Unpin, std::future::Future);
assert_impl_all!(Instrumented<Ready<()>>: Send, Sync, Unpin, std::future::Future);
assert_impl_all!(Report: Send, Sync, Clone, Unpin);
assert_impl_all!(Entry: Send, Sync, Clone);
assert_impl_all!(Futures: Send, Sync, Copy);
assert_impl_all!(Cancelled: Send, Sync, Copy);
assert_impl_all!(Histogram: Send, Sync, Clone);
assert_impl_all!(FutureTiming: Send, Sync, Copy);
assert_impl_all!(SortBy: Send, Sync, Copy);
assert_impl_all!(ProfilerError: Send, Sync, std::error::Error);

/// A future that is not `Unpin`: the wrappers must not claim to be.
struct NotUnpin(PhantomPinned);

impl std::future::Future for NotUnpin {
    type Output = ();
    fn poll(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        std::task::Poll::Ready(())
    }
}

assert_not_impl_any!(Time<NotUnpin>: Unpin);
assert_not_impl_any!(Instrumented<NotUnpin>: Unpin);
assert_not_impl_any!(Time<std::rc::Rc<()>>: Send, Sync);
