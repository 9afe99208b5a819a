//! Checks that every enabled feature exposes its pattern crate under the facade.

#[cfg(feature = "runtime-select")]
#[test]
fn runtime_select_is_reexported() {
    let flavor: asyncperf::runtime_select::Flavor = "current_thread".parse().unwrap();
    let rt = asyncperf::runtime_select::RuntimeSelect::builder()
        .flavor(flavor)
        .build()
        .unwrap();
    assert_eq!(rt.block_on(async { 2 + 2 }), 4);
}
