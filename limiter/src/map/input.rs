//! Where a map's items come from: an iterator or a stream, pulled one item at a time.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use pin_project_lite::pin_project;

/// The input of a map: something that yields items when asked, possibly later.
///
/// Sealed: implemented by [`IterInput`] and [`StreamInput`] only.
pub trait Input: crate::map::Sealed {
    /// The items.
    type Item;

    /// The next item, `Ready(None)` at the end, or `Pending` (with the task registered) if a
    /// stream has none yet.
    fn poll_item(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>>;
}

/// A map's input from an iterator (pulled only when a slot is free).
#[derive(Debug)]
pub struct IterInput<I> {
    iter: I,
}

impl<I> IterInput<I> {
    pub(crate) fn new(iter: I) -> Self {
        Self { iter }
    }
}

impl<I> crate::map::Sealed for IterInput<I> {}
impl<S> crate::map::Sealed for StreamInput<S> {}

impl<I: Iterator> Input for IterInput<I> {
    type Item = I::Item;

    fn poll_item(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<I::Item>> {
        Poll::Ready(self.get_mut().iter.next())
    }
}

// An iterator is never pinned structurally: `IterInput` moves it freely.
impl<I> Unpin for IterInput<I> {}

pin_project! {
    /// A map's input from a stream (polled only when a slot is free).
    #[derive(Debug)]
    pub struct StreamInput<S> {
        #[pin]
        stream: S,
    }
}

impl<S> StreamInput<S> {
    pub(crate) fn new(stream: S) -> Self {
        Self { stream }
    }
}

impl<S: Stream> Input for StreamInput<S> {
    type Item = S::Item;

    fn poll_item(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        self.project().stream.poll_next(cx)
    }
}
