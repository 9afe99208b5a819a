//! The counts behind a `Limiter` and the rules that move permits between them.
//!
//! Invariant (checked by `debug_check`): `available + in_flight == limit + debt`, and
//! `debt > 0` implies `available == 0`. A shrink takes free permits first and records the rest
//! as debt; every release pays debt before it frees a permit, so held permits are never
//! revoked and `in_flight` falls to the new limit as holders finish.

use std::task::Waker;

use crate::error::AcquireError;
use crate::wait_list::{Key, WaitList};

/// What a queued `Acquire` is told.
#[derive(Debug)]
pub(super) enum Outcome {
    Waiting,
    Granted,
    Failed(AcquireError),
}

#[derive(Debug)]
pub(super) struct Waiter {
    pub(super) weight: usize,
    pub(super) waker: Option<Waker>,
    pub(super) outcome: Outcome,
}

#[derive(Debug)]
pub(super) struct State {
    pub(super) limit: usize,
    pub(super) available: usize,
    pub(super) in_flight: usize,
    pub(super) debt: usize,
    pub(super) closed: bool,
    pub(super) waiters: WaitList<Waiter>,
}

/// Wakers collected under the lock and woken after it is released (a waker may run foreign
/// code). Fixed size so that waking never allocates; callers loop when it fills up.
pub(super) struct WakeBatch {
    wakers: [Option<Waker>; WakeBatch::CAPACITY],
    len: usize,
}

impl WakeBatch {
    const CAPACITY: usize = 32;

    pub(super) fn new() -> Self {
        Self {
            wakers: std::array::from_fn(|_| None),
            len: 0,
        }
    }

    pub(super) fn is_full(&self) -> bool {
        self.len == Self::CAPACITY
    }

    fn push(&mut self, waker: Option<Waker>) {
        if let Some(waker) = waker {
            self.wakers[self.len] = Some(waker);
            self.len += 1;
        }
    }

    pub(super) fn wake_all(&mut self) {
        for slot in &mut self.wakers[..self.len] {
            if let Some(waker) = slot.take() {
                waker.wake();
            }
        }
        self.len = 0;
    }
}

impl State {
    pub(super) fn new(limit: usize) -> Self {
        Self {
            limit,
            available: limit,
            in_flight: 0,
            debt: 0,
            closed: false,
            waiters: WaitList::new(),
        }
    }

    /// Takes `weight` permits now if nobody is queued ahead (FIFO: no barging).
    pub(super) fn try_take(&mut self, weight: usize) -> bool {
        if self.waiters.is_empty() && self.available >= weight {
            self.available -= weight;
            self.in_flight += weight;
            true
        } else {
            false
        }
    }

    /// Returns `weight` held permits: pays the debt first, then frees the rest.
    pub(super) fn give_back(&mut self, weight: usize) {
        self.in_flight -= weight;
        let paid = self.debt.min(weight);
        self.debt -= paid;
        self.available += weight - paid;
        self.debug_check();
    }

    pub(super) fn resize(&mut self, new_limit: usize) {
        if new_limit >= self.limit {
            let grow = new_limit - self.limit;
            let paid = self.debt.min(grow);
            self.debt -= paid;
            self.available += grow - paid;
        } else {
            let shrink = self.limit - new_limit;
            let taken = self.available.min(shrink);
            self.available -= taken;
            self.debt += shrink - taken;
        }
        self.limit = new_limit;
        self.debug_check();
    }

    /// Grants queued waiters in order while the front one fits. Returns false if the batch
    /// filled up before the queue was served as far as it can be (call again after waking).
    pub(super) fn serve(&mut self, batch: &mut WakeBatch) -> bool {
        while let Some(key) = self.waiters.front() {
            let weight = self.waiters.get(key).weight;
            if weight > self.available {
                return true;
            }
            if batch.is_full() {
                return false;
            }
            self.available -= weight;
            self.in_flight += weight;
            self.finish(key, Outcome::Granted, batch);
        }
        true
    }

    /// Fails every queued waiter for which `pick` gives an error. Returns false if the batch
    /// filled up first (call again after waking).
    pub(super) fn fail_where(
        &mut self,
        pick: impl Fn(&Waiter) -> Option<AcquireError>,
        batch: &mut WakeBatch,
    ) -> bool {
        let mut at = self.waiters.front();
        while let Some(key) = at {
            at = self.waiters.next(key);
            if let Some(error) = pick(self.waiters.get(key)) {
                if batch.is_full() {
                    return false;
                }
                self.finish(key, Outcome::Failed(error), batch);
            }
        }
        true
    }

    fn finish(&mut self, key: Key, outcome: Outcome, batch: &mut WakeBatch) {
        self.waiters.unlink(key);
        let waiter = self.waiters.get_mut(key);
        waiter.outcome = outcome;
        batch.push(waiter.waker.take());
    }

    fn debug_check(&self) {
        debug_assert_eq!(self.available + self.in_flight, self.limit + self.debt);
        debug_assert!(self.debt == 0 || self.available == 0);
    }
}
