//! `Send`/`Sync`/`Unpin` of every public type and named future.

use asyncperf_prioq::{
    Admission, BuildError, Builder, ClosedFuture, Permit, Receiver, RecvError, RecvFuture,
    RecvManyFuture, RecvWithPriorityFuture, ReserveFuture, SendError, SendFuture, Sender,
    TryRecvError, TrySendError,
};
use static_assertions::assert_impl_all;

/// An item that is `Send` but neither `Sync` nor `Unpin`.
type Item = (std::cell::Cell<u8>, std::marker::PhantomPinned);

assert_impl_all!(Sender<Item, u32>: Send, Sync, Unpin, Clone);
assert_impl_all!(Receiver<Item, u32>: Send, Sync, Unpin, Clone);
// Holds the item, so `Sync` only for `Sync` items.
assert_impl_all!(SendFuture<'static, Item, u32>: Send, Unpin);
assert_impl_all!(SendFuture<'static, u8, u32>: Send, Sync, Unpin);
assert_impl_all!(ReserveFuture<'static, Item, u32>: Send, Sync, Unpin);
assert_impl_all!(Permit<'static, Item, u32>: Send, Sync, Unpin);
assert_impl_all!(ClosedFuture<'static, Item, u32>: Send, Sync, Unpin);
assert_impl_all!(RecvFuture<'static, Item, u32>: Send, Sync, Unpin);
assert_impl_all!(RecvWithPriorityFuture<'static, Item, u32>: Send, Sync, Unpin);
assert_impl_all!(RecvManyFuture<'static, Item, u32>: Send, Unpin);
assert_impl_all!(RecvManyFuture<'static, u8, u32>: Send, Sync, Unpin);
assert_impl_all!(Builder<u32>: Send, Sync, Unpin);
assert_impl_all!(Admission: Send, Sync, Unpin, Copy);
assert_impl_all!(SendError<Item>: Send);
assert_impl_all!(TrySendError<Item>: Send);
assert_impl_all!(SendError<u8>: Send, Sync, Unpin);
assert_impl_all!(TrySendError<u8>: Send, Sync, Unpin);
assert_impl_all!(RecvError: Send, Sync, Unpin, std::error::Error);
assert_impl_all!(TryRecvError: Send, Sync, Unpin, std::error::Error);
assert_impl_all!(BuildError: Send, Sync, Unpin, std::error::Error);
assert_impl_all!(SendError<u8>: std::error::Error);
assert_impl_all!(TrySendError<u8>: std::error::Error);

#[test]
fn futures_are_send_for_spawning() {
    fn spawnable<F: std::future::Future + Send>(_: &F) {}
    let (tx, rx) = asyncperf_prioq::bounded::<Item, u32>(1);
    spawnable(&tx.send((std::cell::Cell::new(0), std::marker::PhantomPinned), 0));
    spawnable(&rx.recv());
}
