//! One load in flight: who waits for it, the task running it, and the outcome every waiter
//! receives.

use std::any::Any;
use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering::AcqRel, Ordering::Acquire};
use std::sync::{Arc, OnceLock};
use std::task::Poll;

use tokio::sync::Notify;
use tokio::task::AbortHandle;

use crate::LoadError;

/// How a load ended. Kept in the flight (so a value stays strongly held until every waiter has
/// its clone) and handed to each waiter.
pub(crate) enum Outcome<V: ?Sized> {
    Loaded(Arc<V>),
    /// The loader's error, type-erased because the cache's type has no `E`; each waiter
    /// downcasts it to the `E` of its own call.
    Failed(Arc<dyn Any + Send + Sync>),
    Panicked,
    /// The load's task was dropped unfinished (aborted, or its runtime shut down).
    Cancelled,
}

impl<V: ?Sized> Outcome<V> {
    /// This outcome as the result of a call whose loader errors are `E`; `None` when the load
    /// failed with an error of another type (a call with a different loader joined it), so the
    /// caller must load for itself.
    pub(crate) fn for_caller<E: Send + Sync + 'static>(
        &self,
    ) -> Option<Result<Arc<V>, LoadError<E>>> {
        match self {
            Self::Loaded(value) => Some(Ok(Arc::clone(value))),
            Self::Failed(error) => Arc::clone(error)
                .downcast::<E>()
                .ok()
                .map(|error| Err(LoadError::Failed(error))),
            Self::Panicked => Some(Err(LoadError::Panicked)),
            Self::Cancelled => Some(Err(LoadError::Cancelled)),
        }
    }

    /// This outcome for the call that started the load: its own load published it, with that
    /// call's `E`, so the error always downcasts.
    pub(crate) fn for_starter<E: Send + Sync + 'static>(&self) -> Result<Arc<V>, LoadError<E>> {
        let result = self.for_caller();
        debug_assert!(result.is_some(), "a load's error has its starter's type");
        result.unwrap_or(Err(LoadError::Cancelled))
    }

    pub(crate) fn is_failure(&self) -> bool {
        matches!(self, Self::Failed(_) | Self::Panicked)
    }
}

/// A load in flight, shared by the map slot, the load's task and every waiting caller.
pub(crate) struct Flight<V: ?Sized> {
    /// The key's hash: finds the flight's slot again (by identity) without a key.
    pub(crate) hash: u64,
    /// Callers waiting for the outcome. Once it drops to zero it never rises again: a flight
    /// nobody waits for is being abandoned and cannot be joined.
    waiters: AtomicUsize,
    outcome: OnceLock<Outcome<V>>,
    published: Notify,
    task: OnceLock<AbortHandle>,
}

impl<V: ?Sized> Flight<V> {
    /// A new flight whose first waiter is the caller that starts it.
    pub(crate) fn new(hash: u64) -> Arc<Self> {
        Arc::new(Self {
            hash,
            waiters: AtomicUsize::new(1),
            outcome: OnceLock::new(),
            published: Notify::new(),
            task: OnceLock::new(),
        })
    }

    /// Joins as one more waiter; false if the flight is being abandoned.
    pub(crate) fn try_join(&self) -> bool {
        self.waiters
            .fetch_update(AcqRel, Acquire, |n| (n > 0).then(|| n + 1))
            .is_ok()
    }

    /// Leaves as a waiter; true when this was the last one and the load has not finished, so
    /// the caller must abandon it.
    pub(crate) fn leave(&self) -> bool {
        self.waiters.fetch_sub(1, AcqRel) == 1 && self.outcome.get().is_none()
    }

    pub(crate) fn set_task(&self, task: AbortHandle) {
        // Set once, by the caller that started the flight, before it can leave.
        let _ = self.task.set(task);
    }

    /// Stops the load's task (its future is dropped on the runtime, not here).
    pub(crate) fn abort(&self) {
        if let Some(task) = self.task.get() {
            task.abort();
        }
    }

    /// Hands `outcome` to every waiter; later outcomes are ignored.
    pub(crate) fn publish(&self, outcome: Outcome<V>) {
        if self.outcome.set(outcome).is_ok() {
            self.published.notify_waiters();
        }
    }

    /// Waits until the outcome is published.
    ///
    /// Cancel safe: it only reads; dropping it loses nothing.
    pub(crate) async fn outcome(&self) -> &Outcome<V> {
        loop {
            // Checked before registering too: a woken waiter finds the outcome without taking
            // the `Notify`'s lock again.
            if let Some(outcome) = self.outcome.get() {
                return outcome;
            }
            let mut published = pin!(self.published.notified());
            // Registered before the second check, so a publish between the check and the
            // `.await` still wakes us.
            published.as_mut().enable();
            if let Some(outcome) = self.outcome.get() {
                return outcome;
            }
            published.await;
        }
    }
}

/// Runs a loader's future to its outcome, catching a panic from polling it or converting its
/// value.
pub(crate) async fn run_loader<V, T, E, Fut>(loader: Fut) -> Outcome<V>
where
    V: ?Sized,
    T: Into<Arc<V>>,
    E: Send + Sync + 'static,
    Fut: Future<Output = Result<T, E>>,
{
    let mut loader = pin!(loader);
    poll_fn(|cx| {
        // The future is never polled again after a panic, so unwind safety is not at stake.
        let polled = catch_unwind(AssertUnwindSafe(|| {
            loader.as_mut().poll(cx).map(|result| match result {
                Ok(value) => Outcome::Loaded(value.into()),
                Err(error) => Outcome::Failed(Arc::new(error)),
            })
        }));
        polled.unwrap_or(Poll::Ready(Outcome::Panicked))
    })
    .await
}
