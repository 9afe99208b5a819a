//! Bounded maps: no chunk barrier, lazy input, ordering, error policies, timeouts,
//! cancellation, shared limiters, spawn mode.

use std::cell::Cell;
use std::convert::Infallible;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use asyncperf_limiter::{
    ConfigError, ErrorPolicy, Indexed, ItemError, Limiter, TimeoutPhase, map, map_ordered,
    map_stream, map_unordered, process_all,
};
use futures::StreamExt;
use tokio::time::{Instant, sleep};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Counts items alive (created and not yet dropped) and the most alive at once.
#[derive(Clone, Default)]
struct Gauge {
    now: Rc<Cell<usize>>,
    max: Rc<Cell<usize>>,
}

struct Alive(Gauge);

impl Gauge {
    fn enter(&self) -> Alive {
        self.now.set(self.now.get() + 1);
        self.max.set(self.max.get().max(self.now.get()));
        Alive(self.clone())
    }
}

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.now.set(self.0.now.get() - 1);
    }
}

#[tokio::test(start_paused = true)]
async fn a_slow_item_does_not_hold_back_the_next_ones() {
    // One 100 ms item and ten 10 ms items, two at a time: the fast ones flow through the other
    // slot while the slow one runs. Chunks of two would take 100 + 5 * 10 = 150 ms.
    let latencies = std::iter::once(100).chain(std::iter::repeat_n(10, 10));
    let start = Instant::now();
    let out = process_all(latencies, 2, |l| async move {
        sleep(ms(l)).await;
        l
    })
    .await;
    assert_eq!(start.elapsed(), ms(100));
    assert_eq!(out.len(), 11);
    assert_eq!(out[0], 100, "outputs in input order");
}

#[tokio::test(start_paused = true)]
async fn process_all_keeps_input_order_and_the_concurrency_cap() {
    let gauge = Gauge::default();
    let out = process_all(0..200u64, 7, |i| {
        let g = gauge.clone();
        async move {
            let _alive = g.enter();
            sleep(ms((i * 37) % 23)).await;
            i * 2
        }
    })
    .await;
    assert_eq!(out, (0..200).map(|i| i * 2).collect::<Vec<_>>());
    assert_eq!(gauge.max.get(), 7);
    assert_eq!(gauge.now.get(), 0);
}

#[tokio::test(start_paused = true)]
async fn input_is_pulled_lazily_one_per_free_slot() {
    let pulled = Cell::new(0usize);
    let done = Cell::new(0usize);
    let items = (0..50).inspect(|_| pulled.set(pulled.get() + 1));
    let mut s = map_unordered(items, 4, |i: u64| async move {
        sleep(ms(1 + i % 3)).await;
    });
    while s.next().await.is_some() {
        done.set(done.get() + 1);
        assert!(pulled.get() <= done.get() + 4, "pulled ahead of free slots");
    }
    assert_eq!(done.get(), 50);
}

#[tokio::test(start_paused = true)]
async fn map_ordered_yields_in_input_order() {
    let out: Vec<u64> = map_ordered(0..100u64, 8, |i| async move {
        sleep(ms(100 - i)).await;
        i
    })
    .collect()
    .await;
    assert_eq!(out, (0..100).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn the_reorder_window_bounds_buffered_outputs_not_concurrency() {
    // Item 0 is slow; the others are fast. With a window of 16 the map keeps starting items
    // behind item 0 until 16 are outstanding, and never buffers more than that.
    let gauge = Gauge::default();
    let mut s = map(0..64u64, 4, |i| {
        let g = gauge.clone();
        async move {
            let _alive = g.enter();
            sleep(if i == 0 { ms(1000) } else { ms(1) }).await;
            Ok::<_, Infallible>(i)
        }
    })
    .reorder_window(16)
    .ordered()
    .unwrap();
    let mut next = 0;
    let mut max_buffered = 0;
    while let Some(Indexed { index, value }) = s.next().await {
        assert_eq!(index, next);
        assert_eq!(value.unwrap(), next as u64);
        next += 1;
        max_buffered = max_buffered.max(s.buffered_len());
    }
    assert_eq!(next, 64);
    assert_eq!(gauge.max.get(), 4);
    assert!(max_buffered <= 16, "buffered {max_buffered}");
}

/// A huge concurrency (for example `usize::MAX`, leaving the cap to a shared limiter) allocates
/// slots only as items start, instead of aborting on an allocation up front.
#[tokio::test(start_paused = true)]
async fn a_huge_concurrency_allocates_only_what_runs() {
    let out = process_all(0..10u32, usize::MAX, |i| async move { i }).await;
    assert_eq!(out, (0..10).collect::<Vec<_>>());
    let gauge = Gauge::default();
    let limiter = Limiter::new(3);
    let results: Vec<_> = map(0..200u64, usize::MAX, |i| {
        let g = gauge.clone();
        async move {
            let _alive = g.enter();
            sleep(ms(i % 7)).await;
            Ok::<_, Infallible>(i)
        }
    })
    .limiter(limiter)
    .ordered()
    .unwrap()
    .collect()
    .await;
    assert_eq!(results.len(), 200);
    assert!(results.iter().enumerate().all(|(i, r)| r.index == i));
    assert_eq!(gauge.max.get(), 3, "the shared limiter caps it");
}

#[test]
#[should_panic(expected = "concurrency must be at least 1")]
fn zero_concurrency_is_refused_by_the_helpers() {
    let _ = map_unordered(0..3, 0, |i| async move { i });
}

#[test]
fn zero_concurrency_or_window_is_a_typed_error_in_the_builder() {
    let f = |i: u32| async move { Ok::<_, Infallible>(i) };
    assert_eq!(
        map(0..3, 0, f).unordered().unwrap_err(),
        ConfigError::ZeroConcurrency
    );
    assert_eq!(
        map(0..3, 2, f).reorder_window(0).ordered().unwrap_err(),
        ConfigError::ZeroReorderWindow
    );
    assert_eq!(
        map(0..3, 2, f).spawn().unordered().unwrap_err(),
        ConfigError::NoRuntime
    );
}

#[tokio::test(start_paused = true)]
async fn dropping_a_map_drops_every_item_and_returns_every_permit() {
    let gauge = Gauge::default();
    let limiter = Limiter::new(3);
    let mut s = map(0..100u64, 5, |_| {
        let g = gauge.clone();
        async move {
            let _alive = g.enter();
            sleep(ms(10)).await;
            Ok::<_, Infallible>(())
        }
    })
    .limiter(limiter.clone())
    .unordered()
    .unwrap();
    assert!(futures::poll!(s.next()).is_pending());
    assert_eq!(gauge.now.get(), 3, "3 running, 2 waiting for a permit");
    assert_eq!(limiter.snapshot().waiting, 2);
    drop(s);
    assert_eq!(gauge.now.get(), 0);
    let snap = limiter.snapshot();
    assert_eq!((snap.in_flight, snap.waiting, snap.available), (0, 0, 3));

    // The same for the plain helpers, mid-stream.
    let mut s = map_ordered(0..100u64, 5, |_| {
        let g = gauge.clone();
        async move {
            let _alive = g.enter();
            sleep(ms(10)).await;
        }
    });
    s.next().await;
    assert!(gauge.now.get() > 0);
    drop(s);
    assert_eq!(gauge.now.get(), 0);
}

#[tokio::test(start_paused = true)]
async fn fail_fast_cancels_siblings_and_stops_pulling_input() {
    let gauge = Gauge::default();
    let pulled = Cell::new(0usize);
    let items = (0..1000u64).inspect(|_| pulled.set(pulled.get() + 1));
    let mut s = map(items, 8, |i| {
        let g = gauge.clone();
        async move {
            let _alive = g.enter();
            sleep(ms(if i == 20 { 5 } else { 10 })).await;
            if i == 20 { Err("boom") } else { Ok(i) }
        }
    })
    .unordered()
    .unwrap();
    let mut last = None;
    while let Some(item) = s.next().await {
        if item.value.is_err() {
            // By the time the failure is seen, nothing else is running.
            assert_eq!(gauge.now.get(), 0);
        }
        last = Some(item);
    }
    let last = last.unwrap();
    assert_eq!(last.index, 20);
    assert!(matches!(last.value, Err(ItemError::Failed("boom"))));
    let pulled_at_failure = pulled.get();
    assert!(pulled_at_failure <= 21 + 8, "pulled {pulled_at_failure}");
    assert!(s.next().await.is_none());
    assert_eq!(
        pulled.get(),
        pulled_at_failure,
        "no input pulled after failing"
    );
}

#[tokio::test(start_paused = true)]
async fn collect_yields_every_result_with_its_index() {
    let results: Vec<_> = map(0..30u64, 4, |i| async move {
        sleep(ms(30 - i)).await;
        if i % 7 == 0 { Err(i) } else { Ok(i) }
    })
    .errors(ErrorPolicy::Collect)
    .unordered()
    .unwrap()
    .collect()
    .await;
    assert_eq!(results.len(), 30);
    for r in results {
        match r.value {
            Ok(v) => assert_eq!(v, r.index as u64),
            Err(e) => assert_eq!(e.into_failed(), Some(r.index as u64)),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn try_collect_returns_values_in_order_or_the_first_failure() {
    let ok = map(0..10u32, 3, |i| async move { Ok::<_, &str>(i) })
        .ordered()
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(ok, (0..10).collect::<Vec<_>>());
    let failed = map(0..10u32, 3, |i| async move {
        sleep(ms(u64::from(10 - i))).await;
        if i >= 4 { Err(i) } else { Ok(i) }
    })
    .errors(ErrorPolicy::Collect)
    .unordered()
    .unwrap()
    .try_collect()
    .await
    .unwrap_err();
    assert_eq!(failed.index, 4);
}

#[tokio::test(start_paused = true)]
async fn item_timeout_drops_the_item_and_reports_the_run_phase() {
    let gauge = Gauge::default();
    let results: Vec<_> = map(0..6u64, 2, |i| {
        let g = gauge.clone();
        async move {
            let _alive = g.enter();
            sleep(ms(i * 10)).await;
            Ok::<_, Infallible>(i)
        }
    })
    .item_timeout(ms(25))
    .errors(ErrorPolicy::Collect)
    .ordered()
    .unwrap()
    .map(|r| r.value.map_err(|e| e.is_timeout()))
    .collect()
    .await;
    assert_eq!(
        results,
        [Ok(0), Ok(1), Ok(2), Err(true), Err(true), Err(true)]
    );
    assert_eq!(gauge.now.get(), 0);
}

#[tokio::test(start_paused = true)]
async fn the_deadline_ends_the_map_and_leaves_unpulled_items_in_the_input() {
    let start = Instant::now();
    let mut items = 0..1000u64;
    let results: Vec<_> = map(items.by_ref(), 4, |_| async move {
        sleep(ms(30)).await;
        Ok::<_, Infallible>(())
    })
    .deadline(start + ms(100))
    .errors(ErrorPolicy::Collect)
    .unordered()
    .unwrap()
    .collect()
    .await;
    assert_eq!(start.elapsed(), ms(100));
    let timed_out = results
        .iter()
        .filter(|r| matches!(r.value, Err(ItemError::Timeout(TimeoutPhase::Deadline))))
        .count();
    assert_eq!(
        (results.len(), timed_out),
        (16, 4),
        "3 rounds of 4, then 4 cut off"
    );
    assert_eq!(items.next(), Some(16), "the rest stays in the input");
}

#[tokio::test(start_paused = true)]
async fn acquire_timeout_bounds_the_wait_for_a_shared_permit() {
    let limiter = Limiter::new(1);
    let held = limiter.acquire().await.unwrap();
    let results: Vec<_> = map(0..3u64, 3, |i| async move { Ok::<_, Infallible>(i) })
        .limiter(limiter.clone())
        .acquire_timeout(ms(50))
        .errors(ErrorPolicy::Collect)
        .unordered()
        .unwrap()
        .collect()
        .await;
    assert!(
        results
            .iter()
            .all(|r| matches!(r.value, Err(ItemError::Timeout(TimeoutPhase::Acquire))))
    );
    drop(held);
    assert_eq!(limiter.snapshot().available, 1);
    limiter.close();
    let closed = map(0..1u64, 1, |i| async move { Ok::<_, Infallible>(i) })
        .limiter(limiter)
        .unordered()
        .unwrap()
        .next()
        .await
        .unwrap();
    assert!(matches!(closed.value, Err(ItemError::Limiter(_))));
}

#[tokio::test(start_paused = true)]
async fn maps_sharing_a_limiter_stay_under_its_limit_together() {
    let gauge = Gauge::default();
    let limiter = Limiter::new(5);
    let run = |offset: u64| {
        let g = gauge.clone();
        map(0..50u64, 4, move |i| {
            let g = g.clone();
            async move {
                let _alive = g.enter();
                sleep(ms(1 + (i + offset) % 5)).await;
                Ok::<_, Infallible>(())
            }
        })
        .limiter(limiter.clone())
        .unordered()
        .unwrap()
        .count()
    };
    let (a, b) = tokio::join!(run(0), run(3));
    assert_eq!((a, b), (50, 50));
    assert_eq!(gauge.max.get(), 5);
}

#[tokio::test(start_paused = true)]
async fn a_stream_input_is_polled_only_for_free_slots() {
    let pulled = Arc::new(AtomicUsize::new(0));
    let p = Arc::clone(&pulled);
    let input = futures::stream::iter(0..20u64).inspect(move |_| {
        p.fetch_add(1, Ordering::Relaxed);
    });
    let mut s = map_stream(input, 3, |i| async move {
        sleep(ms(5)).await;
        Ok::<_, Infallible>(i)
    })
    .unordered()
    .unwrap();
    let first = s.next().await.unwrap();
    assert!(first.value.is_ok());
    assert!(pulled.load(Ordering::Relaxed) <= 4);
    assert_eq!(s.count().await, 19);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawn_mode_runs_items_as_tasks_and_reports_panics() {
    let running = Arc::new(AtomicUsize::new(0));
    let max = Arc::new(AtomicUsize::new(0));
    let (r, m) = (Arc::clone(&running), Arc::clone(&max));
    let results: Vec<_> = map(0..40u64, 6, move |i| {
        let (r, m) = (Arc::clone(&r), Arc::clone(&m));
        async move {
            let now = r.fetch_add(1, Ordering::SeqCst) + 1;
            m.fetch_max(now, Ordering::SeqCst);
            tokio::task::yield_now().await;
            r.fetch_sub(1, Ordering::SeqCst);
            assert!(i != 13, "unlucky");
            Ok::<_, Infallible>(i)
        }
    })
    .spawn()
    .errors(ErrorPolicy::Collect)
    .ordered()
    .unwrap()
    .collect()
    .await;
    assert_eq!(results.len(), 40);
    match &results[13].value {
        Err(ItemError::Panicked(payload)) => {
            assert_eq!(payload.message().as_deref(), Some("unlucky"))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(results[12].value.as_ref().ok(), Some(&12));
    assert!(max.load(Ordering::SeqCst) <= 6);
}

#[tokio::test(start_paused = true)]
async fn dropping_a_spawned_map_aborts_its_tasks_and_their_permits_return() {
    let limiter = Limiter::new(4);
    let mut s = map(0..100u64, 4, |_| async move {
        sleep(Duration::from_secs(3600)).await;
        Ok::<_, Infallible>(())
    })
    .limiter(limiter.clone())
    .spawn()
    .unordered()
    .unwrap();
    // Let the tasks start and take their permits.
    let first = tokio::time::timeout(ms(10), s.next()).await;
    assert!(first.is_err(), "nothing finishes within 10 ms");
    assert_eq!(limiter.snapshot().in_flight, 4);
    drop(s);
    // Aborted tasks are dropped by the runtime at their next turn.
    for _ in 0..10 {
        if limiter.snapshot().in_flight == 0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(limiter.snapshot().in_flight, 0);
}

#[tokio::test]
async fn a_self_waking_item_does_not_starve_the_others() {
    let out: Vec<u32> = map_unordered(0..10u32, 10, |i| async move {
        for _ in 0..(i * 50) {
            tokio::task::yield_now().await;
        }
        i
    })
    .collect()
    .await;
    assert_eq!(out, (0..10).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn dropping_process_all_midway_drops_its_items() {
    let gauge = Gauge::default();
    let mut items = 0..100u64;
    let mut job = Box::pin(process_all(items.by_ref(), 4, |_| {
        let g = gauge.clone();
        async move {
            let _alive = g.enter();
            sleep(ms(10)).await;
        }
    }));
    assert!(tokio::time::timeout(ms(25), job.as_mut()).await.is_err());
    assert_eq!(gauge.now.get(), 4);
    drop(job);
    assert_eq!(gauge.now.get(), 0);
    // 8 finished, 4 were running; the rest was never pulled.
    assert_eq!(items.next(), Some(12));
}
