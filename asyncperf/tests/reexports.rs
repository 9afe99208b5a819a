//! Checks that every enabled feature exposes its pattern crate under the facade.

#[cfg(feature = "prioq")]
#[test]
fn prioq_is_reexported() {
    let (tx, rx) = asyncperf::prioq::unbounded::<&str, u8>();
    tx.try_send("b", 1).unwrap();
    tx.try_send("a", 0).unwrap();
    assert_eq!(rx.try_recv(), Ok("a"));
}
