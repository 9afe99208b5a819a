//! Integer ranks of priorities, for the opt-in modes that need arithmetic on priorities.

use std::cmp::Reverse;

/// A priority with an integer rank: `0` is the most urgent rank.
///
/// Needed only by the opt-in modes of [`Builder`](crate::Builder): aging
/// ([`Builder::aging`](crate::Builder::aging)) measures how far apart two priorities are, and
/// levels ([`Builder::levels`](crate::Builder::levels)) puts each rank below a bound in its own
/// O(1) bucket. The plain channel only needs `P: Ord`.
///
/// The rank must agree with `Ord` and be injective: `a < b` exactly when
/// `a.rank() < b.rank()`. It is implemented for the unsigned and signed integers, `bool` and
/// `char` (smallest first), and for [`Reverse`] of each (largest first).
pub trait Rank: Ord {
    /// This priority's distance from the most urgent possible priority.
    fn rank(&self) -> u64;
}

macro_rules! unsigned {
    ($($t:ty),*) => {$(
        impl Rank for $t {
            #[inline]
            fn rank(&self) -> u64 {
                // Lossless: every implementing type is at most 64 bits wide.
                *self as u64
            }
        }
        impl Rank for Reverse<$t> {
            #[inline]
            fn rank(&self) -> u64 {
                (<$t>::MAX - self.0) as u64
            }
        }
    )*};
}

macro_rules! signed {
    ($($t:ty),*) => {$(
        impl Rank for $t {
            #[inline]
            fn rank(&self) -> u64 {
                // Shifting by MIN maps the signed range onto 0..=MAX in the same order.
                (*self as i64).wrapping_sub(<$t>::MIN as i64) as u64
            }
        }
        impl Rank for Reverse<$t> {
            #[inline]
            fn rank(&self) -> u64 {
                (<$t>::MAX as i64).wrapping_sub(self.0 as i64) as u64
            }
        }
    )*};
}

unsigned!(u8, u16, u32, u64, usize);
signed!(i8, i16, i32, i64, isize);

impl Rank for bool {
    #[inline]
    fn rank(&self) -> u64 {
        u64::from(*self)
    }
}

impl Rank for Reverse<bool> {
    #[inline]
    fn rank(&self) -> u64 {
        u64::from(!self.0)
    }
}

impl Rank for char {
    #[inline]
    fn rank(&self) -> u64 {
        u64::from(*self)
    }
}

impl Rank for Reverse<char> {
    #[inline]
    fn rank(&self) -> u64 {
        u64::from(char::MAX) - u64::from(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agrees<P: Rank>(values: &[P]) {
        for a in values {
            for b in values {
                assert_eq!(a.cmp(b), a.rank().cmp(&b.rank()));
            }
        }
    }

    #[test]
    fn ranks_agree_with_ord() {
        agrees(&[0u8, 1, 7, 255]);
        agrees(&[0u64, 1, u64::MAX]);
        agrees(&[i64::MIN, -1, 0, 1, i64::MAX]);
        agrees(&[i8::MIN, -1, 0, 1, i8::MAX]);
        agrees(&[Reverse(0u32), Reverse(5), Reverse(u32::MAX)]);
        agrees(&[Reverse(i16::MIN), Reverse(0), Reverse(i16::MAX)]);
        agrees(&[false, true]);
        agrees(&['a', 'z', char::MAX]);
        assert_eq!(0u8.rank(), 0);
        assert_eq!(i8::MIN.rank(), 0);
        assert_eq!(Reverse(u8::MAX).rank(), 0);
    }
}
