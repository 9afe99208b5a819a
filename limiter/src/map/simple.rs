//! The one-line helpers: `process_all`, `map_unordered`, `map_ordered`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::{FusedStream, Stream};
use pin_project_lite::pin_project;

use super::engine::{CallFn, Engine};
use super::input::IterInput;
use super::reorder::ReorderWindow;

/// The default reorder window of ordered maps, as a multiple of the concurrency.
///
/// 16x keeps `concurrency` items in flight behind a straggler 16 times slower than a typical
/// item, at a cost of at most 16x `concurrency` buffered outputs.
pub const DEFAULT_WINDOW_FACTOR: usize = 16;

#[track_caller]
fn check_concurrency(concurrency: usize) {
    assert!(
        concurrency > 0,
        "concurrency must be at least 1 (0 could never run anything); \
         for a value from configuration, use `MapBuilder`, which returns \
         `ConfigError::ZeroConcurrency` instead"
    );
}

/// Runs `f` on every item with at most `concurrency` in flight, and returns the outputs in
/// input order.
///
/// This is the chunked "semaphore + gather 1000 at a time" pattern without its barrier: a
/// new item starts as soon as any item finishes, so a slow item never holds back the ones
/// after it. Items are pulled from `items` lazily, one per free slot. The outputs are all kept
/// (that is what returning a `Vec` means): for large inputs prefer a stream, [`map_unordered`]
/// or [`map_ordered`], so memory stays O(concurrency).
///
/// Items run inside the awaiting task (like `futures`' `buffer_unordered`): use
/// [`MapBuilder::spawn`](crate::MapBuilder::spawn) to run them on several worker threads.
///
/// # Panics
///
/// If `concurrency` is 0, at the call (a programming error, like `slice::chunks(0)`: nothing
/// could ever run). When the value comes from configuration, use
/// [`MapBuilder`](crate::MapBuilder), which returns [`ConfigError::ZeroConcurrency`](crate::ConfigError::ZeroConcurrency).
///
/// # Cancel safety
///
/// Dropping the future drops every item in flight at once (nothing keeps running) and
/// discards the outputs gathered so far; items not yet pulled stay in the iterator.
///
/// # Example
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let squares = asyncperf_limiter::process_all(1..=5, 2, |n| async move { n * n }).await;
/// assert_eq!(squares, [1, 4, 9, 16, 25]);
/// # }
/// ```
#[track_caller]
pub fn process_all<I, F, Fut>(items: I, concurrency: usize, f: F) -> ProcessAll<I::IntoIter, F>
where
    I: IntoIterator,
    F: FnMut(I::Item) -> Fut,
    Fut: Future,
{
    check_concurrency(concurrency);
    let items = items.into_iter();
    let (lower, _) = items.size_hint();
    ProcessAll {
        map: MapOrdered::with_window(items, concurrency, usize::MAX, f),
        outputs: Vec::with_capacity(lower),
    }
}

/// A stream of `f(item)` for every item, at most `concurrency` in flight, in completion order.
///
/// Items are pulled lazily when a slot is free, so memory is O(concurrency) whatever the
/// input's length. Items run while the stream is polled (see the crate docs on futurelock).
///
/// # Panics
///
/// If `concurrency` is 0; see [`process_all`].
///
/// # Example
///
/// ```
/// use futures::StreamExt;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let mut total = 0;
/// let mut doubled = asyncperf_limiter::map_unordered(1..=100, 8, |n| async move { n * 2 });
/// while let Some(n) = doubled.next().await {
///     total += n;
/// }
/// assert_eq!(total, 10_100);
/// # }
/// ```
#[track_caller]
pub fn map_unordered<I, F, Fut>(items: I, concurrency: usize, f: F) -> MapUnordered<I::IntoIter, F>
where
    I: IntoIterator,
    F: FnMut(I::Item) -> Fut,
    Fut: Future,
{
    check_concurrency(concurrency);
    MapUnordered {
        engine: Engine::new(
            IterInput::new(items.into_iter()),
            CallFn::new(f),
            concurrency,
        ),
        done: false,
    }
}

/// A stream of `f(item)` for every item, at most `concurrency` in flight, in input order.
///
/// Unlike `futures`' `buffered`, outputs that finished early do not count against
/// `concurrency`: they wait in a reorder window of `16 * concurrency` items
/// ([`DEFAULT_WINDOW_FACTOR`]) that bounds memory, so a slow item does not shrink the number
/// in flight until the window is full. Set another window with
/// [`MapBuilder::reorder_window`](crate::MapBuilder::reorder_window).
///
/// # Panics
///
/// If `concurrency` is 0; see [`process_all`].
#[track_caller]
pub fn map_ordered<I, F, Fut>(items: I, concurrency: usize, f: F) -> MapOrdered<I::IntoIter, F>
where
    I: IntoIterator,
    F: FnMut(I::Item) -> Fut,
    Fut: Future,
{
    check_concurrency(concurrency);
    let window = concurrency.saturating_mul(DEFAULT_WINDOW_FACTOR);
    MapOrdered::with_window(items.into_iter(), concurrency, window, f)
}

pin_project! {
    /// Stream of [`map_unordered`]: outputs in completion order.
    ///
    /// Dropping it drops every item in flight at once.
    #[must_use = "streams do nothing unless polled"]
    pub struct MapUnordered<I, F>
    where
        I: Iterator,
        CallFn<F>: super::engine::Launch<I::Item>,
    {
        #[pin]
        engine: Engine<IterInput<I>, CallFn<F>>,
        done: bool,
    }
}

impl<I, F, Fut> Stream for MapUnordered<I, F>
where
    I: Iterator,
    F: FnMut(I::Item) -> Fut,
    Fut: Future,
{
    type Item = Fut::Output;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Fut::Output>> {
        let mut this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        this.engine.as_mut().new_round();
        match this.engine.poll_completion(cx, usize::MAX) {
            Poll::Ready(Some((_, output))) => Poll::Ready(Some(output)),
            Poll::Ready(None) => {
                *this.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.engine.in_flight(), None)
    }
}

impl<I, F, Fut> FusedStream for MapUnordered<I, F>
where
    I: Iterator,
    F: FnMut(I::Item) -> Fut,
    Fut: Future,
{
    fn is_terminated(&self) -> bool {
        self.done
    }
}

pin_project! {
    /// Stream of [`map_ordered`]: outputs in input order.
    ///
    /// Dropping it drops every item in flight at once, and the buffered outputs.
    #[must_use = "streams do nothing unless polled"]
    pub struct MapOrdered<I, F>
    where
        I: Iterator,
        CallFn<F>: super::engine::Launch<I::Item>,
    {
        #[pin]
        engine: Engine<IterInput<I>, CallFn<F>>,
        window: ReorderWindow<<<CallFn<F> as super::engine::Launch<I::Item>>::Fut as Future>::Output>,
        done: bool,
    }
}

impl<I, F, Fut> MapOrdered<I, F>
where
    I: Iterator,
    F: FnMut(I::Item) -> Fut,
    Fut: Future,
{
    fn with_window(items: I, concurrency: usize, window: usize, f: F) -> Self {
        Self {
            engine: Engine::new(IterInput::new(items), CallFn::new(f), concurrency),
            window: ReorderWindow::new(window),
            done: false,
        }
    }

    /// Outputs that completed and wait for an earlier one (at most the window).
    pub fn buffered_len(&self) -> usize {
        self.window.buffered()
    }
}

impl<I, F, Fut> Stream for MapOrdered<I, F>
where
    I: Iterator,
    F: FnMut(I::Item) -> Fut,
    Fut: Future,
{
    type Item = Fut::Output;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Fut::Output>> {
        let mut this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        this.engine.as_mut().new_round();
        this.engine.as_mut().fill(cx, this.window.start_before());
        loop {
            if let Some((_, output)) = this.window.pop_ready() {
                return Poll::Ready(Some(output));
            }
            match this
                .engine
                .as_mut()
                .poll_completion(cx, this.window.start_before())
            {
                Poll::Ready(Some((index, output))) => {
                    if let Some((_, output)) = this.window.emit_or_insert(index, output) {
                        return Poll::Ready(Some(output));
                    }
                }
                Poll::Ready(None) => {
                    *this.done = true;
                    return Poll::Ready(None);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.window.buffered(), None)
    }
}

impl<I, F, Fut> FusedStream for MapOrdered<I, F>
where
    I: Iterator,
    F: FnMut(I::Item) -> Fut,
    Fut: Future,
{
    fn is_terminated(&self) -> bool {
        self.done
    }
}

pin_project! {
    /// Future of [`process_all`]: every output, in input order.
    #[must_use = "futures do nothing unless polled"]
    pub struct ProcessAll<I, F>
    where
        I: Iterator,
        CallFn<F>: super::engine::Launch<I::Item>,
    {
        #[pin]
        map: MapOrdered<I, F>,
        outputs: Vec<<<CallFn<F> as super::engine::Launch<I::Item>>::Fut as Future>::Output>,
    }
}

impl<I, F, Fut> Future for ProcessAll<I, F>
where
    I: Iterator,
    F: FnMut(I::Item) -> Fut,
    Fut: Future,
{
    type Output = Vec<Fut::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Vec<Fut::Output>> {
        let mut this = self.project();
        loop {
            match this.map.as_mut().poll_next(cx) {
                Poll::Ready(Some(output)) => this.outputs.push(output),
                Poll::Ready(None) => return Poll::Ready(std::mem::take(this.outputs)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl<I, F> fmt::Debug for MapUnordered<I, F>
where
    I: Iterator,
    CallFn<F>: super::engine::Launch<I::Item>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapUnordered")
            .field("in_flight", &self.engine.in_flight())
            .finish_non_exhaustive()
    }
}

impl<I, F> fmt::Debug for MapOrdered<I, F>
where
    I: Iterator,
    CallFn<F>: super::engine::Launch<I::Item>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapOrdered")
            .field("in_flight", &self.engine.in_flight())
            .field("buffered", &self.window.buffered())
            .finish_non_exhaustive()
    }
}

impl<I, F> fmt::Debug for ProcessAll<I, F>
where
    I: Iterator,
    CallFn<F>: super::engine::Launch<I::Item>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessAll")
            .field("map", &self.map)
            .field("done", &self.outputs.len())
            .finish()
    }
}
