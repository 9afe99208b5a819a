//! Starting a load in its own task, landing its outcome, and abandoning it when nobody waits.
//!
//! The order that keeps every caller right: a finished load first updates the map (stores the
//! value, or removes its slot on failure), then wakes its waiters. So no caller that arrives
//! after a failure can see it (it finds no slot and loads afresh), and no waiter can miss a
//! value (the flight holds it strongly until the last waiter has its clone).

use std::future::Future;
use std::hash::BuildHasher;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Waker};

use tokio::runtime::Handle;

use crate::cycle::LoadChain;
use crate::flight::{Flight, Outcome, run_loader};
use crate::map::ShardedMap;
use crate::stats::Event;

/// One caller's place among a flight's waiters. Dropping it (the call finished or its future
/// was dropped) leaves; the last waiter to leave an unfinished load abandons it.
pub(crate) struct Waiting<'a, K, V: ?Sized, S> {
    map: &'a ShardedMap<K, V, S>,
    flight: Arc<Flight<V>>,
}

impl<'a, K, V: ?Sized, S> Waiting<'a, K, V, S> {
    /// Wraps a flight the caller has already joined (or started).
    pub(crate) fn new(map: &'a ShardedMap<K, V, S>, flight: Arc<Flight<V>>) -> Self {
        Self { map, flight }
    }

    pub(crate) fn flight(&self) -> &Arc<Flight<V>> {
        &self.flight
    }

    /// Waits for the flight's outcome. Cancel safe: dropping the wait and then this guard is
    /// exactly leaving.
    pub(crate) async fn outcome(&self) -> &Outcome<V> {
        self.flight.outcome().await
    }
}

impl<K, V: ?Sized, S> Drop for Waiting<'_, K, V, S> {
    fn drop(&mut self) {
        if self.flight.leave() {
            // Nobody waits any more: stop the work and free the key. The slot is removed by
            // identity, so a newer flight or value under the key is left alone.
            self.flight.abort();
            let shard = self.map.shard(self.flight.hash);
            let removed = shard.table.write().remove_flight(&self.flight);
            drop(removed);
            shard.counters.record(Event::Abandoned);
        }
    }
}

/// Calls the loader and runs its future: at once if it is ready at its first poll, otherwise
/// as the flight's own task.
pub(crate) fn start_load<K, V, S, F, Fut, T, E>(
    map: &Arc<ShardedMap<K, V, S>>,
    flight: &Arc<Flight<V>>,
    key: K,
    loader: F,
    runtime: &Handle,
) where
    K: Send + Sync + 'static,
    V: ?Sized + Send + Sync + 'static,
    S: BuildHasher + Send + Sync + 'static,
    F: FnOnce(K) -> Fut,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Into<Arc<V>> + 'static,
    E: Send + Sync + 'static,
{
    // The closure runs here, in the caller; if it panics, the callers that joined meanwhile
    // must hear of it rather than wait forever.
    let mut landing = Landing {
        flight: Arc::clone(flight),
        map: Arc::downgrade(map),
        outcome_if_dropped: Outcome::Panicked,
        landed: false,
    };
    let chain = LoadChain::starting(flight);
    let mut load = Box::pin(run_loader(chain.enter(|| loader(key))));
    // One poll here first: a loader that is ready at once (an in-memory computation, a value
    // from another cache) finishes without a task. Anything else re-registers its waker when
    // its task polls it, so the no-op waker here is never relied on.
    let first_poll = chain.enter(|| load.as_mut().poll(&mut Context::from_waker(Waker::noop())));
    if let Poll::Ready(outcome) = first_poll {
        landing.finish(outcome);
        return;
    }
    // From here on, dropping the landing unfinished means its task was dropped.
    landing.outcome_if_dropped = Outcome::Cancelled;
    let task = runtime.spawn(chain.scope(async move {
        let outcome = load.await;
        landing.finish(outcome);
    }));
    flight.set_task(task.abort_handle());
}

/// Delivers a flight's outcome exactly once: from the finished task, or, if the task (or the
/// loader closure) never finishes, from its drop.
struct Landing<K, V: ?Sized, S> {
    flight: Arc<Flight<V>>,
    /// Weak: a load must not keep a dropped cache alive.
    map: Weak<ShardedMap<K, V, S>>,
    /// Published if this is dropped before `finish`.
    outcome_if_dropped: Outcome<V>,
    landed: bool,
}

impl<K, V: ?Sized, S> Landing<K, V, S> {
    fn finish(mut self, outcome: Outcome<V>) {
        self.landed = true;
        self.land(outcome);
    }

    fn land(&self, outcome: Outcome<V>) {
        if let Some(map) = self.map.upgrade() {
            map.land(&self.flight, &outcome);
        }
        self.flight.publish(outcome);
    }
}

impl<K, V: ?Sized, S> Drop for Landing<K, V, S> {
    fn drop(&mut self) {
        if !self.landed {
            let outcome = std::mem::replace(&mut self.outcome_if_dropped, Outcome::Cancelled);
            self.land(outcome);
        }
    }
}

impl<K, V: ?Sized, S> ShardedMap<K, V, S> {
    /// Updates the flight's slot for its outcome: a value replaces it, anything else removes
    /// it. Identity-checked: a flight that was invalidated or replaced changes nothing.
    fn land(&self, flight: &Arc<Flight<V>>, outcome: &Outcome<V>) {
        let shard = self.shard(flight.hash);
        if let Outcome::Loaded(value) = outcome {
            let replaced = shard.table.write().land(flight, value);
            drop(replaced);
        } else {
            let removed = shard.table.write().remove_flight(flight);
            drop(removed);
        }
        if outcome.is_failure() {
            shard.counters.record(Event::Failed);
        }
    }
}
