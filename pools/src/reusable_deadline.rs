//! `ReusableDeadline`: one timer reused for deadline after deadline.

use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::task::Poll;

use tokio::time::{Instant, Sleep};

/// A timer reused for one deadline after another: a connection's, for each of its commands.
///
/// tokio moves a registered timer to a later deadline with one atomic update, where a fresh
/// `tokio::time::timeout` adds and removes a timer-wheel entry (a lock each). Between uses
/// the timer stays registered at its last deadline; if that passes first it wakes the task
/// that used it last, once (a spurious wake-up, which futures allow).
#[derive(Debug, Default)]
pub(crate) struct ReusableDeadline {
    timer: Option<Pin<Box<Sleep>>>,
}

impl ReusableDeadline {
    /// Runs `op` until `at`: `None` when the deadline came first (`op` is then dropped).
    ///
    /// Cancel safe in itself: dropping the returned future drops `op`.
    pub(crate) async fn run<F: Future>(&mut self, at: Instant, op: F) -> Option<F::Output> {
        let timer = match &mut self.timer {
            Some(timer) => {
                timer.as_mut().reset(at);
                timer
            }
            None => self.timer.insert(Box::pin(tokio::time::sleep_until(at))),
        };
        let mut op = pin!(op);
        poll_fn(|cx| {
            // The command first: an answer that is there wins over a deadline that just passed.
            if let Poll::Ready(output) = op.as_mut().poll(cx) {
                return Poll::Ready(Some(output));
            }
            timer.as_mut().poll(cx).map(|()| None)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_reused_deadline_fires_at_each_commands_own_deadline() {
        let mut deadline = ReusableDeadline::default();
        let second = Duration::from_secs(1);
        // Answered in time, three times over (the timer moves later each time).
        for _ in 0..3 {
            let at = Instant::now() + second;
            let answer = deadline.run(at, tokio::time::sleep(second / 2)).await;
            assert_eq!(answer, Some(()));
        }
        // Too slow: the deadline is this command's, not the first one's.
        let started = Instant::now();
        let answer = deadline
            .run(started + second, tokio::time::sleep(2 * second))
            .await;
        assert_eq!(answer, None);
        assert_eq!(started.elapsed(), second);
        // After it fired the timer serves the next command again; and a deadline earlier
        // than the one the timer is registered at is kept too.
        let answer = deadline
            .run(Instant::now() + 10 * second, tokio::time::sleep(second / 2))
            .await;
        assert_eq!(answer, Some(()));
        let started = Instant::now();
        let answer = deadline
            .run(started + second / 4, std::future::pending::<()>())
            .await;
        assert_eq!(answer, None);
        assert_eq!(started.elapsed(), second / 4);
        // A ready answer wins over a deadline already passed.
        assert_eq!(deadline.run(Instant::now(), async { 7 }).await, Some(7));
    }

    #[tokio::test(start_paused = true)]
    async fn a_run_dropped_midway_leaves_the_timer_usable() {
        let mut deadline = ReusableDeadline::default();
        let second = Duration::from_secs(1);
        let dropped = deadline.run(Instant::now() + second, std::future::pending::<()>());
        assert!(
            tokio::time::timeout(second / 2, dropped).await.is_err(),
            "still waiting when dropped"
        );
        let started = Instant::now();
        let answer = deadline
            .run(started + 2 * second, std::future::pending::<()>())
            .await;
        assert_eq!(answer, None);
        assert_eq!(started.elapsed(), 2 * second);
    }
}
