//! The process-wide default profiler and the free functions that record into it.

use std::future::Future;
use std::sync::{Arc, OnceLock};

use crate::profiler::{Key, Profiler};
use crate::report::Report;
use crate::{Instrumented, Span, Time};

static GLOBAL: OnceLock<Profiler> = OnceLock::new();

/// The process-wide profiler the free functions record into, created on first use.
pub fn global() -> &'static Profiler {
    GLOBAL.get_or_init(Profiler::new)
}

/// [`Profiler::span`] on the [`global`] profiler.
#[inline]
pub fn span(name: &'static str) -> Span<'static> {
    global().span(name)
}

/// [`Profiler::time`] on the [`global`] profiler.
pub fn time<F: Future>(name: &'static str, fut: F) -> Time<F> {
    global().time(name, fut)
}

/// [`Profiler::instrument`] on the [`global`] profiler.
pub fn instrument<F: Future>(name: &'static str, fut: F) -> Instrumented<F> {
    global().instrument(name, fut)
}

/// [`Profiler::report`] of the [`global`] profiler.
#[must_use]
pub fn report() -> Report {
    global().report()
}

/// Awaits `fut` and prints its wall time like the reference's `async_timer`: `name: 0.123s`
/// (seconds, three decimals, on stdout), and records it in the [`global`] profiler.
///
/// The line prints even when recording is off (it is what the caller asked for); a future
/// dropped before completion prints nothing and counts as cancelled.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let n = asyncperf_profiler::timed("fetch_all", async { 42 }).await; // prints "fetch_all: 0.000s"
/// # assert_eq!(n, 42);
/// # }
/// ```
pub fn timed<F: Future>(name: &'static str, fut: F) -> Time<F> {
    Time::new(Arc::clone(&global().shared), Key::Static(name), fut, true)
}
