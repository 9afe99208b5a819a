//! `Hot`: connections checked in and kept in front of mobc, so the next checkout takes one
//! with a lock and a pop instead of going through mobc.
//!
//! mobc's own checkout and check-in take its async mutex and semaphore, record several
//! `metrics` gauges and return every connection on a (boxed) task; together that is a few
//! percent of a `SELECT 1` round trip on a local server. A connection in the hot list is
//! still checked out from mobc (it holds its mobc permit), so mobc sees it as in use; the
//! pool's own gauges count it as idle.
//!
//! Checkouts first queue for one of `max_open` checkout permits (tokio's semaphore: first
//! come, first served), as deadpool's do. A check-in puts its connection here before it
//! gives its permit back, so the checkout that permit wakes takes that connection from this
//! list. Without the queue every checkout beyond the open connections waited inside mobc,
//! and every check-in went back through mobc to reach it.
//!
//! Waiting inside mobc still happens for a moment (a connection being opened, or the
//! maintenance task holding idle ones), and it has one hazard: a caller waiting in mobc
//! while connections sit here. Both decisions are taken under the same lock: a checkout
//! that finds the list empty registers as waiting in mobc before it unlocks, and a check-in
//! that sees a registered waiter hands its connection back to mobc (which passes the permit
//! on) instead of keeping it. So a connection is never kept here while anyone waits for one
//! in mobc.

use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::{Semaphore, SemaphorePermit};

use super::backend::Backend;
use super::wait::Wait;

pub(crate) struct Hot<M: Backend> {
    state: Mutex<State<M>>,
    /// One per connection checkouts may hold at once (`max_open`). A checkout's permit is
    /// forgotten when it becomes a `Pooled`, whose drop adds it back.
    permits: Semaphore,
}

struct State<M: Backend> {
    /// Most recently checked in last: a checkout takes the warmest connection.
    idle: Vec<mobc::Connection<M>>,
    /// Checkouts waiting inside mobc (registered while `idle` was empty).
    waiting_in_mobc: usize,
}

/// What a checkout gets from [`Hot::take`].
pub(crate) enum Taken<'a, M: Backend> {
    /// A connection checked in before: validate it and hand it out.
    Conn(mobc::Connection<M>),
    /// None here: ask mobc, holding this registration until mobc answers (or the call is
    /// dropped).
    AskMobc(Registration<'a, M>),
}

/// A checkout registered as waiting in mobc; unregisters when dropped.
pub(crate) struct Registration<'a, M: Backend>(&'a Hot<M>);

impl<M: Backend> Drop for Registration<'_, M> {
    fn drop(&mut self) {
        self.0.lock().waiting_in_mobc -= 1;
    }
}

impl<M: Backend> Hot<M> {
    pub(crate) fn new(max_open: usize) -> Self {
        Self {
            state: Mutex::new(State {
                idle: Vec::new(),
                waiting_in_mobc: 0,
            }),
            permits: Semaphore::new(max_open.min(Semaphore::MAX_PERMITS)),
        }
    }

    /// A checkout permit, waiting in line for one until the deadline (`None` past it).
    ///
    /// Cancel safe: a dropped call leaves the line, and a permit already handed to it goes to
    /// the next in line.
    pub(crate) async fn permit(&self, wait: &mut Wait) -> Option<SemaphorePermit<'_>> {
        // (No caller waits while one is free: tokio hands released permits to the queue.)
        if let Ok(permit) = self.permits.try_acquire() {
            return Some(permit);
        }
        // The semaphore is never closed, so `acquire` fails only by timing out.
        tokio::time::timeout(wait.remaining(), self.permits.acquire())
            .await
            .ok()?
            .ok()
    }

    /// Gives back the permit of a checkout that ended (after its connection, if kept, was
    /// checked in).
    pub(crate) fn release_permit(&self) {
        self.permits.add_permits(1);
    }

    fn lock(&self) -> MutexGuard<'_, State<M>> {
        // Nothing under this lock can panic halfway (pushes, pops, counts).
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The most recently checked-in connection, or a registration to wait in mobc.
    pub(crate) fn take(&self) -> Taken<'_, M> {
        let mut state = self.lock();
        match state.idle.pop() {
            Some(conn) => Taken::Conn(conn),
            None => {
                state.waiting_in_mobc += 1;
                Taken::AskMobc(Registration(self))
            }
        }
    }

    /// Keeps `conn` for the next checkout, or gives it back to mobc when a checkout waits
    /// there (dropping a mobc connection returns it and its permit to mobc).
    pub(crate) fn check_in(&self, conn: mobc::Connection<M>) {
        let mut state = self.lock();
        if state.waiting_in_mobc == 0 {
            state.idle.push(conn);
        } else {
            drop(state);
            drop(conn);
        }
    }

    /// Every connection kept here (for the maintenance task's rounds).
    pub(crate) fn drain(&self) -> Vec<mobc::Connection<M>> {
        std::mem::take(&mut self.lock().idle)
    }
}
