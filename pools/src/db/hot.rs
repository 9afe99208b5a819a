//! `Hot`: connections checked in and kept in front of mobc, so the next checkout takes one
//! with a lock and a pop instead of going through mobc.
//!
//! mobc's own checkout and check-in take its async mutex and semaphore, record several
//! `metrics` gauges and return every connection on a (boxed) task; together that is a few
//! percent of a `SELECT 1` round trip on a local server. A connection in the hot list is
//! still checked out from mobc (it holds its mobc permit), so mobc sees it as in use; the
//! pool's own gauges count it as idle.
//!
//! The one hazard is a caller waiting inside mobc for a permit while connections sit here.
//! Both decisions are taken under the same lock: a checkout that finds the list empty
//! registers as waiting in mobc before it unlocks, and a check-in that sees a registered
//! waiter hands its connection back to mobc (which passes the permit on) instead of keeping
//! it. So a connection is never kept here while anyone waits for one in mobc.

use std::sync::{Mutex, MutexGuard, PoisonError};

use super::backend::Backend;

pub(crate) struct Hot<M: Backend> {
    state: Mutex<State<M>>,
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
    pub(crate) fn new() -> Self {
        Self {
            state: Mutex::new(State {
                idle: Vec::new(),
                waiting_in_mobc: 0,
            }),
        }
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
