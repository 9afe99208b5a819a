//! One FIFO run per distinct queued priority: O(1) pop and O(log k) push for k distinct
//! priorities, which is the common case (a handful of levels) for any `P: Ord`.
//!
//! Runs are kept sorted with the most urgent run last, so popping never shifts the vector.
//! Emptied runs are recycled, so a warm queue does not allocate. Once more than [`MAX_RUNS`]
//! distinct priorities are queued, the caller spills everything into its sorting queue.

use std::cmp::Ordering;
use std::collections::VecDeque;

/// Above this many distinct queued priorities a sorting queue is cheaper than sorted runs.
pub(crate) const MAX_RUNS: usize = 32;

pub(crate) type Run<T, P> = VecDeque<(T, P)>;

#[derive(Debug)]
pub(crate) struct Runs<T, P> {
    /// Non-empty runs sorted by priority, most urgent last; all items of a run share a priority.
    runs: Vec<Run<T, P>>,
    /// Emptied runs, kept for their capacity.
    spare: Vec<Run<T, P>>,
}

/// The priority of a run, read from its newest item: senders append there, so it is usually
/// in the sender's cache, while receivers are busy at the front. Runs in `Runs::runs` are never
/// empty.
#[inline]
fn key<T, P>(run: &Run<T, P>) -> &P {
    &run[run.len() - 1].1
}

impl<T, P> Runs<T, P> {
    pub(crate) const fn new() -> Self {
        Self {
            runs: Vec::new(),
            spare: Vec::new(),
        }
    }

    /// Takes every run out (to be dropped outside the lock, or spilled into the sorting queue).
    pub(crate) fn take(&mut self) -> Vec<Run<T, P>> {
        std::mem::take(&mut self.runs)
    }

    /// Puts back the (now empty) vector [`take`](Self::take) returned, keeping its capacity.
    pub(crate) fn restore(&mut self, mut runs: Vec<Run<T, P>>) {
        runs.clear();
        if self.runs.is_empty() {
            self.runs = runs;
        }
    }

    /// Gives an emptied run back for reuse.
    pub(crate) fn recycle(&mut self, mut run: Run<T, P>) {
        run.clear();
        if self.spare.len() < MAX_RUNS {
            self.spare.push(run);
        }
    }
}

impl<T, P: Ord> Runs<T, P> {
    /// Where a run of `priority` is or would go.
    #[inline]
    fn find(&self, priority: &P) -> Result<usize, usize> {
        // Sorted descending: a run with a larger priority comes before the target.
        self.runs.binary_search_by(|run| priority.cmp(key(run)))
    }

    /// Appends to the run of `priority`; gives the item back if that would need more than
    /// [`MAX_RUNS`] runs.
    #[inline]
    pub(crate) fn push(&mut self, item: T, priority: P) -> Result<(), (T, P)> {
        // Most pushes go to an existing run; the most urgent one is checked first for free.
        if let Some(last) = self.runs.last_mut()
            && priority.cmp(key(last)) == Ordering::Equal
        {
            last.push_back((item, priority));
            return Ok(());
        }
        match self.find(&priority) {
            Ok(i) => self.runs[i].push_back((item, priority)),
            Err(_) if self.runs.len() >= MAX_RUNS => return Err((item, priority)),
            Err(i) => {
                let mut run = self.spare.pop().unwrap_or_default();
                run.push_back((item, priority));
                self.runs.insert(i, run);
            }
        }
        Ok(())
    }

    #[inline]
    pub(crate) fn pop(&mut self) -> Option<(T, P)> {
        let run = self.runs.last_mut()?;
        let out = run.pop_front();
        if run.is_empty()
            && let Some(run) = self.runs.pop()
        {
            self.recycle(run);
        }
        out
    }

    pub(crate) fn peek_priority(&self) -> Option<&P> {
        self.runs.last().map(key)
    }

    pub(crate) fn len_of(&self, priority: &P) -> usize {
        self.find(priority).map_or(0, |i| self.runs[i].len())
    }

    /// `(priority, count)` of every run, most urgent last.
    pub(crate) fn iter_counts(&self) -> impl Iterator<Item = (&P, usize)> {
        self.runs.iter().map(|run| (key(run), run.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_smallest_first_fifo_within_a_priority_and_recycles() {
        let mut runs = Runs::new();
        for (i, p) in [5u8, 1, 5, 0, 1, 5, 0].into_iter().enumerate() {
            runs.push(i, p).unwrap();
        }
        assert_eq!(runs.len_of(&5), 3);
        assert_eq!(runs.peek_priority(), Some(&0));
        let order: Vec<usize> = std::iter::from_fn(|| runs.pop().map(|(i, _)| i)).collect();
        assert_eq!(order, [3, 6, 1, 4, 0, 2, 5]);
        assert_eq!(runs.spare.len(), 3, "emptied runs are kept");
    }

    #[test]
    fn refuses_more_than_max_runs() {
        let mut runs = Runs::new();
        for p in 0..MAX_RUNS {
            runs.push((), p).unwrap();
        }
        assert!(runs.push((), MAX_RUNS).is_err());
        assert!(runs.push((), 3).is_ok(), "an existing priority still fits");
    }
}
