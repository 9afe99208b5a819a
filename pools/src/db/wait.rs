//! `Wait`: the start and deadline of a checkout, read from the clock only when needed.

use std::time::Duration;

use tokio::time::Instant;

use crate::deadline::deadline_after;

/// When a checkout started and when it must end, read from the clock only once the checkout
/// has to wait: an idle connection handed out at once costs no clock read.
#[derive(Debug)]
pub(crate) struct Wait {
    timeout: Duration,
    /// The current attempt's start and the deadline, once the clock was read.
    clock: Option<(Instant, Instant)>,
}

impl Wait {
    /// A wait of at most `timeout` from its first look at the clock.
    pub(crate) fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            clock: None,
        }
    }

    /// A wait that started at `start` and ends at `deadline`.
    #[cfg(feature = "redis")]
    pub(crate) fn until(start: Instant, deadline: Instant) -> Self {
        Self {
            timeout: deadline.saturating_duration_since(start),
            clock: Some((start, deadline)),
        }
    }

    fn clock(&mut self) -> (Instant, Instant) {
        let timeout = self.timeout;
        *self.clock.get_or_insert_with(|| {
            let now = Instant::now();
            (now, deadline_after(now, timeout))
        })
    }

    /// When the current attempt started (now, if the clock was not read yet).
    pub(crate) fn start(&mut self) -> Instant {
        self.clock().0
    }

    /// Time left until the deadline.
    pub(crate) fn remaining(&mut self) -> Duration {
        match self.clock {
            Some((_, deadline)) => deadline.saturating_duration_since(Instant::now()),
            None => {
                self.clock();
                self.timeout
            }
        }
    }

    /// How long the current attempt has waited: zero if it never had to.
    pub(crate) fn waited(&self) -> Duration {
        self.clock
            .map_or(Duration::ZERO, |(start, _)| start.elapsed())
    }

    /// A new attempt within the same deadline.
    pub(crate) fn restart(&mut self) {
        let (_, deadline) = self.clock();
        self.clock = Some((Instant::now(), deadline));
    }
}
