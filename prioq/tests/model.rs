//! Property: random sends, receives, parks, closes, clones and drops from several handles
//! behave exactly like a `BinaryHeap` of `(priority, seq)` plus a FIFO of parked receivers:
//! same order, nothing lost, nothing duplicated, same errors.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use asyncperf_prioq::{Builder, Receiver, Sender, TryRecvError, TrySendError};
use futures::{FutureExt, Stream};
use proptest::prelude::*;

#[derive(Clone, Copy, Debug)]
enum Mode {
    Strict,
    Levels,
    Aging,
}

const AGING_WINDOW: u64 = 3;

#[derive(Clone, Debug)]
enum Op {
    Send {
        sender: usize,
        priority: u8,
    },
    TryRecv {
        receiver: usize,
    },
    /// `poll_next` on a receiver handle: parks it if nothing can be taken.
    Poll {
        receiver: usize,
    },
    RecvMany {
        receiver: usize,
        limit: usize,
    },
    Close {
        by_sender: bool,
        handle: usize,
    },
    CloneSender {
        sender: usize,
    },
    CloneReceiver {
        receiver: usize,
    },
    DropSender {
        sender: usize,
    },
    DropReceiver {
        receiver: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let h = 0usize..4;
    prop_oneof![
        5 => (h.clone(), 0u8..4).prop_map(|(sender, priority)| Op::Send { sender, priority }),
        // Many distinct priorities: strict order spills from runs into its heap.
        2 => (h.clone(), 0u8..48).prop_map(|(sender, priority)| Op::Send { sender, priority }),
        3 => h.clone().prop_map(|receiver| Op::TryRecv { receiver }),
        3 => h.clone().prop_map(|receiver| Op::Poll { receiver }),
        1 => (h.clone(), 0usize..4).prop_map(|(receiver, limit)| Op::RecvMany { receiver, limit }),
        1 => (any::<bool>(), h.clone()).prop_map(|(by_sender, handle)| Op::Close { by_sender, handle }),
        1 => h.clone().prop_map(|sender| Op::CloneSender { sender }),
        1 => h.clone().prop_map(|receiver| Op::CloneReceiver { receiver }),
        1 => h.clone().prop_map(|sender| Op::DropSender { sender }),
        1 => h.prop_map(|receiver| Op::DropReceiver { receiver }),
    ]
}

#[derive(Default)]
struct Flag(AtomicUsize);
impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// The model: a min-heap of `(key, priority, seq)`; items are their `seq`.
struct Model {
    mode: Mode,
    capacity: Option<usize>,
    heap: BinaryHeap<Reverse<(u64, u8, u64)>>,
    seq: u64,
    closed: bool,
    /// Items set aside for served (granted) receivers.
    granted: usize,
    /// Parked receiver handles in arrival order (by handle id).
    parked: VecDeque<usize>,
    /// Handles that were served and have not polled yet.
    served: Vec<usize>,
}

impl Model {
    fn key(&self, priority: u8, seq: u64) -> u64 {
        match self.mode {
            Mode::Strict | Mode::Levels => 0,
            Mode::Aging => seq + AGING_WINDOW * u64::from(priority),
        }
    }
    fn available(&self) -> usize {
        self.heap.len() - self.granted
    }
    fn pop(&mut self) -> u64 {
        self.heap.pop().expect("model has an item").0.2
    }
    /// Receiving through a handle by other means than its stream takes over the place its
    /// stream left: an item set aside for it becomes its claim.
    fn take_stream_place(&mut self, receiver: usize) {
        self.parked.retain(|&x| x != receiver);
        if let Some(i) = self.served.iter().position(|&x| x == receiver) {
            self.served.swap_remove(i);
            self.granted -= 1;
        }
    }
    fn serve_parked(&mut self) {
        while self.available() > 0
            && let Some(r) = self.parked.pop_front()
        {
            self.granted += 1;
            self.served.push(r);
        }
    }
}

struct Handles {
    senders: Vec<Option<Sender<u64, u8>>>,
    receivers: Vec<Option<Receiver<u64, u8>>>,
    wakers: Vec<(Arc<Flag>, Waker)>,
}

fn run(mode: Mode, capacity: Option<usize>, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut b = Builder::<u8>::new();
    if let Some(c) = capacity {
        b = b.capacity(c);
    }
    b = match mode {
        Mode::Strict => b,
        Mode::Levels => b.levels(2),
        Mode::Aging => b.aging(AGING_WINDOW),
    };
    let (tx, rx) = b.build::<u64>().unwrap();
    let mut h = Handles {
        senders: vec![Some(tx)],
        receivers: vec![Some(rx)],
        wakers: Vec::new(),
    };
    let new_waker = |h: &mut Handles| {
        let f = Arc::new(Flag::default());
        h.wakers.push((f.clone(), Waker::from(f)));
    };
    new_waker(&mut h);
    let mut m = Model {
        mode,
        capacity,
        heap: BinaryHeap::new(),
        seq: 0,
        closed: false,
        granted: 0,
        parked: VecDeque::new(),
        served: Vec::new(),
    };
    let mut received: Vec<u64> = Vec::new();

    for op in ops {
        match op {
            Op::Send { sender, priority } => {
                let Some(Some(tx)) = h.senders.get(sender) else {
                    continue;
                };
                let r = tx.try_send(m.seq, priority);
                if m.closed {
                    prop_assert!(matches!(r, Err(TrySendError::Closed(_))), "{r:?}");
                } else if m.capacity.is_some_and(|c| m.heap.len() >= c) {
                    prop_assert!(matches!(r, Err(TrySendError::Full(_))), "{r:?}");
                } else {
                    prop_assert!(r.is_ok(), "{r:?}");
                    let key = m.key(priority, m.seq);
                    m.heap.push(Reverse((key, priority, m.seq)));
                    m.seq += 1;
                    // Served receivers are woken.
                    let before: Vec<usize> = m.served.clone();
                    m.serve_parked();
                    for &r in m.served.iter().filter(|r| !before.contains(r)) {
                        prop_assert!(h.wakers[r].0.0.load(Ordering::SeqCst) > 0);
                    }
                }
            }
            Op::TryRecv { receiver } => {
                let Some(Some(rx)) = h.receivers.get(receiver) else {
                    continue;
                };
                let r = rx.try_recv();
                m.take_stream_place(receiver);
                if m.available() > 0 {
                    let want = m.pop();
                    prop_assert_eq!(r, Ok(want));
                    received.push(want);
                } else if m.closed && m.heap.is_empty() {
                    prop_assert_eq!(r, Err(TryRecvError::Closed));
                } else {
                    prop_assert_eq!(r, Err(TryRecvError::Empty));
                }
            }
            Op::Poll { receiver } => {
                let Some(Some(rx)) = h.receivers.get_mut(receiver) else {
                    continue;
                };
                h.wakers[receiver].0.0.store(0, Ordering::SeqCst);
                let mut cx = Context::from_waker(&h.wakers[receiver].1);
                let r = Pin::new(rx).poll_next(&mut cx);
                if let Some(i) = m.served.iter().position(|&x| x == receiver) {
                    m.served.swap_remove(i);
                    m.granted -= 1;
                    let want = m.pop();
                    prop_assert_eq!(r, Poll::Ready(Some(want)));
                    received.push(want);
                } else if m.available() > 0 {
                    prop_assert!(!m.parked.contains(&receiver), "parked with items available");
                    let want = m.pop();
                    prop_assert_eq!(r, Poll::Ready(Some(want)));
                    received.push(want);
                } else if m.closed && m.heap.is_empty() {
                    prop_assert_eq!(r, Poll::Ready(None));
                    m.parked.retain(|&x| x != receiver);
                } else {
                    prop_assert_eq!(r, Poll::Pending);
                    if !m.parked.contains(&receiver) {
                        m.parked.push_back(receiver);
                    }
                }
            }
            Op::RecvMany { receiver, limit } => {
                let Some(Some(rx)) = h.receivers.get(receiver) else {
                    continue;
                };
                let mut buf = Vec::new();
                let r = rx.recv_many(&mut buf, limit).now_or_never();
                if limit > 0 {
                    m.take_stream_place(receiver);
                }
                if limit == 0 {
                    prop_assert_eq!(r, Some(0));
                } else if m.available() > 0 {
                    let n = m.available().min(limit);
                    let want: Vec<u64> = (0..n).map(|_| m.pop()).collect();
                    prop_assert_eq!(r, Some(n));
                    prop_assert_eq!(&buf, &want);
                    received.extend(want);
                } else if m.closed && m.heap.is_empty() {
                    prop_assert_eq!(r, Some(0));
                } else {
                    prop_assert_eq!(r, None, "parks, then is dropped");
                }
            }
            Op::Close { by_sender, handle } => {
                let closed = if by_sender {
                    let Some(Some(tx)) = h.senders.get(handle) else {
                        continue;
                    };
                    tx.close()
                } else {
                    let Some(Some(rx)) = h.receivers.get(handle) else {
                        continue;
                    };
                    rx.close()
                };
                prop_assert_eq!(closed, !m.closed);
                m.closed = true;
            }
            Op::CloneSender { sender } => {
                let Some(Some(tx)) = h.senders.get(sender) else {
                    continue;
                };
                let tx = tx.clone();
                h.senders.push(Some(tx));
            }
            Op::CloneReceiver { receiver } => {
                let Some(Some(rx)) = h.receivers.get(receiver) else {
                    continue;
                };
                let rx = rx.clone();
                h.receivers.push(Some(rx));
                new_waker(&mut h);
            }
            Op::DropSender { sender } => {
                let Some(slot) = h.senders.get_mut(sender) else {
                    continue;
                };
                if slot.take().is_some() && h.senders.iter().all(Option::is_none) {
                    m.closed = true;
                }
            }
            Op::DropReceiver { receiver } => {
                let Some(slot) = h.receivers.get_mut(receiver) else {
                    continue;
                };
                if slot.take().is_none() {
                    continue;
                }
                m.parked.retain(|&x| x != receiver);
                if let Some(i) = m.served.iter().position(|&x| x == receiver) {
                    m.served.swap_remove(i);
                    m.granted -= 1;
                    m.serve_parked();
                }
                if h.receivers.iter().all(Option::is_none) {
                    m.closed = true;
                    m.heap.clear();
                    m.granted = 0;
                }
            }
        }
        // Observable state agrees with the model after every step.
        let any_rx = h.receivers.iter().flatten().next();
        let any_tx = h.senders.iter().flatten().next();
        if let Some(rx) = any_rx {
            prop_assert_eq!(rx.len(), m.heap.len());
            prop_assert_eq!(rx.is_closed(), m.closed);
        } else if let Some(tx) = any_tx {
            prop_assert_eq!(tx.len(), 0);
            prop_assert!(tx.is_closed());
        }
    }

    // Nothing lost: whatever is left comes out in model order, then the channel is done.
    // A fresh clone has no parked place; dropping every other handle returns the items set
    // aside for served-but-unpolled receivers.
    let keep = h.receivers.iter().flatten().next().cloned();
    h.receivers.clear();
    h.senders.clear();
    if let Some(rx) = keep {
        let mut rest = Vec::new();
        while let Ok(x) = rx.try_recv() {
            rest.push(x);
        }
        prop_assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
        let want: Vec<u64> = std::iter::from_fn(|| m.heap.pop().map(|Reverse(e)| e.2)).collect();
        prop_assert_eq!(&rest, &want);
        received.extend(rest);
    }
    // Nothing duplicated.
    let mut seen = received.clone();
    seen.sort_unstable();
    seen.dedup();
    prop_assert_eq!(seen.len(), received.len());
    Ok(())
}

fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![Just(Mode::Strict), Just(Mode::Levels), Just(Mode::Aging)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn channel_matches_the_heap_model(
        mode in mode(),
        capacity in prop::option::of(prop_oneof![1usize..6, Just(64)]),
        ops in prop::collection::vec(op(), 1..120),
    ) {
        run(mode, capacity, ops)?;
    }
}
