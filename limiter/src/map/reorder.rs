//! `ReorderWindow`: puts completions back in input order, holding at most `window` items
//! between the oldest not yet emitted and the newest started.

use std::collections::VecDeque;

#[derive(Debug)]
pub(crate) struct ReorderWindow<T> {
    /// Entry `i` is input index `next_emit + i`: `None` while in flight.
    pending: VecDeque<Option<T>>,
    next_emit: usize,
    window: usize,
    buffered: usize,
}

impl<T> ReorderWindow<T> {
    /// `window >= 1`; `usize::MAX` for an unbounded window.
    pub(crate) fn new(window: usize) -> Self {
        Self {
            pending: VecDeque::new(),
            next_emit: 0,
            window,
            buffered: 0,
        }
    }

    /// Inputs with an index below this may start: starting more would let the span between
    /// the oldest unemitted item and the newest started one exceed the window.
    pub(crate) fn start_before(&self) -> usize {
        self.next_emit.saturating_add(self.window)
    }

    /// Stores the output of input `index` (which must be in the window and not yet stored).
    pub(crate) fn insert(&mut self, index: usize, value: T) {
        let at = index - self.next_emit;
        if at >= self.pending.len() {
            self.pending.resize_with(at + 1, || None);
        }
        debug_assert!(self.pending[at].is_none(), "index {index} completed twice");
        self.pending[at] = Some(value);
        self.buffered += 1;
    }

    /// Takes the output of input `index` (in the window, not yet stored): returned at once when
    /// it is the next to emit (every earlier one is out, so nothing is buffered), else stored.
    pub(crate) fn emit_or_insert(&mut self, index: usize, value: T) -> Option<(usize, T)> {
        if index == self.next_emit {
            self.next_emit += 1;
            // The slot of `index`, if later ones are stored: `None`, as it was in flight.
            let slot = self.pending.pop_front();
            debug_assert!(slot.as_ref().is_none_or(Option::is_none));
            return Some((index, value));
        }
        self.insert(index, value);
        None
    }

    /// The next output in input order with its index, if it has completed.
    pub(crate) fn pop_ready(&mut self) -> Option<(usize, T)> {
        match self.pending.front() {
            Some(Some(_)) => {
                let index = self.next_emit;
                self.next_emit += 1;
                self.buffered -= 1;
                self.pending
                    .pop_front()
                    .flatten()
                    .map(|value| (index, value))
            }
            _ => None,
        }
    }

    /// Completed outputs waiting for an earlier one.
    pub(crate) fn buffered(&self) -> usize {
        self.buffered
    }

    /// Drops every buffered output.
    pub(crate) fn clear(&mut self) {
        self.pending.clear();
        self.buffered = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::ReorderWindow;

    #[test]
    fn emits_in_order_and_bounds_the_start_index() {
        let mut w = ReorderWindow::new(3);
        assert_eq!(w.start_before(), 3);
        w.insert(2, 'c');
        w.insert(1, 'b');
        assert_eq!(w.pop_ready(), None);
        assert_eq!(w.buffered(), 2);
        w.insert(0, 'a');
        assert_eq!(w.pop_ready(), Some((0, 'a')));
        assert_eq!(w.start_before(), 4);
        assert_eq!(w.pop_ready(), Some((1, 'b')));
        assert_eq!(w.pop_ready(), Some((2, 'c')));
        assert_eq!(w.pop_ready(), None);
        assert_eq!(w.buffered(), 0);
        // The next one to emit goes straight out; a later one waits for it.
        assert_eq!(w.emit_or_insert(4, 'e'), None);
        assert_eq!(w.emit_or_insert(3, 'd'), Some((3, 'd')));
        assert_eq!(w.pop_ready(), Some((4, 'e')));
        assert_eq!(w.emit_or_insert(5, 'f'), Some((5, 'f')));
        assert_eq!(
            (w.pop_ready(), w.buffered(), w.start_before()),
            (None, 0, 9)
        );
        assert_eq!(
            ReorderWindow::<()>::new(usize::MAX).start_before(),
            usize::MAX
        );
    }
}
