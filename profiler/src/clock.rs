//! The one clock every measurement reads: nanoseconds since a process-wide anchor.
//!
//! `quanta` reads the CPU's invariant time-stamp counter (`rdtsc` on x86-64, `cntvct_el0` on
//! `AArch64`) and scales it to nanoseconds with a multiply and a shift, calibrated once against
//! the OS monotonic clock (the first profiler in a process waits for that, typically 10-20 ms,
//! at most 200 ms). Where the counter is missing or not invariant it reads the OS monotonic
//! clock instead. On the development VM a read costs about 8 ns against 16-25 ns for
//! `std::time::Instant::now`, and the two or three reads are most of what a measurement costs,
//! so this is the one dependency worth its weight (a hand-written TSC clock needs `unsafe`,
//! CPUID feature detection and calibration, which is exactly what `quanta` is).
//!
//! Timestamps are plain `u64`s so a waker on another thread can store one in an atomic and a
//! poller can subtract two without converting through `Duration`. Counters of different cores
//! can disagree by a few ticks, so every difference saturates at zero.

use std::sync::OnceLock;

struct Clock {
    clock: quanta::Clock,
    anchor: u64,
}

static CLOCK: OnceLock<Clock> = OnceLock::new();

#[inline]
fn clock() -> &'static Clock {
    match CLOCK.get() {
        Some(c) => c,
        None => calibrate(),
    }
}

#[cold]
#[inline(never)]
fn calibrate() -> &'static Clock {
    CLOCK.get_or_init(|| {
        let clock = quanta::Clock::new();
        let anchor = clock.raw();
        Clock { clock, anchor }
    })
}

/// Calibrates the clock now rather than on the first measurement.
pub(crate) fn init() {
    let _ = clock();
}

/// Nanoseconds since the process anchor (the clock's initialisation).
#[inline]
pub(crate) fn now_ns() -> u64 {
    let c = clock();
    c.clock.delta_as_nanos(c.anchor, c.clock.raw())
}

/// A raw counter reading, for intervals measured on one thread: cheaper than [`now_ns`]
/// because the scaling to nanoseconds happens once, in [`ns_since`].
#[inline]
pub(crate) fn raw() -> u64 {
    clock().clock.raw()
}

/// Nanoseconds from the raw reading `start` to now (0 if the counter went backwards).
#[inline]
pub(crate) fn ns_since(start: u64) -> u64 {
    let c = &clock().clock;
    c.delta_as_nanos(start, c.raw())
}

/// What [`now_ns`] reads, for reports (the research note asks a profiler to say its clock).
pub(crate) const CLOCK_NAME: &str = "quanta";
