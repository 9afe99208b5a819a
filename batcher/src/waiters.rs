//! The callers waiting for one key: usually one, several when loads of a key coalesce.

use tokio::sync::oneshot;

use crate::BatchError;

/// What a waiting caller receives.
pub(crate) type Answer<V, E> = Result<V, BatchError<E>>;

type Sender<V, E> = oneshot::Sender<Answer<V, E>>;

/// The senders of every caller waiting for one key.
///
/// Two words: the common case (a key loaded once) allocates nothing beyond the caller's
/// channel, and a small entry keeps the key map's moves cheap. Further callers of the same
/// key go to a boxed `Vec`.
#[derive(Debug)]
pub(crate) struct Waiters<V, E> {
    first: Sender<V, E>,
    // Boxed on purpose: one word instead of three in every entry of the key map, whose
    // moves the hot path pays; only a second caller of the same key allocates it.
    #[allow(clippy::box_collection)]
    rest: Option<Box<Vec<Sender<V, E>>>>,
}

impl<V: Clone, E> Waiters<V, E> {
    pub(crate) fn new(tx: Sender<V, E>) -> Self {
        Self {
            first: tx,
            rest: None,
        }
    }

    /// Adds a caller for the same key.
    pub(crate) fn push(&mut self, tx: Sender<V, E>) {
        let rest = self.rest.get_or_insert_with(Box::default);
        // Callers that load a key and then drop the future (a timeout around `load`, say)
        // leave closed senders behind; sweeping them whenever the vector would grow keeps it
        // within twice the live callers.
        if rest.len() == rest.capacity() {
            rest.retain(|tx| !tx.is_closed());
        }
        rest.push(tx);
    }

    /// True when every caller has dropped its future, so nobody needs this key any more.
    pub(crate) fn all_gone(&self) -> bool {
        self.first.is_closed()
            && self
                .rest
                .as_ref()
                .is_none_or(|rest| rest.iter().all(oneshot::Sender::is_closed))
    }

    /// Hands `answer` to every caller; callers that have gone are skipped.
    pub(crate) fn answer(self, answer: Answer<V, E>) {
        for tx in self.rest.into_iter().flat_map(|rest| *rest) {
            if !tx.is_closed() {
                // A send fails only when that caller has just gone: nothing to do.
                let _ = tx.send(answer.clone());
            }
        }
        let _ = self.first.send(answer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type W = Waiters<u32, ()>;

    #[test]
    fn every_live_caller_gets_the_answer() {
        let (tx1, mut rx1) = oneshot::channel();
        let (tx2, mut rx2) = oneshot::channel();
        let (tx3, rx3) = oneshot::channel();
        let mut w: W = Waiters::new(tx1);
        w.push(tx2);
        w.push(tx3);
        drop(rx3);
        assert!(!w.all_gone());
        w.answer(Ok(7));
        assert_eq!(rx1.try_recv().unwrap().unwrap(), 7);
        assert_eq!(rx2.try_recv().unwrap().unwrap(), 7);
    }

    #[test]
    fn all_gone_only_when_every_receiver_dropped() {
        let (tx1, rx1) = oneshot::channel();
        let (tx2, rx2) = oneshot::channel();
        let mut w: W = Waiters::new(tx1);
        assert!(!w.all_gone());
        drop(rx1);
        assert!(w.all_gone());
        w.push(tx2);
        assert!(!w.all_gone());
        drop(rx2);
        assert!(w.all_gone());
    }

    #[test]
    fn callers_that_left_are_swept_as_the_list_grows() {
        let (tx, _rx) = oneshot::channel();
        let mut w: W = Waiters::new(tx);
        // A caller that loads and leaves, over and over: the list stays small.
        for _ in 0..10_000 {
            let (tx, rx) = oneshot::channel();
            w.push(tx);
            drop(rx);
        }
        let rest = w.rest.as_ref().unwrap();
        assert!(rest.capacity() <= 64, "capacity {}", rest.capacity());
    }
}
