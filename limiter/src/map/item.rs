//! One item of a configured map: wait for a permit of the shared limiter, then run, each
//! within its time budget; or the same, spawned as a tokio task.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::runtime::Handle;
use tokio::task::JoinHandle;
use tokio::time::{Instant, Sleep};

use super::engine::Launch;
use crate::error::{ItemError, PanicPayload, TimeoutPhase};
use crate::limiter::{Acquire, Limiter, Permit};

/// The per-item options of a map.
#[derive(Debug, Clone, Default)]
pub(crate) struct ItemConfig {
    pub(crate) limiter: Option<Limiter>,
    pub(crate) acquire_timeout: Option<Duration>,
    pub(crate) item_timeout: Option<Duration>,
    pub(crate) deadline: Option<Instant>,
}

/// When a phase with its own `budget` must end: the earlier of `now + budget` and the map's
/// `deadline`, with the phase to report. Reads the clock only if `budget` is set.
fn phase_end(
    budget: Option<Duration>,
    phase: TimeoutPhase,
    deadline: Option<Instant>,
) -> Option<(Instant, TimeoutPhase)> {
    let own = budget.map(|d| (Instant::now() + d, phase));
    let map = deadline.map(|d| (d, TimeoutPhase::Deadline));
    match (own, map) {
        (Some(own), Some(map)) => Some(if own.0 < map.0 { own } else { map }),
        (one, other) => one.or(other),
    }
}

impl ItemConfig {
    fn start<Fut>(&self, fut: Fut) -> LocalItem<Fut> {
        let (acquire, end) = match &self.limiter {
            Some(limiter) => (
                Some(limiter.acquire()),
                phase_end(self.acquire_timeout, TimeoutPhase::Acquire, self.deadline),
            ),
            None => (
                None,
                phase_end(self.item_timeout, TimeoutPhase::Run, self.deadline),
            ),
        };
        LocalItem {
            acquire,
            permit: None,
            fut,
            timer: end.map(|(at, _)| tokio::time::sleep_until(at)),
            phase: end.map_or(TimeoutPhase::Run, |(_, phase)| phase),
            item_timeout: self.item_timeout,
            deadline: self.deadline,
        }
    }
}

pin_project! {
    /// An item of a configured map running in the map's task.
    pub struct LocalItem<Fut> {
        acquire: Option<Acquire>,
        permit: Option<Permit>,
        #[pin]
        fut: Fut,
        // Ends the current phase (acquire or run) with `phase` when it fires.
        #[pin]
        timer: Option<Sleep>,
        phase: TimeoutPhase,
        item_timeout: Option<Duration>,
        deadline: Option<Instant>,
    }
}

impl<Fut, T, E> Future for LocalItem<Fut>
where
    Fut: Future<Output = Result<T, E>>,
{
    type Output = Result<T, ItemError<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Some(acquire) = this.acquire.as_mut() {
            match Pin::new(acquire).poll(cx) {
                Poll::Ready(Ok(permit)) => {
                    *this.permit = Some(permit);
                    *this.acquire = None;
                    let run_end = phase_end(*this.item_timeout, TimeoutPhase::Run, *this.deadline);
                    *this.phase = run_end.map_or(TimeoutPhase::Run, |(_, phase)| phase);
                    this.timer
                        .set(run_end.map(|(at, _)| tokio::time::sleep_until(at)));
                }
                Poll::Ready(Err(error)) => return Poll::Ready(Err(ItemError::Limiter(error))),
                Poll::Pending => return poll_timer(this.timer, *this.phase, cx),
            }
        }
        match this.fut.poll(cx) {
            Poll::Ready(Ok(value)) => Poll::Ready(Ok(value)),
            Poll::Ready(Err(error)) => Poll::Ready(Err(ItemError::Failed(error))),
            Poll::Pending => poll_timer(this.timer, *this.phase, cx),
        }
    }
}

fn poll_timer<T, E>(
    timer: Pin<&mut Option<Sleep>>,
    phase: TimeoutPhase,
    cx: &mut Context<'_>,
) -> Poll<Result<T, ItemError<E>>> {
    match timer.as_pin_mut() {
        Some(sleep) => {
            ready!(sleep.poll(cx));
            Poll::Ready(Err(ItemError::Timeout(phase)))
        }
        None => Poll::Pending,
    }
}

/// Launcher of a configured map whose items run in the map's task.
#[derive(Debug)]
pub struct LocalItems<F> {
    f: F,
    config: ItemConfig,
}

impl<F> LocalItems<F> {
    pub(crate) fn new(f: F, config: ItemConfig) -> Self {
        Self { f, config }
    }
}

impl<F> crate::map::Sealed for LocalItems<F> {}
impl<F> crate::map::Sealed for SpawnedItems<F> {}

impl<Item, F, Fut, T, E> Launch<Item> for LocalItems<F>
where
    F: FnMut(Item) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    type Fut = LocalItem<Fut>;

    fn launch(&mut self, _: usize, item: Item) -> LocalItem<Fut> {
        self.config.start((self.f)(item))
    }
}

/// Launcher of a configured map whose items are spawned as tokio tasks.
#[derive(Debug)]
pub struct SpawnedItems<F> {
    local: LocalItems<F>,
    runtime: Handle,
}

impl<F> SpawnedItems<F> {
    pub(crate) fn new(local: LocalItems<F>, runtime: Handle) -> Self {
        Self { local, runtime }
    }
}

impl<Item, F, Fut, T, E> Launch<Item> for SpawnedItems<F>
where
    F: FnMut(Item) -> Fut,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    type Fut = SpawnedItem<T, E>;

    fn launch(&mut self, index: usize, item: Item) -> SpawnedItem<T, E> {
        let task = self.local.launch(index, item);
        SpawnedItem {
            handle: self.runtime.spawn(task),
        }
    }
}

/// An item of a configured map running as its own tokio task; aborted when dropped.
#[derive(Debug)]
pub struct SpawnedItem<T, E> {
    handle: JoinHandle<Result<T, ItemError<E>>>,
}

impl<T, E> Future for SpawnedItem<T, E> {
    type Output = Result<T, ItemError<E>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(match ready!(Pin::new(&mut self.handle).poll(cx)) {
            Ok(result) => result,
            Err(error) => match error.try_into_panic() {
                Ok(payload) => Err(ItemError::Panicked(PanicPayload::new(payload))),
                Err(_) => Err(ItemError::Cancelled),
            },
        })
    }
}

impl<T, E> Drop for SpawnedItem<T, E> {
    fn drop(&mut self) {
        // A no-op if the task already finished; otherwise it is dropped at its next await,
        // which returns its permit.
        self.handle.abort();
    }
}
