//! Send/Sync/Unpin of every public type.

use asyncperf_runtime_select::{
    Builder, Error, Flavor, Listeners, MeasuredRow, MeasuredTable, ParseFlavorError,
    ParseTableError, ParseWorkloadError, Recommendation, RejectReason, Rejection, RuntimeConfig,
    RuntimeSelect, Selection, Shard, ShutdownReport, ShutdownSignal, ThreadPerCore, Unavailable,
    Workload,
};
use static_assertions::assert_impl_all;

assert_impl_all!(RuntimeSelect: Send, Sync, Unpin);
assert_impl_all!(ThreadPerCore: Send, Sync, Unpin);
assert_impl_all!(Shard: Send, Sync, Unpin, Clone);
assert_impl_all!(Builder: Send, Sync, Unpin, Clone);
assert_impl_all!(Listeners: Send, Sync, Unpin);
assert_impl_all!(ShutdownSignal: Send, Sync, Unpin, Clone);
assert_impl_all!(ShutdownReport: Send, Sync, Unpin, Copy);
assert_impl_all!(Selection: Send, Sync, Unpin, Clone);
assert_impl_all!(Rejection: Send, Sync, Unpin, Clone);
assert_impl_all!(RejectReason: Send, Sync, Unpin, Clone, std::error::Error);
assert_impl_all!(Unavailable: Send, Sync, Unpin, Clone, std::error::Error);
assert_impl_all!(Error: Send, Sync, Unpin, std::error::Error);
assert_impl_all!(ParseFlavorError: Send, Sync, Unpin, std::error::Error);
assert_impl_all!(ParseWorkloadError: Send, Sync, Unpin, std::error::Error);
assert_impl_all!(ParseTableError: Send, Sync, Unpin, std::error::Error);
assert_impl_all!(Flavor: Send, Sync, Unpin, Copy);
assert_impl_all!(Workload: Send, Sync, Unpin, Copy);
assert_impl_all!(RuntimeConfig: Send, Sync, Unpin, Clone);
assert_impl_all!(MeasuredTable: Send, Sync, Unpin, Clone);
assert_impl_all!(MeasuredRow: Send, Sync, Unpin, Clone);
assert_impl_all!(Recommendation: Send, Sync, Unpin, Clone);

#[test]
fn the_shutdown_signal_future_is_send() {
    fn is_send<T: Send>(_: &T) {}
    let signal = ShutdownSignal::default();
    is_send(&signal.requested());
}
