//! Cancellation: futures dropped at each point where they can be suspended — parked and not
//! yet served, or served (an item or slot set aside and the task woken) but not yet polled —
//! lose no item, enqueue nothing, and leave nobody waiting.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use asyncperf_prioq::{Admission, Builder, Receiver, TryRecvError, bounded, unbounded};
use futures::{FutureExt, Stream};

/// A waker that counts its wake-ups.
#[derive(Default)]
struct Counter(AtomicUsize);

impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

struct Task {
    count: Arc<Counter>,
    waker: Waker,
}

impl Task {
    fn new() -> Self {
        let count = Arc::new(Counter::default());
        Self {
            waker: Waker::from(count.clone()),
            count,
        }
    }
    fn woken(&self) -> usize {
        self.count.0.load(Ordering::SeqCst)
    }
    fn poll<F: Future + Unpin>(&self, fut: &mut F) -> Poll<F::Output> {
        Pin::new(fut).poll(&mut Context::from_waker(&self.waker))
    }
}

/// Counts drops of items.
#[derive(Debug)]
struct Tracked(u32, Arc<AtomicUsize>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.1.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn recv_dropped_while_parked_loses_nothing() {
    let (tx, rx) = unbounded::<u32, u8>();
    let t = Task::new();
    let mut fut = rx.recv();
    assert!(t.poll(&mut fut).is_pending());
    drop(fut);
    tx.try_send(1, 0).unwrap();
    assert_eq!(t.woken(), 0, "a dropped waiter is not served");
    assert_eq!(rx.try_recv(), Ok(1));
}

#[test]
fn recv_dropped_after_being_served_passes_the_item_to_the_next_receiver() {
    let (tx, rx) = unbounded::<u32, u8>();
    let (a, b) = (Task::new(), Task::new());
    let mut fa = rx.recv();
    let mut fb = rx.recv();
    assert!(a.poll(&mut fa).is_pending());
    assert!(b.poll(&mut fb).is_pending());
    tx.try_send(7, 0).unwrap();
    assert_eq!((a.woken(), b.woken()), (1, 0), "the first waiter is served");
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty), "set aside for `a`");
    drop(fa);
    assert_eq!(b.woken(), 1, "the item moves on to `b`");
    assert_eq!(b.poll(&mut fb), Poll::Ready(Ok(7)));
}

#[test]
fn recv_dropped_after_being_served_with_nobody_waiting_returns_the_item_to_the_queue() {
    let (tx, rx) = unbounded::<u32, u8>();
    let a = Task::new();
    let mut fa = rx.recv();
    assert!(a.poll(&mut fa).is_pending());
    tx.try_send(7, 0).unwrap();
    assert_eq!(a.woken(), 1);
    drop(fa);
    assert_eq!(rx.try_recv(), Ok(7));
}

#[test]
fn served_receiver_keeps_its_place_after_a_spurious_poll() {
    let (tx, rx) = unbounded::<u32, u8>();
    let a = Task::new();
    let mut fa = rx.recv();
    assert!(a.poll(&mut fa).is_pending());
    assert!(a.poll(&mut fa).is_pending(), "re-poll while parked");
    tx.try_send(3, 0).unwrap();
    assert_eq!(a.poll(&mut fa), Poll::Ready(Ok(3)));
}

#[test]
fn recv_many_and_stream_pass_on_items_when_dropped_after_being_served() {
    let (tx, rx) = unbounded::<u32, u8>();
    let mut stream_rx = rx.clone();
    let (a, b, c) = (Task::new(), Task::new(), Task::new());
    let mut buf = Vec::new();
    let mut many = rx.recv_many(&mut buf, 4);
    assert!(a.poll(&mut many).is_pending());
    let mut cx = Context::from_waker(&b.waker);
    assert!(Pin::new(&mut stream_rx).poll_next(&mut cx).is_pending());
    let mut last = rx.recv();
    assert!(c.poll(&mut last).is_pending());

    tx.try_send(1, 0).unwrap();
    tx.try_send(2, 0).unwrap();
    assert_eq!((a.woken(), b.woken(), c.woken()), (1, 1, 0));
    drop(many);
    assert_eq!(c.woken(), 1, "recv_many's item moved on");
    drop(stream_rx); // dropping the receiver drops its parked stream place
    assert_eq!(c.poll(&mut last), Poll::Ready(Ok(1)));
    assert_eq!(
        rx.try_recv(),
        Ok(2),
        "the stream's item went back to the queue"
    );
    assert!(buf.is_empty());
}

/// A `next()` dropped after parking (a timed-out `select!` branch) leaves the handle's place in
/// line; receiving through the same handle by other means takes it over, item included.
#[test]
fn an_abandoned_stream_poll_does_not_keep_the_item_from_its_own_handle() {
    let (tx, rx) = unbounded::<u32, u8>();
    let mut rx = rx;
    let (a, b) = (Task::new(), Task::new());
    let mut cx = Context::from_waker(&a.waker);
    assert!(Pin::new(&mut rx).poll_next(&mut cx).is_pending());
    tx.try_send(1, 0).unwrap();
    assert_eq!(a.woken(), 1, "set aside for the parked stream");
    let mut fut = rx.recv();
    assert_eq!(b.poll(&mut fut), Poll::Ready(Ok(1)), "recv takes it over");
    drop(fut);

    // The same through `try_recv`, and with another receiver waiting behind: the item stays
    // with the handle it was set aside for.
    let other = rx.clone();
    assert!(Pin::new(&mut rx).poll_next(&mut cx).is_pending());
    let mut behind = other.recv();
    assert!(b.poll(&mut behind).is_pending());
    tx.try_send(2, 0).unwrap();
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty), "no longer parked");
    tx.try_send(3, 0).unwrap();
    assert_eq!(b.poll(&mut behind), Poll::Ready(Ok(3)), "next in line");
}

#[test]
fn send_dropped_while_parked_enqueues_nothing() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = bounded::<Tracked, u8>(1);
    tx.try_send(Tracked(0, drops.clone()), 0).unwrap();
    let t = Task::new();
    let mut fut = tx.send(Tracked(1, drops.clone()), 0);
    assert!(t.poll(&mut fut).is_pending());
    drop(fut);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "the item is dropped with its future"
    );
    assert_eq!(rx.try_recv().unwrap().0, 0);
    assert_eq!(rx.try_recv().unwrap_err(), TryRecvError::Empty);
    assert_eq!(t.woken(), 0);
    assert!(
        tx.try_send(Tracked(2, drops.clone()), 0).is_ok(),
        "the slot is free"
    );
}

#[test]
fn send_dropped_after_being_granted_a_slot_passes_it_on_and_enqueues_nothing() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = bounded::<Tracked, u8>(1);
    tx.try_send(Tracked(0, drops.clone()), 0).unwrap();
    let (a, b) = (Task::new(), Task::new());
    let mut fa = tx.send(Tracked(1, drops.clone()), 0);
    let mut fb = tx.send(Tracked(2, drops.clone()), 0);
    assert!(a.poll(&mut fa).is_pending());
    assert!(b.poll(&mut fb).is_pending());
    assert_eq!(rx.try_recv().unwrap().0, 0);
    assert_eq!(
        (a.woken(), b.woken()),
        (1, 0),
        "the first sender gets the slot"
    );
    drop(fa);
    assert_eq!(b.woken(), 1, "the slot moves on");
    assert!(matches!(b.poll(&mut fb), Poll::Ready(Ok(()))));
    assert_eq!(rx.len(), 1);
    assert_eq!(
        rx.try_recv().unwrap().0,
        2,
        "only the second item was enqueued"
    );
    assert_eq!(drops.load(Ordering::SeqCst), 3);
}

#[test]
fn send_granted_a_slot_with_nobody_behind_returns_it() {
    let (tx, rx) = bounded::<u32, u8>(1);
    tx.try_send(0, 0).unwrap();
    let a = Task::new();
    let mut fa = tx.send(1, 0);
    assert!(a.poll(&mut fa).is_pending());
    assert_eq!(rx.try_recv(), Ok(0));
    assert!(
        tx.try_send(9, 0).unwrap_err().is_full(),
        "slot is set aside for `a`"
    );
    drop(fa);
    assert_eq!(rx.len(), 0);
    tx.try_send(9, 0).unwrap();
}

#[test]
fn priority_admission_passes_a_granted_slot_to_the_next_most_urgent_sender() {
    let (tx, rx) = Builder::<u8>::new()
        .capacity(1)
        .admission(Admission::Priority)
        .build::<u32>()
        .unwrap();
    tx.try_send(0, 0).unwrap();
    let (a, b, c) = (Task::new(), Task::new(), Task::new());
    let mut low = tx.send(1, 7);
    let mut high = tx.send(2, 1);
    let mut mid = tx.send(3, 4);
    assert!(a.poll(&mut low).is_pending());
    assert!(b.poll(&mut high).is_pending());
    assert!(c.poll(&mut mid).is_pending());
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!(
        (a.woken(), b.woken(), c.woken()),
        (0, 1, 0),
        "most urgent first"
    );
    drop(high); // granted, not polled: the slot goes to the next most urgent
    assert_eq!(c.woken(), 1);
    assert!(matches!(c.poll(&mut mid), Poll::Ready(Ok(()))));
    assert_eq!(rx.try_recv(), Ok(3));
    assert_eq!(a.woken(), 1);
    drop(low); // granted, nobody behind: the slot is free again
    assert_eq!(rx.len(), 0);
    tx.try_send(9, 9).unwrap();
}

#[test]
fn reserve_dropped_at_each_point_holds_no_slot() {
    let (tx, rx) = bounded::<u32, u8>(1);
    tx.try_send(0, 0).unwrap();
    let (a, b) = (Task::new(), Task::new());
    let mut fa = tx.reserve(1);
    let mut fb = tx.reserve(2);
    assert!(a.poll(&mut fa).is_pending());
    assert!(b.poll(&mut fb).is_pending());
    drop(fa); // parked
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!(b.woken(), 1);
    let mut fc = tx.reserve(3);
    let c = Task::new();
    assert!(c.poll(&mut fc).is_pending());
    drop(fb); // granted, not polled: the slot moves to `c`
    assert_eq!(c.woken(), 1);
    let Poll::Ready(Ok(permit)) = c.poll(&mut fc) else {
        panic!("`c` holds the slot")
    };
    drop(permit); // unused permit: the slot is free again
    tx.try_send(5, 0).unwrap();
    assert_eq!(rx.try_recv(), Ok(5));
}

#[test]
fn close_while_an_item_is_set_aside_keeps_the_other_receiver_waiting_until_resolved() {
    let (tx, rx) = unbounded::<u32, u8>();
    let (a, b) = (Task::new(), Task::new());
    let mut fa = rx.recv();
    let mut fb = rx.recv();
    assert!(a.poll(&mut fa).is_pending());
    assert!(b.poll(&mut fb).is_pending());
    tx.try_send(1, 0).unwrap(); // set aside for `a`
    tx.close();
    assert!(b.woken() >= 1, "close wakes every receiver");
    assert!(
        b.poll(&mut fb).is_pending(),
        "not empty yet: the item may still come back"
    );
    drop(fa);
    assert_eq!(b.poll(&mut fb), Poll::Ready(Ok(1)));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
}

#[test]
fn closing_receiver_that_took_the_last_item_releases_the_others() {
    let (tx, rx) = unbounded::<u32, u8>();
    let (a, b) = (Task::new(), Task::new());
    let mut fa = rx.recv();
    let mut fb = rx.recv();
    assert!(a.poll(&mut fa).is_pending());
    assert!(b.poll(&mut fb).is_pending());
    tx.try_send(1, 0).unwrap();
    drop(tx);
    assert!(b.poll(&mut fb).is_pending());
    let woken = b.woken();
    assert_eq!(a.poll(&mut fa), Poll::Ready(Ok(1)));
    assert!(
        b.woken() > woken,
        "taking the last item of a closed channel wakes the rest"
    );
    assert!(b.poll(&mut fb).is_ready());
}

/// `select!` of `recv` against an always-ready branch, many times, on the multi-thread
/// runtime: every item sent is received exactly once and no receiver hangs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_storm_loses_and_duplicates_nothing() {
    const ITEMS: u32 = 20_000;
    let (tx, rx) = bounded::<u32, u8>(64);
    let mut consumers = Vec::new();
    for _ in 0..4 {
        let rx: Receiver<u32, u8> = rx.clone();
        consumers.push(tokio::spawn(async move {
            let mut got = Vec::new();
            let mut n = 0u64;
            loop {
                n += 1;
                // Every third attempt is cancelled at once by a ready branch.
                let cancel = n.is_multiple_of(3);
                tokio::select! {
                    biased;
                    () = std::future::ready(()), if cancel => {}
                    r = rx.recv() => match r {
                        Ok(x) => got.push(x),
                        Err(_) => return got,
                    },
                }
                if n.is_multiple_of(7) {
                    // Also cancel after the future has parked: poll once, then drop.
                    if let Some(r) = rx.recv().now_or_never() {
                        match r {
                            Ok(x) => got.push(x),
                            Err(_) => return got,
                        }
                    }
                }
            }
        }));
    }
    drop(rx);
    let mut producers = Vec::new();
    for p in 0..2u32 {
        let tx = tx.clone();
        producers.push(tokio::spawn(async move {
            for i in (p..ITEMS).step_by(2) {
                // Cancelled sends must not enqueue: retry until one completes.
                loop {
                    let sent = tokio::select! {
                        biased;
                        () = std::future::ready(()), if i % 5 == 0 => false,
                        r = tx.send(i, (i % 4) as u8) => { r.unwrap(); true }
                    };
                    if sent {
                        break;
                    }
                    tokio::task::yield_now().await;
                    if tx.send(i, (i % 4) as u8).now_or_never().is_some() {
                        break;
                    }
                }
            }
        }));
    }
    drop(tx);
    for p in producers {
        p.await.unwrap();
    }
    let mut all = Vec::new();
    for c in consumers {
        let got = tokio::time::timeout(std::time::Duration::from_secs(60), c)
            .await
            .expect("a receiver hung after close")
            .unwrap();
        all.extend(got);
    }
    all.sort_unstable();
    assert_eq!(all, (0..ITEMS).collect::<Vec<_>>());
}
