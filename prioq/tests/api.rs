//! Behaviour of the public API: order, closing, dropping, backpressure, options.

use std::cmp::Reverse;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use asyncperf_prioq::{
    Admission, BuildError, Builder, RecvError, SendError, TryRecvError, TrySendError, bounded,
    unbounded,
};
use futures::StreamExt;

#[tokio::test]
async fn smallest_priority_first_and_fifo_among_equals() {
    let (tx, rx) = unbounded::<u32, u8>();
    let prios = [5u8, 1, 5, 0, 1, 5, 0];
    for (i, p) in prios.into_iter().enumerate() {
        tx.send(i as u32, p).await.unwrap();
    }
    let mut got = Vec::new();
    while let Ok(x) = rx.try_recv() {
        got.push(x);
    }
    assert_eq!(got, [3, 6, 1, 4, 0, 2, 5]);
}

#[tokio::test]
async fn ten_equal_priorities_come_out_in_send_order() {
    // async-priority-channel#75: 0..9 at one priority came out [0, 2, 6, 9, 8, 5, 7, 4, 1, 3].
    let (tx, rx) = bounded::<u32, u8>(16);
    for i in 0..10 {
        tx.send(i, 0).await.unwrap();
    }
    let got: Vec<u32> = (0..10).map(|_| rx.try_recv().unwrap()).collect();
    assert_eq!(got, (0..10).collect::<Vec<_>>());
}

#[tokio::test]
async fn reverse_gives_largest_first() {
    let (tx, rx) = unbounded::<&str, Reverse<u8>>();
    tx.try_send("low", Reverse(1)).unwrap();
    tx.try_send("high", Reverse(9)).unwrap();
    assert_eq!(rx.recv().await.unwrap(), "high");
}

#[tokio::test]
async fn recv_with_priority_returns_the_priority() {
    let (tx, rx) = unbounded::<char, u16>();
    tx.try_send('a', 7).unwrap();
    tx.try_send('b', 3).unwrap();
    assert_eq!(rx.recv_with_priority().await.unwrap(), ('b', 3));
    assert_eq!(rx.try_recv_with_priority().unwrap(), ('a', 7));
    assert_eq!(rx.try_recv_with_priority(), Err(TryRecvError::Empty));
}

#[tokio::test]
async fn close_lets_receivers_drain_then_fails() {
    let (tx, rx) = bounded::<u32, u8>(8);
    tx.send(1, 1).await.unwrap();
    tx.send(2, 0).await.unwrap();
    assert!(rx.close());
    assert!(!tx.close(), "second close reports it was already closed");
    assert!(tx.is_closed() && rx.is_closed());
    assert_eq!(tx.send(3, 0).await, Err(SendError((3, 0))));
    assert_eq!(tx.try_send(4, 0), Err(TrySendError::Closed((4, 0))));
    assert_eq!(rx.recv().await, Ok(2));
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.recv().await, Err(RecvError));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
}

#[tokio::test]
async fn dropping_the_last_sender_closes_after_the_queue_drains() {
    let (tx, rx) = unbounded::<u32, u8>();
    let tx2 = tx.clone();
    assert_eq!(rx.sender_count(), 2);
    tx.try_send(1, 0).unwrap();
    drop(tx);
    assert!(!rx.is_closed(), "a sender is still alive");
    tx2.try_send(2, 0).unwrap();
    drop(tx2);
    assert!(rx.is_closed());
    assert_eq!(rx.recv().await, Ok(1));
    assert_eq!(rx.recv().await, Ok(2));
    assert_eq!(rx.recv().await, Err(RecvError));
}

#[tokio::test]
async fn dropping_the_last_sender_wakes_a_waiting_receiver() {
    let (tx, rx) = unbounded::<u32, u8>();
    let waiting = tokio::spawn(async move { rx.recv().await });
    tokio::task::yield_now().await;
    drop(tx);
    assert_eq!(waiting.await.unwrap(), Err(RecvError));
}

/// Counts drops, to check that queued items are dropped exactly once.
struct Tracked(Arc<AtomicUsize>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn dropping_every_receiver_returns_items_to_senders_and_drops_the_queue() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = bounded::<Tracked, u8>(4);
    for p in 0..3 {
        tx.send(Tracked(drops.clone()), p).await.unwrap();
    }
    let rx2 = rx.clone();
    drop(rx);
    assert!(!tx.is_closed());
    assert_eq!(tx.receiver_count(), 1);
    drop(rx2);
    assert!(tx.is_closed());
    assert_eq!(drops.load(Ordering::SeqCst), 3, "queued items dropped once");
    assert_eq!(tx.len(), 0);
    let err = tx.send(Tracked(drops.clone()), 9).await.unwrap_err();
    let (item, prio) = err.into_inner();
    assert_eq!(prio, 9);
    drop(item);
    assert_eq!(drops.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn dropping_every_receiver_releases_blocked_senders_with_their_items() {
    let (tx, rx) = bounded::<u32, u8>(1);
    tx.send(0, 0).await.unwrap();
    let tx2 = tx.clone();
    let blocked = tokio::spawn(async move { tx2.send(7, 3).await });
    tokio::task::yield_now().await;
    assert!(!blocked.is_finished());
    drop(rx);
    assert_eq!(blocked.await.unwrap(), Err(SendError((7, 3))));
}

#[tokio::test]
async fn bounded_send_waits_for_room() {
    let (tx, rx) = bounded::<u32, u8>(2);
    assert_eq!(tx.capacity(), Some(2));
    tx.send(1, 1).await.unwrap();
    tx.send(2, 1).await.unwrap();
    assert!(matches!(tx.try_send(3, 0), Err(TrySendError::Full((3, 0)))));
    let tx2 = tx.clone();
    let blocked = tokio::spawn(async move { tx2.send(3, 0).await });
    tokio::task::yield_now().await;
    assert!(!blocked.is_finished(), "full channel must hold the sender");
    assert_eq!(rx.recv().await, Ok(1));
    // The freed slot is handed to the waiting sender, not to a newcomer.
    assert!(tx.try_send(4, 0).unwrap_err().is_full());
    blocked.await.unwrap().unwrap();
    assert_eq!(rx.len(), 2);
    assert_eq!(rx.recv().await, Ok(3), "priority 0 overtakes");
    assert_eq!(rx.recv().await, Ok(2));
}

#[tokio::test]
async fn blocked_senders_are_admitted_in_arrival_order() {
    let (tx, rx) = bounded::<u32, u8>(1);
    tx.send(0, 0).await.unwrap();
    let mut handles = Vec::new();
    for i in 1..=4u32 {
        let tx = tx.clone();
        handles.push(tokio::spawn(async move { tx.send(i, 0).await }));
        tokio::task::yield_now().await; // park senders one after another
    }
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(rx.recv().await.unwrap());
    }
    assert_eq!(got, [0, 1, 2, 3, 4]);
    for h in handles {
        h.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn priority_admission_lets_urgent_senders_in_first_fifo_among_equals() {
    let (tx, rx) = Builder::<u8>::new()
        .capacity(1)
        .admission(Admission::Priority)
        .build::<&str>()
        .unwrap();
    tx.send("first", 9).await.unwrap();
    let mut handles = Vec::new();
    for (item, prio) in [("c", 3), ("a1", 1), ("b", 2), ("a2", 1)] {
        let tx = tx.clone();
        handles.push(tokio::spawn(async move { tx.send(item, prio).await }));
        tokio::task::yield_now().await; // park senders one after another
    }
    let tx2 = tx.clone();
    let reserving = tokio::spawn(async move {
        let permit = tx2.reserve(0).await.unwrap();
        permit.send("reserved").unwrap();
    });
    tokio::task::yield_now().await;
    let mut got = Vec::new();
    for _ in 0..6 {
        got.push(rx.recv().await.unwrap());
    }
    assert_eq!(got, ["first", "reserved", "a1", "a2", "b", "c"]);
    for h in handles {
        h.await.unwrap().unwrap();
    }
    reserving.await.unwrap();
}

#[tokio::test]
async fn priority_admission_gives_items_back_on_close() {
    let (tx, rx) = Builder::<u8>::new()
        .capacity(1)
        .admission(Admission::Priority)
        .build::<u32>()
        .unwrap();
    tx.send(0, 0).await.unwrap();
    let tx2 = tx.clone();
    let parked = tokio::spawn(async move { tx2.send(7, 4).await });
    let tx3 = tx.clone();
    let reserving = tokio::spawn(async move { tx3.reserve(5).await.map(drop) });
    tokio::task::yield_now().await;
    rx.close();
    assert_eq!(parked.await.unwrap(), Err(SendError((7, 4))));
    assert_eq!(reserving.await.unwrap(), Err(SendError(5)));
}

#[tokio::test]
async fn waiting_receivers_are_served_in_arrival_order() {
    let (tx, rx) = unbounded::<u32, u8>();
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
    for id in 0..4u32 {
        let rx = rx.clone();
        let done = done_tx.clone();
        tokio::spawn(async move {
            let item = rx.recv().await.unwrap();
            done.send((id, item)).unwrap();
        });
        tokio::task::yield_now().await;
    }
    for item in 10..14 {
        tx.try_send(item, 0).unwrap();
    }
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(done_rx.recv().await.unwrap());
    }
    got.sort_unstable();
    assert_eq!(got, [(0, 10), (1, 11), (2, 12), (3, 13)]);
}

#[tokio::test]
async fn an_item_handed_to_a_waiting_receiver_cannot_be_stolen() {
    let (tx, rx) = unbounded::<u32, u8>();
    let rx2 = rx.clone();
    let waiting = tokio::spawn(async move { rx2.recv().await });
    tokio::task::yield_now().await;
    tx.try_send(1, 0).unwrap();
    assert_eq!(
        rx.try_recv(),
        Err(TryRecvError::Empty),
        "set aside for the waiter"
    );
    assert_eq!(rx.len(), 1);
    assert_eq!(waiting.await.unwrap(), Ok(1));
}

#[tokio::test]
async fn recv_many_takes_up_to_limit_in_order() {
    let (tx, rx) = unbounded::<u32, u8>();
    for (i, p) in [3u8, 1, 2, 1, 0].into_iter().enumerate() {
        tx.try_send(i as u32, p).unwrap();
    }
    let mut buf = Vec::new();
    assert_eq!(rx.recv_many(&mut buf, 0).await, 0);
    assert_eq!(rx.recv_many(&mut buf, 3).await, 3);
    assert_eq!(buf, [4, 1, 3]);
    assert_eq!(rx.recv_many(&mut buf, 10).await, 2);
    assert_eq!(buf, [4, 1, 3, 2, 0]);
    drop(tx);
    assert_eq!(rx.recv_many(&mut buf, 10).await, 0, "closed and empty");
}

#[tokio::test]
async fn recv_many_frees_slots_for_several_blocked_senders() {
    let (tx, rx) = bounded::<u32, u8>(2);
    tx.send(0, 0).await.unwrap();
    tx.send(1, 0).await.unwrap();
    let senders: Vec<_> = (2..4)
        .map(|i| {
            let tx = tx.clone();
            tokio::spawn(async move { tx.send(i, 0).await })
        })
        .collect();
    tokio::task::yield_now().await;
    let mut buf = Vec::new();
    assert_eq!(rx.recv_many(&mut buf, 8).await, 2);
    for s in senders {
        s.await.unwrap().unwrap();
    }
    assert_eq!(rx.recv_many(&mut buf, 8).await, 2);
    assert_eq!(buf, [0, 1, 2, 3]);
}

#[tokio::test]
async fn len_and_per_priority_lengths() {
    let (tx, rx) = unbounded::<u32, u8>();
    assert!(tx.is_empty() && rx.is_empty());
    assert_eq!(rx.capacity(), None);
    for p in [2u8, 2, 7, 0, 2] {
        tx.try_send(0, p).unwrap();
    }
    assert_eq!(tx.len(), 5);
    assert_eq!(tx.len_of(&2), 3);
    assert_eq!(rx.len_of(&4), 0);
    let lengths: Vec<_> = tx.lengths().into_iter().collect();
    assert_eq!(lengths, [(0, 1), (2, 3), (7, 1)]);
    assert_eq!(rx.peek_priority(), Some(0));
    assert!(tx.same_channel(&tx.clone()));
    assert!(rx.same_channel(&rx.clone()));
}

#[tokio::test]
async fn stream_yields_in_order_and_ends_when_closed() {
    let (tx, mut rx) = unbounded::<u32, u8>();
    tx.try_send(1, 1).unwrap();
    tx.try_send(0, 0).unwrap();
    let producer = tokio::spawn(async move {
        tokio::task::yield_now().await;
        tx.send(2, 5).await.unwrap();
    });
    let got: Vec<u32> = (&mut rx).collect().await;
    assert_eq!(got, [0, 1, 2]);
    producer.await.unwrap();
}

#[tokio::test]
async fn closed_completes_on_close_and_when_receivers_go() {
    let (tx, rx) = unbounded::<u32, u8>();
    let tx2 = tx.clone();
    let watcher = tokio::spawn(async move { tx2.closed().await });
    tokio::task::yield_now().await;
    assert!(!watcher.is_finished());
    drop(rx);
    watcher.await.unwrap();
    tx.closed().await; // already closed: immediate

    let (tx, rx) = unbounded::<u32, u8>();
    let watcher = tokio::spawn(async move { tx.closed().await });
    tokio::task::yield_now().await;
    rx.close();
    watcher.await.unwrap();
}

#[tokio::test]
async fn permit_sends_without_waiting_and_returns_its_slot_when_dropped() {
    let (tx, rx) = bounded::<u32, u8>(1);
    let permit = tx.reserve(3).await.unwrap();
    assert_eq!(permit.priority(), Some(&3));
    assert!(
        tx.try_send(9, 0).unwrap_err().is_full(),
        "the permit holds the slot"
    );
    drop(permit);
    let permit = tx.reserve(4).await.unwrap();
    permit.send(1).unwrap();
    assert_eq!(rx.recv_with_priority().await, Ok((1, 4)));

    let permit = tx.reserve(0).await.unwrap();
    rx.close();
    assert_eq!(permit.send(5), Err(SendError((5, 0))));
    assert_eq!(tx.reserve(0).await.unwrap_err(), SendError(0));
}

#[tokio::test]
async fn reserve_waits_for_room() {
    let (tx, rx) = bounded::<u32, u8>(1);
    tx.send(0, 0).await.unwrap();
    let tx2 = tx.clone();
    let reserving = tokio::spawn(async move {
        let permit = tx2.reserve(1).await.unwrap();
        permit.send(1).unwrap();
    });
    tokio::task::yield_now().await;
    assert!(!reserving.is_finished());
    assert_eq!(rx.recv().await, Ok(0));
    reserving.await.unwrap();
    assert_eq!(rx.recv().await, Ok(1));
}

#[test]
fn builder_rejects_bad_configurations() {
    let err = |r: Result<_, BuildError>| r.map(drop).unwrap_err();
    assert_eq!(
        err(Builder::<u8>::new().capacity(0).build::<()>()),
        BuildError::ZeroCapacity
    );
    assert_eq!(
        err(Builder::<u8>::new().aging(0).build::<()>()),
        BuildError::ZeroAgingWindow
    );
    assert_eq!(
        err(Builder::<u8>::new().levels(65).build::<()>()),
        BuildError::Levels(65)
    );
    assert_eq!(
        err(Builder::<u8>::new().levels(0).build::<()>()),
        BuildError::Levels(0)
    );
    assert_eq!(
        err(Builder::<u8>::new().levels(8).aging(4).build::<()>()),
        BuildError::AgingWithLevels
    );
    let (tx, _rx) = Builder::<u8>::new().capacity(3).build::<()>().unwrap();
    assert_eq!(tx.capacity(), Some(3));
}

#[test]
#[should_panic(expected = "capacity of at least 1")]
fn bounded_zero_panics() {
    let _ = bounded::<(), u8>(0);
}

#[tokio::test]
async fn aging_lets_a_low_priority_item_through_a_flood() {
    let (tx, rx) = Builder::<u8>::new().aging(4).build::<u32>().unwrap();
    tx.try_send(999, 10).unwrap(); // rank 10: at most 4 * 10 later sends overtake it
    for i in 0..100 {
        tx.try_send(i, 0).unwrap();
    }
    let mut position = None;
    for n in 0..101 {
        if rx.try_recv().unwrap() == 999 {
            position = Some(n);
        }
    }
    assert_eq!(position, Some(40));

    // Without aging it waits for the whole flood.
    let (tx, rx) = unbounded::<u32, u8>();
    tx.try_send(999, 10).unwrap();
    for i in 0..100 {
        tx.try_send(i, 0).unwrap();
    }
    let order: Vec<u32> = (0..101).map(|_| rx.try_recv().unwrap()).collect();
    assert_eq!(order.last(), Some(&999));
}

#[tokio::test]
async fn aging_keeps_fifo_among_equals_and_priority_within_the_window() {
    let (tx, rx) = Builder::<u8>::new().aging(1000).build::<u32>().unwrap();
    let prios = [3u8, 1, 3, 0, 1, 3];
    for (i, p) in prios.into_iter().enumerate() {
        tx.try_send(i as u32, p).unwrap();
    }
    let got: Vec<u32> = (0..6).map(|_| rx.try_recv().unwrap()).collect();
    assert_eq!(got, [3, 1, 4, 0, 2, 5]);
}

#[tokio::test]
async fn levels_mode_orders_like_the_heap_and_counts_in_o1() {
    let (tx, rx) = Builder::<u8>::new()
        .levels(4)
        .capacity(64)
        .build::<u32>()
        .unwrap();
    let prios = [9u8, 1, 3, 0, 1, 9, 5, 3, 0];
    for (i, p) in prios.into_iter().enumerate() {
        tx.send(i as u32, p).await.unwrap();
    }
    assert_eq!(tx.len_of(&1), 2);
    assert_eq!(tx.len_of(&9), 2);
    let mut buf = Vec::new();
    rx.recv_many(&mut buf, 100).await;
    assert_eq!(buf, [3, 8, 1, 4, 2, 7, 6, 0, 5]);
}

#[tokio::test]
async fn debug_output_does_not_need_debug_items() {
    struct Opaque;
    let (tx, rx) = bounded::<Opaque, u8>(2);
    assert!(format!("{tx:?}").contains("Sender"));
    assert!(format!("{rx:?}").contains("Receiver"));
    let err = tx.try_send(Opaque, 0).map(|()| tx.try_send(Opaque, 0));
    assert!(err.is_ok());
    let full = tx.try_send(Opaque, 0).unwrap_err();
    assert_eq!(format!("{full:?}"), "Full(..)");
    assert_eq!(full.to_string(), "sending on a full priority channel");
}
