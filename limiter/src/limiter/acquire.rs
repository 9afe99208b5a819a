//! `Acquire`: the future of a queued permit request.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::state::{Outcome, State, Waiter};
use super::{Inner, Permit};
use crate::error::AcquireError;
use crate::wait_list::Key;

/// Future of [`Limiter::acquire`](crate::Limiter::acquire) and
/// [`Limiter::acquire_weighted`](crate::Limiter::acquire_weighted).
///
/// Owns a handle to the limiter, so it is `'static` and can be sent to another task. Takes its
/// place in the queue when first polled.
///
/// # Cancel safety
///
/// Dropping it leaves the queue; permits granted to it but not yet picked up are returned.
#[must_use = "futures do nothing unless polled"]
pub struct Acquire {
    inner: Option<Arc<Inner>>,
    weight: usize,
    key: Option<Key>,
}

impl Acquire {
    pub(super) fn new(inner: Arc<Inner>, weight: usize) -> Self {
        Self {
            inner: Some(inner),
            weight,
            key: None,
        }
    }
}

impl Acquire {
    /// One poll under the lock: `Ready(Ok(()))` means the permits are now this future's.
    fn poll_locked(
        &mut self,
        state: &mut State,
        cx: &Context<'_>,
    ) -> Poll<Result<(), AcquireError>> {
        let Some(key) = self.key else {
            if state.closed {
                return Poll::Ready(Err(AcquireError::Closed));
            }
            if self.weight > state.limit {
                return Poll::Ready(Err(AcquireError::ExceedsLimit {
                    requested: self.weight,
                    limit: state.limit,
                }));
            }
            if self.weight == 0 || state.try_take(self.weight) {
                return Poll::Ready(Ok(()));
            }
            self.key = Some(state.waiters.push_back(Waiter {
                weight: self.weight,
                waker: Some(cx.waker().clone()),
                outcome: Outcome::Waiting,
            }));
            return Poll::Pending;
        };
        let waiter = state.waiters.get_mut(key);
        let result = match waiter.outcome {
            Outcome::Waiting => {
                match &mut waiter.waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    slot => *slot = Some(cx.waker().clone()),
                }
                return Poll::Pending;
            }
            Outcome::Granted => Ok(()),
            Outcome::Failed(error) => Err(error),
        };
        state.waiters.remove(key);
        self.key = None;
        Poll::Ready(result)
    }
}

impl Future for Acquire {
    type Output = Result<Permit, AcquireError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let inner = this
            .inner
            .take()
            .expect("`Acquire` polled after completion");
        let polled = this.poll_locked(&mut inner.lock(), cx);
        match polled {
            Poll::Pending => {
                this.inner = Some(inner);
                Poll::Pending
            }
            Poll::Ready(result) => Poll::Ready(result.map(|()| Permit::new(inner, this.weight))),
        }
    }
}

impl Drop for Acquire {
    fn drop(&mut self) {
        let (Some(inner), Some(key)) = (self.inner.take(), self.key.take()) else {
            return;
        };
        let mut removed = None;
        inner.update(&mut |state, batch| {
            let waiter = removed.get_or_insert_with(|| {
                let was_front = state.waiters.front() == Some(key);
                let waiter = state.waiters.remove(key);
                if let Outcome::Granted = waiter.outcome {
                    state.give_back(waiter.weight);
                }
                (was_front, waiter.outcome)
            });
            // A granted waiter's permits went back (someone may fit now); a front waiter
            // that was too heavy no longer holds back the ones behind it.
            match waiter {
                (_, Outcome::Granted) | (true, Outcome::Waiting) => state.serve(batch),
                _ => true,
            }
        });
    }
}

impl fmt::Debug for Acquire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire")
            .field("weight", &self.weight)
            .field("queued", &self.key.is_some())
            .finish_non_exhaustive()
    }
}
