//! `RateLimiter`: GCRA accuracy on paused time, burst, FIFO waiters, typed errors.

use std::pin::pin;
use std::time::Duration;

use asyncperf_limiter::{RateError, RateLimiter, TryRateError};
use futures::poll;
use tokio::time::{Instant, advance};

#[tokio::test(start_paused = true)]
async fn the_burst_is_available_at_once_then_one_token_per_interval() {
    let rate = RateLimiter::per_second(1000).burst(10);
    let start = Instant::now();
    for _ in 0..10 {
        assert!(rate.try_acquire().is_ok());
    }
    assert_eq!(
        rate.try_acquire(),
        Err(TryRateError::RetryAfter(Duration::from_millis(1)))
    );
    for _ in 0..10_000 {
        rate.acquire().await.unwrap();
    }
    // 10 + 10_000 tokens at 1000/s with 10 free at the start: 10 s exactly.
    assert_eq!(start.elapsed(), Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn achieved_rate_matches_over_any_window() {
    let rate = RateLimiter::per_second(200).burst(1);
    let start = Instant::now();
    let mut grants = Vec::new();
    for _ in 0..1000 {
        rate.acquire().await.unwrap();
        grants.push(start.elapsed());
    }
    // One token every 5 ms, never two closer than that.
    for pair in grants.windows(2) {
        assert_eq!(pair[1] - pair[0], Duration::from_millis(5));
    }
    assert_eq!(grants[999], Duration::from_millis(5 * 999));
}

#[tokio::test(start_paused = true)]
async fn an_idle_bucket_refills_only_up_to_the_burst() {
    let rate = RateLimiter::per_second(100).burst(5);
    for _ in 0..5 {
        rate.try_acquire().unwrap();
    }
    advance(Duration::from_secs(60)).await;
    for _ in 0..5 {
        rate.try_acquire().unwrap();
    }
    assert!(rate.try_acquire().is_err());
}

#[tokio::test(start_paused = true)]
async fn waiters_are_served_in_order_and_try_acquire_does_not_overtake_them() {
    let rate = RateLimiter::per_second(10).burst(3);
    rate.acquire_n(3).await.unwrap();
    let mut big = pin!(rate.acquire_n(3));
    let mut small = pin!(rate.acquire());
    assert!(poll!(big.as_mut()).is_pending());
    assert!(poll!(small.as_mut()).is_pending());
    assert_eq!(rate.waiting(), 2);
    // The queue is owed 4 tokens (3 + 1), served at 300 and 400 ms: a newcomer's token
    // comes after them, at 500 ms.
    assert_eq!(
        rate.try_acquire(),
        Err(TryRateError::RetryAfter(Duration::from_millis(500)))
    );
    advance(Duration::from_millis(100)).await;
    // One token has refilled: the small request could fit, but the big one is first.
    assert!(poll!(small.as_mut()).is_pending());
    let start = Instant::now();
    big.as_mut().await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(200));
    small.as_mut().await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(300));
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_waiter_takes_nothing_and_lets_the_next_one_go() {
    let rate = RateLimiter::per_second(10).burst(1);
    rate.acquire().await.unwrap();
    let mut first = Box::pin(rate.acquire());
    let mut second = pin!(rate.acquire());
    assert!(poll!(first.as_mut()).is_pending());
    assert!(poll!(second.as_mut()).is_pending());
    drop(first);
    let start = Instant::now();
    second.await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(100));
    assert_eq!(rate.waiting(), 0);
}

#[tokio::test(start_paused = true)]
async fn clones_share_one_budget() {
    let a = RateLimiter::per_second(10).burst(2);
    let b = a.clone();
    a.try_acquire().unwrap();
    b.try_acquire().unwrap();
    assert!(a.try_acquire().is_err());
    assert!(b.try_acquire().is_err());
}

#[tokio::test]
async fn impossible_requests_fail_at_once() {
    assert_eq!(
        RateLimiter::per_second(0).acquire().await,
        Err(RateError::ZeroRate)
    );
    assert_eq!(
        RateLimiter::per_second(5).burst(0).acquire().await,
        Err(RateError::ZeroBurst)
    );
    assert_eq!(
        RateLimiter::new(5, Duration::ZERO).check(),
        Err(RateError::ZeroRate)
    );
    let rate = RateLimiter::per_minute(60).burst(4);
    assert!(rate.check().is_ok());
    assert_eq!(
        rate.acquire_n(5).await,
        Err(RateError::ExceedsBurst {
            requested: 5,
            burst: 4
        })
    );
    let err = rate.try_acquire_n(5).unwrap_err();
    assert_eq!(err.retry_after(), None);
    assert_eq!(rate.acquire_n(0).await, Ok(()));
}
