//! `MapBuilder`: a map with timeouts, a deadline, an error policy, a reorder window, spawn
//! mode and a shared `Limiter`; and `MapStream`, the stream it builds.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::{FusedStream, Stream};
use pin_project_lite::pin_project;
use tokio::runtime::Handle;
use tokio::time::Instant;

use super::engine::{Engine, Launch};
use super::input::{Input, IterInput, StreamInput};
use super::item::{ItemConfig, LocalItems, SpawnedItems};
use super::reorder::ReorderWindow;
use super::simple::DEFAULT_WINDOW_FACTOR;
use crate::error::ConfigError;
use crate::limiter::Limiter;

/// What a map does when an item fails (its function returns `Err`, it times out, or the
/// shared limiter refuses it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ErrorPolicy {
    /// The first failure ends the map: before it is yielded, every item in flight is cancelled
    /// (dropped; aborted in spawn mode) and no more input is pulled. The failure is the
    /// stream's last item. In ordered mode, outputs already completed behind a gap are
    /// discarded with the rest.
    #[default]
    FailFast,
    /// Every item is yielded, success or failure, each with its input index; the map goes on.
    Collect,
}

/// An output tagged with the position of its item in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Indexed<T> {
    /// Position of the item in the input (0-based).
    pub index: usize,
    /// The item's result.
    pub value: T,
}

impl<T> Indexed<T> {
    /// The result without its index.
    pub fn into_value(self) -> T {
        self.value
    }
}

/// Marker: items run in the map's task (the default).
#[derive(Debug, Clone, Copy)]
pub struct InTask(());

/// Marker: items run as tokio tasks ([`MapBuilder::spawn`]).
#[derive(Debug, Clone, Copy)]
pub struct Spawned(());

/// A bounded-concurrency map with the advanced options; build it with [`map()`] or
/// [`map_stream`], finish it with [`unordered`](Self::unordered) or [`ordered`](Self::ordered).
///
/// The function returns `Result<T, E>`; the stream yields
/// [`Indexed`]`<Result<T, `[`ItemError`](crate::ItemError)`<E>>>`.
///
/// ```
/// use std::time::Duration;
/// use futures::StreamExt;
/// use asyncperf_limiter::{ErrorPolicy, map};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), asyncperf_limiter::ConfigError> {
/// let mut results = map(0..100u64, 8, |n| async move {
///         tokio::time::sleep(Duration::from_millis(n)).await;
///         if n % 10 == 7 { Err("sevens fail") } else { Ok(n) }
///     })
///     .item_timeout(Duration::from_millis(50))
///     .errors(ErrorPolicy::Collect)
///     .ordered()?;
/// let (mut ok, mut failed, mut timed_out) = (0, 0, 0);
/// while let Some(result) = results.next().await {
///     match result.value {
///         Ok(_) => ok += 1,
///         Err(e) if e.is_timeout() => timed_out += 1,
///         Err(_) => failed += 1,
///     }
/// }
/// // Items 0..=50 finish in time (one finishing exactly at its deadline counts as done).
/// assert_eq!((ok, failed, timed_out), (46, 5, 49));
/// # Ok(())
/// # }
/// ```
#[must_use = "a builder does nothing until `unordered()` or `ordered()`"]
pub struct MapBuilder<S, F, M = InTask> {
    input: S,
    f: F,
    concurrency: usize,
    config: ItemConfig,
    policy: ErrorPolicy,
    window: Option<usize>,
    mode: PhantomData<M>,
}

/// A configurable map over an iterator; see [`MapBuilder`].
///
/// `concurrency` is the number of this map's items in flight at once (0 is refused by the
/// terminal methods with [`ConfigError::ZeroConcurrency`]; `usize::MAX` leaves the cap to a
/// shared [`limiter`](MapBuilder::limiter)).
pub fn map<I, F, Fut, T, E>(
    items: I,
    concurrency: usize,
    f: F,
) -> MapBuilder<IterInput<I::IntoIter>, F>
where
    I: IntoIterator,
    F: FnMut(I::Item) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    MapBuilder::new(IterInput::new(items.into_iter()), concurrency, f)
}

/// A configurable map over a stream, polled for the next item only when a slot is free; see
/// [`MapBuilder`].
pub fn map_stream<S, F, Fut, T, E>(
    items: S,
    concurrency: usize,
    f: F,
) -> MapBuilder<StreamInput<S>, F>
where
    S: Stream,
    F: FnMut(S::Item) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    MapBuilder::new(StreamInput::new(items), concurrency, f)
}

impl<S, F> MapBuilder<S, F> {
    fn new(input: S, concurrency: usize, f: F) -> Self {
        Self {
            input,
            f,
            concurrency,
            config: ItemConfig::default(),
            policy: ErrorPolicy::default(),
            window: None,
            mode: PhantomData,
        }
    }

    /// Runs every item as its own tokio task (on the runtime the map is built in), so items
    /// use every worker thread and keep running while the consumer is busy. Needs `Send +
    /// 'static` items and outputs; a panicking item becomes [`ItemError::Panicked`](crate::ItemError::Panicked).
    ///
    /// Dropping the stream (or a fail-fast failure) aborts the tasks in flight: each stops at
    /// its next `.await` and then returns its permit.
    pub fn spawn(self) -> MapBuilder<S, F, Spawned> {
        MapBuilder {
            input: self.input,
            f: self.f,
            concurrency: self.concurrency,
            config: self.config,
            policy: self.policy,
            window: self.window,
            mode: PhantomData,
        }
    }
}

impl<S, F, M> MapBuilder<S, F, M> {
    /// The time budget of each item's run, from when it starts running (after its permit).
    /// An item over budget is dropped and yields [`ItemError::Timeout`](crate::ItemError::Timeout) with
    /// [`TimeoutPhase::Run`](crate::TimeoutPhase::Run).
    pub fn item_timeout(mut self, timeout: Duration) -> Self {
        self.config.item_timeout = Some(timeout);
        self
    }

    /// How long an item may wait for a permit of the shared [`limiter`](Self::limiter)
    /// ([`TimeoutPhase::Acquire`](crate::TimeoutPhase::Acquire)). Without a shared limiter
    /// items never wait for a permit (an item is pulled only when this map has a free slot),
    /// so this has no effect.
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.config.acquire_timeout = Some(timeout);
        self
    }

    /// A deadline for the whole map (tokio time). At the deadline, items still waiting or
    /// running end with [`TimeoutPhase::Deadline`](crate::TimeoutPhase::Deadline), no more
    /// input is pulled, and the stream ends once those are yielded. Items not pulled stay in
    /// the input (pass `iter.by_ref()` to get them back).
    pub fn deadline(mut self, deadline: Instant) -> Self {
        self.config.deadline = Some(deadline);
        self
    }

    /// What to do when an item fails; [`ErrorPolicy::FailFast`] by default.
    pub fn errors(mut self, policy: ErrorPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Shares `limiter` with other maps or code: each item holds one of its permits while it
    /// runs, on top of this map's own `concurrency` cap. Items wait for the permit in the
    /// limiter's FIFO queue (bounded by [`acquire_timeout`](Self::acquire_timeout)).
    pub fn limiter(mut self, limiter: Limiter) -> Self {
        self.config.limiter = Some(limiter);
        self
    }

    /// For [`ordered`](Self::ordered): at most `window` items between the oldest not yet
    /// yielded and the newest started (so at most `window` outputs are buffered). Default
    /// 16x `concurrency` ([`DEFAULT_WINDOW_FACTOR`](crate::DEFAULT_WINDOW_FACTOR)). A window
    /// below `concurrency` also caps concurrency; a larger one lets items keep starting behind
    /// a slow one, at the cost of buffering their outputs.
    pub fn reorder_window(mut self, window: usize) -> Self {
        self.window = Some(window);
        self
    }

    fn checked(&self) -> Result<(), ConfigError> {
        if self.concurrency == 0 {
            return Err(ConfigError::ZeroConcurrency);
        }
        if self.window == Some(0) {
            return Err(ConfigError::ZeroReorderWindow);
        }
        Ok(())
    }

    fn window(&self) -> usize {
        self.window
            .unwrap_or_else(|| self.concurrency.saturating_mul(DEFAULT_WINDOW_FACTOR))
    }

    fn finish<L>(
        self,
        ordered: bool,
        make: impl FnOnce(F, ItemConfig) -> L,
    ) -> Result<MapStream<S, L>, ConfigError>
    where
        S: Input,
        L: Launch<S::Item>,
    {
        self.checked()?;
        let window = ordered.then(|| ReorderWindow::new(self.window()));
        let deadline = self.config.deadline;
        let mut engine = Engine::new(self.input, make(self.f, self.config), self.concurrency);
        if let Some(deadline) = deadline {
            engine.stop_pulling_at(deadline);
        }
        Ok(MapStream {
            engine,
            window,
            policy: self.policy,
            done: false,
        })
    }
}

impl<S, F, Fut, T, E> MapBuilder<S, F, InTask>
where
    S: Input,
    F: FnMut(S::Item) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    /// The stream of results in completion order.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroConcurrency`] if `concurrency` is 0.
    pub fn unordered(self) -> Result<MapStream<S, LocalItems<F>>, ConfigError> {
        self.finish(false, LocalItems::new)
    }

    /// The stream of results in input order, with a bounded reorder window.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroConcurrency`] or [`ConfigError::ZeroReorderWindow`].
    pub fn ordered(self) -> Result<MapStream<S, LocalItems<F>>, ConfigError> {
        self.finish(true, LocalItems::new)
    }
}

impl<S, F, Fut, T, E> MapBuilder<S, F, Spawned>
where
    S: Input,
    F: FnMut(S::Item) -> Fut,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    /// The stream of results in completion order, items spawned on the current runtime.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroConcurrency`] if `concurrency` is 0; [`ConfigError::NoRuntime`]
    /// outside a tokio runtime.
    pub fn unordered(self) -> Result<MapStream<S, SpawnedItems<F>>, ConfigError> {
        let runtime = Handle::try_current().map_err(|_| ConfigError::NoRuntime)?;
        self.finish(false, |f, config| {
            SpawnedItems::new(LocalItems::new(f, config), runtime)
        })
    }

    /// The stream of results in input order, items spawned on the current runtime.
    ///
    /// # Errors
    ///
    /// As [`unordered`](Self::unordered), and [`ConfigError::ZeroReorderWindow`].
    pub fn ordered(self) -> Result<MapStream<S, SpawnedItems<F>>, ConfigError> {
        let runtime = Handle::try_current().map_err(|_| ConfigError::NoRuntime)?;
        self.finish(true, |f, config| {
            SpawnedItems::new(LocalItems::new(f, config), runtime)
        })
    }
}

pin_project! {
    /// The stream of a [`MapBuilder`] map: [`Indexed`] results, in completion or input order.
    ///
    /// Dropping it cancels every item in flight: intra-task items are dropped at once
    /// (returning their permits); spawned items are aborted and return their permits when
    /// their task stops, at its next `.await`.
    #[must_use = "streams do nothing unless polled"]
    pub struct MapStream<S, L>
    where
        S: Input,
        L: Launch<S::Item>,
    {
        #[pin]
        engine: Engine<S, L>,
        window: Option<ReorderWindow<<L::Fut as Future>::Output>>,
        policy: ErrorPolicy,
        done: bool,
    }
}

impl<S, L, T, E> MapStream<S, L>
where
    S: Input,
    L: Launch<S::Item>,
    L::Fut: Future<Output = Result<T, E>>,
{
    /// Items in flight now (waiting for a permit or running).
    pub fn in_flight(&self) -> usize {
        self.engine.in_flight()
    }

    /// Ordered mode: outputs completed and waiting for an earlier one (at most the window).
    pub fn buffered_len(&self) -> usize {
        self.window.as_ref().map_or(0, ReorderWindow::buffered)
    }

    /// Drives the map to the end and returns every value in input order, or the first
    /// failure (with its input index).
    ///
    /// With [`ErrorPolicy::FailFast`] the first failure cancels everything in flight at once;
    /// with [`ErrorPolicy::Collect`] the map runs to the end and the failure with the lowest
    /// index is returned.
    ///
    /// # Errors
    ///
    /// The failure described above.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the stream (see the type's docs) and the values gathered.
    pub async fn try_collect(self) -> Result<Vec<T>, Indexed<E>> {
        let mut this = std::pin::pin!(self);
        let mut values: Vec<Option<T>> = Vec::new();
        let mut first_failure: Option<Indexed<E>> = None;
        while let Some(Indexed { index, value }) =
            std::future::poll_fn(|cx| this.as_mut().poll_next(cx)).await
        {
            match value {
                Ok(value) => {
                    if index >= values.len() {
                        values.resize_with(index + 1, || None);
                    }
                    values[index] = Some(value);
                }
                Err(error) => {
                    if first_failure.as_ref().is_none_or(|f| index < f.index) {
                        first_failure = Some(Indexed {
                            index,
                            value: error,
                        });
                    }
                }
            }
        }
        match first_failure {
            Some(failure) => Err(failure),
            None => Ok(values.into_iter().flatten().collect()),
        }
    }
}

impl<S, L, T, E> Stream for MapStream<S, L>
where
    S: Input,
    L: Launch<S::Item>,
    L::Fut: Future<Output = Result<T, E>>,
{
    type Item = Indexed<Result<T, E>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        this.engine.as_mut().new_round();
        let start_before = this
            .window
            .as_ref()
            .map_or(usize::MAX, ReorderWindow::start_before);
        this.engine.as_mut().fill(cx, start_before);
        loop {
            if let Some(window) = this.window.as_mut()
                && let Some((index, value)) = window.pop_ready()
            {
                return Poll::Ready(Some(Indexed { index, value }));
            }
            let start_before = this
                .window
                .as_ref()
                .map_or(usize::MAX, ReorderWindow::start_before);
            let (index, result) = match this.engine.as_mut().poll_completion(cx, start_before) {
                Poll::Ready(Some(done)) => done,
                Poll::Ready(None) => {
                    *this.done = true;
                    return Poll::Ready(None);
                }
                Poll::Pending => return Poll::Pending,
            };
            if result.is_err() && *this.policy == ErrorPolicy::FailFast {
                this.engine.as_mut().stop();
                if let Some(window) = this.window.as_mut() {
                    window.clear();
                }
                *this.done = true;
                return Poll::Ready(Some(Indexed {
                    index,
                    value: result,
                }));
            }
            match this.window.as_mut() {
                Some(window) => {
                    if let Some((index, value)) = window.emit_or_insert(index, result) {
                        return Poll::Ready(Some(Indexed { index, value }));
                    }
                }
                None => {
                    return Poll::Ready(Some(Indexed {
                        index,
                        value: result,
                    }));
                }
            }
        }
    }
}

impl<S, L, T, E> FusedStream for MapStream<S, L>
where
    S: Input,
    L: Launch<S::Item>,
    L::Fut: Future<Output = Result<T, E>>,
{
    fn is_terminated(&self) -> bool {
        self.done
    }
}

impl<S, L> fmt::Debug for MapStream<S, L>
where
    S: Input,
    L: Launch<S::Item>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapStream")
            .field("in_flight", &self.engine.in_flight())
            .field("policy", &self.policy)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<S: fmt::Debug, F, M> fmt::Debug for MapBuilder<S, F, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapBuilder")
            .field("input", &self.input)
            .field("concurrency", &self.concurrency)
            .field("config", &self.config)
            .field("policy", &self.policy)
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}
