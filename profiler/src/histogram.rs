//! A fixed-bucket log-linear histogram of nanosecond values: mergeable, bounded, exact below 16 ns.
//!
//! Each power of two `[2^e, 2^(e+1))` (for `e >= 4`) is split into 16 equal sub-buckets, and the
//! values `0..16` get one bucket each, up to `2^44` ns (about 4.9 hours); larger values land in
//! the last bucket (the exact maximum is kept beside the buckets by the profiler). That is
//! [`BUCKETS`] = 656 counters, 5.1 KiB, whatever the number of values recorded.
//!
//! A quantile is reported as the midpoint of the bucket that holds it, so it is within
//! [`RELATIVE_ERROR`] (1/32 = 3.125 %) of the exact quantile of the recorded values: a bucket
//! is at most 1/16 of its lower bound wide. Histograms with the same layout (all of them) merge
//! by adding counts, which is how per-thread shards, intervals and processes combine.

use std::fmt;

/// Sub-buckets per power of two, as a power of two.
const SUB_BITS: u32 = 4;
const SUB: u64 = 1 << SUB_BITS;
/// Values at or above `2^MAX_EXP` ns share the last bucket.
const MAX_EXP: u32 = 44;

/// Number of buckets of every [`Histogram`].
pub const BUCKETS: usize = (SUB + (MAX_EXP - SUB_BITS) as u64 * SUB) as usize;

/// Largest relative error of [`Histogram::quantile`] against the exact quantile of the
/// recorded values (for values below `2^44` ns; below 16 ns quantiles are exact).
pub const RELATIVE_ERROR: f64 = 1.0 / 32.0;

/// The bucket that counts `ns`.
#[inline]
pub(crate) fn bucket_index(ns: u64) -> usize {
    if ns < SUB {
        // Below 16 every value has its own bucket. `ns < 16`, so the cast is exact.
        return ns as usize;
    }
    let exp = 63 - ns.leading_zeros(); // >= SUB_BITS
    if exp >= MAX_EXP {
        return BUCKETS - 1;
    }
    let sub = (ns >> (exp - SUB_BITS)) & (SUB - 1);
    // At most BUCKETS - 1, so the cast is exact.
    (SUB + u64::from(exp - SUB_BITS) * SUB + sub) as usize
}

/// The smallest value bucket `index` counts.
pub(crate) fn bucket_low(index: usize) -> u64 {
    let i = index as u64;
    if i < SUB {
        return i;
    }
    let exp = (i - SUB) / SUB; // power above SUB_BITS
    let sub = (i - SUB) % SUB;
    (SUB + sub) << exp
}

/// One past the largest value bucket `index` counts (`u64::MAX` for the last bucket).
pub(crate) fn bucket_high(index: usize) -> u64 {
    if index + 1 >= BUCKETS {
        u64::MAX
    } else {
        bucket_low(index + 1)
    }
}

/// The value a quantile falling in bucket `index` is reported as: the bucket's midpoint.
fn bucket_value(index: usize) -> u64 {
    let low = bucket_low(index);
    if index + 1 >= BUCKETS {
        return low;
    }
    let width = bucket_high(index) - low;
    low + width / 2
}

/// Counts of nanosecond values in [`BUCKETS`] log-linear buckets (see the module docs).
///
/// This is the plain (single-owner) form a [`Report`](crate::Report) hands out; the profiler
/// keeps per-thread atomic copies and merges them into one of these when it reports.
///
/// ```
/// use asyncperf_profiler::Histogram;
///
/// let mut h = Histogram::new();
/// for ns in 1..=1000 {
///     h.record(ns);
/// }
/// let p99 = h.quantile(0.99).unwrap();
/// assert!((p99 as f64 - 990.0).abs() <= 990.0 * asyncperf_profiler::histogram::RELATIVE_ERROR);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Histogram {
    counts: Box<[u64; BUCKETS]>,
}

impl Histogram {
    /// An empty histogram.
    #[must_use]
    pub fn new() -> Self {
        Self {
            counts: Box::new([0; BUCKETS]),
        }
    }

    /// Counts one value of `ns` nanoseconds.
    pub fn record(&mut self, ns: u64) {
        self.record_n(ns, 1);
    }

    /// Counts `n` values of `ns` nanoseconds.
    pub fn record_n(&mut self, ns: u64, n: u64) {
        let c = &mut self.counts[bucket_index(ns)];
        *c = c.saturating_add(n);
    }

    /// Adds every count of `other` to this histogram.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a = a.saturating_add(*b);
        }
    }

    /// The counts of this histogram minus those of `earlier`, bucket by bucket (saturating at
    /// zero): what was recorded between two cumulative snapshots.
    #[must_use]
    pub fn since(&self, earlier: &Histogram) -> Histogram {
        let mut out = self.clone();
        for (a, b) in out.counts.iter_mut().zip(earlier.counts.iter()) {
            *a = a.saturating_sub(*b);
        }
        out
    }

    /// How many values were recorded.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.counts.iter().fold(0u64, |a, &c| a.saturating_add(c))
    }

    /// True when nothing was recorded.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.counts.iter().all(|&c| c == 0)
    }

    /// The `q`-quantile (`0.0..=1.0`, e.g. `0.99`) in nanoseconds, within [`RELATIVE_ERROR`]
    /// of the exact one; `None` when the histogram is empty or `q` is not in `0.0..=1.0`.
    ///
    /// The exact quantile is the value of rank `ceil(q * count)` (at least 1) in sorted order.
    #[must_use]
    pub fn quantile(&self, q: f64) -> Option<u64> {
        let index = self.quantile_bucket(q)?;
        Some(bucket_value(index))
    }

    /// The index of the bucket that holds the `q`-quantile.
    pub(crate) fn quantile_bucket(&self, q: f64) -> Option<usize> {
        if !(0.0..=1.0).contains(&q) {
            return None;
        }
        let total = self.count();
        if total == 0 {
            return None;
        }
        // Rank in 1..=total; the float round trip is exact for counts below 2^53.
        #[allow(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss
        )]
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0u64;
        for (index, &c) in self.counts.iter().enumerate() {
            seen = seen.saturating_add(c);
            if seen >= rank {
                return Some(index);
            }
        }
        None
    }

    /// Non-empty buckets as `(low, high, count)`: `count` values were in `low..high` ns
    /// (`high` is `u64::MAX` for the last, open-ended bucket).
    pub fn buckets(&self) -> impl Iterator<Item = (u64, u64, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(i, &c)| (bucket_low(i), bucket_high(i), c))
    }

    /// How many values were below `ns` nanoseconds. Exact when `ns` is a bucket boundary
    /// (every power of two from 16 on is one); otherwise counts whole buckets below `ns`.
    #[must_use]
    pub fn count_below(&self, ns: u64) -> u64 {
        self.counts
            .iter()
            .enumerate()
            .take_while(|(i, _)| bucket_high(*i) <= ns)
            .fold(0u64, |a, (_, &c)| a.saturating_add(c))
    }

    /// `(low, high)` of the lowest non-empty bucket.
    pub(crate) fn min_bucket_bounds(&self) -> Option<(u64, u64)> {
        let i = self.counts.iter().position(|&c| c > 0)?;
        Some((bucket_low(i), bucket_high(i)))
    }

    /// `(low, high)` of the highest non-empty bucket.
    pub(crate) fn max_bucket_bounds(&self) -> Option<(u64, u64)> {
        let i = self.counts.iter().rposition(|&c| c > 0)?;
        Some((bucket_low(i), bucket_high(i)))
    }

    pub(crate) fn add_bucket(&mut self, index: usize, n: u64) {
        let c = &mut self.counts[index];
        *c = c.saturating_add(n);
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Histogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.count())
            .field("buckets", &self.buckets().collect::<Vec<_>>())
            .finish()
    }
}

/// Serialised as the list of non-empty buckets, `[[low_ns, count], ...]` (as in
/// [`Report::to_json`](crate::Report::to_json)).
#[cfg(feature = "serde")]
impl serde::Serialize for Histogram {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.buckets().map(|(low, _, n)| (low, n)))
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Histogram {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let pairs = <Vec<(u64, u64)> as serde::Deserialize>::deserialize(deserializer)?;
        let mut h = Histogram::new();
        for (low, n) in pairs {
            h.record_n(low, n);
        }
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_tile_the_range() {
        assert_eq!(bucket_low(0), 0);
        for i in 0..BUCKETS - 1 {
            let (low, high) = (bucket_low(i), bucket_high(i));
            assert!(low < high, "bucket {i}");
            assert_eq!(bucket_index(low), i, "low of {i}");
            assert_eq!(bucket_index(high - 1), i, "high-1 of {i}");
            assert_eq!(bucket_index(high), i + 1, "high of {i}");
            if low >= SUB {
                // Width at most 1/16 of the lower bound: the error bound rests on this.
                assert!((high - low) * SUB <= low, "bucket {i} too wide");
            }
        }
        assert_eq!(bucket_index(u64::MAX), BUCKETS - 1);
        assert_eq!(bucket_low(BUCKETS - 1), 31 << 39);
        assert_eq!(bucket_index(1 << MAX_EXP), BUCKETS - 1);
    }

    #[test]
    fn small_values_are_exact() {
        let mut h = Histogram::new();
        for v in 0..16 {
            h.record(v);
        }
        assert_eq!(h.quantile(0.0), Some(0));
        assert_eq!(h.quantile(1.0), Some(15));
        assert_eq!(h.quantile(0.5), Some(7));
        assert_eq!(h.quantile(1.5), None);
        assert_eq!(Histogram::new().quantile(0.5), None);
    }

    #[test]
    fn powers_of_two_are_boundaries() {
        let mut h = Histogram::new();
        h.record(1023);
        h.record(1024);
        assert_eq!(h.count_below(1024), 1);
        assert_eq!(h.count_below(1025), 1);
        assert_eq!(h.count_below(2048), 2);
    }
}
