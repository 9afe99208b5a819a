//! The connection pool: one slot per open socket, counted per host and in total, idle
//! connections per host, and the queues of callers waiting for a slot.
//!
//! # How the caps stay exact
//!
//! A slot is taken before a socket is dialled and given back only when the task that drives
//! the socket has ended, that is when the socket is closed. So the number of sockets open (or
//! being opened) never exceeds `limit` in total nor `per_host` for one host, whatever the
//! timing: idle sockets count too. A caller that needs a socket when every slot is taken
//! waits in its host's FIFO queue. Slots and idle connections are handed to waiters directly
//! (never "wake up and race for it"), so a waiter cannot lose its turn to a newcomer.
//!
//! When the total cap is what blocks a host, and another host holds idle connections, the
//! least recently used of those is closed and its slot reserved for the blocked host. When a
//! connection comes back while several hosts wait on the total cap, the hosts take turns
//! (round-robin over the hosts that have waiters): the connection either goes to a waiter of
//! its own host or is closed so that the next host can dial.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::deadline::deadline_after;
use crate::metrics::{Counters, Gauges};

/// hyper's handle on one HTTP/1 connection.
pub(crate) type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// An open connection while a caller holds it. Dropping it closes the socket; the slot is
/// given back when the socket's task ends.
pub(crate) struct Conn {
    pub(crate) sender: Sender,
}

/// What a waiter is given.
pub(crate) enum Grant {
    /// A connection of its host, ready for reuse.
    Conn(Conn),
    /// A slot: the waiter dials a new connection.
    Dial,
}

/// What a caller gets when it asks for a connection.
pub(crate) enum Checkout {
    /// An idle connection to reuse.
    Idle(Conn),
    /// A slot to dial a new connection with; give it back with [`Pool::dial_failed`] or
    /// [`Pool::dial_done`].
    Dial,
    /// No slot now: wait for one.
    Wait(Waiting),
}

pub(crate) struct Pool {
    state: Mutex<State>,
    limit: usize,
    per_host: usize,
    keepalive: Duration,
    pub(crate) counters: Counters,
}

#[derive(Default)]
struct State {
    hosts: HashMap<Arc<str>, Host>,
    /// Sockets open or being dialled, every host together.
    open: usize,
    connecting: usize,
    idle: usize,
    waiters: usize,
    /// Hosts with waiters, in turn order.
    ring: VecDeque<Arc<str>>,
    /// Hosts promised the slot of a socket being closed for them, oldest promise first.
    reservations: VecDeque<Arc<str>>,
    next_waiter: u64,
    reaper_running: bool,
}

#[derive(Default)]
struct Host {
    /// Sockets of this host open or being dialled (idle, in use, connecting, closing).
    open: usize,
    /// Slots promised to this host (see `State::reservations`).
    reserved: usize,
    /// Oldest at the front; reuse takes the newest (LIFO), so spare connections idle out.
    idle: VecDeque<Idle>,
    waiters: VecDeque<Waiter>,
    in_ring: bool,
}

struct Idle {
    conn: Conn,
    since: Instant,
}

struct Waiter {
    id: u64,
    tx: oneshot::Sender<Grant>,
}

impl Pool {
    pub(crate) fn new(limit: usize, per_host: usize, keepalive: Duration) -> Self {
        Self {
            state: Mutex::new(State::default()),
            limit,
            per_host,
            keepalive,
            counters: Counters::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update keeps the state consistent before it can panic, so a poisoned lock
        // still guards sound data.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An idle connection, a slot to dial with, or a place in `key`'s queue.
    ///
    /// `fresh` skips idle connections (a retry after a stale one); `front` queues at the
    /// head (a waiter whose granted connection turned out closed keeps its turn).
    pub(crate) fn checkout(
        self: &Arc<Self>,
        key: &str,
        fresh: bool,
        front: bool,
    ) -> (Arc<str>, Checkout) {
        let mut closing = Vec::new();
        let out = self.checkout_locked(key, fresh, front, &mut closing);
        // Sockets are closed outside the lock; their slots come back when their tasks end.
        drop(closing);
        out
    }

    fn checkout_locked(
        self: &Arc<Self>,
        key: &str,
        fresh: bool,
        front: bool,
        closing: &mut Vec<Conn>,
    ) -> (Arc<str>, Checkout) {
        let mut guard = self.lock();
        let st = &mut *guard;
        let key = st.host_key(key);
        let host = st.hosts.get_mut(&key).expect("host_key inserted it");
        if !fresh {
            while let Some(idle) = host.idle.pop_back() {
                st.idle -= 1;
                if idle.since.elapsed() < self.keepalive && !idle.conn.sender.is_closed() {
                    return (key, Checkout::Idle(idle.conn));
                }
                closing.push(idle.conn);
            }
        } else if host.open >= self.per_host {
            // A retry after a stale connection: the host's other idle ones are suspect too,
            // and closing the oldest makes room for a fresh one.
            if let Some(idle) = host.idle.pop_front() {
                st.idle -= 1;
                closing.push(idle.conn);
            }
        }
        if (front || host.waiters.is_empty())
            && host.open + host.reserved < self.per_host
            && st.open < self.limit
        {
            host.open += 1;
            st.open += 1;
            st.connecting += 1;
            return (key, Checkout::Dial);
        }
        let (tx, rx) = oneshot::channel();
        let id = st.next_waiter;
        st.next_waiter += 1;
        if front {
            host.waiters.push_front(Waiter { id, tx });
        } else {
            host.waiters.push_back(Waiter { id, tx });
        }
        st.waiters += 1;
        if !host.in_ring {
            host.in_ring = true;
            st.ring.push_back(Arc::clone(&key));
        }
        let blocked_by_total = st.open >= self.limit && host.open + host.reserved < self.per_host;
        if blocked_by_total && let Some(conn) = st.evict_lru_idle(closing) {
            closing.push(conn);
            if let Some(host) = st.hosts.get_mut(&key) {
                host.reserved += 1;
            }
            st.reservations.push_back(Arc::clone(&key));
        }
        let waiting = Waiting {
            pool: Arc::clone(self),
            key: Arc::clone(&key),
            id,
            rx,
            done: false,
        };
        (key, Checkout::Wait(waiting))
    }

    /// A dial that got its slot from [`Checkout::Dial`] or [`Grant::Dial`] succeeded: the
    /// socket is open and its task now owns the slot (see [`SocketSlot`]).
    pub(crate) fn dial_done(&self) {
        self.lock().connecting -= 1;
    }

    /// A dial failed or was cancelled: its slot goes to the next waiter.
    pub(crate) fn dial_failed(&self, key: &str) {
        let mut st = self.lock();
        st.connecting -= 1;
        st.release(key, self.limit, self.per_host);
    }

    /// A socket closed: its slot goes to the next waiter.
    fn socket_closed(&self, key: &str) {
        self.counters.connection_closed();
        self.lock().release(key, self.limit, self.per_host);
    }

    /// A connection whose response was read to the end comes back: to a waiter, to the idle
    /// list, or closed so that another host can have its slot.
    pub(crate) fn checkin(self: &Arc<Self>, key: &str, conn: Conn) {
        if conn.sender.is_closed() || self.keepalive.is_zero() {
            return; // Dropping `conn` closes it.
        }
        let mut guard = self.lock();
        let st = &mut *guard;
        if st.open >= self.limit && !st.ring.is_empty() {
            // Hosts waiting on the total cap take turns with this connection's own host.
            let per_host = self.per_host;
            let pick = st.next_in_ring(|k, h| {
                if &**k == key {
                    true
                } else {
                    h.waiters.len() > h.reserved && h.open + h.reserved < per_host
                }
            });
            if let Some(other) = pick.filter(|k| &**k != key) {
                if let Some(h) = st.hosts.get_mut(&other) {
                    h.reserved += 1;
                }
                st.reservations.push_back(other);
                drop(guard);
                drop(conn);
                return;
            }
        }
        let Some(host) = st.hosts.get_mut(key) else {
            return;
        };
        let mut conn = conn;
        while let Some(waiter) = host.waiters.pop_front() {
            st.waiters -= 1;
            // Delivered, or (never) something else came back: done either way.
            let Err(Grant::Conn(back)) = waiter.tx.send(Grant::Conn(conn)) else {
                return;
            };
            // The waiter left without taking it: on to the next one.
            conn = back;
        }
        host.idle.push_back(Idle {
            conn,
            since: Instant::now(),
        });
        st.idle += 1;
        if !st.reaper_running {
            st.reaper_running = true;
            drop(guard);
            self.start_reaper();
        }
    }

    fn start_reaper(self: &Arc<Self>) {
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                // The guard is made here, not in the task, so that it is dropped (and clears
                // the flag) even if the task never runs.
                let running = ReaperRunning {
                    pool: Arc::downgrade(self),
                    stopped: false,
                };
                rt.spawn(reap(running));
            }
            // No runtime to run it on: idle connections are still checked at reuse, and the
            // next checkin inside a runtime starts the reaper.
            Err(_) => self.lock().reaper_running = false,
        }
    }

    /// Closes idle connections past the keep-alive timeout. Returns when the next one
    /// expires, or `None` (and stops the reaper) when none is idle.
    fn sweep(&self, closing: &mut Vec<Conn>) -> Option<Instant> {
        let mut st = self.lock();
        let now = Instant::now();
        let mut next: Option<Instant> = None;
        let mut expired = 0;
        // Hosts left with nothing: an idle connection the server had closed gave its slot
        // back long ago, so no later release would remove the host's entry.
        let mut emptied = Vec::new();
        for (key, host) in &mut st.hosts {
            if host.idle.is_empty() {
                continue;
            }
            while let Some(idle) = host.idle.front() {
                let deadline = deadline_after(idle.since, self.keepalive);
                if deadline <= now || idle.conn.sender.is_closed() {
                    if let Some(idle) = host.idle.pop_front() {
                        closing.push(idle.conn);
                        expired += 1;
                    }
                } else {
                    next = Some(next.map_or(deadline, |n| n.min(deadline)));
                    break;
                }
            }
            if host.idle.is_empty() && host.open == 0 {
                emptied.push(Arc::clone(key));
            }
        }
        st.idle -= expired;
        for key in emptied {
            st.remove_if_unused(&key);
        }
        if next.is_none() {
            st.reaper_running = false;
        }
        next
    }

    pub(crate) fn gauges(&self) -> Gauges {
        let st = self.lock();
        let as_u64 = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        Gauges {
            idle: as_u64(st.idle),
            in_use: as_u64(st.open.saturating_sub(st.idle + st.connecting)),
            connecting: as_u64(st.connecting),
            waiters: as_u64(st.waiters),
        }
    }

    /// Open sockets (or being dialled) to `key` now.
    pub(crate) fn open_to(&self, key: &str) -> usize {
        self.lock().hosts.get(key).map_or(0, |h| h.open)
    }

    fn cancel_wait(&self, key: &str, id: u64) {
        let mut st = self.lock();
        let Some(host) = st.hosts.get_mut(key) else {
            return;
        };
        if let Some(at) = host.waiters.iter().position(|w| w.id == id) {
            host.waiters.remove(at);
            st.waiters -= 1;
            st.remove_if_unused(key);
        }
    }
}

impl State {
    /// The map's key for `key`, inserting the host on first use.
    fn host_key(&mut self, key: &str) -> Arc<str> {
        if let Some((k, _)) = self.hosts.get_key_value(key) {
            return Arc::clone(k);
        }
        let k: Arc<str> = key.into();
        self.hosts.insert(Arc::clone(&k), Host::default());
        k
    }

    /// A socket of `key` is gone: its slot goes to a waiter, promised slots first.
    fn release(&mut self, key: &str, limit: usize, per_host: usize) {
        if let Some(host) = self.hosts.get_mut(key) {
            host.open -= 1;
        }
        self.open -= 1;
        while self.open < limit {
            let next = if let Some(k) = self.reservations.pop_front() {
                match self.hosts.get_mut(&k) {
                    Some(h) => {
                        h.reserved -= 1;
                        if h.waiters.is_empty() || h.open >= per_host {
                            self.remove_if_unused(&k);
                            continue;
                        }
                        k
                    }
                    None => continue,
                }
            } else {
                match self.next_in_ring(|_, h| h.open + h.reserved < per_host) {
                    Some(k) => k,
                    None => break,
                }
            };
            self.grant_dial(&next);
        }
        self.remove_if_unused(key);
    }

    /// Gives a slot to the first waiter of `key` still listening.
    fn grant_dial(&mut self, key: &str) {
        let Some(host) = self.hosts.get_mut(key) else {
            return;
        };
        while let Some(waiter) = host.waiters.pop_front() {
            self.waiters -= 1;
            if waiter.tx.send(Grant::Dial).is_ok() {
                host.open += 1;
                self.open += 1;
                self.connecting += 1;
                return;
            }
        }
    }

    /// The next host in turn with waiters for which `eligible` holds; it moves to the back.
    fn next_in_ring(
        &mut self,
        mut eligible: impl FnMut(&Arc<str>, &Host) -> bool,
    ) -> Option<Arc<str>> {
        for _ in 0..self.ring.len() {
            let k = self.ring.pop_front()?;
            let Some(host) = self.hosts.get_mut(&k) else {
                continue;
            };
            if host.waiters.is_empty() {
                host.in_ring = false;
                continue;
            }
            let ok = eligible(&k, host);
            self.ring.push_back(Arc::clone(&k));
            if ok {
                return Some(k);
            }
        }
        None
    }

    /// Takes the least recently used live idle connection of any host, to close it.
    ///
    /// Idle connections the server already closed are moved to `closed` on the way and never
    /// returned: their slot is given back by their own task (or already was), so closing one
    /// "to make room" would reserve a slot that no close is coming to free, and the waiter
    /// would wait for an unrelated socket while a live idle one sits unused.
    fn evict_lru_idle(&mut self, closed: &mut Vec<Conn>) -> Option<Conn> {
        loop {
            let (key, host) = self
                .hosts
                .iter_mut()
                .filter_map(|(k, h)| Some((h.idle.front()?.since, k, h)))
                .min_by_key(|(since, _, _)| *since)
                .map(|(_, k, h)| (Arc::clone(k), h))?;
            let idle = host.idle.pop_front()?;
            self.idle -= 1;
            if !idle.conn.sender.is_closed() {
                return Some(idle.conn);
            }
            closed.push(idle.conn);
            self.remove_if_unused(&key);
        }
    }

    fn remove_if_unused(&mut self, key: &str) {
        if let Some(h) = self.hosts.get(key)
            && h.open == 0
            && h.reserved == 0
            && h.waiters.is_empty()
            && h.idle.is_empty()
        {
            if h.in_ring {
                // Otherwise a host removed and added again could hold two turns.
                self.ring.retain(|k| &**k != key);
            }
            self.hosts.remove(key);
        }
    }
}

/// Closes idle connections past their keep-alive timeout; runs while any is idle.
async fn reap(mut running: ReaperRunning) {
    loop {
        let Some(strong) = running.pool.upgrade() else {
            return;
        };
        let mut closing = Vec::new();
        let next = strong.sweep(&mut closing);
        drop(closing);
        drop(strong);
        match next {
            Some(at) => tokio::time::sleep_until(at).await,
            None => {
                // `sweep` cleared the flag under the lock.
                running.stopped = true;
                return;
            }
        }
    }
}

/// Clears the "reaper running" flag if the reaper is dropped while it runs (its runtime
/// shut down), so that the next connection to go idle starts another one.
struct ReaperRunning {
    pool: Weak<Pool>,
    stopped: bool,
}

impl Drop for ReaperRunning {
    fn drop(&mut self) {
        if !self.stopped
            && let Some(pool) = self.pool.upgrade()
        {
            pool.lock().reaper_running = false;
        }
    }
}

/// The slot of one open socket, held by the task that drives it: given back when the task
/// ends (the socket closed) or is dropped (the runtime shut down).
pub(crate) struct SocketSlot {
    pool: Weak<Pool>,
    key: Arc<str>,
}

impl SocketSlot {
    pub(crate) fn new(pool: &Arc<Pool>, key: Arc<str>) -> Self {
        Self {
            pool: Arc::downgrade(pool),
            key,
        }
    }
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        if let Some(pool) = self.pool.upgrade() {
            pool.socket_closed(&self.key);
        }
    }
}

/// A place in a host's queue. Dropping it leaves the queue; a grant that arrived meanwhile
/// is passed on, so no slot or connection is lost.
pub(crate) struct Waiting {
    pool: Arc<Pool>,
    key: Arc<str>,
    id: u64,
    rx: oneshot::Receiver<Grant>,
    done: bool,
}

impl Future for Waiting {
    /// `None` only if the pool dropped the queue without a grant, which it never does.
    type Output = Option<Grant>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let out = std::task::ready!(Pin::new(&mut self.rx).poll(cx));
        self.done = true;
        Poll::Ready(out.ok())
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        self.pool.cancel_wait(&self.key, self.id);
        // A grant sent before we left the queue: hand it on (outside the lock).
        self.rx.close();
        match self.rx.try_recv() {
            Ok(Grant::Conn(conn)) => self.pool.checkin(&self.key, conn),
            Ok(Grant::Dial) => self.pool.dial_failed(&self.key),
            Err(_) => {}
        }
    }
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("limit", &self.limit)
            .field("per_host", &self.per_host)
            .field("keepalive", &self.keepalive)
            .finish_non_exhaustive()
    }
}
