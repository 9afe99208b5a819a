//! The wall-time future wrapper behind `Profiler::time` and `timed`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;

use crate::clock::now_ns;
use crate::profiler::{Key, Shared};

pin_project! {
    /// A future that records the wall time of the future it wraps, from its first poll to its
    /// completion. Made by [`Profiler::time`](crate::Profiler::time),
    /// [`Probe::time`](crate::Probe::time) and [`timed`](crate::timed).
    ///
    /// Dropped before completion, it counts a cancellation for its name instead.
    #[must_use = "futures do nothing unless polled"]
    pub struct Time<F> {
        #[pin]
        fut: F,
        shared: Arc<Shared>,
        key: Key,
        // Whether to record (recording was on at creation).
        record: bool,
        // The reference's `async_timer` line to print on completion (`timed`), if any.
        print: Option<&'static str>,
        start: Option<u64>,
        done: bool,
    }

    impl<F> PinnedDrop for Time<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if *this.record && !*this.done {
                let wall = this.start.map_or(0, |s| now_ns().saturating_sub(s));
                this.shared.record_cancelled(*this.key, wall, 0);
            }
        }
    }
}

impl<F> Time<F> {
    pub(crate) fn new(shared: Arc<Shared>, key: Key, fut: F, print: bool) -> Self {
        let record = shared.recording();
        let print = match (print, key) {
            (true, Key::Static(name)) => Some(name),
            _ => None,
        };
        Self {
            fut,
            shared,
            key,
            record,
            print,
            start: None,
            done: false,
        }
    }

    /// The future this wraps.
    pub fn get_ref(&self) -> &F {
        &self.fut
    }
}

impl<F: Future> Future for Time<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        if !*this.record && this.print.is_none() {
            return this.fut.poll(cx);
        }
        let start = *this.start.get_or_insert_with(now_ns);
        let out = this.fut.poll(cx);
        if out.is_ready() {
            *this.done = true;
            let wall = now_ns().saturating_sub(start);
            if *this.record {
                this.shared.record_ns(*this.key, wall);
            }
            if let Some(name) = this.print {
                print_line(name, Duration::from_nanos(wall));
            }
        }
        out
    }
}

impl<F> fmt::Debug for Time<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Time")
            .field("key", &self.key)
            .field("record", &self.record)
            .field("started", &self.start.is_some())
            .finish_non_exhaustive()
    }
}

/// The reference's line: `name: 0.123s` (seconds, three decimals).
#[must_use]
pub fn timed_line(name: &str, elapsed: Duration) -> String {
    format!("{name}: {:.3}s", elapsed.as_secs_f64())
}

#[allow(clippy::print_stdout)]
fn print_line(name: &str, elapsed: Duration) {
    println!("{}", timed_line(name, elapsed));
}
