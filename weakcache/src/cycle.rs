//! Detecting a load that would wait for itself: a loader asking for its own key, directly or
//! through loads it started.
//!
//! Each load's task (and the first poll of its loader, in the starting caller) runs with a
//! task-local chain: its own flight, then the flight of the load that started it, and so on.
//! Joining a flight found in the current chain could never finish, so it is refused.

use std::any::Any;
use std::future::Future;
use std::sync::{Arc, Weak};

use crate::flight::Flight;

tokio::task_local! {
    static LOADS: Arc<LoadChain>;
}

/// The loads the current task is running, innermost first.
pub(crate) struct LoadChain {
    /// Weak: the chain identifies flights (their allocation stays, so the address is unique)
    /// without keeping their values alive.
    flight: Weak<dyn Any + Send + Sync>,
    parent: Option<Arc<LoadChain>>,
}

impl LoadChain {
    /// The chain of a load of `flight` started from the current task.
    pub(crate) fn starting<V: ?Sized + Send + Sync + 'static>(
        flight: &Arc<Flight<V>>,
    ) -> Arc<Self> {
        let flight: Weak<dyn Any + Send + Sync> = Arc::downgrade(flight) as Weak<Flight<V>>;
        Arc::new(Self {
            flight,
            parent: LOADS.try_with(Arc::clone).ok(),
        })
    }

    /// Runs `f` (the loader's first poll) inside this chain.
    pub(crate) fn enter<R>(self: &Arc<Self>, f: impl FnOnce() -> R) -> R {
        LOADS.sync_scope(Arc::clone(self), f)
    }

    /// Runs `future` (the load's task) inside this chain.
    pub(crate) fn scope<F: Future>(self: Arc<Self>, future: F) -> impl Future<Output = F::Output> {
        LOADS.scope(self, future)
    }
}

/// True when the current task is running the load of `flight`, or a load that the load of
/// `flight` started: waiting for it here would never end.
pub(crate) fn waits_for_itself<V: ?Sized>(flight: &Arc<Flight<V>>) -> bool {
    let target = Arc::as_ptr(flight).cast::<()>();
    LOADS
        .try_with(|chain| {
            let mut link = Some(chain);
            while let Some(current) = link {
                if std::ptr::eq(current.flight.as_ptr().cast::<()>(), target) {
                    return true;
                }
                link = current.parent.as_ref();
            }
            false
        })
        .unwrap_or(false)
}
