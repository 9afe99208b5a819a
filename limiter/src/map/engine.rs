//! `Engine`: keeps up to `concurrency` items in flight, pulling input lazily into free slots,
//! with no barrier between items.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

use super::input::Input;
use super::slots::Slots;

/// Turns an input item into the future that runs in a slot.
///
/// Sealed: implemented by this crate's launchers only.
pub trait Launch<Item>: crate::map::Sealed {
    /// The future run for one item.
    type Fut: Future;

    /// Starts item `index` (its position in the input).
    fn launch(&mut self, index: usize, item: Item) -> Self::Fut;
}

/// The plain launcher of `map_unordered`, `map_ordered` and `process_all`: calls `f(item)`.
#[derive(Debug)]
pub struct CallFn<F> {
    f: F,
}

impl<F> CallFn<F> {
    pub(crate) fn new(f: F) -> Self {
        Self { f }
    }
}

impl<F> crate::map::Sealed for CallFn<F> {}

impl<Item, F, Fut> Launch<Item> for CallFn<F>
where
    F: FnMut(Item) -> Fut,
    Fut: Future,
{
    type Fut = Fut;

    fn launch(&mut self, _: usize, item: Item) -> Fut {
        (self.f)(item)
    }
}

pin_project! {
    pub(crate) struct Engine<S, L>
    where
        S: Input,
        L: Launch<S::Item>,
    {
        #[pin]
        input: S,
        launch: L,
        slots: Slots<L::Fut>,
        next_index: usize,
        input_done: bool,
        // The map's overall deadline: no input is pulled after it. The timer is made on the
        // first poll (making one needs the runtime, which building the map does not).
        stop_at: Option<Instant>,
        stop_timer: Option<Pin<Box<Sleep>>>,
    }
}

impl<S, L> Engine<S, L>
where
    S: Input,
    L: Launch<S::Item>,
{
    /// `concurrency >= 1`.
    pub(crate) fn new(input: S, launch: L, concurrency: usize) -> Self {
        Self {
            input,
            launch,
            slots: Slots::new(concurrency),
            next_index: 0,
            input_done: false,
            stop_at: None,
            stop_timer: None,
        }
    }

    pub(crate) fn stop_pulling_at(&mut self, deadline: Instant) {
        self.stop_at = Some(deadline);
    }

    /// Items in flight.
    pub(crate) fn in_flight(&self) -> usize {
        self.slots.len()
    }

    /// Starts a new poll round (see `Slots::new_round`).
    pub(crate) fn new_round(self: Pin<&mut Self>) {
        self.project().slots.new_round();
    }

    /// Cancels every item in flight (dropping it now) and pulls no more input.
    pub(crate) fn stop(self: Pin<&mut Self>) {
        let this = self.project();
        this.slots.clear();
        *this.input_done = true;
    }

    /// Fills free slots with items whose index is below `start_before`.
    pub(crate) fn fill(self: Pin<&mut Self>, cx: &mut Context<'_>, start_before: usize) {
        let mut this = self.project();
        if *this.input_done {
            return;
        }
        if let Some(deadline) = *this.stop_at {
            let timer = this
                .stop_timer
                .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
            if timer.as_mut().poll(cx).is_ready() {
                *this.input_done = true;
                return;
            }
        }
        while this.slots.has_free() && *this.next_index < start_before {
            match this.input.as_mut().poll_item(cx) {
                Poll::Ready(Some(item)) => {
                    let index = *this.next_index;
                    let fut = this.launch.launch(index, item);
                    if this.slots.insert(index, fut).is_err() {
                        unreachable!("a free slot was checked for");
                    }
                    *this.next_index += 1;
                }
                Poll::Ready(None) => {
                    *this.input_done = true;
                    return;
                }
                Poll::Pending => return,
            }
        }
    }

    /// Fills free slots, then polls what is due until an item completes.
    ///
    /// `Ready(Some((index, output)))`: item `index` completed. `Ready(None)`: the input is
    /// exhausted (or stopped) and nothing is in flight. `Pending`: the task will be woken.
    pub(crate) fn poll_completion(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        start_before: usize,
    ) -> Poll<Option<(usize, <L::Fut as Future>::Output)>> {
        self.as_mut().fill(cx, start_before);
        let this = self.project();
        match this.slots.poll_next(cx) {
            Poll::Ready(Some(done)) => Poll::Ready(Some(done)),
            Poll::Ready(None) if *this.input_done => Poll::Ready(None),
            // Nothing in flight, but the input is pending (and will wake us), or the caller
            // holds outputs that must be emitted before more may start.
            Poll::Ready(None) | Poll::Pending => Poll::Pending,
        }
    }
}
