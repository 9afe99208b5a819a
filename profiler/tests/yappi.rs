//! The reference's yappi wall-clock example: `foo` burns CPU, awaits a sleep, blocks, awaits a
//! sleep again. yappi in wall mode reports ~4 units for `foo`; our `instrument` must report
//! wall ≈ 400 ms and busy (inside `poll`) ≈ 200 ms, with the sleeps as idle time.
//!
//! Busy loops and blocking cannot run on paused time, so this test uses the real clock. To stay
//! reliable on a loaded 2-core machine it compares the profiler with what the test itself
//! measured around the same sections (preemption or a late wake-up lengthens both alike), and
//! checks the fixed 400/200 ms figures only where load cannot break them: from below (sleeps
//! and busy sections never end early). The only fixed upper bound is a hang guard.

#![cfg(feature = "enabled")]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use asyncperf_profiler::Profiler;

const STEP: Duration = Duration::from_millis(100);

/// The reference's `burn_cpu`: spin until `d` of wall time has passed.
fn burn_cpu(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

#[derive(Default, Debug)]
struct SelfMeasured {
    /// Around the busy loop and the blocking sleep.
    busy: Duration,
    /// Around each `sleep(..).await`.
    awaited: Duration,
}

fn within(actual: Duration, expected: Duration, rel: f64, slack: Duration) -> bool {
    let (a, e) = (actual.as_secs_f64(), expected.as_secs_f64());
    (a - e).abs() <= e * rel + slack.as_secs_f64()
}

#[test]
fn wall_is_400ms_and_busy_is_200ms_like_yappi() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let prof = Profiler::new();
    let seen = Arc::new(Mutex::new(SelfMeasured::default()));

    let foo = {
        let seen = Arc::clone(&seen);
        prof.instrument("foo", async move {
            let t = Instant::now();
            burn_cpu(STEP);
            seen.lock().unwrap().busy += t.elapsed();

            let t = Instant::now();
            tokio::time::sleep(STEP).await;
            seen.lock().unwrap().awaited += t.elapsed();

            let t = Instant::now();
            std::thread::sleep(STEP); // blocks the thread inside poll: busy, not idle
            seen.lock().unwrap().busy += t.elapsed();

            let t = Instant::now();
            tokio::time::sleep(STEP).await;
            seen.lock().unwrap().awaited += t.elapsed();
        })
    };
    let outer = Instant::now();
    rt.block_on(foo);
    let outer = outer.elapsed();

    let report = prof.report();
    let entry = report.get("foo").unwrap();
    let f = entry.futures.unwrap();
    let seen = seen.lock().unwrap();
    let msg = format!("profiler {f:?}, test measured {seen:?}, outer {outer:?}\n{report}");
    println!("{msg}");

    // Shape: one future, three polls (start, after each sleep), nothing cancelled.
    assert_eq!((entry.count, f.completed, f.polls), (1, 1, 3), "{msg}");
    assert_eq!(f.wall_ns, f.busy_ns + f.scheduled_ns + f.idle_ns, "{msg}");

    // Busy brackets the sections the test timed, plus the little else the polls do.
    assert!(f.busy() >= seen.busy, "{msg}");
    assert!(
        within(f.busy(), seen.busy, 0.10, Duration::from_millis(5)),
        "{msg}"
    );
    // Wall is the busy sections plus the awaits, and sits inside the test's outer timing.
    assert!(f.wall() <= outer, "{msg}");
    assert!(
        within(
            f.wall(),
            seen.busy + seen.awaited,
            0.10,
            Duration::from_millis(5)
        ),
        "{msg}"
    );
    // The sleeps are time between polls (idle: pending until the timer wakes the task, then
    // scheduled): at least the two steps, less whatever of them the OS took out of a poll.
    let extra_busy = f.busy() - seen.busy;
    assert!(f.idle() + f.scheduled() + extra_busy >= STEP * 2, "{msg}");
    assert!(f.idle() >= STEP, "{msg}");

    // The reference's figures, from below (load only ever lengthens them) ...
    assert!(f.wall() >= STEP * 4 - Duration::from_millis(10), "{msg}");
    assert!(f.busy() >= STEP * 2, "{msg}");
    // ... and the busy share of wall is about one half (both lengthen under load).
    let share = f.busy_share();
    assert!((0.35..=0.65).contains(&share), "busy share {share}: {msg}");
    // Hang guard only.
    assert!(outer < Duration::from_secs(30), "{msg}");
}
