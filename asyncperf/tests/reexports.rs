//! Checks that every enabled feature exposes its pattern crate under the facade.

#[cfg(feature = "limiter")]
#[test]
fn limiter_is_reexported() {
    let limiter = asyncperf::limiter::Limiter::new(2);
    assert_eq!(limiter.try_acquire().map(|p| p.weight()), Ok(1));
}
