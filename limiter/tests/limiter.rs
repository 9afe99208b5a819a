//! `Limiter`: FIFO fairness, weights, shrink with debt, close, timeouts, cancellation.

use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use asyncperf_limiter::{AcquireError, Limiter, TryAcquireError};
use futures::poll;

#[tokio::test(start_paused = true)]
async fn waiters_are_served_in_arrival_order() {
    let limiter = Limiter::new(1);
    let held = limiter.acquire().await.unwrap();
    let mut a = pin!(limiter.acquire());
    let mut b = pin!(limiter.acquire());
    let mut c = pin!(limiter.acquire());
    assert!(poll!(a.as_mut()).is_pending());
    assert!(poll!(b.as_mut()).is_pending());
    assert!(poll!(c.as_mut()).is_pending());
    assert_eq!(limiter.snapshot().waiting, 3);
    // A newcomer cannot overtake the queue, even when permits are free for a moment.
    assert_eq!(
        limiter.try_acquire().unwrap_err(),
        TryAcquireError::NoPermits
    );

    drop(held);
    // `c` is polled first but `a` is at the front: only `a` got the permit.
    assert!(poll!(c.as_mut()).is_pending());
    assert!(poll!(b.as_mut()).is_pending());
    let pa = match poll!(a.as_mut()) {
        Poll::Ready(Ok(p)) => p,
        other => panic!("a: {other:?}"),
    };
    drop(pa);
    assert!(poll!(c.as_mut()).is_pending());
    let Poll::Ready(Ok(pb)) = poll!(b.as_mut()) else {
        panic!("b was next")
    };
    drop(pb);
    assert!(matches!(poll!(c.as_mut()), Poll::Ready(Ok(_))));
    let s = limiter.snapshot();
    assert_eq!((s.in_flight, s.available, s.waiting), (0, 1, 0));
}

#[tokio::test]
async fn a_heavy_request_at_the_front_is_not_starved_by_light_ones() {
    let limiter = Limiter::new(10);
    let six = limiter.acquire_weighted(6).await.unwrap();
    let mut five = pin!(limiter.acquire_weighted(5));
    let mut one = pin!(limiter.acquire());
    assert!(poll!(five.as_mut()).is_pending());
    // 4 permits are free, but the light request waits behind the heavy one (FIFO).
    assert!(poll!(one.as_mut()).is_pending());
    assert_eq!(limiter.snapshot().available, 4);
    drop(six);
    let Poll::Ready(Ok(five)) = poll!(five.as_mut()) else {
        panic!("five fits now")
    };
    assert_eq!(five.weight(), 5);
    assert!(matches!(poll!(one.as_mut()), Poll::Ready(Ok(_))));
}

#[tokio::test]
async fn requests_above_the_limit_fail_at_once() {
    let limiter = Limiter::new(4);
    let err = limiter.acquire_weighted(5).await.unwrap_err();
    assert_eq!(
        err,
        AcquireError::ExceedsLimit {
            requested: 5,
            limit: 4
        }
    );
    let zero = Limiter::new(0);
    assert!(matches!(
        zero.acquire().await,
        Err(AcquireError::ExceedsLimit { limit: 0, .. })
    ));
    assert!(matches!(
        zero.try_acquire(),
        Err(TryAcquireError::ExceedsLimit { limit: 0, .. })
    ));
    // Weight 0 is granted at once and returns nothing.
    let empty = zero.acquire_weighted(0).await.unwrap();
    assert_eq!(empty.weight(), 0);
}

#[tokio::test]
async fn shrinking_never_revokes_and_releases_pay_the_debt_first() {
    let limiter = Limiter::new(4);
    let mut held: Vec<_> = (0..4).map(|_| limiter.try_acquire().unwrap()).collect();
    limiter.set_limit(2);
    let s = limiter.snapshot();
    assert_eq!((s.limit, s.in_flight, s.available, s.debt), (2, 4, 0, 2));

    let mut waiter = pin!(limiter.acquire());
    assert!(poll!(waiter.as_mut()).is_pending());
    held.pop();
    assert!(poll!(waiter.as_mut()).is_pending(), "debt 1 left");
    held.pop();
    assert_eq!(limiter.snapshot().debt, 0);
    assert!(
        poll!(waiter.as_mut()).is_pending(),
        "2 held = the new limit"
    );
    held.pop();
    let Poll::Ready(Ok(_p)) = poll!(waiter.as_mut()) else {
        panic!("a permit is free under the new limit")
    };
    assert_eq!(limiter.snapshot().in_flight, 2);
}

#[tokio::test]
async fn growing_serves_waiters_and_cancels_debt() {
    let limiter = Limiter::new(2);
    let held: Vec<_> = (0..2).map(|_| limiter.try_acquire().unwrap()).collect();
    limiter.set_limit(1);
    assert_eq!(limiter.snapshot().debt, 1);
    let mut waiter = pin!(limiter.acquire());
    assert!(poll!(waiter.as_mut()).is_pending());
    limiter.set_limit(2);
    assert_eq!(limiter.snapshot().debt, 0);
    assert!(poll!(waiter.as_mut()).is_pending());
    limiter.set_limit(3);
    assert!(matches!(poll!(waiter.as_mut()), Poll::Ready(Ok(_))));
    drop(held);
}

#[tokio::test]
async fn shrinking_below_a_queued_request_fails_it_instead_of_hanging() {
    let limiter = Limiter::new(8);
    let held = limiter.acquire_weighted(8).await.unwrap();
    let mut heavy = pin!(limiter.acquire_weighted(6));
    let mut light = pin!(limiter.acquire_weighted(2));
    assert!(poll!(heavy.as_mut()).is_pending());
    assert!(poll!(light.as_mut()).is_pending());
    limiter.set_limit(4);
    assert!(matches!(
        poll!(heavy.as_mut()),
        Poll::Ready(Err(AcquireError::ExceedsLimit {
            requested: 6,
            limit: 4
        }))
    ));
    assert!(poll!(light.as_mut()).is_pending());
    drop(held);
    assert!(matches!(poll!(light.as_mut()), Poll::Ready(Ok(_))));
}

#[tokio::test]
async fn close_fails_waiters_and_new_requests_but_keeps_held_permits() {
    let limiter = Limiter::new(1);
    let held = limiter.acquire().await.unwrap();
    let mut waiter = pin!(limiter.acquire());
    assert!(poll!(waiter.as_mut()).is_pending());
    limiter.close();
    limiter.close();
    assert!(matches!(
        poll!(waiter.as_mut()),
        Poll::Ready(Err(AcquireError::Closed))
    ));
    assert_eq!(limiter.acquire().await.unwrap_err(), AcquireError::Closed);
    assert_eq!(limiter.try_acquire().unwrap_err(), TryAcquireError::Closed);
    assert!(limiter.is_closed());
    drop(held);
    let s = limiter.snapshot();
    assert_eq!((s.in_flight, s.available, s.waiting), (0, 1, 0));
}

#[tokio::test]
async fn dropping_a_granted_but_unclaimed_acquire_returns_its_permit() {
    let limiter = Limiter::new(1);
    let held = limiter.acquire().await.unwrap();
    let mut first = Box::pin(limiter.acquire());
    let mut second = pin!(limiter.acquire());
    assert!(poll!(first.as_mut()).is_pending());
    assert!(poll!(second.as_mut()).is_pending());
    drop(held); // granted to `first`, which is never polled again
    assert_eq!(limiter.snapshot().in_flight, 1);
    drop(first);
    assert!(
        matches!(poll!(second.as_mut()), Poll::Ready(Ok(_))),
        "the permit passed on"
    );
}

#[tokio::test]
async fn dropping_a_heavy_front_waiter_lets_the_ones_behind_it_in() {
    let limiter = Limiter::new(4);
    let held = limiter.acquire_weighted(3).await.unwrap();
    let mut heavy = Box::pin(limiter.acquire_weighted(4));
    let mut light = pin!(limiter.acquire());
    assert!(poll!(heavy.as_mut()).is_pending());
    assert!(poll!(light.as_mut()).is_pending());
    drop(heavy);
    assert!(matches!(poll!(light.as_mut()), Poll::Ready(Ok(_))));
    drop(held);
}

#[tokio::test(start_paused = true)]
async fn acquire_timeout_gives_up_and_leaves_the_queue() {
    let limiter = Limiter::new(1);
    let held = limiter.acquire().await.unwrap();
    let start = tokio::time::Instant::now();
    let err = limiter
        .acquire_timeout(Duration::from_secs(1))
        .await
        .unwrap_err();
    assert_eq!(err, AcquireError::Elapsed);
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    assert_eq!(limiter.snapshot().waiting, 0);
    drop(held);
    assert!(
        limiter
            .acquire_timeout(Duration::from_secs(1))
            .await
            .is_ok()
    );
}

#[tokio::test(start_paused = true)]
async fn run_holds_a_permit_while_the_future_runs() {
    let limiter = Limiter::new(2);
    let l = limiter.clone();
    let out = limiter
        .run(async move { l.snapshot().in_flight })
        .await
        .unwrap();
    assert_eq!(out, 1);
    assert_eq!(limiter.snapshot().in_flight, 0);

    let slow = limiter.run_with_timeout(
        Duration::from_millis(10),
        tokio::time::sleep(Duration::from_secs(1)),
    );
    assert_eq!(slow.await.unwrap_err(), AcquireError::Elapsed);
    assert_eq!(
        limiter.snapshot().in_flight,
        0,
        "the permit went back on timeout"
    );
    let fast = limiter.run_with_timeout(Duration::from_secs(1), async { 7 });
    assert_eq!(fast.await, Ok(7));

    limiter.close();
    assert_eq!(
        limiter.run(async { unreachable!() }).await,
        Err::<(), _>(AcquireError::Closed)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owned_permits_move_into_spawned_tasks() {
    let limiter = Limiter::new(3);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let permit = limiter.acquire().await.unwrap();
        let l = limiter.clone();
        tasks.push(tokio::spawn(async move {
            assert!(l.snapshot().in_flight <= 3);
            tokio::task::yield_now().await;
            drop(permit);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(limiter.snapshot().available, 3);
}

#[test]
fn permits_split_and_report_their_limiter() {
    let limiter = Limiter::new(5);
    let mut permit = limiter.try_acquire_weighted(5).unwrap();
    let two = permit.split(2).unwrap();
    assert_eq!((permit.weight(), two.weight()), (3, 2));
    assert!(permit.split(4).is_none());
    assert!(two.limiter().same_limiter(&limiter));
    drop(two);
    assert_eq!(limiter.snapshot().available, 2);
    drop(permit);
    assert_eq!(limiter.snapshot().available, 5);
    assert!(format!("{limiter:?}").contains("limit: 5"));
}

#[tokio::test(start_paused = true)]
async fn dropping_run_while_queued_or_running_returns_everything() {
    let limiter = Limiter::new(1);
    let held = limiter.acquire().await.unwrap();
    // Queued: the future is never polled, and dropping it leaves the queue.
    let mut queued = Box::pin(limiter.run(async { unreachable!("never gets a permit") }));
    assert!(poll!(queued.as_mut()).is_pending());
    assert_eq!(limiter.snapshot().waiting, 1);
    drop(queued);
    assert_eq!(limiter.snapshot().waiting, 0);
    drop(held);

    // Running: dropping it drops the inner future and returns the permit.
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let mut running = Box::pin(limiter.run(async move {
        let _tx = tx; // dropped with the future
        std::future::pending::<()>().await;
    }));
    assert!(poll!(running.as_mut()).is_pending());
    assert_eq!(limiter.snapshot().in_flight, 1);
    drop(running);
    assert!(rx.await.is_err(), "the inner future was dropped");
    let s = limiter.snapshot();
    assert_eq!((s.in_flight, s.available), (0, 1));
}
