//! Properties against simple models: the `Limiter` against a counter of permits in flight
//! with a FIFO queue; the maps against sequential evaluation and a gauge of items alive.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use asyncperf_limiter::{Acquire, AcquireError, Limiter, Permit, map};
use futures::StreamExt;
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// Limiter vs model.

#[derive(Debug, Clone)]
enum Op {
    Acquire(usize),
    Release(usize),
    DropWaiter(usize),
    SetLimit(usize),
    Close,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0usize..=5).prop_map(Op::Acquire),
        4 => any::<usize>().prop_map(Op::Release),
        2 => any::<usize>().prop_map(Op::DropWaiter),
        2 => (0usize..=8).prop_map(Op::SetLimit),
        1 => Just(Op::Close),
    ]
}

/// What the model says about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Waiting,
    Held,
    Failed(AcquireError),
}

#[derive(Default)]
struct Model {
    limit: usize,
    in_flight: usize,
    closed: bool,
    queue: Vec<(usize, usize)>, // (id, weight), FIFO
    status: BTreeMap<usize, (usize, Status)>,
}

impl Model {
    fn acquire(&mut self, id: usize, weight: usize) {
        let status = if self.closed {
            Status::Failed(AcquireError::Closed)
        } else if weight > self.limit {
            Status::Failed(AcquireError::ExceedsLimit {
                requested: weight,
                limit: self.limit,
            })
        } else if weight == 0 {
            Status::Held
        } else if self.queue.is_empty() && self.in_flight + weight <= self.limit {
            self.in_flight += weight;
            Status::Held
        } else {
            self.queue.push((id, weight));
            Status::Waiting
        };
        self.status.insert(id, (weight, status));
    }

    fn serve(&mut self) {
        while let Some(&(id, weight)) = self.queue.first() {
            if self.in_flight + weight > self.limit {
                break;
            }
            self.in_flight += weight;
            self.queue.remove(0);
            self.status.insert(id, (weight, Status::Held));
        }
    }

    fn release(&mut self, id: usize) {
        let (weight, _) = self.status.remove(&id).unwrap();
        self.in_flight -= weight;
        self.serve();
    }

    fn drop_waiter(&mut self, id: usize) {
        self.queue.retain(|&(q, _)| q != id);
        self.status.remove(&id);
        self.serve();
    }

    fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
        let failed: Vec<_> = self
            .queue
            .iter()
            .filter(|&&(_, w)| w > limit)
            .copied()
            .collect();
        self.queue.retain(|&(_, w)| w <= limit);
        for (id, weight) in failed {
            let error = AcquireError::ExceedsLimit {
                requested: weight,
                limit,
            };
            self.status.insert(id, (weight, Status::Failed(error)));
        }
        self.serve();
    }

    fn close(&mut self) {
        self.closed = true;
        for (id, weight) in self.queue.drain(..) {
            self.status
                .insert(id, (weight, Status::Failed(AcquireError::Closed)));
        }
    }
}

enum Real {
    Waiting(Pin<Box<Acquire>>),
    Held(Permit),
    Failed(AcquireError),
}

fn poll_once(fut: &mut Pin<Box<Acquire>>) -> Poll<Result<Permit, AcquireError>> {
    fut.as_mut().poll(&mut Context::from_waker(Waker::noop()))
}

fn settle(real: &mut BTreeMap<usize, Real>) {
    for entry in real.values_mut() {
        if let Real::Waiting(fut) = entry {
            match poll_once(fut) {
                Poll::Ready(Ok(permit)) => *entry = Real::Held(permit),
                Poll::Ready(Err(error)) => *entry = Real::Failed(error),
                Poll::Pending => {}
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn limiter_matches_a_fifo_counter_model(initial in 0usize..=6, ops in prop::collection::vec(op(), 1..60)) {
        let limiter = Limiter::new(initial);
        let mut model = Model { limit: initial, ..Model::default() };
        let mut real: BTreeMap<usize, Real> = BTreeMap::new();
        for (id, op) in ops.into_iter().enumerate() {
            match op {
                Op::Acquire(weight) => {
                    model.acquire(id, weight);
                    real.insert(id, Real::Waiting(Box::pin(limiter.acquire_weighted(weight))));
                }
                Op::Release(pick) => {
                    let held: Vec<usize> = real.iter().filter(|(_, r)| matches!(r, Real::Held(_))).map(|(&id, _)| id).collect();
                    if !held.is_empty() {
                        let id = held[pick % held.len()];
                        real.remove(&id);
                        model.release(id);
                    }
                }
                Op::DropWaiter(pick) => {
                    let waiting: Vec<usize> = real.iter().filter(|(_, r)| matches!(r, Real::Waiting(_))).map(|(&id, _)| id).collect();
                    if !waiting.is_empty() {
                        let id = waiting[pick % waiting.len()];
                        real.remove(&id);
                        model.drop_waiter(id);
                    }
                }
                Op::SetLimit(limit) => {
                    limiter.set_limit(limit);
                    model.set_limit(limit);
                }
                Op::Close => {
                    limiter.close();
                    model.close();
                }
            }
            settle(&mut real);
            // Failed requests have told us everything; forget them on both sides.
            real.retain(|id, r| {
                if let Real::Failed(e) = r {
                    assert_eq!(model.status.remove(id).map(|s| s.1), Some(Status::Failed(*e)), "request {id}");
                    false
                } else {
                    true
                }
            });
            for (id, r) in &real {
                let want = model.status[id].1;
                let got = match r {
                    Real::Waiting(_) => Status::Waiting,
                    Real::Held(permit) => {
                        prop_assert_eq!(permit.weight(), model.status[id].0);
                        Status::Held
                    }
                    Real::Failed(e) => Status::Failed(*e),
                };
                prop_assert_eq!(got, want, "request {}", id);
            }
            let s = limiter.snapshot();
            prop_assert_eq!(s.in_flight, model.in_flight);
            prop_assert_eq!(s.waiting, model.queue.len());
            prop_assert_eq!(s.available, model.limit.saturating_sub(model.in_flight));
            prop_assert_eq!(s.debt, model.in_flight.saturating_sub(model.limit));
        }
        // Dropping everything returns every permit.
        drop(real);
        let s = limiter.snapshot();
        prop_assert_eq!((s.in_flight, s.waiting, s.debt), (0, 0, 0));
        prop_assert_eq!(s.available, s.limit);
    }
}

// ---------------------------------------------------------------------------------------------
// Maps vs sequential evaluation, with random latencies and `set_limit` calls.

#[derive(Clone, Default)]
struct Gauge {
    now: Rc<Cell<usize>>,
    max: Rc<Cell<usize>>,
}

struct Alive(Gauge);

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.now.set(self.0.now.get() - 1);
    }
}

fn paused() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn in_flight_never_exceeds_the_limit_through_set_limit_calls(
        latencies in prop::collection::vec(0u64..40, 1..120),
        concurrency in 1usize..10,
        initial in 1usize..8,
        resizes in prop::collection::vec((0u64..200, 1usize..8), 0..8),
        ordered in any::<bool>(),
        window in 1usize..40,
    ) {
        let rt = paused();
        rt.block_on(async {
            let limiter = Limiter::new(initial);
            let gauge = Gauge::default();
            let violations = Rc::new(Cell::new(0usize));
            let resizer = {
                let limiter = limiter.clone();
                async move {
                    let mut at = 0;
                    for (delay, limit) in resizes {
                        tokio::time::sleep(Duration::from_millis(delay.saturating_sub(at))).await;
                        at = at.max(delay);
                        limiter.set_limit(limit);
                    }
                }
            };
            let n = latencies.len();
            let items = latencies.clone().into_iter().enumerate();
            let builder = map(items, concurrency, |(i, lat)| {
                let (g, l, v) = (gauge.clone(), limiter.clone(), Rc::clone(&violations));
                async move {
                    g.now.set(g.now.get() + 1);
                    g.max.set(g.max.get().max(g.now.get()));
                    let _alive = Alive(g.clone());
                    // Every running item holds a permit, and permits beyond the limit exist
                    // only as debt left by a shrink (granted before it, never revoked).
                    let s = l.snapshot();
                    if g.now.get() > s.in_flight
                        || g.now.get() > concurrency
                        || s.in_flight > s.limit + s.debt
                        || (s.debt > 0 && s.available > 0)
                    {
                        v.set(v.get() + 1);
                    }
                    tokio::time::sleep(Duration::from_millis(lat)).await;
                    Ok::<_, Infallible>(i * 3)
                }
            })
            .limiter(limiter.clone())
            .reorder_window(window);
            let run = async {
                let mut s = if ordered { builder.ordered() } else { builder.unordered() }.unwrap();
                let mut out = Vec::new();
                while let Some(r) = s.next().await {
                    assert!(s.buffered_len() <= window);
                    out.push((r.index, r.value.unwrap()));
                }
                out
            };
            let (out, ()) = tokio::join!(run, resizer);
            assert_eq!(violations.get(), 0, "an item started above the limit");
            assert_eq!(gauge.now.get(), 0);
            let mut indices: Vec<usize> = out.iter().map(|&(i, _)| i).collect();
            if ordered {
                assert_eq!(indices, (0..n).collect::<Vec<_>>());
            }
            indices.sort_unstable();
            assert_eq!(indices, (0..n).collect::<Vec<_>>());
            assert!(out.iter().all(|&(i, v)| v == i * 3));
            let s = limiter.snapshot();
            assert_eq!((s.in_flight, s.waiting), (0, 0));
        });
    }

    #[test]
    fn plain_maps_equal_sequential_evaluation(
        latencies in prop::collection::vec(0u64..30, 0..150),
        concurrency in 1usize..12,
    ) {
        let rt = paused();
        rt.block_on(async {
            let gauge = Gauge::default();
            let work = |(i, lat): (usize, u64)| {
                let g = gauge.clone();
                async move {
                    g.now.set(g.now.get() + 1);
                    g.max.set(g.max.get().max(g.now.get()));
                    let _alive = Alive(g);
                    tokio::time::sleep(Duration::from_millis(lat)).await;
                    i as u64 * lat
                }
            };
            let expected: Vec<u64> = latencies.iter().enumerate().map(|(i, &l)| i as u64 * l).collect();
            let items = || latencies.iter().copied().enumerate();
            let all = asyncperf_limiter::process_all(items(), concurrency, work).await;
            assert_eq!(all, expected);
            let ordered: Vec<u64> = asyncperf_limiter::map_ordered(items(), concurrency, work).collect().await;
            assert_eq!(ordered, expected);
            let mut unordered: Vec<u64> = asyncperf_limiter::map_unordered(items(), concurrency, work).collect().await;
            let mut sorted = expected.clone();
            sorted.sort_unstable();
            unordered.sort_unstable();
            assert_eq!(unordered, sorted);
            assert!(gauge.max.get() <= concurrency);
            assert_eq!(gauge.now.get(), 0);
        });
    }
}
