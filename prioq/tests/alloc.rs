//! A warm bounded channel allocates nothing per item: neither for queued items (runs, heap),
//! nor for parked waiters (slab), nor for wake-ups.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use asyncperf_prioq::bounded;
use asyncperf_testkit::CountingAlloc;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc::new();

/// One round: fill to capacity with a spread of priorities, park a sender and a receiver,
/// then drain.
fn round(
    tx: &asyncperf_prioq::Sender<u64, u32>,
    rx: &asyncperf_prioq::Receiver<u64, u32>,
    wide: bool,
) {
    let cx = &mut Context::from_waker(Waker::noop());
    for i in 0..64u64 {
        let p = if wide {
            (i * 2_654_435_761 % 1_000_003) as u32
        } else {
            (i % 8) as u32
        };
        tx.try_send(i, p).unwrap();
    }
    {
        // A sender parks on the full channel and is handed the slot a receive frees.
        let mut send = pin!(tx.send(99, 3));
        assert!(send.as_mut().poll(cx).is_pending());
        rx.try_recv().unwrap();
        assert_eq!(send.as_mut().poll(cx), Poll::Ready(Ok(())));
    }
    while rx.try_recv().is_ok() {}
    {
        // A receiver parks on the empty channel and is handed the next item.
        let mut recv = pin!(rx.recv());
        assert!(recv.as_mut().poll(cx).is_pending());
        tx.try_send(7, 1).unwrap();
        assert_eq!(recv.as_mut().poll(cx), Poll::Ready(Ok(7)));
    }
}

#[test]
fn warm_bounded_channel_allocates_nothing_per_item() {
    for wide in [false, true] {
        let (tx, rx) = bounded::<u64, u32>(64);
        for _ in 0..4 {
            round(&tx, &rx, wide); // warm-up: runs, spill heap, waiter slabs reach their size
        }
        // The counter is process-wide, so the test harness's own threads can add a stray
        // allocation to one measurement; a per-item allocation would show in every one.
        let fewest = (0..5)
            .map(|_| {
                ALLOC
                    .count_allocations(|| {
                        for _ in 0..40 {
                            round(&tx, &rx, wide);
                        }
                    })
                    .0
            })
            .min();
        assert_eq!(fewest, Some(0), "wide priorities: {wide}");
    }
}
